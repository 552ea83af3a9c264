//! Non-finite values stop a run where they appear, with the step, the sample and the term.
//!
//! A NaN or infinity in x never recovers: every later step carries it, and a run that writes
//! it out ends "successfully" with garbage. So the executor checks the model's output (naming
//! the condition), the composed ε̂ and x after each update, and stops with
//! [`RunError::NonFinite`]; nothing is written. The check is one reduction per tensor (a sum is finite iff every value is,
//! short of overflow, which the scan below then clears), and a scan only when it fails.

use candle_core::{DType, Result, Tensor};
use comp_plan::Condition;

use crate::error::RunError;

/// The first row (index along dimension 0) of `t` holding a non-finite value, and that value.
pub fn first_non_finite(t: &Tensor) -> Result<Option<(usize, f32)>> {
    let sum = t.sum_all()?.to_dtype(DType::F32)?.to_scalar::<f32>()?;
    if sum.is_finite() {
        return Ok(None);
    }
    let rows = t.dim(0)?.max(1);
    let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let per_row = (values.len() / rows).max(1);
    Ok(values.iter().position(|v| !v.is_finite()).map(|i| (i / per_row, values[i])))
}

/// Fails with [`RunError::NonFinite`] when the model's stacked output (`[K·N, ...]`, rows
/// `k·N..` under `conds[k]`) of sample `sample` has a non-finite value, naming the condition
/// and the sample (row); the executor places it at its step ([`RunError::at`]).
pub fn check_model_output(eps: &Tensor, n: usize, conds: &[&Condition], sample: &str) -> std::result::Result<(), RunError> {
    if let Some((row, value)) = first_non_finite(eps)? {
        let c = conds[(row / n.max(1)).min(conds.len() - 1)];
        return Err(non_finite(sample, format!("the model's ε for term #{} `{}`", c.id, c), row % n.max(1), value));
    }
    Ok(())
}

/// Fails with [`RunError::NonFinite`] when `t` (`[N, ...]`: ε̂ or x) of sample `sample` has a
/// non-finite value; `what` says which (built only then: this runs at every step). The
/// executor places it at its step ([`RunError::at`]).
pub fn check_state(t: &Tensor, sample: &str, what: impl FnOnce() -> String) -> std::result::Result<(), RunError> {
    if let Some((row, value)) = first_non_finite(t)? {
        return Err(non_finite(sample, what(), row, value));
    }
    Ok(())
}

/// A [`RunError::NonFinite`] not yet placed at a step.
fn non_finite(sample: &str, what: String, row: usize, value: f32) -> RunError {
    RunError::NonFinite { sample: sample.into(), step: 0, steps: 0, mcmc: None, row, what, value }
}

//! The composed ε̂: what a reverse step and an MCMC level both evaluate.
//!
//! [`Composed`] is one sample's segment at one noise level. Evaluating it at x stacks x once
//! per active condition (K·N rows), calls the model ONCE over all of them, and combines the K
//! outputs with one fused weighted sum ([`crate::combine`]). A segment with no active
//! condition gives ε̂ = 0 and costs no call. (With several models, the one call is one
//! batched call per model with an active condition; see [`crate::composite`].) Every call is counted in [`Calls`], so the
//! executor and the MCMC samplers share one accounting and neither calls the other. A model
//! output or ε̂ that is not finite stops the run here, naming the term ([`crate::finite`],
//! [`RunError::NonFinite`]).

use candle_core::{DType, Tensor};
use comp_plan::{Combine, SamplePlan, Segment, MAX_MODELS};

use crate::combine::{combine, Combined};
use crate::denoiser::Prepared;
use crate::error::RunError;
use crate::finite::{check_model_output, check_state};

/// Model calls made and rows evaluated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Calls {
    /// Batched model forward calls.
    pub calls: usize,
    /// Rows evaluated in total (Σ over calls of K·N).
    pub rows: usize,
    /// Batched calls per model of the plan (index 0 alone for a plan of one model): a
    /// stacked call over conditions of several models is one call to each of them.
    pub per_model: [usize; MAX_MODELS],
}

/// One sample's segment at one noise level, with the model that evaluates it.
#[derive(Clone, Copy)]
pub struct Composed<'a> {
    /// The model, prepared for `plan` ([`crate::Denoiser::prepare`]).
    pub model: &'a dyn Prepared,
    pub plan: &'a SamplePlan,
    pub segment: &'a Segment,
    /// The native timestep the model is called with.
    pub timestep: usize,
    /// σ_t = √(1 − ᾱ_t) of the level: the temperature of a mixture's weights.
    pub sigma: f64,
}

impl Composed<'_> {
    /// ε̂ (and the composed energy when `want_energy`) at x `[N, ...data_shape]`.
    /// A non-finite model output or ε̂ is [`RunError::NonFinite`] (placed at its step by the
    /// executor).
    pub fn eval(&self, x: &Tensor, want_energy: bool, calls: &mut Calls) -> std::result::Result<Combined, RunError> {
        let segment = self.segment;
        let k = segment.active.len();
        let n = x.dim(0)?;
        if k == 0 {
            let energy = if want_energy { Some(Tensor::zeros(n, DType::F32, x.device())?) } else { None };
            return Ok(Combined { eps: x.zeros_like()?, energy });
        }
        let conds: Vec<_> = segment.active.iter().map(|&id| &self.plan.conditions[id]).collect();
        let stacked = if k == 1 {
            x.clone()
        } else {
            let mut reps = vec![1usize; x.rank()];
            reps[0] = k;
            x.repeat(reps)?
        };
        let t = Tensor::full(self.timestep as f32, k * n, x.device())?;
        let need_energy = want_energy || matches!(segment.combine, Combine::Mixture { .. });
        let out = self.model.forward(&stacked, &t, &conds, need_energy)?;
        let mut called = [false; MAX_MODELS];
        for c in &conds {
            if let Some(i) = self.plan.model_of(c).filter(|&i| i < MAX_MODELS) {
                called[i] = true;
            }
        }
        for (i, _) in called.iter().enumerate().filter(|(_, &c)| c) {
            calls.per_model[i] += 1;
            calls.calls += 1;
        }
        calls.rows += k * n;
        if out.eps.dims() != stacked.dims() {
            return Err(RunError::msg(format!("model returned ε of shape {:?} for input {:?}", out.eps.dims(), stacked.dims())));
        }
        check_model_output(&out.eps, n, &conds, &self.plan.sample)?;
        let combined = combine(&out, k, &segment.combine, self.sigma, want_energy)?;
        check_state(&combined.eps, &self.plan.sample, || "the composed ε̂".into())?;
        Ok(combined)
    }
}

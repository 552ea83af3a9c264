//! Annealed MCMC at one noise level (Du et al., "Reduce, Reuse, Recycle", ICML 2023): after
//! a reverse step, a few steps of a sampler whose stationary law is the *composed*
//! distribution q_t at that level correct the drift that summed scores cause.
//!
//! | sampler | file | update | model calls at a level |
//! | --- | --- | --- | --- |
//! | ULA | [`ula`] | x ← x + h·g(x) + √(2h)·ξ | `steps` |
//! | MALA | [`mala`] | ULA's move as a proposal, Metropolis test per sample | `steps + 1` |
//! | U-HMC | [`hmc`] | damped momentum refresh, `leapfrog` steps, no test | `steps·leapfrog + 1` |
//! | HMC | [`hmc`] | the same, Metropolis test per sample on log q − ½‖v‖²/M | `steps·leapfrog + 1` |
//!
//! g = ∇ log q_t = −ε̂/σ_t and log q_t = −E/σ_t come from one [`LogDensity::eval`] per point,
//! which for a run is ONE batched model call over the segment's active conditions
//! ([`Level`], evaluating a [`Composed`] ε̂). The gradient (and log q) at the accepted point is
//! kept, so a Metropolis-adjusted step costs one evaluation for MALA and `leapfrog` for HMC;
//! the `+ 1` is the evaluation at the point each level starts from.
//!
//! Everything is vectorised over the N samples (`[N, ...data_shape]`): accept/reject is per
//! sample through masks, and every random draw comes from the run's [`Noise`], so a seeded
//! run is reproducible. The counts above are [`McmcKind::calls_per_level`], which the
//! compiler's model-call prediction uses too.

pub mod hmc;
pub mod mala;
pub mod ula;

use candle_core::{DType, Tensor};
use comp_plan::{Mcmc, McmcKind};

use crate::composed::{Calls, Composed};
use crate::error::RunError;
use crate::noise::Noise;

/// What the samplers return: their errors are the run's ([`RunError`]).
pub(crate) type Result<T> = std::result::Result<T, RunError>;

/// ∇ log q (and log q) of the distribution an MCMC level samples.
pub trait LogDensity {
    /// g(x) = ∇ₓ log q(x) for x of shape `[N, ...]`, and, when `want_log_q`, log q per
    /// sample (up to one constant shared by all x at this level).
    fn eval(&mut self, x: &Tensor, want_log_q: bool) -> Result<Eval>;
}

/// One evaluation of a [`LogDensity`].
#[derive(Clone, Debug)]
pub struct Eval {
    /// ∇ log q, same shape as x.
    pub grad: Tensor,
    /// log q per sample, when asked for.
    pub log_q: Option<Vec<f64>>,
}

/// The composed distribution of one segment at one noise level (σ > 0): g = −ε̂/σ,
/// log q = −E/σ, one evaluation of the [`Composed`] ε̂ (one model call) each, counted in
/// `calls`.
pub struct Level<'a, 'c> {
    pub target: Composed<'a>,
    pub calls: &'c mut Calls,
    /// When set (Ctrl-C), the next evaluation fails instead ([`RunError::Interrupted`], placed
    /// by the executor): a level of HMC can take minutes.
    pub cancel: Option<&'c std::sync::atomic::AtomicBool>,
}

impl LogDensity for Level<'_, '_> {
    fn eval(&mut self, x: &Tensor, want_log_q: bool) -> Result<Eval> {
        if self.cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
            return Err(RunError::Interrupted { sample: self.target.plan.sample.clone(), step: 0, steps: 0, mcmc: None });
        }
        let sigma = self.target.sigma;
        let out = self.target.eval(x, want_log_q, self.calls)?;
        let grad = out.eps.affine(-1.0 / sigma, 0.0)?;
        let log_q = match (want_log_q, out.energy) {
            (false, _) => None,
            (true, Some(e)) => Some(e.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?.into_iter().map(|e| -e / sigma).collect()),
            (true, None) => return Err(RunError::msg("MCMC asked for energies, but none came back")),
        };
        Ok(Eval { grad, log_q })
    }
}

/// The sampler's settings at one level, with β-scaling applied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    pub kind: McmcKind,
    /// MCMC steps at this level.
    pub steps: usize,
    /// Step size h (already × β_t when `beta_scaled`).
    pub step_size: f64,
    pub leapfrog: usize,
    pub damping: f64,
    /// Mass M (already × β_t when `beta_scaled`).
    pub mass: f64,
}

impl Params {
    /// `mcmc`'s settings at a level whose step has β = `beta`.
    pub fn at_level(mcmc: &Mcmc, beta: f64) -> Self {
        let scale = if mcmc.beta_scaled { beta } else { 1.0 };
        Self {
            kind: mcmc.kind,
            steps: mcmc.steps,
            step_size: mcmc.step_size * scale,
            leapfrog: mcmc.leapfrog.max(1),
            damping: mcmc.damping,
            mass: mcmc.mass * scale,
        }
    }

    /// Evaluations of the target one level costs ([`McmcKind::calls_per_level`], which the
    /// plan's model-call count uses too).
    pub fn evaluations(&self) -> usize {
        self.kind.calls_per_level(self.steps, self.leapfrog)
    }
}

/// Metropolis bookkeeping: per-sample proposals made and accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Acceptance {
    pub accepted: usize,
    pub proposed: usize,
}

impl Acceptance {
    /// accepted / proposed; `None` before any proposal (or for ULA and U-HMC).
    pub fn rate(&self) -> Option<f64> {
        (self.proposed > 0).then(|| self.accepted as f64 / self.proposed as f64)
    }
}

/// Runs `params.steps` steps of `params.kind` from x targeting `target`.
pub fn run(target: &mut dyn LogDensity, x: Tensor, params: &Params, noise: &mut Noise, acceptance: &mut Acceptance) -> Result<Tensor> {
    if params.steps == 0 {
        return Ok(x);
    }
    if !(params.step_size > 0.0 && params.step_size.is_finite()) {
        return Err(RunError::msg(format!("MCMC step size must be positive, got {}", params.step_size)));
    }
    match params.kind {
        McmcKind::Ula => ula::run(target, x, params, noise),
        McmcKind::Mala => mala::run(target, x, params, noise, acceptance),
        McmcKind::Uhmc => hmc::run(target, x, params, noise, None),
        McmcKind::Hmc => hmc::run(target, x, params, noise, Some(acceptance)),
    }
}

/// Σ over all but the first dimension of t², per sample, in f64.
pub(crate) fn sq_norm(t: &Tensor) -> Result<Vec<f64>> {
    Ok(t.flatten_from(1)?.sqr()?.sum(1)?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}

/// Per sample i: `a[i]` where `mask[i]`, else `b[i]` (a, b of the same shape `[N, ...]`).
pub(crate) fn select(mask: &[bool], a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if mask.iter().all(|&m| m) {
        return Ok(a.clone());
    }
    if !mask.iter().any(|&m| m) {
        return Ok(b.clone());
    }
    let mut shape = vec![1usize; a.rank()];
    shape[0] = mask.len();
    let m: Vec<u8> = mask.iter().map(|&m| u8::from(m)).collect();
    let m = Tensor::from_vec(m, shape, a.device())?.broadcast_as(a.shape())?;
    Ok(m.where_cond(a, b)?)
}

/// Per sample: accept when log u < log α (a NaN log α rejects). Counts into `acceptance`.
pub(crate) fn metropolis(log_alpha: &[f64], noise: &mut Noise, acceptance: &mut Acceptance) -> Result<Vec<bool>> {
    let u = noise.uniform(log_alpha.len())?;
    let accept: Vec<bool> = log_alpha.iter().zip(u).map(|(&a, u)| u.ln() < a).collect();
    acceptance.proposed += accept.len();
    acceptance.accepted += accept.iter().filter(|&&a| a).count();
    Ok(accept)
}

/// Per sample: `a[i]` where `mask[i]`, else `b[i]`.
pub(crate) fn select_vec(mask: &[bool], a: &[f64], b: &[f64]) -> Vec<f64> {
    mask.iter().zip(a.iter().zip(b)).map(|(&m, (&a, &b))| if m { a } else { b }).collect()
}

/// `eval.log_q`, which the caller asked for.
pub(crate) fn log_q(eval: &Eval) -> Result<&[f64]> {
    eval.log_q.as_deref().ok_or_else(|| RunError::msg("MCMC needs log q, and none was returned"))
}

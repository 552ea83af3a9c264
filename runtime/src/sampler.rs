//! Reverse-diffusion updates over a respaced schedule: DDPM (ancestral) and DDIM.
//!
//! Both are written as one affine update x_prev = a·x + b·ε̂ + c·z with scalar coefficients
//! computed in f64. Going through x̂₀ = (x − σε̂)/√ᾱ instead would divide by √ᾱ ≈ 5e-4 at
//! the noisiest cosine step and lose f32 digits; the coefficients fold that division away.
//!
//! Executor step k runs from pure noise (k = 0) to data (k = steps − 1); it uses respaced
//! schedule entry i = steps − 1 − k.

use candle_core::{Result, Tensor};
use comp_compiler::plan::Sampler;

use crate::schedule::Schedule;

/// x_prev = x·a + ε̂·b + z·c for one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepCoeffs {
    pub x: f64,
    pub eps: f64,
    /// 0 on the last step (and at every step of DDIM with eta 0): no noise is drawn.
    pub noise: f64,
}

/// A plan's sampler bound to a model's schedule, respaced to the plan's steps.
#[derive(Clone, Debug)]
pub struct ReverseSampler {
    schedule: Schedule,
    kind: Sampler,
}

impl ReverseSampler {
    /// Respaces the model's native schedule to `sampler.steps()`.
    pub fn new(native: &Schedule, sampler: &Sampler) -> Result<Self> {
        let schedule = native.respace(sampler.steps())?;
        Ok(Self {
            schedule,
            kind: sampler.clone(),
        })
    }

    pub fn steps(&self) -> usize {
        self.schedule.len()
    }

    /// The respaced schedule entry of executor step k.
    fn index(&self, k: usize) -> usize {
        self.steps() - 1 - k
    }

    /// The native timestep the model is called with at step k.
    pub fn timestep(&self, k: usize) -> usize {
        self.schedule.timestep(self.index(k))
    }

    /// ᾱ of x at the start of step k.
    pub fn alpha_bar(&self, k: usize) -> f64 {
        self.schedule.alpha_bar(self.index(k))
    }

    /// σ = √(1 − ᾱ) of x at the start of step k (the σ_t of energies and mixtures).
    pub fn sigma(&self, k: usize) -> f64 {
        self.schedule.sigma(self.index(k))
    }

    /// β of step k's transition, recomputed after respacing (MCMC step sizes scale by it).
    pub fn beta(&self, k: usize) -> f64 {
        self.schedule.beta(self.index(k))
    }

    /// ᾱ of x after step k (1 after the last step).
    pub fn alpha_bar_next(&self, k: usize) -> f64 {
        self.schedule.alpha_bar_prev(self.index(k))
    }

    /// The update coefficients of step k.
    pub fn coeffs(&self, k: usize) -> StepCoeffs {
        let i = self.index(k);
        let ab = self.schedule.alpha_bar(i);
        let ab_prev = self.schedule.alpha_bar_prev(i);
        match self.kind {
            Sampler::Ddpm { .. } => ddpm_coeffs(ab, ab_prev),
            Sampler::Ddim { eta, .. } => ddim_coeffs(ab, ab_prev, eta),
        }
    }
}

/// DDPM ancestral step: mean (x − β/√(1−ᾱ)·ε̂)/√(1−β), variance the posterior β̃ =
/// β(1 − ᾱ_prev)/(1 − ᾱ) (Ho et al. 2020, eq. 11 and 7).
pub fn ddpm_coeffs(alpha_bar: f64, alpha_bar_prev: f64) -> StepCoeffs {
    let beta = 1.0 - alpha_bar / alpha_bar_prev;
    let sqrt_alpha = (1.0 - beta).sqrt();
    let var = beta * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar);
    StepCoeffs {
        x: 1.0 / sqrt_alpha,
        eps: -beta / (sqrt_alpha * (1.0 - alpha_bar).sqrt()),
        noise: var.max(0.0).sqrt(),
    }
}

/// DDIM step (Song et al. 2021, eq. 12): x_prev = √ᾱ_prev·x̂₀ + √(1 − ᾱ_prev − s²)·ε̂ + s·z,
/// s = η·√((1 − ᾱ_prev)/(1 − ᾱ))·√(1 − ᾱ/ᾱ_prev), with x̂₀ folded into the coefficients.
pub fn ddim_coeffs(alpha_bar: f64, alpha_bar_prev: f64, eta: f64) -> StepCoeffs {
    let s = eta
        * ((1.0 - alpha_bar_prev) / (1.0 - alpha_bar)).sqrt()
        * (1.0 - alpha_bar / alpha_bar_prev).sqrt();
    let ratio = (alpha_bar_prev / alpha_bar).sqrt();
    StepCoeffs {
        x: ratio,
        eps: (1.0 - alpha_bar_prev - s * s).max(0.0).sqrt() - ratio * (1.0 - alpha_bar).sqrt(),
        noise: s,
    }
}

/// Applies a step: x·a + ε̂·b (+ z·c when c ≠ 0; `noise` must then be given).
pub fn apply(c: StepCoeffs, x: &Tensor, eps: &Tensor, noise: Option<&Tensor>) -> Result<Tensor> {
    let mut out = (x.affine(c.x, 0.0)? + eps.affine(c.eps, 0.0)?)?;
    if c.noise != 0.0 {
        let z =
            noise.ok_or_else(|| candle_core::Error::Msg("a stochastic step needs noise".into()))?;
        out = (out + z.affine(c.noise, 0.0)?)?;
    }
    Ok(out)
}

//! Reverse-diffusion steps over a respaced schedule: DDPM (ancestral), DDIM,
//! DPM-Solver++(2M) and Euler ancestral.
//!
//! A step is handed an "evaluate ε̂ at (x, level)" function ([`Eval`]) rather than an ε̂, so a
//! sampler may evaluate the composed prediction where and as often as it needs without the
//! executor's loop changing per sampler. DDPM and DDIM evaluate once, at the current point;
//! DPM-Solver++(2M) also once, and reaches second order by remembering the previous step's
//! data prediction (a multistep method).
//!
//! DDPM and DDIM are written as one affine update x_prev = a·x + b·ε̂ + c·z with scalar
//! coefficients computed in f64. Going through x̂₀ = (x − σε̂)/√ᾱ instead would divide by
//! √ᾱ ≈ 5e-4 at the noisiest cosine step and lose f32 digits; the coefficients fold that
//! division away.
//!
//! Executor step k runs from pure noise (k = 0) to data (k = steps − 1); it uses respaced
//! schedule entry i = steps − 1 − k.

use candle_core::{bail, Result, Tensor};
use comp_plan::Sampler;

use crate::noise::Noise;
use crate::schedule::{Schedule, Spacing};

/// A noise level of the run: the one x has at the start of executor step `step`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct At {
    /// The executor step (its trajectory fraction picks the plan's segment).
    pub step: usize,
    /// The native timestep the model is called with.
    pub timestep: usize,
    /// σ = √(1 − ᾱ).
    pub sigma: f64,
    /// ᾱ itself (not 1 − σ², which loses its digits where ᾱ ≈ 1e-9).
    pub alpha_bar: f64,
}

/// Evaluates the composed ε̂ at a point x (`[N, ...data_shape]`) at a noise level; its errors
/// are `E` (the executor's [`crate::error::RunError`], or candle's own).
pub type Eval<'e, E = candle_core::Error> = dyn FnMut(&Tensor, At) -> std::result::Result<Tensor, E> + 'e;

/// x_prev = x·a + ε̂·b + z·c for one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepCoeffs {
    pub x: f64,
    pub eps: f64,
    /// 0 on the last step (and at every step of DDIM with eta 0): no noise is drawn.
    pub noise: f64,
}

/// A plan's sampler bound to a model's schedule, respaced to the plan's steps. It holds the
/// state a multistep solver carries from step to step, so one value serves one run.
#[derive(Clone, Debug)]
pub struct ReverseSampler {
    schedule: Schedule,
    kind: Sampler,
    /// DPM-Solver++(2M): the previous step's data prediction x̂₀ and its log-SNR step h.
    previous: Option<(Tensor, f64)>,
}

impl ReverseSampler {
    /// Respaces the model's native schedule to `sampler.steps()`, evenly.
    pub fn new(native: &Schedule, sampler: &Sampler) -> Result<Self> {
        Self::spaced(native, sampler, Spacing::Even)
    }

    /// Respaces the native schedule to `sampler.steps()` with the given spacing (the one
    /// the model was sampled with upstream, [`crate::Denoiser::spacing`]).
    pub fn spaced(native: &Schedule, sampler: &Sampler, spacing: Spacing) -> Result<Self> {
        let schedule = native.respace_with(sampler.steps(), spacing)?;
        Ok(Self { schedule, kind: sampler.clone(), previous: None })
    }

    /// Takes executor step k from x: evaluates ε̂ through `eval` (counted by the caller) and
    /// returns x at the next level. Stochastic samplers draw their noise from `noise` after
    /// the evaluation. The evaluation's errors come back as they are.
    pub fn step<E: From<candle_core::Error>>(
        &mut self,
        k: usize,
        x: &Tensor,
        eval: &mut Eval<E>,
        noise: &mut Noise,
    ) -> std::result::Result<Tensor, E> {
        let eps = eval(x, self.at(k))?;
        let next = match self.kind {
            Sampler::Ddpm { .. } | Sampler::Ddim { .. } | Sampler::EulerA { .. } => {
                let c = self.coeffs(k);
                let z = if c.noise != 0.0 { Some(noise.normal(x.dims(), x.device())?) } else { None };
                apply(c, x, &eps, z.as_ref())
            }
            Sampler::Dpmpp2m { .. } => self.dpmpp2m(k, x, &eps),
        };
        Ok(next?)
    }

    /// DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) from level k to the next, with the
    /// data prediction x̂₀ = (x − σ_c·ε̂)/α_c, α = √ᾱ, σ = √(1 − ᾱ), λ = log(α/σ), h = λ_n − λ_c:
    ///
    /// * first step (no previous prediction; also after a [`restart`](Self::restart)) and
    ///   the last step (to σ_n = 0, where h is
    ///   infinite): first order, x_n = (σ_n/σ_c)·x + α_n(1 − e^(−h))·x̂₀, which is DDIM with
    ///   η = 0 (computed with DDIM's folded coefficients);
    /// * otherwise, with r = h_prev/h: D = (1 + 1/(2r))·x̂₀ − 1/(2r)·x̂₀_prev and
    ///   x_n = (σ_n/σ_c)·x + α_n(1 − e^(−h))·D.
    ///
    /// The data prediction of a composition is only a data estimate when its weights sum to 1
    /// against the base (guidance against `null`, `0.5 * a AND 0.5 * b`, RRR's
    /// `1.3 * a AND NOT 0.3 * b`). A product `a AND b` under `base none` sums to 2: at the
    /// noisiest levels its x̂₀ is about −x/α, and while DDIM recovers from the far-out first
    /// steps, extrapolating between such predictions can diverge on a learned model (seen:
    /// `ring AND bar` on `toy2d-mlp` at 20 steps; fine at 100). docs/language.md says so.
    fn dpmpp2m(&mut self, k: usize, x: &Tensor, eps: &Tensor) -> Result<Tensor> {
        let i = self.index(k);
        let (ab_c, ab_n) = (self.schedule.alpha_bar(i), self.schedule.alpha_bar_prev(i));
        let (a_c, s_c, a_n, s_n) = (ab_c.sqrt(), (1.0 - ab_c).sqrt(), ab_n.sqrt(), (1.0 - ab_n).sqrt());
        if !(a_c > 0.0 && s_c > 0.0) {
            bail!("dpmpp2m: step {k} starts at ᾱ = {ab_c}, where the log-SNR is undefined")
        }
        if s_n == 0.0 {
            self.previous = None;
            return apply(ddim_coeffs(ab_c, ab_n, 0.0), x, eps, None);
        }
        let h = (a_n / s_n).ln() - (a_c / s_c).ln();
        let x0 = (x.affine(1.0 / a_c, 0.0)? + eps.affine(-s_c / a_c, 0.0)?)?;
        let w = a_n * (1.0 - (-h).exp());
        let next = match self.previous.take() {
            None => apply(ddim_coeffs(ab_c, ab_n, 0.0), x, eps, None)?,
            Some((x0_prev, h_prev)) => {
                let b = h / (2.0 * h_prev);
                let d = (x0.affine(1.0 + b, 0.0)? - x0_prev.affine(b, 0.0)?)?;
                (x.affine(s_n / s_c, 0.0)? + d.affine(w, 0.0)?)?
            }
        };
        self.previous = Some((x0, h));
        Ok(next)
    }

    /// Forgets DPM-Solver++(2M)'s previous prediction, so the next step is first order: the
    /// executor calls this where the composed ε̂ changes (a window opens or closes) or MCMC
    /// has moved the samples, since extrapolating across either mixes two different
    /// functions. A no-op for one-step samplers.
    pub fn restart(&mut self) {
        self.previous = None;
    }

    pub fn steps(&self) -> usize {
        self.schedule.len()
    }

    /// The noise level at the start of executor step k.
    pub fn at(&self, k: usize) -> At {
        At { step: k, timestep: self.timestep(k), sigma: self.sigma(k), alpha_bar: self.alpha_bar(k) }
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

    /// The update coefficients of step k (DDPM and DDIM; for DPM-Solver++(2M) those of its
    /// first-order step).
    pub fn coeffs(&self, k: usize) -> StepCoeffs {
        let i = self.index(k);
        let ab = self.schedule.alpha_bar(i);
        let ab_prev = self.schedule.alpha_bar_prev(i);
        match self.kind {
            Sampler::Ddpm { .. } => ddpm_coeffs(ab, ab_prev),
            Sampler::Ddim { eta, .. } => ddim_coeffs(ab, ab_prev, eta),
            Sampler::EulerA { .. } => euler_ancestral_coeffs(ab, ab_prev),
            // The first-order part of DPM-Solver++(2M): what it takes without a previous step.
            Sampler::Dpmpp2m { .. } => ddim_coeffs(ab, ab_prev, 0.0),
        }
    }
}

/// DDPM ancestral step: mean (x − β/√(1−ᾱ)·ε̂)/√(1−β), variance the posterior β̃ =
/// β(1 − ᾱ_prev)/(1 − ᾱ) (Ho et al. 2020, eq. 11 and 7).
pub fn ddpm_coeffs(alpha_bar: f64, alpha_bar_prev: f64) -> StepCoeffs {
    let beta = 1.0 - alpha_bar / alpha_bar_prev;
    let sqrt_alpha = (1.0 - beta).sqrt();
    let var = beta * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar);
    StepCoeffs { x: 1.0 / sqrt_alpha, eps: -beta / (sqrt_alpha * (1.0 - alpha_bar).sqrt()), noise: var.max(0.0).sqrt() }
}

/// DDIM step (Song et al. 2021, eq. 12): x_prev = √ᾱ_prev·x̂₀ + √(1 − ᾱ_prev − s²)·ε̂ + s·z,
/// s = η·√((1 − ᾱ_prev)/(1 − ᾱ))·√(1 − ᾱ/ᾱ_prev), with x̂₀ folded into the coefficients.
pub fn ddim_coeffs(alpha_bar: f64, alpha_bar_prev: f64, eta: f64) -> StepCoeffs {
    let s = eta * ((1.0 - alpha_bar_prev) / (1.0 - alpha_bar)).sqrt() * (1.0 - alpha_bar / alpha_bar_prev).sqrt();
    let ratio = (alpha_bar_prev / alpha_bar).sqrt();
    StepCoeffs { x: ratio, eps: (1.0 - alpha_bar_prev - s * s).max(0.0).sqrt() - ratio * (1.0 - alpha_bar).sqrt(), noise: s }
}

/// Euler ancestral step (k-diffusion's `sample_euler_ancestral`, A1111's "Euler a"), written
/// for our variance-preserving x. In the variance-exploding variable x/√ᾱ with noise level
/// σ = √((1 − ᾱ)/ᾱ) the step from σ_c to σ_n is: split σ_n into a deterministic part σ_d and
/// fresh noise σ_u, with σ_u = min(σ_n, √(σ_n²(σ_c² − σ_n²)/σ_c²)) and σ_d = √(σ_n² − σ_u²);
/// take an Euler step of the probability-flow ODE, whose slope is ε̂, to σ_d; add σ_u·z.
/// Multiplying back by √ᾱ_n gives x_n = √(ᾱ_n/ᾱ_c)·x + √ᾱ_n(σ_d − σ_c)·ε̂ + √ᾱ_n·σ_u·z. To
/// clean data (ᾱ_n = 1, σ_n = 0) it is x̂₀ with no noise.
pub fn euler_ancestral_coeffs(alpha_bar: f64, alpha_bar_next: f64) -> StepCoeffs {
    let ve = |ab: f64| ((1.0 - ab) / ab).max(0.0).sqrt();
    let (s_c, s_n) = (ve(alpha_bar), ve(alpha_bar_next));
    let up = if s_c > 0.0 { (s_n * s_n * (s_c * s_c - s_n * s_n) / (s_c * s_c)).max(0.0).sqrt().min(s_n) } else { 0.0 };
    let down = (s_n * s_n - up * up).max(0.0).sqrt();
    let a_n = alpha_bar_next.sqrt();
    StepCoeffs { x: (alpha_bar_next / alpha_bar).sqrt(), eps: a_n * (down - s_c), noise: a_n * up }
}

/// Applies a step: x·a + ε̂·b (+ z·c when c ≠ 0; `noise` must then be given).
pub fn apply(c: StepCoeffs, x: &Tensor, eps: &Tensor, noise: Option<&Tensor>) -> Result<Tensor> {
    let mut out = (x.affine(c.x, 0.0)? + eps.affine(c.eps, 0.0)?)?;
    if c.noise != 0.0 {
        let z = noise.ok_or_else(|| candle_core::Error::Msg("a stochastic step needs noise".into()))?;
        out = (out + z.affine(c.noise, 0.0)?)?;
    }
    Ok(out)
}

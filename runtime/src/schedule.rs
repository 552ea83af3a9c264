//! Noise schedules: ᾱ_t for a model's T native training steps, and respacing to the plan's
//! number of sampling steps.
//!
//! The forward process is x_t = √ᾱ_t x₀ + σ_t z with σ_t = √(1 − ᾱ_t). Native timestep
//! indices run 0..T: index 0 is the least noisy (ᾱ close to 1), index T − 1 the noisiest
//! (ᾱ close to 0), as in DDPM and improved DDPM (Nichol & Dhariwal 2021).
//!
//! Respacing (improved DDPM, `respace.py`) keeps a subset of the native timesteps, evenly
//! spaced, and recomputes β_i = 1 − ᾱ_i / ᾱ_{i−1} between consecutive kept ones, so that the
//! kept ᾱ are exactly the native ones: a model trained on the native schedule sees the noise
//! levels it was trained on, only fewer of them.

use candle_core::{bail, Result};

/// The largest β allowed, as in improved DDPM: the cosine schedule's last β would be 1.
const MAX_BETA: f64 = 0.999;

/// The last ᾱ of a zero-terminal-SNR schedule (see [`Schedule::zero_terminal_snr`]): 2⁻²⁴,
/// diffusers' value for its Euler schedulers.
pub const ZERO_SNR_FLOOR: f64 = 1.0 / 16_777_216.0;

/// ᾱ per timestep, least noisy first, with the native timestep each one corresponds to.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// ᾱ_i, strictly decreasing, in (0, 1).
    alpha_bars: Vec<f64>,
    /// The native timestep index of each entry (the identity for a native schedule).
    timesteps: Vec<usize>,
    /// ᾱ after the last reverse step: 1 (clean data) unless the model's own sampler stops
    /// short of it (Stable Diffusion's schedulers with `set_alpha_to_one: false` end at the
    /// first native ᾱ, 0.99915).
    final_alpha_bar: f64,
}

/// Which native timesteps a respaced schedule keeps (diffusers' `timestep_spacing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spacing {
    /// Evenly spaced, always the first and the last (improved DDPM's respacing).
    Even,
    /// Multiples of T/steps plus an offset: 1, 41, …, 961 for 25 of 1000 with offset 1
    /// (Stable Diffusion 1.x and 2.x).
    Leading { offset: usize },
    /// Counted down from the last: T−1, T−1−T/steps, … (SD-Turbo: one step at 999).
    Trailing,
}

impl Schedule {
    /// The cosine schedule of improved DDPM with offset `s` (0.008 there) over `t` steps:
    /// ᾱ(τ) = f(τ)/f(0), f(τ) = cos²((τ/T + s)/(1 + s) · π/2), β clipped at 0.999.
    pub fn cosine(t: usize, s: f64) -> Result<Self> {
        if t == 0 {
            bail!("a cosine schedule needs at least one step")
        }
        let f = |tau: f64| ((tau / t as f64 + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2).cos().powi(2);
        let betas = (0..t).map(|i| (1.0 - f(i as f64 + 1.0) / f(i as f64)).min(MAX_BETA));
        Self::from_betas(betas)
    }

    /// The linear β schedule of DDPM, scaled to `t` steps as improved DDPM does
    /// (β from 1e-4·1000/T to 0.02·1000/T).
    pub fn linear(t: usize) -> Result<Self> {
        if t == 0 {
            bail!("a linear schedule needs at least one step")
        }
        let scale = 1000.0 / t as f64;
        let (lo, hi) = (scale * 1e-4, scale * 0.02);
        let betas = (0..t).map(|i| {
            let frac = if t == 1 { 0.0 } else { i as f64 / (t - 1) as f64 };
            (lo + (hi - lo) * frac).min(MAX_BETA)
        });
        Self::from_betas(betas)
    }

    /// β evenly spaced from `beta_start` to `beta_end` over `t` steps (diffusers' "linear").
    pub fn linear_between(t: usize, beta_start: f64, beta_end: f64) -> Result<Self> {
        if t == 0 {
            bail!("a linear schedule needs at least one step")
        }
        let betas = (0..t).map(|i| {
            let frac = if t == 1 { 0.0 } else { i as f64 / (t - 1) as f64 };
            (beta_start + (beta_end - beta_start) * frac).min(MAX_BETA)
        });
        Self::from_betas(betas)
    }

    /// A schedule given as its list of β (diffusers' `trained_betas`), each in (0, 1).
    pub fn from_beta_list(betas: &[f64]) -> Result<Self> {
        if betas.is_empty() {
            bail!("a schedule needs at least one β")
        }
        if let Some((i, b)) = betas.iter().enumerate().find(|(_, b)| !(**b > 0.0 && **b < 1.0)) {
            bail!("β {i} is {b}; every β must lie in (0, 1)")
        }
        Self::from_betas(betas.iter().copied())
    }

    /// The same schedule rescaled to zero terminal SNR (Lin et al. 2024, "Common Diffusion
    /// Noise Schedules and Sample Steps are Flawed", Algorithm 1; diffusers'
    /// `rescale_betas_zero_snr`): √ᾱ is shifted so that its last value is 0 and scaled so that
    /// its first is unchanged. The last ᾱ, exactly 0 there, is kept at [`ZERO_SNR_FLOOR`] (or
    /// half the one before it, if that is smaller) so that x̂₀ = (x − σε)/√ᾱ stays finite:
    /// diffusers' Euler schedulers do the same with 2⁻²⁴; its DDIM keeps 0 and reads x̂₀ off a
    /// v-prediction directly, which a v-model's ε here reproduces to about 1e-4.
    pub fn zero_terminal_snr(&self) -> Result<Self> {
        let roots: Vec<f64> = self.alpha_bars.iter().map(|a| a.sqrt()).collect();
        let (first, last) = (roots[0], roots[roots.len() - 1]);
        if roots.len() < 2 || first <= last {
            bail!("a zero-SNR rescale needs at least two steps of decreasing ᾱ")
        }
        let mut alpha_bars: Vec<f64> = roots.iter().map(|r| ((r - last) * first / (first - last)).powi(2)).collect();
        let n = alpha_bars.len();
        alpha_bars[n - 1] = if n >= 2 { ZERO_SNR_FLOOR.min(alpha_bars[n - 2] / 2.0) } else { ZERO_SNR_FLOOR };
        if alpha_bars.iter().any(|a| !(*a > 0.0 && *a < 1.0)) || alpha_bars.windows(2).any(|w| w[1] >= w[0]) {
            bail!("the zero-SNR rescale of this schedule leaves ᾱ that do not decrease inside (0, 1)")
        }
        Ok(Self { alpha_bars, timesteps: self.timesteps.clone(), final_alpha_bar: self.final_alpha_bar })
    }

    /// ᾱ as the running product of 1 − β.
    fn from_betas(betas: impl Iterator<Item = f64>) -> Result<Self> {
        let mut prod = 1.0;
        let alpha_bars: Vec<f64> = betas
            .map(|b| {
                prod *= 1.0 - b;
                prod
            })
            .collect();
        if alpha_bars.iter().any(|a| !(*a > 0.0 && *a < 1.0)) {
            bail!("schedule has an ᾱ outside (0, 1): {alpha_bars:?}")
        }
        let timesteps = (0..alpha_bars.len()).collect();
        Ok(Self { alpha_bars, timesteps, final_alpha_bar: 1.0 })
    }

    /// Stable Diffusion's "scaled linear" schedule: β evenly spaced in √β from √β₀ to √β₁
    /// over `t` steps (β₀ = 0.00085, β₁ = 0.012 for SD 1.x and 2.x).
    pub fn scaled_linear(t: usize, beta_start: f64, beta_end: f64) -> Result<Self> {
        if t == 0 {
            bail!("a scaled-linear schedule needs at least one step")
        }
        let (lo, hi) = (beta_start.sqrt(), beta_end.sqrt());
        let betas = (0..t).map(|i| {
            let frac = if t == 1 { 0.0 } else { i as f64 / (t - 1) as f64 };
            (lo + (hi - lo) * frac).powi(2).min(MAX_BETA)
        });
        Self::from_betas(betas)
    }

    /// The same schedule, ending at ᾱ = `final_alpha_bar` instead of 1 (see the field).
    pub fn with_final_alpha_bar(mut self, final_alpha_bar: f64) -> Self {
        self.final_alpha_bar = final_alpha_bar;
        self
    }

    /// Respaces to `steps` with the given spacing (see [`Spacing`]).
    pub fn respace_with(&self, steps: usize, spacing: Spacing) -> Result<Self> {
        let t = self.len();
        if steps == 0 || steps > t {
            return self.respace(steps);
        }
        let ratio = t / steps;
        let picked: Vec<usize> = match spacing {
            Spacing::Even => return self.respace(steps),
            Spacing::Leading { offset } => (0..steps).map(|s| (s * ratio + offset).min(t - 1)).collect(),
            Spacing::Trailing => (0..steps).rev().map(|s| t - 1 - s * ratio).collect(),
        };
        Ok(Self {
            alpha_bars: picked.iter().map(|&i| self.alpha_bars[i]).collect(),
            timesteps: picked.iter().map(|&i| self.timesteps[i]).collect(),
            final_alpha_bar: self.final_alpha_bar,
        })
    }

    /// Number of timesteps in this schedule.
    pub fn len(&self) -> usize {
        self.alpha_bars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alpha_bars.is_empty()
    }

    /// ᾱ at entry `i` (0 = least noisy).
    pub fn alpha_bar(&self, i: usize) -> f64 {
        self.alpha_bars[i]
    }

    /// ᾱ of the entry before `i` in the reverse process, i.e. the less noisy neighbour;
    /// before entry 0 the end of sampling: 1 (clean data) unless the model says otherwise.
    pub fn alpha_bar_prev(&self, i: usize) -> f64 {
        if i == 0 {
            self.final_alpha_bar
        } else {
            self.alpha_bars[i - 1]
        }
    }

    /// β_i = 1 − ᾱ_i / ᾱ_{i−1}, recomputed from ᾱ (so it is also right after respacing).
    pub fn beta(&self, i: usize) -> f64 {
        1.0 - self.alpha_bars[i] / self.alpha_bar_prev(i)
    }

    /// σ_i = √(1 − ᾱ_i), the noise level of x at entry `i`.
    pub fn sigma(&self, i: usize) -> f64 {
        (1.0 - self.alpha_bars[i]).sqrt()
    }

    /// The native timestep index of entry `i`: what the model is called with.
    pub fn timestep(&self, i: usize) -> usize {
        self.timesteps[i]
    }

    /// ᾱ at a possibly fractional native timestep of a *native* schedule, interpolating
    /// linearly between neighbours (models are called with integer timesteps in practice).
    pub fn alpha_bar_at(&self, t: f64) -> f64 {
        let last = self.alpha_bars.len() - 1;
        let t = t.clamp(0.0, last as f64);
        let lo = t.floor() as usize;
        let hi = (lo + 1).min(last);
        let w = t - lo as f64;
        self.alpha_bars[lo] * (1.0 - w) + self.alpha_bars[hi] * w
    }

    /// Keeps `steps` evenly spaced timesteps, always the first and the last, as improved
    /// DDPM's `space_timesteps(T, [steps])` does: entry i is native timestep
    /// round(i · (T − 1)/(steps − 1)).
    pub fn respace(&self, steps: usize) -> Result<Self> {
        let t = self.len();
        if steps == 0 {
            bail!("cannot respace to 0 sampling steps")
        }
        if steps > t {
            bail!("{steps} sampling steps asked, but the model's schedule has only {t} native steps")
        }
        let picked: Vec<usize> = if steps == 1 {
            vec![t - 1]
        } else {
            let stride = (t - 1) as f64 / (steps - 1) as f64;
            (0..steps).map(|i| (i as f64 * stride).round() as usize).collect()
        };
        Ok(Self {
            alpha_bars: picked.iter().map(|&i| self.alpha_bars[i]).collect(),
            timesteps: picked.iter().map(|&i| self.timesteps[i]).collect(),
            final_alpha_bar: self.final_alpha_bar,
        })
    }
}

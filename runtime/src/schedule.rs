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

/// ᾱ per timestep, least noisy first, with the native timestep each one corresponds to.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// ᾱ_i, strictly decreasing, in (0, 1).
    alpha_bars: Vec<f64>,
    /// The native timestep index of each entry (the identity for a native schedule).
    timesteps: Vec<usize>,
}

impl Schedule {
    /// The cosine schedule of improved DDPM with offset `s` (0.008 there) over `t` steps:
    /// ᾱ(τ) = f(τ)/f(0), f(τ) = cos²((τ/T + s)/(1 + s) · π/2), β clipped at 0.999.
    pub fn cosine(t: usize, s: f64) -> Result<Self> {
        if t == 0 {
            bail!("a cosine schedule needs at least one step")
        }
        let f = |tau: f64| {
            ((tau / t as f64 + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2)
                .cos()
                .powi(2)
        };
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
            let frac = if t == 1 {
                0.0
            } else {
                i as f64 / (t - 1) as f64
            };
            (lo + (hi - lo) * frac).min(MAX_BETA)
        });
        Self::from_betas(betas)
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
        Ok(Self {
            alpha_bars,
            timesteps,
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
    /// 1 (clean data) before entry 0.
    pub fn alpha_bar_prev(&self, i: usize) -> f64 {
        if i == 0 {
            1.0
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
            bail!(
                "{steps} sampling steps asked, but the model's schedule has only {t} native steps"
            )
        }
        let picked: Vec<usize> = if steps == 1 {
            vec![t - 1]
        } else {
            let stride = (t - 1) as f64 / (steps - 1) as f64;
            (0..steps)
                .map(|i| (i as f64 * stride).round() as usize)
                .collect()
        };
        Ok(Self {
            alpha_bars: picked.iter().map(|&i| self.alpha_bars[i]).collect(),
            timesteps: picked.iter().map(|&i| self.timesteps[i]).collect(),
        })
    }
}

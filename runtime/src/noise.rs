//! The run's own random numbers: x_T and every sampler and MCMC draw.
//!
//! Noise is drawn on the host from ChaCha8 seeded with the plan's seed (ChaCha's stream is
//! fixed by its specification, unlike `StdRng`'s, which may change between rand versions)
//! and copied to the device, so the same plan, seed and device give the same samples.

use candle_core::{Device, Result, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A seeded source of standard normal tensors.
pub struct Noise {
    rng: ChaCha8Rng,
}

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A tensor of i.i.d. N(0, 1) f32 draws.
    pub fn normal(&mut self, shape: &[usize], device: &Device) -> Result<Tensor> {
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| self.rng.sample(StandardNormal)).collect();
        Tensor::from_vec(v, shape, device)
    }

    /// n i.i.d. U(0, 1) draws in f64 (Metropolis accept tests).
    pub fn uniform(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.rng.random::<f64>()).collect()
    }
}

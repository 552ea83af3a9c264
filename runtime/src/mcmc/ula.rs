//! ULA, the unadjusted Langevin algorithm: x ← x + h·g(x) + √(2h)·ξ, ξ ~ N(0, I).
//!
//! No accept test, so it needs only scores (works with score-only models) and is biased by
//! O(h): for a Gaussian of variance v its stationary variance is v / (1 − h/(2v)).
//! One target evaluation per step.

use candle_core::Tensor;

use super::{LogDensity, Params, Result};
use crate::noise::Noise;

/// `params.steps` ULA steps from x.
pub fn run(target: &mut dyn LogDensity, mut x: Tensor, params: &Params, noise: &mut Noise) -> Result<Tensor> {
    let h = params.step_size;
    for _ in 0..params.steps {
        let g = target.eval(&x, false)?.grad;
        let xi = noise.normal(x.dims(), x.device())?;
        x = ((x + g.affine(h, 0.0)?)? + xi.affine((2.0 * h).sqrt(), 0.0)?)?;
    }
    Ok(x)
}

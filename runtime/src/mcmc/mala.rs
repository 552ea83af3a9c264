//! MALA, the Metropolis-adjusted Langevin algorithm: ULA's move x′ = x + h·g(x) + √(2h)·ξ as
//! a proposal, accepted per sample with
//!
//! log α = log q(x′) − log q(x) + log N(x; x′ + h·g(x′), 2h) − log N(x′; x + h·g(x), 2h),
//!
//! where log N(a; μ, 2h) = −‖a − μ‖²/(4h) + const (the constants cancel). RRR's PyTorch code
//! divides by 2h² instead of 4h and accepts for the whole batch at once; both are fixed here.
//!
//! The gradient and log q at the current point are kept from the step that accepted it, so
//! each step costs one target evaluation (at x′), plus one at the level's starting point.

use candle_core::Tensor;

use super::{log_q, metropolis, select, select_vec, sq_norm, Acceptance, LogDensity, Params, Result};
use crate::noise::Noise;

/// `params.steps` MALA steps from x.
pub fn run(target: &mut dyn LogDensity, mut x: Tensor, params: &Params, noise: &mut Noise, acceptance: &mut Acceptance) -> Result<Tensor> {
    let h = params.step_size;
    let cur = target.eval(&x, true)?;
    let mut g = cur.grad.clone();
    let mut lq = log_q(&cur)?.to_vec();
    for _ in 0..params.steps {
        let mean = (&x + g.affine(h, 0.0)?)?;
        let xi = noise.normal(x.dims(), x.device())?;
        let prop = (&mean + xi.affine((2.0 * h).sqrt(), 0.0)?)?;
        let next = target.eval(&prop, true)?;
        let lq_prop = log_q(&next)?;
        // log N(x′; x + h·g(x), 2h) and log N(x; x′ + h·g(x′), 2h), without constants.
        let forward = sq_norm(&(&prop - &mean)?)?;
        let reverse = sq_norm(&((&x - &prop)? - next.grad.affine(h, 0.0)?)?)?;
        let log_alpha: Vec<f64> = (0..lq.len()).map(|i| lq_prop[i] - lq[i] - reverse[i] / (4.0 * h) + forward[i] / (4.0 * h)).collect();
        let accept = metropolis(&log_alpha, noise, acceptance)?;
        x = select(&accept, &prop, &x)?;
        g = select(&accept, &next.grad, &g)?;
        lq = select_vec(&accept, lq_prop, &lq);
    }
    Ok(x)
}

//! HMC and U-HMC with partial momentum refresh (RRR's annealed HMC).
//!
//! Per MCMC step: v ← d·v + √(1−d²)·√M·ξ, then L leapfrog steps
//! (v += h/2·g; x += h·v/M; v += h/2·g). HMC then accepts per sample on the change of the
//! log joint log q(x) − ½‖v‖²/M; a rejected sample keeps x and *negates* v (Horowitz's
//! generalised HMC: with partial refresh the flip is what keeps the joint, and so q,
//! exactly invariant). U-HMC accepts every trajectory (scores only; biased by O(h²)).
//!
//! The momentum starts at v ~ N(0, M·I) at each level. The gradient at the current point is
//! kept from the last leapfrog step, so a step costs L target evaluations (energies only at
//! the trajectory's end, and only for HMC), plus one at the level's starting point.

use candle_core::{Result, Tensor};

use super::{log_q, metropolis, select, select_vec, sq_norm, Acceptance, LogDensity, Params};
use crate::noise::Noise;

/// `params.steps` HMC steps from x; `acceptance: None` runs U-HMC (no accept test).
pub fn run(
    target: &mut dyn LogDensity,
    mut x: Tensor,
    params: &Params,
    noise: &mut Noise,
    mut acceptance: Option<&mut Acceptance>,
) -> Result<Tensor> {
    let adjusted = acceptance.is_some();
    let (h, m, d) = (params.step_size, params.mass, params.damping);
    if !(m > 0.0 && m.is_finite()) {
        candle_core::bail!("HMC mass must be positive, got {m}")
    }
    if !(0.0..=1.0).contains(&d) {
        // The checker enforces this for scripts; a hand-edited JSON plan is checked here.
        candle_core::bail!("HMC damping must be in [0, 1], got {d}")
    }
    let cur = target.eval(&x, adjusted)?;
    let mut g = cur.grad.clone();
    let mut lq = if adjusted {
        log_q(&cur)?.to_vec()
    } else {
        Vec::new()
    };
    let mut v = noise.normal(x.dims(), x.device())?.affine(m.sqrt(), 0.0)?;
    let refresh = (1.0 - d * d).max(0.0).sqrt() * m.sqrt();
    for _ in 0..params.steps {
        let xi = noise.normal(x.dims(), x.device())?;
        v = (v.affine(d, 0.0)? + xi.affine(refresh, 0.0)?)?;
        let (mut xn, mut vn, mut gn) = (x.clone(), v.clone(), g.clone());
        let mut lq_new = None;
        for l in 0..params.leapfrog {
            vn = (vn + gn.affine(h / 2.0, 0.0)?)?;
            xn = (xn + vn.affine(h / m, 0.0)?)?;
            let last = l + 1 == params.leapfrog;
            let e = target.eval(&xn, adjusted && last)?;
            gn = e.grad;
            if adjusted && last {
                lq_new = e.log_q;
            }
            vn = (vn + gn.affine(h / 2.0, 0.0)?)?;
        }
        match acceptance.as_deref_mut() {
            Some(acc) => {
                let lq_new =
                    lq_new.ok_or_else(|| candle_core::Error::Msg("HMC needs log q".into()))?;
                let (k_old, k_new) = (sq_norm(&v)?, sq_norm(&vn)?);
                let log_alpha: Vec<f64> = (0..lq.len())
                    .map(|i| (lq_new[i] - 0.5 * k_new[i] / m) - (lq[i] - 0.5 * k_old[i] / m))
                    .collect();
                let accept = metropolis(&log_alpha, noise, acc)?;
                x = select(&accept, &xn, &x)?;
                g = select(&accept, &gn, &g)?;
                // A rejected sample's momentum flips; negate only when one was rejected.
                v = if accept.iter().all(|&a| a) { vn } else { select(&accept, &vn, &v.neg()?)? };
                lq = select_vec(&accept, &lq_new, &lq);
            }
            None => {
                (x, v, g) = (xn, vn, gn);
            }
        }
    }
    Ok(x)
}

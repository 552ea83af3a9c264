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

use candle_core::Tensor;

use super::{log_q, metropolis, select, select_vec, sq_norm, Acceptance, LogDensity, Params, Result};
use crate::error::RunError;
use crate::noise::Noise;

/// `params.steps` HMC steps from x; `acceptance: None` runs U-HMC (no accept test).
pub fn run(
    target: &mut dyn LogDensity,
    x: Tensor,
    params: &Params,
    noise: &mut Noise,
    mut acceptance: Option<&mut Acceptance>,
) -> Result<Tensor> {
    let adjusted = acceptance.is_some();
    let (m, d) = (params.mass, params.damping);
    if !(m > 0.0 && m.is_finite()) {
        return Err(RunError::msg(format!("HMC mass must be positive, got {m}")));
    }
    if !(0.0..=1.0).contains(&d) {
        // The checker enforces this for scripts; a hand-edited JSON plan is checked here.
        return Err(RunError::msg(format!("HMC damping must be in [0, 1], got {d}")));
    }
    let cur = target.eval(&x, adjusted)?;
    let g = cur.grad.clone();
    let lq = if adjusted { log_q(&cur)?.to_vec() } else { Vec::new() };
    let v = noise.normal(x.dims(), x.device())?.affine(m.sqrt(), 0.0)?;
    let mut state = State { x, v, g, lq };
    for _ in 0..params.steps {
        state = step(target, state, params, noise, acceptance.as_deref_mut())?;
    }
    Ok(state.x)
}

/// The chain's state between steps: position, momentum, ∇log q at x, and (HMC only) log q
/// at x per sample.
pub(crate) struct State {
    pub x: Tensor,
    pub v: Tensor,
    pub g: Tensor,
    pub lq: Vec<f64>,
}

/// One HMC step (refresh, leapfrog, accept test); separate so that tests can check the
/// momentum a step returns (the flip on rejection is invisible in x alone).
pub(crate) fn step(
    target: &mut dyn LogDensity,
    state: State,
    params: &Params,
    noise: &mut Noise,
    acceptance: Option<&mut Acceptance>,
) -> Result<State> {
    let (h, m, d) = (params.step_size, params.mass, params.damping);
    let adjusted = acceptance.is_some();
    let State { mut x, mut v, mut g, mut lq } = state;
    let refresh = (1.0 - d * d).max(0.0).sqrt() * m.sqrt();
    {
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
        match acceptance {
            Some(acc) => {
                let lq_new = lq_new.ok_or_else(|| RunError::msg("HMC needs log q"))?;
                let (k_old, k_new) = (sq_norm(&v)?, sq_norm(&vn)?);
                let log_alpha: Vec<f64> = (0..lq.len()).map(|i| (lq_new[i] - 0.5 * k_new[i] / m) - (lq[i] - 0.5 * k_old[i] / m)).collect();
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
    Ok(State { x, v, g, lq })
}

#[cfg(test)]
mod tests {
    //! One step against a target whose log q at the proposal is set per sample: ±1e9 makes
    //! log α = ±1e9 (the gradient is 0, so the leapfrog keeps v and the kinetic terms cancel),
    //! i.e. a certain acceptance or a certain rejection whatever the uniform draw. With
    //! damping 1 the refresh keeps v exactly (v ← 1·v + 0·ξ), so the momentum that comes back
    //! is exactly v (accepted) or exactly −v (rejected, Horowitz's flip).
    use super::*;
    use crate::mcmc::Eval;
    use candle_core::Device;
    use comp_plan::McmcKind;

    struct ProposalLogQ(Vec<f64>);

    impl LogDensity for ProposalLogQ {
        fn eval(&mut self, x: &Tensor, want_log_q: bool) -> Result<Eval> {
            Ok(Eval { grad: x.zeros_like()?, log_q: want_log_q.then(|| self.0.clone()) })
        }
    }

    /// (x, v) after one HMC step from x = 0, v = rows [1, 2], [−3, 0.5] (h = 0.1, M = 2, L = 3:
    /// an accepted sample moves by L·h·v/M = 0.15·v).
    fn one_step(proposal_log_q: [f64; 2]) -> (Vec<Vec<f32>>, Vec<Vec<f32>>, Acceptance) {
        let dev = Device::Cpu;
        let x = Tensor::zeros((2, 2), candle_core::DType::F32, &dev).unwrap();
        let v = Tensor::new(&[[1f32, 2.], [-3., 0.5]], &dev).unwrap();
        let state = State { g: x.zeros_like().unwrap(), x, v, lq: vec![0.0, 0.0] };
        let params = Params { kind: McmcKind::Hmc, steps: 1, step_size: 0.1, leapfrog: 3, damping: 1.0, mass: 2.0 };
        let mut acc = Acceptance::default();
        let mut target = ProposalLogQ(proposal_log_q.to_vec());
        let out = step(&mut target, state, &params, &mut Noise::new(1, 0..2), Some(&mut acc)).unwrap();
        (out.x.to_vec2().unwrap(), out.v.to_vec2().unwrap(), acc)
    }

    fn close(a: &[Vec<f32>], b: &[[f32; 2]; 2]) -> bool {
        a.iter().zip(b).all(|(r, e)| r.iter().zip(e).all(|(p, q)| (p - q).abs() < 1e-6))
    }

    #[test]
    fn a_rejected_step_negates_the_momentum_and_keeps_x() {
        let (x, v, acc) = one_step([-1e9, -1e9]);
        assert_eq!(acc, Acceptance { accepted: 0, proposed: 2 });
        assert!(close(&x, &[[0., 0.], [0., 0.]]), "x {x:?}");
        assert!(close(&v, &[[-1., -2.], [3., -0.5]]), "v {v:?}");
    }

    #[test]
    fn an_accepted_step_keeps_the_momentum_and_moves_x() {
        let (x, v, acc) = one_step([1e9, 1e9]);
        assert_eq!(acc, Acceptance { accepted: 2, proposed: 2 });
        assert!(close(&x, &[[0.15, 0.3], [-0.45, 0.075]]), "x {x:?}");
        assert!(close(&v, &[[1., 2.], [-3., 0.5]]), "v {v:?}");
    }

    #[test]
    fn the_flip_is_per_sample() {
        let (x, v, acc) = one_step([1e9, -1e9]);
        assert_eq!(acc, Acceptance { accepted: 1, proposed: 2 });
        assert!(close(&x, &[[0.15, 0.3], [0., 0.]]), "x {x:?}");
        assert!(close(&v, &[[1., 2.], [3., -0.5]]), "v {v:?}");
    }
}

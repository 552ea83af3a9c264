//! Runs one `SamplePlan`: reverse diffusion with ONE batched model call per step.
//!
//! Per step k (0 = pure noise): take the segment at k's trajectory fraction, stack x once per
//! active condition (K·N rows), call the model once, combine the K outputs with one fused
//! weighted sum (`combine.rs`), and take the sampler's update (`sampler.rs`). Conditions not
//! active in the segment are not evaluated at all; a segment with none gives ε̂ = 0 and no
//! model call. Then the MCMC hook runs (see `mcmc_step`).

use std::time::{Duration, Instant};

use candle_core::{bail, Device, Result, Tensor};
use comp_compiler::plan::{step_fraction, Combine, Mcmc, SamplePlan, Segment};

use crate::combine::{combine, Combined};
use crate::denoiser::Denoiser;
use crate::mcmc::{self, Acceptance, Composed, Params};
use crate::noise::Noise;
use crate::sampler::{apply, ReverseSampler};

/// Options of a run that are not part of the plan (seed and sample count are: the CLI applies
/// `--seed` and `--samples` to the plan's settings before calling `execute`).
#[derive(Default)]
pub struct ExecOptions<'a> {
    /// Called after each reverse step with (steps done, total steps).
    pub progress: Option<&'a dyn Fn(usize, usize)>,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// `[N, ...data_shape]` f32 on the run's device.
    pub samples: Tensor,
    /// Model forward calls made (at most one per step, plus MCMC's).
    pub model_calls: usize,
    /// Reverse steps taken.
    pub steps: usize,
    /// Rows the model evaluated in total (Σ over calls of K·N).
    pub rows_evaluated: usize,
    /// Mean per-sample acceptance rate of MALA or HMC over all proposals of the run; `None`
    /// without MCMC, for ULA and U-HMC (no accept test), or when no level ran.
    pub acceptance: Option<f64>,
    pub wall: Duration,
}

/// Model-call accounting shared by the reverse steps and MCMC (and MCMC's accept counts).
#[derive(Clone, Copy, Debug, Default)]
pub struct Calls {
    pub calls: usize,
    pub rows: usize,
    /// Metropolis proposals (per sample) made and accepted by MALA / HMC.
    pub mcmc: Acceptance,
}

/// Samples `plan` with `model` on `device`.
pub fn execute(
    plan: &SamplePlan,
    model: &dyn Denoiser,
    device: &Device,
    opts: &ExecOptions,
) -> Result<RunOutput> {
    let start = Instant::now();
    validate(plan, model)?;
    let sampler = ReverseSampler::new(model.schedule(), &plan.settings.sampler)
        .map_err(|e| e.context(format!("sample `{}`", plan.sample)))?;
    let steps = sampler.steps();
    let n = plan.settings.samples;
    let mut shape = vec![n];
    shape.extend(&model.info().data_shape);

    let mut noise = Noise::new(plan.settings.seed);
    let mut x = noise.normal(&shape, device)?;
    let mut calls = Calls::default();
    for k in 0..steps {
        let segment = plan.segment_at(k).ok_or_else(|| {
            candle_core::Error::Msg(format!(
                "sample `{}`: no segment covers step {k} of {steps}",
                plan.sample
            ))
        })?;
        let eps = composed_eps(
            model,
            plan,
            segment,
            &x,
            sampler.timestep(k),
            sampler.sigma(k),
            false,
            &mut calls,
        )
        .map_err(|e| e.context(format!("sample `{}`, step {k} of {steps}", plan.sample)))?
        .eps;
        let eps = match model.x0_range() {
            Some(range) => clip_x0(&x, &eps, sampler.alpha_bar(k), sampler.sigma(k), range)?,
            None => eps,
        };
        let c = sampler.coeffs(k);
        let z = if c.noise != 0.0 {
            Some(noise.normal(&shape, device)?)
        } else {
            None
        };
        x = apply(c, &x, &eps, z.as_ref())?;
        if let Some(mcmc) = &plan.settings.mcmc {
            let ctx = McmcContext {
                plan,
                model,
                sampler: &sampler,
                step: k,
                mcmc,
            };
            x = mcmc_step(&ctx, x, &mut noise, &mut calls)?;
        }
        if let Some(p) = opts.progress {
            p(k + 1, steps);
        }
    }
    Ok(RunOutput {
        samples: x,
        model_calls: calls.calls,
        steps,
        rows_evaluated: calls.rows,
        acceptance: calls.mcmc.rate(),
        wall: start.elapsed(),
    })
}

/// The composed ε̂ (and energy when `want_energy`) of `segment` at x: one model call over the
/// segment's active conditions, then the fused combination. Shared by reverse steps and MCMC.
/// The ε whose x̂₀ = (x − σε)/√ᾱ is the given one's clipped to `range` (see
/// [`Denoiser::x0_range`]).
pub fn clip_x0(x: &Tensor, eps: &Tensor, alpha_bar: f64, sigma: f64, (lo, hi): (f32, f32)) -> Result<Tensor> {
    if sigma <= 0.0 {
        return Ok(eps.clone());
    }
    let a = alpha_bar.sqrt();
    let x0 = ((x - eps.affine(sigma, 0.0)?)? / a)?.clamp(lo, hi)?;
    (x - x0.affine(a, 0.0)?)? / sigma
}

#[allow(clippy::too_many_arguments)]
pub fn composed_eps(
    model: &dyn Denoiser,
    plan: &SamplePlan,
    segment: &Segment,
    x: &Tensor,
    timestep: usize,
    sigma: f64,
    want_energy: bool,
    calls: &mut Calls,
) -> Result<Combined> {
    let k = segment.active.len();
    let n = x.dim(0)?;
    if k == 0 {
        let energy = if want_energy {
            Some(Tensor::zeros(n, candle_core::DType::F32, x.device())?)
        } else {
            None
        };
        return Ok(Combined {
            eps: x.zeros_like()?,
            energy,
        });
    }
    let conds: Vec<_> = segment
        .active
        .iter()
        .map(|&id| &plan.conditions[id])
        .collect();
    let stacked = if k == 1 {
        x.clone()
    } else {
        let mut reps = vec![1usize; x.rank()];
        reps[0] = k;
        x.repeat(reps)?
    };
    let t = Tensor::full(timestep as f32, k * n, x.device())?;
    let need_energy = want_energy || matches!(segment.combine, Combine::Mixture { .. });
    let out = model.forward(&stacked, &t, &conds, need_energy)?;
    calls.calls += 1;
    calls.rows += k * n;
    if out.eps.dims() != stacked.dims() {
        bail!(
            "model returned ε of shape {:?} for input {:?}",
            out.eps.dims(),
            stacked.dims()
        )
    }
    combine(&out, k, &segment.combine, sigma, want_energy)
}

/// What the MCMC hook gets to work with after reverse step `step`.
pub struct McmcContext<'a> {
    pub plan: &'a SamplePlan,
    pub model: &'a dyn Denoiser,
    /// Noise levels: after step k, x has ᾱ = `sampler.alpha_bar_next(k)`, which is the ᾱ of
    /// step k + 1 (`sampler.timestep(k + 1)`, `sampler.sigma(k + 1)`); β for step-size
    /// scaling is `sampler.beta(k)`.
    pub sampler: &'a ReverseSampler,
    pub step: usize,
    pub mcmc: &'a Mcmc,
}

/// Annealed MCMC after reverse step `ctx.step` (RRR; ULA, MALA, U-HMC, HMC; see [`mcmc`]).
///
/// x has just reached the noise level of step k + 1 (k = `ctx.step`). MCMC runs there, with
/// g = ∇log q = −ε̂/σ and log q = −E/σ from [`composed_eps`] on the segment at step k + 1
/// (so windows apply) at that step's timestep and σ, when
///
/// * k + 1 < steps: after the final reverse step x is clean (ᾱ = 1, σ = 0), where there is no
///   noise level to call the model at and log q = −E/σ is undefined, so no MCMC runs;
/// * the trajectory fraction of step k + 1, (k + 1.5)/steps, lies in `[mcmc.from, mcmc.to)`;
/// * the segment at step k + 1 has an active condition (with none, ε̂ = 0 and ULA would be
///   a pure random walk: there is no distribution to sample).
///
/// Step size (and HMC's mass) are multiplied by β of step k's transition,
/// `sampler.beta(k)`, when `beta_scaled`. All randomness comes from `noise`; model calls and
/// accept counts go into `calls`. Each level costs `mcmc::Params::evaluations` model calls.
pub fn mcmc_step(
    ctx: &McmcContext,
    x: Tensor,
    noise: &mut Noise,
    calls: &mut Calls,
) -> Result<Tensor> {
    let steps = ctx.sampler.steps();
    let next = ctx.step + 1;
    if next >= steps {
        return Ok(x);
    }
    let f = step_fraction(next, steps);
    if !(ctx.mcmc.from <= f && f < ctx.mcmc.to) {
        return Ok(x);
    }
    let Some(segment) = ctx.plan.segment_at(next) else {
        bail!(
            "sample `{}`: no segment covers step {next} of {steps}",
            ctx.plan.sample
        )
    };
    if segment.active.is_empty() {
        return Ok(x);
    }
    let params = Params::at_level(ctx.mcmc, ctx.sampler.beta(ctx.step));
    let mut acceptance = Acceptance::default();
    let mut target = Composed {
        model: ctx.model,
        plan: ctx.plan,
        segment,
        timestep: ctx.sampler.timestep(next),
        sigma: ctx.sampler.sigma(next),
        calls,
    };
    let x = mcmc::run(&mut target, x, &params, noise, &mut acceptance).map_err(|e| {
        e.context(format!(
            "sample `{}`, {:?} after step {} of {steps}",
            ctx.plan.sample, ctx.mcmc.kind, ctx.step
        ))
    })?;
    calls.mcmc.accepted += acceptance.accepted;
    calls.mcmc.proposed += acceptance.proposed;
    Ok(x)
}

/// Checks the plan against the model before any work.
fn validate(plan: &SamplePlan, model: &dyn Denoiser) -> Result<()> {
    let info = model.info();
    if plan.model != info.name {
        bail!(
            "sample `{}` is for model `{}`, but `{}` was loaded",
            plan.sample,
            plan.model,
            info.name
        )
    }
    if plan.settings.samples == 0 {
        bail!("sample `{}`: zero samples asked", plan.sample)
    }
    for seg in &plan.segments {
        if let Some(id) = seg.active.iter().find(|&&id| id >= plan.conditions.len()) {
            bail!(
                "sample `{}`: segment refers to condition {id}, but there are {}",
                plan.sample,
                plan.conditions.len()
            )
        }
        if matches!(seg.combine, Combine::Mixture { .. }) && !info.energies {
            bail!(
                "sample `{}`: OR needs energies, and model `{}` has none",
                plan.sample,
                info.name
            )
        }
    }
    if let Some(m) = &plan.settings.mcmc {
        if m.kind.needs_energies() && !info.energies {
            bail!(
                "sample `{}`: {:?} needs energies, and model `{}` has none",
                plan.sample,
                m.kind,
                info.name
            )
        }
    }
    Ok(())
}

//! Runs one `SamplePlan`: reverse diffusion with ONE batched model call per evaluation.
//!
//! Before the loop the model is prepared once with the plan ([`Denoiser::prepare`]: a text
//! model encodes its prompts there), and every model call of the run goes through the
//! [`Prepared`] run it returns, which is dropped (with its encodings) when the run ends. Per
//! step k (0 = pure noise) the sampler is handed an "evaluate ε̂ at (x, level)" function; an
//! evaluation takes the segment at that level's trajectory fraction and evaluates its
//! [`Composed`] ε̂: x stacked once per active condition (K·N rows), one model call, one fused
//! weighted sum. Conditions not active in the segment are not evaluated at all; a segment
//! with none gives ε̂ = 0 and no model call. Then the MCMC hook runs (see [`mcmc_step`]).
//! After the last step the prepared run decodes the samples (latents to pixels; the identity
//! for models that sample data directly).
//!
//! Before any work the plan's memory is estimated and checked ([`crate::memory`],
//! [`RunError::TooLarge`]); a value that leaves the finite numbers stops the run at once,
//! naming the step, the sample and the term ([`crate::finite`], [`RunError::NonFinite`]); a set
//! `cancel` flag stops it before the next step ([`RunError::Interrupted`]). Errors found inside
//! a step are placed at it ([`RunError::at`]).

use std::time::{Duration, Instant};

use candle_core::{bail, Device, Result, Tensor};
use comp_plan::{step_fraction, Combine, Mcmc, SamplePlan};

use crate::composed::{Calls, Composed};
use crate::denoiser::{Denoiser, Prepared};
use crate::error::RunError;
use crate::finite::check_state;
use crate::mcmc::{self, Acceptance, Level, Params};
use crate::noise::Noise;
use crate::sampler::{At, ReverseSampler};

/// Options of a run that are not part of the plan (seed and sample count are: the CLI applies
/// `--seed` and `--samples` to the plan's settings before calling `execute`).
#[derive(Default)]
pub struct ExecOptions<'a> {
    /// Called after each reverse step with (steps done, total steps).
    pub progress: Option<&'a dyn Fn(usize, usize)>,
    /// When set (the REPL's Ctrl-C), the run stops before its next step (or its next MCMC
    /// evaluation) with [`RunError::Interrupted`].
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
    /// Draw only these sample indices of the plan's `0..samples` (a shard of the run); every
    /// sample has its own noise stream ([`Noise`]), so they are exactly those rows of the
    /// whole run. `None`: all of them.
    pub indices: Option<std::ops::Range<usize>>,
    /// Called with (step k, x) for the starting noise (k = 0) and after each reverse step k
    /// (with k + 1), before decoding: the samples' trajectory, for tests that compare a run
    /// step for step with another implementation, and for tools that show progress.
    pub observe: Option<&'a Observer<'a>>,
    /// Start from these states instead of the seed's noise (`[N, ...sample shape]`, N the
    /// samples drawn): for tests that replay another implementation's trajectory from its own
    /// starting latents. `None`: the seed's noise, as every run.
    pub start: Option<&'a Tensor>,
}

/// What [`ExecOptions::observe`] calls with (step, x).
pub type Observer<'a> = dyn Fn(usize, &Tensor) + 'a;

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// `[N, ...data_shape]` f32 on the run's device, decoded by the model.
    pub samples: Tensor,
    /// Model forward calls made (one per evaluation with an active condition, plus MCMC's).
    pub model_calls: usize,
    /// Reverse steps taken.
    pub steps: usize,
    /// Rows the model evaluated in total (Σ over calls of K·N).
    pub rows_evaluated: usize,
    /// Model calls per model of the plan, in the order of its `models` table (one entry,
    /// `model_calls`, for a plan of one model).
    pub calls_per_model: Vec<usize>,
    /// Mean per-sample acceptance rate of MALA or HMC over all proposals of the run; `None`
    /// without MCMC, for ULA and U-HMC (no accept test), or when no level ran.
    pub acceptance: Option<f64>,
    pub wall: Duration,
}

/// Samples `plan` with `model` on `device`. The run's own failures are [`RunError`]'s
/// variants (non-finite values, interruption, too large for memory); the rest is
/// [`RunError::Candle`], with the sample and step as context.
pub fn execute(plan: &SamplePlan, model: &dyn Denoiser, device: &Device, opts: &ExecOptions) -> std::result::Result<RunOutput, RunError> {
    let start = Instant::now();
    validate(plan, model)?;
    let indices = opts.indices.clone().unwrap_or(0..plan.settings.samples);
    if indices.is_empty() || indices.end > plan.settings.samples {
        return Err(RunError::msg(format!(
            "sample `{}`: indices {}..{} asked of a run of {} samples",
            plan.sample, indices.start, indices.end, plan.settings.samples
        )));
    }
    if indices.len() == plan.settings.samples {
        crate::memory::check(plan, model)?;
    } else {
        // A shard holds only its own samples in memory.
        let mut share = plan.clone();
        share.settings.samples = indices.len();
        crate::memory::check(&share, model)?;
    }
    let mut sampler = ReverseSampler::spaced(model.schedule(), &plan.settings.sampler, model.spacing())
        .map_err(|e| e.context(format!("sample `{}`", plan.sample)))?;
    let steps = sampler.steps();
    // The run's own state (a text model's prompt encodings) lives in `prepared` and is dropped
    // when this function returns.
    let prepared = model.prepare(plan).map_err(|e| e.context(format!("sample `{}`: preparing the model", plan.sample)))?;
    let run: &dyn Prepared = prepared.as_ref();
    let mut shape = vec![indices.len()];
    shape.extend(model.info().sample_shape(plan.settings.size));

    let mut noise = Noise::new(plan.settings.seed, indices);
    let mut x = noise.normal(&shape, device)?;
    if let Some(s) = opts.start {
        if s.dims() != x.dims() {
            return Err(RunError::msg(format!(
                "sample `{}`: the starting states have shape {:?}, the run draws {:?}",
                plan.sample,
                s.dims(),
                x.dims()
            )));
        }
        x = s.to_device(device)?.to_dtype(x.dtype())?;
    }
    if let Some(o) = opts.observe {
        o(0, &x);
    }
    let mut calls = Calls::default();
    let mut acceptance = Acceptance::default();
    for k in 0..steps {
        if opts.cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
            return Err(RunError::Interrupted { sample: plan.sample.clone(), step: k, steps, mcmc: None });
        }
        if k > 0 && plan.segment_at(k) != plan.segment_at(k - 1) {
            sampler.restart();
        }
        let mut eval = |x: &Tensor, at: At| -> std::result::Result<Tensor, RunError> {
            let eps = composed_at(plan, run, at)?.eval(x, false, &mut calls)?.eps;
            match model.x0_range(&plan.settings.sampler) {
                Some(range) => Ok(clip_x0(x, &eps, at.alpha_bar, at.sigma, range)?),
                None => Ok(eps),
            }
        };
        let here = |e: RunError| e.at(&plan.sample, k, steps, None);
        x = sampler.step(k, &x, &mut eval, &mut noise).map_err(here)?;
        check_state(&x, &plan.sample, || "x after the reverse update".into()).map_err(here)?;
        if let Some(mcmc) = &plan.settings.mcmc {
            let ctx = McmcContext { plan, model: run, sampler: &sampler, step: k, mcmc, cancel: opts.cancel };
            let before = calls.calls;
            x = mcmc_step(&ctx, x, &mut noise, &mut calls, &mut acceptance)?;
            if calls.calls != before {
                sampler.restart();
            }
            check_state(&x, &plan.sample, || format!("x after {:?}", mcmc.kind)).map_err(here)?;
        }
        if let Some(o) = opts.observe {
            o(k + 1, &x);
        }
        if let Some(p) = opts.progress {
            p(k + 1, steps);
        }
    }
    let samples = run.decode(&x).map_err(|e| e.context(format!("sample `{}`: decoding the samples", plan.sample)))?;
    Ok(RunOutput {
        samples,
        model_calls: calls.calls,
        steps,
        rows_evaluated: calls.rows,
        calls_per_model: calls.per_model[..plan.model_names().len().min(comp_plan::MAX_MODELS)].to_vec(),
        acceptance: acceptance.rate(),
        wall: start.elapsed(),
    })
}

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

/// The composed ε̂ of `plan` at a noise level: the segment at that step's trajectory
/// fraction, called at its timestep and σ, evaluated by `model` (prepared for `plan`).
pub fn composed_at<'a>(plan: &'a SamplePlan, model: &'a dyn Prepared, at: At) -> Result<Composed<'a>> {
    let Some(segment) = plan.segment_at(at.step) else {
        bail!("sample `{}`: no segment covers step {} of {}", plan.sample, at.step, plan.settings.sampler.steps())
    };
    Ok(Composed { model, plan, segment, timestep: at.timestep, sigma: at.sigma })
}

/// What the MCMC hook gets to work with after reverse step `step`.
pub struct McmcContext<'a> {
    pub plan: &'a SamplePlan,
    /// The model, prepared for `plan`.
    pub model: &'a dyn Prepared,
    /// Noise levels: after step k, x has ᾱ = `sampler.alpha_bar_next(k)`, which is the ᾱ of
    /// step k + 1 (`sampler.timestep(k + 1)`, `sampler.sigma(k + 1)`); β for step-size
    /// scaling is `sampler.beta(k)`.
    pub sampler: &'a ReverseSampler,
    pub step: usize,
    pub mcmc: &'a Mcmc,
    /// Stops the level's MCMC at its next evaluation when set.
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
}

/// Annealed MCMC after reverse step `ctx.step` (RRR; ULA, MALA, U-HMC, HMC; see [`mcmc`]).
///
/// x has just reached the noise level of step k + 1 (k = `ctx.step`). MCMC runs there, with
/// g = ∇log q = −ε̂/σ and log q = −E/σ from the [`Composed`] ε̂ of the segment at step k + 1
/// (so windows apply) at that step's timestep and σ, when
///
/// * k + 1 < steps: after the final reverse step x is clean (ᾱ = 1, σ = 0), where there is no
///   noise level to call the model at and log q = −E/σ is undefined, so no MCMC runs;
/// * the trajectory fraction of step k + 1, (k + 1.5)/steps, lies in `[mcmc.from, mcmc.to)`;
/// * the segment at step k + 1 has an active condition (with none, ε̂ = 0 and ULA would be
///   a pure random walk: there is no distribution to sample).
///
/// Step size (and HMC's mass) are multiplied by β of step k's transition,
/// `sampler.beta(k)`, when `beta_scaled`. All randomness comes from `noise`; model calls go
/// into `calls` and accept counts into `acceptance`. Each level costs
/// [`comp_plan::Mcmc::calls_per_level`] model calls. Errors are placed at the level, `sample
/// `s`, Mala after step 3 of 10` ([`RunError::at`]).
pub fn mcmc_step(
    ctx: &McmcContext,
    x: Tensor,
    noise: &mut Noise,
    calls: &mut Calls,
    acceptance: &mut Acceptance,
) -> std::result::Result<Tensor, RunError> {
    let steps = ctx.sampler.steps();
    let next = ctx.step + 1;
    if next >= steps {
        return Ok(x);
    }
    let f = step_fraction(next, steps);
    if !(ctx.mcmc.from <= f && f < ctx.mcmc.to) {
        return Ok(x);
    }
    let target = composed_at(ctx.plan, ctx.model, ctx.sampler.at(next))?;
    if target.segment.active.is_empty() {
        return Ok(x);
    }
    let params = Params::at_level(ctx.mcmc, ctx.sampler.beta(ctx.step));
    let mut level = Level { target, calls, cancel: ctx.cancel };
    mcmc::run(&mut level, x, &params, noise, acceptance).map_err(|e| e.at(&ctx.plan.sample, ctx.step, steps, Some(ctx.mcmc.kind)))
}

/// Checks the plan against the model before any work.
fn validate(plan: &SamplePlan, model: &dyn Denoiser) -> Result<()> {
    let info = model.info();
    if plan.model != info.name {
        bail!("sample `{}` is for model `{}`, but `{}` was loaded", plan.sample, plan.model, info.name)
    }
    if plan.settings.samples == 0 {
        bail!("sample `{}`: zero samples asked", plan.sample)
    }
    for seg in &plan.segments {
        if let Some(id) = seg.active.iter().find(|&&id| id >= plan.conditions.len()) {
            bail!("sample `{}`: segment refers to condition {id}, but there are {}", plan.sample, plan.conditions.len())
        }
        if matches!(seg.combine, Combine::Mixture { .. }) && !info.energies {
            bail!("sample `{}`: OR needs energies, and model `{}` has none", plan.sample, info.name)
        }
    }
    if let Some(m) = &plan.settings.mcmc {
        if m.kind.needs_energies() && !info.energies {
            bail!("sample `{}`: {:?} needs energies, and model `{}` has none", plan.sample, m.kind, info.name)
        }
    }
    Ok(())
}

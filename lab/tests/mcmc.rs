//! Annealed MCMC: each sampler leaves a known distribution invariant (ULA and U-HMC up to
//! their O(h) bias, MALA and HMC exactly, even at large steps), acceptance falls with the step
//! size, HMC fixes the product `ring AND bar` that reverse diffusion alone gets wrong, model
//! calls match the compiler's prediction, and seeded runs repeat.

use candle_core::{DType, Device, Result, Tensor};

#[path = "../../models/tests/common/mod.rs"]
mod common;
use comp_lab::toy2d::eval::{self as eval, Method, Options, Outcome};
use comp_models as models;
use comp_models::toy2d::Toy2d;
use comp_plan::{Condition, McmcKind, SamplePlan, Sampler};
use comp_plan::{DefaultBase, ModelInfo};
use comp_runtime::composed::{Calls, Composed};
use comp_runtime::mcmc::{self, Acceptance, Level, Params};
use comp_runtime::noise::Noise;
use comp_runtime::{execute, Denoiser, ExecOptions, ModelOutput, Prepared, Schedule};

/// A model whose only concept `g` is an axis-aligned Gaussian N(MU, diag(S²)) at t = 0,
/// with the exact noised ε and energy (E = −σ log p_t) at every level.
struct Gaussian {
    info: ModelInfo,
    schedule: Schedule,
}

const MU: [f64; 2] = [0.5, -0.2];
const S: [f64; 2] = [0.3, 0.6];

impl Gaussian {
    fn new() -> Self {
        Self {
            info: ModelInfo {
                name: "gauss".into(),
                description: "a Gaussian".into(),
                data_shape: vec![2],
                concepts: vec![],
                text: false,
                energies: true,
                default_scale: 1.0,
                default_base: DefaultBase::None,
                default_steps: 100,
                max_steps: 100,
                default_samples: 100,
                extra_settings: vec![],
                image_size: None,
                default_sampler: None,
                dtypes: false,
                schedule: None,
                latent_space: None,
                classifier: false,
            },
            schedule: Schedule::cosine(100, 0.008).unwrap(),
        }
    }

    /// Mean and variance per coordinate of p_t at native timestep t.
    fn moments(&self, t: usize) -> ([f64; 2], [f64; 2]) {
        let ab = self.schedule.alpha_bar(t);
        let m = [ab.sqrt() * MU[0], ab.sqrt() * MU[1]];
        let v = [ab * S[0] * S[0] + 1.0 - ab, ab * S[1] * S[1] + 1.0 - ab];
        (m, v)
    }
}

impl Denoiser for Gaussian {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn schedule(&self) -> &Schedule {
        &self.schedule
    }
    fn prepare(&self, _: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        Ok(Box::new(self))
    }
}

impl Prepared for Gaussian {
    fn forward(&self, x: &Tensor, t: &Tensor, _: &[&Condition], want_energy: bool) -> Result<ModelOutput> {
        let xs = x.to_vec2::<f32>()?;
        let ts = t.to_vec1::<f32>()?;
        let mut eps = Vec::with_capacity(xs.len() * 2);
        let mut energy = Vec::with_capacity(xs.len());
        for (row, &t) in xs.iter().zip(&ts) {
            let (m, v) = self.moments(t as usize);
            let sigma = (1.0 - self.schedule.alpha_bar(t as usize)).sqrt();
            let mut log_p = 0.0;
            for d in 0..2 {
                let z = row[d] as f64 - m[d];
                eps.push((sigma * z / v[d]) as f32);
                log_p += -z * z / (2.0 * v[d]) - 0.5 * (2.0 * std::f64::consts::PI * v[d]).ln();
            }
            energy.push((-sigma * log_p) as f32);
        }
        let n = xs.len();
        Ok(ModelOutput {
            eps: Tensor::from_vec(eps, (n, 2), x.device())?,
            energy: want_energy.then(|| Tensor::from_vec(energy, n, x.device())).transpose()?,
        })
    }
}

fn one_condition_plan(model: &str, concept: &str, samples: usize) -> SamplePlan {
    let mut p = common::linear_plan(&[concept], &[1.0], Sampler::Ddpm { steps: 100 }, samples, 0);
    p.model = model.into();
    p
}

const T: usize = 50;
const N: usize = 4000;

/// Exact draws of p_t at T, then `params` at that level; returns the final samples' mean and
/// variance per coordinate, the exact ones, and the acceptance.
fn run_at_level(params: Params, seed: u64) -> ([f64; 2], [f64; 2], [f64; 2], [f64; 2], Acceptance) {
    let model = Gaussian::new();
    let plan = one_condition_plan("gauss", "g", N);
    let (m, v) = model.moments(T);
    let mut noise = Noise::new(seed, 0..N);
    let z = noise.normal(&[N, 2], &Device::Cpu).unwrap();
    let std = Tensor::new(&[[v[0].sqrt() as f32, v[1].sqrt() as f32]], &Device::Cpu).unwrap();
    let mean = Tensor::new(&[[m[0] as f32, m[1] as f32]], &Device::Cpu).unwrap();
    let x = z.broadcast_mul(&std).unwrap().broadcast_add(&mean).unwrap();
    let mut calls = Calls::default();
    let mut acc = Acceptance::default();
    let mut target = Level {
        target: Composed { model: &model, plan: &plan, segment: &plan.segments[0], timestep: T, sigma: model.schedule().sigma(T) },
        calls: &mut calls,
        cancel: None,
    };
    let x = mcmc::run(&mut target, x, &params, &mut noise, &mut acc).unwrap();
    assert_eq!(calls.calls, params.evaluations(), "{:?}: one model call per evaluation", params.kind);
    let x = x.to_dtype(DType::F64).unwrap().to_vec2::<f64>().unwrap();
    let mut mu = [0.0; 2];
    let mut var = [0.0; 2];
    for d in 0..2 {
        mu[d] = x.iter().map(|r| r[d]).sum::<f64>() / N as f64;
        var[d] = x.iter().map(|r| (r[d] - mu[d]).powi(2)).sum::<f64>() / (N - 1) as f64;
    }
    (mu, var, m, v, acc)
}

fn params(kind: McmcKind, steps: usize, step_size: f64) -> Params {
    Params { kind, steps, step_size, leapfrog: 3, damping: 0.5, mass: 1.0 }
}

/// Mean within 4 standard errors, variance within `rel` (plus 4 standard errors).
fn assert_invariant(kind: McmcKind, step: f64, rel: f64) -> Acceptance {
    let (mu, var, m, v, acc) = run_at_level(params(kind, 60, step), 1);
    for d in 0..2 {
        let se = (v[d] / N as f64).sqrt();
        assert!((mu[d] - m[d]).abs() < 4.0 * se, "{kind:?} h={step}: mean {mu:?} vs {m:?}");
        let tol = rel + 4.0 * (2.0 / N as f64).sqrt();
        assert!((var[d] / v[d] - 1.0).abs() < tol, "{kind:?} h={step}: variance {var:?} vs {v:?}");
    }
    acc
}

#[test]
fn ula_and_uhmc_keep_a_gaussian_at_small_steps() {
    // At h = 0.005 ULA's stationary variance is v/(1 − h/(2v)): under 0.5% off for v ≥ 0.54.
    assert_invariant(McmcKind::Ula, 0.005, 0.01);
    assert_invariant(McmcKind::Uhmc, 0.05, 0.01);
}

#[test]
fn mala_and_hmc_are_exact_even_where_the_unadjusted_ones_are_not() {
    // h = 0.3 with v ≈ 0.55: ULA's variance would be ~38% too large; MALA's accept test fixes it.
    let (_, var, _, v, _) = run_at_level(params(McmcKind::Ula, 60, 0.3), 1);
    assert!(var[0] / v[0] > 1.2, "the test can see ULA's bias: {var:?} vs {v:?}");
    let acc = assert_invariant(McmcKind::Mala, 0.3, 0.0);
    assert!(acc.rate().unwrap() < 0.95, "MALA at a large step rejects: {acc:?}");
    // HMC at h = 1.2 (h·ω ≈ 1.6 in the narrow direction): U-HMC drifts, HMC does not.
    let (_, var, _, v, _) = run_at_level(params(McmcKind::Uhmc, 60, 1.2), 1);
    assert!((var[0] / v[0] - 1.0).abs() > 0.1, "the test can see U-HMC's bias: {var:?} vs {v:?}");
    let acc = assert_invariant(McmcKind::Hmc, 1.2, 0.0);
    assert!(acc.rate().unwrap() < 0.9, "HMC at a large step rejects: {acc:?}");
}

#[test]
fn acceptance_is_near_one_for_tiny_steps_and_falls_for_large_ones() {
    for kind in [McmcKind::Mala, McmcKind::Hmc] {
        let rates: Vec<f64> = [1e-4, 0.3, 1.5, 4.0].iter().map(|&h| run_at_level(params(kind, 5, h), 2).4.rate().unwrap()).collect();
        assert!(rates[0] > 0.995, "{kind:?}: {rates:?}");
        assert!(rates.windows(2).all(|w| w[1] < w[0]), "{kind:?} falls with h: {rates:?}");
        assert!(rates[3] < 0.3, "{kind:?}: {rates:?}");
    }
}

#[test]
fn hmc_fixes_the_product_that_reverse_diffusion_gets_wrong() {
    // Measured with 500 samples, seed 0: reverse 0.2, HMC 3.1 nats (exact draws 3.5).
    // The 1.5-nat margin, derived: the mean log-likelihood is about f · 3.5 + (1 − f) · (−6.8)
    // (in-support samples score like exact draws, the rest the softened floor ln(0.01 / 9)),
    // reverse leaves f ≈ 0.62 in the support and HMC ≈ 0.9, so the gap is ≈ 0.28 · 10.3 ≈ 2.9
    // nats with a standard error of ≈ 10.3 · √(0.9·0.1 + 0.62·0.38) / √500 ≈ 0.26: the margin
    // is 5 standard errors below the expected gap and 6 above an HMC that changes nothing.
    let model = models::load("toy2d", &Device::Cpu).unwrap();
    let mut opts = Options::new(500, 0);
    opts.compositions = vec![eval::COMPOSITIONS[0]];
    opts.methods = vec![Method::Reverse, Method::Hmc];
    let report = eval::run(model.as_ref(), &models::infos(), &opts).unwrap();
    let m = |i: usize| match &report.cells[i].outcome {
        Outcome::Measured(m) => m.clone(),
        Outcome::Skipped(s) => panic!("skipped: {s}"),
    };
    let (rev, hmc) = (m(0), m(1));
    assert!(hmc.log_lik > rev.log_lik + 1.5, "HMC {} vs reverse {}", hmc.log_lik, rev.log_lik);
    assert!(hmc.mmd2 < rev.mmd2 / 3.0, "MMD² HMC {} vs reverse {}", hmc.mmd2, rev.mmd2);
    assert!(hmc.in_support > 0.85 && rev.in_support < 0.8, "{} {}", hmc.in_support, rev.in_support);
    assert!(hmc.acceptance.unwrap() > 0.95, "RRR's settings accept nearly always: {:?}", hmc.acceptance);
    assert_eq!(rev.acceptance, None);
    // 100 reverse calls + 99 levels · (10 · 3 + 1).
    assert_eq!(hmc.model_calls, Some(100 + 99 * 31));
}

fn compile(text: &str) -> SamplePlan {
    eval::compile_one(text, &models::infos()).unwrap()
}

#[test]
fn model_calls_match_the_compilers_prediction() {
    let model = models::load("toy2d", &Device::Cpu).unwrap();
    for mcmc in [
        "ula(steps: 3)",
        "mala(steps: 2)",
        "uhmc(steps: 2, leapfrog: 2)",
        "hmc(steps: 3, leapfrog: 4, from: 0.2, to: 0.7)",
        "mala(steps: 2, beta_scaled: true, step_size: 0.05, from: 0.5)",
    ] {
        for expr in ["ring AND bar", "left_bar OR right_bar", "ring AND bar @ [0.3, 0.6]", "ring @ [0, 0.4]"] {
            let plan = compile(&format!("model toy2d\nbase none\nsampler ddpm(steps: 20)\nmcmc {mcmc}\nsamples 16\nsample s = {expr}\n"));
            let out = execute(&plan, model.as_ref(), &Device::Cpu, &ExecOptions::default()).unwrap();
            let (reverse, in_mcmc) = comp_compiler::model_calls(&plan);
            assert_eq!(out.model_calls, reverse + in_mcmc, "{mcmc} on {expr}");
            // `ring @ [0, 0.4]` has no active condition where `from: 0.5` lets MCMC run.
            let none_active = mcmc.contains("from: 0.5") && expr.starts_with("ring @");
            assert_eq!(in_mcmc == 0, none_active, "{mcmc} on {expr}");
            let adjusted = mcmc.starts_with("mala") || mcmc.starts_with("hmc");
            assert_eq!(out.acceptance.is_some(), adjusted && !none_active, "{mcmc} on {expr}");
        }
    }
}

#[test]
fn mcmc_runs_are_deterministic() {
    let model = models::load("toy2d", &Device::Cpu).unwrap();
    let text = |seed: u64| {
        format!("model toy2d\nbase none\nsampler ddpm(steps: 30)\nmcmc hmc(steps: 3)\nseed {seed}\nsamples 64\nsample s = ring AND bar\n")
    };
    let run = |seed| {
        let out = execute(&compile(&text(seed)), model.as_ref(), &Device::Cpu, &ExecOptions::default()).unwrap();
        (out.samples.to_vec2::<f32>().unwrap(), out.acceptance)
    };
    let (a, acc_a) = run(5);
    let (b, acc_b) = run(5);
    assert_eq!(a, b);
    assert_eq!(acc_a, acc_b);
    assert_ne!(a, run(6).0);
}

#[test]
fn no_mcmc_after_the_last_step_or_outside_its_window() {
    // One reverse step: there is no later noise level, so MCMC never runs.
    let model = models::load("toy2d", &Device::Cpu).unwrap();
    let plan = compile("model toy2d\nbase none\nsampler ddpm(steps: 1)\nmcmc hmc\nsamples 8\nsample s = ring\n");
    let out = execute(&plan, model.as_ref(), &Device::Cpu, &ExecOptions::default()).unwrap();
    assert_eq!((out.model_calls, out.acceptance), (1, None));
    // A window that contains no step's fraction: no MCMC call either.
    let plan = compile("model toy2d\nbase none\nsampler ddpm(steps: 4)\nmcmc ula(from: 0.9)\nsamples 8\nsample s = ring\n");
    let out = execute(&plan, model.as_ref(), &Device::Cpu, &ExecOptions::default()).unwrap();
    assert_eq!(out.model_calls, 4);
    assert_eq!(comp_compiler::model_calls(&plan), (4, 0));
}

/// toy2d with its energies hidden: a score-only model, as `toy2d-mlp-eps` will be.
struct ScoreOnly {
    inner: Toy2d,
    info: ModelInfo,
}

impl Denoiser for ScoreOnly {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn schedule(&self) -> &Schedule {
        self.inner.schedule()
    }
    fn prepare(&self, _: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        Ok(Box::new(self))
    }
}

impl Prepared for ScoreOnly {
    fn forward(&self, x: &Tensor, t: &Tensor, c: &[&Condition], _: bool) -> Result<ModelOutput> {
        let out = self.inner.forward(x, t, c, false)?;
        Ok(ModelOutput { eps: out.eps, energy: None })
    }
}

#[test]
fn eval_skips_what_needs_energies_for_a_score_only_model() {
    let inner = Toy2d::new().unwrap();
    let mut info = inner.info().clone();
    info.name = "toy2d-scores".into();
    info.energies = false;
    let model = ScoreOnly { inner, info: info.clone() };
    let mut opts = Options::new(40, 1);
    opts.methods = vec![Method::Reverse, Method::Mala, Method::Uhmc, Method::Hmc];
    let report = eval::run(&model, &[info], &opts).unwrap();
    let table = eval::table(&report);
    for c in &report.cells {
        let skipped = matches!(c.outcome, Outcome::Skipped(_));
        let expect = c.composition.mixture || c.method.needs_energies();
        assert_eq!(skipped, expect, "{} {}:\n{table}", c.composition.name, c.method.name());
    }
    assert!(table.contains("n/a (needs energies)"), "{table}");
}

//! The executor's contract: one model call per step, inactive conditions never evaluated,
//! the fused combination equal to the naive one.

use candle_core::{Device, Tensor};
use comp_models as models;
use comp_plan::{Branch, Combine, SamplePlan, Sampler, Segment};
use comp_runtime::combine::{combine, mixture_coeffs};
use comp_runtime::fused::{fused_sum, naive_sum, Coeffs};
use comp_runtime::{execute, Denoiser, ExecOptions, ModelOutput, Prepared};
use rand::{Rng, SeedableRng};

mod common;
use common::*;

const STEPS: usize = 20;
const N: usize = 50;

/// ring in [0, 0.8), bar only in [0, 0.5), box_small listed but never active, and no active
/// condition at all in [0.8, 1).
fn windowed_plan() -> SamplePlan {
    SamplePlan {
        models: vec![],
        sample: "w".into(),
        model: "toy2d".into(),
        settings: settings(Sampler::Ddpm { steps: STEPS }, N, 5),
        conditions: vec![cond(0, "ring"), cond(1, "bar"), cond(2, "box_small")],
        segments: vec![
            Segment { from: 0.0, to: 0.5, active: vec![0, 1], combine: Combine::Linear { coeffs: vec![1.0, 1.0] } },
            Segment { from: 0.5, to: 0.8, active: vec![0], combine: Combine::Linear { coeffs: vec![1.0] } },
            Segment { from: 0.8, to: 1.0, active: vec![], combine: Combine::Linear { coeffs: vec![] } },
        ],
    }
}

#[test]
fn one_call_per_step_and_windowed_out_conditions_are_not_evaluated() {
    let dev = Device::Cpu;
    let model = models::load("toy2d", &dev).unwrap();
    let counting = Counting::new(model.as_ref());
    let progress = std::cell::RefCell::new(vec![]);
    let report = |done: usize, total: usize| progress.borrow_mut().push((done, total));
    let out = execute(&windowed_plan(), &counting, &dev, &ExecOptions { progress: Some(&report), ..Default::default() }).unwrap();
    // steps 0..=9 have f < 0.5, 10..=15 have f < 0.8, 16..=19 have no active condition
    assert_eq!(out.steps, STEPS);
    assert_eq!(*counting.calls.lock().unwrap(), 16);
    assert_eq!(out.model_calls, 16);
    assert_eq!(counting.rows_of("ring"), 16 * N);
    assert_eq!(counting.rows_of("bar"), 10 * N);
    assert_eq!(counting.rows_of("box_small"), 0);
    assert_eq!(out.rows_evaluated, 26 * N);
    assert_eq!(progress.borrow().len(), STEPS);
    assert_eq!(progress.borrow().last(), Some(&(STEPS, STEPS)));
    assert!(out.samples.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|v| v.is_finite()));
}

#[test]
fn many_terms_still_one_call_per_step() {
    let dev = Device::Cpu;
    let model = models::load("toy2d", &dev).unwrap();
    let counting = Counting::new(model.as_ref());
    let names = ["ring", "bar", "left_bar", "right_bar", "box_large", "box_small", "null"];
    let plan = linear_plan(&names, &[0.3, 0.1, 0.1, 0.1, 0.2, 0.1, 0.1], Sampler::Ddim { steps: 10, eta: 0.0 }, 40, 1);
    let out = execute(&plan, &counting, &dev, &ExecOptions::default()).unwrap();
    assert_eq!(out.model_calls, 10);
    for name in names {
        assert_eq!(counting.rows_of(name), 10 * 40, "{name}");
    }
}

#[test]
fn bad_plans_are_refused_with_context() {
    let dev = Device::Cpu;
    let model = models::load("toy2d", &dev).unwrap();
    let mut plan = windowed_plan();
    plan.model = "nomodel".into();
    let err = execute(&plan, model.as_ref(), &dev, &ExecOptions::default()).unwrap_err().to_string();
    assert!(err.contains("nomodel") && err.contains("toy2d"), "{err}");
    let mut plan = windowed_plan();
    plan.conditions[0] = cond(0, "triangle");
    let err = format!("{:?}", execute(&plan, model.as_ref(), &dev, &ExecOptions::default()).unwrap_err());
    assert!(err.contains("triangle") && err.contains("ring"), "{err}");
    let mut plan = windowed_plan();
    plan.settings.sampler = Sampler::Ddpm { steps: 500 };
    let err = format!("{:?}", execute(&plan, model.as_ref(), &dev, &ExecOptions::default()).unwrap_err());
    assert!(err.contains("500"), "{err}");
    let err = models::load("nomodel", &dev).err().unwrap().to_string();
    assert!(err.contains("toy2d"), "{err}");
}

fn random(shape: &[usize], seed: u64) -> Tensor {
    comp_runtime::noise::Noise::new(seed, 0..shape[0]).normal(shape, &Device::Cpu).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let (a, b) = (a.flatten_all().unwrap().to_vec1::<f32>().unwrap(), b.flatten_all().unwrap().to_vec1::<f32>().unwrap());
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn fused_equals_naive() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    for (k, shape) in [(1, vec![7, 2]), (3, vec![1000, 2]), (8, vec![40_000, 2]), (4, vec![9, 3, 5, 4])] {
        let mut full = shape.clone();
        full[0] *= k;
        let eps = random(&full, k as u64);
        let shared = Coeffs::Shared((0..k).map(|_| rng.random_range(-2.0..2.0)).collect());
        let per = Coeffs::PerSample((0..k * shape[0]).map(|_| rng.random_range(-2.0..2.0)).collect());
        for c in [shared, per] {
            let (f, n) = (fused_sum(&eps, k, &c).unwrap(), naive_sum(&eps, k, &c).unwrap());
            assert_eq!(f.dims(), &shape[..]);
            assert!(max_diff(&f, &n) < 1e-5, "K={k} {shape:?}: {}", max_diff(&f, &n));
        }
    }
}

#[test]
fn mixture_combination_matches_its_definition() {
    // Two branches over K = 3 conditions: (1·c0 + 0.5·c2) and (1·c1), weights 0.7 / 0.3.
    let (k, n, sigma) = (3usize, 64usize, 0.37f64);
    let branches = vec![
        Branch { log_weight: 0.7f64.ln(), coeffs: vec![1.0, 0.0, 0.5] },
        Branch { log_weight: 0.3f64.ln(), coeffs: vec![0.0, 1.0, 0.0] },
    ];
    let eps = random(&[k * n, 2], 1);
    let energy = random(&[k * n], 2).affine(0.5, 0.0).unwrap();
    let out = ModelOutput { eps: eps.clone(), energy: Some(energy.clone()) };
    let got = combine(&out, k, &Combine::Mixture { branches: branches.clone() }, sigma, true).unwrap();
    // naive: per branch ε_j and E_j with tensor ops, then softmax weights per sample
    let e: Vec<f32> = energy.to_vec1().unwrap();
    let ev: Vec<Vec<f32>> = eps.to_vec2().unwrap();
    for i in 0..n {
        let ej: Vec<f64> = branches.iter().map(|b| (0..k).map(|j| b.coeffs[j] * e[j * n + i] as f64).sum()).collect();
        let logits: Vec<f64> = branches.iter().zip(&ej).map(|(b, e)| b.log_weight - e / sigma).collect();
        let z: f64 = logits.iter().map(|l| l.exp()).sum();
        let mut want = [0.0f64; 2];
        for (b, l) in branches.iter().zip(&logits) {
            for d in 0..2 {
                want[d] += l.exp() / z * (0..k).map(|j| b.coeffs[j] * ev[j * n + i][d] as f64).sum::<f64>();
            }
        }
        let row: Vec<f32> = got.eps.get(i).unwrap().to_vec1().unwrap();
        assert!((row[0] as f64 - want[0]).abs() < 1e-5 && (row[1] as f64 - want[1]).abs() < 1e-5);
        let energy_i: f32 = got.energy.as_ref().unwrap().get(i).unwrap().to_scalar().unwrap();
        assert!((energy_i as f64 + sigma * z.ln()).abs() < 1e-4);
    }
    // the effective coefficients of each sample are a convex combination of branch rows
    let (c, _) = mixture_coeffs(&e.iter().map(|&v| v as f64).collect::<Vec<_>>(), k, n, &branches, sigma).unwrap();
    for i in 0..n {
        let p0 = c[i * k] as f64;
        assert!((c[i * k + 2] as f64 - 0.5 * p0).abs() < 1e-6 && (p0 + c[i * k + 1] as f64 - 1.0).abs() < 1e-6);
    }
}

#[test]
fn mixture_without_energies_is_an_error() {
    let out = ModelOutput { eps: random(&[8, 2], 1), energy: None };
    let branches = vec![Branch { log_weight: 0.0, coeffs: vec![1.0, 0.0] }];
    let err = combine(&out, 2, &Combine::Mixture { branches }, 0.5, false).unwrap_err().to_string();
    assert!(err.contains("energies"), "{err}");
}

/// A model on toy2d's schedule with a known ∇log q at every level, recording the timestep and
/// the points of every call: ε̂ = [−σ_t·C, 0] and E = −σ_t·C·x₀ (so ε̂ = ∇E), where σ_t is the
/// σ of the timestep it is called at. MCMC at a level whose σ is σ_used then sees
/// g = −ε̂/σ_used = [C·σ_t/σ_used, 0] and log q = C·x₀·σ_t/σ_used: a constant pull along x₀
/// that is exactly C when the executor divides by the σ of the timestep it called, and no
/// pull at all along x₁, where the spread of a move measures the step size alone.
struct Recording<'a> {
    inner: &'a dyn comp_runtime::Denoiser,
    sigma_of: std::collections::BTreeMap<usize, f64>,
    calls: std::sync::Mutex<Vec<(usize, Vec<[f64; 2]>)>>,
}

const PULL: f64 = 100.0;

impl comp_runtime::Denoiser for Recording<'_> {
    fn info(&self) -> &comp_plan::ModelInfo {
        self.inner.info()
    }
    fn schedule(&self) -> &comp_runtime::Schedule {
        self.inner.schedule()
    }
    fn prepare(&self, _: &SamplePlan) -> candle_core::Result<Box<dyn Prepared + '_>> {
        Ok(Box::new(self))
    }
}

impl Prepared for Recording<'_> {
    fn forward(&self, x: &Tensor, t: &Tensor, _: &[&comp_plan::Condition], want_energy: bool) -> candle_core::Result<ModelOutput> {
        let t = t.to_vec1::<f32>()?[0] as usize;
        let sigma = self.sigma_of[&t];
        let pts = points(x);
        let eps: Vec<f32> = pts.iter().flat_map(|_| [(-sigma * PULL) as f32, 0.0]).collect();
        let energy: Vec<f32> = pts.iter().map(|p| (-sigma * PULL * p[0]) as f32).collect();
        self.calls.lock().unwrap().push((t, pts.clone()));
        Ok(ModelOutput {
            eps: Tensor::from_vec(eps, (pts.len(), 2), x.device())?,
            energy: want_energy.then(|| Tensor::new(energy, x.device())).transpose()?,
        })
    }
}

/// Which noise level each MCMC kind runs at, and with which σ and step size: after reverse
/// step k, MCMC must call the model at `timestep(k + 1)`, divide by `sigma(k + 1)`, and use
/// h = h₀·`beta(k)` (and M = M₀·`beta(k)`), only for levels k + 1 whose fraction
/// (k + 1.5)/S lies in the window. The first move of a level, from the level's start x to
/// the next point evaluated, is along x₁ (no pull) a centred normal of variance
/// 2h (ULA's move and MALA's proposal: x + h·g + √(2h)·ξ) or h²/M (HMC's first half leapfrog
/// step: x + (h/M)·(v + (h/2)·g), v ~ N(0, M)), and along x₀ has mean h·C (ULA, MALA) or
/// h²·C/(2M) (HMC). With N = 4000 samples the variance is estimated to √(2/N) ≈ 2.2 %
/// (band ±12 %, over 5σ) and the mean to about 0.1 % (band ±2 %); adjacent levels'
/// β differ by far more (checked below), and their σ by 7 % or more, so a level, a σ or a
/// β off by one fails.
#[test]
fn mcmc_runs_at_the_next_level_with_its_sigma_and_beta_scaled_step() {
    let dev = Device::Cpu;
    let toy = models::load("toy2d", &dev).unwrap();
    let steps = 8;
    let sampler = comp_runtime::sampler::ReverseSampler::new(toy.schedule(), &Sampler::Ddpm { steps }).unwrap();
    let sigma_of: std::collections::BTreeMap<usize, f64> = (0..steps).map(|k| (sampler.timestep(k), sampler.sigma(k))).collect();
    // Levels k + 1 with (k + 1.5)/8 in [0.3, 0.9): k + 1 = 2..=6.
    let levels: Vec<usize> = (0..steps - 1).filter(|k| (0.3..0.9).contains(&((*k as f64 + 1.5) / steps as f64))).collect();
    assert_eq!(levels, [1, 2, 3, 4, 5]);
    for &k in &levels {
        let r = sampler.beta(k) / sampler.beta(k + 1);
        assert!(!(0.75..1.33).contains(&r), "β({k})/β({}) = {r}: too close to tell the levels apart", k + 1);
        let r = sampler.beta(k) / sampler.beta(k - 1);
        assert!(!(0.75..1.33).contains(&r), "β({k})/β({}) = {r}: too close to tell the levels apart", k - 1);
    }
    let n = 4000;
    for kind in [comp_plan::McmcKind::Ula, comp_plan::McmcKind::Mala, comp_plan::McmcKind::Uhmc, comp_plan::McmcKind::Hmc] {
        let mcmc =
            comp_plan::Mcmc { kind, steps: 2, step_size: 1.0, beta_scaled: true, leapfrog: 2, damping: 0.5, mass: 2.0, from: 0.3, to: 0.9 };
        let mut plan = linear_plan(&["ring"], &[1.0], Sampler::Ddpm { steps }, n, 3);
        plan.settings.mcmc = Some(mcmc.clone());
        let model = Recording { inner: toy.as_ref(), sigma_of: sigma_of.clone(), calls: Default::default() };
        execute(&plan, &model, &dev, &ExecOptions::default()).unwrap();
        let calls = model.calls.into_inner().unwrap();
        // The exact sequence of timesteps: one reverse call per step, then the level's calls.
        let per_level = mcmc.calls_per_level();
        let mut expected = vec![];
        for k in 0..steps {
            expected.push(sampler.timestep(k));
            if levels.contains(&k) {
                expected.extend(std::iter::repeat_n(sampler.timestep(k + 1), per_level));
            }
        }
        let got: Vec<usize> = calls.iter().map(|c| c.0).collect();
        assert_eq!(got, expected, "{kind:?}: timesteps of the model calls");
        // The first move of each level.
        let mut i = 0;
        for k in 0..steps {
            i += 1;
            if !levels.contains(&k) {
                continue;
            }
            let (start, next) = (&calls[i].1, &calls[i + 1].1);
            i += per_level;
            let d: Vec<[f64; 2]> = start.iter().zip(next).map(|(a, b)| [b[0] - a[0], b[1] - a[1]]).collect();
            let mean0 = d.iter().map(|p| p[0]).sum::<f64>() / n as f64;
            let mean1 = d.iter().map(|p| p[1]).sum::<f64>() / n as f64;
            let var1 = d.iter().map(|p| (p[1] - mean1).powi(2)).sum::<f64>() / (n - 1) as f64;
            let beta = sampler.beta(k);
            let (h, m) = (mcmc.step_size * beta, mcmc.mass * beta);
            let (want_mean, want_var) = match kind {
                comp_plan::McmcKind::Ula | comp_plan::McmcKind::Mala => (h * PULL, 2.0 * h),
                comp_plan::McmcKind::Uhmc | comp_plan::McmcKind::Hmc => (h * h * PULL / (2.0 * m), h * h / m),
            };
            eprintln!("{kind:?} level {}: mean {mean0:.5} (want {want_mean:.5}), var {var1:.5} (want {want_var:.5})", k + 1);
            assert!((mean0 / want_mean - 1.0).abs() < 0.02, "{kind:?} after step {k}: pull {mean0}, want {want_mean}");
            assert!((var1 / want_var - 1.0).abs() < 0.12, "{kind:?} after step {k}: spread {var1}, want {want_var}");
        }
        assert_eq!(i, calls.len());
    }
}

/// A model that records `prepare` and decodes by an affine map, around the exact toy2d.
struct Latent<'a> {
    inner: &'a dyn comp_runtime::Denoiser,
    prepared: std::sync::Mutex<Vec<Vec<String>>>,
}

impl comp_runtime::Denoiser for Latent<'_> {
    fn info(&self) -> &comp_plan::ModelInfo {
        self.inner.info()
    }
    fn schedule(&self) -> &comp_runtime::Schedule {
        self.inner.schedule()
    }
    fn prepare(&self, plan: &SamplePlan) -> candle_core::Result<Box<dyn Prepared + '_>> {
        self.prepared.lock().unwrap().push(plan.conditions.iter().map(|c| c.to_string()).collect());
        Ok(Box::new(LatentRun(self.inner.prepare(plan)?)))
    }
}

/// A run of [`Latent`]: toy2d's run, decoded by x ↦ 2x + 1.
struct LatentRun<'a>(Box<dyn Prepared + 'a>);

impl Prepared for LatentRun<'_> {
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&comp_plan::Condition], want_energy: bool) -> candle_core::Result<ModelOutput> {
        self.0.forward(x, t, conds, want_energy)
    }
    fn decode(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.affine(2.0, 1.0)
    }
}

/// The executor prepares the model once per run with every condition of the plan (a text
/// model encodes its prompts there, not every step) and writes decoded samples: with a
/// decoder x ↦ 2x + 1, the run's output is exactly 2·(the undecoded run) + 1 for the same seed.
#[test]
fn prepare_once_per_run_and_outputs_are_decoded() {
    let dev = Device::Cpu;
    let toy = models::load("toy2d", &dev).unwrap();
    let latent = Latent { inner: toy.as_ref(), prepared: Default::default() };
    let plan = windowed_plan();
    let decoded = execute(&plan, &latent, &dev, &ExecOptions::default()).unwrap();
    let plain = execute(&plan, toy.as_ref(), &dev, &ExecOptions::default()).unwrap();
    let names: Vec<String> = plan.conditions.iter().map(|c| c.to_string()).collect();
    assert_eq!(*latent.prepared.lock().unwrap(), vec![names], "one prepare, every condition");
    assert_eq!(decoded.model_calls, plain.model_calls);
    let expect = plain.samples.affine(2.0, 1.0).unwrap();
    assert_eq!(max_diff(&decoded.samples, &expect), 0.0);
}

/// A stand-in for a text model around the exact toy2d: preparing a run "encodes" the plan's
/// conditions (the run keeps their names, as Stable Diffusion's run keeps its prompts'
/// encoder states) and the run refuses a condition it did not encode. The runs alive are
/// counted, so that a test sees when the executor drops them.
struct Encoding<'a> {
    inner: &'a dyn Denoiser,
    live: std::sync::atomic::AtomicUsize,
    prepared: std::sync::Mutex<Vec<Vec<String>>>,
}

impl<'a> Encoding<'a> {
    fn new(inner: &'a dyn Denoiser) -> Self {
        Self { inner, live: 0.into(), prepared: Default::default() }
    }
    fn live(&self) -> usize {
        self.live.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Denoiser for Encoding<'_> {
    fn info(&self) -> &comp_plan::ModelInfo {
        self.inner.info()
    }
    fn schedule(&self) -> &comp_runtime::Schedule {
        self.inner.schedule()
    }
    fn prepare(&self, plan: &SamplePlan) -> candle_core::Result<Box<dyn Prepared + '_>> {
        let encoded: Vec<String> = plan.conditions.iter().map(|c| c.to_string()).collect();
        self.prepared.lock().unwrap().push(encoded.clone());
        self.live.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Box::new(EncodingRun { inner: self.inner.prepare(plan)?, encoded, live: &self.live }))
    }
}

struct EncodingRun<'a> {
    inner: Box<dyn Prepared + 'a>,
    encoded: Vec<String>,
    live: &'a std::sync::atomic::AtomicUsize,
}

impl Prepared for EncodingRun<'_> {
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&comp_plan::Condition], want_energy: bool) -> candle_core::Result<ModelOutput> {
        if let Some(c) = conds.iter().find(|c| !self.encoded.contains(&c.to_string())) {
            candle_core::bail!("`{c}` was not encoded for this run")
        }
        self.inner.forward(x, t, conds, want_energy)
    }
}

impl Drop for EncodingRun<'_> {
    fn drop(&mut self) {
        self.live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A REPL session's runs, one after another with different conditions: each run is prepared
/// once with its own plan, holds only that plan's encodings, and is dropped when its samples
/// are returned, so that nothing of a run stays with the model (the prompt cache that grew
/// with every `:run` is gone). The samples and calls are those of the bare model.
#[test]
fn each_run_owns_what_it_prepared_and_ends_with_it() {
    let dev = Device::Cpu;
    let toy = models::load("toy2d", &dev).unwrap();
    let model = Encoding::new(toy.as_ref());
    let runs: [&[&str]; 4] = [&["ring"], &["bar", "null"], &["ring", "left_bar"], &["box_small"]];
    for (i, concepts) in runs.iter().enumerate() {
        let plan = linear_plan(concepts, &vec![1.0; concepts.len()], Sampler::Ddim { steps: 5, eta: 0.0 }, 16, i as u64);
        let out = execute(&plan, &model, &dev, &ExecOptions::default()).unwrap();
        assert_eq!(model.live(), 0, "run {i} was dropped when it ended");
        let prepared = model.prepared.lock().unwrap();
        assert_eq!(prepared.len(), i + 1, "one prepare per run");
        assert_eq!(prepared[i], plan.conditions.iter().map(|c| c.to_string()).collect::<Vec<_>>(), "run {i}: its own conditions only");
        let bare = execute(&plan, toy.as_ref(), &dev, &ExecOptions::default()).unwrap();
        assert_eq!(max_diff(&out.samples, &bare.samples), 0.0);
        assert_eq!((out.model_calls, out.rows_evaluated), (bare.model_calls, bare.rows_evaluated));
    }
    // A run that fails drops its preparation too: zero samples are refused before anything is
    // prepared, an interrupted run stops after.
    let mut plan = linear_plan(&["ring"], &[1.0], Sampler::Ddpm { steps: 4 }, 4, 0);
    plan.settings.samples = 0;
    assert!(execute(&plan, &model, &dev, &ExecOptions::default()).is_err());
    assert_eq!((model.live(), model.prepared.lock().unwrap().len()), (0, runs.len()), "refused before preparing");
    let cancel = std::sync::atomic::AtomicBool::new(true);
    let plan = linear_plan(&["ring"], &[1.0], Sampler::Ddpm { steps: 4 }, 4, 0);
    assert!(execute(&plan, &model, &dev, &ExecOptions { cancel: Some(&cancel), ..Default::default() }).is_err());
    assert_eq!((model.live(), model.prepared.lock().unwrap().len()), (0, runs.len() + 1), "interrupted after preparing");
}

/// A composite's run owns each model's run, each prepared with that model's conditions only,
/// and drops them all with itself.
#[test]
fn a_composite_run_owns_its_models_runs() {
    let dev = Device::Cpu;
    let toy = models::load("toy2d", &dev).unwrap();
    let clf = models::load("toy2d-clf", &dev).unwrap();
    let (a, b) = (Encoding::new(toy.as_ref()), Encoding::new(clf.as_ref()));
    for (i, guided) in ["sample s = clf.ring", "sample s = d.box_large AND NOT clf.box_small"].iter().enumerate() {
        let text = format!("model d = toy2d\nmodel clf = toy2d-clf\nbase d.null\nsampler ddpm(steps: 6)\nscale 3\nsamples 8\n{guided}\n");
        let checked = comp_compiler::compile_text(&text, &models::infos());
        let Some(c) = checked.compiled else { panic!("{text}: {:?}", checked.diagnostics) };
        let plan = c.plan.samples.into_iter().next().unwrap();
        let composite = comp_runtime::composite::Composite::new(&plan, vec![&a, &b]).unwrap();
        let out = execute(&plan, &composite, &dev, &ExecOptions::default()).unwrap();
        assert_eq!((a.live(), b.live()), (0, 0), "the composite's run dropped both models' runs");
        let own = |model: usize| -> Vec<String> {
            plan.conditions.iter().filter(|c| plan.model_of(c) == Some(model)).map(|c| c.to_string()).collect()
        };
        assert_eq!(a.prepared.lock().unwrap()[i], own(0));
        assert_eq!(b.prepared.lock().unwrap()[i], own(1));
        let bare = comp_runtime::composite::Composite::new(&plan, vec![toy.as_ref(), clf.as_ref()]).unwrap();
        let want = execute(&plan, &bare, &dev, &ExecOptions::default()).unwrap();
        assert_eq!(max_diff(&out.samples, &want.samples), 0.0);
        assert_eq!(out.calls_per_model, want.calls_per_model);
    }
}

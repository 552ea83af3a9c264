//! Training the toy2d MLPs (`comp train toy2d`): denoising score matching on exact draws of
//! the toy2d concepts.
//!
//! Each step draws a batch: a concept uniformly among the six (or the configured subset), its label dropped to the
//! learned null with probability 0.1 (classifier-free training); x₀ from the exact concept
//! (`toy2d::sample_x0`); a native timestep t uniform over the 100 steps; z ~ N(0, I); and
//! x_t = √ᾱ_t x₀ + σ_t z. The loss is mean ‖ε_θ(x_t, t, c) − z‖², with ε_θ = ∇ₓ‖f − x‖²
//! (energy) or ε_θ = f (eps); one `backward` (see `models/src/mlp/energy.rs` for why that is
//! exact for the energy model). candle-nn's AdamW steps the `VarMap`; the saved weights are
//! the EMA, rounded to f16.
//!
//! A run is a function of its configuration: weights are initialised from the seed
//! (ChaCha8 stream 0), the data drawn from it (stream 1), the held-out batch from stream 2.

use std::time::Instant;

use candle_core::{bail, DType, Device, Result, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::ema::Ema;
use comp_models::mlp::card::{MlpArch, ModelCard, ScheduleCard, TrainingCard};
use comp_models::mlp::{self, eps_energy, Arch, Net, Param};
use comp_models::toy2d::{self, Toy2dConcept};
use comp_runtime::Schedule;

/// Everything a training run depends on.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub param: Param,
    pub arch: Arch,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub seed: u64,
    pub ema: f64,
    pub label_drop: f64,
    /// Held-out rows for the final ε loss of the EMA weights.
    pub eval_batch: usize,
    /// The concepts trained on (all six by default; `--concepts ring,left_bar` trains a model
    /// that knows only those, for composing separately trained models). Its `null` is the
    /// equal mixture of these.
    pub concepts: Vec<Toy2dConcept>,
}

/// `comp train toy2d`'s default number of steps: what fits in well under 15 minutes on a
/// 2-core CPU (RRR trained 15,000; see the model card for the measured time).
pub const DEFAULT_STEPS: usize = 6000;

impl TrainConfig {
    /// RRR's 2D settings (lr 1e-3, batch 1000, EMA 0.999, 4 × 128 residual MLP), with
    /// [`DEFAULT_STEPS`] steps, Adam (AdamW without weight decay) and 10% label dropout.
    pub fn new(param: Param) -> Self {
        Self {
            param,
            arch: Arch::rrr_2d(Toy2dConcept::ALL.len()),
            steps: DEFAULT_STEPS,
            batch: 1000,
            lr: 1e-3,
            weight_decay: 0.0,
            seed: 0,
            ema: 0.999,
            label_drop: 0.1,
            eval_batch: 10_000,
            concepts: Toy2dConcept::ALL.to_vec(),
        }
    }

    /// Trains on `concepts` only (their order is the card's vocabulary order).
    pub fn with_concepts(mut self, concepts: Vec<Toy2dConcept>) -> Self {
        self.arch = Arch::rrr_2d(concepts.len());
        self.concepts = concepts;
        self
    }
}

/// Reported after every step.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Steps done (1-based).
    pub step: usize,
    pub steps: usize,
    /// This step's loss.
    pub loss: f64,
    /// Mean loss over the last (up to) 100 steps.
    pub recent_loss: f64,
}

/// A finished run: the EMA network and its card (weights not yet written).
pub struct Trained {
    pub net: Net,
    pub card: ModelCard,
    /// Every step's training loss.
    pub losses: Vec<f64>,
}

/// One training batch: x_t `[B, 2]`, per-row timesteps and labels, and the noise z `[B, 2]`.
pub struct Batch {
    pub x_t: Tensor,
    pub t: Vec<f32>,
    pub c: Vec<u32>,
    pub z: Tensor,
}

/// Draws a batch of `n` rows (see the module docs), on `device` in `dtype`.
pub fn draw_batch<R: Rng>(
    rng: &mut R,
    concepts: &[Toy2dConcept],
    schedule: &Schedule,
    n: usize,
    label_drop: f64,
    dtype: DType,
    device: &Device,
) -> Result<Batch> {
    let null = concepts.len() as u32;
    let mut xt = Vec::with_capacity(2 * n);
    let mut zs = Vec::with_capacity(2 * n);
    let mut ts = Vec::with_capacity(n);
    let mut cs = Vec::with_capacity(n);
    for _ in 0..n {
        let ci = rng.random_range(0..concepts.len());
        let x0 = toy2d::sample_x0(concepts[ci], 1, rng)[0];
        let ti = rng.random_range(0..schedule.len());
        let ab = schedule.alpha_bar(ti);
        let (a, s) = (ab.sqrt(), (1.0 - ab).sqrt());
        for x in x0 {
            let z: f64 = rng.sample(StandardNormal);
            xt.push(a * x + s * z);
            zs.push(z);
        }
        ts.push(ti as f32);
        cs.push(if rng.random::<f64>() < label_drop { null } else { ci as u32 });
    }
    Ok(Batch {
        x_t: Tensor::from_vec(xt, (n, 2), device)?.to_dtype(dtype)?,
        t: ts,
        c: cs,
        z: Tensor::from_vec(zs, (n, 2), device)?.to_dtype(dtype)?,
    })
}

/// mean ‖ε_θ(x_t, t, c) − z‖² of `net` on a batch: a scalar tensor.
pub fn eps_loss(net: &Net, param: Param, b: &Batch) -> Result<Tensor> {
    let eps = eps_energy(net, param, &b.x_t, &b.t, &b.c)?.eps;
    (eps - &b.z)?.sqr()?.sum(1)?.mean(0)
}

/// The variables of a fresh network, initialised from `seed`, in a `VarMap`.
pub fn init_vars(arch: &Arch, seed: u64, dtype: DType, device: &Device) -> Result<VarMap> {
    let vars = VarMap::new();
    {
        let mut data = vars.data().lock().expect("VarMap lock");
        for (name, t) in arch.init(seed, dtype, device)? {
            data.insert(name, Var::from_tensor(&t)?);
        }
    }
    Ok(vars)
}

/// The network over a `VarMap`'s variables (it follows their updates).
pub fn net_of(arch: &Arch, vars: &VarMap) -> Result<Net> {
    let data = vars.data().lock().expect("VarMap lock");
    let tensors = data.iter().map(|(k, v)| (k.clone(), v.as_tensor().clone())).collect();
    Net::from_tensors(arch, &tensors)
}

/// A ChaCha8 generator for one purpose (`stream`) of a run seeded with `seed`.
fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// Vectors of `hidden` f32 that one training row keeps at once, per residual block and on top:
/// the forward pass, the energy's hand-written gradient pass and autograd's backward through
/// both keep every intermediate (calibrated: see [`estimate_bytes`]).
const ROW_VECTORS_PER_BLOCK: u128 = 52;
const ROW_VECTORS_FIXED: u128 = 28;

/// The estimated peak bytes of a training step over `rows` rows:
/// `rows · 4 · hidden · (52 · blocks + 28)`, 118 KiB per row for RRR's network. Measured on
/// the 2-core machine (peak resident memory, debug build, 3 steps): 163 MB at `--batch 1000`,
/// 2.40 GB at `--batch 20000`, so 118 KB per row. Saturating.
pub fn estimate_bytes(arch: &Arch, rows: usize) -> u128 {
    let per_row = 4 * arch.hidden.max(arch.embed) as u128 * (ROW_VECTORS_PER_BLOCK * arch.blocks as u128 + ROW_VECTORS_FIXED);
    (rows as u128).saturating_mul(per_row)
}

/// Refuses a batch whose estimate is over the memory limit (the one `comp run` uses:
/// `COMP_MEMORY_LIMIT`, else 3/4 of the machine's memory), saying what fits. The held-out
/// batch has no backward pass: a quarter of a training row each (an upper bound: the default
/// 10,000 rows stay within the 163 MB measured at batch 1000).
pub fn check_memory(cfg: &TrainConfig) -> Result<()> {
    let (limit, why) = comp_runtime::memory::limit()?;
    for (what, rows, quarter) in [("`--batch`", cfg.batch, false), ("the held-out batch", cfg.eval_batch.max(1), true)] {
        let need = estimate_bytes(&cfg.arch, rows) / if quarter { 4 } else { 1 };
        if need > limit {
            let fit = limit / (estimate_bytes(&cfg.arch, 1) / if quarter { 4 } else { 1 }).max(1);
            bail!(
                "{what} of {rows} rows needs about {} of memory to train, over the limit of {} ({why}); at most {fit} rows fit",
                comp_runtime::memory::human(need),
                comp_runtime::memory::human(limit)
            )
        }
    }
    Ok(())
}

/// Trains a model; `progress` is called after every step.
pub fn train(cfg: &TrainConfig, device: &Device, progress: &mut dyn FnMut(&Progress)) -> Result<Trained> {
    if cfg.steps == 0 || cfg.batch == 0 {
        bail!("training needs at least one step and a batch of at least one")
    }
    if cfg.concepts.is_empty() || cfg.arch.concepts != cfg.concepts.len() {
        bail!("training needs at least one concept, and an architecture with one embedding per concept")
    }
    check_memory(cfg)?;
    let started = Instant::now();
    let dtype = DType::F32;
    let schedule = Schedule::cosine(toy2d::NATIVE_STEPS, 0.008)?;
    let vars = init_vars(&cfg.arch, cfg.seed, dtype, device)?;
    let net = net_of(&cfg.arch, &vars)?;
    let mut opt = AdamW::new(vars.all_vars(), ParamsAdamW { lr: cfg.lr, weight_decay: cfg.weight_decay, ..ParamsAdamW::default() })?;
    let mut ema = Ema::new(&vars, cfg.ema)?;
    let mut data = rng(cfg.seed, 1);
    let mut losses = Vec::with_capacity(cfg.steps);
    const WINDOW: usize = 100;
    for step in 1..=cfg.steps {
        let batch = draw_batch(&mut data, &cfg.concepts, &schedule, cfg.batch, cfg.label_drop, dtype, device)?;
        let loss = eps_loss(&net, cfg.param, &batch)?;
        opt.backward_step(&loss)?;
        ema.update(&vars)?;
        let l = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        if !l.is_finite() {
            bail!(
                "training diverged at step {step}: the loss is {l} (lr {}); nothing was written, the previous weights stay: lower `--lr`",
                cfg.lr
            )
        }
        losses.push(l);
        let recent = &losses[losses.len().saturating_sub(WINDOW)..];
        progress(&Progress { step, steps: cfg.steps, loss: l, recent_loss: recent.iter().sum::<f64>() / recent.len() as f64 });
    }
    // Rounded as it will be stored, so that the saved model is exactly this one.
    let ema_net = Net::from_tensors(&cfg.arch, ema.weights())?.rounded_through(mlp::STORAGE_DTYPE)?;
    let eval = draw_batch(&mut rng(cfg.seed, 2), &cfg.concepts, &schedule, cfg.eval_batch.max(1), cfg.label_drop, dtype, device)?;
    let eval_loss = eps_loss(&ema_net, cfg.param, &eval)?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    // The weights as they will be stored (f16): a step that blew them up (a learning rate far
    // too large) shows here even when every training loss was finite. Stop before anything is
    // written, so the weights already in the output folder stay.
    let stored_finite = ema_net.tensors().values().try_fold(true, |ok, t| {
        Ok::<_, candle_core::Error>(ok && t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?.iter().all(|v| v.is_finite()))
    })?;
    if !eval_loss.is_finite() || !stored_finite {
        bail!(
            "training diverged: after {} steps the {} (lr {}); nothing was written, the previous weights stay: lower `--lr`",
            cfg.steps,
            if stored_finite {
                format!("held-out loss of the EMA weights is {eval_loss}")
            } else {
                "EMA weights are not finite in f16".into()
            },
            cfg.lr
        )
    }
    let wall = started.elapsed().as_secs_f64();
    let window = WINDOW.min(losses.len());
    let final_loss = losses[losses.len() - window..].iter().sum::<f64>() / window as f64;
    let every = (cfg.steps / 100).max(1);
    let curve = losses.chunks(every).map(|c| c.iter().sum::<f64>() / c.len() as f64).collect();
    let arch = MlpArch { param: cfg.param, net: cfg.arch.clone(), vocabulary: cfg.concepts.iter().map(|c| c.name().to_string()).collect() };
    let training = TrainingCard {
        data: if cfg.concepts.len() == Toy2dConcept::ALL.len() {
            "exact toy2d concepts, uniform over the six; t uniform over the native steps".into()
        } else {
            let names: Vec<&str> = cfg.concepts.iter().map(|c| c.name()).collect();
            format!("exact toy2d concepts {}, uniform over them; t uniform over the native steps", names.join(", "))
        },
        seed: cfg.seed,
        steps: cfg.steps,
        batch: cfg.batch,
        optimizer: "candle-nn AdamW (beta1 0.9, beta2 0.999, eps 1e-8)".into(),
        lr: cfg.lr,
        weight_decay: cfg.weight_decay,
        ema: cfg.ema,
        label_drop: cfg.label_drop,
        final_loss,
        final_loss_window: window,
        eval_loss,
        eval_batch: cfg.eval_batch.max(1),
        loss_curve: curve,
        loss_every: every,
        wall_time_s: wall,
        device: describe(device),
    };
    let schedule = ScheduleCard::cosine(toy2d::NATIVE_STEPS, 0.008);
    let card = ModelCard::new(mlp::name_of(cfg.param), mlp::card::KIND, schedule, arch, training);
    Ok(Trained { net: ema_net, card, losses })
}

/// Trains and writes `dir/model.safetensors` and `dir/model.json`; returns the card.
pub fn train_and_save(cfg: &TrainConfig, dir: &std::path::Path, device: &Device, progress: &mut dyn FnMut(&Progress)) -> Result<ModelCard> {
    let trained = train(cfg, device, progress)?;
    mlp::save_dir(dir, &trained.net, trained.card)
}

fn describe(device: &Device) -> String {
    match device {
        Device::Cpu => {
            let mut d = format!("cpu ({} threads", candle_core::utils::get_num_threads());
            if let Ok(n) = std::env::var("CANDLE_NUM_THREADS") {
                d += &format!(", CANDLE_NUM_THREADS={n}");
            }
            d + ")"
        }
        other => format!("{other:?}"),
    }
}

//! Training the clevr UNets (`comp train clevr-pos`, `comp train clevr-attr`): ε-prediction on
//! generated scenes.
//!
//! Each step draws a batch from `clevr::data` (a scene, the position of one of its objects,
//! the label dropped to null with probability 0.1) or, for a network with attribute labels,
//! from `clevr::attr` (one object, one of its attributes as the label), a native timestep t uniform over the
//! cosine schedule's steps, z ~ N(0, I), and x_t = √ᾱ_t x₀ + σ_t z; the loss is the mean
//! ‖ε_θ(x_t, t, c) − z‖². candle-nn's AdamW steps a `VarMap`, its learning rate rising
//! linearly over the first `warmup` steps; the EMA of the weights ([`super::ema`]) is what is
//! saved for sampling (in f16 at the end of a run with `half_weights`).
//!
//! A run is a function of its seed: the initial weights come from the seed
//! (`models::clevr::card::init_weights`) and step n's batch, timesteps and noise from a
//! generator seeded with (seed, n), so a resumed run draws the same data as an uninterrupted
//! one (the convolution and GroupNorm kernels are deterministic too: per-sample work in
//! parallel, sums in a fixed order). Checkpoints (every `checkpoint_every` steps and at the
//! end) write the model folder of [`comp_models::clevr::card`], and with `keep_checkpoints`
//! also a copy of the EMA weights and card in `checkpoints/step-N/` (for a learning curve); `resume` continues from one: the weights, the EMA and the
//! step count are restored. AdamW's moment estimates are not saved (candle-nn does not expose
//! them), so they restart from zero after a resume, and the EMA's warm-up restarts.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::clevr::data::{self, NULL_PROB, SIZE};
use crate::ema::Ema;
use comp_models::card::ScheduleCard;
use comp_models::clevr::card::{self, Card, Training};
use comp_models::clevr::{Config, Unet, COSINE_S};
use comp_runtime::Schedule;

/// Everything a training run depends on.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub config: Config,
    /// Total optimiser steps (a resumed run continues up to this number).
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// Steps of linear learning-rate warm-up.
    pub warmup: usize,
    pub ema_decay: f64,
    pub seed: u64,
    /// The model folder written (`models/clevr-pos` by default in the CLI).
    pub out: PathBuf,
    /// A model folder to continue from.
    pub resume: Option<PathBuf>,
    /// Steps between checkpoints (0: only at the end).
    pub checkpoint_every: usize,
    /// Keep each checkpoint's EMA weights in `out/checkpoints/step-N/`.
    pub keep_checkpoints: bool,
    /// Write the final EMA weights in f16.
    pub half_weights: bool,
    /// Steps between progress reports.
    pub log_every: usize,
    /// Recorded in the card.
    pub device_name: String,
}

impl TrainOptions {
    /// The shipped model's recipe, sized for 40 minutes on a busy 2-core CPU: batch 32,
    /// AdamW lr 1e-3 after a 200-step linear warm-up and constant after it (so a checkpoint at
    /// step n holds exactly the weights of a run of n steps), no weight decay, EMA up to 0.999,
    /// f16 weights, a checkpoint every 250 steps. (An outside PyTorch run of this configuration
    /// with batch 64 and otherwise this recipe placed 1, 2 and 3 composed objects in 100%,
    /// 100% and 97.5% of sets after 3,790 steps, about 240,000 images; here 2,000 steps see
    /// 64,000, and a smaller batch makes more steps of them.)
    pub fn new(config: Config, out: PathBuf) -> Self {
        TrainOptions {
            config,
            steps: STEPS,
            batch: 32,
            lr: 1e-3,
            warmup: 200,
            ema_decay: 0.999,
            seed: 0,
            out,
            resume: None,
            checkpoint_every: 250,
            keep_checkpoints: false,
            half_weights: true,
            log_every: 50,
            device_name: "cpu".into(),
        }
    }

    /// The tiny test recipe: the tiny network, batch 16, lr 1e-3, EMA 0.99.
    pub fn tiny(out: PathBuf) -> Self {
        TrainOptions {
            batch: 16,
            lr: 1e-3,
            ema_decay: 0.99,
            steps: 200,
            warmup: 0,
            half_weights: false,
            checkpoint_every: 0,
            log_every: 10,
            ..Self::new(Config::tiny(), out)
        }
    }

    /// The clevr-attr recipe for `labels`: clevr-pos's, for 4,000 steps (128,000 images: the
    /// 60 minutes the issue allowed on this 2-core CPU, one thread).
    pub fn attributes(labels: Vec<String>, out: PathBuf) -> Self {
        TrainOptions { steps: ATTR_STEPS, ..Self::new(Config::attributes(labels), out) }
    }
}

/// Optimiser steps of the clevr-pos recipe.
pub const STEPS: usize = 2000;
/// Optimiser steps of the clevr-attr recipe.
pub const ATTR_STEPS: usize = 4000;

/// The learning rate of step `step` (0-based): linear warm-up to `lr` over `warmup` steps.
pub fn learning_rate(lr: f64, warmup: usize, step: usize) -> f64 {
    if step < warmup {
        lr * (step + 1) as f64 / warmup as f64
    } else {
        lr
    }
}

/// What the progress callback hears.
#[derive(Clone, Debug)]
pub enum Event {
    /// After every `log_every` steps: the mean loss since the last report and the speed.
    Log { step: usize, steps: usize, loss: f64, images_per_s: f64 },
    /// A checkpoint was written.
    Checkpoint { step: usize, dir: PathBuf },
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Steps done in total (including those before a resume).
    pub step: usize,
    /// The loss of every step of this run, in order.
    pub losses: Vec<f64>,
    pub images_per_s: f64,
    pub wall_s: f64,
    pub card: Card,
}

/// A network in training: its variables and the UNet over them.
pub struct Trainee {
    pub varmap: VarMap,
    pub unet: Unet,
}

impl Trainee {
    /// A freshly initialised network (seeded, the same everywhere), of `dtype`.
    pub fn new(config: &Config, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        let varmap = VarMap::new();
        let unet = Unet::new(config, VarBuilder::from_varmap(&varmap, dtype, device))?;
        card::init_weights(&varmap, seed)?;
        Ok(Trainee { varmap, unet })
    }
}

/// The seed of step `step`'s draws: splitmix64 of (seed, step), so steps are independent.
pub(crate) fn step_seed(seed: u64, step: usize) -> u64 {
    let mut z = seed ^ (step as u64).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Step `step`'s training inputs: (x_t, t, labels, mask, z); position labels `[B, 2]` when
/// `labels` is empty, else one-hot attributes `[B, labels.len()]` of one-object scenes.
pub fn step_batch(schedule: &Schedule, labels: &[String], seed: u64, step: usize, batch: usize, device: &Device) -> Result<[Tensor; 5]> {
    let mut rng = ChaCha8Rng::seed_from_u64(step_seed(seed, step));
    let b = if labels.is_empty() {
        data::batch(&mut rng, batch, NULL_PROB)
    } else {
        crate::clevr::attr::batch(&mut rng, batch, labels, NULL_PROB)
    };
    let width = b.labels.len() / batch.max(1);
    let px = 3 * SIZE * SIZE;
    let mut xt = Vec::with_capacity(batch * px);
    let mut z = Vec::with_capacity(batch * px);
    let mut ts = Vec::with_capacity(batch);
    for i in 0..batch {
        let t = rng.random_range(0..schedule.len());
        let (a, s) = (schedule.alpha_bar(t).sqrt() as f32, schedule.sigma(t) as f32);
        ts.push(t as f32);
        for &x0 in &b.images[i * px..(i + 1) * px] {
            let e: f32 = rng.sample(StandardNormal);
            z.push(e);
            xt.push(a * x0 + s * e);
        }
    }
    let shape = (batch, 3, SIZE, SIZE);
    Ok([
        Tensor::from_vec(xt, shape, device)?,
        Tensor::from_vec(ts, batch, device)?,
        Tensor::from_vec(b.labels, (batch, width), device)?,
        Tensor::from_vec(b.mask, batch, device)?,
        Tensor::from_vec(z, shape, device)?,
    ])
}

/// The ε loss of `unet` (trained on `labels`, none for positions) on step `step`'s batch (no
/// gradient taken).
pub fn loss(unet: &Unet, schedule: &Schedule, labels: &[String], seed: u64, step: usize, batch: usize, device: &Device) -> Result<Tensor> {
    let [xt, t, xy, mask, z] = step_batch(schedule, labels, seed, step, batch, device)?;
    let eps = unet.forward(&xt, &t, &xy, &mask)?;
    (eps - z.to_dtype(unet.dtype())?)?.sqr()?.mean_all()
}

/// Trains (or continues) a clevr-pos or clevr-attr model (as `opts.config` or the resumed
/// card says) and writes its folder to `opts.out`.
pub fn train(opts: &TrainOptions, device: &Device, progress: &mut dyn FnMut(&Event)) -> Result<Summary> {
    let started = Instant::now();
    let (config, seed, mut step, wall_before) = match &opts.resume {
        Some(dir) => {
            let c = Card::read_as(opts.config.model_name(), dir)?;
            (c.arch.clone(), c.training.seed, c.training.step, c.training.wall_s)
        }
        None => (opts.config.clone(), opts.seed, 0, 0.0),
    };
    let schedule = Schedule::cosine(config.native_steps, COSINE_S)?;
    let trainee = Trainee::new(&config, seed, DType::F32, device)?;
    let ema = match &opts.resume {
        Some(dir) => resume_into(&trainee.varmap, dir, opts.ema_decay, device)?,
        None => Ema::new(&trainee.varmap, opts.ema_decay)?,
    };
    let mut ema = ema;
    let params = ParamsAdamW { lr: opts.lr, weight_decay: 0.0, ..Default::default() };
    let mut opt = AdamW::new(trainee.varmap.all_vars(), params)?;
    let mut losses = Vec::new();
    let (mut window, mut window_start, mut window_steps) = (0.0, Instant::now(), 0usize);
    let mut last_mean = None;
    let first = step;
    while step < opts.steps {
        opt.set_learning_rate(learning_rate(opts.lr, opts.warmup, step));
        let l = loss(&trainee.unet, &schedule, &config.labels, seed, step, opts.batch, device)?;
        opt.backward_step(&l)?;
        ema.update(&trainee.varmap)?;
        let v = l.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        if !v.is_finite() {
            candle_core::bail!("training diverged at step {step}: loss {v}")
        }
        losses.push(v);
        step += 1;
        window += v;
        window_steps += 1;
        if step % opts.log_every.max(1) == 0 || step == opts.steps {
            let secs = window_start.elapsed().as_secs_f64().max(1e-9);
            let mean = window / window_steps as f64;
            last_mean = Some(mean);
            progress(&Event::Log { step, steps: opts.steps, loss: mean, images_per_s: (window_steps * opts.batch) as f64 / secs });
            (window, window_start, window_steps) = (0.0, Instant::now(), 0);
        }
        if opts.checkpoint_every > 0 && step % opts.checkpoint_every == 0 && step < opts.steps {
            let c = make_card(opts, &config, seed, step, last_mean, wall_before + started.elapsed().as_secs_f64());
            save(&opts.out, &trainee.varmap, &ema, &c, DType::F32)?;
            if opts.keep_checkpoints {
                keep(&opts.out, &ema, &c)?;
            }
            progress(&Event::Checkpoint { step, dir: opts.out.clone() });
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let card = make_card(opts, &config, seed, step, last_mean, wall_before + wall);
    if opts.keep_checkpoints {
        keep(&opts.out, &ema, &card)?;
    }
    let dtype = if opts.half_weights { DType::F16 } else { DType::F32 };
    save(&opts.out, &trainee.varmap, &ema, &card, dtype)?;
    progress(&Event::Checkpoint { step, dir: opts.out.clone() });
    let images = ((step - first) * opts.batch) as f64;
    Ok(Summary { step, losses, images_per_s: images / wall.max(1e-9), wall_s: wall, card })
}

fn make_card(opts: &TrainOptions, config: &Config, seed: u64, step: usize, loss: Option<f64>, wall_s: f64) -> Card {
    let training = Training {
        step,
        seed,
        batch: opts.batch,
        lr: opts.lr,
        ema_decay: opts.ema_decay,
        warmup: opts.warmup,
        loss,
        tiny: config.is_tiny(),
        device: opts.device_name.clone(),
        wall_s,
        images: step * opts.batch,
        images_per_s: (step * opts.batch) as f64 / wall_s.max(1e-9),
        machine: machine(),
        accuracy: Vec::new(),
    };
    let schedule = ScheduleCard::cosine(config.native_steps, COSINE_S);
    Card::new(config.model_name(), card::KIND, schedule, config.clone(), training)
}

/// The CPU model and its logical cores (from /proc/cpuinfo where there is one).
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_string()))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{model}, {cores} logical cores")
}

/// Writes the model folder: EMA weights (in `dtype`), raw weights (f32), then the card.
pub fn save(dir: &Path, varmap: &VarMap, ema: &Ema, card: &Card, dtype: DType) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| candle_core::Error::Msg(format!("creating {}: {e}", dir.display())))?;
    card::write_tensors_as(&dir.join(card::WEIGHTS), ema.weights(), dtype)?;
    card::write_tensors(&dir.join(card::TRAIN_WEIGHTS), &card::snapshot(varmap)?)?;
    card.write(dir).map(|_| ())
}

/// Copies a checkpoint's EMA weights (f32) and card to `dir/checkpoints/step-N/`, a model
/// folder of its own (`comp eval clevr-pos --model-dir` reads it).
fn keep(dir: &Path, ema: &Ema, card: &Card) -> Result<()> {
    let d = dir.join("checkpoints").join(format!("step-{}", card.training.step));
    std::fs::create_dir_all(&d).map_err(|e| candle_core::Error::Msg(format!("creating {}: {e}", d.display())))?;
    card::write_tensors(&d.join(card::WEIGHTS), ema.weights())?;
    card.write(&d).map(|_| ())
}

/// Restores a checkpoint into `varmap` (the raw weights) and returns its EMA.
fn resume_into(varmap: &VarMap, dir: &Path, decay: f64, device: &Device) -> Result<Ema> {
    let ema_path = dir.join(card::WEIGHTS);
    let raw_path = dir.join(card::TRAIN_WEIGHTS);
    // `Ema` starts from the variables' values: load the EMA weights first, then the raw ones.
    card::assign(varmap, &card::read_tensors(&ema_path, device)?, &ema_path)?;
    let ema = Ema::new(varmap, decay)?;
    card::assign(varmap, &card::read_tensors(&raw_path, device)?, &raw_path)?;
    Ok(ema)
}

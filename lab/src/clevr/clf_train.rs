//! Training the noise-conditional attribute classifier (`comp train clevr-attr-clf`).
//!
//! Each step draws one-object scenes ([`super::attr`]), a native timestep t uniform over the
//! cosine schedule, z ~ N(0, I) and x_t = √ᾱ_t x₀ + σ_t z; the loss is the sum over the three
//! attribute groups of the cross-entropy of the group's log-softmax against the scene's true
//! attribute (every image has all three, so no label is dropped). AdamW, constant learning rate,
//! an EMA of the weights is what is saved. Step n's draws come from a generator seeded with
//! (seed, n), so a run is a function of its seed. At the end the EMA weights are scored on
//! held-out noised images (another seed) at several noise levels, into the card.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::attr::{random_scene, Attributes};
use super::data::SIZE;
use crate::ema::Ema;
use comp_models::card::ScheduleCard;
use comp_models::clevr::card;
use comp_models::clevr::card::Training;
use comp_models::clevr::classifier::{self, ClfCard, ClfConfig, ClfNet, NoiseAccuracy, NAME};
use comp_models::clevr::COSINE_S;
use comp_runtime::Schedule;

/// Everything a classifier training run depends on.
#[derive(Clone, Debug)]
pub struct ClfTrainOptions {
    pub config: ClfConfig,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub ema_decay: f64,
    pub seed: u64,
    pub out: PathBuf,
    /// Held-out images per noise level scored at the end.
    pub eval_images: usize,
    pub log_every: usize,
    pub device_name: String,
}

impl ClfTrainOptions {
    /// The shipped recipe: batch 64, AdamW lr 1e-3, EMA 0.999, 3,000 steps (192,000 images;
    /// after 1,500 the shape head read only 67% of clean scenes right).
    pub fn new(out: PathBuf) -> Self {
        ClfTrainOptions {
            config: ClfConfig::default(),
            steps: 3000,
            batch: 64,
            lr: 1e-3,
            ema_decay: 0.999,
            seed: 0,
            out,
            eval_images: 512,
            log_every: 50,
            device_name: "cpu".into(),
        }
    }

    /// The tiny test recipe.
    pub fn tiny(out: PathBuf) -> Self {
        ClfTrainOptions { config: ClfConfig::tiny(), steps: 20, batch: 8, ema_decay: 0.9, eval_images: 16, log_every: 5, ..Self::new(out) }
    }
}

/// The noise levels (native timesteps) the held-out accuracy is reported at.
pub const EVAL_T: [usize; 6] = [0, 200, 400, 600, 800, 950];

/// A batch of noised scenes: x_t `[B, 3, 32, 32]`, t `[B]`, the true label index of each group
/// (`[B, 3]`, in label order: colour 0–7, shape 8–9, size 10–11), and the attributes.
pub fn clf_batch(
    schedule: &Schedule,
    rng: &mut ChaCha8Rng,
    batch: usize,
    t_fixed: Option<usize>,
    device: &Device,
) -> Result<(Tensor, Tensor, Tensor, Vec<Attributes>)> {
    let px = 3 * SIZE * SIZE;
    let (mut xt, mut ts, mut labels, mut attrs) =
        (Vec::with_capacity(batch * px), Vec::with_capacity(batch), Vec::with_capacity(3 * batch), Vec::with_capacity(batch));
    for _ in 0..batch {
        let (scene, a) = random_scene(rng);
        let t = t_fixed.unwrap_or_else(|| rng.random_range(0..schedule.len()));
        let (s_a, s) = (schedule.alpha_bar(t).sqrt() as f32, schedule.sigma(t) as f32);
        for x0 in scene.render() {
            let e: f32 = rng.sample(StandardNormal);
            xt.push(s_a * x0 + s * e);
        }
        ts.push(t as f32);
        labels.extend([a.colour as u32, 8 + a.shape as u32, 10 + a.size as u32]);
        attrs.push(a);
    }
    Ok((
        Tensor::from_vec(xt, (batch, 3, SIZE, SIZE), device)?,
        Tensor::from_vec(ts, batch, device)?,
        Tensor::from_vec(labels, (batch, 3), device)?,
        attrs,
    ))
}

/// The summed cross-entropy of the three groups, mean over the batch.
pub fn clf_loss(net: &ClfNet, x: &Tensor, t: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let lp = net.log_probs(x, t)?;
    let picked = lp.gather(labels, 1)?; // [B, 3]
    picked.sum(1)?.mean_all()?.neg()
}

/// Scores `net` on `images` held-out noised scenes per noise level of [`EVAL_T`].
pub fn accuracy(net: &ClfNet, schedule: &Schedule, images: usize, seed: u64, device: &Device) -> Result<Vec<NoiseAccuracy>> {
    let mut out = Vec::new();
    for &t in &EVAL_T {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xE7A1 ^ t as u64);
        let (mut col, mut shp, mut siz, mut all, mut done) = (0, 0, 0, 0, 0);
        while done < images {
            let n = (images - done).min(64);
            let (x, tt, _, attrs) = clf_batch(schedule, &mut rng, n, Some(t), device)?;
            let lp = net.log_probs(&x, &tt)?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
            for (row, a) in lp.iter().zip(&attrs) {
                let argmax = |r: std::ops::Range<usize>| r.clone().max_by(|&i, &j| row[i].total_cmp(&row[j])).unwrap_or(r.start) - r.start;
                let (c, s, z) = (argmax(0..8) == a.colour, argmax(8..10) == a.shape, argmax(10..12) == a.size);
                col += c as usize;
                shp += s as usize;
                siz += z as usize;
                all += (c && s && z) as usize;
            }
            done += n;
        }
        let f = |k: usize| k as f64 / images as f64;
        out.push(NoiseAccuracy { t, sigma: schedule.sigma(t), images, colour: f(col), shape: f(shp), size: f(siz), all: f(all) });
    }
    Ok(out)
}

/// What the progress callback hears: (step, steps, mean loss, images/s).
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, f64, f64);

/// Trains a classifier and writes its folder (EMA weights and card).
pub fn train_clf(opts: &ClfTrainOptions, device: &Device, progress: Progress) -> Result<ClfCard> {
    let started = Instant::now();
    let schedule = Schedule::cosine(opts.config.native_steps, COSINE_S)?;
    let varmap = VarMap::new();
    let net = ClfNet::new(&opts.config, VarBuilder::from_varmap(&varmap, DType::F32, device))?;
    card::init_weights(&varmap, opts.seed)?;
    let mut ema = Ema::new(&varmap, opts.ema_decay)?;
    let mut opt = AdamW::new(varmap.all_vars(), ParamsAdamW { lr: opts.lr, weight_decay: 0.0, ..Default::default() })?;
    let (mut window, mut window_n, mut window_start, mut last) = (0.0, 0usize, Instant::now(), None);
    for step in 0..opts.steps {
        // The UNet trainer's per-step seeds, offset so a classifier never draws a UNet run's batches.
        let mut rng = ChaCha8Rng::seed_from_u64(super::train::step_seed(opts.seed ^ 0xC1F0, step));
        let (x, t, labels, _) = clf_batch(&schedule, &mut rng, opts.batch, None, device)?;
        let loss = clf_loss(&net, &x, &t, &labels)?;
        opt.backward_step(&loss)?;
        ema.update(&varmap)?;
        let v = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        if !v.is_finite() {
            candle_core::bail!("training diverged at step {step}: loss {v}")
        }
        window += v;
        window_n += 1;
        if (step + 1) % opts.log_every.max(1) == 0 || step + 1 == opts.steps {
            let mean = window / window_n as f64;
            last = Some(mean);
            progress(step + 1, opts.steps, mean, (window_n * opts.batch) as f64 / window_start.elapsed().as_secs_f64().max(1e-9));
            (window, window_n, window_start) = (0.0, 0, Instant::now());
        }
    }
    // Score the EMA weights.
    let ema_net = ClfNet::new(&opts.config, VarBuilder::from_tensors(ema.weights().clone(), DType::F32, device))?;
    let acc = accuracy(&ema_net, &schedule, opts.eval_images, opts.seed, device)?;
    let wall = started.elapsed().as_secs_f64();
    let images = opts.steps * opts.batch;
    let training = Training {
        step: opts.steps,
        seed: opts.seed,
        batch: opts.batch,
        lr: opts.lr,
        ema_decay: opts.ema_decay,
        warmup: 0,
        loss: last,
        tiny: opts.config == ClfConfig::tiny(),
        device: opts.device_name.clone(),
        wall_s: wall,
        images,
        images_per_s: images as f64 / wall.max(1e-9),
        machine: super::train::machine(),
        accuracy: acc,
    };
    let schedule = ScheduleCard::cosine(opts.config.native_steps, COSINE_S);
    let c = ClfCard::new(NAME, classifier::KIND, schedule, opts.config.clone(), training);
    save(&opts.out, &ema, &c)
}

/// Writes the EMA weights, then the card (with their size and hash); returns the card as written.
fn save(dir: &Path, ema: &Ema, c: &ClfCard) -> Result<ClfCard> {
    std::fs::create_dir_all(dir).map_err(|e| candle_core::Error::Msg(format!("creating {}: {e}", dir.display())))?;
    card::write_tensors(&dir.join(card::WEIGHTS), ema.weights())?;
    c.write(dir)
}

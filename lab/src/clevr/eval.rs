//! `comp eval clevr-pos`: Composable Diffusion's positional CLEVR evaluation (Table 1).
//!
//! For k = 1, 2, 3: seeded sets of k positions, drawn like the object centres of real scenes
//! (so they are distinct, separated objects), are composed with AND at the paper's settings
//! (DDPM, 100 steps, scale 7.5, `base null`). Every plan is compiled from `.comp` text through
//! the real front end (`comp_grammar::parse` + `comp_compiler::compile` against the model
//! registry) and sampled by the executor: one batched model call per step. A sample is correct
//! when the [`Detector`] finds an object at *every* requested position (extra objects are not
//! penalised). Accuracy comes with a 95% Wilson interval, beside the paper's numbers.
//!
//! Also measured: `pos(a) AND NOT pos(b)` (correct: an object at a, none at b), and a sweep
//! of the guidance scale for k = 2 on the same position sets.

use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Result};
use image::{Rgb, RgbImage};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::data::{random_positions, to_pixel, SIZE};
use super::detect::{calibrate, Calibration, Detector};
use comp_output::{grid, png_bytes, to_image, write_atomic};
use comp_runtime::Denoiser;
use comp_runtime::{execute, ExecOptions};

/// Table 1 of Composable Diffusion (positional CLEVR), accuracy % for 1, 2, 3 positions.
pub const PAPER_COMPOSED: [f64; 3] = [86.42, 59.20, 31.36];
/// The EBM baseline of the same table.
pub const PAPER_EBM: [f64; 3] = [70.54, 28.22, 7.34];

/// What to evaluate.
#[derive(Clone, Debug, Serialize)]
pub struct EvalOptions {
    /// Position sets per k (the paper used 5,000).
    pub sets: usize,
    /// Samples drawn per set (1 in the paper; more batches better on a CPU).
    pub per_set: usize,
    /// `ddpm` (the paper's) or `ddim` (deterministic, good at half the steps).
    pub sampler: String,
    pub steps: usize,
    pub scale: f64,
    pub seed: u64,
    /// Guidance scales of the sweep (k = 2); empty for none.
    pub sweep: Vec<f64>,
    /// Whether to evaluate `pos(a) AND NOT pos(b)`.
    pub negation: bool,
    /// Scenes for the detector's calibration.
    pub calibration_scenes: usize,
    /// Samples shown in each examples PNG.
    pub examples: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            sets: 100,
            per_set: 1,
            sampler: "ddpm".into(),
            steps: 100,
            scale: 7.5,
            seed: 0,
            sweep: vec![1.0, 3.0, 7.5, 12.0],
            negation: true,
            calibration_scenes: 500,
            examples: 16,
        }
    }
}

/// An accuracy with its 95% Wilson interval, in percent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Accuracy {
    pub samples: usize,
    pub correct: usize,
    pub percent: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

impl Accuracy {
    pub fn new(correct: usize, samples: usize) -> Self {
        let (lo, hi) = wilson(correct, samples);
        let percent = if samples == 0 { 0.0 } else { 100.0 * correct as f64 / samples as f64 };
        Accuracy { samples, correct, percent, ci_low: 100.0 * lo, ci_high: 100.0 * hi }
    }
}

/// The 95% Wilson score interval of a binomial proportion.
pub fn wilson(successes: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (z, n_f) = (1.959_963_984_540_054, n as f64);
    let p = successes as f64 / n_f;
    let denom = 1.0 + z * z / n_f;
    let centre = (p + z * z / (2.0 * n_f)) / denom;
    let half = z * (p * (1.0 - p) / n_f + z * z / (4.0 * n_f * n_f)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Samples kept for the pictures: each image with its requested positions.
type Examples = Vec<(Vec<f32>, Vec<[f64; 2]>)>;

/// One row of the composed table.
#[derive(Clone, Debug, Serialize)]
pub struct KResult {
    pub k: usize,
    pub accuracy: Accuracy,
    pub paper_composed: f64,
    pub paper_ebm: f64,
}

/// A point of the guidance sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SweepPoint {
    pub scale: f64,
    pub k: usize,
    pub accuracy: Accuracy,
}

/// `pos(a) AND NOT pos(b)`: both conditions met, and each separately.
#[derive(Clone, Debug, Serialize)]
pub struct NegationResult {
    pub accuracy: Accuracy,
    pub found_a: Accuracy,
    pub empty_b: Accuracy,
}

/// Everything `comp eval clevr-pos` measured (written as `eval.json`).
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    pub options: EvalOptions,
    pub detector: Detector,
    pub calibration: Calibration,
    pub composed: Vec<KResult>,
    pub negation: Option<NegationResult>,
    pub sweep: Vec<SweepPoint>,
    pub model_calls: usize,
    pub wall_s: f64,
}

/// The `.comp` text of one evaluation sample.
pub fn script(expr: &str, opts: &EvalOptions, scale: f64, seed: u64) -> String {
    format!(
        "model clevr-pos\nsampler {}(steps: {})\nbase null\nscale {scale}\nseed {seed}\nsamples {}\nsample s = {expr}\n",
        opts.sampler, opts.steps, opts.per_set
    )
}

/// `pos(x, y)` with four decimals.
pub fn pos(p: [f64; 2]) -> String {
    format!("pos({:.4}, {:.4})", p[0], p[1])
}

/// Compiles `text` through the real front end and samples it: `[per_set, 3, 32, 32]` as host
/// images, and the model calls made.
fn sample(model: &dyn Denoiser, device: &Device, text: &str) -> Result<(Vec<Vec<f32>>, usize)> {
    let plan = crate::compile_one(text, &comp_models::infos())?;
    let out = execute(&plan, model, device, &ExecOptions::default())?;
    let data = out.samples.flatten_all()?.to_vec1::<f32>()?;
    let px = 3 * SIZE * SIZE;
    Ok((data.chunks_exact(px).map(<[f32]>::to_vec).collect(), out.model_calls))
}

/// Runs the whole evaluation; writes `eval.json` and `examples_k{k}.png` into `out` when
/// given. `progress` hears one line per finished group of sets.
pub fn evaluate(
    model: &dyn Denoiser,
    device: &Device,
    opts: &EvalOptions,
    out: Option<&Path>,
    progress: &mut dyn FnMut(&str),
) -> Result<EvalReport> {
    let started = Instant::now();
    let det = Detector::default();
    let calibration = calibrate(&det, opts.calibration_scenes, opts.seed ^ 0xCA11);
    progress(&format!(
        "detector: {:.1}% of true positions found, {:.1}% of empty ones",
        100.0 * calibration.true_found,
        100.0 * calibration.empty_found
    ));
    let mut calls = 0;
    let mut composed = Vec::new();
    let mut sets_by_k = Vec::new();
    for k in 1..=3 {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(1000 * k as u64));
        let sets: Vec<Vec<[f64; 2]>> = (0..opts.sets).map(|_| random_positions(&mut rng, k)).collect();
        let (acc, examples, c) = run_sets(model, device, opts, &sets, opts.scale, k as u64, &det)?;
        calls += c;
        progress(&format!("k = {k}: {:.1}% ({}/{})", acc.percent, acc.correct, acc.samples));
        if let Some(dir) = out {
            write_examples(&dir.join(format!("examples_k{k}.png")), &examples, &det)?;
        }
        composed.push(KResult { k, accuracy: acc, paper_composed: PAPER_COMPOSED[k - 1], paper_ebm: PAPER_EBM[k - 1] });
        sets_by_k.push(sets);
    }
    let negation = if opts.negation { Some(run_negation(model, device, opts, &det, &mut calls)?) } else { None };
    if let Some(n) = &negation {
        progress(&format!("a AND NOT b: {:.1}%", n.accuracy.percent));
    }
    let mut sweep = Vec::new();
    for &scale in &opts.sweep {
        let (acc, _, c) = run_sets(model, device, opts, &sets_by_k[1], scale, 2, &det)?;
        calls += c;
        progress(&format!("scale {scale}, k = 2: {:.1}%", acc.percent));
        sweep.push(SweepPoint { scale, k: 2, accuracy: acc });
    }
    let report = EvalReport {
        options: opts.clone(),
        detector: det,
        calibration,
        composed,
        negation,
        sweep,
        model_calls: calls,
        wall_s: started.elapsed().as_secs_f64(),
    };
    if let Some(dir) = out {
        let json = serde_json::to_string_pretty(&report).expect("a report serialises");
        let path = dir.join("eval.json");
        write_atomic(&path, json.as_bytes()).map_err(|e| candle_core::Error::Msg(format!("writing {}: {e}", path.display())))?;
    }
    Ok(report)
}

/// Samples one AND-composition per set; returns the accuracy, the first samples with their
/// positions (for pictures), and the model calls.
#[allow(clippy::too_many_arguments)]
fn run_sets(
    model: &dyn Denoiser,
    device: &Device,
    opts: &EvalOptions,
    sets: &[Vec<[f64; 2]>],
    scale: f64,
    stream: u64,
    det: &Detector,
) -> Result<(Accuracy, Examples, usize)> {
    let (mut correct, mut total, mut calls) = (0, 0, 0);
    let mut examples = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let expr: Vec<String> = set.iter().map(|p| pos(*p)).collect();
        let seed = opts.seed.wrapping_add(stream << 32).wrapping_add(i as u64);
        let (imgs, c) = sample(model, device, &script(&expr.join(" AND "), opts, scale, seed))?;
        calls += c;
        for img in imgs {
            let fg = det.foreground(&img);
            correct += set.iter().all(|p| det.found(&fg, *p)) as usize;
            total += 1;
            if examples.len() < opts.examples {
                examples.push((img, set.clone()));
            }
        }
    }
    Ok((Accuracy::new(correct, total), examples, calls))
}

fn run_negation(model: &dyn Denoiser, device: &Device, opts: &EvalOptions, det: &Detector, calls: &mut usize) -> Result<NegationResult> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(7000));
    let (mut both, mut a_ok, mut b_ok, mut total) = (0, 0, 0, 0);
    for i in 0..opts.sets {
        let ab = random_positions(&mut rng, 2);
        let text = script(
            &format!("{} AND NOT {}", pos(ab[0]), pos(ab[1])),
            opts,
            opts.scale,
            opts.seed.wrapping_add(7 << 32).wrapping_add(i as u64),
        );
        let (imgs, c) = sample(model, device, &text)?;
        *calls += c;
        for img in imgs {
            let fg = det.foreground(&img);
            let (a, b) = (det.found(&fg, ab[0]), !det.found(&fg, ab[1]));
            both += (a && b) as usize;
            a_ok += a as usize;
            b_ok += b as usize;
            total += 1;
        }
    }
    Ok(NegationResult { accuracy: Accuracy::new(both, total), found_a: Accuracy::new(a_ok, total), empty_b: Accuracy::new(b_ok, total) })
}

/// A grid of samples, each requested position marked by four ticks around the detector's
/// window: green where an object was found, red where not.
fn write_examples(path: &Path, examples: &[(Vec<f32>, Vec<[f64; 2]>)], det: &Detector) -> Result<()> {
    let imgs: Vec<RgbImage> = examples
        .iter()
        .map(|(img, set)| {
            let mut im = to_image(img, [1, 3, SIZE, SIZE], 0);
            let fg = det.foreground(img);
            for p in set {
                let colour = if det.found(&fg, *p) { Rgb([0, 255, 0]) } else { Rgb([255, 0, 0]) };
                let (c, r) = to_pixel(*p);
                let (c, r) = (c.floor() as i64, r.floor() as i64);
                for (dc, dr) in [(-4, 0), (4, 0), (0, -4), (0, 4)] {
                    let (x, y) = (c + dc, r + dr);
                    if (0..SIZE as i64).contains(&x) && (0..SIZE as i64).contains(&y) {
                        im.put_pixel(x as u32, y as u32, colour);
                    }
                }
            }
            im
        })
        .collect();
    let bytes = png_bytes(&grid(&imgs))?;
    write_atomic(path, &bytes).map_err(|e| candle_core::Error::Msg(format!("writing {}: {e}", path.display())))
}

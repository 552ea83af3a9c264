//! `comp eval toy2d`: RRR's three 2D compositions under each sampler, scored against the
//! exact composed targets.
//!
//! Each (composition, sampler) pair is a `.comp` text compiled by the real front end
//! (`comp_grammar::parse`, `comp_compiler::compile`) and run by [`execute`], so the numbers
//! measure the pipeline users run. Samplers use RRR's 2D settings: a 100-step DDPM (cosine)
//! reverse process alone, or with 10 MCMC steps per level of ULA or MALA (step 0.001) or
//! U-HMC or HMC (step 0.03, 3 leapfrog steps, damping 0.5, mass 1).
//!
//! The target of a composition comes from its compiled plan and toy2d's exact densities:
//! ∝ Π p_i^{w_i} for AND / NOT, the weighted mixture for OR, normalised on [`GRID`]:
//!
//! * `ring AND bar` and `left_bar OR right_bar`: at ᾱ = 1 (the clean data).
//! * `1.3 * box_large AND NOT 0.3 * box_small`: at ᾱ = 1 this target does not exist:
//!   p_small = 0 outside the small box, so p_large^1.3 / p_small^0.3 is +∞ on the whole frame
//!   between the boxes, and its σ → 0 limit has zero width (per coordinate at |x| = 0.82, so
//!   at the four corners (±0.82, ±0.82): the densities factorise over x and y). It is scored
//!   against the composed density at the least noisy level the sampler calls the model at
//!   (native timestep 0; σ ≈ 0.025 for toy2d), where the corners have a width of about σ.
//!   The final, deterministic reverse step sharpens samples further, so samplers can score a
//!   higher log-likelihood than the exact draws there; MMD² and the support fraction are the
//!   measures to compare for the negation.
//!
//! Measures: mean log-likelihood under the target softened with 1% uniform mass over the
//! grid's area ([`metrics::mean_log_likelihood`]); unbiased MMD² (RBF, bandwidth 0.1) against
//! as many exact draws from the gridded target; the fraction of samples in the target's
//! support ([`Support`]); the acceptance rate where there is an accept test; model calls and
//! wall time. The `exact` row scores a second set of exact draws: the best a sampler can do.

use std::time::Instant;

use candle_core::{bail, DType, Device, Result};
use comp_plan::ModelInfo;
use comp_plan::{Combine, SamplePlan};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::metrics::{self, GridDensity};
use comp_models::toy2d::{self, Grid, Toy2dConcept, P2};
use comp_runtime::composite::Composite;
use comp_runtime::sampler::ReverseSampler;
use comp_runtime::Denoiser;
use comp_runtime::{execute, ExecOptions};

/// Reverse steps of every run (RRR's 2D notebook); [`Options::steps`] can lower it for a
/// quick run.
pub const STEPS: usize = 100;

/// The grid targets are normalised on: [−1.5, 1.5]², cells of 0.005.
pub const GRID: Grid = Grid { lo: -1.5, hi: 1.5, n: 600 };

/// A column of the evaluation: exact draws, or one sampler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Exact draws from the gridded target (a reference, not a sampler).
    Exact,
    /// Reverse diffusion (DDPM, 100 steps) alone.
    Reverse,
    Ula,
    Mala,
    Uhmc,
    Hmc,
}

impl Method {
    pub const ALL: [Method; 6] = [Method::Exact, Method::Reverse, Method::Ula, Method::Mala, Method::Uhmc, Method::Hmc];

    pub fn name(self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::Reverse => "reverse",
            Method::Ula => "ula",
            Method::Mala => "mala",
            Method::Uhmc => "u-hmc",
            Method::Hmc => "hmc",
        }
    }

    /// The `mcmc` setting of the run (RRR's 2D settings); `None` for `Exact`.
    pub fn mcmc_setting(self) -> Option<&'static str> {
        match self {
            Method::Exact => None,
            Method::Reverse => Some("none"),
            Method::Ula => Some("ula(steps: 10, step_size: 0.001)"),
            Method::Mala => Some("mala(steps: 10, step_size: 0.001)"),
            Method::Uhmc => Some("uhmc(steps: 10, step_size: 0.03, leapfrog: 3, damping: 0.5, mass: 1)"),
            Method::Hmc => Some("hmc(steps: 10, step_size: 0.03, leapfrog: 3, damping: 0.5, mass: 1)"),
        }
    }

    /// MALA and HMC accept on energies.
    pub fn needs_energies(self) -> bool {
        matches!(self, Method::Mala | Method::Hmc)
    }
}

/// Where a composition's target puts its mass, for the "in support" fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Within 0.1 of the product's two modes (0, ±0.5).
    Modes,
    /// Inside either bar (x ∈ [−0.3, −0.1] ∪ [0.1, 0.3], |y| ≤ 1); also reports the share of
    /// those in the left bar.
    Bars,
    /// Inside `left_bar` or `bar` (x ∈ [−0.3, −0.1] or |x| ≤ 0.2, |y| ≤ 1): the mixture of
    /// the separately trained models' table.
    LeftBarOrBar,
    /// Outside the small box and within 0.2 of the large box: 0.3 < |x|∞ ≤ 0.9. The exact NOT
    /// target sits just outside the large box: per coordinate p_large^1.3 / p_small^0.3 peaks
    /// at |x| ≈ 0.82, so in 2D (the densities factorise) at the corners (±0.82, ±0.82), with
    /// a width of about σ ≈ 0.025 at the least noisy level; a 0.15 margin would leave 13% of
    /// the exact draws outside.
    Frame,
}

impl Support {
    pub fn describe(self) -> &'static str {
        match self {
            Support::Modes => "within 0.1 of (0, 0.5) or (0, -0.5)",
            Support::Bars => "inside left_bar or right_bar; left = share of those in left_bar",
            Support::LeftBarOrBar => "inside left_bar or bar (-0.3 <= x <= 0.2, |y| <= 1)",
            Support::Frame => "0.3 < max(|x|, |y|) <= 0.9: outside box_small, within 0.2 of box_large",
        }
    }

    pub fn contains(self, x: P2) -> bool {
        match self {
            Support::Modes => [0.5, -0.5].iter().any(|&m| (x[0] * x[0] + (x[1] - m) * (x[1] - m)).sqrt() <= 0.1),
            Support::Bars => in_left_bar(x) || in_right_bar(x),
            Support::LeftBarOrBar => in_left_bar(x) || (x[0].abs() <= 0.2 && x[1].abs() <= 1.0),
            Support::Frame => {
                let m = x[0].abs().max(x[1].abs());
                m > 0.3 && m <= 0.9
            }
        }
    }
}

fn in_left_bar(x: P2) -> bool {
    (-0.3..=-0.1).contains(&x[0]) && x[1].abs() <= 1.0
}

fn in_right_bar(x: P2) -> bool {
    (0.1..=0.3).contains(&x[0]) && x[1].abs() <= 1.0
}

/// One row group of the evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Composition {
    pub name: &'static str,
    /// The `.comp` expression (with `base none`).
    pub expr: &'static str,
    /// Score against the target at ᾱ = 1 (`true`) or at the least noisy sampling level.
    pub clean_target: bool,
    pub support: Support,
    /// An OR: needs energies.
    pub mixture: bool,
}

/// RRR's classic compositions.
pub const COMPOSITIONS: [Composition; 3] = [
    Composition { name: "product", expr: "ring AND bar", clean_target: true, support: Support::Modes, mixture: false },
    Composition { name: "mixture", expr: "left_bar OR right_bar", clean_target: true, support: Support::Bars, mixture: true },
    Composition {
        name: "negation",
        expr: "1.3 * box_large AND NOT 0.3 * box_small",
        clean_target: false,
        support: Support::Frame,
        mixture: false,
    },
];

/// The compositions across two models (`--with`): model `a`'s term and model `b`'s, so that
/// each also runs with two separately trained models that know only their own concepts
/// (`a` ⊇ {ring, left_bar}, `b` ⊇ {bar}).
pub const CROSS: [Composition; 2] = [
    Composition { name: "product", expr: "a.ring AND b.bar", clean_target: true, support: Support::Modes, mixture: false },
    Composition { name: "mixture", expr: "a.left_bar OR b.bar", clean_target: true, support: Support::LeftBarOrBar, mixture: true },
];

/// What to evaluate.
pub struct Options<'a> {
    pub samples: usize,
    pub seed: u64,
    /// Reverse steps of every run ([`STEPS`] by default, RRR's setting; fewer make a quick
    /// smoke run, e.g. for the learned model, whose calls cost more than the exact one's).
    pub steps: usize,
    /// The compositions to run (default: all of [`COMPOSITIONS`]).
    pub compositions: Vec<Composition>,
    /// The methods to run (default: all of [`Method::ALL`]).
    pub methods: Vec<Method>,
    /// Called after each cell.
    pub progress: Option<&'a dyn Fn(&Cell)>,
    /// A second model: the compositions' terms come from two models, `a` (the one `run` is
    /// given) and `b` (this one), as in [`CROSS`].
    pub second: Option<&'a dyn Denoiser>,
}

impl Options<'_> {
    pub fn new(samples: usize, seed: u64) -> Self {
        Self {
            samples,
            seed,
            steps: STEPS,
            compositions: COMPOSITIONS.to_vec(),
            methods: Method::ALL.to_vec(),
            progress: None,
            second: None,
        }
    }
}

/// The measures of one (composition, method) cell.
#[derive(Clone, Debug)]
pub struct Measures {
    pub log_lik: f64,
    pub mmd2: f64,
    pub in_support: f64,
    /// The mixture's share of in-support samples in the left bar.
    pub left: Option<f64>,
    pub acceptance: Option<f64>,
    /// `None` for exact draws.
    pub model_calls: Option<usize>,
    pub wall_s: f64,
    /// The samples (for the figure).
    pub points: Vec<P2>,
}

/// A cell's result, or why it was skipped.
#[derive(Clone, Debug)]
pub enum Outcome {
    Measured(Measures),
    Skipped(String),
}

#[derive(Clone, Debug)]
pub struct Cell {
    pub composition: Composition,
    pub method: Method,
    /// The `.comp` text that was run (empty for exact draws and skipped cells).
    pub source: String,
    pub outcome: Outcome,
}

/// A composition's target as scored.
#[derive(Clone, Debug)]
pub struct Target {
    pub composition: Composition,
    /// ᾱ the target is taken at.
    pub alpha_bar: f64,
    /// log Z over the grid of the unnormalised composed log-density.
    pub log_z: f64,
}

/// Everything `comp eval toy2d` reports.
#[derive(Clone, Debug)]
pub struct Report {
    pub model: String,
    pub samples: usize,
    pub seed: u64,
    /// Reverse steps of every run.
    pub steps: usize,
    pub targets: Vec<Target>,
    /// Composition-major, methods in `Options::methods` order.
    pub cells: Vec<Cell>,
    pub wall_s: f64,
}

/// The `.comp` text of one run. `model` is one model's name, or `a = NAME\nmodel b = NAME`
/// for two (see [`models_line`]).
pub fn source(model: &str, c: &Composition, mcmc: &str, samples: usize, seed: u64, steps: usize) -> String {
    format!(
        "model {model}\nsampler ddpm(steps: {steps})\nmcmc {mcmc}\nbase none\nseed {seed}\n\
         samples {samples}\n\nsample {} = {}\n",
        c.name, c.expr
    )
}

/// What follows `model ` in [`source`]: one model, or two named `a` and `b`.
pub fn models_line(a: &str, b: Option<&str>) -> String {
    match b {
        None => a.to_string(),
        Some(b) => format!("a = {a}\nmodel b = {b}"),
    }
}

pub use crate::compile_one;

/// The composed log-density (up to a constant) of a single-segment plan at ᾱ, from toy2d's
/// exact concept densities: Σ c_k log p_k for a linear combination, logsumexp over branches
/// of (log m_j + Σ a_jk log p_k) for a mixture. Zero coefficients are skipped (0·(−∞)).
pub fn composed_log_density(plan: &SamplePlan, alpha_bar: f64) -> Result<impl Fn(P2) -> f64 + Sync> {
    let [seg] = plan.segments.as_slice() else { bail!("the toy2d eval needs a plan with one segment (no windows)") };
    let concepts = seg
        .active
        .iter()
        .map(|&id| {
            let c = &plan.conditions[id];
            Toy2dConcept::of(c).ok_or_else(|| candle_core::Error::Msg(format!("`{c}` is not a toy2d concept")))
        })
        .collect::<Result<Vec<_>>>()?;
    let branches: Vec<(f64, Vec<f64>)> = match &seg.combine {
        Combine::Linear { coeffs } => vec![(0.0, coeffs.clone())],
        Combine::Mixture { branches } => branches.iter().map(|b| (b.log_weight, b.coeffs.clone())).collect(),
    };
    Ok(move |x: P2| {
        let lp: Vec<f64> = concepts.iter().map(|&c| toy2d::log_density(c, x, alpha_bar)).collect();
        let terms: Vec<f64> = branches
            .iter()
            .map(|(lw, coeffs)| lw + coeffs.iter().zip(&lp).filter(|(c, _)| **c != 0.0).map(|(c, l)| c * l).sum::<f64>())
            .collect();
        let max = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if !max.is_finite() {
            return max;
        }
        max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
    })
}

/// Runs the evaluation with `model` (toy2d, or a learned model of the same concepts) on the
/// CPU; `models` are the infos the compiler checks against.
pub fn run(model: &dyn Denoiser, models: &[ModelInfo], opts: &Options) -> Result<Report> {
    let start = Instant::now();
    if opts.samples == 0 {
        bail!("zero samples asked")
    }
    let info = model.info();
    let device = Device::Cpu;
    let second = opts.second;
    let models_line = models_line(&info.name, second.map(|m| m.info().name.as_str()));
    let energies = info.energies && second.is_none_or(|m| m.info().energies);
    let mut targets = Vec::new();
    let mut cells = Vec::new();
    for (ci, comp) in opts.compositions.iter().enumerate() {
        let skip_all = comp.mixture && !energies;
        // The target, from the plain reverse-diffusion plan of this composition.
        let plan = compile_one(&source(&models_line, comp, "none", opts.samples, opts.seed, opts.steps), models);
        let plan = match (plan, skip_all) {
            (Ok(p), _) => p,
            (Err(_), true) => {
                for &m in &opts.methods {
                    let cell =
                        Cell { composition: *comp, method: m, source: String::new(), outcome: Outcome::Skipped("needs energies".into()) };
                    if let Some(p) = opts.progress {
                        p(&cell);
                    }
                    cells.push(cell);
                }
                continue;
            }
            (Err(e), false) => return Err(e),
        };
        let alpha_bar = if comp.clean_target {
            1.0
        } else {
            let s = ReverseSampler::new(model.schedule(), &plan.settings.sampler)?;
            s.alpha_bar(s.steps() - 1)
        };
        let log_q = composed_log_density(&plan, alpha_bar)?;
        let density = GridDensity::new(GRID, &GRID.eval(&log_q)).map_err(|e| candle_core::Error::Msg(format!("{}: {e}", comp.name)))?;
        targets.push(Target { composition: *comp, alpha_bar, log_z: density.log_z });
        let stream = |k: u64| opts.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((ci as u64) << 8) ^ k;
        let reference = density.sample(opts.samples, &mut ChaCha8Rng::seed_from_u64(stream(1)));
        for &method in &opts.methods {
            let needs = skip_all || (method.needs_energies() && !energies);
            let (source_text, outcome) = if needs {
                (String::new(), Outcome::Skipped("needs energies".into()))
            } else {
                let t0 = Instant::now();
                let (points, calls, acceptance, text) = match method.mcmc_setting() {
                    None => {
                        let pts = density.sample(opts.samples, &mut ChaCha8Rng::seed_from_u64(stream(2)));
                        (pts, None, None, String::new())
                    }
                    Some(mcmc) => {
                        let text = source(&models_line, comp, mcmc, opts.samples, opts.seed, opts.steps);
                        let plan = compile_one(&text, models)?;
                        let composite = match second {
                            Some(b) => Some(Composite::new(&plan, vec![model, b])?),
                            None => None,
                        };
                        let runner: &dyn Denoiser = match &composite {
                            Some(c) => c,
                            None => model,
                        };
                        let out = execute(&plan, runner, &device, &ExecOptions::default())
                            .map_err(|e| candle_core::Error::from(e).context(format!("{} with {}", comp.name, method.name())))?;
                        let v = out.samples.to_dtype(DType::F64)?.to_vec2::<f64>()?;
                        let pts = v.into_iter().map(|r| [r[0], r[1]]).collect();
                        (pts, Some(out.model_calls), out.acceptance, text)
                    }
                };
                let wall_s = t0.elapsed().as_secs_f64();
                let (in_support, left) = support_fractions(comp.support, &points);
                let m = Measures {
                    log_lik: metrics::mean_log_likelihood(&points, &density, &log_q),
                    mmd2: metrics::mmd2(&points, &reference),
                    in_support,
                    left,
                    acceptance,
                    model_calls: calls,
                    wall_s,
                    points,
                };
                (text, Outcome::Measured(m))
            };
            let cell = Cell { composition: *comp, method, source: source_text, outcome };
            if let Some(p) = opts.progress {
                p(&cell);
            }
            cells.push(cell);
        }
    }
    Ok(Report {
        model: match second {
            None => info.name.clone(),
            Some(b) => format!("a = {}, b = {}", info.name, b.info().name),
        },
        samples: opts.samples,
        seed: opts.seed,
        steps: opts.steps,
        targets,
        cells,
        wall_s: start.elapsed().as_secs_f64(),
    })
}

/// The in-support fraction and, for the bars, the left share of the in-support samples.
fn support_fractions(support: Support, points: &[P2]) -> (f64, Option<f64>) {
    let inside = metrics::fraction(points, |x| support.contains(x));
    let left = (support == Support::Bars).then(|| {
        let l = points.iter().filter(|&&x| in_left_bar(x)).count();
        let r = points.iter().filter(|&&x| in_right_bar(x)).count();
        if l + r == 0 {
            f64::NAN
        } else {
            l as f64 / (l + r) as f64
        }
    });
    (inside, left)
}

/// The report as a text table (what `comp eval toy2d` prints).
pub fn table(r: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "toy2d eval: model {}, {} samples, seed {}, {}-step DDPM (cosine)", r.model, r.samples, r.seed, r.steps);
    let _ = writeln!(
        out,
        "{:<10} {:<8} {:>8} {:>9} {:>8} {:>6} {:>7} {:>6} {:>8}",
        "", "sampler", "log-lik", "MMD²", "support", "left", "accept", "calls", "wall s"
    );
    let mut last = "";
    for c in &r.cells {
        let name = if c.composition.name == last { "" } else { c.composition.name };
        last = c.composition.name;
        match &c.outcome {
            Outcome::Skipped(why) => {
                let _ = writeln!(out, "{name:<10} {:<8} n/a ({why})", c.method.name());
            }
            Outcome::Measured(m) => {
                let pct = |v: f64| format!("{:.1}%", 100.0 * v);
                let _ = writeln!(
                    out,
                    "{name:<10} {:<8} {:>8.3} {:>9.5} {:>8} {:>6} {:>7} {:>6} {:>8}",
                    c.method.name(),
                    m.log_lik,
                    m.mmd2,
                    pct(m.in_support),
                    m.left.map(pct).unwrap_or_else(|| "-".into()),
                    m.acceptance.map(|a| format!("{a:.3}")).unwrap_or_else(|| "-".into()),
                    m.model_calls.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                    if c.method == Method::Exact { "-".into() } else { format!("{:.2}", m.wall_s) },
                );
            }
        }
    }
    let _ = writeln!(out, "total wall time {:.1}s", r.wall_s);
    out
}

/// The report as JSON (`eval.json`).
pub fn json(r: &Report) -> serde_json::Value {
    use serde_json::json;
    let cells: Vec<_> = r
        .cells
        .iter()
        .map(|c| {
            let base = json!({
                "composition": c.composition.name,
                "expression": c.composition.expr,
                "sampler": c.method.name(),
                "mcmc": c.method.mcmc_setting(),
            });
            let mut v = base;
            let extra = match &c.outcome {
                Outcome::Skipped(why) => json!({ "skipped": why }),
                Outcome::Measured(m) => json!({
                    "log_likelihood": finite(m.log_lik),
                    "mmd2": finite(m.mmd2),
                    "in_support": finite(m.in_support),
                    "left": m.left.and_then(finite),
                    "acceptance": m.acceptance,
                    "model_calls": m.model_calls,
                    "wall_time_s": m.wall_s,
                }),
            };
            if let (Some(a), serde_json::Value::Object(b)) = (v.as_object_mut(), extra) {
                a.extend(b);
            }
            v
        })
        .collect();
    let targets: Vec<_> = r
        .targets
        .iter()
        .map(|t| {
            json!({
                "composition": t.composition.name,
                "expression": t.composition.expr,
                "alpha_bar": t.alpha_bar,
                "log_z": t.log_z,
                "support": t.composition.support.describe(),
            })
        })
        .collect();
    json!({
        "benchmark": "toy2d",
        "model": r.model,
        "samples": r.samples,
        "seed": r.seed,
        "steps": r.steps,
        "grid": { "lo": GRID.lo, "hi": GRID.hi, "cells": GRID.n },
        "soften": metrics::SOFTEN,
        "mmd_bandwidth": metrics::MMD_BANDWIDTH,
        "targets": targets,
        "results": cells,
        "wall_time_s": r.wall_s,
    })
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The report's scatter plots (`eval.png`): compositions as rows, methods as columns.
pub fn figure(r: &Report) -> Result<image::RgbImage> {
    let mut rows: Vec<&str> = Vec::new();
    let mut cols: Vec<&str> = Vec::new();
    let mut panels: Vec<Vec<super::figure::Panel>> = Vec::new();
    for c in &r.cells {
        if rows.last() != Some(&c.composition.name) {
            rows.push(c.composition.name);
            panels.push(Vec::new());
        }
        if !cols.contains(&c.method.name()) {
            cols.push(c.method.name());
        }
        let panel = match &c.outcome {
            Outcome::Measured(m) => Some(m.points.clone()),
            Outcome::Skipped(_) => None,
        };
        panels.last_mut().expect("pushed above").push(panel);
    }
    super::figure::figure(&rows, &cols, &panels)
}

//! `comp eval clevr-attr`: Composable Diffusion's attribute experiment (its FFHQ table) on
//! one-object scenes, scored by the project's own detector ([`super::attr_detect`]).
//!
//! For k = 1, 2, 3: seeded sets of k attributes from k different groups (colour, shape, size)
//! are composed with AND (`red AND square AND small`) at the paper's settings (`base null`,
//! scale 7.5). A sample is correct when it holds exactly one object and the object has every
//! attribute of the set. Also `a AND NOT b` (a and b of different groups: correct when the
//! object has a and not b), and a guidance sweep on the 2-attribute sets. Every plan is
//! compiled from `.comp` text through the real front end and sampled by the executor.
//!
//! The cross-model table composes the same attribute sets (i) within one model, (ii) across
//! a colour-only and a shape+size-only model (`c.red AND s.square`), and (iii) clevr-pos
//! positions with clevr-attr attributes (`p.pos(0.3, 0.7) AND a.red`, correct when the one
//! object has the attribute and sits at the position).

use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Result};
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::attr_detect::{validate, Detector, Reading, Validation};
use super::data::SIZE;
use super::eval::Accuracy;
use comp_models::clevr::attr::GROUPS;
use comp_output::{grid, png_bytes, to_image, write_atomic};
use comp_plan::ModelInfo;
use comp_runtime::composite::Composite;
use comp_runtime::{execute, Denoiser, ExecOptions};

/// What to evaluate.
#[derive(Clone, Debug, Serialize)]
pub struct EvalOptions {
    /// Attribute sets per k.
    pub sets: usize,
    /// Samples drawn per set.
    pub per_set: usize,
    /// `ddpm` or `ddim`.
    pub sampler: String,
    pub steps: usize,
    pub scale: f64,
    pub seed: u64,
    /// Guidance scales of the sweep (k = 2); empty for none.
    pub sweep: Vec<f64>,
    /// Whether to evaluate `a AND NOT b`.
    pub negation: bool,
    /// Rendered scenes the detector is validated on.
    pub validation_scenes: usize,
    /// Samples shown in each examples PNG.
    pub examples: usize,
    /// The main table, `AND NOT` and the sweep with every attribute composed with the
    /// classifier's (`a.red AND clf.red`): the model guided both ways (needs the classifier).
    pub guided: bool,
    /// The table of classifier-free vs classifier vs both (needs the classifier).
    pub guidance_table: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            sets: 50,
            per_set: 2,
            sampler: "ddim".into(),
            steps: 50,
            scale: 7.5,
            seed: 0,
            sweep: vec![1.0, 3.0, 7.5, 12.0],
            negation: true,
            validation_scenes: 1000,
            examples: 16,
            guided: false,
            guidance_table: false,
        }
    }
}

/// One row of the composed table.
#[derive(Clone, Debug, Serialize)]
pub struct KResult {
    pub k: usize,
    pub accuracy: Accuracy,
}

/// A point of the guidance sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SweepPoint {
    pub scale: f64,
    pub k: usize,
    pub accuracy: Accuracy,
}

/// `a AND NOT b`: both conditions met, and each separately.
#[derive(Clone, Debug, Serialize)]
pub struct NegationResult {
    pub accuracy: Accuracy,
    pub has_a: Accuracy,
    pub lacks_b: Accuracy,
}

/// Everything `comp eval clevr-attr` measured (written as `eval.json`).
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    pub options: EvalOptions,
    pub detector: Detector,
    pub validation: Validation,
    pub composed: Vec<KResult>,
    pub negation: Option<NegationResult>,
    pub sweep: Vec<SweepPoint>,
    pub cross: Option<CrossReport>,
    pub guidance: Vec<GuidanceRow>,
    /// clevr-pos's `pos(x, y)` AND clevr-attr-clf's attribute (with `--cross --classifier`).
    pub positions_clf: Option<PositionRow>,
    pub model_calls: usize,
    pub wall_s: f64,
}

/// One model of a composition, under the alias its terms are written with.
pub struct Member<'a> {
    pub alias: String,
    pub model: &'a dyn Denoiser,
}

/// A way to compose: one model (terms written bare), or several (`alias.term`, `base` the
/// first model's null).
pub struct Setup<'a> {
    pub members: Vec<Member<'a>>,
    /// The alias of a classifier among the members whose term joins each attribute's:
    /// `a.red` is written `(a.red AND clf.red)`.
    pub guide: Option<&'static str>,
}

impl<'a> Setup<'a> {
    /// One model, terms written bare.
    pub fn single(model: &'a dyn Denoiser) -> Self {
        Setup { members: vec![Member { alias: String::new(), model }], guide: None }
    }

    /// `model` (alias `a`) with each attribute's term joined by the classifier's (alias `clf`).
    pub fn guided(model: &'a dyn Denoiser, clf: &'a dyn Denoiser) -> Self {
        Setup { members: vec![Member { alias: "a".into(), model }, Member { alias: "clf".into(), model: clf }], guide: Some("clf") }
    }

    /// The `model` and `base` lines of a script.
    fn header(&self) -> String {
        if self.members.len() == 1 {
            return format!("model {}\nbase null\n", self.members[0].model.info().name);
        }
        let mut h: String = self.members.iter().map(|m| format!("model {} = {}\n", m.alias, m.model.info().name)).collect();
        h.push_str(&format!("base {}.null\n", self.members[0].alias));
        h
    }

    /// The term of concept `name` (with `args`, e.g. `(0.3, 0.7)`): from the first model that
    /// knows it, prefixed by its alias when there are several.
    fn term(&self, name: &str, args: &str) -> Result<String> {
        let Some(m) = self.members.iter().find(|m| m.model.info().concepts.iter().any(|c| c.name == name)) else {
            candle_core::bail!("no model of this composition knows `{name}`")
        };
        let term = if self.members.len() == 1 { format!("{name}{args}") } else { format!("{}.{name}{args}", m.alias) };
        Ok(match self.guide {
            Some(g) if m.alias != g => format!("({term} AND {g}.{name}{args})"),
            _ => term,
        })
    }

    /// The `.comp` text of one evaluation sample.
    fn script(&self, expr: &str, opts: &EvalOptions, scale: f64, seed: u64) -> String {
        format!(
            "{}sampler {}(steps: {})\nscale {scale}\nseed {seed}\nsamples {}\nsample s = {expr}\n",
            self.header(),
            opts.sampler,
            opts.steps,
            opts.per_set
        )
    }

    /// Compiles `text` against these models and samples it: host images and model calls.
    fn sample(&self, device: &Device, text: &str) -> Result<(Vec<Vec<f32>>, usize)> {
        let infos: Vec<ModelInfo> = self.members.iter().map(|m| m.model.info().clone()).collect();
        let plan = crate::compile_one(text, &infos)?;
        let out = if self.members.len() == 1 {
            execute(&plan, self.members[0].model, device, &ExecOptions::default())?
        } else {
            let composite = Composite::new(&plan, self.members.iter().map(|m| m.model).collect())?;
            execute(&plan, &composite, device, &ExecOptions::default())?
        };
        let data = out.samples.flatten_all()?.to_vec1::<f32>()?;
        Ok((data.chunks_exact(3 * SIZE * SIZE).map(<[f32]>::to_vec).collect(), out.model_calls))
    }
}

/// `k` attributes of `k` different groups (groups and values uniform), in group order.
pub fn attribute_set(rng: &mut ChaCha8Rng, k: usize, groups: &[usize]) -> Vec<&'static str> {
    let mut gs = groups.to_vec();
    let mut picked = Vec::new();
    for _ in 0..k.min(gs.len()) {
        picked.push(gs.remove(rng.random_range(0..gs.len())));
    }
    picked.sort();
    picked.iter().map(|&g| GROUPS[g].1[rng.random_range(0..GROUPS[g].1.len())]).collect()
}

/// The seeded attribute sets of size `k` (over all three groups).
pub fn sets_for(seed: u64, k: usize, n: usize) -> Vec<Vec<&'static str>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(1000 * k as u64));
    (0..n).map(|_| attribute_set(&mut rng, k, &[0, 1, 2])).collect()
}

/// Samples kept for pictures.
type Examples = Vec<Vec<f32>>;

/// Samples one AND-composition per set; the accuracy, the first samples, the model calls.
fn run_sets(
    setup: &Setup,
    device: &Device,
    opts: &EvalOptions,
    sets: &[Vec<&str>],
    scale: f64,
    stream: u64,
    det: &Detector,
) -> Result<(Accuracy, Examples, usize)> {
    let and = |set: &[&str]| -> Result<String> { Ok(set.iter().map(|a| setup.term(a, "")).collect::<Result<Vec<_>>>()?.join(" AND ")) };
    run_exprs(setup, device, opts, sets, scale, stream, det, &and)
}

/// [`run_sets`] with the expression of each set written by `expr`.
#[allow(clippy::too_many_arguments)]
fn run_exprs(
    setup: &Setup,
    device: &Device,
    opts: &EvalOptions,
    sets: &[Vec<&str>],
    scale: f64,
    stream: u64,
    det: &Detector,
    expr: &dyn Fn(&[&str]) -> Result<String>,
) -> Result<(Accuracy, Examples, usize)> {
    let (mut correct, mut total, mut calls) = (0, 0, 0);
    let mut examples = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let seed = opts.seed.wrapping_add(stream << 32).wrapping_add(i as u64);
        let (imgs, c) = setup.sample(device, &setup.script(&expr(set)?, opts, scale, seed))?;
        calls += c;
        for img in imgs {
            let r = det.read(&img);
            correct += set.iter().all(|a| r.has(a)) as usize;
            total += 1;
            if examples.len() < opts.examples {
                examples.push(img);
            }
        }
    }
    Ok((Accuracy::new(correct, total), examples, calls))
}

/// `a AND NOT b` over seeded pairs of attributes of different groups.
fn run_negation(
    setup: &Setup,
    device: &Device,
    opts: &EvalOptions,
    det: &Detector,
    calls: &mut usize,
) -> Result<(NegationResult, Examples)> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(7000));
    let (mut both, mut a_ok, mut b_ok, mut total) = (0, 0, 0, 0);
    let mut examples = Vec::new();
    for i in 0..opts.sets {
        let mut ab = attribute_set(&mut rng, 2, &[0, 1, 2]);
        if rng.random_bool(0.5) {
            ab.swap(0, 1);
        }
        let expr = format!("{} AND NOT {}", setup.term(ab[0], "")?, setup.term(ab[1], "")?);
        let text = setup.script(&expr, opts, opts.scale, opts.seed.wrapping_add(7 << 32).wrapping_add(i as u64));
        let (imgs, c) = setup.sample(device, &text)?;
        *calls += c;
        for img in imgs {
            let r = det.read(&img);
            let (a, b) = (r.has(ab[0]), r.objects == 1 && !r.has(ab[1]));
            both += (a && b) as usize;
            a_ok += a as usize;
            b_ok += b as usize;
            total += 1;
            if examples.len() < opts.examples {
                examples.push(img);
            }
        }
    }
    let result =
        NegationResult { accuracy: Accuracy::new(both, total), has_a: Accuracy::new(a_ok, total), lacks_b: Accuracy::new(b_ok, total) };
    Ok((result, examples))
}

/// Runs the evaluation of one model; writes `eval.json` and `examples_k{k}.png`,
/// `examples_not.png` into `out` when given. `progress` hears one line per finished group.
pub fn evaluate(
    model: &dyn Denoiser,
    device: &Device,
    opts: &EvalOptions,
    cross: Option<&CrossModels>,
    classifier: Option<&dyn Denoiser>,
    out: Option<&Path>,
    progress: &mut dyn FnMut(&str),
) -> Result<EvalReport> {
    let started = Instant::now();
    let cross_models = cross;
    let det = Detector::default();
    let validation = validate(&det, opts.validation_scenes, opts.seed ^ 0xA77);
    progress(&format!(
        "detector on {} rendered scenes: all three attributes right in {:.1}% (colour {:.1}%, shape {:.1}%, size {:.1}%)",
        validation.scenes,
        100.0 * validation.all,
        100.0 * validation.colour,
        100.0 * validation.shape,
        100.0 * validation.size
    ));
    let setup = match (opts.guided, classifier) {
        (true, Some(clf)) => Setup::guided(model, clf),
        (true, None) => candle_core::bail!("a guided evaluation needs the classifier"),
        (false, _) => Setup::single(model),
    };
    let mut calls = 0;
    let mut composed = Vec::new();
    for k in 1..=3 {
        let sets = sets_for(opts.seed, k, opts.sets);
        let (acc, examples, c) = run_sets(&setup, device, opts, &sets, opts.scale, k as u64, &det)?;
        calls += c;
        progress(&format!("k = {k}: {:.1}% ({}/{})", acc.percent, acc.correct, acc.samples));
        if let Some(dir) = out {
            write_examples(&dir.join(format!("examples_k{k}.png")), &examples)?;
        }
        composed.push(KResult { k, accuracy: acc });
    }
    let negation = if opts.negation {
        let (n, examples) = run_negation(&setup, device, opts, &det, &mut calls)?;
        progress(&format!("a AND NOT b: {:.1}%", n.accuracy.percent));
        if let Some(dir) = out {
            write_examples(&dir.join("examples_not.png"), &examples)?;
        }
        Some(n)
    } else {
        None
    };
    let mut sweep = Vec::new();
    let sets2 = sets_for(opts.seed, 2, opts.sets);
    for &scale in &opts.sweep {
        let (acc, _, c) = run_sets(&setup, device, opts, &sets2, scale, 2, &det)?;
        calls += c;
        progress(&format!("scale {scale}, k = 2: {:.1}%", acc.percent));
        sweep.push(SweepPoint { scale, k: 2, accuracy: acc });
    }
    let cross = match cross {
        Some(m) => Some(evaluate_cross(model, m, device, opts, &det, &mut calls, out, progress)?),
        None => None,
    };
    let guidance = match classifier.filter(|_| opts.guidance_table) {
        Some(clf) => evaluate_guidance(model, clf, device, opts, &det, &mut calls, progress)?,
        None => vec![],
    };
    // clevr-pos guided by the classifier: "an object at (x, y) AND clf.red".
    let positions_clf = match (classifier.filter(|_| opts.guidance_table), cross_models) {
        (Some(clf), Some(m)) => {
            let setup = Setup {
                members: vec![Member { alias: "p".into(), model: m.positions }, Member { alias: "clf".into(), model: clf }],
                guide: None,
            };
            let (row, examples) = position_and_attribute(&setup, "clf", device, opts, &det, &mut calls)?;
            progress(&format!(
                "pos AND clf.attribute: {:.1}% (attribute {:.1}%, position {:.1}%)",
                row.both.percent, row.attribute.percent, row.position.percent
            ));
            if let Some(dir) = out {
                write_examples(&dir.join("examples_pos_clf.png"), &examples)?;
            }
            Some(row)
        }
        _ => None,
    };
    let report = EvalReport {
        options: opts.clone(),
        detector: det,
        validation,
        composed,
        negation,
        sweep,
        cross,
        guidance,
        positions_clf,
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

/// The separately trained models of the cross-model table.
pub struct CrossModels<'a> {
    /// A colour-only model (`comp train clevr-attr --attributes color`).
    pub colour: &'a dyn Denoiser,
    /// A shape+size-only model (`--attributes shape,size`).
    pub shape_size: &'a dyn Denoiser,
    /// clevr-pos.
    pub positions: &'a dyn Denoiser,
}

/// One row of the cross-model table: the same sets composed within one model and across two.
#[derive(Clone, Debug, Serialize)]
pub struct CrossRow {
    pub k: usize,
    pub within: Accuracy,
    pub across: Accuracy,
}

/// `p.pos(x, y) AND a.ATTR` with clevr-pos and clevr-attr.
#[derive(Clone, Debug, Serialize)]
pub struct PositionRow {
    /// The one object at the position with the attribute.
    pub both: Accuracy,
    /// The attribute holds (one object).
    pub attribute: Accuracy,
    /// An object at the position (clevr-pos's detector).
    pub position: Accuracy,
}

/// The cross-model table.
#[derive(Clone, Debug, Serialize)]
pub struct CrossReport {
    /// (i) within clevr-attr vs (ii) across the colour and shape+size models, on sets of a
    /// colour and a shape or size (k = 2) and of all three (k = 3).
    pub rows: Vec<CrossRow>,
    /// (iii) clevr-pos position AND clevr-attr attribute.
    pub positions: PositionRow,
}

#[allow(clippy::too_many_arguments)]
fn evaluate_cross(
    model: &dyn Denoiser,
    m: &CrossModels,
    device: &Device,
    opts: &EvalOptions,
    det: &Detector,
    calls: &mut usize,
    out: Option<&Path>,
    progress: &mut dyn FnMut(&str),
) -> Result<CrossReport> {
    let within = Setup::single(model);
    let across = Setup {
        members: vec![Member { alias: "c".into(), model: m.colour }, Member { alias: "s".into(), model: m.shape_size }],
        guide: None,
    };
    let mut rows = Vec::new();
    for k in 2..=3 {
        // Sets that need both models: a colour, and a shape or size (or both).
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(5000 + k as u64));
        let sets: Vec<Vec<&str>> = (0..opts.sets)
            .map(|_| {
                let mut s = vec![GROUPS[0].1[rng.random_range(0..8)]];
                s.extend(attribute_set(&mut rng, k - 1, &[1, 2]));
                s
            })
            .collect();
        let (w, _, c1) = run_sets(&within, device, opts, &sets, opts.scale, 50 + k as u64, det)?;
        let (a, examples, c2) = run_sets(&across, device, opts, &sets, opts.scale, 50 + k as u64, det)?;
        *calls += c1 + c2;
        progress(&format!("cross k = {k}: within {:.1}%, across {:.1}%", w.percent, a.percent));
        if let Some(dir) = out {
            write_examples(&dir.join(format!("examples_cross_k{k}.png")), &examples)?;
        }
        rows.push(CrossRow { k, within: w, across: a });
    }
    // (iii) A position from clevr-pos and an attribute from clevr-attr.
    let setup = Setup { members: vec![Member { alias: "p".into(), model: m.positions }, Member { alias: "a".into(), model }], guide: None };
    let (positions, examples) = position_and_attribute(&setup, "a", device, opts, det, calls)?;
    progress(&format!(
        "pos AND attribute: {:.1}% (attribute {:.1}%, position {:.1}%)",
        positions.both.percent, positions.attribute.percent, positions.position.percent
    ));
    if let Some(dir) = out {
        write_examples(&dir.join("examples_pos_attr.png"), &examples)?;
    }
    Ok(CrossReport { rows, positions })
}

/// `p.pos(x, y) AND ALIAS.attribute` over seeded positions and single attributes: the one
/// object has the attribute and sits at the position (clevr-pos's detector).
fn position_and_attribute(
    setup: &Setup,
    alias: &str,
    device: &Device,
    opts: &EvalOptions,
    det: &Detector,
    calls: &mut usize,
) -> Result<(PositionRow, Examples)> {
    let pos_det = super::detect::Detector::default();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(9000));
    let (mut both, mut attr_ok, mut pos_ok, mut total) = (0, 0, 0, 0);
    let mut examples = Vec::new();
    for i in 0..opts.sets {
        let p = super::data::random_positions(&mut rng, 1)[0];
        let a = attribute_set(&mut rng, 1, &[0, 1, 2])[0];
        let expr = format!("p.pos({:.4}, {:.4}) AND {alias}.{a}", p[0], p[1]);
        let text = setup.script(&expr, opts, opts.scale, opts.seed.wrapping_add(9 << 32).wrapping_add(i as u64));
        let (imgs, c) = setup.sample(device, &text)?;
        *calls += c;
        for img in imgs {
            let r: Reading = det.read(&img);
            let at = pos_det.object_at(&img, p);
            both += (r.has(a) && at) as usize;
            attr_ok += r.has(a) as usize;
            pos_ok += at as usize;
            total += 1;
            if examples.len() < opts.examples {
                examples.push(img);
            }
        }
    }
    Ok((
        PositionRow { both: Accuracy::new(both, total), attribute: Accuracy::new(attr_ok, total), position: Accuracy::new(pos_ok, total) },
        examples,
    ))
}

fn write_examples(path: &Path, examples: &[Vec<f32>]) -> Result<()> {
    let imgs: Vec<RgbImage> = examples.iter().map(|img| to_image(img, [1, 3, SIZE, SIZE], 0)).collect();
    let bytes = png_bytes(&grid(&imgs))?;
    write_atomic(path, &bytes).map_err(|e| candle_core::Error::Msg(format!("writing {}: {e}", path.display())))
}

/// Scales of the guidance comparison (the paper's 7.5 and two gentler ones).
pub const GUIDANCE_SCALES: [f64; 3] = [1.0, 3.0, 7.5];

/// One cell group of the guidance comparison: a way of guiding at a scale, over the
/// 1-, 2- and 3-attribute sets.
#[derive(Clone, Debug, Serialize)]
pub struct GuidanceRow {
    /// `classifier-free` (clevr-attr's own terms), `classifier` (clevr-attr's null guided by
    /// clevr-attr-clf's terms) or `both` (each attribute from both).
    pub method: String,
    pub scale: f64,
    /// Accuracy per number of attributes (1, 2, 3).
    pub accuracy: Vec<Accuracy>,
    /// Wall seconds per sampling step per sample, and model calls per step.
    pub seconds_per_step: f64,
    pub calls_per_step: f64,
}

/// How one guidance method writes an attribute set as an expression.
type SetWriter<'a> = Box<dyn Fn(&[&str]) -> Result<String> + 'a>;

/// Classifier-free vs classifier guidance vs both, on the sets of the main table (the first
/// `opts.sets / 2` of each k, at least 1), at [`GUIDANCE_SCALES`].
fn evaluate_guidance(
    model: &dyn Denoiser,
    clf: &dyn Denoiser,
    device: &Device,
    opts: &EvalOptions,
    det: &Detector,
    calls: &mut usize,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<GuidanceRow>> {
    let free = Setup::single(model);
    let guided = Setup { members: vec![Member { alias: "a".into(), model }, Member { alias: "clf".into(), model: clf }], guide: None };
    let n = (opts.sets / 2).max(1);
    let sets: Vec<Vec<Vec<&str>>> = (1..=3).map(|k| sets_for(opts.seed, k, n)).collect();
    let join = |set: &[&str], f: &dyn Fn(&str) -> String| set.iter().map(|a| f(a)).collect::<Vec<_>>().join(" AND ");
    let mut rows = Vec::new();
    for &scale in &GUIDANCE_SCALES {
        for method in ["classifier-free", "classifier", "both"] {
            let (setup, expr): (&Setup, SetWriter<'_>) = match method {
                "classifier-free" => (&free, Box::new(|s: &[&str]| Ok(join(s, &|a| a.to_string())))),
                "classifier" => (&guided, Box::new(|s: &[&str]| Ok(join(s, &|a| format!("clf.{a}"))))),
                _ => (&guided, Box::new(|s: &[&str]| Ok(join(s, &|a| format!("a.{a} AND clf.{a}"))))),
            };
            let started = Instant::now();
            let (mut accs, mut c) = (Vec::new(), 0);
            for (k, s) in sets.iter().enumerate() {
                let (acc, _, ck) = run_exprs(setup, device, opts, s, scale, 70 + k as u64, det, &*expr)?;
                accs.push(acc);
                c += ck;
            }
            *calls += c;
            let steps = (3 * n * opts.steps) as f64;
            let row = GuidanceRow {
                method: method.into(),
                scale,
                accuracy: accs,
                seconds_per_step: started.elapsed().as_secs_f64() / (steps * opts.per_set as f64),
                calls_per_step: c as f64 / steps,
            };
            progress(&format!(
                "{method} guidance at scale {scale}: {:.1}% / {:.1}% / {:.1}% ({:.2} ms per step per sample)",
                row.accuracy[0].percent,
                row.accuracy[1].percent,
                row.accuracy[2].percent,
                1e3 * row.seconds_per_step
            ));
            rows.push(row);
        }
    }
    Ok(rows)
}

//! The stages of [`crate::compile`], one function each, in the order they run:
//!
//! | stage | function | what it adds |
//! | --- | --- | --- |
//! | file | [`read_file`] | the model (E0101, E0117), the `let` names, the top-level settings |
//! | lets | [`compile_lets`] | each `let` resolved, duplicates (E0108), cycles (E0109), size, inlined, placement checks |
//! | samples | [`compile_sample`] | each `sample` resolved, its settings, base and checks, simplified, lowered, checked (finite coefficients E0004, model-call budget E0124, NOT E0118, total weight E0123), linted |
//! | file lints | [`lint_file`] | unused lets (W0003), lets shadowing concepts (W0004) |
//! | finish | [`finish`] | every problem once, in source order; the plan when none is an error |
//!
//! Every stage reports into one list of diagnostics and goes on past errors, so that a file's
//! problems are all found in one run.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use comp_grammar::ast::{Item, Program, Sample, Setting};
use comp_grammar::{Diagnostic, Span};

use crate::check::lets::{check_duplicate, LetDef, LetTable};
use crate::check::model::FileModel;
use crate::ir::{Cond, Node};
use crate::plan::{self, Plan, SamplePlan};
use crate::resolve::{resolve, Scope};
use crate::settings::{self, BaseSpec, Written};
use crate::simplified::SimplifiedSample;
use crate::source_map::SourceMap;
use crate::{check, lints, lower, simplify, Compiled, ModelInfo, Outcome};

/// What the whole file sets: the models, the names of its lets, the top-level settings.
pub struct File<'a> {
    /// The primary model (the first written; see [`check::model`]); `None` when it is unknown.
    pub model: Option<&'a ModelInfo>,
    /// Every model of the file, in the order written.
    pub models: Vec<FileModel<'a>>,
    pub let_names: BTreeSet<String>,
    pub settings: Written,
    /// The command line's settings ([`crate::overrides`]), over every sample's.
    pub overrides: Written,
}

impl File<'_> {
    pub fn scope(&self) -> Scope<'_> {
        Scope { model: self.model, models: &self.models, lets: &self.let_names }
    }

    /// Whether the file composes several models.
    pub fn several(&self) -> bool {
        self.models.len() > 1
    }

    /// The plan's table of models: empty with one model (its plans are as they always were).
    fn plan_models(&self) -> Vec<plan::PlanModel> {
        if !self.several() {
            return vec![];
        }
        self.models
            .iter()
            .map(|f| plan::PlanModel {
                alias: f.alias.clone(),
                name: f.info.map_or(String::new(), |m| m.name.clone()),
                classifier: f.info.is_some_and(|m| m.classifier),
            })
            .collect()
    }
}

/// The file's lets, checked: the table, their sizes, and each inlined (lets that are too large
/// or on a cycle are left out).
pub struct Lets {
    pub table: LetTable,
    pub sizes: HashMap<String, check::size::Measure>,
    pub inlined: simplify::Inlined,
}

/// What the samples produced so far.
#[derive(Default)]
pub struct Samples {
    pub plans: Vec<SamplePlan>,
    pub simplified: Vec<SimplifiedSample>,
    /// Where each sample's terms went in its plan.
    pub source_map: SourceMap,
    /// Every expression the file evaluates (samples and bases), for the unused-let lint.
    pub roots: Vec<Node>,
    /// Sample names seen, for E0110's duplicate check.
    seen: BTreeMap<String, Span>,
}

/// Stage 1: the model the file names, its let names and its top-level settings.
pub fn read_file<'a>(program: &Program, models: &'a [ModelInfo], diags: &mut Vec<Diagnostic>) -> File<'a> {
    let models = check::model::find_models(program, models, diags);
    // Settings and defaults are the primary model's; with a model unknown, nothing resolves.
    let model = if models.iter().all(|f| f.info.is_some()) { models.first().and_then(|f| f.info) } else { None };
    let let_names = program
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Let(l) => Some(l.name.name.clone()),
            _ => None,
        })
        .collect();
    let mut file = File { model, models, let_names, settings: Written::default(), overrides: Written::default() };
    check::model::check_aliases(&file.models, &file.let_names, program, diags);
    let top: Vec<&Setting> = program.items.iter().filter_map(|i| if let Item::Setting(s) = i { Some(s) } else { None }).collect();
    file.settings = settings::read(&top, &file.scope(), true, diags);
    file
}

/// Stage 2: every `let`, resolved and checked, then inlined into one another.
pub fn compile_lets(program: &Program, file: &File, diags: &mut Vec<Diagnostic>) -> Lets {
    let scope = file.scope();
    let mut seen = BTreeMap::new();
    let mut defs = Vec::new();
    for item in &program.items {
        if let Item::Let(l) = item {
            let node = resolve(&l.expr, &scope, diags);
            lints::zero_weight::check(&node, diags);
            if !check_duplicate(&mut seen, "let", &l.name, diags) {
                defs.push(LetDef { name: l.name.clone(), node });
            }
        }
    }
    let table = check::lets::build(defs, diags);
    let mut order = simplify::inline_lets::topo_order(&table);
    let sizes = check::size::measure_lets(&table, &order);
    order.retain(|name| {
        let def = &table.defs[name];
        check::size::check_size(&def.node, &sizes, def.name.span, diags)
    });
    let inlined = simplify::inline_lets::inline_all(&table, &order);
    for name in &order {
        let node = &inlined[name];
        check::or_placement::check_or_placement(node, diags);
        check::windows::check_nested_windows(node, diags);
    }
    Lets { table, sizes, inlined }
}

/// Stage 3, per `sample`: resolve its expression and `with` settings, check its base and
/// terms, simplify, lint and lower it. A sample with errors is checked as far as is useful
/// and not lowered.
pub fn compile_sample(sample: &Sample, file: &File, lets: &Lets, out: &mut Samples, diags: &mut Vec<Diagnostic>) {
    let scope = file.scope();
    let before = diags.len();
    let node = resolve(&sample.expr, &scope, diags);
    lints::zero_weight::check(&node, diags);
    let overrides: Vec<&Setting> = sample.overrides.iter().collect();
    let with = settings::read(&overrides, &scope, false, diags);
    out.roots.push(node.clone());
    if let Some(BaseSpec::Expr(b, _)) = &with.base {
        out.roots.push(b.clone());
    }
    let duplicate = check_duplicate(&mut out.seen, "sample", &sample.name, diags);
    let Some(model) = file.model else { return };
    if !check::size::check_size(&node, &lets.sizes, sample.expr.span, diags) {
        return;
    }
    if file.several() && !with.base_written && !file.settings.base_written {
        diags.push(check::several::missing_base(&file.models, sample.name.span));
        return;
    }
    let resolved = settings::resolve_settings(&file.overrides, &file.settings, &with, model);
    // The base as the source map sees it: its expression, lets inlined, or the `null` written.
    let mut base_inlined = None;
    let base: Vec<(Cond, f64)> = match &resolved.base {
        BaseSpec::None => vec![],
        BaseSpec::Null(span) => {
            base_inlined = span.map(|span| Node::Cond { cond: Cond::Null { model: None }, span, site: None });
            vec![(Cond::Null { model: None }, 1.0)]
        }
        BaseSpec::Expr(b, span) => {
            if !check::size::check_size(b, &lets.sizes, *span, diags) {
                return;
            }
            base_inlined = Some(simplify::inline_lets::inline_lets(b, &lets.inlined));
            check::base::check_base(base_inlined.as_ref().expect("set above"), diags);
            let terms = simplify::linear_terms(b, &lets.inlined);
            check::classifier::check_base(&terms, &file.models, *span, diags);
            terms
        }
    };
    let s = simplify::simplify(&node, &lets.inlined);
    if file.several() {
        check::several::check_energies(&s.inlined, &base, &resolved.settings, &file.models, sample.expr.span, diags);
    }
    check::or_placement::check_or_placement(&s.inlined, diags);
    check::windows::check_nested_windows(&s.inlined, diags);
    if s.inlined.has_error() || diags[before..].iter().any(Diagnostic::is_error) {
        return; // the checks below would only repeat what is wrong
    }
    let scale = resolved.settings.scale;
    let lowered = lower::lower(&sample.name.name, &model.name, file.plan_models(), resolved.settings, &base, &s.stretches);
    if check::finite::check_finite(&lowered, &s.inlined, sample.expr.span, diags) {
        return; // E0004: the checks below would only see infinities
    }
    check::cost::check_model_calls(&lowered, sample.expr.span, diags);
    check::negation::check_negation(&s.dnf, diags);
    if !diags[before..].iter().any(Diagnostic::is_error) {
        check::total_weight::check_total_weight(&s.stretches, scale, &base, file.several(), sample.expr.span, diags);
    }
    lints::duplicate_terms::check(&s.distributed, diags);
    lints::oversaturated_guidance::check(&s.stretches, scale, !base.is_empty() && !file.several(), sample.expr.span, diags);
    lints::inactive_stretch::check(&s.stretches, sample.expr.span, diags);
    if duplicate {
        return;
    }
    let roots: Vec<&Node> = std::iter::once(&s.inlined).chain(&base_inlined).collect();
    let model_name = |alias: Option<&str>| match alias {
        Some(a) => file.models.iter().find(|f| f.alias == a).and_then(|f| f.info).map_or(String::new(), |m| m.name.clone()),
        None => model.name.clone(),
    };
    out.source_map.add_sample(&lowered, &roots, &model_name);
    out.plans.push(lowered);
    out.simplified.push(SimplifiedSample { name: sample.name.name.clone(), dnf: s.dnf, segments: s.stretches });
}

/// Stage 4: the lints that need the whole file (and a known model).
pub fn lint_file(file: &File, lets: &Lets, samples: &Samples, ctx: &crate::Context, diags: &mut Vec<Diagnostic>) {
    if let Some(limits) = ctx.text_limits {
        let mut uses: Vec<&Node> = samples.roots.iter().chain(lets.table.defs.values().map(|d| &d.node)).collect();
        if let Some(BaseSpec::Expr(node, _)) = &file.settings.base {
            uses.push(node);
        }
        lints::prompt_too_long::check(&uses, file.model, &file.models, limits, ctx.source, diags);
    }
    if file.model.is_some() {
        let mut roots = Vec::new();
        if let Some(BaseSpec::Expr(node, _)) = &file.settings.base {
            roots.push(node.clone());
        }
        roots.extend(samples.roots.iter().cloned());
        lints::unused_let::check(&lets.table, &roots, diags);
        for m in file.models.iter().filter_map(|f| f.info) {
            lints::shadowed_concept::check(&lets.table, m, diags);
        }
    }
    // An unused model is only worth saying of a file whose terms all resolved: a term with an
    // error may have been meant for it.
    if file.several() && !diags.iter().any(Diagnostic::is_error) {
        let mut uses: Vec<&Node> = samples.roots.iter().chain(lets.table.defs.values().map(|d| &d.node)).collect();
        if let Some(BaseSpec::Expr(node, _)) = &file.settings.base {
            uses.push(node);
        }
        lints::unused_model::check(&file.models, &uses, diags);
    }
}

/// Stage 5: each problem once (a let used twice is checked twice), in source order; the plan
/// when none is an error, the file's or the overrides' (`overrides`, spans in the command line).
pub fn finish(samples: Samples, diags: Vec<Diagnostic>, overrides: Vec<Diagnostic>) -> Outcome<Compiled> {
    // A set of keys, not a scan of what was kept: a file can have thousands of diagnostics.
    let mut seen = std::collections::HashSet::new();
    let mut diagnostics: Vec<Diagnostic> = diags.into_iter().filter(|d| seen.insert((d.code, d.span(), d.message.clone()))).collect();
    diagnostics.sort_by_key(|d| (d.span().start, d.span().end));
    let mut source_map = samples.source_map;
    source_map.finish();
    let value = (!diagnostics.iter().chain(&overrides).any(Diagnostic::is_error)).then_some(Compiled {
        plan: Plan { version: plan::PLAN_VERSION, samples: samples.plans },
        simplified: samples.simplified,
        source_map,
    });
    Outcome { value, diagnostics, override_diagnostics: overrides }
}

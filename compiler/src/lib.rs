//! `comp-compiler`: from a parsed `.comp` program to a [`Plan`].
//!
//! | stage | module | from → to |
//! | --- | --- | --- |
//! | choose the model | [`check::model`] | `model NAME` → [`ModelInfo`] (E0101, E0117) |
//! | read settings | [`settings`] | top-level and `with` settings → typed values |
//! | resolve names | [`resolve`] | AST expression → [`ir::Node`] (E0103–E0107, E0111, E0112, E0115, E0120) |
//! | lets | [`check::lets`] | duplicates (E0108), cycles (E0109) |
//! | checks | [`check`] | E0110, E0115, E0118, E0121, E0122, E0123 |
//! | simplify | [`simplify`] | [`ir::Node`] → [`ir::Dnf`] → segments ([`ir::Stretch`]) |
//! | lints | [`lints`] | W0001–W0006 |
//! | lower | [`lower`] | segments → [`plan::SamplePlan`] |
//! | format | [`fmt`] | source + tree → canonical text (`comp fmt`) |
//! | validate | [`validate`] | a plan read from JSON → every problem the compiler would have refused |
//!
//! Every problem in a file is reported in one run; the plan exists only when none is an
//! error.
//!
//! ```
//! use comp_compiler::{compile, ModelInfo, DefaultBase, Concept};
//! let concept = |n: &str| Concept { name: n.into(), description: String::new(), params: vec![] };
//! let toy = ModelInfo {
//!     name: "toy2d".into(), description: String::new(), data_shape: vec![2],
//!     concepts: vec![concept("ring"), concept("bar")], text: false, energies: true,
//!     default_scale: 1.0, default_base: DefaultBase::None, default_steps: 100, max_steps: 100,
//!     default_samples: 1000, extra_settings: vec![],
//! };
//! let program = comp_grammar::parse("model toy2d\nsample product = ring AND bar\n").unwrap();
//! let out = compile(&program, &[toy]);
//! let compiled = out.value.expect("no errors");
//! assert_eq!(compiled.simplified[0].to_string(), "product = 1 * ring AND 1 * bar");
//! ```
#![forbid(unsafe_code)]

pub mod check;
pub mod fmt;
pub mod ir;
pub mod lints;
pub mod lower;
pub mod model_info;
pub mod plan;
mod render;
pub mod resolve;
pub mod settings;
pub mod simplified;
pub mod simplify;
pub mod validate;
mod suggest;

pub use fmt::format;
pub use model_info::{Concept, DefaultBase, ModelInfo, Param, ParamKind};
pub use plan::Plan;
pub use render::model_calls;
pub use simplified::SimplifiedSample;

use check::lets::{check_duplicate, LetDef};
use comp_grammar::ast::{Item, Program, Setting};
use comp_grammar::Diagnostic;
use ir::{Cond, Node};
use resolve::{resolve, Scope};
use settings::BaseSpec;
use std::collections::{BTreeMap, BTreeSet};

/// A stage's result: a value when there are no errors, and every diagnostic (warnings too).
#[derive(Clone, Debug)]
pub struct Outcome<T> {
    /// `None` iff some diagnostic is an error.
    pub value: Option<T>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A compiled file: the plan, and each sample's canonical form (for `--emit simplified`).
#[derive(Clone, Debug)]
pub struct Compiled {
    pub plan: Plan,
    pub simplified: Vec<SimplifiedSample>,
}

/// Every diagnostic of compiling `program` (a convenience over [`compile`]).
pub fn check(program: &Program, models: &[ModelInfo]) -> Vec<Diagnostic> {
    compile(program, models).diagnostics
}

/// Checks `program` against the model it names among `models` and compiles it to a plan.
pub fn compile(program: &Program, models: &[ModelInfo]) -> Outcome<Compiled> {
    let mut diags = Vec::new();
    let model = check::model::find_model(program, models, &mut diags);
    let let_names: BTreeSet<String> = program
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Let(l) => Some(l.name.name.clone()),
            _ => None,
        })
        .collect();
    let scope = Scope { model, lets: &let_names };

    // Settings, lets and samples, in that order of checking (diagnostics are sorted later).
    let top: Vec<&Setting> = program.items.iter().filter_map(|i| if let Item::Setting(s) = i { Some(s) } else { None }).collect();
    let file_settings = settings::read(&top, &scope, true, &mut diags);

    let mut seen = BTreeMap::new();
    let mut defs = Vec::new();
    for item in &program.items {
        if let Item::Let(l) = item {
            let node = resolve(&l.expr, &scope, &mut diags);
            lints::zero_weight::check(&node, &mut diags);
            if !check_duplicate(&mut seen, "let", &l.name, &mut diags) {
                defs.push(LetDef { name: l.name.clone(), node });
            }
        }
    }
    let lets = check::lets::build(defs, &mut diags);
    let mut order = simplify::inline_lets::topo_order(&lets);
    let sizes = check::size::measure_lets(&lets, &order);
    order.retain(|name| {
        let def = &lets.defs[name];
        check::size::check_size(&def.node, &sizes, def.name.span, &mut diags)
    });
    let inlined_lets = simplify::inline_lets::inline_all(&lets, &order);
    for name in &order {
        let inlined = &inlined_lets[name];
        check::or_placement::check_or_placement(inlined, &mut diags);
        check::windows::check_nested_windows(inlined, &mut diags);
    }

    let mut seen = BTreeMap::new();
    let mut roots: Vec<Node> = Vec::new();
    if let Some(BaseSpec::Expr(node, _)) = &file_settings.base {
        roots.push(node.clone());
    }
    let mut samples = Vec::new();
    let mut simplified = Vec::new();
    for item in &program.items {
        let Item::Sample(sample) = item else { continue };
        let before = diags.len();
        let node = resolve(&sample.expr, &scope, &mut diags);
        lints::zero_weight::check(&node, &mut diags);
        let overrides: Vec<&Setting> = sample.overrides.iter().collect();
        let with = settings::read(&overrides, &scope, false, &mut diags);
        roots.push(node.clone());
        if let Some(BaseSpec::Expr(b, _)) = &with.base {
            roots.push(b.clone());
        }
        let duplicate = check_duplicate(&mut seen, "sample", &sample.name, &mut diags);
        let Some(model) = model else { continue };
        if !check::size::check_size(&node, &sizes, sample.expr.span, &mut diags) {
            continue;
        }
        let resolved = settings::resolve_settings(&file_settings, &with, model);
        let base: Vec<(Cond, f64)> = match &resolved.base {
            BaseSpec::None => vec![],
            BaseSpec::Null => vec![(Cond::Null, 1.0)],
            BaseSpec::Expr(b, _) => {
                if !check::size::check_size(b, &sizes, resolved_base_span(&resolved.base), &mut diags) {
                    continue;
                }
                let inlined = simplify::inline_lets::inline_lets(b, &inlined_lets);
                check::base::check_base(&inlined, &mut diags);
                simplify::linear_terms(b, &inlined_lets)
            }
        };
        let s = simplify::simplify(&node, &inlined_lets);
        check::or_placement::check_or_placement(&s.inlined, &mut diags);
        check::windows::check_nested_windows(&s.inlined, &mut diags);
        if s.inlined.has_error() || diags[before..].iter().any(Diagnostic::is_error) {
            continue; // the checks below would only repeat what is wrong
        }
        let scale = resolved.settings.scale;
        let lowered = lower::lower(&sample.name.name, &model.name, resolved.settings, &base, &s.stretches);
        if check::finite::check_finite(&lowered, &s.inlined, sample.expr.span, &mut diags) {
            continue; // E0004: the checks below would only see infinities
        }
        check::cost::check_model_calls(&lowered, sample.expr.span, &mut diags);
        check::negation::check_negation(&s.dnf, &mut diags);
        if !diags[before..].iter().any(Diagnostic::is_error) {
            check::total_weight::check_total_weight(&s.stretches, scale, &base, sample.expr.span, &mut diags);
        }
        lints::duplicate_terms::check(&s.distributed, &mut diags);
        lints::oversaturated_guidance::check(&s.stretches, scale, !base.is_empty(), sample.expr.span, &mut diags);
        lints::inactive_stretch::check(&s.stretches, sample.expr.span, &mut diags);
        if duplicate {
            continue;
        }
        samples.push(lowered);
        simplified.push(SimplifiedSample { name: sample.name.name.clone(), dnf: s.dnf, segments: s.stretches });
    }
    if let Some(model) = model {
        lints::unused_let::check(&lets, &roots, &mut diags);
        lints::shadowed_concept::check(&lets, model, &mut diags);
    }

    let diagnostics = tidy(diags);
    let value = (!diagnostics.iter().any(Diagnostic::is_error))
        .then_some(Compiled { plan: Plan { version: plan::PLAN_VERSION, samples }, simplified });
    Outcome { value, diagnostics }
}

fn resolved_base_span(b: &BaseSpec) -> comp_grammar::Span {
    match b {
        BaseSpec::Expr(_, span) => *span,
        _ => comp_grammar::Span::default(),
    }
}

/// Each problem once (a let used twice is checked twice), in source order.
fn tidy(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    // A set of keys, not a scan of what was kept: a file can have thousands of diagnostics.
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<Diagnostic> = diags.into_iter().filter(|d| seen.insert((d.code, d.span(), d.message.clone()))).collect();
    out.sort_by_key(|d| (d.span().start, d.span().end));
    out
}

//! Several models in one file (`model a = toy2d`, `model b = …`): resolution, the per-model
//! guidance formula, the plan's model table, and every error, at its span.

mod common;
use common::{span_text, toy2d};
use comp_compiler::plan::Combine;
use comp_compiler::{compile, Compiled, ModelInfo, Outcome};
use comp_grammar::Diagnostic;

/// A twin without energies (the ε-parameterised MLP).
fn eps_twin() -> ModelInfo {
    ModelInfo { name: "toy2d-mlp-eps".into(), energies: false, ..toy2d() }
}

/// A model that knows only two concepts (a `--concepts ring,left_bar` folder).
fn subset() -> ModelInfo {
    let mut m = ModelInfo { name: "toy2d-ring".into(), ..toy2d() };
    m.concepts.retain(|c| c.name == "ring" || c.name == "left_bar");
    m
}

fn models() -> Vec<ModelInfo> {
    let mut all = common::models();
    all.extend([eps_twin(), subset()]);
    all
}

fn run(src: &str) -> Outcome<Compiled> {
    let program = comp_grammar::parse(src).unwrap_or_else(|e| panic!("parse failed: {e:?}\n{src}"));
    compile(&program, &models())
}

fn ok(src: &str) -> Compiled {
    let out = run(src);
    let errors: Vec<&Diagnostic> = out.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:#?}\n{src}");
    out.value.expect("no errors")
}

/// The only diagnostic with `code`: (text under its span, message, help).
fn one<'a>(src: &'a str, code: &str) -> (&'a str, String, String) {
    let out = run(src);
    let found: Vec<&Diagnostic> = out.diagnostics.iter().filter(|d| d.code == code).collect();
    assert_eq!(found.len(), 1, "expected one {code}, got {:#?}\n{src}", out.diagnostics);
    let d = found[0];
    (span_text(src, d), d.message.clone(), d.help.clone().unwrap_or_default())
}

fn coeffs(c: &Compiled) -> Vec<f64> {
    match &c.plan.samples[0].segments[0].combine {
        Combine::Linear { coeffs } => coeffs.clone(),
        other => panic!("not linear: {other:?}"),
    }
}

fn conditions(c: &Compiled) -> Vec<String> {
    c.plan.samples[0].conditions.iter().map(|c| c.to_string()).collect()
}

#[test]
fn each_term_is_guided_against_its_own_models_null() {
    // ε̂ = ε_a(∅) + s·[1·(ε_a(ring) − ε_a(∅)) + 0.5·(ε_b(bar) − ε_b(∅))], s = 3:
    //   a.null: 1 − 3·1 = −2;  a.ring: 3;  b.bar: 3·0.5 = 1.5;  b.null: −1.5.
    // The conditions: the base's first, the terms' in order, then b's null (a's is there).
    let c = ok("model a = toy2d\nmodel b = toy2d-mlp\nbase a.null\nscale 3\nsample s = a.ring AND 0.5 * b.bar\n");
    assert_eq!(conditions(&c), ["a.null", "a.ring", "b.bar", "b.null"]);
    assert_eq!(coeffs(&c), [-2.0, 3.0, 1.5, -1.5]);
    let s = &c.plan.samples[0];
    assert_eq!(s.model, "toy2d");
    let table: Vec<(&str, &str)> = s.models.iter().map(|m| (m.alias.as_str(), m.name.as_str())).collect();
    assert_eq!(table, [("a", "toy2d"), ("b", "toy2d-mlp")]);
    // One batched call per model with an active condition: 2 per step, 100 steps.
    assert_eq!(comp_compiler::model_calls(s), (200, 0));
}

#[test]
fn base_none_is_the_pure_product_and_bare_names_resolve_to_the_only_model_with_them() {
    // `bar` is only b's: the subset model `a` knows ring and left_bar. ε̂ = s·ε_a(ring) + s·ε_b(bar).
    let c = ok("model a = toy2d-ring\nmodel b = toy2d-mlp-eps\nbase none\nscale 1\nsample s = a.ring AND bar\n");
    assert_eq!(conditions(&c), ["a.ring", "b.bar"]);
    assert_eq!(coeffs(&c), [1.0, 1.0]);
}

#[test]
fn a_base_expression_over_both_models_keeps_its_weights() {
    // base 0.5·a.null + 0.5·b.null; one term of a at s = 2: a.null 0.5 − 2 = −1.5, b.null 0.5, a.ring 2.
    let c = ok("model a = toy2d\nmodel b = toy2d-mlp\nbase 0.5 * a.null AND 0.5 * b.null\nscale 2\nsample s = a.ring\n");
    assert_eq!(conditions(&c), ["a.null", "b.null", "a.ring"]);
    assert_eq!(coeffs(&c), [-1.5, 0.5, 2.0]);
}

#[test]
fn one_named_model_plans_exactly_as_one_unnamed_model() {
    let named = ok("model a = toy2d\nbase null\nscale 2\nsample s = a.ring AND NOT 0.5 * bar\n");
    let plain = ok("model toy2d\nbase null\nscale 2\nsample s = ring AND NOT 0.5 * bar\n");
    assert_eq!(named.plan, plain.plan);
    assert!(named.plan.samples[0].models.is_empty());
    assert_eq!(
        serde_json::to_string(&named.plan).unwrap(),
        serde_json::to_string(&plain.plan).unwrap(),
        "the JSON of a one-model plan has no `models` and no condition `model`"
    );
}

#[test]
fn the_same_model_twice_under_two_names_is_two_models() {
    let c = ok("model a = toy2d\nmodel b = toy2d\nbase a.null\nscale 1\nsample s = a.ring AND b.bar\n");
    // a.null: 1 − 1 = 0 (not evaluated); a.ring 1; b.bar 1; b.null −1.
    assert_eq!(conditions(&c), ["a.ring", "b.bar", "b.null"]);
    assert_eq!(coeffs(&c), [1.0, 1.0, -1.0]);
}

#[test]
fn unknown_alias_says_which_models_there_are() {
    let src = "model exact = toy2d\nmodel learned = toy2d-mlp\nbase none\nsample s = exat.ring AND learned.bar\n";
    let (at, msg, help) = one(src, "E0131");
    assert_eq!(at, "exat");
    assert_eq!(msg, "no model is named `exat`");
    assert!(help.contains("`exact`"), "{help}");
}

#[test]
fn a_name_two_models_have_is_ambiguous() {
    let src = "model a = toy2d\nmodel b = toy2d-mlp\nbase none\nsample s = ring AND b.bar\n";
    let (at, msg, help) = one(src, "E0130");
    assert_eq!(at, "ring");
    assert_eq!(msg, "`ring` is a concept of several models");
    assert_eq!(help, "say which model: write `a.ring` or `b.ring`");
}

#[test]
fn a_concept_the_aliased_model_lacks_points_at_the_model_that_has_it() {
    let src = "model a = toy2d-ring\nmodel b = toy2d-mlp\nbase none\nsample s = a.bar AND b.ring\n";
    let (at, msg, help) = one(src, "E0103");
    assert_eq!(at, "bar");
    assert_eq!(msg, "`a` (toy2d-ring) has no concept `bar`");
    assert_eq!(help, "`b` has it: write `b.bar`");
}

#[test]
fn base_null_and_a_missing_base_name_each_models_null() {
    let src = "model a = toy2d\nmodel b = toy2d-mlp\nbase null\nsample s = a.ring AND b.bar\n";
    let (at, msg, help) = one(src, "E0129");
    assert_eq!(at, "null");
    assert!(msg.starts_with("`base null` with several models"), "{msg}");
    assert_eq!(help, "write `a.null` or `b.null`");
    let src = "model a = toy2d\nmodel b = toy2d-mlp\nsample s = a.ring AND b.bar\n";
    let (at, _, help) = one(src, "E0129");
    assert_eq!(at, "s");
    assert!(help.contains("`base a.null` or `base b.null`") && help.contains("`base none`"), "{help}");
    // A bare `null` in an expression names no model either.
    let (at, _, _) = one("model a = toy2d\nmodel b = toy2d-mlp\nbase none\nsample s = a.ring AND NOT 0.1 * null\n", "E0129");
    assert_eq!(at, "null");
}

#[test]
fn model_names_are_unique_and_do_not_shadow() {
    let (at, msg, _) = one("model m = toy2d\nmodel m = toy2d-mlp\nbase none\nsample s = m.ring\n", "E0125");
    assert_eq!((at, msg.as_str()), ("m", "the name `m` is given to two models"));
    let (at, msg, _) = one("model ring = toy2d\nmodel b = toy2d-mlp\nbase none\nsample s = ring.bar AND b.bar\n", "E0126");
    assert_eq!((at, msg.as_str()), ("ring", "the model name `ring` is also a concept of `toy2d`"));
    let (at, msg, _) = one("model s2 = toy2d\nmodel b = toy2d-mlp\nlet s2 = b.bar\nbase none\nsample s = s2.ring AND s2\n", "E0126");
    assert_eq!((at, msg.as_str()), ("s2", "the model name `s2` is also a `let`"));
}

#[test]
fn models_of_different_data_cannot_compose() {
    let src = "model exact = toy2d\nmodel scenes = clevr-pos\nbase none\nsample s = exact.ring AND scenes.pos(0.5, 0.5)\n";
    let (at, msg, _) = one(src, "E0127");
    assert_eq!(at, "scenes");
    assert_eq!(msg, "`exact` and `scenes` sample different data");
}

#[test]
fn different_schedules_cannot_compose() {
    let mut other = common::toy2d_mlp();
    other.schedule = Some("linear(T=100)".into());
    let mut base = toy2d();
    base.schedule = Some("cosine(T=100, s=0.008)".into());
    let program = comp_grammar::parse("model a = toy2d\nmodel b = toy2d-mlp\nbase none\nsample s = a.ring AND b.bar\n").unwrap();
    let out = compile(&program, &[base, other]);
    let d = out.diagnostics.iter().find(|d| d.code == "E0128").expect("E0128");
    assert_eq!(d.message, "`a` and `b` have different noise schedules");
    assert!(d.labels[0].message.contains("linear(T=100)"), "{:?}", d.labels);
}

#[test]
fn or_and_accepting_mcmc_need_energies_of_every_model_involved() {
    let src = "model exact = toy2d\nmodel score = toy2d-mlp-eps\nbase none\nsample s = exact.left_bar OR score.right_bar\n";
    let (at, msg, _) = one(src, "E0112");
    assert_eq!(at, "exact.left_bar OR score.right_bar");
    assert!(msg.contains("`score` (toy2d-mlp-eps) has none"), "{msg}");
    // HMC over a sample using the ε model: E0113 at the sample; ULA is fine.
    let hmc = "model exact = toy2d\nmodel score = toy2d-mlp-eps\nmcmc hmc(steps: 2)\nbase none\nsample s = exact.ring AND score.bar\nsample t = exact.ring\n";
    let (at, msg, _) = one(hmc, "E0113");
    assert_eq!(at, "exact.ring AND score.bar");
    assert!(msg.starts_with("`hmc` needs energies"), "{msg}");
    ok("model exact = toy2d\nmodel score = toy2d-mlp-eps\nmcmc ula(steps: 2)\nbase none\nsample s = exact.ring AND score.bar\n");
    // An OR over the models that have energies is fine.
    ok("model exact = toy2d\nmodel learned = toy2d-mlp\nbase none\nsample s = exact.left_bar OR learned.right_bar\n");
}

#[test]
fn an_unused_model_warns() {
    let src = "model exact = toy2d\nmodel learned = toy2d-mlp\nbase exact.null\nsample s = exact.ring AND exact.bar\n";
    let (at, msg, _) = one(src, "W0008");
    assert_eq!((at, msg.as_str()), ("learned", "model `learned` is never used"));
    // Used through a let or only in the base counts.
    let src = "model exact = toy2d\nmodel learned = toy2d-mlp\nlet b = learned.bar\nbase learned.null\nsample s = exact.ring AND b\n";
    assert!(!run(src).diagnostics.iter().any(|d| d.code == "W0008"));
}

#[test]
fn steps_are_bounded_by_every_model_and_with_model_is_refused() {
    let (at, _, _) = one("model a = toy2d\nmodel b = toy2d-mlp\nbase none\nsample s = a.ring with model toy2d\n", "E0119");
    assert_eq!(at, "model");
}

#[test]
fn the_formatter_keeps_model_names_and_qualified_terms() {
    let src = "model   exact=toy2d\nmodel learned =  toy2d-mlp\nbase exact.null\nsample s = exact.ring AND   0.5*learned.pos\n";
    let program = comp_grammar::parse(src).unwrap();
    let out = comp_compiler::format(src, &program);
    assert_eq!(out, "model exact = toy2d\nmodel learned = toy2d-mlp\nbase exact.null\nsample s = exact.ring AND 0.5 * learned.pos\n");
}

#[test]
fn a_space_after_the_dot_is_a_syntax_error() {
    let e = comp_grammar::parse("model a = toy2d\nsample s = a. ring\n").unwrap_err();
    assert_eq!(e[0].code, "E0001");
}

#[test]
fn the_validator_checks_the_model_table() {
    let c = ok("model a = toy2d\nmodel b = toy2d-mlp\nbase a.null\nsample s = a.ring AND b.bar\n");
    assert!(comp_compiler::validate::validate(&c.plan, &models()).is_empty());
    let mut bad = c.plan.clone();
    bad.samples[0].conditions[1].model = Some("z".into());
    let p = comp_compiler::validate::validate(&bad, &models());
    assert!(p.iter().any(|m| m.contains("names model `z`, which `models` does not list")), "{p:?}");
    let mut bad = c.plan.clone();
    bad.samples[0].models.clear();
    let p = comp_compiler::validate::validate(&bad, &models());
    assert!(p.iter().any(|m| m.contains("has no `models` table")), "{p:?}");
    let mut bad = c.plan.clone();
    bad.samples[0].models[1].name = "clevr-pos".into();
    let p = comp_compiler::validate::validate(&bad, &models());
    assert!(p.iter().any(|m| m.contains("samples other data")), "{p:?}");
}

//! Classifier models (classifier guidance, issue 23): a classifier's term adds its guidance to
//! a denoiser's ε̂; it is never the first model or in a base; OR, MALA and HMC need its energies;
//! it must share the data it guides; the plan says each of its calls is forward + backward.

mod common;
use common::{span_text, toy2d};
use comp_compiler::plan::Combine;
use comp_compiler::{compile, Compiled, ModelInfo, Outcome, RenderHuman};
use comp_grammar::Diagnostic;

/// toy2d's exact classifier (energies: −σ·log p(c | x_t)).
fn clf() -> ModelInfo {
    ModelInfo { name: "toy2d-clf".into(), classifier: true, ..toy2d() }
}

/// A classifier without energies (a learned one that reports no log-probabilities).
fn clf_no_energy() -> ModelInfo {
    ModelInfo { name: "toy2d-clf-eps".into(), classifier: true, energies: false, ..toy2d() }
}

fn run(src: &str) -> Outcome<Compiled> {
    let mut models = common::models();
    models.extend([clf(), clf_no_energy()]);
    compile(&comp_grammar::parse(src).unwrap(), &models)
}

fn ok(src: &str) -> Compiled {
    let out = run(src);
    let errors: Vec<&Diagnostic> = out.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:#?}\n{src}");
    out.value.unwrap()
}

fn one<'a>(src: &'a str, code: &str) -> (&'a str, String, String) {
    let out = run(src);
    let found: Vec<&Diagnostic> = out.diagnostics.iter().filter(|d| d.code == code).collect();
    assert_eq!(found.len(), 1, "expected one {code}, got {:#?}\n{src}", out.diagnostics);
    (span_text(src, found[0]), found[0].message.clone(), found[0].help.clone().unwrap_or_default())
}

#[test]
fn classifier_guidance_has_the_coefficients_of_classifier_free_guidance() {
    // ε̂ = ε_d(∅) + 4·(ε_clf(ring) − ε_clf(∅)): d.null 1, clf.ring 4, clf.null −4 (its ε is 0).
    // Classifier-free at 4 over toy2d alone: null 1 − 4 = −3, ring 4. With ε_clf(ring) =
    // ε(ring) − ε(∅) both give ε(∅) + 4·(ε(ring) − ε(∅)) (the runtime test checks the samples).
    let c = ok("model d = toy2d\nmodel clf = toy2d-clf\nbase d.null\nscale 4\nsample s = clf.ring\n");
    let s = &c.plan.samples[0];
    let conds: Vec<String> = s.conditions.iter().map(|c| c.to_string()).collect();
    assert_eq!(conds, ["d.null", "clf.ring", "clf.null"]);
    let Combine::Linear { coeffs } = &s.segments[0].combine else { panic!() };
    assert_eq!(coeffs, &[1.0, 4.0, -4.0]);
    assert!(s.models[1].classifier && !s.models[0].classifier);
    // The plan names the classifier and its cost: one forward + backward call per step.
    let text = c.plan.render_human();
    assert!(text.contains("models d = toy2d, clf = toy2d-clf (classifier)"), "{text}");
    assert!(text.contains("clf (toy2d-clf): batch of 2 conditions, forward + backward"), "{text}");
    let json = serde_json::to_value(&c.plan).unwrap();
    assert_eq!(json["samples"][0]["models"][1]["classifier"], true);
    assert!(json["samples"][0]["models"][0].get("classifier").is_none(), "absent for denoisers");
    // It composes with NOT, weights and windows like any term.
    ok("model d = toy2d\nmodel clf = toy2d-clf\nbase d.null\nsample s = d.box_large AND NOT clf.box_small\n");
    ok("model d = toy2d\nmodel clf = toy2d-clf\nbase d.null\nsample s = d.ring AND 3 * clf.bar @ [0, 0.8]\n");
}

#[test]
fn a_classifier_first_or_alone_is_refused_at_its_name() {
    let (at, msg, help) = one("model clf = toy2d-clf\nmodel d = toy2d\nbase d.null\nsample s = clf.ring\n", "E0132");
    assert_eq!(at, "clf");
    assert_eq!(msg, "`toy2d-clf` is a classifier, and a file's first model must be a denoiser");
    assert_eq!(help, "write the denoiser's `model` statement first");
    let (at, _, help) = one("model toy2d-clf\nsample s = ring\n", "E0132");
    assert_eq!(at, "toy2d-clf");
    assert!(help.contains("add a denoiser of the same data before it"), "{help}");
}

#[test]
fn a_classifier_in_the_base_is_refused() {
    let (at, msg, _) = one("model d = toy2d\nmodel clf = toy2d-clf\nbase clf.null\nsample s = d.ring\n", "E0133");
    assert_eq!(at, "clf.null");
    assert_eq!(msg, "the base uses `clf`, a classifier (toy2d-clf)");
    let (at, _, _) = one("model d = toy2d\nmodel clf = toy2d-clf\nsample s = d.ring with base d.null AND clf.ring\n", "E0133");
    assert_eq!(at, "d.null AND clf.ring");
}

#[test]
fn or_and_hmc_need_the_classifiers_energies() {
    ok("model d = toy2d\nmodel clf = toy2d-clf\nbase d.null\nsample s = d.ring OR clf.bar\n");
    let (at, msg, _) = one("model d = toy2d\nmodel c = toy2d-clf-eps\nbase d.null\nsample s = d.ring OR c.bar\n", "E0112");
    assert_eq!(at, "d.ring OR c.bar");
    assert!(msg.contains("`c` (toy2d-clf-eps) has none"), "{msg}");
    let (_, msg, _) =
        one("model d = toy2d\nmodel c = toy2d-clf-eps\nbase d.null\nmcmc hmc(steps: 2)\nsample s = d.ring AND c.bar\n", "E0113");
    assert!(msg.contains("`c` (toy2d-clf-eps) has none"), "{msg}");
}

#[test]
fn a_classifier_of_other_data_is_refused() {
    let (at, msg, _) = one("model c = clevr-pos\nmodel clf = toy2d-clf\nbase c.null\nsample s = c.pos(0.5, 0.5) AND clf.ring\n", "E0127");
    assert_eq!(at, "clf");
    assert_eq!(msg, "`c` and `clf` sample different data");
}

//! One test per lint: code, kebab-case name, span text, message; lints never block the plan.

mod common;
use common::*;

fn lint(src: &str, code: &str) -> (String, String) {
    let (text, msg, d) = one(src, code);
    assert!(!d.is_error());
    assert!(run(src).value.is_some(), "a warning must not block the plan");
    (text.to_string(), msg)
}

#[test]
fn w0001_zero_weight() {
    let src = "model toy2d\nsample s = ring AND 0 * bar\n";
    assert_eq!(lint(src, "W0001"), ("0".into(), "this term has weight 0 and is dropped".into()));
    let d = run(src).diagnostics;
    assert_eq!(d[0].lint, Some("zero-weight"));
    // The dropped term is not evaluated.
    assert_eq!(ok(src).plan.samples[0].conditions.len(), 1);
}

#[test]
fn w0002_duplicate_terms() {
    let src = "model toy2d\nlet r = ring\nsample s = r AND bar AND ring\n";
    assert_eq!(lint(src, "W0002"), ("ring".into(), "`ring` appears twice in one conjunction".into()));
    let d = run(src).diagnostics.into_iter().find(|d| d.code == "W0002").unwrap();
    assert_eq!(d.lint, Some("duplicate-terms"));
    assert_eq!(&src[d.labels[1].span.range()], "r");
    assert_eq!(ok(src).simplified[0].to_string(), "s = 2 * ring AND 1 * bar");
}

#[test]
fn w0003_unused_let_transitively() {
    let src = "model toy2d\nlet a = b\nlet b = bar\nlet c = ring\nsample s = c\n";
    let out = run(src);
    let w: Vec<_> = out.diagnostics.iter().filter(|d| d.code == "W0003").collect();
    assert_eq!(w.len(), 2);
    assert_eq!((span_text(src, w[0]), w[0].message.as_str()), ("a", "`a` is never used"));
    assert_eq!(span_text(src, w[1]), "b");
    assert_eq!(w[0].lint, Some("unused-let"));
    // A let used only by a base counts as used.
    assert!(codes("model toy2d\nlet b = bar\nbase 0.5 * b\nsample s = ring\n").is_empty());
}

#[test]
fn w0004_shadowed_concept() {
    let src = "model toy2d\nlet ring = bar\nsample s = ring\n";
    assert_eq!(lint(src, "W0004"), ("ring".into(), "`ring` hides the concept `ring` of `toy2d`".into()));
    // The let wins.
    assert_eq!(ok(src).simplified[0].to_string(), "s = 1 * bar");
}

#[test]
fn w0005_oversaturated_guidance() {
    let src = "model clevr-pos\nsample s = pos(0.1, 0.1) AND pos(0.2, 0.2) AND pos(0.3, 0.3) AND pos(0.4, 0.4) AND pos(0.5, 0.5)\n";
    let (text, msg) = lint(src, "W0005");
    assert!(text.starts_with("pos(0.1, 0.1) AND"));
    assert_eq!(msg, "total guidance s·Σ|w| is 37.5, above 30");
    // Four terms at 7.5 are 30: not above.
    assert!(codes("model clevr-pos\nsample s = pos(0.1, 0.1) AND pos(0.2, 0.2) AND pos(0.3, 0.3) AND pos(0.4, 0.4)\n").is_empty());
    // |1 − s·Σw| with a base: 1 − 31·1 = −30 is not above, 1 − 32 = −31 is... but s·Σ|w| = 32 fires first.
    let (_, msg) = lint("model clevr-pos\nsample s = 8 * pos(0.1, 0.1) AND NOT 4 * pos(0.2, 0.2) with scale 5\n", "W0005");
    assert_eq!(msg, "total guidance s·Σ|w| is 60, above 30");
}

#[test]
fn w0006_inactive_stretch() {
    let src = "model toy2d\nsample s = ring @ [0, 0.5]\n";
    assert_eq!(lint(src, "W0006"), ("ring @ [0, 0.5]".into(), "no term is active in [0.5, 1) of the trajectory".into()));
    assert!(codes("model toy2d\nsample s = ring AND bar @ [0, 0.5]\n").is_empty());
}

#[test]
fn model_settings_are_checked() {
    assert_eq!(ok("model clevr-pos\nsize 64\nsample s = pos(0.5, 0.5)\n").plan.samples[0].settings.extra["size"], 64.0);
    let (text, msg, _) = one("model clevr-pos\nsize 4\nsample s = pos(0.5, 0.5)\n", "E0106");
    assert_eq!((text, msg.as_str()), ("4", "`size` must be in 8..=128, found 4"));
}

#[test]
fn lint_registry_has_kebab_case_names() {
    for (code, name, _) in comp_compiler::lints::ALL {
        assert!(code.starts_with('W'));
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{name}");
    }
}

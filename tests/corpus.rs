//! Every example is checked, planned and formatted, with snapshots; every invalid program's
//! rendered diagnostics are snapshotted under its source; every lint fires on its program.

mod common;
use common::{comp, corpus, rel, stem};
use std::collections::BTreeSet;

#[test]
fn examples_check_plan_and_format() {
    let examples = corpus("examples");
    assert!(examples.len() >= 5, "the examples folder holds the test corpus");
    for path in examples {
        let file = rel(&path);
        let name = stem(&path);
        let check = comp(&["check", &file], "");
        assert_eq!(check.code, 0, "{file} should check cleanly:\n{}", check.stderr);
        assert!(!check.stderr.contains("] Warning"), "{file} has warnings:\n{}", check.stderr);

        let plan = comp(&["plan", &file], "");
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        insta::assert_snapshot!(format!("plan_{name}"), plan.stdout);

        let simplified = comp(&["plan", &file, "--emit", "simplified"], "");
        assert_eq!(simplified.code, 0, "{}", simplified.stderr);
        insta::assert_snapshot!(format!("simplified_{name}"), simplified.stdout);

        let source = std::fs::read_to_string(&path).expect("read example");
        let formatted = comp(&["fmt", "-"], &source);
        assert_eq!(formatted.code, 0, "{}", formatted.stderr);
        insta::assert_snapshot!(format!("fmt_{name}"), formatted.stdout);
        let again = comp(&["fmt", "-"], &formatted.stdout);
        assert_eq!(again.stdout, formatted.stdout, "fmt is not idempotent on {file}");

        // Formatting never changes the plan.
        let json = comp(&["plan", &file, "--emit", "json"], "");
        let json_formatted = comp(&["plan", "-", "--emit", "json"], &formatted.stdout);
        assert_eq!(json.stdout, json_formatted.stdout, "fmt changed the plan of {file}");

        // The JSON plan round-trips through the Plan type.
        let plan: comp_compiler::Plan = serde_json::from_str(&json.stdout).expect("plan JSON parses");
        let back = serde_json::to_string_pretty(&plan).expect("serialise");
        assert_eq!(back.trim_end(), json.stdout.trim_end(), "plan JSON round trip of {file}");
    }
}

#[test]
fn examples_are_formatted() {
    let files: Vec<String> = corpus("examples").iter().map(|p| rel(p)).collect();
    let mut args = vec!["fmt", "--check"];
    args.extend(files.iter().map(String::as_str));
    let run = comp(&args, "");
    assert_eq!(run.code, 0, "examples are not in canonical layout:\n{}", run.stderr);
}

#[test]
fn invalid_programs_render_their_diagnostics() {
    let mut codes = BTreeSet::new();
    let invalid = corpus("tests/invalid");
    assert!(invalid.len() >= 30);
    for path in invalid {
        let file = rel(&path);
        let run = comp(&["check", &file], "");
        assert_eq!(run.code, 1, "{file} should fail to check:\n{}", run.stderr);
        let source = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
        insta::assert_snapshot!(format!("invalid_{}", stem(&path)), format!("----- SOURCE CODE\n{source}\n----- ERROR\n{}", run.stderr));
        let json = comp(&["check", "--format", "json", &file], "");
        assert_eq!(json.code, 1);
        let ds: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).expect("JSON diagnostics");
        assert!(ds.iter().any(|d| d["severity"] == "error"), "{file}: no error in JSON");
        for d in &ds {
            for key in ["file", "line", "column", "end_line", "end_column", "severity", "code", "message"] {
                assert!(!d[key].is_null(), "{file}: JSON diagnostic lacks `{key}`: {d}");
            }
            codes.insert(d["code"].as_str().expect("code").to_string());
        }
    }
    // Every error code of docs/language.md is exercised by some invalid program.
    let doc = std::fs::read_to_string(common::root().join("docs/language.md")).expect("docs");
    let documented: BTreeSet<String> = doc.lines().filter_map(|l| l.strip_prefix("| E")).map(|l| format!("E{}", &l[..4])).collect();
    // E0005 is about a file that cannot be read, not about a program (tests/reliability.rs).
    codes.insert("E0005".to_string());
    // E0128 (two models on different noise schedules) needs two models of one data shape on
    // different schedules, and no two shipped models are: compiler/tests/several_models.rs
    // shows it with a model info of its own.
    codes.insert("E0128".to_string());
    let missing: Vec<_> = documented.difference(&codes).collect();
    assert!(missing.is_empty(), "error codes with no invalid program: {missing:?}");
}

#[test]
fn every_lint_fires_and_deny_warnings_fails() {
    let lints =
        ["zero-weight", "duplicate-terms", "unused-let", "shadowed-concept", "oversaturated-guidance", "inactive-stretch", "unused-model"];
    let mut seen = BTreeSet::new();
    for path in corpus("tests/warnings") {
        let file = rel(&path);
        let run = comp(&["check", &file], "");
        assert_eq!(run.code, 0, "warnings alone must not fail {file}:\n{}", run.stderr);
        insta::assert_snapshot!(
            format!("warning_{}", stem(&path)),
            format!("----- SOURCE CODE\n{}\n----- WARNING\n{}", std::fs::read_to_string(&path).expect("read"), run.stderr)
        );
        for l in lints {
            if run.stderr.contains(l) {
                seen.insert(l);
            }
        }
        let denied = comp(&["check", "--deny", "warnings", &file], "");
        assert_eq!(denied.code, 1, "--deny warnings must fail {file}");
    }
    assert_eq!(seen.len(), lints.len(), "lints never seen: {:?}", lints.iter().filter(|l| !seen.contains(*l)).collect::<Vec<_>>());
}

//! `comp train clevr-attr`, `comp eval clevr-attr` (with the cross-model table) and `comp run`
//! on attribute scripts, end to end on tiny networks (a smoke test: they draw nothing
//! recognisable), and the errors a user meets.

mod common;

use common::comp_in;

#[test]
fn train_three_models_then_eval_with_the_cross_table_then_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (attrs, out) in [("color,shape,size", "clevr-attr"), ("color", "clevr-attr-color"), ("shape,size", "clevr-attr-shape-size")] {
        let r = comp_in(
            dir,
            &["train", "clevr-attr", "--attributes", attrs, "--tiny", "--steps", "3", "--out", &format!("models/{out}"), "-q"],
            "",
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stderr.contains("clevr-attr: 3 steps"), "{}", r.stderr);
    }
    let r = comp_in(dir, &["train", "clevr-pos", "--tiny", "--steps", "2", "--out", "models/clevr-pos", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = comp_in(dir, &["train", "clevr-attr-clf", "--tiny", "--steps", "3", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("clevr-attr-clf: 3 steps") && r.stderr.contains("t = 950"), "{}", r.stderr);
    // The classifier guides clevr-pos: an object at a place AND red.
    std::fs::write(dir.join("g.comp"), "model p = clevr-pos\nmodel clf = clevr-attr-clf\nbase p.null\nsampler ddim(steps: 3)\nsamples 2\nsample g = p.pos(0.3, 0.7) AND clf.red\n").unwrap();
    let r = comp_in(dir, &["plan", "g.comp"], "");
    assert!(r.stdout.contains("clf (clevr-attr-clf): batch of 2 conditions, forward + backward"), "{}", r.stdout);
    let r = comp_in(dir, &["run", "g.comp", "-o", "out", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dir.join("out/g/grid.png").is_file());
    let r = comp_in(dir, &["models"], "");
    assert!(r.stdout.contains("clevr-attr-clf") && r.stdout.contains("labels:"), "{}", r.stdout);
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("models/clevr-attr-color/model.json")).unwrap()).unwrap();
    assert_eq!(card["model"], "clevr-attr");
    assert_eq!(card["arch"]["labels"].as_array().unwrap().len(), 8);

    // The subset models are models of their own, by folder name, with their own vocabulary.
    let r = comp_in(dir, &["models"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("clevr-attr-color") && r.stdout.contains("clevr-attr-shape-size"), "{}", r.stdout);
    let script = "model c = clevr-attr-color\nmodel s = clevr-attr-shape-size\nbase c.null\nsampler ddim(steps: 3)\nsamples 2\nsample s1 = c.red AND s.square\n";
    std::fs::write(dir.join("cross.comp"), script).unwrap();
    let r = comp_in(dir, &["run", "cross.comp", "-o", "out", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("out/s1/run.json")).unwrap()).unwrap();
    assert_eq!(run["model_calls"], 6, "one call per model per step");
    // A colour model does not know shapes: the checker says so at the term.
    std::fs::write(dir.join("bad.comp"), "model c = clevr-attr-color\nmodel s = clevr-attr-shape-size\nbase c.null\nsample x = c.square\n")
        .unwrap();
    let r = comp_in(dir, &["check", "bad.comp"], "");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("square"), "{}", r.stderr);

    let r = comp_in(
        dir,
        &[
            "eval",
            "clevr-attr",
            "--sets",
            "1",
            "--per-set",
            "1",
            "--steps",
            "2",
            "--sweep",
            "7.5",
            "--cross",
            "--classifier",
            "--out",
            "ev",
            "-q",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("ev/eval.json")).unwrap()).unwrap();
    assert_eq!(report["composed"].as_array().unwrap().len(), 3);
    assert_eq!(report["validation"]["scenes"], 1000);
    assert_eq!(report["validation"]["all"].as_f64(), Some(1.0));
    assert_eq!(report["cross"]["rows"].as_array().unwrap().len(), 2);
    // Three ways of guiding at three scales; classifier guidance costs two calls per step.
    let g = report["guidance"].as_array().unwrap();
    assert_eq!(g.len(), 9);
    assert_eq!(
        (g[0]["method"].as_str(), g[1]["method"].as_str(), g[2]["method"].as_str()),
        (Some("classifier-free"), Some("classifier"), Some("both"))
    );
    assert_eq!((g[0]["calls_per_step"].as_f64(), g[1]["calls_per_step"].as_f64()), (Some(1.0), Some(2.0)));
    assert!(report["positions_clf"]["both"]["samples"].as_u64() == Some(1));
    for line in [
        "1 attribute(s):",
        "a AND NOT b:",
        "scale   7.5, 2 attributes:",
        "cross, 3 attributes:",
        "clevr-pos position AND clevr-attr attribute:",
    ] {
        assert!(r.stdout.contains(line), "no `{line}` in:\n{}", r.stdout);
    }
    for f in
        ["examples_k1.png", "examples_k3.png", "examples_not.png", "examples_cross_k2.png", "examples_pos_attr.png", "examples_pos_clf.png"]
    {
        assert!(dir.join("ev").join(f).is_file(), "{f} missing");
    }

    // `--guided`: each attribute composed with the classifier's. Four plans (k = 1, 2, 3 and
    // `a AND NOT b`), one sample each, 2 steps, each step one call to each of the two models:
    // 4 · 2 · 2 = 16 model calls (8 unguided); no guidance table without `--classifier`.
    let r = comp_in(
        dir,
        &["eval", "clevr-attr", "--guided", "--sets", "1", "--per-set", "1", "--steps", "2", "--sweep", "", "--out", "evg", "-q"],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("guided by clevr-attr-clf"), "{}", r.stdout);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("evg/eval.json")).unwrap()).unwrap();
    assert_eq!(report["options"]["guided"], true);
    assert_eq!(report["model_calls"], 16);
    assert_eq!(report["guidance"].as_array().unwrap().len(), 0);

    // `comp run` on the full model, by its registry name.
    std::fs::write(
        dir.join("a.comp"),
        "model clevr-attr\nsampler ddim(steps: 3)\nsamples 2\nsample red_square = red AND square AND NOT small\n",
    )
    .unwrap();
    let r = comp_in(dir, &["run", "a.comp", "-o", "out", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dir.join("out/red_square/grid.png").is_file());
}

#[test]
fn bad_attribute_groups_and_missing_models_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let r = comp_in(dir, &["train", "clevr-attr", "--attributes", "color,texture", "--tiny", "--steps", "1", "--out", "m"], "");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("unknown attribute group `texture`: the groups are color, shape, size"), "{}", r.stderr);
    assert!(!dir.join("m").exists(), "nothing written");
    let r = comp_in(dir, &["eval", "clevr-attr", "--model-dir", "nowhere", "--sets", "1"], "");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("model `clevr-attr` has no weights at nowhere: train it with `comp train clevr-attr`"), "{}", r.stderr);
    // Resuming a clevr-pos folder as clevr-attr is refused by name.
    let r = comp_in(dir, &["train", "clevr-pos", "--tiny", "--steps", "1", "--out", "p", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = comp_in(dir, &["train", "clevr-attr", "--tiny", "--steps", "2", "--resume", "p", "--out", "p"], "");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("for `clevr-pos`"), "{}", r.stderr);
}

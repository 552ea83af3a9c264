//! `comp train clevr-pos`, `comp eval clevr-pos` and `comp run` on a clevr-pos script, end to
//! end on the tiny network (a smoke test: the tiny network draws nothing recognisable).

mod common;

use common::{comp_in, root};

#[test]
fn train_then_eval_then_run_on_the_tiny_network() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let r = comp_in(dir, &["train", "clevr-pos", "--tiny", "--steps", "5", "--out", "models/clevr-pos", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("clevr-pos: 5 steps"), "{}", r.stderr);
    for f in ["model.json", "model.safetensors", "train.safetensors"] {
        assert!(dir.join("models/clevr-pos").join(f).is_file(), "{f} missing");
    }
    // Resuming continues the step count.
    let r = comp_in(dir, &["train", "clevr-pos", "--steps", "6", "--resume", "models/clevr-pos", "--out", "models/clevr-pos", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("clevr-pos: 6 steps"), "{}", r.stderr);

    let r = comp_in(
        dir,
        &["eval", "clevr-pos", "--model-dir", "models/clevr-pos", "--sets", "1", "--steps", "3", "--sweep", "7.5", "--out", "ev", "-q"],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("paper composed") && r.stdout.contains("86.42%"), "{}", r.stdout);
    assert!(r.stdout.contains("AND NOT"), "{}", r.stdout);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("ev/eval.json")).unwrap()).unwrap();
    assert_eq!(report["composed"].as_array().unwrap().len(), 3);
    assert_eq!(report["calibration"]["true_found"].as_f64(), Some(1.0));
    for k in 1..=3 {
        assert!(dir.join(format!("ev/examples_k{k}.png")).is_file());
    }

    // `comp run` finds `models/clevr-pos` in the current directory.
    let script = "model clevr-pos\nsampler ddpm(steps: 4)\nsamples 2\nsample pair = pos(0.25, 0.5) AND pos(0.75, 0.5)\n";
    std::fs::write(dir.join("pair.comp"), script).unwrap();
    let r = comp_in(dir, &["run", "pair.comp", "-o", "out", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("out/pair/run.json")).unwrap()).unwrap();
    assert_eq!(run["model_calls"], 4);
    assert!(dir.join("out/pair/grid.png").is_file() && dir.join("out/pair/samples.npy").is_file());
}

#[test]
fn missing_weights_say_how_to_train() {
    let tmp = tempfile::tempdir().unwrap();
    let r = comp_in(tmp.path(), &["eval", "clevr-pos", "--model-dir", "nowhere", "--sets", "1"], "");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("model `clevr-pos` has no weights at nowhere: train it with `comp train clevr-pos`"), "{}", r.stderr);
    let _ = root();
}

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
    assert!(r.stdout.contains("AND NOT"), "{}", r.stdout);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("ev/eval.json")).unwrap()).unwrap();
    let composed = report["composed"].as_array().unwrap();
    assert_eq!(composed.len(), 3);
    // Each k's table row is its measured accuracy, from the JSON. One set of one sample gives
    // 0 or 1 correct, whose 95% Wilson intervals follow by hand from n = 1, z = 1.96: centre
    // = half-width = (z²/2) / (1 + z²) = 1.9208 / 4.8415 = 0.3967, so [0, 79.35]% for 0 of 1
    // and [20.65, 100]% for 1 of 1.
    for (i, k) in composed.iter().enumerate() {
        assert_eq!(k["k"], i + 1);
        let a = &k["accuracy"];
        assert_eq!(a["samples"], 1, "{a}");
        let correct = a["correct"].as_u64().unwrap();
        let (percent, lo, hi) = (a["percent"].as_f64().unwrap(), a["ci_low"].as_f64().unwrap(), a["ci_high"].as_f64().unwrap());
        let want = if correct == 1 { (100.0, 20.65, 100.0) } else { (0.0, 0.0, 79.35) };
        assert!((percent - want.0).abs() < 1e-9 && (lo - want.1).abs() < 0.005 && (hi - want.2).abs() < 0.005, "k = {}: {a}", i + 1);
        let (paper, ebm) = (comp_lab::clevr::eval::PAPER_COMPOSED[i], comp_lab::clevr::eval::PAPER_EBM[i]);
        assert_eq!((k["paper_composed"].as_f64(), k["paper_ebm"].as_f64()), (Some(paper), Some(ebm)));
        let row = format!("{:>3}  {:>8.2}%  [{:>6.2}, {:>6.2}]  {:>13.2}%  {:>8.2}%", i + 1, percent, lo, hi, paper, ebm);
        assert!(r.stdout.lines().any(|l| l == row), "no row `{row}` in:\n{}", r.stdout);
    }
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

/// `--checkpoint-every N` writes the model folder every N steps; with `--keep-checkpoints` each
/// checkpoint's EMA weights stay in `checkpoints/step-N/`. A run is a function of its seed, so
/// the checkpoint at step 2 of a 4-step run holds exactly what a 2-step run ends with, and a
/// folder in that state is where `--resume` continues from.
#[test]
fn checkpoints_every_n_steps_hold_the_state_that_resume_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Not `-q`: with stderr not a terminal, progress comes as plain lines, checkpoints included.
    let r = comp_in(
        dir,
        &["train", "clevr-pos", "--tiny", "--steps", "4", "--checkpoint-every", "2", "--keep-checkpoints", "--f32", "--out", "a"],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("checkpoint at step")).collect();
    assert_eq!(lines, ["checkpoint at step 2 -> a", "checkpoint at step 4 -> a"], "{}", r.stderr);
    for step in [2u64, 4] {
        let card: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("a/checkpoints/step-{step}/model.json"))).unwrap()).unwrap();
        assert_eq!((card["training"]["step"].as_u64(), card["training"]["images"].as_u64()), (Some(step), Some(step * 16)), "{card}");
    }

    let r = comp_in(dir, &["train", "clevr-pos", "--tiny", "--steps", "2", "--f32", "--out", "b", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let weights = |p: &str| candle_core::safetensors::load(dir.join(p), &candle_core::Device::Cpu).unwrap();
    let flat = |t: &candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let (kept, two) = (weights("a/checkpoints/step-2/model.safetensors"), weights("b/model.safetensors"));
    assert_eq!(kept.len(), two.len());
    for (name, t) in &two {
        assert_eq!(flat(t), flat(&kept[name]), "{name}: the step-2 checkpoint is not the state at step 2");
    }

    // Resume b for one more step. AdamW's moments restart at zero (see lab's train.rs), so the
    // first step moves every raw weight by lr · g / (|g| + ε): at most lr = 1e-3 from the
    // checkpoint's `train.safetensors`. A run that started over from the initial weights
    // instead would sit up to ~3 lr away (two steps undone, one taken on another batch).
    let before = weights("b/train.safetensors");
    let r = comp_in(dir, &["train", "clevr-pos", "--tiny", "--steps", "3", "--resume", "b", "--out", "b", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("clevr-pos: 3 steps"), "{}", r.stderr);
    let card: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("b/model.json")).unwrap()).unwrap();
    assert_eq!((card["training"]["step"].as_u64(), card["training"]["images"].as_u64()), (Some(3), Some(48)), "{card}");
    let after = weights("b/train.safetensors");
    let (mut largest, mut moved) = (0f32, 0usize);
    for (name, t) in &before {
        for (x, y) in flat(t).iter().zip(flat(&after[name])) {
            largest = largest.max((x - y).abs());
            moved += usize::from((x - y).abs() > 5e-4);
        }
    }
    assert!(largest <= 1e-3 * 1.001, "a weight moved {largest} in the first step after resuming (lr 1e-3)");
    assert!(moved > 0, "no weight moved: the resumed run did not train");
}

#[test]
fn missing_weights_say_how_to_train() {
    let tmp = tempfile::tempdir().unwrap();
    let r = comp_in(tmp.path(), &["eval", "clevr-pos", "--model-dir", "nowhere", "--sets", "1"], "");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("model `clevr-pos` has no weights at nowhere: train it with `comp train clevr-pos`"), "{}", r.stderr);
    let _ = root();
}

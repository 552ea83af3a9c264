//! `comp train toy2d` end to end: train briefly into a scratch `models/` folder, then `comp run`
//! a script that names the trained model from that folder (the current directory's `models/`
//! is the first place the registry looks).

mod common;

use common::comp_in;

fn card(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("model.json written")).expect("a JSON card")
}

#[test]
fn train_then_run_the_trained_models() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // Energy model into an explicit folder.
    let out = dir.join("models").join("toy2d-mlp");
    let run = comp_in(dir, &["train", "toy2d", "--steps", "20", "--batch", "64", "--seed", "3", "--out", out.to_str().unwrap(), "-q"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("toy2d-mlp: 20 steps"), "{}", run.stderr);
    assert!(out.join("model.safetensors").is_file());
    let c = card(&out.join("model.json"));
    assert_eq!((c["format"].as_str(), c["model"].as_str(), c["kind"].as_str()), (Some("comp-model"), Some("toy2d-mlp"), Some("mlp")));
    assert_eq!(c["arch"]["param"], "energy");
    assert_eq!(c["training"]["steps"], 20);
    assert_eq!(c["training"]["batch"], 64);
    assert_eq!(c["training"]["seed"], 3);
    assert!(c["training"]["final_loss"].as_f64().unwrap().is_finite());
    assert_eq!(c["comp_version"], env!("CARGO_PKG_VERSION"));

    // The ε twin into its default folder, models/toy2d-mlp-eps under the current directory.
    let run = comp_in(dir, &["train", "toy2d", "--param", "eps", "--steps", "5", "--batch", "32", "-q"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(card(&dir.join("models/toy2d-mlp-eps/model.json"))["arch"]["param"], "eps");

    let script = "model toy2d-mlp\nbase none\nsamples 64\nsampler ddpm(steps: 10)\n\nsample r = ring\nsample rb = ring AND bar\n";
    std::fs::write(dir.join("s.comp"), script).unwrap();
    let run = comp_in(dir, &["run", "s.comp", "--out", "out", "-q"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    for sample in ["r", "rb"] {
        let d = dir.join("out").join(sample);
        assert!(d.join("samples.npy").is_file() && d.join("plot.png").is_file(), "{sample}: {}", run.stderr);
        let rec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("run.json")).unwrap()).unwrap();
        assert_eq!(rec["model"], "toy2d-mlp");
        assert_eq!(rec["samples"], 64);
        // The freshly trained weights, not the repository's `models/toy2d-mlp` (which the
        // lookup would fall back to): their file, and the hash their card records.
        let weights = out.join("model.safetensors").canonicalize().unwrap();
        assert_eq!(rec["weights"]["path"], weights.to_str().unwrap(), "{sample}");
        assert_eq!(rec["weights"]["sha256"], comp_models::weights::sha256_file(&weights).unwrap().as_str(), "{sample}");
    }

    std::fs::write(
        dir.join("e.comp"),
        "model toy2d-mlp-eps\nbase none\nsamples 32\nsampler ddim(steps: 5, eta: 0)\nsample e = ring AND bar\n",
    )
    .unwrap();
    let run = comp_in(dir, &["run", "e.comp", "--out", "out", "-q"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(dir.join("out/e/samples.npy").is_file());
    let rec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("out/e/run.json")).unwrap()).unwrap();
    let eps = dir.join("models/toy2d-mlp-eps");
    assert_eq!(rec["weights"]["path"], eps.join("model.safetensors").canonicalize().unwrap().to_str().unwrap());
    assert_eq!(rec["weights"]["sha256"], comp_models::weights::sha256_file(&eps.join("model.safetensors")).unwrap().as_str());
}

#[test]
fn train_rejects_bad_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [&["train", "toy2d", "--steps", "0"][..], &["train", "toy2d", "--batch", "0"], &["train", "toy2d", "--param", "score"]] {
        let run = comp_in(tmp.path(), args, "");
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
    assert!(!tmp.path().join("models").exists(), "nothing written on a usage error");
}

#[test]
fn a_batch_that_cannot_fit_is_refused_and_a_diverged_run_keeps_the_previous_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Issue 26: `--batch 100000000` aborted on allocation (SIGABRT); it is estimated first.
    let run = common::comp_env(dir, &["train", "toy2d", "--batch", "100000000", "--steps", "1", "-q"], "", &[("COMP_MEMORY_LIMIT", "4G")]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("`--batch` of 100000000 rows needs about") && run.stderr.contains("rows fit"), "{}", run.stderr);
    assert!(!dir.join("models/toy2d-mlp/model.safetensors").exists());

    // A first training, then one at lr 1000 over it: the loss or the weights blow up, the run
    // stops with an error, and the first weights stay (issue 26: it wrote a NaN card).
    let out = dir.join("m");
    let args = |lr: &'static str| ["train", "toy2d", "--steps", "30", "--batch", "64", "--lr", lr, "--out", "m", "--force", "-q"];
    let run = comp_in(dir, &args("0.001"), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (weights, card_text) =
        (std::fs::read(out.join("model.safetensors")).unwrap(), std::fs::read_to_string(out.join("model.json")).unwrap());
    let run = comp_in(dir, &args("1000"), "");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("diverged") && run.stderr.contains("previous weights stay"), "{}", run.stderr);
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), weights);
    assert_eq!(std::fs::read_to_string(out.join("model.json")).unwrap(), card_text);
}

#[test]
fn the_thread_pool_follows_slurm_cpus_per_task() {
    // On a 2-CPU machine a Slurm task of one CPU computes with one thread (the card records
    // what training ran on); RAYON_NUM_THREADS, when set, still wins.
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_comp"));
    cmd.args(["train", "toy2d", "--steps", "2", "--batch", "8", "--out", "m", "-q"]).current_dir(tmp.path());
    cmd.env_remove("RAYON_NUM_THREADS").env("SLURM_CPUS_PER_TASK", "1");
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let device = card(&tmp.path().join("m/model.json"))["training"]["device"].as_str().unwrap().to_string();
    assert!(device.starts_with("cpu (1 threads"), "{device}");
}

//! Per-sample determinism and shards, end to end through the binary: sample i depends only on
//! (file, seed, i); `comp run --shard I/N` in separate processes, joined by `comp merge`,
//! writes exactly what one run writes (docs/cluster.md).

mod common;

use common::{comp, comp_env};
use std::path::{Path, PathBuf};

/// The f32 values of a `.npy` written by comp (format 1.0: a 10-byte preamble whose last two
/// bytes are the header length, then the header, then little-endian f32 data).
fn npy_values(path: &Path) -> Vec<u32> {
    let bytes = std::fs::read(path).unwrap();
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header..].chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn run(args: &[&str]) {
    let r = comp(args, "");
    assert_eq!(r.code, 0, "comp {args:?}: {}", r.stderr);
}

/// `comp run FILE -o OUT --samples N -q` plus `extra`; the path of OUT.
fn sample_into(dir: &Path, name: &str, file: &str, samples: usize, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let n = samples.to_string();
    let mut args = vec!["run", file, "-o", out.to_str().unwrap(), "--samples", &n, "-q"];
    args.extend(extra);
    run(&args);
    out
}

#[test]
fn a_sample_does_not_depend_on_how_many_are_drawn() {
    let dir = tempfile::tempdir().unwrap();
    // DDPM draws noise every step; HMC adds momenta, leapfrog and accept tests (uniforms).
    for file in ["examples/product.comp", "examples/product_hmc.comp"] {
        let ten = sample_into(dir.path(), "ten", file, 10, &[]);
        let three = sample_into(dir.path(), "three", file, 3, &[]);
        let ten = npy_values(&ten.join("product/samples.npy"));
        let three = npy_values(&three.join("product/samples.npy"));
        // Bit patterns, 2 values per sample: the first 3 samples of 10 are the 3 samples.
        assert_eq!(ten[..6], three[..], "{file}");
        assert_ne!(ten[6..12], three[..], "{file}: samples differ from each other");
    }
}

/// A file sampling `model` (the exact toy2d, or a learned MLP) with DDPM.
/// `ring AND bar` on one model, or (`several`) the exact ring with the learned bar.
fn source(dir: &Path, model: &str) -> String {
    let path = dir.join(format!("{model}.comp"));
    let text = match model {
        "several" => {
            "model e = toy2d\nmodel l = toy2d-mlp\nsampler ddpm(steps: 20)\nbase none\nseed 3\n\nsample product = e.ring AND l.bar\n"
                .to_string()
        }
        _ => format!("model {model}\nsampler ddpm(steps: 20)\nbase none\nseed 3\n\nsample product = ring AND bar\n"),
    };
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn shards_in_separate_processes_merge_into_one_run() {
    let dir = tempfile::tempdir().unwrap();
    for model in ["toy2d", "toy2d-mlp", "several"] {
        let file = source(dir.path(), model);
        let single = sample_into(dir.path(), &format!("{model}-single"), &file, 50, &[]);
        let shards = dir.path().join(format!("{model}-shards"));
        // Out of order, as a job array may finish them.
        for i in [3, 1, 0, 2] {
            run(&["run", &file, "-o", shards.to_str().unwrap(), "--samples", "50", "-q", "--shard", &format!("{i}/4")]);
        }
        // 50 over 4 shards: 50 / 4 = 12, 50 % 4 = 2, so 13, 13, 12, 12 samples.
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(shards.join("product/shards/shard-2-of-4/shard.json")).unwrap()).unwrap();
        assert_eq!(m["indices"], serde_json::json!([26, 38]));
        assert_eq!(m["samples"], 50);
        let merged = dir.path().join(format!("{model}-merged"));
        let r = comp(&["merge", shards.to_str().unwrap(), "-o", merged.to_str().unwrap()], "");
        assert_eq!(r.code, 0, "{}", r.stderr);
        for file in ["samples.npy", "plot.png"] {
            let a = std::fs::read(single.join("product").join(file)).unwrap();
            let b = std::fs::read(merged.join("product").join(file)).unwrap();
            assert!(a == b, "{model}: merged {file} differs from the single run's");
        }
        let record = |d: &Path| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(d.join("product/run.json")).unwrap()).unwrap()
        };
        let (one, joined) = (record(&single), record(&merged));
        // 20 DDPM steps, one batched call per step and model: each shard makes 20 calls (40
        // with two models).
        let per_step = if model == "several" { 2 } else { 1 };
        assert_eq!(one["model_calls"], 20 * per_step);
        assert_eq!(joined["model_calls"], 4 * 20 * per_step);
        for same in
            ["samples", "seed", "rows_evaluated", "settings", "plan", "outputs", "non_finite", "outside_picture", "steps", "weights"]
        {
            assert_eq!(one[same], joined[same], "{model}: {same}");
        }
        assert_eq!(joined["shards"].as_array().unwrap().len(), 4);
        // Several models: each model's weights and calls, as the single run records them
        // (each model called once per step: 20 in one run, 4 · 20 over the shards).
        if model == "several" {
            let (m1, mj) = (one["models"].as_array().unwrap(), joined["models"].as_array().unwrap());
            assert_eq!(m1.len(), 2);
            assert_eq!(mj.len(), 2);
            for (a, b) in m1.iter().zip(mj) {
                for same in ["alias", "model", "weights"] {
                    assert_eq!(a[same], b[same], "{same}");
                }
                assert_eq!((a["model_calls"].as_u64(), b["model_calls"].as_u64()), (Some(20), Some(80)));
            }
            assert!(mj[1]["weights"]["sha256"].is_string(), "{}", mj[1]);
        } else {
            assert!(joined.get("models").is_none());
        }
    }
}

#[test]
fn bad_shard_sets_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = source(dir.path(), "toy2d");
    let shards = dir.path().join("shards");
    let s = shards.to_str().unwrap();
    for i in [0, 1, 3] {
        run(&["run", &file, "-o", s, "--samples", "50", "-q", "--shard", &format!("{i}/4")]);
    }
    let out = dir.path().join("merged");
    let merge = |dirs: &[&str]| {
        let mut args = vec!["merge"];
        args.extend(dirs);
        args.extend(["-o", out.to_str().unwrap()]);
        comp(&args, "")
    };
    // Shard 2/4 (indices 26..38) never ran.
    let r = merge(&[s]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("missing indices 26..38 (shard 2/4)"), "{}", r.stderr);
    assert!(!out.join("product").exists(), "nothing is written");

    // A shard of another seed does not belong to the run.
    let other = dir.path().join("other");
    run(&["run", &file, "-o", other.to_str().unwrap(), "--samples", "50", "-q", "--shard", "2/4", "--seed", "4"]);
    let r = merge(&[s, other.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not of one run"), "{}", r.stderr);

    // Shard 1/3 of the same run (indices 17..34) overlaps shard 1/4 (13..26).
    let thirds = dir.path().join("thirds");
    run(&["run", &file, "-o", thirds.to_str().unwrap(), "--samples", "50", "-q", "--shard", "1/3"]);
    let r = merge(&[s, thirds.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("shards overlap") && r.stderr.contains("17..34") && r.stderr.contains("indices 17..26"), "{}", r.stderr);
    assert!(!out.join("product").exists(), "nothing is written");
}

#[test]
fn shard_auto_reads_the_job_array_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = source(dir.path(), "toy2d");
    let out = dir.path().join("out");
    let args = ["run", &file, "-o", out.to_str().unwrap(), "--samples", "10", "-q", "--shard", "auto"];
    let root = common::root();
    let r = comp_env(&root, &args, "", &[("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(out.join("product/shards/shard-1-of-4/shard.json").exists());
    let r = comp_env(&root, &args, "", &[("JOB_COMPLETION_INDEX", "3"), ("COMP_SHARDS", "4")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(out.join("product/shards/shard-3-of-4/samples.npy").exists());
    let r = comp_env(&root, &args, "", &[("JOB_COMPLETION_INDEX", "3")]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("COMP_SHARDS is not"), "{}", r.stderr);
    // Outside a job array (the test runner may itself run in one: clear the variables).
    let mut bare = std::process::Command::new(env!("CARGO_BIN_EXE_comp"));
    bare.args(args).current_dir(&root);
    for v in ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"] {
        bare.env_remove(v);
    }
    let o = bare.output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("found no job array"));
}

/// Reads, edits and rewrites a shard's `shard.json`.
fn edit_manifest(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// `comp merge DIRS -o OUT`, killed after 60 s (issue 26: a merge spun for ever).
fn merge_within_a_minute(dirs: &[&Path], out: &Path) -> common::Run {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_comp"));
    cmd.arg("merge").args(dirs).arg("-o").arg(out).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed().as_secs() > 60 {
            child.kill().unwrap();
            panic!("comp merge ran for more than 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    common::Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

#[test]
fn a_manifest_naming_a_path_as_its_sample_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = source(dir.path(), "toy2d");
    let shards = dir.path().join("a/b/shards");
    run(&["run", &file, "-o", shards.to_str().unwrap(), "--samples", "4", "-q", "--shard", "0/1"]);
    let manifest = shards.join("product/shards/shard-0-of-1/shard.json");
    let victim = dir.path().join("a/victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("run.json"), "precious").unwrap();
    for name in ["../../victim", victim.to_str().unwrap(), "a/b", ""] {
        edit_manifest(&manifest, |m| {
            m["sample"] = name.into();
            m["plan"]["sample"] = name.into();
        });
        let r = merge_within_a_minute(&[&shards], &shards);
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        assert!(r.stderr.contains("is not a name"), "{name}: {}", r.stderr);
        assert_eq!(std::fs::read_to_string(victim.join("run.json")).unwrap(), "precious", "{name}");
    }
}

#[test]
fn a_gap_after_a_shard_of_a_huge_count_is_named_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = source(dir.path(), "toy2d");
    let shards = dir.path().join("shards");
    run(&["run", &file, "-o", shards.to_str().unwrap(), "--samples", "10", "-q", "--shard", "0/18446744073709551615"]);
    let r = merge_within_a_minute(&[&shards], &dir.path().join("merged"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("missing indices 1..10 (shard 1/18446744073709551615, 2/18446744073709551615"), "{}", r.stderr);
}

#[test]
fn merge_checks_every_sample_and_every_file_before_writing_any() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two.comp");
    std::fs::write(&file, "model toy2d\nsampler ddpm(steps: 5)\nbase none\nsample a = ring\nsample b = bar\n").unwrap();
    let shards = dir.path().join("shards");
    for i in 0..2 {
        run(&["run", file.to_str().unwrap(), "-o", shards.to_str().unwrap(), "--samples", "6", "-q", "--shard", &format!("{i}/2")]);
    }
    // `b`'s second shard lost its last bytes: `a` (merged first) must not be written either.
    let npy = shards.join("b/shards/shard-1-of-2/samples.npy");
    let bytes = std::fs::read(&npy).unwrap();
    std::fs::write(&npy, &bytes[..bytes.len() - 5]).unwrap();
    let out = dir.path().join("merged");
    let r = merge_within_a_minute(&[&shards], &out);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("shard-1-of-2/samples.npy"), "{}", r.stderr);
    assert!(!out.join("a").exists() && !out.join("b").exists(), "nothing is written");
    std::fs::write(&npy, &bytes).unwrap();

    // Rows of the wrong shape (in every shard alike) are refused: toy2d writes [N, 2].
    for i in 0..2 {
        let npy = shards.join(format!("a/shards/shard-{i}-of-2/samples.npy"));
        std::fs::write(&npy, npy_bytes(&[3, 3], &[0.0; 9])).unwrap();
    }
    let r = merge_within_a_minute(&[&shards], &out);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("rows of shape [3]") && r.stderr.contains("[2]"), "{}", r.stderr);
    assert!(!out.join("a").exists() && !out.join("b").exists(), "nothing is written");
}

fn npy_bytes(shape: &[usize], data: &[f32]) -> Vec<u8> {
    comp_output::npy_bytes(shape, data).unwrap()
}

#[test]
fn seeds_models_counts_and_weights_that_differ_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = source(d, "toy2d");
    let s = d.join("s");
    run(&["run", &file, "-o", s.to_str().unwrap(), "--samples", "6", "-q", "--shard", "0/2"]);
    let other = d.join("other");
    run(&["run", &file, "-o", other.to_str().unwrap(), "--samples", "6", "-q", "--shard", "1/2", "--seed", "9"]);
    let r = merge_within_a_minute(&[&s, &other], &d.join("m"));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("seeds 3 and 9"), "the seed, not the plan hash: {}", r.stderr);

    // Summed model calls that pass u64: a damaged manifest, refused (issue 26: they wrapped).
    let t = d.join("t");
    for i in 0..2 {
        run(&["run", &file, "-o", t.to_str().unwrap(), "--samples", "6", "-q", "--shard", &format!("{i}/2")]);
        edit_manifest(&t.join(format!("product/shards/shard-{i}-of-2/shard.json")), |m| m["model_calls"] = u64::MAX.into());
    }
    let r = merge_within_a_minute(&[&t], &d.join("m"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("`model_calls` add up past"), "{}", r.stderr);

    // A `model` that is not the plan's.
    let u = d.join("u");
    run(&["run", &file, "-o", u.to_str().unwrap(), "--samples", "6", "-q", "--shard", "0/1"]);
    edit_manifest(&u.join("product/shards/shard-0-of-1/shard.json"), |m| m["model"] = "toy2d-mlp".into());
    let r = merge_within_a_minute(&[&u], &d.join("m"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("`model` \"toy2d-mlp\"") && r.stderr.contains("not those of its `plan`"), "{}", r.stderr);

    // Two shards of toy2d-mlp made with different weights (a second, briefly trained model
    // found first through COMP_MODELS): refused, naming both hashes.
    let models = d.join("models");
    let t = common::comp_in(
        d,
        &["train", "toy2d", "--steps", "2", "--batch", "8", "--out", models.join("toy2d-mlp").to_str().unwrap(), "-q"],
        "",
    );
    assert_eq!(t.code, 0, "{}", t.stderr);
    let mlp = source(d, "toy2d-mlp");
    let w = d.join("w");
    run(&["run", &mlp, "-o", w.to_str().unwrap(), "--samples", "6", "-q", "--shard", "0/2"]);
    let r = comp_env(
        d,
        &["run", &mlp, "-o", w.to_str().unwrap(), "--samples", "6", "-q", "--shard", "1/2"],
        "",
        &[("COMP_MODELS", models.to_str().unwrap())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("product/shards/shard-1-of-2/shard.json")).unwrap()).unwrap();
    assert!(m["weights_hash"].as_str().unwrap().starts_with("sha256:"), "{m}");
    let r = merge_within_a_minute(&[&w], &d.join("m"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("ran different weights of `toy2d-mlp`"), "{}", r.stderr);
    assert!(!d.join("m/product").exists());
}

#[test]
fn old_malformed_and_miscounted_manifests_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = source(d, "toy2d");
    let s = d.join("s");
    run(&["run", &file, "-o", s.to_str().unwrap(), "--samples", "6", "-q", "--shard", "0/1"]);
    let manifest = s.join("product/shards/shard-0-of-1/shard.json");
    let good = std::fs::read_to_string(&manifest).unwrap();
    let m: serde_json::Value = serde_json::from_str(&good).unwrap();
    // The shard's run record, flattened beside the shard's fields.
    assert_eq!((m["shard_index"].as_u64(), m["samples"].as_u64(), m["model_calls"].as_u64()), (Some(0), Some(6), Some(20)));
    assert_eq!(m["outputs"], serde_json::json!(["samples.npy"]));
    assert!(m["settings"].is_object() && m.get("shards").is_none(), "{m}");
    let refused = |what: &str, expected: &[&str]| {
        let r = merge_within_a_minute(&[&s], &d.join("m"));
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        for e in expected {
            assert!(r.stderr.contains(e), "{what}: {}", r.stderr);
        }
        assert!(!d.join("m/product").exists(), "{what}: nothing is written");
        std::fs::write(&manifest, &good).unwrap();
    };
    // A manifest of the format before the run record was embedded (no `non_finite`,
    // `settings`, `outputs`; `calls_per_model`).
    edit_manifest(&manifest, |m| {
        let o = m.as_object_mut().unwrap();
        for k in ["non_finite", "outside_picture", "settings", "outputs"] {
            o.remove(k);
        }
        o.insert("calls_per_model".into(), serde_json::json!([]));
    });
    refused("old", &["shard-0-of-1/shard.json", "earlier comp", "run that shard again"]);
    std::fs::write(&manifest, &good[..good.len() / 2]).unwrap();
    refused("truncated", &["shard-0-of-1/shard.json", "is not a shard manifest"]);
    edit_manifest(&manifest, |m| m["model_calls"] = "many".into());
    refused("a string for a count", &["is not a shard manifest", "expected usize"]);
    edit_manifest(&manifest, |m| m["non_finite"] = 7.into());
    refused("more non-finite than rows", &["`non_finite` 7", "than the shard's 6"]);
    // Counts that are not those of its rows (toy2d with 6 samples: none is non-finite).
    edit_manifest(&manifest, |m| m["non_finite"] = 1.into());
    refused("a count its rows deny", &["samples.npy` holds 0 non-finite", "records 1"]);
    edit_manifest(&manifest, |m| m["settings"]["seed"] = 4.into());
    refused("settings not the plan's", &["`settings` or `steps` are not those of its `plan`"]);
    edit_manifest(&manifest, |m| m["weights_hash"] = "sha256:00".into());
    refused("a weights hash not of its weights", &["`weights_hash` is not that of the weights it records"]);
    edit_manifest(&manifest, |m| m["shards"] = serde_json::json!([]));
    refused("a merged record", &["it has `shards`"]);
}

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
fn source(dir: &Path, model: &str) -> String {
    let path = dir.join(format!("{model}.comp"));
    std::fs::write(&path, format!("model {model}\nsampler ddpm(steps: 20)\nbase none\nseed 3\n\nsample product = ring AND bar\n")).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn shards_in_separate_processes_merge_into_one_run() {
    let dir = tempfile::tempdir().unwrap();
    for model in ["toy2d", "toy2d-mlp"] {
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
        let record = |d: &Path| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(d.join("product/run.json")).unwrap()).unwrap() };
        let (one, joined) = (record(&single), record(&merged));
        // 20 DDPM steps, one batched call per step: each shard makes 20 calls.
        assert_eq!(one["model_calls"], 20);
        assert_eq!(joined["model_calls"], 4 * 20);
        for same in ["samples", "seed", "rows_evaluated", "settings", "plan", "outputs", "non_finite", "outside_picture", "steps"] {
            assert_eq!(one[same], joined[same], "{model}: {same}");
        }
        assert_eq!(joined["shards"].as_array().unwrap().len(), 4);
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

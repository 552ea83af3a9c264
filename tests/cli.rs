//! The command line end to end: exit codes, output files, bad inputs.

mod common;
use common::{comp, comp_in, root};

#[test]
fn check_exit_codes() {
    assert_eq!(comp(&["check", "examples/product.comp"], "").code, 0);
    assert_eq!(comp(&["check", "tests/invalid/unknown_concept.comp"], "").code, 1);
    let missing = comp(&["check", "no/such/file.comp"], "");
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("cannot read `no/such/file.comp`: no such file"), "{}", missing.stderr);
    assert_eq!(comp(&["check"], "").code, 2, "usage error");
    assert_eq!(comp(&["check", "examples"], "").code, 2, "a directory");
    // stdin
    assert_eq!(comp(&["check", "-"], "model toy2d\nsample s = ring AND bar\n").code, 0);
}

#[test]
fn check_reports_every_problem_at_once() {
    let run = comp(&["check", "tests/invalid/many_errors.comp"], "");
    assert_eq!(run.code, 1);
    let errors = run.stderr.matches("Error").count();
    assert!(errors >= 4, "expected every problem reported, got:\n{}", run.stderr);
}

#[test]
fn json_diagnostics_have_positions() {
    let run = comp(&["check", "--format", "json", "-"], "model toy2d\nsample s = rnig AND bar\n");
    assert_eq!(run.code, 1);
    let ds: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    let d = &ds[0];
    // `rnig` starts at line 2, column 12 (1-based) and ends before column 16.
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(2), Some(12)));
    assert_eq!((d["end_line"].as_u64(), d["end_column"].as_u64()), (Some(2), Some(16)));
    assert_eq!(d["code"], "E0103");
    assert!(d["help"].as_str().unwrap_or("").contains("ring"), "did-you-mean: {d}");
}

#[test]
fn fmt_check_and_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("messy.comp");
    std::fs::write(&file, "model   toy2d\n\n\n# the product\nsample  s=ring   AND bar # two modes\n").unwrap();
    let f = file.to_str().unwrap();
    assert_eq!(comp(&["fmt", "--check", f], "").code, 1);
    assert_eq!(comp(&["fmt", f], "").code, 0);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text, "model toy2d\n\n# the product\nsample s = ring AND bar  # two modes\n");
    assert_eq!(comp(&["fmt", "--check", f], "").code, 0);
    // A file that does not parse is reported and left untouched.
    std::fs::write(&file, "model toy2d\nsample s = ring AND\n").unwrap();
    assert_eq!(comp(&["fmt", f], "").code, 1);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "model toy2d\nsample s = ring AND\n");
}

#[test]
fn plan_emits_every_stage() {
    for emit in ["ast", "simplified", "plan", "json"] {
        let run = comp(&["plan", "examples/product.comp", "--emit", emit], "");
        assert_eq!(run.code, 0, "--emit {emit}: {}", run.stderr);
        assert!(!run.stdout.is_empty());
    }
    // The syntax tree as written: six settings, `let stripe = bar`, then
    // `sample product = ring AND stripe` with the let's name unresolved and spans into the file.
    let ast: serde_json::Value = serde_json::from_str(&comp(&["plan", "examples/product.comp", "--emit", "ast"], "").stdout).unwrap();
    let kinds: Vec<&str> = ast["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["setting", "setting", "setting", "setting", "setting", "setting", "let", "sample"]);
    let text = std::fs::read_to_string(root().join("examples/product.comp")).unwrap();
    let span = |v: &serde_json::Value| &text[v["start"].as_u64().unwrap() as usize..v["end"].as_u64().unwrap() as usize];
    let sample = &ast["items"][7];
    assert_eq!(sample["name"]["name"], "product");
    assert_eq!(sample["expr"]["kind"]["kind"], "and");
    let names: Vec<&str> =
        sample["expr"]["kind"]["of"].as_array().unwrap().iter().map(|x| x["kind"]["of"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ring", "stripe"]);
    assert_eq!(span(&sample["expr"]["span"]), "ring AND stripe");
    assert_eq!(ast["items"][6]["name"]["name"], "stripe");

    let json: serde_json::Value = serde_json::from_str(&comp(&["plan", "examples/product.comp", "--emit", "json"], "").stdout).unwrap();
    let sample = &json["samples"][0];
    assert_eq!(sample["sample"], "product");
    assert_eq!(sample["conditions"].as_array().unwrap().len(), 2, "ring and bar, once each");
    assert_eq!(sample["segments"][0]["combine"]["coeffs"], serde_json::json!([1.0, 1.0]));
}

#[test]
fn models_lists_toy2d() {
    let run = comp(&["models"], "");
    assert_eq!(run.code, 0);
    for c in ["toy2d", "ring", "bar", "left_bar", "right_bar", "box_large", "box_small"] {
        assert!(run.stdout.contains(c), "missing {c}:\n{}", run.stdout);
    }
    // `--json` lists every registered model, each exactly as the registry describes it (the
    // vocabulary the checker uses), with where its weights are.
    let run = comp(&["models", "--json"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    let infos = comp_models::infos();
    assert_eq!(listed.len(), infos.len());
    for (entry, info) in listed.iter().zip(&infos) {
        let mut want = serde_json::to_value(info).unwrap();
        let status = entry["weights"]["status"].as_str().unwrap();
        match comp_models::weights(&info.name) {
            None => assert_eq!(status, "built-in", "{}", info.name),
            Some(comp_models::locate::Weights::Found(_)) => assert_eq!(status, "found", "{}", info.name),
            Some(comp_models::locate::Weights::Missing(_)) => assert_eq!(status, "missing", "{}", info.name),
            Some(comp_models::locate::Weights::Unusable(_)) => assert_eq!(status, "unusable", "{}", info.name),
        }
        want["weights"] = entry["weights"].clone();
        assert_eq!(entry, &want, "{}", info.name);
        assert!(run.stdout.contains(&info.name));
    }
    for name in ["toy2d", "toy2d-mlp", "toy2d-mlp-eps", "clevr-pos"] {
        assert!(listed.iter().any(|m| m["name"] == name), "{name} missing from --json");
    }
}

fn read_npy_shape(path: &std::path::Path) -> Vec<usize> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f4'"), "{header}");
    let shape = &header[header.find("'shape': (").unwrap() + 10..];
    let shape = &shape[..shape.find(')').unwrap()];
    shape.split(',').filter(|s| !s.trim().is_empty()).map(|s| s.trim().parse().unwrap()).collect()
}

#[test]
fn run_writes_samples_plot_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = comp(&["run", "examples/product.comp", "-o", out.to_str().unwrap(), "--samples", "200", "-q"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sample = out.join("product");
    assert_eq!(read_npy_shape(&sample.join("samples.npy")), vec![200, 2]);
    let png = std::fs::read(sample.join("plot.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(sample.join("run.json")).unwrap()).unwrap();
    assert_eq!(record["model"], "toy2d");
    assert_eq!(record["samples"], 200);
    // 100 DDPM steps, one batched call per step.
    assert_eq!(record["model_calls"], 100);
    assert!(record["plan"]["conditions"].is_array());
    assert!(record["comp_version"].is_string());
    // Nothing but the outputs: no temporary files left behind.
    let mut names: Vec<String> =
        std::fs::read_dir(&sample).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["plot.png", "run.json", "samples.npy"]);
}

#[test]
fn a_rerun_replaces_the_previous_outputs_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("product");
    std::fs::create_dir_all(&sample).unwrap();
    std::fs::write(sample.join("0012.png"), "stale image of an earlier run").unwrap();
    std::fs::write(sample.join("notes.txt"), "mine").unwrap();
    let r = comp(&["run", "examples/product.comp", "-o", dir.path().to_str().unwrap(), "--samples", "20", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!sample.join("0012.png").exists(), "stale outputs are removed");
    assert_eq!(std::fs::read_to_string(sample.join("notes.txt")).unwrap(), "mine", "other files are kept");
    assert!(sample.join("run.json").exists());
}

#[test]
fn run_is_deterministic_and_seed_matters() {
    let dir = tempfile::tempdir().unwrap();
    let go = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let r = comp(&["run", "examples/product.comp", "-o", out.to_str().unwrap(), "--samples", "50", "--seed", seed, "-q"], "");
        assert_eq!(r.code, 0, "{}", r.stderr);
        std::fs::read(out.join("product/samples.npy")).unwrap()
    };
    assert_eq!(go("a", "1"), go("b", "1"));
    assert_ne!(go("a", "1"), go("c", "2"));
}

#[test]
fn run_selects_one_sample() {
    let dir = tempfile::tempdir().unwrap();
    let r =
        comp(&["run", "examples/settings.comp", "-o", dir.path().to_str().unwrap(), "--sample", "ddim_fast", "--samples", "20", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dir.path().join("ddim_fast/samples.npy").exists());
    assert!(!dir.path().join("ddpm_default").exists());
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("ddim_fast/run.json")).unwrap()).unwrap();
    assert_eq!(record["model_calls"], 25, "ddim with 25 steps");
    let bad = comp(&["run", "examples/settings.comp", "-o", dir.path().to_str().unwrap(), "--sample", "nope"], "");
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("no sample named `nope`"), "{}", bad.stderr);
}

#[test]
fn run_bad_inputs_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = comp(&["run", "no_such.comp"], "");
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains("cannot read `no_such.comp`"), "{}", missing.stderr);

    // An output directory that cannot be created: a file stands in its way.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "").unwrap();
    let out = blocker.join("out");
    let r = comp(&["run", "examples/product.comp", "-o", out.to_str().unwrap(), "-q"], "");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("cannot write to output directory"), "{}", r.stderr);

    // Errors in the script: diagnostics, no output.
    let out = dir.path().join("o2");
    let r = comp(&["run", "tests/invalid/unknown_concept.comp", "-o", out.to_str().unwrap()], "");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("E0103"));
    assert!(!out.join("s").exists());

    // A plan for another model: the vocabulary does not match.
    let plan = comp(&["plan", "examples/product.comp", "--emit", "json"], "").stdout;
    let forged = plan.replace("\"name\": \"ring\"", "\"name\": \"pos\"");
    let file = dir.path().join("forged.json");
    std::fs::write(&file, forged).unwrap();
    let r = comp(&["run", file.to_str().unwrap(), "-o", dir.path().join("o3").to_str().unwrap(), "-q"], "");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("pos"), "{}", r.stderr);
    // A plan written before conditions were tagged by `kind` (version 1): told to recompile.
    let old = plan.replace("\"kind\": \"concept\",", "").replace("\"name\": \"ring\"", "\"concept\": \"ring\"");
    std::fs::write(&file, old).unwrap();
    let r = comp(&["run", file.to_str().unwrap(), "-o", dir.path().join("o3b").to_str().unwrap(), "-q"], "");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("version 1 plan shape") && r.stderr.contains("comp plan --emit json"), "{}", r.stderr);
    let renamed = plan.replace("\"model\": \"toy2d\"", "\"model\": \"nosuchmodel\"");
    std::fs::write(&file, renamed).unwrap();
    let r = comp(&["run", file.to_str().unwrap(), "-o", dir.path().join("o4").to_str().unwrap(), "-q"], "");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("nosuchmodel"), "{}", r.stderr);
    // A JSON plan skips the checker: its sample names must still be safe folder names.
    let escaping = plan.replace("\"sample\": \"product\"", "\"sample\": \"../escaped\"");
    std::fs::write(&file, escaping).unwrap();
    let r = comp(&["run", file.to_str().unwrap(), "-o", dir.path().join("o5").to_str().unwrap(), "-q"], "");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("`../escaped` is not a name"), "{}", r.stderr);
    assert!(!dir.path().join("escaped").exists());
    // Its MCMC settings are checked like the compiler's (one validator for JSON plans).
    let hmc = comp(&["plan", "examples/product_hmc.comp", "--emit", "json"], "").stdout.replace("\"damping\": 0.5", "\"damping\": 3.0");
    std::fs::write(&file, hmc).unwrap();
    let r = comp(&["run", file.to_str().unwrap(), "-o", dir.path().join("o6").to_str().unwrap(), "--samples", "5", "-q"], "");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("MCMC `damping` must be in 0..=1, found 3"), "{}", r.stderr);
    std::fs::write(&file, "{ not json").unwrap();
    let r = comp(&["run", file.to_str().unwrap(), "-q"], "");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("is not a plan"), "{}", r.stderr);
    let _ = root();
}

#[test]
fn a_plan_json_runs_like_its_script() {
    let dir = tempfile::tempdir().unwrap();
    let plan = comp(&["plan", "examples/product.comp", "--emit", "json"], "").stdout;
    std::fs::write(dir.path().join("product.json"), plan).unwrap();
    let a = comp_in(dir.path(), &["run", "product.json", "-o", "a", "--samples", "30", "-q"], "");
    assert_eq!(a.code, 0, "{}", a.stderr);
    let b = comp(&["run", "examples/product.comp", "-o", dir.path().join("b").to_str().unwrap(), "--samples", "30", "-q"], "");
    assert_eq!(b.code, 0);
    assert_eq!(
        std::fs::read(dir.path().join("a/product/samples.npy")).unwrap(),
        std::fs::read(dir.path().join("b/product/samples.npy")).unwrap()
    );
}

/// DPM-Solver++(2M) runs on the exact and the learned toy2d models, with a window and an MCMC
/// range, and makes exactly the model calls `comp plan` predicts: one per step whose segment
/// has an active condition (here `ring` for the first 10 of 20 steps and `bar` for the last
/// 10, so every step calls: 20), plus ULA's 2 per level in its range.
#[test]
fn dpmpp2m_samples_every_model_with_the_predicted_model_calls() {
    let tmp = tempfile::tempdir().unwrap();
    for model in ["toy2d", "toy2d-mlp", "toy2d-mlp-eps"] {
        let script = format!(
            "model {model}\nsampler dpmpp2m(steps: 20)\nmcmc ula(steps: 2, step_size: 0.001, from: 0.5)\nbase none\n\
             samples 64\nsample s = ring @ [0, 0.5] AND bar @ [0.5, 1]\n"
        );
        let file = tmp.path().join(format!("{model}.comp"));
        std::fs::write(&file, &script).unwrap();
        let file = file.to_str().unwrap();
        let plan = comp(&["plan", file, "--emit", "plan"], "");
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        assert!(plan.stdout.contains("sampler dpmpp2m(steps: 20)"), "{}", plan.stdout);
        // Levels 10..19 lie in [0.5, 1) (fraction (k + 0.5)/20), each after a reverse step:
        // 10 levels × 2 ULA steps.
        assert!(plan.stdout.contains("model calls: 40 (20 in the reverse steps + 20 in MCMC)"), "{}", plan.stdout);
        let out = tmp.path().join(format!("out-{model}"));
        let run = comp(&["run", file, "-q", "-o", out.to_str().unwrap()], "");
        assert_eq!(run.code, 0, "{model}: {}", run.stderr);
        let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("s/run.json")).unwrap()).unwrap();
        assert_eq!(record["model_calls"], 40, "{model}");
        assert_eq!(record["settings"]["sampler"]["kind"], "dpmpp2m");
        let npy = std::fs::read(out.join("s/samples.npy")).unwrap();
        // 64 × 2 f32 after the header; every value finite and near the product's modes.
        let data: Vec<f32> = npy[npy.len() - 512..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        assert!(data.iter().all(|v| v.is_finite() && v.abs() < 2.0), "{model}: {data:?}");
    }
}

/// `3 : left_bar OR 1 : right_bar` sampled end to end (compiler's normalised weights, the
/// runtime's mixture ε̂) on the exact toy2d model: the left bar should get p = 3/(3 + 1) =
/// 0.75 of the samples. The bars (x ∈ ±[0.1, 0.3]) are far apart against the noise at which
/// the branches separate, so the share is a Binomial(N, p) count: with N = 2000 its standard
/// deviation is √(p(1 − p)/N) = √(0.1875/2000) ≈ 0.0097, and the band p ± 5σ = 0.75 ± 0.048
/// fails by chance with probability < 1e-6. Equal weights (0.5), swapped weights (0.25) or
/// weights applied twice (0.9) all land outside it.
#[test]
fn an_unequal_mixture_splits_the_samples_by_its_weights() {
    let dir = tempfile::tempdir().unwrap();
    let r = comp(&["run", "examples/mixture.comp", "-o", dir.path().to_str().unwrap(), "--sample", "mostly_left", "-q"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = dir.path().join("mostly_left/samples.npy");
    assert_eq!(read_npy_shape(&file), vec![2000, 2]);
    let npy = std::fs::read(file).unwrap();
    let data: Vec<f32> = npy[npy.len() - 2000 * 8..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    let left = data.chunks_exact(2).filter(|p| p[0] < 0.0).count() as f64 / 2000.0;
    let sigma = (0.75f64 * 0.25 / 2000.0).sqrt();
    eprintln!("3 : left_bar OR 1 : right_bar: left share {left:.4} (σ {sigma:.4})");
    assert!((left - 0.75).abs() <= 5.0 * sigma, "left share {left}, expected 0.75 ± {:.3}", 5.0 * sigma);
}

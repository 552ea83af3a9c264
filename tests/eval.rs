//! `comp eval toy2d` end to end, and `comp plan`'s predicted model calls against what
//! `comp run` records in run.json for MCMC.

mod common;
use common::comp;

#[test]
fn eval_toy2d_writes_table_json_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ev");
    let json = dir.path().join("metrics.json");
    let run =
        comp(&["eval", "toy2d", "--samples", "150", "--seed", "3", "--out", out.to_str().unwrap(), "--json", json.to_str().unwrap()], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    for want in ["product", "mixture", "negation", "reverse", "ula", "mala", "u-hmc", "hmc", "log-lik", "MMD²"] {
        assert!(run.stdout.contains(want), "table lacks `{want}`:\n{}", run.stdout);
    }
    let png = std::fs::read(out.join("eval.png")).expect("eval.png");
    assert_eq!(&png[1..4], b"PNG");
    assert!(!out.join("eval.json").exists(), "--json moves the JSON");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["samples"], 150);
    let rows = v["results"].as_array().unwrap();
    assert_eq!(rows.len(), 3 * 6, "3 compositions × (exact + 5 samplers)");
    let cell = |c: &str, s: &str| rows.iter().find(|r| r["composition"] == c && r["sampler"] == s).unwrap();
    let hmc = cell("product", "hmc");
    assert_eq!(hmc["model_calls"], 100 + 99 * 31);
    assert!(hmc["acceptance"].as_f64().unwrap() > 0.9, "{hmc}");
    assert!(cell("product", "reverse")["acceptance"].is_null());
    // HMC fixes the product that reverse diffusion gets wrong (RRR), by a margin. The mean
    // log-likelihood is about f · L_in + (1 − f) · L_out: in-support samples score about the
    // exact draws' 3.5, the rest the softened floor ln(0.01 / 9) = −6.8 (1% uniform mass over
    // the 3 × 3 grid). Reverse diffusion leaves f ≈ 0.62 in the support, HMC ≈ 0.9, so the gap is
    // ≈ 0.28 · 10.3 ≈ 2.9 nats (measured 2.85 here, seed 3); its standard error from the two
    // binomial fractions at 150 samples is ≈ 10.3 · √(0.9·0.1 + 0.62·0.38)/√150 ≈ 0.5 nats.
    // 1 nat is 3.8 standard errors below the expected gap, and 2 above an HMC that does nothing.
    let reverse = cell("product", "reverse");
    let gap = hmc["log_likelihood"].as_f64().unwrap() - reverse["log_likelihood"].as_f64().unwrap();
    assert!(gap > 1.0, "HMC gains only {gap} nats over reverse diffusion:\n{hmc}\n{reverse}");
    let mix = cell("mixture", "mala");
    assert!(mix["in_support"].as_f64().unwrap() > 0.95, "{mix}");
    assert!((mix["left"].as_f64().unwrap() - 0.5).abs() < 0.2, "{mix}");

    // Without --json the JSON goes to DIR/eval.json.
    let out2 = dir.path().join("ev2");
    let run = comp(&["eval", "toy2d", "--samples", "20", "--quiet", "--out", out2.to_str().unwrap()], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(out2.join("eval.json").exists() && out2.join("eval.png").exists());
}

/// The learned model through the whole eval, sized to take seconds: 20 samples and 10 reverse
/// steps instead of 100 (its calls cost far more than the exact model's, and HMC makes 3,169 of
/// them at 100 steps). The calls follow from the plan: MCMC runs at each of the 9 levels after
/// the first step, 10 steps per level: ULA 1 call a step, MALA one more per level (the start's
/// energy), U-HMC and HMC 3 leapfrog calls a step plus one per level.
#[test]
fn eval_toy2d_with_the_learned_model_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ev");
    let run =
        comp(&["eval", "toy2d", "--model", "toy2d-mlp", "--samples", "20", "--steps", "10", "--quiet", "--out", out.to_str().unwrap()], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("toy2d eval: model toy2d-mlp, 20 samples, seed 0, 10-step DDPM (cosine)\n"), "{}", run.stdout);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("eval.json")).unwrap()).unwrap();
    assert_eq!((v["model"].as_str(), v["samples"].as_u64(), v["steps"].as_u64()), (Some("toy2d-mlp"), Some(20), Some(10)));
    let rows = v["results"].as_array().unwrap();
    assert_eq!(rows.len(), 3 * 6, "3 compositions × (exact + 5 samplers)");
    for r in rows {
        let calls = match r["sampler"].as_str().unwrap() {
            "exact" => None,
            "reverse" => Some(10),
            "ula" => Some(10 + 9 * 10),
            "mala" => Some(10 + 9 * 11),
            "u-hmc" | "hmc" => Some(10 + 9 * (10 * 3 + 1)),
            s => panic!("unknown sampler {s}"),
        };
        assert_eq!(r["model_calls"].as_u64(), calls, "{r}");
        for m in ["log_likelihood", "mmd2", "in_support"] {
            assert!(r[m].as_f64().is_some_and(f64::is_finite), "{m} not finite: {r}");
        }
    }
    assert!(out.join("eval.png").is_file());
}

#[test]
fn eval_toy2d_rejects_bad_arguments() {
    assert_eq!(comp(&["eval", "toy2d", "--samples", "0"], "").code, 2);
    let run = comp(&["eval", "toy2d", "--steps", "1"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("`--steps` must be at least 2"), "{}", run.stderr);
    let run = comp(&["eval", "toy2d", "--model", "nope"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown model `nope`"), "{}", run.stderr);
}

/// The number `comp plan` prints, e.g. `model calls: 3169 (...)`.
fn predicted_calls(plan_text: &str) -> u64 {
    let line = plan_text.lines().find(|l| l.trim_start().starts_with("model calls:")).expect("model calls line");
    line.trim_start()["model calls:".len()..].split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn planned_model_calls_match_the_run_with_mcmc() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("examples/product_hmc.comp".to_string(), true),
        (
            write(
                &dir,
                "ula.comp",
                "model toy2d\nbase none\nsampler ddpm(steps: 30)\nmcmc ula(steps: 4, from: 0.25, to: 0.8)\nsample s = ring AND bar\n",
            ),
            false,
        ),
        (
            write(
                &dir,
                "mala.comp",
                "model toy2d\nbase none\nsampler ddim(steps: 20, eta: 0)\nmcmc mala(steps: 3)\nsample s = left_bar OR right_bar\n",
            ),
            true,
        ),
        (
            write(
                &dir,
                "uhmc.comp",
                "model toy2d\nbase none\nsampler ddpm(steps: 25)\nmcmc uhmc(leapfrog: 2)\nsample s = ring AND bar @ [0.2, 0.6]\n",
            ),
            false,
        ),
    ];
    for (i, (file, adjusted)) in cases.iter().enumerate() {
        let plan = comp(&["plan", file], "");
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        let out = dir.path().join(format!("out{i}"));
        let run = comp(&["run", file, "--samples", "40", "--quiet", "--out", out.to_str().unwrap()], "");
        assert_eq!(run.code, 0, "{}", run.stderr);
        let sample = std::fs::read_dir(&out).unwrap().next().unwrap().unwrap().path();
        let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(sample.join("run.json")).unwrap()).unwrap();
        assert_eq!(record["model_calls"].as_u64().unwrap(), predicted_calls(&plan.stdout), "{file}");
        assert_eq!(record["acceptance"].is_number(), *adjusted, "{file}: {}", record["acceptance"]);
    }
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

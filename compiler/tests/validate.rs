//! `validate`: a plan read from JSON must meet every guarantee the compiler gives. Every
//! compiled plan passes; each broken field of a known-good plan is refused with its message.

mod common;
use common::*;
use comp_compiler::plan::{Branch, Combine, Plan};
use comp_compiler::validate::validate;

/// The JSON of a compiled file, mutated by `edit`, read back and validated.
fn problems(src: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
    let plan = ok(src).plan;
    let mut json = serde_json::to_value(&plan).unwrap();
    edit(&mut json);
    let plan: Plan = serde_json::from_value(json).expect("still a plan");
    validate(&plan, &models())
}

fn one_problem(src: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let p = problems(src, edit);
    assert_eq!(p.len(), 1, "{p:#?}");
    p[0].clone()
}

const WINDOWS: &str = "model toy2d\nsample s = ring AND bar @ [0.5, 1]\n";
const HMC: &str = "model toy2d\nmcmc hmc(steps: 2)\nsample s = ring AND bar\n";

#[test]
fn compiled_plans_are_valid() {
    for src in [
        WINDOWS,
        HMC,
        "model toy2d\nsample s = left_bar OR right_bar\n",
        "model toy2d\nsampler ddim(steps: 20, eta: 1)\nsample s = 1.3 * box_large AND NOT 0.3 * box_small\n",
        "model clevr-pos\nsample s = pos(0.25, 0.5) AND NOT pos(0.75, 0.5) @ [0, 0.6]\n",
        "model textmodel\nsample s = \"a red cube\" AND \"a blue ball\"\n",
    ] {
        assert_eq!(problems(src, |_| {}), Vec::<String>::new(), "{src}");
    }
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "comp") {
            let plan = ok(&std::fs::read_to_string(&path).unwrap()).plan;
            assert_eq!(validate(&plan, &models()), Vec::<String>::new(), "{}", path.display());
        }
    }
}

#[test]
fn segments_must_cover_zero_to_one_in_order() {
    // WINDOWS lowers to [0, 0.5) ring alone and [0.5, 1) ring AND bar.
    let p = one_problem(WINDOWS, |j| j["samples"][0]["segments"][1]["from"] = 0.4.into());
    assert_eq!(
        p,
        "sample `s`: segment 1 starts at 0.4, but segment 0 ends at 0.5 (segments cover [0, 1] in order, without gaps or overlaps)"
    );
    let p = problems(WINDOWS, |j| {
        let segs = j["samples"][0]["segments"].as_array_mut().unwrap();
        segs.swap(0, 1);
    });
    assert!(p[0].contains("segment 0 starts at 0.5, but the first segment must start at 0"), "{p:#?}");
    let p = problems(WINDOWS, |j| j["samples"][0]["segments"][1]["to"] = 0.5.into());
    assert!(p.iter().any(|m| m.contains("segment 1 is [0.5, 0.5)")), "{p:#?}");
    assert!(p.iter().any(|m| m.contains("the last segment ends at 0.5, not 1")), "{p:#?}");
    let p = one_problem(WINDOWS, |j| j["samples"][0]["segments"] = serde_json::json!([]));
    assert_eq!(p, "sample `s`: no segments: they must cover [0, 1]");
}

#[test]
fn active_ids_exist_once_with_one_coefficient_each() {
    let p = problems(HMC, |j| {
        j["samples"][0]["segments"][0]["active"] = serde_json::json!([0, 0]);
    });
    assert!(p.iter().any(|m| m.ends_with("segment 0 lists condition 0 twice in `active`")), "{p:#?}");
    assert!(p.iter().any(|m| m.ends_with("condition 1 is active in no segment")), "{p:#?}");
    let p = problems(HMC, |j| j["samples"][0]["segments"][0]["active"] = serde_json::json!([0, 7]));
    assert!(p.iter().any(|m| m.ends_with("segment 0 refers to condition 7, but there are 2")), "{p:#?}");
    let p = one_problem(HMC, |j| j["samples"][0]["segments"][0]["combine"]["coeffs"] = serde_json::json!([1.0]));
    assert_eq!(p, "sample `s`: segment 0 has 1 coefficients for 2 active conditions");
    // Coefficients summing to 0: `ring AND NOT bar` under `base none` (E0123's guarantee).
    let p = one_problem(HMC, |j| j["samples"][0]["segments"][0]["combine"]["coeffs"] = serde_json::json!([1.0, -1.0]));
    assert!(p.contains("the coefficients sum to 0, so there is no density to sample"), "{p}");
}

#[test]
fn settings_in_range() {
    let ddim = "model toy2d\nsampler ddim(steps: 20)\nsample s = ring\n";
    let p = one_problem(ddim, |j| j["samples"][0]["settings"]["sampler"]["eta"] = 5.0.into());
    assert_eq!(p, "sample `s`: DDIM `eta` must be in 0..=1, found 5");
    let p = one_problem(HMC, |j| j["samples"][0]["settings"]["mcmc"]["leapfrog"] = 0.into());
    assert_eq!(p, "sample `s`: MCMC `leapfrog` must be in 1..=1000, found 0");
    let p = one_problem(HMC, |j| j["samples"][0]["settings"]["mcmc"]["steps"] = 0.into());
    assert_eq!(p, "sample `s`: MCMC `steps` must be in 1..=10000, found 0");
    let p = one_problem(HMC, |j| j["samples"][0]["settings"]["sampler"]["steps"] = 5000.into());
    assert_eq!(p, "sample `s`: sampler `steps` must be in 1..=1000 for `toy2d`, found 5000");
    let p = one_problem(HMC, |j| j["samples"][0]["settings"]["samples"] = 0.into());
    assert_eq!(p, "sample `s`: `samples` must be at least 1");
    let p = one_problem(HMC, |j| j["samples"][0]["model"] = "toy3d".into());
    assert!(p.starts_with("sample `s`: unknown model `toy3d`"), "{p}");
    // Counts each in range whose product is not: 1000 steps × (10,000 · 1,000 + 1) calls.
    let p = one_problem(HMC, |j| {
        j["samples"][0]["settings"]["sampler"]["steps"] = 1000.into();
        j["samples"][0]["settings"]["mcmc"]["steps"] = 10000.into();
        j["samples"][0]["settings"]["mcmc"]["leapfrog"] = 1000.into();
    });
    assert!(p.ends_with("model calls; the limit is 100000000"), "{p}");
}

#[test]
fn conditions_are_concepts_with_arguments_in_range() {
    let clevr = "model clevr-pos\nsample s = pos(0.25, 0.5)\n";
    let p = one_problem(clevr, |j| j["samples"][0]["conditions"][1]["args"] = serde_json::json!([2.0, 0.5]));
    assert_eq!(p, "sample `s`: condition 1: `pos` argument `x` must be in 0..=1, found 2");
    let p = one_problem(clevr, |j| j["samples"][0]["conditions"][1]["name"] = "ring".into());
    assert_eq!(p, "sample `s`: condition 1: `ring` is not a concept of `clevr-pos`");
    let p = one_problem(clevr, |j| j["samples"][0]["conditions"][1] = serde_json::json!({"id": 1, "kind": "text", "text": "a red cube"}));
    assert_eq!(p, "sample `s`: condition 1: `clevr-pos` takes no text prompts");
    let p = one_problem(clevr, |j| j["samples"][0]["conditions"][1]["id"] = 5.into());
    assert_eq!(p, "sample `s`: condition 1 has id 5 (ids are the positions in `conditions`, from 0)");
}

#[test]
fn plan_level_problems() {
    let p = one_problem(HMC, |j| j["samples"] = serde_json::json!([]));
    assert_eq!(p, "`samples` is empty: nothing to run");
    let p = one_problem(HMC, |j| j["samples"][0]["sample"] = "../evil".into());
    assert!(p.starts_with("sample name `../evil` is not a name"), "{p}");
    let p = one_problem("model toy2d\nsample a = ring\nsample b = bar\n", |j| j["samples"][1]["sample"] = "a".into());
    assert_eq!(p, "two samples are named `a`");
    let p = one_problem(HMC, |j| j["version"] = 99.into());
    assert!(p.starts_with("a version 99 plan; this comp runs version 2"), "{p}");
}

#[test]
fn mixtures_need_energies_and_normalised_weights() {
    let src = "model toy2d\nsample s = left_bar OR right_bar\n";
    let mut plan = ok(src).plan;
    let Combine::Mixture { branches } = &mut plan.samples[0].segments[0].combine else { panic!("a mixture") };
    branches.push(Branch { log_weight: 0.0, coeffs: branches[0].coeffs.clone() });
    let p = validate(&plan, &models());
    assert_eq!(p, ["sample `s`: segment 0: the mixture weights exp(log_weight) sum to 2, not 1"]);
}

#[test]
fn unknown_fields_are_refused() {
    let mut json = serde_json::to_value(ok(HMC).plan).unwrap();
    json["samples"][0]["settings"]["sampler"]["temperature"] = 2.into();
    let err = serde_json::from_value::<Plan>(json).unwrap_err().to_string();
    assert!(err.contains("unknown field `temperature`"), "{err}");
    let mut json = serde_json::to_value(ok(HMC).plan).unwrap();
    json["samples"][0]["segments"][0]["weights"] = serde_json::json!([1]);
    let err = serde_json::from_value::<Plan>(json).unwrap_err().to_string();
    assert!(err.contains("unknown field `weights`"), "{err}");
}

/// Found by fuzz/fuzz_targets/parse_check_plan.rs: ln(1/5) = -1.6094379124341005 read back from JSON as
/// -1.6094379124341003 with serde_json's default float parser, so `comp run plan.json` did not
/// run exactly the plan its script compiles to. With `float_roundtrip` every f64 reads back.
#[test]
fn a_plan_reads_back_from_json_bit_for_bit() {
    let src = "model toy2d\nsample mostly_left = 4 : left_bar OR 1 : right_bar\nsample s = 0.3 * ring AND 0.7 * bar @ [0.1, 0.9]\n";
    let plan = ok(src).plan;
    let back: Plan = serde_json::from_str(&serde_json::to_string_pretty(&plan).unwrap()).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn size_and_dtype_only_where_the_model_has_them_and_in_its_bounds() {
    // toy2d has neither.
    let p = one_problem(WINDOWS, |j| j["samples"][0]["settings"]["size"] = serde_json::json!([64, 64]));
    assert!(p.contains("`toy2d` has no setting `size`"), "{p}");
    let p = one_problem(WINDOWS, |j| j["samples"][0]["settings"]["dtype"] = serde_json::json!("f16"));
    assert!(p.contains("`toy2d` has no setting `dtype`"), "{p}");
    // A latent model: sides multiples of 8 in 64..=2048, and a size is required.
    let mut sized = textmodel();
    sized.image_size =
        Some(comp_compiler::model_info::ImageSize { default: [512, 512], multiple_of: 8, min: 64, max: 2048, latent_channels: 4 });
    sized.dtypes = true;
    let check = |size: serde_json::Value| {
        let plan = ok("model textmodel\nsample s = \"a cat\"\n").plan;
        let mut json = serde_json::to_value(&plan).unwrap();
        json["samples"][0]["settings"]["size"] = size;
        json["samples"][0]["settings"]["dtype"] = serde_json::json!("bf16");
        validate(&serde_json::from_value(json).unwrap(), std::slice::from_ref(&sized))
    };
    assert_eq!(check(serde_json::json!([512, 768])), Vec::<String>::new());
    let p = check(serde_json::json!([500, 512]));
    assert!(p.len() == 1 && p[0].contains("found 500x512"), "{p:?}");
    assert!(check(serde_json::json!([4096, 512]))[0].contains("in 64..=2048"));
    assert!(check(serde_json::Value::Null)[0].contains("needs a `size`"));
}

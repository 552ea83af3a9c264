//! Exact coefficients, derived by hand in the comments from docs/language.md:
//! ε̂ = (1 − s·Σw)·ε_b + Σ s·w_i·ε_i.

mod common;
use common::*;
use comp_compiler::plan::{Combine, Sampler};
use comp_compiler::RenderHuman;

fn linear(c: &comp_compiler::plan::Segment) -> Vec<f64> {
    match &c.combine {
        Combine::Linear { coeffs } => coeffs.clone(),
        m => panic!("expected linear, got {m:?}"),
    }
}

fn names(p: &comp_compiler::plan::SamplePlan) -> Vec<String> {
    p.conditions
        .iter()
        .map(|c| match c.as_concept() {
            Some((name, args)) if !args.is_empty() => format!("{name}{args:?}"),
            _ => c.to_string(),
        })
        .collect()
}

#[test]
fn clevr_pair_base_null_scale_7_5() {
    // base null, s = 7.5, w = [1, 1]: null gets 1 − 7.5·2 = −14; each pos gets 7.5.
    let c = ok("model clevr-pos\nsample pair = pos(0.25, 0.5) AND pos(0.75, 0.5)\n");
    let p = &c.plan.samples[0];
    assert_eq!(names(p), ["null", "pos[0.25, 0.5]", "pos[0.75, 0.5]"]);
    assert_eq!(p.segments.len(), 1);
    assert_eq!((p.segments[0].from, p.segments[0].to), (0.0, 1.0));
    assert_eq!(p.segments[0].active, [0, 1, 2]);
    assert_eq!(linear(&p.segments[0]), [-14.0, 7.5, 7.5]);
    assert_eq!(p.settings.samples, 8);
    assert_eq!(p.settings.sampler, Sampler::Ddpm { steps: 100 });
    assert_eq!(p.settings.extra.get("size"), Some(&32.0));
}

#[test]
fn clevr_not_base_null() {
    // w = [1, −1]: null gets 1 − 7.5·0 = 1; pos1 7.5; pos2 −7.5.
    let c = ok("model clevr-pos\nsample one = pos(0.25, 0.5) AND NOT pos(0.75, 0.5)\n");
    assert_eq!(linear(&c.plan.samples[0].segments[0]), [1.0, 7.5, -7.5]);
}

#[test]
fn box_frame_base_none_scale_1() {
    // base none: no base term; s = 1: coefficients are the weights, 1.3 and −0.3.
    let c = ok("model toy2d\nbase none\nscale 1\nsample frame = 1.3 * box_large AND NOT 0.3 * box_small\n");
    let p = &c.plan.samples[0];
    assert_eq!(names(p), ["box_large", "box_small"]);
    assert_eq!(linear(&p.segments[0]), [1.3, -0.3]);
    assert_eq!(c.simplified[0].to_string(), "frame = 1.3 * box_large AND -0.3 * box_small");
}

#[test]
fn windows_give_two_segments() {
    // toy2d, base none, s = 1: a AND 0.5 * b @ [0, 0.6]
    // [0, 0.6): a 1, b 0.5;  [0.6, 1): a 1 (b is not evaluated).
    let c = ok("model toy2d\nsample w = ring AND 0.5 * bar @ [0, 0.6]\n");
    let p = &c.plan.samples[0];
    assert_eq!(p.segments.len(), 2);
    assert_eq!((p.segments[0].from, p.segments[0].to, p.segments[0].active.clone()), (0.0, 0.6, vec![0, 1]));
    assert_eq!(linear(&p.segments[0]), [1.0, 0.5]);
    assert_eq!((p.segments[1].from, p.segments[1].to, p.segments[1].active.clone()), (0.6, 1.0, vec![0]));
    assert_eq!(linear(&p.segments[1]), [1.0]);
    assert_eq!(
        c.simplified[0].to_string(),
        "w = 1 * ring AND 0.5 * bar @ [0, 0.6]\n  [0, 0.6): 1 * ring AND 0.5 * bar\n  [0.6, 1): 1 * ring"
    );
    // Step 59 is at 0.595 (first segment), step 60 at 0.605 (second).
    assert_eq!(p.segment_at(59).unwrap().to, 0.6);
    assert_eq!(p.segment_at(60).unwrap().from, 0.6);
}

#[test]
fn windows_with_base_null_change_the_base_coefficient() {
    // clevr s = 7.5: pos(0.5,0.5) AND 0.5 * pos(0.2,0.8) @ [0, 0.6]
    // [0, 0.6): null 1 − 7.5·1.5 = −10.25, 7.5, 3.75;  [0.6, 1): null 1 − 7.5 = −6.5, 7.5.
    let c = ok("model clevr-pos\nsample staged = pos(0.5, 0.5) AND 0.5 * pos(0.2, 0.8) @ [0, 0.6]\n");
    let p = &c.plan.samples[0];
    assert_eq!(linear(&p.segments[0]), [-10.25, 7.5, 3.75]);
    assert_eq!(p.segments[1].active, [0, 1]);
    assert_eq!(linear(&p.segments[1]), [-6.5, 7.5]);
}

#[test]
fn scale_one_base_null_single_term_drops_the_base() {
    // 1 − 1·1 = 0: null is not evaluated.
    let c = ok("model clevr-pos\nscale 1\nsample s = pos(0.5, 0.5)\n");
    assert_eq!(names(&c.plan.samples[0]), ["pos[0.5, 0.5]"]);
    assert_eq!(linear(&c.plan.samples[0].segments[0]), [1.0]);
}

#[test]
fn base_expression_is_scaled_by_the_base_coefficient() {
    // base 0.5·bar, s = 2, term ring (w 1): base coefficient 1 − 2 = −1 → bar −0.5; ring 2.
    let c = ok("model toy2d\nbase 0.5 * bar\nscale 2\nsample s = ring\n");
    let p = &c.plan.samples[0];
    assert_eq!(names(p), ["bar", "ring"]);
    assert_eq!(linear(&p.segments[0]), [-0.5, 2.0]);
}

#[test]
fn mixture_weights_are_normalised_logs() {
    // 0.7 : left_bar OR 0.3 : right_bar, base none, s = 1: branches [1, 0] and [0, 1].
    let c = ok("model toy2d\nsample m = 0.7 : left_bar OR 0.3 : right_bar\n");
    let p = &c.plan.samples[0];
    let Combine::Mixture { branches } = &p.segments[0].combine else { panic!() };
    assert_eq!(branches.len(), 2);
    assert!((branches[0].log_weight - 0.7f64.ln()).abs() < 1e-12);
    assert!((branches[1].log_weight - 0.3f64.ln()).abs() < 1e-12);
    assert_eq!(branches[0].coeffs, [1.0, 0.0]);
    assert_eq!(branches[1].coeffs, [0.0, 1.0]);
    assert_eq!(c.simplified[0].to_string(), "m = 0.7 : (1 * left_bar) OR 0.3 : (1 * right_bar)");
}

#[test]
fn and_distributes_over_or() {
    // ring AND (left_bar OR right_bar) → 0.5 : (ring AND left_bar) OR 0.5 : (ring AND right_bar)
    let c = ok("model toy2d\nsample m = ring AND (left_bar OR right_bar)\n");
    assert_eq!(c.simplified[0].to_string(), "m = 0.5 : (1 * ring AND 1 * left_bar) OR 0.5 : (1 * ring AND 1 * right_bar)");
    let Combine::Mixture { branches } = &c.plan.samples[0].segments[0].combine else { panic!() };
    assert_eq!(branches[0].coeffs, [1.0, 1.0, 0.0]);
}

#[test]
fn identical_branches_collapse_to_linear() {
    let c = ok("model toy2d\nsample m = ring OR ring\n");
    assert_eq!(linear(&c.plan.samples[0].segments[0]), [1.0]);
}

#[test]
fn conditions_are_deduplicated_with_defaults_and_named_args() {
    let c = ok("model clevr-pos\nsample s = pos(0.25, 0.5) AND pos(y: 0.5, x: 0.25) AND pos(0.75, 0.5)\n");
    let p = &c.plan.samples[0];
    assert_eq!(names(p), ["null", "pos[0.25, 0.5]", "pos[0.75, 0.5]"]);
    // null: 1 − 7.5·3 = −21.5; first pos 2·7.5 = 15.
    assert_eq!(linear(&p.segments[0]), [-21.5, 15.0, 7.5]);
}

#[test]
fn settings_resolve_file_then_with_then_model() {
    let c = ok("model toy2d\nscale 2\nseed 4\nsampler ddim(steps: 50, eta: 0.5)\nmcmc hmc(leapfrog: 5)\n\
                sample a = ring\nsample b = ring with scale 0.5, seed 3, sampler ddpm, mcmc none, samples 7\n");
    let (a, b) = (&c.plan.samples[0].settings, &c.plan.samples[1].settings);
    assert_eq!((a.scale, a.seed, a.samples), (2.0, 4, 1000));
    assert_eq!(a.sampler, Sampler::Ddim { steps: 50, eta: 0.5 });
    let m = a.mcmc.as_ref().unwrap();
    assert_eq!((m.steps, m.step_size, m.leapfrog, m.damping, m.mass, m.from, m.to), (10, 0.03, 5, 0.5, 1.0, 0.0, 1.0));
    assert_eq!((b.scale, b.seed, b.samples, b.mcmc.clone()), (0.5, 3, 7, None));
    assert_eq!(b.sampler, Sampler::Ddpm { steps: 100 });
    let ula = ok("model toy2d\nmcmc ula(beta_scaled: true)\nsample a = ring\n").plan.samples[0].settings.mcmc.clone().unwrap();
    assert_eq!((ula.step_size, ula.beta_scaled, ula.steps), (0.001, true, 10));
}

#[test]
fn render_human_counts_model_calls() {
    let c = ok("model toy2d\nsampler ddpm(steps: 100)\nmcmc hmc(steps: 10, leapfrog: 3)\nsample product = ring AND bar\n");
    let text = c.plan.render_human();
    assert!(text.contains("sample product (model toy2d)"), "{text}");
    assert!(text.contains("linear: 1·#0 + 1·#1"), "{text}");
    assert!(text.contains("model calls per step: 1 (batch of 2 conditions)"), "{text}");
    // 100 reverse steps + MCMC at the 99 levels after steps 0..98 (none after the last,
    // clean step), each 10 MCMC steps · 3 leapfrog + 1 for the level's start: 99 · 31 = 3069.
    assert!(text.contains("model calls: 3169 (100 in the reverse steps + 3069 in MCMC)"), "{text}");
    let c = ok("model clevr-pos\nsample staged = pos(0.5, 0.5) AND 0.5 * pos(0.2, 0.8) @ [0, 0.6]\n");
    let text = c.plan.render_human();
    assert!(text.contains("segment [0, 0.6), steps 0..60 (60 steps):"), "{text}");
    assert!(text.contains("linear: -10.25·#0 + 7.5·#1 + 3.75·#2"), "{text}");
    assert!(text.contains("model calls: 100 (all in the reverse steps)"), "{text}");
    let m = ok("model toy2d\nsample m = left_bar OR right_bar\n").plan.render_human();
    assert!(m.contains("mixture of 2 branches:") && m.contains("weight 0.5000: 1·#0 + 0·#1"), "{m}");
}

#[test]
fn plan_json_has_the_documented_facts() {
    let c = ok("model clevr-pos\nsample pair = pos(0.25, 0.5) AND pos(0.75, 0.5)\n");
    let json = serde_json::to_value(&c.plan).unwrap();
    let s = &json["samples"][0];
    assert_eq!(s["sample"], "pair");
    assert_eq!(s["conditions"][0], serde_json::json!({"id": 0, "kind": "null"}));
    assert_eq!(s["conditions"][1]["kind"], "concept");
    assert_eq!(s["conditions"][1]["name"], "pos");
    assert_eq!(s["conditions"][1]["args"], serde_json::json!([0.25, 0.5]));
    assert_eq!(s["segments"][0]["combine"]["kind"], "linear");
    assert_eq!(s["segments"][0]["combine"]["coeffs"], serde_json::json!([-14.0, 7.5, 7.5]));
}

#[test]
fn text_conditions() {
    let c = ok("model textmodel\nsample s = \"a red cube\" AND NOT \"blue\" AND \"a red cube\"\n");
    let p = &c.plan.samples[0];
    assert_eq!(p.conditions[1].kind, comp_plan::ConditionKind::Text { text: "a red cube".into() });
    // null: 1 − 7.5·(2 − 1) = −6.5; cube 15; blue −7.5.
    assert_eq!(linear(&p.segments[0]), [-6.5, 15.0, -7.5]);
}

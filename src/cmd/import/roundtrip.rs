//! Round trips: an A1111 prompt, imported, compiled by comp's own compiler, gives at every
//! step the coefficients of A1111's formula D_u + s·Σ w_i (D_i − D_u), written out by hand
//! below for each prompt (A1111's step j is comp's step j − 1).

use super::{a1111_for_test, emit};
use comp_compiler::{compile_text, ModelInfo};
use comp_plan::plan::{Combine, SamplePlan};
use std::collections::BTreeMap;

/// The registry's `sd15` (its vocabulary only: no weights needed to compile).
fn sd15() -> ModelInfo {
    comp_models::infos().into_iter().find(|m| m.name == "sd15").expect("sd15 is in the registry")
}

/// Imports, writes, formats (the text must already be `comp fmt`'s) and compiles.
fn compiled(prompt: &str, negative: Option<&str>, steps: Option<u32>, scale: f64) -> (String, SamplePlan) {
    let (c, _) = a1111_for_test(prompt, negative, steps, scale).unwrap_or_else(|d| panic!("import failed: {:?}", d.list));
    let settings = emit::Settings {
        model: "sd15".into(),
        sampler: steps.map(|_| "ddim".to_string()),
        steps,
        name: "image".into(),
        ..Default::default()
    };
    let text = emit::comp_file(&settings, &c, &["imported for a test".into()]);
    let checked = compile_text(&text, &[sd15()]);
    let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{text}");
    let program = checked.program.as_ref().expect("parsed");
    assert_eq!(comp_compiler::format(&text, program), text, "the import writes canonical text");
    let plan = checked.compiled.expect("compiled").plan.samples.remove(0);
    (text, plan)
}

/// Each prompt's total coefficient at comp step `k`.
fn coefficients(plan: &SamplePlan, k: usize) -> BTreeMap<String, f64> {
    let seg = plan.segment_at(k).expect("a segment at every step");
    let Combine::Linear { coeffs } = &seg.combine else { panic!("linear") };
    let mut out = BTreeMap::new();
    for (&id, &c) in seg.active.iter().zip(coeffs) {
        let text = plan.conditions[id].text.clone().expect("text conditions");
        *out.entry(text).or_insert(0.0) += c;
    }
    out.retain(|_, c| *c != 0.0);
    out
}

/// Asserts that comp step j − 1 has A1111's coefficients `want(j)` for j in 1..=steps.
fn assert_steps(plan: &SamplePlan, steps: usize, want: impl Fn(usize) -> Vec<(&'static str, f64)>, text: &str) {
    assert_eq!(plan.settings.sampler.steps(), steps, "{text}");
    for j in 1..=steps {
        let got = coefficients(plan, j - 1);
        let mut expected: BTreeMap<String, f64> = BTreeMap::new();
        for (t, c) in want(j) {
            *expected.entry(t.to_string()).or_insert(0.0) += c;
        }
        assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "A1111 step {j}\n{text}");
        for (t, c) in &expected {
            assert!((got[t] - c).abs() < 1e-12, "A1111 step {j}, {t:?}: comp {} vs A1111 {c}\n{text}", got[t]);
        }
    }
}

#[test]
fn and_with_weights_and_a_negative_prompt() {
    // D = D_neg + 7·(1·(D_cabin − D_neg) + 1.2·(D_snow − D_neg) − 0.5·(D_people − D_neg)):
    // D_neg's coefficient is 1 − 7·(1 + 1.2 − 0.5) = −10.9.
    let (text, plan) = compiled("a wooden cabin AND heavy snow :1.2 AND people:-0.5", Some("blurry, low quality"), None, 7.0);
    assert!(text.contains("base \"blurry, low quality\"\nsample image = \"a wooden cabin\" AND 1.2 * \"heavy snow\" AND NOT 0.5 * \"people\"\n"), "{text}");
    let want = |_| vec![("blurry, low quality", 1.0 - 7.0 * 1.7), ("a wooden cabin", 7.0), ("heavy snow", 7.0 * 1.2), ("people", -3.5)];
    assert_steps(&plan, 30, want, &text);
}

#[test]
fn prompt_editing_with_steps_switches_at_a1111s_step() {
    // 25 steps, when = int(0.5·25) = 12: "a cabin" at steps 1..=12, "a castle" at 13..=25.
    // The emphasis is dropped (the words stay). No negative prompt: D_u is the empty prompt,
    // with coefficient 1 − 7.5·(1 + 0.8) = −12.5.
    let (text, plan) = compiled("a [cabin:castle:0.5] AND (snow:1.3) :0.8", None, Some(25), 7.5);
    assert!(text.contains("@ [0, 0.48]") && text.contains("@ [0.48, 1]"), "{text}");
    let want = |j: usize| vec![("", -12.5), (if j <= 12 { "a cabin" } else { "a castle" }, 7.5), ("snow", 6.0)];
    assert_steps(&plan, 25, want, &text);
}

#[test]
fn absolute_steps_removal_and_alternation() {
    // 10 steps: `[big :3]` adds "big" after step 3, `[ at night::0.75]` removes it after
    // int(7.5) = 7, `[cat|dog]` alternates from step 1 (cat).
    let (text, plan) = compiled("a [big :3][cat|dog][ at night::0.75]", None, Some(10), 7.0);
    let want = |j: usize| {
        let animal = if j % 2 == 1 { "cat" } else { "dog" };
        let big = if j > 3 { "big " } else { "" };
        let night = if j <= 7 { " at night" } else { "" };
        let prompt: &'static str = Box::leak(format!("a {big}{animal}{night}").into_boxed_str());
        vec![("", -6.0), (prompt, 7.0)]
    };
    assert_steps(&plan, 10, want, &text);
}

#[test]
fn fractions_without_steps_fall_on_the_same_steps_here() {
    // sd15's default 30 steps: A1111 would switch after int(0.3·30) = 9; comp's window
    // [0, 0.3) holds steps k with (k + 0.5)/30 < 0.3, k ≤ 8, A1111's steps 1..=9.
    let (text, plan) = compiled("[a photo:a painting:0.3] of a fox", None, None, 7.0);
    let want = |j: usize| vec![("", -6.0), (if j <= 9 { "a photo of a fox" } else { "a painting of a fox" }, 7.0)];
    assert_steps(&plan, 30, want, &text);
}

#[test]
fn an_edited_negative_prompt_is_written_with_explicit_coefficients() {
    // 10 steps, negative "blurry" at steps 1..=5 and "grainy" after: the base changes, so the
    // file uses `base none`, scale 1: D_neg at 1 − 7·1 = −6, the prompt at 7.
    let (text, plan) = compiled("a fox", Some("[blurry:grainy:0.5]"), Some(10), 7.0);
    assert!(text.contains("base none") && text.contains("scale 1\n"), "{text}");
    let want = |j: usize| vec![(if j <= 5 { "blurry" } else { "grainy" }, -6.0), ("a fox", 7.0)];
    assert_steps(&plan, 10, want, &text);
}

#[test]
fn only_negative_weights_are_written_with_explicit_coefficients() {
    // D = D_u − 7·0.5·(D_fox − D_u): D_u at 1 + 3.5, D_fox at −3.5; comp's `NOT` alone would
    // be refused, the explicit form has the positive base term.
    let (text, plan) = compiled("a fox :-0.5", None, None, 7.0);
    let want = |_| vec![("", 4.5), ("a fox", -3.5)];
    assert_steps(&plan, 30, want, &text);
}

#[test]
fn duplicate_parts_add_up() {
    // A1111 adds each part: `a AND a :0.5` is 1.5·(D_a − D_u).
    let (text, plan) = compiled("a fox AND a fox :0.5", None, None, 7.0);
    assert!(text.contains("sample image = 1.5 * \"a fox\"\n"), "{text}");
    assert_steps(&plan, 30, |_| vec![("", 1.0 - 10.5), ("a fox", 10.5)], &text);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Prompts made of A1111's syntax characters, words, numbers and non-ASCII text.
    fn prompt() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("a".to_string()), Just("cat".to_string()), Just(" ".to_string()), Just(" AND ".to_string()),
            Just("(".to_string()), Just(")".to_string()), Just("[".to_string()), Just("]".to_string()),
            Just(":".to_string()), Just("|".to_string()), Just("\\".to_string()), Just("\"".to_string()),
            Just("0.5".to_string()), Just("3".to_string()), Just("-1".to_string()), Just("1.2".to_string()),
            Just("BREAK".to_string()), Just("<lora:x:0.5>".to_string()), Just("é猫".to_string()), Just("\n".to_string()),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    /// Well-formed A1111 prompts: nested emphasis, edits and alternations, AND parts with
    /// weights.
    fn well_formed() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![Just("cat".to_string()), Just("a red fox".to_string()), Just("".to_string()), Just("\\(x\\)".to_string())];
        let node = leaf.prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
                inner.clone().prop_map(|a| format!("({a})")),
                (inner.clone(), 0u8..30).prop_map(|(a, w)| format!("({a}:{})", w as f64 / 10.0)),
                inner.clone().prop_map(|a| format!("[{a}]")),
                (inner.clone(), inner.clone(), 0u8..12).prop_map(|(a, b, w)| format!("[{a}:{b}:{}]", w as f64 / 10.0)),
                (inner.clone(), inner.clone(), 0u8..30).prop_map(|(a, b, n)| format!("[{a}:{b}:{n}]")),
                (inner.clone(), 0u8..12).prop_map(|(a, w)| format!("[{a}::{}]", w as f64 / 10.0)),
                (inner.clone(), inner).prop_map(|(a, b)| format!("[{a}|{b}]")),
            ]
        });
        let part = (node, prop::option::of(-20i8..20)).prop_map(|(n, w)| match w {
            Some(w) => format!("{n} :{}", w as f64 / 10.0),
            None => n,
        });
        proptest::collection::vec(part, 1..4).prop_map(|v| v.join(" AND "))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// A well-formed prompt with steps always imports, and the file compiles.
        #[test]
        fn well_formed_prompts_import_and_compile(p in well_formed(), steps in 1u32..40) {
            let imported = a1111_for_test(&p, Some("blurry"), Some(steps), 7.0);
            match imported {
                // Only "every part has weight 0" may refuse a well-formed prompt.
                Err(d) => prop_assert!(d.list.iter().any(|(_, x)| x.code == "E0205"), "{:?}", d.list),
                Ok((c, _)) => {
                    let settings = emit::Settings { model: "sd15".into(), sampler: Some("ddim".into()), steps: Some(steps), name: "image".into(), ..Default::default() };
                    let text = emit::comp_file(&settings, &c, std::slice::from_ref(&p));
                    let checked = compile_text(&text, &[sd15()]);
                    let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
                    prop_assert!(errors.is_empty(), "{:#?}\n{}", errors, text);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any prompt either fails with an error diagnostic inside the prompt, or imports to a
        /// file that comp compiles without errors.
        #[test]
        fn imports_compile_or_fail_with_a_located_error(p in prompt(), neg in prompt(), steps in prop::option::of(1u32..40)) {
            match a1111_for_test(&p, Some(&neg), steps, 7.0) {
                Err(d) => {
                    prop_assert!(d.has_errors(), "no value and no error: {:?}", d.list);
                    for (input, diag) in &d.list {
                        let len = if *input == super::super::composition::Input::Negative { neg.len() } else { p.len() };
                        prop_assert!(diag.span().end as usize <= len, "span outside the text: {:?}", diag);
                    }
                }
                Ok((c, _)) => {
                    let settings = emit::Settings { model: "sd15".into(), sampler: steps.map(|_| "ddim".to_string()), steps, name: "image".into(), ..Default::default() };
                    let text = emit::comp_file(&settings, &c, &[p.clone(), neg.clone()]);
                    let checked = compile_text(&text, &[sd15()]);
                    let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
                    prop_assert!(errors.is_empty(), "{:#?}\n{}", errors, text);
                }
            }
        }
    }
}

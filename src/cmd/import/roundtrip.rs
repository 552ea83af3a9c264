//! Round trips: an A1111 prompt, imported, compiled by comp's own compiler, gives at every
//! step the coefficients of A1111's formula D_u + s·Σ w_i (D_i − D_u), written out by hand
//! below for each prompt. comp's step k is A1111's model call k (both from 0), which A1111
//! conditions on its schedule step max(k, 1) (1-based).

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
        let comp_plan::ConditionKind::Text { text } = plan.conditions[id].kind.clone() else { panic!("text conditions") };
        *out.entry(text).or_insert(0.0) += c;
    }
    out.retain(|_, c| *c != 0.0);
    out
}

/// Asserts that comp step k has A1111's coefficients `want(k)` at model call k, for k in
/// 0..steps.
fn assert_calls(plan: &SamplePlan, steps: usize, want: impl Fn(usize) -> Vec<(&'static str, f64)>, text: &str) {
    assert_eq!(plan.settings.sampler.steps(), steps, "{text}");
    for k in 0..steps {
        let got = coefficients(plan, k);
        let mut expected: BTreeMap<String, f64> = BTreeMap::new();
        for (t, c) in want(k) {
            *expected.entry(t.to_string()).or_insert(0.0) += c;
        }
        assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "A1111 call {k}\n{text}");
        for (t, c) in &expected {
            assert!((got[t] - c).abs() < 1e-12, "A1111 call {k}, {t:?}: comp {} vs A1111 {c}\n{text}", got[t]);
        }
    }
}

/// A1111's schedule step at model call k.
fn step(k: usize) -> usize {
    k.max(1)
}

#[test]
fn and_with_weights_and_a_negative_prompt() {
    // D = D_neg + 7·(1·(D_cabin − D_neg) + 1.2·(D_snow − D_neg) − 0.5·(D_people − D_neg)):
    // D_neg's coefficient is 1 − 7·(1 + 1.2 − 0.5) = −10.9.
    let (text, plan) = compiled("a wooden cabin AND heavy snow :1.2 AND people:-0.5", Some("blurry, low quality"), None, 7.0);
    assert!(
        text.contains(
            "base \"blurry, low quality\"\nsample image = \"a wooden cabin\" AND 1.2 * \"heavy snow\" AND NOT 0.5 * \"people\"\n"
        ),
        "{text}"
    );
    let want = |_| vec![("blurry, low quality", 1.0 - 7.0 * 1.7), ("a wooden cabin", 7.0), ("heavy snow", 7.0 * 1.2), ("people", -3.5)];
    assert_calls(&plan, 30, want, &text);
}

#[test]
fn prompt_editing_with_steps_switches_at_a1111s_step() {
    // 25 steps, int(0.5·25) = 12: schedule (12, "a cabin"), (25, "a castle"); call k sees step
    // max(k, 1), so calls 0..=12 "a cabin" (13 calls) and 13..=24 "a castle": the window
    // boundary is 13/25 = 0.52. The emphasis is dropped (the words stay). No negative prompt:
    // D_u is the empty prompt, with coefficient 1 − 7.5·(1 + 0.8) = −12.5.
    let (text, plan) = compiled("a [cabin:castle:0.5] AND (snow:1.3) :0.8", None, Some(25), 7.5);
    assert!(text.contains("@ [0, 0.52]") && text.contains("@ [0.52, 1]"), "{text}");
    let want = |k: usize| vec![("", -12.5), (if step(k) <= 12 { "a cabin" } else { "a castle" }, 7.5), ("snow", 6.0)];
    assert_calls(&plan, 25, want, &text);
}

#[test]
fn absolute_steps_removal_and_alternation() {
    // 10 steps: `[big :3]` adds "big" after step 3, `[ at night::0.75]` removes " at night"
    // after int(7.5) = 7, `[cat|dog]` shows option (step − 1) mod 2. Call k sees step
    // max(k, 1): cat at calls 0, 1 (step 1), dog at 2, cat at 3, ...; "big" from call 4;
    // " at night" through call 7.
    let (text, plan) = compiled("a [big :3][cat|dog][ at night::0.75]", None, Some(10), 7.0);
    let want = |k: usize| {
        let j = step(k);
        let animal = if j % 2 == 1 { "cat" } else { "dog" };
        let big = if j > 3 { "big " } else { "" };
        let night = if j <= 7 { " at night" } else { "" };
        let prompt: &'static str = Box::leak(format!("a {big}{animal}{night}").into_boxed_str());
        vec![("", -6.0), (prompt, 7.0)]
    };
    assert_calls(&plan, 10, want, &text);
}

#[test]
fn fractions_without_steps_can_switch_one_step_early() {
    // sd15's default 30 steps: A1111 switches after call int(0.3·30) = 9 (calls 0..=9 "a
    // photo"); comp's window [0, 0.3) holds the steps k with (k + 0.5)/30 < 0.3, k ≤ 8: one
    // step earlier, as warning W0104 says. With `--steps 30` the import is exact.
    let (text, plan) = compiled("[a photo:a painting:0.3] of a fox", None, None, 7.0);
    let want = |k: usize| vec![("", -6.0), (if k <= 8 { "a photo of a fox" } else { "a painting of a fox" }, 7.0)];
    assert_calls(&plan, 30, want, &text);
    let (text, plan) = compiled("[a photo:a painting:0.3] of a fox", None, Some(30), 7.0);
    let want = |k: usize| vec![("", -6.0), (if step(k) <= 9 { "a photo of a fox" } else { "a painting of a fox" }, 7.0)];
    assert_calls(&plan, 30, want, &text);
}

#[test]
fn an_edited_negative_prompt_is_written_with_explicit_coefficients() {
    // 10 steps, negative "blurry" through step int(0.5·10) = 5, i.e. calls 0..=5, "grainy"
    // after: the base changes, so the file uses `base none`, scale 1: D_neg at 1 − 7·1 = −6,
    // the prompt at 7.
    let (text, plan) = compiled("a fox", Some("[blurry:grainy:0.5]"), Some(10), 7.0);
    assert!(text.contains("base none") && text.contains("scale 1\n"), "{text}");
    let want = |k: usize| vec![(if step(k) <= 5 { "blurry" } else { "grainy" }, -6.0), ("a fox", 7.0)];
    assert_calls(&plan, 10, want, &text);
}

#[test]
fn only_negative_weights_are_written_with_explicit_coefficients() {
    // D = D_u − 7·0.5·(D_fox − D_u): D_u at 1 + 3.5, D_fox at −3.5; comp's `NOT` alone would
    // be refused, the explicit form has the positive base term.
    let (text, plan) = compiled("a fox :-0.5", None, None, 7.0);
    let want = |_| vec![("", 4.5), ("a fox", -3.5)];
    assert_calls(&plan, 30, want, &text);
}

#[test]
fn duplicate_parts_add_up() {
    // A1111 adds each part: `a AND a :0.5` is 1.5·(D_a − D_u).
    let (text, plan) = compiled("a fox AND a fox :0.5", None, None, 7.0);
    assert!(text.contains("sample image = 1.5 * \"a fox\"\n"), "{text}");
    assert_calls(&plan, 30, |_| vec![("", 1.0 - 10.5), ("a fox", 10.5)], &text);
}

#[test]
fn the_issues_reproducers() {
    // Extra networks are removed before the weights are read: `a AND smoke:-0.5 <lora:…>` is
    // {a at 1, smoke at −0.5}. D_u's coefficient: 1 − 7·(1 − 0.5) = −2.5.
    let (text, plan) = compiled("a AND smoke:-0.5 <lora:detail:0.7>", None, None, 7.0);
    assert_calls(&plan, 30, |_| vec![("", -2.5), ("a", 7.0), ("smoke", -3.5)], &text);
    // …but not from the negative prompt: there the tag is text for CLIP.
    let (text, _) = compiled("a fox", Some("bad <lora:x:1>"), None, 7.0);
    assert!(text.contains("base \"bad <lora:x:1>\"\n"), "{text}");
    // Every weight 0: D = D_u + 7·0·(D_a − D_u) = D_u, the negative prompt alone.
    let (text, plan) = compiled("a fox :0", Some("blurry"), None, 7.0);
    assert!(text.contains("base none\nsample image = \"blurry\"\n"), "{text}");
    assert_calls(&plan, 30, |_| vec![("blurry", 1.0)], &text);
    // A1111's doctest `((a][:b:c [d:3]`, 10 steps: schedule (3, …), (10, … d); call k sees
    // step max(k, 1), so " d" from call 4 (the words: schedule.rs's test derives them).
    let (text, plan) = compiled("((a][:b:c [d:3]", None, Some(10), 7.0);
    assert_calls(&plan, 10, |k| vec![("", -6.0), (if step(k) <= 3 { "a] :b:c" } else { "a] :b:c d" }, 7.0)], &text);
    // `a (b [c:d:0.5]`: the unclosed `(` is emphasis to the end, the edit applies: int(5) = 5,
    // calls 0..=5 "a b c", 6..=9 "a b d".
    let (text, plan) = compiled("a (b [c:d:0.5]", None, Some(10), 7.0);
    assert_calls(&plan, 10, |k| vec![("", -6.0), (if step(k) <= 5 { "a b c" } else { "a b d" }, 7.0)], &text);
    // `[a:b]` (no number) is text beside a real edit: "[a:b] " is emphasis ÷1.1 of "a:b".
    let (text, plan) = compiled("[a:b] [c:d:3]", None, Some(10), 7.0);
    assert_calls(&plan, 10, |k| vec![("", -6.0), (if step(k) <= 3 { "a:b c" } else { "a:b d" }, 7.0)], &text);
    // `(a:b:c)` inside an edit makes the edit text at every step: `[(a:b:c):d:0.5]` is read
    // as written; its emphasis pieces are "a:b:c" (×1.1÷1.1) and ":d:0.5" (÷1.1).
    let (text, plan) = compiled("[(a:b:c):d:0.5]", None, Some(10), 7.0);
    assert_calls(&plan, 10, |_| vec![("", -6.0), ("a:b:c :d:0.5", 7.0)], &text);
    // Weights A1111 does not read are text at weight 1; Unicode digits are digits.
    let (text, plan) = compiled("a AND b :1e-3 AND c :1.2.3 AND (d:+) AND 猫:１.５", None, None, 7.0);
    let want = |_| vec![("", 1.0 - 7.0 * 5.5), ("a", 7.0), ("b :1e-3", 7.0), ("c :1.2.3", 7.0), ("d:+", 7.0), ("猫", 10.5)];
    assert_calls(&plan, 30, want, &text);
    // `\bAND\b` with Python's word characters: U+093F (ि) is a mark, so `किAND b` is two
    // parts; U+001F is white space to Python, so `:2\x1f` is a weight and `x\x1fy` two words.
    let (text, plan) = compiled("किAND b :2\u{1f} AND x\u{1f}y", None, None, 7.0);
    assert_calls(&plan, 30, |_| vec![("", 1.0 - 7.0 * 4.0), ("कि", 7.0), ("b", 14.0), ("x y", 7.0)], &text);
    // BREAK inside brackets is the word; glued to an edit it is one word with the edit's text.
    let (text, plan) = compiled("(a BREAK b) AND x BREAK[c:d:0.5]", None, Some(10), 7.0);
    assert_calls(&plan, 10, |k| vec![("", -13.0), ("a BREAK b", 7.0), (if step(k) <= 5 { "x BREAKc" } else { "x BREAKd" }, 7.0)], &text);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Prompts made of A1111's syntax characters, words, numbers and non-ASCII text.
    fn prompt() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("a".to_string()),
            Just("cat".to_string()),
            Just(" ".to_string()),
            Just(" AND ".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just(":".to_string()),
            Just("|".to_string()),
            Just("\\".to_string()),
            Just("\"".to_string()),
            Just("0.5".to_string()),
            Just("3".to_string()),
            Just("-1".to_string()),
            Just("1.2".to_string()),
            Just("BREAK".to_string()),
            Just("<lora:x:0.5>".to_string()),
            Just("é猫".to_string()),
            Just("\n".to_string()),
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
                // A well-formed prompt with steps always imports (all weights 0 included).
                Err(d) => prop_assert!(false, "{:?}", d.list),
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

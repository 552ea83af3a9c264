//! One test per error code: the code, the text under the primary span, and the message.

mod common;
use common::*;

#[test]
fn e0101_unknown_model_suggests_and_lists() {
    let (text, msg, d) = one("model toy3d\nsample s = ring\n", "E0101");
    assert_eq!(text, "toy3d");
    assert_eq!(msg, "unknown model `toy3d`");
    assert_eq!(d.help.as_deref(), Some("did you mean `toy2d`?"));
    assert!(d.notes[0].contains("toy2d, clevr-pos, textmodel"), "{:?}", d.notes);
}

#[test]
fn e0102_unknown_setting() {
    let (text, msg, d) = one("model toy2d\nscael 2\nsample s = ring\n", "E0102");
    assert_eq!(text, "scael");
    assert_eq!(msg, "unknown setting `scael`");
    assert_eq!(d.help.as_deref(), Some("did you mean `scale`?"));
}

#[test]
fn e0103_unknown_name_with_did_you_mean_over_concepts_and_lets() {
    let (text, msg, d) = one("model toy2d\nsample s = rng AND bar\n", "E0103");
    assert_eq!((text, msg.as_str()), ("rng", "unknown name `rng`"));
    assert_eq!(d.help.as_deref(), Some("did you mean `ring`?"));
    let (_, _, d) = one("model toy2d\nlet stripe = bar\nsample s = ring AND strpe\n", "E0103");
    assert_eq!(d.help.as_deref(), Some("did you mean `stripe`?"));
}

#[test]
fn e0104_wrong_number_of_arguments() {
    let (text, msg, _) = one("model clevr-pos\nsample s = pos(0.1, 0.2, 0.3)\n", "E0104");
    assert_eq!((text, msg.as_str()), ("0.3", "`pos` takes 2 arguments, found more"));
    let (text, msg, _) = one("model clevr-pos\nsample s = pos(0.1)\n", "E0104");
    assert_eq!((text, msg.as_str()), ("pos(0.1)", "`pos` is missing argument `y`"));
}

#[test]
fn e0105_wrong_argument_type() {
    let (text, msg, _) = one("model clevr-pos\nsample s = pos(0.1, \"up\")\n", "E0105");
    assert_eq!((text, msg.as_str()), ("\"up\"", "`y` must be a number, found a string"));
    let (text, msg, _) = one("model toy2d\nsampler ddpm(steps: 2.5)\nsample s = ring\n", "E0105");
    assert_eq!((text, msg.as_str()), ("2.5", "`steps` must be a whole number"));
}

#[test]
fn e0106_argument_out_of_range() {
    let (text, msg, d) = one("model clevr-pos\nsample s = pos(1.5, 0.5)\n", "E0106");
    assert_eq!((text, msg.as_str()), ("1.5", "`x` must be in 0..=1, found 1.5"));
    assert_eq!(d.help.as_deref(), Some("`x` must be in 0..=1"));
    let (text, msg, _) = one("model toy2d\nmcmc hmc(damping: 2)\nsample s = ring\n", "E0106");
    assert_eq!((text, msg.as_str()), ("2", "`damping` must be in 0..=1, found 2"));
    let (text, _, _) = one("model toy2d\nsample s = 0 : ring OR bar\n", "E0106");
    assert_eq!(text, "0");
}

#[test]
fn e0107_unknown_or_repeated_named_argument() {
    let (text, msg, d) = one("model clevr-pos\nsample s = pos(x: 0.1, z: 0.2)\n", "E0107");
    assert_eq!((text, msg.as_str()), ("z", "`pos` has no argument `z`"));
    assert!(d.help.is_some());
    let (text, msg, _) = one("model clevr-pos\nsample s = pos(0.1, x: 0.2)\n", "E0107");
    assert_eq!((text, msg.as_str()), ("x", "argument `x` given twice"));
    // leapfrog is an HMC parameter, not ULA's.
    let (text, _, _) = one("model toy2d\nmcmc ula(leapfrog: 3)\nsample s = ring\n", "E0107");
    assert_eq!(text, "leapfrog");
}

#[test]
fn e0108_duplicate_let_or_sample() {
    let (text, msg, d) = one("model toy2d\nlet a = ring\nlet a = bar\nsample s = a\n", "E0108");
    assert_eq!((text, msg.as_str()), ("a", "duplicate let `a`"));
    assert_eq!(d.span().start, 29);
    assert_eq!(d.labels.len(), 2);
    let (text, msg, _) = one("model toy2d\nsample s = ring\nsample s = bar\n", "E0108");
    assert_eq!((text, msg.as_str()), ("s", "duplicate sample `s`"));
}

#[test]
fn e0109_cycle_path_is_reported_once() {
    let src = "model toy2d\nlet a = b AND ring\nlet b = 0.5 * c\nlet c = a\nsample s = a\n";
    let (text, msg, d) = one(src, "E0109");
    assert_eq!(text, "a");
    assert_eq!(msg, "cyclic lets: `a` → `b` → `c` → `a`");
    assert_eq!(d.labels.len(), 4);
    let (text, msg, _) = one("model toy2d\nlet a = a\nsample s = a\n", "E0109");
    assert_eq!((text, msg.as_str()), ("a", "cyclic lets: `a` → `a`"));
}

#[test]
fn e0109_long_let_chain_does_not_overflow() {
    let mut src = String::from("model toy2d\n");
    for i in 0..5000 {
        src.push_str(&format!("let l{i} = l{}\n", i + 1));
    }
    src.push_str("let l5000 = l0\nsample s = l0\n");
    assert_eq!(codes(&src), ["E0109"]);
}

#[test]
fn e0110_not_without_positive_term() {
    let (text, msg, _) = one("model toy2d\nsample s = NOT ring\n", "E0110");
    assert_eq!((text, msg.as_str()), ("NOT", "`NOT` with no positive term in its conjunction"));
    // The zero term is dropped: nothing positive remains.
    let (text, _, _) = one("model toy2d\nsample s = 0 * bar AND NOT ring\n", "E0110");
    assert_eq!(text, "NOT");
    // Each branch of an OR is its own conjunction.
    let (text, _, _) = one("model toy2d\nsample s = bar OR NOT ring\n", "E0110");
    assert_eq!(text, "NOT");
    // A negative weight counts too.
    let (text, msg, _) = one("model toy2d\nsample s = -0.5 * ring\n", "E0110");
    assert_eq!((text, msg.as_str()), ("-0.5", "negative weight with no positive term in its conjunction"));
    // Inside a let: reported once, at the let.
    let (text, _, d) = one("model toy2d\nlet neg = NOT ring\nsample s = neg\nsample t = neg\n", "E0110");
    assert_eq!((text, d.span().start), ("NOT", 22));
    // With a positive term beside it, fine (against `base null`: under toy2d's `base none`
    // 1 − 1 = 0 would be E0123).
    assert!(run("model toy2d\nbase null\nsample s = bar AND NOT ring\n").value.is_some());
}

#[test]
fn e0111_text_without_text_model() {
    let (text, msg, _) = one("model toy2d\nsample s = \"a ring\"\n", "E0111");
    assert_eq!((text, msg.as_str()), ("\"a ring\"", "`toy2d` does not take text prompts"));
    assert!(run("model textmodel\nsample s = \"a red cube\" AND NOT \"blue\"\n").value.is_some());
}

#[test]
fn e0112_or_without_energies() {
    let (text, msg, _) = one("model clevr-pos\nsample s = pos(0.1, 0.1) OR pos(0.9, 0.9)\n", "E0112");
    assert_eq!(text, "pos(0.1, 0.1) OR pos(0.9, 0.9)");
    assert_eq!(msg, "`OR` needs a model with energies; `clevr-pos` has none");
}

#[test]
fn e0113_mala_hmc_without_energies() {
    let (text, msg, _) = one("model clevr-pos\nmcmc hmc(steps: 5)\nsample s = pos(0.5, 0.5)\n", "E0113");
    assert_eq!((text, msg.as_str()), ("hmc", "`hmc` needs a model with energies; `clevr-pos` has none"));
    let (text, _, _) = one("model clevr-pos\nsample s = pos(0.5, 0.5) with mcmc mala\n", "E0113");
    assert_eq!(text, "mala");
    assert!(run("model clevr-pos\nmcmc ula\nsample s = pos(0.5, 0.5)\n").value.is_some());
}

#[test]
fn e0114_invalid_setting_values() {
    for (src, text, msg) in [
        ("seed 9007199254740992\n", "9007199254740992", "invalid value for `seed`: expected a whole number in 0..=2^53-1"),
        ("seed -1\n", "-1", "invalid value for `seed`: expected a whole number in 0..=2^53-1"),
        ("samples 0\n", "0", "invalid value for `samples`: expected a whole number >= 1"),
        ("sampler ddpm(steps: 0)\n", "0", "`steps` must be >= 1, found 0"),
        ("mcmc ula(steps: 0)\n", "0", "`steps` must be in 1..=10000, found 0"),
        ("scale ring\n", "ring", "invalid value for `scale`: expected a finite number"),
    ] {
        let full = format!("model toy2d\n{src}sample s = ring\n");
        let out = run(&full);
        let d = out.diagnostics.iter().find(|d| d.code == "E0114");
        let d = d.unwrap_or_else(|| panic!("no E0114 for {src}: {:#?}", out.diagnostics));
        assert_eq!(span_text(&full, d), text, "{src}");
        assert_eq!(d.message, msg, "{src}");
    }
    assert!(run("model toy2d\nseed 9007199254740991\nsample s = ring\n").value.is_some());
}

#[test]
fn e0114_non_finite_scale() {
    // The parser rejects `1e999` (E0004); a tree built otherwise must still be checked.
    let src = "model toy2d\nscale 1\nsample s = ring\n";
    let mut program = comp_grammar::parse(src).unwrap();
    let comp_grammar::ast::Item::Setting(s) = &mut program.items[1] else { panic!() };
    let comp_grammar::ast::SettingValue::Number(n) = &mut s.value else { panic!() };
    n.value = f64::INFINITY;
    let d = comp_compiler::check(&program, &models());
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].code, span_text(src, &d[0])), ("E0114", "1"));
    assert_eq!(d[0].message, "invalid value for `scale`: expected a finite number");
}

#[test]
fn e0115_windows() {
    let (text, msg, _) = one("model toy2d\nsample s = ring AND bar @ [0, 1.5]\n", "E0115");
    assert_eq!((text, msg.as_str()), ("1.5", "window bound 1.5 is not within [0, 1]"));
    let (text, msg, _) = one("model toy2d\nsample s = ring AND bar @ [0.6, 0.2]\n", "E0115");
    assert_eq!((text, msg.as_str()), ("0.6, 0.2", "window [0.6, 0.2] is empty"));
    let (text, msg, _) = one("model toy2d\nlet early = bar @ [0, 0.3]\nsample s = ring AND early @ [0.5, 1]\n", "E0115");
    assert_eq!(text, "0, 0.3");
    assert_eq!(msg, "window [0, 0.3] lies outside the enclosing window [0.5, 1]");
}

#[test]
fn e0116_duplicate_setting() {
    let (text, msg, d) = one("model toy2d\nscale 1\nscale 2\nsample s = ring\n", "E0116");
    assert_eq!((text, msg.as_str()), ("scale", "`scale` is set twice"));
    assert_eq!(d.span().start, 20);
    let (text, _, _) = one("model toy2d\nsample s = ring with seed 1, seed 2\n", "E0116");
    assert_eq!(text, "seed");
}

#[test]
fn e0117_no_model() {
    let (text, msg, d) = one("scale 2\nsample s = ring\n", "E0117");
    assert_eq!((text, msg.as_str()), ("", "no `model` statement"));
    assert!(d.help.unwrap().contains("toy2d"));
}

#[test]
fn e0118_or_under_weight_not_or_window() {
    let (text, msg, d) = one("model toy2d\nsample s = 0.5 * (left_bar OR right_bar)\n", "E0118");
    assert_eq!((text, msg.as_str()), ("0.5", "a weight applied to an `OR`"));
    assert_eq!(d.labels.len(), 2);
    let (text, msg, _) = one("model toy2d\nlet either = left_bar OR right_bar\nsample s = NOT (ring AND either)\n", "E0118");
    assert_eq!((text, msg.as_str()), ("NOT", "`NOT` applied to an `OR`"));
    let (text, _, _) = one("model toy2d\nsample s = (left_bar OR right_bar) @ [0, 0.5]\n", "E0118");
    assert_eq!(text, "0, 0.5");
    assert!(run("model toy2d\nsample s = (0.5 * left_bar) OR right_bar @ [0, 0.5]\n").value.is_some());
}

#[test]
fn e0119_model_in_with() {
    let (text, msg, _) = one("model toy2d\nsample s = ring with model clevr-pos\n", "E0119");
    assert_eq!((text, msg.as_str()), ("model", "`model` cannot be overridden in a `with`"));
}

#[test]
fn e0120_wrong_form() {
    let (text, msg, d) = one("model clevr-pos\nsample s = pos\n", "E0120");
    assert_eq!((text, msg.as_str()), ("pos", "`pos` is a constructor: it needs arguments"));
    assert_eq!(d.help.as_deref(), Some("write `pos(x, y)`"));
    let (text, msg, _) = one("model toy2d\nsample s = ring(1)\n", "E0120");
    assert_eq!((text, msg.as_str()), ("ring", "`ring` is a concept without parameters"));
}

#[test]
fn e0121_invalid_base() {
    let (text, msg, _) = one("model toy2d\nbase ring OR bar\nsample s = ring\n", "E0121");
    assert_eq!((text, msg.as_str()), ("ring OR bar", "invalid `base`: it contains an `OR`"));
    let (text, _, _) = one("model toy2d\nbase ring @ [0, 0.5]\nsample s = bar\n", "E0121");
    assert_eq!(text, "0, 0.5");
    let (text, _, _) = one("model toy2d\nbase 2\nsample s = bar\n", "E0121");
    assert_eq!(text, "2");
}

#[test]
fn all_problems_are_reported_in_one_run() {
    let src = "model toy2d\nscale 1\nscale 2\nlet x = rng\nsample a = x AND NOT bar\nsample b = bar @ [0.5, 0.1]\nsample c = \"text\"\n";
    assert_eq!(codes(src), ["E0116", "E0103", "E0115", "E0111"]);
}

#[test]
fn errors_in_a_let_are_reported_once_at_the_let() {
    let src = "model toy2d\nlet x = rng\nsample a = x AND bar\nsample b = x AND ring\n";
    let out = run(src);
    let e: Vec<_> = out.diagnostics.iter().filter(|d| d.code == "E0103").collect();
    assert_eq!(e.len(), 1);
    assert_eq!(span_text(src, e[0]), "rng");
}

#[test]
fn e0122_lets_that_double_are_refused_without_being_built() {
    let mut src = String::from("model toy2d\nlet a0 = ring AND bar\n");
    for i in 1..60 {
        src.push_str(&format!("let a{i} = a{} AND a{}\n", i - 1, i - 1));
    }
    src.push_str("sample s = a59\n");
    let (text, msg, _) = one(&src, "E0122");
    // a0 has 3 nodes, a_i = 2·a_{i−1} + 1: a11 has 8,191, a12 16,383 > 10,000.
    assert_eq!(text, "a12");
    assert_eq!(msg, "this expression has more than 10000 parts once lets are inlined");
}

#[test]
fn e0122_too_many_mixture_branches() {
    let or = "(ring OR bar)";
    let src = format!("model toy2d\nsample s = {}\n", [or; 9].join(" AND "));
    let (text, msg, _) = one(&src, "E0122");
    assert!(text.starts_with("(ring OR bar) AND"));
    assert_eq!(msg, "this expression has more than 256 mixture branches once lets are inlined");
}

#[test]
fn long_let_chains_compile() {
    let mut src = String::from("model toy2d\n");
    for i in 0..200 {
        src.push_str(&format!("let l{i} = l{}\n", i + 1));
    }
    src.push_str("let l200 = ring\nsample s = l0 AND bar\n");
    assert_eq!(ok(&src).simplified[0].to_string(), "s = 1 * ring AND 1 * bar");
    let deep: String = (0..300).map(|i| format!("let n{i} = NOT n{}\n", i + 1)).collect();
    let src = format!("model toy2d\n{deep}let n300 = ring\nsample s = n0 AND bar\n");
    assert_eq!(codes(&src), ["E0122"]);
}

#[test]
fn e0123_base_none_weights_summing_to_zero_or_less() {
    // ring AND NOT bar: 1 − 1 = 0 under `base none` (toy2d's default).
    let (text, msg, d) = one("model toy2d\nsample s = ring AND NOT bar\n", "E0123");
    assert_eq!(text, "ring AND NOT bar");
    assert_eq!(msg, "the composed weights sum to 0: there is no density to sample");
    let help = d.help.as_deref().unwrap();
    assert!(help.contains("`base null`") && help.contains("`1.3 * ring AND NOT 0.3 * bar`"), "{help}");
    // 1 − 2 = −1, and a windowed stretch: [0.5, 1) has ring alone (fine), [0, 0.5) sums to 0.
    let (_, msg, _) = one("model toy2d\nsample s = ring AND NOT 2 * bar\n", "E0123");
    assert_eq!(msg, "the composed weights sum to -1: there is no density to sample");
    let (_, msg, _) = one("model toy2d\nsample s = ring AND NOT bar @ [0, 0.5]\n", "E0123");
    assert_eq!(msg, "the composed weights sum to 0 in [0, 0.5) of the trajectory: there is no density to sample");
    // Scale 0 under `base none` leaves nothing either; scale −1 flips the sign.
    assert_eq!(codes("model toy2d\nscale 0\nsample s = ring\n"), ["E0123"]);
    assert_eq!(codes("model toy2d\nscale -1\nsample s = ring\n"), ["E0123"]);
    // Fine: RRR's negation (1.3 − 0.3 = 1), the same with `base null` (total 1 whatever the
    // weights), and 0.7 + 0.3 − 1 = 0 up to rounding is still 0.
    ok("model toy2d\nsample s = 1.3 * ring AND NOT 0.3 * bar\n");
    ok("model toy2d\nbase null\nsample s = ring AND NOT bar\n");
    assert_eq!(codes("model toy2d\nsample s = 0.7 * ring AND 0.3 * box_large AND NOT bar\n"), ["E0123"]);
    // Per mixture branch: the second branch sums to 0.
    assert_eq!(codes("model toy2d\nsample s = ring OR (bar AND NOT ring)\n"), ["E0123"]);
}

#[test]
fn e0004_constants_that_fold_to_infinity_or_nan() {
    // 1e308 · 1e308 = inf: at the outer weight.
    let (text, msg, _) = one("model toy2d\nsample s = 1e308 * 1e308 * ring\n", "E0004");
    assert_eq!((text, msg.as_str()), ("1e308", "number overflows once constants are folded"));
    // Mixture weights 1e308 + 1e308 = inf (each normalised weight would be NaN or 0): at the OR.
    let (text, _, d) = one("model toy2d\nsample s = 1e308 : ring OR 1e308 : bar\n", "E0004");
    assert_eq!(text, "1e308 : ring OR 1e308 : bar");
    assert_eq!(d.labels[0].message, "the mixture weights sum to inf");
    // Finite weight, but scale × weight = 1e600: at the expression.
    let (text, _, _) = one("model toy2d\nscale 1e300\nsample s = 1e300 * ring\n", "E0004");
    assert_eq!(text, "1e300 * ring");
    // Through a let.
    assert_eq!(codes("model toy2d\nlet big = 1e200 * ring\nsample s = 1e200 * big\n"), ["E0004"]);
    // No plan may carry a non-finite number: each of the above compiles to nothing.
    assert!(run("model toy2d\nsample s = 1e308 * 1e308 * ring\n").value.is_none());
}

#[test]
fn e0124_model_call_counts_are_bounded_and_never_wrap() {
    // 2^32 MCMC steps × 2^32 leapfrog steps would wrap a u64 count to a small number; each
    // count is bounded on its own (E0114 at the value) ...
    let src = "model toy2d\nmcmc hmc(steps: 4294967296, leapfrog: 4294967296)\nsample s = ring\n";
    let out = run(src);
    let texts: Vec<&str> = out.diagnostics.iter().map(|d| span_text(src, d)).collect();
    assert_eq!(texts, ["4294967296", "4294967296"]);
    assert!(out.value.is_none());
    let (text, msg, _) = one("model toy2d\nmcmc ula(steps: 1e300)\nsample s = ring\n", "E0114");
    assert_eq!((text, msg.as_str()), ("1e300", "`steps` must be in 1..=10000, found 1e300"));
    // ... and their product: 100 steps, HMC at 99 levels × (10,000 · 1,000 + 1) calls.
    let (_, msg, d) = one("model toy2d\nmcmc hmc(steps: 10000, leapfrog: 1000)\nsample s = ring\n", "E0124");
    assert_eq!(msg, "this sample costs 990000199 model calls; the limit is 100000000");
    assert_eq!(d.labels[0].message, "100 reverse steps and 990000099 MCMC evaluations");
    // Within the limit: 100 + 99 · (1,000 · 1,000 + 1) = 99,000,199.
    ok("model toy2d\nmcmc hmc(steps: 1000, leapfrog: 1000)\nsample s = ring\n");
}

#[test]
fn e0109_a_cycle_through_100000_lets_names_its_ends_and_counts_the_rest() {
    let mut src = String::from("model toy2d\n");
    for i in 0..100_000 {
        src.push_str(&format!("let l{i} = l{}\n", (i + 1) % 100_000));
    }
    src.push_str("sample s = l0\n");
    let (_, msg, d) = one(&src, "E0109");
    // 100,001 names in the path (the first again at the end): 7 shown, 99,992 counted, 2 shown.
    assert_eq!(msg, "cyclic lets: `l0` → `l1` → `l2` → `l3` → `l4` → `l5` → `l6` → … 99992 more … → `l99999` → `l0`");
    // The primary label, 8 uses and the closing use.
    assert_eq!(d.labels.len(), 10);
    assert_eq!(d.notes, ["the cycle goes through 100000 lets; the first 8 uses are shown"]);
}

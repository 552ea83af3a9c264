//! The source map ([`comp_compiler::SourceMap`]): each term written → its sample, condition,
//! model and final coefficients, golden, with the numbers derived by hand in the comments from
//! docs/language.md: ε̂ = (1 − s·Σw)·ε_b + Σ s·w_i·ε_i.

mod common;
use common::*;
use comp_compiler::{Compiled, SourceMap};

/// One line per entry: the text at its span, its sample, condition, model and coefficients.
fn golden(src: &str, map: &SourceMap) -> String {
    let mut out = String::new();
    for t in &map.terms {
        let condition = t.condition.map_or("-".to_string(), |c| format!("#{c}"));
        let model = match &t.alias {
            Some(a) => format!("{a}={}", t.model),
            None => t.model.clone(),
        };
        let coeffs: Vec<String> = t
            .coefficients
            .iter()
            .map(|c| format!("{} on [{}, {})", c.coeffs.iter().map(f64::to_string).collect::<Vec<_>>().join(" | "), c.from, c.to))
            .collect();
        out += &format!("{:<10} {:<12} {:<3} {:<6} {}\n", &src[t.span.range()], t.sample, condition, model, coeffs.join(", "));
    }
    out
}

/// The source map's coefficients are the plan's: each entry's condition is one of its
/// sample's, with the coefficients of that condition in its segments.
fn agrees_with_the_plan(c: &Compiled) {
    for t in &c.source_map.terms {
        let plan = c.plan.samples.iter().find(|p| p.sample == t.sample).expect("a sample of the plan");
        let Some(id) = t.condition else { continue };
        let active: Vec<_> = plan.segments.iter().filter(|s| s.active.contains(&id)).collect();
        assert_eq!(active.len(), t.coefficients.len());
        for (seg, c) in active.iter().zip(&t.coefficients) {
            assert_eq!((seg.from, seg.to), (c.from, c.to));
        }
    }
}

#[test]
fn the_guidance_example() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/guidance.comp")).unwrap();
    let c = ok(&src);
    agrees_with_the_plan(&c);
    // `base null`, toy2d's scale 1:
    // - guided = ring: null 1 − 1·1 = 0 (not evaluated: no condition), ring 1·1 = 1;
    // - strong = ring with scale 3: null 1 − 3·1 = −2, ring 3;
    // - against_box = ring with base box_large, scale 2: box_large 1 − 2 = −1, ring 2 (the
    //   file's `null` is not its base: no entry).
    // Conditions are numbered base first.
    let expected = "\
null       guided       -   toy2d  
null       strong       #0  toy2d  -2 on [0, 1)
ring       guided       #0  toy2d  1 on [0, 1)
ring       strong       #1  toy2d  3 on [0, 1)
ring       against_box  #1  toy2d  2 on [0, 1)
box_large  against_box  #0  toy2d  -1 on [0, 1)
";
    assert_eq!(golden(&src, &c.source_map), expected);
}

#[test]
fn lets_not_weights_windows_and_a_mixture() {
    let src = "model toy2d\nbase null\nscale 3\nlet stripe = 0.5 * bar\n\
               sample s = ring AND NOT 2 * stripe AND 0.5 * ring @ [0, 0.5]\n\
               sample m = 0.25 : ring OR 0.75 : stripe\n";
    let c = ok(src);
    agrees_with_the_plan(&c);
    // s: bar comes in through the let with weight −(2 · 0.5) = −1; the two `ring`s are one
    // condition, weight 1 + 0.5 = 1.5 on [0, 0.5) and 1 after.
    //   [0, 0.5): Σw = 1.5 − 1 = 0.5: null 1 − 3·0.5 = −0.5, ring 3·1.5 = 4.5, bar 3·(−1) = −3
    //   [0.5, 1): Σw = 1 − 1 = 0:     null 1,               ring 3·1 = 3,     bar −3
    // m: a mixture of two branches, coefficients per branch (ring's branch, then stripe's):
    //   ring's: null 1 − 3·1 = −2, ring 3, bar 0; stripe's (w = 0.5): null 1 − 1.5 = −0.5,
    //   ring 0, bar 1.5. `bar` in the let is in both samples: one entry each. (The plan has
    //   two segments in `s`; bar's coefficient is the same in both, and shown in each.)
    let expected = "\
null       s            #0  toy2d  -0.5 on [0, 0.5), 1 on [0.5, 1)
null       m            #0  toy2d  -2 | -0.5 on [0, 1)
bar        s            #2  toy2d  -3 on [0, 0.5), -3 on [0.5, 1)
bar        m            #2  toy2d  0 | 1.5 on [0, 1)
ring       s            #1  toy2d  4.5 on [0, 0.5), 3 on [0.5, 1)
ring       s            #1  toy2d  4.5 on [0, 0.5), 3 on [0.5, 1)
ring       m            #1  toy2d  3 | 0 on [0, 1)
";
    assert_eq!(golden(src, &c.source_map), expected);
    // Hover's lookup: the cursor anywhere on the second `ring`, or just after it.
    let second = src.rfind("0.5 * ring").unwrap() + 6;
    for offset in [second, second + 2, second + 4] {
        let at = c.source_map.at(offset);
        assert_eq!(at.len(), 1);
        assert_eq!(&src[at[0].span.range()], "ring");
        assert_eq!(at[0].coefficients[0].coeffs, [4.5]);
    }
    assert!(c.source_map.at(src.find("scale").unwrap()).is_empty());
}

#[test]
fn terms_that_cancel_and_terms_of_several_models() {
    // `ring AND NOT ring` leaves only bar (base none: coefficients are s·w = 1).
    let src = "model toy2d\nsample s = bar AND ring AND NOT ring\n";
    let c = ok(src);
    let expected = "\
bar        s            #0  toy2d  1 on [0, 1)
ring       s            -   toy2d  
ring       s            -   toy2d  
";
    assert_eq!(golden(src, &c.source_map), expected);
    // Two models: each term's model by alias; a qualified term's span is all of `b.bar`.
    let src = "model a = toy2d\nmodel b = toy2d-mlp\nbase a.null\nscale 2\nsample s = a.ring AND b.bar\n";
    let c = ok(src);
    agrees_with_the_plan(&c);
    // Each term is guided against its own model's null: a.ring 2, b.bar 2, b.null −2; a.null
    // is the base (1) and the null of a.ring (−2): −1.
    let expected = "\
a.null     s            #0  a=toy2d -1 on [0, 1)
a.ring     s            #1  a=toy2d 2 on [0, 1)
b.bar      s            #2  b=toy2d-mlp 2 on [0, 1)
";
    assert_eq!(golden(src, &c.source_map), expected);
    let bar = src.find("bar").unwrap();
    assert_eq!(&src[c.source_map.at(bar)[0].span.range()], "b.bar");
}

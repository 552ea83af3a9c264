//! From a part read by A1111's scheduling grammar to the texts A1111's sampler conditions on,
//! model call by model call: one [`Run`] per stretch of calls with one text, which becomes a
//! step window `@ [from, to]`.
//!
//! A1111's rules (`modules/prompt_parser.py`, `modules/sd_samplers_cfg_denoiser.py`):
//!
//! - The schedule of a prompt with N steps is a list of (end step, text), steps 1-based:
//!   `get_learned_conditioning_prompt_schedules` collects the end steps {N} ∪ {min(N, int(v))
//!   ≥ 1 for each edit} (v = when·N for a `when` written with a `.`, else when; every step
//!   1..N when there is an alternation) and evaluates the prompt at each: an edit shows
//!   `from` while `step <= min(N, int(v))`, an alternation option `(step − 1) mod n`.
//! - The sampler's `CFGDenoiser` counts its model calls from 0 (`self.step`) and asks the
//!   schedule for entry `self.step`: the first entry whose end step is ≥ that number. So model
//!   call k (0-based) uses A1111's schedule step max(k, 1): calls 0 and 1 both see step 1,
//!   call k sees step k, and step N is never sampled.
//!
//! comp's step k (0-based) sits at fraction (k + 0.5)/N, so a run of calls k0..=k1 is exactly
//! the window `@ [k0/N, (k1+1)/N]`.
//!
//! ```text
//! "a [cat:dog:3]", 10 steps: schedule (3, "a cat"), (10, "a dog")
//!   calls 0..=3 see steps 1,1,2,3 → "a cat" @ [0, 0.4]; calls 4..=9 → "a dog" @ [0.4, 1]
//! "[cat|dog]", 4 steps: calls 0,1,2,3 see steps 1,1,2,3 → cat, cat, dog, cat
//! ```
//!
//! Without N (no `--steps`), a fraction v becomes the window boundary v itself: A1111 switches
//! after call ⌊vN⌋, comp after the last step k with (k + 0.5)/N < v, which is up to one step
//! earlier (the caller warns); absolute steps and alternations need N.

use super::codes::{BAD_EDIT, NEEDS_STEPS, STEP_ROUNDING};
use super::prompt::{self, attention, Piece, Prompt, Seen, Src};
use comp_grammar::Diagnostic;
use std::collections::BTreeSet;

/// A stretch of the trajectory with one text: active on `[from, to)` (a window ending at 1
/// includes the last step).
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub text: String,
    pub from: f64,
    pub to: f64,
}

/// A moment of sampling: A1111's schedule step (1-based) of N, or a trajectory fraction.
#[derive(Clone, Copy, Debug)]
enum Time {
    Step { step: u32, steps: u32 },
    Fraction(f64),
}

/// A1111's end step of an edit at N steps, `min(N, int(v))`; `None` where Python's `int`
/// overflows (an infinite v).
fn end_step(when: &prompt::When, steps: u32) -> Option<i64> {
    let v = if when.fraction { when.value * steps as f64 } else { when.value };
    v.is_finite().then(|| (v.trunc().min(steps as f64)).max(i64::MIN as f64) as i64)
}

/// The runs of one part (or of the negative prompt), in order, covering [0, 1]; `None` on an
/// error (reported in `ds`, spans into the input of length `input_len`).
pub fn runs(
    tree: &Prompt,
    src: &Src,
    part: std::ops::Range<usize>,
    steps: Option<u32>,
    input_len: usize,
    ds: &mut Vec<Diagnostic>,
) -> Option<Vec<Run>> {
    let part_end = src.span(part, input_len).end as usize;
    let mut edits = Vec::new();
    collect(&tree.pieces, &mut edits, &mut false);
    let mut ok = true;
    for w in &edits {
        let overflow = !w.value.is_finite() || steps.is_some_and(|n| end_step(w, n).is_none());
        if overflow {
            ok = false;
            ds.push(
                Diagnostic::error(
                    BAD_EDIT,
                    format!("the step of this prompt edit is infinite: `{}`", &src.text[w.span.clone()]),
                    src.span(w.span.clone(), input_len),
                )
                .with_label("A1111 stops with an OverflowError on this prompt")
                .with_help("write a step (`12`) or a fraction of the steps (`0.5`)"),
            );
        }
    }
    if !ok {
        return None;
    }
    let mut seen = Seen::new();
    let mut failed = false;
    let mut text_at = |t: Time, ds: &mut Vec<Diagnostic>| {
        let mut step = Src::default();
        eval(&tree.pieces, src, t, &mut step);
        let a = attention(&step);
        let before = ds.len();
        prompt::attention_diagnostics(&step, &a, part_end, input_len, &mut seen, ds);
        failed |= ds[before..].iter().any(|d| d.is_error());
        prompt::words(&a.fragments)
    };
    let mut runs: Vec<Run> = Vec::new();
    let mut push = |text: String, from: f64, to: f64| match runs.last_mut() {
        Some(last) if last.text == text => last.to = to,
        _ => runs.push(Run { text, from, to }),
    };
    match steps {
        Some(n) => {
            let mut ends: BTreeSet<u32> = BTreeSet::from([n]);
            for w in &edits {
                let e = end_step(w, n).expect("checked above");
                if e >= 1 {
                    ends.insert(e as u32);
                }
            }
            let mut alternates = false;
            collect(&tree.pieces, &mut Vec::new(), &mut alternates);
            if alternates {
                ends.extend(1..=n);
            }
            // Entry (end, text) covers schedule steps prev+1..=end; model call k uses step
            // max(k, 1), so calls prev+1..=min(end, N−1) (and call 0 with the first entry).
            let mut prev = 0u32;
            for (i, &end) in ends.iter().enumerate() {
                let first_call = if i == 0 { 0 } else { prev + 1 };
                let last_call = end.min(n - 1);
                prev = end;
                if first_call > last_call {
                    continue;
                }
                let text = text_at(Time::Step { step: end, steps: n }, ds);
                push(text, first_call as f64 / n as f64, (last_call + 1) as f64 / n as f64);
            }
        }
        None => {
            let mut need = Vec::new();
            needs_steps(&tree.pieces, &mut need);
            if !need.is_empty() {
                for (span, what) in need {
                    ds.push(
                        Diagnostic::error(NEEDS_STEPS, format!("{what} needs the number of steps"), src.span(span, input_len))
                            .with_label("depends on how many steps the sampler takes")
                            .with_help("give `--steps N` (A1111's sampling steps)"),
                    );
                }
                return None;
            }
            let mut points: Vec<f64> = vec![0.0, 1.0];
            for w in &edits {
                if w.value > 0.0 && w.value < 1.0 {
                    points.push(w.value);
                    ds.push(
                        Diagnostic::warning(
                            STEP_ROUNDING.0,
                            STEP_ROUNDING.1,
                            "without `--steps`, this switch can come one step earlier than in A1111",
                            src.span(w.span.clone(), input_len),
                        )
                        .with_label(format!(
                            "A1111 switches after model call ⌊{}·steps⌋ (counted from 0); comp at the fraction {} of the trajectory",
                            w.value, w.value
                        ))
                        .with_help("give `--steps N` for an import that switches at exactly A1111's step"),
                    );
                }
            }
            points.sort_by(f64::total_cmp);
            points.dedup();
            for w in points.windows(2) {
                let text = text_at(Time::Fraction((w[0] + w[1]) / 2.0), ds);
                push(text, w[0], w[1]);
            }
        }
    }
    if failed {
        return None;
    }
    if let Some(first) = runs.first_mut() {
        first.from = 0.0;
    }
    if let Some(last) = runs.last_mut() {
        last.to = 1.0;
    }
    Some(runs)
}

/// Every edit's `when` (in taken and untaken branches alike, as A1111's visitor collects
/// them), and whether there is an alternation.
fn collect(pieces: &[Piece], whens: &mut Vec<prompt::When>, alternates: &mut bool) {
    for p in pieces {
        match p {
            Piece::Lit(_) => {}
            Piece::Edit { before, after, when } => {
                whens.push(when.clone());
                if let Some(b) = before {
                    collect(b, whens, alternates);
                }
                collect(after, whens, alternates);
            }
            Piece::Alt { options, .. } => {
                *alternates = true;
                options.iter().for_each(|o| collect(o, whens, alternates));
            }
        }
    }
}

/// The text of `pieces` at `t`, as A1111's `AtStep` builds it (brackets of emphasis kept).
fn eval(pieces: &[Piece], src: &Src, t: Time, out: &mut Src) {
    for p in pieces {
        match p {
            Piece::Lit(r) => out.push(src, r.clone()),
            Piece::Edit { before, after, when } => {
                let showing_before = match t {
                    Time::Step { step, steps } => (step as i64) <= end_step(when, steps).unwrap_or(i64::MAX),
                    Time::Fraction(f) => f < when.value,
                };
                if showing_before {
                    if let Some(b) = before {
                        eval(b, src, t, out);
                    }
                } else {
                    eval(after, src, t, out);
                }
            }
            Piece::Alt { options, .. } => {
                // Without steps the caller has refused alternations; show the first option.
                let i = match t {
                    Time::Step { step, .. } => (step as usize - 1) % options.len(),
                    Time::Fraction(_) => 0,
                };
                eval(&options[i], src, t, out);
            }
        }
    }
}

/// What in `pieces` needs the number of steps: alternations and absolute steps.
fn needs_steps(pieces: &[Piece], out: &mut Vec<(std::ops::Range<usize>, &'static str)>) {
    for p in pieces {
        match p {
            Piece::Lit(_) => {}
            Piece::Edit { before, after, when } => {
                if !when.fraction {
                    out.push((when.span.clone(), "an absolute step"));
                }
                if let Some(b) = before {
                    needs_steps(b, out);
                }
                needs_steps(after, out);
            }
            Piece::Alt { options, span } => {
                out.push((span.clone(), "an alternation"));
                options.iter().for_each(|o| needs_steps(o, out));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runs of `p` as (first call, last call, text) at `n` steps: the model calls (0-based)
    /// that see each text.
    fn calls(p: &str, n: u32) -> Vec<(u32, u32, String)> {
        let src = Src::new(p);
        let mut ds = Vec::new();
        let tree = prompt::parse(&src, 0..p.len(), p.len(), false, &mut ds).unwrap_or_else(|| panic!("{ds:?}"));
        let rs = runs(&tree, &src, 0..p.len(), Some(n), p.len(), &mut ds).unwrap_or_else(|| panic!("{ds:?}"));
        let at = |x: f64| (x * n as f64).round() as u32;
        rs.into_iter().map(|r| (at(r.from), at(r.to) - 1, r.text)).collect()
    }

    fn c(v: &[(u32, u32, &str)]) -> Vec<(u32, u32, String)> {
        v.iter().map(|(a, b, t)| (*a, *b, t.to_string())).collect()
    }

    #[test]
    fn the_issues_reproducers_step_for_step() {
        // `a [cat:dog:3]`, 10 steps: schedule (3, "a cat"), (10, "a dog"). Call k sees step
        // max(k, 1): calls 0..=3 see steps 1, 1, 2, 3 (cat), calls 4..=9 steps 4..=9 (dog).
        assert_eq!(calls("a [cat:dog:3]", 10), c(&[(0, 3, "a cat"), (4, 9, "a dog")]));
        // `[cat|dog]`, 4 steps: calls 0, 1, 2, 3 see steps 1, 1, 2, 3: options 0, 0, 1, 0.
        assert_eq!(calls("[cat|dog]", 4), c(&[(0, 1, "cat"), (2, 2, "dog"), (3, 3, "cat")]));
        // `a [b:c:0.99]`, 50 steps: int(0.99·50) = int(49.5) = 49, so "a b" for steps 1..=49
        // and "a c" at step 50 only, which no call sees (the last call, 49, sees step 49).
        assert_eq!(calls("a [b:c:0.99]", 50), c(&[(0, 49, "a b")]));
    }

    #[test]
    fn a1111s_schedule_doctests_as_the_sampler_sees_them() {
        // The doctests of get_learned_conditioning_prompt_schedules at 10 steps, each entry
        // (end, text) covering calls prev+1..=min(end, 9), the first entry from call 0.
        assert_eq!(calls("test", 10), c(&[(0, 9, "test")]));
        // (3, "a "), (10, "a b")
        assert_eq!(calls("a [b:3]", 10), c(&[(0, 3, "a"), (4, 9, "a b")]));
        assert_eq!(calls("a [b: 3]", 10), c(&[(0, 3, "a"), (4, 9, "a b")]));
        // (2, "a "), (10, "a [[b]]"): the emphasis is dropped, the word kept.
        assert_eq!(calls("a [[[b]]:2]", 10), c(&[(0, 2, "a"), (3, 9, "a b")]));
        assert_eq!(calls("[(a:2):3]", 10), c(&[(0, 3, ""), (4, 9, "a")]));
        // (1, "a b  d"), (10, "a  c  d")
        assert_eq!(calls("a [b : c : 1] d", 10), c(&[(0, 1, "a b d"), (2, 9, "a c d")]));
        // (1, "abe"), (2, "ace"), (10, "ade")
        assert_eq!(calls("a[b:[c:d:2]:1]e", 10), c(&[(0, 1, "abe"), (2, 2, "ace"), (3, 9, "ade")]));
        // Unbalanced: no edit, the text as written (emphasis to the end, dropped).
        assert_eq!(calls("a [unbalanced", 10), c(&[(0, 9, "a unbalanced")]));
        // (5, "a  c"), (10, "a b c"): int(0.5·10) = 5.
        assert_eq!(calls("a [b:.5] c", 10), c(&[(0, 5, "a c"), (6, 9, "a b c")]));
        // A1111's "not handling this right now" doctest (it fails in A1111 too): `|` and `:` in
        // one bracket is no construct, so the `|` is at the top level, the grammar fails and
        // the whole text is read as written: [[10, 'a [{b|d{:.5] c']] (lark 1.1.2).
        assert_eq!(calls("a [{b|d{:.5] c", 10), c(&[(0, 9, "a {b|d{:.5 c")]));
        // (3, "((a][:b:c "), (10, "((a][:b:c d"): stray brackets are text; `[d:3]` applies.
        // Emphasis of "((a][:b:c ": the two unclosed `(` scale everything by 1.1·1.1, the
        // unclosed `[` (after "a]") divides ":b:c " by 1.1; "a" and the stray "]" share 1.21
        // and merge into one piece "a]", tokenised apart from ":b:c ": the words "a] :b:c".
        assert_eq!(calls("((a][:b:c [d:3]", 10), c(&[(0, 3, "a] :b:c"), (4, 9, "a] :b:c d")]));
        // Alternation, steps 1..=10: a, (b:1.1), a, ...; call k sees step max(k, 1).
        let alt: Vec<(u32, u32, &str)> =
            vec![(0, 1, "a"), (2, 2, "b"), (3, 3, "a"), (4, 4, "b"), (5, 5, "a"), (6, 6, "b"), (7, 7, "a"), (8, 8, "b"), (9, 9, "a")];
        assert_eq!(calls("[a|(b:1.1)]", 10), c(&alt));
        // `[fe|||]male`: option (step − 1) mod 4; "female" at steps 1, 5, 9.
        assert_eq!(calls("[fe|||]male", 10), c(&[(0, 1, "female"), (2, 4, "male"), (5, 5, "female"), (6, 8, "male"), (9, 9, "female")]));
    }

    #[test]
    fn when_is_a_fraction_with_a_point_and_a_step_without() {
        // `1.` is the fraction 1: min(10, int(10.0)) = 10, "a" everywhere.
        assert_eq!(calls("[a:b:1.]", 10), c(&[(0, 9, "a")]));
        // `1` is step 1: calls 0 and 1 see step 1.
        assert_eq!(calls("[a:b:1]", 10), c(&[(0, 1, "a"), (2, 9, "b")]));
        assert_eq!(calls("[a:b:99]", 10), c(&[(0, 9, "a")]));
        // int(−2) = −2: never before; int(0.05·10) = 0: never before.
        assert_eq!(calls("[a:b:-2]", 10), c(&[(0, 9, "b")]));
        assert_eq!(calls("[a:b:0.05]", 10), c(&[(0, 9, "b")]));
        // `1e1` has no point: step 10. `.5e1` has one: 5·10 = 50 → min(10, 50) = 10.
        assert_eq!(calls("[a:b:1e1]", 10), c(&[(0, 9, "a")]));
        assert_eq!(calls("[a:b:.5e1]", 10), c(&[(0, 9, "a")]));
        // One step: call 0 sees step 1.
        assert_eq!(calls("[a:b:1]", 1), c(&[(0, 0, "a")]));
        // `:１` is not lark's NUMBER (ASCII): the bracket is text.
        assert_eq!(calls("[a:b:１]", 10), c(&[(0, 9, "a:b:１")]));
    }

    #[test]
    fn break_glued_to_an_edit_is_one_word() {
        // (5, "x BREAKa"), (10, "x BREAKb"): no `\b` between K and a, so no chunk break.
        assert_eq!(calls("x BREAK[a:b:0.5]", 10), c(&[(0, 5, "x BREAKa"), (6, 9, "x BREAKb")]));
    }

    #[test]
    fn one_warning_per_place_however_many_steps_show_it() {
        // The unclosed `(` emphasises different texts at calls 0..=5 and 6..=9: one W0101,
        // reaching to the end of the part.
        let p = "a (b [c:d:0.5]";
        let src = Src::new(p);
        let mut ds = Vec::new();
        let tree = prompt::parse(&src, 0..p.len(), p.len(), false, &mut ds).expect("parses");
        runs(&tree, &src, 0..p.len(), Some(10), p.len(), &mut ds).expect("imports");
        let got: Vec<(&str, &str)> = ds.iter().map(|d| (d.code, &p[d.span().range()])).collect();
        assert_eq!(got, vec![("W0101", "(b [c:d:0.5]")]);
    }

    #[test]
    fn fractions_without_steps() {
        let src = Src::new("[a:b:0.25] [c::0.75]");
        let mut ds = Vec::new();
        let tree = prompt::parse(&src, 0..src.text.len(), src.text.len(), false, &mut ds).expect("parses");
        let rs = runs(&tree, &src, 0..src.text.len(), None, src.text.len(), &mut ds).expect("imports");
        let got: Vec<(f64, f64, &str)> = rs.iter().map(|r| (r.from, r.to, r.text.as_str())).collect();
        assert_eq!(got, vec![(0.0, 0.25, "a c"), (0.25, 0.75, "b c"), (0.75, 1.0, "b")]);
        assert_eq!(ds.iter().filter(|d| d.code == "W0104").count(), 2);
    }
}

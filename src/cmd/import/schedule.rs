//! From a prompt tree to the texts it takes during sampling: one [`Run`] per stretch of the
//! trajectory with one text, which becomes a step window `@ [from, to]`.
//!
//! ```text
//! "a [cat:dog:0.5]", steps unknown  →  "a cat" @ [0, 0.5], "a dog" @ [0.5, 1]
//! "a [cat:dog:12]", 25 steps        →  "a cat" @ [0, 0.48], "a dog" @ [0.48, 1]
//! ```
//!
//! A1111 (`get_learned_conditioning_prompt_schedules`) evaluates a prompt at steps
//! 1..=N: an edit `[a:b:when]` gives `a` while `step <= min(N, int(v))`, with v = when·N for a
//! fraction and v = when for a step; an alternation gives option `(step − 1) mod n`. comp's
//! step k (0-based) sits at fraction (k + 0.5)/N, so A1111 steps a..=b are exactly the window
//! [(a − 1)/N, b/N). Without N, a fraction v becomes the window boundary v itself: A1111
//! switches after step ⌊vN⌋, comp after step ⌈vN − 0.5⌉; these differ by one step when the
//! fractional part of vN is above one half (the caller warns).
//!
//! The text of one moment is A1111's: emphasis fragments (runs of equal weight, which A1111
//! tokenises one by one) are joined with a space where they touch (the tokens are the same:
//! CLIP splits words at spaces and at punctuation), and white space is collapsed (CLIP's
//! tokenizer does the same).

use super::prompt::{Node, When};

/// A stretch of the trajectory with one text: active on `[from, to)` (a window ending at 1
/// includes the last step).
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub text: String,
    pub from: f64,
    pub to: f64,
}

/// A moment of sampling: A1111 step `step` of `steps` (1-based), or a trajectory fraction.
#[derive(Clone, Copy, Debug)]
enum Time {
    Step { step: u32, steps: u32 },
    Fraction(f64),
}

/// The runs of `nodes`, in order, covering [0, 1]. Without `steps`, the tree must have no
/// alternation and no absolute step (the caller reports those first).
pub fn runs(nodes: &[Node], steps: Option<u32>) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut push = |text: String, from: f64, to: f64| match runs.last_mut() {
        Some(last) if last.text == text => last.to = to,
        _ => runs.push(Run { text, from, to }),
    };
    match steps {
        Some(n) => {
            for step in 1..=n {
                let text = text_at(nodes, Time::Step { step, steps: n });
                push(text, (step - 1) as f64 / n as f64, step as f64 / n as f64);
            }
        }
        None => {
            let mut whens = Vec::new();
            inner_fractions(nodes, &mut whens);
            let mut points: Vec<f64> = [0.0, 1.0].into_iter().chain(whens.iter().map(|w| w.value)).collect();
            points.sort_by(f64::total_cmp);
            points.dedup();
            for w in points.windows(2) {
                let text = text_at(nodes, Time::Fraction((w[0] + w[1]) / 2.0));
                push(text, w[0], w[1]);
            }
        }
    }
    // Whole-run boundaries printed exactly: 0 and 1.
    if let Some(first) = runs.first_mut() {
        first.from = 0.0;
    }
    if let Some(last) = runs.last_mut() {
        last.to = 1.0;
    }
    runs
}

/// Whether `when` still shows the edit's `before` text at `t`.
fn before(when: &When, t: Time) -> bool {
    match t {
        Time::Step { step, steps } => {
            let v = if when.fraction { when.value * steps as f64 } else { when.value };
            step as f64 <= v.trunc().min(steps as f64)
        }
        Time::Fraction(f) => f < when.value,
    }
}

/// The prompt's text at `t`, as A1111 would tokenise it.
fn text_at(nodes: &[Node], t: Time) -> String {
    let mut fragments: Vec<(String, f64)> = Vec::new();
    collect(nodes, t, 1.0, &mut fragments);
    // Runs of equal weight are one fragment (A1111 merges them before tokenising).
    let mut merged: Vec<(String, f64)> = Vec::new();
    for (text, w) in fragments {
        match merged.last_mut() {
            Some((last, lw)) if *lw == w => last.push_str(&text),
            _ => merged.push((text, w)),
        }
    }
    let mut out = String::new();
    for (text, _) in merged {
        let touches = out.chars().next_back().is_some_and(|c| !c.is_whitespace()) && text.chars().next().is_some_and(|c| !c.is_whitespace());
        if touches {
            out.push(' ');
        }
        out.push_str(&text);
    }
    normalize_space(&out)
}

fn collect(nodes: &[Node], t: Time, weight: f64, out: &mut Vec<(String, f64)>) {
    for n in nodes {
        match n {
            Node::Text(s) => out.push((s.clone(), weight)),
            Node::Emphasis { factor, body } => collect(body, t, weight * factor, out),
            Node::Edit { before: b, after, when } => collect(if before(when, t) { b } else { after }, t, weight, out),
            Node::Alternate { options, .. } => {
                let Time::Step { step, .. } = t else { unreachable!("alternation needs steps: checked by the caller") };
                collect(&options[(step as usize - 1) % options.len()], t, weight, out);
            }
            // A chunk boundary: a fragment of its own that never merges (NaN ≠ NaN).
            Node::Break => out.push((String::new(), f64::NAN)),
        }
    }
}

/// White space collapsed to single spaces, trimmed.
pub fn normalize_space(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What in `nodes` needs the number of steps: alternations and absolute steps, with spans.
pub fn needs_steps(nodes: &[Node], out: &mut Vec<(comp_grammar::Span, &'static str)>) {
    for n in nodes {
        match n {
            Node::Edit { before, after, when } => {
                if !when.fraction {
                    out.push((when.span, "an absolute step"));
                }
                needs_steps(before, out);
                needs_steps(after, out);
            }
            Node::Alternate { options, span } => {
                out.push((*span, "an alternation"));
                options.iter().for_each(|o| needs_steps(o, out));
            }
            Node::Emphasis { body, .. } => needs_steps(body, out),
            Node::Text(_) | Node::Break => {}
        }
    }
}

/// The edits of `nodes` whose fraction falls strictly inside (0, 1).
pub fn inner_fractions(nodes: &[Node], out: &mut Vec<When>) {
    for n in nodes {
        match n {
            Node::Edit { before, after, when } => {
                if when.fraction && when.value > 0.0 && when.value < 1.0 {
                    out.push(*when);
                }
                inner_fractions(before, out);
                inner_fractions(after, out);
            }
            Node::Emphasis { body, .. } => inner_fractions(body, out),
            Node::Alternate { options, .. } => options.iter().for_each(|o| inner_fractions(o, out)),
            Node::Text(_) | Node::Break => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::import::prompt;

    /// A1111's `get_learned_conditioning_prompt_schedules` form: (last step, text) per run.
    fn sched(p: &str, steps: Option<u32>) -> Vec<(f64, String)> {
        let mut ds = Vec::new();
        let tree = prompt::parse(p, 0..p.len(), &prompt::extra_networks(p), &mut ds).unwrap_or_else(|| panic!("{ds:?}"));
        let n = steps.map_or(1.0, f64::from);
        runs(&tree.nodes, steps).into_iter().map(|r| ((r.to * n * 1e9).round() / 1e9, r.text)).collect()
    }

    fn s(v: &[(f64, &str)]) -> Vec<(f64, String)> {
        v.iter().map(|(a, t)| (*a, t.to_string())).collect()
    }

    #[test]
    fn a1111s_own_examples_at_10_steps() {
        // The doctests of A1111's prompt_parser.py, texts without emphasis brackets.
        let g = |p| sched(p, Some(10));
        assert_eq!(g("test"), s(&[(10.0, "test")]));
        assert_eq!(g("a [b:3]"), s(&[(3.0, "a"), (10.0, "a b")]));
        assert_eq!(g("a [b: 3]"), s(&[(3.0, "a"), (10.0, "a b")]));
        assert_eq!(g("a [[[b]]:2]"), s(&[(2.0, "a"), (10.0, "a b")]));
        assert_eq!(g("[(a:2):3]"), s(&[(3.0, ""), (10.0, "a")]));
        assert_eq!(g("a [b : c : 1] d"), s(&[(1.0, "a b d"), (10.0, "a c d")]));
        assert_eq!(g("a[b:[c:d:2]:1]e"), s(&[(1.0, "abe"), (2.0, "ace"), (10.0, "ade")]));
        assert_eq!(g("a [b:.5] c"), s(&[(5.0, "a c"), (10.0, "a b c")]));
        let alternating: Vec<(f64, &str)> = (1..=10).map(|i| (i as f64, if i % 2 == 1 { "a" } else { "b" })).collect();
        assert_eq!(g("[a|(b:1.1)]"), s(&alternating));
        let female: Vec<(f64, &str)> = (1..=10).map(|i| (i as f64, if i % 2 == 1 { "female" } else { "male" })).collect();
        assert_eq!(g("[fe|]male"), s(&female));
        let fe4: Vec<(f64, &str)> = (1..=10).map(|i| (i as f64, if i % 4 == 1 { "female" } else { "male" })).collect();
        // Runs of equal text merge: steps 2..=4 are one "male" run.
        let mut merged: Vec<(f64, &str)> = Vec::new();
        for (i, t) in fe4 {
            match merged.last_mut() {
                Some(last) if last.1 == t => last.0 = i,
                _ => merged.push((i, t)),
            }
        }
        assert_eq!(g("[fe|||]male"), s(&merged));
    }

    #[test]
    fn when_is_a_fraction_with_a_point_and_a_step_without() {
        // `1.` is the fraction 1 (all steps before), `1` the first step.
        assert_eq!(sched("[a:b:1.]", Some(10)), s(&[(10.0, "a")]));
        assert_eq!(sched("[a:b:1]", Some(10)), s(&[(1.0, "a"), (10.0, "b")]));
        // Past the end, or before the start.
        assert_eq!(sched("[a:b:99]", Some(10)), s(&[(10.0, "a")]));
        assert_eq!(sched("[a:b:-2]", Some(10)), s(&[(10.0, "b")]));
        assert_eq!(sched("[a:b:0.05]", Some(10)), s(&[(10.0, "b")]), "int(0.5) = 0: never before");
        // Without steps, fractions are the window boundaries.
        assert_eq!(sched("[a:b:0.25] [c::0.75]", None), s(&[(0.25, "a c"), (0.75, "b c"), (1.0, "b")]));
    }

    #[test]
    fn emphasis_fragments_keep_their_token_boundaries() {
        // A1111 tokenises runs of one weight separately: `a(b)c` is the words a, b, c, and
        // `(a)(b)` (one weight) the word ab.
        assert_eq!(sched("a(b)c", None), s(&[(1.0, "a b c")]));
        assert_eq!(sched("(a)(b)", None), s(&[(1.0, "ab")]));
        assert_eq!(sched("an (important) word", None), s(&[(1.0, "an important word")]));
        assert_eq!(sched("x BREAK y", None), s(&[(1.0, "x y")]));
        assert_eq!(sched("x[BREAK]y", None), s(&[(1.0, "x y")]));
        assert_eq!(sched("\\(literal\\]  \n text", None), s(&[(1.0, "(literal] text")]));
    }
}

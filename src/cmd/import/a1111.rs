//! AUTOMATIC1111 prompts: `a AND b :1.2`, a negative prompt, prompt editing and emphasis.
//!
//! A1111 (`modules/prompt_parser.py`, `get_multicond_prompt_list`) splits the prompt at
//! `\bAND\b`, reads an optional trailing weight off each part
//! (`^(.*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$`, default 1), and its CFG denoiser
//! combines the model's outputs as `D_u + s·Σ w_i (D_i − D_u)` (`combine_denoised`), with D_u
//! the negative prompt's. That is comp's `AND` with weights against `base "negative"` at
//! scale s. The negative prompt is not split (an `AND` in it is text) and takes no weight.
//!
//! ```text
//! prompt "a cabin AND snow :1.2 AND people:-0.5", negative "blurry", scale 7
//!   → base "blurry", scale 7, sample = "a cabin" AND 1.2 * "snow" AND NOT 0.5 * "people"
//! ```

use super::codes::{BAD_WEIGHT, NEEDS_STEPS, NOTHING, STEP_ROUNDING, STRAY_PIPE, ZERO_WEIGHT};
use super::composition::{merge, window, Composition, Diagnostics, Input, Term};
use super::prompt::{self, is_word, Prompt};
use super::schedule::{self, Run};
use comp_grammar::{Diagnostic, Span};
use std::ops::Range;

/// Imports an A1111 prompt; `None` when there is an error (all reported in `diags`).
pub fn import(prompt: &str, negative: Option<&str>, steps: Option<u32>, scale: f64, diags: &mut Diagnostics) -> Option<Composition> {
    let mut terms = Vec::new();
    let extras = prompt::extra_networks(prompt);
    for part in split_and(prompt, &extras) {
        let mut ds = Vec::new();
        let Some((text, weight, weight_span)) = split_weight(prompt, part.clone(), &mut ds) else {
            diags.extend(Input::Prompt, ds);
            continue;
        };
        let runs = read(prompt, text.clone(), &extras, steps, &mut ds);
        if (part.start > 0 || part.end < prompt.len()) && balanced(prompt) {
            // `[a AND b:0.5]`: A1111 splits at AND before it reads brackets, and so does this.
            for d in ds.iter_mut().filter(|d| d.code == super::codes::UNBALANCED) {
                d.notes.push("A1111 splits the prompt at each AND before it reads brackets: a bracket cannot span an AND".into());
            }
        }
        diags.extend(Input::Prompt, ds);
        let Some(runs) = runs else { continue };
        let span = Span::new(part.start, part.end);
        if weight == 0.0 {
            diags.push(
                Input::Prompt,
                Diagnostic::warning(ZERO_WEIGHT.0, ZERO_WEIGHT.1, "an AND part with weight 0 is left out", weight_span.unwrap_or(span))
                    .with_label("weight 0")
                    .with_note("A1111 evaluates it at every step (one more model call) and adds nothing: the result is the same without it"),
            );
            continue;
        }
        terms.extend(runs.iter().map(|r| Term { text: r.text.clone(), weight, window: window(r), span }));
    }
    let base = match negative {
        None => vec![Run { text: String::new(), from: 0.0, to: 1.0 }],
        Some(neg) => {
            let mut ds = Vec::new();
            let runs = read(neg, 0..neg.len(), &prompt::extra_networks(neg), steps, &mut ds);
            diags.extend(Input::Negative, ds);
            runs?
        }
    };
    if diags.has_errors() {
        return None;
    }
    let mut kept = Vec::new();
    for t in merge(terms) {
        if t.weight == 0.0 {
            diags.push(
                Input::Prompt,
                Diagnostic::warning(ZERO_WEIGHT.0, ZERO_WEIGHT.1, "the weights of this prompt add up to 0: left out", t.span)
                    .with_label(format!("\"{}\" has total weight 0", t.text)),
            );
        } else {
            kept.push(t);
        }
    }
    if kept.is_empty() {
        diags.push(
            Input::Prompt,
            Diagnostic::error(NOTHING, "nothing to sample: every part of the prompt has weight 0", Span::new(0, prompt.len()))
                .with_label("no part with a nonzero weight"),
        );
        return None;
    }
    Some(Composition { base, scale, terms: kept })
}

/// Reads `src[text]` (one AND part, or the negative prompt) into its runs over the trajectory.
fn read(src: &str, text: Range<usize>, extras: &[Range<usize>], steps: Option<u32>, ds: &mut Vec<Diagnostic>) -> Option<Vec<Run>> {
    let tree: Prompt = prompt::parse(src, text, extras, ds)?;
    if let (Some(pipe), true) = (tree.stray_pipe, tree.is_scheduled()) {
        ds.push(
            Diagnostic::error(STRAY_PIPE, "`|` outside square brackets in a prompt with prompt editing", pipe)
                .with_label("A1111's prompt grammar fails on this `|` and then ignores every prompt edit of this prompt")
                .with_help("write `\\|` for a literal bar, or put the alternation in square brackets: `[a|b]`"),
        );
        return None;
    }
    if steps.is_none() {
        let mut need = Vec::new();
        schedule::needs_steps(&tree.nodes, &mut need);
        if !need.is_empty() {
            for (span, what) in need {
                ds.push(
                    Diagnostic::error(NEEDS_STEPS, format!("{what} needs the number of steps"), span)
                        .with_label("depends on how many steps the sampler takes")
                        .with_help("give `--steps N` (A1111's sampling steps)"),
                );
            }
            return None;
        }
        let mut whens = Vec::new();
        schedule::inner_fractions(&tree.nodes, &mut whens);
        for w in whens {
            ds.push(
                Diagnostic::warning(STEP_ROUNDING.0, STEP_ROUNDING.1, "without `--steps`, this switch can come one step later than in A1111", w.span)
                    .with_label(format!("A1111 switches after step ⌊{}·steps⌋; comp at the step boundary nearest {}·steps", w.value, w.value))
                    .with_help("give `--steps N` for an import that switches at exactly A1111's step"),
            );
        }
    }
    Some(schedule::runs(&tree.nodes, steps))
}

/// Whether the whole prompt's brackets pair up (escapes aside): then an unbalanced part is
/// the AND split's doing.
fn balanced(prompt: &str) -> bool {
    let (mut round, mut square, mut escaped) = (0i64, 0i64, false);
    for c in prompt.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '(') => round += 1,
            (false, ')') => round -= 1,
            (false, '[') => square += 1,
            (false, ']') => square -= 1,
            _ => {}
        }
    }
    round == 0 && square == 0
}

/// The parts of `prompt` between `AND`s (A1111's `\bAND\b`), `AND`s inside extra-network tags
/// excepted.
pub fn split_and(prompt: &str, extras: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (at, _) in prompt.match_indices("AND") {
        let before = prompt[..at].chars().next_back();
        let after = prompt[at + 3..].chars().next();
        let word = before.is_some_and(is_word) || after.is_some_and(is_word);
        if word || at < start || extras.iter().any(|r| r.contains(&at)) {
            continue;
        }
        parts.push(start..at);
        start = at + 3;
    }
    parts.push(start..prompt.len());
    parts
}

/// Splits a part into its text and its trailing `:weight` (default 1), as A1111's regex does:
/// the text is what comes before the last `:` when what follows it is a number.
fn split_weight(prompt: &str, part: Range<usize>, ds: &mut Vec<Diagnostic>) -> Option<(Range<usize>, f64, Option<Span>)> {
    let s = &prompt[part.clone()];
    let t = s.trim_end();
    let Some(colon) = t.rfind(':') else {
        return Some((part.start..part.start + t.len(), 1.0, None));
    };
    let after = &t[colon + 1..];
    let num = after.trim_start();
    let num_start = part.start + colon + 1 + (after.len() - num.len());
    let span = Span::new(num_start, num_start + num.len());
    if a1111_weight(num) {
        let w: f64 = num.parse().expect("the pattern is a Rust float");
        let text_end = part.start + t[..colon].trim_end().len();
        return Some((part.start..text_end, w, Some(span)));
    }
    // `:1.2.3`, `:1e3`: looks like a weight but A1111 reads it as prompt text.
    let looks_numeric = !num.is_empty()
        && num.chars().any(|c| c.is_ascii_digit())
        && num.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '+' | '-' | 'e' | 'E'));
    if looks_numeric {
        ds.push(
            Diagnostic::error(BAD_WEIGHT, format!("bad weight `{num}`"), span)
                .with_label(format!("not a weight A1111 reads: it would take `:{num}` as prompt text"))
                .with_help("write the weight as digits with an optional point and sign: `:1.2`, `:-0.5`"),
        );
        return None;
    }
    Some((part.start..part.start + t.len(), 1.0, None))
}

/// A1111's weight: `[-+]?(\d+\.?|\d*\.\d+)`.
fn a1111_weight(s: &str) -> bool {
    let u = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = match u.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (u, None),
    };
    let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit());
    match frac {
        None => !int.is_empty() && digits(int),
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &str) -> Vec<&str> {
        split_and(p, &prompt::extra_networks(p)).into_iter().map(|r| &p[r]).collect()
    }

    #[test]
    fn and_splits_on_whole_words_only() {
        assert_eq!(parts("a cat AND a dog"), ["a cat ", " a dog"]);
        assert_eq!(parts("BRANDY ANDes AND_x xAND"), ["BRANDY ANDes AND_x xAND"]);
        assert_eq!(parts("a AND"), ["a ", ""]);
        assert_eq!(parts("x <lora:AND:1> y AND z"), ["x <lora:AND:1> y ", " z"]);
        assert_eq!(parts("a,AND,b"), ["a,", ",b"]);
    }

    #[test]
    fn weights_are_read_as_a1111_reads_them() {
        let w = |p: &str| {
            let mut ds = Vec::new();
            split_weight(p, 0..p.len(), &mut ds).map(|(r, w, _)| (p[r].to_string(), w))
        };
        assert_eq!(w(" a dog :1.2 "), Some((" a dog".into(), 1.2)));
        assert_eq!(w("a dog:-0.5"), Some(("a dog".into(), -0.5)));
        assert_eq!(w("a dog : +2."), Some(("a dog".into(), 2.0)));
        assert_eq!(w("a dog :.5"), Some(("a dog".into(), 0.5)));
        // No number after the last colon: all text, weight 1.
        assert_eq!(w("[a:b:0.5]"), Some(("[a:b:0.5]".into(), 1.0)));
        assert_eq!(w("(a:1.2)"), Some(("(a:1.2)".into(), 1.0)));
        assert_eq!(w("style: photo"), Some(("style: photo".into(), 1.0)));
        // A1111 reads `12:30` as text `12` at weight 30; so does the import.
        assert_eq!(w("at 12:30"), Some(("at 12".into(), 30.0)));
        assert_eq!(w("a :1.2.3"), None);
        assert_eq!(w("a :1e3"), None);
        assert!(a1111_weight("1.") && a1111_weight(".5") && a1111_weight("-3") && !a1111_weight(".") && !a1111_weight("1.2.3"));
    }
}

//! AUTOMATIC1111 prompts: `a AND b :1.2`, a negative prompt, prompt editing and emphasis.
//!
//! What A1111 does with a prompt, in order (`modules/processing.py`, `extra_networks.py`,
//! `prompt_parser.py`):
//!
//! 1. removes `<name:args>` extra-network tags (`<(\w+):([^>]+)>`) from the prompt, not from the
//!    negative prompt;
//! 2. splits the prompt at `\bAND\b` (Python's Unicode `\b`);
//! 3. reads an optional trailing weight off each part
//!    (`^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$`, Python's `\s` and `\d`,
//!    default 1): `:1e-3` and `:1.2.3` are not weights but text;
//! 4. schedules each part (and the negative prompt) and reads emphasis at each step
//!    ([`super::prompt`], [`super::schedule`]);
//! 5. its CFG denoiser combines the model's outputs as `D_u + s·Σ w_i (D_i − D_u)`
//!    (`combine_denoised`), with D_u the negative prompt's.
//!
//! That is comp's `AND` with weights against `base "negative"` at scale s. The negative
//! prompt is not split (an `AND` in it is text) and takes no weight.
//!
//! ```text
//! prompt "a cabin AND snow :1.2 AND people:-0.5", negative "blurry", scale 7
//!   → base "blurry", scale 7, sample = "a cabin" AND 1.2 * "snow" AND NOT 0.5 * "people"
//! ```

use super::codes::{EXTRA_NETWORK, READ_AS_TEXT, ZERO_WEIGHT};
use super::composition::{merge, window, Composition, Diagnostics, Input, Term};
use super::prompt::{self, Src};
use super::python;
use super::schedule::{self, Run};
use comp_grammar::{Diagnostic, Span};
use std::ops::Range;

/// Imports an A1111 prompt; `None` when there is an error (all reported in `diags`).
pub fn import(prompt: &str, negative: Option<&str>, steps: Option<u32>, scale: f64, diags: &mut Diagnostics) -> Option<Composition> {
    let len = prompt.len();
    let src = without_extra_networks(prompt, diags);
    let parts = split_and(&src.text);
    let mut terms = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let mut ds = Vec::new();
        let (text, weight, weight_span) = split_weight(&src, part.clone(), len, &mut ds);
        let tree = prompt::parse(&src, text.clone(), len, i + 1 < parts.len(), &mut ds);
        let runs = tree.and_then(|t| schedule::runs(&t, &src, text, steps, len, &mut ds));
        diags.extend(Input::Prompt, ds);
        let Some(runs) = runs else { continue };
        let span = src.span(part.clone(), len);
        if weight == 0.0 {
            diags.push(
                Input::Prompt,
                Diagnostic::warning(ZERO_WEIGHT.0, ZERO_WEIGHT.1, "an AND part with weight 0 is left out", weight_span.unwrap_or(span))
                    .with_label("weight 0")
                    .with_note(
                        "A1111 evaluates it at every step (one more model call) and adds nothing: the result is the same without it",
                    ),
            );
            continue;
        }
        terms.extend(runs.iter().map(|r| Term { text: r.text.clone(), weight, window: window(r), span }));
    }
    let base = match negative {
        None => vec![Run { text: String::new(), from: 0.0, to: 1.0 }],
        Some(neg) => {
            let nsrc = Src::new(neg);
            let mut ds = Vec::new();
            for tag in prompt::extra_networks(neg) {
                ds.push(
                    Diagnostic::warning(
                        READ_AS_TEXT.0,
                        READ_AS_TEXT.1,
                        "an extra-network tag in the negative prompt is text",
                        Span::new(tag.start, tag.end),
                    )
                    .with_label(
                        "A1111 loads extra networks from the prompt only: here the tag is words for CLIP, and so it is in the import",
                    ),
                );
            }
            let runs = prompt::parse(&nsrc, 0..neg.len(), neg.len(), false, &mut ds)
                .and_then(|t| schedule::runs(&t, &nsrc, 0..neg.len(), steps, neg.len(), &mut ds));
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
            Diagnostic::warning(ZERO_WEIGHT.0, ZERO_WEIGHT.1, "every part of the prompt has weight 0: A1111 samples the negative prompt alone", Span::new(0, len))
                .with_label("no part with a nonzero weight")
                .with_note("A1111's guidance adds s·0·(D_i − D_u) for each part, so each step is the negative prompt's prediction; the import writes that prediction"),
        );
    }
    Some(Composition { base, scale, terms: kept })
}

/// The prompt without its `<name:args>` tags (A1111 removes them before anything else), each
/// named in warning W0103.
fn without_extra_networks(prompt: &str, diags: &mut Diagnostics) -> Src {
    let full = Src::new(prompt);
    let mut src = Src::default();
    let mut at = 0;
    for tag in prompt::extra_networks(prompt) {
        src.push(&full, at..tag.start);
        at = tag.end;
        diags.push(
            Input::Prompt,
            Diagnostic::warning(
                EXTRA_NETWORK.0,
                EXTRA_NETWORK.1,
                "extra network left out: comp loads no LoRA, hypernetwork or other add-on weights",
                Span::new(tag.start, tag.end),
            )
            .with_label("A1111 applies these weights to the model; the imported file samples the plain model")
            .with_note(
                "the tag is removed from the prompt text before the prompt is split at AND and its weights are read, as A1111 removes it",
            ),
        );
    }
    src.push(&full, at..prompt.len());
    src
}

/// The parts of `text` between `AND`s (A1111's `\bAND\b`, Python's Unicode word characters).
pub fn split_and(text: &str) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (at, _) in text.match_indices("AND") {
        if at < start {
            continue;
        }
        let before = text[..at].chars().next_back();
        let after = text[at + 3..].chars().next();
        if before.is_some_and(python::is_word) || after.is_some_and(python::is_word) {
            continue;
        }
        parts.push(start..at);
        start = at + 3;
    }
    parts.push(start..text.len());
    parts
}

/// Splits a part into its text and its trailing `:weight` (default 1), as A1111's regex does:
/// the weight follows the last `:` when it is A1111's number pattern; something that only looks
/// like a weight (`:1e-3`, `:1.2.3`) is text, with warning W0109.
fn split_weight(src: &Src, part: Range<usize>, len: usize, ds: &mut Vec<Diagnostic>) -> (Range<usize>, f64, Option<Span>) {
    let s = &src.text[part.clone()];
    let t = python::trim_end(s);
    let all_text = (part.start..part.start + t.len(), 1.0, None);
    let Some(colon) = t.rfind(':') else {
        return all_text;
    };
    let after = &t[colon + 1..];
    let num = python::trim_start(after);
    let num_start = part.start + colon + 1 + (after.len() - num.len());
    let range = num_start..num_start + num.len();
    if a1111_weight(num) {
        if let Some(w) = python::float(num) {
            let text_end = part.start + python::trim_end(&t[..colon]).len();
            return (part.start..text_end, w, Some(src.span(range, len)));
        }
    }
    let looks_numeric = !num.is_empty()
        && num.chars().any(|c| python::digit(c).is_some() || c == '+' || c == '-')
        && num.chars().all(|c| python::digit(c).is_some() || matches!(c, '.' | '+' | '-' | 'e' | 'E'));
    if looks_numeric {
        ds.push(
            Diagnostic::warning(READ_AS_TEXT.0, READ_AS_TEXT.1, format!("`:{num}` is not a weight to A1111: it is prompt text"), src.span(range, len))
                .with_label("A1111 reads a weight as digits with an optional point and sign (`:1.2`, `:-0.5`); this is part of the text, at weight 1, and so it is in the import")
                .with_help("write the weight as a decimal number: `:0.001` for `:1e-3`"),
        );
    }
    all_text
}

/// A1111's weight: `[-+]?(\d+\.?|\d*\.\d+)`, with Python's Unicode `\d`.
fn a1111_weight(s: &str) -> bool {
    let u = s.strip_prefix(['+', '-']).unwrap_or(s);
    let digits = |x: &str| x.chars().all(|c| python::digit(c).is_some());
    match u.split_once('.') {
        None => !u.is_empty() && digits(u),
        Some((int, frac)) => digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &str) -> Vec<&str> {
        split_and(p).into_iter().map(|r| &p[r]).collect()
    }

    #[test]
    fn and_splits_on_whole_words_only() {
        assert_eq!(parts("a cat AND a dog"), ["a cat ", " a dog"]);
        assert_eq!(parts("BRANDY ANDes AND_x xAND"), ["BRANDY ANDes AND_x xAND"]);
        assert_eq!(parts("a AND"), ["a ", ""]);
        assert_eq!(parts("a,AND,b"), ["a,", ",b"]);
        // U+093F (ि) is a combining mark, not `\w` to Python: `किAND` has a boundary.
        assert_eq!(parts("किAND b"), ["कि", " b"]);
        assert_eq!(parts("猫AND b"), ["猫AND b"], "a CJK letter is `\\w`");
    }

    #[test]
    fn weights_are_read_as_a1111_reads_them() {
        let w = |p: &str| {
            let mut ds = Vec::new();
            let src = Src::new(p);
            let (r, w, _) = split_weight(&src, 0..p.len(), p.len(), &mut ds);
            (p[r].to_string(), w, ds.len())
        };
        assert_eq!(w(" a dog :1.2 "), (" a dog".into(), 1.2, 0));
        assert_eq!(w("a dog:-0.5"), ("a dog".into(), -0.5, 0));
        assert_eq!(w("a dog : +2."), ("a dog".into(), 2.0, 0));
        assert_eq!(w("a dog :.5"), ("a dog".into(), 0.5, 0));
        // No number after the last colon: all text, weight 1.
        assert_eq!(w("[a:b:0.5]"), ("[a:b:0.5]".into(), 1.0, 0));
        assert_eq!(w("style: photo"), ("style: photo".into(), 1.0, 0));
        // A1111 reads `12:30` as text `12` at weight 30; so does the import.
        assert_eq!(w("at 12:30"), ("at 12".into(), 30.0, 0));
        // Not A1111's pattern: text at weight 1, and a warning.
        assert_eq!(w("a :1.2.3"), ("a :1.2.3".into(), 1.0, 1));
        assert_eq!(w("a :1e-3"), ("a :1e-3".into(), 1.0, 1));
        // Python's `\d` and `float` read full-width digits; `\s` takes U+001F.
        assert_eq!(w("猫:１.５"), ("猫".into(), 1.5, 0));
        assert_eq!(w("a :2\u{1f}"), ("a".into(), 2.0, 0));
    }
}

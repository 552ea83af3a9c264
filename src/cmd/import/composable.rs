//! The Composable Diffusion pipeline's prompts (Liu et al.; diffusers' community pipeline
//! `composable_stable_diffusion`): `"a | b"` with `weights="7.5 | -7.5"`.
//!
//! What the pipeline does (read from its `__call__`): when the prompt contains `|` it is split
//! there and each part stripped; `weights` is split at `|` and each read with `float`, as
//! absolute guidance scales (an empty `weights` gives every part `guidance_scale`; one weight
//! too few is filled with `guidance_scale`, more too few fail its assertion, extra weights are
//! cut off); then `ε̂ = ε_u + Σ_i w_i (ε_i − ε_u)`, a negative weight being NOT. Without `|`
//! it is plain classifier-free guidance at `guidance_scale` and `weights` is ignored. The
//! prompts reach CLIP as they are: no emphasis or editing syntax.
//!
//! ```text
//! "a red car | a blue sky", weights "7.5 | 3.75", guidance 7.5
//!   → scale 7.5, sample = "a red car" AND 0.5 * "a blue sky"
//! ```

use super::codes::{BAD_WEIGHT, PIPELINE, WEIGHT_COUNT};
use super::composition::{merge, Composition, Diagnostics, Input, Term};
use super::prompt::normalize_space;
use super::schedule::Run;
use comp_grammar::{Diagnostic, Span};

/// Imports a pipeline prompt at `guidance` (its `guidance_scale`); `None` on errors.
pub fn import(prompt: &str, weights: Option<&str>, negative: Option<&str>, guidance: f64, diags: &mut Diagnostics) -> Option<Composition> {
    let composed = prompt.contains('|');
    let parts: Vec<(String, Span)> = if composed { pieces(prompt) } else { vec![(prompt.to_string(), Span::new(0, prompt.len()))] };
    let weights = weights.filter(|w| !w.is_empty()); // the pipeline's `if not weights`
    let absolute: Vec<f64> = match (composed, weights) {
        (true, Some(ws)) => read_weights(ws, parts.len(), guidance, diags)?,
        (true, None) => vec![guidance; parts.len()],
        (false, w) => {
            if let Some(ws) = w {
                diags.push(
                    Input::Weights,
                    Diagnostic::warning(PIPELINE.0, PIPELINE.1, "the weights are ignored: the prompt has no `|`", Span::new(0, ws.len()))
                        .with_label("the pipeline uses `guidance_scale` for a prompt without `|`, and so does the import"),
                );
            }
            vec![guidance]
        }
    };
    if guidance <= 1.0 {
        let what = if composed { "and then samples only the last prompt" } else { "and samples the prompt's own prediction" };
        diags.push(
            Input::Flag("--scale"),
            Diagnostic::warning(
                PIPELINE.0,
                PIPELINE.1,
                format!("the pipeline skips guidance when `guidance_scale` <= 1 ({what}); the import computes the weighted sum"),
                Span::default(),
            ),
        );
    }
    // Write `scale g` and weights w/g when every weight divides exactly into a short number
    // (the default case: every weight is g); otherwise `scale 1` and the absolute weights.
    let nice = |w: f64| {
        let q = w / guidance;
        q * guidance == w && format!("{q}").len() <= 8
    };
    let scale = if guidance != 0.0 && absolute.iter().all(|&w| nice(w)) { guidance } else { 1.0 };
    let terms = parts.iter().zip(&absolute).map(|((text, span), &w)| Term {
        text: normalize_space(text),
        weight: w / scale,
        window: None,
        span: *span,
    });
    let terms: Vec<Term> = merge(terms.collect()).into_iter().filter(|t| t.weight != 0.0).collect();
    if terms.is_empty() {
        diags.push(
            Input::Prompt,
            Diagnostic::error(super::codes::NOTHING, "nothing to sample: every prompt has weight 0", Span::new(0, prompt.len()))
                .with_label("no prompt with a nonzero weight"),
        );
        return None;
    }
    let base = vec![Run { text: normalize_space(negative.unwrap_or("")), from: 0.0, to: 1.0 }];
    Some(Composition { base, scale, terms })
}

/// The parts of a prompt split at `|`, stripped, with their spans.
fn pieces(prompt: &str) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in prompt.split('|') {
        let lead = piece.len() - piece.trim_start().len();
        let t = piece.trim();
        out.push((t.to_string(), Span::new(start + lead, start + lead + t.len())));
        start += piece.len() + 1;
    }
    out
}

/// The pipeline's weights for `n` prompts: each read as a float; one missing is `guidance`.
fn read_weights(ws: &str, n: usize, guidance: f64, diags: &mut Diagnostics) -> Option<Vec<f64>> {
    let mut out = Vec::new();
    let mut bad = false;
    for (text, span) in pieces(ws) {
        match python_float(&text) {
            Some(w) => out.push((w, span)),
            None => {
                let shown = if text.is_empty() { "an empty weight".to_string() } else { format!("`{text}`") };
                let span = if text.is_empty() { Span { start: span.start.saturating_sub(1), end: span.start + 1 } } else { span };
                diags.push(
                    Input::Weights,
                    Diagnostic::error(BAD_WEIGHT, format!("bad weight: {shown}"), span)
                        .with_label("not a finite number")
                        .with_help("weights are numbers separated by `|`: `7.5 | -7.5`"),
                );
                bad = true;
            }
        }
    }
    if bad {
        return None;
    }
    if out.len() + 1 == n {
        diags.push(
            Input::Weights,
            Diagnostic::warning(
                PIPELINE.0,
                PIPELINE.1,
                format!("{} weights for {n} prompts: the last prompt gets `guidance_scale` ({guidance})", out.len()),
                Span::new(0, ws.len()),
            )
            .with_label("the pipeline fills in one missing weight"),
        );
        out.push((guidance, Span::default()));
    } else if out.len() < n {
        diags.push(
            Input::Weights,
            Diagnostic::error(WEIGHT_COUNT, format!("{} weights for {n} prompts", out.len()), Span::new(0, ws.len()))
                .with_label("the pipeline fills in at most one missing weight, then fails")
                .with_help("give one weight per `|`-separated prompt"),
        );
        return None;
    } else if out.len() > n {
        let first = out[n].1;
        diags.push(
            Input::Weights,
            Diagnostic::warning(
                PIPELINE.0,
                PIPELINE.1,
                format!("{} weights for {n} prompts: the extra ones are ignored", out.len()),
                Span::new(first.start as usize, ws.len()),
            )
            .with_label("ignored, as the pipeline ignores them"),
        );
        out.truncate(n);
    }
    Some(out.into_iter().map(|(w, _)| w).collect())
}

/// Python's `float(s.strip())` for a finite number (`inf` and `nan` refused: no sample).
fn python_float(s: &str) -> Option<f64> {
    let cleaned: String = s.chars().filter(|&c| c != '_').collect();
    let ok_underscores = !s.starts_with('_') && !s.ends_with('_') && !s.contains("__");
    let v: f64 = cleaned.parse().ok()?;
    (ok_underscores && v.is_finite() && !cleaned.eq_ignore_ascii_case("nan")).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(prompt: &str, weights: Option<&str>, g: f64) -> (Composition, Vec<String>) {
        let mut d = Diagnostics::default();
        let c = import(prompt, weights, None, g, &mut d).unwrap_or_else(|| panic!("{:?}", d.list));
        (c, d.list.iter().map(|(_, d)| d.code.to_string()).collect())
    }

    fn weights(c: &Composition) -> Vec<(String, f64)> {
        c.terms.iter().map(|t| (t.text.clone(), t.weight)).collect()
    }

    #[test]
    fn default_weights_are_the_guidance_scale() {
        let (c, codes) = ok(" a red car |  a blue   sky ", None, 7.5);
        assert_eq!((c.scale, weights(&c)), (7.5, vec![("a red car".into(), 1.0), ("a blue sky".into(), 1.0)]));
        assert!(codes.is_empty());
        assert_eq!(c.base[0].text, "");
    }

    #[test]
    fn weights_factor_through_the_scale_when_exact() {
        // 3.75 / 7.5 = 0.5 exactly, −7.5 / 7.5 = −1.
        let (c, _) = ok("a | b | c", Some("7.5 | 3.75 | -7.5"), 7.5);
        assert_eq!((c.scale, weights(&c)), (7.5, vec![("a".into(), 1.0), ("b".into(), 0.5), ("c".into(), -1.0)]));
        // 5 / 7.5 = 0.666…: written as absolute weights at scale 1.
        let (c, _) = ok("a | b", Some("5 | 7.5"), 7.5);
        assert_eq!((c.scale, weights(&c)), (1.0, vec![("a".into(), 5.0), ("b".into(), 7.5)]));
    }

    #[test]
    fn weight_counts_follow_the_pipeline() {
        let (c, codes) = ok("a | b", Some("2"), 7.5);
        assert_eq!(weights(&c), vec![("a".into(), 2.0), ("b".into(), 7.5)]);
        assert_eq!(codes, ["W0106"]);
        let (c, codes) = ok("a | b", Some("2 | 3 | 4"), 7.5);
        assert_eq!(weights(&c), vec![("a".into(), 2.0), ("b".into(), 3.0)]);
        assert_eq!(codes, ["W0106"]);
        let mut d = Diagnostics::default();
        assert!(import("a | b | c", Some("2"), None, 7.5, &mut d).is_none());
        assert_eq!(d.list[0].1.code, "E0207");
        let mut d = Diagnostics::default();
        assert!(import("a | b", Some("2 | x"), None, 7.5, &mut d).is_none());
        assert_eq!((d.list[0].1.code, d.list[0].1.span()), ("E0202", Span::new(4, 5)));
        // Without `|` the weights do nothing.
        let (c, codes) = ok("a", Some("2"), 7.5);
        assert_eq!((c.scale, weights(&c), codes), (7.5, vec![("a".into(), 1.0)], vec!["W0106".to_string()]));
    }

    #[test]
    fn python_floats() {
        assert_eq!(python_float("1_000.5"), Some(1000.5));
        assert_eq!(python_float("-2e1"), Some(-20.0));
        assert_eq!(python_float("inf"), None);
        assert_eq!(python_float("nan"), None);
        assert_eq!(python_float(""), None);
        assert_eq!(python_float("1__0"), None);
    }
}

//! A [`Composition`] as `.comp` text.
//!
//! The usual form puts the base prompt in `base` and the weights as the tool wrote them:
//!
//! ```text
//! scale 7
//! base "blurry"
//! sample image = "a cabin" AND 1.2 * "snow" @ [0.5, 1]
//! ```
//!
//! comp's `base` cannot change during sampling and a `NOT` needs a positive term beside it;
//! when the negative prompt is edited, or every weight is negative, the same ε̂ is written
//! against `base none` at scale 1 with each prompt's final coefficient: the base prompt's is
//! 1 − s·Σw, each term's s·w.

use super::composition::{Composition, Term};

/// The settings an import writes besides the composition.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub model: String,
    pub size: Option<(u32, u32)>,
    /// A comp sampler name, with the steps when given.
    pub sampler: Option<String>,
    pub steps: Option<u32>,
    pub seed: Option<u64>,
    pub name: String,
}

/// The `.comp` file: a header of `# ` lines (`provenance`), the settings, one `sample`.
pub fn comp_file(settings: &Settings, c: &Composition, provenance: &[String]) -> String {
    let mut out = String::new();
    for line in provenance {
        for l in line.lines() {
            out += format!("# {}", l.replace('\r', " ")).trim_end();
            out.push('\n');
        }
    }
    out += &format!("model {}\n", settings.model);
    if let Some((w, h)) = settings.size {
        out += &format!("size {w}x{h}\n");
    }
    match (&settings.sampler, settings.steps) {
        (Some(s), Some(n)) => out += &format!("sampler {s}(steps: {n})\n"),
        (Some(s), None) => out += &format!("sampler {s}()\n"),
        (None, _) => {}
    }
    let explicit = c.base.len() > 1 || !c.terms.iter().any(|t| t.weight > 0.0);
    let terms = if explicit {
        let why = if c.base.len() > 1 { "the negative prompt changes during sampling" } else { "no prompt has a positive weight" };
        out += &format!("# written against `base none` with each prompt's coefficient ({why}):\n");
        out += &format!("# base coefficient 1 - s*sum(w), term coefficients s*w, with s = {}\n", num(c.scale));
        out += "scale 1\n";
        explicit_terms(c)
    } else {
        out += &format!("scale {}\n", num(c.scale));
        c.terms.clone()
    };
    if let Some(seed) = settings.seed {
        out += &format!("seed {seed}\n");
    }
    if explicit {
        out += "base none\n";
    } else {
        out += &format!("base {}\n", string(&c.base[0].text));
    }
    let expr: Vec<String> = terms.iter().map(term).collect();
    out += &format!("sample {} = {}\n", settings.name, expr.join(" AND "));
    out
}

/// The terms of the explicit form: the base prompt at 1 − s·Σw (Σ over the terms active at
/// each step), then each term at s·w.
fn explicit_terms(c: &Composition) -> Vec<Term> {
    let mut points: Vec<f64> = vec![0.0, 1.0];
    points.extend(c.base.iter().flat_map(|r| [r.from, r.to]));
    points.extend(c.terms.iter().filter_map(|t| t.window).flat_map(|(a, b)| [a, b]));
    points.sort_by(f64::total_cmp);
    points.dedup();
    let mut base: Vec<Term> = Vec::new();
    for w in points.windows(2) {
        let mid = (w[0] + w[1]) / 2.0;
        let active = |win: Option<(f64, f64)>| win.is_none_or(|(a, b)| a <= mid && mid < b);
        let sum: f64 = c.terms.iter().filter(|t| active(t.window)).map(|t| t.weight).sum();
        let coeff = 1.0 - c.scale * sum;
        let text = &c.base.iter().find(|r| r.from <= mid && mid < r.to).expect("the base runs cover [0, 1]").text;
        match base.last_mut() {
            Some(last) if last.text == *text && last.weight == coeff => last.window = Some((last.window.expect("set").0, w[1])),
            _ => base.push(Term { text: text.clone(), weight: coeff, window: Some((w[0], w[1])), span: Default::default() }),
        }
    }
    for t in &mut base {
        if t.window == Some((0.0, 1.0)) {
            t.window = None;
        }
    }
    let scaled = c.terms.iter().map(|t| Term { weight: c.scale * t.weight, ..t.clone() });
    super::composition::merge(base.into_iter().chain(scaled).collect()).into_iter().filter(|t| t.weight != 0.0).collect()
}

/// `w * "text" @ [a, b]`, with `NOT` for a negative weight and no `1 *`.
fn term(t: &Term) -> String {
    let s = string(&t.text);
    let mut out = if t.weight == 1.0 {
        s
    } else if t.weight == -1.0 {
        format!("NOT {s}")
    } else if t.weight < 0.0 {
        format!("NOT {} * {s}", num(-t.weight))
    } else {
        format!("{} * {s}", num(t.weight))
    };
    if let Some((a, b)) = t.window {
        out += &format!(" @ [{}, {}]", num(a), num(b));
    }
    out
}

/// A number as comp reads it back exactly (Rust's shortest round-trip form, never `-0`).
pub fn num(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x}")
    }
}

/// A comp string literal: `"` and `\` escaped, line breaks and tabs as `\n` and `\t`.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            '\n' => out += "\\n",
            '\t' => out += "\\t",
            '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(string("x\ny\tz"), r#""x\ny\tz""#);
    }

    #[test]
    fn terms_read_like_comp() {
        let t = |w: f64, window| term(&Term { text: "a".into(), weight: w, window, span: Default::default() });
        assert_eq!(t(1.0, None), "\"a\"");
        assert_eq!(t(-1.0, None), "NOT \"a\"");
        assert_eq!(t(-0.5, None), "NOT 0.5 * \"a\"");
        assert_eq!(t(1.2, Some((0.0, 0.48))), "1.2 * \"a\" @ [0, 0.48]");
        assert_eq!(num(1e-7), "0.0000001");
        assert_eq!(num(-0.0), "0");
    }
}

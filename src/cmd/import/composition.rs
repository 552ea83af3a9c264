//! What an import computes, between reading a tool's prompt and writing `.comp` text.

use super::schedule::Run;
use comp_grammar::{Diagnostic, Span};
use std::collections::HashMap;

/// ε̂ = ε_b + scale · Σ_i w_i (ε_i − ε_b): A1111's and the Composable Diffusion pipeline's
/// formula, with ε_b the base prompt's prediction (the negative prompt, or the empty prompt)
/// and term i active only in its window.
#[derive(Clone, Debug, PartialEq)]
pub struct Composition {
    /// The base prompt's text over the trajectory: one run unless it is edited.
    pub base: Vec<Run>,
    pub scale: f64,
    pub terms: Vec<Term>,
}

/// One weighted prompt, active on `window` (`None`: all the way).
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub text: String,
    pub weight: f64,
    pub window: Option<(f64, f64)>,
    /// Where it came from in the imported text.
    pub span: Span,
}

/// Which imported text a diagnostic points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    Prompt,
    Negative,
    Weights,
    /// A command-line flag: no text to point into.
    Flag(&'static str),
}

/// Diagnostics of an import, each with the text it points into.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub list: Vec<(Input, Diagnostic)>,
}

impl Diagnostics {
    pub fn push(&mut self, input: Input, d: Diagnostic) {
        self.list.push((input, d));
    }

    /// Adds diagnostics collected with spans into `input`.
    pub fn extend(&mut self, input: Input, ds: Vec<Diagnostic>) {
        self.list.extend(ds.into_iter().map(|d| (input, d)));
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|(_, d)| d.is_error())
    }
}

/// A run as a term's window: `None` when it covers the whole trajectory.
pub fn window(run: &Run) -> Option<(f64, f64)> {
    (run.from > 0.0 || run.to < 1.0).then_some((run.from, run.to))
}

/// Merges terms with the same text and window (their weights add, as they do in A1111 and in
/// comp), keeping the first one's place. Linear in the number of terms.
pub fn merge(terms: Vec<Term>) -> Vec<Term> {
    let mut out: Vec<Term> = Vec::new();
    let mut index: HashMap<(String, Option<(u64, u64)>), usize> = HashMap::new();
    for t in terms {
        let key = (t.text.clone(), t.window.map(|(a, b)| (a.to_bits(), b.to_bits())));
        match index.get(&key) {
            Some(&i) => out[i].weight += t.weight,
            None => {
                index.insert(key, out.len());
                out.push(t);
            }
        }
    }
    out
}

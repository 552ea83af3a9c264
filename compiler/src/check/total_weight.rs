//! E0123: the composed weights of a sample must sum to a positive number in every stretch.
//!
//! ```text
//! base none
//! sample s = ring AND NOT bar            # E0123: 1 − 1 = 0, no density to sample
//! sample t = 1.3 * ring AND NOT 0.3 * bar  # fine: 1.3 − 0.3 = 1 (RRR's negation)
//! ```
//!
//! The plan samples p_b^(1 − s·Σw)·Π p_i^(s·w_i) (docs/language.md, Semantics): its total
//! exponent is the sum of a segment's linear coefficients, (1 − s·Σw)·Σβ + s·Σw. With
//! `base null` (Σβ = 1) it is always 1; with `base none` (Σβ = 0) it is s·Σw, and when that is
//! zero or negative the "density" does not exist: samples fly off without bound and nothing
//! says why. Checked per branch of each stretch that has terms (a stretch without any is
//! W0006's), after duplicates merge, so it sees exactly what the plan will compute.

use crate::ir::{Cond, Stretch};
use comp_grammar::{Diagnostic, Span};

/// Sums within this of 0, relative to the weights' size, count as 0 (0.7 + 0.3 − 1 rounds).
const TOLERANCE: f64 = 1e-9;

/// The total exponent of one branch: (1 − s·Σw)·Σβ + s·Σw.
pub fn total_exponent(weights: &[f64], scale: f64, base: &[(Cond, f64)]) -> (f64, f64) {
    let sum_w: f64 = weights.iter().sum();
    let sum_beta: f64 = base.iter().map(|(_, b)| b).sum();
    let total = (1.0 - scale * sum_w) * sum_beta + scale * sum_w;
    let size = (1.0 + scale.abs() * weights.iter().map(|w| w.abs()).sum::<f64>()) * (1.0 + sum_beta.abs());
    (total, size)
}

/// Reports the first stretch of a sample whose composed weights sum to 0 or less; `span` is the
/// sample's expression, `base` the base's linear terms (empty for `base none`).
///
/// With several models and a base, every term is a ratio p_m(x|c)/p_m(x) of its own model
/// (exponents that cancel in the total), so the total is the base's Σβ.
pub fn check_total_weight(stretches: &[Stretch], scale: f64, base: &[(Cond, f64)], several: bool, span: Span, diags: &mut Vec<Diagnostic>) {
    for st in stretches {
        for branch in &st.dnf.branches {
            if branch.terms.is_empty() {
                continue;
            }
            let weights: Vec<f64> = branch.terms.iter().map(|t| t.weight).collect();
            let (total, size) = if several && !base.is_empty() {
                let sum_beta: f64 = base.iter().map(|(_, b)| b).sum();
                (sum_beta, 1.0 + base.iter().map(|(_, b)| b.abs()).sum::<f64>())
            } else {
                total_exponent(&weights, scale, base)
            };
            if total > TOLERANCE * size {
                continue;
            }
            let total = if total.abs() <= TOLERANCE * size { 0.0 } else { total };
            let whole = st.from == 0.0 && st.to == 1.0;
            let when = if whole { String::new() } else { format!(" in [{}, {}) of the trajectory", st.from, st.to) };
            let mut d =
                Diagnostic::error("E0123", format!("the composed weights sum to {total}{when}: there is no density to sample"), span);
            if base.is_empty() {
                let terms: Vec<String> = branch.terms.iter().map(|t| format!("{} * {}", t.weight, t.cond)).collect();
                d = d
                    .with_label(format!("with `base none` the signed weights must sum to a positive number: scale {scale} × ({}) = {total}", terms.join(" + ")))
                    .with_note("without a base the sample is Π p_i^(s·w_i); when the exponents sum to 0 or less it cannot be normalised, and samples fly off without bound")
                    .with_help("either guide against the unconditional model with `base null` (Composable Diffusion's NOT), or weigh the positive terms up, as RRR does: `1.3 * ring AND NOT 0.3 * bar`");
            } else {
                d = d
                    .with_label("the base and the terms together have a total weight of 0 or less")
                    .with_help("use `base null`, or weights whose total (1 − s·Σw)·Σβ + s·Σw is positive");
            }
            diags.push(d);
            return;
        }
    }
}

//! E0004 after folding: constants whose product or sum overflows to ±infinity (or gives NaN).
//!
//! ```text
//! sample s = 1e308 * 1e308 * ring        # E0004 at the outer weight: 1e308 · 1e308 = inf
//! sample t = 1e308 : ring OR 1e308 : bar # E0004 at the `OR`: the weights sum to inf
//! scale 1e300
//! sample u = 1e300 * ring                # E0004: scale × weight = inf in the plan
//! ```
//!
//! Each literal is finite (the parser reports one that is not), but folding multiplies
//! weights, normalises mixture weights and multiplies by the scale. A plan with a non-finite
//! coefficient samples NaN everywhere, and its JSON writes `null`; so a sample whose plan has
//! one is an error, at the first weight (or `OR`) where the folded value leaves the finite
//! numbers, else at the sample's expression.

use crate::ir::Node;
use crate::plan::{Combine, SamplePlan};
use comp_grammar::{Diagnostic, Span};

/// Whether every number of the plan's combinations is finite.
pub fn plan_is_finite(plan: &SamplePlan) -> bool {
    plan.segments.iter().all(|seg| match &seg.combine {
        Combine::Linear { coeffs } => coeffs.iter().all(|c| c.is_finite()),
        Combine::Mixture { branches } => branches.iter().all(|b| b.log_weight.is_finite() && b.coeffs.iter().all(|c| c.is_finite())),
    })
}

/// Reports E0004 when `plan` (lowered from `inlined`, the sample's expression with lets
/// inlined) has a non-finite number. Returns whether it reported.
pub fn check_finite(plan: &SamplePlan, inlined: &Node, expr_span: Span, diags: &mut Vec<Diagnostic>) -> bool {
    if plan_is_finite(plan) {
        return false;
    }
    let d = match first_overflow(inlined) {
        Some((span, what)) => Diagnostic::error("E0004", "number overflows once constants are folded", span)
            .with_label(what)
            .with_help("use weights of a sensible size: weights multiply, and the folded value must stay finite"),
        None => Diagnostic::error("E0004", "number overflows once constants are folded", expr_span)
            .with_label("the weights times the scale overflow to infinity (or give NaN)")
            .with_help("use a smaller `scale` or smaller weights: the plan's coefficients must stay finite"),
    };
    diags.push(d);
    true
}

/// The first weight whose product with the weights above it is not finite, or the first `OR`
/// whose mixture weights do not sum to a finite number. Iterative: trees can be deep.
fn first_overflow(root: &Node) -> Option<(Span, String)> {
    let mut stack = vec![(root, 1.0f64)];
    while let Some((n, product)) = stack.pop() {
        match n {
            Node::Weight { weight, expr, span } => {
                let p = product * weight;
                if !p.is_finite() {
                    return Some((*span, format!("this weight folds to {p}")));
                }
                stack.push((expr, p));
            }
            Node::Or { branches, span } => {
                let total: f64 = branches.iter().map(|(m, _)| m).sum();
                if !total.is_finite() {
                    return Some((*span, format!("the mixture weights sum to {total}")));
                }
                stack.extend(branches.iter().rev().map(|(m, b)| (b, product * (m / total))));
            }
            Node::And(xs) => stack.extend(xs.iter().rev().map(|x| (x, product))),
            Node::Not { expr, .. } | Node::Window { expr, .. } => stack.push((expr, product)),
            Node::Cond { .. } | Node::Let { .. } | Node::Error => {}
        }
    }
    None
}

//! E0115: a window's bounds (each in [0, 1], `from` < `to`; checked as the window is
//! resolved), and nested windows that do not overlap (checked once lets are inlined).
//!
//! ```text
//! sample a = ring @ [0.5, 1.5]            # E0115: window bound 1.5 is not within [0, 1]
//! sample b = ring @ [0.6, 0.2]            # E0115: window [0.6, 0.2] is empty (swapped)
//! let early = ring @ [0, 0.3]
//! sample s = bar AND early @ [0.5, 1]     # E0115: `[0, 0.3]` lies outside `[0.5, 1]`
//! ```

use crate::ir::{Node, Window};
use comp_grammar::ast::Number;
use comp_grammar::Diagnostic;

/// Whether `@ [from, to]` is a window: both bounds in [0, 1] and `from` < `to`; reports
/// E0115 otherwise (an empty window only when both bounds are in range).
pub fn check_bounds(from: &Number, to: &Number, diags: &mut Vec<Diagnostic>) -> bool {
    let before = diags.len();
    for n in [from, to] {
        if !(0.0..=1.0).contains(&n.value) {
            diags.push(
                Diagnostic::error("E0115", format!("window bound {} is not within [0, 1]", n.text), n.span)
                    .with_label("outside [0, 1]")
                    .with_help("windows are fractions of the trajectory: 0 is pure noise, 1 is the end"),
            );
        }
    }
    if diags.len() == before && from.value >= to.value {
        diags.push(
            Diagnostic::error("E0115", format!("window [{}, {}] is empty", from.text, to.text), from.span.to(to.span))
                .with_label("`from` must be less than `to`")
                .with_help(if from.value > to.value {
                    format!("the bounds are swapped: write `@ [{}, {}]`", to.text, from.text)
                } else {
                    "a window must cover part of the trajectory, e.g. `@ [0, 0.5]`".to_string()
                }),
        );
    }
    diags.len() == before
}

/// Reports every window that does not overlap the windows around it.
pub fn check_nested_windows(inlined: &Node, diags: &mut Vec<Diagnostic>) {
    let mut stack: Vec<(&Node, Window)> = vec![(inlined, Window::FULL)];
    while let Some((n, outer)) = stack.pop() {
        match n {
            Node::Window { window, expr, span } => match window.intersect(outer) {
                Some(w) => stack.push((expr, w)),
                None => diags.push(
                    Diagnostic::error("E0115", format!("window {window} lies outside the enclosing window {outer}"), *span)
                        .with_label("never active")
                        .with_help("nested windows intersect; these do not overlap"),
                ),
            },
            Node::And(xs) => stack.extend(xs.iter().map(|x| (x, outer))),
            Node::Or { branches, .. } => stack.extend(branches.iter().map(|(_, b)| (b, outer))),
            Node::Not { expr, .. } | Node::Weight { expr, .. } => stack.push((expr, outer)),
            Node::Cond { .. } | Node::Let { .. } | Node::Error => {}
        }
    }
}

//! E0115 for nested windows that do not overlap (bounds of a single window are checked when
//! it is resolved).
//!
//! ```text
//! let early = ring @ [0, 0.3]
//! sample s = bar AND early @ [0.5, 1]     # E0115: `[0, 0.3]` lies outside `[0.5, 1]`
//! ```

use crate::ir::{Node, Window};
use comp_grammar::Diagnostic;

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

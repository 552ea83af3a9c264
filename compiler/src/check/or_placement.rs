//! E0118: a weight, `NOT` or window applied to an `OR`, directly or through `AND`s and lets.
//!
//! ```text
//! let either = left_bar OR right_bar
//! sample s = 0.5 * either        # E0118 at `0.5`: a power of a mixture is not a mixture
//! sample t = 0.5 : (0.5 * left_bar) OR right_bar      # fine: the weight is inside the branch
//! ```
//!
//! Runs on a tree with lets inlined, so the `OR` may be inside a let; the error is at the
//! operator, with the `OR` as a secondary label.

use crate::ir::Node;
use comp_grammar::{Diagnostic, Span};

/// Reports every weight, `NOT` or window that has an `OR` below it.
pub fn check_or_placement(inlined: &Node, diags: &mut Vec<Diagnostic>) {
    // (node, the innermost enclosing weight/NOT/window)
    let mut stack: Vec<(&Node, Option<(Span, &str)>)> = vec![(inlined, None)];
    while let Some((n, outer)) = stack.pop() {
        match n {
            Node::Or { branches, span } => {
                if let Some((op, what)) = outer {
                    diags.push(
                        Diagnostic::error("E0118", format!("{what} applied to an `OR`"), op)
                            .with_label(format!("{what} applies to a mixture"))
                            .with_secondary(*span, "the `OR`")
                            .with_note("a power or a window of a mixture is not a mixture of the branches")
                            .with_help("write it inside each branch of the `OR`"),
                    );
                    continue;
                }
                stack.extend(branches.iter().map(|(_, b)| (b, None)));
            }
            Node::And(xs) => stack.extend(xs.iter().map(|x| (x, outer))),
            Node::Not { expr, span } => stack.push((expr, Some((*span, "`NOT`")))),
            Node::Weight { expr, span, .. } => stack.push((expr, Some((*span, "a weight")))),
            Node::Window { expr, span, .. } => stack.push((expr, Some((*span, "a window")))),
            Node::Cond { .. } | Node::Let { .. } | Node::Error => {}
        }
    }
}

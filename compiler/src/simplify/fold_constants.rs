//! Pass: fold constants. Nested weights multiply, a weight of 1 disappears, nested windows
//! intersect (an empty intersection is a weight of 0: never active).
//!
//! ```text
//! before: 2 * (0.5 * (ring @ [0, 0.6]) @ [0.2, 1])
//! after:  ring @ [0.2, 0.6]            (2 · 0.5 = 1)
//! ```

use crate::ir::{Node, Window};
use comp_grammar::Span;

/// `node` with constant weights and windows folded. Weights end up outside windows:
/// `(2 * a) @ [0, 0.5]` becomes `2 * (a @ [0, 0.5])`, so neighbours meet and fold.
pub fn fold_constants(node: Node) -> Node {
    match node {
        Node::Weight { weight, expr, span } => {
            let (w, win, core) = split(fold_constants(*expr));
            let w = match w {
                Some((inner, s)) => Some((weight * inner, if weight < 0.0 { span } else { s })),
                None => Some((weight, span)),
            };
            build(w, win, core)
        }
        Node::Window { window, expr, span } => {
            let (w, win, core) = split(fold_constants(*expr));
            match win {
                None => build(w, Some((window, span)), core),
                Some((inner, s)) => match window.intersect(inner) {
                    Some(both) => build(w, Some((both, s)), core),
                    None => build(Some((0.0, s)), None, core),
                },
            }
        }
        Node::And(xs) => Node::And(xs.into_iter().map(fold_constants).collect()),
        Node::Or { branches, span } => Node::Or { branches: branches.into_iter().map(|(m, b)| (m, fold_constants(b))).collect(), span },
        Node::Not { expr, span } => Node::Not { expr: Box::new(fold_constants(*expr)), span },
        n @ (Node::Cond { .. } | Node::Let { .. } | Node::Error) => n,
    }
}

type Parts = (Option<(f64, Span)>, Option<(Window, Span)>, Node);

/// `w * (e @ W)` into its weight, window and the rest.
fn split(node: Node) -> Parts {
    match node {
        Node::Weight { weight, expr, span } => match *expr {
            Node::Window { window, expr, span: ws } => (Some((weight, span)), Some((window, ws)), *expr),
            e => (Some((weight, span)), None, e),
        },
        Node::Window { window, expr, span } => (None, Some((window, span)), *expr),
        e => (None, None, e),
    }
}

fn build(weight: Option<(f64, Span)>, window: Option<(Window, Span)>, core: Node) -> Node {
    let core = match window {
        Some((window, span)) if !window.is_full() => Node::Window { window, expr: Box::new(core), span },
        _ => core,
    };
    match weight {
        Some((weight, span)) if weight != 1.0 => Node::Weight { weight, expr: Box::new(core), span },
        _ => core,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simplify::test_util::*;

    #[test]
    fn weights_multiply_and_windows_intersect() {
        let before = weight(2.0, window(0.2, 1.0, weight(0.5, window(0.0, 0.6, cond("ring")))));
        assert_eq!(strip(&fold_constants(before)), window(0.2, 0.6, cond("ring")));
    }

    #[test]
    fn disjoint_windows_give_weight_zero() {
        let before = window(0.7, 1.0, window(0.0, 0.5, cond("ring")));
        assert_eq!(strip(&fold_constants(before)), weight(0.0, cond("ring")));
    }
}

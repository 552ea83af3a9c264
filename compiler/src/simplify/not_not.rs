//! Pass: `NOT NOT a` is `a`.
//!
//! ```text
//! before: ring AND NOT NOT bar
//! after:  ring AND bar
//! ```

use crate::ir::Node;

/// `node` with every double negation removed.
pub fn not_not(node: Node) -> Node {
    match node {
        Node::Not { expr, span } => match not_not(*expr) {
            Node::Not { expr: inner, .. } => *inner,
            e => Node::Not { expr: Box::new(e), span },
        },
        Node::And(xs) => Node::And(xs.into_iter().map(not_not).collect()),
        Node::Or { branches, span } => Node::Or { branches: branches.into_iter().map(|(m, b)| (m, not_not(b))).collect(), span },
        Node::Weight { weight, expr, span } => Node::Weight { weight, expr: Box::new(not_not(*expr)), span },
        Node::Window { window, expr, span } => Node::Window { window, expr: Box::new(not_not(*expr)), span },
        n @ (Node::Cond { .. } | Node::Let { .. } | Node::Error) => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simplify::test_util::*;

    #[test]
    fn double_negation_cancels() {
        assert_eq!(not_not(and(vec![cond("ring"), not(not(cond("bar")))])), and(vec![cond("ring"), cond("bar")]));
        // An odd number keeps one.
        assert_eq!(not_not(not(not(not(cond("a"))))), not(cond("a")));
    }
}

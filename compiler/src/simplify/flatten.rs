//! Pass: flatten. Nested `AND`s become one `AND`, nested `OR`s one `OR`, and an `AND` of one
//! operand is that operand.
//!
//! ```text
//! before: (a AND (b AND c)) OR (2 : (d OR 3 : e))
//! after:  a AND b AND c OR 0.5 : d OR 1.5 : e
//! ```
//!
//! A nested `OR` is a mixture inside a mixture: its branches' weights are normalised, then
//! multiplied by the weight of the branch it sits in, which keeps the mixture exact.

use crate::ir::Node;

/// `node` with no `AND` directly inside an `AND` and no `OR` directly inside an `OR`.
pub fn flatten(node: Node) -> Node {
    match node {
        Node::And(xs) => {
            let mut out = Vec::new();
            for x in xs {
                match flatten(x) {
                    Node::And(ys) => out.extend(ys),
                    y => out.push(y),
                }
            }
            if out.len() == 1 {
                out.pop().expect("one element")
            } else {
                Node::And(out)
            }
        }
        Node::Or { branches, span } => {
            let mut out = Vec::new();
            for (m, b) in branches {
                match flatten(b) {
                    Node::Or { branches: inner, .. } => {
                        let total: f64 = inner.iter().map(|(w, _)| w).sum();
                        out.extend(inner.into_iter().map(|(w, b)| (m * w / total, b)));
                    }
                    b => out.push((m, b)),
                }
            }
            Node::Or { branches: out, span }
        }
        Node::Not { expr, span } => Node::Not { expr: Box::new(flatten(*expr)), span },
        Node::Weight { weight, expr, span } => Node::Weight { weight, expr: Box::new(flatten(*expr)), span },
        Node::Window { window, expr, span } => Node::Window { window, expr: Box::new(flatten(*expr)), span },
        n @ (Node::Cond { .. } | Node::Let { .. } | Node::Error) => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simplify::test_util::*;

    #[test]
    fn nested_ands_and_ors_are_flattened() {
        let before =
            or(vec![(1.0, and(vec![cond("a"), and(vec![cond("b"), cond("c")])])), (2.0, or(vec![(1.0, cond("d")), (3.0, cond("e"))]))]);
        let after = or(vec![(1.0, and(vec![cond("a"), cond("b"), cond("c")])), (0.5, cond("d")), (1.5, cond("e"))]);
        assert_eq!(flatten(before), after);
    }

    #[test]
    fn single_operand_and_is_its_operand() {
        assert_eq!(flatten(and(vec![and(vec![cond("a")])])), cond("a"));
    }
}

//! Pass: distribute. Weights, `NOT` and windows are pushed down onto the conditions, and
//! `AND` is distributed over `OR`, giving disjunctive normal form ([`Dnf`]): a mixture of
//! branches, each a flat list of `(condition, signed weight, window)` terms.
//!
//! ```text
//! before: 2 * (a AND NOT 0.5 * b @ [0, 0.6]) AND (c OR 3 : d)
//! after:  0.25 : (2 * a AND -1 * b @ [0, 0.6] AND 1 * c)
//!      OR 0.75 : (2 * a AND -1 * b @ [0, 0.6] AND 1 * d)
//! ```
//!
//! `AND` of mixtures multiplies them out: `(a OR b) AND (c OR d)` has four branches whose
//! mixture weights are the products. Each `OR`'s weights are normalised to sum to 1.
//! An [`Node::Error`] (already reported) contributes nothing.

use crate::ir::{Conj, Dnf, Negation, Node, Term, Window};

/// The disjunctive normal form of `node` (lets already inlined).
pub fn distribute(node: &Node) -> Dnf {
    match node {
        Node::Cond { cond, span, site } => Dnf {
            branches: vec![Conj {
                mix: 1.0,
                terms: vec![Term { cond: cond.clone(), weight: 1.0, window: Window::FULL, span: site.unwrap_or(*span), negation: None }],
            }],
        },
        Node::Let { .. } | Node::Error => Dnf { branches: vec![Conj { mix: 1.0, terms: vec![] }] },
        Node::And(xs) => {
            let mut acc = vec![Conj { mix: 1.0, terms: vec![] }];
            for x in xs {
                let d = distribute(x);
                let mut next = Vec::with_capacity(acc.len() * d.branches.len());
                let Some((last, rest)) = d.branches.split_last() else {
                    acc.clear();
                    continue;
                };
                for Conj { mix, terms } in acc {
                    for b in rest {
                        let mut terms = terms.clone();
                        terms.extend(b.terms.iter().cloned());
                        next.push(Conj { mix: mix * b.mix, terms });
                    }
                    // The last branch takes `terms` itself: a flat `AND` of n conditions (one
                    // branch each) then appends n times instead of copying the prefix n times
                    // (quadratic: 0.5 s for 4,096 terms, which timed the fuzzers out).
                    let mut terms = terms;
                    terms.extend(last.terms.iter().cloned());
                    next.push(Conj { mix: mix * last.mix, terms });
                }
                acc = next;
            }
            Dnf { branches: acc }
        }
        Node::Or { branches, .. } => {
            let mut out = Vec::new();
            for (m, b) in branches {
                out.extend(distribute(b).branches.into_iter().map(|c| Conj { mix: c.mix * m, ..c }));
            }
            let total: f64 = out.iter().map(|c| c.mix).sum();
            for c in &mut out {
                c.mix /= total;
            }
            Dnf { branches: out }
        }
        Node::Not { expr, span } => scale(distribute(expr), -1.0, Negation { span: *span, is_not: true }),
        Node::Weight { weight, expr, span } => scale(distribute(expr), *weight, Negation { span: *span, is_not: false }),
        Node::Window { window, expr, .. } => {
            let mut d = distribute(expr);
            for t in d.branches.iter_mut().flat_map(|c| c.terms.iter_mut()) {
                match t.window.intersect(*window) {
                    Some(w) => t.window = w,
                    None => t.weight = 0.0,
                }
            }
            d
        }
    }
}

/// Multiplies every term's weight by `factor`; a term this makes negative blames `by`.
fn scale(mut d: Dnf, factor: f64, by: Negation) -> Dnf {
    for t in d.branches.iter_mut().flat_map(|c| c.terms.iter_mut()) {
        t.weight *= factor;
        if factor < 0.0 && t.weight < 0.0 {
            t.negation = Some(by);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simplify::test_util::*;

    #[test]
    fn weights_not_and_windows_are_pushed_onto_terms() {
        // 2 * (a AND NOT 0.5 * b @ [0, 0.6])  →  2 * a AND -1 * b @ [0, 0.6]
        let node = weight(2.0, and(vec![cond("a"), not(window(0.0, 0.6, weight(0.5, cond("b"))))]));
        let d = distribute(&node);
        assert_eq!(d.to_string(), "2 * a AND -1 * b @ [0, 0.6]");
        assert!(d.branches[0].terms[1].negation.unwrap().is_not);
    }

    #[test]
    fn and_distributes_over_or_with_mixture_weights() {
        // a AND (c OR 3 : d)  →  0.25 : (a AND c) OR 0.75 : (a AND d)
        let node = and(vec![cond("a"), or(vec![(1.0, cond("c")), (3.0, cond("d"))])]);
        assert_eq!(distribute(&node).to_string(), "0.25 : (1 * a AND 1 * c) OR 0.75 : (1 * a AND 1 * d)");
    }

    #[test]
    fn product_of_mixtures_multiplies_weights() {
        let node = and(vec![or(vec![(1.0, cond("a")), (1.0, cond("b"))]), or(vec![(1.0, cond("c")), (3.0, cond("d"))])]);
        let d = distribute(&node);
        let mixes: Vec<f64> = d.branches.iter().map(|c| c.mix).collect();
        assert_eq!(mixes, vec![0.125, 0.375, 0.125, 0.375]);
    }
}

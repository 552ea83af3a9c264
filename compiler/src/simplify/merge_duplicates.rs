//! Pass: merge duplicates. In each branch, terms with the same condition and the same window
//! become one term whose weight is the sum; branches with the same terms become one branch
//! whose mixture weight is the sum.
//!
//! ```text
//! before: ring AND 0.5 * bar AND NOT 0.2 * bar        (1 * ring AND 0.5 * bar AND -0.2 * bar)
//! after:  1 * ring AND 0.3 * bar
//! before: 0.5 : (1 * a) OR 0.5 : (1 * a)
//! after:  1 * a
//! ```
//!
//! Both are exact: ε is linear in the weights, and a mixture of two equal components is that
//! component with the summed weight.

use crate::ir::{Conj, Dnf, Term};

/// `dnf` with no two equal (condition, window) terms in a branch and no two equal branches.
pub fn merge_duplicates(dnf: Dnf) -> Dnf {
    let mut out: Vec<Conj> = Vec::new();
    for c in dnf.branches {
        let c = Conj { mix: c.mix, terms: merge_terms(c.terms) };
        match out.iter_mut().find(|o| same_terms(&o.terms, &c.terms)) {
            Some(o) => o.mix += c.mix,
            None => out.push(c),
        }
    }
    Dnf { branches: out }
}

fn merge_terms(terms: Vec<Term>) -> Vec<Term> {
    let mut out: Vec<Term> = Vec::new();
    for t in terms {
        match out.iter_mut().find(|o| o.cond == t.cond && o.window == t.window) {
            Some(o) => {
                o.weight += t.weight;
                if o.weight < 0.0 && o.negation.is_none() {
                    o.negation = t.negation;
                }
            }
            None => out.push(t),
        }
    }
    out
}

/// Whether two merged conjunctions have the same terms, in any order.
pub fn same_terms(a: &[Term], b: &[Term]) -> bool {
    a.len() == b.len() && a.iter().all(|t| b.iter().any(|u| u.cond == t.cond && u.window == t.window && u.weight == t.weight))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simplify::distribute::distribute;
    use crate::simplify::test_util::*;

    #[test]
    fn equal_terms_add_their_weights() {
        let node = and(vec![cond("ring"), weight(0.5, cond("bar")), not(weight(0.25, cond("bar")))]);
        assert_eq!(merge_duplicates(distribute(&node)).to_string(), "1 * ring AND 0.25 * bar");
    }

    #[test]
    fn different_windows_stay_apart() {
        let node = and(vec![cond("a"), window(0.0, 0.5, cond("a"))]);
        assert_eq!(merge_duplicates(distribute(&node)).to_string(), "1 * a AND 1 * a @ [0, 0.5]");
    }

    #[test]
    fn equal_branches_add_their_mixture_weights() {
        let node = or(vec![(1.0, cond("a")), (2.0, cond("b")), (1.0, cond("a"))]);
        assert_eq!(merge_duplicates(distribute(&node)).to_string(), "0.5 : (1 * a) OR 0.5 : (1 * b)");
    }
}

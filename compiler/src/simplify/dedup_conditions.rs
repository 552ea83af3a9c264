//! Pass: dedup conditions. Each distinct condition of a sample gets one id, however often it
//! is written: base conditions first, then the terms' conditions in order of appearance.
//!
//! ```text
//! base null; sample: pos(0.25, 0.5) AND pos(0.75, 0.5) OR pos(y: 0.5, x: 0.25)
//! conditions: 0 null, 1 pos(0.25, 0.5), 2 pos(0.75, 0.5)
//! ```
//!
//! Lowering then keeps only the conditions some segment evaluates.

use crate::ir::{Cond, Stretch};

/// The distinct conditions of the base terms and the stretches, in first-seen order.
pub fn dedup_conditions(base: &[(Cond, f64)], stretches: &[Stretch]) -> Vec<Cond> {
    let mut out: Vec<Cond> = Vec::new();
    let terms = stretches.iter().flat_map(|s| s.dnf.branches.iter().flat_map(|c| c.terms.iter().map(|t| &t.cond)));
    for c in base.iter().map(|(c, _)| c).chain(terms) {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simplify::{distribute::distribute, segments::split_segments, test_util::*};

    #[test]
    fn each_condition_once_base_first() {
        let node = or(vec![(1.0, and(vec![cond("a"), cond("b")])), (1.0, and(vec![cond("b"), cond("c")]))]);
        let conds = dedup_conditions(&[(Cond::Null { model: None }, 1.0)], &split_segments(&distribute(&node)));
        let names: Vec<String> = conds.iter().map(|c| c.to_string()).collect();
        assert_eq!(names, ["null", "a", "b", "c"]);
    }
}

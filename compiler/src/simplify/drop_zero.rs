//! Pass: drop zero terms. A term whose weight is 0 contributes nothing to ε̂ (its `s·w·ε` and
//! its share of the base coefficient are both 0), so it is not evaluated.
//!
//! ```text
//! before: 1 * ring AND 0 * bar AND 0 * box_small @ [0, 0.5]
//! after:  1 * ring
//! ```

use crate::ir::Dnf;

/// `dnf` without zero-weight terms. Branches that become empty stay (an empty conjunction is
/// the base alone, still a component of the mixture).
pub fn drop_zero(mut dnf: Dnf) -> Dnf {
    for c in &mut dnf.branches {
        c.terms.retain(|t| t.weight != 0.0);
    }
    dnf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simplify::distribute::distribute;
    use crate::simplify::test_util::*;

    #[test]
    fn zero_terms_are_dropped() {
        let node = and(vec![cond("ring"), weight(0.0, cond("bar")), window(0.0, 0.5, weight(0.0, cond("b")))]);
        assert_eq!(drop_zero(distribute(&node)).to_string(), "1 * ring");
    }
}

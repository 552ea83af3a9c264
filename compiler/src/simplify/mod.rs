//! Simplification: exact algebra from a resolved expression to segments of canonical terms.
//! Each pass is a small pure function in its own file; they are chained here, and only here.
//!
//! ```text
//! inline_lets → flatten → not_not → fold_constants → distribute (DNF)
//!   → merge_duplicates → drop_zero → split_segments → (lowering: dedup_conditions)
//! ```

pub mod dedup_conditions;
pub mod distribute;
pub mod drop_zero;
pub mod flatten;
pub mod fold_constants;
pub mod inline_lets;
pub mod merge_duplicates;
pub mod not_not;
pub mod segments;
#[cfg(test)]
pub(crate) mod test_util;

use crate::ir::{Cond, Dnf, Node, Stretch};

/// Every stage of one expression's simplification (checks and lints look at several).
#[derive(Clone, Debug)]
pub struct Simplified {
    /// Lets inlined, nothing else: what checks that follow lets look at.
    pub inlined: Node,
    /// Right after distribution, before duplicates merge and zeros drop.
    pub distributed: Dnf,
    /// The canonical form: duplicates merged, zeros dropped.
    pub dnf: Dnf,
    /// The trajectory cut where windows begin and end.
    pub stretches: Vec<Stretch>,
}

/// The lets' inlined bodies, by name (see [`inline_lets::inline_all`]).
pub type Inlined = std::collections::HashMap<String, Node>;

/// Runs every pass on `node`.
pub fn simplify(node: &Node, lets: &Inlined) -> Simplified {
    let inlined = inline_lets::inline_lets(node, lets);
    let tree = fold_constants::fold_constants(not_not::not_not(flatten::flatten(inlined.clone())));
    let distributed = distribute::distribute(&tree);
    let dnf = drop_zero::drop_zero(merge_duplicates::merge_duplicates(distributed.clone()));
    let stretches = segments::split_segments(&dnf);
    Simplified { inlined, distributed, dnf, stretches }
}

/// A `base EXPR` (checked linear: no `OR`, no windows) as `(condition, coefficient)` terms.
pub fn linear_terms(node: &Node, lets: &Inlined) -> Vec<(Cond, f64)> {
    let s = simplify(node, lets);
    s.dnf.branches.into_iter().flat_map(|c| c.terms).map(|t| (t.cond, t.weight)).collect()
}

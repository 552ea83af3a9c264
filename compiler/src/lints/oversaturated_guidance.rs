//! W0005 `oversaturated-guidance`.
//!
//! **What it does**: flags a sample whose total guidance exceeds 30 in some segment and
//! branch: s·Σ|w_i| > 30, or, with a base, |1 − s·Σ w_i| > 30.
//!
//! **Why**: guidance that grows as terms are stacked blows samples up (a common complaint
//! about other tools): five terms at scale 7.5 put 37.5 on the conditions and −36.5 on the
//! base.
//!
//! **Example**: `scale 7.5` and `sample s = a AND b AND c AND d AND e` → warning at the
//! sample's expression.

use crate::ir::Stretch;
use comp_grammar::{Diagnostic, Span};

pub const CODE: &str = "W0005";
pub const NAME: &str = "oversaturated-guidance";

/// The threshold on the total guidance.
pub const LIMIT: f64 = 30.0;

/// Warns once for the sample at `span` when any stretch's branch is over [`LIMIT`].
pub fn check(stretches: &[Stretch], scale: f64, has_base: bool, span: Span, diags: &mut Vec<Diagnostic>) {
    for st in stretches {
        for b in &st.dnf.branches {
            let abs: f64 = scale * b.terms.iter().map(|t| t.weight.abs()).sum::<f64>();
            let base = (1.0 - scale * b.terms.iter().map(|t| t.weight).sum::<f64>()).abs();
            let (what, value) = if abs.abs() > LIMIT {
                ("s·Σ|w|", abs.abs())
            } else if has_base && base > LIMIT {
                ("|1 − s·Σw| (the base's coefficient)", base)
            } else {
                continue;
            };
            diags.push(
                Diagnostic::warning(CODE, NAME, format!("total guidance {what} is {value}, above {LIMIT}"), span)
                    .with_label(format!("in [{}, {}) of the trajectory", st.from, st.to))
                    .with_help("lower `scale` or the weights; large totals blow samples up"),
            );
            return;
        }
    }
}

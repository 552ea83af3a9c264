//! W0006 `inactive-stretch`.
//!
//! **What it does**: flags a stretch of the trajectory where no term of a sample is active.
//!
//! **Why**: windows that leave a gap make those steps unguided (the base alone, or nothing at
//! all with `base none`), which is rarely intended.
//!
//! **Example**: `sample s = ring @ [0, 0.5]` → warning: no term is active in [0.5, 1).

use crate::ir::Stretch;
use comp_grammar::{Diagnostic, Span};

pub const CODE: &str = "W0006";
pub const NAME: &str = "inactive-stretch";

/// Warns for each stretch where every branch is empty; `span` is the sample's expression.
pub fn check(stretches: &[Stretch], span: Span, diags: &mut Vec<Diagnostic>) {
    for st in stretches {
        if st.dnf.branches.iter().all(|b| b.terms.is_empty()) {
            diags.push(
                Diagnostic::warning(CODE, NAME, format!("no term is active in [{}, {}) of the trajectory", st.from, st.to), span)
                    .with_label("windows leave a gap")
                    .with_help("widen a window so that every step has a term"),
            );
        }
    }
}

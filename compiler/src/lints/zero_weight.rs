//! W0001 `zero-weight`.
//!
//! **What it does**: flags a weight of 0 (`0 * bar`).
//!
//! **Why**: a zero-weight term contributes nothing and is dropped; it is usually a leftover
//! from tuning. Other tools evaluate such terms anyway ("zero weights that still act").
//!
//! **Example**: `sample s = ring AND 0 * bar` → warning at `0`; the plan evaluates `ring` only.

use crate::ir::Node;
use comp_grammar::Diagnostic;

pub const CODE: &str = "W0001";
pub const NAME: &str = "zero-weight";

/// Warns at each weight of 0 in `node` (lets not followed: each let is checked once itself).
pub fn check(node: &Node, diags: &mut Vec<Diagnostic>) {
    node.walk(|n| {
        if let Node::Weight { weight, span, .. } = n {
            if *weight == 0.0 {
                diags.push(
                    Diagnostic::warning(CODE, NAME, "this term has weight 0 and is dropped", *span)
                        .with_label("weight 0")
                        .with_help("remove the term, or give it a nonzero weight"),
                );
            }
        }
    });
}

//! W0002 `duplicate-terms`.
//!
//! **What it does**: flags a condition written twice in one conjunction (same condition, same
//! window), directly or through lets.
//!
//! **Why**: the two are merged into one term whose weight is the sum, which is rarely what the
//! author meant to write twice; `ring AND ring` is `2 * ring`.
//!
//! **Example**: `let r = ring` then `sample s = r AND bar AND ring` → warning at the second
//! `ring`, pointing at `r`.

use crate::ir::Dnf;
use comp_grammar::Diagnostic;

pub const CODE: &str = "W0002";
pub const NAME: &str = "duplicate-terms";

/// Warns at each repeat in the branches of `distributed` (before merging).
pub fn check(distributed: &Dnf, diags: &mut Vec<Diagnostic>) {
    for branch in &distributed.branches {
        for (i, t) in branch.terms.iter().enumerate() {
            let Some(first) = branch.terms[..i].iter().find(|u| u.cond == t.cond && u.window == t.window) else {
                continue;
            };
            let mut d = Diagnostic::warning(CODE, NAME, format!("`{}` appears twice in one conjunction", t.cond), t.span)
                .with_label("repeated here")
                .with_help(format!("the terms are merged into one with the summed weight {}", first.weight + t.weight));
            if first.span != t.span {
                d = d.with_secondary(first.span, "first here");
            }
            diags.push(d);
        }
    }
}

//! E0110: a `NOT` (or negative weight) with no positive term in its conjunction.
//!
//! ```text
//! sample s = NOT ring                 # E0110 at `NOT`
//! sample t = 0 * bar AND NOT ring     # E0110: the zero term is dropped, nothing positive stays
//! sample u = bar OR NOT ring          # E0110: the second branch is a conjunction of its own
//! sample v = bar AND NOT ring         # fine
//! ```
//!
//! Negation is only defined against positive concepts (Composable Diffusion, eq. 13–15): the
//! negation of "dark" is not "bright". Checked per branch of the canonical form, after
//! duplicates merge and zero terms drop.

use crate::ir::Dnf;
use comp_grammar::Diagnostic;

/// Reports, per branch with no positive term, its first negative term.
pub fn check_negation(dnf: &Dnf, diags: &mut Vec<Diagnostic>) {
    for branch in &dnf.branches {
        if branch.terms.iter().any(|t| t.weight > 0.0) {
            continue;
        }
        let Some(t) = branch.terms.iter().find(|t| t.weight < 0.0) else { continue };
        let Some(neg) = t.negation else { continue };
        let what = if neg.is_not { "`NOT`" } else { "negative weight" };
        diags.push(
            Diagnostic::error("E0110", format!("{what} with no positive term in its conjunction"), neg.span)
                .with_label(format!("negates `{}`, but nothing positive is composed with it", t.cond))
                .with_note("negation is only defined against positive concepts")
                .with_help(format!("add a positive term: `CONCEPT AND NOT {}`", t.cond)),
        );
    }
}

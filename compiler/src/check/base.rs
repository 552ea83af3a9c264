//! E0121: a `base` expression must be linear: no `OR`, no windows (also through lets).
//!
//! ```text
//! base 0.5 * ring OR bar       # E0121: a base is one linear combination, not a mixture
//! base ring @ [0, 0.5]         # E0121: the base applies at every step
//! ```

use crate::ir::Node;
use comp_grammar::Diagnostic;

/// Reports each `OR` and window in an (inlined) base expression.
pub fn check_base(inlined: &Node, diags: &mut Vec<Diagnostic>) {
    inlined.walk(|n| match n {
        Node::Or { span, .. } => diags.push(
            Diagnostic::error("E0121", "invalid `base`: it contains an `OR`", *span)
                .with_label("a mixture")
                .with_help("a base is a linear expression such as `0.5 * ring AND 0.5 * bar`"),
        ),
        Node::Window { span, .. } => diags.push(
            Diagnostic::error("E0121", "invalid `base`: it contains a window", *span)
                .with_label("a window")
                .with_help("the base applies at every step: remove the window"),
        ),
        _ => {}
    });
}

//! A mixture `a OR b`: E0112 for a model without energies, E0106 for a mixture weight that is
//! not > 0.
//!
//! ```text
//! model toy2d-mlp-eps
//! sample s = left_bar OR right_bar      # E0112: `OR` needs a model with energies
//! sample t = 0 : left_bar OR right_bar  # E0106: mixture weight must be > 0
//! ```

use crate::model_info::ModelInfo;
use comp_grammar::ast::Branch;
use comp_grammar::{Diagnostic, Span};

/// Reports E0112 when the model has no energies (a mixture weighs its branches by them).
pub fn check_energies(model: Option<&ModelInfo>, span: Span, diags: &mut Vec<Diagnostic>) {
    if let Some(m) = model.filter(|m| !m.energies) {
        diags.push(
            Diagnostic::error("E0112", format!("`OR` needs a model with energies; `{}` has none", m.name), span)
                .with_label("a mixture")
                .with_note("a mixture weighs its branches by their energies, per sample")
                .with_help("use a model that returns energies, or sample the branches separately"),
        );
    }
}

/// Each branch's mixture weight (1 when unwritten); `None` for one that is not a finite
/// number > 0, reported as E0106.
pub fn mixture_weights(branches: &[Branch], diags: &mut Vec<Diagnostic>) -> Vec<Option<f64>> {
    branches
        .iter()
        .map(|b| match &b.weight {
            None => Some(1.0),
            Some(n) if n.value > 0.0 && n.value.is_finite() => Some(n.value),
            Some(n) => {
                diags.push(
                    Diagnostic::error("E0106", format!("mixture weight must be > 0, found {}", n.text), n.span)
                        .with_label("not > 0")
                        .with_help("mixture weights are relative: `0.7 : a OR 0.3 : b`"),
                );
                None
            }
        })
        .collect()
}

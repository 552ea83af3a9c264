//! E0111: a text prompt for a model that takes none.
//!
//! ```text
//! model toy2d
//! sample s = "a red cube"     # E0111: `toy2d` does not take text prompts
//! ```

use crate::model_info::ModelInfo;
use comp_grammar::{Diagnostic, Span};

/// Whether a prompt at `span` is allowed; reports E0111 when the model takes no text (an
/// unknown model is E0101's to report).
pub fn check_text_model(model: Option<&ModelInfo>, span: Span, diags: &mut Vec<Diagnostic>) -> bool {
    match model {
        Some(m) if !m.text => {
            diags.push(
                Diagnostic::error("E0111", format!("`{}` does not take text prompts", m.name), span)
                    .with_label("a text prompt")
                    .with_help(format!("use one of the concepts of `{}`", m.name)),
            );
            false
        }
        _ => true,
    }
}

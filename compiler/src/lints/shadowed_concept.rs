//! W0004 `shadowed-concept`.
//!
//! **What it does**: flags a `let` named like a concept of the model (or `null`).
//!
//! **Why**: inside the file the let wins, so the concept can no longer be written by name;
//! readers will take the name for the concept.
//!
//! **Example**: `let ring = bar` with `model toy2d` → warning at `ring`.

use crate::check::lets::LetTable;
use crate::model_info::ModelInfo;
use comp_grammar::Diagnostic;

pub const CODE: &str = "W0004";
pub const NAME: &str = "shadowed-concept";

/// Warns at each let whose name is a concept of `model`.
pub fn check(lets: &LetTable, model: &ModelInfo, diags: &mut Vec<Diagnostic>) {
    for name in &lets.order {
        if name == "null" || model.concept(name).is_some() {
            diags.push(
                Diagnostic::warning(
                    CODE,
                    NAME,
                    format!("`{name}` hides the concept `{name}` of `{}`", model.name),
                    lets.defs[name].name.span,
                )
                .with_label("this let shadows a concept")
                .with_help("rename the let"),
            );
        }
    }
}

//! W0008 `unused-model`.
//!
//! **What it does**: in a file that names several models, flags a model no sample, `base` or
//! `let` takes a term from.
//!
//! **Why**: a model named but never used is loaded for nothing when the file runs, or a term
//! meant for it resolved to another model (a bare name resolves to the only model that has it).
//!
//! **Example**: `model a = toy2d`, `model b = toy2d-mlp`, `base a.null`, `sample s = a.ring`
//! → warning at `b`.

use crate::check::model::FileModel;
use crate::ir::Node;
use comp_grammar::Diagnostic;
use std::collections::BTreeSet;

pub const CODE: &str = "W0008";
pub const NAME: &str = "unused-model";

/// Warns at each model whose alias no condition in `uses` carries.
pub fn check(models: &[FileModel], uses: &[&Node], diags: &mut Vec<Diagnostic>) {
    let mut used = BTreeSet::new();
    for node in uses {
        node.walk(|n| {
            if let Node::Cond { cond, .. } = n {
                if let Some(m) = cond.model() {
                    used.insert(m.to_string());
                }
            }
        });
    }
    // An unknown model (E0101) resolves nothing: not worth a second word.
    for f in models.iter().filter(|f| f.info.is_some()) {
        if !used.contains(&f.alias) {
            diags.push(
                Diagnostic::warning(CODE, NAME, format!("model `{}` is never used", f.alias), f.alias_span)
                    .with_label("no term comes from this model")
                    .with_help(format!("remove it, or use its concepts as `{}.NAME`", f.alias)),
            );
        }
    }
}

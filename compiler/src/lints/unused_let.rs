//! W0003 `unused-let`.
//!
//! **What it does**: flags a `let` that no sample (nor any `base`) uses, directly or through
//! other lets.
//!
//! **Why**: it is dead code, or a sample meant to use it refers to something else.
//!
//! **Example**: `let stripe = bar` with `sample s = ring AND bar` → warning at `stripe`.

use crate::check::lets::{references, LetTable};
use crate::ir::Node;
use comp_grammar::Diagnostic;
use std::collections::BTreeSet;

pub const CODE: &str = "W0003";
pub const NAME: &str = "unused-let";

/// Warns at each let not reachable from `roots` (the samples' and bases' expressions).
pub fn check<'a>(lets: &LetTable, roots: impl IntoIterator<Item = &'a Node>, diags: &mut Vec<Diagnostic>) {
    let mut used = BTreeSet::new();
    let mut todo: Vec<String> = roots.into_iter().flat_map(references).map(|(n, _)| n).collect();
    while let Some(name) = todo.pop() {
        if used.insert(name.clone()) {
            if let Some(def) = lets.defs.get(&name) {
                todo.extend(references(&def.node).into_iter().map(|(n, _)| n));
            }
        }
    }
    for name in &lets.order {
        if !used.contains(name) {
            let def = &lets.defs[name];
            diags.push(
                Diagnostic::warning(CODE, NAME, format!("`{name}` is never used"), def.name.span)
                    .with_label("no sample uses this let")
                    .with_help("remove it, or use it in a sample"),
            );
        }
    }
}

//! One module per subcommand.

pub mod check;
pub mod eval;
pub mod fmt;
pub mod import;
pub mod merge;
pub mod models;
pub mod plan;
pub mod record;
pub mod run;
pub mod shard;
pub mod train;

use crate::pipeline::{Checked, SourceFile};
use crate::render;

/// Prints a file's diagnostics to stderr, rendered for people.
pub fn print_diagnostics(source: &SourceFile, checked: &Checked) {
    eprint!("{}", render::human_all(&source.name, &source.text, &checked.diagnostics, render::stderr_color()));
}

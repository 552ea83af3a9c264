//! One module per subcommand.

pub mod check;
pub mod eval;
pub mod fmt;
pub mod models;
pub mod plan;
pub mod run;
pub mod train;

use crate::pipeline::{Checked, SourceFile};
use crate::render;

/// Prints a file's diagnostics to stderr, rendered for people.
pub fn print_diagnostics(source: &SourceFile, checked: &Checked) {
    let color = render::stderr_color();
    for d in &checked.diagnostics {
        eprint!("{}", render::human(&source.name, &source.text, d, color));
    }
}

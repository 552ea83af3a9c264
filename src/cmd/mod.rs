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
use crate::Failure;
use comp_compiler::{Compiled, Overrides};

/// Prints a file's diagnostics to stderr, rendered for people.
pub fn print_diagnostics(source: &SourceFile, checked: &Checked) {
    eprint!("{}", render::human_all(&source.name, &source.text, &checked.diagnostics, render::stderr_color()));
}

/// [`print_diagnostics`], after the problems of the command line's overrides, rendered under
/// the command line they point into (a source named `<command line>`, the text
/// [`Overrides::command_line`]).
pub fn print_all_diagnostics(source: &SourceFile, checked: &Checked, overrides: &Overrides) {
    print_override_diagnostics(&checked.override_diagnostics, overrides);
    print_diagnostics(source, checked);
}

/// Prints diagnostics of `overrides` (their spans index [`Overrides::command_line`]).
pub fn print_override_diagnostics(diagnostics: &[comp_grammar::Diagnostic], overrides: &Overrides) {
    if !diagnostics.is_empty() {
        eprint!("{}", render::human_all(COMMAND_LINE, &overrides.command_line(), diagnostics, render::stderr_color()));
    }
}

/// The name the command line's diagnostics are rendered under.
pub const COMMAND_LINE: &str = "<command line>";

/// The compiled file, or how the command fails: a bad override is a usage error (exit 2, as
/// clap's own), an error in the file an input error (exit 1); either is already printed.
pub fn compiled(checked: Checked) -> Result<Compiled, Failure> {
    if checked.overrides_have_errors() {
        return Err(Failure::Usage(String::new()));
    }
    checked.compiled.ok_or(Failure::Input)
}

/// `--seed`, `--samples`, `--dtype`: settings from the command line, compiled in over the
/// file's, checked as the file's own are (`comp run`, `comp plan`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct OverrideArgs {
    /// Override the seed of every sample (as `seed N` would, over any `with seed`)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the number of samples drawn (as `samples N` would)
    #[arg(long)]
    pub samples: Option<usize>,
    /// Compute in `f16`, `bf16` or `f32` (Stable Diffusion models; default f16 on a GPU, f32
    /// on the CPU); overrides the scripts' `dtype`
    #[arg(long, value_name = "f16|bf16|f32")]
    pub dtype: Option<String>,
}

impl OverrideArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides { seed: self.seed, samples: self.samples, dtype: self.dtype.clone() }
    }
}

//! `comp-compiler`: from `.comp` text to a [`Plan`].
//!
//! [`compile_text`] is the one path from text to plans (the CLI, the REPL, editors and the lab
//! use it): parse ([`comp_grammar`]), then [`compile()`], a short chain of the [`stages`]:
//!
//! | stage | module | from → to |
//! | --- | --- | --- |
//! | choose the model | [`check::model`] | `model NAME` → [`ModelInfo`] (E0101, E0117) |
//! | read settings | [`settings`] | top-level and `with` settings → typed values; the command line's ([`overrides`]) too, checked the same way and set over every sample's |
//! | resolve names | [`resolve`] | AST expression → [`ir::Node`] (E0103, E0120; the checks of [`check`] run as nodes are made) |
//! | lets | [`check::lets`] | duplicates (E0108), cycles (E0109) |
//! | checks | [`check`] | one rule a file: E0004 (folding), E0104–E0107, E0110–E0115, E0118, E0121–E0124 |
//! | simplify | [`simplify`] | [`ir::Node`] → [`ir::Dnf`] → segments ([`ir::Stretch`]) |
//! | lints | [`lints`] | W0001–W0006 |
//! | lower | [`lower`] | segments → [`plan::SamplePlan`]; each term written → its condition and final coefficients ([`source_map`]) |
//! | format | [`fmt`] | source + tree → canonical text (`comp fmt`) |
//! | validate | [`validate`] | a plan read from JSON → every problem the compiler would have refused |
//!
//! The plan types live in `comp-plan`, shared with the runtime.
//!
//! Every problem in a file is reported in one run; the plan exists only when none is an
//! error.
//!
//! ```
//! use comp_compiler::{compile, ModelInfo, DefaultBase, Concept};
//! let concept = |n: &str| Concept { name: n.into(), description: String::new(), params: vec![] };
//! let toy = ModelInfo {
//!     name: "toy2d".into(), description: String::new(), data_shape: vec![2],
//!     concepts: vec![concept("ring"), concept("bar")], text: false, energies: true,
//!     default_scale: 1.0, default_base: DefaultBase::None, default_steps: 100, max_steps: 100,
//!     default_samples: 1000, extra_settings: vec![], image_size: None, dtypes: false, default_sampler: None,
//!     schedule: None, latent_space: None, classifier: false,
//! };
//! let program = comp_grammar::parse("model toy2d\nsample product = ring AND bar\n").unwrap();
//! let out = compile(&program, &[toy]);
//! let compiled = out.value.expect("no errors");
//! assert_eq!(compiled.simplified[0].to_string(), "product = 1 * ring AND 1 * bar");
//! ```
#![forbid(unsafe_code)]

pub mod check;
pub mod fmt;
pub mod ir;
pub mod lints;
pub mod lower;
pub mod overrides;
mod render;
pub mod resolve;
pub mod settings;
pub mod simplified;
pub mod simplify;
pub mod source_map;
pub mod stages;
mod suggest;
pub mod validate;
pub mod vocabulary;

/// The plan types live in `comp-plan` (shared with the runtime); re-exported here so that the
/// compiler's own stages and its users name them as before.
pub use comp_plan::{model_info, plan};
pub use comp_plan::{Concept, DefaultBase, ModelInfo, Param, ParamKind, Plan};
pub use fmt::format;
pub use lints::prompt_too_long::{Cut, TextLimits};
pub use overrides::Overrides;
pub use render::{model_calls, RenderHuman};
pub use simplified::SimplifiedSample;
pub use source_map::{SourceMap, TermSource};

use comp_grammar::ast::{Item, Program};
use comp_grammar::Diagnostic;

/// A stage's result: a value when there are no errors, and every diagnostic (warnings too).
#[derive(Clone, Debug)]
pub struct Outcome<T> {
    /// `None` iff some diagnostic (of the file or of the overrides) is an error.
    pub value: Option<T>,
    pub diagnostics: Vec<Diagnostic>,
    /// The diagnostics of [`Context::overrides`], whose spans index
    /// [`Overrides::command_line`] rather than the file; empty without overrides.
    pub override_diagnostics: Vec<Diagnostic>,
}

/// A compiled file: the plan, each sample's canonical form (for `--emit simplified`), and
/// where each term written went in the plan (for hover).
#[derive(Clone, Debug)]
pub struct Compiled {
    pub plan: Plan,
    pub simplified: Vec<SimplifiedSample>,
    pub source_map: SourceMap,
}

/// What compiling a text produced: the syntax tree when it parsed, the plan when nothing is
/// an error, and every diagnostic (warnings too) in source order. The tree is kept even when
/// there are errors: the formatter, the REPL and editors work on it.
#[derive(Clone, Debug)]
pub struct Checked {
    pub program: Option<comp_grammar::ast::Program>,
    pub compiled: Option<Compiled>,
    pub diagnostics: Vec<Diagnostic>,
    /// The problems of the command line's overrides ([`Context::overrides`]): spans index
    /// [`Overrides::command_line`], not the file. Empty without overrides.
    pub override_diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// What compiling a text that did not parse (or could not be read) produced.
    pub fn failed(diagnostics: Vec<Diagnostic>) -> Checked {
        Checked { program: None, compiled: None, diagnostics, override_diagnostics: vec![] }
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().chain(&self.override_diagnostics).any(Diagnostic::is_error)
    }

    /// Whether an override is in error (a usage error: the CLI exits 2).
    pub fn overrides_have_errors(&self) -> bool {
        self.override_diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The outcome without the tree: the compiled plan when there is no error.
    pub fn outcome(self) -> Outcome<Compiled> {
        Outcome { value: self.compiled, diagnostics: self.diagnostics, override_diagnostics: self.override_diagnostics }
    }
}

/// The one path from text to plans, used by the CLI, the REPL and the lab: parse, then
/// [`compile`] against `models`.
pub fn compile_text(text: &str, models: &[ModelInfo]) -> Checked {
    compile_text_in(text, models, &Context::default())
}

/// [`compile_text`], with the models' text encoders to check prompts against (W0007).
pub fn compile_text_with(text: &str, models: &[ModelInfo], limits: &dyn TextLimits) -> Checked {
    compile_text_in(text, models, &Context { source: Some(text), text_limits: Some(limits), overrides: None })
}

/// [`compile_text`] with a [`Context`] (whose `source`, when set, is `text`).
pub fn compile_text_in(text: &str, models: &[ModelInfo], ctx: &Context) -> Checked {
    let program = match comp_grammar::parse(text) {
        Ok(p) => p,
        Err(diagnostics) => return Checked::failed(diagnostics),
    };
    let outcome = compile_in(&program, models, ctx);
    let mut diagnostics = outcome.diagnostics;
    diagnostics.sort_by_key(|d| (d.span().start, d.span().end));
    Checked { program: Some(program), compiled: outcome.value, diagnostics, override_diagnostics: outcome.override_diagnostics }
}

/// Every diagnostic of compiling `program` (a convenience over [`compile`]).
pub fn check(program: &Program, models: &[ModelInfo]) -> Vec<Diagnostic> {
    compile(program, models).diagnostics
}

/// Checks `program` against the model it names among `models` and compiles it to a plan: the
/// stages of [`stages`], in order.
pub fn compile(program: &Program, models: &[ModelInfo]) -> Outcome<Compiled> {
    compile_in(program, models, &Context::default())
}

/// What compiling may use besides the program and the models' vocabularies.
#[derive(Clone, Copy, Default)]
pub struct Context<'a> {
    /// The file's text (a lint then points inside a literal rather than at all of it).
    pub source: Option<&'a str>,
    /// How the models' text encoders cut prompts (W0007 `prompt-too-long`); none: not checked.
    pub text_limits: Option<&'a dyn TextLimits>,
    /// Settings from the command line (`--seed`, `--samples`, `--dtype`), checked as the
    /// file's own and set over every sample's ([`overrides`]).
    pub overrides: Option<&'a Overrides>,
}

/// [`compile`] with a [`Context`].
pub fn compile_in(program: &Program, models: &[ModelInfo], ctx: &Context) -> Outcome<Compiled> {
    let mut diags = Vec::new();
    let mut override_diags = Vec::new();
    let mut file = stages::read_file(program, models, &mut diags);
    if let Some(overrides) = ctx.overrides {
        file.overrides = overrides.read(&file.scope(), &mut override_diags);
    }
    let lets = stages::compile_lets(program, &file, &mut diags);
    let mut samples = stages::Samples::default();
    for item in &program.items {
        if let Item::Sample(sample) = item {
            stages::compile_sample(sample, &file, &lets, &mut samples, &mut diags);
        }
    }
    stages::lint_file(&file, &lets, &samples, ctx, &mut diags);
    stages::finish(samples, diags, override_diags)
}

//! The compiler's view of one document, and the one place the server calls the compiler.
//!
//! Every feature (diagnostics, hover, navigation, formatting, quick fixes) reads the same
//! [`Analysis`], made by [`compile`], which is exactly what `comp check` runs on a file.

use crate::pipeline::Checked;
use comp_compiler::ModelInfo;
use comp_grammar::ast::Program;

/// Text → syntax tree, plan and diagnostics, as `comp check` computes them. The server's only
/// call into the compiler: keep it the only one, so a change of the compiler's entry point is
/// a change here alone.
pub fn compile(text: &str, models: &[ModelInfo]) -> Checked {
    comp_compiler::compile_text(text, models)
}

/// What the compiler made of a document's text.
pub struct Analysis {
    pub checked: Checked,
    /// The text analysed (hover on a `let` compiles a probe from it).
    pub text: String,
}

impl Analysis {
    pub fn new(text: &str, models: &[ModelInfo]) -> Analysis {
        Analysis { checked: compile(text, models), text: text.to_string() }
    }

    /// The syntax tree, when the text parses (half-typed text may not).
    pub fn program(&self) -> Option<&Program> {
        self.checked.program.as_ref()
    }
}

/// The simplified form of `let_name` (lets inlined, weights distributed, duplicates merged) as
/// the compiler computes it for a sample: the text is compiled once more with a probe sample
/// `sample PROBE = let_name` added. `None` while the file has errors.
pub fn simplified_let(text: &str, let_name: &str, models: &[ModelInfo]) -> Option<String> {
    let mut probe = String::from("__let_probe");
    while text.contains(&probe) {
        probe.push('_');
    }
    let probed = format!("{text}\nsample {probe} = {let_name}\n");
    let compiled = compile(&probed, models).compiled?;
    let sample = compiled.simplified.iter().find(|s| s.name == probe)?;
    let shown = sample.to_string();
    Some(shown.strip_prefix(&format!("{probe} = ")).unwrap_or(&shown).to_string())
}

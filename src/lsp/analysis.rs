//! The compiler's view of one document, and the one place the server calls the compiler.
//!
//! Every feature (diagnostics, hover, navigation, formatting, quick fixes) reads the same
//! [`Analysis`], made by [`compile`], which is exactly what `comp check` runs on a file.
//!
//! A file with a syntax error has no syntax tree; navigation and hover then read
//! [`Analysis::partial`]: the tree of the same text with the statements that do not parse
//! blanked out (spaces, newlines kept, so every span is the file's own).

use crate::pipeline::{Checked, MAX_SOURCE_BYTES};
use comp_compiler::ModelInfo;
use comp_grammar::ast::Program;
use comp_grammar::Span;
use std::sync::OnceLock;

/// Text → syntax tree, plan and diagnostics, as `comp check` computes them (W0007 included).
/// The server's only call into the compiler: keep it the only one, so a change of the
/// compiler's entry point is a change here alone.
pub fn compile(text: &str, models: &[ModelInfo]) -> Checked {
    crate::pipeline::check_text(text, models)
}

/// What the compiler made of a document's text.
pub struct Analysis {
    pub checked: Checked,
    /// The text analysed (hover on a `let` compiles a probe from it).
    pub text: String,
    /// Larger than `comp check` reads ([`MAX_SOURCE_BYTES`]): not checked.
    pub too_large: bool,
    partial: OnceLock<Option<Partial>>,
}

/// The syntax tree of the statements that parse, when the whole text does not.
pub struct Partial {
    pub program: Program,
    /// The byte ranges blanked out (the statements that do not parse).
    pub blanked: Vec<Span>,
}

impl Analysis {
    pub fn new(text: &str, models: &[ModelInfo]) -> Analysis {
        if text.len() as u64 > MAX_SOURCE_BYTES {
            let checked = Checked::failed(vec![]);
            return Analysis { checked, text: String::new(), too_large: true, partial: OnceLock::new() };
        }
        Analysis { checked: compile(text, models), text: text.to_string(), too_large: false, partial: OnceLock::new() }
    }

    /// The syntax tree, when the text parses (half-typed text may not).
    pub fn program(&self) -> Option<&Program> {
        self.checked.program.as_ref()
    }

    /// The syntax tree of the whole text, or else of the statements that parse: what
    /// navigation and hover read, so a half-typed line does not switch them off elsewhere.
    pub fn tree(&self) -> Option<&Program> {
        self.program().or_else(|| self.partial().map(|p| &p.program))
    }

    /// The statements that parse, when the whole text does not (computed once, when asked).
    pub fn partial(&self) -> Option<&Partial> {
        if self.program().is_some() {
            return None;
        }
        self.partial.get_or_init(|| partial(&self.text)).as_ref()
    }
}

/// Parses `text` with each line a syntax error points at blanked, again and again, until
/// what is left parses (at most a bounded number of rounds).
fn partial(text: &str) -> Option<Partial> {
    const ROUNDS: usize = 64;
    let mut bytes = text.as_bytes().to_vec();
    let mut blanked: Vec<Span> = Vec::new();
    for _ in 0..ROUNDS {
        let current = std::str::from_utf8(&bytes).ok()?;
        let errors = match comp_grammar::parse(current) {
            Ok(program) => {
                blanked.sort_by_key(|s| s.start);
                return Some(Partial { program, blanked });
            }
            Err(errors) => errors,
        };
        let mut progress = false;
        for e in &errors {
            let Some(line) = blame_line(&bytes, e.span().start as usize) else { continue };
            blank(&mut bytes, line);
            blanked.push(Span::new(line.0, line.1));
            progress = true;
        }
        if !progress {
            return None;
        }
    }
    None
}

/// The line to blank for an error at byte `at`: its own line, or, when that line is empty
/// (an error at the end of the text, after an unclosed parenthesis), the last line before it
/// with text. `None` when there is nothing left to blank.
fn blame_line(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let at = at.min(bytes.len());
    let line_of = |i: usize| {
        let start = bytes[..i].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let end = bytes[i..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |p| i + p);
        (start, end)
    };
    let has_text = |(s, e): (usize, usize)| bytes[s..e].iter().any(|b| !b.is_ascii_whitespace());
    let mut line = line_of(at);
    while !has_text(line) {
        if line.0 == 0 {
            return None;
        }
        line = line_of(line.0 - 1);
    }
    Some(line)
}

/// Replaces the bytes of `line` by spaces (a multi-byte character by as many spaces).
fn blank(bytes: &mut [u8], (start, end): (usize, usize)) {
    for b in &mut bytes[start..end] {
        if *b != b'\n' && *b != b'\r' {
            *b = b' ';
        }
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
    let compiled = comp_compiler::compile_text(&probed, models).compiled?;
    let sample = compiled.simplified.iter().find(|s| s.name == probe)?;
    let shown = sample.to_string();
    Some(shown.strip_prefix(&format!("{probe} = ")).unwrap_or(&shown).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statements_that_parse_survive_a_half_typed_line() {
        let text = "model toy2d\nlet s = bar\nsample p = (ring AND\nsample q = s AND\nsample r = s\n";
        let analysis = Analysis::new(text, &[]);
        assert!(analysis.program().is_none());
        let tree = analysis.tree().expect("a partial tree");
        let names: Vec<String> = tree
            .items
            .iter()
            .map(|i| match i {
                comp_grammar::ast::Item::Setting(s) => s.name.name.clone(),
                comp_grammar::ast::Item::Let(l) => l.name.name.clone(),
                comp_grammar::ast::Item::Sample(s) => s.name.name.clone(),
                comp_grammar::ast::Item::Model(m) => m.alias.name.clone(),
            })
            .collect();
        assert_eq!(names, vec!["model", "s", "r"]);
        // Spans are the file's own.
        let r = text.rfind("= s").unwrap() + 2;
        assert_eq!(crate::lsp::navigation::definition(tree, r).map(|s| s.start as usize), Some(text.find("s =").unwrap()));
    }

    #[test]
    fn an_unclosed_parenthesis_at_the_end_blames_its_line() {
        let text = "model toy2d\nlet s = bar\nsample p = (s AND\n\n\n";
        let analysis = Analysis::new(text, &[]);
        let partial = analysis.partial().expect("parses without the last statement");
        assert_eq!(partial.blanked.len(), 1);
        assert_eq!(&text[partial.blanked[0].range()], "sample p = (s AND");
    }
}

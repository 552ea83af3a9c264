//! Edits the server offers: a quick fix for every "did you mean" help, and formatting with the
//! formatter `comp fmt` uses.

use super::analysis::Analysis;
use super::diagnostics::{suggestion, to_lsp};
use super::document::Document;
use comp_grammar::Span;
use lsp_types::{CodeAction, CodeActionKind, CodeActionOrCommand, Range, TextEdit, Uri, WorkspaceEdit};
use std::collections::HashMap;

/// Quick fixes for the diagnostics whose primary span meets `span`: replace the misspelt name
/// by the one the help suggests.
pub fn quick_fixes(uri: &Uri, doc: &Document, analysis: &Analysis, span: Span) -> Vec<CodeActionOrCommand> {
    let meets = |s: Span| s.start <= span.end && span.start <= s.end;
    analysis
        .checked
        .diagnostics
        .iter()
        .filter(|d| meets(d.span()))
        .filter_map(|d| {
            let name = suggestion(d)?;
            let edit = TextEdit { range: doc.range(d.span()), new_text: name.to_string() };
            let was = doc.text.get(d.span().range()).unwrap_or("");
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("replace `{was}` with `{name}`"),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![to_lsp(uri, doc, d)]),
                edit: Some(WorkspaceEdit { changes: Some(HashMap::from([(uri.clone(), vec![edit])])), ..WorkspaceEdit::default() }),
                is_preferred: Some(true),
                ..CodeAction::default()
            }))
        })
        .collect()
}

/// The edits that format the document as `comp fmt` would: none when it is formatted already,
/// `None` when it does not parse (like `comp fmt`, never rewrite what could not be parsed).
pub fn format(doc: &Document, analysis: &Analysis) -> Option<Vec<TextEdit>> {
    let program = analysis.program()?;
    let formatted = comp_compiler::format(&analysis.text, program);
    if formatted == doc.text {
        return Some(vec![]);
    }
    let whole = Range { start: doc.index.position(&doc.text, 0), end: doc.index.position(&doc.text, doc.text.len()) };
    Some(vec![TextEdit { range: whole, new_text: formatted }])
}

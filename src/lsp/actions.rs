//! Edits the server offers: a quick fix for every "did you mean" help, and formatting with the
//! formatter `comp fmt` uses.

use super::analysis::Analysis;
use super::diagnostics::{suggestions, to_lsp};
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
        .flat_map(|d| {
            let names = suggestions(d);
            // One suggestion is the fix; several (one per model) are choices, none preferred.
            let preferred = names.len() == 1;
            names.into_iter().map(move |name| {
                let edit = TextEdit { range: doc.range(d.span()), new_text: name.to_string() };
                let was = doc.text.get(d.span().range()).unwrap_or("");
                CodeActionOrCommand::CodeAction(CodeAction {
                    title: format!("replace `{was}` with `{name}`"),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![to_lsp(uri, doc, d)]),
                    edit: Some(WorkspaceEdit { changes: Some(HashMap::from([(uri.clone(), vec![edit])])), ..WorkspaceEdit::default() }),
                    is_preferred: Some(preferred),
                    ..CodeAction::default()
                })
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies a quick fix's one edit to the document's text.
    fn apply(doc: &Document, action: &CodeActionOrCommand) -> String {
        let CodeActionOrCommand::CodeAction(action) = action else { panic!("a code action") };
        let edits = action.edit.as_ref().unwrap().changes.as_ref().unwrap().values().next().unwrap();
        let span = doc.index.span(&doc.text, edits[0].range);
        let mut text = doc.text.clone();
        text.replace_range(span.range(), &edits[0].new_text);
        text
    }

    /// Every "did you mean" the compiler gives, in the test corpus and for samplers, becomes a
    /// quick fix, and applying it removes that diagnostic.
    #[test]
    fn every_did_you_mean_is_a_quick_fix_that_fixes() {
        let models = comp_models::infos();
        let uri: Uri = "file:///t.comp".parse().unwrap();
        let mut texts: Vec<String> =
            ["unknown_concept", "unknown_let", "unknown_model", "unknown_named_argument", "unknown_setting", "many_errors"]
                .iter()
                .map(|f| std::fs::read_to_string(format!("{}/tests/invalid/{f}.comp", env!("CARGO_MANIFEST_DIR"))).unwrap())
                .collect();
        texts.push("model toy2d\nsampler ddmp(steps: 10)\nmcmc hcm(steps: 2)\nsample s = ring\n".into());
        let mut codes = std::collections::BTreeSet::new();
        for text in texts {
            let mut doc = Document::new(1, text.clone());
            let analysis = doc.analysis(&models);
            for d in analysis.checked.diagnostics.iter().filter(|d| d.help.as_deref().is_some_and(|h| h.starts_with("did you mean"))) {
                let fixes = quick_fixes(&uri, &doc, &analysis, d.span());
                let fix = fixes.iter().find(|f| matches!(f, CodeActionOrCommand::CodeAction(a) if a.diagnostics.as_ref().unwrap()[0].message.starts_with(&d.message)));
                let fixed = apply(&doc, fix.unwrap_or_else(|| panic!("no quick fix for {d:?}")));
                let after = Analysis::new(&fixed, &models).checked.diagnostics;
                assert!(!after.iter().any(|a| a.message == d.message), "{} still reported after the fix:\n{fixed}", d.message);
                codes.insert(d.code);
            }
        }
        assert_eq!(codes.into_iter().collect::<Vec<_>>(), vec!["E0101", "E0102", "E0103", "E0107", "E0114"]);
    }

    /// A name several models have (E0130) and a `null` that names no model (E0129): one quick
    /// fix per model, each of which resolves the name.
    #[test]
    fn a_name_of_several_models_has_a_fix_per_model() {
        let models = comp_models::infos();
        let uri: Uri = "file:///t.comp".parse().unwrap();
        for (text, code) in [
            ("model a = toy2d\nmodel b = toy2d-mlp\nbase none\nsample s = ring AND b.bar\n", "E0130"),
            ("model a = toy2d\nmodel b = toy2d-mlp\nbase none\nsample s = a.ring AND NOT 0.2 * null\n", "E0129"),
        ] {
            let mut doc = Document::new(1, text.to_string());
            let analysis = doc.analysis(&models);
            let d = analysis.checked.diagnostics.iter().find(|d| d.code == code).expect("the diagnostic").clone();
            let fixes = quick_fixes(&uri, &doc, &analysis, d.span());
            assert_eq!(fixes.len(), 2, "{fixes:?}");
            for fix in &fixes {
                let fixed = apply(&doc, fix);
                assert!(fixed.contains("a.") || fixed.contains("b."), "{fixed}");
                let after = Analysis::new(&fixed, &models).checked.diagnostics;
                assert!(!after.iter().any(|a| a.code == code), "{code} still reported after the fix:\n{fixed}");
            }
        }
    }
}

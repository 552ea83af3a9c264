//! Completion: the REPL's candidates ([`crate::repl::editor::candidates`]) for the word before
//! the cursor, in the same places (settings at the start of a line, models after `model`,
//! keywords, concepts and lets in expressions), with each item's kind, its documentation, and
//! a snippet with placeholders for a constructor's parameters: `pos(${1:x}, ${2:y})`.

use super::hover::signature;
use crate::repl::editor::{candidates, Vocabulary};
use crate::repl::session::SETTINGS;
use comp_compiler::ModelInfo;
use lsp_types::{CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, InsertTextFormat, Range, TextEdit};

/// The vocabulary of a file's text: its model (from the first `model NAME` line) and its lets.
/// Read from the lines, not the syntax tree, so completion works while the file is half-typed
/// and does not parse.
pub fn vocabulary<'a>(text: &str, models: &'a [ModelInfo]) -> (Vocabulary, Option<&'a ModelInfo>) {
    let mut model_name = None;
    let mut names = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("model"), Some(m)) if model_name.is_none() => model_name = Some(m.to_string()),
            (Some("let"), Some(n)) => {
                let name: String = n.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
                if !name.is_empty() {
                    names.push(name);
                }
            }
            _ => {}
        }
    }
    let model = model_name.and_then(|n| models.iter().find(|m| m.name == n));
    let vocabulary = Vocabulary {
        concepts: model.map(|m| m.concepts.iter().map(|c| c.name.clone()).collect()).unwrap_or_default(),
        names,
        models: models.iter().map(|m| m.name.clone()).collect(),
        settings: model.map(|m| m.extra_settings.iter().map(|p| p.name.clone()).collect()).unwrap_or_default(),
    };
    (vocabulary, model)
}

/// The completions at byte `offset` of `text`; `range_of(start, end)` turns a byte range into
/// an LSP range (the word being replaced).
pub fn complete(text: &str, offset: usize, models: &[ModelInfo], range_of: impl Fn(usize, usize) -> Range) -> Vec<CompletionItem> {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..offset];
    if in_comment_or_string(line) {
        return vec![];
    }
    if let Some(items) = super::qualified::complete(text, line, line_start, models, true, &range_of) {
        return items;
    }
    let (vocabulary, model) = vocabulary(text, models);
    let (start, words) = candidates(line, line.len(), &vocabulary);
    let range = range_of(line_start + start, offset);
    let after_model = line.trim_start().starts_with("model ");
    words
        .into_iter()
        .map(|word| {
            let concept = model.and_then(|m| m.concept(&word));
            let (kind, detail, doc) = if let Some(c) = concept {
                let kind = if c.params.is_empty() { CompletionItemKind::CONSTANT } else { CompletionItemKind::FUNCTION };
                (kind, format!("concept: {}", signature(c)), Some(c.description.clone()))
            } else if vocabulary.names.contains(&word) {
                (CompletionItemKind::VARIABLE, "let".to_string(), None)
            } else if after_model && vocabulary.models.contains(&word) {
                let m = models.iter().find(|m| m.name == word);
                (CompletionItemKind::MODULE, "model".to_string(), m.map(|m| m.description.clone()))
            } else if SETTINGS.contains(&word.as_str()) || vocabulary.settings.contains(&word) {
                (CompletionItemKind::PROPERTY, "setting".to_string(), None)
            } else {
                (CompletionItemKind::KEYWORD, "keyword".to_string(), None)
            };
            let (new_text, format) = match concept.filter(|c| !c.params.is_empty()) {
                Some(c) => {
                    let params: Vec<String> = c.params.iter().enumerate().map(|(i, p)| format!("${{{}:{}}}", i + 1, p.name)).collect();
                    (format!("{}({})", c.name, params.join(", ")), InsertTextFormat::SNIPPET)
                }
                None => (word.clone(), InsertTextFormat::PLAIN_TEXT),
            };
            CompletionItem {
                label: word,
                kind: Some(kind),
                detail: Some(detail),
                documentation: doc.filter(|d| !d.is_empty()).map(Documentation::String),
                insert_text_format: Some(format),
                text_edit: Some(CompletionTextEdit::Edit(TextEdit { range, new_text })),
                ..CompletionItem::default()
            }
        })
        .collect()
}

/// Whether the end of `line` is inside a `# comment` or a `"string"` (no completion there).
fn in_comment_or_string(line: &str) -> bool {
    let (mut in_string, mut escaped) = (false, false);
    for c in line.chars() {
        match (in_string, c) {
            (true, _) if escaped => escaped = false,
            (true, '\\') => escaped = true,
            (_, '"') => in_string = !in_string,
            (false, '#') => return true,
            _ => {}
        }
    }
    in_string
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_completed_in_comments_and_strings() {
        assert!(in_comment_or_string("sample s = ring  # ri"));
        assert!(in_comment_or_string("sample s = \"a \\\" ri"));
        assert!(!in_comment_or_string("sample s = \"a # b\" AND ri"));
        assert!(!in_comment_or_string("sample s = ri"));
    }
}

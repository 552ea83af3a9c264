//! Completion: the REPL's candidates ([`crate::repl::editor::candidates`]) for the word before
//! the cursor, in the same places (settings at the start of a line, models after `model`,
//! keywords, concepts and lets in expressions), with each item's kind, its documentation, and
//! a snippet with placeholders for a constructor's parameters: `pos(${1:x}, ${2:y})`.

use super::hover::signature;
use crate::repl::editor::{candidates, Vocabulary};
use comp_compiler::vocabulary::{Applies, DTYPES, MCMC, SAMPLERS};
use comp_compiler::ModelInfo;
use lsp_types::{CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, InsertTextFormat, Range, TextEdit};

/// The vocabulary of a file's text: its model (from the first `model` line; `model a = NAME`
/// names `NAME`) and its lets; with several models, every model's concepts (a bare name resolves
/// when one model has it; `a.` completes `a`'s own, see [`super::qualified`]). Read from the
/// lines, not the syntax tree, so completion works while the file is half-typed.
pub fn vocabulary<'a>(text: &str, models: &'a [ModelInfo]) -> (Vocabulary, Option<&'a ModelInfo>) {
    let all = super::qualified::aliases(text, models);
    let mut names = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if let (Some("let"), Some(n)) = (words.next(), words.next()) {
            let name: String = n.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
            if !name.is_empty() {
                names.push(name);
            }
        }
    }
    let model = all.first().map(|(_, m)| *m);
    let mut concepts: Vec<String> = Vec::new();
    for (_, m) in &all {
        for c in &m.concepts {
            if !concepts.contains(&c.name) {
                concepts.push(c.name.clone());
            }
        }
    }
    let vocabulary = Vocabulary {
        concepts,
        names,
        models: models.iter().map(|m| m.name.clone()).collect(),
        settings: model.map(|m| m.extra_settings.iter().map(|p| p.name.clone()).collect()).unwrap_or_default(),
    };
    (vocabulary, model)
}

/// What may be written where the cursor is.
#[derive(Debug, PartialEq)]
enum Place {
    /// The start of a statement: settings, `let`, `sample`.
    Statement,
    /// The value of a setting (`model`, `sampler`, `mcmc`, `dtype`, `size`).
    Value(String),
    /// Where an expression's operand goes (after `=`, `AND`, `(`...): concepts, lets, `null`, `NOT`.
    Operand,
    /// After an operand: `AND`, `OR`, and `with` in a sample.
    Operator { sample: bool },
    /// After `with` or a comma in a `with` list: the settings a sample may override.
    Override,
    /// Nothing to offer (a name being defined, a number).
    Nothing,
}

/// The byte offset where the statement holding `offset` starts: the start of the last line
/// that began outside parentheses.
fn statement_start(text: &str, offset: usize) -> usize {
    let (mut depth, mut start, mut in_string, mut escaped, mut comment) = (0i32, 0, false, false, false);
    for (i, c) in text[..offset].char_indices() {
        match c {
            '\n' => {
                comment = false;
                in_string = false; // a string ends at the line's end
                if depth <= 0 {
                    depth = 0;
                    start = i + 1;
                }
            }
            _ if comment => {}
            _ if in_string && escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            _ if in_string => {}
            '#' => comment = true,
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
    }
    start
}

/// The tokens of `text` (a statement up to the word being completed): words and numbers, one
/// `"` per string, and other characters one each; comments dropped.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' | '\n' => break,
                        _ => {}
                    }
                }
                out.push("\"".to_string());
            }
            c if c.is_whitespace() => {}
            c if c.is_alphanumeric() || c == '_' || c == '.' => {
                let mut word = c.to_string();
                while let Some(&d) = chars.peek() {
                    if !(d.is_alphanumeric() || d == '_' || d == '-' || d == '.') {
                        break;
                    }
                    word.push(d);
                    chars.next();
                }
                out.push(word);
            }
            c => out.push(c.to_string()),
        }
    }
    out
}

/// Where the cursor is, from the statement's tokens before the word being completed.
fn place(tokens: &[String], settings: &[&str]) -> Place {
    let Some(head) = tokens.first() else { return Place::Statement };
    let is_setting = settings.contains(&head.as_str());
    let expression_from = match head.as_str() {
        "let" | "sample" => match tokens.iter().position(|t| t == "=") {
            Some(i) => i + 1,
            None => return Place::Nothing,
        },
        "base" => 1,
        _ if is_setting => {
            return match tokens.len() {
                1 => Place::Value(head.clone()),
                _ => Place::Nothing,
            };
        }
        _ => return Place::Operand, // a typo'd statement: offer what an expression may hold
    };
    let expression = &tokens[expression_from..];
    let sample = head == "sample";
    // A `with` list, outside parentheses.
    let mut depth = 0;
    let mut with_at = None;
    for (i, t) in expression.iter().enumerate() {
        match t.as_str() {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            "with" if depth == 0 && sample => with_at = Some(i),
            _ => {}
        }
    }
    if let Some(w) = with_at {
        let list = &expression[w + 1..];
        let part_start = list.iter().rposition(|t| t == ",").map_or(0, |i| i + 1);
        let part = &list[part_start..];
        return match part {
            [] => Place::Override,
            [name] if name == "base" => Place::Operand,
            [name] => Place::Value(name.clone()),
            [first, ..] if first == "base" => place(part, settings),
            _ => Place::Nothing,
        };
    }
    match expression.last().map(String::as_str) {
        None | Some("=" | "AND" | "OR" | "NOT" | "(" | "*" | ",") => Place::Operand,
        Some(")" | "\"") => Place::Operator { sample },
        Some("]" | "@" | "[" | "-" | "+") => Place::Nothing,
        Some(t) if t.starts_with(|c: char| c.is_ascii_digit() || c == '.') => Place::Nothing,
        Some(_) => Place::Operator { sample },
    }
}

/// The completions at byte `offset` of `text`; `range_of(start, end)` turns a byte range into
/// an LSP range (the word being replaced). Constructors are snippets (`pos(${1:x}, ${2:y})`)
/// when `snippets` (the client said it inserts them), else plain names.
pub fn complete(
    text: &str,
    offset: usize,
    models: &[ModelInfo],
    snippets: bool,
    range_of: impl Fn(usize, usize) -> Range,
) -> Vec<CompletionItem> {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..offset];
    if in_comment_or_string(line) {
        return vec![];
    }
    if let Some(items) = super::qualified::complete(text, line, line_start, models, snippets, &range_of) {
        return items;
    }
    let (vocabulary, model) = vocabulary(text, models);
    let word_start = line_start + candidates(line, line.len(), &vocabulary).0;
    let word = &text[word_start..offset];
    let range = range_of(word_start, offset);
    // The settings every model has (the compiler's list); `size` and `dtype` only for models
    // that have them.
    let mut settings: Vec<&str> = comp_compiler::vocabulary::SETTINGS
        .iter()
        .filter(|s| s.applies == Applies::Always || model.is_some_and(|m| comp_compiler::vocabulary::applies(s, Some(m))))
        .map(|s| s.name)
        .collect();
    settings.extend(vocabulary.settings.iter().map(String::as_str));
    let stmt_start = statement_start(text, word_start);
    let place = place(&tokens(&text[stmt_start..word_start]), &settings);

    let keyword = |w: &str, detail: &str| Item {
        word: w.to_string(),
        kind: CompletionItemKind::KEYWORD,
        detail: detail.to_string(),
        doc: None,
        snippet: None,
    };
    let mut items: Vec<Item> = Vec::new();
    let operands = |items: &mut Vec<Item>| {
        if let Some(m) = model {
            for c in &m.concepts {
                let kind = if c.params.is_empty() { CompletionItemKind::CONSTANT } else { CompletionItemKind::FUNCTION };
                let snippet = (!c.params.is_empty()).then(|| {
                    let params: Vec<String> = c.params.iter().enumerate().map(|(i, p)| format!("${{{}:{}}}", i + 1, p.name)).collect();
                    format!("{}({})", c.name, params.join(", "))
                });
                items.push(Item {
                    word: c.name.clone(),
                    kind,
                    detail: format!("concept: {}", signature(c)),
                    doc: Some(c.description.clone()),
                    snippet,
                });
            }
        }
        for n in &vocabulary.names {
            items.push(Item { word: n.clone(), kind: CompletionItemKind::VARIABLE, detail: "let".into(), doc: None, snippet: None });
        }
        items.push(keyword("null", "the unconditional prediction"));
        items.push(keyword("NOT", "negation: flips the term's sign"));
    };
    let setting_items = |items: &mut Vec<Item>, names: &[&str]| {
        for n in names {
            items.push(Item {
                word: n.to_string(),
                kind: CompletionItemKind::PROPERTY,
                detail: "setting".into(),
                doc: None,
                snippet: None,
            });
        }
    };
    let value_items = |items: &mut Vec<Item>, list: &[(&str, &str)], detail: &str| {
        for (w, doc) in list {
            items.push(Item {
                word: w.to_string(),
                kind: CompletionItemKind::ENUM_MEMBER,
                detail: detail.to_string(),
                doc: Some(doc.to_string()),
                snippet: None,
            });
        }
    };
    match &place {
        Place::Statement => {
            setting_items(&mut items, &settings);
            items.push(keyword("let", "let NAME = EXPR"));
            items.push(keyword("sample", "sample NAME = EXPR"));
        }
        Place::Value(setting) => match setting.as_str() {
            "model" => {
                for m in models {
                    items.push(Item {
                        word: m.name.clone(),
                        kind: CompletionItemKind::MODULE,
                        detail: "model".into(),
                        doc: Some(m.description.clone()),
                        snippet: None,
                    });
                }
            }
            "sampler" => value_items(&mut items, &SAMPLERS, "sampler"),
            "mcmc" => value_items(&mut items, &MCMC, "MCMC"),
            "dtype" if settings.contains(&"dtype") => value_items(&mut items, &DTYPES, "dtype"),
            "size" => {
                if let Some(s) = model.and_then(|m| m.image_size.as_ref()) {
                    let size = format!("{}x{}", s.default[0], s.default[1]);
                    items.push(Item {
                        word: size,
                        kind: CompletionItemKind::VALUE,
                        detail: "the model's default size".into(),
                        doc: None,
                        snippet: None,
                    });
                }
            }
            "base" => operands(&mut items),
            _ => {}
        },
        Place::Operand => operands(&mut items),
        Place::Operator { sample } => {
            items.push(keyword("AND", "conjunction"));
            items.push(keyword("OR", "mixture"));
            if *sample {
                items.push(keyword("with", "settings for this sample only"));
            }
        }
        Place::Override => setting_items(&mut items, &settings.iter().copied().filter(|s| *s != "model").collect::<Vec<_>>()),
        Place::Nothing => {}
    }
    items.retain(|i| i.word.starts_with(word) && i.word != word);
    items.sort_by(|a, b| a.word.cmp(&b.word));
    items.dedup_by(|a, b| a.word == b.word);
    items
        .into_iter()
        .map(|i| {
            let (new_text, format) = match i.snippet.filter(|_| snippets) {
                Some(s) => (s, InsertTextFormat::SNIPPET),
                None => (i.word.clone(), InsertTextFormat::PLAIN_TEXT),
            };
            CompletionItem {
                label: i.word,
                kind: Some(i.kind),
                detail: Some(i.detail),
                documentation: i.doc.filter(|d| !d.is_empty()).map(Documentation::String),
                insert_text_format: Some(format),
                text_edit: Some(CompletionTextEdit::Edit(TextEdit { range, new_text })),
                ..CompletionItem::default()
            }
        })
        .collect()
}

/// One completion before it becomes an LSP item.
struct Item {
    word: String,
    kind: CompletionItemKind,
    detail: String,
    doc: Option<String>,
    /// The text to insert as a snippet, when the client takes snippets.
    snippet: Option<String>,
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

    fn at(text: &str) -> Place {
        let settings = ["model", "sampler", "mcmc", "base", "scale", "seed", "samples", "size"];
        place(&tokens(&text[statement_start(text, text.len())..]), &settings)
    }

    #[test]
    fn the_place_decides_what_is_offered() {
        assert_eq!(at("model toy2d\n"), Place::Statement);
        assert_eq!(at("model "), Place::Value("model".into()));
        assert_eq!(at("sampler "), Place::Value("sampler".into()));
        assert_eq!(at("mcmc "), Place::Value("mcmc".into()));
        assert_eq!(at("sampler ddpm(steps: "), Place::Nothing);
        assert_eq!(at("let "), Place::Nothing);
        assert_eq!(at("sample s = "), Place::Operand);
        assert_eq!(at("sample s = ring AND "), Place::Operand);
        assert_eq!(at("sample s = ring "), Place::Operator { sample: true });
        assert_eq!(at("let s = (ring # a comment (\n  AND "), Place::Operand);
        assert_eq!(at("let s = (ring\n  "), Place::Operator { sample: false });
        assert_eq!(at("sample s = ring with "), Place::Override);
        assert_eq!(at("sample s = ring with scale 2, sampler "), Place::Value("sampler".into()));
        assert_eq!(at("sample s = ring with base "), Place::Operand);
        assert_eq!(at("sample s = 0.5 "), Place::Nothing);
        assert_eq!(at("base "), Place::Operand);
        assert_eq!(at("base ring AND "), Place::Operand);
        assert_eq!(at("sample s = \"a # b\" "), Place::Operator { sample: true });
    }
}

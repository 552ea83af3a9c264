//! Terms of a named model (`model exact = toy2d` … `exact.ring`) in the editor: completion
//! after `ALIAS.` offers that model's concepts and `null`. Read from the lines, not the syntax
//! tree, so it works while the file is half-typed.

use super::hover::signature;
use comp_compiler::ModelInfo;
use lsp_types::{CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, InsertTextFormat, Range, TextEdit};

/// The file's models by the name scripts use for them: `model a = NAME` is `a`, `model NAME`
/// is `NAME`.
pub fn aliases<'a>(text: &str, models: &'a [ModelInfo]) -> Vec<(String, &'a ModelInfo)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split('#').next().unwrap_or("");
        let words: Vec<&str> = code.split_whitespace().collect();
        let (alias, name) = match words.as_slice() {
            ["model", alias, "=", name] => (*alias, *name),
            ["model", name] => (*name, *name),
            _ => continue,
        };
        if let Some(m) = models.iter().find(|m| m.name == name) {
            out.push((alias.to_string(), m));
        }
    }
    out
}

/// When `line` (up to the cursor) ends with `ALIAS.` and part of a name: the alias and the
/// byte where the partial name starts.
pub fn qualifier(line: &str) -> Option<(&str, usize)> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let start = line.trim_end_matches(is_name).len();
    let before = line[..start].strip_suffix('.')?;
    let alias_start = before.trim_end_matches(is_name).len();
    let alias = &before[alias_start..];
    alias.chars().next().filter(|c| c.is_ascii_alphabetic() || *c == '_')?;
    Some((alias, start))
}

/// The completions after `ALIAS.` at the end of `line` (which starts at byte `line_start` of
/// `text`): the concepts of the model named `ALIAS`, and `null`. `None` when the cursor is not
/// after a model's name and a dot; `snippets`: whether the client takes snippets.
pub fn complete(
    text: &str,
    line: &str,
    line_start: usize,
    models: &[ModelInfo],
    snippets: bool,
    range_of: &dyn Fn(usize, usize) -> Range,
) -> Option<Vec<CompletionItem>> {
    let (alias, start) = qualifier(line)?;
    let all = aliases(text, models);
    let (_, model) = all.iter().find(|(a, _)| a == alias)?;
    let partial = &line[start..];
    let range = range_of(line_start + start, line_start + line.len());
    let mut items: Vec<CompletionItem> = model
        .concepts
        .iter()
        .filter(|c| c.name.starts_with(partial))
        .map(|c| {
            let (new_text, format) = if c.params.is_empty() || !snippets {
                (c.name.clone(), InsertTextFormat::PLAIN_TEXT)
            } else {
                let params: Vec<String> = c.params.iter().enumerate().map(|(i, p)| format!("${{{}:{}}}", i + 1, p.name)).collect();
                (format!("{}({})", c.name, params.join(", ")), InsertTextFormat::SNIPPET)
            };
            CompletionItem {
                label: c.name.clone(),
                kind: Some(if c.params.is_empty() { CompletionItemKind::CONSTANT } else { CompletionItemKind::FUNCTION }),
                detail: Some(format!("concept of `{alias}` ({}): {}", model.name, signature(c))),
                documentation: Some(c.description.clone()).filter(|d| !d.is_empty()).map(Documentation::String),
                insert_text_format: Some(format),
                text_edit: Some(CompletionTextEdit::Edit(TextEdit { range, new_text })),
                ..CompletionItem::default()
            }
        })
        .collect();
    if "null".starts_with(partial) {
        items.push(CompletionItem {
            label: "null".into(),
            kind: Some(CompletionItemKind::CONSTANT),
            detail: Some(format!("the unconditional prediction of `{alias}` ({})", model.name)),
            insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit { range, new_text: "null".into() })),
            ..CompletionItem::default()
        });
    }
    Some(items)
}

/// The model a term of the file belongs to, as the compiler resolves it: with one model, that
/// model (and no alias); with several, the model named before the term's dot, or the only model
/// that has the bare name. `expr` is the term (a name, call or text) as the cursor found it.
pub fn owner<'a>(
    program: &comp_grammar::ast::Program,
    models: &'a [ModelInfo],
    expr: &comp_grammar::ast::Expr,
) -> Option<(Option<String>, &'a ModelInfo)> {
    use comp_grammar::ast::ExprKind;
    let file = comp_compiler::check::model::find_models(program, models, &mut Vec::new());
    if file.len() <= 1 {
        return Some((None, file.first()?.info?));
    }
    let mut alias = None;
    for root in super::syntax::expressions(program) {
        super::syntax::walk(root, &mut |e| {
            if let ExprKind::Qualified { model, expr: inner } = &e.kind {
                if inner.span == expr.span {
                    alias = Some(model.name.clone());
                }
            }
        });
    }
    let name = match &expr.kind {
        ExprKind::Name(id) | ExprKind::Call { name: id, .. } => Some(id.name.as_str()),
        _ => None,
    };
    let f = match alias {
        Some(a) => file.iter().find(|f| f.alias == a)?,
        None => {
            let mut have = file.iter().filter(|f| match (f.info, name) {
                (Some(m), Some(n)) => m.concept(n).is_some(),
                (Some(m), None) => m.text,
                _ => false,
            });
            let only = have.next()?;
            if have.next().is_some() {
                return None;
            }
            only
        }
    };
    Some((Some(f.alias.clone()), f.info?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alias_and_the_partial_name_before_the_cursor() {
        assert_eq!(qualifier("sample s = exact.ri"), Some(("exact", 17)));
        assert_eq!(qualifier("sample s = a."), Some(("a", 13)));
        assert_eq!(qualifier("sample s = ring"), None);
        assert_eq!(qualifier("scale 0."), None, "a number is not a model's name");
    }

    #[test]
    fn after_alias_dot_the_models_own_concepts_and_null() {
        let models = comp_models::infos();
        let text = "model exact = toy2d\nmodel scenes = clevr-pos\nsample s = scenes.p";
        let line = "sample s = scenes.p";
        let range = |_: usize, _: usize| Range::default();
        let items = complete(text, line, text.len() - line.len(), &models, true, &range).expect("after `scenes.`");
        let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
        assert_eq!(labels, ["pos"]);
        let Some(CompletionTextEdit::Edit(edit)) = &items[0].text_edit else { panic!() };
        assert_eq!(edit.new_text, "pos(${1:x}, ${2:y})");
        let line = "sample s = exact.";
        let text = format!("model exact = toy2d\nmodel scenes = clevr-pos\n{line}");
        let items = complete(&text, line, text.len() - line.len(), &models, false, &range).unwrap();
        let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
        assert_eq!(labels, ["ring", "bar", "left_bar", "right_bar", "box_large", "box_small", "null"]);
        assert!(complete(&text, "sample s = nobody.", 0, &models, false, &range).is_none(), "an unknown alias completes nothing");
    }
}

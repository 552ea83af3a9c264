//! W0007: a prompt longer than the text encoder reads. CLIP reads 77 tokens, start and end
//! included; every SD pipeline cuts the rest silently. The tokenizer is the checkpoint's own
//! when its folder is found, else CLIP's, shipped in comp-models ([`comp_models::tokenizer`]):
//! `comp check`, the REPL and `comp lsp` all report it through [`crate::pipeline::check_text`],
//! for prompts of a `model NAME` file and of a model named by an alias (`model sd = sd15`).

use comp_grammar::ast::{Expr, ExprKind, Item, Program, SettingValue};
use comp_grammar::{Diagnostic, Span};

/// Every text literal of `program`, with its span (quotes included) and the alias it is
/// qualified with (`sd."a cabin"`), if any.
fn literals(program: &Program) -> Vec<(&str, Span, Option<&str>)> {
    fn walk<'a>(e: &'a Expr, owner: Option<&'a str>, out: &mut Vec<(&'a str, Span, Option<&'a str>)>) {
        match &e.kind {
            ExprKind::Text(t) => out.push((t, e.span, owner)),
            ExprKind::Or(bs) => bs.iter().for_each(|b| walk(&b.expr, owner, out)),
            ExprKind::And(xs) => xs.iter().for_each(|x| walk(x, owner, out)),
            ExprKind::Not(x) | ExprKind::Paren(x) | ExprKind::Weight { expr: x, .. } | ExprKind::Window { expr: x, .. } => {
                walk(x, owner, out)
            }
            ExprKind::Qualified { model, expr } => walk(expr, Some(&model.name), out),
            ExprKind::Name(_) | ExprKind::Call { .. } => {}
        }
    }
    let mut out = Vec::new();
    fn setting(s: &comp_grammar::ast::Setting) -> Option<&Expr> {
        match &s.value {
            SettingValue::Expr(e) if s.name.name == "base" => Some(e),
            _ => None,
        }
    }
    for item in &program.items {
        match item {
            Item::Setting(s) => setting(s).into_iter().for_each(|e| walk(e, None, &mut out)),
            Item::Let(l) => walk(&l.expr, None, &mut out),
            Item::Sample(s) => {
                walk(&s.expr, None, &mut out);
                s.overrides.iter().filter_map(setting).for_each(|e| walk(e, None, &mut out));
            }
            Item::Model(_) => {}
        }
    }
    out
}

/// The models a program names: `model NAME` under its own name, `model ALIAS = NAME` under
/// its alias.
fn models(program: &Program) -> Vec<(&str, &str)> {
    program
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Setting(s) if s.name.name == "model" => match &s.value {
                SettingValue::Expr(Expr { kind: ExprKind::Name(id), .. }) => Some((id.name.as_str(), id.name.as_str())),
                _ => None,
            },
            Item::Model(m) => Some((m.alias.name.as_str(), m.model.name.as_str())),
            _ => None,
        })
        .collect()
}

/// The source offset of byte `decoded` of a literal's value, for the literal written at `span`
/// in `source` (escapes take two source bytes for one decoded byte).
fn source_offset(source: &str, span: Span, decoded: usize) -> usize {
    let raw = &source[span.range()];
    let (mut i, mut d) = (1, 0); // after the opening quote
    let bytes = raw.as_bytes();
    while d < decoded && i < bytes.len() - 1 {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
        d += 1;
    }
    span.start as usize + i
}

/// Without Stable Diffusion (`--no-default-features`) no model takes text.
#[cfg(not(feature = "sd"))]
pub fn warnings(_source: &str, _program: &Program) -> Vec<Diagnostic> {
    Vec::new()
}

/// W0007 for each prompt of `program` that its model's tokenizer cuts.
#[cfg(feature = "sd")]
pub fn warnings(source: &str, program: &Program) -> Vec<Diagnostic> {
    let models = models(program);
    // A literal's model: the one its alias names, else the file's only model that reads text
    // (as the checker resolves an unqualified prompt).
    let readers: Vec<&str> = models.iter().map(|&(_, name)| name).filter(|n| comp_models::tokenizer(n).is_some()).collect();
    let mut out = Vec::new();
    for (text, span, owner) in literals(program) {
        let name = match owner {
            Some(alias) => models.iter().find(|(a, _)| *a == alias).map(|&(_, name)| name),
            None if readers.len() == 1 => Some(readers[0]),
            None => None,
        };
        let Some(tokenizer) = name.and_then(comp_models::tokenizer) else { continue };
        let Ok(tokens) = tokenizer.encode(text) else { continue };
        let Some(cut) = tokens.cut_at else { continue };
        let from = source_offset(source, span, cut);
        let to = (span.end as usize).saturating_sub(1).max(from);
        let room = tokenizer.max_len - 2;
        out.push(
            Diagnostic::warning(
                "W0007",
                "prompt-too-long",
                format!("this prompt has {} tokens; the text encoder reads {room}", tokens.count),
                Span::new(from, to),
            )
            .with_label("cut: the model never sees this part")
            .with_help("shorten the prompt, or split it into terms joined by `AND` (each term is encoded on its own)"),
        );
    }
    out
}

#[cfg(all(test, feature = "sd"))]
mod tests {
    /// W0007 without weights on disk: the shipped CLIP tokenizer counts the tokens (a
    /// `COMP_MODELS` that holds nothing hides any checkpoint the machine may have).
    #[test]
    fn a_long_prompt_is_warned_about_without_weights() {
        let prompt = ["a red cube on a blue table"; 14].join(" "); // 98 tokens
        let text = format!("model sd15\nsample s = \"{prompt}\"\n");
        let checked = crate::pipeline::check_text(&text, &comp_models::infos());
        let w: Vec<_> = checked.diagnostics.iter().filter(|d| d.code == "W0007").collect();
        assert_eq!(w.len(), 1, "{:?}", checked.diagnostics);
        assert_eq!(w[0].message, "this prompt has 98 tokens; the text encoder reads 75");
        // The cut starts at the 76th token: `blue` of the 11th repeat (7 tokens each).
        let cut = &text[w[0].span().range()];
        assert!(cut.starts_with("blue table a red cube"), "{cut}");
    }

    /// The same prompt in a file that names its model by an alias, qualified and bare (the only
    /// model that reads text): each is warned about; a short one is not.
    #[test]
    fn a_long_prompt_is_warned_about_under_a_model_alias() {
        let prompt = ["a red cube on a blue table"; 14].join(" ");
        let text = format!("model sd = sd15\nmodel d = toy2d\nsample a = sd.\"{prompt}\"\nsample b = \"{prompt}\" AND \"a cabin\"\n");
        let checked = crate::pipeline::check_text(&text, &comp_models::infos());
        let w: Vec<_> = checked.diagnostics.iter().filter(|d| d.code == "W0007").collect();
        assert_eq!(w.len(), 2, "{:?}", checked.diagnostics);
        assert!(w.iter().all(|d| text[d.span().range()].starts_with("blue table a red cube")));
    }
}

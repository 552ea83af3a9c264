//! Choosing the model: the file's `model NAME` among the models handed in.
//!
//! ```text
//! model toy3d     # E0101: unknown model `toy3d`; help: did you mean `toy2d`?
//! ```
//!
//! Reports E0101 (unknown model, with did-you-mean and the list of models) and E0117 (no
//! `model` statement). A second `model` statement is E0116, reported with the other settings.

use crate::model_info::ModelInfo;
use crate::suggest::did_you_mean;
use comp_grammar::ast::{ExprKind, Item, Program, SettingValue};
use comp_grammar::{Diagnostic, Span};

fn available(models: &[ModelInfo]) -> String {
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    if names.is_empty() {
        "no models are available".into()
    } else {
        format!("available models: {}", names.join(", "))
    }
}

/// The model the file names, or `None` after reporting why there is none.
pub fn find_model<'a>(program: &Program, models: &'a [ModelInfo], diags: &mut Vec<Diagnostic>) -> Option<&'a ModelInfo> {
    let Some(setting) = program.items.iter().find_map(|i| match i {
        Item::Setting(s) if s.name.name == "model" => Some(s),
        _ => None,
    }) else {
        diags.push(
            Diagnostic::error("E0117", "no `model` statement", Span::new(0, 0))
                .with_label("the file must say which model it uses")
                .with_help(format!("add `model NAME` at the top; {}", available(models))),
        );
        return None;
    };
    let (name, span) = match &setting.value {
        SettingValue::Expr(e) => match &e.kind {
            ExprKind::Name(id) => (id.name.as_str(), id.span),
            _ => ("", e.span),
        },
        SettingValue::Number(n) => (n.text.as_str(), n.span),
        SettingValue::Dimensions(d) => (d.text.as_str(), d.span),
    };
    if let Some(m) = models.iter().find(|m| m.name == name) {
        return Some(m);
    }
    let mut d = Diagnostic::error("E0101", format!("unknown model `{name}`"), span)
        .with_label("no such model")
        .with_note(available(models));
    d.help = did_you_mean(name, models.iter().map(|m| m.name.as_str()));
    diags.push(d);
    None
}

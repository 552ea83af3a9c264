//! Choosing the models: the file's `model NAME` and `model ALIAS = NAME` statements among the
//! models handed in.
//!
//! ```text
//! model toy3d                 # E0101: unknown model `toy3d`; help: did you mean `toy2d`?
//! model a = toy2d
//! model a = toy2d-mlp         # E0125: the name `a` is given to two models
//! model ring = toy2d          # E0126: `ring` is a concept of `toy2d`: `ring.ring` would confuse
//! model c = clevr-pos         # E0127: `c` samples [3, 32, 32], `a` samples [2]
//! ```
//!
//! Reports E0101 (unknown model, with did-you-mean and the list of models), E0117 (no `model`
//! statement), E0125–E0128. A second unnamed `model` statement is E0116, reported with the
//! other settings. `model NAME` is `model NAME = NAME`: its terms may be written `NAME.ring`.
//!
//! The first model written is the file's *primary* model: its defaults (scale, sampler, steps,
//! samples) and model-specific settings (`size`, `dtype`, …) are the file's, and it decodes the
//! samples. Models composed together must sample the same shape on the same noise schedule,
//! so that one x and one timestep serve every model's call.

use crate::model_info::ModelInfo;
use crate::suggest::did_you_mean;
use comp_grammar::ast::{ExprKind, Item, Program, SettingValue};
use comp_grammar::{Diagnostic, Span};

/// One `model` statement of the file.
#[derive(Clone, Debug)]
pub struct FileModel<'a> {
    /// The script's name for the model (`exact`; the model's own name when it has none).
    pub alias: String,
    /// Where the alias is written (the model's name for `model NAME`).
    pub alias_span: Span,
    /// The model; `None` when it is unknown (E0101 said so).
    pub info: Option<&'a ModelInfo>,
    /// Whether the statement names it (`model a = toy2d`) rather than `model toy2d`.
    pub named: bool,
}

fn available(models: &[ModelInfo]) -> String {
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    if names.is_empty() {
        "no models are available".into()
    } else {
        format!("available models: {}", names.join(", "))
    }
}

fn lookup<'a>(name: &str, span: Span, models: &'a [ModelInfo], diags: &mut Vec<Diagnostic>) -> Option<&'a ModelInfo> {
    if let Some(m) = models.iter().find(|m| m.name == name) {
        return Some(m);
    }
    let mut d =
        Diagnostic::error("E0101", format!("unknown model `{name}`"), span).with_label("no such model").with_note(available(models));
    d.help = did_you_mean(name, models.iter().map(|m| m.name.as_str()));
    diags.push(d);
    None
}

/// The file's models in the order written (a second unnamed `model` is E0116's to report, and
/// left out here), after reporting every problem with them. Empty when there is none (E0117).
pub fn find_models<'a>(program: &Program, models: &'a [ModelInfo], diags: &mut Vec<Diagnostic>) -> Vec<FileModel<'a>> {
    let mut out: Vec<FileModel<'a>> = Vec::new();
    let mut unnamed_seen = false;
    for item in &program.items {
        let model = match item {
            Item::Setting(s) if s.name.name == "model" => {
                if std::mem::replace(&mut unnamed_seen, true) {
                    continue;
                }
                let (name, span) = match &s.value {
                    SettingValue::Expr(e) => match &e.kind {
                        ExprKind::Name(id) => (id.name.as_str(), id.span),
                        _ => ("", e.span),
                    },
                    SettingValue::Number(n) => (n.text.as_str(), n.span),
                    SettingValue::Dimensions(d) => (d.text.as_str(), d.span),
                };
                let info = lookup(name, span, models, diags);
                FileModel { alias: name.to_string(), alias_span: span, info, named: false }
            }
            Item::Model(m) => {
                let info = lookup(&m.model.name, m.model.span, models, diags);
                FileModel { alias: m.alias.name.clone(), alias_span: m.alias.span, info, named: true }
            }
            _ => continue,
        };
        if let Some(first) = out.iter().find(|f| f.alias == model.alias) {
            diags.push(
                Diagnostic::error("E0125", format!("the name `{}` is given to two models", model.alias), model.alias_span)
                    .with_label("named again here")
                    .with_secondary(first.alias_span, "first named here")
                    .with_help("give each model its own name: `model a = …`, `model b = …`"),
            );
            continue;
        }
        if out.len() == comp_plan::MAX_MODELS {
            diags.push(
                Diagnostic::error("E0125", format!("more than {} models", comp_plan::MAX_MODELS), model.alias_span)
                    .with_label("one model too many")
                    .with_help(format!("compose at most {} models in one file", comp_plan::MAX_MODELS)),
            );
            continue;
        }
        out.push(model);
    }
    if out.is_empty() {
        diags.push(
            Diagnostic::error("E0117", "no `model` statement", Span::new(0, 0))
                .with_label("the file must say which model it uses")
                .with_help(format!("add `model NAME` at the top; {}", available(models))),
        );
    }
    if out.len() > 1 {
        check_together(&out, diags);
    }
    super::classifier::check_primary(&out, diags);
    out
}

/// Models composed in one file: one sample shape, one noise schedule (E0127, E0128).
fn check_together(models: &[FileModel], diags: &mut Vec<Diagnostic>) {
    let known: Vec<(&FileModel, &ModelInfo)> = models.iter().filter_map(|f| Some((f, f.info?))).collect();
    let Some(&(first, primary)) = known.first() else { return };
    for &(f, m) in &known[1..] {
        // Latent models sample at the file's `size`: their latent spaces must agree; data
        // models have one shape each.
        let latent = |i: &ModelInfo| i.image_size.as_ref().map(|s| (s.latent_channels, s.multiple_of));
        let same = match (latent(primary), latent(m)) {
            (None, None) => primary.data_shape == m.data_shape,
            (a, b) => a == b && primary.latent_space == m.latent_space,
        };
        if !same {
            diags.push(
                Diagnostic::error("E0127", format!("`{}` and `{}` sample different data", first.alias, f.alias), f.alias_span)
                    .with_label(format!("`{}` ({}) samples {}", f.alias, m.name, space(m)))
                    .with_secondary(first.alias_span, format!("`{}` ({}) samples {}", first.alias, primary.name, space(primary)))
                    .with_note("composed models add their predictions for the same x: they must share its shape (and, for latent models, the latent space)")
                    .with_help("compose models of one kind of data, in separate files otherwise"),
            );
            continue;
        }
        if primary.schedule != m.schedule {
            let name = |i: &ModelInfo| i.schedule.clone().unwrap_or_else(|| "an unstated schedule".into());
            diags.push(
                Diagnostic::error("E0128", format!("`{}` and `{}` have different noise schedules", first.alias, f.alias), f.alias_span)
                    .with_label(format!("`{}` ({}) is trained on {}", f.alias, m.name, name(m)))
                    .with_secondary(first.alias_span, format!("`{}` ({}) is trained on {}", first.alias, primary.name, name(primary)))
                    .with_note("the sampler calls every model at one noise level per step; their ᾱ differ at the steps it visits")
                    .with_help("compose models trained on the same noise schedule"),
            );
        }
    }
}

/// E0126: a model's name (`model ring = toy2d`) that is also a `let` or a concept of one of
/// the file's models: `ring.ring` and `ring` would read as one thing and mean two.
pub fn check_aliases(models: &[FileModel], lets: &std::collections::BTreeSet<String>, program: &Program, diags: &mut Vec<Diagnostic>) {
    for f in models.iter().filter(|f| f.named) {
        let what = if lets.contains(&f.alias) {
            let at = program.items.iter().find_map(|i| match i {
                Item::Let(l) if l.name.name == f.alias => Some(l.name.span),
                _ => None,
            });
            Some(("a `let`".to_string(), at))
        } else {
            models
                .iter()
                .find_map(|o| o.info.filter(|m| m.concept(&f.alias).is_some()).map(|m| (format!("a concept of `{}`", m.name), None)))
        };
        let Some((what, at)) = what else { continue };
        let mut d = Diagnostic::error("E0126", format!("the model name `{}` is also {what}", f.alias), f.alias_span)
            .with_label("a model's name")
            .with_help(format!("name the model something else: `model {}_model = …`", f.alias));
        if let Some(at) = at {
            d = d.with_secondary(at, "the `let`");
        }
        diags.push(d);
    }
}

fn space(m: &ModelInfo) -> String {
    match (&m.image_size, &m.latent_space) {
        (Some(s), Some(space)) => format!("latents of {} channels ({space})", s.latent_channels),
        (Some(s), None) => format!("latents of {} channels", s.latent_channels),
        _ => format!("{:?}", m.data_shape),
    }
}

/// The primary model of a file (the first one written), for callers that need one model's
/// vocabulary (hover, completion); `None` when there is no known model.
pub fn find_model<'a>(program: &Program, models: &'a [ModelInfo], diags: &mut Vec<Diagnostic>) -> Option<&'a ModelInfo> {
    find_models(program, models, diags).first().and_then(|f| f.info)
}

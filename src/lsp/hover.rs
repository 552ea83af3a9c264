//! Hover: what the name under the cursor is.
//!
//! ```text
//! ring              concept of toy2d: its description; its condition and final coefficient in
//!                   each sample it is in (the compiler's source map)
//! pos(0.2, 0.5)     constructor: description, each parameter with its range and default
//! stripe            the let's definition and its simplified form
//! scale             what the setting does, and the model's default
//! toy2d             the model's description and concepts
//! ```

use super::analysis::{simplified_let, Analysis};
use super::syntax::{find_let, locate, Target};
use comp_compiler::check::args::ParamSpec;
use comp_compiler::{Concept, ModelInfo};
use comp_grammar::ast::{Expr, Program};
use comp_grammar::Span;

/// The hover text (markdown) and the span it is about, for byte `offset`.
pub fn hover(analysis: &Analysis, models: &[ModelInfo], offset: usize) -> Option<(String, Span)> {
    let program = analysis.tree()?;
    let model = model_of(program, models);
    let (target, _) = locate(program, offset)?;
    match target {
        Target::SettingName(s) => Some((setting(&s.name.name, model)?, s.name.span)),
        Target::ModelName(id) => {
            let m = models.iter().find(|m| m.name == id.name)?;
            let concepts: Vec<String> = m.concepts.iter().map(signature).collect();
            Some((format!("**model `{}`**\n\n{}\n\nconcepts: {}", m.name, m.description, concepts.join(", ")), id.span))
        }
        Target::LetName(l) => Some((let_text(analysis, models, &l.name.name)?, l.name.span)),
        Target::SampleName(s) => {
            let compiled = analysis.checked.compiled.as_ref()?;
            let simplified = compiled.simplified.iter().find(|x| x.name == s.name.name)?;
            Some((format!("**sample `{}`**, simplified:\n```comp\n{simplified}\n```", s.name.name), s.name.span))
        }
        Target::Name(id, expr) => {
            if find_let(program, &id.name).is_some() {
                return Some((let_text(analysis, models, &id.name)?, id.span));
            }
            // With several models, the term's own model (`b.bar`, or the only one with `bar`).
            let (alias, model) = term_model(analysis, program, models, expr, model);
            if id.name == "null" {
                let text = match &alias {
                    Some(a) => format!("**`{a}.null`**: the unconditional prediction of `{a}` ({})", model.map_or("", |m| m.name.as_str())),
                    None => "**`null`**: the model's unconditional prediction".to_string(),
                };
                return Some((text + &coefficients(analysis, expr), id.span));
            }
            let concept = model?.concept(&id.name)?;
            Some((of_model(&alias, model) + &concept_text(concept) + &coefficients(analysis, expr), id.span))
        }
        Target::Callee(id, expr) => {
            let (alias, model) = term_model(analysis, program, models, expr, model);
            let concept = model?.concept(&id.name)?;
            Some((of_model(&alias, model) + &concept_text(concept) + &coefficients(analysis, expr), id.span))
        }
        Target::Text(expr) => {
            let (alias, model) = term_model(analysis, program, models, expr, model);
            Some((of_model(&alias, model) + "**text prompt**" + &coefficients(analysis, expr), expr.span))
        }
    }
}

/// The model a term belongs to and its alias (`None` in a file of one model): what the
/// compiler resolved it to ([`comp_compiler::SourceMap`]) when the file compiles; while it has
/// errors, found in the tree ([`owner`]).
fn term_model<'a>(
    analysis: &Analysis,
    program: &Program,
    models: &'a [ModelInfo],
    expr: &Expr,
    model: Option<&'a ModelInfo>,
) -> (Option<String>, Option<&'a ModelInfo>) {
    let compiled = analysis.checked.compiled.as_ref();
    match compiled.and_then(|c| c.source_map.covering(expr.span).first().copied()) {
        Some(term) => (term.alias.clone(), models.iter().find(|m| m.name == term.model)),
        None => owner(program, models, expr, model),
    }
}

/// The model a term belongs to and its alias (`None` in a file of one model): see
/// [`super::qualified::owner`]; the file's model when that finds none.
fn owner<'a>(
    program: &Program,
    models: &'a [ModelInfo],
    expr: &Expr,
    model: Option<&'a ModelInfo>,
) -> (Option<String>, Option<&'a ModelInfo>) {
    match super::qualified::owner(program, models, expr) {
        Some((alias, m)) => (alias, Some(m)),
        None => (None, model),
    }
}

/// "model `b` (toy2d-mlp) · " before a term's hover in a file of several models.
fn of_model(alias: &Option<String>, model: Option<&ModelInfo>) -> String {
    match (alias, model) {
        (Some(a), Some(m)) => format!("model `{a}` ({}) · ", m.name),
        _ => String::new(),
    }
}

/// The model the file names, found as the compiler finds it.
pub fn model_of<'a>(program: &Program, models: &'a [ModelInfo]) -> Option<&'a ModelInfo> {
    comp_compiler::check::model::find_model(program, models, &mut Vec::new())
}

/// `pos(x, y)` for a constructor, `ring` for a bare concept.
pub fn signature(c: &Concept) -> String {
    if c.params.is_empty() {
        c.name.clone()
    } else {
        format!("{}({})", c.name, c.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "))
    }
}

fn concept_text(c: &Concept) -> String {
    let mut out = format!("**concept `{}`**\n\n{}", signature(c), c.description);
    for p in &c.params {
        let range = ParamSpec::from(p).kind.range_text();
        let default = p.default.map(|d| format!(", default {d}")).unwrap_or_default();
        out += &format!("\n- `{}`: {} ({range}{default})", p.name, p.description);
    }
    out
}

fn setting(name: &str, model: Option<&ModelInfo>) -> Option<String> {
    if let Some(s) = comp_compiler::vocabulary::setting(name) {
        let what = s.doc;
        // `size` and `dtype` are settings of the models that have them only.
        let applies = comp_compiler::vocabulary::applies(s, model);
        let default = model.filter(|_| applies).and_then(|m| match name {
            "scale" => Some(m.default_scale.to_string()),
            "samples" => Some(m.default_samples.to_string()),
            "sampler" => Some(m.default_sampler.clone().unwrap_or(comp_plan::Sampler::Ddpm { steps: m.default_steps }).to_string()),
            "base" => Some(format!("{:?}", m.default_base).to_lowercase()),
            "mcmc" => Some("none".to_string()),
            "size" => m.image_size.as_ref().map(|s| format!("{}x{}", s.default[0], s.default[1])),
            "dtype" => Some("f16 on a GPU, f32 on the CPU".to_string()),
            _ => None,
        });
        let bounds = match (name, model.and_then(|m| m.image_size.as_ref())) {
            ("size", Some(s)) => format!("\n\neach side a multiple of {} in {}..={}", s.multiple_of, s.min, s.max),
            _ => String::new(),
        };
        let default = match (default, model) {
            (Some(d), Some(m)) => format!("\n\n`{}` default: `{d}`", m.name),
            _ => String::new(),
        };
        let not_here = match model {
            Some(m) if !applies => format!("\n\n`{}` has no `{name}` setting", m.name),
            _ => String::new(),
        };
        return Some(format!("**setting `{name}`**: {what}{bounds}{default}{not_here}"));
    }
    let p = model?.extra_settings.iter().find(|p| p.name == name)?;
    let range = ParamSpec::from(p).kind.range_text();
    let default = p.default.map(|d| format!(", default {d}")).unwrap_or_default();
    Some(format!("**setting `{name}`** of `{}`: {} ({range}{default})", model?.name, p.description))
}

fn let_text(analysis: &Analysis, models: &[ModelInfo], name: &str) -> Option<String> {
    let program = analysis.tree()?;
    let l = find_let(program, name)?;
    let definition = crate::repl::session::statement_text(&analysis.text, l.span, program);
    let simplified = match simplified_let(&analysis.text, name, models) {
        Some(s) => format!("simplified: `{s}`"),
        None => "(the simplified form shows once the file has no errors)".to_string(),
    };
    Some(format!("```comp\n{definition}\n```\n{simplified}"))
}

/// The term's final coefficients in the plan, as the compiler's source map has them: in each
/// sample the term is in (a term in a `let` or a file-wide `base`, in every sample using it),
/// with its condition's id.
fn coefficients(analysis: &Analysis, expr: &Expr) -> String {
    let Some(compiled) = analysis.checked.compiled.as_ref() else {
        return "\n\n(coefficients show once the file has no errors)".into();
    };
    const MAX: usize = 8;
    let mut lines = Vec::new();
    for term in compiled.source_map.covering(expr.span) {
        let Some(id) = term.condition else {
            lines.push(format!("- `{}`: not in the plan (its coefficient is 0 throughout)", term.sample));
            continue;
        };
        let parts: Vec<String> = term
            .coefficients
            .iter()
            .map(|c| {
                let coeffs: Vec<String> = c.coeffs.iter().map(f64::to_string).collect();
                format!("{} on [{}, {})", coeffs.join(" | "), c.from, c.to)
            })
            .collect();
        lines.push(format!("- `{}`: {} (condition #{id})", term.sample, parts.join(", ")));
    }
    if lines.is_empty() {
        return String::new();
    }
    let more = lines.len().saturating_sub(MAX);
    lines.truncate(MAX);
    if more > 0 {
        lines.push(format!("- … and {more} more samples"));
    }
    format!("\n\nfinal coefficient in the plan (ε̂ = Σ c·ε; mixture branches separated by `|`):\n{}", lines.join("\n"))
}

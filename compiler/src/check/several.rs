//! The checks of a file that composes several models (`model a = …`, `model b = …`):
//!
//! ```text
//! model a = toy2d
//! model b = toy2d-mlp-eps
//! sample s = a.ring AND b.bar              # E0129: several models and no `base`
//! base none
//! sample t = a.left_bar OR b.right_bar     # E0112: `OR` needs energies; `b` has none
//! mcmc hmc(steps: 2)                       # E0113 at each sample using `b`
//! ```
//!
//! With one model, `base` defaults to the model's own; with several there is no one prior to
//! default to, so the file says which (E0129). `OR`, MALA and HMC need energies of every model
//! a term of theirs comes from (E0112, E0113).

use crate::check::model::FileModel;
use crate::ir::{Cond, Node};
use crate::plan::Settings;
use comp_grammar::{Diagnostic, Span};
use std::collections::BTreeSet;

/// E0129: a sample of a file with several models, and no `base` for it.
pub fn missing_base(models: &[FileModel], span: Span) -> Diagnostic {
    let each: Vec<String> = models.iter().map(|f| format!("`base {}.null`", f.alias)).collect();
    Diagnostic::error("E0129", "several models and no `base`: guidance against which prior?", span)
        .with_label("this sample has no base")
        .with_note("with several models each term is guided against its own model's `null`; the base is the prior the guidance is added to")
        .with_help(format!("add {}, or `base none` for the pure product", each.join(" or ")))
}

/// The aliases of the models whose conditions occur in `node`.
fn models_in(node: &Node) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    node.walk(|n| {
        if let Node::Cond { cond, .. } = n {
            if let Some(m) = cond.model() {
                out.insert(m.to_string());
            }
        }
    });
    out
}

/// Models without energies among `aliases`, as "`b` (toy2d-mlp-eps)".
fn without_energies(aliases: &BTreeSet<String>, models: &[FileModel]) -> Vec<String> {
    models
        .iter()
        .filter(|f| aliases.contains(&f.alias))
        .filter_map(|f| f.info.filter(|m| !m.energies).map(|m| format!("`{}` ({})", f.alias, m.name)))
        .collect()
}

/// E0112 for an `OR` over a model without energies; E0113 for MALA or HMC over a sample using
/// one (`inlined`: the sample's expression, lets inlined; `base`: its base's terms).
pub fn check_energies(
    inlined: &Node,
    base: &[(Cond, f64)],
    settings: &Settings,
    models: &[FileModel],
    span: Span,
    diags: &mut Vec<Diagnostic>,
) {
    inlined.walk(|n| {
        if let Node::Or { branches, span } = n {
            let mut used = BTreeSet::new();
            for (_, b) in branches {
                used.extend(models_in(b));
            }
            let lacking = without_energies(&used, models);
            if !lacking.is_empty() {
                diags.push(
                    Diagnostic::error(
                        "E0112",
                        format!("`OR` needs energies of every model it mixes; {} has none", lacking.join(", ")),
                        *span,
                    )
                    .with_label("a mixture")
                    .with_note("a mixture weighs its branches by their energies, per sample")
                    .with_help("take the branches from models that return energies, or sample them separately"),
                );
            }
        }
    });
    if let Some(m) = settings.mcmc.as_ref().filter(|m| m.kind.needs_energies()) {
        let mut used = models_in(inlined);
        used.extend(base.iter().filter_map(|(c, _)| c.model().map(str::to_string)));
        let lacking = without_energies(&used, models);
        if !lacking.is_empty() {
            let name = format!("{:?}", m.kind).to_lowercase();
            diags.push(
                Diagnostic::error(
                    "E0113",
                    format!("`{name}` needs energies of every model a sample uses; {} has none", lacking.join(", ")),
                    span,
                )
                .with_label("this sample uses it")
                .with_help("use `mcmc ula(...)` or `mcmc uhmc(...)`, which need no energies, or models that return energies"),
            );
        }
    }
}

//! The checks of classifier models (classifier guidance): a classifier p(y | x_t) guides a
//! denoiser; it samples nothing itself.
//!
//! ```text
//! model clf = toy2d-clf          # E0132: the first model decodes samples and sets defaults
//! model d = toy2d
//! base clf.null                  # E0133: a classifier has no prediction to be a prior
//! sample s = d.ring AND clf.bar  # fine: `clf.bar` adds −σ·∇log p(bar | x_t)
//! ```
//!
//! A classifier and the model it guides must sample the same data on the same schedule
//! (E0127, E0128, as for any models composed), and `OR`, MALA and HMC need its energies
//! (−log p(y | x_t); E0112, E0113).

use crate::check::model::FileModel;
use crate::ir::Cond;
use comp_grammar::{Diagnostic, Span};

/// E0132: a file whose first model is a classifier (including a file of one classifier).
pub fn check_primary(models: &[FileModel], diags: &mut Vec<Diagnostic>) {
    let Some(first) = models.first() else { return };
    let Some(info) = first.info.filter(|m| m.classifier) else { return };
    let denoiser = models.iter().find(|f| f.info.is_some_and(|m| !m.classifier));
    let mut d = Diagnostic::error("E0132", format!("`{}` is a classifier, and a file's first model must be a denoiser", info.name), first.alias_span)
        .with_label("a classifier p(y | x_t)")
        .with_note("a classifier guides a denoising model of the same data (`model d = toy2d`, `model clf = toy2d-clf`, `sample s = clf.ring`); the first model samples, decodes and sets the defaults");
    d = match denoiser {
        Some(f) => d.with_secondary(f.alias_span, "a denoiser: write it first").with_help("write the denoiser's `model` statement first"),
        None => d.with_help(format!(
            "add a denoiser of the same data before it, e.g. `model d = …` then `model {} = {}`",
            first.alias, info.name
        )),
    };
    diags.push(d);
}

/// E0133: a classifier's condition in a `base` (`base clf.null`).
pub fn check_base(base: &[(Cond, f64)], models: &[FileModel], span: Span, diags: &mut Vec<Diagnostic>) {
    let classifier = |alias: &str| models.iter().find(|f| f.alias == alias).and_then(|f| f.info).filter(|m| m.classifier);
    for (c, _) in base {
        let Some(alias) = c.model() else { continue };
        if let Some(m) = classifier(alias) {
            diags.push(
                Diagnostic::error("E0133", format!("the base uses `{alias}`, a classifier ({})", m.name), span)
                    .with_label("a classifier in the base")
                    .with_note("a classifier has no prediction of x of its own: its terms only add guidance to a denoiser's")
                    .with_help("take the base from a denoiser: `base ALIAS.null` with a denoising model's alias"),
            );
            return;
        }
    }
}

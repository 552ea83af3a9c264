//! The compiler's diagnostics as LSP diagnostics: the same code, message, help and notes as
//! `comp check` prints, the primary span as the range, every labelled span as related
//! information.
//!
//! ```text
//! error[E0103]: unknown name `rng`          range: the span of `rng`, code "E0103"
//!   help: did you mean `ring`?              message: "unknown name `rng`\nhelp: did you mean `ring`?"
//! ```

use super::document::Document;
use comp_grammar::{Diagnostic, Severity};
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, Location, NumberOrString, Uri};

/// The LSP form of one diagnostic of `doc`.
pub fn to_lsp(uri: &Uri, doc: &Document, d: &Diagnostic) -> lsp_types::Diagnostic {
    let mut message = d.message.clone();
    for note in &d.notes {
        message += &format!("\nnote: {note}");
    }
    if let Some(help) = &d.help {
        message += &format!("\nhelp: {help}");
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .filter(|l| !l.message.is_empty())
        .map(|l| DiagnosticRelatedInformation {
            location: Location { uri: uri.clone(), range: doc.range(l.span) },
            message: l.message.clone(),
        })
        .collect();
    let code = match d.lint {
        Some(lint) => format!("{}({lint})", d.code),
        None => d.code.to_string(),
    };
    lsp_types::Diagnostic {
        range: doc.range(d.span()),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(code)),
        code_description: None,
        source: Some("comp".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        // Editors grey out what is unused.
        tags: (d.lint == Some("unused-let")).then(|| vec![DiagnosticTag::UNNECESSARY]),
        data: None,
    }
}

/// The name a "did you mean `NAME`?" help suggests (the compiler writes every suggestion of a
/// replacement for the primary span this way).
pub fn suggestion(d: &Diagnostic) -> Option<&str> {
    d.help.as_deref()?.strip_prefix("did you mean `")?.strip_suffix("`?")
}

/// Every replacement a diagnostic's help offers for the text under its span: the one "did you
/// mean" name, or, for a name several models have (E0130) or a `null` that names no model
/// (E0129), each model's qualified form (`write `a.ring` or `b.ring``): one quick fix each.
pub fn suggestions(d: &Diagnostic) -> Vec<&str> {
    if let Some(one) = suggestion(d) {
        return vec![one];
    }
    let Some(help) = d.help.as_deref() else { return vec![] };
    let list = match d.code {
        "E0130" => help.strip_prefix("say which model: write "),
        "E0129" => help.strip_prefix("write "),
        _ => None,
    };
    // The backticked items of "`a.ring`, `b.ring` or `c.ring`".
    list.map(|l| l.split('`').skip(1).step_by(2).collect()).unwrap_or_default()
}

//! Rendering diagnostics: ariadne for people, JSON for editors. The only place that prints a
//! `Diagnostic`.

use ariadne::{Color, Config, IndexType, Label, Report, ReportKind, Source};
use comp_grammar::{Diagnostic, Severity, Span};
use serde::Serialize;

/// Renders one diagnostic under its source, as text (with colour when `color`).
pub fn human(file: &str, source: &str, diagnostic: &Diagnostic, color: bool) -> String {
    human_in(file, &Source::from(source), diagnostic, color)
}

/// Renders diagnostics of one file, indexing its lines once (a file can have thousands of
/// diagnostics; indexing per diagnostic would make rendering quadratic).
pub fn human_all(file: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let indexed = Source::from(source);
    diagnostics.iter().map(|d| human_in(file, &indexed, d, color)).collect()
}

fn human_in(file: &str, indexed: &Source<&str>, diagnostic: &Diagnostic, color: bool) -> String {
    let source = indexed.text();
    let kind = match diagnostic.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let clamp = |span: Span| {
        let end = (span.end as usize).min(source.len());
        let start = (span.start as usize).min(end);
        (file, start..end)
    };
    let code = match diagnostic.lint {
        Some(lint) => format!("{}({lint})", diagnostic.code),
        None => diagnostic.code.to_string(),
    };
    let mut report = Report::build(kind, clamp(diagnostic.span()))
        .with_config(
            Config::default().with_index_type(IndexType::Byte).with_color(color).with_compact(false),
        )
        .with_code(code)
        .with_message(&diagnostic.message);
    for (i, label) in diagnostic.labels.iter().enumerate() {
        let mut l = Label::new(clamp(label.span));
        if !label.message.is_empty() {
            l = l.with_message(&label.message);
        }
        if color {
            l = l.with_color(if i == 0 { primary_color(diagnostic.severity) } else { Color::Blue });
        }
        report = report.with_label(l.with_order(i as i32));
    }
    for note in &diagnostic.notes {
        report = report.with_note(note);
    }
    if let Some(help) = &diagnostic.help {
        report = report.with_help(help);
    }
    let mut out = Vec::new();
    report
        .finish()
        .write((file, indexed), &mut out)
        .expect("writing to a Vec cannot fail");
    String::from_utf8_lossy(&out).into_owned()
}

fn primary_color(severity: Severity) -> Color {
    match severity {
        Severity::Error => Color::Red,
        Severity::Warning => Color::Yellow,
    }
}

/// A diagnostic as editors read it: 1-based lines and columns (columns count characters),
/// `end_*` exclusive.
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub severity: Severity,
    pub code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lint: Option<&'a str>,
    pub message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub notes: &'a [String],
}

/// The JSON record of one diagnostic; `lines` is [`line_starts`] of `source`.
pub fn json<'a>(file: &'a str, source: &str, lines: &[usize], d: &'a Diagnostic) -> JsonDiagnostic<'a> {
    let span = d.span();
    let (line, column) = line_column_in(source, lines, span.start as usize);
    let (end_line, end_column) = line_column_in(source, lines, span.end as usize);
    JsonDiagnostic {
        file,
        line,
        column,
        end_line,
        end_column,
        severity: d.severity,
        code: d.code,
        lint: d.lint,
        message: &d.message,
        help: d.help.as_deref(),
        notes: &d.notes,
    }
}

/// Byte offsets where the lines of `source` start.
pub fn line_starts(source: &str) -> Vec<usize> {
    std::iter::once(0).chain(source.match_indices('\n').map(|(i, _)| i + 1)).collect()
}

/// 1-based line and character column of a byte offset (clamped to the text, and to a char
/// boundary).
#[cfg(test)]
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    line_column_in(source, &line_starts(source), offset)
}

fn line_column_in(source: &str, lines: &[usize], offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let line = lines.partition_point(|&start| start <= offset);
    let line_start = lines[line - 1];
    let column = source[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Whether to colour output on stderr: a terminal, and `NO_COLOR` unset.
pub fn stderr_color() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let src = "ab\nçd e";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 3), (2, 1));
        // `ç` is 2 bytes: byte 5 is `d`, the 2nd character of line 2.
        assert_eq!(line_column(src, 5), (2, 2));
        assert_eq!(line_column(src, 100), (2, 5));
    }
}

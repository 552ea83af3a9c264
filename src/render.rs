//! Rendering diagnostics: ariadne for people, JSON for editors. The only place that prints a
//! `Diagnostic`.

use ariadne::{Color, Config, IndexType, Label, Report, ReportKind, Source};
use comp_grammar::{Diagnostic, Severity, Span};
use serde::Serialize;

/// At most this many diagnostics of one code are rendered per file; the rest are counted
/// ("… and 1,995 more like this"): 2,000 copies of one mistake are one thing to fix.
pub const MAX_PER_CODE: usize = 10;
/// Lines longer than this (bytes) are cut around the problem: a 50 MB one-line script must not
/// print 50 MB per diagnostic.
pub const MAX_LINE: usize = 200;
/// Bytes of context kept on each side of a span in a cut line.
const CONTEXT: usize = 60;

/// Renders one diagnostic under its source, as text (with colour when `color`).
pub fn human(file: &str, source: &str, diagnostic: &Diagnostic, color: bool) -> String {
    human_in(file, &Source::from(source), &line_starts(source), diagnostic, color)
}

/// Renders diagnostics of one file, indexing its lines once (a file can have thousands of
/// diagnostics; indexing per diagnostic would make rendering quadratic). Output stays bounded:
/// at most [`MAX_PER_CODE`] per code, long lines cut around the span.
pub fn human_all(file: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let indexed = Source::from(source);
    let lines = line_starts(source);
    let mut per_code: Vec<(&str, usize)> = Vec::new();
    let mut out = String::new();
    for d in diagnostics {
        let seen = match per_code.iter_mut().find(|(c, _)| *c == d.code) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                per_code.push((d.code, 1));
                1
            }
        };
        if seen <= MAX_PER_CODE {
            out += &human_in(file, &indexed, &lines, d, color);
        }
    }
    for (code, n) in per_code {
        if n > MAX_PER_CODE {
            out += &format!("… and {} more like this ({code})\n", thousands(n - MAX_PER_CODE));
        }
    }
    out
}

/// `1995` → `1,995`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Renders `diagnostic`, cutting its line around the primary span when the line is longer
/// than [`MAX_LINE`] (labels outside the cut are left out; line numbers stay right).
fn human_in(file: &str, indexed: &Source<&str>, lines: &[usize], diagnostic: &Diagnostic, color: bool) -> String {
    let source = indexed.text();
    let span = diagnostic.span();
    let start = (span.start as usize).min(source.len());
    let line = lines.partition_point(|&s| s <= start).max(1) - 1;
    let line_start = lines[line];
    let line_end = lines.get(line + 1).map(|e| e - 1).unwrap_or(source.len());
    if line_end - line_start <= MAX_LINE {
        return render_one(file, indexed, diagnostic, color);
    }
    let end = (span.end as usize).clamp(start, line_end);
    let mut from = start.saturating_sub(CONTEXT).max(line_start);
    let mut to = (end.min(start + MAX_LINE) + CONTEXT).min(line_end);
    while !source.is_char_boundary(from) {
        from -= 1;
    }
    while !source.is_char_boundary(to) {
        to += 1;
    }
    let prefix = if from > line_start { "…" } else { "" };
    let suffix = if to < line_end { "…" } else { "" };
    let text = format!("{prefix}{}{suffix}", &source[from..to]);
    let shift = |o: u32| (prefix.len() + (o as usize).clamp(from, to) - from) as u32;
    let mut cut = diagnostic.clone();
    cut.labels.retain(|l| (l.span.start as usize) < to && (l.span.end as usize) >= from);
    if cut.labels.is_empty() {
        cut.labels = diagnostic.labels[..1.min(diagnostic.labels.len())].to_vec();
    }
    for l in &mut cut.labels {
        l.span = Span { start: shift(l.span.start), end: shift(l.span.end) };
    }
    cut.notes.push(format!("line {} is {} bytes long: only the part around the problem is shown", line + 1, line_end - line_start));
    // ariadne numbers the header's line from the offset but its margin from the excerpt (and
    // columns from the excerpt): render plainly, then put the file's line and column in.
    let excerpt = Source::from(text.as_str()).with_display_line_offset(line);
    let plain = render_one(file, &excerpt, &cut, false);
    let number = (line + 1).to_string();
    let wider = number.len() - 1;
    let excerpt_col = text[..shift(start as u32) as usize].chars().count() + 1;
    let true_col = source[line_start..start].chars().count() + 1;
    let header_from = format!("{file}:{number}:{excerpt_col} ]");
    let header_to = format!("{file}:{number}:{true_col} ]");
    let mut out = String::with_capacity(plain.len() + 64);
    for l in plain.lines() {
        if let Some(rest) = l.strip_prefix(" 1 │") {
            out += &format!(" {number} │{rest}");
        } else if l.starts_with("   ") {
            out += &format!("{}{}", " ".repeat(wider), l.replace(&header_from, &header_to));
        } else if l.starts_with("───") {
            out += &format!("{}{l}", "─".repeat(wider));
        } else {
            out += l;
        }
        out.push('\n');
    }
    let _ = color; // a cut line is drawn without colour: the margin was rewritten as text
    out
}

fn render_one(file: &str, indexed: &Source<&str>, diagnostic: &Diagnostic, color: bool) -> String {
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
        .with_config(Config::default().with_index_type(IndexType::Byte).with_color(color).with_compact(false))
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
    report.finish().write((file, indexed), &mut out).expect("writing to a Vec cannot fail");
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
    fn repeats_of_one_code_are_counted_not_rendered() {
        let d = |i: u32| Diagnostic::error("E0116", "`scale` is set twice", Span { start: i, end: i + 1 });
        let diags: Vec<Diagnostic> = (0..2005).map(d).collect();
        let src = "x".repeat(3000);
        let out = human_all("f.comp", &src, &diags, false);
        assert_eq!(out.matches("[E0116] Error").count(), MAX_PER_CODE);
        assert!(out.ends_with("… and 1,995 more like this (E0116)\n"), "{}", &out[out.len() - 200..]);
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn long_lines_are_cut_around_the_span_with_the_right_line_number() {
        // Line 2 is 1 MB long; the problem is at its byte 500,000.
        let long = "a".repeat(1_000_000);
        let src = format!("model toy2d\n{long}\n");
        let at = 12 + 500_000;
        let d = Diagnostic::error("E0001", "syntax error", Span { start: at as u32, end: at as u32 + 3 }).with_label("here");
        let out = human("f.comp", &src, &d, false);
        assert!(out.len() < 2_000, "{} bytes", out.len());
        assert!(out.contains(" 2 │ …aaa") && out.contains("aaa…"), "{out}");
        assert!(out.contains("f.comp:2:500001 ]"), "the file's line and column: {out}");
        assert!(out.contains("line 2 is 1000000 bytes long") && out.contains("here"), "{out}");
        // Wider line numbers keep the margin aligned.
        let src = format!("{}{long}\n", "\n".repeat(99_999));
        let at = 99_999 + 10;
        let d = Diagnostic::error("E0001", "syntax error", Span { start: at as u32, end: at as u32 + 1 }).with_label("here");
        let out = human("f.comp", &src, &d, false);
        assert!(out.contains("f.comp:100000:11 ]") && out.contains(" 100000 │ aaa"), "{out}");
        assert!(out.contains("\n        │ "), "margin rows padded to the number's width: {out}");
    }

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

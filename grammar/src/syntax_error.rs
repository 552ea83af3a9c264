//! Syntax errors (E0001) in the user's words.
//!
//! pest says *where* parsing stopped and *which rules* it would have accepted there. `parse.rs`
//! turns those rules into [`Expected`] values (this file never sees a pest type), and
//! [`syntax_error`] picks one message by looking at what was expected, at the token found
//! there, and at the token before it:
//!
//! | expected there | message |
//! | --- | --- |
//! | a statement | ``expected a statement`` |
//! | an expression | ``expected an expression after `AND` `` (the previous operator) |
//! | a setting's value | ``expected a value after `scale` `` |
//! | an argument / its value | ``expected an argument after `,` `` / ``expected a value after `:` `` |
//! | a number | ``expected a number after `[` `` |
//! | a name | ``expected a name after `let` ``, ``expected a setting after `with` `` |
//! | `=` | ``expected `=` after the let's name`` |
//! | `[`, `,`, `]` of a window | ``expected `]` to close the window`` ... |
//! | `)` | ``expected `)` to close the `(` `` (with the `(` as a second label) |
//! | `,` or `)` in a call | ``expected `,` or `)` after the argument`` |
//! | only `*` (or `:`) after a number | ``expected `*` after the number`` |
//! | the end of the line | ``expected the end of the line`` |
//!
//! Malformed strings get their own messages (`unterminated string`, ``unknown escape `\q` ``).
//! The primary span is the token found (zero-width at the end of a line or file). Help covers
//! the usual slips: keywords in the wrong case (`a and b`), `&`/`|`/`!` for `AND`/`OR`/`NOT`,
//! a `with` on a `let`, two terms with no operator between them.

use crate::{Diagnostic, Span};

/// What the parser would have accepted where it stopped: one value per kind of grammar rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expected {
    /// A statement (`let`, `sample`, a setting).
    Statement,
    /// Any expression.
    Expression,
    /// A setting's value.
    SettingValue,
    /// A call's argument.
    Argument,
    /// An argument's value after `name:`.
    ArgValue,
    Name,
    Number,
    /// `=` after a let's or sample's name.
    Assign,
    /// `*` after a weight.
    Times,
    /// `:` after a mixture weight.
    MixColon,
    /// `:` after an argument's name.
    ArgColon,
    /// `,` between `with` settings.
    WithComma,
    /// `,` between arguments.
    ArgComma,
    /// `)` closing arguments.
    CloseArgs,
    /// `(` opening arguments.
    OpenArgs,
    /// `)` closing a parenthesised expression.
    CloseParen,
    /// `[` of a window.
    OpenBracket,
    /// `,` between a window's bounds.
    WindowComma,
    /// `]` of a window.
    CloseBracket,
    /// An operator that continues an expression: `AND`, `OR`, `@`.
    Operator,
    /// `with` after a sample's expression.
    With,
    /// A line break or the end of the file.
    EndOfLine,
}

/// The keywords, as written (`comp_compiler::vocabulary` lists them with the other words).
pub const KEYWORDS: [&str; 6] = ["AND", "OR", "NOT", "let", "sample", "with"];

/// Builds the E0001 diagnostic for a parse that stopped at byte `pos` of `text` (the
/// pre-passed source: same offsets, comments blanked), where `expected` would have been
/// accepted. `parens` are the matched parentheses (for pointing at the `(` a `)` would close).
pub(crate) fn syntax_error(text: &str, pos: usize, expected: &[Expected], parens: &[(usize, usize)]) -> Diagnostic {
    use Expected::*;
    let found = Token::at(text, pos);
    let prev = previous_token(text, pos);
    let has = |e: Expected| expected.contains(&e);
    let after = |what: &str| match prev {
        Some(p) => format!("{what} after `{p}`"),
        None => what.to_string(),
    };

    if let Some(d) = string_error(text, pos) {
        return d;
    }

    let mut help: Option<String> = None;
    let mut secondary: Option<(Span, &str)> = None;
    let message = if has(Statement) {
        help = Some("a line is a setting (`scale 7.5`), `let NAME = ...` or `sample NAME = ...`".into());
        "expected a statement".to_string()
    } else if has(Expression) {
        if found.kind == Token::EndOfLine && matches!(prev, Some("AND" | "OR" | "NOT" | "*")) && next_line_is_indented(text, pos) {
            help = Some("an expression continues on the next line only inside parentheses: `sample s = (ring AND` … `bar)`".into());
        }
        after("expected an expression")
    } else if has(SettingValue) {
        help = Some("for example `scale 7.5`, `model toy2d` or `sampler ddpm(steps: 100)`".into());
        after("expected a value")
    } else if has(Argument) {
        after("expected an argument")
    } else if has(ArgValue) {
        help = Some("an argument is a number, a name or a string".into());
        after("expected a value")
    } else if has(Number) {
        after("expected a number")
    } else if has(Name) {
        if let Token::Word(w) = found.kind {
            if KEYWORDS.contains(&w) {
                help = Some("keywords (`AND`, `OR`, `NOT`, `let`, `sample`, `with`) cannot be names".into());
            }
        }
        if prev == Some("with") {
            "expected a setting after `with`".to_string()
        } else {
            after("expected a name")
        }
    } else if has(Assign) {
        match first_word(text, pos) {
            "let" => "expected `=` after the let's name".to_string(),
            "sample" => "expected `=` after the sample's name".to_string(),
            _ => "expected `=`".to_string(),
        }
    } else if has(OpenBracket) {
        help = Some("a window is written `e @ [0, 0.5]`".into());
        "expected `[` after `@`".to_string()
    } else if has(WindowComma) {
        help = Some("a window is written `e @ [0, 0.5]`".into());
        "expected `,` between the window's bounds".to_string()
    } else if has(CloseBracket) {
        "expected `]` to close the window".to_string()
    } else if has(CloseParen) {
        if let Some(&(open, _)) = parens.iter().filter(|(o, c)| *o < pos && pos <= *c).min_by_key(|(o, c)| c - o) {
            secondary = Some((Span::new(open, open + 1), "the `(` it would close"));
        }
        "expected `)` to close the `(`".to_string()
    } else if has(ArgComma) || has(CloseArgs) {
        "expected `,` or `)` after the argument".to_string()
    } else if (has(Times) || has(MixColon)) && !has(EndOfLine) {
        help = Some("a number alone is not an expression: a weight is written `0.5 * a`".into());
        "expected `*` after the number".to_string()
    } else if has(EndOfLine) {
        if has(WithComma) && matches!(found.kind, Token::Word(_)) {
            help = Some("separate `with` settings with `,`".into());
        } else if found.kind == Token::Word("with") {
            help = Some("only a `sample` takes `with` settings".into());
        }
        "expected the end of the line".to_string()
    } else {
        format!("unexpected {}", found.describe())
    };

    let found_term = match found.kind {
        Token::Word(w) => !KEYWORDS.contains(&w),
        Token::Number(_) | Token::Str | Token::Punct('(') => true,
        _ => false,
    };
    if help.is_none() {
        help = case_help(found.kind, prev, first_word(text, pos));
    }
    if help.is_none() {
        help = match found.kind {
            Token::Punct('&') => Some("write `AND` for a conjunction".into()),
            Token::Punct('|') => Some("write `OR` for a mixture".into()),
            Token::Punct('!') | Token::Punct('~') | Token::Punct('-') => Some("write `NOT` to negate a term".into()),
            _ if found_term && (has(Operator) || has(CloseParen)) => Some("join terms with `AND` or `OR`".into()),
            _ => None,
        };
    }

    let mut d = Diagnostic::error("E0001", message, found.span).with_label(format!("found {}", found.describe()));
    if let Some((span, label)) = secondary {
        d = d.with_secondary(span, label);
    }
    if let Some(help) = help {
        d = d.with_help(help);
    }
    d
}

/// Whether the line after `pos` starts with white space: the look of an expression the user
/// meant to continue.
fn next_line_is_indented(text: &str, pos: usize) -> bool {
    let rest = &text[pos.min(text.len())..];
    match rest.find('\n') {
        Some(i) => rest[i + 1..].starts_with([' ', '\t']),
        None => false,
    }
}

/// Help for a keyword written in the wrong case (`and`, `Not`, `Let`): the token found, the one
/// before it, or the first word of the line.
fn case_help(found: Token<'_>, prev: Option<&str>, first: &str) -> Option<String> {
    let words = [if let Token::Word(w) = found { Some(w) } else { None }, prev, Some(first)];
    words.into_iter().flatten().find_map(|w| {
        let k = KEYWORDS.iter().find(|k| k.eq_ignore_ascii_case(w) && **k != w)?;
        let case = if k.chars().all(|c| c.is_ascii_uppercase()) { "upper" } else { "lower" };
        Some(format!("keywords are {case} case: `{k}`"))
    })
}

/// Reports a malformed string starting at `pos` (unterminated, or with an unknown escape).
fn string_error(text: &str, pos: usize) -> Option<Diagnostic> {
    let bytes = text.as_bytes();
    if bytes.get(pos) != Some(&b'"') {
        return None;
    }
    let mut i = pos + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return None,
            b'\n' | b'\r' => break,
            b'\\' => {
                let len = text[i + 1..].chars().next().map_or(0, char::len_utf8);
                if !matches!(bytes.get(i + 1), Some(b'"' | b'\\' | b'n' | b't')) {
                    let span = Span::new(i, i + 1 + if matches!(bytes.get(i + 1), Some(b'\n' | b'\r')) { 0 } else { len });
                    let escape = &text[span.range()];
                    return Some(
                        Diagnostic::error("E0001", format!("unknown escape `{escape}` in a string"), span)
                            .with_label("not an escape")
                            .with_help("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`"),
                    );
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    Some(
        Diagnostic::error("E0001", "unterminated string", Span::new(pos, i))
            .with_label("this string has no closing `\"`")
            .with_help("close it with `\"`; a string cannot span lines (write `\\n`)"),
    )
}

/// The first word of the statement containing `pos` (in the pre-passed text a statement is one
/// line).
fn first_word(text: &str, pos: usize) -> &str {
    let start = text[..pos].rfind('\n').map_or(0, |n| n + 1);
    let line = text[start..].trim_start_matches([' ', '\t', '\r']);
    let end = line.find(|c: char| !is_word_char(c)).unwrap_or(line.len());
    &line[..end]
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '+'
}

/// The token just before `pos` on the same line, if it is a word, a number or one character
/// of punctuation; `None` at the start of a line or after a string.
fn previous_token(text: &str, pos: usize) -> Option<&str> {
    let before = text[..pos].trim_end_matches([' ', '\t', '\r']);
    let last = before.chars().next_back()?;
    if is_word_char(last) {
        let start = before.rfind(|c: char| !is_word_char(c)).map_or(0, |n| n + 1);
        Some(&before[start..])
    } else if last == '\n' || last == '"' {
        None
    } else {
        Some(&before[before.len() - last.len_utf8()..])
    }
}

/// What the parser found where it stopped.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Token<'a> {
    EndOfFile,
    EndOfLine,
    Word(&'a str),
    Number(&'a str),
    Str,
    Punct(char),
}

/// A found token and its span.
struct Found<'a> {
    kind: Token<'a>,
    span: Span,
}

impl<'a> Token<'a> {
    /// The token at `pos`, with its span: a word or number to its end, a string to its
    /// closing quote (or the line's end), one character otherwise, zero-width at a line break.
    fn at(text: &'a str, pos: usize) -> Found<'a> {
        let rest = &text[pos..];
        let Some(c) = rest.chars().next() else {
            return Found { kind: Token::EndOfFile, span: Span::new(pos, pos) };
        };
        let word_end = |s: &str| s.find(|c: char| !is_word_char(c)).unwrap_or(s.len());
        let (kind, len) = if c == '\n' || (c == '\r' && rest[1..].starts_with('\n')) {
            (Token::EndOfLine, 0)
        } else if c.is_ascii_alphabetic() || c == '_' {
            let n = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(rest.len());
            (Token::Word(&rest[..n]), n)
        } else if c.is_ascii_digit()
            || ((c == '.' || c == '+' || c == '-') && rest[1..].starts_with(|d: char| d.is_ascii_digit() || d == '.'))
        {
            let n = 1 + word_end(&rest[1..]);
            (Token::Number(&rest[..n]), n)
        } else if c == '"' {
            let n = rest[1..].find(['"', '\n']).map_or(rest.len(), |n| n + 2);
            (Token::Str, n.min(rest.len()))
        } else {
            (Token::Punct(c), c.len_utf8())
        };
        Found { kind, span: Span::new(pos, pos + len) }
    }

    /// The token in words: `` `b` ``, `a string`, `the end of the line`.
    fn describe(self) -> String {
        match self {
            Token::EndOfFile => "the end of the file".into(),
            Token::EndOfLine => "the end of the line".into(),
            Token::Word(w) if KEYWORDS.contains(&w) => format!("the keyword `{w}`"),
            Token::Word(w) | Token::Number(w) => format!("`{w}`"),
            Token::Str => "a string".into(),
            Token::Punct(c) => format!("`{c}`"),
        }
    }
}

impl Found<'_> {
    fn describe(&self) -> String {
        self.kind.describe()
    }
}

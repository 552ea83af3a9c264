//! Bad input: each syntax error in the user's words, at the right place.

use comp_grammar::{parse, Diagnostic, Span};

/// The one diagnostic `source` gives.
fn error(source: &str) -> Diagnostic {
    let mut errors = parse(source).expect_err(source);
    assert_eq!(errors.len(), 1, "{source:?}: {errors:#?}");
    errors.remove(0)
}

/// Asserts code, message and primary span (`start..end`).
fn check(source: &str, code: &str, message: &str, span: (usize, usize)) -> Diagnostic {
    let d = error(source);
    assert_eq!((d.code, d.message.as_str(), d.span()), (code, message, Span::new(span.0, span.1)), "{source:?}");
    assert!(!d.message.contains('_'), "a rule name leaked: {}", d.message);
    d
}

#[test]
fn expression_missing_after_operator() {
    let d = check("sample s = a AND\n", "E0001", "expected an expression after `AND`", (16, 16));
    assert_eq!(d.labels[0].message, "found the end of the line");
    check("sample s = a OR", "E0001", "expected an expression after `OR`", (15, 15));
    check("sample s = NOT\n", "E0001", "expected an expression after `NOT`", (14, 14));
    check("sample s = (a AND)\n", "E0001", "expected an expression after `AND`", (17, 18));
    check("sample s = ()\n", "E0001", "expected an expression after `(`", (12, 13));
    check("let x =\n", "E0001", "expected an expression after `=`", (7, 7));
    // A comment after the operator is not an expression either.
    check("sample s = ring AND # c\n", "E0001", "expected an expression after `AND`", (23, 23));
}

#[test]
fn let_and_sample_shape() {
    check("let x a\n", "E0001", "expected `=` after the let's name", (6, 7));
    check("sample s a\n", "E0001", "expected `=` after the sample's name", (9, 10));
    check("let = a\n", "E0001", "expected a name after `let`", (4, 5));
    let d = check("let AND = a\n", "E0001", "expected a name after `let`", (4, 7));
    assert!(d.help.unwrap().contains("cannot be names"));
    assert_eq!(d.labels[0].message, "found the keyword `AND`");
}

#[test]
fn windows() {
    check("sample s = a @ [0, 1\n", "E0001", "expected `]` to close the window", (20, 20));
    check("sample s = a @ [x, 1]\n", "E0001", "expected a number after `[`", (16, 17));
    check("sample s = a @ [0, ]\n", "E0001", "expected a number after `,`", (19, 20));
    check("sample s = a @ 0, 1\n", "E0001", "expected `[` after `@`", (15, 16));
    check("sample s = a @ [0 1]\n", "E0001", "expected `,` between the window's bounds", (18, 19));
}

#[test]
fn parentheses() {
    let d = check("sample s = (a b)\n", "E0001", "expected `)` to close the `(`", (14, 15));
    assert_eq!(d.labels[1].span, Span::new(11, 12));
    assert_eq!(d.help.as_deref(), Some("join terms with `AND` or `OR`"));
    check("sample s = a )\n", "E0001", "unexpected `)`", (13, 14));
    check("sample s = (a AND (b OR c)\nsample t = d\n", "E0001", "unclosed `(`", (11, 12));
    // Balanced, but a statement runs into the parenthesis of the one before.
    let d = check("sample s = (a\nsample t = b)\n", "E0001", "expected `)` to close the `(`", (14, 20));
    assert_eq!(d.labels[0].message, "found the keyword `sample`");
}

#[test]
fn calls() {
    check("sample s = f(1 2)\n", "E0001", "expected `,` or `)` after the argument", (15, 16));
    check("sample s = f(1,)\n", "E0001", "expected an argument after `,`", (15, 16));
    check("sample s = f(x: )\n", "E0001", "expected a value after `:`", (16, 17));
}

#[test]
fn settings() {
    check("scale\n", "E0001", "expected a value after `scale`", (5, 5));
    check("sample s = a with\n", "E0001", "expected a setting after `with`", (17, 17));
    check("sample s = a with scale\n", "E0001", "expected a value after `scale`", (23, 23));
    let d = check("sample s = a with scale 2 seed 3\n", "E0001", "expected the end of the line", (26, 30));
    assert_eq!(d.help.as_deref(), Some("separate `with` settings with `,`"));
    let d = check("let x = a with scale 2\n", "E0001", "expected the end of the line", (10, 14));
    assert_eq!(d.help.as_deref(), Some("only a `sample` takes `with` settings"));
    check("seed 3 4\n", "E0001", "expected the end of the line", (7, 8));
}

#[test]
fn statements() {
    let d = check("model toy2d\n= a\n", "E0001", "expected a statement", (12, 13));
    assert!(d.help.unwrap().contains("`let NAME = ...`"));
    check("= a\n", "E0001", "expected a statement", (0, 1));
    let d = check("Let x = a\n", "E0001", "expected the end of the line", (6, 7));
    assert_eq!(d.help.as_deref(), Some("keywords are lower case: `let`"));
}

#[test]
fn end_of_line_and_keyword_case() {
    let d = check("sample s = a and b\n", "E0001", "expected the end of the line", (13, 16));
    assert_eq!(d.help.as_deref(), Some("keywords are upper case: `AND`"));
    let d = check("let x = not a\n", "E0001", "expected the end of the line", (12, 13));
    assert_eq!(d.help.as_deref(), Some("keywords are upper case: `NOT`"));
    let d = check("sample s = a b\n", "E0001", "expected the end of the line", (13, 14));
    assert_eq!(d.help.as_deref(), Some("join terms with `AND` or `OR`"));
    let d = check("sample s = a & b\n", "E0001", "expected the end of the line", (13, 14));
    assert_eq!(d.help.as_deref(), Some("write `AND` for a conjunction"));
}

#[test]
fn numbers_alone_and_mixture_weights() {
    check("let x = 1\n", "E0001", "expected `*` after the number", (9, 9));
    check("sample s = 0.5 a\n", "E0001", "expected `*` after the number", (15, 16));
    check("sample s = 0.7 : a\n", "E0001", "a mixture weight needs an `OR`", (11, 18));
}

#[test]
fn strings() {
    check("sample s = \"abc\n", "E0001", "unterminated string", (11, 15));
    check("sample s = \"a\\qb\"\n", "E0001", "unknown escape `\\q` in a string", (13, 15));
}

#[test]
fn overflow_is_e0004_and_all_are_reported() {
    let d = check("scale 1e999\n", "E0004", "number overflows", (6, 11));
    assert_eq!(d.help.as_deref(), Some("write a smaller number"));
    let errors = parse("scale -1e400\nsample s = 1e309 * a @ [0, 2e308]\n").unwrap_err();
    let spans: Vec<(&str, Span)> = errors.iter().map(|d| (d.code, d.span())).collect();
    assert_eq!(spans, [("E0004", Span::new(6, 12)), ("E0004", Span::new(24, 29)), ("E0004", Span::new(40, 45))]);
    assert!(parse("scale 1e308\nscale 1e-999\n").is_ok());
}

#[test]
fn not_utf8_is_e0002() {
    let d = comp_grammar::decode(b"model toy2d\nsample s = \xe9t\xe9\n").unwrap_err();
    assert_eq!((d.code, d.message.as_str(), d.span()), ("E0002", "the file is not UTF-8", Span::new(23, 24)));
    assert_eq!(d.help.as_deref(), Some("save the file as UTF-8"));
    // A truncated multi-byte character at the very end.
    let d = comp_grammar::decode(b"a \xc3").unwrap_err();
    assert_eq!(d.span(), Span::new(2, 3));
    assert_eq!(comp_grammar::decode("é\n".as_bytes()).unwrap(), "é\n");
}

#[test]
fn lone_carriage_returns_are_named() {
    // Classic Mac line endings: without this check the file is one line and the error lands
    // on `sample` with "expected the end of the line".
    let errs = comp_grammar::parse("model toy2d\rsample s = ring AND bar\r").unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!((errs[0].code, errs[0].span()), ("E0001", comp_grammar::Span::new(11, 12)));
    assert_eq!(errs[0].message, "a line ends with a carriage return alone (`\\r` without `\\n`)");
    // Windows line endings are fine.
    assert!(comp_grammar::parse("model toy2d\r\nsample s = ring AND bar\r\n").is_ok());
}

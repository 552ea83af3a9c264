//! From text to [`Program`]: the only file that names pest types.
//!
//! 1. [`prepass`](crate::prepass) blanks comments and in-parenthesis line breaks and bounds
//!    the nesting of parentheses.
//! 2. pest parses the result with `comp.pest`; a failure becomes one E0001 through
//!    [`syntax_error`](crate::syntax_error), which sees pest's expected rules only as
//!    [`Expected`] values.
//! 3. The pairs become the AST. Each `pair.as_span()` becomes a [`Span`] once, in [`span`].
//!    This step also reports, all together: numbers that overflow to infinity (E0004), prefix
//!    or window chains longer than [`MAX_CHAIN`] and expressions nested deeper than
//!    [`MAX_DEPTH`] (E0003), and a mixture weight on an expression with no `OR` (E0001).
//!
//! Recursion in step 3 follows parentheses only (at most 64 deep after the pre-pass): prefix
//! operators and windows are flat repetitions in the grammar and are folded in loops here.

use crate::ast::{
    Arg, ArgValue, Branch, Dimensions, Expr, ExprKind, Ident, Item, Let, ModelAlias, Number, Program, Sample, Setting, SettingValue,
};
use crate::prepass::prepare;
use crate::syntax_error::{syntax_error, Expected};
use crate::{Diagnostic, Span};
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::Parser as _;

/// The longest chain of prefix operators (`NOT`, `w *`) on one term, and of windows on one atom.
pub const MAX_CHAIN: usize = 64;

/// The deepest an expression tree may be (counting every node: parentheses, `OR`, `AND`,
/// `NOT`, weights, windows), so later passes can recurse over it freely.
pub const MAX_DEPTH: usize = 256;

#[derive(pest_derive::Parser)]
#[grammar = "comp.pest"]
struct CompParser;

/// Parses a `.comp` file.
///
/// On success the program has every statement and every comment, each with its byte span.
/// On failure the diagnostics are: the pre-pass's (E0003 for too many parentheses, E0001 for
/// unbalanced ones), or the first syntax error (E0001), or every number that overflows
/// (E0004), every too-deep nesting (E0003) and every misplaced mixture weight (E0001).
///
/// ```
/// use comp_grammar::ast::{ExprKind, Item};
/// let program = comp_grammar::parse("sample s = ring AND NOT bar  # the ring without the bar\n").unwrap();
/// let Item::Sample(sample) = &program.items[0] else { panic!() };
/// assert!(matches!(sample.expr.kind, ExprKind::And(_)));
/// assert_eq!(program.comments[0].text, "# the ring without the bar");
/// ```
pub fn parse(source: &str) -> Result<Program, Vec<Diagnostic>> {
    lone_carriage_return(source)?;
    let prepared = prepare(source)?;
    let text = prepared.text.as_str();
    let mut pairs = CompParser::parse(Rule::program, text).map_err(|error| {
        let pos = match error.location {
            InputLocation::Pos(pos) => pos,
            InputLocation::Span((start, _)) => start,
        };
        let expected: Vec<Expected> = match &error.variant {
            ErrorVariant::ParsingError { positives, .. } => positives.iter().filter_map(|&r| expected(r)).collect(),
            ErrorVariant::CustomError { .. } => Vec::new(),
        };
        vec![syntax_error(text, pos, &expected, &prepared.parens)]
    })?;
    let program = pairs.next().expect("grammar guarantees a program");

    let mut cx = Convert { errors: Vec::new(), too_deep: false };
    let items = program
        .into_inner()
        .filter(|p| matches!(p.as_rule(), Rule::let_stmt | Rule::sample_stmt | Rule::model_stmt | Rule::setting))
        .map(|p| cx.item(p))
        .collect();
    if cx.errors.is_empty() {
        Ok(Program { items, comments: prepared.comments })
    } else {
        cx.errors.sort_by_key(|d| d.span().start);
        Err(cx.errors)
    }
}

/// What each rule means to a user, for syntax errors.
fn expected(rule: Rule) -> Option<Expected> {
    use Expected as E;
    Some(match rule {
        Rule::program
        | Rule::let_stmt
        | Rule::sample_stmt
        | Rule::model_stmt
        | Rule::setting
        | Rule::let_kw
        | Rule::sample_kw
        | Rule::model_kw => E::Statement,
        Rule::expr
        | Rule::branch
        | Rule::conj
        | Rule::prefixed
        | Rule::weight_op
        | Rule::windowed
        | Rule::paren
        | Rule::qualified
        | Rule::model_ref
        | Rule::call
        | Rule::text
        | Rule::not_op
        | Rule::open_paren => E::Expression,
        Rule::setting_value | Rule::dimensions => E::SettingValue,
        Rule::arg => E::Argument,
        Rule::arg_value => E::ArgValue,
        Rule::name => E::Name,
        Rule::number => E::Number,
        Rule::assign => E::Assign,
        Rule::times => E::Times,
        Rule::mix_colon => E::MixColon,
        Rule::arg_colon => E::ArgColon,
        Rule::with_comma => E::WithComma,
        Rule::arg_comma => E::ArgComma,
        Rule::close_args => E::CloseArgs,
        Rule::open_args => E::OpenArgs,
        Rule::close_paren => E::CloseParen,
        Rule::open_bracket => E::OpenBracket,
        Rule::window_comma => E::WindowComma,
        Rule::close_bracket => E::CloseBracket,
        Rule::and_op | Rule::or_op | Rule::at => E::Operator,
        Rule::with_kw => E::With,
        Rule::line_end | Rule::EOI => E::EndOfLine,
        Rule::with_clause | Rule::window | Rule::statement | Rule::atom | Rule::keyword | Rule::name_char | Rule::WHITESPACE => {
            return None
        }
    })
}

/// The one conversion of a pest span. pest leaves the white space skipped before a failed
/// repetition (`a ~ (b ~ c)*`) inside the pair; no construct ends with white space, so it is
/// trimmed off.
fn span(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    let end = s.start() + s.as_str().trim_end_matches([' ', '\t', '\r']).len();
    Span::new(s.start(), end)
}

/// Is this pair a punctuation or keyword token (kept in the tree for error messages only)?
fn is_token(pair: &Pair<'_, Rule>) -> bool {
    matches!(
        pair.as_rule(),
        Rule::assign
            | Rule::times
            | Rule::mix_colon
            | Rule::arg_colon
            | Rule::with_comma
            | Rule::arg_comma
            | Rule::open_args
            | Rule::close_args
            | Rule::open_paren
            | Rule::close_paren
            | Rule::at
            | Rule::open_bracket
            | Rule::window_comma
            | Rule::close_bracket
            | Rule::let_kw
            | Rule::model_kw
            | Rule::sample_kw
            | Rule::with_kw
            | Rule::or_op
            | Rule::and_op
    )
}

/// Pairs to AST, collecting E0003/E0004 and misplaced mixture weights.
struct Convert {
    errors: Vec<Diagnostic>,
    /// Whether "nested too deep" was reported (once is enough).
    too_deep: bool,
}

/// The children of a pair without its punctuation and keyword tokens.
fn children<'i>(pair: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    pair.into_inner().filter(|p| !is_token(p))
}

impl Convert {
    fn item(&mut self, pair: Pair<'_, Rule>) -> Item {
        let whole = span(&pair);
        match pair.as_rule() {
            Rule::let_stmt => {
                let mut inner = children(pair);
                let name = ident(inner.next().expect("grammar guarantees a let's name"));
                let expr = self.expr(inner.next().expect("grammar guarantees a let's expression"), 0);
                Item::Let(Let { name, expr, span: whole })
            }
            Rule::sample_stmt => {
                let mut inner = children(pair);
                let name = ident(inner.next().expect("grammar guarantees a sample's name"));
                let expr = self.expr(inner.next().expect("grammar guarantees a sample's expression"), 0);
                let overrides = match inner.next() {
                    Some(with) => children(with).map(|s| self.setting(s)).collect(),
                    None => Vec::new(),
                };
                Item::Sample(Sample { name, expr, overrides, span: whole })
            }
            Rule::setting => Item::Setting(self.setting(pair)),
            Rule::model_stmt => {
                let mut inner = children(pair);
                let alias = ident(inner.next().expect("grammar guarantees a model's alias"));
                let model = ident(inner.next().expect("grammar guarantees a model's name"));
                Item::Model(ModelAlias { alias, model, span: whole })
            }
            rule => unreachable!("grammar guarantees a statement, not {rule:?}"),
        }
    }

    fn setting(&mut self, pair: Pair<'_, Rule>) -> Setting {
        let whole = span(&pair);
        let mut inner = children(pair);
        let name = ident(inner.next().expect("grammar guarantees a setting's name"));
        let value = inner.next().expect("grammar guarantees a setting's value");
        let value = value.into_inner().next().expect("grammar guarantees an expression or a number");
        let value = match value.as_rule() {
            Rule::number => SettingValue::Number(self.number(value)),
            Rule::dimensions => {
                let text = value.as_str().to_string();
                let (w, h) = text.split_once('x').expect("grammar guarantees `WxH`");
                SettingValue::Dimensions(Dimensions { width: w.parse().ok(), height: h.parse().ok(), span: span(&value), text })
            }
            _ => SettingValue::Expr(self.expr(value, 0)),
        };
        Setting { name, value, span: whole }
    }

    /// Reports E0003 (once) if a node at `depth` is too deep; `false` if it is.
    fn check_depth(&mut self, depth: usize, at: Span) -> bool {
        if depth > MAX_DEPTH {
            if std::mem::replace(&mut self.too_deep, true) {
                return false;
            }
            self.errors.push(
                Diagnostic::error("E0003", "nesting too deep", at)
                    .with_label(format!("this expression is nested more than {MAX_DEPTH} deep"))
                    .with_help("split the expression into `let`s"),
            );
            return false;
        }
        true
    }

    /// `expr`: `OR` branches. `depth` is the number of expression nodes above this one (a
    /// single branch or term makes no node of its own).
    fn expr(&mut self, pair: Pair<'_, Rule>, depth: usize) -> Expr {
        let whole = span(&pair);
        let below = depth + usize::from(children(pair.clone()).nth(1).is_some());
        let mut branches: Vec<Branch> = children(pair).map(|b| self.branch(b, below)).collect();
        if branches.len() == 1 {
            let branch = branches.pop().expect("one branch");
            if let Some(weight) = &branch.weight {
                self.errors.push(
                    Diagnostic::error("E0001", "a mixture weight needs an `OR`", weight.span.to(branch.span))
                        .with_label("a mixture weight on an expression with no `OR`")
                        .with_help("write `0.7 : a OR 0.3 : b`, or drop the weight and the `:`"),
                );
            }
            return branch.expr;
        }
        self.check_depth(depth, whole);
        Expr { kind: ExprKind::Or(branches), span: whole }
    }

    fn branch(&mut self, pair: Pair<'_, Rule>, depth: usize) -> Branch {
        let whole = span(&pair);
        let mut weight = None;
        let mut expr = None;
        for p in children(pair) {
            match p.as_rule() {
                Rule::number => weight = Some(self.number(p)),
                _ => expr = Some(self.conj(p, depth)),
            }
        }
        Branch { weight, expr: expr.expect("grammar guarantees a branch's expression"), span: whole }
    }

    fn conj(&mut self, pair: Pair<'_, Rule>, depth: usize) -> Expr {
        let whole = span(&pair);
        let below = depth + usize::from(children(pair.clone()).nth(1).is_some());
        let mut terms: Vec<Expr> = children(pair).map(|p| self.prefixed(p, below)).collect();
        if terms.len() == 1 {
            return terms.pop().expect("one term");
        }
        self.check_depth(depth, whole);
        Expr { kind: ExprKind::And(terms), span: whole }
    }

    /// `prefixed`: a flat list of prefix operators, folded right to left in a loop.
    fn prefixed(&mut self, pair: Pair<'_, Rule>, depth: usize) -> Expr {
        let mut ops: Vec<Pair<'_, Rule>> = children(pair).collect();
        let windowed = ops.pop().expect("grammar guarantees a term after prefix operators");
        if ops.len() > MAX_CHAIN {
            let at = span(&ops[MAX_CHAIN]);
            self.errors.push(
                Diagnostic::error("E0003", "nesting too deep", at)
                    .with_label(format!("more than {MAX_CHAIN} prefix operators on one term"))
                    .with_help("split the expression into `let`s"),
            );
            return Expr { kind: ExprKind::Name(Ident { name: String::new(), span: at }), span: at };
        }
        if let Some(last) = ops.last() {
            self.check_depth(depth + ops.len() - 1, span(last));
        }
        let mut expr = self.windowed(windowed, depth + ops.len());
        for op in ops.into_iter().rev() {
            let whole = span(&op).to(expr.span);
            let kind = match op.as_rule() {
                Rule::not_op => ExprKind::Not(Box::new(expr)),
                _ => {
                    let number = op.into_inner().next().expect("grammar guarantees a weight's number");
                    ExprKind::Weight { weight: self.number(number), expr: Box::new(expr) }
                }
            };
            expr = Expr { kind, span: whole };
        }
        expr
    }

    /// `windowed`: an atom and a flat list of windows, folded left to right in a loop.
    fn windowed(&mut self, pair: Pair<'_, Rule>, depth: usize) -> Expr {
        let mut inner = pair.into_inner();
        let atom = inner.next().expect("grammar guarantees an atom");
        let windows: Vec<Pair<'_, Rule>> = inner.collect();
        if windows.len() > MAX_CHAIN {
            let at = span(&windows[MAX_CHAIN]);
            self.errors.push(
                Diagnostic::error("E0003", "nesting too deep", at)
                    .with_label(format!("more than {MAX_CHAIN} windows on one term"))
                    .with_help("one window is enough: intersect the ranges by hand"),
            );
            return Expr { kind: ExprKind::Name(Ident { name: String::new(), span: at }), span: at };
        }
        if let Some(first) = windows.first() {
            self.check_depth(depth + windows.len() - 1, span(first));
        }
        let mut expr = self.atom(atom, depth + windows.len());
        for window in windows {
            let whole = expr.span.to(span(&window));
            let mut bounds = children(window);
            let from = self.number(bounds.next().expect("grammar guarantees a window's start"));
            let to = self.number(bounds.next().expect("grammar guarantees a window's end"));
            expr = Expr { kind: ExprKind::Window { expr: Box::new(expr), from, to }, span: whole };
        }
        expr
    }

    fn atom(&mut self, pair: Pair<'_, Rule>, depth: usize) -> Expr {
        let whole = span(&pair);
        let kind = match pair.as_rule() {
            Rule::name => ExprKind::Name(ident(pair)),
            Rule::text => ExprKind::Text(unescape(pair.as_str())),
            Rule::paren => {
                if !self.check_depth(depth, whole) {
                    return Expr { kind: ExprKind::Name(Ident { name: String::new(), span: whole }), span: whole };
                }
                let inner = children(pair).next().expect("grammar guarantees an expression in parentheses");
                ExprKind::Paren(Box::new(self.expr(inner, depth + 1)))
            }
            Rule::call => {
                let mut inner = children(pair);
                let name = ident(inner.next().expect("grammar guarantees a call's name"));
                let args = inner.map(|a| self.arg(a)).collect();
                ExprKind::Call { name, args }
            }
            Rule::qualified => {
                let mut inner = children(pair);
                let model_ref = inner.next().expect("grammar guarantees a model's name");
                let s = span(&model_ref);
                // The dot is part of the token; the model's name is what precedes it.
                let text = model_ref.as_str();
                let model = Ident { name: text[..text.len() - 1].to_string(), span: Span::new(s.start as usize, s.end as usize - 1) };
                let term = self.atom(inner.next().expect("grammar guarantees a term after the model's name"), depth);
                ExprKind::Qualified { model, expr: Box::new(term) }
            }
            rule => unreachable!("grammar guarantees an atom, not {rule:?}"),
        };
        Expr { kind, span: whole }
    }

    fn arg(&mut self, pair: Pair<'_, Rule>) -> Arg {
        let whole = span(&pair);
        let mut name = None;
        let mut value = None;
        for p in children(pair) {
            match p.as_rule() {
                Rule::name => name = Some(ident(p)),
                _ => {
                    let v = p.into_inner().next().expect("grammar guarantees an argument's value");
                    value = Some(match v.as_rule() {
                        Rule::number => ArgValue::Number(self.number(v)),
                        Rule::name => ArgValue::Name(ident(v)),
                        _ => ArgValue::Text { value: unescape(v.as_str()), span: span(&v) },
                    });
                }
            }
        }
        Arg { name, value: value.expect("grammar guarantees an argument's value"), span: whole }
    }

    /// A number literal; E0004 if it overflows to infinity.
    fn number(&mut self, pair: Pair<'_, Rule>) -> Number {
        let text = pair.as_str().to_string();
        let value: f64 = text.parse().expect("grammar guarantees a number Rust can read");
        let span = span(&pair);
        if value.is_infinite() {
            self.errors.push(
                Diagnostic::error("E0004", "number overflows", span)
                    .with_label("this is larger than the largest number, about 1.8e308")
                    .with_help("write a smaller number"),
            );
        }
        Number { value, text, span }
    }
}

fn ident(pair: Pair<'_, Rule>) -> Ident {
    Ident { name: pair.as_str().to_string(), span: span(&pair) }
}

/// A string literal's value: quotes removed, escapes resolved (the grammar allows only
/// `\"`, `\\`, `\n`, `\t`).
fn unescape(literal: &str) -> String {
    let body = &literal[1..literal.len() - 1];
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next().expect("grammar guarantees a character after `\\`") {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A `\r` not followed by `\n` (classic Mac OS line endings, or a stray byte): the file would
/// read as one long line and fail somewhere confusing, so it is E0001 at the first one.
fn lone_carriage_return(source: &str) -> Result<(), Vec<Diagnostic>> {
    let bytes = source.as_bytes();
    match bytes.iter().enumerate().position(|(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
        None => Ok(()),
        Some(at) => {
            Err(vec![Diagnostic::error("E0001", "a line ends with a carriage return alone (`\\r` without `\\n`)", Span::new(at, at + 1))
                .with_label("a lone carriage return")
                .with_help("save the file with `\\n` (Unix) or `\\r\\n` (Windows) line endings")])
        }
    }
}

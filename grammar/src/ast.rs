//! The syntax tree of a `.comp` file. Every node carries the byte span it was parsed from.
//!
//! The tree is exactly what was written: parentheses are kept (`Paren`), lets are not inlined,
//! nothing is checked against a model. The compiler does all of that.

use crate::Span;
use serde::Serialize;

/// A whole file: its statements in order, and its comments (kept for `comp fmt`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Program {
    pub items: Vec<Item>,
    pub comments: Vec<Comment>,
}

/// A `# ...` comment. `text` starts with `#` and has no line break.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

/// A name as written: `ring`, `stripe`, `scale`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A number literal: `7.5`, `-0.3`, `1e-3`. `text` is the literal as written, for `fmt`.
/// `value` may be infinite when the literal overflows; the parser reports that (E0004).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Number {
    pub value: f64,
    pub text: String,
    pub span: Span,
}

/// One statement.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    /// `scale 7.5`, `model toy2d`, `sampler ddpm(steps: 100)`, `base none`
    Setting(Setting),
    /// `let stripe = bar`
    Let(Let),
    /// `sample product = ring AND stripe` or `sample s = ring AND bar with scale 5, seed 3`
    Sample(Sample),
    /// `model exact = toy2d`: a model under a name of the script's. (`model toy2d`, without
    /// a name, is a [`Setting`].)
    Model(ModelAlias),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Setting(s) => s.span,
            Item::Let(l) => l.span,
            Item::Sample(s) => s.span,
            Item::Model(m) => m.span,
        }
    }
}

/// `NAME VALUE`: a setting, at top level or in a sample's `with` list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setting {
    pub name: Ident,
    pub value: SettingValue,
    pub span: Span,
}

/// What a setting is set to: a plain number (`scale 7.5`, `seed 3`) or an expression
/// (`model toy2d`, `base none`, `sampler ddim(steps: 50, eta: 0)`, `base 0.5 * ring`).
///
/// Serialised adjacently tagged (`{"kind": "expr", "value": {...}}`): an `Expr` has a `kind`
/// of its own, and an internal tag would write that key twice.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum SettingValue {
    Number(Number),
    Expr(Expr),
    /// `512x768`: width by height, as written (the checker bounds them).
    Dimensions(Dimensions),
}

/// An image size as written: `512x768` is width 512, height 768.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dimensions {
    /// `None` when a side does not fit in `u64` (the checker reports it).
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub text: String,
    pub span: Span,
}

impl SettingValue {
    pub fn span(&self) -> Span {
        match self {
            SettingValue::Number(n) => n.span,
            SettingValue::Expr(e) => e.span,
            SettingValue::Dimensions(d) => d.span,
        }
    }
}

/// `model ALIAS = NAME`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelAlias {
    /// The script's name for the model: `exact` in `model exact = toy2d`.
    pub alias: Ident,
    /// The model: `toy2d`.
    pub model: Ident,
    pub span: Span,
}

/// `let NAME = EXPR`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Let {
    pub name: Ident,
    pub expr: Expr,
    pub span: Span,
}

/// `sample NAME = EXPR [with SETTING, SETTING...]`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sample {
    pub name: Ident,
    pub expr: Expr,
    /// Settings that apply to this sample only (`with scale 5, seed 3`).
    pub overrides: Vec<Setting>,
    pub span: Span,
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// The expression forms, loosest-binding first.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", content = "of", rename_all = "snake_case")]
pub enum ExprKind {
    /// `a OR b OR c`, `0.7 : a OR 0.3 : b`: a mixture, two or more branches (n-ary, flat).
    Or(Vec<Branch>),
    /// `a AND b AND c`: a conjunction, two or more terms (n-ary, flat).
    And(Vec<Expr>),
    /// `NOT e`
    Not(Box<Expr>),
    /// `w * e`
    Weight { weight: Number, expr: Box<Expr> },
    /// `e @ [from, to]`: active only in that fraction of the trajectory (0 = pure noise, 1 = end).
    Window { expr: Box<Expr>, from: Number, to: Number },
    /// `ring`, `stripe`, `none`, `null`: a concept, a let, or a keyword-like name.
    Name(Ident),
    /// `pos(0.25, 0.5)`, `ddpm(steps: 100)`: a constructor call.
    Call { name: Ident, args: Vec<Arg> },
    /// `"a red cube"`: a text prompt (the string without quotes, escapes resolved).
    Text(String),
    /// `( e )`
    Paren(Box<Expr>),
    /// `exact.ring`, `a.pos(0.2, 0.3)`, `sd."a cat"`, `a.null`: a term of the model named
    /// `model`; `expr` is a `Name`, `Call` or `Text`.
    Qualified { model: Ident, expr: Box<Expr> },
}

/// One branch of an `OR`: `0.7 : e` or just `e` (mixture weight 1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Branch {
    pub weight: Option<Number>,
    pub expr: Expr,
    pub span: Span,
}

/// A constructor argument: positional (`0.25`) or named (`steps: 100`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: ArgValue,
    pub span: Span,
}

/// An argument's value: a number, a name (`beta`, `true`), or a string.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArgValue {
    Number(Number),
    Name(Ident),
    Text { value: String, span: Span },
}

impl ArgValue {
    pub fn span(&self) -> Span {
        match self {
            ArgValue::Number(n) => n.span,
            ArgValue::Name(i) => i.span,
            ArgValue::Text { span, .. } => *span,
        }
    }
}

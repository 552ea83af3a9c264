//! The compiler's own intermediate forms, between the syntax tree and the `Plan`.
//!
//! - [`Node`]: a resolved expression tree. Names are resolved (to a [`Cond`] or a let),
//!   parentheses are gone, constructor arguments are bound with defaults filled in.
//! - [`Dnf`]: the canonical form after distribution: a mixture of branches, each a flat
//!   conjunction of [`Term`]s `(condition, signed weight, window)`.
//!
//! Spans are kept so checks and lints on these forms point at what the user wrote.

use comp_grammar::Span;
use std::fmt;

/// Which of the file's models a condition belongs to: `None` in a file with one model (its
/// plan is exactly as before several models existed), the model's alias (`exact`) otherwise.
pub type ModelTag = Option<String>;

/// What a model is called with: the identity of a condition.
///
/// Two conditions are the same when they belong to the same model and are the same concept
/// with the same arguments (defaults filled in), the same text, or both `null`.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// `null`: the model's unconditional prediction.
    Null { model: ModelTag },
    /// `ring` (no args) or `pos(0.25, 0.5)` (args in positional order, defaults filled).
    Concept { model: ModelTag, name: String, args: Vec<f64> },
    /// `"a red cube"`
    Text { model: ModelTag, text: String },
}

impl Cond {
    /// The model the condition belongs to (see [`ModelTag`]).
    pub fn model(&self) -> Option<&str> {
        match self {
            Cond::Null { model } | Cond::Concept { model, .. } | Cond::Text { model, .. } => model.as_deref(),
        }
    }
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = self.model() {
            write!(f, "{m}.")?;
        }
        match self {
            Cond::Null { .. } => write!(f, "null"),
            Cond::Concept { name, args, .. } if args.is_empty() => write!(f, "{name}"),
            Cond::Concept { name, args, .. } => {
                let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                write!(f, "{name}({})", args.join(", "))
            }
            Cond::Text { text, .. } => write!(f, "{text:?}"),
        }
    }
}

/// A half-open fraction `[from, to)` of the trajectory (0 = pure noise, 1 = end).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub from: f64,
    pub to: f64,
}

impl Window {
    /// The whole trajectory, `[0, 1]`.
    pub const FULL: Window = Window { from: 0.0, to: 1.0 };

    /// The overlap of two windows; `None` when they do not overlap.
    pub fn intersect(self, other: Window) -> Option<Window> {
        let w = Window { from: self.from.max(other.from), to: self.to.min(other.to) };
        (w.from < w.to).then_some(w)
    }

    pub fn is_full(self) -> bool {
        self == Window::FULL
    }

    /// Whether `[from, to)` lies inside this window.
    pub fn covers(self, from: f64, to: f64) -> bool {
        self.from <= from && to <= self.to
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.from, self.to)
    }
}

/// A resolved expression. Each variant's doc shows the syntax it comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// `ring`, `pos(0.25, 0.5)`, `"a red cube"`, `null`. `span` is where it is written;
    /// `site` is where it enters a sample when it comes through a let (`stripe` for
    /// `let stripe = bar`), set by inlining.
    Cond { cond: Cond, span: Span, site: Option<Span> },
    /// `stripe`, where `let stripe = ...` (before inlining).
    Let { name: String, span: Span },
    /// `a AND b AND c`
    And(Vec<Node>),
    /// `0.7 : a OR 0.3 : b`; `span` covers the whole `OR`.
    Or { branches: Vec<(f64, Node)>, span: Span },
    /// `NOT e`; `span` is the `NOT` keyword.
    Not { expr: Box<Node>, span: Span },
    /// `w * e`; `span` is the number `w`.
    Weight { weight: f64, expr: Box<Node>, span: Span },
    /// `e @ [from, to]`; `span` covers the bounds.
    Window { window: Window, expr: Box<Node>, span: Span },
    /// Something that did not resolve; its error is already reported.
    Error,
}

impl Node {
    /// Calls `f` on this node and every node below it (lets are not followed), without
    /// recursion, so deep trees cannot overflow the stack.
    pub fn walk(&self, mut f: impl FnMut(&Node)) {
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            f(n);
            match n {
                Node::And(xs) => stack.extend(xs.iter().rev()),
                Node::Or { branches, .. } => stack.extend(branches.iter().rev().map(|(_, b)| b)),
                Node::Not { expr, .. } | Node::Weight { expr, .. } | Node::Window { expr, .. } => stack.push(expr),
                Node::Cond { .. } | Node::Let { .. } | Node::Error => {}
            }
        }
    }

    /// Whether `Error` occurs anywhere below (lets not followed).
    pub fn has_error(&self) -> bool {
        let mut found = false;
        self.walk(|n| found |= matches!(n, Node::Error));
        found
    }
}

/// Why a term is negative: the operator that made it so (for E0110's span and message).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Negation {
    pub span: Span,
    /// `true` for `NOT`, `false` for a negative weight.
    pub is_not: bool,
}

/// One term of a conjunction: `0.5 * pos(0.2, 0.8) @ [0, 0.6]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub cond: Cond,
    /// Signed weight: the product of the weights on the way down, NOT counting −1.
    pub weight: f64,
    pub window: Window,
    /// Where the term is written as seen from the sample (the let use, or the atom itself).
    pub span: Span,
    /// The outermost `NOT` or negative weight that made it negative, when it is.
    pub negation: Option<Negation>,
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} * {}", self.weight, self.cond)?;
        if !self.window.is_full() {
            write!(f, " @ {}", self.window)?;
        }
        Ok(())
    }
}

/// One branch of the mixture: a conjunction with a mixture weight `m > 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct Conj {
    pub mix: f64,
    pub terms: Vec<Term>,
}

/// Disjunctive normal form: `m_1 : (t AND t ...) OR m_2 : (...) OR ...`. One branch when the
/// expression has no `OR`. Mixture weights are normalised to sum to 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Dnf {
    pub branches: Vec<Conj>,
}

fn write_conj(f: &mut fmt::Formatter<'_>, terms: &[Term]) -> fmt::Result {
    if terms.is_empty() {
        return write!(f, "nothing");
    }
    for (i, t) in terms.iter().enumerate() {
        if i > 0 {
            write!(f, " AND ")?;
        }
        write!(f, "{t}")?;
    }
    Ok(())
}

impl fmt::Display for Dnf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.branches.len() == 1 {
            return write_conj(f, &self.branches[0].terms);
        }
        for (i, b) in self.branches.iter().enumerate() {
            if i > 0 {
                write!(f, " OR ")?;
            }
            write!(f, "{} : (", b.mix)?;
            write_conj(f, &b.terms)?;
            write!(f, ")")?;
        }
        Ok(())
    }
}

/// A stretch `[from, to)` of the trajectory and the branches active in it (terms whose
/// window covers the stretch; their windows no longer matter).
#[derive(Clone, Debug, PartialEq)]
pub struct Stretch {
    pub from: f64,
    pub to: f64,
    pub dnf: Dnf,
}

//! Name resolution: from a syntax-tree expression to a resolved [`Node`].
//!
//! A name is, in this order: a `let` of the file, `null`, or a concept of the model. Lets
//! shadow concepts (lint W0004 says so). Constructor arguments are bound (see
//! [`crate::check::args`]). Reports, each at the offending token: E0103 (unknown name, with
//! did-you-mean over concepts and lets) and E0120 (wrong form: a constructor without
//! arguments, a bare concept or a let called). The checks of what a node may be run as it is
//! resolved, from their own files: arguments (E0104–E0107, [`check::args`]), text for a model
//! without text (E0111, [`check::text`]), `OR` without energies and mixture weights (E0112,
//! E0106, [`check::mixture`]), window bounds (E0115, [`check::windows`]).
//!
//! Before: `pos(y: 0.5, x: 0.25) AND (stripe)` with `let stripe = ...`
//! After: `And[Cond(pos(0.25, 0.5)), Let(stripe)]`.
//!
//! When the model is unknown (`model_info` is `None`) names other than lets and `null` are
//! not reported: E0101 has said what is wrong.

use crate::check;
use crate::check::args::{bind_args, ParamSpec};
use crate::ir::{Cond, Node, Window};
use crate::model_info::ModelInfo;
use crate::suggest::did_you_mean;
use comp_grammar::ast::{Expr, ExprKind};
use comp_grammar::{Diagnostic, Span};
use std::collections::BTreeSet;

/// What names mean in a file.
pub struct Scope<'a> {
    pub model: Option<&'a ModelInfo>,
    pub lets: &'a BTreeSet<String>,
}

impl Scope<'_> {
    fn candidates(&self) -> Vec<&str> {
        let mut c: Vec<&str> = self.lets.iter().map(String::as_str).collect();
        if let Some(m) = self.model {
            c.extend(m.concepts.iter().map(|c| c.name.as_str()));
        }
        c.push("null");
        c
    }

    fn unknown(&self, name: &str, span: Span) -> Diagnostic {
        let mut d = Diagnostic::error("E0103", format!("unknown name `{name}`"), span)
            .with_label("not a concept of the model or a `let`");
        d.help = did_you_mean(name, self.candidates());
        if let Some(m) = self.model {
            let concepts: Vec<&str> = m.concepts.iter().map(|c| c.name.as_str()).collect();
            d = d.with_note(format!("`{}` knows: {}", m.name, concepts.join(", ")));
        }
        d
    }
}

/// The span of the `NOT` keyword of `NOT e` spanning `span`.
fn not_keyword(span: Span) -> Span {
    Span { start: span.start, end: (span.start + 3).min(span.end) }
}

/// Resolves `expr`. Problems go to `diags`; the unresolvable parts become [`Node::Error`].
pub fn resolve(expr: &Expr, scope: &Scope, diags: &mut Vec<Diagnostic>) -> Node {
    match &expr.kind {
        ExprKind::Paren(e) => resolve(e, scope, diags),
        ExprKind::And(xs) => Node::And(xs.iter().map(|x| resolve(x, scope, diags)).collect()),
        ExprKind::Or(branches) => {
            check::mixture::check_energies(scope.model, expr.span, diags);
            let weights = check::mixture::mixture_weights(branches, diags);
            let out: Vec<(f64, Node)> = branches.iter().map(|b| resolve(&b.expr, scope, diags)).zip(weights.iter().copied()).map(|(n, m)| (m.unwrap_or(1.0), n)).collect();
            if weights.iter().any(Option::is_none) {
                Node::Error
            } else {
                Node::Or { branches: out, span: expr.span }
            }
        }
        ExprKind::Not(e) => Node::Not { expr: Box::new(resolve(e, scope, diags)), span: not_keyword(expr.span) },
        ExprKind::Weight { weight, expr: e } => {
            Node::Weight { weight: weight.value, expr: Box::new(resolve(e, scope, diags)), span: weight.span }
        }
        ExprKind::Window { expr: e, from, to } => {
            let inner = resolve(e, scope, diags);
            if !check::windows::check_bounds(from, to, diags) {
                return Node::Error;
            }
            Node::Window { window: Window { from: from.value, to: to.value }, expr: Box::new(inner), span: from.span.to(to.span) }
        }
        ExprKind::Text(t) => {
            if !check::text::check_text_model(scope.model, expr.span, diags) {
                return Node::Error;
            }
            Node::Cond { cond: Cond::Text(t.clone()), span: expr.span, site: None }
        }
        ExprKind::Name(id) => {
            let span = id.span;
            if scope.lets.contains(&id.name) {
                return Node::Let { name: id.name.clone(), span };
            }
            if id.name == "null" {
                return Node::Cond { cond: Cond::Null, span, site: None };
            }
            let Some(m) = scope.model else { return Node::Error };
            match m.concept(&id.name) {
                Some(c) if c.params.is_empty() => {
                    Node::Cond { cond: Cond::Concept { name: c.name.clone(), args: vec![] }, span, site: None }
                }
                Some(c) => {
                    let sig: Vec<&str> = c.params.iter().map(|p| p.name.as_str()).collect();
                    diags.push(
                        Diagnostic::error("E0120", format!("`{}` is a constructor: it needs arguments", c.name), span)
                            .with_label("called without arguments")
                            .with_help(format!("write `{}({})`", c.name, sig.join(", "))),
                    );
                    Node::Error
                }
                None => {
                    diags.push(scope.unknown(&id.name, span));
                    Node::Error
                }
            }
        }
        ExprKind::Call { name, args } => {
            let wrong_form = |what: String, help: String| {
                Diagnostic::error("E0120", what, name.span).with_label("called with arguments").with_help(help)
            };
            if scope.lets.contains(&name.name) {
                diags.push(wrong_form(
                    format!("`{}` is a `let`, not a constructor", name.name),
                    format!("write `{}` without arguments", name.name),
                ));
                return Node::Error;
            }
            if name.name == "null" {
                diags.push(wrong_form("`null` takes no arguments".into(), "write `null`".into()));
                return Node::Error;
            }
            let Some(m) = scope.model else { return Node::Error };
            match m.concept(&name.name) {
                Some(c) if c.params.is_empty() => {
                    diags.push(wrong_form(
                        format!("`{}` is a concept without parameters", c.name),
                        format!("write `{}` without arguments", c.name),
                    ));
                    Node::Error
                }
                Some(c) => {
                    let params: Vec<ParamSpec> = c.params.iter().map(ParamSpec::from).collect();
                    match bind_args(&c.name, &params, args, expr.span, diags) {
                        Some(values) => Node::Cond {
                            // -0.0 and 0.0 are one condition.
                            cond: Cond::Concept { name: c.name.clone(), args: values.iter().map(|v| v + 0.0).collect() },
                            span: expr.span,
                            site: None,
                        },
                        None => Node::Error,
                    }
                }
                None => {
                    diags.push(scope.unknown(&name.name, name.span));
                    Node::Error
                }
            }
        }
    }
}

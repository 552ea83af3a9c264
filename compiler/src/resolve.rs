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
//!
//! With several models (`model a = toy2d`, `model b = toy2d-mlp`), `a.ring` is `ring` of `a`
//! (E0131 for an alias that names no model, E0103 for a concept `a` lacks), and a bare name
//! resolves when exactly one model has it (E0130 when several do); a bare `null` names no
//! model (E0129). Each condition carries its model ([`Cond::model`]). With one model,
//! conditions carry none and every message is as it always was.

use crate::check;
use crate::check::args::{bind_args, ParamSpec};
use crate::check::model::FileModel;
use crate::ir::{Cond, ModelTag, Node, Window};
use crate::model_info::ModelInfo;
use crate::suggest::did_you_mean;
use comp_grammar::ast::{Arg, Expr, ExprKind, Ident};
use comp_grammar::{Diagnostic, Span};
use std::collections::BTreeSet;

/// What names mean in a file.
pub struct Scope<'a> {
    /// The primary model (the first written): settings and defaults are its.
    pub model: Option<&'a ModelInfo>,
    /// Every model of the file, in the order written (one for most files).
    pub models: &'a [FileModel<'a>],
    pub lets: &'a BTreeSet<String>,
}

impl Scope<'_> {
    fn several(&self) -> bool {
        self.models.len() > 1
    }

    /// The tag conditions of model `i` carry: none with one model.
    fn tag(&self, i: usize) -> ModelTag {
        self.several().then(|| self.models[i].alias.clone())
    }

    /// Model `i`'s vocabulary; `None` when it is unknown (E0101) or the file names no model.
    fn info(&self, i: usize) -> Option<&ModelInfo> {
        self.models.get(i).and_then(|f| f.info)
    }

    fn candidates(&self) -> Vec<&str> {
        let mut c: Vec<&str> = self.lets.iter().map(String::as_str).collect();
        if self.several() {
            for f in self.models {
                c.extend(f.info.iter().flat_map(|m| m.concepts.iter().map(|c| c.name.as_str())));
            }
        } else if let Some(m) = self.model {
            c.extend(m.concepts.iter().map(|c| c.name.as_str()));
        }
        c.push("null");
        c
    }

    fn unknown(&self, name: &str, span: Span) -> Diagnostic {
        let label =
            if self.several() { "not a concept of any of the file's models, or a `let`" } else { "not a concept of the model or a `let`" };
        let mut d = Diagnostic::error("E0103", format!("unknown name `{name}`"), span).with_label(label);
        d.help = did_you_mean(name, self.candidates());
        if self.several() {
            for f in self.models {
                if let Some(m) = f.info {
                    let concepts: Vec<&str> = m.concepts.iter().map(|c| c.name.as_str()).collect();
                    d = d.with_note(format!("`{}` ({}) knows: {}", f.alias, m.name, list(&concepts)));
                }
            }
        } else if let Some(m) = self.model {
            let concepts: Vec<&str> = m.concepts.iter().map(|c| c.name.as_str()).collect();
            d = d.with_note(format!("`{}` knows: {}", m.name, concepts.join(", ")));
        }
        d
    }

    /// The model a bare concept name belongs to: the only one with it. `None` after reporting
    /// why (or silently, when a model is unknown and might have had it).
    fn owner(&self, name: &Ident, diags: &mut Vec<Diagnostic>) -> Option<usize> {
        if !self.several() {
            let m = self.model?;
            if m.concept(&name.name).is_some() {
                return Some(0);
            }
            diags.push(self.unknown(&name.name, name.span));
            return None;
        }
        let have: Vec<usize> =
            (0..self.models.len()).filter(|&i| self.models[i].info.is_some_and(|m| m.concept(&name.name).is_some())).collect();
        match have.as_slice() {
            [i] => Some(*i),
            [] if self.models.iter().any(|f| f.info.is_none()) => None,
            [] => {
                diags.push(self.unknown(&name.name, name.span));
                None
            }
            several => {
                let each: Vec<String> = several.iter().map(|&i| format!("`{}.{}`", self.models[i].alias, name.name)).collect();
                let whose: Vec<String> = several
                    .iter()
                    .map(|&i| format!("`{}` ({})", self.models[i].alias, self.models[i].info.map_or("", |m| m.name.as_str())))
                    .collect();
                diags.push(
                    Diagnostic::error("E0130", format!("`{}` is a concept of several models", name.name), name.span)
                        .with_label(format!("of {}", list_or(&whose, "and")))
                        .with_help(format!("say which model: write {}", list_or(&each, "or"))),
                );
                None
            }
        }
    }

    /// The model an alias names (`exact` of `exact.ring`); E0131 when none does.
    fn alias(&self, model: &Ident, diags: &mut Vec<Diagnostic>) -> Option<usize> {
        if let Some(i) = self.models.iter().position(|f| f.alias == model.name) {
            return Some(i);
        }
        if self.models.is_empty() {
            return None; // no model at all: E0117 has said so
        }
        let aliases: Vec<&str> = self.models.iter().map(|f| f.alias.as_str()).collect();
        let mut d = Diagnostic::error("E0131", format!("no model is named `{}`", model.name), model.span)
            .with_label("not a model of this file")
            .with_note(format!("the file's models: {}", list(&aliases)));
        d.help = did_you_mean(&model.name, aliases.iter().copied())
            .or_else(|| Some(format!("name a model first: `model {} = NAME`", model.name)));
        diags.push(d);
        None
    }

    /// `null` written bare with several models: whose?
    pub fn ambiguous_null(&self, span: Span, what: &str) -> Diagnostic {
        let each: Vec<String> = self.models.iter().map(|f| format!("`{}.null`", f.alias)).collect();
        Diagnostic::error("E0129", format!("{what} with several models: which model's unconditional prediction?"), span)
            .with_label("names no model")
            .with_note("each model has its own `null`: guidance is measured against the prior of the model a term comes from")
            .with_help(format!("write {}", list_or(&each, "or")))
    }
}

/// `a, b, c`
fn list(items: &[&str]) -> String {
    items.join(", ")
}

/// `a, b or c`
fn list_or(items: &[String], word: &str) -> String {
    match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} {word} {last}", rest.join(", ")),
        None => String::new(),
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
            if !scope.several() {
                check::mixture::check_energies(scope.model, expr.span, diags);
            }
            let weights = check::mixture::mixture_weights(branches, diags);
            let out: Vec<(f64, Node)> = branches
                .iter()
                .map(|b| resolve(&b.expr, scope, diags))
                .zip(weights.iter().copied())
                .map(|(n, m)| (m.unwrap_or(1.0), n))
                .collect();
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
        ExprKind::Text(t) => match text_owner(scope, expr.span, diags) {
            Some(i) => text(scope, i, t, expr.span, diags),
            None => Node::Error,
        },
        ExprKind::Name(id) => {
            let span = id.span;
            if scope.lets.contains(&id.name) {
                return Node::Let { name: id.name.clone(), span };
            }
            if id.name == "null" {
                if scope.several() {
                    diags.push(scope.ambiguous_null(span, "`null`"));
                    return Node::Error;
                }
                return Node::Cond { cond: Cond::Null { model: None }, span, site: None };
            }
            match scope.owner(id, diags) {
                Some(i) => concept(scope, i, id, diags),
                None => Node::Error,
            }
        }
        ExprKind::Call { name, args } => {
            if scope.lets.contains(&name.name) {
                diags.push(wrong_form(
                    name,
                    format!("`{}` is a `let`, not a constructor", name.name),
                    format!("write `{}` without arguments", name.name),
                ));
                return Node::Error;
            }
            if name.name == "null" {
                diags.push(wrong_form(name, "`null` takes no arguments".into(), "write `null`".into()));
                return Node::Error;
            }
            match scope.owner(name, diags) {
                Some(i) => constructor(scope, i, name, args, expr.span, diags),
                None => Node::Error,
            }
        }
        ExprKind::Qualified { model, expr: term } => {
            let Some(i) = scope.alias(model, diags) else { return Node::Error };
            let Some(info) = scope.info(i) else { return Node::Error };
            match &term.kind {
                ExprKind::Name(id) if id.name == "null" => {
                    Node::Cond { cond: Cond::Null { model: scope.tag(i) }, span: expr.span, site: None }
                }
                ExprKind::Call { name, .. } if name.name == "null" => {
                    diags.push(wrong_form(name, "`null` takes no arguments".into(), format!("write `{}.null`", model.name)));
                    Node::Error
                }
                ExprKind::Name(id) | ExprKind::Call { name: id, .. } if info.concept(&id.name).is_none() => {
                    diags.push(lacks(scope, i, id));
                    Node::Error
                }
                ExprKind::Name(id) => match concept(scope, i, id, diags) {
                    Node::Cond { cond, site, .. } => Node::Cond { cond, span: expr.span, site },
                    other => other,
                },
                ExprKind::Call { name, args } => constructor(scope, i, name, args, expr.span, diags),
                ExprKind::Text(t) => text(scope, i, t, expr.span, diags),
                // The grammar allows only a name, a call or a text after `alias.`.
                _ => Node::Error,
            }
        }
    }
}

fn wrong_form(name: &Ident, what: String, help: String) -> Diagnostic {
    Diagnostic::error("E0120", what, name.span).with_label("called with arguments").with_help(help)
}

/// E0103 for `a.x` where model `a` has no concept `x`.
fn lacks(scope: &Scope, i: usize, id: &Ident) -> Diagnostic {
    let f = &scope.models[i];
    let info = f.info.expect("checked by the caller");
    let concepts: Vec<&str> = info.concepts.iter().map(|c| c.name.as_str()).collect();
    let mut d = Diagnostic::error("E0103", format!("`{}` ({}) has no concept `{}`", f.alias, info.name, id.name), id.span)
        .with_label(format!("not a concept of `{}`", f.alias))
        .with_note(format!(
            "`{}` knows: {}",
            f.alias,
            if concepts.is_empty() { "no concepts (text prompts only)".to_string() } else { list(&concepts) }
        ));
    d.help = did_you_mean(&id.name, concepts.iter().copied());
    if let Some(other) = scope.models.iter().find(|o| o.info.is_some_and(|m| m.concept(&id.name).is_some())) {
        d.help = Some(format!("`{}` has it: write `{}.{}`", other.alias, other.alias, id.name));
    }
    d
}

/// A bare concept `ring` of model `i` (E0120 when it is a constructor).
fn concept(scope: &Scope, i: usize, id: &Ident, diags: &mut Vec<Diagnostic>) -> Node {
    let Some(m) = scope.info(i) else { return Node::Error };
    let Some(c) = m.concept(&id.name) else { return Node::Error };
    if c.params.is_empty() {
        return Node::Cond { cond: Cond::Concept { model: scope.tag(i), name: c.name.clone(), args: vec![] }, span: id.span, site: None };
    }
    let sig: Vec<&str> = c.params.iter().map(|p| p.name.as_str()).collect();
    diags.push(
        Diagnostic::error("E0120", format!("`{}` is a constructor: it needs arguments", c.name), id.span)
            .with_label("called without arguments")
            .with_help(format!("write `{}({})`", c.name, sig.join(", "))),
    );
    Node::Error
}

/// A constructor call `pos(0.25, 0.5)` of model `i` (E0120 for a concept without parameters).
fn constructor(scope: &Scope, i: usize, name: &Ident, args: &[Arg], span: Span, diags: &mut Vec<Diagnostic>) -> Node {
    let Some(m) = scope.info(i) else { return Node::Error };
    let Some(c) = m.concept(&name.name) else { return Node::Error };
    if c.params.is_empty() {
        diags.push(wrong_form(
            name,
            format!("`{}` is a concept without parameters", c.name),
            format!("write `{}` without arguments", c.name),
        ));
        return Node::Error;
    }
    let params: Vec<ParamSpec> = c.params.iter().map(ParamSpec::from).collect();
    match bind_args(&c.name, &params, args, span, diags) {
        // -0.0 and 0.0 are one condition.
        Some(values) => Node::Cond {
            cond: Cond::Concept { model: scope.tag(i), name: c.name.clone(), args: values.iter().map(|v| v + 0.0).collect() },
            span,
            site: None,
        },
        None => Node::Error,
    }
}

/// The model a bare text prompt goes to: the primary with one model; with several, the only
/// one that takes text (E0111 when none does, E0130 when several do).
fn text_owner(scope: &Scope, span: Span, diags: &mut Vec<Diagnostic>) -> Option<usize> {
    if !scope.several() {
        return check::text::check_text_model(scope.model, span, diags).then_some(0);
    }
    let takes: Vec<usize> = (0..scope.models.len()).filter(|&i| scope.models[i].info.is_some_and(|m| m.text)).collect();
    match takes.as_slice() {
        [i] => Some(*i),
        [] if scope.models.iter().any(|f| f.info.is_none()) => None,
        [] => {
            let _ = check::text::check_text_model(scope.model, span, diags);
            None
        }
        several => {
            let each: Vec<String> = several.iter().map(|&i| format!("`{}.\"…\"`", scope.models[i].alias)).collect();
            diags.push(
                Diagnostic::error("E0130", "a text prompt, and several models take text", span)
                    .with_label("which model's text encoder?")
                    .with_help(format!("say which model: write {}", list_or(&each, "or"))),
            );
            None
        }
    }
}

/// A text prompt for model `i` (E0111 when it takes none).
fn text(scope: &Scope, i: usize, t: &str, span: Span, diags: &mut Vec<Diagnostic>) -> Node {
    if !check::text::check_text_model(scope.info(i), span, diags) {
        return Node::Error;
    }
    Node::Cond { cond: Cond::Text { model: scope.tag(i), text: t.to_string() }, span, site: None }
}

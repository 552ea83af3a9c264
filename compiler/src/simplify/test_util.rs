//! Small builders of resolved trees for the passes' unit tests.

use crate::ir::{Cond, Node, Window};
use comp_grammar::ast::Ident;
use comp_grammar::Span;

const S: Span = Span { start: 0, end: 0 };

pub fn cond(name: &str) -> Node {
    Node::Cond { cond: Cond::Concept { model: None, name: name.into(), args: vec![] }, span: S, site: None }
}
pub fn let_(name: &str) -> Node {
    Node::Let { name: name.into(), span: S }
}
pub fn and(xs: Vec<Node>) -> Node {
    Node::And(xs)
}
pub fn or(bs: Vec<(f64, Node)>) -> Node {
    Node::Or { branches: bs, span: S }
}
pub fn not(x: Node) -> Node {
    Node::Not { expr: Box::new(x), span: S }
}
pub fn weight(w: f64, x: Node) -> Node {
    Node::Weight { weight: w, expr: Box::new(x), span: S }
}
pub fn window(from: f64, to: f64, x: Node) -> Node {
    Node::Window { window: Window { from, to }, expr: Box::new(x), span: S }
}
pub fn ident(name: &str) -> Ident {
    Ident { name: name.into(), span: S }
}

/// `node` with every `site` cleared, to compare with builders.
pub fn strip(node: &Node) -> Node {
    match node {
        Node::Cond { cond, span, .. } => Node::Cond { cond: cond.clone(), span: *span, site: None },
        Node::And(xs) => Node::And(xs.iter().map(strip).collect()),
        Node::Or { branches, span } => Node::Or { branches: branches.iter().map(|(m, b)| (*m, strip(b))).collect(), span: *span },
        Node::Not { expr, span } => Node::Not { expr: Box::new(strip(expr)), span: *span },
        Node::Weight { weight, expr, span } => Node::Weight { weight: *weight, expr: Box::new(strip(expr)), span: *span },
        Node::Window { window, expr, span } => Node::Window { window: *window, expr: Box::new(strip(expr)), span: *span },
        n => n.clone(),
    }
}

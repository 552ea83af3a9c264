//! Pass: inline lets. Every `let` name is replaced by the let's (inlined) expression.
//!
//! ```text
//! let stripe = 0.5 * bar
//! before: ring AND stripe
//! after:  ring AND 0.5 * bar       (the `bar` term remembers it came in at `stripe`)
//! ```
//!
//! Lets are inlined once each, in dependency order ([`topo_order`], an explicit-stack
//! search), and reused; lets on a cycle (already reported, E0109) become [`Node::Error`].

use crate::check::lets::{references, LetTable};
use crate::ir::Node;
use std::collections::{BTreeSet, HashMap};

/// The order in which lets can be inlined: each after the lets it uses (post-order of an
/// explicit-stack depth-first search). Lets on a cycle, and lets using them, are left out.
pub fn topo_order(lets: &LetTable) -> Vec<String> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut bad: BTreeSet<&str> = lets.cyclic.iter().map(String::as_str).collect();
    let mut order = Vec::new();
    for root in &lets.order {
        if done.contains(root.as_str()) || bad.contains(root.as_str()) {
            continue;
        }
        let refs = |n: &str| -> Vec<String> {
            lets.defs.get(n).map(|d| references(&d.node).into_iter().map(|(r, _)| r).collect()).unwrap_or_default()
        };
        let mut on_stack: BTreeSet<&str> = BTreeSet::from([root.as_str()]);
        let mut stack: Vec<(&str, Vec<String>, usize)> = vec![(root.as_str(), refs(root), 0)];
        while let Some((name, next, i)) = stack.last_mut() {
            let name: &str = name;
            if let Some(r) = next.get(*i).cloned() {
                *i += 1;
                let Some((key, _)) = lets.defs.get_key_value(&r) else { continue };
                let key = key.as_str();
                if bad.contains(key) || on_stack.contains(key) {
                    bad.insert(name);
                } else if !done.contains(key) {
                    on_stack.insert(key);
                    stack.push((key, refs(key), 0));
                }
                continue;
            }
            stack.pop();
            on_stack.remove(name);
            if bad.contains(name) {
                if let Some((parent, _, _)) = stack.last() {
                    bad.insert(parent);
                }
            } else {
                done.insert(name);
                order.push(name.to_string());
            }
        }
    }
    order
}

/// Every let's body with the lets it uses inlined, built in [`topo_order`] so nothing
/// recurses through let chains. Lets left out of `order` (cycles, oversized) are absent.
pub fn inline_all(lets: &LetTable, order: &[String]) -> HashMap<String, Node> {
    let mut done = HashMap::new();
    for name in order {
        let body = inline_lets(&lets.defs[name].node, &done);
        done.insert(name.clone(), body);
    }
    done
}

/// `node` with every let replaced by its inlined body from `inlined` (see [`inline_all`]);
/// a let missing there (on a cycle, already reported) becomes [`Node::Error`].
pub fn inline_lets(node: &Node, inlined: &HashMap<String, Node>) -> Node {
    match node {
        Node::Let { name, span } => match inlined.get(name) {
            Some(body) => set_site(body.clone(), *span),
            None => Node::Error,
        },
        Node::And(xs) => Node::And(xs.iter().map(|x| inline_lets(x, inlined)).collect()),
        Node::Or { branches, span } => {
            Node::Or { branches: branches.iter().map(|(m, b)| (*m, inline_lets(b, inlined))).collect(), span: *span }
        }
        Node::Not { expr, span } => Node::Not { expr: Box::new(inline_lets(expr, inlined)), span: *span },
        Node::Weight { weight, expr, span } => Node::Weight { weight: *weight, expr: Box::new(inline_lets(expr, inlined)), span: *span },
        Node::Window { window, expr, span } => Node::Window { window: *window, expr: Box::new(inline_lets(expr, inlined)), span: *span },
        Node::Cond { .. } | Node::Error => node.clone(),
    }
}

/// Marks every condition in `node` as entering the sample at `site`.
fn set_site(mut node: Node, site: comp_grammar::Span) -> Node {
    let mut stack = vec![&mut node];
    while let Some(n) = stack.pop() {
        match n {
            Node::Cond { site: s, .. } => *s = Some(site),
            Node::And(xs) => stack.extend(xs.iter_mut()),
            Node::Or { branches, .. } => stack.extend(branches.iter_mut().map(|(_, b)| b)),
            Node::Not { expr, .. } | Node::Weight { expr, .. } | Node::Window { expr, .. } => stack.push(expr),
            Node::Let { .. } | Node::Error => {}
        }
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::lets::LetDef;
    use crate::simplify::test_util::*;

    #[test]
    fn lets_are_replaced_by_their_bodies_through_chains() {
        // let a = 0.5 * b; let b = ring;  sample: a AND bar  →  0.5 * ring AND bar
        let mut table = LetTable::default();
        for (n, node) in [("a", weight(0.5, let_("b"))), ("b", cond("ring"))] {
            table.defs.insert(n.into(), LetDef { name: ident(n), node });
        }
        table.order = vec!["a".into(), "b".into()];
        assert_eq!(topo_order(&table), ["b", "a"]);
        let out = inline_lets(&and(vec![let_("a"), cond("bar")]), &inline_all(&table, &topo_order(&table)));
        assert_eq!(strip(&out), and(vec![weight(0.5, cond("ring")), cond("bar")]));
    }

    #[test]
    fn cyclic_lets_become_errors() {
        let mut table = LetTable::default();
        table.defs.insert("a".into(), LetDef { name: ident("a"), node: let_("a") });
        table.defs.insert("b".into(), LetDef { name: ident("b"), node: let_("a") });
        table.order = vec!["a".into(), "b".into()];
        table.cyclic.insert("a".into());
        assert!(topo_order(&table).is_empty());
        assert_eq!(inline_lets(&let_("b"), &inline_all(&table, &topo_order(&table))), Node::Error);
    }
}

//! The `let` table: duplicates (E0108) and cycles (E0109).
//!
//! ```text
//! let a = b AND ring      # E0109: cyclic lets: `a` → `b` → `a`
//! let b = 0.5 * a
//! ```
//!
//! Cycles are found with an explicit-stack depth-first search, so a long chain of lets cannot
//! overflow the stack. Every let on a cycle is marked cyclic; inlining turns them into errors
//! that are not reported again.

use crate::ir::Node;
use comp_grammar::ast::Ident;
use comp_grammar::{Diagnostic, Span};
use std::collections::{BTreeMap, BTreeSet};

/// The most lets of a cycle named in its message and labels.
const MAX_SHOWN: usize = 8;

/// One `let`, resolved.
#[derive(Clone, Debug)]
pub struct LetDef {
    pub name: Ident,
    pub node: Node,
}

/// The lets of a file, by name (the first definition of a name wins).
#[derive(Clone, Debug, Default)]
pub struct LetTable {
    pub defs: BTreeMap<String, LetDef>,
    /// In file order.
    pub order: Vec<String>,
    /// Lets on a cycle.
    pub cyclic: BTreeSet<String>,
}

/// Reports a name defined twice (`what` is "let" or "sample"); `true` when it is a duplicate.
pub fn check_duplicate(seen: &mut BTreeMap<String, Span>, what: &str, name: &Ident, diags: &mut Vec<Diagnostic>) -> bool {
    if let Some(first) = seen.get(&name.name) {
        diags.push(
            Diagnostic::error("E0108", format!("duplicate {what} `{}`", name.name), name.span)
                .with_label("defined again here")
                .with_secondary(*first, "first defined here")
                .with_help(format!("rename one of the {what}s")),
        );
        return true;
    }
    seen.insert(name.name.clone(), name.span);
    false
}

/// The let names a node refers to, with the spans of the references, in order.
pub fn references(node: &Node) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    node.walk(|n| {
        if let Node::Let { name, span } = n {
            out.push((name.clone(), *span));
        }
    });
    out
}

/// Builds the table from the lets in file order (duplicates already left out) and reports
/// every cycle once.
pub fn build(lets: Vec<LetDef>, diags: &mut Vec<Diagnostic>) -> LetTable {
    let mut table = LetTable::default();
    for d in lets {
        table.order.push(d.name.name.clone());
        table.defs.insert(d.name.name.clone(), d);
    }
    let edges: BTreeMap<&str, Vec<(String, Span)>> = table.defs.iter().map(|(k, d)| (k.as_str(), references(&d.node))).collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        White,
        Grey,
        Black,
    }
    let mut color: BTreeMap<&str, Color> = edges.keys().map(|k| (*k, Color::White)).collect();
    let mut cyclic = BTreeSet::new();
    for root in &table.order {
        if color[root.as_str()] != Color::White {
            continue;
        }
        // (let, index of the next edge to follow, span of the reference that led here)
        let mut stack: Vec<(&str, usize, Option<Span>)> = vec![(root.as_str(), 0, None)];
        color.insert(root.as_str(), Color::Grey);
        while let Some(top) = stack.last_mut() {
            let (node, i) = (top.0, top.1);
            let Some((next, use_span)) = edges[node].get(i) else {
                color.insert(node, Color::Black);
                stack.pop();
                continue;
            };
            top.1 += 1;
            let Some(&c) = color.get(next.as_str()) else { continue };
            match c {
                Color::Black => {}
                Color::White => {
                    let next = edges.get_key_value(next.as_str()).expect("key exists").0;
                    color.insert(next, Color::Grey);
                    stack.push((next, 0, Some(*use_span)));
                }
                Color::Grey => {
                    let start = stack.iter().position(|(n, _, _)| *n == next).expect("grey is on the stack");
                    let cycle = &stack[start..];
                    let mut path: Vec<String> = cycle.iter().map(|(n, _, _)| format!("`{n}`")).collect();
                    path.push(format!("`{next}`"));
                    // A cycle through 100,000 lets is one problem: name its ends, count the rest.
                    if path.len() > MAX_SHOWN + 2 {
                        let hidden = path.len() - MAX_SHOWN - 1;
                        path.splice(MAX_SHOWN - 1..path.len() - 2, [format!("… {hidden} more …")]);
                    }
                    let first = &table.defs[next.as_str()].name;
                    let mut d = Diagnostic::error("E0109", format!("cyclic lets: {}", path.join(" → ")), first.span)
                        .with_label("this let refers to itself through the cycle")
                        .with_help("a let cannot use itself, directly or through other lets");
                    for (_, _, s) in cycle[1..].iter().take(MAX_SHOWN) {
                        d = d.with_secondary(s.expect("only the root has no use span"), "used here");
                    }
                    if cycle.len() > MAX_SHOWN + 1 {
                        d = d.with_note(format!("the cycle goes through {} lets; the first {MAX_SHOWN} uses are shown", cycle.len()));
                    }
                    d = d.with_secondary(*use_span, "which uses it again here");
                    diags.push(d);
                    cyclic.extend(cycle.iter().map(|(n, _, _)| n.to_string()));
                }
            }
        }
    }
    table.cyclic = cyclic;
    table
}

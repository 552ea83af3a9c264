//! E0122: an expression that grows too large once lets are inlined and `AND` is distributed
//! over `OR`.
//!
//! ```text
//! let a1 = ring AND ring
//! let a2 = a1 AND a1        # each let doubles the size: a40 would have 2^40 terms
//! ...
//! let x = (a OR b) AND (c OR d) AND ...   # 2^n mixture branches
//! ```
//!
//! Sizes are computed on the let structure (each let measured once, in dependency order), so
//! nothing large is ever built. The error is at the first let (or sample) over a limit whose
//! own lets are within it.

use crate::check::lets::LetTable;
use crate::ir::Node;
use comp_grammar::{Diagnostic, Span};
use std::collections::HashMap;

/// Nesting depth once lets are inlined.
pub const MAX_DEPTH: usize = 256;
/// Nodes once lets are inlined.
pub const MAX_SIZE: usize = 10_000;
/// Mixture branches after distribution.
pub const MAX_BRANCHES: usize = 256;

/// How big an expression becomes (saturating).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measure {
    pub depth: usize,
    pub size: usize,
    pub branches: usize,
}

impl Measure {
    pub fn too_big(self) -> bool {
        self.depth > MAX_DEPTH || self.size > MAX_SIZE || self.branches > MAX_BRANCHES
    }
}

/// The measure of `node`, with the lets' measures from `lets` (a let not there counts 1).
pub fn measure(node: &Node, lets: &HashMap<String, Measure>) -> Measure {
    let one = Measure { depth: 1, size: 1, branches: 1 };
    let wrap = |m: Measure| Measure { depth: m.depth.saturating_add(1), size: m.size.saturating_add(1), ..m };
    match node {
        Node::Cond { .. } | Node::Error => one,
        Node::Let { name, .. } => lets.get(name).copied().unwrap_or(one),
        Node::Not { expr, .. } | Node::Weight { expr, .. } | Node::Window { expr, .. } => wrap(measure(expr, lets)),
        Node::And(xs) => wrap(xs.iter().map(|x| measure(x, lets)).fold(Measure { depth: 0, size: 0, branches: 1 }, |a, m| Measure {
            depth: a.depth.max(m.depth),
            size: a.size.saturating_add(m.size),
            branches: a.branches.saturating_mul(m.branches),
        })),
        Node::Or { branches, .. } => {
            wrap(branches.iter().map(|(_, b)| measure(b, lets)).fold(Measure { depth: 0, size: 0, branches: 0 }, |a, m| Measure {
                depth: a.depth.max(m.depth),
                size: a.size.saturating_add(m.size),
                branches: a.branches.saturating_add(m.branches),
            }))
        }
    }
}

/// Measures every let in `order` (dependencies first).
pub fn measure_lets(lets: &LetTable, order: &[String]) -> HashMap<String, Measure> {
    let mut out = HashMap::new();
    for name in order {
        let m = measure(&lets.defs[name].node, &out);
        out.insert(name.clone(), m);
    }
    out
}

/// Reports `node` (written at `span`) when it is over a limit and none of the lets it uses
/// is (those are reported themselves). `true` when it is within the limits.
pub fn check_size(node: &Node, lets: &HashMap<String, Measure>, span: Span, diags: &mut Vec<Diagnostic>) -> bool {
    let m = measure(node, lets);
    if !m.too_big() {
        return true;
    }
    let uses_big_let = crate::check::lets::references(node).iter().any(|(n, _)| lets.get(n).is_some_and(|m| m.too_big()));
    if !uses_big_let {
        let what = if m.depth > MAX_DEPTH {
            format!("nests more than {MAX_DEPTH} levels deep")
        } else if m.size > MAX_SIZE {
            format!("has more than {MAX_SIZE} parts")
        } else {
            format!("has more than {MAX_BRANCHES} mixture branches")
        };
        diags.push(
            Diagnostic::error("E0122", format!("this expression {what} once lets are inlined"), span)
                .with_label("too large")
                .with_help("lets are inlined where used, and `AND` multiplies out `OR`s: simplify the expression"),
        );
    }
    false
}

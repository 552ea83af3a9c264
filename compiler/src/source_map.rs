//! The source map: where each term written went in the plan, so that an editor's hover (or any
//! tool asking "what does this term do?") looks it up instead of resolving names again.
//!
//! Each leaf term of a sample, as written (`ring`, `b.bar`, `pos(y: 0.5, x: 0.75)`, `"a red
//! cat"`, `null`), in the sample's expression, in a `let` the sample uses, or in its `base`
//! expression, maps to the condition it resolved to in that sample's plan and to that
//! condition's final coefficients in the fused combination, after simplification: the terms
//! that are one condition merged, `NOT`, weights and the scale multiplied in, the base's share
//! subtracted.
//!
//! ```text
//! model toy2d
//! base null
//! scale 3
//! let stripe = 0.5 * bar
//! sample s = ring AND NOT 2 * stripe AND 0.5 * ring
//!
//!   null (line 2) → s, condition #0, toy2d: -0.5 on [0, 1)   1 − 3·(1.5 − 1)
//!   bar  (line 4) → s, condition #2, toy2d: -3 on [0, 1)     3·(−2·0.5)
//!   ring (line 5) → s, condition #1, toy2d: 4.5 on [0, 1)    3·(1 + 0.5), both `ring`s
//! ```
//!
//! A term in a `let` used by several samples has one entry per sample; a term whose weights
//! cancel out (`ring AND NOT ring`) has an entry without a condition.

use crate::ir::{Cond, Node};
use crate::plan::{Combine, SamplePlan};
use comp_grammar::Span;
use serde::Serialize;
use std::collections::HashMap;

/// Every leaf term of a compiled file, by sample.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SourceMap {
    /// In source order (by span), then in the order of the samples.
    pub terms: Vec<TermSource>,
}

/// One leaf term as written, and what it is in one sample's plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TermSource {
    /// Where the term is written (inside a `let` for a term that comes through one).
    pub span: Span,
    /// The sample whose plan this entry is about.
    pub sample: String,
    /// The name of the model the term belongs to (`toy2d-mlp`).
    pub model: String,
    /// The script's name for that model (`b` in `b.bar`), in a file of several models; `None`
    /// in a file of one, as in the plan.
    pub alias: Option<String>,
    /// The condition's `id` in the sample's plan; `None` when no segment evaluates it (its
    /// coefficient is 0 throughout: weights that cancel out, or `null` against one term at
    /// scale 1).
    pub condition: Option<usize>,
    /// The condition's coefficient in each segment that evaluates it, in order.
    pub coefficients: Vec<SegmentCoefficient>,
}

/// A condition's coefficient in one segment `[from, to)` of a plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SegmentCoefficient {
    pub from: f64,
    pub to: f64,
    /// One coefficient for a linear combination; for a mixture (`OR`), one per branch, in the
    /// plan's order.
    pub coeffs: Vec<f64>,
}

impl SourceMap {
    /// The entries of the term written at byte `offset` (a cursor just after a term is on it):
    /// the innermost term whose span holds it, one entry per sample it is in.
    pub fn at(&self, offset: usize) -> Vec<&TermSource> {
        self.covering(Span::new(offset, offset))
    }

    /// The entries of the innermost term whose span covers `span` (`bar` in `b.bar` is covered
    /// by the term `b.bar`), one per sample it is in; none when no term does.
    pub fn covering(&self, span: Span) -> Vec<&TermSource> {
        let covers = |t: &&TermSource| t.span.start <= span.start && span.end <= t.span.end;
        let Some(inner) = self.terms.iter().filter(covers).map(|t| t.span).min_by_key(|s| (s.len(), std::cmp::Reverse(s.start))) else {
            return vec![];
        };
        self.terms.iter().filter(|t| t.span == inner).collect()
    }

    /// Adds the entries of one sample: every leaf term of `roots` (its expression and its
    /// `base` expression, lets inlined), looked up in the sample's lowered `plan`. `model_name`
    /// names a condition's model from its alias (`None`: the file's one model).
    pub(crate) fn add_sample(&mut self, plan: &SamplePlan, roots: &[&Node], model_name: &dyn Fn(Option<&str>) -> String) {
        let mut leaves: Vec<(Span, Cond)> = Vec::new();
        for root in roots {
            root.walk(|n| {
                if let Node::Cond { cond, span, .. } = n {
                    leaves.push((*span, cond.clone()));
                }
            });
        }
        leaves.sort_by_key(|(s, _)| (s.start, s.end));
        leaves.dedup_by_key(|(s, _)| *s);
        // The plan's conditions by what they are (a sample may have 10,000 terms: no search).
        let key = |c: &crate::plan::Condition| format!("{:?} {:?}", c.model, c.kind);
        let ids: HashMap<String, usize> = plan.conditions.iter().map(|c| (key(c), c.id)).collect();
        for (span, cond) in leaves {
            let condition = ids.get(&key(&crate::lower::condition(0, &cond))).copied();
            let coefficients = condition.map(|id| coefficients(plan, id)).unwrap_or_default();
            self.terms.push(TermSource {
                span,
                sample: plan.sample.clone(),
                model: model_name(cond.model()),
                alias: cond.model().map(str::to_string),
                condition,
                coefficients,
            });
        }
    }

    /// Sorts the entries by span (stable: the samples stay in order).
    pub(crate) fn finish(&mut self) {
        self.terms.sort_by_key(|t| (t.span.start, t.span.end));
    }
}

/// Condition `id`'s coefficient in each segment of `plan` that evaluates it.
fn coefficients(plan: &SamplePlan, id: usize) -> Vec<SegmentCoefficient> {
    plan.segments
        .iter()
        .filter_map(|seg| {
            let k = seg.active.iter().position(|&a| a == id)?;
            let coeffs = match &seg.combine {
                Combine::Linear { coeffs } => vec![coeffs[k]],
                Combine::Mixture { branches } => branches.iter().map(|b| b.coeffs[k]).collect(),
            };
            Some(SegmentCoefficient { from: seg.from, to: seg.to, coeffs })
        })
        .collect()
}

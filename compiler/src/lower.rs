//! Lowering: from a sample's segments of canonical terms to its [`SamplePlan`], exactly per
//! docs/language.md (Semantics).
//!
//! For one branch with terms `(c_i, w_i)`, base terms `(b_k, β_k)` and scale `s`:
//!
//! ```text
//! ε̂ = (1 − s·Σ_i w_i) · Σ_k β_k ε_{b_k} + Σ_i s·w_i · ε_{c_i}
//! ```
//!
//! so condition `c` gets the coefficient `(1 − s·Σw)·β_c + s·Σ_{i: c_i = c} w_i`.
//! `base none` has no base terms, `base null` is `[(null, 1)]`, `base EXPR` its linear terms.
//! A segment's `active` lists only conditions with a nonzero coefficient in some branch: a
//! windowed-out condition is not evaluated.
//!
//! ```text
//! clevr, base null, scale 7.5: pos(0.25, 0.5) AND pos(0.75, 0.5)
//!   → conditions [null, pos(0.25, 0.5), pos(0.75, 0.5)], coeffs [1 − 7.5·2, 7.5, 7.5] = [-14, 7.5, 7.5]
//! ```
//!
//! With several models (`model a = …`, `model b = …`), each term is guided against its own
//! model's unconditional prediction, and the base keeps its weight:
//!
//! ```text
//! ε̂ = Σ_k β_k ε_{b_k} + Σ_i s·w_i · (ε_{m_i}(c_i) − ε_{m_i}(∅))
//! ```
//!
//! so `(m, c)` gets `s·w` and `(m, null)` gets `−s·w` from each term. With `base none` there
//! are no differences: `Σ_i s·w_i · ε_{m_i}(c_i)`, the pure product, as with one model.
//!
//! A mixture gives one coefficient vector per branch and `log_weight = ln(m_j / Σ m)`.
//! Branches whose vectors are equal are one component (weights added); a single component
//! is `Linear`.

use crate::ir::{Cond, Stretch};
use crate::plan::{Branch, Combine, Condition, PlanModel, SamplePlan, Segment, Settings};
use crate::simplify::dedup_conditions::dedup_conditions;

/// The plan of one sample.
pub fn lower(
    sample: &str,
    model: &str,
    models: Vec<PlanModel>,
    settings: Settings,
    base: &[(Cond, f64)],
    stretches: &[Stretch],
) -> SamplePlan {
    let several = !models.is_empty();
    let mut conds = dedup_conditions(base, stretches);
    if several && !base.is_empty() {
        // Each term's own model's null, after the conditions written (a term `a.null` finds
        // its own already there).
        let nulls: Vec<Cond> = conds.iter().map(|c| Cond::Null { model: c.model().map(str::to_string) }).collect();
        for n in nulls {
            if !conds.contains(&n) {
                conds.push(n);
            }
        }
    }
    let index = |c: &Cond| conds.iter().position(|x| x == c).expect("every condition is deduplicated");
    let s = settings.scale;
    let mut segments: Vec<Segment> = Vec::new();
    for st in stretches {
        // (mixture weight, coefficient per condition of `conds`)
        let mut comps: Vec<(f64, Vec<f64>)> = Vec::new();
        for branch in &st.dnf.branches {
            let mut coef = vec![0.0; conds.len()];
            let sum_w: f64 = branch.terms.iter().map(|t| t.weight).sum();
            let base_coef = if several { 1.0 } else { 1.0 - s * sum_w };
            for (c, beta) in base {
                coef[index(c)] += base_coef * beta;
            }
            for t in &branch.terms {
                coef[index(&t.cond)] += s * t.weight;
                if several && !base.is_empty() {
                    coef[index(&Cond::Null { model: t.cond.model().map(str::to_string) })] -= s * t.weight;
                }
            }
            match comps.iter_mut().find(|(_, c)| *c == coef) {
                Some((m, _)) => *m += branch.mix,
                None => comps.push((branch.mix, coef)),
            }
        }
        let active: Vec<usize> = (0..conds.len()).filter(|&k| comps.iter().any(|(_, c)| c[k] != 0.0)).collect();
        let pick = |c: &[f64]| active.iter().map(|&k| c[k]).collect::<Vec<f64>>();
        let combine = if comps.len() == 1 {
            Combine::Linear { coeffs: pick(&comps[0].1) }
        } else {
            let total: f64 = comps.iter().map(|(m, _)| m).sum();
            Combine::Mixture { branches: comps.iter().map(|(m, c)| Branch { log_weight: (m / total).ln(), coeffs: pick(c) }).collect() }
        };
        match segments.last_mut() {
            Some(last) if last.active == active && last.combine == combine => last.to = st.to,
            _ => segments.push(Segment { from: st.from, to: st.to, active, combine }),
        }
    }
    // Keep only the conditions some segment evaluates, renumbered in order.
    let used: Vec<usize> = (0..conds.len()).filter(|k| segments.iter().any(|s| s.active.contains(k))).collect();
    for seg in &mut segments {
        for a in &mut seg.active {
            *a = used.iter().position(|u| u == a).expect("active conditions are used");
        }
    }
    let conditions = used.iter().enumerate().map(|(id, &k)| condition(id, &conds[k])).collect();
    SamplePlan { sample: sample.to_string(), model: model.to_string(), models, settings, conditions, segments }
}

/// The plan's form of a condition: `null`, a concept with its arguments, or a text prompt.
pub fn condition(id: usize, c: &Cond) -> Condition {
    let model = c.model().map(str::to_string);
    match c {
        Cond::Null { .. } => Condition::null(id),
        Cond::Concept { name, args, .. } => Condition::concept(id, name.clone(), args.clone()),
        Cond::Text { text, .. } => Condition::text(id, text.clone()),
    }
    .of_model(model)
}

//! [`RenderHuman::render_human`]: the plan for people (`comp plan --emit plan`).
//!
//! ```text
//! sample pair (model clevr-pos)
//!   settings: sampler ddpm(steps: 100), mcmc none, scale 7.5, seed 0, samples 8
//!   conditions:
//!     #0  null
//!     #1  pos(0.25, 0.5)
//!     #2  pos(0.75, 0.5)
//!   segment [0, 1), steps 0..100 (100 steps):
//!     active: #0 #1 #2
//!     linear: -14·#0 + 7.5·#1 + 7.5·#2
//!     model calls per step: 1 (batch of 3 conditions)
//!   model calls: 100 (all in the reverse steps)
//! ```
//!
//! With several models the header lists them (`sample s (models exact = toy2d, learned =
//! toy2d-mlp)`), and each segment says how many conditions each model evaluates in its one
//! batched call per step. A classifier's call is a forward and a backward pass (the gradient
//! of log p(y | x_t) with respect to x): the segment says so.
//!
//! Counting model calls (one call is one batched evaluation of the active conditions, one per
//! model with an active condition when a plan composes several):
//! each reverse step whose segment has active conditions costs 1. MCMC runs after every
//! reverse step whose trajectory fraction lies in the MCMC range `[from, to)` (a range ending
//! at 1 includes the last step) and, per MCMC step, costs: ULA 1 (the score at the current
//! point); MALA 1 (the score and energy at the proposal; the current point's are kept from
//! the previous step); U-HMC and HMC `leapfrog + 1` (the score at the start, then one per
//! leapfrog step). A step with no active condition costs nothing.

use crate::plan::{step_fraction, Combine, Plan, SamplePlan};
use std::fmt::Write;

/// The plan as text for people (a trait because [`Plan`] lives in `comp-plan`, which holds
/// data only).
pub trait RenderHuman {
    /// Per sample its settings, conditions, segments with their coefficients, and the number
    /// of model calls.
    fn render_human(&self) -> String;
}

impl RenderHuman for Plan {
    fn render_human(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.samples.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            render_sample(&mut out, s);
        }
        out
    }
}

/// The model calls one sample's run costs: (reverse-step calls, MCMC calls).
///
/// A reverse step costs one call when its segment has an active condition. MCMC runs after
/// reverse step k at the noise level of step k + 1, for k + 1 < steps (not after the last
/// step, where x is clean), when that step's fraction lies in `[from, to)` and its segment
/// has an active condition. A level costs, with S MCMC steps and L leapfrog steps:
/// ULA S; MALA S + 1; U-HMC and HMC S·L + 1 (the gradient at the accepted point is reused;
/// the + 1 is the level's starting point): [`comp_plan::McmcKind::calls_per_level`], which the
/// runtime's MCMC uses too. Counts saturate at `usize::MAX` instead of wrapping.
pub fn model_calls(s: &SamplePlan) -> (usize, usize) {
    let steps = s.settings.sampler.steps();
    let (mut reverse, mut mcmc) = (0, 0);
    for k in 0..steps {
        let Some(seg) = s.segment_at(k) else { continue };
        if seg.active.is_empty() {
            continue;
        }
        let models = s.calls_per_eval(seg);
        reverse += s.settings.sampler.calls_per_step() * models;
        if let Some(m) = &s.settings.mcmc {
            let f = step_fraction(k, steps);
            // Level k is reached by reverse step k − 1: none at k = 0 (pure noise).
            if k > 0 && m.from <= f && f < m.to {
                // Saturating: a JSON plan can ask for any count; the validator refuses what
                // exceeds `MAX_MODEL_CALLS`, so a saturated count never reaches a run.
                mcmc = m.calls_per_level().saturating_mul(models).saturating_add(mcmc);
            }
        }
    }
    (reverse, mcmc)
}

fn term(coeff: f64, id: usize, first: bool) -> String {
    match (first, coeff < 0.0) {
        (true, _) => format!("{coeff}·#{id}"),
        (false, true) => format!(" - {}·#{id}", -coeff),
        (false, false) => format!(" + {coeff}·#{id}"),
    }
}

fn sum(coeffs: &[f64], active: &[usize]) -> String {
    if active.is_empty() {
        return "0".into();
    }
    coeffs.iter().zip(active).enumerate().map(|(i, (c, id))| term(*c, *id, i == 0)).collect()
}

fn render_sample(out: &mut String, s: &SamplePlan) {
    let st = &s.settings;
    let sampler = st.sampler.to_string();
    let mcmc = match &st.mcmc {
        None => "none".to_string(),
        Some(m) => {
            let kind = m.kind.name();
            let mut t = format!("{kind}(steps: {}, step_size: {}", m.steps, m.step_size);
            if m.beta_scaled {
                t.push_str(", beta_scaled: true");
            }
            if m.kind.is_hamiltonian() {
                let _ = write!(t, ", leapfrog: {}, damping: {}, mass: {}", m.leapfrog, m.damping, m.mass);
            }
            if m.from != 0.0 || m.to != 1.0 {
                let _ = write!(t, ", from: {}, to: {}", m.from, m.to);
            }
            t + ")"
        }
    };
    if s.several() {
        let models: Vec<String> =
            s.models.iter().map(|m| format!("{} = {}{}", m.alias, m.name, if m.classifier { " (classifier)" } else { "" })).collect();
        let _ = writeln!(out, "sample {} (models {})", s.sample, models.join(", "));
    } else {
        let _ = writeln!(out, "sample {} (model {})", s.sample, s.model);
    }
    let _ = write!(out, "  settings: sampler {sampler}, mcmc {mcmc}, scale {}, seed {}, samples {}", st.scale, st.seed, st.samples);
    for (k, v) in &st.extra {
        let _ = write!(out, ", {k} {v}");
    }
    if let Some([w, h]) = st.size {
        let _ = write!(out, ", size {w}x{h}");
    }
    if let Some(d) = st.dtype {
        let _ = write!(out, ", dtype {}", d.name());
    }
    out.push('\n');
    let _ = writeln!(out, "  conditions:");
    for c in &s.conditions {
        let _ = writeln!(out, "    #{:<3} {c}", c.id);
    }
    let steps = st.sampler.steps();
    for seg in &s.segments {
        let in_seg: Vec<usize> = (0..steps).filter(|&k| s.segment_at(k).is_some_and(|x| std::ptr::eq(x, seg))).collect();
        let range = match (in_seg.first(), in_seg.last()) {
            (Some(a), Some(b)) => format!("steps {a}..{} ({} steps)", b + 1, in_seg.len()),
            _ => "no steps".to_string(),
        };
        let _ = writeln!(out, "  segment [{}, {}), {range}:", seg.from, seg.to);
        let ids: Vec<String> = seg.active.iter().map(|a| format!("#{a}")).collect();
        let _ = writeln!(out, "    active: {}", if ids.is_empty() { "(none)".into() } else { ids.join(" ") });
        match &seg.combine {
            Combine::Linear { coeffs } => {
                let _ = writeln!(out, "    linear: {}", sum(coeffs, &seg.active));
            }
            Combine::Mixture { branches } => {
                let _ = writeln!(out, "    mixture of {} branches:", branches.len());
                for b in branches {
                    let _ = writeln!(out, "      weight {:.4}: {}", b.log_weight.exp(), sum(&b.coeffs, &seg.active));
                }
            }
        }
        let calls = st.sampler.calls_per_step() * s.calls_per_eval(seg);
        let batch = |k: usize| format!("batch of {k} condition{}", if k == 1 { "" } else { "s" });
        if s.several() {
            let per: Vec<String> = s
                .models
                .iter()
                .zip(s.active_per_model(seg))
                .filter(|(_, k)| *k > 0)
                .map(|(m, k)| format!("{} ({}): {}{}", m.alias, m.name, batch(k), if m.classifier { ", forward + backward" } else { "" }))
                .collect();
            let _ =
                writeln!(out, "    model calls per step: {calls} ({})", if per.is_empty() { "none active".into() } else { per.join("; ") });
        } else {
            let _ = writeln!(out, "    model calls per step: {calls} ({})", batch(seg.active.len()));
        }
    }
    let (reverse, mcmc) = model_calls(s);
    if st.mcmc.is_some() {
        let _ = writeln!(out, "  model calls: {} ({reverse} in the reverse steps + {mcmc} in MCMC)", reverse + mcmc);
    } else {
        let _ = writeln!(out, "  model calls: {reverse} (all in the reverse steps)");
    }
}

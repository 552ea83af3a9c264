//! [`validate`]: a plan read from JSON meets every guarantee the compiler gives its own plans.
//!
//! `comp run plan.json` skips the checker, so everything the checker and lowering guarantee is
//! checked here, once, with a message per problem:
//!
//! | what | guarantee |
//! | --- | --- |
//! | the plan | the current `version`; at least one sample; sample names are names (they become folder names) and unique |
//! | settings | a known model; `steps` in 1..=the model's schedule; `samples` ≥ 1; seed ≤ 2^53 − 1; finite scale; DDIM `eta` in [0, 1]; model settings known and in range |
//! | MCMC | `steps` in 1..=[`MAX_MCMC_STEPS`]; `leapfrog` in 1..=[`MAX_LEAPFROG`]; `step_size` and `mass` finite and > 0; `damping` in [0, 1]; 0 ≤ `from` < `to` ≤ 1; MALA and HMC only with energies |
//! | conditions | `id` is the index; `null`, `text` (a text model, with its prompt) or a concept of the model with its arguments, in range |
//! | segments | from 0 to 1 in order, each non-empty, without gaps or overlaps; `active` ids exist, once each; one coefficient per active id; every number finite; mixtures need energies and normalised weights; every condition used |
//! | several models | aliases are names, unique, at most [`MAX_MODELS`]; each a known model; `model` is the first; every condition names one of them (and none does in a plan of one model); one sample shape and one stated noise schedule; energies of every model a mixture or MALA/HMC uses |
//! | semantics | in every segment with active conditions, the coefficients sum to a positive number (E0123); at most [`MAX_MODEL_CALLS`] model calls (E0124) |
//!
//! Unknown fields are refused by the types themselves (`deny_unknown_fields`).

use crate::model_info::{ModelInfo, ParamKind};
use crate::plan::{
    Combine, ConditionKind, Plan, SamplePlan, Sampler, DDIM_ETA, MAX_LEAPFROG, MAX_MCMC_STEPS, MAX_MODELS, MAX_MODEL_CALLS, PLAN_VERSION,
};
use crate::settings::MAX_SEED;
use std::collections::HashSet;

/// Relative tolerance of the sums checked here (rounding in the compiler's own arithmetic).
const TOLERANCE: f64 = 1e-9;

/// Every problem of `plan` against `models` (empty when it may run).
pub fn validate(plan: &Plan, models: &[ModelInfo]) -> Vec<String> {
    let mut problems = Vec::new();
    if plan.version != PLAN_VERSION {
        problems.push(format!(
            "a version {} plan; this comp runs version {PLAN_VERSION} (recompile it with `comp plan --emit json`)",
            plan.version
        ));
        return problems;
    }
    if plan.samples.is_empty() {
        problems.push("`samples` is empty: nothing to run".into());
    }
    let mut names = HashSet::new();
    for s in &plan.samples {
        if !is_name(&s.sample) {
            problems.push(format!(
                "sample name `{}` is not a name (letters, digits, `_` and `-`, not starting with a digit)",
                s.sample.escape_debug()
            ));
            continue;
        }
        if !names.insert(s.sample.as_str()) {
            problems.push(format!("two samples are named `{}`", s.sample));
        }
        let mut p = Vec::new();
        validate_sample(s, models, &mut p);
        problems.extend(p.into_iter().map(|m| format!("sample `{}`: {m}", s.sample)));
    }
    problems
}

/// A name as the language spells it (defined with the plan types, which model folders use too).
pub use comp_plan::is_name;

fn in_unit(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

/// The infos of the plan's models in table order (its one model for a plan of one), after
/// checking the table; `None` when a model is unknown or the table is wrong.
fn plan_models<'a>(s: &SamplePlan, models: &'a [ModelInfo], p: &mut Vec<String>) -> Option<Vec<&'a ModelInfo>> {
    let known: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    let find = |name: &str, p: &mut Vec<String>| {
        let m = models.iter().find(|m| m.name == name);
        if m.is_none() {
            p.push(format!("unknown model `{name}`; the models are: {}", known.join(", ")));
        }
        m
    };
    if !s.several() {
        if let Some(c) = s.conditions.iter().find(|c| c.model.is_some()) {
            p.push(format!("condition {} names model `{}`, but the plan has no `models` table", c.id, c.model.as_deref().unwrap_or("")));
        }
        return find(&s.model, p).map(|m| vec![m]);
    }
    let before = p.len();
    if s.models.len() > MAX_MODELS {
        p.push(format!("{} models; at most {MAX_MODELS} can be composed", s.models.len()));
    }
    let mut aliases = HashSet::new();
    for m in &s.models {
        if !is_name(&m.alias) {
            p.push(format!("model alias `{}` is not a name", m.alias.escape_debug()));
        }
        if !aliases.insert(m.alias.as_str()) {
            p.push(format!("two models are named `{}`", m.alias));
        }
    }
    if s.models[0].name != s.model {
        p.push(format!("`model` is `{}`, but the first of `models` is `{}`", s.model, s.models[0].name));
    }
    for c in &s.conditions {
        match &c.model {
            None => p.push(format!("condition {} names no model (a plan of several models names one for each)", c.id)),
            Some(a) if !aliases.contains(a.as_str()) => {
                p.push(format!("condition {} names model `{a}`, which `models` does not list", c.id))
            }
            Some(_) => {}
        }
    }
    let infos: Vec<Option<&ModelInfo>> = s.models.iter().map(|m| find(&m.name, p)).collect();
    let infos: Vec<&ModelInfo> = infos.into_iter().collect::<Option<_>>()?;
    for (m, info) in s.models.iter().zip(&infos).skip(1) {
        if info.sample_shape(s.settings.size) != infos[0].sample_shape(s.settings.size) || info.latent_space != infos[0].latent_space {
            p.push(format!("`{}` ({}) samples other data than `{}` ({})", m.alias, m.name, s.models[0].alias, s.models[0].name));
        } else if info.schedule != infos[0].schedule {
            p.push(format!("`{}` ({}) has another noise schedule than `{}` ({})", m.alias, m.name, s.models[0].alias, s.models[0].name));
        }
    }
    (p.len() == before).then_some(infos)
}

fn validate_sample(s: &SamplePlan, models: &[ModelInfo], p: &mut Vec<String>) {
    let Some(infos) = plan_models(s, models, p) else { return };
    // Settings are the primary model's (the first).
    let model = infos[0];
    let max_steps = infos.iter().map(|m| m.max_steps).min().unwrap_or(model.max_steps);
    let st = &s.settings;
    let steps = st.sampler.steps();
    if steps == 0 || steps > max_steps {
        p.push(format!("sampler `steps` must be in 1..={max_steps} for `{}`, found {steps}", model.name));
    }
    if let Sampler::Ddim { eta, .. } = st.sampler {
        if !DDIM_ETA.contains(&eta) {
            p.push(format!("DDIM `eta` must be in {}..={}, found {eta}", DDIM_ETA.start(), DDIM_ETA.end()));
        }
    }
    if st.samples == 0 {
        p.push("`samples` must be at least 1".into());
    }
    if st.seed > MAX_SEED {
        p.push(format!("`seed` must be at most 2^53 - 1, found {}", st.seed));
    }
    if !st.scale.is_finite() {
        p.push(format!("`scale` must be finite, found {}", st.scale));
    }
    for (name, value) in &st.extra {
        match model.extra_settings.iter().find(|x| &x.name == name) {
            None => p.push(format!("`{}` has no setting `{name}`", model.name)),
            Some(param) => check_param(&format!("setting `{name}`"), &param.kind, *value, p),
        }
    }
    match (&model.image_size, st.size) {
        (None, Some(_)) => p.push(format!("`{}` has no setting `size`", model.name)),
        (Some(spec), Some([w, h])) => {
            let ok = |v: usize| (spec.min..=spec.max).contains(&v) && spec.multiple_of > 0 && v.is_multiple_of(spec.multiple_of);
            if !(ok(w) && ok(h)) {
                p.push(format!(
                    "`size` must be WIDTHxHEIGHT with each side a multiple of {} in {}..={}, found {w}x{h}",
                    spec.multiple_of, spec.min, spec.max
                ));
            }
        }
        (Some(_), None) => p.push(format!("`{}` needs a `size`", model.name)),
        (None, None) => {}
    }
    if st.dtype.is_some() && !model.dtypes {
        p.push(format!("`{}` has no setting `dtype`", model.name));
    }
    if let Some(m) = &st.mcmc {
        if !(1..=MAX_MCMC_STEPS).contains(&m.steps) {
            p.push(format!("MCMC `steps` must be in 1..={MAX_MCMC_STEPS}, found {}", m.steps));
        }
        if !(1..=MAX_LEAPFROG).contains(&m.leapfrog) {
            p.push(format!("MCMC `leapfrog` must be in 1..={MAX_LEAPFROG}, found {}", m.leapfrog));
        }
        if !(m.step_size.is_finite() && m.step_size > 0.0) {
            p.push(format!("MCMC `step_size` must be finite and > 0, found {}", m.step_size));
        }
        if !(m.mass.is_finite() && m.mass > 0.0) {
            p.push(format!("MCMC `mass` must be finite and > 0, found {}", m.mass));
        }
        if !in_unit(m.damping) {
            p.push(format!("MCMC `damping` must be in 0..=1, found {}", m.damping));
        }
        if !(in_unit(m.from) && in_unit(m.to) && m.from < m.to) {
            p.push(format!("MCMC range [{}, {}] must satisfy 0 <= from < to <= 1", m.from, m.to));
        }
        if m.kind.needs_energies() {
            let kind = format!("{:?}", m.kind).to_lowercase();
            for (i, info) in infos.iter().enumerate() {
                let used = s.conditions.iter().any(|c| s.model_of(c) == Some(i));
                if used && !info.energies {
                    p.push(format!("MCMC `{kind}` needs energies, and `{}` has none", info.name));
                }
            }
        }
    }
    validate_conditions(s, &infos, p);
    validate_segments(s, &infos, p);
    if p.is_empty() {
        let (reverse, mcmc) = crate::model_calls(s);
        let total = reverse.saturating_add(mcmc);
        if total > MAX_MODEL_CALLS {
            p.push(format!("costs {total} model calls; the limit is {MAX_MODEL_CALLS}"));
        }
    }
}

fn check_param(what: &str, kind: &ParamKind, v: f64, p: &mut Vec<String>) {
    let ParamKind::Number { min, max, integer } = *kind;
    if !(v.is_finite() && min <= v && v <= max) || (integer && v.fract() != 0.0) {
        let whole = if integer { " (whole)" } else { "" };
        p.push(format!("{what} must be in {min}..={max}{whole}, found {v}"));
    }
}

fn validate_conditions(s: &SamplePlan, infos: &[&ModelInfo], p: &mut Vec<String>) {
    for (i, c) in s.conditions.iter().enumerate() {
        if c.id != i {
            p.push(format!("condition {i} has id {} (ids are the positions in `conditions`, from 0)", c.id));
        }
        let Some(model) = s.model_of(c).and_then(|m| infos.get(m)) else { continue };
        match &c.kind {
            ConditionKind::Null => {}
            ConditionKind::Text { .. } if model.text => {}
            ConditionKind::Text { .. } => p.push(format!("condition {i}: `{}` takes no text prompts", model.name)),
            ConditionKind::Concept { name, args } => match model.concept(name) {
                Some(concept) if args.len() != concept.params.len() => {
                    p.push(format!("condition {i}: `{name}` takes {} arguments, found {}", concept.params.len(), args.len()))
                }
                Some(concept) => {
                    for (param, &v) in concept.params.iter().zip(args) {
                        check_param(&format!("condition {i}: `{name}` argument `{}`", param.name), &param.kind, v, p);
                    }
                }
                None => p.push(format!("condition {i}: `{name}` is not a concept of `{}`", model.name)),
            },
        }
    }
}

fn validate_segments(s: &SamplePlan, infos: &[&ModelInfo], p: &mut Vec<String>) {
    if s.segments.is_empty() {
        p.push("no segments: they must cover [0, 1]".into());
        return;
    }
    let mut used = vec![false; s.conditions.len()];
    let mut expected_from = 0.0;
    for (i, seg) in s.segments.iter().enumerate() {
        if seg.from != expected_from {
            let what =
                if i == 0 { "the first segment must start at 0".to_string() } else { format!("segment {} ends at {expected_from}", i - 1) };
            p.push(format!("segment {i} starts at {}, but {what} (segments cover [0, 1] in order, without gaps or overlaps)", seg.from));
        }
        if !(seg.from < seg.to && seg.to <= 1.0) {
            p.push(format!("segment {i} is [{}, {}): it must be non-empty and within [0, 1]", seg.from, seg.to));
        }
        expected_from = seg.to;
        let mut seen = HashSet::new();
        for &id in &seg.active {
            if id >= s.conditions.len() {
                p.push(format!("segment {i} refers to condition {id}, but there are {}", s.conditions.len()));
            } else {
                used[id] = true;
            }
            if !seen.insert(id) {
                p.push(format!("segment {i} lists condition {id} twice in `active`"));
            }
        }
        let k = seg.active.len();
        let coeff_sets: Vec<&[f64]> = match &seg.combine {
            Combine::Linear { coeffs } => vec![coeffs],
            Combine::Mixture { branches } => {
                for (m, _) in s.active_per_model(seg).iter().enumerate().filter(|(_, &n)| n > 0) {
                    if let Some(model) = infos.get(m).filter(|m| !m.energies) {
                        p.push(format!("segment {i} is a mixture (OR), which needs energies, and `{}` has none", model.name));
                    }
                }
                if branches.is_empty() {
                    p.push(format!("segment {i} is a mixture without branches"));
                }
                if branches.iter().any(|b| !b.log_weight.is_finite()) {
                    p.push(format!("segment {i}: a mixture `log_weight` is not finite"));
                } else if !branches.is_empty() {
                    let total: f64 = branches.iter().map(|b| b.log_weight.exp()).sum();
                    if (total - 1.0).abs() > 1e-6 {
                        p.push(format!("segment {i}: the mixture weights exp(log_weight) sum to {total}, not 1"));
                    }
                }
                branches.iter().map(|b| b.coeffs.as_slice()).collect()
            }
        };
        for coeffs in coeff_sets {
            if coeffs.len() != k {
                p.push(format!("segment {i} has {} coefficients for {k} active conditions", coeffs.len()));
            } else if coeffs.iter().any(|c| !c.is_finite()) {
                p.push(format!("segment {i} has a coefficient that is not finite"));
            } else if k > 0 {
                let total: f64 = coeffs.iter().sum();
                let size: f64 = coeffs.iter().map(|c| c.abs()).sum();
                if total <= TOLERANCE * size {
                    p.push(format!(
                        "segment {i}: the coefficients sum to {total}, so there is no density to sample (E0123; a compiled plan's sum to a positive number)"
                    ));
                }
            }
        }
    }
    if expected_from != 1.0 {
        p.push(format!("the last segment ends at {expected_from}, not 1"));
    }
    if let Some(id) = used.iter().position(|u| !u) {
        p.push(format!("condition {id} is active in no segment"));
    }
}

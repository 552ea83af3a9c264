//! Several separately trained models as one [`Denoiser`], for a plan that composes them
//! (`model exact = toy2d`, `model learned = toy2d-mlp`, `sample s = exact.ring AND learned.bar`).
//!
//! The executor, the samplers, MCMC and the fused combination do not change: they see one
//! model whose stacked call returns ε (and energies) for every active condition. Preparing the
//! composite prepares each model with its own conditions; the composite's run
//! ([`Prepared`]) owns the models' runs (and so their prompt encodings), and drops them with
//! itself. Inside, a stacked call of K conditions is split by model: each model's run gets ONE
//! batched call over the rows of its own conditions, and the outputs are put back in the
//! conditions' order. So a step costs one call per model with an active condition, and the
//! combination stays one fused pass over all K outputs.
//!
//! Models composed together share the sample shape and, at every step the sampler visits,
//! the noise level: [`Composite::new`] checks both against the plan (the compiler has checked
//! the models' stated schedules; this checks the loaded ones, ᾱ to 1e-9).

use candle_core::{bail, Result, Tensor};
use comp_plan::{Condition, ModelInfo, SamplePlan, MAX_MODELS};

use crate::denoiser::{Denoiser, ModelOutput, Prepared};
use crate::sampler::ReverseSampler;
use crate::schedule::{Schedule, Spacing};

/// The models of one plan, in the order of its `models` table; the first decodes.
pub struct Composite<'a> {
    info: ModelInfo,
    models: Vec<&'a dyn Denoiser>,
    aliases: Vec<String>,
}

impl<'a> Composite<'a> {
    /// The composite of `models` (loaded in the order of `plan.models`) for `plan`.
    pub fn new(plan: &SamplePlan, models: Vec<&'a dyn Denoiser>) -> Result<Self> {
        if models.len() != plan.models.len() || models.is_empty() || models.len() > MAX_MODELS {
            bail!("sample `{}` composes {} models, {} were loaded", plan.sample, plan.models.len(), models.len())
        }
        for (m, p) in models.iter().zip(&plan.models) {
            if m.info().name != p.name {
                bail!("sample `{}`: `{}` is model `{}`, but `{}` was loaded", plan.sample, p.alias, p.name, m.info().name)
            }
        }
        let primary = models[0];
        let shape = primary.info().sample_shape(plan.settings.size);
        let reference = ReverseSampler::spaced(primary.schedule(), &plan.settings.sampler, primary.spacing())?;
        for (m, p) in models.iter().zip(&plan.models).skip(1) {
            if m.info().sample_shape(plan.settings.size) != shape {
                bail!(
                    "sample `{}`: `{}` ({}) samples {:?} but `{}` ({}) samples {:?}",
                    plan.sample,
                    p.alias,
                    p.name,
                    m.info().sample_shape(plan.settings.size),
                    plan.models[0].alias,
                    plan.models[0].name,
                    shape
                )
            }
            let other = ReverseSampler::spaced(m.schedule(), &plan.settings.sampler, m.spacing())?;
            for k in 0..reference.steps() {
                let (a, b) = (reference.at(k), other.at(k));
                if a.timestep != b.timestep || (a.alpha_bar - b.alpha_bar).abs() > 1e-9 {
                    bail!(
                        "sample `{}`: the noise schedules of `{}` ({}) and `{}` ({}) differ at step {k}: ᾱ {} at timestep {} against ᾱ {} at timestep {}",
                        plan.sample,
                        plan.models[0].alias,
                        plan.models[0].name,
                        p.alias,
                        p.name,
                        a.alpha_bar,
                        a.timestep,
                        b.alpha_bar,
                        b.timestep
                    )
                }
            }
        }
        // The composite has energies when every model that evaluates a condition has them.
        let used = |i: usize| plan.conditions.iter().any(|c| plan.model_of(c) == Some(i));
        let energies = (0..models.len()).filter(|&i| used(i)).all(|i| models[i].info().energies);
        let info = ModelInfo { energies, ..primary.info().clone() };
        Ok(Self { info, models, aliases: plan.models.iter().map(|m| m.alias.clone()).collect() })
    }

    /// The plan of one of the models: its own conditions (ids kept), its own name.
    fn own_plan(&self, plan: &SamplePlan, i: usize) -> SamplePlan {
        let mut own = plan.clone();
        own.model = plan.models[i].name.clone();
        own.conditions.retain(|c| plan.model_of(c) == Some(i));
        own
    }
}

/// Rows `k·n..(k+1)·n` of each `k` in `blocks`, as one index tensor.
fn rows(blocks: &[usize], n: usize, device: &candle_core::Device) -> Result<Tensor> {
    let idx: Vec<u32> = blocks.iter().flat_map(|&k| (k * n..(k + 1) * n).map(|r| r as u32)).collect();
    Tensor::new(idx.as_slice(), device)
}

impl Denoiser for Composite<'_> {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn schedule(&self) -> &Schedule {
        self.models[0].schedule()
    }

    fn spacing(&self) -> Spacing {
        self.models[0].spacing()
    }

    /// Each model prepared with its own conditions, in the order of the plan's `models`.
    fn prepare(&self, plan: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        let runs = self.models.iter().enumerate().map(|(i, m)| m.prepare(&self.own_plan(plan, i))).collect::<Result<Vec<_>>>()?;
        Ok(Box::new(CompositeRun { aliases: &self.aliases, runs }))
    }

    fn working_bytes_per_row(&self, sample_shape: &[usize]) -> usize {
        self.models.iter().map(|m| m.working_bytes_per_row(sample_shape)).max().unwrap_or(0)
    }

    fn fixed_working_bytes(&self, sample_shape: &[usize]) -> usize {
        self.models.iter().map(|m| m.fixed_working_bytes(sample_shape)).sum()
    }

    fn x0_range(&self, sampler: &comp_plan::Sampler) -> Option<(f32, f32)> {
        self.models[0].x0_range(sampler)
    }
}

/// A composite prepared for one run: each model's own run, in the order of the plan's
/// `models`; the first decodes.
struct CompositeRun<'a> {
    aliases: &'a [String],
    runs: Vec<Box<dyn Prepared + 'a>>,
}

/// The position in the plan's `models` of the model that evaluates `c`.
fn index(aliases: &[String], c: &Condition) -> Result<usize> {
    match &c.model {
        Some(a) => match aliases.iter().position(|x| x == a) {
            Some(i) => Ok(i),
            None => bail!("condition {} names model `{a}`, which the plan does not list", c.id),
        },
        None => bail!("condition {} names no model in a plan of several", c.id),
    }
}

impl Prepared for CompositeRun<'_> {
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput> {
        let k = conds.len();
        let n = x.dim(0)? / k.max(1);
        let owner: Vec<usize> = conds.iter().map(|c| index(self.aliases, c)).collect::<Result<_>>()?;
        // Blocks of each model, in condition order.
        let mut blocks: Vec<Vec<usize>> = vec![Vec::new(); self.runs.len()];
        for (b, &m) in owner.iter().enumerate() {
            blocks[m].push(b);
        }
        if let Some(only) = blocks.iter().position(|b| b.len() == k) {
            return self.runs[only].forward(x, t, conds, want_energy);
        }
        let mut eps_parts = Vec::new();
        let mut energy_parts = Vec::new();
        let mut order: Vec<usize> = Vec::with_capacity(k);
        for (m, own) in blocks.iter().enumerate().filter(|(_, b)| !b.is_empty()) {
            let idx = rows(own, n, x.device())?;
            let own_conds: Vec<&Condition> = own.iter().map(|&b| conds[b]).collect();
            let out = self.runs[m].forward(&x.index_select(&idx, 0)?, &t.index_select(&idx, 0)?, &own_conds, want_energy)?;
            eps_parts.push(out.eps);
            if want_energy {
                match out.energy {
                    Some(e) => energy_parts.push(e),
                    None => bail!("model `{}` returned no energies", self.aliases[m]),
                }
            }
            order.extend(own);
        }
        // Block j of the concatenation is condition order[j]'s; put each back at its place.
        let mut inverse = vec![0usize; k];
        for (j, &b) in order.iter().enumerate() {
            inverse[b] = j;
        }
        let back = rows(&inverse, n, x.device())?;
        let eps = Tensor::cat(&eps_parts, 0)?.index_select(&back, 0)?;
        let energy = if want_energy { Some(Tensor::cat(&energy_parts, 0)?.index_select(&back, 0)?) } else { None };
        Ok(ModelOutput { eps, energy })
    }

    fn decode(&self, x: &Tensor) -> Result<Tensor> {
        self.runs[0].decode(x)
    }
}

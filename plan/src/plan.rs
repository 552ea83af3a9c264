//! The `Plan`: what the runtime executes, per `sample`. Serialised as JSON by
//! `comp plan --emit json` and recorded in every `run.json`; the shape is documented in
//! `docs/plan.md`.

use serde::{Deserialize, Serialize};

pub use crate::condition::{Condition, ConditionKind};

/// Bumped whenever the JSON shape changes (2: conditions tagged by `kind`).
pub const PLAN_VERSION: u32 = 2;

/// The most MCMC steps per noise level (RRR uses 10 to 50): far more is a typo, and counts
/// this size keep every model-call count well inside `usize`.
pub const MAX_MCMC_STEPS: usize = 10_000;
/// The most leapfrog steps per HMC step (RRR uses 3 to 10).
pub const MAX_LEAPFROG: usize = 1_000;
/// The most model calls one sample may cost (reverse steps plus MCMC): 10^8 calls is days of
/// work even for the exact toy model, so a plan asking more is refused up front.
pub const MAX_MODEL_CALLS: usize = 100_000_000;

/// A name as the language spells it, `[A-Za-z_][A-Za-z0-9_-]*`: what sample names, model
/// aliases and model folders must be (they become folder names and script words).
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The most models one file may compose (each is loaded and called every step; run records
/// count calls per model in arrays of this size).
pub const MAX_MODELS: usize = 8;

/// Everything a file asks for: one `SamplePlan` per `sample` statement, in file order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub version: u32,
    pub samples: Vec<SamplePlan>,
}

/// One `sample`: its settings, the unique conditions it evaluates, and per stretch of the
/// trajectory which conditions are active and how their outputs combine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplePlan {
    /// The sample's name (`sample pair = ...` gives `pair`).
    pub sample: String,
    /// The model; with several, the primary one (the first the file names), whose sample
    /// shape and decoder the run uses.
    pub model: String,
    /// With several models, each by the script's name for it (`exact` → `toy2d`); each
    /// condition names its own. Empty (and not written) for a plan of one model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<PlanModel>,
    pub settings: Settings,
    /// Unique conditions; `id` is the index in this list. Each is evaluated at most once per
    /// step, however often the script writes it.
    pub conditions: Vec<Condition>,
    /// Stretches of the trajectory in order, covering `[0, 1]` without gaps.
    pub segments: Vec<Segment>,
}

/// One of the models a plan composes: `model exact = toy2d` is `{alias: exact, name: toy2d}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanModel {
    pub alias: String,
    pub name: String,
    /// A classifier (classifier guidance): each of its calls is a forward and a backward pass.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub classifier: bool,
}

impl SamplePlan {
    /// Whether the plan composes several models.
    pub fn several(&self) -> bool {
        !self.models.is_empty()
    }

    /// The index in [`SamplePlan::models`] of a condition's model: 0 for a plan of one
    /// model; `None` for an alias the table lacks (the validator refuses such a plan).
    pub fn model_of(&self, c: &Condition) -> Option<usize> {
        match &c.model {
            None => (!self.several()).then_some(0),
            Some(alias) => self.models.iter().position(|m| &m.alias == alias),
        }
    }

    /// How many of a segment's active conditions each model evaluates, in table order (one
    /// entry for a plan of one model). Each model with a nonzero count costs one batched call
    /// per evaluation of the composed ε̂.
    pub fn active_per_model(&self, segment: &Segment) -> Vec<usize> {
        let mut per = vec![0usize; self.model_names().len()];
        for &id in &segment.active {
            if let Some(i) = self.conditions.get(id).and_then(|c| self.model_of(c)) {
                if let Some(n) = per.get_mut(i) {
                    *n += 1;
                }
            }
        }
        per
    }

    /// Model calls one evaluation of a segment's ε̂ costs: one per model with an active
    /// condition (1 for a plan of one model, 0 for a segment with no active condition).
    pub fn calls_per_eval(&self, segment: &Segment) -> usize {
        self.active_per_model(segment).iter().filter(|&&n| n > 0).count()
    }

    /// The models' registry names in table order (the one model for a plan of one).
    pub fn model_names(&self) -> Vec<&str> {
        if self.several() {
            self.models.iter().map(|m| m.name.as_str()).collect()
        } else {
            vec![self.model.as_str()]
        }
    }
}

/// The resolved settings of one sample (file settings, then the sample's `with` overrides,
/// then the model's defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub sampler: Sampler,
    /// Annealed MCMC after each reverse step; `None` for plain reverse diffusion.
    pub mcmc: Option<Mcmc>,
    pub scale: f64,
    pub seed: u64,
    pub samples: usize,
    /// Model-specific settings, by name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub extra: std::collections::BTreeMap<String, f64>,
    /// `size WxH`: the picture's width and height in pixels, for models whose pictures come in
    /// sizes (latent models, see [`crate::ImageSize`]); `None` for every other model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<[usize; 2]>,
    /// `dtype f16`: the precision the model computes in; `None` is the model's choice (f16 on
    /// a GPU, f32 on a CPU). Only for models that run in several (see
    /// [`crate::ModelInfo::dtypes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<Dtype>,
}

/// The floating-point type a model computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    F16,
    Bf16,
    F32,
}

impl Dtype {
    pub const ALL: [Dtype; 3] = [Dtype::F16, Dtype::Bf16, Dtype::F32];

    /// As scripts write it: `f16`, `bf16`, `f32`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
            Dtype::F32 => "f32",
        }
    }

    pub fn from_name(name: &str) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// The reverse-diffusion sampler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Sampler {
    /// `ddpm(steps: N)`: ancestral sampling.
    Ddpm { steps: usize },
    /// `ddim(steps: N, eta: E)`: eta 0 is deterministic, 1 matches DDPM's noise.
    Ddim { steps: usize, eta: f64 },
    /// `dpmpp2m(steps: N)`: DPM-Solver++(2M) (Lu et al. 2022), the deterministic second-order
    /// multistep solver of the probability-flow ODE in data prediction.
    Dpmpp2m { steps: usize },
    /// `euler_a(steps: N)`: Euler ancestral (Karras et al. 2022's Euler step with fresh noise
    /// each step, as k-diffusion and A1111 run it), on the model's own schedule.
    #[serde(rename = "euler_a")]
    EulerA { steps: usize },
}

/// The samplers' script names, in the order the docs list them.
pub const SAMPLER_NAMES: [&str; 4] = ["ddpm", "ddim", "dpmpp2m", "euler_a"];

/// DDIM's η: 0 is deterministic, 1 is DDPM's noise. The compiler (with spans), the JSON-plan
/// validator and the sampler read this one range.
pub const DDIM_ETA: std::ops::RangeInclusive<f64> = 0.0..=1.0;

impl Sampler {
    /// The script name: `ddpm`, `ddim`, `dpmpp2m` or `euler_a` (one of [`SAMPLER_NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            Sampler::Ddpm { .. } => "ddpm",
            Sampler::Ddim { .. } => "ddim",
            Sampler::Dpmpp2m { .. } => "dpmpp2m",
            Sampler::EulerA { .. } => "euler_a",
        }
    }

    pub fn steps(&self) -> usize {
        match self {
            Sampler::Ddpm { steps } | Sampler::Ddim { steps, .. } | Sampler::Dpmpp2m { steps } | Sampler::EulerA { steps } => *steps,
        }
    }

    /// Evaluations of the composed ε̂ (model calls, when the step's segment has an active
    /// condition) one reverse step costs. Every sampler so far needs one: DPM-Solver++(2M) is
    /// second order by reusing the previous step's prediction, not by a second call. The
    /// plan's renderer counts with this, and the runtime's samplers make exactly these.
    pub fn calls_per_step(&self) -> usize {
        match self {
            Sampler::Ddpm { .. } | Sampler::Ddim { .. } | Sampler::Dpmpp2m { .. } | Sampler::EulerA { .. } => 1,
        }
    }
}

/// As a script writes it: `ddim(steps: 50, eta: 0)`.
impl std::fmt::Display for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sampler::Ddim { steps, eta } => write!(f, "ddim(steps: {steps}, eta: {eta})"),
            other => write!(f, "{}(steps: {})", other.name(), other.steps()),
        }
    }
}

/// Which annealed MCMC sampler runs at each noise level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum McmcKind {
    Ula,
    Mala,
    Uhmc,
    Hmc,
}

impl McmcKind {
    pub const ALL: [McmcKind; 4] = [McmcKind::Ula, McmcKind::Mala, McmcKind::Uhmc, McmcKind::Hmc];

    /// The script name: `ula`, `mala`, `uhmc` or `hmc`.
    pub fn name(self) -> &'static str {
        match self {
            McmcKind::Ula => "ula",
            McmcKind::Mala => "mala",
            McmcKind::Uhmc => "uhmc",
            McmcKind::Hmc => "hmc",
        }
    }

    /// U-HMC and HMC take `leapfrog`, `damping` and `mass`.
    pub fn is_hamiltonian(self) -> bool {
        matches!(self, McmcKind::Uhmc | McmcKind::Hmc)
    }

    /// MALA and HMC accept or reject, which needs energies.
    pub fn needs_energies(self) -> bool {
        matches!(self, McmcKind::Mala | McmcKind::Hmc)
    }

    /// Model calls (evaluations of the composed ε̂) one noise level costs with `steps` MCMC
    /// steps of `leapfrog` leapfrog steps each: ULA `steps` (the score at the current point);
    /// MALA `steps + 1` (the score and energy at each proposal, plus the level's starting
    /// point; the accepted point's are kept); U-HMC and HMC `steps·leapfrog + 1` (one per
    /// leapfrog step, plus the starting point). The plan's renderer predicts a run's calls with
    /// this and the runtime's MCMC makes exactly these, so the two cannot disagree. Saturates
    /// instead of wrapping (a JSON plan can ask for any count; the validator refuses it).
    pub fn calls_per_level(self, steps: usize, leapfrog: usize) -> usize {
        match self {
            McmcKind::Ula => steps,
            McmcKind::Mala => steps.saturating_add(1),
            McmcKind::Uhmc | McmcKind::Hmc => steps.saturating_mul(leapfrog.max(1)).saturating_add(1),
        }
    }
}

impl std::fmt::Display for McmcKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `"hmc".parse::<McmcKind>()`; the error names the four.
impl std::str::FromStr for McmcKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        McmcKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| format!("unknown MCMC sampler `{s}` (ula, mala, uhmc or hmc)"))
    }
}

/// `mcmc hmc(steps: 10, step_size: 0.03, leapfrog: 3, damping: 0.5, mass: 1)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mcmc {
    pub kind: McmcKind,
    /// MCMC steps per noise level.
    pub steps: usize,
    /// h; multiplied by β_t at each level when `beta_scaled`.
    pub step_size: f64,
    /// Scale the step size (and HMC's mass) by β_t, as RRR does for images.
    pub beta_scaled: bool,
    /// Leapfrog steps (HMC, U-HMC).
    pub leapfrog: usize,
    /// Momentum damping d in v ← d·v + √(1−d²)·√M·ξ (HMC, U-HMC).
    pub damping: f64,
    /// Mass M (HMC, U-HMC).
    pub mass: f64,
    /// The fraction of the trajectory where MCMC runs (0 = pure noise, 1 = end).
    pub from: f64,
    pub to: f64,
}

impl Mcmc {
    /// Model calls one noise level costs (see [`McmcKind::calls_per_level`]).
    pub fn calls_per_level(&self) -> usize {
        self.kind.calls_per_level(self.steps, self.leapfrog)
    }
}

/// A stretch `[from, to)` of the trajectory with one combination rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    pub from: f64,
    pub to: f64,
    /// Condition ids evaluated in this stretch: one batched model call per step over them.
    pub active: Vec<usize>,
    pub combine: Combine,
}

/// How a segment's model outputs are combined into ε̂. Coefficients align with `active`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Combine {
    /// ε̂ = Σ_k coeffs[k] · ε(x, t | active[k]).
    Linear { coeffs: Vec<f64> },
    /// A mixture (`OR`): branch j has energy E_j = Σ_k coeffs[k] · E_k and
    /// ε_j = Σ_k coeffs[k] · ε_k; ε̂ = Σ_j π_j ε_j with
    /// π = softmax_j(log_weight_j − E_j / σ_t), per sample.
    Mixture { branches: Vec<Branch> },
}

/// One branch of a mixture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// log of the normalised mixture weight m_j.
    pub log_weight: f64,
    pub coeffs: Vec<f64>,
}

/// Which segment a sampling step uses: step `i` of `steps` sits at trajectory fraction
/// `(i + 0.5) / steps` and uses the segment with `from <= f < to`.
pub fn step_fraction(step: usize, steps: usize) -> f64 {
    (step as f64 + 0.5) / steps as f64
}

impl SamplePlan {
    /// The segment active at step `step` (of `settings.sampler.steps()`).
    pub fn segment_at(&self, step: usize) -> Option<&Segment> {
        let f = step_fraction(step, self.settings.sampler.steps());
        self.segments.iter().find(|s| s.from <= f && f < s.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samplers_print_as_scripts_write_them() {
        let all = [
            (Sampler::Ddpm { steps: 100 }, "ddpm(steps: 100)"),
            (Sampler::Ddim { steps: 50, eta: 0.0 }, "ddim(steps: 50, eta: 0)"),
            (Sampler::Ddim { steps: 50, eta: 0.5 }, "ddim(steps: 50, eta: 0.5)"),
            (Sampler::Dpmpp2m { steps: 20 }, "dpmpp2m(steps: 20)"),
            (Sampler::EulerA { steps: 30 }, "euler_a(steps: 30)"),
        ];
        for (s, text) in &all {
            assert_eq!(s.to_string(), *text);
            assert!(SAMPLER_NAMES.contains(&s.name()));
        }
        // Every name is some sampler's, and serde's tag is the same name.
        for name in SAMPLER_NAMES {
            let (s, _) = all.iter().find(|(s, _)| s.name() == name).expect("a sampler of each name");
            assert_eq!(serde_json::to_value(s).unwrap()["kind"], name);
        }
    }

    #[test]
    fn mcmc_kinds_parse_their_names_and_only_those() {
        for k in McmcKind::ALL {
            assert_eq!(k.name().parse::<McmcKind>(), Ok(k));
            assert_eq!(k.to_string(), k.name());
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
        assert_eq!("hcm".parse::<McmcKind>(), Err("unknown MCMC sampler `hcm` (ula, mala, uhmc or hmc)".to_string()));
        assert!(DDIM_ETA.contains(&0.0) && DDIM_ETA.contains(&1.0) && !DDIM_ETA.contains(&1.5));
    }
}

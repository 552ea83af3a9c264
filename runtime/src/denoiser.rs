//! The `Denoiser` trait: what the executor needs of a model, and [`Prepared`]: the model
//! made ready for one run.
//!
//! A run starts with [`Denoiser::prepare`], given the sample's plan; it returns the
//! [`Prepared`] run that evaluates ε ([`Prepared::forward`]) and decodes the samples
//! ([`Prepared::decode`]). Whatever a model computes for one run (a text model's prompt
//! encodings, its counters) lives in that object and is dropped with it: a loaded model serves
//! many runs (the REPL's) without keeping anything of them. As `forward` is a method of the
//! prepared run only, calling a model before preparing it does not compile. A model with
//! nothing to prepare (the toy2d models, the MLPs, the clevr UNets) is its own prepared run:
//! it implements [`Prepared`] and its `prepare` returns itself (`Ok(Box::new(self))`, through
//! the blanket `impl Prepared for &P`).
//!
//! ```
//! use comp_plan::{Condition, SamplePlan};
//! use comp_runtime::{Denoiser, Prepared, Tensor};
//!
//! /// ε of one condition: prepare the run, then call it.
//! fn eps(model: &dyn Denoiser, plan: &SamplePlan, x: &Tensor, t: &Tensor, c: &Condition) -> candle_core::Result<Tensor> {
//!     let run = model.prepare(plan)?;
//!     Ok(run.forward(x, t, &[c], false)?.eps)
//! }
//! ```
//!
//! A model is not called before it is prepared: a `Denoiser` has no `forward` (this does not
//! compile).
//!
//! ```compile_fail,E0599
//! use comp_plan::Condition;
//! use comp_runtime::{Denoiser, Prepared, Tensor};
//!
//! fn eps(model: &dyn Denoiser, x: &Tensor, t: &Tensor, c: &Condition) -> candle_core::Result<Tensor> {
//!     Ok(model.forward(x, t, &[c], false)?.eps)
//! }
//! ```
//!
//! One call evaluates *all* active conditions of a step at once: the executor stacks the
//! current samples K times (one block of N rows per condition) and the model returns ε for
//! every row. A learned model then runs one batched forward pass per step, however many
//! terms the composition has, instead of one pass per term.

use candle_core::{Result, Tensor};
use comp_plan::ModelInfo;
use comp_plan::{Condition, SamplePlan};

use crate::schedule::{Schedule, Spacing};

/// What a model returns for a stacked batch.
#[derive(Clone, Debug)]
pub struct ModelOutput {
    /// ε for each row, shape `[K·N, ...data_shape]`, f32.
    pub eps: Tensor,
    /// Energies E with ε = ∇ₓE and log q_t = −E/σ_t, shape `[K·N]`, f32; present when asked
    /// for and the model has energies.
    pub energy: Option<Tensor>,
}

/// A noise-prediction model, conditioned on concepts (and possibly text).
pub trait Denoiser: Send + Sync {
    /// Vocabulary and defaults, as the compiler checks scripts against.
    fn info(&self) -> &ModelInfo;

    /// The model's native training schedule; the sampler respaces it to the plan's steps.
    fn schedule(&self) -> &Schedule;

    /// Which native timesteps a run of fewer steps keeps: evenly spaced (improved DDPM) by
    /// default; a model published with its own sampler (Stable Diffusion) says its own, so
    /// that `comp` calls it at the timesteps upstream pipelines do.
    fn spacing(&self) -> Spacing {
        Spacing::Even
    }

    /// Makes the model ready for one run of `plan` (every condition it may evaluate, and its
    /// settings), before the first step: the place for work that depends on the conditions or
    /// settings but not on x or t (a text model loads its weights in the plan's `dtype` and
    /// encodes its prompts here, once, not every step). The executor calls it once per
    /// sample plan, after checking the plan and its memory, and drops the returned run when
    /// the samples are decoded. A model with nothing to prepare returns itself
    /// (`Ok(Box::new(self))`; see the module doc).
    fn prepare(&self, plan: &SamplePlan) -> Result<Box<dyn Prepared + '_>>;

    /// Bytes the forward pass keeps per stacked row besides its input and output, for the
    /// memory estimate of [`crate::memory`]. The default, 8 rows of data, suits models whose
    /// activations are a few times their input (convolutional nets); models with wide hidden
    /// layers say more.
    /// `sample_shape` is the shape of one sample of this run (it depends on `size` for latent
    /// models).
    fn working_bytes_per_row(&self, sample_shape: &[usize]) -> usize {
        8 * 4 * sample_shape.iter().product::<usize>()
    }

    /// Bytes a run needs once, whatever its samples: working memory outside the per-row
    /// model call (a VAE decoding one picture at a time). The weights themselves are already
    /// loaded when a run is checked, and not counted. The default: none.
    fn fixed_working_bytes(&self, sample_shape: &[usize]) -> usize {
        let _ = sample_shape;
        0
    }

    /// The range of clean data, for image models whose samples live in a box (`[−1, 1]`):
    /// each reverse step then clips the predicted x̂₀ = (x − σε̂)/√ᾱ to it and samples with the
    /// ε that clipped x̂₀ implies (improved DDPM's `clip_denoised`). Without it, the first
    /// steps of a cosine schedule (√ᾱ ≈ 0.006 at t = 999) multiply any error in ε̂ by more than
    /// a hundred, and an imperfect image model's samples diverge. `None` (the default): no
    /// clipping (the 2D models, whose data are not boxed). `sampler` is the run's: a model may
    /// clip for some samplers only (Stable Diffusion's `clip_sample` is a setting of diffusers'
    /// DDIM and DDPM schedulers).
    fn x0_range(&self, sampler: &comp_plan::Sampler) -> Option<(f32, f32)> {
        let _ = sampler;
        None
    }
}

/// A model prepared for one run ([`Denoiser::prepare`]): it evaluates ε for the run's
/// conditions with what it prepared (a text model's prompt encodings), and decodes the run's
/// samples. It owns what it prepared; dropping it frees that.
pub trait Prepared: Send + Sync {
    /// ε (and energies when `want_energy`) for a stacked batch.
    ///
    /// * `x`: `[K·N, ...data_shape]`; rows `k·N..(k+1)·N` are evaluated under `conds[k]`.
    /// * `t`: `[K·N]` f32, the native timestep index of each row.
    /// * `conds`: the K conditions, K ≥ 1, conditions of the plan the run was prepared for.
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput>;

    /// Turns the final samples into the data that is written out (a latent model decodes its
    /// latents to pixels). The default is the identity: the model samples data directly.
    fn decode(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }
}

/// A model with nothing to prepare is its own prepared run: its `prepare` returns
/// `Box::new(self)`.
impl<P: Prepared + ?Sized> Prepared for &P {
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput> {
        (**self).forward(x, t, conds, want_energy)
    }

    fn decode(&self, x: &Tensor) -> Result<Tensor> {
        (**self).decode(x)
    }
}

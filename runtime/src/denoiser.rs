//! The `Denoiser` trait: what the executor needs of a model.
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

    /// ε (and energies when `want_energy`) for a stacked batch.
    ///
    /// * `x`: `[K·N, ...data_shape]`; rows `k·N..(k+1)·N` are evaluated under `conds[k]`.
    /// * `t`: `[K·N]` f32, the native timestep index of each row.
    /// * `conds`: the K conditions, K ≥ 1.
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput>;

    /// Called once per run, before the first step, with the sample's plan (every condition it
    /// may evaluate, and its settings): the place for work that depends on the conditions or
    /// settings but not on x or t (a text model encodes its prompts here, once, not every
    /// step, and loads its weights in the plan's `dtype`; it keeps them behind a lock, as this
    /// takes `&self` so that one loaded model serves many runs). The default does nothing.
    fn prepare(&self, plan: &SamplePlan) -> Result<()> {
        let _ = plan;
        Ok(())
    }

    /// Turns the final samples into the data that is written out (a latent model decodes its
    /// latents to pixels). The default is the identity: the model samples data directly.
    fn decode(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }

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

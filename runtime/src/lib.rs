//! `comp-runtime`: executes plans (`comp-plan`) with candle. It knows the plan, never the
//! language: no parser, no compiler, no model (models implement [`Denoiser`] in
//! `comp-models`).
//!
//! | stage | file | what it does |
//! | --- | --- | --- |
//! | model | [`denoiser`] | the `Denoiser` trait: ε (and energies) for a stacked batch of conditions; `prepare`, `decode` |
//! | composed ε̂ | [`composed`] | one model call over a segment's active conditions, then the fused combination, counted |
//! | combination | [`combine`], [`fused`] | a segment's `Combine` as one fused weighted sum |
//! | schedule | [`schedule`] | native ᾱ (cosine, linear) and respacing to the plan's steps |
//! | sampler | [`sampler`], [`noise`] | DDPM, DDIM and DPM-Solver++(2M) steps, seeded noise |
//! | executor | [`executor`] | the reverse loop: each step hands the sampler an "evaluate ε̂ at (x, t)" function |
//! | MCMC | [`mcmc`] | annealed ULA, MALA, U-HMC, HMC after each reverse step |
//! | memory | [`memory`] | the run's memory, estimated from the plan and checked before allocating |
//! | output | [`output`] | `samples.npy`, `plot.png` / `grid.png`, atomic writes |
//!
//! The whole pipeline, with a hand-written plan for `sample s = ring AND bar` under
//! `base none` (what the compiler lowers that script to):
//!
//! ```
//! use comp_plan::{Combine, Condition, SamplePlan, Sampler, Segment, Settings};
//! use comp_runtime::{device, execute, ExecOptions};
//!
//! let dev = device("cpu")?;
//! let model = comp_models::load("toy2d", &dev)?;
//! let cond = |id: usize, concept: &str| Condition { id, concept: concept.into(), args: vec![], text: None };
//! let plan = SamplePlan {
//!     sample: "s".into(),
//!     model: "toy2d".into(),
//!     settings: Settings {
//!         sampler: Sampler::Ddpm { steps: 50 },
//!         mcmc: None,
//!         scale: 1.0,
//!         seed: 7,
//!         samples: 200,
//!         extra: Default::default(),
//!     },
//!     conditions: vec![cond(0, "ring"), cond(1, "bar")],
//!     segments: vec![Segment {
//!         from: 0.0,
//!         to: 1.0,
//!         active: vec![0, 1],
//!         combine: Combine::Linear { coeffs: vec![1.0, 1.0] },
//!     }],
//! };
//! let out = execute(&plan, model.as_ref(), &dev, &ExecOptions::default())?;
//! assert_eq!(out.samples.dims(), &[200, 2]);
//! assert_eq!(out.model_calls, 50); // one batched call per step for both conditions
//! # let dir = std::env::temp_dir().join(format!("comp-doc-{}", std::process::id()));
//! comp_runtime::output::write_samples(&dir, &out.samples)?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), candle_core::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod combine;
pub mod composed;
pub mod denoiser;
pub mod error;
pub mod executor;
pub mod finite;
pub mod fused;
pub mod mcmc;
pub mod memory;
pub mod noise;
pub mod output;
pub mod sampler;
pub mod schedule;

pub use candle_core::{Device, Tensor};
pub use denoiser::{Denoiser, ModelOutput};
pub use executor::{execute, ExecOptions, RunOutput};
pub use schedule::Schedule;

/// The device a `--device` string names: `cpu`, `cuda` (GPU 0) or `cuda:N`.
pub fn device(spec: &str) -> candle_core::Result<Device> {
    let ordinal = match spec.trim() {
        "cpu" => return Ok(Device::Cpu),
        "cuda" => 0,
        s => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => n,
            _ => candle_core::bail!("unknown device `{spec}`; expected cpu, cuda or cuda:N"),
        },
    };
    if !cfg!(feature = "cuda") {
        candle_core::bail!("this comp was built without CUDA; rebuild with `--features cuda`")
    }
    Device::new_cuda(ordinal).map_err(|e| e.context(format!("opening CUDA device {ordinal}")))
}

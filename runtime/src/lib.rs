//! `comp-runtime`: executes plans (`comp-plan`) with candle. It knows the plan, never the
//! language: no parser, no compiler, no model (models implement [`Denoiser`] in
//! `comp-models`).
//!
//! | stage | file | what it does |
//! | --- | --- | --- |
//! | model | [`denoiser`] | the `Denoiser` trait: ε (and energies) for a stacked batch of conditions; `prepare`, `decode` |
//! | composed ε̂ | [`composed`] | one model call over a segment's active conditions, then the fused combination, counted |
//! | several models | [`composite`] | the models of a plan that composes several, as one `Denoiser`: one batched call per model |
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
//! let cond = |id: usize, concept: &str| Condition { model: None, id, concept: concept.into(), args: vec![], text: None };
//! let plan = SamplePlan {
//!     sample: "s".into(),
//!     model: "toy2d".into(),
//!     models: vec![],
//!     settings: Settings {
//!         sampler: Sampler::Ddpm { steps: 50 },
//!         mcmc: None,
//!         scale: 1.0,
//!         seed: 7,
//!         samples: 200,
//!         extra: Default::default(),
//!         size: None,
//!         dtype: None,
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
// Denied except in the few CPU kernels that call a GEMM through raw pointers or fill buffers
// without zeroing them first (each `unsafe` there says why it is sound).
#![deny(unsafe_code)]

pub mod combine;
pub mod composite;
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
pub use schedule::{Schedule, Spacing};

/// Tunes the process for CPU training and sampling; call once at start-up, before other
/// threads exist. glibc returns every freed block above 128 KiB to the kernel and maps it again
/// on the next allocation, so a training step of the clevr UNet (hundreds of MB of activations
/// and unfolded patches, freed and reallocated every step) spent a tenth of its time zeroing
/// fresh pages in the kernel (`perf`: `clear_page_erms`, `exc_page_fault`). Keeping blocks up
/// to 32 MiB in the heap and not trimming it removes most of that. Elsewhere a no-op.
pub fn tune_cpu_process() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only changes allocator parameters; called before other threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

/// Restores the default action of SIGPIPE (Unix), which Rust's runtime sets to "ignore": a
/// command whose reader goes away (`comp models | head -1`) then ends quietly, as `cat` or
/// `ls` do, instead of panicking in `println!` with "failed printing to stdout". Call it first
/// thing in `main`.
pub fn default_sigpipe() {
    #[cfg(unix)]
    #[allow(unsafe_code)]
    // SAFETY: setting a signal's disposition to its default; called before other threads start.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

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

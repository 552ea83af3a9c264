//! `comp-runtime`: executes plans (`comp-plan`) with candle. It knows the plan, never the
//! language: no parser, no compiler, no model (models implement [`Denoiser`] in
//! `comp-models`).
//!
//! | stage | file | what it does |
//! | --- | --- | --- |
//! | model | [`denoiser`] | the `Denoiser` trait and its `prepare`, which returns the run's `Prepared` model: ε (and energies) for a stacked batch of conditions, `decode` |
//! | composed ε̂ | [`composed`] | one model call over a segment's active conditions, then the fused combination, counted |
//! | several models | [`composite`] | the models of a plan that composes several, as one `Denoiser`: one batched call per model |
//! | combination | [`combine`], [`fused`] | a segment's `Combine` as one fused weighted sum |
//! | schedule | [`schedule`] | native ᾱ (cosine, linear) and respacing to the plan's steps |
//! | sampler | [`sampler`], [`noise`] | DDPM, DDIM and DPM-Solver++(2M) steps, seeded noise |
//! | executor | [`executor`] | the reverse loop: each step hands the sampler an "evaluate ε̂ at (x, t)" function |
//! | MCMC | [`mcmc`] | annealed ULA, MALA, U-HMC, HMC after each reverse step |
//! | memory | [`memory`] | the run's memory, estimated from the plan and checked before allocating |
//! | errors | [`error`] | [`RunError`]: non-finite values, interruption, too large, or candle's, by variant; one-line messages |
//!
//! The whole pipeline with a real model, a hand-written plan for `sample s = ring AND bar`,
//! is the example of `comp-models`' crate documentation (the runtime's tests that need a model
//! live in `models/tests/`, so this crate depends on no model, not even for its tests).
// Denied except in the few CPU kernels that call a GEMM through raw pointers or fill buffers
// without zeroing them first (each `unsafe` there says why it is sound).
#![deny(unsafe_code)]

pub mod combine;
pub mod composed;
pub mod composite;
pub mod denoiser;
pub mod error;
pub mod executor;
pub mod finite;
pub mod fused;
pub mod mcmc;
pub mod memory;
pub mod noise;
pub mod sampler;
pub mod schedule;

pub use candle_core::{Device, Tensor};
pub use denoiser::{Denoiser, ModelOutput, Prepared};
pub use error::RunError;
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

//! What stops a run before or while it goes wrong: the memory estimate, non-finite values
//! (named by step, sample and term), and the cancel flag.

use candle_core::{Device, Result, Tensor};
use comp_models as models;
use comp_plan::ModelInfo;
use comp_plan::{Condition, Sampler};
use comp_runtime::{execute, memory, Denoiser, ExecOptions, ModelOutput, Schedule};
use std::sync::atomic::AtomicBool;

mod common;
use common::*;

/// toy2d, except that the ε of `bar` becomes NaN for sample 3 from native timestep `from_t`
/// down (the reverse run reaches small timesteps late).
struct Poisoned {
    inner: Box<dyn Denoiser>,
    below_t: f32,
}

impl Denoiser for Poisoned {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }
    fn schedule(&self) -> &Schedule {
        self.inner.schedule()
    }
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput> {
        let mut out = self.inner.forward(x, t, conds, want_energy)?;
        let t0 = t.to_vec1::<f32>()?[0];
        if t0 < self.below_t {
            let n = x.dim(0)? / conds.len();
            if let Some(k) = conds.iter().position(|c| c.as_concept() == Some(("bar", &[]))) {
                let mut v = out.eps.flatten_all()?.to_vec1::<f32>()?;
                v[(k * n + 3) * 2] = f32::NAN;
                out.eps = Tensor::from_vec(v, out.eps.dims(), out.eps.device())?;
            }
        }
        Ok(out)
    }
}

#[test]
fn a_nan_stops_the_run_naming_step_sample_and_term() {
    let dev = Device::Cpu;
    let model = Poisoned { inner: models::load("toy2d", &dev).unwrap(), below_t: 50.0 };
    let plan = linear_plan(&["ring", "bar"], &[1.0, 1.0], Sampler::Ddpm { steps: 10 }, 8, 0);
    let err = execute(&plan, &model, &dev, &ExecOptions::default()).unwrap_err();
    let msg = comp_runtime::error::message(&err);
    // 10 steps respaced over toy2d's 100: step k sits at native t = 99 − 11k rounded, so
    // step 5 is the first below 50.
    assert!(msg.starts_with("sample `s`, step 5 of 10: the model's ε for term #1 `bar` is NaN at sample 3"), "{msg}");
}

#[test]
fn coefficients_that_overflow_stop_the_run_at_step_zero() {
    // A forged plan (the validator refuses it; `execute` guards on its own): 1e38 · ε twice
    // overflows f32.
    let dev = Device::Cpu;
    let model = models::load("toy2d", &dev).unwrap();
    let plan = linear_plan(&["ring", "bar"], &[1e300, 1e300], Sampler::Ddpm { steps: 10 }, 8, 0);
    let msg = comp_runtime::error::message(&execute(&plan, model.as_ref(), &dev, &ExecOptions::default()).unwrap_err());
    assert!(msg.starts_with("sample `s`, step 0 of 10:"), "{msg}");
    assert!(msg.contains("at sample 0"), "{msg}");
}

#[test]
fn memory_is_estimated_before_allocating() {
    let dev = Device::Cpu;
    let model = models::load("toy2d", &dev).unwrap();
    // 10^12 samples of toy2d: per sample 4 bytes · 2 values · (12 + 2·2 rows) + 2 · 64 bytes
    // of working memory (8 rows of 8 bytes per stacked row) = 256 bytes; 2.56e14 bytes in all.
    let plan = linear_plan(&["ring", "bar"], &[1.0, 1.0], Sampler::Ddpm { steps: 10 }, 1_000_000_000_000, 0);
    assert_eq!(memory::estimate_bytes(&plan, &[2], 64), 256_000_000_000_000);
    let err = memory::check_against(&plan, model.as_ref(), 1 << 30, "a test limit").unwrap_err();
    let msg = comp_runtime::error::message(&err);
    assert!(msg.starts_with("sample `s`: 1000000000000 samples need about 232.8 TiB of memory (about 256 B each), over the limit of 1.0 GiB (a test limit); at most 4194304 samples fit"), "{msg}");
    // execute refuses it too (any machine's limit is far below 232 TiB), without allocating.
    assert!(execute(&plan, model.as_ref(), &dev, &ExecOptions::default()).is_err());
    // usize::MAX samples: the estimate saturates instead of wrapping.
    let huge = linear_plan(&["ring"], &[1.0], Sampler::Ddpm { steps: 10 }, usize::MAX, 0);
    assert!(memory::estimate_bytes(&huge, &[3, 1 << 20, 1 << 20], usize::MAX) > 1 << 100);
}

#[test]
fn a_set_cancel_flag_stops_before_the_next_step() {
    let dev = Device::Cpu;
    let model = models::load("toy2d", &dev).unwrap();
    let plan = linear_plan(&["ring"], &[1.0], Sampler::Ddpm { steps: 10 }, 8, 0);
    let cancel = AtomicBool::new(false);
    let stop_after_3 = |done: usize, _: usize| {
        if done == 3 {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let opts = ExecOptions { progress: Some(&stop_after_3), cancel: Some(&cancel), ..Default::default() };
    let msg = comp_runtime::error::message(&execute(&plan, model.as_ref(), &dev, &opts).unwrap_err());
    assert_eq!(msg, "sample `s`: interrupted at step 3 of 10");
}

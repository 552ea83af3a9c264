//! What stops a run before or while it goes wrong: the memory estimate, non-finite values
//! (named by step, sample and term), and the cancel flag.

use candle_core::{Device, Result, Tensor};
use comp_models as models;
use comp_models::toy2d::Toy2d;
use comp_plan::ModelInfo;
use comp_plan::{Condition, SamplePlan, Sampler};
use comp_runtime::{execute, memory, Denoiser, ExecOptions, ModelOutput, Prepared, RunError, Schedule};
use std::sync::atomic::AtomicBool;

mod common;
use common::*;

/// toy2d, except that the ε of `bar` becomes NaN for sample 3 from native timestep `from_t`
/// down (the reverse run reaches small timesteps late).
struct Poisoned {
    inner: Toy2d,
    below_t: f32,
}

impl Denoiser for Poisoned {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }
    fn schedule(&self) -> &Schedule {
        self.inner.schedule()
    }
    fn prepare(&self, _: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        Ok(Box::new(self))
    }
}

impl Prepared for Poisoned {
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
    let model = Poisoned { inner: Toy2d::new().unwrap(), below_t: 50.0 };
    let plan = linear_plan(&["ring", "bar"], &[1.0, 1.0], Sampler::Ddpm { steps: 10 }, 8, 0);
    let err = execute(&plan, &model, &dev, &ExecOptions::default()).unwrap_err();
    let msg = err.message();
    // 10 steps respaced over toy2d's 100: step k sits at native t = 99 − 11k rounded, so
    // step 5 is the first below 50.
    match &err {
        RunError::NonFinite { sample, step: 5, steps: 10, mcmc: None, row: 3, what, value } => {
            assert_eq!((sample.as_str(), what.as_str()), ("s", "the model's ε for term #1 `bar`"));
            assert!(value.is_nan());
        }
        other => panic!("expected NonFinite at step 5, got {other:?}"),
    }
    assert!(msg.starts_with("sample `s`, step 5 of 10: the model's ε for term #1 `bar` is NaN at sample 3"), "{msg}");
}

#[test]
fn coefficients_that_overflow_stop_the_run_at_step_zero() {
    // A forged plan (the validator refuses it; `execute` guards on its own): 1e38 · ε twice
    // overflows f32.
    let dev = Device::Cpu;
    let model = models::load("toy2d", &dev).unwrap();
    let plan = linear_plan(&["ring", "bar"], &[1e300, 1e300], Sampler::Ddpm { steps: 10 }, 8, 0);
    let err = execute(&plan, model.as_ref(), &dev, &ExecOptions::default()).unwrap_err();
    assert!(matches!(&err, RunError::NonFinite { step: 0, steps: 10, row: 0, .. }), "{err:?}");
    let msg = err.message();
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
    match &err {
        RunError::TooLarge(t) => {
            assert_eq!(
                (t.sample.as_str(), t.samples, t.need, t.per_sample, t.limit),
                ("s", 1_000_000_000_000, 256_000_000_000_000, 256, 1 << 30)
            )
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let msg = err.message();
    assert!(msg.starts_with("sample `s`: 1000000000000 samples need about 232.8 TiB of memory (about 256 B each), over the limit of 1.0 GiB (a test limit); at most 4194304 samples fit"), "{msg}");
    // execute refuses it too (any machine's limit is far below 232 TiB), without allocating.
    assert!(matches!(execute(&plan, model.as_ref(), &dev, &ExecOptions::default()), Err(RunError::TooLarge(_))));
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
    let err = execute(&plan, model.as_ref(), &dev, &opts).unwrap_err();
    assert!(matches!(&err, RunError::Interrupted { sample, step: 3, steps: 10, mcmc: None } if sample == "s"), "{err:?}");
    assert_eq!(err.message(), "sample `s`: interrupted at step 3 of 10");
}

/// ULA after every step: one level of `steps` MCMC evaluations at the next step's noise level.
fn with_ula(mut plan: comp_plan::SamplePlan) -> comp_plan::SamplePlan {
    plan.settings.mcmc = Some(comp_plan::Mcmc {
        kind: comp_plan::McmcKind::Ula,
        steps: 2,
        step_size: 1e-3,
        beta_scaled: false,
        leapfrog: 1,
        damping: 0.0,
        mass: 1.0,
        from: 0.0,
        to: 1.0,
    });
    plan
}

#[test]
fn a_nan_inside_mcmc_names_the_level_after_its_step() {
    // MCMC after step k runs at step k + 1's level: the first below t = 50 is step 5's, so
    // the NaN appears in the ULA level after step 4, before reverse step 5 is taken.
    let dev = Device::Cpu;
    let model = Poisoned { inner: Toy2d::new().unwrap(), below_t: 50.0 };
    let plan = with_ula(linear_plan(&["ring", "bar"], &[1.0, 1.0], Sampler::Ddpm { steps: 10 }, 8, 0));
    let err = execute(&plan, &model, &dev, &ExecOptions::default()).unwrap_err();
    assert!(
        matches!(&err, RunError::NonFinite { step: 4, steps: 10, mcmc: Some(comp_plan::McmcKind::Ula), row: 3, what, .. } if what == "the model's ε for term #1 `bar`"),
        "{err:?}"
    );
    assert!(
        err.message().starts_with("sample `s`, Ula after step 4 of 10: the model's ε for term #1 `bar` is NaN at sample 3"),
        "{}",
        err.message()
    );
}

/// toy2d that sets a flag on its `calls`-th forward call (Ctrl-C in the middle of a level).
struct CancelAt<'a> {
    inner: Toy2d,
    calls: std::sync::atomic::AtomicUsize,
    at: usize,
    flag: &'a AtomicBool,
}

impl Denoiser for CancelAt<'_> {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }
    fn schedule(&self) -> &Schedule {
        self.inner.schedule()
    }
    fn prepare(&self, _: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        Ok(Box::new(self))
    }
}

impl Prepared for CancelAt<'_> {
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput> {
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 == self.at {
            self.flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.inner.forward(x, t, conds, want_energy)
    }
}

#[test]
fn a_cancel_inside_an_mcmc_level_is_an_interruption_there() {
    // Step 0 calls once, its ULA level twice: a flag set by the level's first call stops the
    // level's second evaluation.
    let dev = Device::Cpu;
    let cancel = AtomicBool::new(false);
    let model = CancelAt { inner: Toy2d::new().unwrap(), calls: 0.into(), at: 2, flag: &cancel };
    let plan = with_ula(linear_plan(&["ring"], &[1.0], Sampler::Ddpm { steps: 10 }, 8, 0));
    let opts = ExecOptions { cancel: Some(&cancel), ..Default::default() };
    let err = execute(&plan, &model, &dev, &opts).unwrap_err();
    assert!(matches!(&err, RunError::Interrupted { step: 0, steps: 10, mcmc: Some(comp_plan::McmcKind::Ula), .. }), "{err:?}");
    assert_eq!(err.message(), "sample `s`, Ula after step 0 of 10: interrupted");
    // Into candle's errors (the lab's), the same words.
    assert_eq!(comp_runtime::error::message(&candle_core::Error::from(err)), "sample `s`, Ula after step 0 of 10: interrupted");
}

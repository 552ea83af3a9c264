//! Seconds per step of a full-size SD 1.5 UNet (random weights: speed does not depend on
//! them) for K = 1, 2, 3 prompts plus the base, at 256² and 512²: the composed step (stacking,
//! one batched UNet call over K + 1 rows, the fused combination, the finite checks) against
//! the bare batched UNet call over the same rows. The goal is composed / bare ≤ 1.02. On a
//! shared machine two timings of the same UNet call differ by more than that, so the last
//! column measures the overhead directly: the composed step's time outside its UNet call.
//!
//! `cargo bench -p comp-models --bench sd_step` (f32 on the CPU). `COMP_BENCH_SIZES=256`
//! limits the sizes, `COMP_BENCH_REPEATS` sets the repeats (the fastest is reported, with the
//! median beside it), `COMP_BENCH_DEVICE=cuda`
//! and `COMP_BENCH_DTYPE=f16` run on a GPU. The checkpoint (3.4 GB) is written once into
//! `COMP_BENCH_DIR` (default: the system's temporary folder) and reused.

use candle_core::{Device, Tensor};
use comp_models::sd::{self, tiny, StableDiffusion};
use comp_runtime::composed::Calls;
use comp_runtime::executor::composed_at;
use comp_runtime::sampler::At;
use comp_runtime::Denoiser;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let dir =
        std::env::var_os("COMP_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir).join("comp-bench-sd15-unet");
    if !dir.join("unet/diffusion_pytorch_model.safetensors").is_file() {
        eprintln!("writing a random full-size SD 1.5 UNet into {} (once)", dir.display());
        tiny::write(&dir, &tiny::Spec::sd15_unet(), 0).expect("checkpoint");
    }
    let device = match std::env::var("COMP_BENCH_DEVICE").as_deref() {
        Ok("cuda") => Device::new_cuda(0).expect("cuda"),
        _ => Device::Cpu,
    };
    let dtype = std::env::var("COMP_BENCH_DTYPE").unwrap_or_else(|_| "f32".into());
    let sizes: Vec<usize> = std::env::var("COMP_BENCH_SIZES")
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|_| vec![256, 512]);
    let repeats: usize = std::env::var("COMP_BENCH_REPEATS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let model = StableDiffusion::open(&sd::VARIANTS[0], &dir, &device).expect("open");
    let prompts = ["a wooden cabin", "heavy snow", "people"];
    println!("| size | K prompts + base | rows | bare UNet call (s), fastest | composed step (s), fastest | composed / bare | composed step outside its UNet call (median) |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for &size in &sizes {
        for k in 1..=3 {
            let terms: Vec<String> = prompts[..k].iter().map(|p| format!("{p:?}")).collect();
            let text = format!(
                "model sd15\nsize {size}x{size}\ndtype {dtype}\nsampler ddim(steps: 30)\nsamples 1\nsample s = {}\n",
                terms.join(" AND ")
            );
            let checked = comp_compiler::compile_text(&text, &[model.info().clone()]);
            let plan = checked.compiled.expect("compiles").plan.samples.remove(0);
            let run = model.prepare_run(&plan).expect("prepare");
            let h = size / 8;
            let x = Tensor::randn(0f32, 1f32, (1, 4, h, h), &device).unwrap();
            let t = 501;
            // The bare call: the same K + 1 rows, the same states, straight into the UNet.
            let states: Vec<Tensor> = plan
                .conditions
                .iter()
                .map(|c| {
                    let prompt = match &c.kind {
                        comp_plan::ConditionKind::Text { text } => text.as_str(),
                        _ => "",
                    };
                    run.prompt_states(prompt).unwrap()
                })
                .collect();
            let states = Tensor::cat(&states, 0).unwrap();
            let rows = x.repeat((k + 1, 1, 1, 1)).unwrap();
            let at = At { step: 0, timestep: t, sigma: 0.5, alpha_bar: 0.75 };
            let composed = composed_at(&plan, &run, at).unwrap();
            let (mut bare, mut comp) = (Vec::new(), Vec::new());
            let time_bare = || {
                let s = Instant::now();
                run.unet_forward(&rows, t, &states)
                    .unwrap()
                    .to_dtype(candle_core::DType::F32)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                s.elapsed().as_secs_f64()
            };
            let overhead = std::cell::RefCell::new(Vec::new());
            let time_composed = || {
                let inside = run.unet_time();
                let s = Instant::now();
                let mut calls = Calls::default();
                composed.eval(&x, false, &mut calls).unwrap().eps.sum_all().unwrap().to_scalar::<f32>().unwrap();
                assert_eq!(calls.calls, 1);
                let total = s.elapsed().as_secs_f64();
                // Everything but the UNet: stacking, the prompts' states, v→ε, the fused sum, checks.
                overhead.borrow_mut().push(total - (run.unet_time() - inside).as_secs_f64());
                total
            };
            // Alternate which goes first, so that neither always follows the other.
            for r in 0..repeats {
                if r % 2 == 0 {
                    bare.push(time_bare());
                    comp.push(time_composed());
                } else {
                    comp.push(time_composed());
                    bare.push(time_bare());
                }
            }
            // The fastest of the repeats: on a shared machine, other work only adds time.
            let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
            let (b, c) = (min(&bare), min(&comp));
            let plumbing = median(overhead.into_inner());
            println!(
                "| {size}² | {k} + 1 | {} | {b:.2} (median {:.2}) | {c:.2} (median {:.2}) | {:.3} | {:.1} ms ({:.4}× of the fastest bare call) |",
                k + 1,
                median(bare),
                median(comp),
                c / b,
                plumbing * 1e3,
                1.0 + plumbing / b
            );
        }
    }
}

//! comp's Stable Diffusion UNet against diffusers' on this CPU, in one run: the full-size SD 1.5
//! UNet (random weights: speed does not depend on them), f32, 256², one call over R rows (each
//! row cross-attending to its own states), fastest of the repeats after a warm-up, with comp's
//! own UNet (`models/src/sd/unet.rs`, what the CPU runs) and with candle-transformers' (what a
//! GPU runs); then the same in diffusers (`bench/peer/sd_unet.py`, same config, rows, threads),
//! and the ratio.
//!
//! `COMP_PEER_PYTHON=/path/to/venv/bin/python cargo bench -p comp-models --bench sd_vs_diffusers`
//! (a Python with torch and diffusers; without it only comp's side is measured).
//! `COMP_BENCH_ROWS` (default `2,4`), `COMP_BENCH_SIZE` (default 256), `COMP_BENCH_REPEATS`
//! (default 3); threads: `RAYON_NUM_THREADS` for comp, the same number is passed to torch
//! (default: the machine's cores). The checkpoint is `sd_step`'s, written once into
//! `COMP_BENCH_DIR`.

use candle_core::{Device, Tensor};
use comp_models::sd::{self, tiny, StableDiffusion};
use comp_runtime::Denoiser;
use std::time::Instant;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    // As `comp` runs (src/main.rs): one thread for candle's elementwise ops, freed memory kept.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    comp_runtime::tune_cpu_process();
    let dir =
        std::env::var_os("COMP_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir).join("comp-bench-sd15-unet");
    if !dir.join("unet/diffusion_pytorch_model.safetensors").is_file() {
        eprintln!("writing a random full-size SD 1.5 UNet into {} (once)", dir.display());
        tiny::write(&dir, &tiny::Spec::sd15_unet(), 0).expect("checkpoint");
    }
    let rows: Vec<usize> =
        std::env::var("COMP_BENCH_ROWS").unwrap_or_else(|_| "2,4".into()).split(',').filter_map(|r| r.trim().parse().ok()).collect();
    let size: usize = env_or("COMP_BENCH_SIZE", 256);
    let repeats: usize = env_or("COMP_BENCH_REPEATS", 3);
    let threads: usize = env_or("RAYON_NUM_THREADS", std::thread::available_parallelism().map_or(1, |n| n.get()));
    let model = StableDiffusion::open(&sd::VARIANTS[0], &dir, &Device::Cpu).expect("open");
    let text = format!("model sd15\nsize {size}x{size}\nsampler ddim(steps: 30)\nsamples 1\nsample s = \"a cabin\"\n");
    let plan = comp_compiler::compile_text(&text, &[model.info().clone()]).compiled.expect("compiles").plan.samples.remove(0);
    let states = model.prepare_run(&plan).expect("prepare").prompt_states("a cabin").unwrap();
    let h = size / 8;
    // comp's own UNet (what the CPU runs), then candle-transformers' (what it ran before, and
    // what a GPU runs), on the same inputs.
    let measure = |which: &str| -> Vec<f64> {
        // A run of the plan loads the nets (again after `use_candle_unet`).
        let run = model.prepare_run(&plan).expect("prepare");
        let mut fastest_per_rows = Vec::new();
        for &r in &rows {
            let x = Tensor::randn(0f32, 1f32, (r, 4, h, h), &Device::Cpu).unwrap();
            let s = states.repeat((r, 1, 1)).unwrap();
            let call = || {
                let t = Instant::now();
                run.unet_forward(&x, 501, &s).unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
                t.elapsed().as_secs_f64()
            };
            call(); // warm-up, as on the peer's side
            let times: Vec<f64> = (0..repeats).map(|_| call()).collect();
            let fastest = times.iter().copied().fold(f64::INFINITY, f64::min);
            eprintln!("comp ({which}), rows {r}: fastest {fastest:.3} s of {times:.3?}");
            fastest_per_rows.push(fastest);
        }
        fastest_per_rows
    };
    let ours = measure("own UNet");
    model.use_candle_unet(true);
    let candle = measure("candle-transformers' UNet");
    let peer = std::env::var("COMP_PEER_PYTHON").ok().and_then(|python| {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/peer/sd_unet.py");
        let rows_arg = rows.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(",");
        let out = std::process::Command::new(python)
            .arg(script)
            .args(["--rows", &rows_arg, "--size", &size.to_string(), "--repeats", &repeats.to_string(), "--threads", &threads.to_string()])
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!("the peer script failed: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        eprint!("{text}");
        // `rows R: fastest S s, median M s`
        Some(text.lines().filter_map(|l| l.split("fastest ").nth(1)?.split(' ').next()?.parse::<f64>().ok()).collect::<Vec<f64>>())
    });
    println!("| size | rows | threads | comp (s, fastest of {repeats}) | comp with candle-transformers' UNet (s) | diffusers (s) | diffusers / comp |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (i, r) in rows.iter().enumerate() {
        match peer.as_ref().and_then(|p| p.get(i)) {
            Some(d) => println!("| {size}² | {r} | {threads} | {:.2} | {:.2} | {d:.2} | {:.2} |", ours[i], candle[i], d / ours[i]),
            None => println!("| {size}² | {r} | {threads} | {:.2} | {:.2} | (set COMP_PEER_PYTHON) | |", ours[i], candle[i]),
        }
    }
}

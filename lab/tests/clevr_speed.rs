//! Speed of the clevr-pos UNet on this machine: training steps/s and composed sampling
//! through the executor. Ignored by default (it takes minutes); run with
//! `cargo test -p comp-runtime --test clevr_speed -- --ignored --nocapture`.

use std::time::Instant;

use candle_core::{DType, Device};
use candle_nn::Optimizer;
use comp_models::clevr::{ClevrPos, Config};
use comp_lab::clevr::train::{loss, Trainee};
use comp_runtime::{execute, ExecOptions, Schedule};

fn config() -> Config {
    match std::env::var("CLEVR_CHANNELS") {
        Ok(c) => Config { channels: c.parse().unwrap(), ..Config::default() },
        Err(_) => Config::default(),
    }
}

#[test]
#[ignore]
fn training_steps_per_second() {
    let dev = Device::Cpu;
    for (name, cfg, batch) in [("tiny", Config::tiny(), 16), ("default", config(), 32)] {
        let tr = Trainee::new(&cfg, 0, DType::F32, &dev).unwrap();
        let sched = Schedule::cosine(cfg.native_steps, 0.008).unwrap();
        let mut opt = candle_nn::AdamW::new_lr(tr.varmap.all_vars(), 1e-4).unwrap();
        let l = loss(&tr.unet, &sched, 0, 0, batch, &dev).unwrap();
        opt.backward_step(&l).unwrap();
        let n = 3;
        let s = Instant::now();
        for i in 1..=n {
            let l = loss(&tr.unet, &sched, 0, i, batch, &dev).unwrap();
            opt.backward_step(&l).unwrap();
        }
        let secs = s.elapsed().as_secs_f64() / n as f64;
        println!("train {name} {cfg:?}, batch {batch}: {:.2} steps/s, {:.1} images/s", 1.0 / secs, batch as f64 / secs);
    }
}

#[test]
#[ignore]
fn sampling_images_per_second() {
    let dev = Device::Cpu;
    let cfg = config();
    let tr = Trainee::new(&cfg, 0, DType::F32, &dev).unwrap();
    let model = ClevrPos::from_unet(tr.unet, &cfg).unwrap();
    let exprs = ["pos(0.25, 0.5)", "pos(0.25, 0.5) AND pos(0.75, 0.5)", "pos(0.25, 0.5) AND pos(0.75, 0.5) AND pos(0.5, 0.8)"];
    for (n, steps) in [(64usize, 3usize), (8, 10)] {
        for (k, e) in exprs.iter().enumerate() {
            let text = format!("model clevr-pos\nsampler ddpm(steps: {steps})\nsamples {n}\nsample s = {e}\n");
            let plan = comp_lab::compile_one(&text, &comp_models::infos()).unwrap();
            let s = Instant::now();
            let out = execute(&plan, &model, &dev, &ExecOptions::default()).unwrap();
            let per_step = s.elapsed().as_secs_f64() / steps as f64;
            assert_eq!(out.model_calls, steps);
            println!(
                "{cfg:?}: N = {n}, {} position(s) (K = {} rows blocks): {:.3} s/step, {:.2} images/s at 100 steps, 100 steps take {:.0} s",
                k + 1,
                k + 2,
                per_step,
                n as f64 / (100.0 * per_step),
                100.0 * per_step
            );
        }
    }
}

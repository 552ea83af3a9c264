//! Speed of the clevr-pos UNet on this machine: training steps/s and composed sampling
//! through the executor. Ignored by default (it takes minutes); run with
//! `cargo test -p comp-lab --test clevr_speed -- --ignored --nocapture`.

use std::time::Instant;

use candle_core::{DType, Device};
use candle_nn::Optimizer;
use comp_lab::clevr::train::{loss, Trainee};
use comp_models::clevr::{Clevr, Config};
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
        let l = loss(&tr.unet, &sched, &[], 0, 0, batch, &dev).unwrap();
        opt.backward_step(&l).unwrap();
        let n = 3;
        let s = Instant::now();
        for i in 1..=n {
            let l = loss(&tr.unet, &sched, &[], 0, i, batch, &dev).unwrap();
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
    let model = Clevr::from_unet(tr.unet, &cfg).unwrap();
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

/// Diagnostic: the ε loss of a saved model (CLEVR_CKPT) by timestep, on fresh scenes.
#[test]
#[ignore]
fn checkpoint_loss_by_timestep() {
    use rand::SeedableRng;
    let dev = Device::Cpu;
    let dir = std::path::PathBuf::from(std::env::var("CLEVR_CKPT").unwrap());
    let m = Clevr::load(&dir, &dev).unwrap();
    let sched = Schedule::cosine(1000, 0.008).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let n = 16;
    let b = comp_lab::clevr::data::batch(&mut rng, n, 0.0);
    let x0 = candle_core::Tensor::from_vec(b.images, (n, 3, 32, 32), &dev).unwrap();
    let xy = candle_core::Tensor::from_vec(b.labels, (n, 2), &dev).unwrap();
    let mask = candle_core::Tensor::from_vec(b.mask, n, &dev).unwrap();
    let z = candle_core::Tensor::randn(0f32, 1.0, (n, 3, 32, 32), &dev).unwrap();
    for t in [5usize, 50, 200, 500, 900] {
        let tt = candle_core::Tensor::full(t as f32, n, &dev).unwrap();
        let (a, s) = (sched.alpha_bar(t).sqrt(), sched.sigma(t));
        let x = ((&x0 * a).unwrap() + (&z * s).unwrap()).unwrap();
        let loss = |xy: &candle_core::Tensor, mask: &candle_core::Tensor| {
            let eps = m.unet().forward(&x, &tt, xy, mask).unwrap();
            (eps - &z).unwrap().sqr().unwrap().mean_all().unwrap().to_scalar::<f32>().unwrap()
        };
        // The same scenes with each label moved to the next scene's, and with null.
        let shifted = candle_core::Tensor::cat(&[xy.narrow(0, 1, n - 1).unwrap(), xy.narrow(0, 0, 1).unwrap()], 0).unwrap();
        let null = mask.zeros_like().unwrap();
        println!("t = {t}: loss {:.4}, wrong positions {:.4}, null {:.4}", loss(&xy, &mask), loss(&shifted, &mask), loss(&xy, &null));
    }
}

/// Diagnostic: a hand-written DDIM loop against the executor on a saved model (CLEVR_CKPT).
#[test]
#[ignore]
fn checkpoint_ddim_by_hand() {
    let dev = Device::Cpu;
    let dir = std::path::PathBuf::from(std::env::var("CLEVR_CKPT").unwrap());
    let m = Clevr::load(&dir, &dev).unwrap();
    let sched = Schedule::cosine(1000, 0.008).unwrap();
    let n = 4;
    let xy = candle_core::Tensor::full(0.5f32, (n, 2), &dev).unwrap();
    let mask = candle_core::Tensor::ones(n, DType::F32, &dev).unwrap();
    let mut x = candle_core::Tensor::randn(0f32, 1.0, (n, 3, 32, 32), &dev).unwrap();
    let ts: Vec<usize> = (0..50).rev().map(|i| i * 20 + 19).collect();
    for (j, &t) in ts.iter().enumerate() {
        let tt = candle_core::Tensor::full(t as f32, n, &dev).unwrap();
        let eps = m.unet().forward(&x, &tt, &xy, &mask).unwrap();
        let (a, s) = (sched.alpha_bar(t).sqrt(), sched.sigma(t));
        let x0 = ((&x - (&eps * s).unwrap()).unwrap() / a).unwrap();
        let x0 = if std::env::var("NOCLAMP").is_ok() { x0 } else { x0.clamp(-1f32, 1f32).unwrap() };
        let tp = ts.get(j + 1).copied();
        x = match tp {
            Some(tp) => ((&x0 * sched.alpha_bar(tp).sqrt()).unwrap() + (&eps * sched.sigma(tp)).unwrap()).unwrap(),
            None => x0,
        };
    }
    let v = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let sat = v.iter().filter(|p| p.abs() > 0.95).count() as f64 / v.len() as f64;
    println!("by hand: mean |x| {:.3}, saturated {:.3}", v.iter().map(|p| p.abs()).sum::<f32>() / v.len() as f32, sat);
    let det = comp_lab::clevr::detect::Detector::default();
    let px = 3 * 32 * 32;
    for i in 0..n {
        println!("image {i}: object at centre {}", det.object_at(&v[i * px..(i + 1) * px], [0.5, 0.5]));
    }
    let text = "model clevr-pos\nsampler ddim(steps: 50)\nscale 1\nsamples 4\nsample s = pos(0.5, 0.5)\n";
    let plan = comp_lab::compile_one(text, &comp_models::infos()).unwrap();
    let out = execute(&plan, &m, &dev, &ExecOptions::default()).unwrap();
    let v = out.samples.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let sat = v.iter().filter(|p| p.abs() > 0.95).count() as f64 / v.len() as f64;
    println!("executor: mean |x| {:.3}, saturated {:.3}", v.iter().map(|p| p.abs()).sum::<f32>() / v.len() as f32, sat);
}

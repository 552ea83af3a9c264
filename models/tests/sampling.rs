//! End-to-end sampling with the exact toy2d model: single concepts, AND, OR, DDIM, and
//! determinism.

use candle_core::Device;
use comp_models as models;
use comp_models::toy2d::{sample_x0, Toy2dConcept};
use comp_plan::Sampler;
use comp_runtime::{execute, ExecOptions};
use rand::SeedableRng;

mod common;
use common::*;

const N: usize = 1500;

fn run(plan: &comp_plan::SamplePlan) -> Vec<[f64; 2]> {
    let dev = Device::Cpu;
    let model = models::load("toy2d", &dev).unwrap();
    points(&execute(plan, model.as_ref(), &dev, &ExecOptions::default()).unwrap().samples)
}

fn exact(c: Toy2dConcept, n: usize, seed: u64) -> Vec<[f64; 2]> {
    sample_x0(c, n, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed))
}

fn ring_check(pts: &[[f64; 2]], label: &str) {
    // every one of the 8 modes gets a fair share, and points sit on the modes
    let mut hits = [0usize; 8];
    let mut on_mode = 0;
    for p in pts {
        let k = ((p[1].atan2(p[0]) / (2.0 * std::f64::consts::PI) * 8.0).round() as i64).rem_euclid(8) as usize;
        let a = 2.0 * std::f64::consts::PI * k as f64 / 8.0;
        if ((p[0] - 0.5 * a.cos()).powi(2) + (p[1] - 0.5 * a.sin()).powi(2)).sqrt() < 0.12 {
            hits[k] += 1;
            on_mode += 1;
        }
    }
    let frac = on_mode as f64 / pts.len() as f64;
    let mmd = mmd2(pts, &exact(Toy2dConcept::Ring, pts.len(), 99), 0.1);
    let floor = mmd2(&exact(Toy2dConcept::Ring, pts.len(), 98), &exact(Toy2dConcept::Ring, pts.len(), 99), 0.1);
    eprintln!("{label}: modes {hits:?}, on a mode {frac:.3}, MMD² {mmd:.5} (exact vs exact {floor:.5})");
    assert!(hits.iter().all(|&h| h > pts.len() / 16), "{label}: modes {hits:?}");
    assert!(frac > 0.97, "{label}: only {frac} on a mode");
    assert!(mmd < 0.005, "{label}: MMD² {mmd}");
}

#[test]
fn ring_alone_ddpm() {
    ring_check(&run(&linear_plan(&["ring"], &[1.0], Sampler::Ddpm { steps: 100 }, N, 1)), "ring ddpm");
}

#[test]
fn ring_alone_ddim_eta0() {
    ring_check(&run(&linear_plan(&["ring"], &[1.0], Sampler::Ddim { steps: 100, eta: 0.0 }, N, 2)), "ring ddim");
}

#[test]
fn box_alone_fills_support() {
    let pts = run(&linear_plan(&["box_small"], &[1.0], Sampler::Ddpm { steps: 100 }, N, 3));
    let inside = pts.iter().filter(|p| p[0].abs() <= 0.32 && p[1].abs() <= 0.32).count() as f64 / N as f64;
    let mmd = mmd2(&pts, &exact(Toy2dConcept::BoxSmall, N, 5), 0.1);
    eprintln!("box_small: inside {inside:.3}, MMD² {mmd:.5}");
    assert!(inside > 0.97 && mmd < 0.005);
}

#[test]
fn ring_and_bar_lands_on_two_modes() {
    let pts = run(&linear_plan(&["ring", "bar"], &[1.0, 1.0], Sampler::Ddpm { steps: 100 }, N, 4));
    let near = |p: &[f64; 2], y: f64| (p[0].powi(2) + (p[1] - y).powi(2)).sqrt() < 0.15;
    let top = pts.iter().filter(|p| near(p, 0.5)).count() as f64 / N as f64;
    let bottom = pts.iter().filter(|p| near(p, -0.5)).count() as f64 / N as f64;
    let on_ring = pts.iter().filter(|p| ((p[0].powi(2) + p[1].powi(2)).sqrt() - 0.5).abs() < 0.1).count() as f64 / N as f64;
    // The exact product: the ring truncated to the bar (only the two modes on the y axis).
    let target: Vec<_> = exact(Toy2dConcept::Ring, 20 * N, 7).into_iter().filter(|p| p[0].abs() <= 0.2).take(N).collect();
    let mmd = mmd2(&pts, &target, 0.1);
    eprintln!("ring AND bar: near (0, 0.5) {top:.3}, near (0, -0.5) {bottom:.3}, on the ring {on_ring:.3}, MMD² {mmd:.4}");
    // Reverse diffusion with summed scores is not exact (RRR): some mass stays on the
    // neighbouring ring modes, pulled towards the bar; the two target modes dominate. An
    // independent numpy implementation measures MMD² 0.069 here (REFERENCE.md); so do we.
    assert!(top > 0.25 && bottom > 0.25, "{top} / {bottom}");
    assert!(top + bottom > 0.55, "{top} + {bottom}");
    assert!(on_ring > 0.85, "{on_ring}");
    assert!(mmd < 0.12, "{mmd}");
}

#[test]
fn left_or_right_bar_fills_both() {
    let pts = run(&or_plan(&["left_bar", "right_bar"], Sampler::Ddpm { steps: 100 }, N, 6));
    let left = pts.iter().filter(|p| p[0] < 0.0).count() as f64 / N as f64;
    let support = pts.iter().filter(|p| (0.08..=0.32).contains(&p[0].abs()) && p[1].abs() <= 1.02).count() as f64 / N as f64;
    eprintln!("left_bar OR right_bar: left {left:.3}, in support {support:.3}");
    assert!((0.35..=0.65).contains(&left), "left {left}");
    assert!(support > 0.97, "support {support}");
}

#[test]
fn same_seed_same_samples_different_seed_different() {
    let plan = |seed| linear_plan(&["ring", "bar"], &[1.0, 1.0], Sampler::Ddpm { steps: 30 }, 300, seed);
    let (a, b, c) = (run(&plan(11)), run(&plan(11)), run(&plan(12)));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let ddim = |seed| or_plan(&["left_bar", "right_bar"], Sampler::Ddim { steps: 30, eta: 0.5 }, 300, seed);
    assert_eq!(run(&ddim(3)), run(&ddim(3)));
}

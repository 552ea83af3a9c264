//! Per-step cost of composition: the fused combination against a chain of candle ops, and a
//! whole step (one batched call + fused sum) against K separate calls + the chain, with the
//! exact toy2d model and the learned toy2d MLPs.
//!
//! `cargo bench -p comp-models --bench step -- --warm-up-time 1 --measurement-time 2`
//!
//! Groups (K terms, N samples, 2D data):
//! * `combine/{fused,naive}/K/N`: the weighted sum alone.
//! * `step/{fused,naive}/K/N`: model call(s), combination and DDPM update (exact toy2d).
//! * `step/call/K/N`: one batched model call over K·N rows (the denominator of the
//!   composition overhead = step time / one batched call).
//! * `mlp_step/{fused,naive}/{energy,eps}/K`: the same step with the shipped learned MLPs
//!   (`models/toy2d-mlp*`), N = 1000, K = 1..8 (skipped, with a message, without the weights).

use candle_core::{Device, Tensor};
use comp_models as models;
use comp_plan::{Condition, SamplePlan, Sampler};
use comp_runtime::composed::{Calls, Composed};
use comp_runtime::fused::{fused_sum, Coeffs};
use comp_runtime::noise::Noise;
use comp_runtime::sampler::{apply, ReverseSampler};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

#[path = "../tests/common/mod.rs"]
mod common;

const KS: [usize; 3] = [2, 4, 8];
const NS: [usize; 3] = [1_000, 10_000, 100_000];
const CONCEPTS: [&str; 8] = ["ring", "bar", "left_bar", "right_bar", "box_large", "box_small", "ring", "bar"];

/// The baseline: acc = acc + eps_k * c_k, one candle op per multiply and per add.
fn naive_chain(eps: &[Tensor], coeffs: &[f64]) -> Tensor {
    let mut acc = (&eps[0] * coeffs[0]).unwrap();
    for (e, c) in eps.iter().zip(coeffs).skip(1) {
        acc = (acc + (e * *c).unwrap()).unwrap();
    }
    acc
}

fn combination(c: &mut Criterion) {
    let dev = Device::Cpu;
    let mut g = c.benchmark_group("combine");
    for k in KS {
        for n in NS {
            let stacked = Noise::new(1, 0..k * n).normal(&[k * n, 2], &dev).unwrap();
            let parts: Vec<Tensor> = (0..k).map(|j| stacked.narrow(0, j * n, n).unwrap().contiguous().unwrap()).collect();
            let coeffs: Vec<f64> = (0..k).map(|j| 1.0 / (j + 1) as f64).collect();
            let shared = Coeffs::Shared(coeffs.iter().map(|&c| c as f32).collect());
            let id = format!("{k}/{n}");
            g.bench_function(BenchmarkId::new("fused", &id), |b| b.iter(|| fused_sum(&stacked, k, &shared).unwrap()));
            g.bench_function(BenchmarkId::new("naive", &id), |b| b.iter(|| naive_chain(&parts, &coeffs)));
        }
    }
    g.finish();
}

/// One linear segment over the first K concepts, weights 1/K, N samples, for `model`.
fn plan(model: &str, k: usize, n: usize) -> SamplePlan {
    let mut p = common::linear_plan(&CONCEPTS[..k], &vec![1.0 / k as f64; k], Sampler::Ddpm { steps: 100 }, n, 0);
    p.sample = "bench".into();
    p.model = model.into();
    p
}

fn whole_step(c: &mut Criterion) {
    let dev = Device::Cpu;
    let model = models::load("toy2d", &dev).unwrap();
    let sampler = ReverseSampler::new(model.schedule(), &Sampler::Ddpm { steps: 100 }).unwrap();
    let step = 50;
    let (t, sigma, coeffs) = (sampler.timestep(step), sampler.sigma(step), sampler.coeffs(step));
    let mut g = c.benchmark_group("step");
    g.sample_size(10);
    for k in KS {
        for n in NS {
            let p = plan("toy2d", k, n);
            let run = model.prepare(&p).unwrap();
            let x = Noise::new(2, 0..n).normal(&[n, 2], &dev).unwrap();
            let z = Noise::new(3, 0..n).normal(&[n, 2], &dev).unwrap();
            let id = format!("{k}/{n}");
            g.bench_function(BenchmarkId::new("fused", &id), |b| {
                b.iter(|| {
                    let mut calls = Calls::default();
                    let target = Composed { model: run.as_ref(), plan: &p, segment: &p.segments[0], timestep: t, sigma };
                    let eps = target.eval(&x, false, &mut calls).unwrap().eps;
                    apply(coeffs, &x, &eps, Some(&z)).unwrap()
                })
            });
            let conds: Vec<&Condition> = p.conditions.iter().collect();
            let tn = Tensor::full(t as f32, n, &dev).unwrap();
            let w = vec![1.0 / k as f64; k];
            g.bench_function(BenchmarkId::new("naive", &id), |b| {
                b.iter(|| {
                    let eps: Vec<Tensor> = conds.iter().map(|c| run.forward(&x, &tn, &[*c], false).unwrap().eps).collect();
                    apply(coeffs, &x, &naive_chain(&eps, &w), Some(&z)).unwrap()
                })
            });
            let stacked = x.repeat((k, 1)).unwrap();
            let tk = Tensor::full(t as f32, k * n, &dev).unwrap();
            g.bench_function(BenchmarkId::new("call", &id), |b| b.iter(|| run.forward(&stacked, &tk, &conds, false).unwrap()));
        }
    }
    g.finish();
}

/// The learned MLPs: N = 1000 samples, K = 1..8 conditions.
fn mlp_step(c: &mut Criterion) {
    const N: usize = 1000;
    let dev = Device::Cpu;
    let mut g = c.benchmark_group("mlp_step");
    g.sample_size(10);
    for name in ["toy2d-mlp", "toy2d-mlp-eps"] {
        let model = match models::load(name, &dev) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("skipping {name}: {e}");
                continue;
            }
        };
        let sampler = ReverseSampler::new(model.schedule(), &Sampler::Ddpm { steps: 100 }).unwrap();
        let step = 50;
        let (t, sigma, coeffs) = (sampler.timestep(step), sampler.sigma(step), sampler.coeffs(step));
        let x = Noise::new(2, 0..N).normal(&[N, 2], &dev).unwrap();
        let z = Noise::new(3, 0..N).normal(&[N, 2], &dev).unwrap();
        let tn = Tensor::full(t as f32, N, &dev).unwrap();
        for k in 1..=8 {
            let p = plan(name, k, N);
            let run = model.prepare(&p).unwrap();
            let id = format!("{name}/{k}");
            g.bench_function(BenchmarkId::new("fused", &id), |b| {
                b.iter(|| {
                    let mut calls = Calls::default();
                    let target = Composed { model: run.as_ref(), plan: &p, segment: &p.segments[0], timestep: t, sigma };
                    let eps = target.eval(&x, false, &mut calls).unwrap().eps;
                    apply(coeffs, &x, &eps, Some(&z)).unwrap()
                })
            });
            let conds: Vec<&Condition> = p.conditions.iter().collect();
            let w = vec![1.0 / k as f64; k];
            g.bench_function(BenchmarkId::new("naive", &id), |b| {
                b.iter(|| {
                    let eps: Vec<Tensor> = conds.iter().map(|c| run.forward(&x, &tn, &[*c], false).unwrap().eps).collect();
                    apply(coeffs, &x, &naive_chain(&eps, &w), Some(&z)).unwrap()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, combination, whole_step, mlp_step);
criterion_main!(benches);

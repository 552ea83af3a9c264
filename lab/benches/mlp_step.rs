//! One composed reverse step with the learned toy2d MLP, K = 1..8 conditions: fused (one
//! batched model call over K·N rows, then the fused combination of `composed::Composed`)
//! against naive (K separate model calls of N rows, then one candle op per term).
//!
//! `cargo bench -p comp-runtime --bench mlp_step -- --warm-up-time 1 --measurement-time 2`
//!
//! Groups: `mlp_step/{fused,naive}/{energy,eps}/K` with N = 1000 samples. Uses the shipped
//! `models/toy2d-mlp*` weights, or a barely trained network when they are missing (the cost
//! does not depend on the weights).

use candle_core::{Device, Tensor};
use comp_plan::{Combine, Condition, SamplePlan, Sampler, Segment, Settings};
use comp_runtime::composed::{Calls, Composed};
use comp_models::mlp::{self, Mlp, Param};
use comp_runtime::noise::Noise;
use comp_runtime::sampler::{apply, ReverseSampler};
use comp_lab::toy2d::train::{train, TrainConfig};
use comp_models as models;
use comp_runtime::Denoiser;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const N: usize = 1000;
const CONCEPTS: [&str; 8] = [
    "ring",
    "bar",
    "left_bar",
    "right_bar",
    "box_large",
    "box_small",
    "null",
    "ring",
];

fn model(param: Param) -> Box<dyn Denoiser> {
    let dev = Device::Cpu;
    models::load(mlp::name_of(param), &dev).unwrap_or_else(|e| {
        eprintln!("{e}; benchmarking a network trained for one step instead");
        let cfg = TrainConfig {
            steps: 1,
            batch: 8,
            eval_batch: 8,
            ..TrainConfig::new(param)
        };
        let t = train(&cfg, &dev, &mut |_| {}).unwrap();
        Box::new(Mlp::new(t.card, t.net).unwrap())
    })
}

fn plan(name: &str, k: usize) -> SamplePlan {
    SamplePlan {
        sample: "bench".into(),
        model: name.into(),
        settings: Settings {
            sampler: Sampler::Ddpm { steps: 100 },
            mcmc: None,
            scale: 1.0,
            seed: 0,
            samples: N,
            extra: Default::default(),
        },
        conditions: (0..k)
            .map(|i| Condition {
                id: i,
                concept: CONCEPTS[i].into(),
                args: vec![],
                text: None,
            })
            .collect(),
        segments: vec![Segment {
            from: 0.0,
            to: 1.0,
            active: (0..k).collect(),
            combine: Combine::Linear {
                coeffs: vec![1.0 / k as f64; k],
            },
        }],
    }
}

/// acc = acc + eps_k * c_k, one candle op per multiply and per add.
fn naive_chain(eps: &[Tensor], coeffs: &[f64]) -> Tensor {
    let mut acc = (&eps[0] * coeffs[0]).unwrap();
    for (e, c) in eps.iter().zip(coeffs).skip(1) {
        acc = (acc + (e * *c).unwrap()).unwrap();
    }
    acc
}

fn mlp_step(c: &mut Criterion) {
    let dev = Device::Cpu;
    let mut g = c.benchmark_group("mlp_step");
    g.sample_size(10);
    for param in [Param::Energy, Param::Eps] {
        let model = model(param);
        let sampler = ReverseSampler::new(model.schedule(), &Sampler::Ddpm { steps: 100 }).unwrap();
        let step = 50;
        let (t, sigma, coeffs) = (
            sampler.timestep(step),
            sampler.sigma(step),
            sampler.coeffs(step),
        );
        let x = Noise::new(2).normal(&[N, 2], &dev).unwrap();
        let z = Noise::new(3).normal(&[N, 2], &dev).unwrap();
        let tn = Tensor::full(t as f32, N, &dev).unwrap();
        for k in 1..=8 {
            let p = plan(mlp::name_of(param), k);
            let id = format!("{}/{k}", param.name());
            g.bench_function(BenchmarkId::new("fused", &id), |b| {
                b.iter(|| {
                    let mut calls = Calls::default();
                    let target = Composed { model: model.as_ref(), plan: &p, segment: &p.segments[0], timestep: t, sigma };
                    let eps = target.eval(&x, false, &mut calls)
                    .unwrap()
                    .eps;
                    apply(coeffs, &x, &eps, Some(&z)).unwrap()
                })
            });
            let conds: Vec<&Condition> = p.conditions.iter().collect();
            let w = vec![1.0 / k as f64; k];
            g.bench_function(BenchmarkId::new("naive", &id), |b| {
                b.iter(|| {
                    let eps: Vec<Tensor> = conds
                        .iter()
                        .map(|c| model.forward(&x, &tn, &[*c], false).unwrap().eps)
                        .collect();
                    apply(coeffs, &x, &naive_chain(&eps, &w), Some(&z)).unwrap()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, mlp_step);
criterion_main!(benches);

//! Parse + check + compile, end to end through the public stage functions.
//!
//! `cargo bench --bench frontend`: a typical 10-line script, and generated scripts of 1,000,
//! 10,000 and 100,000 statements (blocks of nine lets and a sample using them) to show the cost
//! grows linearly.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

mod common;
use common::generated;

const TYPICAL: &str = "\
# the product, with HMC
model toy2d
sampler ddpm(steps: 100)
base none
scale 1
seed 0
samples 2000
let stripe = bar
sample product = ring AND stripe
sample frame = 1.3 * box_large AND NOT 0.3 * box_small @ [0, 0.8]
";

fn compile(text: &str, models: &[comp_compiler::ModelInfo]) -> usize {
    let program = comp_grammar::parse(text).expect("parses");
    let outcome = comp_compiler::compile(&program, models);
    outcome.value.expect("compiles").plan.samples.len()
}

fn bench(c: &mut Criterion) {
    let models = comp_models::infos();
    c.bench_function("frontend/typical_10_lines", |b| b.iter(|| compile(black_box(TYPICAL), &models)));
    let mut group = c.benchmark_group("frontend/generated");
    group.sample_size(10);
    for n in [1_000, 10_000, 100_000] {
        let text = generated(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, t| b.iter(|| compile(black_box(t), &models)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Parse + check + compile, end to end through the public stage functions.
//!
//! `cargo bench --bench frontend`: a typical 10-line script, and generated scripts of 1,000,
//! 10,000 and 100,000 statements (blocks of nine lets and a sample using them) to show the cost
//! grows linearly; and lets that double up to 4,096 terms once inlined, just under E0122's
//! limit (the fuzzers' slowest input: the DNF pass was quadratic in a flat `AND`'s length).

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
    let mut doubling = String::from("model toy2d\nlet a0 = ring\n");
    for i in 1..=12 {
        doubling += &format!("let a{i} = a{p} AND a{p}\n", p = i - 1);
    }
    doubling += "sample s = a12\n";
    c.bench_function("frontend/let_doubling_4096_terms", |b| b.iter(|| compile(black_box(&doubling), &models)));
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Cost of the run's noise: one `Noise::normal` draw of `[N, 2]` (toy2d's x or z) and of
//! `[64, 3, 32, 32]` (a batch of small images), and building the run's `Noise` plus its first
//! draw (per-sample streams cost one generator per sample).
//!
//! `cargo bench -p comp-runtime --bench noise -- --warm-up-time 1 --measurement-time 2`

use candle_core::Device;
use comp_runtime::noise::Noise;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const NS: [usize; 3] = [1_000, 10_000, 100_000];

fn noise_new(seed: u64, n: usize) -> Noise {
    Noise::new(seed, 0..n)
}

fn bench(c: &mut Criterion) {
    let dev = Device::Cpu;
    let mut g = c.benchmark_group("noise");
    for n in NS {
        let mut noise = noise_new(0, n);
        g.bench_function(BenchmarkId::new("normal", n), |b| b.iter(|| noise.normal(&[n, 2], &dev).unwrap()));
        g.bench_function(BenchmarkId::new("new+normal", n), |b| b.iter(|| noise_new(0, n).normal(&[n, 2], &dev).unwrap()));
    }
    let mut noise = noise_new(0, 64);
    g.bench_function("normal/images/64x3x32x32", |b| b.iter(|| noise.normal(&[64, 3, 32, 32], &dev).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Cost of the run's noise: one `Noise::normal` draw of `[N, 2]` (toy2d's x or z) and of
//! `[64, 3, 32, 32]` (a batch of small images), and building the run's `Noise` plus its first
//! draw (per-sample streams cost one generator per sample).
//!
//! `cargo bench --profile dev -p comp-runtime --bench noise -- --noplot --warm-up-time 1 --measurement-time 3`
//!
//! Measured on the 2-core CPU at load 11–13 (so ±30%), dev profile (dependencies at
//! opt-level 3), one ChaCha8 stream for the whole batch (before issue 14) → one per sample:
//!
//! | draw | before | after |
//! | --- | --- | --- |
//! | `normal` [1000, 2] | 18.2 µs | 38 µs |
//! | `normal` [10000, 2] | 201 µs | 218 µs |
//! | `normal` [100000, 2] | 1.96 ms | 14.9 ms (10.4 ms with `RAYON_NUM_THREADS=1`) |
//! | `Noise::new` + `normal`, N = 1000 / 10000 / 100000 | 19 µs / 231 µs / 1.5 ms | 206 µs / 1.45 ms / 64 ms |
//! | `normal` [64, 3, 32, 32] | 1.66 ms | 2.6 ms |
//!
//! Per-sample streams cost one generator state per sample (~320 bytes with its block
//! buffer): building them is ~150-600 ns a sample, once a run, and at 100,000 samples the
//! states (~32 MB) no longer fit the cache, so a draw of 2 values a sample is ~5× slower.

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

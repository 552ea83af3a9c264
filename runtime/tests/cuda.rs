//! The fused combination on CUDA (one cuBLAS matmul, `fused.rs`) against the naive sum on the
//! CPU, for shared and per-sample coefficients. Built only with `--features cuda`; on a machine
//! without a usable GPU it prints why and passes (the CPU path is tested in `executor.rs`).
//!
//! ```sh
//! cargo test -p comp-runtime --features cuda --test cuda -- --nocapture
//! ```
#![cfg(feature = "cuda")]

use candle_core::{Device, Tensor};
use comp_runtime::fused::{fused_sum, naive_sum, Coeffs};
use rand::{Rng, SeedableRng};

fn random(shape: &[usize], seed: u64) -> Tensor {
    comp_runtime::noise::Noise::new(seed, 0..shape[0]).normal(shape, &Device::Cpu).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let a = a.to_device(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = b.to_device(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn fused_on_cuda_equals_naive_on_cpu() {
    let gpu = match Device::new_cuda(0) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipped: no usable CUDA device ({e})");
            return;
        }
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    // K = 1 (a single term), toy2d's [N, 2] at the sizes the executor sees, and an image shape.
    for (k, shape) in [(1, vec![7, 2]), (3, vec![1000, 2]), (8, vec![40_000, 2]), (4, vec![9, 3, 32, 32])] {
        let mut full = shape.clone();
        full[0] *= k;
        let eps = random(&full, k as u64);
        let eps_gpu = eps.to_device(&gpu).unwrap();
        let shared = Coeffs::Shared((0..k).map(|_| rng.random_range(-2.0..2.0)).collect());
        let per = Coeffs::PerSample((0..k * shape[0]).map(|_| rng.random_range(-2.0..2.0)).collect());
        for (name, c) in [("shared", shared), ("per-sample", per)] {
            let on_gpu = fused_sum(&eps_gpu, k, &c).unwrap();
            assert!(on_gpu.device().is_cuda(), "the sum stays on the GPU");
            assert_eq!(on_gpu.dims(), &shape[..]);
            let reference = naive_sum(&eps, k, &c).unwrap();
            // Terms are N(0, 1) times |c| < 2, so sums stay below ~50: f32 rounding over K ≤ 8
            // terms is ~1e-5. TF32 matmuls (a 10-bit mantissa) would be off by ~1e-2 and fail.
            let d = max_diff(&on_gpu, &reference);
            assert!(d < 1e-4, "K={k} {shape:?} {name}: CUDA differs from the CPU by {d}");
        }
    }
}

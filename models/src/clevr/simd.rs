//! Helpers of the CPU kernels: their loops compiled for the widest vectors the CPU has, and
//! outputs written in parallel without zeroing them first ([`par_filled`]).
//!
//! The crate is built for the x86-64 baseline (SSE2, 4 lanes) so that one binary runs on any
//! x86-64 machine; candle's GEMM picks AVX-512 or AVX2 at run time, and the kernels' own loops
//! (GroupNorm's passes, the SiLU's exponential, folding) do the same through [`widest`]: the
//! closure given is inlined into a function compiled with AVX-512 (16 lanes) or AVX2 + FMA
//! (8 lanes) and the compiler vectorizes its loops for those registers. Everything such a
//! closure calls must be `#[inline(always)]` (or a standard-library `#[inline]` helper) to be
//! compiled with the wider instructions too.

use std::cell::RefCell;
use std::mem::MaybeUninit;

/// Runs `f` (which should be an `#[inline(always)]` closure) compiled for AVX-512 or AVX2 + FMA
/// when the CPU has them, else as built.
#[inline(always)]
pub fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vl") {
            // SAFETY: the CPU has every feature `avx512` is compiled with.
            #[allow(unsafe_code)]
            return unsafe { avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has every feature `avx2` is compiled with.
            #[allow(unsafe_code)]
            return unsafe { avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// A vector of `len` values written in parallel chunks of `chunk` by `fill(scratch, chunk
/// index, chunk)`, with a `scratch` made by `init` per rayon task. Unlike `vec![0; len]` it
/// does not first zero memory that is about to be overwritten: for the kernels' outputs that
/// was a single-threaded memset (one core idle) of 5% of a sampling step.
///
/// # Safety
///
/// `fill` must write every element of the chunk it is given.
#[allow(unsafe_code)]
pub unsafe fn par_filled<T: Send, S>(
    len: usize,
    chunk: usize,
    init: impl Fn() -> S + Sync + Send,
    fill: impl Fn(&mut S, usize, &mut [MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    use rayon::prelude::*;
    let mut v = Vec::with_capacity(len);
    v.spare_capacity_mut()[..len].par_chunks_mut(chunk.max(1)).enumerate().for_each_init(init, |s, (i, c)| fill(s, i, c));
    // SAFETY: the chunks cover `..len`, and `fill` wrote every element of each (the caller's
    // promise).
    unsafe { v.set_len(len) };
    v
}

/// The float types of the kernels, each with a scratch buffer per thread that the convolution
/// unfolds its blocks into: reused from call to call instead of allocated and zeroed for every
/// rayon task (as `for_each_init` would; 5% of a sampling step went to zeroing them). It grows
/// to the largest block seen on that thread (about 2 MB here, 12 MB for Stable Diffusion).
pub trait Scratch: Sized + Copy + Default + 'static {
    /// Runs `f` with this thread's buffer (not to be nested: `f` must not call it again).
    fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self>) -> R) -> R;
}

thread_local! {
    static SCRATCH_F32: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static SCRATCH_F64: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

impl Scratch for f32 {
    fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self>) -> R) -> R {
        SCRATCH_F32.with_borrow_mut(f)
    }
}

impl Scratch for f64 {
    fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self>) -> R) -> R {
        SCRATCH_F64.with_borrow_mut(f)
    }
}

/// eˣ in f32 without a library call, so that loops using it vectorize (libm's `expf` is one call
/// per element): x = n·ln 2 + r with |r| ≤ ln 2 / 2, eʳ by Cephes' degree-7 polynomial, 2ⁿ
/// written into the exponent bits. Relative error below 3·10⁻⁷ (tested against `f32::exp`);
/// inputs are clamped to [−87, 88], where eˣ is a normal f32 (NaN stays NaN).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // Adding 1.5·2²³ rounds a float of magnitude below 2²² to an integer, in its low bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    // ln 2 in two parts (Cephes' C1 + C2), so that n·C1 is exact.
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_2e-4 * r + 1.398_2e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 0.166_666_65) * r + 0.5;
    let er = p * r * r + r + 1.0;
    let k = t.to_bits() as i32 - ROUND.to_bits() as i32;
    er * f32::from_bits(((k + 127) << 23) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_f32_matches_the_library_over_its_range() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let (a, b) = (exp_f32(x) as f64, (x as f64).exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.001_7;
        }
        assert!(worst < 3e-7, "relative error {worst}");
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(f32::NAN).is_nan());
        // Clamped: far below the range is e⁻⁸⁷ (tiny, not 0, not NaN); above is e⁸⁸.
        assert!(exp_f32(-1000.0) > 0.0 && exp_f32(-1000.0) < 2e-38);
        assert!(exp_f32(1000.0).is_finite());
    }

    #[test]
    fn widest_runs_the_closure() {
        let v: Vec<f32> = (0..100).map(|i| i as f32 / 10.0).collect();
        let s = widest(
            #[inline(always)]
            || v.iter().map(|&x| exp_f32(-x)).sum::<f32>(),
        );
        let r: f32 = v.iter().map(|&x| (-x).exp()).sum();
        assert!((s - r).abs() < 1e-5 * r);
    }
}

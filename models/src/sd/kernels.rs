//! The UNet's transformer arithmetic on the CPU in f32, each one pass over memory on all cores:
//! a linear layer with its bias and the residual added in the same GEMM, GEGLU with the exact
//! GELU, and multi-head attention that reads each head's columns where they lie.
//!
//! Written with candle's ops, a linear layer is a matrix product plus a bias pass plus a
//! residual pass, and attention is six copies (splitting heads out of `[tokens, C]` and back),
//! and candle runs those passes on one thread (comp runs it with `CANDLE_NUM_THREADS=1`, see
//! `src/main.rs`): a third of the UNet's time went outside the matrix products. Here the GEMM
//! (the `gemm` crate, candle's own) writes into a buffer that already holds the bias and the
//! residual, and attention multiplies strided views of the projected rows, heads in parallel.
//! Inference only: no gradients.

use candle_core::{bail, CpuStorage, Result, Storage, Tensor};
use rayon::prelude::*;

/// Queries per block of one head's attention: the score block (queries × keys) stays at most
/// 1024 × keys.
const QUERY_BLOCK: usize = 1024;

/// Runs `f` on the f32 values of `t` (made contiguous).
fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Some((a, b)) = layout.contiguous_offsets() else { bail!("a contiguous tensor has no contiguous offsets") };
    match &*storage {
        Storage::Cpu(CpuStorage::F32(v)) => Ok(f(&v[a..b])),
        _ => bail!("the UNet's CPU kernels take f32 tensors on the CPU"),
    }
}

/// A raw pointer shared by tasks that write disjoint parts of one buffer.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
// SAFETY: every task given a `Shared` writes only elements no other task reads or writes (see
// the callers), and the buffer outlives the tasks (they are joined before it is used).
#[allow(unsafe_code)]
unsafe impl Send for Shared {}
#[allow(unsafe_code)]
unsafe impl Sync for Shared {}

/// `dst[i·dst_rs + j] = [dst +] Σ_l lhs[i·l_rs + l·l_cs] · rhs[l·r_rs + j·r_cs]` for an m×n
/// result, on one thread or on rayon's.
///
/// # Safety
/// Every index the strides address must be inside the buffers behind the pointers, and no
/// other thread may touch the `dst` elements meanwhile.
#[allow(unsafe_code, clippy::too_many_arguments)]
unsafe fn gemm_raw(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: (*const f32, usize, usize),
    rhs: (*const f32, usize, usize),
    parallel: bool,
) {
    let threads = rayon::current_num_threads();
    let par = if parallel && threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the caller's promise.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs.0,
            lhs.2 as isize,
            lhs.1 as isize,
            rhs.0,
            rhs.2 as isize,
            rhs.1 as isize,
            1f32,
            1f32,
            false,
            false,
            false,
            par,
        )
    }
}

/// `x` `[R, K]` · `w`ᵀ (`w` `[N, K]`) + `b` `[N]` (+ `residual` `[R, N]`): `[R, N]`.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>, residual: Option<&Tensor>) -> Result<Tensor> {
    let (r, k) = x.dims2()?;
    let (n, k2) = w.dims2()?;
    if k != k2 {
        bail!("linear: input of width {k}, weights of width {k2}")
    }
    // The output starts as the residual plus the bias, or the bias, or zero.
    let mut out = match residual {
        Some(res) => {
            if res.dims() != [r, n] {
                bail!("linear: residual {:?}, expected [{r}, {n}]", res.dims())
            }
            with_f32(res, |v| v.to_vec())?
        }
        None => vec![0f32; r * n],
    };
    if let Some(b) = b {
        with_f32(b, |bias| {
            out.par_chunks_mut(n).for_each(|row| row.iter_mut().zip(bias).for_each(|(o, b)| *o += b));
        })?;
    }
    let accumulate = residual.is_some() || b.is_some();
    with_f32(x, |xv| {
        with_f32(w, |wv| {
            // SAFETY: `out` holds r×n elements (row stride n); x is r×k (row stride k); wᵀ's
            // element (l, j) is w[j·k + l], inside w's n×k; nothing else touches `out`.
            #[allow(unsafe_code)]
            unsafe {
                gemm_raw(r, n, k, out.as_mut_ptr(), n, accumulate, (xv.as_ptr(), k, 1), (wv.as_ptr(), 1, k), true)
            }
        })
    })??;
    Tensor::from_vec(out, (r, n), x.device())
}

/// GEGLU's second half: `h` `[R, 2I]` (values, then gates) → `value · GELU(gate)` `[R, I]`, with
/// the exact GELU `g/2 · (1 + erf(g/√2))`, as diffusers computes it.
pub fn geglu(h: &Tensor) -> Result<Tensor> {
    let (r, two_i) = h.dims2()?;
    let i = two_i / 2;
    let mut out = vec![0f32; r * i];
    with_f32(h, |hv| {
        out.par_chunks_mut(i).zip(hv.par_chunks(two_i)).for_each(|(o, row)| {
            let (value, gate) = row.split_at(i);
            for ((o, &v), &g) in o.iter_mut().zip(value).zip(gate) {
                *o = v * (0.5 * g * (1.0 + libm::erff(g * std::f32::consts::FRAC_1_SQRT_2)));
            }
        })
    })?;
    Tensor::from_vec(out, (r, i), h.device())
}

/// Multi-head attention: `q` `[B·N, C]`, `k` and `v` `[B·M, C]` (head h in columns
/// h·d..(h+1)·d, d = C / heads) → `[B·N, C]`, softmax(q·kᵀ/√d)·v per batch row and head. Heads
/// run in parallel, each multiplying strided views of the rows in place (single-threaded GEMMs),
/// with queries in blocks of [`QUERY_BLOCK`].
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, batch: usize, heads: usize) -> Result<Tensor> {
    let (bn, c) = q.dims2()?;
    let (bm, ck) = k.dims2()?;
    if k.dims() != v.dims() || ck != c || batch == 0 || bn % batch != 0 || bm % batch != 0 || heads == 0 || c % heads != 0 {
        bail!("attention: q {:?}, k {:?}, v {:?}, {batch} rows, {heads} heads", q.dims(), k.dims(), v.dims())
    }
    let (n, m, d) = (bn / batch, bm / batch, c / heads);
    let scale = (d as f32).powf(-0.5);
    let mut out = vec![0f32; bn * c];
    let dst = Shared(out.as_mut_ptr());
    with_f32(q, |qv| {
        with_f32(k, |kv| {
            with_f32(v, |vv| {
                (0..batch * heads).into_par_iter().for_each(|bh| {
                    let (b, h) = (bh / heads, bh % heads);
                    let mut scores = vec![0f32; QUERY_BLOCK.min(n) * m];
                    for q0 in (0..n).step_by(QUERY_BLOCK) {
                        let rows = QUERY_BLOCK.min(n - q0);
                        let s = &mut scores[..rows * m];
                        let q_at = (b * n + q0) * c + h * d;
                        let kv_at = b * m * c + h * d;
                        // SAFETY: q rows q0..q0+rows of batch row b, columns h·d..(h+1)·d, lie
                        // inside q (B·N×C); keys and values rows 0..m of batch row b likewise
                        // inside k and v; `s` holds rows×m. The output block (the same rows and
                        // columns of `out`) belongs to this (b, h) alone.
                        #[allow(unsafe_code)]
                        unsafe {
                            gemm_raw(
                                rows,
                                m,
                                d,
                                s.as_mut_ptr(),
                                m,
                                false,
                                (qv.as_ptr().add(q_at), c, 1),
                                (kv.as_ptr().add(kv_at), 1, c),
                                false,
                            );
                        }
                        for row in s.chunks_exact_mut(m) {
                            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                            let mut sum = 0f32;
                            for x in row.iter_mut() {
                                *x = ((*x - max) * scale).exp();
                                sum += *x;
                            }
                            let inv = 1.0 / sum;
                            row.iter_mut().for_each(|x| *x *= inv);
                        }
                        // Moves the whole `Shared` into the closure (a closure would capture only
                        // the raw pointer `dst.0`, which is not `Send`).
                        #[allow(clippy::redundant_locals)]
                        let dst = dst;
                        #[allow(unsafe_code)]
                        unsafe {
                            gemm_raw(rows, d, m, dst.0.add(q_at), c, false, (s.as_ptr(), m, 1), (vv.as_ptr().add(kv_at), c, 1), false);
                        }
                    }
                })
            })
        })
    })???;
    Tensor::from_vec(out, (bn, c), q.device())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, D};

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
    }

    fn randn(shape: &[usize]) -> Tensor {
        Tensor::randn(0f32, 1.0, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn linear_with_bias_and_residual_is_the_matrix_product_plus_both() {
        let (x, w, b, r) = (randn(&[37, 19]), randn(&[23, 19]), randn(&[23]), randn(&[37, 23]));
        let want = x.matmul(&w.t().unwrap()).unwrap().broadcast_add(&b).unwrap();
        assert!(max_diff(&linear(&x, &w, Some(&b), None).unwrap(), &want) < 1e-5);
        assert!(max_diff(&linear(&x, &w, Some(&b), Some(&r)).unwrap(), &(&want + &r).unwrap()) < 1e-5);
        assert!(max_diff(&linear(&x, &w, None, None).unwrap(), &x.matmul(&w.t().unwrap()).unwrap()) < 1e-5);
        assert!(linear(&x, &randn(&[23, 18]), None, None).is_err());
    }

    #[test]
    fn geglu_is_value_times_exact_gelu_of_gate() {
        let h = randn(&[9, 2 * 13]);
        let want = (h.narrow(1, 0, 13).unwrap() * h.narrow(1, 13, 13).unwrap().gelu_erf().unwrap()).unwrap();
        assert!(max_diff(&geglu(&h).unwrap(), &want) < 1e-6);
    }

    /// Against the textbook computation in candle ops, with more queries than one block
    /// (1,500 > 1,024) so that the blocked path runs, two batch rows and three heads.
    #[test]
    fn attention_matches_softmax_of_scaled_scores_times_values_per_head() {
        let (b, n, m, heads, d) = (2, 1500, 77, 3, 8);
        let c = heads * d;
        let (q, k, v) = (randn(&[b * n, c]), randn(&[b * m, c]), randn(&[b * m, c]));
        let split = |t: &Tensor, len: usize| t.reshape((b, len, heads, d)).unwrap().transpose(1, 2).unwrap().contiguous().unwrap();
        let scores = (split(&q, n).matmul(&split(&k, m).t().unwrap()).unwrap() * (d as f64).powf(-0.5)).unwrap();
        let p = candle_nn::ops::softmax(&scores, D::Minus1).unwrap();
        let want = p.matmul(&split(&v, m)).unwrap().transpose(1, 2).unwrap().reshape((b * n, c)).unwrap();
        let got = attention(&q, &k, &v, b, heads).unwrap();
        assert_eq!(got.dims(), &[b * n, c]);
        assert!(max_diff(&got, &want) < 1e-5, "{}", max_diff(&got, &want));
        assert!(attention(&q, &k, &v, b, 5).is_err(), "24 channels do not split into 5 heads");
    }
}

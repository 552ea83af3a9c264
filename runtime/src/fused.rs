//! The fused weighted sum Σ_k c_k·ε_k over K stacked model outputs.
//!
//! The model returns one tensor `[K·N, ...]` for all conditions. Combining it with one candle
//! op per term (`acc = acc + eps_k * c_k`) reads and writes the whole accumulator K times and
//! allocates 2K temporaries. Here it is one pass:
//!
//! * CPU: a `CustomOp1` that builds the output in 1 KiB blocks, in parallel (rayon) for large
//!   inputs; each block accumulates its K input slices while it sits in L1. Every input
//!   element is read once, every output element written once, nothing is zero-filled, and
//!   the inner loop has a fixed length, so it vectorises.
//! * Other devices (CUDA): one matmul, `[1, K] × [K, N·D]` for shared coefficients, or a
//!   batched `[N, 1, K] × [N, K, D]` for per-sample ones, which cuBLAS does in one launch.
//!
//! Coefficients are either one row `[K]` shared by all samples (a linear combination) or one
//! row per sample `[N, K]` (a mixture, whose weights depend on each sample's energies).

use candle_core::{bail, CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Coefficients of a fused combination.
#[derive(Clone, Debug, PartialEq)]
pub enum Coeffs {
    /// `[K]`: c_k for every sample.
    Shared(Vec<f32>),
    /// `[N·K]`, row-major by sample: c_{n,k} = v[n·K + k].
    PerSample(Vec<f32>),
}

/// Output elements per block: 1 KiB of f32, so a block and the K input slices it reads
/// stay in L1 while the K terms are added into it.
const BLOCK: usize = 256;

/// Below this many input elements the sum runs on the calling thread: waking rayon's
/// workers costs more than the work.
const PARALLEL_MIN: usize = 1 << 17;

struct FusedSum<'a> {
    k: usize,
    coeffs: &'a Coeffs,
}

impl FusedSum<'_> {
    /// Output block `b`: Σ_k c_k·src[k·total + b·BLOCK ..][..BLOCK], returned by value so
    /// that the blocks can be collected (in parallel) straight into the output vector with
    /// no zero-initialisation pass.
    fn block(&self, src: &[f32], total: usize, row: usize, b: usize) -> [f32; BLOCK] {
        let base = b * BLOCK;
        let len = BLOCK.min(total - base);
        let mut out = [0f32; BLOCK];
        for k in 0..self.k {
            let inp = &src[k * total + base..k * total + base + len];
            match self.coeffs {
                Coeffs::Shared(c) => {
                    let c = c[k];
                    if len == BLOCK {
                        // fixed length: the compiler unrolls and vectorises this loop
                        let inp: &[f32; BLOCK] = inp.try_into().expect("len == BLOCK");
                        for j in 0..BLOCK {
                            out[j] += c * inp[j];
                        }
                    } else {
                        out[..len].iter_mut().zip(inp).for_each(|(o, x)| *o += c * x);
                    }
                }
                Coeffs::PerSample(c) => {
                    let (mut n, mut at) = (base / row, base % row);
                    for (o, x) in out[..len].iter_mut().zip(inp) {
                        *o += c[n * self.k + k] * x;
                        at += 1;
                        if at == row {
                            at = 0;
                            n += 1;
                        }
                    }
                }
            }
        }
        out
    }
}

impl CustomOp1 for FusedSum<'_> {
    fn name(&self) -> &'static str {
        "comp-fused-sum"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = match (storage, layout.contiguous_offsets()) {
            (CpuStorage::F32(s), Some((a, b))) => &s[a..b],
            (CpuStorage::F32(_), None) => bail!("fused sum: input must be contiguous"),
            _ => bail!("fused sum: input must be f32"),
        };
        let (n, shape) = out_shape(layout.shape().dims(), self.k)?;
        let total = shape.elem_count();
        let row = total / n.max(1);
        let blocks = total.div_ceil(BLOCK);
        let mut out: Vec<[f32; BLOCK]> = Vec::with_capacity(blocks);
        if src.len() < PARALLEL_MIN {
            out.extend((0..blocks).map(|b| self.block(src, total, row, b)));
        } else {
            (0..blocks).into_par_iter().with_min_len(16).map(|b| self.block(src, total, row, b)).collect_into_vec(&mut out);
        }
        let mut dst = out.into_flattened();
        dst.truncate(total);
        Ok((CpuStorage::F32(dst), shape))
    }
}

/// `[K·N, ...rest]` → (N, `[N, ...rest]`).
fn out_shape(dims: &[usize], k: usize) -> Result<(usize, Shape)> {
    if dims.is_empty() || k == 0 || !dims[0].is_multiple_of(k) {
        bail!("fused sum: cannot split shape {dims:?} into {k} blocks")
    }
    let n = dims[0] / k;
    let mut out = dims.to_vec();
    out[0] = n;
    Ok((n, Shape::from_dims(&out)))
}

/// Σ_k c_k·ε_k in one pass; `eps` is `[K·N, ...]` f32, the result `[N, ...]`.
pub fn fused_sum(eps: &Tensor, k: usize, coeffs: &Coeffs) -> Result<Tensor> {
    let (n, shape) = out_shape(eps.dims(), k)?;
    let want = match coeffs {
        Coeffs::Shared(_) => k,
        Coeffs::PerSample(_) => n * k,
    };
    let len = match coeffs {
        Coeffs::Shared(c) | Coeffs::PerSample(c) => c.len(),
    };
    if len != want {
        bail!("fused sum: {len} coefficients for K = {k}, N = {n} (expected {want})")
    }
    let eps = eps.to_dtype(DType::F32)?.contiguous()?;
    if eps.device().is_cpu() {
        return eps.apply_op1_no_bwd(&FusedSum { k, coeffs });
    }
    // One matmul on accelerators.
    let dev = eps.device();
    let row = shape.elem_count() / n.max(1);
    let out = match coeffs {
        Coeffs::Shared(c) => {
            let c = Tensor::from_slice(c, (1, k), dev)?;
            c.matmul(&eps.reshape((k, n * row))?)?
        }
        Coeffs::PerSample(c) => {
            let c = Tensor::from_slice(c, (n, 1, k), dev)?;
            let e = eps.reshape((k, n, row))?.transpose(0, 1)?.contiguous()?;
            c.matmul(&e)?
        }
    };
    out.reshape(shape)
}

/// The same sum as a chain of candle ops, one multiply and one add per term: the reference
/// for tests and the baseline for benchmarks.
pub fn naive_sum(eps: &Tensor, k: usize, coeffs: &Coeffs) -> Result<Tensor> {
    let (n, _) = out_shape(eps.dims(), k)?;
    let mut acc: Option<Tensor> = None;
    for j in 0..k {
        let e = eps.narrow(0, j * n, n)?;
        let term = match coeffs {
            Coeffs::Shared(c) => e.affine(c[j] as f64, 0.0)?,
            Coeffs::PerSample(c) => {
                let cj: Vec<f32> = (0..n).map(|i| c[i * k + j]).collect();
                let mut bshape = vec![1usize; e.rank()];
                bshape[0] = n;
                e.broadcast_mul(&Tensor::from_vec(cj, bshape, e.device())?)?
            }
        };
        acc = Some(match acc {
            None => term,
            Some(a) => (a + term)?,
        });
    }
    acc.ok_or_else(|| candle_core::Error::Msg("naive sum of no terms".into()))
}

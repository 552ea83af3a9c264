//! The residual block ([`super::blocks::ResBlock`]) as one operation on the CPU in f32, with a
//! hand-written backward pass.
//!
//! Built from separate operations, a block is two fused GroupNorms, two convolutions, a 1×1
//! convolution (a candle matrix product plus a bias) or nothing on the skip path, and an add,
//! and candle's autograd runs them one by one. Between the parallel kernels candle's own work ran
//! on one thread while the other waited: the skip path's matrix product and bias, the residual
//! add, the weight matrices rebuilt from the weights, and, in the backward pass, a zero-filled
//! tensor and an add for every gradient it collects (`GradStore`), a full pass over each
//! activation. Profiled on a 2-core AMD EPYC, that serial work was 18% of a training step's CPU
//! time and a third of its wall time. Here the block is one candle node: the same kernels
//! ([`super::norm`], [`super::conv`]) chained on plain slices, every pass parallel, the skip
//! path's products and the residual add done in row blocks on all threads, and the activations
//! the backward pass needs (both normalised inputs of the convolutions and the first
//! convolution's output) kept by the operation itself when the block is being trained.
//!
//! The block's parameters reach the operation as one vector ([`Packing`]; candle concatenates
//! them, and its backward splits the gradient: small tensors), followed by the block's scale and
//! shift `[B, 2·C_out]` from the time-and-position embedding (the linear layer before it stays a
//! candle op). A decoder block's input, the concatenation of the features from below and the
//! encoder's skip connection, can come as the two tensors ([`ResOp`] as a [`CustomOp3`]): the
//! concatenation and, backward, its split are then parallel passes here rather than a copy and
//! two strided gradient adds on candle's thread. `lab/tests/clevr.rs` checks the output and every
//! gradient against the unfused block.

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Mutex;

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

use super::conv::{self, gemm, sum_parts, View, TASKS};
use super::norm::{self, GnAct, EPS};
use super::simd::par_filled;

/// The order of a block's parameters in its packed vector (C_in counts both inputs of a decoder
/// block): GroupNorm 1's γ and β (C_in each),
/// conv 1's weight `[C_out, C_in, 3, 3]` and bias, GroupNorm 2's γ and β (C_out each), conv 2's
/// weight `[C_out, C_out, 3, 3]` and bias, then, when the channel count changes, the skip
/// path's 1×1 weight `[C_out, C_in]` and bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packing {
    pub cin: usize,
    pub cout: usize,
    pub skip: bool,
}

/// Where each parameter lies in the packed vector.
struct Parts {
    gamma1: Range<usize>,
    beta1: Range<usize>,
    w1: Range<usize>,
    b1: Range<usize>,
    gamma2: Range<usize>,
    beta2: Range<usize>,
    w2: Range<usize>,
    b2: Range<usize>,
    ws: Range<usize>,
    bs: Range<usize>,
}

impl Packing {
    fn parts(&self) -> Parts {
        let (cin, cout) = (self.cin, self.cout);
        let mut at = 0;
        let mut next = |n: usize| {
            at += n;
            at - n..at
        };
        let s = self.skip as usize;
        Parts {
            gamma1: next(cin),
            beta1: next(cin),
            w1: next(cout * cin * 9),
            b1: next(cout),
            gamma2: next(cout),
            beta2: next(cout),
            w2: next(cout * cout * 9),
            b2: next(cout),
            ws: next(s * cout * cin),
            bs: next(s * cout),
        }
    }

    /// Length of the packed vector (never 0: GroupNorm's γ comes first).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.parts().bs.end
    }
}

/// The block `y = conv2(SiLU(GN2(h1)·(1 + s) + t)) + skip(x)`, `h1 = conv1(SiLU(GN1(x)))`, on
/// `x` `[B, H, W, C_in]` and the packed parameters followed by the scale and shift
/// `[B, 2·C_out]` ([`CustomOp2`]), or with x as two tensors `[B, H, W, C₁]` and
/// `[B, H, W, C_in − C₁]` concatenated along the channels ([`CustomOp3`]).
pub struct ResOp {
    packing: Packing,
    groups: usize,
    /// Keep the activations for the backward pass (the block is being trained).
    keep: bool,
    saved: Mutex<Option<Saved>>,
}

impl ResOp {
    pub fn new(packing: Packing, groups: usize, keep: bool) -> Self {
        Self { packing, groups, keep, saved: Mutex::new(None) }
    }

    fn gn(&self) -> GnAct {
        GnAct { groups: self.groups, silu: true, eps: EPS }
    }
}

/// What the backward pass needs besides the inputs.
struct Saved {
    /// The concatenated input, when it came as two tensors.
    x: Option<Vec<f32>>,
    /// SiLU(GN1(x)): conv 1's input.
    a1: Vec<f32>,
    /// conv 1's output.
    h1: Vec<f32>,
    /// SiLU(GN2(h1)·(1 + s) + t): conv 2's input.
    a2: Vec<f32>,
    /// The forward pass's affine maps and matrices, which the backward pass uses too.
    setup: Setup,
}

/// The pieces of one call: shapes, the per-sample affine maps of both GroupNorms and both
/// convolutions' matrices.
struct Setup {
    dims: [usize; 4],
    ab1: Vec<f32>,
    ab2: Vec<f32>,
    k1: Vec<f32>,
    k2: Vec<f32>,
}

impl ResOp {
    fn setup(&self, p: &[f32], ss: &[f32], dims: [usize; 4]) -> Setup {
        let Packing { cin, cout, .. } = self.packing;
        let q = self.packing.parts();
        let b = dims[0];
        let mut ab1 = Vec::with_capacity(b * 2 * cin);
        let mut ab2 = Vec::with_capacity(b * 2 * cout);
        for i in 0..b {
            ab1.extend_from_slice(&p[q.gamma1.clone()]);
            ab1.extend_from_slice(&p[q.beta1.clone()]);
            let (scale, shift) = ss[i * 2 * cout..(i + 1) * 2 * cout].split_at(cout);
            ab2.extend(p[q.gamma2.clone()].iter().zip(scale).map(|(g, s)| g * (1.0 + s)));
            ab2.extend(p[q.beta2.clone()].iter().zip(scale).zip(shift).map(|((be, s), t)| be * (1.0 + s) + t));
        }
        let k1 = conv::matrix_f32(&p[q.w1], &p[q.b1], cin, cout);
        let k2 = conv::matrix_f32(&p[q.w2], &p[q.b2], cout, cout);
        Setup { dims, ab1, ab2, k1, k2 }
    }

    fn forward(&self, x: &[f32], p: &[f32], s: Setup) -> (Vec<f32>, Saved) {
        let Packing { cin, cout, skip } = self.packing;
        let [b, h, w, _] = s.dims;
        let a1 = norm::forward(x, &s.ab1, [b, h * w, cin], self.gn());
        let h1 = conv::forward_f32(&a1, &s.k1, [b, h, w, cin], cout);
        let a2 = norm::forward(&h1, &s.ab2, [b, h * w, cout], self.gn());
        let mut y = conv::forward_f32(&a2, &s.k2, [b, h, w, cout], cout);
        let rows = b * h * w;
        let block = rows.div_ceil(TASKS).max(64);
        if skip {
            let q = self.packing.parts();
            let (ws, bs) = (&p[q.ws], &p[q.bs]);
            y.par_chunks_mut(block * cout).enumerate().for_each(|(i, yb)| {
                let n = yb.len() / cout;
                let xb = &x[i * block * cin..(i * block + n) * cin];
                // y += x (n × C_in) · wsᵀ (C_in × C_out), then the bias.
                gemm(
                    n,
                    cout,
                    cin,
                    yb,
                    true,
                    View { ptr: xb.as_ptr(), rs: cin as isize, cs: 1 },
                    View { ptr: ws.as_ptr(), rs: 1, cs: cin as isize },
                );
                for row in yb.chunks_exact_mut(cout) {
                    row.iter_mut().zip(bs).for_each(|(v, b)| *v += b);
                }
            });
        } else {
            y.par_chunks_mut(block * cout)
                .zip(x.par_chunks(block * cin))
                .for_each(|(yb, xb)| yb.iter_mut().zip(xb).for_each(|(v, x)| *v += x));
        }
        (y, Saved { x: None, a1, h1, a2, setup: s })
    }

    /// Gradients of `sum(dy · y)` with respect to x, the packed parameters and the scale and shift.
    fn backward(&self, x: &[f32], p: &[f32], ss: &[f32], dy: &[f32], saved: &Saved) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let s = &saved.setup;
        let Packing { cin, cout, skip } = self.packing;
        let q = self.packing.parts();
        let [b, h, w, _] = s.dims;
        let (da2, dk2) = conv::backward_f32(&saved.a2, &s.k2, dy, [b, h, w, cout], cout);
        let (dh1, dab2) = norm::backward(&saved.h1, &s.ab2, &da2, [b, h * w, cout], self.gn());
        let (da1, dk1) = conv::backward_f32(&saved.a1, &s.k1, &dh1, [b, h, w, cin], cout);
        let (mut dx, dab1) = norm::backward(x, &s.ab1, &da1, [b, h * w, cin], self.gn());
        let mut dp = vec![0f32; self.packing.len()];
        let rows = b * h * w;
        let block = rows.div_ceil(TASKS).max(64);
        if skip {
            let ws = &p[q.ws.clone()];
            // Per block of rows: dx += dy · ws, and its part of dws = dyᵀ · x and dbs = Σ dy.
            let parts: Vec<Vec<f32>> = dx
                .par_chunks_mut(block * cin)
                .enumerate()
                .map(|(i, dxb)| {
                    let n = dxb.len() / cin;
                    let (xb, dyb) = (&x[i * block * cin..(i * block + n) * cin], &dy[i * block * cout..(i * block + n) * cout]);
                    gemm(
                        n,
                        cin,
                        cout,
                        dxb,
                        true,
                        View { ptr: dyb.as_ptr(), rs: cout as isize, cs: 1 },
                        View { ptr: ws.as_ptr(), rs: cin as isize, cs: 1 },
                    );
                    let mut part = vec![0f32; cout * cin + cout];
                    let (dws, dbs) = part.split_at_mut(cout * cin);
                    gemm(
                        cout,
                        cin,
                        n,
                        dws,
                        false,
                        View { ptr: dyb.as_ptr(), rs: 1, cs: cout as isize },
                        View { ptr: xb.as_ptr(), rs: cin as isize, cs: 1 },
                    );
                    for row in dyb.chunks_exact(cout) {
                        dbs.iter_mut().zip(row).for_each(|(d, v)| *d += v);
                    }
                    part
                })
                .collect();
            let sum = sum_parts(&parts, cout * cin + cout);
            dp[q.ws.start..q.bs.end].copy_from_slice(&sum);
        } else {
            dx.par_chunks_mut(block * cin)
                .zip(dy.par_chunks(block * cout))
                .for_each(|(dxb, dyb)| dxb.iter_mut().zip(dyb).for_each(|(d, v)| *d += v));
        }
        // GroupNorm 1: a = γ1, b = β1 for every sample.
        for i in 0..b {
            let (da, db) = dab1[i * 2 * cin..(i + 1) * 2 * cin].split_at(cin);
            dp[q.gamma1.clone()].iter_mut().zip(da).for_each(|(d, v)| *d += v);
            dp[q.beta1.clone()].iter_mut().zip(db).for_each(|(d, v)| *d += v);
        }
        // GroupNorm 2: a = γ2(1 + s), b = β2(1 + s) + t.
        let mut dss = vec![0f32; b * 2 * cout];
        let (gamma2, beta2) = (&p[q.gamma2.clone()], &p[q.beta2.clone()]);
        for i in 0..b {
            let (da, db) = dab2[i * 2 * cout..(i + 1) * 2 * cout].split_at(cout);
            let scale = &ss[i * 2 * cout..i * 2 * cout + cout];
            let (ds, dt) = dss[i * 2 * cout..(i + 1) * 2 * cout].split_at_mut(cout);
            for c in 0..cout {
                dp[q.gamma2.start + c] += da[c] * (1.0 + scale[c]);
                dp[q.beta2.start + c] += db[c] * (1.0 + scale[c]);
                ds[c] = da[c] * gamma2[c] + db[c] * beta2[c];
                dt[c] = db[c];
            }
        }
        let (dw1, rest) = dp[q.w1.start..].split_at_mut(q.w1.len());
        conv::split_matrix_f32(&dk1, cin, cout, dw1, &mut rest[..cout]);
        let (dw2, rest) = dp[q.w2.start..].split_at_mut(q.w2.len());
        conv::split_matrix_f32(&dk2, cout, cout, dw2, &mut rest[..cout]);
        (dx, dp, dss)
    }
}

fn f32s<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        (CpuStorage::F32(_), None) => bail!("the fused residual block needs contiguous inputs"),
        _ => bail!("the fused residual block runs in f32"),
    }
}

/// A tensor's f32 values (contiguous, on the CPU), for `f` to read.
fn with_f32s<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let (s, l) = t.storage_and_layout();
    let Storage::Cpu(s) = &*s else { bail!("the fused residual block runs on the CPU only") };
    f(f32s(s, l)?)
}

/// Pixel rows of `a` (`ca` channels) and `b` (`cb`) side by side: `[.., ca + cb]`.
fn concat(a: &[f32], b: &[f32], ca: usize, cb: usize) -> Vec<f32> {
    let c = ca + cb;
    let rows = 256;
    // SAFETY: each chunk's rows are written in full, both parts.
    #[allow(unsafe_code)]
    unsafe {
        par_filled(
            a.len() / ca * c,
            rows * c,
            || (),
            |_, i, x| {
                let (a, b) = (&a[i * rows * ca..], &b[i * rows * cb..]);
                for ((x, a), b) in x.chunks_exact_mut(c).zip(a.chunks_exact(ca)).zip(b.chunks_exact(cb)) {
                    for (x, v) in x.iter_mut().zip(a.iter().chain(b)) {
                        *x = MaybeUninit::new(*v);
                    }
                }
            },
        )
    }
}

/// The inverse of [`concat`].
fn split(x: &[f32], ca: usize, cb: usize) -> (Vec<f32>, Vec<f32>) {
    let c = ca + cb;
    let n = x.len() / c;
    let rows = 256;
    // Channels `from..from + width` of every row.
    let part = |from: usize, width: usize| {
        // SAFETY: each chunk's rows are written in full.
        #[allow(unsafe_code)]
        unsafe {
            par_filled(
                n * width,
                rows * width,
                || (),
                |_, i, out| {
                    for (o, x) in out.chunks_exact_mut(width).zip(x[i * rows * c..].chunks_exact(c)) {
                        for (o, v) in o.iter_mut().zip(&x[from..from + width]) {
                            *o = MaybeUninit::new(*v);
                        }
                    }
                },
            )
        }
    };
    (part(0, ca), part(ca, cb))
}

impl ResOp {
    /// The input's `[B, H, W, C_in]` from its part(s)' shapes, after checking them and the
    /// packed vector's length.
    fn check(&self, xs: &[&Shape], ps: &Shape) -> Result<[usize; 4]> {
        let Packing { cin, cout, .. } = self.packing;
        let (b, h, w, mut c) = xs[0].dims4()?;
        for x in &xs[1..] {
            let (b2, h2, w2, c2) = x.dims4()?;
            if (b2, h2, w2) != (b, h, w) {
                bail!("fused residual block: inputs {:?} and {x:?} do not concatenate", xs[0])
            }
            c += c2;
        }
        if c != cin || ps.dims() != [self.packing.len() + b * 2 * cout] {
            bail!("fused residual block: inputs {xs:?}, {ps:?} for {cin} → {cout} channels")
        }
        Ok([b, h, w, c])
    }

    /// The forward pass on the input `x`, or on `made`, the concatenated input this operation
    /// made (then kept for the backward pass too).
    fn run_forward(&self, x: &[f32], made: Option<Vec<f32>>, ps: &[f32], dims: [usize; 4]) -> Result<(CpuStorage, Shape)> {
        let (p, ss) = ps.split_at(self.packing.len());
        let (y, mut saved) = self.forward(made.as_deref().unwrap_or(x), p, self.setup(p, ss, dims));
        if self.keep {
            saved.x = made;
            *self.saved.lock().expect("no panic while held") = Some(saved);
        }
        let [b, h, w, _] = dims;
        Ok((CpuStorage::F32(y), Shape::from((b, h, w, self.packing.cout))))
    }

    /// The backward pass: the (concatenated) input's gradient and the packed vector's.
    fn run_backward(&self, x: Option<&[f32]>, ps: &Tensor, grad: &Tensor) -> Result<(Vec<f32>, Tensor)> {
        let guard = self.saved.lock().expect("no panic while held");
        // Kept whenever an input tracks gradients, which candle's backward needs to reach here.
        let Some(saved) = &*guard else { bail!("the fused residual block kept no activations for its backward pass") };
        let Some(x) = x.or(saved.x.as_deref()) else { bail!("the fused residual block kept no input for its backward pass") };
        let grad = grad.contiguous()?;
        let (dx, dps) = with_f32s(ps, |ps| {
            with_f32s(&grad, |dy| {
                let (p, ss) = ps.split_at(self.packing.len());
                let (dx, mut dp, dss) = self.backward(x, p, ss, dy, saved);
                dp.extend_from_slice(&dss);
                Ok((dx, dp))
            })
        })?;
        Ok((dx, Tensor::from_vec(dps, ps.shape(), ps.device())?))
    }
}

impl CustomOp2 for ResOp {
    fn name(&self) -> &'static str {
        "resblock-nhwc"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = self.check(&[l1.shape()], l2.shape())?;
        self.run_forward(f32s(s1, l1)?, None, f32s(s2, l2)?, dims)
    }

    fn bwd(&self, x: &Tensor, ps: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        self.check(&[x.shape()], ps.shape())?;
        let (dx, dps) = with_f32s(x, |x| self.run_backward(Some(x), ps, grad))?;
        Ok((Some(Tensor::from_vec(dx, x.shape(), x.device())?), Some(dps)))
    }
}

impl CustomOp3 for ResOp {
    fn name(&self) -> &'static str {
        "resblock-concat-nhwc"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = self.check(&[l1.shape(), l2.shape()], l3.shape())?;
        let (ca, cb) = (l1.shape().dims()[3], l2.shape().dims()[3]);
        let x = concat(f32s(s1, l1)?, f32s(s2, l2)?, ca, cb);
        self.run_forward(&[], Some(x), f32s(s3, l3)?, dims)
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        ps: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        self.check(&[a.shape(), b.shape()], ps.shape())?;
        let (dx, dps) = self.run_backward(None, ps, grad)?;
        let (da, db) = split(&dx, a.dim(3)?, b.dim(3)?);
        Ok((Some(Tensor::from_vec(da, a.shape(), a.device())?), Some(Tensor::from_vec(db, b.shape(), b.device())?), Some(dps)))
    }
}

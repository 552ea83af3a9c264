//! GroupNorm, its per-sample affine map and SiLU as one fused operation on channel-last
//! tensors, with a hand-written backward pass.
//!
//! Written with basic tensor ops, a GroupNorm followed by scale-shift and SiLU is about fifteen
//! candle ops (sums, broadcasts, a square root, a sigmoid), each a full pass over the
//! activations, single-threaded on the CPU, plus as many backward ops; at this UNet's sizes they
//! took more time than the convolutions. On the CPU, [`gn_act`] is one [`CustomOp2`]: a pass for
//! the group statistics and a pass for the output, per sample in parallel (rayon), and a
//! backward of two passes. Elsewhere (a GPU) it is the same function in basic ops
//! ([`gn_act_reference`]), which `lab/tests/clevr.rs` compares against this kernel, and
//! whose gradient checks the hand-written one.
//!
//! The function: for `x` `[B, P, C]` (P pixels, C channels in G groups) and `ab` `[B, 2, C]`
//! (per sample and channel: a multiplier `a` and an offset `b`),
//! `z = (x − μ_g) / √(σ²_g + ε) · a + b`, `y = SiLU(z)` (or `y = z`), with μ_g and σ²_g the mean
//! and (biased) variance of sample's group g over its pixels and channels. GroupNorm's
//! `γ`, `β` and a ResBlock's scale-shift `(1 + s)`, `t` fold into `a = γ(1 + s)`,
//! `b = β(1 + s) + t`.

use std::mem::MaybeUninit;

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Storage, Tensor, WithDType};
use rayon::prelude::*;

use super::reference_ops;
use super::simd::{par_filled, widest};

/// GroupNorm's ε.
pub const EPS: f64 = 1e-5;

/// `y = act(GN(x)·a + b)` for `x` `[B, P, C]`, `ab` `[B, 2, C]` (see the module docs), with
/// GroupNorm's ε = [`EPS`].
pub fn gn_act(x: &Tensor, ab: &Tensor, groups: usize, silu: bool) -> Result<Tensor> {
    gn_act_eps(x, ab, groups, silu, EPS)
}

/// [`gn_act`] with another ε (Stable Diffusion's attention blocks use 1e-6).
pub fn gn_act_eps(x: &Tensor, ab: &Tensor, groups: usize, silu: bool, eps: f64) -> Result<Tensor> {
    let (b, _, c) = x.dims3()?;
    if groups == 0 || !c.is_multiple_of(groups) {
        bail!("GroupNorm: {c} channels do not split into {groups} groups")
    }
    if ab.dims() != [b, 2, c] {
        bail!("GroupNorm: affine coefficients {:?}, expected [{b}, 2, {c}]", ab.dims())
    }
    if reference_ops(x) {
        return gn_act_reference_eps(x, ab, groups, silu, eps);
    }
    x.contiguous()?.apply_op2(&ab.contiguous()?, GnAct { groups, silu, eps })
}

/// The same function in basic candle ops (any device, candle's autograd).
pub fn gn_act_reference(x: &Tensor, ab: &Tensor, groups: usize, silu: bool) -> Result<Tensor> {
    gn_act_reference_eps(x, ab, groups, silu, EPS)
}

fn gn_act_reference_eps(x: &Tensor, ab: &Tensor, groups: usize, silu: bool, eps: f64) -> Result<Tensor> {
    let (b, p, c) = x.dims3()?;
    let cg = c / groups;
    let n = (p * cg) as f64;
    let xs = x.reshape((b, p, groups, cg))?;
    let mean = (xs.sum_keepdim(3)?.sum_keepdim(1)? / n)?;
    let centred = xs.broadcast_sub(&mean)?;
    let var = (centred.sqr()?.sum_keepdim(3)?.sum_keepdim(1)? / n)?;
    let xhat = centred.broadcast_div(&(var + eps)?.sqrt()?)?.reshape((b, p, c))?;
    let z = xhat.broadcast_mul(&ab.narrow(1, 0, 1)?)?.broadcast_add(&ab.narrow(1, 1, 1)?)?;
    if silu {
        z.silu()
    } else {
        Ok(z)
    }
}

/// The float types the kernel runs on.
pub(super) trait Real: WithDType {
    fn exp(self) -> Self;
    /// To f64 (inlined, unlike candle's `to_f64`, so the loops vectorize).
    fn wide(self) -> f64;
    fn narrow(v: f64) -> Self;
}

impl Real for f32 {
    #[inline(always)]
    fn exp(self) -> Self {
        super::simd::exp_f32(self)
    }
    #[inline(always)]
    fn wide(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn narrow(v: f64) -> Self {
        v as f32
    }
}

impl Real for f64 {
    #[inline(always)]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    #[inline(always)]
    fn wide(self) -> f64 {
        self
    }
    #[inline(always)]
    fn narrow(v: f64) -> Self {
        v
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct GnAct {
    pub groups: usize,
    pub silu: bool,
    pub eps: f64,
}

/// Per group of one sample: mean and 1/√(var + ε), from per-channel sums in f64.
#[inline(always)]
fn stats<T: Real>(x: &[T], c: usize, groups: usize, eps: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut s1, mut s2) = (vec![0f64; c], vec![0f64; c]);
    for px in x.chunks_exact(c) {
        for ((a, b), v) in s1.iter_mut().zip(s2.iter_mut()).zip(px) {
            let v = v.wide();
            *a += v;
            *b += v * v;
        }
    }
    let cg = c / groups;
    let n = (x.len() / c * cg) as f64;
    let (mut mean, mut rstd) = (vec![0.0; groups], vec![0.0; groups]);
    for g in 0..groups {
        let m = s1[g * cg..(g + 1) * cg].iter().sum::<f64>() / n;
        let var = (s2[g * cg..(g + 1) * cg].iter().sum::<f64>() / n - m * m).max(0.0);
        mean[g] = m;
        rstd[g] = 1.0 / (var + eps).sqrt();
    }
    (mean, rstd)
}

/// Per channel: z = x·k + o, with k = a·rstd and o = b − μ·a·rstd.
#[inline(always)]
fn coefficients<T: Real>(ab: &[T], c: usize, groups: usize, mean: &[f64], rstd: &[f64]) -> (Vec<T>, Vec<T>) {
    let cg = c / groups;
    (0..c)
        .map(|ch| {
            let (a, b) = (ab[ch].wide(), ab[c + ch].wide());
            let (m, r) = (mean[ch / cg], rstd[ch / cg]);
            (T::narrow(a * r), T::narrow(b - m * a * r))
        })
        .unzip()
}

#[inline(always)]
fn sigmoid<T: Real>(z: T) -> T {
    T::one() / (T::one() + (T::zero() - z).exp())
}

pub(super) fn forward<T: Real>(x: &[T], ab: &[T], [b, p, c]: [usize; 3], op: GnAct) -> Vec<T> {
    let n = p * c;
    // SAFETY: `forward_sample` writes every element of its sample.
    #[allow(unsafe_code)]
    unsafe {
        par_filled(
            b * n,
            n,
            || (),
            |_, i, y| {
                widest(
                    #[inline(always)]
                    || forward_sample(y, &x[i * n..(i + 1) * n], &ab[i * 2 * c..(i + 1) * 2 * c], c, op),
                )
            },
        )
    }
}

/// [`forward`] for one sample.
#[inline(always)]
fn forward_sample<T: Real>(y: &mut [MaybeUninit<T>], x: &[T], ab: &[T], c: usize, GnAct { groups, silu, eps }: GnAct) {
    let (mean, rstd) = stats(x, c, groups, eps);
    let (k, o) = coefficients(ab, c, groups, &mean, &rstd);
    let (k, o) = (&k[..c], &o[..c]);
    for (yp, xp) in y.chunks_exact_mut(c).zip(x.chunks_exact(c)) {
        let (yp, xp) = (&mut yp[..c], &xp[..c]);
        for ch in 0..c {
            let z = xp[ch] * k[ch] + o[ch];
            yp[ch] = MaybeUninit::new(if silu { z * sigmoid(z) } else { z });
        }
    }
}

/// Gradients of `sum(dy · y)`: `dx` `[B, P, C]` and `dab` `[B, 2, C]`.
pub(super) fn backward<T: Real>(x: &[T], ab: &[T], dy: &[T], [b, p, c]: [usize; 3], op: GnAct) -> (Vec<T>, Vec<T>) {
    // dx is written by the tasks (not zeroed first on this thread).
    let mut dx = Vec::with_capacity(b * p * c);
    let mut dab = vec![T::zero(); b * 2 * c];
    dx.spare_capacity_mut()[..b * p * c]
        .par_chunks_mut(p * c)
        .zip(dab.par_chunks_mut(2 * c))
        .zip(x.par_chunks(p * c).zip(dy.par_chunks(p * c)))
        .zip(ab.par_chunks(2 * c))
        .for_each(|(((dx, dab), (x, dy)), ab)| {
            widest(
                #[inline(always)]
                || backward_sample(dx, dab, x, dy, ab, c, op),
            )
        });
    // SAFETY: the chunks cover `..b·p·c`, and `backward_sample` wrote every element of each.
    #[allow(unsafe_code)]
    unsafe {
        dx.set_len(b * p * c)
    };
    (dx, dab)
}

/// [`backward`] for one sample.
#[inline(always)]
fn backward_sample<T: Real>(
    dx: &mut [MaybeUninit<T>],
    dab: &mut [T],
    x: &[T],
    dy: &[T],
    ab: &[T],
    c: usize,
    GnAct { groups, silu, eps }: GnAct,
) {
    let cg = c / groups;
    let n = (x.len() / c * cg) as f64;
    let (mean, rstd) = stats(x, c, groups, eps);
    let (k, o) = coefficients(ab, c, groups, &mean, &rstd);
    let (k, o) = (&k[..c], &o[..c]);
    let mu: Vec<T> = (0..c).map(|ch| T::narrow(mean[ch / cg])).collect();
    let rs: Vec<T> = (0..c).map(|ch| T::narrow(rstd[ch / cg])).collect();
    let (mu, rs) = (&mu[..c], &rs[..c]);
    // Pass 1: dz into dx; per channel Σ dz·x̂ (= da) and Σ dz (= db), in f64.
    let (mut da, mut db) = (vec![0f64; c], vec![0f64; c]);
    let (da_, db_) = (&mut da[..c], &mut db[..c]);
    for ((dxp, xp), dyp) in dx.chunks_exact_mut(c).zip(x.chunks_exact(c)).zip(dy.chunks_exact(c)) {
        let (dxp, xp, dyp) = (&mut dxp[..c], &xp[..c], &dyp[..c]);
        for ch in 0..c {
            let x = xp[ch];
            let dz = if silu {
                let z = x * k[ch] + o[ch];
                let s = sigmoid(z);
                dyp[ch] * s * (T::one() + z * (T::one() - s))
            } else {
                dyp[ch]
            };
            dxp[ch] = MaybeUninit::new(dz);
            let xhat = (x - mu[ch]) * rs[ch];
            da_[ch] += (dz * xhat).wide();
            db_[ch] += dz.wide();
        }
    }
    // SAFETY: pass 1 wrote every element (one per pixel and channel).
    #[allow(unsafe_code)]
    let dx = unsafe { &mut *(dx as *mut [MaybeUninit<T>] as *mut [T]) };
    // dx = rstd·(dz·a − mean_g(dz·a) − x̂·mean_g(dz·a·x̂)); the group means are
    // Σ_ch a·db / n and Σ_ch a·da / n.
    let a: Vec<f64> = ab[..c].iter().map(|v| v.wide()).collect();
    let (mut m1, mut m2) = (vec![T::zero(); c], vec![T::zero(); c]);
    for g in 0..groups {
        let r = g * cg..(g + 1) * cg;
        let s1: f64 = r.clone().map(|ch| a[ch] * db[ch]).sum::<f64>() / n;
        let s2: f64 = r.clone().map(|ch| a[ch] * da[ch]).sum::<f64>() / n;
        for ch in r {
            m1[ch] = T::narrow(s1);
            m2[ch] = T::narrow(s2);
        }
    }
    let (at, m1, m2) = (&ab[..c], &m1[..c], &m2[..c]);
    for (dxp, xp) in dx.chunks_exact_mut(c).zip(x.chunks_exact(c)) {
        let (dxp, xp) = (&mut dxp[..c], &xp[..c]);
        for ch in 0..c {
            let xhat = (xp[ch] - mu[ch]) * rs[ch];
            dxp[ch] = rs[ch] * (dxp[ch] * at[ch] - m1[ch] - xhat * m2[ch]);
        }
    }
    for ch in 0..c {
        dab[ch] = T::narrow(da[ch]);
        dab[c + ch] = T::narrow(db[ch]);
    }
}

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout) -> Result<(&'a CpuStorage, usize, usize)> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok((s, a, b)),
        None => bail!("fused GroupNorm needs contiguous inputs"),
    }
}

impl CustomOp2 for GnAct {
    fn name(&self) -> &'static str {
        "groupnorm-affine-silu"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, p, c) = l1.shape().dims3()?;
        let ((x, x0, x1), (ab, a0, a1)) = (contiguous(s1, l1)?, contiguous(s2, l2)?);
        let dims = [b, p, c];
        let out = match (x, ab) {
            (CpuStorage::F32(x), CpuStorage::F32(ab)) => CpuStorage::F32(forward(&x[x0..x1], &ab[a0..a1], dims, *self)),
            (CpuStorage::F64(x), CpuStorage::F64(ab)) => CpuStorage::F64(forward(&x[x0..x1], &ab[a0..a1], dims, *self)),
            _ => bail!("fused GroupNorm supports f32 and f64 inputs of one dtype"),
        };
        Ok((out, l1.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, ab: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (b, p, c) = x.dims3()?;
        let grad = grad.contiguous()?;
        let (sx, lx) = x.storage_and_layout();
        let (sa, la) = ab.storage_and_layout();
        let (sg, lg) = grad.storage_and_layout();
        let (Storage::Cpu(sx), Storage::Cpu(sa), Storage::Cpu(sg)) = (&*sx, &*sa, &*sg) else {
            bail!("fused GroupNorm runs on the CPU only")
        };
        let ((x_, x0, x1), (ab_, a0, a1), (g_, g0, g1)) = (contiguous(sx, lx)?, contiguous(sa, la)?, contiguous(sg, lg)?);
        let dims = [b, p, c];
        let dev = x.device();
        let (dx, dab) = match (x_, ab_, g_) {
            (CpuStorage::F32(x), CpuStorage::F32(a), CpuStorage::F32(g)) => {
                let (dx, dab) = backward(&x[x0..x1], &a[a0..a1], &g[g0..g1], dims, *self);
                (Tensor::from_vec(dx, (b, p, c), dev)?, Tensor::from_vec(dab, (b, 2, c), dev)?)
            }
            (CpuStorage::F64(x), CpuStorage::F64(a), CpuStorage::F64(g)) => {
                let (dx, dab) = backward(&x[x0..x1], &a[a0..a1], &g[g0..g1], dims, *self);
                (Tensor::from_vec(dx, (b, p, c), dev)?, Tensor::from_vec(dab, (b, 2, c), dev)?)
            }
            _ => bail!("fused GroupNorm supports f32 and f64 inputs of one dtype"),
        };
        Ok((Some(dx), Some(dab)))
    }
}

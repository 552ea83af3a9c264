//! The UNet's 3×3 convolution (padding 1, stride 1 or 2), fast on the CPU.
//!
//! candle 0.11's CPU `conv2d` gathers its patches element by element through a generic
//! strided loop, and at this network's sizes (8–64 channels, 8–32 pixels) that gathering, not
//! the arithmetic, is most of the time. On the CPU we therefore unfold the input ourselves
//! ([`Im2Col`]: `[B, C, H, W]` → `[B, C·9, H'·W']`, row (c, dy, dx), copied row by row) and
//! multiply by the weights seen as `[C_out, C·9]`, which lands directly in NCHW. Its backward
//! pass folds the gradient back (col2im). On a GPU, candle's own `conv2d` is used. The weights
//! are named and shaped like `candle_nn::Conv2d`'s (`weight` `[C_out, C, 3, 3]`, `bias`), and
//! both paths compute the same function (checked in `runtime/tests/clevr.rs`).

use candle_core::{CpuStorage, CustomOp1, Layout, Module, Result, Shape, Tensor, WithDType};
use candle_nn::VarBuilder;

/// A 3×3 convolution with padding 1.
#[derive(Clone, Debug)]
pub struct Conv3 {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
}

impl Conv3 {
    /// Weights initialised like `candle_nn::conv2d` (the trainer re-initialises them from its
    /// seed anyway).
    pub fn new(cin: usize, cout: usize, stride: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints((cout, cin, 3, 3), "weight", candle_nn::init::DEFAULT_KAIMING_NORMAL)?;
        let bias = vb.get_with_hints(cout, "bias", candle_nn::Init::Const(0.0))?;
        Ok(Self { weight, bias, stride })
    }

    /// The same convolution through candle's `conv2d` (the GPU path; a reference in tests).
    pub fn forward_candle(&self, x: &Tensor) -> Result<Tensor> {
        let cout = self.weight.dim(0)?;
        x.conv2d(&self.weight, 1, self.stride, 1, 1)?.broadcast_add(&self.bias.reshape((1, cout, 1, 1))?)
    }
}

impl Module for Conv3 {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !x.device().is_cpu() {
            return self.forward_candle(x);
        }
        let (b, c, h, w) = x.dims4()?;
        let (cout, s) = (self.weight.dim(0)?, self.stride);
        let (ho, wo) = ((h - 1) / s + 1, (w - 1) / s + 1);
        let col = x.contiguous()?.apply_op1(Im2Col { stride: s })?;
        let k = self.weight.reshape((1, cout, c * 9))?;
        k.broadcast_matmul(&col)?
            .reshape((b, cout, ho, wo))?
            .broadcast_add(&self.bias.reshape((1, cout, 1, 1))?)
    }
}

/// Unfolds 3×3 patches (padding 1): `[B, C, H, W]` → `[B, C·9, H'·W']`, element
/// `[b, c·9 + dy·3 + dx, y·W' + x]` = input `[b, c, y·s + dy − 1, x·s + dx − 1]` (0 outside).
#[derive(Clone, Copy, Debug)]
pub struct Im2Col {
    pub stride: usize,
}

/// The adjoint of [`Im2Col`]: sums every patch entry back onto its input pixel.
#[derive(Clone, Copy, Debug)]
struct Col2Im {
    stride: usize,
    h: usize,
    w: usize,
}

/// For kernel offset `d` (0..3) along an axis of input length `n` and output length `no`:
/// the output indices whose input index `o·s + d − 1` lies in `0..n`.
fn valid(d: usize, s: usize, n: usize, no: usize) -> std::ops::Range<usize> {
    let lo = if d == 0 { 1usize.div_ceil(s) } else { 0 };
    let hi = (0..no).rev().find(|&o| o * s + d < n + 1).map_or(0, |o| o + 1);
    lo..hi.max(lo)
}

fn im2col<T: WithDType>(x: &[T], [b, c, h, w]: [usize; 4], s: usize) -> Vec<T> {
    let (ho, wo) = ((h - 1) / s + 1, (w - 1) / s + 1);
    let mut out = vec![T::zero(); b * c * 9 * ho * wo];
    for bc in 0..b * c {
        let src = &x[bc * h * w..(bc + 1) * h * w];
        for dy in 0..3 {
            for dx in 0..3 {
                let row = (bc * 9 + dy * 3 + dx) * ho * wo;
                let xs = valid(dx, s, w, wo);
                for oy in valid(dy, s, h, ho) {
                    let iy = oy * s + dy - 1;
                    let dst = &mut out[row + oy * wo..row + (oy + 1) * wo];
                    if s == 1 {
                        let (x0, x1) = (xs.start, xs.end);
                        dst[x0..x1].copy_from_slice(&src[iy * w + x0 + dx - 1..iy * w + x1 + dx - 1]);
                    } else {
                        for ox in xs.clone() {
                            dst[ox] = src[iy * w + ox * s + dx - 1];
                        }
                    }
                }
            }
        }
    }
    out
}

fn col2im<T: WithDType>(col: &[T], [b, c, h, w]: [usize; 4], s: usize) -> Vec<T> {
    let (ho, wo) = ((h - 1) / s + 1, (w - 1) / s + 1);
    let mut out = vec![T::zero(); b * c * h * w];
    for bc in 0..b * c {
        let dst = &mut out[bc * h * w..(bc + 1) * h * w];
        for dy in 0..3 {
            for dx in 0..3 {
                let row = (bc * 9 + dy * 3 + dx) * ho * wo;
                for oy in valid(dy, s, h, ho) {
                    let iy = oy * s + dy - 1;
                    for ox in valid(dx, s, w, wo) {
                        dst[iy * w + ox * s + dx - 1] += col[row + oy * wo + ox];
                    }
                }
            }
        }
    }
    out
}

/// Runs `f` on a contiguous f32 or f64 CPU storage.
fn on_slice(
    storage: &CpuStorage,
    layout: &Layout,
    f32: impl Fn(&[f32]) -> Vec<f32>,
    f64: impl Fn(&[f64]) -> Vec<f64>,
) -> Result<CpuStorage> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("im2col/col2im need a contiguous input")
    };
    match storage {
        CpuStorage::F32(v) => Ok(CpuStorage::F32(f32(&v[start..end]))),
        CpuStorage::F64(v) => Ok(CpuStorage::F64(f64(&v[start..end]))),
        _ => candle_core::bail!("im2col/col2im support f32 and f64 only"),
    }
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col3x3"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        let s = self.stride;
        let (ho, wo) = ((h - 1) / s + 1, (w - 1) / s + 1);
        let dims = [b, c, h, w];
        let out = on_slice(storage, layout, |x| im2col(x, dims, s), |x| im2col(x, dims, s))?;
        Ok((out, Shape::from((b, c * 9, ho * wo))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, h, w) = arg.dims4()?;
        let g = grad_res.contiguous()?.apply_op1_no_bwd(&Col2Im { stride: self.stride, h, w })?;
        Ok(Some(g.reshape(arg.shape())?))
    }
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im3x3"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c9, _) = layout.shape().dims3()?;
        let c = c9 / 9;
        let dims = [b, c, self.h, self.w];
        let s = self.stride;
        let out = on_slice(storage, layout, |x| col2im(x, dims, s), |x| col2im(x, dims, s))?;
        Ok((out, Shape::from((b, c, self.h, self.w))))
    }
}

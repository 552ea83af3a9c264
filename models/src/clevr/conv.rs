//! The UNet's convolutions on channel-last (NHWC) tensors: 3×3 (padding 1; stride 1 or 2, or
//! after a 2× nearest-neighbour upsampling) and 1×1, fast on the CPU.
//!
//! candle 0.11's CPU `conv2d` gathers its patches element by element through a generic strided
//! loop, and at this network's sizes (8–96 channels, 8–32 pixels) that gathering, not the
//! arithmetic, was most of the time. On the CPU the convolution is one operation ([`ConvOp`]).
//! In f32 on a CPU with AVX2 or AVX-512, layers of up to 192 channels (all of clevr's) run the
//! direct kernels of [`super::direct`], which read the input in place; wider layers (Stable
//! Diffusion's), f64 and other CPUs (or `COMP_CONV=gemm`) take the path described next, which
//! unfolds the input ourselves (`[B, H, W, C]` → rows of `9·C + 1` padded to [`row_width`], one row per output
//! pixel, columns (dy, dx, c) and a final 1 that carries the bias, copying runs of C channels)
//! and multiplies by the weights seen as `[9·C + 1, C_out]` with the `gemm` crate (candle's own
//! CPU GEMM), landing directly in the NHWC output. It works through the batch in blocks of
//! output rows whose unfolded patches (about 2 MB) stay in cache: unfolding the whole batch at
//! once (up to 170 MB at batch 64) made the widest layers memory-bound at a tenth of the GEMM's
//! rate. The backward pass unfolds each block again for the weight gradient
//! (`dK += dYᵀ·cols`, blocks in a fixed order, so results are deterministic) and folds
//! `dY·K` back onto the input (col2im). The upsampling before the decoder's convolutions is
//! folded into the unfolding (the patch reads pixel (y/2, x/2)), so the 4× larger upsampled
//! tensor is never made.
//!
//! On a GPU (or under [`super::with_reference_ops`]), candle's own `conv2d` is used, between
//! two permutes. The weights are named and shaped like `candle_nn::Conv2d`'s (`weight`
//! `[C_out, C, k, k]`, `bias`), and both paths compute the same function (checked in
//! `lab/tests/clevr.rs`).

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Module, Result, Shape, Storage, Tensor, WithDType};
use candle_nn::VarBuilder;
use rayon::prelude::*;

use super::direct::{self, Isa};
use super::reference_ops;
use super::simd::{par_filled, widest, Scratch};

/// A 3×3 convolution with padding 1 on NHWC tensors.
#[derive(Clone, Debug)]
pub struct Conv3 {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    /// Upsample the input 2× (nearest neighbour) first.
    up: bool,
    /// [`Conv3::matrix`], made on the first CPU call when the weights are constants (a loaded
    /// model: sampling does not rebuild it at every step); trained weights change every step.
    fixed: OnceLock<Tensor>,
}

impl Conv3 {
    /// Weights initialised like `candle_nn::conv2d` (the trainer re-initialises them from its
    /// seed anyway).
    pub fn new(cin: usize, cout: usize, stride: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints((cout, cin, 3, 3), "weight", candle_nn::init::DEFAULT_KAIMING_NORMAL)?;
        let bias = vb.get_with_hints(cout, "bias", candle_nn::Init::Const(0.0))?;
        Ok(Self { weight, bias, stride, up: false, fixed: OnceLock::new() })
    }

    /// Nearest-neighbour 2× upsampling followed by the 3×3 convolution (stride 1).
    pub fn upsampling(cin: usize, cout: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { up: true, ..Self::new(cin, cout, 1, vb)? })
    }

    /// Multiply-adds ×2 for one image of `h`×`w` input pixels.
    pub fn flops(&self, h: usize, w: usize) -> f64 {
        let (cout, cin) = (self.weight.dims()[0], self.weight.dims()[1]);
        let (ho, wo) = self.out_size(h, w);
        2.0 * (ho * wo * cout * (9 * cin + 1)) as f64
    }

    fn out_size(&self, h: usize, w: usize) -> (usize, usize) {
        let u = if self.up { 2 } else { 1 };
        ((h * u - 1) / self.stride + 1, (w * u - 1) / self.stride + 1)
    }

    /// The weight `[C_out, C, 3, 3]` and the bias `[C_out]`.
    pub fn params(&self) -> (&Tensor, &Tensor) {
        (&self.weight, &self.bias)
    }

    /// The same convolution through candle's `conv2d` (the GPU path; a reference in tests).
    pub fn forward_candle(&self, x: &Tensor) -> Result<Tensor> {
        let cout = self.weight.dim(0)?;
        let mut x = x.permute((0, 3, 1, 2))?.contiguous()?;
        if self.up {
            let (_, _, h, w) = x.dims4()?;
            x = x.upsample_nearest2d(2 * h, 2 * w)?;
        }
        x.conv2d(&self.weight, 1, self.stride, 1, 1)?
            .broadcast_add(&self.bias.reshape((1, cout, 1, 1))?)?
            .permute((0, 2, 3, 1))?
            .contiguous()
    }
}

impl Module for Conv3 {
    /// `[B, H, W, C]` → `[B, H', W', C_out]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if reference_ops(x) {
            return self.forward_candle(x);
        }
        let k = match self.fixed.get() {
            Some(k) => k.clone(),
            None if self.weight.track_op() || self.bias.track_op() => self.matrix()?,
            None => {
                let k = self.matrix()?.contiguous()?;
                // Another thread may have set it meanwhile: to the same values.
                let _ = self.fixed.set(k.clone());
                k
            }
        };
        x.contiguous()?.apply_op2(&k, self.op())
    }
}

impl Conv3 {
    /// The weights and bias as [`ConvOp`] multiplies them: `[C_out, row_width(C)]`, columns
    /// (dy, dx, c) as in the unfolded rows, then the bias. A network whose weights do not change
    /// (inference) makes it once and calls [`ConvOp`] itself.
    pub fn matrix(&self) -> Result<Tensor> {
        let (cout, c) = (self.weight.dim(0)?, self.weight.dim(1)?);
        let weights = self.weight.permute((0, 2, 3, 1))?.reshape((cout, 9 * c))?;
        let pad = Tensor::zeros((cout, row_width(c) - 9 * c - 1), self.weight.dtype(), self.weight.device())?;
        Tensor::cat(&[weights, self.bias.reshape((cout, 1))?, pad], 1)
    }

    /// The operation this convolution applies to an NHWC input and [`Conv3::matrix`].
    pub fn op(&self) -> ConvOp {
        ConvOp { stride: self.stride, up: self.up }
    }
}

/// A 1×1 convolution on NHWC tensors (a matrix product over the channels), with weights named
/// and shaped like `candle_nn::conv2d`'s.
#[derive(Clone, Debug)]
pub struct Conv1 {
    weight: Tensor,
    bias: Tensor,
}

impl Conv1 {
    pub fn new(cin: usize, cout: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints((cout, cin, 1, 1), "weight", candle_nn::init::DEFAULT_KAIMING_NORMAL)?;
        let bias = vb.get_with_hints(cout, "bias", candle_nn::Init::Const(0.0))?;
        Ok(Self { weight, bias })
    }

    /// The weight `[C_out, C, 1, 1]` and the bias `[C_out]`.
    pub fn params(&self) -> (&Tensor, &Tensor) {
        (&self.weight, &self.bias)
    }

    /// Multiply-adds ×2 for one image of `pixels` pixels.
    pub fn flops(&self, pixels: usize) -> f64 {
        2.0 * (pixels * self.weight.dims()[0] * self.weight.dims()[1]) as f64
    }
}

impl Module for Conv1 {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, h, w, c) = x.dims4()?;
        let cout = self.weight.dim(0)?;
        let k = self.weight.reshape((cout, c))?;
        x.reshape((b * h * w, c))?.matmul(&k.t()?)?.broadcast_add(&self.bias)?.reshape((b, h, w, cout))
    }
}

/// The 3×3 convolution of an NHWC input `x` `[B, H, W, C]` (optionally 2× upsampled first) with
/// the matrix `k` `[C_out, row_width(C)]` (weights in (dy, dx, c) order, the bias, zeros):
/// `[B, H', W', C_out]`. Row `(b, y, x)` of the unfolding holds, at column `(dy·3 + dx)·C + c`,
/// pixel `(y·s + dy − 1, x·s + dx − 1)` of the (upsampled) input's channel c (0 outside), and 1
/// in its last column.
#[derive(Clone, Copy, Debug)]
pub struct ConvOp {
    pub stride: usize,
    pub up: bool,
}

/// The width of an unfolded row (and of the weight matrix) for `c` input channels: 9·C taps and
/// the bias's 1, padded with zeros to a multiple of 16 floats. The GEMM's micro-kernels take
/// 16 rows of its (transposed) left operand at a time; with an odd width (9·C + 1 always is)
/// it copied (packed) every unfolded block once more for the weight gradient, 7% of a
/// training step.
pub fn row_width(c: usize) -> usize {
    (9 * c + 1).next_multiple_of(16)
}

/// 0: not yet read from `COMP_CONV`, 1: the direct kernels where they apply, 2: GEMM only.
static KERNELS: AtomicU8 = AtomicU8::new(0);

/// Whether every f32 convolution takes the GEMM path (`COMP_CONV=gemm`, or [`use_gemm_only`]).
fn gemm_only() -> bool {
    match KERNELS.load(Ordering::Relaxed) {
        0 => {
            let gemm = std::env::var("COMP_CONV").is_ok_and(|v| v == "gemm");
            KERNELS.store(if gemm { 2 } else { 1 }, Ordering::Relaxed);
            gemm
        }
        k => k == 2,
    }
}

/// Makes every f32 convolution take the GEMM path (`true`) or the direct kernels where they
/// apply (`false`, the default): for benchmarks comparing the two.
pub fn use_gemm_only(gemm: bool) {
    KERNELS.store(if gemm { 2 } else { 1 }, Ordering::Relaxed);
}

/// Geometry of one unfolding: input `h`×`w`×`c`, upsampling factor `u`, stride `s`.
#[derive(Clone, Copy)]
struct Geometry {
    h: usize,
    w: usize,
    c: usize,
    u: usize,
    s: usize,
}

impl Geometry {
    fn new(h: usize, w: usize, c: usize, stride: usize, up: bool) -> Self {
        Geometry { h, w, c, u: if up { 2 } else { 1 }, s: stride }
    }

    /// The direct kernels' view of it.
    fn shape(&self) -> direct::Shape {
        direct::Shape { h: self.h, w: self.w, c: self.c, u: self.u, s: self.s }
    }

    /// The instruction set of the direct kernels ([`direct`]) for an f32 convolution of this
    /// geometry into `cout` channels, or `None` for the unfolding GEMM path: the direct kernels
    /// are for narrow layers (this network's 6–48 channels); wide ones (Stable Diffusion's
    /// 320–1280) need the GEMM's cache blocking. [`use_gemm_only`] (or `COMP_CONV=gemm`) forces
    /// the GEMM path, for comparisons.
    fn direct(&self, cout: usize) -> Option<Isa> {
        if gemm_only() || self.c > 192 || cout > 192 {
            return None;
        }
        direct::isa()
    }

    fn out(&self) -> (usize, usize) {
        ((self.h * self.u - 1) / self.s + 1, (self.w * self.u - 1) / self.s + 1)
    }

    /// Width of an unfolded row.
    fn row(&self) -> usize {
        row_width(self.c)
    }

    /// Output rows per block: about 2 MB of f32 patches (at least 64 rows), and at least 1024
    /// for wide layers (Stable Diffusion's 320–2560 channels), whose weight matrix the GEMM
    /// packs again for every block: with 2 MB blocks that packing took as long as the
    /// multiplications (SD 1.5 at 256², 2 rows, before the transformer kernels: 4.2 s a UNet
    /// call with 2 MB blocks, 3.4 s with 512 rows, 3.2 s with 1024; capping them at 24 MB, under
    /// the allocator's threshold for fresh pages, was slower).
    fn block_rows(&self) -> usize {
        ((1 << 19) / self.row()).max(self.least_rows())
    }

    /// The fewest output rows worth a block of their own.
    fn least_rows(&self) -> usize {
        if self.row() > 2048 {
            1024
        } else {
            64
        }
    }

    /// Calls `f(tap, source pixel)` for every in-bounds tap (dy·3 + dx) of output pixel
    /// (oy, ox); the source pixel indexes the (not upsampled) input.
    #[inline(always)]
    fn taps(&self, oy: usize, ox: usize, mut f: impl FnMut(usize, usize)) {
        let (hu, wu) = (self.h * self.u, self.w * self.u);
        for dy in 0..3 {
            let iy = oy * self.s + dy;
            if iy == 0 || iy > hu {
                continue;
            }
            let sy = (iy - 1) / self.u;
            for dx in 0..3 {
                let ix = ox * self.s + dx;
                if ix == 0 || ix > wu {
                    continue;
                }
                f(dy * 3 + dx, sy * self.w + (ix - 1) / self.u);
            }
        }
    }
}

/// Unfolds output row `r` (counted over the whole batch) of input `x` (the whole batch) into
/// `dst` (one row of [`row_width`]).
#[inline(always)]
fn unfold_row<T: WithDType>(x: &[T], g: Geometry, r: usize, dst: &mut [T]) {
    let (ho, wo) = g.out();
    let c = g.c;
    let image = g.h * g.w * c;
    let (b, p) = (r / (ho * wo), r % (ho * wo));
    let src = &x[b * image..(b + 1) * image];
    let (oy, ox) = (p / wo, p % wo);
    // Away from the left and right edges (and without upsampling) a row of taps dy reads
    // three neighbouring pixels: one copy of 3·C values instead of three of C (copies of C
    // values, 96 bytes here, were 15% of a sampling step, most of it the calls).
    if g.u == 1 && ox * g.s >= 1 && ox * g.s + 1 < g.w {
        for dy in 0..3 {
            let run = &mut dst[dy * 3 * c..(dy + 1) * 3 * c];
            match (oy * g.s + dy).checked_sub(1).filter(|&iy| iy < g.h) {
                Some(iy) => {
                    let first = iy * g.w + ox * g.s - 1;
                    run.copy_from_slice(&src[first * c..(first + 3) * c]);
                }
                None => run.fill(T::zero()),
            }
        }
        dst[9 * c] = T::one();
        dst[9 * c + 1..].fill(T::zero());
        return;
    }
    let mut filled = [false; 9];
    g.taps(oy, ox, |tap, px| {
        filled[tap] = true;
        dst[tap * c..(tap + 1) * c].copy_from_slice(&src[px * c..(px + 1) * c]);
    });
    for (tap, f) in filled.iter().enumerate() {
        if !f {
            dst[tap * c..(tap + 1) * c].fill(T::zero());
        }
    }
    dst[9 * c] = T::one();
    dst[9 * c + 1..].fill(T::zero());
}

/// Unfolds output rows `r0..r0 + dst.len() / row` of `x` into `dst`, on this thread.
#[inline(always)]
fn unfold<T: WithDType>(x: &[T], g: Geometry, r0: usize, dst: &mut [T]) {
    for (i, r) in dst.chunks_exact_mut(g.row()).enumerate() {
        unfold_row(x, g, r0 + i, r);
    }
}

/// Adds unfolded rows `r0..` (`col`) back onto their input pixels in `dx`, which holds the
/// images from `b0` on (rows of other images must not be in `col`), in row order.
#[inline(always)]
fn fold<T: WithDType>(col: &[T], g: Geometry, r0: usize, b0: usize, dx: &mut [T]) {
    let (ho, wo) = g.out();
    let (row, c) = (g.row(), g.c);
    let image = g.h * g.w * c;
    let per_image = ho * wo;
    for (i, src) in col.chunks_exact(row).enumerate() {
        let r = r0 + i;
        let (b, p) = (r / per_image - b0, r % per_image);
        let dst = &mut dx[b * image..(b + 1) * image];
        g.taps(p / wo, p % wo, |tap, px| {
            for (d, v) in dst[px * c..(px + 1) * c].iter_mut().zip(&src[tap * c..(tap + 1) * c]) {
                *d += *v;
            }
        });
    }
}

/// A strided matrix view for [`gemm`]: element (i, j) at `ptr[i·rs + j·cs]`.
pub(super) struct View<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

/// `dst (m×n, row-major, row stride n) = [dst +] lhs (m×k) · rhs (k×n)`, on this thread (the
/// callers run blocks in parallel instead: one synchronisation per convolution rather than
/// several per block).
pub(super) fn gemm<T: WithDType>(m: usize, n: usize, k: usize, dst: &mut [T], accumulate: bool, lhs: View<T>, rhs: View<T>) {
    assert!(dst.len() >= m * n);
    gemm_raw(m, n, k, dst.as_mut_ptr(), accumulate, lhs, rhs)
}

/// [`gemm`] into memory not yet written (`dst = lhs · rhs`; the GEMM does not read `dst` when
/// not accumulating).
fn gemm_into<T: WithDType>(m: usize, n: usize, k: usize, dst: &mut [MaybeUninit<T>], lhs: View<T>, rhs: View<T>) {
    assert!(dst.len() >= m * n);
    gemm_raw(m, n, k, dst.as_mut_ptr().cast(), false, lhs, rhs)
}

fn gemm_raw<T: WithDType>(m: usize, n: usize, k: usize, dst: *mut T, accumulate: bool, lhs: View<T>, rhs: View<T>) {
    // SAFETY: `dst` holds m×n elements with the strides given (asserted by the two callers) and
    // is read only when accumulating (then it is initialised: `gemm`'s `&mut [T]`); the callers
    // build `lhs` and `rhs` from slices that hold every (i, j) their strides address (checked
    // by the callers' shapes), and nothing else is borrowed mutably meanwhile.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            lhs.ptr,
            lhs.cs,
            lhs.rs,
            rhs.ptr,
            rhs.cs,
            rhs.rs,
            T::one(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// About this many parallel tasks per convolution: enough for work stealing to even out the
/// threads of any machine up to about 16 cores, and chosen from the shapes alone, so that the
/// results (the weight gradient's sum over tasks) do not depend on the number of threads.
pub(super) const TASKS: usize = 32;

/// Forward: `y` `[rows, C_out]` = unfold(x) · kᵀ, in blocks of rows run in parallel, each
/// unfolded and multiplied by one thread (one synchronisation per convolution).
fn conv_forward<T: WithDType + Scratch>(x: &[T], k: &[T], b: usize, g: Geometry, cout: usize) -> Vec<T> {
    let (ho, wo) = g.out();
    let (rows, row) = (b * ho * wo, g.row());
    assert_eq!(k.len(), cout * row);
    let block = g.block_rows().min(rows.div_ceil(TASKS).max(g.least_rows()));
    // SAFETY: `forward_block` writes every element of its chunk (one GEMM over all of it).
    #[allow(unsafe_code)]
    unsafe {
        par_filled(
            rows * cout,
            block * cout,
            || (),
            |_, i, yb| {
                T::with_scratch(|col| {
                    widest(
                        #[inline(always)]
                        || forward_block(x, k, g, i * block, yb, col),
                    )
                })
            },
        )
    }
}

/// Output rows `r0..` of the forward pass into `y` (`[n, C_out]`), through the scratch `col`.
#[inline(always)]
fn forward_block<T: WithDType>(x: &[T], k: &[T], g: Geometry, r0: usize, y: &mut [MaybeUninit<T>], col: &mut Vec<T>) {
    let row = g.row();
    let cout = k.len() / row;
    let n = y.len() / cout;
    if col.len() < n * row {
        col.resize(n * row, T::zero());
    }
    let col = &mut col[..n * row];
    unfold(x, g, r0, col);
    // kᵀ (row × C_out): element (i, o) = k[o·row + i].
    gemm_into(n, cout, row, y, View { ptr: col.as_ptr(), rs: row as isize, cs: 1 }, View { ptr: k.as_ptr(), rs: 1, cs: row as isize });
}

/// Backward: (dx `[B, H, W, C]`, dk `[C_out, row]`) from dy `[rows, C_out]`. A task takes whole
/// images (folding adds into the pixels of a row's own image, so tasks write disjoint parts of
/// dx) and returns its part of dk; the parts are summed in task order.
fn conv_backward<T: WithDType + Scratch>(x: &[T], k: &[T], dy: &[T], b: usize, g: Geometry, cout: usize) -> (Vec<T>, Vec<T>) {
    let (ho, wo) = g.out();
    let per_image = ho * wo;
    let (rows, row, image) = (b * per_image, g.row(), g.h * g.w * g.c);
    assert_eq!((k.len(), dy.len()), (cout * row, rows * cout));
    let mut dx = vec![T::zero(); b * image];
    let images = (g.block_rows() / per_image).min(b.div_ceil(TASKS)).max(1);
    let parts: Vec<Vec<T>> = dx
        .par_chunks_mut(images * image)
        .enumerate()
        .map(|(i, dxb)| {
            T::with_scratch(|col| {
                widest(
                    #[inline(always)]
                    || backward_images(x, k, dy, g, i * images, dxb, col),
                )
            })
        })
        .collect();
    (dx, sum_parts(&parts, cout * row))
}

/// The backward pass over images `b0..` (their gradient `dx`, whole images), in blocks of rows
/// through the scratch `col`: adds into `dx` and returns these images' part of dk.
#[inline(always)]
fn backward_images<T: WithDType>(x: &[T], k: &[T], dy: &[T], g: Geometry, b0: usize, dx: &mut [T], col: &mut Vec<T>) -> Vec<T> {
    let (ho, wo) = g.out();
    let (per_image, row, image) = (ho * wo, g.row(), g.h * g.w * g.c);
    let cout = k.len() / row;
    let block = g.block_rows();
    let (first, end) = (b0 * per_image, (b0 + dx.len() / image) * per_image);
    let mut dk = vec![T::zero(); cout * row];
    for r0 in (first..end).step_by(block) {
        let n = block.min(end - r0);
        if col.len() < n * row {
            col.resize(n * row, T::zero());
        }
        let col = &mut col[..n * row];
        let dyb = &dy[r0 * cout..(r0 + n) * cout];
        unfold(x, g, r0, col);
        // dk (C_out × row) += dyᵀ (C_out × n) · col (n × row).
        gemm(
            cout,
            row,
            n,
            &mut dk,
            r0 > first,
            View { ptr: dyb.as_ptr(), rs: 1, cs: cout as isize },
            View { ptr: col.as_ptr(), rs: row as isize, cs: 1 },
        );
        fold_rows(k, dyb, g, r0, b0, dx, col);
    }
    dk
}

/// Adds rows `r0..` of the input gradient, dy·k (`dyb` holds their rows of dy; `col` is scratch
/// of their unfolded size), folded back onto the pixels each row read, to `dx` (images `b0..`).
#[inline(always)]
fn fold_rows<T: WithDType>(k: &[T], dyb: &[T], g: Geometry, r0: usize, b0: usize, dx: &mut [T], col: &mut [T]) {
    let (row, cout) = (g.row(), k.len() / g.row());
    let n = col.len() / row;
    // dcol (n × row) = dy (n × C_out) · k (C_out × row).
    gemm(n, row, cout, col, false, View { ptr: dyb.as_ptr(), rs: cout as isize, cs: 1 }, View { ptr: k.as_ptr(), rs: row as isize, cs: 1 });
    fold(col, g, r0, b0, dx);
}

/// The weight gradient's per-task parts summed in task order (the same bits on any number of
/// threads).
pub(super) fn sum_parts<T: WithDType>(parts: &[Vec<T>], len: usize) -> Vec<T> {
    let mut sum = vec![T::zero(); len];
    for part in parts {
        for (d, p) in sum.iter_mut().zip(part) {
            *d += *p;
        }
    }
    sum
}

/// [`conv_forward`] through the direct kernels (f32): blocks of output rows in parallel, no
/// unfolding.
fn direct_forward(isa: Isa, x: &[f32], k: &[f32], b: usize, g: Geometry, cout: usize) -> Vec<f32> {
    let (ho, wo) = g.out();
    let rows = b * ho * wo;
    let weights = direct::Weights::new(k, g.c, cout, g.row());
    let block = rows.div_ceil(TASKS).max(64);
    // SAFETY: `direct::forward` writes every element of its chunk.
    #[allow(unsafe_code)]
    unsafe {
        par_filled(rows * cout, block * cout, || (), |_, i, yb| direct::forward(isa, x, g.shape(), &weights, i * block, yb))
    }
}

/// [`conv_backward`] through the direct kernels (f32): tasks of whole images as there, each
/// adding its images' weight gradient ([`direct::weight_grad`]) and writing their input
/// gradient: for a stride-1 convolution without upsampling, the convolution of dy with the
/// flipped weights ([`direct::Weights::flipped`]); otherwise dy·k folded back (col2im). Without
/// `want_dx` (an input that needs no gradient, such as the network's first convolution's) the
/// input gradient is not computed and the first vector is empty.
#[allow(clippy::too_many_arguments)]
fn direct_backward(isa: Isa, x: &[f32], k: &[f32], dy: &[f32], b: usize, g: Geometry, cout: usize, want_dx: bool) -> (Vec<f32>, Vec<f32>) {
    let (ho, wo) = g.out();
    let per_image = ho * wo;
    let (row, image) = (g.row(), g.h * g.w * g.c);
    assert_eq!((k.len(), dy.len()), (cout * row, b * per_image * cout));
    let plain = g.s == 1 && g.u == 1;
    let flipped = (plain && want_dx).then(|| direct::Weights::flipped(k, g.c, cout, row));
    let dy_shape = direct::Shape { h: ho, w: wo, c: cout, u: 1, s: 1 };
    let images = (g.block_rows() / per_image).min(b.div_ceil(TASKS)).max(1);
    // Written by the tasks, in parallel (not zeroed first on this thread).
    let dx_len = if want_dx { b * image } else { 0 };
    let mut dx: Vec<f32> = Vec::with_capacity(dx_len);
    let task = |i: usize, dxb: &mut [MaybeUninit<f32>]| {
        let b0 = i * images;
        let n_images = images.min(b - b0);
        let (r0, n) = (b0 * per_image, n_images * per_image);
        let mut dk = vec![0f32; cout * row];
        direct::weight_grad(isa, x, g.shape(), &dy[r0 * cout..(r0 + n) * cout], cout, r0, &mut dk, row);
        match &flipped {
            // `direct::forward` writes every element.
            Some(f) => direct::forward(isa, dy, dy_shape, f, b0 * g.h * g.w, dxb),
            None if want_dx => {
                dxb.fill(MaybeUninit::new(0.0));
                // SAFETY: every element was initialised just above.
                #[allow(unsafe_code)]
                let dxb = unsafe { &mut *(dxb as *mut [MaybeUninit<f32>] as *mut [f32]) };
                f32::with_scratch(|col| {
                    widest(
                        #[inline(always)]
                        || fold_gradient(k, dy, g, b0, dxb, col),
                    )
                })
            }
            None => {}
        }
        dk
    };
    let parts: Vec<Vec<f32>> = if want_dx {
        dx.spare_capacity_mut()[..dx_len].par_chunks_mut(images * image).enumerate().map(|(i, dxb)| task(i, dxb)).collect()
    } else {
        (0..b.div_ceil(images)).into_par_iter().map(|i| task(i, &mut [])).collect()
    };
    // SAFETY: the chunks cover `..dx_len`, and each task wrote every element of its own.
    #[allow(unsafe_code)]
    unsafe {
        dx.set_len(dx_len)
    };
    (dx, sum_parts(&parts, cout * row))
}

/// Adds to `dx` (images `b0..`, whole) their input gradient dy·k folded back onto the pixels each
/// row read, in blocks of rows through the scratch `col`.
#[inline(always)]
fn fold_gradient<T: WithDType>(k: &[T], dy: &[T], g: Geometry, b0: usize, dx: &mut [T], col: &mut Vec<T>) {
    let (ho, wo) = g.out();
    let (per_image, row, image) = (ho * wo, g.row(), g.h * g.w * g.c);
    let cout = k.len() / row;
    let block = g.block_rows();
    let (first, end) = (b0 * per_image, (b0 + dx.len() / image) * per_image);
    for r0 in (first..end).step_by(block) {
        let n = block.min(end - r0);
        if col.len() < n * row {
            col.resize(n * row, T::zero());
        }
        fold_rows(k, &dy[r0 * cout..(r0 + n) * cout], g, r0, b0, dx, &mut col[..n * row]);
    }
}

/// The f32 forward of a stride-1 3×3 convolution of `x` `[b, h, w, c]` with the matrix `k`
/// ([`Conv3::matrix`]'s layout) as [`ConvOp`] runs it: the direct kernels where they apply, else
/// the unfolding GEMM. For operations that chain convolutions without candle between them.
pub(super) fn forward_f32(x: &[f32], k: &[f32], [b, h, w, c]: [usize; 4], cout: usize) -> Vec<f32> {
    let g = Geometry::new(h, w, c, 1, false);
    match g.direct(cout) {
        Some(isa) => direct_forward(isa, x, k, b, g, cout),
        None => conv_forward(x, k, b, g, cout),
    }
}

/// The backward of [`forward_f32`]: (dx, dk) from dy `[b, h, w, cout]`.
pub(super) fn backward_f32(x: &[f32], k: &[f32], dy: &[f32], [b, h, w, c]: [usize; 4], cout: usize) -> (Vec<f32>, Vec<f32>) {
    let g = Geometry::new(h, w, c, 1, false);
    match g.direct(cout) {
        Some(isa) => direct_backward(isa, x, k, dy, b, g, cout, true),
        None => conv_backward(x, k, dy, b, g, cout),
    }
}

/// [`Conv3::matrix`] from plain slices: `weight` `[C_out, C, 3, 3]` and `bias` `[C_out]` as
/// `[C_out, row_width(C)]`, columns (dy, dx, c), then the bias, then zeros.
pub(super) fn matrix_f32(weight: &[f32], bias: &[f32], c: usize, cout: usize) -> Vec<f32> {
    let row = row_width(c);
    let mut k = vec![0f32; cout * row];
    for (o, ko) in k.chunks_exact_mut(row).enumerate() {
        for ci in 0..c {
            for tap in 0..9 {
                ko[tap * c + ci] = weight[(o * c + ci) * 9 + tap];
            }
        }
        ko[9 * c] = bias[o];
    }
    k
}

/// The inverse of [`matrix_f32`] for a gradient: dk `[C_out, row_width(C)]` into the weight's
/// `[C_out, C, 3, 3]` (written to `dw`) and the bias's `[C_out]` (to `db`).
pub(super) fn split_matrix_f32(dk: &[f32], c: usize, cout: usize, dw: &mut [f32], db: &mut [f32]) {
    let row = row_width(c);
    for (o, ko) in dk.chunks_exact(row).enumerate().take(cout) {
        for ci in 0..c {
            for tap in 0..9 {
                dw[(o * c + ci) * 9 + tap] = ko[tap * c + ci];
            }
        }
        db[o] = ko[9 * c];
    }
}

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout) -> Result<(&'a CpuStorage, usize, usize)> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok((s, a, b)),
        None => bail!("the 3×3 convolution needs contiguous inputs"),
    }
}

impl CustomOp2 for ConvOp {
    fn name(&self) -> &'static str {
        "conv3x3-nhwc"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, h, w, c) = l1.shape().dims4()?;
        let (cout, width) = l2.shape().dims2()?;
        let g = Geometry::new(h, w, c, self.stride, self.up);
        if width != g.row() {
            bail!("conv3x3: weights of width {width} for {c} input channels")
        }
        let (ho, wo) = g.out();
        let ((x, x0, x1), (k, k0, k1)) = (contiguous(s1, l1)?, contiguous(s2, l2)?);
        let y = match (x, k) {
            (CpuStorage::F32(x), CpuStorage::F32(k)) => CpuStorage::F32(match g.direct(cout) {
                Some(isa) => direct_forward(isa, &x[x0..x1], &k[k0..k1], b, g, cout),
                None => conv_forward(&x[x0..x1], &k[k0..k1], b, g, cout),
            }),
            (CpuStorage::F64(x), CpuStorage::F64(k)) => CpuStorage::F64(conv_forward(&x[x0..x1], &k[k0..k1], b, g, cout)),
            _ => bail!("conv3x3 supports f32 and f64 inputs of one dtype"),
        };
        Ok((y, Shape::from((b, ho, wo, cout))))
    }

    fn bwd(&self, x: &Tensor, k: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (b, h, w, c) = x.dims4()?;
        let (cout, row) = k.dims2()?;
        let g = Geometry::new(h, w, c, self.stride, self.up);
        // An input that tracks no gradient (the network's input) gets none: candle would still
        // collect it.
        let want_dx = x.track_op();
        let grad = grad.contiguous()?;
        let (sx, lx) = x.storage_and_layout();
        let (sk, lk) = k.storage_and_layout();
        let (sg, lg) = grad.storage_and_layout();
        let (Storage::Cpu(sx), Storage::Cpu(sk), Storage::Cpu(sg)) = (&*sx, &*sk, &*sg) else { bail!("conv3x3 runs on the CPU only") };
        let ((x_, x0, x1), (k_, k0, k1), (g_, g0, g1)) = (contiguous(sx, lx)?, contiguous(sk, lk)?, contiguous(sg, lg)?);
        let dev = x.device();
        let (dx, dk) = match (x_, k_, g_) {
            (CpuStorage::F32(x), CpuStorage::F32(k), CpuStorage::F32(d)) => {
                let (x, k, d) = (&x[x0..x1], &k[k0..k1], &d[g0..g1]);
                let (dx, dk) = match g.direct(cout) {
                    Some(isa) => direct_backward(isa, x, k, d, b, g, cout, want_dx),
                    None => conv_backward(x, k, d, b, g, cout),
                };
                let dx = if want_dx { Some(Tensor::from_vec(dx, (b, h, w, c), dev)?) } else { None };
                (dx, Tensor::from_vec(dk, (cout, row), dev)?)
            }
            (CpuStorage::F64(x), CpuStorage::F64(k), CpuStorage::F64(d)) => {
                let (dx, dk) = conv_backward(&x[x0..x1], &k[k0..k1], &d[g0..g1], b, g, cout);
                let dx = if want_dx { Some(Tensor::from_vec(dx, (b, h, w, c), dev)?) } else { None };
                (dx, Tensor::from_vec(dk, (cout, row), dev)?)
            }
            _ => bail!("conv3x3 supports f32 and f64 inputs of one dtype"),
        };
        Ok((dx, Some(dk)))
    }
}

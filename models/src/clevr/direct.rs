//! Direct 3×3 convolution kernels for f32 on x86-64 (AVX-512 or AVX2 + FMA): no unfolding.
//!
//! The GEMM path ([`super::conv`]) first copies every output pixel's 9·C input values into a
//! row, then multiplies the rows by the weights with a general matrix product. At this network's
//! widths (6–48 channels) the copies were 15% of a sampling step and the general GEMM, packing
//! its operands and working on tiles sized for wide matrices, ran at well under the CPU's peak.
//! These kernels read the input in place, the way oneDNN's direct convolutions do: a tile of P
//! output pixels × up to 48 output channels is held in vector registers, and for every tap and
//! input channel the tile takes one load of weights per vector and one broadcast input value
//! per pixel (`acc[p][v] += x[src(p, tap)][c] · w[tap][c][v]`). Which input pixel a tap reads
//! is looked up in a table of offsets made once per block (padding reads a row of zeros), so
//! strided and upsampling convolutions run through the same kernel.
//!
//! * [`forward`]: `y = conv(x, k) + bias`, any stride, with or without upsampling;
//! * [`forward`] again for the input gradient of a stride-1 convolution: `dx = conv(dy, k')`
//!   with the taps flipped and the weights transposed ([`Weights::flipped`]);
//! * [`weight_grad`]: `dk[o][tap·C + c] = Σ_q x[src(q, tap)][c] · dy[q][o]` over a block of output
//!   pixels q, an outer product summed in registers (tile: up to 12 input channels × 48 outputs).
//!
//! Nothing here depends on clevr: it is a self-contained set of kernels over plain slices, of the
//! kind that could be proposed to candle's CPU backend.

#![allow(unsafe_code)]

use std::mem::MaybeUninit;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The vector instructions the kernels run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Avx512,
    Avx2,
}

/// The widest instruction set the CPU has for these kernels, or `None` (then the callers use
/// the GEMM path).
pub fn isa() -> Option<Isa> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Some(Isa::Avx512);
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Some(Isa::Avx2);
        }
    }
    None
}

/// Lanes of every vector type, and the padding of weight rows: a multiple of both ISAs' widths.
const PAD: usize = 16;

/// Where each output pixel's taps read: for pixel q and tap t (dy·3 + dx), the address of the
/// input pixel's first channel in `x`, or of [`ZEROS`] outside the input (the padding). One
/// pointer per tap, so that the kernels' inner loops read their source with one load.
struct Taps {
    sources: Vec<*const f32>,
}

/// The most input channels the kernels take (the length of [`ZEROS`]); wider layers (Stable
/// Diffusion's) use the GEMM path, which blocks for the cache.
pub const MAX_CHANNELS: usize = 512;

/// What padding reads.
static ZEROS: [f32; MAX_CHANNELS] = [0.0; MAX_CHANNELS];

impl Taps {
    /// The address tap `t` of pixel `q` reads: C floats, in the input or [`ZEROS`].
    #[inline(always)]
    fn source(&self, q: usize, t: usize) -> *const f32 {
        self.sources[q * 9 + t]
    }
}

/// The geometry of a convolution, as the kernels see it.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Input height, width and channels (before upsampling).
    pub h: usize,
    pub w: usize,
    pub c: usize,
    /// Upsampling factor (1 or 2) and stride.
    pub u: usize,
    pub s: usize,
}

impl Shape {
    pub fn out(&self) -> (usize, usize) {
        ((self.h * self.u - 1) / self.s + 1, (self.w * self.u - 1) / self.s + 1)
    }

    /// The sources of output pixels `r0..r0 + n` (counted over the batch) in `x`, which must
    /// hold every image they read (checked by the callers).
    fn taps(&self, x: &[f32], r0: usize, n: usize) -> Taps {
        let (ho, wo) = self.out();
        let (hu, wu) = (self.h * self.u, self.w * self.u);
        let image = self.h * self.w * self.c;
        let mut sources = Vec::with_capacity(9 * n);
        // Dividing by the upsampling factor (1 or 2) is a shift: divisions by a number not known
        // at compile time were most of this function's time.
        assert!(self.u == 1 || self.u == 2);
        let shift = self.u - 1;
        let zeros = ZEROS.as_ptr();
        // The offset in `x` of the input row each tap row dy of output row oy of image b reads,
        // or None in the padding: worked out once per output row, not per pixel and tap.
        let rows = |b: usize, oy: usize| -> [Option<usize>; 3] {
            std::array::from_fn(|dy| {
                let iy = oy * self.s + dy;
                (iy != 0 && iy <= hu).then(|| b * image + ((iy - 1) >> shift) * self.w * self.c)
            })
        };
        // Pixel r0's (b, oy, ox), then counted up (no divisions per pixel).
        let (mut b, mut oy, mut ox) = (r0 / (ho * wo), r0 % (ho * wo) / wo, r0 % wo);
        let mut row = rows(b, oy);
        for _ in 0..n {
            for base in row {
                for dx in 0..3 {
                    let ix = ox * self.s + dx;
                    sources.push(match base {
                        Some(base) if ix != 0 && ix <= wu => {
                            let at = base + ((ix - 1) >> shift) * self.c;
                            debug_assert!(at + self.c <= x.len());
                            // In bounds: pixel (iy, ix) of image b, which `x` holds (the callers'
                            // assertion); the kernels read C floats from here.
                            x.as_ptr().wrapping_add(at)
                        }
                        _ => zeros,
                    });
                }
            }
            ox += 1;
            if ox == wo {
                (ox, oy) = (0, oy + 1);
                if oy == ho {
                    (oy, b) = (0, b + 1);
                }
                row = rows(b, oy);
            }
        }
        Taps { sources }
    }
}

/// Weights laid out for the kernels: `w[(tap·C + c)·cp + o]` with the output channels padded to
/// `cp` (a multiple of 16) with zeros, and the bias padded likewise.
pub struct Weights {
    w: Vec<f32>,
    bias: Vec<f32>,
    c: usize,
    cout: usize,
    cp: usize,
}

impl Weights {
    /// From the GEMM path's matrix `k` `[cout, row]` (columns (tap, c), then the bias).
    pub fn new(k: &[f32], c: usize, cout: usize, row: usize) -> Self {
        let cp = cout.next_multiple_of(PAD);
        let mut w = vec![0f32; 9 * c * cp];
        let mut bias = vec![0f32; cp];
        for o in 0..cout {
            let ko = &k[o * row..(o + 1) * row];
            for (i, &v) in ko[..9 * c].iter().enumerate() {
                w[i * cp + o] = v;
            }
            bias[o] = ko[9 * c];
        }
        Weights { w, bias, c, cout, cp }
    }

    /// The weights of the input gradient of a stride-1 convolution without upsampling, as a
    /// convolution of dy (`cout` channels) into `c` channels: tap t of it is tap 8 − t of `k`
    /// transposed (the output pixel q + offset(t) read input pixel q through tap 8 − t), no bias.
    pub fn flipped(k: &[f32], c: usize, cout: usize, row: usize) -> Self {
        let cp = c.next_multiple_of(PAD);
        let mut w = vec![0f32; 9 * cout * cp];
        for o in 0..cout {
            for t in 0..9 {
                for ci in 0..c {
                    w[((8 - t) * cout + o) * cp + ci] = k[o * row + t * c + ci];
                }
            }
        }
        Weights { w, bias: vec![0f32; cp], c: cout, cout: c, cp }
    }
}

/// `y[q][o]` (rows of `cout`, not yet written) for the output pixels `r0..r0 + y.len() / cout` of
/// the convolution of `x` (the whole batch, NHWC) of shape `g` with `k`.
pub fn forward(isa: Isa, x: &[f32], g: Shape, k: &Weights, r0: usize, y: &mut [MaybeUninit<f32>]) {
    let n = y.len() / k.cout;
    let (ho, wo) = g.out();
    assert!(y.len() == n * k.cout && g.c == k.c && g.c <= MAX_CHANNELS && x.len().is_multiple_of(g.h * g.w * g.c));
    assert!(r0 + n <= x.len() / (g.h * g.w * g.c) * ho * wo);
    let taps = g.taps(x, r0, n);
    // SAFETY: every offset addresses C floats inside `x` (asserted above), the weights hold
    // 9·C·cp floats and the bias cp (made by `Weights`), `y` holds n·cout floats, and the ISA
    // was detected on this CPU by `isa()`.
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => forward_avx512(&taps, k, n, y.as_mut_ptr().cast()),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => forward_avx2(&taps, k, n, y.as_mut_ptr().cast()),
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("no direct kernels on this architecture"),
        }
    }
}

/// Adds to `dk` (`[cout, row]`, the GEMM path's layout) the weight and bias gradients of output
/// pixels `r0..r0 + n` (`dy` holds their rows of `cout`), whose inputs are in `x` (the whole
/// batch).
#[allow(clippy::too_many_arguments)]
pub fn weight_grad(isa: Isa, x: &[f32], g: Shape, dy: &[f32], cout: usize, r0: usize, dk: &mut [f32], row: usize) {
    let n = dy.len() / cout;
    let (ho, wo) = g.out();
    assert!(dy.len() == n * cout && dk.len() == cout * row && row > 9 * g.c && g.c <= MAX_CHANNELS);
    assert!(x.len().is_multiple_of(g.h * g.w * g.c) && r0 + n <= x.len() / (g.h * g.w * g.c) * ho * wo);
    let taps = g.taps(x, r0, n);
    let cp = cout.next_multiple_of(PAD);
    // Σ_q x[src(q, t)][c] · dy[q][o], as dw[(t·C + c)·cp + o].
    let mut dw = vec![0f32; 9 * g.c * cp];
    // SAFETY: as in `forward`; `dy` holds n rows of `cout` (the kernels read the last vector of
    // a row with a mask) and `dw` 9·C·cp floats.
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => weight_grad_avx512(&taps, g.c, dy.as_ptr(), cout, n, dw.as_mut_ptr()),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => weight_grad_avx2(&taps, g.c, dy.as_ptr(), cout, n, dw.as_mut_ptr()),
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("no direct kernels on this architecture"),
        }
    }
    // The bias's column: Σ_q dy[q][o], summed row by row (contiguous, vectorised).
    let mut bias = vec![0f32; cout];
    for d in dy.chunks_exact(cout) {
        for (b, &v) in bias.iter_mut().zip(d) {
            *b += v;
        }
    }
    for (o, b) in bias.iter().enumerate() {
        let dko = &mut dk[o * row..(o + 1) * row];
        for (i, d) in dko[..9 * g.c].iter_mut().enumerate() {
            *d += dw[i * cp + o];
        }
        dko[9 * g.c] += b;
    }
}

/// One vector register type and the operations the kernels use.
trait Lanes: Copy {
    const N: usize;
    unsafe fn zero() -> Self;
    unsafe fn load(p: *const f32) -> Self;
    /// The first `n` (< N) lanes from `p`, zeros after.
    unsafe fn load_first(p: *const f32, n: usize) -> Self;
    unsafe fn splat(p: *const f32) -> Self;
    /// a · b + c.
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
    unsafe fn store(p: *mut f32, v: Self);
    /// Stores the first `n` (< N) lanes.
    unsafe fn store_first(p: *mut f32, v: Self, n: usize);
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Z(__m512);

#[cfg(target_arch = "x86_64")]
impl Lanes for Z {
    const N: usize = 16;
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn zero() -> Self {
        Z(_mm512_setzero_ps())
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load(p: *const f32) -> Self {
        Z(unsafe { _mm512_loadu_ps(p) })
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load_first(p: *const f32, n: usize) -> Self {
        Z(unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as u16, p) })
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn splat(p: *const f32) -> Self {
        Z(_mm512_set1_ps(unsafe { *p }))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        Z(_mm512_fmadd_ps(a.0, b.0, c.0))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store(p: *mut f32, v: Self) {
        unsafe { _mm512_storeu_ps(p, v.0) }
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store_first(p: *mut f32, v: Self, n: usize) {
        unsafe { _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as u16, v.0) }
    }
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Y(__m256);

#[cfg(target_arch = "x86_64")]
impl Y {
    /// The mask of `_mm256_maskload_ps`/`_mm256_maskstore_ps` for the first `n` lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mask(n: usize) -> __m256i {
        let n = n as i32;
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
    }
}

#[cfg(target_arch = "x86_64")]
impl Lanes for Y {
    const N: usize = 8;
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn zero() -> Self {
        Y(_mm256_setzero_ps())
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load(p: *const f32) -> Self {
        Y(unsafe { _mm256_loadu_ps(p) })
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load_first(p: *const f32, n: usize) -> Self {
        Y(unsafe { _mm256_maskload_ps(p, Y::mask(n)) })
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn splat(p: *const f32) -> Self {
        Y(unsafe { _mm256_broadcast_ss(&*p) })
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        Y(_mm256_fmadd_ps(a.0, b.0, c.0))
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store(p: *mut f32, v: Self) {
        unsafe { _mm256_storeu_ps(p, v.0) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store_first(p: *mut f32, v: Self, n: usize) {
        unsafe { _mm256_maskstore_ps(p, Y::mask(n), v.0) }
    }
}

/// One output tile: pixels `q0..q0 + np` (np ≤ P; the taps of pixels past np are not read) ×
/// output channels `ob..ob + NV·N` (only those below `k.cout` are stored).
#[inline(always)]
unsafe fn forward_tile<V: Lanes, const NV: usize, const P: usize>(taps: &Taps, k: &Weights, q0: usize, np: usize, ob: usize, y: *mut f32) {
    unsafe {
        let (c, cp, cout) = (k.c, k.cp, k.cout);
        let mut acc = [[V::zero(); NV]; P];
        for v in 0..NV {
            let b = V::load(k.bias.as_ptr().add(ob + v * V::N));
            for a in acc.iter_mut() {
                a[v] = b;
            }
        }
        // The first pixel's offsets repeat for pixels past np (their results are not stored).
        let mut src = [ZEROS.as_ptr(); P];
        for t in 0..9 {
            for (p, s) in src.iter_mut().enumerate() {
                *s = taps.source(q0 + p.min(np - 1), t);
            }
            let w = k.w.as_ptr().add(t * c * cp + ob);
            for ci in 0..c {
                let mut wv = [V::zero(); NV];
                for (v, wv) in wv.iter_mut().enumerate() {
                    *wv = V::load(w.add(ci * cp + v * V::N));
                }
                for p in 0..P {
                    let xb = V::splat(src[p].add(ci));
                    for v in 0..NV {
                        acc[p][v] = V::fma(xb, wv[v], acc[p][v]);
                    }
                }
            }
        }
        for (p, a) in acc.iter().enumerate().take(np) {
            let out = y.add((q0 + p) * cout);
            for (v, &a) in a.iter().enumerate() {
                let o = ob + v * V::N;
                if o + V::N <= cout {
                    V::store(out.add(o), a);
                } else if o < cout {
                    V::store_first(out.add(o), a, cout - o);
                }
            }
        }
    }
}

/// All n output pixels for output channels `ob..ob + NV·N`, in tiles of P pixels.
#[inline(always)]
unsafe fn forward_channels<V: Lanes, const NV: usize, const P: usize>(taps: &Taps, k: &Weights, n: usize, ob: usize, y: *mut f32) {
    let mut q0 = 0;
    while q0 < n {
        let np = P.min(n - q0);
        unsafe { forward_tile::<V, NV, P>(taps, k, q0, np, ob, y) };
        q0 += np;
    }
}

/// The forward kernel over every output channel block: 3 (when `$three`), 2 or 1 vectors of
/// outputs, with as many pixels as leave the accumulators, the weights and a broadcast value in
/// registers. AVX-512 has 32: 3 × 8, 2 × 12, 1 × 16. AVX2 has 16: 3 × 4 (all 16) made the
/// compiler spill accumulators (30% slower than 3 × 3), and 3 × 3 is 9 independent FMA chains,
/// fewer than the two FMA units' latency needs; 2 × 6 and 1 × 12 keep 12 in flight.
macro_rules! forward_isa {
    ($name:ident, $feat:literal, $v:ty, $three:literal, $p3:literal, $p2:literal, $p1:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feat)]
        unsafe fn $name(taps: &Taps, k: &Weights, n: usize, y: *mut f32) {
            let lanes = <$v as Lanes>::N;
            let mut ob = 0;
            while ob < k.cout {
                let left = k.cout - ob;
                unsafe {
                    if $three && left > 2 * lanes {
                        forward_channels::<$v, 3, $p3>(taps, k, n, ob, y);
                        ob += 3 * lanes;
                    } else if left > lanes {
                        forward_channels::<$v, 2, $p2>(taps, k, n, ob, y);
                        ob += 2 * lanes;
                    } else {
                        forward_channels::<$v, 1, $p1>(taps, k, n, ob, y);
                        ob += lanes;
                    }
                }
            }
        }
    };
}

forward_isa!(forward_avx512, "avx512f,avx2,fma", Z, true, 8, 12, 16);
forward_isa!(forward_avx2, "avx2,fma", Y, false, 3, 6, 12);

/// The weight gradient's tile: input channels `c0..c0 + CB` of tap t × output channels
/// `ob..ob + NV·N`, summed over output pixels `q0..q1` and added to `dw` from channel
/// `c0 + skip` on. With `SOME` only the first `nc` channels are read (a layer narrower than a tile);
/// otherwise all CB are (a last block that would stick out is moved back over channels an
/// earlier tile stored, `skip` of them: recomputing them costs less than a branch per channel).
/// With `TAIL` the last vector of dy is read in part (`cout` not a multiple of N).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn weight_grad_tile<V: Lanes, const NV: usize, const CB: usize, const SOME: bool, const TAIL: bool>(
    taps: &Taps,
    t: usize,
    c0: usize,
    nc: usize,
    skip: usize,
    dy: *const f32,
    cout: usize,
    (q0, q1): (usize, usize),
    ob: usize,
    dw: *mut f32,
    cp: usize,
) {
    unsafe {
        let end = if SOME { nc } else { CB };
        let mut acc = [[V::zero(); NV]; CB];
        for (cb, a) in acc.iter_mut().enumerate().take(end) {
            for (v, a) in a.iter_mut().enumerate() {
                *a = V::load(dw.add((c0 + cb) * cp + ob + v * V::N));
            }
        }
        let tail = cout - (ob + (NV - 1) * V::N);
        for q in q0..q1 {
            let s = taps.source(q, t).add(c0);
            let d = dy.add(q * cout + ob);
            let mut dv = [V::zero(); NV];
            for (v, dv) in dv.iter_mut().enumerate() {
                *dv = if TAIL && v == NV - 1 { V::load_first(d.add(v * V::N), tail) } else { V::load(d.add(v * V::N)) };
            }
            for (cb, a) in acc.iter_mut().enumerate() {
                if !SOME || cb < nc {
                    let xb = V::splat(s.add(cb));
                    for v in 0..NV {
                        a[v] = V::fma(xb, dv[v], a[v]);
                    }
                }
            }
        }
        for (cb, a) in acc.iter().enumerate().take(end).skip(skip) {
            let out = dw.add((c0 + cb) * cp + ob);
            for (v, &a) in a.iter().enumerate() {
                V::store(out.add(v * V::N), a);
            }
        }
    }
}

/// [`weight_grad_tile`] for input channels `c0..` (CB of them, or what is left) of tap t.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn weight_grad_block<V: Lanes, const NV: usize, const CB: usize>(
    taps: &Taps,
    t: usize,
    c: usize,
    c0: usize,
    dy: *const f32,
    cout: usize,
    n: (usize, usize),
    ob: usize,
    dw: *mut f32,
    cp: usize,
) {
    let tail = ob + NV * V::N > cout;
    unsafe {
        match (c < CB, tail) {
            (true, false) => weight_grad_tile::<V, NV, CB, true, false>(taps, t, 0, c, 0, dy, cout, n, ob, dw, cp),
            (true, true) => weight_grad_tile::<V, NV, CB, true, true>(taps, t, 0, c, 0, dy, cout, n, ob, dw, cp),
            (false, _) => {
                let start = c0.min(c - CB);
                if tail {
                    weight_grad_tile::<V, NV, CB, false, true>(taps, t, start, CB, c0 - start, dy, cout, n, ob, dw, cp)
                } else {
                    weight_grad_tile::<V, NV, CB, false, false>(taps, t, start, CB, c0 - start, dy, cout, n, ob, dw, cp)
                }
            }
        }
    }
}

/// The weight gradient over every tap, input channel block and output channel block: tiles of
/// CB input channels × 1–3 vectors of output channels, each summed in registers over a chunk of
/// [`CHUNK`] pixels, chunk after chunk. (Summing each tile over all the block's pixels at once
/// read the block's dy and inputs from L2 for every tile, and was bound by that bandwidth.)
macro_rules! weight_grad_isa {
    ($name:ident, $feat:literal, $v:ty, $c3:literal, $c2:literal, $c1:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feat)]
        unsafe fn $name(taps: &Taps, c: usize, dy: *const f32, cout: usize, n: usize, dw: *mut f32) {
            let lanes = <$v as Lanes>::N;
            let cp = cout.next_multiple_of(PAD);
            for q0 in (0..n).step_by(CHUNK) {
                let n = (q0, (q0 + CHUNK).min(n));
                for t in 0..9 {
                    let dwt = unsafe { dw.add(t * c * cp) };
                    let mut ob = 0;
                    while ob < cout {
                        let left = cout - ob;
                        let (nv, cb) = if left > 2 * lanes {
                            (3, $c3)
                        } else if left > lanes {
                            (2, $c2)
                        } else {
                            (1, $c1)
                        };
                        for c0 in (0..c).step_by(cb) {
                            unsafe {
                                match nv {
                                    3 => weight_grad_block::<$v, 3, $c3>(taps, t, c, c0, dy, cout, n, ob, dwt, cp),
                                    2 => weight_grad_block::<$v, 2, $c2>(taps, t, c, c0, dy, cout, n, ob, dwt, cp),
                                    _ => weight_grad_block::<$v, 1, $c1>(taps, t, c, c0, dy, cout, n, ob, dwt, cp),
                                }
                            }
                        }
                        ob += nv * lanes;
                    }
                }
            }
        }
    };
}

/// Output pixels per chunk of the weight gradient: an image row of this network's largest
/// layers, whose dy and the three input rows its taps read (25 KB at 48 channels) stay in L1.
const CHUNK: usize = 32;

weight_grad_isa!(weight_grad_avx512, "avx512f,avx2,fma", Z, 8, 12, 16);
weight_grad_isa!(weight_grad_avx2, "avx2,fma", Y, 3, 5, 12);

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator of values in [−1, 1).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The input pixel tap t of output pixel r reads, by the definition (not the kernels' table).
    fn source(g: Shape, r: usize, t: usize) -> Option<usize> {
        let (ho, wo) = g.out();
        let (b, p) = (r / (ho * wo), r % (ho * wo));
        let (iy, ix) = ((p / wo * g.s + t / 3) as isize - 1, (p % wo * g.s + t % 3) as isize - 1);
        let (hu, wu) = ((g.h * g.u) as isize, (g.w * g.u) as isize);
        if iy < 0 || ix < 0 || iy >= hu || ix >= wu {
            return None;
        }
        Some((b * g.h + iy as usize / g.u) * g.w + ix as usize / g.u)
    }

    fn isas() -> Vec<Isa> {
        match isa() {
            Some(Isa::Avx512) => vec![Isa::Avx512, Isa::Avx2],
            Some(Isa::Avx2) => vec![Isa::Avx2],
            None => vec![],
        }
    }

    /// Forward, weight gradient and (stride 1) input gradient against sums written out in f64,
    /// on both instruction sets, for channel counts that fill 1, 2 or 3 vectors exactly or in
    /// part, an odd image size, strides 1 and 2 and the upsampling convolution, and blocks that
    /// start inside an image and end in the next.
    #[test]
    fn kernels_match_the_definition() {
        for isa in isas() {
            for (c, cout) in [(5, 3), (24, 24), (13, 40), (48, 48), (6, 64), (1, 17)] {
                for (u, s) in [(1, 1), (1, 2), (2, 1)] {
                    let g = Shape { h: 5, w: 7, c, u, s };
                    let (ho, wo) = g.out();
                    let (b, row) = (2, (9 * c + 1).next_multiple_of(16));
                    let rows = b * ho * wo;
                    let x = values(b * g.h * g.w * c, 1);
                    let k = values(cout * row, 2);
                    let dy = values(rows * cout, 3);
                    let w = Weights::new(&k, c, cout, row);
                    // The reference, in f64.
                    let mut y_ref = vec![0f64; rows * cout];
                    let mut dk_ref = vec![0f64; cout * row];
                    let mut dx_ref = vec![0f64; x.len()];
                    for r in 0..rows {
                        for o in 0..cout {
                            let mut acc = k[o * row + 9 * c] as f64;
                            dk_ref[o * row + 9 * c] += dy[r * cout + o] as f64;
                            for t in 0..9 {
                                if let Some(px) = source(g, r, t) {
                                    for ci in 0..c {
                                        acc += x[px * c + ci] as f64 * k[o * row + t * c + ci] as f64;
                                        dk_ref[o * row + t * c + ci] += x[px * c + ci] as f64 * dy[r * cout + o] as f64;
                                        dx_ref[px * c + ci] += dy[r * cout + o] as f64 * k[o * row + t * c + ci] as f64;
                                    }
                                }
                            }
                            y_ref[r * cout + o] = acc;
                        }
                    }
                    let close = |a: &[f32], b: &[f64], what: &str| {
                        for (i, (&a, &b)) in a.iter().zip(b).enumerate() {
                            assert!(
                                (a as f64 - b).abs() < 1e-4 * (1.0 + b.abs()),
                                "{isa:?} c {c} cout {cout} u {u} s {s}: {what}[{i}] {a} vs {b}"
                            );
                        }
                    };
                    // Forward, in two blocks split inside the first image's last row.
                    let split = ho * wo - 3;
                    let mut y = vec![MaybeUninit::<f32>::uninit(); rows * cout];
                    let (y0, y1) = y.split_at_mut(split * cout);
                    forward(isa, &x, g, &w, 0, y0);
                    forward(isa, &x, g, &w, split, y1);
                    let y: Vec<f32> = y.iter().map(|v| unsafe { v.assume_init() }).collect();
                    close(&y, &y_ref, "y");
                    // The weight gradient, summed over the same two blocks.
                    let mut dk = vec![0f32; cout * row];
                    weight_grad(isa, &x, g, &dy[..split * cout], cout, 0, &mut dk, row);
                    weight_grad(isa, &x, g, &dy[split * cout..], cout, split, &mut dk, row);
                    close(&dk, &dk_ref, "dk");
                    if (u, s) == (1, 1) {
                        let f = Weights::flipped(&k, c, cout, row);
                        let mut dx = vec![MaybeUninit::<f32>::uninit(); x.len()];
                        forward(isa, &dy, Shape { h: ho, w: wo, c: cout, u: 1, s: 1 }, &f, 0, &mut dx);
                        let dx: Vec<f32> = dx.iter().map(|v| unsafe { v.assume_init() }).collect();
                        close(&dx, &dx_ref, "dx");
                    }
                }
            }
        }
    }
}

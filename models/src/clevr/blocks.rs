//! The UNet's building blocks on channel-last (NHWC) tensors: GroupNorm, the residual block,
//! and the resampling layers.
//!
//! GroupNorm (with the ResBlock's scale-shift and the SiLU after it) is one fused operation with
//! a hand-written backward on the CPU ([`super::norm`]): candle's own fused normalisation
//! kernels return no gradient (STYLE.md), and this model is trained with candle's autograd. On
//! the CPU in f32 a whole residual block is one operation too ([`super::resblock`]); in f64 and
//! on a GPU it is built from the separate operations ([`ResBlock::forward_unfused`]). The
//! gradient test in `lab/tests/clevr.rs` checks these blocks against finite differences, and
//! the fused block against the unfused one.

use std::sync::OnceLock;

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

pub use super::conv::{Conv1, Conv3};
use super::norm::gn_act;
use super::reference_ops;
use super::resblock::{Packing, ResOp};

/// Group normalisation (Wu & He 2018): per sample, each group of channels is shifted to mean 0
/// and scaled to variance 1 over its channels and pixels, then a per-channel affine map.
#[derive(Clone, Debug)]
pub struct GroupNorm {
    gamma: Tensor,
    beta: Tensor,
    groups: usize,
}

impl GroupNorm {
    /// `channels` split into `groups`; parameters `gamma` (ones) and `beta` (zeros).
    pub fn new(groups: usize, channels: usize, vb: VarBuilder) -> Result<Self> {
        if groups == 0 || !channels.is_multiple_of(groups) {
            candle_core::bail!("GroupNorm: {channels} channels do not split into {groups} groups")
        }
        let gamma = vb.get_with_hints(channels, "gamma", candle_nn::Init::Const(1.0))?;
        let beta = vb.get_with_hints(channels, "beta", candle_nn::Init::Const(0.0))?;
        Ok(Self { gamma, beta, groups })
    }

    /// `SiLU(GN(x))` (or `GN(x)`) for `x` `[B, H, W, C]`.
    pub fn forward_act(&self, x: &Tensor, silu: bool) -> Result<Tensor> {
        let (b, _, _, c) = x.dims4()?;
        let ab = Tensor::stack(&[&self.gamma, &self.beta], 0)?.unsqueeze(0)?.broadcast_as((b, 2, c))?;
        self.apply(x, &ab, silu)
    }

    /// `SiLU(GN(x)·(1 + scale) + shift)` for `x` `[B, H, W, C]`, `scale` and `shift` `[B, C]`:
    /// the affine map is `a = γ(1 + scale)`, `b = β(1 + scale) + shift`.
    pub fn forward_scale_shift(&self, x: &Tensor, scale: &Tensor, shift: &Tensor) -> Result<Tensor> {
        let s1 = (scale + 1.0)?;
        let a = s1.broadcast_mul(&self.gamma)?;
        let b = s1.broadcast_mul(&self.beta)?.add(shift)?;
        self.apply(x, &Tensor::stack(&[&a, &b], 1)?, true)
    }

    fn apply(&self, x: &Tensor, ab: &Tensor, silu: bool) -> Result<Tensor> {
        let (b, h, w, c) = x.dims4()?;
        gn_act(&x.reshape((b, h * w, c))?, ab, self.groups, silu)?.reshape((b, h, w, c))
    }
}

impl Module for GroupNorm {
    /// `GN(x)` for `x` `[B, H, W, C]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_act(x, false)
    }
}

/// A 3×3 convolution with padding 1 (and the given stride).
pub fn conv3(cin: usize, cout: usize, stride: usize, vb: VarBuilder) -> Result<Conv3> {
    Conv3::new(cin, cout, stride, vb)
}

/// The residual block of improved DDPM with scale-shift conditioning:
/// `h = conv(SiLU(GN(x)))`, `h = GN(h)·(1 + scale) + shift` with (scale, shift) a linear map of
/// SiLU(emb), `h = conv(SiLU(h))`, and `x + h` (x through a 1×1 convolution when the channel
/// count changes). Scale-shift lets the time-and-position embedding gate features, not only
/// bias them.
#[derive(Clone, Debug)]
pub struct ResBlock {
    norm1: GroupNorm,
    conv1: Conv3,
    emb: Linear,
    norm2: GroupNorm,
    conv2: Conv3,
    skip: Option<Conv1>,
    cin: usize,
    cout: usize,
    groups: usize,
    /// The packed parameters of the fused block ([`super::resblock`]), made once when they are
    /// constants (a loaded model sampling).
    packed: OnceLock<Tensor>,
}

impl ResBlock {
    pub fn new(cin: usize, cout: usize, emb_dim: usize, groups: usize, vb: VarBuilder) -> Result<Self> {
        let skip = if cin != cout { Some(Conv1::new(cin, cout, vb.pp("skip"))?) } else { None };
        Ok(Self {
            norm1: GroupNorm::new(groups, cin, vb.pp("norm1"))?,
            conv1: conv3(cin, cout, 1, vb.pp("conv1"))?,
            emb: candle_nn::linear(emb_dim, 2 * cout, vb.pp("emb"))?,
            norm2: GroupNorm::new(groups, cout, vb.pp("norm2"))?,
            conv2: conv3(cout, cout, 1, vb.pp("conv2"))?,
            skip,
            cin,
            cout,
            groups,
            packed: OnceLock::new(),
        })
    }

    /// Multiply-adds ×2 of the convolutions for one image of `h`×`w` pixels.
    pub fn flops(&self, h: usize, w: usize) -> f64 {
        self.conv1.flops(h, w) + self.conv2.flops(h, w) + self.skip.as_ref().map_or(0.0, |s| s.flops(h * w))
    }

    /// `x` `[B, H, W, cin]`, `emb` `[B, emb_dim]` → `[B, H, W, cout]`: on the CPU in f32 one
    /// fused operation ([`super::resblock`]), elsewhere [`ResBlock::forward_unfused`].
    pub fn forward(&self, x: &Tensor, emb: &Tensor) -> Result<Tensor> {
        if !fused(x) {
            return self.forward_unfused(x, emb);
        }
        let (ps, op) = self.fused_op(&[x], emb)?;
        x.contiguous()?.apply_op2(&ps, op)
    }

    /// [`ResBlock::forward`] on the concatenation of `a` and `b` along the channels (a decoder
    /// block's features from below and its skip connection), without making it in candle.
    pub fn forward_cat(&self, a: &Tensor, b: &Tensor, emb: &Tensor) -> Result<Tensor> {
        if !fused(a) {
            return self.forward_unfused(&Tensor::cat(&[a, b], 3)?, emb);
        }
        let (ps, op) = self.fused_op(&[a, b], emb)?;
        a.contiguous()?.apply_op3(&b.contiguous()?, &ps, op)
    }

    /// The fused operation's packed vector (parameters, then the scale and shift) and the
    /// operation, for input(s) `xs`.
    fn fused_op(&self, xs: &[&Tensor], emb: &Tensor) -> Result<(Tensor, ResOp)> {
        let ss = self.emb.forward(&emb.silu()?)?;
        let ps = Tensor::cat(&[self.packed()?, ss.flatten_all()?], 0)?;
        let keep = ps.track_op() || xs.iter().any(|x| x.track_op());
        let packing = Packing { cin: self.cin, cout: self.cout, skip: self.skip.is_some() };
        Ok((ps, ResOp::new(packing, self.groups, keep)))
    }

    /// The parameters in [`Packing`]'s order, one vector.
    fn packed(&self) -> Result<Tensor> {
        if let Some(p) = self.packed.get() {
            return Ok(p.clone());
        }
        let (w1, b1) = self.conv1.params();
        let (w2, b2) = self.conv2.params();
        let mut parts = vec![
            self.norm1.gamma.clone(),
            self.norm1.beta.clone(),
            w1.flatten_all()?,
            b1.clone(),
            self.norm2.gamma.clone(),
            self.norm2.beta.clone(),
            w2.flatten_all()?,
            b2.clone(),
        ];
        if let Some(s) = &self.skip {
            let (ws, bs) = s.params();
            parts.extend([ws.flatten_all()?, bs.clone()]);
        }
        let packed = Tensor::cat(&parts, 0)?;
        if !parts.iter().any(Tensor::track_op) {
            // Another thread may have set it meanwhile: to the same values.
            let _ = self.packed.set(packed.clone());
        }
        Ok(packed)
    }

    /// The block as separate operations (candle's autograd between them): the reference for
    /// the fused one, and the path for f64 and GPUs.
    pub fn forward_unfused(&self, x: &Tensor, emb: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(&self.norm1.forward_act(x, true)?)?;
        let ss = self.emb.forward(&emb.silu()?)?;
        let scale = ss.narrow(1, 0, self.cout)?;
        let shift = ss.narrow(1, self.cout, self.cout)?;
        let h = self.conv2.forward(&self.norm2.forward_scale_shift(&h, &scale, &shift)?)?;
        match &self.skip {
            Some(s) => s.forward(x)? + h,
            None => x + h,
        }
    }
}

/// Whether the residual blocks on `x` take the fused operation: on the CPU in f32.
fn fused(x: &Tensor) -> bool {
    !reference_ops(x) && x.dtype() == DType::F32
}

/// Halves the resolution: a 3×3 convolution with stride 2.
#[derive(Clone, Debug)]
pub struct Down(pub Conv3);

impl Down {
    pub fn new(ch: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self(conv3(ch, ch, 2, vb.pp("conv"))?))
    }
}

impl Module for Down {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.0.forward(x)
    }
}

/// Doubles the resolution: nearest-neighbour upsampling, then a 3×3 convolution (one fused
/// operation on the CPU, see [`Conv3::upsampling`]).
#[derive(Clone, Debug)]
pub struct Up(pub Conv3);

impl Up {
    pub fn new(ch: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self(Conv3::upsampling(ch, ch, vb.pp("conv"))?))
    }
}

impl Module for Up {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.0.forward(x)
    }
}

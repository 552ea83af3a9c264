//! The UNet's building blocks: GroupNorm, the residual block, and the resampling layers.
//!
//! GroupNorm is written with basic tensor ops (sums and broadcasts) rather than taken from
//! candle-nn: candle's fused normalisation kernels return no gradient (STYLE.md), and this
//! model is trained with candle's autograd. The gradient test in `runtime/tests/clevr.rs`
//! checks these blocks against finite differences.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Conv2d, Linear, VarBuilder};

pub use super::conv::Conv3;

/// Group normalisation (Wu & He 2018): per sample, each group of channels is shifted to mean 0
/// and scaled to variance 1 over its channels and pixels, then a per-channel affine map.
#[derive(Clone, Debug)]
pub struct GroupNorm {
    gamma: Tensor,
    beta: Tensor,
    groups: usize,
    eps: f64,
}

impl GroupNorm {
    /// `channels` split into `groups`; parameters `gamma` (ones) and `beta` (zeros).
    pub fn new(groups: usize, channels: usize, vb: VarBuilder) -> Result<Self> {
        if groups == 0 || !channels.is_multiple_of(groups) {
            candle_core::bail!("GroupNorm: {channels} channels do not split into {groups} groups")
        }
        let gamma = vb.get_with_hints(channels, "gamma", candle_nn::Init::Const(1.0))?;
        let beta = vb.get_with_hints(channels, "beta", candle_nn::Init::Const(0.0))?;
        Ok(Self { gamma, beta, groups, eps: 1e-5 })
    }
}

impl Module for GroupNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let per_group = (c / self.groups) * h * w;
        let n = per_group as f64;
        let xs = x.reshape((b, self.groups, per_group))?;
        let mean = (xs.sum_keepdim(2)? / n)?;
        let centred = xs.broadcast_sub(&mean)?;
        let var = (centred.sqr()?.sum_keepdim(2)? / n)?;
        let normed = centred.broadcast_div(&(var + self.eps)?.sqrt()?)?.reshape((b, c, h, w))?;
        normed
            .broadcast_mul(&self.gamma.reshape((1, c, 1, 1))?)?
            .broadcast_add(&self.beta.reshape((1, c, 1, 1))?)
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
    skip: Option<Conv2d>,
    cout: usize,
}

impl ResBlock {
    pub fn new(cin: usize, cout: usize, emb_dim: usize, groups: usize, vb: VarBuilder) -> Result<Self> {
        let skip = if cin != cout {
            Some(candle_nn::conv2d(cin, cout, 1, Default::default(), vb.pp("skip"))?)
        } else {
            None
        };
        Ok(Self {
            norm1: GroupNorm::new(groups, cin, vb.pp("norm1"))?,
            conv1: conv3(cin, cout, 1, vb.pp("conv1"))?,
            emb: candle_nn::linear(emb_dim, 2 * cout, vb.pp("emb"))?,
            norm2: GroupNorm::new(groups, cout, vb.pp("norm2"))?,
            conv2: conv3(cout, cout, 1, vb.pp("conv2"))?,
            skip,
            cout,
        })
    }

    /// `x` `[B, cin, H, W]`, `emb` `[B, emb_dim]` → `[B, cout, H, W]`.
    pub fn forward(&self, x: &Tensor, emb: &Tensor) -> Result<Tensor> {
        let b = x.dim(0)?;
        let h = self.conv1.forward(&self.norm1.forward(x)?.silu()?)?;
        let ss = self.emb.forward(&emb.silu()?)?.reshape((b, 2 * self.cout, 1, 1))?;
        let scale = ss.narrow(1, 0, self.cout)?;
        let shift = ss.narrow(1, self.cout, self.cout)?;
        let h = self.norm2.forward(&h)?.broadcast_mul(&(scale + 1.0)?)?.broadcast_add(&shift)?;
        let h = self.conv2.forward(&h.silu()?)?;
        match &self.skip {
            Some(s) => s.forward(x)? + h,
            None => x + h,
        }
    }
}

/// Halves the resolution: a 3×3 convolution with stride 2.
#[derive(Clone, Debug)]
pub struct Down(Conv3);

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

/// Doubles the resolution: nearest-neighbour upsampling, then a 3×3 convolution.
#[derive(Clone, Debug)]
pub struct Up(Conv3);

impl Up {
    pub fn new(ch: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self(conv3(ch, ch, 1, vb.pp("conv"))?))
    }
}

impl Module for Up {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        self.0.forward(&x.upsample_nearest2d(2 * h, 2 * w)?)
    }
}

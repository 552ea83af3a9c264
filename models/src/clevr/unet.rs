//! A small conditional UNet for 32×32 RGB images, predicting ε (improved DDPM's layout, without
//! attention): an input convolution, residual blocks per resolution with stride-2 downsampling,
//! two middle blocks, the mirrored up path with skip connections, and an output convolution.
//!
//! Two fixed coordinate channels (x and y of each pixel, in [−1, 1]) are appended to the
//! input (CoordConv): the position condition enters only as a global vector, and the
//! coordinates let the first layers turn it into "here" without having to infer location from
//! the zero padding. Without attention the path from a position to its pixels is short, and
//! sampling on a CPU stays fast. With `heatmap` the position is also drawn into a sixth input
//! channel, a Gaussian bump where the object should be: a spatial condition that a
//! convolution can use from the first step, where the global vector must first be decoded
//! against the coordinates (which a short CPU run did not get to).
//!
//! Inside, activations are channel-last (`[B, H, W, C]`): the convolutions are then one matrix
//! product per layer and GroupNorm reads runs of channels (see [`super::conv`]); the interface
//! stays `[B, 3, 32, 32]`.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::blocks::{conv3, Conv3, Down, GroupNorm, ResBlock, Up};
use super::embed::Embedding;
use super::SIZE;

/// The network's shape; saved in the model card, so a checkpoint knows how to rebuild itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Channels at full resolution.
    pub channels: usize,
    /// Channel multiplier per resolution (32, 16, 8, ... pixels).
    pub mults: Vec<usize>,
    /// Residual blocks per resolution on the way down (one more on the way up).
    pub res_blocks: usize,
    /// GroupNorm groups (must divide every channel count).
    pub groups: usize,
    /// Native timesteps of the cosine schedule the model is trained on.
    pub native_steps: usize,
    /// Also give the position as an input channel: a Gaussian bump (σ = 3 px) centred on it
    /// (zero for `null`). Cards written before this field read as `false`.
    #[serde(default)]
    pub heatmap: bool,
    /// The attribute labels the model is conditioned on (`clevr-attr`), one learned vector
    /// each; empty for the position model (`clevr-pos`), whose condition is `pos(x, y)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

impl Default for Config {
    /// The shipped model: 24 → 48 → 48 channels over 32, 16 and 8 pixels, one residual block
    /// per level down (two up), scale-shift conditioning, the position heatmap channel,
    /// 1000-step cosine schedule. (Without the heatmap, the position entering only through
    /// the global embedding, a CPU run of 1,500 steps at batch 32 had not begun to use the
    /// position at all: its loss with other scenes' labels equalled that with the true ones.) Sized so
    /// that 8 composed images with two positions at 100 steps (2,400 UNet rows) take about a
    /// minute on a 2-core CPU (32 channels measured twice that on a loaded machine).
    fn default() -> Self {
        Config { channels: 24, mults: vec![1, 2, 2], res_blocks: 1, groups: 8, native_steps: 1000, heatmap: true, labels: vec![] }
    }
}

impl Config {
    /// A very small network for tests and CLI smoke runs (no use for sampling).
    pub fn tiny() -> Self {
        Config { channels: 8, mults: vec![1, 2], res_blocks: 1, groups: 2, native_steps: 1000, heatmap: true, labels: vec![] }
    }

    /// The shipped clevr-attr network for `labels`: clevr-pos's, without the heatmap channel
    /// (an attribute has no place to draw).
    pub fn attributes(labels: Vec<String>) -> Self {
        Config { heatmap: false, labels, ..Config::default() }
    }

    /// The tiny test network, for `labels`.
    pub fn tiny_attributes(labels: Vec<String>) -> Self {
        Config { heatmap: false, labels, ..Config::tiny() }
    }

    /// The model this network is: `clevr-attr` with labels, else `clevr-pos`.
    pub fn model_name(&self) -> &'static str {
        if self.labels.is_empty() {
            super::NAME
        } else {
            super::attr::NAME
        }
    }

    /// Width of the condition vector: 2 for a position, one per label (one-hot) otherwise.
    pub fn cond_dim(&self) -> usize {
        if self.labels.is_empty() {
            2
        } else {
            self.labels.len()
        }
    }

    /// Whether this is one of the tiny test networks.
    pub fn is_tiny(&self) -> bool {
        self.channels == 8 && self.mults == [1, 2]
    }

    /// Checks the shape before building: channels divisible by the groups, the resolution
    /// halving evenly.
    pub fn validate(&self) -> Result<()> {
        let levels = self.mults.len();
        if self.channels == 0 || !self.channels.is_multiple_of(2) || levels == 0 || self.res_blocks == 0 || self.native_steps == 0 {
            candle_core::bail!("invalid UNet config {self:?}")
        }
        if self.mults.iter().any(|m| *m == 0 || !(m * self.channels).is_multiple_of(self.groups)) {
            candle_core::bail!("UNet config {self:?}: every channel count must split into {} groups", self.groups)
        }
        if !SIZE.is_multiple_of(1 << (levels - 1)) {
            candle_core::bail!("UNet config {self:?}: {levels} levels do not fit {SIZE}×{SIZE} images")
        }
        if !self.labels.is_empty() {
            if self.heatmap {
                candle_core::bail!("UNet config {self:?}: an attribute model has no position heatmap")
            }
            super::attr::validate_labels(&self.labels).map_err(candle_core::Error::Msg)?;
        }
        Ok(())
    }
}

/// Width (σ, pixels) of the position heatmap channel.
const HEAT_SIGMA_PX: f64 = 3.0;

/// The UNet ε(x, t | position).
#[derive(Clone, Debug)]
pub struct Unet {
    embed: Embedding,
    conv_in: Conv3,
    down: Vec<(Vec<ResBlock>, Option<Down>)>,
    mid: [ResBlock; 2],
    up: Vec<(Vec<ResBlock>, Option<Up>)>,
    norm_out: GroupNorm,
    conv_out: Conv3,
    coords: Tensor,
    heatmap: bool,
    dtype: DType,
    flops: f64,
}

impl Unet {
    /// Builds the network with weights from `vb` (a `VarMap` to train, safetensors to sample).
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let ch = cfg.channels;
        let emb_dim = 4 * ch;
        let g = cfg.groups;
        let embed = Embedding::new(ch, emb_dim, cfg.cond_dim(), !cfg.labels.is_empty(), vb.pp("embed"))?;
        let conv_in = conv3(3 + 2 + cfg.heatmap as usize, ch, 1, vb.pp("conv_in"))?;
        let mut flops = conv_in.flops(SIZE, SIZE);
        let mut skips = vec![ch];
        let mut cur = ch;
        let mut res = SIZE;
        let mut down = Vec::new();
        let levels = cfg.mults.len();
        for (i, m) in cfg.mults.iter().enumerate() {
            let out = ch * m;
            let mut blocks = Vec::new();
            for j in 0..cfg.res_blocks {
                blocks.push(ResBlock::new(cur, out, emb_dim, g, vb.pp(format!("down.{i}.res.{j}")))?);
                flops += blocks[j].flops(res, res);
                cur = out;
                skips.push(cur);
            }
            let ds = if i + 1 < levels {
                skips.push(cur);
                let d = Down::new(cur, vb.pp(format!("down.{i}.down")))?;
                flops += d.0.flops(res, res);
                res /= 2;
                Some(d)
            } else {
                None
            };
            down.push((blocks, ds));
        }
        let mid = [ResBlock::new(cur, cur, emb_dim, g, vb.pp("mid.0"))?, ResBlock::new(cur, cur, emb_dim, g, vb.pp("mid.1"))?];
        flops += mid.iter().map(|m| m.flops(res, res)).sum::<f64>();
        let mut up = Vec::new();
        for (i, m) in cfg.mults.iter().enumerate().rev() {
            let out = ch * m;
            let mut blocks = Vec::new();
            for j in 0..=cfg.res_blocks {
                let skip = skips.pop().expect("one skip per down block");
                blocks.push(ResBlock::new(cur + skip, out, emb_dim, g, vb.pp(format!("up.{i}.res.{j}")))?);
                flops += blocks[j].flops(res, res);
                cur = out;
            }
            let us = if i > 0 {
                let u = Up::new(cur, vb.pp(format!("up.{i}.up")))?;
                flops += u.0.flops(res, res);
                res *= 2;
                Some(u)
            } else {
                None
            };
            up.push((blocks, us));
        }
        let norm_out = GroupNorm::new(g, cur, vb.pp("norm_out"))?;
        let conv_out = conv3(cur, 3, 1, vb.pp("conv_out"))?;
        flops += conv_out.flops(SIZE, SIZE);
        let dtype = vb.dtype();
        let coords = coordinates(vb.device(), dtype)?;
        Ok(Self { embed, conv_in, down, mid, up, norm_out, conv_out, coords, heatmap: cfg.heatmap, dtype, flops })
    }

    /// Floating-point operations (2 per multiply-add) of the convolutions in one image's
    /// forward pass; a training step costs about three times this per image.
    pub fn conv_flops(&self) -> f64 {
        self.flops
    }

    /// The dtype of the weights (inputs are converted to it).
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// ε for `x` `[B, 3, 32, 32]` at native timesteps `t` `[B]`, conditions `xy` (`[B, 2]`
    /// positions, or `[B, labels]` one-hot attributes) and `mask` `[B]` (1 = conditioned,
    /// 0 = null). Inputs of another dtype are converted.
    pub fn forward(&self, x: &Tensor, t: &Tensor, xy: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let d = self.dtype;
        let (x, t, xy, mask) = (x.to_dtype(d)?, t.to_dtype(d)?, xy.to_dtype(d)?, mask.to_dtype(d)?);
        let b = x.dim(0)?;
        let emb = self.embed.forward(&t, &xy, &mask)?;
        let coords = self.coords.broadcast_as((b, SIZE, SIZE, 2))?;
        let x = x.permute((0, 2, 3, 1))?;
        let mut input = vec![x, coords.clone()];
        if self.heatmap {
            // Positions in the coordinate channels' units: (2x − 1, 2y − 1).
            let centre = ((xy * 2.0)? - 1.0)?.reshape((b, 1, 1, 2))?;
            let d2 = coords.broadcast_sub(&centre)?.sqr()?.sum_keepdim(3)?;
            let s = HEAT_SIGMA_PX * 2.0 / SIZE as f64;
            input.push((d2 * (-0.5 / (s * s)))?.exp()?.broadcast_mul(&mask.reshape((b, 1, 1, 1))?)?);
        }
        let mut h = self.conv_in.forward(&Tensor::cat(&input, 3)?)?;
        let mut skips = vec![h.clone()];
        for (blocks, ds) in &self.down {
            for blk in blocks {
                h = blk.forward(&h, &emb)?;
                skips.push(h.clone());
            }
            if let Some(ds) = ds {
                h = ds.forward(&h)?;
                skips.push(h.clone());
            }
        }
        for blk in &self.mid {
            h = blk.forward(&h, &emb)?;
        }
        for (blocks, us) in &self.up {
            for blk in blocks {
                let skip = skips.pop().expect("one skip per up block");
                h = blk.forward_cat(&h, &skip, &emb)?;
            }
            if let Some(us) = us {
                h = us.forward(&h)?;
            }
        }
        self.conv_out.forward(&self.norm_out.forward_act(&h, true)?)?.permute((0, 3, 1, 2))?.contiguous()
    }
}

/// `[1, 32, 32, 2]`: each pixel centre's x (left −1 → right 1) and y (bottom −1 → top 1, y
/// upward like the position labels).
fn coordinates(device: &Device, dtype: DType) -> Result<Tensor> {
    let n = SIZE * SIZE;
    let mut v = vec![0f32; 2 * n];
    for r in 0..SIZE {
        for c in 0..SIZE {
            v[2 * (r * SIZE + c)] = 2.0 * (c as f32 + 0.5) / SIZE as f32 - 1.0;
            v[2 * (r * SIZE + c) + 1] = 1.0 - 2.0 * (r as f32 + 0.5) / SIZE as f32;
        }
    }
    Tensor::from_vec(v, (1, SIZE, SIZE, 2), device)?.to_dtype(dtype)
}

//! Stable Diffusion's UNet (diffusers' `UNet2DConditionModel`, SD 1.x and 2.x) for the CPU,
//! written for this project: channel-last (NHWC) activations through the clevr-pos kernels
//! (the 3×3 convolution that unfolds and multiplies with the AVX-512 GEMM, the upsampling
//! folded into it, the fused GroupNorm + SiLU), attention and the feed-forward as matrix
//! products over `[tokens, channels]` rows, and diffusers' exact (erf) GELU.
//!
//! Why not candle-transformers' UNet, which comp ran before and still runs on a GPU or in
//! f16/bf16: on the CPU its `conv2d` gathers patches element by element (most of a step), and
//! its GEGLU uses the tanh approximation of GELU where diffusers uses the exact one (the UNet
//! then differs from diffusers' by 3.5e-5 instead of about 1e-6 on the fixture written by
//! diffusers, `models/tests/sd_diffusers.rs`). Weights are read under diffusers' names, the
//! same tensors candle-transformers reads, and every tensor of the file must be used.
//!
//! The network, as diffusers builds it: a sinusoidal time embedding and two linear layers;
//! `conv_in`; down blocks of ResNets (each followed by a Transformer2D when the block
//! cross-attends) and a stride-2 convolution; a middle ResNet, Transformer2D, ResNet; up blocks
//! of one more ResNet each, every one taking the matching down activation concatenated on the
//! channels, and a 2× nearest upsampling convolution; GroupNorm, SiLU, `conv_out`.

use candle_core::{bail, Result, Tensor};
use candle_nn::VarBuilder;

use super::config::UnetJson;
use super::kernels;
use crate::clevr::conv::{Conv3, ConvOp};
use crate::clevr::norm::gn_act_eps;

/// A 3×3 convolution with padding 1, its weights unfolded once ([`Conv3::matrix`]).
struct Conv {
    k: Tensor,
    op: ConvOp,
}

impl Conv {
    fn new(cin: usize, cout: usize, stride: usize, up: bool, vb: VarBuilder) -> Result<Self> {
        let c = if up { Conv3::upsampling(cin, cout, vb)? } else { Conv3::new(cin, cout, stride, vb)? };
        Ok(Conv { k: c.matrix()?.contiguous()?, op: c.op() })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op2_no_bwd(&self.k, &self.op)
    }

    /// An upsampling convolution to `(h, w)` where that is not twice the input (a latent side
    /// that does not halve evenly): nearest-neighbour interpolation as torch's `nearest` (pixel
    /// ⌊y·in/out⌋), then the convolution.
    fn forward_to(&self, x: &Tensor, (h, w): (usize, usize)) -> Result<Tensor> {
        let (_, hi, wi, _) = x.dims4()?;
        if !self.op.up || (h, w) == (2 * hi, 2 * wi) {
            return self.forward(x);
        }
        let up = x.permute((0, 3, 1, 2))?.contiguous()?.upsample_nearest2d(h, w)?.permute((0, 2, 3, 1))?.contiguous()?;
        up.apply_op2_no_bwd(&self.k, &ConvOp { stride: 1, up: false })
    }
}

/// A linear layer or 1×1 convolution over the last dimension of `[rows, C]`.
struct Dense {
    /// `[C_out, C]`.
    w: Tensor,
    b: Option<Tensor>,
}

impl Dense {
    fn linear(cin: usize, cout: usize, bias: bool, vb: VarBuilder) -> Result<Self> {
        let b = if bias { Some(vb.get(cout, "bias")?) } else { None };
        Ok(Dense { w: vb.get((cout, cin), "weight")?, b })
    }

    fn conv1(cin: usize, cout: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Dense { w: vb.get((cout, cin, 1, 1), "weight")?.reshape((cout, cin))?, b: Some(vb.get(cout, "bias")?) })
    }

    /// A 1×1 convolution where the file has one, a linear layer otherwise (SD 2's
    /// `use_linear_projection`): the same function on channel-last rows.
    fn projection(linear: bool, c: usize, vb: VarBuilder) -> Result<Self> {
        if linear {
            Dense::linear(c, c, true, vb)
        } else {
            Dense::conv1(c, c, vb)
        }
    }

    /// `x` `[rows, C]` → `[rows, C_out]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        kernels::linear(x, &self.w, self.b.as_ref(), None)
    }

    /// The same plus `residual` `[rows, C_out]`, added in the same pass.
    fn forward_plus(&self, x: &Tensor, residual: &Tensor) -> Result<Tensor> {
        kernels::linear(x, &self.w, self.b.as_ref(), Some(residual))
    }
}

/// GroupNorm with its affine weights, optionally followed by SiLU, on NHWC tensors.
struct Norm {
    /// `[1, 2, C]`: γ, then β.
    ab: Tensor,
    groups: usize,
    eps: f64,
}

impl Norm {
    fn new(groups: usize, c: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        let ab = Tensor::stack(&[vb.get(c, "weight")?, vb.get(c, "bias")?], 0)?.unsqueeze(0)?;
        Ok(Norm { ab, groups, eps })
    }

    fn forward(&self, x: &Tensor, silu: bool) -> Result<Tensor> {
        let (b, h, w, c) = x.dims4()?;
        let ab = self.ab.broadcast_as((b, 2, c))?;
        gn_act_eps(&x.reshape((b, h * w, c))?, &ab, self.groups, silu, self.eps)?.reshape((b, h, w, c))
    }
}

/// diffusers' `ResnetBlock2D` (time embedding added between the convolutions).
struct Resnet {
    norm1: Norm,
    conv1: Conv,
    time: Dense,
    norm2: Norm,
    conv2: Conv,
    shortcut: Option<Dense>,
    scale: f64,
}

impl Resnet {
    fn new(cin: usize, cout: usize, temb: usize, u: &UnetJson, scale: f64, vb: VarBuilder) -> Result<Self> {
        let (g, eps) = (u.norm_num_groups, u.norm_eps);
        Ok(Resnet {
            norm1: Norm::new(g, cin, eps, vb.pp("norm1"))?,
            conv1: Conv::new(cin, cout, 1, false, vb.pp("conv1"))?,
            time: Dense::linear(temb, cout, true, vb.pp("time_emb_proj"))?,
            norm2: Norm::new(g, cout, eps, vb.pp("norm2"))?,
            conv2: Conv::new(cout, cout, 1, false, vb.pp("conv2"))?,
            shortcut: if cin != cout { Some(Dense::conv1(cin, cout, vb.pp("conv_shortcut"))?) } else { None },
            scale,
        })
    }

    /// `temb` is SiLU of the time embedding, `[1, T]` (one timestep for every row).
    fn forward(&self, x: &Tensor, temb: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(&self.norm1.forward(x, true)?)?;
        let t = self.time.forward(temb)?;
        let h = h.broadcast_add(&t.reshape((t.dim(0)?, 1, 1, ()))?)?;
        let h = self.conv2.forward(&self.norm2.forward(&h, true)?)?;
        let out = match &self.shortcut {
            Some(s) => {
                let (b, hh, w, c) = x.dims4()?;
                let cout = h.dim(3)?;
                s.forward_plus(&x.reshape((b * hh * w, c))?, &h.reshape((b * hh * w, cout))?)?.reshape((b, hh, w, cout))?
            }
            None => (x + h)?,
        };
        if self.scale == 1.0 {
            Ok(out)
        } else {
            out / self.scale
        }
    }
}

/// Multi-head attention of `[B·N, C]` rows over themselves or over the text states.
struct Attention {
    q: Dense,
    k: Dense,
    v: Dense,
    out: Dense,
    heads: usize,
}

impl Attention {
    fn new(c: usize, context: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Attention {
            q: Dense::linear(c, c, false, vb.pp("to_q"))?,
            k: Dense::linear(context, c, false, vb.pp("to_k"))?,
            v: Dense::linear(context, c, false, vb.pp("to_v"))?,
            out: Dense::linear(c, c, true, vb.pp("to_out").pp("0"))?,
            heads,
        })
    }

    /// `x` `[B·N, C]`; `context` `[B·M, D]` or `None` for self-attention; `residual` `[B·N, C]`
    /// is added to the output.
    fn forward(&self, x: &Tensor, context: Option<&Tensor>, b: usize, residual: &Tensor) -> Result<Tensor> {
        let src = context.unwrap_or(x);
        let o = kernels::attention(&self.q.forward(x)?, &self.k.forward(src)?, &self.v.forward(src)?, b, self.heads)?;
        self.out.forward_plus(&o, residual)
    }
}

/// LayerNorm's weights.
struct LayerNorm {
    w: Tensor,
    b: Tensor,
}

impl LayerNorm {
    fn new(c: usize, vb: VarBuilder) -> Result<Self> {
        Ok(LayerNorm { w: vb.get(c, "weight")?, b: vb.get(c, "bias")? })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.w, &self.b, 1e-5)
    }
}

/// diffusers' `BasicTransformerBlock`: self-attention, cross-attention, GEGLU feed-forward.
struct Block {
    norm1: LayerNorm,
    attn1: Attention,
    norm2: LayerNorm,
    attn2: Attention,
    norm3: LayerNorm,
    /// `[C] → [8C]`: the value half and the gate half.
    ff_in: Dense,
    ff_out: Dense,
}

impl Block {
    fn new(c: usize, context: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        let ff = vb.pp("ff").pp("net");
        Ok(Block {
            norm1: LayerNorm::new(c, vb.pp("norm1"))?,
            attn1: Attention::new(c, c, heads, vb.pp("attn1"))?,
            norm2: LayerNorm::new(c, vb.pp("norm2"))?,
            attn2: Attention::new(c, context, heads, vb.pp("attn2"))?,
            norm3: LayerNorm::new(c, vb.pp("norm3"))?,
            ff_in: Dense::linear(c, 8 * c, true, ff.pp("0").pp("proj"))?,
            ff_out: Dense::linear(4 * c, c, true, ff.pp("2"))?,
        })
    }

    fn forward(&self, x: &Tensor, context: &Tensor, b: usize) -> Result<Tensor> {
        let x = self.attn1.forward(&self.norm1.forward(x)?, None, b, x)?;
        let x = self.attn2.forward(&self.norm2.forward(&x)?, Some(context), b, &x)?;
        // GEGLU with the exact GELU, as diffusers computes it.
        let h = kernels::geglu(&self.ff_in.forward(&self.norm3.forward(&x)?)?)?;
        self.ff_out.forward_plus(&h, &x)
    }
}

/// diffusers' `Transformer2DModel`: GroupNorm (ε 1e-6), a projection in, transformer blocks,
/// a projection out, and the input added back.
struct Transformer {
    norm: Norm,
    proj_in: Dense,
    blocks: Vec<Block>,
    proj_out: Dense,
}

impl Transformer {
    fn new(c: usize, heads: usize, layers: usize, u: &UnetJson, vb: VarBuilder) -> Result<Self> {
        let linear = u.use_linear_projection;
        let blocks =
            (0..layers).map(|i| Block::new(c, u.cross_attention_dim, heads, vb.pp("transformer_blocks").pp(i))).collect::<Result<_>>()?;
        Ok(Transformer {
            norm: Norm::new(u.norm_num_groups, c, 1e-6, vb.pp("norm"))?,
            proj_in: Dense::projection(linear, c, vb.pp("proj_in"))?,
            blocks,
            proj_out: Dense::projection(linear, c, vb.pp("proj_out"))?,
        })
    }

    /// `x` `[B, H, W, C]`, `context` `[B·M, D]`.
    fn forward(&self, x: &Tensor, context: &Tensor) -> Result<Tensor> {
        let (b, h, w, c) = x.dims4()?;
        let mut t = self.proj_in.forward(&self.norm.forward(x, false)?.reshape((b * h * w, c))?)?;
        for block in &self.blocks {
            t = block.forward(&t, context, b)?;
        }
        self.proj_out.forward_plus(&t, &x.reshape((b * h * w, c))?)?.reshape((b, h, w, c))
    }
}

/// A ResNet and, in cross-attention blocks, the Transformer2D after it.
struct Layer {
    resnet: Resnet,
    attention: Option<Transformer>,
}

impl Layer {
    fn forward(&self, x: &Tensor, temb: &Tensor, context: &Tensor) -> Result<Tensor> {
        let h = self.resnet.forward(x, temb)?;
        match &self.attention {
            Some(a) => a.forward(&h, context),
            None => Ok(h),
        }
    }
}

/// A down or up block: its layers, then the resampling convolution (none in the last).
struct Stage {
    layers: Vec<Layer>,
    resample: Option<Conv>,
}

/// The whole UNet (see the module doc).
pub struct Unet {
    channels0: usize,
    flip_sin_to_cos: bool,
    freq_shift: f64,
    center_input_sample: bool,
    time1: Dense,
    time2: Dense,
    conv_in: Conv,
    down: Vec<Stage>,
    mid: (Resnet, Transformer, Resnet),
    up: Vec<Stage>,
    norm_out: Norm,
    conv_out: Conv,
}

/// Which configurations this UNet runs (the rest go to candle-transformers' UNet): diffusers'
/// default downsampling padding of 1, the only one the 3×3 kernel has.
pub fn supports(u: &UnetJson) -> bool {
    u.downsample_padding == 1
}

impl Unet {
    /// Reads the weights of a UNet the config describes (already checked by
    /// [`UnetJson::to_candle`]).
    pub fn new(u: &UnetJson, vb: VarBuilder) -> Result<Self> {
        let ch = &u.block_out_channels;
        let n = ch.len();
        if n == 0 || !supports(u) {
            bail!("this UNet configuration needs candle-transformers' UNet")
        }
        let cross: Vec<bool> = u.down_block_types.iter().map(|t| t == "CrossAttnDownBlock2D").collect();
        let heads = |i: usize| u.attention_head_dim.get(i).unwrap_or(8);
        let layers = |i: usize| u.transformer_layers_per_block.get(i).unwrap_or(1);
        let temb = 4 * ch[0];
        let transformer = |c: usize, i: usize, vb: VarBuilder| Transformer::new(c, heads(i), layers(i), u, vb);

        let mut down = Vec::with_capacity(n);
        let mut out = ch[0];
        for i in 0..n {
            let vb = vb.pp("down_blocks").pp(i);
            let input = out;
            out = ch[i];
            let mut ls = Vec::new();
            for j in 0..u.layers_per_block {
                let resnet = Resnet::new(if j == 0 { input } else { out }, out, temb, u, 1.0, vb.pp("resnets").pp(j))?;
                let attention = if cross[i] { Some(transformer(out, i, vb.pp("attentions").pp(j))?) } else { None };
                ls.push(Layer { resnet, attention });
            }
            let resample = if i + 1 < n { Some(Conv::new(out, out, 2, false, vb.pp("downsamplers").pp(0).pp("conv"))?) } else { None };
            down.push(Stage { layers: ls, resample });
        }

        let last = ch[n - 1];
        let mvb = vb.pp("mid_block");
        let scale = u.mid_block_scale_factor;
        let mid = (
            Resnet::new(last, last, temb, u, scale, mvb.pp("resnets").pp(0))?,
            transformer(last, n - 1, mvb.pp("attentions").pp(0))?,
            Resnet::new(last, last, temb, u, scale, mvb.pp("resnets").pp(1))?,
        );

        let mut up = Vec::with_capacity(n);
        let mut out = last;
        for i in 0..n {
            let vb = vb.pp("up_blocks").pp(i);
            let block = n - 1 - i; // the down block this one mirrors
            let prev = out;
            out = ch[block];
            let input = ch[block.saturating_sub(1)];
            let mut ls = Vec::new();
            for j in 0..=u.layers_per_block {
                let skip = if j == u.layers_per_block { input } else { out };
                let cin = if j == 0 { prev } else { out };
                let resnet = Resnet::new(cin + skip, out, temb, u, 1.0, vb.pp("resnets").pp(j))?;
                let attention = if cross[block] { Some(transformer(out, block, vb.pp("attentions").pp(j))?) } else { None };
                ls.push(Layer { resnet, attention });
            }
            let resample = if i + 1 < n { Some(Conv::new(out, out, 1, true, vb.pp("upsamplers").pp(0).pp("conv"))?) } else { None };
            up.push(Stage { layers: ls, resample });
        }

        Ok(Unet {
            channels0: ch[0],
            flip_sin_to_cos: u.flip_sin_to_cos,
            freq_shift: u.freq_shift,
            center_input_sample: u.center_input_sample,
            time1: Dense::linear(ch[0], temb, true, vb.pp("time_embedding").pp("linear_1"))?,
            time2: Dense::linear(temb, temb, true, vb.pp("time_embedding").pp("linear_2"))?,
            conv_in: Conv::new(u.in_channels, ch[0], 1, false, vb.pp("conv_in"))?,
            down,
            mid,
            up,
            norm_out: Norm::new(u.norm_num_groups, ch[0], u.norm_eps, vb.pp("conv_norm_out"))?,
            conv_out: Conv::new(ch[0], u.out_channels, 1, false, vb.pp("conv_out"))?,
        })
    }

    /// diffusers' `get_timestep_embedding` of one timestep, `[1, C₀]`, in f32 as diffusers
    /// computes it: frequencies exp(−ln(10⁴)·i / (C₀/2 − shift)), sines then cosines (or
    /// cosines first with `flip_sin_to_cos`).
    fn timestep(&self, t: f64, dev: &candle_core::Device) -> Result<Tensor> {
        let half = self.channels0 / 2;
        let args: Vec<f32> =
            (0..half).map(|i| (-(10000f64.ln() as f32) * i as f32 / (half as f64 - self.freq_shift) as f32).exp() * t as f32).collect();
        let (sin, cos): (Vec<f32>, Vec<f32>) = args.iter().map(|a| (a.sin(), a.cos())).unzip();
        let e = if self.flip_sin_to_cos { [cos, sin].concat() } else { [sin, cos].concat() };
        Tensor::from_vec(e, (1, 2 * half), dev)
    }

    /// ε (or v) for latents `x` `[B, C, h, w]` at timestep `t`, each row attending to its row
    /// of `states` `[B, M, D]`.
    pub fn forward(&self, x: &Tensor, t: f64, states: &Tensor) -> Result<Tensor> {
        let b = x.dim(0)?;
        let mut x = x.permute((0, 2, 3, 1))?.contiguous()?;
        if self.center_input_sample {
            x = x.affine(2.0, -1.0)?;
        }
        let (_, m, d) = states.dims3()?;
        let context = states.contiguous()?.reshape((b * m, d))?;
        let temb = self.time2.forward(&self.time1.forward(&self.timestep(t, x.device())?.to_dtype(x.dtype())?)?.silu()?)?.silu()?;

        let mut h = self.conv_in.forward(&x)?;
        let mut skips = vec![h.clone()];
        for stage in &self.down {
            for layer in &stage.layers {
                h = layer.forward(&h, &temb, &context)?;
                skips.push(h.clone());
            }
            if let Some(conv) = &stage.resample {
                h = conv.forward(&h)?;
                skips.push(h.clone());
            }
        }
        h = self.mid.0.forward(&h, &temb)?;
        h = self.mid.1.forward(&h, &context)?;
        h = self.mid.2.forward(&h, &temb)?;
        for stage in &self.up {
            for layer in &stage.layers {
                let Some(skip) = skips.pop() else { bail!("the UNet's up path ran out of skip connections") };
                h = layer.forward(&Tensor::cat(&[&h, &skip], 3)?, &temb, &context)?;
            }
            if let Some(conv) = &stage.resample {
                // Up to the size of the activation it is joined with next (diffusers'
                // `upsample_size`), which is twice this one's unless a side was odd.
                let Some(next) = skips.last() else { bail!("the UNet's up path ran out of skip connections") };
                let (_, nh, nw, _) = next.dims4()?;
                h = conv.forward_to(&h, (nh, nw))?;
            }
        }
        let out = self.conv_out.forward(&self.norm_out.forward(&h, true)?)?;
        out.permute((0, 3, 1, 2))?.contiguous()
    }
}

//! The conditioning vector: a sinusoidal embedding of the timestep through a small MLP, plus
//! the condition through a linear layer (the position (x, y) for clevr-pos, a one-hot
//! attribute for clevr-attr: a learned vector per attribute), or a learned null vector when the
//! label is dropped: Composable Diffusion's CLEVR model adds the linear position embedding to
//! the time embedding in the same way.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

/// The embedding of (t, condition), `[B, dim]`.
#[derive(Clone, Debug)]
pub struct Embedding {
    freqs: usize,
    time1: Linear,
    time2: Linear,
    pos: Linear,
    null: Tensor,
}

impl Embedding {
    /// `freqs`: width of the sinusoidal features (even); `dim`: width of the embedding;
    /// `cond`: width of the condition (2 for a position, the label count for attributes,
    /// whose layer is named `label`, the position's `pos`).
    pub fn new(freqs: usize, dim: usize, cond: usize, labels: bool, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            freqs,
            time1: candle_nn::linear(freqs, dim, vb.pp("time1"))?,
            time2: candle_nn::linear(dim, dim, vb.pp("time2"))?,
            pos: candle_nn::linear(cond, dim, vb.pp(if labels { "label" } else { "pos" }))?,
            null: vb.get_with_hints(dim, "null", candle_nn::Init::Randn { mean: 0.0, stdev: 1.0 })?,
        })
    }

    /// `t` `[B]` native timestep indices, `xy` `[B, cond]` conditions, `mask` `[B]` (1 = use
    /// the condition, 0 = null), all of the weights' dtype.
    pub fn forward(&self, t: &Tensor, xy: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let b = t.dim(0)?;
        let time = sinusoidal(t, self.freqs)?;
        let time = self.time2.forward(&self.time1.forward(&time)?.silu()?)?;
        let mask = mask.reshape((b, 1))?;
        let pos = self.pos.forward(xy)?.broadcast_mul(&mask)?;
        let null = self.null.unsqueeze(0)?.broadcast_mul(&(1.0 - &mask)?)?;
        time + pos + null
    }
}

/// The transformer/DDPM timestep features: `[cos(t·f_i), sin(t·f_i)]` with
/// f_i = 10000^(−i/half), `[B, dim]`.
pub fn sinusoidal(t: &Tensor, dim: usize) -> Result<Tensor> {
    let half = dim / 2;
    let f: Vec<f64> = (0..half).map(|i| (-(10000f64.ln()) * i as f64 / half as f64).exp()).collect();
    let f = Tensor::new(f, t.device())?.to_dtype(t.dtype())?;
    let args = t.unsqueeze(1)?.broadcast_mul(&f.unsqueeze(0)?)?;
    Tensor::cat(&[args.cos()?, args.sin()?], 1)
}

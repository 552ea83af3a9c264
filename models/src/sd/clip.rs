//! The CLIP text encoder (HF `CLIPTextModel`): what turns a prompt's ids into the 77×D states
//! the UNet cross-attends to.
//!
//! Our own, ~100 lines, because candle-transformers' two CLIP text models each miss one thing
//! we need: the Stable Diffusion one builds only from its fixed presets (its config's fields
//! are private, so neither a checkpoint's `config.json` nor the tests' tiny encoders can be
//! described to it), and the general one has no GELU (SD 2.x's OpenCLIP encoder uses GELU,
//! SD 1.x's QuickGELU). The weights are HF's names (`text_model.encoder.layers.N.…`), and
//! `tests/sd.rs` checks this encoder against candle-transformers' general CLIP, bit for bit
//! in f32, on a QuickGELU encoder.

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{embedding, layer_norm, linear, Embedding, LayerNorm, Linear, VarBuilder};
use serde::Deserialize;

/// `text_encoder/config.json`: the fields the encoder needs.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ClipConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "quick_gelu")]
    pub hidden_act: String,
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
}

impl ClipConfig {
    /// Refuses what the encoder cannot be built from (a division by zero, an empty prompt
    /// window), naming `path` and the field.
    pub fn check(&self, path: &std::path::Path) -> Result<()> {
        for (field, value) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_attention_heads", self.num_attention_heads),
        ] {
            if value == 0 {
                candle_core::bail!("{}: `{field}` must be at least 1, found 0", path.display())
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            candle_core::bail!(
                "{}: `hidden_size` {} must be a multiple of `num_attention_heads` {}",
                path.display(),
                self.hidden_size,
                self.num_attention_heads
            )
        }
        if !(2..=4096).contains(&self.max_position_embeddings) {
            candle_core::bail!(
                "{}: `max_position_embeddings` must be in 2..=4096 (a prompt needs its start and end tokens; SD's is 77), found {}",
                path.display(),
                self.max_position_embeddings
            )
        }
        if !["quick_gelu", "gelu"].contains(&self.hidden_act.as_str()) {
            candle_core::bail!("{}: `hidden_act` {:?} is not supported (expected `quick_gelu` or `gelu`)", path.display(), self.hidden_act)
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            candle_core::bail!("{}: `layer_norm_eps` must be a positive number, found {}", path.display(), self.layer_norm_eps)
        }
        Ok(())
    }
}

fn quick_gelu() -> String {
    "quick_gelu".into()
}

fn eps() -> f64 {
    1e-5
}

#[derive(Clone, Copy, Debug)]
enum Activation {
    QuickGelu,
    Gelu,
}

impl Activation {
    fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::QuickGelu => x * candle_nn::ops::sigmoid(&(x * 1.702)?)?,
            // HF's "gelu" is the exact (erf) GELU.
            Activation::Gelu => x.gelu_erf(),
        }
    }
}

struct Layer {
    norm1: LayerNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// The token embedding's name in the two layouts `transformers` writes a text encoder in:
/// under `text_model.` (before version 5) and at the top level (version 5).
pub const TOKEN_EMBEDDING_NAMES: [&str; 2] = ["text_model.embeddings.token_embedding.weight", "embeddings.token_embedding.weight"];

/// A loaded text encoder.
pub struct ClipTextEncoder {
    tokens: Embedding,
    positions: Embedding,
    layers: Vec<Layer>,
    final_norm: LayerNorm,
    heads: usize,
    activation: Activation,
    pub config: ClipConfig,
}

impl ClipTextEncoder {
    /// Builds the encoder from `vb`'s weights, in either layout of [`TOKEN_EMBEDDING_NAMES`].
    pub fn new(vb: VarBuilder, config: &ClipConfig) -> Result<Self> {
        let activation = match config.hidden_act.as_str() {
            "quick_gelu" => Activation::QuickGelu,
            "gelu" => Activation::Gelu,
            other => candle_core::bail!("text encoder activation `{other}` is not supported (expected `quick_gelu` or `gelu`)"),
        };
        if config.num_attention_heads == 0 || !config.hidden_size.is_multiple_of(config.num_attention_heads) {
            candle_core::bail!(
                "text encoder: hidden_size {} is not a multiple of num_attention_heads {}",
                config.hidden_size,
                config.num_attention_heads
            )
        }
        // transformers before 5 saved `CLIPTextModel` under `text_model.`; transformers 5 saves
        // the same tensors without that prefix.
        let vb = if vb.contains_tensor(TOKEN_EMBEDDING_NAMES[1]) { vb } else { vb.pp("text_model") };
        let (d, eps) = (config.hidden_size, config.layer_norm_eps);
        let emb = vb.pp("embeddings");
        let tokens = embedding(config.vocab_size, d, emb.pp("token_embedding"))?;
        let positions = embedding(config.max_position_embeddings, d, emb.pp("position_embedding"))?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = vb.pp(format!("encoder.layers.{i}"));
                let a = l.pp("self_attn");
                Ok(Layer {
                    norm1: layer_norm(d, eps, l.pp("layer_norm1"))?,
                    q: linear(d, d, a.pp("q_proj"))?,
                    k: linear(d, d, a.pp("k_proj"))?,
                    v: linear(d, d, a.pp("v_proj"))?,
                    out: linear(d, d, a.pp("out_proj"))?,
                    norm2: layer_norm(d, eps, l.pp("layer_norm2"))?,
                    fc1: linear(d, config.intermediate_size, l.pp("mlp.fc1"))?,
                    fc2: linear(config.intermediate_size, d, l.pp("mlp.fc2"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let final_norm = layer_norm(d, eps, vb.pp("final_layer_norm"))?;
        Ok(Self { tokens, positions, layers, final_norm, heads: config.num_attention_heads, activation, config: config.clone() })
    }

    /// The last hidden states (after the final layer norm) of `ids` `[B, S]` u32: `[B, S, D]`.
    /// Attention is causal, as CLIP's text transformer is.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, s) = ids.dims2()?;
        let device = ids.device();
        let pos = Tensor::arange(0u32, s as u32, device)?.unsqueeze(0)?;
        let mut x = self.tokens.forward(ids)?.broadcast_add(&self.positions.forward(&pos)?)?;
        let mask = causal_mask(s, x.dtype(), device)?;
        let d = self.config.hidden_size;
        let hd = d / self.heads;
        let scale = (hd as f64).powf(-0.5);
        let split = |t: Tensor| -> Result<Tensor> { t.reshape((b, s, self.heads, hd))?.transpose(1, 2)?.contiguous() };
        for l in &self.layers {
            let h = l.norm1.forward(&x)?;
            let q = split((l.q.forward(&h)? * scale)?)?;
            let k = split(l.k.forward(&h)?)?;
            let v = split(l.v.forward(&h)?)?;
            let w = q.matmul(&k.t()?)?.broadcast_add(&mask)?;
            let w = candle_nn::ops::softmax(&w, D::Minus1)?;
            let a = w.matmul(&v)?.transpose(1, 2)?.reshape((b, s, d))?;
            x = (x + l.out.forward(&a)?)?;
            let h = l.norm2.forward(&x)?;
            let h = l.fc2.forward(&self.activation.apply(&l.fc1.forward(&h)?)?)?;
            x = (x + h)?;
        }
        self.final_norm.forward(&x)
    }
}

/// `[S, S]`: 0 on and below the diagonal, the dtype's lowest value above it.
fn causal_mask(s: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let m: Vec<f32> = (0..s).flat_map(|i| (0..s).map(move |j| if j > i { f32::MIN } else { 0.0 })).collect();
    let m = Tensor::from_vec(m, (s, s), device)?;
    // f16 has no f32::MIN: its lowest finite value does the same job after softmax.
    match dtype {
        DType::F32 => Ok(m),
        DType::F16 => m.clamp(-65504f32, 0f32)?.to_dtype(dtype),
        _ => m.to_dtype(dtype),
    }
}

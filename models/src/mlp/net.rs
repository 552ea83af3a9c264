//! The network f(x, t, c): a residual MLP with a sinusoidal time embedding and a learned
//! concept embedding (RRR's 2D model: 4 residual blocks, hidden width 128).
//!
//! ```text
//! e   = silu(W_t2 · silu(W_t1 · sin_emb(t) + b_t1) + b_t2 + C[c])      [G, embed], per group
//! h₀  = W_in · x + b_in
//! aᵢ  = W_1ᵢ · silu(hᵢ) + b_1ᵢ + W_cᵢ · e + b_cᵢ                        i = 0..blocks
//! hᵢ₊₁ = hᵢ + W_2ᵢ · silu(aᵢ) + b_2ᵢ
//! f   = W_out · silu(h_L) + b_out                                       [B, 2]
//! ```
//!
//! `C` has one row per concept plus a last row, the learned null (the unconditional model,
//! trained on 10% of the labels). There is no normalisation layer: candle's `LayerNorm` has no
//! gradient, and the hand-written input gradient of `energy.rs` stays short without one.
//!
//! Rows come in G groups of M rows that share (t, c): training has one row per group, a
//! sampling step one group per condition (t is the same for the whole step), so the
//! conditioning path runs on K rows instead of K·N. The activations the input gradient needs
//! are kept in a [`Trace`].

use std::collections::HashMap;

use candle_core::{bail, DType, Device, Result, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// The architecture, as the model card records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Arch {
    /// Width of the residual stream and of every hidden layer.
    pub hidden: usize,
    /// Residual blocks.
    pub blocks: usize,
    /// Size of the sinusoidal time embedding (even).
    pub time_embed: usize,
    /// Width of the conditioning vector e (time and concept), projected into each block.
    pub embed: usize,
    /// Concepts, not counting the null (the embedding table has `concepts + 1` rows).
    pub concepts: usize,
    /// Data dimension (2).
    pub data_dim: usize,
}

impl Arch {
    /// RRR's 2D model: 4 blocks of width 128; a 32-wide sinusoidal time embedding and a
    /// 64-wide conditioning vector (RRR's blocks also project a narrow embedding).
    pub fn rrr_2d(concepts: usize) -> Self {
        Self { hidden: 128, blocks: 4, time_embed: 32, embed: 64, concepts, data_dim: 2 }
    }

    /// Every parameter's name and shape, in a fixed order (the safetensors keys).
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (h, d, te, e) = (self.hidden, self.data_dim, self.time_embed, self.embed);
        let mut v = vec![
            ("time.0.weight".to_string(), vec![e, te]),
            ("time.0.bias".to_string(), vec![e]),
            ("time.1.weight".to_string(), vec![e, e]),
            ("time.1.bias".to_string(), vec![e]),
            ("concept.embedding".to_string(), vec![self.concepts + 1, e]),
            ("input.weight".to_string(), vec![h, d]),
            ("input.bias".to_string(), vec![h]),
        ];
        for i in 0..self.blocks {
            for (part, shape) in [("lin1", [h, h]), ("cond", [h, e]), ("lin2", [h, h])] {
                v.push((format!("blocks.{i}.{part}.weight"), shape.to_vec()));
                v.push((format!("blocks.{i}.{part}.bias"), vec![h]));
            }
        }
        v.push(("output.weight".to_string(), vec![d, h]));
        v.push(("output.bias".to_string(), vec![d]));
        v
    }

    /// Number of scalar parameters.
    pub fn param_count(&self) -> usize {
        self.param_shapes().iter().map(|(_, s)| s.iter().product::<usize>()).sum()
    }

    /// Fresh weights from `seed` (ChaCha8, so the same on every machine): linear layers
    /// uniform in ±1/√fan_in (PyTorch's default), the concept embedding N(0, 1).
    pub fn init(&self, seed: u64, dtype: DType, device: &Device) -> Result<HashMap<String, Tensor>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = HashMap::new();
        for (name, shape) in self.param_shapes() {
            let n: usize = shape.iter().product();
            let v: Vec<f64> = if name == "concept.embedding" {
                (0..n).map(|_| rng.sample::<f64, _>(StandardNormal)).collect()
            } else {
                let fan_in = if name.ends_with(".weight") {
                    shape[1]
                } else {
                    // a bias: the fan-in of its weight
                    self.param_shapes()
                        .into_iter()
                        .find(|(w, _)| *w == name.replace(".bias", ".weight"))
                        .map(|(_, s)| s[1])
                        .expect("every bias has a weight")
                };
                let bound = 1.0 / (fan_in as f64).sqrt();
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            };
            let t = Tensor::from_vec(v, shape, device)?.to_dtype(dtype)?;
            out.insert(name, t);
        }
        Ok(out)
    }
}

/// `y = x·Wᵀ + b`, W `[out, in]` as in candle-nn and PyTorch.
#[derive(Clone, Debug)]
pub struct Lin {
    pub w: Tensor,
    pub b: Tensor,
}

impl Lin {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.w.t()?)?.broadcast_add(&self.b)
    }

    /// The vector-Jacobian product w.r.t. the input: `g·W`.
    pub fn vjp(&self, g: &Tensor) -> Result<Tensor> {
        g.matmul(&self.w)
    }
}

/// One residual block.
#[derive(Clone, Debug)]
pub struct Block {
    pub lin1: Lin,
    pub cond: Lin,
    pub lin2: Lin,
}

/// The network's weights.
#[derive(Clone, Debug)]
pub struct Net {
    pub arch: Arch,
    pub time: [Lin; 2],
    pub concept: Tensor,
    pub input: Lin,
    pub blocks: Vec<Block>,
    pub output: Lin,
}

/// What one forward pass keeps for the input gradient.
pub struct Trace {
    /// f(x, t, c), `[B, data_dim]`.
    pub out: Tensor,
    /// hᵢ and σ(hᵢ) for i = 0..=blocks (the last is h_L, before the output layer).
    pub h: Vec<(Tensor, Tensor)>,
    /// aᵢ and σ(aᵢ) for each block.
    pub a: Vec<(Tensor, Tensor)>,
}

/// σ(z), with candle-nn's op (it has a first-order gradient and does not overflow).
pub fn sigmoid(z: &Tensor) -> Result<Tensor> {
    candle_nn::ops::sigmoid(z)
}

/// silu(z) = z·σ(z), given σ(z).
fn silu_with(z: &Tensor, s: &Tensor) -> Result<Tensor> {
    z * s
}

/// silu′(z) = σ(z)·(1 + z·(1 − σ(z))), given σ(z).
pub fn silu_grad(z: &Tensor, s: &Tensor) -> Result<Tensor> {
    let one_minus = s.affine(-1.0, 1.0)?;
    ((z * one_minus)? + 1.0)? * s
}

/// The sinusoidal embedding of native timestep indices `t` (`[G]`): `[G, dim]`, the first
/// half sin(t·ωₖ), the second cos(t·ωₖ), ωₖ = 10000^(−k/(dim/2)).
pub fn time_embedding(t: &[f32], dim: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let half = dim / 2;
    let mut v = Vec::with_capacity(t.len() * dim);
    for &ti in t {
        let freqs = (0..half).map(|k| (-(10000f64.ln()) * k as f64 / half as f64).exp());
        let args: Vec<f64> = freqs.map(|w| ti as f64 * w).collect();
        v.extend(args.iter().map(|a| a.sin()));
        v.extend(args.iter().map(|a| a.cos()));
    }
    Tensor::from_vec(v, (t.len(), dim), device)?.to_dtype(dtype)
}

impl Net {
    /// The network over named weights (a safetensors file, or the trainer's variables).
    /// Every parameter must be present with its shape; unknown names are an error.
    pub fn from_tensors(arch: &Arch, tensors: &HashMap<String, Tensor>) -> Result<Self> {
        let shapes = arch.param_shapes();
        for (name, shape) in &shapes {
            match tensors.get(name) {
                None => bail!("missing tensor `{name}`"),
                Some(t) if t.dims() != shape.as_slice() => {
                    bail!("tensor `{name}` has shape {:?}, the card's architecture needs {:?}", t.dims(), shape)
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = tensors.keys().find(|k| !shapes.iter().any(|(n, _)| n == *k)) {
            bail!("unexpected tensor `{extra}`")
        }
        let get = |n: &str| tensors[n].clone();
        let lin = |p: &str| Lin { w: get(&format!("{p}.weight")), b: get(&format!("{p}.bias")) };
        Ok(Self {
            arch: arch.clone(),
            time: [lin("time.0"), lin("time.1")],
            concept: get("concept.embedding"),
            input: lin("input"),
            blocks: (0..arch.blocks)
                .map(|i| Block {
                    lin1: lin(&format!("blocks.{i}.lin1")),
                    cond: lin(&format!("blocks.{i}.cond")),
                    lin2: lin(&format!("blocks.{i}.lin2")),
                })
                .collect(),
            output: lin("output"),
        })
    }

    pub fn dtype(&self) -> DType {
        self.input.w.dtype()
    }

    pub fn device(&self) -> &Device {
        self.input.w.device()
    }

    /// The conditioning vector e of each group: `[G, embed]`.
    fn conditioning(&self, t: &[f32], c: &[u32]) -> Result<Tensor> {
        if t.len() != c.len() {
            bail!("mlp: {} timesteps for {} concept labels", t.len(), c.len())
        }
        if let Some(bad) = c.iter().find(|&&i| i as usize > self.arch.concepts) {
            bail!("mlp: concept index {bad} out of range (the model has {} concepts and a null)", self.arch.concepts)
        }
        let temb = time_embedding(t, self.arch.time_embed, self.dtype(), self.device())?;
        let h1 = self.time[0].forward(&temb)?;
        let h1 = silu_with(&h1, &sigmoid(&h1)?)?;
        let idx = Tensor::from_slice(c, c.len(), self.device())?;
        let e = (self.time[1].forward(&h1)? + self.concept.index_select(&idx, 0)?)?;
        silu_with(&e, &sigmoid(&e)?)
    }

    /// f(x, t, c) with its trace. `x` is `[G·M, data_dim]`; group g (rows g·M..(g+1)·M) is
    /// at native timestep `t[g]` under concept index `c[g]` (`arch.concepts` is the null).
    pub fn trace(&self, x: &Tensor, t: &[f32], c: &[u32]) -> Result<Trace> {
        let (rows, dim) = x.dims2()?;
        let g = t.len();
        if dim != self.arch.data_dim || g == 0 || !rows.is_multiple_of(g) {
            bail!("mlp: x has shape {:?}, expected [G·M, {}] with G = {g} groups", x.dims(), self.arch.data_dim)
        }
        let m = rows / g;
        let hidden = self.arch.hidden;
        let e = self.conditioning(t, c)?;
        let mut h = self.input.forward(x)?;
        let mut hs = Vec::with_capacity(self.blocks.len() + 1);
        let mut as_ = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let sh = sigmoid(&h)?;
            let u = silu_with(&h, &sh)?;
            let cond = block.cond.forward(&e)?;
            let a = block.lin1.forward(&u)?;
            let a = if m == 1 {
                (a + cond)?
            } else {
                a.reshape((g, m, hidden))?.broadcast_add(&cond.unsqueeze(1)?)?.reshape((rows, hidden))?
            };
            let sa = sigmoid(&a)?;
            let v = silu_with(&a, &sa)?;
            let next = (&h + block.lin2.forward(&v)?)?;
            hs.push((h, sh));
            as_.push((a, sa));
            h = next;
        }
        let sh = sigmoid(&h)?;
        let out = self.output.forward(&silu_with(&h, &sh)?)?;
        hs.push((h, sh));
        Ok(Trace { out, h: hs, a: as_ })
    }

    /// f(x, t, c) alone.
    pub fn forward(&self, x: &Tensor, t: &[f32], c: &[u32]) -> Result<Tensor> {
        Ok(self.trace(x, t, c)?.out)
    }

    /// The same network with every weight rounded through `dtype` (and back to its own):
    /// what a save in `dtype` and a load give back.
    pub fn rounded_through(&self, dtype: DType) -> Result<Self> {
        let own = self.dtype();
        let tensors = self.tensors().into_iter().map(|(k, v)| Ok((k, v.to_dtype(dtype)?.to_dtype(own)?))).collect::<Result<_>>()?;
        Self::from_tensors(&self.arch, &tensors)
    }

    /// The weights by name (for saving).
    pub fn tensors(&self) -> HashMap<String, Tensor> {
        let mut m = HashMap::new();
        let mut lin = |p: &str, l: &Lin| {
            m.insert(format!("{p}.weight"), l.w.clone());
            m.insert(format!("{p}.bias"), l.b.clone());
        };
        lin("time.0", &self.time[0]);
        lin("time.1", &self.time[1]);
        lin("input", &self.input);
        for (i, b) in self.blocks.iter().enumerate() {
            lin(&format!("blocks.{i}.lin1"), &b.lin1);
            lin(&format!("blocks.{i}.cond"), &b.cond);
            lin(&format!("blocks.{i}.lin2"), &b.lin2);
        }
        lin("output", &self.output);
        m.insert("concept.embedding".into(), self.concept.clone());
        m
    }
}

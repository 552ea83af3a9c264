//! `clevr-attr-clf`: a noise-conditional classifier of the attribute scenes, p_φ(y | x_t), for
//! classifier guidance (RRR's "controllable generation"): a time-conditioned small CNN on
//! noised images with one softmax head per attribute group (colour 8-way, shape, size).
//!
//! Network (channel-last, the clevr-pos UNet's blocks): a 3×3 input convolution, one residual
//! block per resolution (32, 16, 8 pixels) with stride-2 downsampling between, the time
//! embedding entering every block by scale-shift, GroupNorm + SiLU, the mean over pixels, and
//! one linear layer to the 12 logits; each group's logits go through their own log-softmax.
//!
//! As a model in scripts its term `clf.red` is guidance: ε = −σ_t ∇ₓ log p_φ(red | x_t) by one
//! backward pass through the network (candle's autograd, x a variable), energy −σ_t log p_φ; its
//! `null` is 0. Trained by `comp train clevr-attr-clf` (the lab's `clevr/clf_train.rs`); the
//! folder holds `model.safetensors` and a card like clevr-pos's ([`ClfCard`]).

use std::path::Path;

use candle_core::{bail, DType, Device, Module, Result, Tensor, Var};
use candle_nn::{Linear, VarBuilder};
use comp_plan::{Condition, ModelInfo, SamplePlan};
use comp_runtime::{Denoiser, ModelOutput, Prepared, Schedule};
use serde::{Deserialize, Serialize};

use super::attr::{self, GROUPS};
use super::blocks::{conv3, Conv3, Down, GroupNorm, ResBlock};
use super::card::{self, Training};
use super::embed::sinusoidal;
use super::COSINE_S;
use crate::card::Envelope;
use crate::error::{LoadError, LoadResult};
use crate::weights;

/// The model's name in scripts: `model clf = clevr-attr-clf`.
pub const NAME: &str = "clevr-attr-clf";

/// The classifier's shape; saved in its card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClfConfig {
    /// Channels at full resolution.
    pub channels: usize,
    /// Channel multiplier per resolution (32, 16, 8 pixels).
    pub mults: Vec<usize>,
    pub groups: usize,
    pub native_steps: usize,
}

impl Default for ClfConfig {
    /// The shipped classifier: 16 → 32 → 32 channels (about a sixth of the UNet's work).
    fn default() -> Self {
        ClfConfig { channels: 16, mults: vec![1, 2, 2], groups: 8, native_steps: 1000 }
    }
}

impl ClfConfig {
    /// The tiny test network.
    pub fn tiny() -> Self {
        ClfConfig { channels: 8, mults: vec![1, 2], groups: 2, native_steps: 1000 }
    }

    pub fn validate(&self) -> Result<()> {
        if self.channels == 0
            || !self.channels.is_multiple_of(2)
            || self.mults.is_empty()
            || self.mults.len() > 4
            || self.native_steps == 0
            || self.mults.iter().any(|m| *m == 0 || !(m * self.channels).is_multiple_of(self.groups))
        {
            bail!("invalid classifier config {self:?}")
        }
        Ok(())
    }
}

/// The network: logits `[B, 12]` (colour, shape, size, in label order) for noised images.
#[derive(Clone, Debug)]
pub struct ClfNet {
    freqs: usize,
    time1: Linear,
    time2: Linear,
    conv_in: Conv3,
    levels: Vec<(ResBlock, Option<Down>)>,
    norm_out: GroupNorm,
    head: Linear,
    dtype: DType,
}

impl ClfNet {
    pub fn new(cfg: &ClfConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let ch = cfg.channels;
        let emb = 4 * ch;
        let mut cur = ch;
        let mut levels = Vec::new();
        for (i, m) in cfg.mults.iter().enumerate() {
            let out = ch * m;
            let block = ResBlock::new(cur, out, emb, cfg.groups, vb.pp(format!("level.{i}.res")))?;
            cur = out;
            let down = if i + 1 < cfg.mults.len() { Some(Down::new(cur, vb.pp(format!("level.{i}.down")))?) } else { None };
            levels.push((block, down));
        }
        Ok(Self {
            freqs: ch,
            time1: candle_nn::linear(ch, emb, vb.pp("time1"))?,
            time2: candle_nn::linear(emb, emb, vb.pp("time2"))?,
            conv_in: conv3(3, ch, 1, vb.pp("conv_in"))?,
            levels,
            norm_out: GroupNorm::new(cfg.groups, cur, vb.pp("norm_out"))?,
            head: candle_nn::linear(cur, attr::all_labels().len(), vb.pp("head"))?,
            dtype: vb.dtype(),
        })
    }

    /// Logits `[B, 12]` for `x` `[B, 3, 32, 32]` at native timesteps `t` `[B]`.
    pub fn logits(&self, x: &Tensor, t: &Tensor) -> Result<Tensor> {
        let (x, t) = (x.to_dtype(self.dtype)?, t.to_dtype(self.dtype)?);
        let emb = self.time2.forward(&self.time1.forward(&sinusoidal(&t, self.freqs)?)?.silu()?)?;
        let mut h = self.conv_in.forward(&x.permute((0, 2, 3, 1))?.contiguous()?)?;
        for (block, down) in &self.levels {
            h = block.forward(&h, &emb)?;
            if let Some(d) = down {
                h = d.forward(&h)?;
            }
        }
        let h = self.norm_out.forward_act(&h, true)?.mean((1, 2))?;
        self.head.forward(&h)
    }

    /// Log-probabilities `[B, 12]`: each group's logits through its own log-softmax.
    pub fn log_probs(&self, x: &Tensor, t: &Tensor) -> Result<Tensor> {
        let logits = self.logits(x, t)?;
        let mut parts = Vec::new();
        let mut start = 0;
        for (_, values) in GROUPS {
            parts.push(candle_nn::ops::log_softmax(&logits.narrow(1, start, values.len())?, 1)?);
            start += values.len();
        }
        Tensor::cat(&parts, 1)
    }
}

/// What the classifier's `model.json` records: the card envelope ([`crate::card`]) of kind
/// [`KIND`] with the classifier's [`ClfConfig`] as `arch` and the run (with its held-out
/// accuracy) as `training`.
pub type ClfCard = Envelope<ClfConfig, Training>;

/// The envelope's `kind` of the classifier.
pub const KIND: &str = "clevr-classifier";

/// An old classifier card (`"format": 1`, with `accuracy`) as the envelope.
pub fn legacy(value: &serde_json::Value) -> Option<std::result::Result<ClfCard, String>> {
    card::legacy_of(KIND, value, |c: &ClfConfig| c.native_steps)
}

/// The classifier's accuracy at one noise level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoiseAccuracy {
    pub t: usize,
    pub sigma: f64,
    pub images: usize,
    pub colour: f64,
    pub shape: f64,
    pub size: f64,
    pub all: f64,
}

impl ClfCard {
    /// Reads `dir/model.json`, the envelope or an old card ([`legacy`]); a missing folder or
    /// file is [`crate::NoWeights`], an unreadable or malformed card, or one whose weights file is
    /// not the one it describes, [`LoadError::BadCard`].
    pub fn read(dir: &Path) -> LoadResult<Self> {
        let path = dir.join(card::CARD);
        let c = crate::card::read(NAME, &[NAME], KIND, dir, legacy)?;
        if c.schedule.kind != "cosine" || c.schedule.steps != c.arch.native_steps {
            return Err(LoadError::bad_card(
                NAME,
                &path,
                format!("{}: the schedule is not the network's ({} over {} steps)", path.display(), c.schedule.kind, c.schedule.steps),
            ));
        }
        c.arch.validate()?;
        Ok(c)
    }
}

/// Vocabulary: the 12 attributes as labels; a classifier with energies, on clevr's schedule.
pub fn info() -> ModelInfo {
    let mut info = attr::info();
    info.name = NAME.into();
    info.description = "a noise-conditional classifier of the attribute scenes: colour, shape, size (classifier guidance)".into();
    info.energies = true;
    info.classifier = true;
    for c in &mut info.concepts {
        c.description = format!("p({} | x_t)", c.name);
    }
    info
}

/// The loaded classifier as a model of scripts.
pub struct ClevrClf {
    info: ModelInfo,
    schedule: Schedule,
    net: ClfNet,
    card: Option<ClfCard>,
}

impl ClevrClf {
    /// Loads the classifier from a folder (`model.json` + `model.safetensors`).
    pub fn load(dir: &Path, device: &Device) -> LoadResult<Self> {
        let c = ClfCard::read(dir)?;
        let path = dir.join(card::WEIGHTS);
        let tensors = weights::load_tensors(&path, device).map_err(|e| candle_core::Error::Msg(format!("model `{NAME}`: {e}")))?;
        let net = ClfNet::new(&c.arch, VarBuilder::from_tensors(tensors, DType::F32, device))
            .map_err(|e| candle_core::Error::Msg(format!("model `{NAME}`: {} does not fit its card: {e}", path.display())))?;
        let mut m = Self::from_net(net, &c.arch)?;
        m.card = Some(c);
        Ok(m)
    }

    pub fn from_net(net: ClfNet, cfg: &ClfConfig) -> Result<Self> {
        Ok(Self { info: info(), schedule: Schedule::cosine(cfg.native_steps, COSINE_S)?, net, card: None })
    }

    pub fn net(&self) -> &ClfNet {
        &self.net
    }

    pub fn card(&self) -> Option<&ClfCard> {
        self.card.as_ref()
    }
}

impl Denoiser for ClevrClf {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Nothing to prepare: the classifier is its own run.
    fn prepare(&self, _plan: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        Ok(Box::new(self))
    }
}

impl Prepared for ClevrClf {
    /// Per condition's rows: ε = −σ_t ∇ₓ log p(y | x_t) and energy −σ_t log p(y | x_t) (one
    /// forward and one backward pass over the rows of every label); 0 for `null`.
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput> {
        let rows = x.dim(0)?;
        if conds.is_empty() || !rows.is_multiple_of(conds.len()) {
            bail!("{NAME}: {rows} rows do not split over {} conditions", conds.len())
        }
        let n = rows / conds.len();
        let labels = attr::all_labels();
        // The label of each row (None for null rows).
        let mut pick = Vec::with_capacity(rows);
        for c in conds {
            let l = match c.as_concept() {
                None if c.is_null() => None,
                Some((name, [])) if labels.iter().any(|l| l == name) => labels.iter().position(|l| l == name),
                _ => bail!("`{NAME}` knows {} and `null`, not `{c}`", labels.join(", ")),
            };
            pick.extend(std::iter::repeat_n(l, n));
        }
        let active: Vec<usize> = (0..rows).filter(|&r| pick[r].is_some()).collect();
        let mut eps = vec![0f32; x.elem_count()];
        let mut energy = vec![0f32; rows];
        if !active.is_empty() {
            let idx = Tensor::from_vec(active.iter().map(|&r| r as u32).collect::<Vec<_>>(), active.len(), x.device())?;
            let xa = Var::from_tensor(&x.to_dtype(DType::F32)?.index_select(&idx, 0)?)?;
            let ta = t.to_dtype(DType::F32)?.index_select(&idx, 0)?;
            let lp = self.net.log_probs(xa.as_tensor(), &ta)?;
            let which: Vec<u32> = active.iter().map(|&r| pick[r].unwrap_or(0) as u32).collect();
            let which = Tensor::from_vec(which, (active.len(), 1), x.device())?;
            let chosen = lp.gather(&which, 1)?.squeeze(1)?;
            let grads = chosen.sum_all()?.backward()?;
            let g = grads.get(xa.as_tensor()).ok_or_else(|| candle_core::Error::Msg(format!("{NAME}: no gradient for x")))?;
            let g = g.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            let logp = chosen.to_dtype(DType::F32)?.to_vec1::<f32>()?;
            let ts = ta.to_vec1::<f32>()?;
            let per = x.elem_count() / rows;
            for (j, &r) in active.iter().enumerate() {
                let sigma = (1.0 - self.schedule.alpha_bar_at(ts[j] as f64)).sqrt() as f32;
                for k in 0..per {
                    eps[r * per + k] = -sigma * g[j * per + k];
                }
                energy[r] = -sigma * logp[j];
            }
        }
        let eps = Tensor::from_vec(eps, x.shape(), x.device())?;
        let energy = if want_energy { Some(Tensor::from_vec(energy, rows, x.device())?) } else { None };
        Ok(ModelOutput { eps, energy })
    }
}

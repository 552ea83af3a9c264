//! `clevr-pos`: a learned, conditional UNet for Composable Diffusion's positional CLEVR
//! experiment, on generated 32×32 scenes (the lab's `clevr::data`).
//!
//! The condition is one object's position `pos(x, y)` in [0, 1]² (y upward), embedded by a
//! linear layer added to the time embedding; `null` is a learned vector (10% of training labels
//! are dropped to it), so `base null` gives classifier-free guidance. The model predicts ε on a
//! 1000-step cosine schedule (improved DDPM); plans respace it to their step count (100 by
//! default, as in the paper). One forward pass evaluates all K conditions of a step: rows
//! `k·N..(k+1)·N` get condition k.
//!
//! Weights are trained by the lab (`comp-lab`, `clevr/train.rs`) and live in
//! `models/clevr-pos/` (see [`crate::locate`]); the folder's layout is in [`card`].
//!
//! The same network with an attribute label in place of the position is `clevr-attr`
//! ([`attr`]); [`Clevr`] loads either, as its card says.

pub mod attr;
pub mod blocks;
pub mod card;
pub mod classifier;
pub mod conv;
pub mod direct;
pub mod embed;
pub mod norm;
pub mod resblock;
pub mod simd;
pub mod unet;

use std::cell::Cell;

use std::path::Path;

use candle_core::{bail, DType, Device, Result, Tensor};
use candle_nn::VarBuilder;
use comp_plan::{Concept, DefaultBase, ModelInfo, Param, ParamKind};
use comp_plan::{Condition, ConditionKind, SamplePlan};

pub use card::Card;
pub use unet::{Config, Unet};

use comp_runtime::Schedule;
use comp_runtime::{Denoiser, ModelOutput, Prepared};

use crate::error::LoadResult;

/// The side of the model's square images, in pixels.
pub const SIZE: usize = 32;

/// The model's name in scripts: `model clevr-pos`.
pub const NAME: &str = "clevr-pos";

/// Rows per UNet pass on the CPU: beyond this the activations outgrow the cache and the time
/// per row grows again (`lab/benches/clevr_unet.rs`, 2-core CPU under load: 11.1, 9.9 and
/// 11.6 ms/row at 16, 32 and 64 rows). The executor still makes one call per step.
const CPU_CHUNK: usize = 32;

thread_local! {
    static REFERENCE_OPS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the UNet's layers built from candle's own ops (`conv2d`, basic-op GroupNorm),
/// as on a GPU, instead of the CPU kernels of [`conv`] and [`norm`]: the reference that tests
/// and benchmarks compare the kernels against. Per thread.
pub fn with_reference_ops<R>(f: impl FnOnce() -> R) -> R {
    let before = REFERENCE_OPS.with(|r| r.replace(true));
    let out = f();
    REFERENCE_OPS.with(|r| r.set(before));
    out
}

/// Whether the layers take candle's ops for `x`: off the CPU, or under [`with_reference_ops`].
fn reference_ops(x: &Tensor) -> bool {
    !x.device().is_cpu() || !matches!(x.dtype(), DType::F32 | DType::F64) || REFERENCE_OPS.with(|r| r.get())
}

/// The cosine schedule's offset (improved DDPM).
pub const COSINE_S: f64 = 0.008;

/// Vocabulary and defaults: `pos(x: 0..1, y: 0..1)`, no energies, no text; the paper's
/// settings (scale 7.5, base null, 100 steps).
pub fn info() -> ModelInfo {
    let unit = |name: &str, what: &str| Param {
        name: name.into(),
        kind: ParamKind::Number { min: 0.0, max: 1.0, integer: false },
        default: None,
        description: what.into(),
    };
    ModelInfo {
        name: NAME.into(),
        description: "object positions in 32×32 CLEVR-style scenes (learned UNet)".into(),
        data_shape: vec![3, SIZE, SIZE],
        concepts: vec![Concept {
            name: "pos".into(),
            description: "an object centred at (x, y); x rightward, y upward".into(),
            params: vec![unit("x", "horizontal position, 0 = left edge"), unit("y", "vertical position, 0 = bottom edge")],
        }],
        text: false,
        energies: false,
        default_scale: 7.5,
        default_base: DefaultBase::Null,
        default_steps: 100,
        max_steps: 1000,
        default_samples: 8,
        extra_settings: vec![],
        image_size: None,
        default_sampler: None,
        dtypes: false,
        schedule: Some(crate::toy2d::cosine_schedule(1000, COSINE_S)),
        latent_space: None,
        classifier: false,
    }
}

/// The loaded model (clevr-pos or clevr-attr, as its network's config says): the UNet, its
/// schedule and card.
pub struct Clevr {
    info: ModelInfo,
    schedule: Schedule,
    unet: Unet,
    card: Option<Card>,
    /// The attribute labels (empty for clevr-pos).
    labels: Vec<String>,
}

impl Clevr {
    /// Loads a trained clevr-pos model from a folder (`model.json` + `model.safetensors`). A
    /// missing folder or file is [`crate::LoadError::NoWeights`], a malformed card
    /// [`crate::LoadError::BadCard`]; corrupt weights say what is wrong.
    pub fn load(dir: &Path, device: &Device) -> LoadResult<Self> {
        Self::load_as(NAME, dir, device)
    }

    /// Loads a trained model of kind `kind` (`clevr-pos` or `clevr-attr`) from a folder; a
    /// card of the other kind is refused by name.
    pub fn load_as(kind: &str, dir: &Path, device: &Device) -> LoadResult<Self> {
        let card = Card::read_as(kind, dir)?;
        let path = dir.join(card::WEIGHTS);
        let tensors = card::read_tensors(&path, device)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let unet = Unet::new(&card.arch, vb)
            .map_err(|e| candle_core::Error::Msg(format!("model `{kind}`: {} does not fit its card: {e}", path.display())))?;
        let mut m = Self::from_unet(unet, &card.arch)?;
        m.card = Some(card);
        Ok(m)
    }

    /// Wraps a network (for example one being trained) as a denoiser.
    pub fn from_unet(unet: Unet, cfg: &Config) -> Result<Self> {
        let info = if cfg.labels.is_empty() { info() } else { attr::info_for(&cfg.labels) };
        Ok(Self { info, schedule: Schedule::cosine(cfg.native_steps, COSINE_S)?, unet, card: None, labels: cfg.labels.clone() })
    }

    /// The attribute labels of a clevr-attr model, in the order of its one-hot input (empty
    /// for clevr-pos).
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn unet(&self) -> &Unet {
        &self.unet
    }

    /// The card it was loaded with (none for an in-memory network).
    pub fn card(&self) -> Option<&Card> {
        self.card.as_ref()
    }
}

/// Positions `[R, 2]` and mask `[R]` for `rows` rows split evenly over `conds`.
pub fn condition_rows(conds: &[&Condition], rows: usize, device: &Device) -> Result<(Tensor, Tensor)> {
    label_rows(conds, &[], rows, device)
}

/// The condition rows of a model with `labels` (none: positions): `[R, 2]` positions or
/// `[R, labels]` one-hot attributes, and the mask `[R]`, for `rows` rows split evenly over
/// `conds`.
pub fn label_rows(conds: &[&Condition], labels: &[String], rows: usize, device: &Device) -> Result<(Tensor, Tensor)> {
    if conds.is_empty() || !rows.is_multiple_of(conds.len()) {
        bail!("{rows} rows do not split over {} conditions", conds.len())
    }
    let n = rows / conds.len();
    let width = if labels.is_empty() { 2 } else { labels.len() };
    let (mut xy, mut mask) = (Vec::with_capacity(width * rows), Vec::with_capacity(rows));
    for c in conds {
        let mut row = vec![0f32; width];
        let m = match &c.kind {
            ConditionKind::Null => 0.0,
            ConditionKind::Concept { name, args } => match (name.as_str(), args.as_slice()) {
                ("pos", &[x, y]) if labels.is_empty() => {
                    row = vec![x as f32, y as f32];
                    1.0f32
                }
                (name, []) if labels.iter().any(|l| l == name) => {
                    row[labels.iter().position(|l| l == name).unwrap_or(0)] = 1.0;
                    1.0
                }
                _ if labels.is_empty() => bail!("`{NAME}` knows `pos(x, y)` and `null`, not `{c}`"),
                _ => bail!("`{}` knows {} and `null`, not `{c}`", attr::NAME, labels.join(", ")),
            },
            ConditionKind::Text { .. } => bail!("`{NAME}` takes no text prompts, not {c}"),
        };
        for _ in 0..n {
            xy.extend_from_slice(&row);
            mask.push(m);
        }
    }
    Ok((Tensor::from_vec(xy, (rows, width), device)?, Tensor::from_vec(mask, rows, device)?))
}

impl Denoiser for Clevr {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Nothing to prepare: the UNet is its own run.
    fn prepare(&self, _plan: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        Ok(Box::new(self))
    }

    /// Scenes are images in [−1, 1]: sampling clips x̂₀ to it, as improved DDPM does.
    fn x0_range(&self, _sampler: &comp_plan::Sampler) -> Option<(f32, f32)> {
        Some((-1.0, 1.0))
    }
}

impl Prepared for Clevr {
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput> {
        if want_energy {
            bail!("`{}` has no energies (it predicts ε only)", self.info.name)
        }
        let rows = x.dim(0)?;
        let (xy, mask) = label_rows(conds, &self.labels, rows, x.device())?;
        if !x.device().is_cpu() || rows <= CPU_CHUNK {
            let eps = self.unet.forward(x, t, &xy, &mask)?.to_dtype(DType::F32)?;
            return Ok(ModelOutput { eps, energy: None });
        }
        let mut parts = Vec::with_capacity(rows.div_ceil(CPU_CHUNK));
        for start in (0..rows).step_by(CPU_CHUNK) {
            let len = CPU_CHUNK.min(rows - start);
            let part = self.unet.forward(
                &x.narrow(0, start, len)?,
                &t.narrow(0, start, len)?,
                &xy.narrow(0, start, len)?,
                &mask.narrow(0, start, len)?,
            )?;
            parts.push(part.to_dtype(DType::F32)?);
        }
        Ok(ModelOutput { eps: Tensor::cat(&parts, 0)?, energy: None })
    }
}

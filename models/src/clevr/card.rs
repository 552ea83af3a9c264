//! A trained clevr-pos model on disk: a folder holding `model.safetensors` (the EMA weights,
//! what sampling uses), `model.json` (the [`Card`], the one card envelope of [`crate::card`]:
//! the network's [`Config`] as `arch`, the schedule, and how it was trained, including the
//! step count, as `training`; cards of the shape before the envelope, [`OldCard`], still
//! load) and, for `comp train --resume`,
//! `train.safetensors` (the raw, non-EMA weights). The card is written last, so a folder with
//! a card holds a complete checkpoint.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{bail, DType, Device, Result, Tensor};
use candle_nn::VarMap;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::classifier::NoiseAccuracy;
use super::unet::Config;
use super::{COSINE_S, NAME};
use crate::card::{Envelope, ScheduleCard};
use crate::error::{LoadError, LoadResult};
use crate::weights;
use comp_runtime::error::message;

/// The model card's file name.
pub const CARD: &str = weights::CARD_FILE;
/// The EMA weights, used for sampling.
pub const WEIGHTS: &str = weights::WEIGHTS_FILE;
/// The raw weights, used to resume training.
pub const TRAIN_WEIGHTS: &str = "train.safetensors";
/// The old cards' `format` (a number; before the envelope).
pub const OLD_FORMAT: u32 = 1;
/// The envelope's `kind` of the clevr UNets (`clevr-pos`, `clevr-attr`).
pub const KIND: &str = "clevr-unet";

/// What `model.json` records: the card envelope ([`crate::card`]) with the UNet's [`Config`]
/// as `arch` and the run as `training`.
pub type Card = Envelope<Config, Training>;

/// How a clevr network was trained (the UNets' and the classifier's record).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Training {
    /// Optimiser steps taken.
    pub step: usize,
    pub seed: u64,
    pub batch: usize,
    pub lr: f64,
    pub ema_decay: f64,
    /// Learning-rate warm-up steps (linear from 0; constant after).
    #[serde(default)]
    pub warmup: usize,
    /// Mean training loss over the last logging window.
    pub loss: Option<f64>,
    /// Whether this is the tiny test configuration (never worth sampling from).
    pub tiny: bool,
    /// Device the training ran on, and its wall time so far.
    pub device: String,
    pub wall_s: f64,
    /// Training images seen (steps × batch).
    #[serde(default)]
    pub images: usize,
    /// Images per second of wall time over the whole run.
    #[serde(default)]
    pub images_per_s: f64,
    /// The machine: CPU model and cores (or the GPU).
    #[serde(default)]
    pub machine: String,
    /// The classifier's accuracy (all three groups right, and per group) of the EMA weights
    /// on held-out noised images, per native timestep; none for the UNets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accuracy: Vec<NoiseAccuracy>,
}

/// The card before the envelope (format 1), as the shipped clevr models have it; the
/// classifier's is the same with `accuracy`, its `config` a classifier's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OldCard<C> {
    pub format: u32,
    pub model: String,
    pub config: C,
    /// Always `cosine` (improved DDPM, s = 0.008) over `config.native_steps`.
    pub schedule: String,
    #[serde(flatten)]
    pub training: Training,
}

/// An old clevr card (`"format": 1`) of the envelope's `kind`, whose network has `steps`
/// native steps; `None` for JSON of another shape. Its `weights` are left empty (it had no
/// hash: [`crate::card::read`] takes the file's).
pub fn legacy_of<C: serde::de::DeserializeOwned>(
    kind: &str,
    value: &serde_json::Value,
    steps: impl Fn(&C) -> usize,
) -> Option<std::result::Result<Envelope<C, Training>, String>> {
    if !value.get("format").is_some_and(|f| f.is_u64()) {
        return None;
    }
    Some(match serde_json::from_value::<OldCard<C>>(value.clone()) {
        Ok(c) if c.format != OLD_FORMAT || c.schedule != "cosine" => Err(format!(
            "it is a card of format {} for `{}` (schedule {}); this comp reads format {OLD_FORMAT} cards (cosine)",
            c.format, c.model, c.schedule
        )),
        Ok(c) => {
            let mut card = Envelope::new(&c.model, kind, ScheduleCard::cosine(steps(&c.config), COSINE_S), c.config, c.training);
            card.weights.file = String::new();
            card.comp_version = String::new();
            Ok(card)
        }
        Err(e) => Err(e.to_string()),
    })
}

/// [`legacy_of`] for the UNets.
pub fn legacy(value: &serde_json::Value) -> Option<std::result::Result<Card, String>> {
    legacy_of(KIND, value, |c: &Config| c.native_steps)
}

impl Card {
    /// Reads a clevr-pos `dir/model.json`; a missing folder or card is [`crate::NoWeights`], an
    /// unreadable or malformed one [`LoadError::BadCard`].
    pub fn read(dir: &Path) -> LoadResult<Card> {
        Self::read_as(NAME, dir)
    }

    /// Reads `dir/model.json` of a model of kind `kind` (`clevr-pos` or `clevr-attr`), the
    /// envelope or an old card ([`legacy`]): a card of another model, or whose network does
    /// not match it, or whose weights file is not the one it describes, is
    /// [`LoadError::BadCard`].
    pub fn read_as(kind: &str, dir: &Path) -> LoadResult<Card> {
        let path = dir.join(CARD);
        let card = crate::card::read(kind, &[kind], KIND, dir, legacy)?;
        if card.schedule.kind != "cosine" || card.schedule.steps != card.arch.native_steps {
            return Err(LoadError::bad_card(
                kind,
                &path,
                format!(
                    "{}: the schedule is not the network's ({} over {} steps)",
                    path.display(),
                    card.schedule.kind,
                    card.schedule.steps
                ),
            ));
        }
        card.arch.validate().map_err(|e| LoadError::bad_card(kind, &path, format!("{}: {}", path.display(), message(&e))))?;
        if card.arch.model_name() != kind {
            return Err(LoadError::bad_card(kind, &path, format!("{} describes a `{}` network", path.display(), card.arch.model_name())));
        }
        Ok(card)
    }
}

/// Reads a safetensors file into named tensors on `device`, with a clear error for a missing
/// or corrupt file.
pub fn read_tensors(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    weights::load_tensors(path, device).map_err(|e| candle_core::Error::Msg(format!("model `{NAME}`: {e}")))
}

/// Writes named tensors as safetensors (f32), atomically.
pub fn write_tensors(path: &Path, tensors: &HashMap<String, Tensor>) -> Result<()> {
    weights::save_tensors(path, tensors, DType::F32).map(|_| ())
}

/// [`write_tensors`] with every tensor converted to `dtype` (f16 halves the shipped weights;
/// [`read_tensors`] users convert back to f32 on loading).
pub fn write_tensors_as(path: &Path, tensors: &HashMap<String, Tensor>, dtype: DType) -> Result<()> {
    weights::save_tensors(path, tensors, dtype).map(|_| ())
}

/// Named copies of a `VarMap`'s current values.
pub fn snapshot(varmap: &VarMap) -> Result<HashMap<String, Tensor>> {
    let data = varmap.data().lock().expect("VarMap lock");
    data.iter().map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?))).collect()
}

/// Overwrites every variable of `varmap` from a seeded generator, in name order, so that a
/// seed gives the same initial network everywhere (candle's CPU generator cannot be seeded).
/// GroupNorm scales start at 1, biases and shifts at 0, the null embedding N(0, 1), and
/// weights N(0, 1/fan_in) (LeCun), fan_in being all dimensions but the first.
pub fn init_weights(varmap: &VarMap, seed: u64) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = varmap.data().lock().expect("VarMap lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let n: usize = dims.iter().product();
        let leaf = name.rsplit('.').next().unwrap_or(name);
        let values: Vec<f32> = match leaf {
            "gamma" => vec![1.0; n],
            "beta" | "bias" => vec![0.0; n],
            "null" => (0..n).map(|_| StandardNormal.sample(&mut rng)).collect(),
            _ => {
                let fan_in: usize = dims.iter().skip(1).product::<usize>().max(1);
                let std = (1.0 / fan_in as f64).sqrt() as f32;
                (0..n)
                    .map(|_| {
                        let z: f32 = StandardNormal.sample(&mut rng);
                        std * z
                    })
                    .collect()
            }
        };
        let t = Tensor::from_vec(values, dims.as_slice(), var.device())?.to_dtype(var.dtype())?;
        var.set(&t)?;
    }
    Ok(())
}

/// Loads named tensors into the matching variables of `varmap` (every variable must be
/// present with its shape).
pub fn assign(varmap: &VarMap, tensors: &HashMap<String, Tensor>, what: &Path) -> Result<()> {
    let data = varmap.data().lock().expect("VarMap lock");
    for (name, var) in data.iter() {
        let Some(t) = tensors.get(name) else { bail!("model `{NAME}`: {} lacks the tensor `{name}`", what.display()) };
        if t.dims() != var.dims() {
            bail!("model `{NAME}`: {} has `{name}` of shape {:?}, expected {:?}", what.display(), t.dims(), var.dims())
        }
        var.set(&t.to_dtype(DType::F32)?.to_device(var.device())?.to_dtype(var.dtype())?)?;
    }
    Ok(())
}

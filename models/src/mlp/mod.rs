//! `toy2d-mlp` and `toy2d-mlp-eps`: *learned* denoisers for the toy2d concepts, trained by
//! the lab (`comp-lab`, `toy2d/train.rs`) and loaded from `models/NAME/`.
//!
//! * `toy2d-mlp`: RRR's energy parameterisation, E(x, t, c) = ‖f(x, t, c) − x‖², ε = ∇ₓE,
//!   so it has energies (OR, MALA, HMC) like the exact `toy2d`.
//! * `toy2d-mlp-eps`: the same network predicting ε directly, no energies: the score
//!   model of RRR's score-versus-energy comparison.
//!
//! Files: `net.rs` (the residual MLP), `energy.rs` (ε and E from f, the input gradient by
//! hand), `card.rs` (`model.json`). A model folder holds `model.safetensors` (the EMA of
//! training's weights, stored as f16 to keep the file small; computed in f32) and
//! `model.json`.

pub mod card;
pub mod energy;
pub mod net;

use std::path::Path;

use candle_core::{bail, DType, Device, Result, Tensor};
use comp_plan::Condition;
use comp_plan::{ModelInfo, SamplePlan};

pub use card::ModelCard;
pub use energy::{eps_energy, EpsEnergy, Param};
pub use net::{Arch, Net};

use super::toy2d;
use crate::error::{LoadError, LoadResult};
use crate::weights::{self, NoWeights};
use comp_runtime::{Denoiser, ModelOutput, Prepared, Schedule};

/// The energy-parameterised model's name in scripts.
pub const ENERGY_NAME: &str = "toy2d-mlp";
/// The ε-parameterised twin's name.
pub const EPS_NAME: &str = "toy2d-mlp-eps";
/// The weights file in a model folder.
pub const WEIGHTS_FILE: &str = weights::WEIGHTS_FILE;
/// The model card in a model folder.
pub const CARD_FILE: &str = weights::CARD_FILE;
/// The dtype weights are stored in (computation is f32).
pub const STORAGE_DTYPE: DType = DType::F16;

/// The registry name of a parameterisation.
pub fn name_of(param: Param) -> &'static str {
    match param {
        Param::Energy => ENERGY_NAME,
        Param::Eps => EPS_NAME,
    }
}

/// The parameterisation a registry name stands for.
pub fn param_of(name: &str) -> Option<Param> {
    match name {
        ENERGY_NAME => Some(Param::Energy),
        EPS_NAME => Some(Param::Eps),
        _ => None,
    }
}

/// The vocabulary and defaults: toy2d's concepts, with or without energies. Listed whether
/// or not weights are present (loading then says how to train them).
pub fn info(param: Param) -> ModelInfo {
    let base = toy2d::info();
    let description = match param {
        Param::Energy => "learned toy2d: residual MLP, energy-parameterised (E = |f - x|^2, eps = grad E)",
        Param::Eps => "learned toy2d: residual MLP predicting eps directly (no energies)",
    };
    ModelInfo { name: name_of(param).into(), description: description.into(), energies: param == Param::Energy, ..base }
}

/// Both learned toy2d models.
pub fn infos() -> Vec<ModelInfo> {
    vec![info(Param::Energy), info(Param::Eps)]
}

/// A loaded learned toy2d model.
pub struct Mlp {
    info: ModelInfo,
    schedule: Schedule,
    net: Net,
    card: ModelCard,
}

impl Mlp {
    /// A model from a card and its network (checked against each other).
    pub fn new(card: ModelCard, net: Net) -> Result<Self> {
        if card.format != crate::card::FORMAT || card.version != crate::card::VERSION || card.kind != card::KIND {
            bail!(
                "model card is a `{}` card of `{}` version {}; this comp reads `{}` cards of `{}` version {}",
                card.kind,
                card.format,
                card.version,
                card::KIND,
                crate::card::FORMAT,
                crate::card::VERSION
            )
        }
        if card.arch.net != net.arch {
            bail!("the card's architecture does not match the network's")
        }
        if card.arch.vocabulary.len() != card.arch.net.concepts {
            bail!("the card lists {} concepts, its architecture has {}", card.arch.vocabulary.len(), card.arch.net.concepts)
        }
        if card.schedule.kind != "cosine" {
            bail!("unknown schedule `{}` in the model card", card.schedule.kind)
        }
        let schedule = Schedule::cosine(card.schedule.steps, card.schedule.offset)?;
        let mut info = info(card.arch.param);
        info.name = card.model.clone();
        info.concepts.retain(|c| card.arch.vocabulary.contains(&c.name));
        info.schedule = Some(toy2d::cosine_schedule(card.schedule.steps, card.schedule.offset));
        Ok(Self { info, schedule, net, card })
    }

    /// Loads `dir/model.safetensors` and `dir/model.json` onto `device` as model `name`: no
    /// weights file is [`NoWeights`], a card that cannot be read, describes another model or
    /// another weights file [`LoadError::BadCard`]. The card is the envelope
    /// ([`crate::card::read`]) or the MLPs' old card ([`card::legacy`]).
    pub fn load_dir(name: &str, dir: &Path, device: &Device) -> LoadResult<Self> {
        let weights_path = dir.join(WEIGHTS_FILE);
        let card_path = dir.join(CARD_FILE);
        if !weights_path.is_file() {
            return Err(NoWeights::error(name, &weights_path));
        }
        let fail = |what: String| candle_core::Error::Msg(format!("model `{name}`: {what}"));
        let bad_card = |reason: String| LoadError::bad_card(name, &card_path, reason);
        if !card_path.is_file() {
            return Err(bad_card(format!("cannot read {}: there is no card (retrain it)", card_path.display())));
        }
        let card: ModelCard = crate::card::read(name, &[ENERGY_NAME, EPS_NAME], card::KIND, dir, card::legacy).map_err(|e| match e {
            LoadError::BadCard { reason, .. } => bad_card(format!("{reason} (retrain it)")),
            other => other,
        })?;
        if let Some(p) = param_of(name) {
            if card.arch.param != p {
                return Err(bad_card(format!(
                    "{} describes a `{}` model, expected `{}`",
                    card_path.display(),
                    card.arch.param.name(),
                    p.name()
                )));
            }
        }
        let bytes = weights::read_bytes(&weights_path).map_err(|e| fail(e.to_string()))?;
        let tensors = weights::parse_tensors(&bytes, &weights_path, device).map_err(|e| fail(e.to_string()))?;
        let net =
            Net::from_tensors(&card.arch.net, &weights::to_f32(tensors)?).map_err(|e| fail(format!("{}: {e}", weights_path.display())))?;
        // What `new` checks is the card (its format, version, vocabulary and schedule).
        let mut model = Self::new(card, net).map_err(|e| bad_card(comp_runtime::error::message(&e)))?;
        model.info.name = name.to_string();
        Ok(model)
    }

    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    pub fn net(&self) -> &Net {
        &self.net
    }

    pub fn param(&self) -> Param {
        self.card.arch.param
    }

    /// The embedding index of a condition's concept (`null`: the last row).
    pub fn concept_index(&self, c: &Condition) -> Result<u32> {
        let found = match c.as_concept() {
            None if c.is_null() => Some(self.card.arch.vocabulary.len()),
            Some((name, [])) => self.card.arch.vocabulary.iter().position(|v| v == name),
            _ => None,
        };
        match found {
            Some(i) => Ok(i as u32),
            None => bail!("{} has no concept `{c}` (it has {}, and null)", self.info.name, self.card.arch.vocabulary.join(", ")),
        }
    }
}

/// Writes `net` (as [`STORAGE_DTYPE`]) and `card` into `dir`, each file atomically: the weights first,
/// then the card with the weights' size and hash filled in. Returns the card as written.
pub fn save_dir(dir: &Path, net: &Net, card: ModelCard) -> Result<ModelCard> {
    std::fs::create_dir_all(dir).map_err(|e| candle_core::Error::Msg(format!("creating {}: {e}", dir.display())))?;
    let tensors = net.tensors().into_iter().collect();
    weights::save_tensors(&dir.join(WEIGHTS_FILE), &tensors, STORAGE_DTYPE)?;
    card.write(dir)
}

impl Denoiser for Mlp {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The residual stream and each block's hidden layer, forward and (for ε = ∇E) backward:
    /// about 16 vectors of `hidden` f32 per row.
    fn working_bytes_per_row(&self, _sample_shape: &[usize]) -> usize {
        16 * 4 * self.card.arch.net.hidden
    }

    fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Nothing to prepare: the network is its own run.
    fn prepare(&self, _plan: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        Ok(Box::new(self))
    }
}

impl Prepared for Mlp {
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput> {
        let (rows, _) = x.dims2().map_err(|e| e.context(format!("{}: x must be [K·N, 2]", self.info.name)))?;
        let k = conds.len();
        if k == 0 || !rows.is_multiple_of(k) {
            bail!("{}: x has {rows} rows, not a multiple of K = {k} conditions", self.info.name)
        }
        let n = rows / k;
        let ts = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        if ts.len() != rows {
            bail!("{}: t has {} entries for {rows} rows", self.info.name, ts.len())
        }
        let idx = conds.iter().map(|c| self.concept_index(c)).collect::<Result<Vec<_>>>()?;
        // One group per condition when each block shares its timestep (every sampling step);
        // one group per row otherwise.
        let shared = (0..k).all(|j| ts[j * n..(j + 1) * n].iter().all(|&v| v == ts[j * n]));
        let (gt, gc): (Vec<f32>, Vec<u32>) =
            if shared { ((0..k).map(|j| ts[j * n]).collect(), idx) } else { (ts.clone(), (0..rows).map(|r| idx[r / n]).collect()) };
        let here = x.device();
        let xs = x.to_dtype(DType::F32)?.to_device(self.net.device())?;
        let out = eps_energy(&self.net, self.card.arch.param, &xs, &gt, &gc)?;
        let eps = out.eps.to_device(here)?;
        let energy = match (want_energy, out.energy) {
            (true, Some(e)) => Some(e.to_device(here)?),
            _ => None,
        };
        Ok(ModelOutput { eps, energy })
    }
}

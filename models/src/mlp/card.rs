//! `model.json` of the toy2d MLPs: the one card envelope ([`crate::card`]) of kind [`KIND`],
//! with the MLP's own `arch` ([`MlpArch`]: parameterisation, network, vocabulary) and
//! `training` ([`TrainingCard`]). The loader reads the architecture, vocabulary and schedule
//! from it and checks that the weights file is the one the card describes. Cards of the shape
//! before the envelope (`{"format": "comp-mlp", "version": 1, "name": …}`, [`OldCard`]) still
//! load ([`legacy`]).

use serde::{Deserialize, Serialize};

use super::energy::Param;
use super::net::Arch;
use crate::card::Envelope;

pub use crate::card::ScheduleCard;
pub use crate::weights::{fnv1a64, WeightsCard};

/// The envelope's `kind` of the toy2d MLPs.
pub const KIND: &str = "mlp";
/// The old cards' `format` field.
pub const OLD_FORMAT: &str = "comp-mlp";
/// The old cards' version.
pub const OLD_VERSION: u32 = 1;

/// The model card: the envelope with the MLP's network and training record.
pub type ModelCard = Envelope<MlpArch, TrainingCard>;

/// The MLP's `arch`: its parameterisation, network and vocabulary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpArch {
    /// `energy` (E = ‖f − x‖², ε = ∇ₓE) or `eps` (ε = f).
    pub param: Param,
    /// The residual MLP's sizes (flattened into `arch`).
    #[serde(flatten)]
    pub net: Arch,
    /// Concept names by embedding index; index `vocabulary.len()` is the learned null.
    pub vocabulary: Vec<String>,
}

/// How the model was trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingCard {
    /// What the data was: `toy2d exact concepts, uniform over concepts`.
    pub data: String,
    pub seed: u64,
    pub steps: usize,
    pub batch: usize,
    pub optimizer: String,
    pub lr: f64,
    pub weight_decay: f64,
    /// EMA decay of the saved weights (with warm-up min(decay, (1 + n)/(10 + n))).
    pub ema: f64,
    /// Fraction of labels replaced by the null.
    pub label_drop: f64,
    /// Mean training loss over the last `final_loss_window` steps (raw weights).
    pub final_loss: f64,
    pub final_loss_window: usize,
    /// ε loss of the saved (EMA) weights on a fixed held-out batch.
    pub eval_loss: f64,
    pub eval_batch: usize,
    /// Training loss every `loss_every` steps (mean over each stretch).
    pub loss_curve: Vec<f64>,
    pub loss_every: usize,
    pub wall_time_s: f64,
    /// The device and thread count it ran on.
    pub device: String,
}

/// The card before the envelope (format `comp-mlp`, version 1), as the shipped toy2d models
/// have it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OldCard {
    pub format: String,
    pub version: u32,
    /// The registry name: `toy2d-mlp` or `toy2d-mlp-eps`.
    pub name: String,
    pub param: Param,
    pub arch: Arch,
    pub vocabulary: Vec<String>,
    pub schedule: ScheduleCard,
    pub training: TrainingCard,
    pub weights: WeightsCard,
    pub comp_version: String,
}

impl From<OldCard> for ModelCard {
    fn from(c: OldCard) -> Self {
        Envelope {
            format: crate::card::FORMAT.into(),
            version: crate::card::VERSION,
            model: c.name,
            kind: KIND.into(),
            weights: c.weights,
            schedule: c.schedule,
            training: c.training,
            arch: MlpArch { param: c.param, net: c.arch, vocabulary: c.vocabulary },
            comp_version: c.comp_version,
        }
    }
}

/// An old card (`"format": "comp-mlp"`) as the envelope; `None` for any other JSON.
pub fn legacy(value: &serde_json::Value) -> Option<Result<ModelCard, String>> {
    if value.get("format").and_then(|f| f.as_str()) != Some(OLD_FORMAT) {
        return None;
    }
    Some(match serde_json::from_value::<OldCard>(value.clone()) {
        Ok(c) if c.version != OLD_VERSION => {
            Err(format!("it is `{OLD_FORMAT}` version {}; this comp reads `{OLD_FORMAT}` version {OLD_VERSION}", c.version))
        }
        Ok(c) => Ok(c.into()),
        Err(e) => Err(e.to_string()),
    })
}

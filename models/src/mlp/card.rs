//! `model.json`, the model card next to `model.safetensors`: what was trained, how, and how
//! to run it. The loader reads the architecture, vocabulary and schedule from it and checks
//! that the weights file is the one the card describes.

use serde::{Deserialize, Serialize};

use super::energy::Param;
use super::net::Arch;

/// The card's `format` field.
pub const FORMAT: &str = "comp-mlp";
/// The card version this comp reads and writes.
pub const VERSION: u32 = 1;

/// The model card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The registry name: `toy2d-mlp` or `toy2d-mlp-eps`.
    pub name: String,
    /// `energy` (E = ‖f − x‖², ε = ∇ₓE) or `eps` (ε = f).
    pub param: Param,
    pub arch: Arch,
    /// Concept names by embedding index; index `vocabulary.len()` is the learned null.
    pub vocabulary: Vec<String>,
    pub schedule: ScheduleCard,
    pub training: TrainingCard,
    /// The weights file this card describes: its size and FNV-1a 64 hash (hex).
    pub weights: WeightsCard,
    /// The comp that trained it.
    pub comp_version: String,
}

/// The native noise schedule the model was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleCard {
    /// `cosine` (the only one trained so far).
    pub kind: String,
    pub steps: usize,
    /// The cosine offset s.
    pub offset: f64,
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

pub use crate::weights::{fnv1a64, WeightsCard};

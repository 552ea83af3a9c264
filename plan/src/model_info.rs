//! What the compiler knows of a model: its vocabulary and defaults. The compiler knows no model
//! itself; the CLI looks `ModelInfo`s up in the runtime and hands them in.

use serde::{Deserialize, Serialize};

/// A model's vocabulary and defaults, as the checker needs them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The name scripts use: `model toy2d`.
    pub name: String,
    /// One line for `comp models`.
    pub description: String,
    /// Shape of one sample: `[2]` for 2D points, `[3, 32, 32]` for images.
    pub data_shape: Vec<usize>,
    /// The concepts: bare names (`ring`) when `params` is empty, constructors (`pos(x, y)`)
    /// otherwise.
    pub concepts: Vec<Concept>,
    /// Whether the model takes text prompts (`"a red cube"`).
    pub text: bool,
    /// Whether the model returns energies (needed by `OR`, MALA and HMC).
    pub energies: bool,
    /// Guidance scale when the script sets none.
    pub default_scale: f64,
    /// Base condition when the script sets none.
    pub default_base: DefaultBase,
    /// Sampling steps when the script sets none.
    pub default_steps: usize,
    /// The most sampling steps: the length of the model's native noise schedule, which the
    /// sampler respaces to fewer steps but cannot stretch.
    pub max_steps: usize,
    /// Number of samples when the script sets none.
    pub default_samples: usize,
    /// Model-specific settings (for example `size`), each a number setting.
    pub extra_settings: Vec<Param>,
}

/// The base condition used when a script has no `base` statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultBase {
    /// `base none`: ε_b = 0, a pure product of experts.
    None,
    /// `base null`: the model's unconditional prediction.
    Null,
}

/// One concept of a model's vocabulary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Concept {
    pub name: String,
    pub description: String,
    /// Empty for a bare concept; the constructor's parameters otherwise, in positional order.
    pub params: Vec<Param>,
}

/// A typed, ranged parameter of a constructor or setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    /// The value used when the argument is left out; `None` makes it required.
    pub default: Option<f64>,
    pub description: String,
}

/// The type and allowed values of a parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ParamKind {
    /// A number in `min..=max`; `integer` requires a whole number.
    Number { min: f64, max: f64, integer: bool },
}

impl ModelInfo {
    pub fn concept(&self, name: &str) -> Option<&Concept> {
        self.concepts.iter().find(|c| c.name == name)
    }
}

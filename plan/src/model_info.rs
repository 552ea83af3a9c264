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
    /// The sampler when the script sets none (its steps are `default_steps`); `None`: DDPM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_sampler: Option<crate::Sampler>,
    /// The most sampling steps: the length of the model's native noise schedule, which the
    /// sampler respaces to fewer steps but cannot stretch.
    pub max_steps: usize,
    /// Number of samples when the script sets none.
    pub default_samples: usize,
    /// Model-specific settings, each a number setting.
    pub extra_settings: Vec<Param>,
    /// For models whose pictures come in sizes (`size WxH`): the sizes allowed and how a
    /// size maps to the shape of what the sampler samples. `None`: `data_shape` is fixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<ImageSize>,
    /// Whether the model computes in f16 and bf16 as well as f32 (the `dtype` setting).
    #[serde(default)]
    pub dtypes: bool,
    /// The noise schedule the model is trained on, in words (`cosine(T=100, s=0.008)`).
    /// Models composed in one file must share it: the sampler calls them all at one noise
    /// level per step. `None`: not stated (composing such a model with another is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// For latent models, the latent space's name (`sd-vae-f8c4`: the VAE's factor, channels
    /// and scaling): models composed in one file must share it. `None` for data models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent_space: Option<String>,
    /// A classifier p(y | x_t) rather than a denoiser: its concepts are its labels, and its term
    /// `clf.y` adds −σ_t·∇ₓ log p(y | x_t) (its "ε") times the term's coefficient to ε̂; its
    /// `null` is 0 (classifier guidance). It guides a denoiser of the same data and schedule:
    /// it can be neither a file's first model nor in a `base`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub classifier: bool,
}

/// The sizes a latent image model samples at. A picture of W×H pixels is sampled as a latent
/// of `[latent_channels, H/factor, W/factor]` (Stable Diffusion: 4 channels, factor 8).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageSize {
    /// Width and height when the script sets no `size`.
    pub default: [usize; 2],
    /// Each side is a multiple of this (the VAE's downsampling factor).
    pub multiple_of: usize,
    /// The smallest and largest side.
    pub min: usize,
    pub max: usize,
    pub latent_channels: usize,
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
    /// The shape of one sample as the sampler sees it, for a `size` (`[width, height]`) or the
    /// model's default: `data_shape` for fixed-size models.
    pub fn sample_shape(&self, size: Option<[usize; 2]>) -> Vec<usize> {
        match &self.image_size {
            None => self.data_shape.clone(),
            Some(s) => {
                let [w, h] = size.unwrap_or(s.default);
                vec![s.latent_channels, h / s.multiple_of, w / s.multiple_of]
            }
        }
    }

    pub fn concept(&self, name: &str) -> Option<&Concept> {
        self.concepts.iter().find(|c| c.name == name)
    }
}

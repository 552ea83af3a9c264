//! A diffusers folder's `config.json` files, read into candle-transformers' configs: the UNet
//! and VAE are built from what the checkpoint says it is, not from a preset, so any SD 1.x /
//! 2.x-layout checkpoint loads (and so do the tests' tiny ones). What candle's UNet cannot
//! build (SDXL's added text-time embedding, class embeddings, other block types) is refused
//! here by name instead of failing later on a missing tensor.

use candle_core::{bail, Result};
use candle_transformers::models::stable_diffusion::{unet_2d, vae};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// Reads and parses a JSON file, naming it in every error.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| candle_core::Error::Msg(format!("reading {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| candle_core::Error::Msg(format!("{}: {e}", path.display())))
}

/// The most blocks a UNet or VAE config may list (SD has 4; each block halves the latent).
pub const MAX_BLOCKS: usize = 8;

/// A number or one per block (`attention_head_dim: 8` or `[5, 10, 20, 20]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum PerBlock {
    One(usize),
    Each(Vec<usize>),
}

impl PerBlock {
    pub fn get(&self, i: usize) -> Option<usize> {
        match self {
            PerBlock::One(v) => Some(*v),
            PerBlock::Each(v) => v.get(i).copied(),
        }
    }
}

/// `unet/config.json` (diffusers' `UNet2DConditionModel`).
#[derive(Clone, Debug, Deserialize)]
pub struct UnetJson {
    #[serde(default = "four")]
    pub in_channels: usize,
    #[serde(default = "four")]
    pub out_channels: usize,
    pub block_out_channels: Vec<usize>,
    pub down_block_types: Vec<String>,
    pub up_block_types: Vec<String>,
    #[serde(default = "two")]
    pub layers_per_block: usize,
    pub attention_head_dim: PerBlock,
    pub cross_attention_dim: usize,
    #[serde(default)]
    pub use_linear_projection: bool,
    #[serde(default = "groups")]
    pub norm_num_groups: usize,
    #[serde(default = "norm_eps")]
    pub norm_eps: f64,
    #[serde(default = "one")]
    pub transformer_layers_per_block: PerBlock,
    #[serde(default)]
    pub center_input_sample: bool,
    #[serde(default = "yes")]
    pub flip_sin_to_cos: bool,
    #[serde(default)]
    pub freq_shift: f64,
    #[serde(default = "one_usize")]
    pub downsample_padding: usize,
    #[serde(default = "one_f64")]
    pub mid_block_scale_factor: f64,
    #[serde(default)]
    pub addition_embed_type: Option<String>,
    #[serde(default)]
    pub class_embed_type: Option<String>,
    #[serde(default)]
    pub num_class_embeds: Option<usize>,
    /// The latent side the model was trained at (64 for 512-pixel models, 96 for 768).
    #[serde(default)]
    pub sample_size: Option<usize>,
}

fn four() -> usize {
    4
}
fn two() -> usize {
    2
}
fn groups() -> usize {
    32
}
fn norm_eps() -> f64 {
    1e-5
}
fn one() -> PerBlock {
    PerBlock::One(1)
}
fn one_usize() -> usize {
    1
}
fn one_f64() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

impl UnetJson {
    /// candle's config, or what about this checkpoint it cannot build.
    pub fn to_candle(&self, path: &Path) -> Result<unet_2d::UNet2DConditionModelConfig> {
        let unsupported = |what: String| -> Result<unet_2d::UNet2DConditionModelConfig> {
            bail!("{}: {what}; comp runs SD 1.x and 2.x UNets (see docs/stable-diffusion.md)", path.display())
        };
        if let Some(t) = &self.addition_embed_type {
            return unsupported(format!("`addition_embed_type: {t}` (SDXL's pooled text and size embedding) is not supported"));
        }
        if self.class_embed_type.is_some() || self.num_class_embeds.is_some() {
            return unsupported("class-conditioned UNets (`class_embed_type`) are not supported".into());
        }
        let n = self.block_out_channels.len();
        let bad =
            |field: &str, why: String| -> Result<unet_2d::UNet2DConditionModelConfig> { bail!("{}: `{field}` {why}", path.display()) };
        if n > MAX_BLOCKS {
            return bad("block_out_channels", format!("has {n} blocks; comp reads at most {MAX_BLOCKS} (SD has 4)"));
        }
        for (field, value) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("layers_per_block", self.layers_per_block),
            ("cross_attention_dim", self.cross_attention_dim),
            ("norm_num_groups", self.norm_num_groups),
        ] {
            if value == 0 {
                return bad(field, "must be at least 1, found 0".into());
            }
        }
        if let Some(&c) = self.block_out_channels.iter().find(|&&c| c == 0) {
            return bad("block_out_channels", format!("must all be at least 1, found {c}"));
        }
        if self.downsample_padding > 8 {
            return bad("downsample_padding", format!("must be at most 8 (SD's is 1), found {}", self.downsample_padding));
        }
        if !(self.norm_eps.is_finite() && self.norm_eps > 0.0) {
            return bad("norm_eps", format!("must be a positive number, found {}", self.norm_eps));
        }
        if n == 0 || self.down_block_types.len() != n || self.up_block_types.len() != n {
            return unsupported(format!(
                "{} block_out_channels, {} down blocks and {} up blocks must be as many",
                n,
                self.down_block_types.len(),
                self.up_block_types.len()
            ));
        }
        let mut blocks = Vec::with_capacity(n);
        for (i, down) in self.down_block_types.iter().enumerate() {
            let cross = match down.as_str() {
                "CrossAttnDownBlock2D" => true,
                "DownBlock2D" => false,
                other => return unsupported(format!("down block `{other}` is not supported")),
            };
            // candle builds the up path as the mirror of the down path: check the file agrees.
            let up = &self.up_block_types[n - 1 - i];
            let up_cross = match up.as_str() {
                "CrossAttnUpBlock2D" => true,
                "UpBlock2D" => false,
                other => return unsupported(format!("up block `{other}` is not supported")),
            };
            if up_cross != cross {
                return unsupported(format!("up block `{up}` does not mirror down block `{down}`"));
            }
            let heads = self.attention_head_dim.get(i);
            let layers = self.transformer_layers_per_block.get(i);
            let (Some(heads), Some(layers)) = (heads, layers) else {
                return unsupported(format!("`attention_head_dim` or `transformer_layers_per_block` has no entry for block {i}"));
            };
            let channels = self.block_out_channels[i];
            // The mid block attends with the last block's heads, whatever its type.
            let attends = cross || i + 1 == n;
            if attends && (heads == 0 || !channels.is_multiple_of(heads)) {
                return bad(
                    "attention_head_dim",
                    format!("of block {i} ({heads} heads) must divide its {channels} channels (`block_out_channels`) and be at least 1"),
                );
            }
            if layers == 0 || layers > 64 {
                return bad("transformer_layers_per_block", format!("of block {i} must be in 1..=64, found {layers}"));
            }
            blocks.push(unet_2d::BlockConfig {
                out_channels: channels,
                use_cross_attn: cross.then_some(layers),
                attention_head_dim: heads,
            });
        }
        // candle-transformers 0.11 builds the ResNets of `DownBlock2D` and `UpBlock2D` with 32
        // groups whatever the config says (their `ResnetBlock2DConfig` keeps its default), so
        // any other value would run a different network than the folder's: refused. Every SD
        // 1.x and 2.x UNet has 32.
        if self.norm_num_groups != 32 {
            return unsupported(format!(
                "norm_num_groups {} (candle-transformers 0.11's UNet builds part of its ResNets with 32 groups whatever the config says, so comp runs only UNets with 32, as every SD 1.x and 2.x has)",
                self.norm_num_groups
            ));
        }
        if self.block_out_channels.iter().any(|&c| !c.is_multiple_of(self.norm_num_groups)) {
            return unsupported(format!(
                "block_out_channels {:?} are not multiples of norm_num_groups {}",
                self.block_out_channels, self.norm_num_groups
            ));
        }
        Ok(unet_2d::UNet2DConditionModelConfig {
            center_input_sample: self.center_input_sample,
            flip_sin_to_cos: self.flip_sin_to_cos,
            freq_shift: self.freq_shift,
            blocks,
            layers_per_block: self.layers_per_block,
            downsample_padding: self.downsample_padding,
            mid_block_scale_factor: self.mid_block_scale_factor,
            norm_num_groups: self.norm_num_groups,
            norm_eps: self.norm_eps,
            cross_attention_dim: self.cross_attention_dim,
            sliced_attention_size: None,
            use_linear_projection: self.use_linear_projection,
        })
    }

    /// The attention heads of the highest-resolution cross-attention block (for the memory
    /// estimate: its attention matrix is the largest).
    pub fn first_heads(&self) -> usize {
        self.attention_head_dim.get(0).unwrap_or(8).max(1)
    }
}

/// `vae/config.json` (diffusers' `AutoencoderKL`).
#[derive(Clone, Debug, Deserialize)]
pub struct VaeJson {
    pub block_out_channels: Vec<usize>,
    #[serde(default = "two")]
    pub layers_per_block: usize,
    #[serde(default = "four")]
    pub latent_channels: usize,
    #[serde(default = "groups")]
    pub norm_num_groups: usize,
    #[serde(default = "scaling")]
    pub scaling_factor: f64,
    #[serde(default = "yes")]
    pub use_quant_conv: bool,
    #[serde(default = "yes")]
    pub use_post_quant_conv: bool,
}

fn scaling() -> f64 {
    0.18215
}

impl VaeJson {
    /// Refuses what candle's VAE cannot build (it would divide by zero or index an empty
    /// list), naming `path` and the field.
    pub fn check(&self, path: &Path) -> Result<()> {
        let n = self.block_out_channels.len();
        if n == 0 || n > MAX_BLOCKS {
            bail!("{}: `block_out_channels` must list 1 to {MAX_BLOCKS} blocks (SD's VAE has 4), found {n}", path.display())
        }
        for (field, value) in [
            ("layers_per_block", self.layers_per_block),
            ("latent_channels", self.latent_channels),
            ("norm_num_groups", self.norm_num_groups),
        ] {
            if value == 0 {
                bail!("{}: `{field}` must be at least 1, found 0", path.display())
            }
        }
        if let Some(c) = self.block_out_channels.iter().find(|&&c| c == 0 || !c.is_multiple_of(self.norm_num_groups)) {
            bail!(
                "{}: `block_out_channels` {:?} must be multiples of `norm_num_groups` {} (found {c})",
                path.display(),
                self.block_out_channels,
                self.norm_num_groups
            )
        }
        if !(self.scaling_factor.is_finite() && self.scaling_factor > 0.0) {
            bail!("{}: `scaling_factor` must be a positive number (SD's is 0.18215), found {}", path.display(), self.scaling_factor)
        }
        Ok(())
    }

    pub fn to_candle(&self) -> vae::AutoEncoderKLConfig {
        vae::AutoEncoderKLConfig {
            block_out_channels: self.block_out_channels.clone(),
            layers_per_block: self.layers_per_block,
            latent_channels: self.latent_channels,
            norm_num_groups: self.norm_num_groups,
            use_quant_conv: self.use_quant_conv,
            use_post_quant_conv: self.use_post_quant_conv,
        }
    }

    /// Pixels per latent cell: 2 per downsampling block (8 for SD's four blocks).
    pub fn factor(&self) -> usize {
        1 << self.block_out_channels.len().saturating_sub(1)
    }
}

/// What the model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prediction {
    /// The noise ε (SD 1.x, 2.1-base, SD-Turbo).
    Epsilon,
    /// v = √ᾱ·ε − √(1−ᾱ)·x₀ (SD 2.1 at 768).
    V,
}

/// How the β of the training schedule are given (`beta_schedule`, or `trained_betas`).
#[derive(Clone, Debug, PartialEq)]
pub enum Betas {
    /// β evenly spaced in √β from `beta_start` to `beta_end` (SD's).
    ScaledLinear,
    /// β evenly spaced from `beta_start` to `beta_end`.
    Linear,
    /// improved DDPM's cosine schedule (`squaredcos_cap_v2`, β capped at 0.999).
    Cosine,
    /// The list itself (`trained_betas`).
    Trained(Vec<f64>),
}

/// `scheduler/scheduler_config.json`: the training schedule and how upstream samples it.
///
/// Every key diffusers writes is either followed or refused by name ([`SCHEDULER_KEYS`]): comp
/// never samples a different schedule than the folder states.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerJson {
    pub beta_start: f64,
    pub beta_end: f64,
    pub betas: Betas,
    pub train_timesteps: usize,
    pub prediction: Prediction,
    pub steps_offset: usize,
    pub spacing: String,
    pub set_alpha_to_one: bool,
    /// `clip_sample` as written; absent, diffusers' default of the scheduler class that
    /// corresponds to comp's sampler applies ([`SchedulerJson::clips`]).
    pub clip_sample: Option<bool>,
    pub clip_sample_range: f64,
    /// `rescale_betas_zero_snr`.
    pub zero_snr: bool,
    /// `_class_name`, for messages.
    pub class: Option<String>,
}

/// What comp does with a key of `scheduler_config.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    /// Read and followed.
    Followed,
    /// A setting of diffusers' own sampling loop for that scheduler class (its solver order,
    /// its PNDM warm-up...), which comp replaces with the script's `sampler`: it changes
    /// neither the training schedule nor the noise levels visited.
    SamplerOnly,
    /// Refused by name unless it has its default (`false`, `null`, or the value given).
    RefusedUnlessDefault,
}

/// Every key diffusers' schedulers write, and what comp does with it. A key not listed is
/// refused by name.
pub const SCHEDULER_KEYS: &[(&str, KeyUse)] = &[
    ("num_train_timesteps", KeyUse::Followed),
    ("beta_start", KeyUse::Followed),
    ("beta_end", KeyUse::Followed),
    ("beta_schedule", KeyUse::Followed),
    ("trained_betas", KeyUse::Followed),
    ("prediction_type", KeyUse::Followed),
    ("timestep_spacing", KeyUse::Followed),
    ("steps_offset", KeyUse::Followed),
    ("set_alpha_to_one", KeyUse::Followed),
    ("clip_sample", KeyUse::Followed),
    ("clip_sample_range", KeyUse::Followed),
    ("rescale_betas_zero_snr", KeyUse::Followed),
    ("skip_prk_steps", KeyUse::SamplerOnly),
    ("solver_order", KeyUse::SamplerOnly),
    ("solver_type", KeyUse::SamplerOnly),
    ("algorithm_type", KeyUse::SamplerOnly),
    ("lower_order_final", KeyUse::SamplerOnly),
    ("euler_at_final", KeyUse::SamplerOnly),
    ("final_sigmas_type", KeyUse::SamplerOnly),
    ("lambda_min_clipped", KeyUse::SamplerOnly),
    ("interpolation_type", KeyUse::SamplerOnly),
    ("timestep_type", KeyUse::SamplerOnly),
    ("sigma_min", KeyUse::SamplerOnly),
    ("sigma_max", KeyUse::SamplerOnly),
    ("s_noise", KeyUse::SamplerOnly),
    ("predict_x0", KeyUse::SamplerOnly),
    ("disable_corrector", KeyUse::SamplerOnly),
    ("solver_p", KeyUse::SamplerOnly),
    ("use_clipped_model_output", KeyUse::SamplerOnly),
    ("variance_type", KeyUse::RefusedUnlessDefault),
    ("thresholding", KeyUse::RefusedUnlessDefault),
    ("dynamic_thresholding_ratio", KeyUse::SamplerOnly),
    ("sample_max_value", KeyUse::SamplerOnly),
    ("use_karras_sigmas", KeyUse::RefusedUnlessDefault),
    ("use_exponential_sigmas", KeyUse::RefusedUnlessDefault),
    ("use_beta_sigmas", KeyUse::RefusedUnlessDefault),
    ("use_lu_lambdas", KeyUse::RefusedUnlessDefault),
    ("use_flow_sigmas", KeyUse::RefusedUnlessDefault),
    ("use_dynamic_shifting", KeyUse::RefusedUnlessDefault),
    ("flow_shift", KeyUse::RefusedUnlessDefault),
    ("shift", KeyUse::RefusedUnlessDefault),
];

/// Why a key that is not at its default is refused.
fn refusal(key: &str) -> &'static str {
    match key {
        "thresholding" => "dynamic thresholding (Imagen's) clips each x̂₀ to a percentile of its own values; comp does not implement it, and diffusers warns it does not suit latent-space models such as Stable Diffusion",
        "variance_type" => "comp's DDPM samples with the posterior variance (`fixed_small`); a learned variance needs a UNet with twice the output channels, which comp does not run",
        "use_karras_sigmas" | "use_exponential_sigmas" | "use_beta_sigmas" | "use_lu_lambdas" => {
            "it chooses other noise levels to visit than the schedule's timesteps; comp visits the timesteps `timestep_spacing` picks"
        }
        _ => "it belongs to flow-matching schedulers, which comp does not run",
    }
}

/// Whether a refused-unless-default key has its default value.
fn at_default(key: &str, v: &Value) -> bool {
    match (key, v) {
        (_, Value::Null) | (_, Value::Bool(false)) => true,
        ("variance_type", Value::String(s)) => s == "fixed_small",
        ("flow_shift" | "shift", n) => n.as_f64() == Some(1.0),
        _ => false,
    }
}

impl SchedulerJson {
    /// SD 1.x / 2.x's values, for a folder without `scheduler/`.
    pub fn sd_default(prediction: Prediction) -> Self {
        Self {
            beta_start: 0.00085,
            beta_end: 0.012,
            betas: Betas::ScaledLinear,
            train_timesteps: 1000,
            prediction,
            steps_offset: 1,
            spacing: "leading".into(),
            set_alpha_to_one: false,
            clip_sample: Some(false),
            clip_sample_range: 1.0,
            zero_snr: false,
            class: None,
        }
    }

    /// Whether comp's `sampler` clips x̂₀ to ±`clip_sample_range` here, as diffusers' scheduler
    /// of the same kind does with this config (`DDIMScheduler.from_config(...)` for `ddim`,
    /// `DDPMScheduler` for `ddpm`): `clip_sample` when given, else their default, true. The
    /// other samplers' diffusers classes (Euler, DPM-Solver) never clip.
    pub fn clips(&self, sampler: &comp_plan::Sampler) -> bool {
        use comp_plan::Sampler;
        matches!(sampler, Sampler::Ddim { .. } | Sampler::Ddpm { .. }) && self.clip_sample.unwrap_or(true)
    }

    /// The training schedule the config states, before `set_alpha_to_one` (which only sets
    /// where sampling ends).
    pub fn schedule(&self, path: &Path) -> Result<comp_runtime::Schedule> {
        use comp_runtime::Schedule;
        let (t, b0, b1) = (self.train_timesteps, self.beta_start, self.beta_end);
        let native = match &self.betas {
            Betas::ScaledLinear => Schedule::scaled_linear(t, b0, b1),
            Betas::Linear => Schedule::linear_between(t, b0, b1),
            Betas::Cosine => Schedule::cosine(t, 0.008),
            Betas::Trained(list) => Schedule::from_beta_list(list),
        };
        // The schedule's own error lists every ᾱ: name the file and the fields instead.
        let native = native.map_err(|e| match &self.betas {
            Betas::Trained(_) => candle_core::Error::Msg(format!("{}: `trained_betas`: {e}", path.display())),
            _ => candle_core::Error::Msg(format!(
                "{}: `beta_start` {b0}, `beta_end` {b1} over `num_train_timesteps` {t} give a noise schedule whose ᾱ leaves (0, 1)",
                path.display()
            )),
        })?;
        if self.zero_snr {
            return native
                .zero_terminal_snr()
                .map_err(|e| candle_core::Error::Msg(format!("{}: `rescale_betas_zero_snr`: {e}", path.display())));
        }
        Ok(native)
    }

    /// Reads `path`; missing fields (or `null`) take SD's values. A field of the wrong type, or
    /// a value no schedule can be built from, is refused naming the file and the field (as the
    /// UNet and VAE configs are), never replaced by a default.
    pub fn read(path: &Path, default_prediction: Prediction) -> Result<Self> {
        let v: Value = read_json(path)?;
        let Some(obj) = v.as_object() else {
            bail!("{}: expected a JSON object of scheduler settings, found {}", path.display(), kind_of(&v))
        };
        let d = Self::sd_default(default_prediction);
        let field = |k: &str| obj.get(k).filter(|v| !v.is_null());
        let wrong = |k: &str, expected: &str, found: &Value| -> candle_core::Error {
            candle_core::Error::Msg(format!("{}: `{k}` must be {expected}, found {found}", path.display()))
        };
        let text = |k: &str| -> Result<Option<String>> {
            match field(k) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(wrong(k, "a string", other)),
            }
        };
        let number = |k: &str, default: f64| -> Result<f64> {
            match field(k) {
                None => Ok(default),
                Some(n) => n.as_f64().filter(|x| x.is_finite()).ok_or_else(|| wrong(k, "a number", n)),
            }
        };
        let whole = |k: &str, default: usize, range: std::ops::RangeInclusive<u64>| -> Result<usize> {
            match field(k) {
                None => Ok(default),
                Some(n) => match n.as_u64() {
                    Some(x) if range.contains(&x) => Ok(x as usize),
                    _ => Err(wrong(k, &format!("a whole number in {}..={}", range.start(), range.end()), n)),
                },
            }
        };
        let prediction = match text("prediction_type")?.as_deref() {
            None => d.prediction,
            Some("epsilon") => Prediction::Epsilon,
            Some("v_prediction") => Prediction::V,
            Some(other) => bail!("{}: `prediction_type: {other}` is not supported (expected `epsilon` or `v_prediction`)", path.display()),
        };
        for (key, v) in obj {
            if key.starts_with('_') {
                continue; // `_class_name`, `_diffusers_version`: provenance, not settings
            }
            match SCHEDULER_KEYS.iter().find(|(k, _)| k == key).map(|(_, u)| *u) {
                Some(KeyUse::Followed | KeyUse::SamplerOnly) => {}
                Some(KeyUse::RefusedUnlessDefault) if at_default(key, v) => {}
                Some(KeyUse::RefusedUnlessDefault) => {
                    bail!(
                        "{}: `{key}` = {v} is not supported: {}; remove it or set it to its default to run this folder",
                        path.display(),
                        refusal(key)
                    )
                }
                None => bail!(
                    "{}: `{key}` is a scheduler setting comp does not know, so it cannot promise to follow it; comp reads {}",
                    path.display(),
                    SCHEDULER_KEYS
                        .iter()
                        .filter(|(_, u)| *u == KeyUse::Followed)
                        .map(|(k, _)| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        let class = text("_class_name")?;
        let betas = match text("beta_schedule")?.as_deref() {
            None | Some("scaled_linear") => Betas::ScaledLinear,
            Some("linear") => Betas::Linear,
            Some("squaredcos_cap_v2") => Betas::Cosine,
            Some(other) => bail!(
                "{}: `beta_schedule: {other}` is not supported (expected `scaled_linear`, `linear` or `squaredcos_cap_v2`, or a `trained_betas` list)",
                path.display()
            ),
        };
        let flag = |k: &str| -> Result<Option<bool>> {
            match field(k) {
                None => Ok(None),
                Some(Value::Bool(b)) => Ok(Some(*b)),
                Some(other) => Err(wrong(k, "true or false", other)),
            }
        };
        let clip_sample = flag("clip_sample")?;
        let clip_sample_range = number("clip_sample_range", 1.0)?;
        if clip_sample_range <= 0.0 {
            bail!("{}: `clip_sample_range` must be positive, found {clip_sample_range}", path.display())
        }
        let zero_snr = flag("rescale_betas_zero_snr")?.unwrap_or(false);
        let spacing = text("timestep_spacing")?.unwrap_or_else(|| "leading".into());
        if !["leading", "trailing", "linspace"].contains(&spacing.as_str()) {
            bail!("{}: `timestep_spacing: {spacing}` is not supported (expected `leading`, `trailing` or `linspace`)", path.display())
        }
        let train = whole("num_train_timesteps", 1000, 2..=100_000)?;
        let (beta_start, beta_end) = (number("beta_start", d.beta_start)?, number("beta_end", d.beta_end)?);
        if !(beta_start > 0.0 && beta_start <= beta_end && beta_end < 1.0) {
            bail!(
                "{}: `beta_start` {beta_start} and `beta_end` {beta_end} must satisfy 0 < beta_start <= beta_end < 1 (SD's are 0.00085 and 0.012)",
                path.display()
            )
        }
        let steps_offset = whole("steps_offset", 0, 0..=u64::MAX)?;
        if steps_offset >= train {
            bail!("{}: `steps_offset` {steps_offset} must be below `num_train_timesteps` {train} (SD's is 1)", path.display())
        }
        let set_alpha_to_one = flag("set_alpha_to_one")?.unwrap_or(false);
        let betas = match field("trained_betas") {
            None => betas,
            Some(Value::Array(list)) => {
                let values: Option<Vec<f64>> = list.iter().map(|b| b.as_f64().filter(|x| x.is_finite())).collect();
                let Some(values) = values else {
                    return Err(wrong("trained_betas", "a list of numbers", &field("trained_betas").cloned().unwrap_or_default()));
                };
                if values.len() != train {
                    bail!("{}: `trained_betas` lists {} β but `num_train_timesteps` is {train}", path.display(), values.len())
                }
                Betas::Trained(values)
            }
            Some(other) => return Err(wrong("trained_betas", "a list of numbers", other)),
        };
        if zero_snr && prediction == Prediction::Epsilon {
            bail!(
                "{}: `rescale_betas_zero_snr` is true with `prediction_type` epsilon: at zero terminal SNR an ε-prediction says nothing about x₀ at the first step (diffusers' samplers divide by zero there); such schedules are for v-prediction models",
                path.display()
            )
        }
        let json = Self {
            beta_start,
            beta_end,
            betas,
            train_timesteps: train,
            prediction,
            steps_offset,
            spacing,
            set_alpha_to_one,
            clip_sample,
            clip_sample_range,
            zero_snr,
            class,
        };
        json.schedule(path)?;
        Ok(json)
    }
}

/// A JSON value's kind, for messages.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

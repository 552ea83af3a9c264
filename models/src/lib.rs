//! `comp-models`: the model registry and the models.
//!
//! | file | what |
//! | --- | --- |
//! | this file | [`REGISTRY`]: one table, name → vocabulary ([`ModelInfo`]) and loader |
//! | [`error`] | [`LoadError`]: what loading fails with ([`NoWeights`], a bad card, anything else), matched by variant |
//! | [`weights`] | a learned model's folder: safetensors load/save, the card, atomic writes, [`NoWeights`] |
//! | [`folders`] | models that are folders: `models/NAME/` with a card is model `NAME` of the card's kind |
//! | [`locate`] | where model folders are searched for (`models/NAME/`, `COMP_MODELS`) |
//! | [`toy2d`] | the exact 2D model: closed-form noised densities, exact scores and energies |
//! | [`toy2d_clf`] | the exact classifier p(c \| x_t) of toy2d's concepts (classifier guidance) |
//! | [`mlp`] | the learned toy2d MLPs (`toy2d-mlp`, `toy2d-mlp-eps`) |
//! | [`clevr`] | the clevr-pos and clevr-attr UNets (object positions, attributes in 32×32 scenes) |
//! | [`sd`] | Stable Diffusion 1.x / 2.x from a diffusers folder on disk (feature `sd`, on by default) |
//!
//! The compiler knows no model; the CLI asks here for `ModelInfo`s (to check scripts) and for a
//! loaded [`Denoiser`] (to run them). Learned models are listed whether or not their weights
//! are present; loading one without weights fails with [`LoadError::NoWeights`], which the
//! CLI matches to add the command that trains it (a model does not know the command line).
//!
//! A model under the runtime, with a hand-written plan for `sample s = ring AND bar` under
//! `base none` (what the compiler lowers that script to):
//!
//! ```
//! use comp_plan::{Combine, Condition, SamplePlan, Sampler, Segment, Settings};
//! use comp_runtime::{device, execute, ExecOptions};
//!
//! let dev = device("cpu")?;
//! let model = comp_models::load("toy2d", &dev)?;
//! let plan = SamplePlan {
//!     sample: "s".into(),
//!     model: "toy2d".into(),
//!     models: vec![],
//!     settings: Settings {
//!         sampler: Sampler::Ddpm { steps: 50 },
//!         mcmc: None,
//!         scale: 1.0,
//!         seed: 7,
//!         samples: 200,
//!         extra: Default::default(),
//!         size: None,
//!         dtype: None,
//!     },
//!     conditions: vec![Condition::concept(0, "ring", vec![]), Condition::concept(1, "bar", vec![])],
//!     segments: vec![Segment {
//!         from: 0.0,
//!         to: 1.0,
//!         active: vec![0, 1],
//!         combine: Combine::Linear { coeffs: vec![1.0, 1.0] },
//!     }],
//! };
//! let out = execute(&plan, model.as_ref(), &dev, &ExecOptions::default())?;
//! assert_eq!(out.samples.dims(), &[200, 2]);
//! assert_eq!(out.model_calls, 50); // one batched call per step for both conditions
//! # let dir = std::env::temp_dir().join(format!("comp-doc-{}", std::process::id()));
//! comp_output::write_samples(&dir, &out.samples)?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), candle_core::Error>(())
//! ```
// The clevr-pos convolution calls the GEMM kernel directly (one `unsafe` block, argued there).
#![deny(unsafe_code)]

pub mod card;
pub mod clevr;
pub mod error;
pub mod folders;
pub mod locate;
pub mod mlp;
#[cfg(feature = "sd")]
pub mod sd;
pub mod toy2d;
pub mod toy2d_clf;
pub mod weights;

use candle_core::Device;
use comp_plan::ModelInfo;
use comp_runtime::Denoiser;

pub use error::{LoadError, LoadResult};
pub use weights::NoWeights;

/// One model `comp` knows: its vocabulary and defaults, and how to load it.
pub struct Entry {
    pub name: &'static str,
    pub info: fn() -> ModelInfo,
    /// Loads the model onto a device; `dir` is the model's folder for learned models (see
    /// [`locate`]), ignored by models without weights.
    pub load: fn(dir: &std::path::Path, device: &Device) -> LoadResult<Box<dyn Denoiser>>,
    /// Where its weights come from.
    pub source: Source,
}

/// Where a model's weights come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// None: exact and built in (`toy2d`).
    BuiltIn,
    /// `models/NAME/model.safetensors`, trained by `comp train` (see [`locate`]).
    Trained,
    /// A diffusers folder on the user's disk, never downloaded (see `sd::folder`).
    Diffusers,
}

/// Every model, in the order `comp models` lists them.
pub const REGISTRY: &[Entry] = &[
    Entry {
        name: toy2d::NAME,
        info: toy2d::info,
        // toy2d is closed-form and computes on the CPU; its outputs go to x's device.
        load: |_, _| Ok(Box::new(toy2d::Toy2d::new()?)),
        source: Source::BuiltIn,
    },
    Entry { name: toy2d_clf::NAME, info: toy2d_clf::info, load: |_, _| Ok(Box::new(toy2d_clf::Toy2dClf::new()?)), source: Source::BuiltIn },
    Entry {
        name: mlp::ENERGY_NAME,
        info: || mlp::info(mlp::Param::Energy),
        load: |dir, device| Ok(Box::new(mlp::Mlp::load_dir(mlp::ENERGY_NAME, dir, device)?)),
        source: Source::Trained,
    },
    Entry {
        name: mlp::EPS_NAME,
        info: || mlp::info(mlp::Param::Eps),
        load: |dir, device| Ok(Box::new(mlp::Mlp::load_dir(mlp::EPS_NAME, dir, device)?)),
        source: Source::Trained,
    },
    Entry {
        name: clevr::NAME,
        info: clevr::info,
        load: |dir, device| Ok(Box::new(clevr::Clevr::load(dir, device)?)),
        source: Source::Trained,
    },
    Entry {
        name: clevr::attr::NAME,
        info: clevr::attr::info,
        load: |dir, device| Ok(Box::new(clevr::Clevr::load_as(clevr::attr::NAME, dir, device)?)),
        source: Source::Trained,
    },
    Entry {
        name: clevr::classifier::NAME,
        info: clevr::classifier::info,
        load: |dir, device| Ok(Box::new(clevr::classifier::ClevrClf::load(dir, device)?)),
        source: Source::Trained,
    },
];

/// The registry entry of `sd::VARIANTS[i]`.
#[cfg(feature = "sd")]
macro_rules! sd_entry {
    ($i:expr) => {
        Entry {
            name: sd::VARIANTS[$i].name,
            info: || sd::info(&sd::VARIANTS[$i]),
            load: |dir, device| Ok(Box::new(sd::StableDiffusion::open(&sd::VARIANTS[$i], dir, device)?)),
            source: Source::Diffusers,
        }
    };
}

/// The Stable Diffusion checkpoints (`sd15`, `sd21`, `sd21-base`, `sd-turbo`).
#[cfg(feature = "sd")]
pub const SD_REGISTRY: &[Entry] = &[sd_entry!(0), sd_entry!(1), sd_entry!(2), sd_entry!(3)];
#[cfg(not(feature = "sd"))]
pub const SD_REGISTRY: &[Entry] = &[];

/// Every model, in the order `comp models` lists them.
pub fn all() -> impl Iterator<Item = &'static Entry> {
    REGISTRY.iter().chain(SD_REGISTRY.iter())
}

/// The registry entry of `name`.
pub fn entry(name: &str) -> Option<&'static Entry> {
    all().find(|e| e.name == name)
}

/// The vocabulary and defaults of every known model, for `comp models` and the checker: the
/// registry's, then the folder models found in the model roots ([`folders`]).
pub fn infos() -> Vec<ModelInfo> {
    all().map(|e| (e.info)()).chain(folders::folder_models().into_iter().map(|f| f.info)).collect()
}

/// Where a model's weights are: `None` for a model that needs none (the exact `toy2d`). For a
/// Stable Diffusion model, the diffusers folder (or everywhere it was looked for).
pub fn weights(name: &str) -> Option<locate::Weights> {
    find_weights(name).unwrap_or_else(|e| {
        Some(locate::Weights::Unusable(match e {
            LoadError::BadCard { reason, .. } => reason,
            other => other.message(),
        }))
    })
}

/// [`weights`], with a Stable Diffusion model card that cannot be read or understood as its
/// [`LoadError::BadCard`] (for [`load`]; [`weights`] reports it as unusable).
fn find_weights(name: &str) -> LoadResult<Option<locate::Weights>> {
    let Some(e) = entry(name) else {
        return Ok(folders::folder_model(name).map(|f| match f.dir.join(locate::WEIGHTS_FILE).is_file() {
            true => locate::Weights::Found(f.dir),
            false => locate::Weights::Missing(vec![f.dir]),
        }));
    };
    Ok(match e.source {
        Source::BuiltIn => None,
        Source::Trained => Some(locate::weights(name)),
        #[cfg(feature = "sd")]
        Source::Diffusers => {
            let hub = sd::variant(name).map(|v| v.hub).unwrap_or(&[]);
            Some(match sd::folder::locate(name, hub)? {
                // Found only when the folder has every file a run reads.
                sd::folder::Found::Folder(dir) => match sd::folder::Files::check(&dir) {
                    Ok(_) => locate::Weights::Found(dir),
                    Err(e) => locate::Weights::Unusable(comp_runtime::error::message(&e)),
                },
                sd::folder::Found::Missing(searched) => locate::Weights::Missing(searched),
            })
        }
        #[cfg(not(feature = "sd"))]
        Source::Diffusers => None,
    })
}

/// The weights files a model loads from, for hashing into `run.json`: `model.safetensors`
/// of a trained model, the UNet, VAE and text encoder files of a Stable Diffusion folder.
pub fn weight_files(name: &str) -> Vec<std::path::PathBuf> {
    let Some(locate::Weights::Found(dir)) = weights(name) else { return vec![] };
    if entry(name).is_none() {
        return vec![dir.join(locate::WEIGHTS_FILE)];
    }
    match entry(name).map(|e| e.source) {
        Some(Source::Trained) => vec![dir.join(locate::WEIGHTS_FILE)],
        #[cfg(feature = "sd")]
        Some(Source::Diffusers) => sd::folder::Files::check(&dir).map(|f| f.weights()).unwrap_or_default(),
        _ => vec![],
    }
}

/// The tokenizer of a text model, for the checker's prompt-length warning (loaded once per
/// process): the checkpoint's own when its folder is found, else CLIP's, shipped in this crate
/// ([`sd::tokenizer::ClipTokenizer::builtin`]); `None` for models that take no text.
#[cfg(feature = "sd")]
pub fn tokenizer(name: &str) -> Option<std::sync::Arc<sd::tokenizer::ClipTokenizer>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    type Cache = Mutex<HashMap<String, Option<Arc<sd::tokenizer::ClipTokenizer>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let v = sd::variant(name)?;
    let cache = CACHE.get_or_init(Default::default);
    if let Some(t) = cache.lock().ok()?.get(name) {
        return t.clone();
    }
    let load = || -> Option<sd::tokenizer::ClipTokenizer> {
        let sd::folder::Found::Folder(dir) = sd::folder::locate(v.name, v.hub).ok()? else { return None };
        let files = sd::folder::Files::check(&dir).ok()?;
        let cfg: sd::clip::ClipConfig = sd::config::read_json(&files.text_config).ok()?;
        sd::tokenizer::ClipTokenizer::load(&files.tokenizer, cfg.max_position_embeddings).ok()
    };
    // Without the checkpoint on disk: CLIP's own tokenizer, shipped (every SD 1.x and 2.x
    // checkpoint's, with CLIP's 77 positions), so W0007 needs no weights.
    let t = load().map(Arc::new).or_else(|| {
        static BUILTIN: OnceLock<Option<Arc<sd::tokenizer::ClipTokenizer>>> = OnceLock::new();
        BUILTIN.get_or_init(|| sd::tokenizer::ClipTokenizer::builtin(77).ok().map(Arc::new)).clone()
    });
    cache.lock().ok()?.insert(name.to_string(), t.clone());
    t
}

/// What to do about missing weights: a trained model's training command is the CLI's to
/// give; a Stable Diffusion model's folder is the user's to point at.
pub fn missing_advice(name: &str, searched: &[std::path::PathBuf]) -> Option<String> {
    match entry(name)?.source {
        #[cfg(feature = "sd")]
        Source::Diffusers => Some(sd::folder::missing_message(name, searched)),
        _ => {
            let _ = searched;
            None
        }
    }
}

/// Why model `name` cannot compute in `dtype` on `device` (Stable Diffusion in bf16 on the
/// CPU), for `comp run` to refuse before anything loads; `None` when it can.
pub fn dtype_refusal(name: &str, dtype: Option<comp_plan::Dtype>, device: &Device) -> Option<String> {
    #[cfg(feature = "sd")]
    if entry(name)?.source == Source::Diffusers {
        return sd::dtype_refusal(sd::dtype_of(dtype?), device);
    }
    let _ = (name, dtype, device);
    None
}

/// Loads a model by name onto `device`, a learned one from the first folder that holds its
/// weights (see [`locate`]); without one, [`LoadError::NoWeights`] lists every folder
/// searched, and a model card that cannot be read or understood is [`LoadError::BadCard`].
pub fn load(name: &str, device: &Device) -> LoadResult<Box<dyn Denoiser>> {
    let Some(entry) = entry(name) else {
        if let Some(f) = folders::folder_model(name) {
            if !f.dir.join(locate::WEIGHTS_FILE).is_file() {
                return Err(NoWeights::searched(name, vec![f.dir]));
            }
            return folders::load(&f, device);
        }
        let mut names: Vec<String> = all().map(|e| e.name.to_string()).collect();
        names.extend(folders::folder_models().into_iter().map(|f| f.name));
        return Err(msg(format!("unknown model `{name}`; known models: {}", names.join(", "))));
    };
    let dir = match find_weights(name)? {
        None => locate::default_dir(name),
        Some(locate::Weights::Found(dir)) => dir,
        Some(locate::Weights::Missing(searched)) => {
            if let Some(advice) = missing_advice(name, &searched) {
                return Err(msg(advice));
            }
            return Err(NoWeights::searched(name, searched));
        }
        Some(locate::Weights::Unusable(why)) => return Err(msg(format!("model `{name}`: {why}"))),
    };
    (entry.load)(&dir, device)
}

/// A [`LoadError::Candle`] with this message.
fn msg(text: String) -> LoadError {
    LoadError::Candle(candle_core::Error::Msg(text))
}

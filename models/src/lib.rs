//! `comp-models`: the model registry and the models.
//!
//! | file | what |
//! | --- | --- |
//! | this file | [`REGISTRY`]: one table, name → vocabulary ([`ModelInfo`]) and loader |
//! | [`weights`] | a learned model's folder: safetensors load/save, the card, atomic writes, [`NoWeights`] |
//! | [`locate`] | where model folders are searched for (`models/NAME/`, `COMP_MODELS`) |
//! | [`toy2d`] | the exact 2D model: closed-form noised densities, exact scores and energies |
//! | [`mlp`] | the learned toy2d MLPs (`toy2d-mlp`, `toy2d-mlp-eps`) |
//! | [`clevr`] | the clevr-pos UNet (object positions in 32×32 scenes) |
//!
//! The compiler knows no model; the CLI asks here for `ModelInfo`s (to check scripts) and for a
//! loaded [`Denoiser`] (to run them). Learned models are listed whether or not their weights
//! are present; loading one without weights fails with [`NoWeights`], which the CLI turns
//! into advice (a model does not know the command line).
// The clevr-pos convolution calls the GEMM kernel directly (one `unsafe` block, argued there).
#![deny(unsafe_code)]

pub mod clevr;
pub mod locate;
pub mod mlp;
pub mod toy2d;
pub mod weights;

use candle_core::{bail, Device, Result};
use comp_plan::ModelInfo;
use comp_runtime::Denoiser;

pub use weights::NoWeights;

/// One model `comp` knows: its vocabulary and defaults, and how to load it.
pub struct Entry {
    pub name: &'static str,
    pub info: fn() -> ModelInfo,
    /// Loads the model onto a device; `dir` is the model's folder for learned models (see
    /// [`locate`]), ignored by models without weights.
    pub load: fn(dir: &std::path::Path, device: &Device) -> Result<Box<dyn Denoiser>>,
    /// Whether the model loads weights from a folder.
    pub learned: bool,
}

/// Every model, in the order `comp models` lists them.
pub const REGISTRY: &[Entry] = &[
    Entry {
        name: toy2d::NAME,
        info: toy2d::info,
        // toy2d is closed-form and computes on the CPU; its outputs go to x's device.
        load: |_, _| Ok(Box::new(toy2d::Toy2d::new()?)),
        learned: false,
    },
    Entry {
        name: mlp::ENERGY_NAME,
        info: || mlp::info(mlp::Param::Energy),
        load: |dir, device| Ok(Box::new(mlp::Mlp::load_dir(mlp::ENERGY_NAME, dir, device)?)),
        learned: true,
    },
    Entry {
        name: mlp::EPS_NAME,
        info: || mlp::info(mlp::Param::Eps),
        load: |dir, device| Ok(Box::new(mlp::Mlp::load_dir(mlp::EPS_NAME, dir, device)?)),
        learned: true,
    },
    Entry {
        name: clevr::NAME,
        info: clevr::info,
        load: |dir, device| Ok(Box::new(clevr::ClevrPos::load(dir, device)?)),
        learned: true,
    },
];

/// The registry entry of `name`.
pub fn entry(name: &str) -> Option<&'static Entry> {
    REGISTRY.iter().find(|e| e.name == name)
}

/// The vocabulary and defaults of every known model, for `comp models` and the checker.
pub fn infos() -> Vec<ModelInfo> {
    REGISTRY.iter().map(|e| (e.info)()).collect()
}

/// Where a model's weights are: `None` for a model that needs none (the exact `toy2d`).
pub fn weights(name: &str) -> Option<locate::Weights> {
    entry(name).filter(|e| e.learned).map(|_| locate::weights(name))
}

/// Loads a model by name onto `device`, a learned one from the first folder that holds its
/// weights (see [`locate`]); without one, [`NoWeights`] lists every folder searched.
pub fn load(name: &str, device: &Device) -> Result<Box<dyn Denoiser>> {
    let Some(entry) = entry(name) else {
        let names: Vec<&str> = REGISTRY.iter().map(|e| e.name).collect();
        bail!("unknown model `{name}`; known models: {}", names.join(", "))
    };
    let dir = match weights(name) {
        None => locate::default_dir(name),
        Some(locate::Weights::Found(dir)) => dir,
        Some(locate::Weights::Missing(searched)) => return Err(NoWeights::searched(name, searched)),
    };
    (entry.load)(&dir, device)
}

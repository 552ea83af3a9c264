//! The model registry: every model `comp` knows, by name.
//!
//! The compiler knows no model; the CLI asks here for `ModelInfo`s (to check scripts) and
//! for a loaded `Denoiser` (to run them).
//!
//! Learned models (`toy2d-mlp`, `toy2d-mlp-eps`) load their weights by name from a folder
//! `models/NAME/` (`model.safetensors` + `model.json`), searched for in this order (see
//! [`locate`]): each directory listed in the `COMP_MODELS` environment variable (a path list
//! like `PATH`, whose entries hold the `NAME/` folders), so an explicit setting wins; then
//! `models/` in the current directory; then `models/` in each ancestor of the running
//! executable, nearest first. They are listed by [`infos`] even without weights; [`load`] then
//! lists the folders searched and says how to train them.

pub mod clevr;
pub mod locate;
pub mod mlp;
pub mod toy2d;

use candle_core::{bail, Device, Result};
use comp_compiler::ModelInfo;

use crate::denoiser::Denoiser;

/// The vocabulary and defaults of every known model, for `comp models` and the checker.
pub fn infos() -> Vec<ModelInfo> {
    let mut v = vec![toy2d::info()];
    v.extend(mlp::infos());
    v.push(clevr::info());
    v
}

/// Loads a model by name onto `device`.
pub fn load(name: &str, device: &Device) -> Result<Box<dyn Denoiser>> {
    // toy2d is closed-form and computes on the CPU; its outputs go to x's device.
    let _ = device;
    match name {
        toy2d::NAME => Ok(Box::new(toy2d::Toy2d::new()?)),
        mlp::ENERGY_NAME | mlp::EPS_NAME => {
            let dir = weights_dir(name)?;
            Ok(Box::new(mlp::Mlp::load_dir(name, &dir, device)?))
        }
        clevr::NAME => {
            let dir = weights_dir(name)?;
            Ok(Box::new(clevr::ClevrPos::load(&dir, device)?))
        }
        _ => {
            let names: Vec<String> = infos().into_iter().map(|i| i.name).collect();
            bail!("unknown model `{name}`; known models: {}", names.join(", "))
        }
    }
}

/// How to train model `name` (for messages).
pub fn train_command(name: &str) -> &'static str {
    match name {
        mlp::EPS_NAME => "comp train toy2d --param eps",
        clevr::NAME => "comp train clevr-pos",
        _ => "comp train toy2d",
    }
}

/// Where a model's weights are: `None` for a model that needs none (exact `toy2d`).
pub fn weights(name: &str) -> Option<locate::Weights> {
    (name != toy2d::NAME).then(|| locate::weights(name))
}

/// The folder holding `name`'s weights, or an error listing every folder searched.
fn weights_dir(name: &str) -> Result<std::path::PathBuf> {
    match locate::weights(name) {
        locate::Weights::Found(dir) => Ok(dir),
        locate::Weights::Missing(searched) => bail!("{}", locate::missing_message(name, &searched, train_command(name))),
    }
}

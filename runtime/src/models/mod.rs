//! The model registry: every model `comp` knows, by name.
//!
//! The compiler knows no model; the CLI asks here for `ModelInfo`s (to check scripts) and
//! for a loaded `Denoiser` (to run them).
//!
//! Learned models (`toy2d-mlp`, `toy2d-mlp-eps`) load their weights by name from a folder
//! `models/NAME/` (`model.safetensors` + `model.json`), searched for in this order (see
//! [`locate`]): `models/` in the current directory; `models/` in each ancestor of the running
//! executable, nearest first; then each directory listed in the `COMP_MODELS` environment
//! variable (a path list like `PATH`, whose entries hold the `NAME/` folders). They are listed
//! by [`infos`] even without weights; [`load`] then says how to train them.

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
            let dir = locate::find(name).unwrap_or_else(|| locate::default_dir(name));
            Ok(Box::new(mlp::Mlp::load_dir(name, &dir, device)?))
        }
        clevr::NAME => {
            let dir = locate::find(name).unwrap_or_else(|| locate::default_dir(name));
            Ok(Box::new(clevr::ClevrPos::load(&dir, device)?))
        }
        _ => {
            let names: Vec<String> = infos().into_iter().map(|i| i.name).collect();
            bail!("unknown model `{name}`; known models: {}", names.join(", "))
        }
    }
}

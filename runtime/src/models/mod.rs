//! The model registry: every model `comp` knows, by name.
//!
//! The compiler knows no model; the CLI asks here for `ModelInfo`s (to check scripts) and
//! for a loaded `Denoiser` (to run them).

pub mod toy2d;

use candle_core::{bail, Device, Result};
use comp_compiler::ModelInfo;

use crate::denoiser::Denoiser;

/// The vocabulary and defaults of every known model, for `comp models` and the checker.
pub fn infos() -> Vec<ModelInfo> {
    vec![toy2d::info()]
}

/// Loads a model by name onto `device`.
pub fn load(name: &str, device: &Device) -> Result<Box<dyn Denoiser>> {
    // toy2d is closed-form and computes on the CPU; its outputs go to x's device.
    let _ = device;
    match name {
        toy2d::NAME => Ok(Box::new(toy2d::Toy2d::new()?)),
        _ => {
            let names: Vec<String> = infos().into_iter().map(|i| i.name).collect();
            bail!("unknown model `{name}`; known models: {}", names.join(", "))
        }
    }
}

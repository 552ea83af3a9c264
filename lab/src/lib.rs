//! `comp-lab`: the experiments behind `comp train` and `comp eval`, one folder each.
//!
//! | folder | what |
//! | --- | --- |
//! | [`toy2d`] | RRR's 2D compositions: training the toy2d MLPs (`train`), sampling quality against the exact targets (`eval`, `metrics`, `figure`) |
//! | [`clevr`] | Composable Diffusion's positional CLEVR: the scene generator (`data`), the object detector (`detect`), training the clevr-pos UNet (`train`), Table 1 (`eval`) |
//! | [`ema`] | the exponential moving average of weights that training saves |
//!
//! Experiments write their compositions as `.comp` text and compile it with the real front
//! end ([`compile_one`]), so what they measure is what a user's script gets. The optimiser is
//! candle-nn's `AdamW` over a `VarMap` of the model's variables.
#![forbid(unsafe_code)]

pub mod clevr;
pub mod ema;
pub mod toy2d;

use candle_core::{bail, Result};
use comp_plan::{ModelInfo, SamplePlan};

/// Compiles a one-sample `.comp` text through the real front end
/// ([`comp_compiler::compile_text`]); any diagnostic that is an error fails with the text and
/// every message.
pub fn compile_one(text: &str, models: &[ModelInfo]) -> Result<SamplePlan> {
    let checked = comp_compiler::compile_text(text, models);
    let Some(compiled) = checked.compiled else {
        let messages: Vec<String> = checked.diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message)).collect();
        bail!("{text}\ndoes not compile: {}", messages.join("; "))
    };
    match <[SamplePlan; 1]>::try_from(compiled.plan.samples) {
        Ok([s]) => Ok(s),
        Err(v) => bail!("expected one sample, got {}", v.len()),
    }
}

//! `comp train MODEL ...`: train a learned model and save it as safetensors with a model card.

pub mod clevr;
pub mod clf;
pub mod toy2d;

use crate::Failure;
use std::path::Path;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    model: Model,
}

#[derive(clap::Subcommand)]
enum Model {
    /// The toy2d MLPs (energy- and score-parameterised) on the exact toy2d concepts
    Toy2d(toy2d::Args),
    /// The CLEVR-style position UNet on generated scenes
    #[command(name = "clevr-pos")]
    ClevrPos(clevr::Args),
    /// The CLEVR-style attribute UNet (colour, shape, size of one object) on generated scenes
    #[command(name = "clevr-attr")]
    ClevrAttr(clevr::AttrArgs),
    /// The noise-conditional attribute classifier (classifier guidance) on generated scenes
    #[command(name = "clevr-attr-clf")]
    ClevrAttrClf(clf::Args),
}

/// The command that trains a learned model's weights, by model name.
pub fn command_for(model: &str) -> Option<&'static str> {
    match model {
        comp_models::mlp::ENERGY_NAME => Some("comp train toy2d"),
        comp_models::mlp::EPS_NAME => Some("comp train toy2d --param eps"),
        comp_models::clevr::NAME => Some("comp train clevr-pos"),
        comp_models::clevr::attr::NAME => Some("comp train clevr-attr"),
        comp_models::clevr::classifier::NAME => Some("comp train clevr-attr-clf"),
        _ => None,
    }
}

pub fn run(args: Args) -> Result<(), Failure> {
    match args.model {
        Model::Toy2d(a) => toy2d::run(a),
        Model::ClevrPos(a) => clevr::run(a),
        Model::ClevrAttr(a) => clevr::run_attr(a),
        Model::ClevrAttrClf(a) => clf::run(a),
    }
}

/// Refuses to train into a folder that already holds weights unless `--force` (the shipped
/// weights are committed files: a `comp train` with default arguments must not silently
/// replace them). Continuing a run (`--resume` of the same folder) is not overwriting.
pub fn refuse_overwrite(out: &Path, force: bool, resuming_here: bool) -> Result<(), Failure> {
    let weights = out.join(comp_models::locate::WEIGHTS_FILE);
    if force || resuming_here || !weights.exists() {
        return Ok(());
    }
    Err(Failure::Usage(format!(
        "`{}` already holds weights (`{}`); training would overwrite them: pass `--force` to replace them, or `--out DIR` to train elsewhere",
        out.display(),
        weights.display()
    )))
}

//! `comp train toy2d`: train the learned toy2d MLP (energy- or ε-parameterised) on the exact
//! toy2d concepts and write `model.safetensors` + `model.json` into its model folder.

use std::path::PathBuf;

use comp_lab::toy2d::train::{train_and_save, TrainConfig, DEFAULT_STEPS};
use comp_models::mlp::{self, Param};
use comp_models::toy2d::Toy2dConcept;

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// Optimiser steps
    #[arg(long, default_value_t = DEFAULT_STEPS)]
    steps: usize,
    /// Output folder [default: models/toy2d-mlp, or models/toy2d-mlp-eps for --param eps]
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Seed of the initial weights and the training data
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Batch size
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Learning rate (AdamW, no weight decay)
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// `energy`: E = |f - x|^2, eps = grad E (has energies); `eps`: f predicts eps directly
    #[arg(long, value_enum, default_value_t = ParamArg::Energy)]
    param: ParamArg,
    /// `cpu`, `cuda` or `cuda:N`
    #[arg(long, default_value = "cpu")]
    device: String,
    /// No progress bar
    #[arg(short, long)]
    quiet: bool,
    /// Replace weights already in the output folder
    #[arg(long)]
    force: bool,
    /// Train on these concepts only (comma-separated, e.g. `ring,left_bar`): a model that
    /// knows just them, to compose with other separately trained models. The folder's name is
    /// the model's name in scripts [default --out: models/toy2d-mlp-CONCEPT-CONCEPT...]
    #[arg(long, value_delimiter = ',', value_name = "NAME,NAME")]
    concepts: Option<Vec<String>>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ParamArg {
    Energy,
    Eps,
}

pub fn run(args: Args) -> Result<(), Failure> {
    if args.steps == 0 {
        return Err(Failure::Usage("`--steps` must be at least 1".into()));
    }
    if args.batch == 0 {
        return Err(Failure::Usage("`--batch` must be at least 1".into()));
    }
    if !(args.lr.is_finite() && args.lr > 0.0) {
        return Err(Failure::Usage("`--lr` must be a positive number".into()));
    }
    // (CANDLE_NUM_THREADS defaults to 1 for every command: see main.rs.)
    let param = match args.param {
        ParamArg::Energy => Param::Energy,
        ParamArg::Eps => Param::Eps,
    };
    let concepts = match &args.concepts {
        None => Toy2dConcept::ALL.to_vec(),
        Some(names) => parse_concepts(names)?,
    };
    let subset = concepts.len() < Toy2dConcept::ALL.len();
    let default_name = if subset {
        let names: Vec<&str> = concepts.iter().map(|c| c.name()).collect();
        format!("{}-{}", mlp::name_of(param), names.join("-"))
    } else {
        mlp::name_of(param).to_string()
    };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("models").join(default_name));
    super::refuse_overwrite(&out, args.force, false)?;
    let device = comp_runtime::device(&args.device).map_err(|e| Failure::Usage(e.to_string()))?;
    std::fs::create_dir_all(&out).map_err(|e| Failure::Usage(format!("cannot create output folder `{}`: {e}", out.display())))?;
    let cfg = TrainConfig {
        steps: args.steps,
        batch: args.batch,
        lr: args.lr,
        seed: args.seed,
        ..TrainConfig::new(param).with_concepts(concepts)
    };

    let bar = crate::progress::steps(mlp::name_of(param), cfg.steps, args.quiet);
    let mut progress = |p: &comp_lab::toy2d::train::Progress| {
        if p.step.is_multiple_of(10) || p.step == p.steps {
            bar.set_message(format!("loss {:.4}", p.recent_loss));
        }
        bar.set_position(p.step as u64);
    };
    let card = train_and_save(&cfg, &out, &device, &mut progress)
        .map_err(|e| Failure::Runtime(format!("training {}: {e}", mlp::name_of(param))))?;
    bar.finish_and_clear();
    let t = &card.training;
    eprintln!(
        "{}: {} steps (batch {}, seed {}) in {:.1}s; final loss {:.4} (mean of last {}), held-out loss of the EMA weights {:.4} -> {}",
        card.model,
        t.steps,
        t.batch,
        t.seed,
        t.wall_time_s,
        t.final_loss,
        t.final_loss_window,
        t.eval_loss,
        out.display()
    );
    if let Some(name) = out.file_name().and_then(|n| n.to_str()).filter(|n| comp_models::entry(n).is_none()) {
        eprintln!("use it as `model NAME = {name}` (its folder's name) with `models/` or COMP_MODELS pointing at its parent folder");
    }
    Ok(())
}

/// `--concepts ring,left_bar`: each a toy2d concept, once.
fn parse_concepts(names: &[String]) -> Result<Vec<Toy2dConcept>, Failure> {
    let mut out: Vec<Toy2dConcept> = Vec::new();
    for name in names.iter().map(|n| n.trim()) {
        let Some(c) = Toy2dConcept::from_name(name) else {
            let all: Vec<&str> = Toy2dConcept::ALL.iter().map(|c| c.name()).collect();
            return Err(Failure::Usage(format!("`--concepts`: `{name}` is not a toy2d concept; the concepts are {}", all.join(", "))));
        };
        if out.contains(&c) {
            return Err(Failure::Usage(format!("`--concepts`: `{name}` is listed twice")));
        }
        out.push(c);
    }
    if out.is_empty() {
        return Err(Failure::Usage("`--concepts` needs at least one concept".into()));
    }
    Ok(out)
}

//! `comp train clevr-attr-clf`: train the noise-conditional attribute classifier (classifier
//! guidance) on generated one-object scenes and write its model folder (`model.safetensors` =
//! EMA weights, `model.json` with its held-out accuracy per noise level).

use std::io::IsTerminal;
use std::path::PathBuf;

use comp_lab::clevr::clf_train::{train_clf, ClfTrainOptions};
use comp_models::clevr::classifier::NAME;

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// Optimiser steps [default: 3000, 20 with --tiny]
    #[arg(long)]
    steps: Option<usize>,
    /// Batch size [default: 64, 8 with --tiny]
    #[arg(long)]
    batch: Option<usize>,
    /// Learning rate (AdamW, no weight decay) [default: 1e-3]
    #[arg(long)]
    lr: Option<f64>,
    /// `cpu`, `cuda` or `cuda:N`
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Output model folder
    #[arg(short, long, default_value = "models/clevr-attr-clf")]
    out: PathBuf,
    /// Seed of the initial weights and the training data
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The tiny test network (for smoke tests)
    #[arg(long)]
    tiny: bool,
    /// No progress lines
    #[arg(short, long)]
    quiet: bool,
    /// Replace weights already in the output folder
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let mut opts = if args.tiny { ClfTrainOptions::tiny(args.out.clone()) } else { ClfTrainOptions::new(args.out.clone()) };
    opts.steps = args.steps.unwrap_or(opts.steps);
    opts.batch = args.batch.unwrap_or(opts.batch);
    opts.lr = args.lr.unwrap_or(opts.lr);
    opts.seed = args.seed;
    opts.device_name = args.device.clone();
    if opts.steps == 0 || opts.batch == 0 {
        return Err(Failure::Usage("`--steps` and `--batch` must be at least 1".into()));
    }
    if !(opts.lr.is_finite() && opts.lr > 0.0) {
        return Err(Failure::Usage("`--lr` must be a positive number".into()));
    }
    super::refuse_overwrite(&opts.out, args.force, false)?;
    let device = comp_runtime::device(&args.device).map_err(|e| Failure::Usage(e.to_string()))?;
    let lines = !args.quiet;
    let tty = std::io::stderr().is_terminal();
    let mut progress = |step: usize, steps: usize, loss: f64, ips: f64| {
        if lines {
            let end = if tty { "\r" } else { "\n" };
            eprint!("step {step}/{steps}: loss {loss:.4}, {ips:.1} images/s{end}");
        }
    };
    let c = train_clf(&opts, &device, &mut progress)
        .map_err(|e| Failure::Runtime(format!("training {NAME}: {}", crate::error::runtime_message(&e))))?;
    if lines && tty {
        eprintln!();
    }
    eprintln!(
        "{NAME}: {} steps (batch {}, seed {}) in {:.1}s, {:.1} images/s -> {}",
        c.training.step,
        c.training.batch,
        c.training.seed,
        c.training.wall_s,
        c.training.images_per_s,
        opts.out.display()
    );
    eprintln!("held-out accuracy (all three attributes right) by noise level:");
    for a in &c.training.accuracy {
        eprintln!(
            "  t = {:>3} (σ = {:.3}): {:.1}% (colour {:.1}%, shape {:.1}%, size {:.1}%)",
            a.t,
            a.sigma,
            100.0 * a.all,
            100.0 * a.colour,
            100.0 * a.shape,
            100.0 * a.size
        );
    }
    Ok(())
}

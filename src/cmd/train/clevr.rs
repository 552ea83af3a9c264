//! `comp train clevr-pos` and `comp train clevr-attr`: train the positional (or attribute)
//! CLEVR UNet on generated scenes and write its model folder (`model.safetensors` = EMA
//! weights, `train.safetensors`, `model.json`), with periodic checkpoints that `--resume`
//! continues from. The defaults are the shipped recipe; `--tiny` trains the test-sized network.

use std::io::IsTerminal;
use std::path::PathBuf;

use comp_lab::clevr::train::{train, Event, TrainOptions};
use comp_models::clevr::{attr, Config};

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// Total optimiser steps (a resumed run continues up to this number) [default: 2000 for clevr-pos, 4000 for clevr-attr; 200 with --tiny]
    #[arg(long)]
    steps: Option<usize>,
    /// Batch size [default: 32, 16 with --tiny]
    #[arg(long)]
    batch: Option<usize>,
    /// Learning rate (AdamW, no weight decay) [default: 1e-3]
    #[arg(long)]
    lr: Option<f64>,
    /// Steps of linear learning-rate warm-up [default: 200, 0 with --tiny]
    #[arg(long)]
    warmup: Option<usize>,
    /// Keep every checkpoint's EMA weights in OUT/checkpoints/step-N/ (for a learning curve)
    #[arg(long)]
    keep_checkpoints: bool,
    /// Write the final weights in f32 rather than f16
    #[arg(long)]
    f32: bool,
    /// `cpu`, `cuda` or `cuda:N`
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Continue from this model folder (its card fixes the network and the seed)
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Output model folder [default: models/MODEL, e.g. models/clevr-pos]
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Seed of the initial weights and the training data
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Steps between checkpoints (0: only at the end) [default: 250, 0 with --tiny]
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// The tiny test network (for smoke tests; never worth sampling from)
    #[arg(long)]
    tiny: bool,
    /// No progress bar
    #[arg(short, long)]
    quiet: bool,
    /// Replace weights already in the output folder (not needed to `--resume` it)
    #[arg(long)]
    force: bool,
}

/// `comp train clevr-attr`: the common options and the attribute groups.
#[derive(clap::Args)]
pub struct AttrArgs {
    /// The attribute groups to train on, comma-separated: `color`, `shape`, `size` (a subset
    /// gives a model that knows only those attributes, e.g. `--attributes color`)
    #[arg(long, default_value = "color,shape,size", value_delimiter = ',')]
    attributes: Vec<String>,
    #[command(flatten)]
    common: Args,
}

/// `comp train clevr-attr`.
pub fn run_attr(args: AttrArgs) -> Result<(), Failure> {
    let labels = attr::labels_of_groups(&args.attributes).map_err(|e| Failure::Usage(format!("`--attributes`: {e}")))?;
    let config = if args.common.tiny { Config::tiny_attributes(labels) } else { Config::attributes(labels) };
    train_model(args.common, config)
}

/// `comp train clevr-pos`.
pub fn run(args: Args) -> Result<(), Failure> {
    let config = if args.tiny { Config::tiny() } else { Config::default() };
    train_model(args, config)
}

fn train_model(args: Args, config: Config) -> Result<(), Failure> {
    let name = config.model_name();
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("models").join(name));
    let tiny = args.tiny;
    let mut opts = match (tiny, config.labels.is_empty()) {
        (true, _) => TrainOptions { config, ..TrainOptions::tiny(out) },
        (false, true) => TrainOptions::new(config, out),
        (false, false) => TrainOptions::attributes(config.labels.clone(), out),
    };
    opts.steps = args.steps.unwrap_or(opts.steps);
    opts.batch = args.batch.unwrap_or(opts.batch);
    opts.lr = args.lr.unwrap_or(opts.lr);
    opts.warmup = args.warmup.unwrap_or(opts.warmup);
    opts.keep_checkpoints = args.keep_checkpoints;
    opts.half_weights &= !args.f32;
    opts.checkpoint_every = args.checkpoint_every.unwrap_or(opts.checkpoint_every);
    opts.seed = args.seed;
    opts.resume = args.resume.clone();
    opts.device_name = args.device.clone();
    if opts.steps == 0 || opts.batch == 0 {
        return Err(Failure::Usage("`--steps` and `--batch` must be at least 1".into()));
    }
    if !(opts.lr.is_finite() && opts.lr > 0.0) {
        return Err(Failure::Usage("`--lr` must be a positive number".into()));
    }
    super::refuse_overwrite(&opts.out, args.force, args.resume.as_deref() == Some(opts.out.as_path()))?;
    if let Some(dir) = &args.resume {
        // The card fixes the network: resuming a model of the other kind is refused by name.
        comp_models::clevr::Card::read_as(name, dir).map_err(|e| crate::error::load(&e))?;
    }
    let device = comp_runtime::device(&args.device).map_err(|e| Failure::Usage(e.to_string()))?;
    std::fs::create_dir_all(&opts.out).map_err(|e| Failure::Usage(format!("cannot create output folder `{}`: {e}", opts.out.display())))?;

    // Into a file or pipe (a long run under nohup), plain lines instead of a progress bar.
    let lines = !args.quiet && !std::io::stderr().is_terminal();
    let bar = crate::progress::steps(name, opts.steps, args.quiet || lines);
    let mut progress = |e: &Event| match e {
        Event::Log { step, steps, loss, images_per_s } => {
            if lines {
                eprintln!("step {step}/{steps}: loss {loss:.4}, {images_per_s:.1} images/s");
            }
            bar.set_message(format!("loss {loss:.4}, {images_per_s:.1} images/s"));
            bar.set_position(*step as u64);
        }
        Event::Checkpoint { step, dir } if lines => eprintln!("checkpoint at step {step} -> {}", dir.display()),
        Event::Checkpoint { step, dir } => bar.println(format!("checkpoint at step {step} -> {}", dir.display())),
    };
    let summary = train(&opts, &device, &mut progress)
        .map_err(|e| Failure::Runtime(format!("training {name}: {}", crate::error::runtime_message(&e))))?;
    bar.finish_and_clear();
    eprintln!(
        "{name}: {} steps (batch {}, seed {}) in {:.1}s, {:.1} images/s; loss {} -> {}",
        summary.step,
        opts.batch,
        summary.card.training.seed,
        summary.wall_s,
        summary.images_per_s,
        summary.card.training.loss.map_or("-".into(), |l| format!("{l:.4}")),
        opts.out.display()
    );
    Ok(())
}

//! `comp eval clevr-pos`: composed object positions scored like Composable Diffusion's
//! Table 1 (see `comp_lab::clevr::eval`), printed beside the paper's numbers and written
//! as `eval.json` plus one PNG of examples per number of positions.

use std::path::PathBuf;

use comp_lab::clevr::eval::{evaluate, EvalOptions};
use comp_models::clevr::{Clevr, NAME};

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// `cpu`, `cuda` or `cuda:N`
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Position sets per number of positions (the paper used 5000)
    #[arg(long, default_value_t = 100)]
    sets: usize,
    /// Samples per set
    #[arg(long, default_value_t = 1)]
    per_set: usize,
    /// Sampling steps
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// `ddpm` (the paper's) or `ddim`
    #[arg(long, default_value = "ddpm", value_parser = ["ddpm", "ddim"])]
    sampler: String,
    /// Guidance scale of the main table
    #[arg(long, default_value_t = 7.5)]
    scale: f64,
    /// Guidance scales swept for 2 positions (comma-separated; empty for none)
    #[arg(long, default_value = "1,3,7.5,12", value_delimiter = ',')]
    sweep: Vec<String>,
    /// Seed of the position sets and the samples
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The model folder [default: models/clevr-pos, found as `comp run` finds it]
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Output folder for eval.json and the example PNGs
    #[arg(short, long, default_value = "out/eval-clevr-pos")]
    out: PathBuf,
    /// Only the final table
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    if args.sets == 0 || args.per_set == 0 || args.steps == 0 {
        return Err(Failure::Usage("`--sets`, `--per-set` and `--steps` must be at least 1".into()));
    }
    let sweep = args
        .sweep
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<f64>().map_err(|_| Failure::Usage(format!("`--sweep`: `{s}` is not a number"))))
        .collect::<Result<Vec<f64>, Failure>>()?;
    let device = comp_runtime::device(&args.device).map_err(|e| Failure::Usage(e.to_string()))?;
    let dir =
        args.model_dir.clone().unwrap_or_else(|| comp_models::locate::find(NAME).unwrap_or_else(|| comp_models::locate::default_dir(NAME)));
    let model = Clevr::load(&dir, &device).map_err(|e| crate::error::load(&e))?;
    if model.card().is_some_and(|c| c.training.tiny) {
        eprintln!("note: {} holds the tiny test network; its accuracy means nothing", dir.display());
    }
    std::fs::create_dir_all(&args.out).map_err(|e| Failure::Usage(format!("cannot create output folder `{}`: {e}", args.out.display())))?;
    let opts = EvalOptions {
        sets: args.sets,
        per_set: args.per_set,
        sampler: args.sampler.clone(),
        steps: args.steps,
        scale: args.scale,
        seed: args.seed,
        sweep,
        ..Default::default()
    };
    let quiet = args.quiet;
    let mut progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let r = evaluate(&model, &device, &opts, Some(&args.out), &mut progress)
        .map_err(|e| Failure::Runtime(format!("evaluating {NAME}: {}", crate::error::runtime_message(&e))))?;
    println!(
        "{NAME}: {} sets per k, {} sample(s) each, {} {} steps, scale {}, base null",
        opts.sets, opts.per_set, opts.sampler, opts.steps, opts.scale
    );
    println!(
        "detector (on {} generated scenes): {:.1}% of true positions found, {:.1}% of empty positions found",
        r.calibration.scenes,
        100.0 * r.calibration.true_found,
        100.0 * r.calibration.empty_found
    );
    println!("{:>3}  {:>9}  {:>17}  {:>14}  {:>9}", "k", "accuracy", "95% CI", "paper composed", "paper EBM");
    for k in &r.composed {
        let a = &k.accuracy;
        println!(
            "{:>3}  {:>8.2}%  [{:>6.2}, {:>6.2}]  {:>13.2}%  {:>8.2}%",
            k.k, a.percent, a.ci_low, a.ci_high, k.paper_composed, k.paper_ebm
        );
    }
    if let Some(n) = &r.negation {
        let a = &n.accuracy;
        println!(
            "pos(a) AND NOT pos(b): {:.2}% [{:.2}, {:.2}] (object at a {:.2}%, none at b {:.2}%)",
            a.percent, a.ci_low, a.ci_high, n.found_a.percent, n.empty_b.percent
        );
    }
    for p in &r.sweep {
        println!("scale {:>5}, k = {}: {:.2}% [{:.2}, {:.2}]", p.scale, p.k, p.accuracy.percent, p.accuracy.ci_low, p.accuracy.ci_high);
    }
    println!("{} model calls, {:.1}s -> {}", r.model_calls, r.wall_s, args.out.join("eval.json").display());
    Ok(())
}

//! `comp eval toy2d`: RRR's 2D compositions (`ring AND bar`, `left_bar OR right_bar`,
//! `1.3 * box_large AND NOT 0.3 * box_small`) under reverse diffusion alone and with ULA,
//! MALA, U-HMC and HMC, scored against the exact targets. Prints a table, writes
//! `DIR/eval.json` (or `--json PATH`) and `DIR/eval.png`. The logic lives in
//! `comp_lab::toy2d::eval`.

use crate::pipeline;
use crate::Failure;
use comp_lab::toy2d::eval::{self as toy2d, Cell, Options, Outcome};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The model to sample with (toy2d's exact densities, or a learned model of its concepts)
    #[arg(long, default_value = "toy2d")]
    model: String,
    /// A second 2D model: compose across the two, each term from its own model (`a.ring AND
    /// b.bar`, `a.left_bar OR b.bar`; `a` is --model, needing ring and left_bar, `b` this one,
    /// needing bar), e.g. two models trained on disjoint concepts with `comp train toy2d --concepts`
    #[arg(long, value_name = "MODEL")]
    with: Option<String>,
    /// Samples per composition and sampler
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// Seed of every run (and of the exact reference draws)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Reverse (DDPM) steps of every run; MCMC runs at each level but the last, so the model
    /// calls scale with it. Fewer than RRR's 100 make a quick check, not comparable numbers
    #[arg(long, default_value_t = comp_lab::toy2d::eval::STEPS)]
    steps: usize,
    /// Output directory for eval.json and eval.png
    #[arg(short, long, default_value = "out/eval-toy2d")]
    out: PathBuf,
    /// Write the JSON here instead of DIR/eval.json
    #[arg(long)]
    json: Option<PathBuf>,
    /// No per-run progress lines on stderr
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    if args.samples == 0 {
        return Err(Failure::Usage("`--samples` must be at least 1".into()));
    }
    if args.steps < 2 {
        // With one step there is no later level, so MCMC would never run.
        return Err(Failure::Usage("`--steps` must be at least 2".into()));
    }
    if args.seed > (1u64 << 53) - 1 {
        return Err(Failure::Usage("`--seed` must be at most 2^53 - 1".into()));
    }
    let infos = comp_models::infos();
    let Some(info) = infos.iter().find(|i| i.name == args.model) else {
        let names: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
        return Err(Failure::Usage(format!("unknown model `{}`; known models: {}", args.model, names.join(", "))));
    };
    if info.data_shape != [2] {
        return Err(Failure::Usage(format!("`{}` is not a 2D model; `comp eval toy2d` needs one", args.model)));
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::Usage(format!("cannot create output directory `{}`: {}", args.out.display(), pipeline::io_reason(&e))))?;
    let device = comp_runtime::Device::Cpu;
    let model = comp_models::load(&args.model, &device).map_err(|e| crate::error::load(&e))?;
    let second = match &args.with {
        None => None,
        Some(name) => {
            let Some(info) = infos.iter().find(|i| &i.name == name) else {
                let names: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
                return Err(Failure::Usage(format!("unknown model `{name}`; known models: {}", names.join(", "))));
            };
            if info.data_shape != [2] {
                return Err(Failure::Usage(format!("`{name}` is not a 2D model; `comp eval toy2d` needs one")));
            }
            Some(comp_models::load(name, &device).map_err(|e| crate::error::load(&e))?)
        }
    };

    let progress = |c: &Cell| {
        if args.quiet {
            return;
        }
        match &c.outcome {
            Outcome::Measured(m) if c.method != toy2d::Method::Exact => {
                eprintln!("{:>10} {:<8} {:.2}s", c.composition.name, c.method.name(), m.wall_s)
            }
            Outcome::Skipped(why) => eprintln!("{:>10} {:<8} n/a ({why})", c.composition.name, c.method.name()),
            _ => {}
        }
    };
    let mut opts = Options::new(args.samples, args.seed);
    opts.steps = args.steps;
    opts.progress = Some(&progress);
    if let Some(b) = &second {
        opts.second = Some(b.as_ref());
        opts.compositions = toy2d::CROSS.to_vec();
    }
    let report = toy2d::run(model.as_ref(), &infos, &opts).map_err(|e| crate::error::runtime(&e))?;

    print!("{}", toy2d::table(&report));
    let json_path = args.json.clone().unwrap_or_else(|| args.out.join("eval.json"));
    let json = serde_json::to_string_pretty(&toy2d::json(&report)).expect("serialisable");
    comp_output::write_atomic(&json_path, json.as_bytes())
        .map_err(|e| Failure::Usage(format!("cannot write `{}`: {}", json_path.display(), pipeline::io_reason(&e))))?;
    let png_path = args.out.join("eval.png");
    let png = toy2d::figure(&report).and_then(|f| comp_output::png_bytes(&f)).map_err(|e| crate::error::runtime(&e))?;
    comp_output::write_atomic(&png_path, &png)
        .map_err(|e| Failure::Usage(format!("cannot write `{}`: {}", png_path.display(), pipeline::io_reason(&e))))?;
    if !args.quiet {
        eprintln!("wrote {} and {}", json_path.display(), png_path.display());
    }
    Ok(())
}

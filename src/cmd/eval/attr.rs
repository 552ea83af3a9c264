//! `comp eval clevr-attr`: composed attributes of one object (colour, shape, size), scored by
//! the project's own detector (see `comp_lab::clevr::attr_eval`), written as `eval.json` plus
//! PNGs of examples; with `--cross`, the cross-model table as well.

use std::path::PathBuf;

use comp_lab::clevr::attr_eval::{evaluate, CrossModels, EvalOptions};
use comp_models::clevr::{attr, Clevr};

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// `cpu`, `cuda` or `cuda:N`
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Attribute sets per number of attributes
    #[arg(long, default_value_t = 50)]
    sets: usize,
    /// Samples per set
    #[arg(long, default_value_t = 2)]
    per_set: usize,
    /// Sampling steps
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// `ddim` or `ddpm`
    #[arg(long, default_value = "ddim", value_parser = ["ddpm", "ddim"])]
    sampler: String,
    /// Guidance scale of the main table
    #[arg(long, default_value_t = 7.5)]
    scale: f64,
    /// Guidance scales swept for 2 attributes (comma-separated; empty for none)
    #[arg(long, default_value = "1,3,7.5,12", value_delimiter = ',')]
    sweep: Vec<String>,
    /// Seed of the attribute sets and the samples
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The model folder [default: models/clevr-attr, found as `comp run` finds it]
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Also the cross-model table: the colour-only and shape+size-only models, and clevr-pos
    #[arg(long)]
    cross: bool,
    /// The colour-only model folder for `--cross` [default: models/clevr-attr-color]
    #[arg(long)]
    color_dir: Option<PathBuf>,
    /// The shape+size-only model folder for `--cross` [default: models/clevr-attr-shape-size]
    #[arg(long)]
    shape_size_dir: Option<PathBuf>,
    /// The clevr-pos model folder for `--cross` [default: models/clevr-pos]
    #[arg(long)]
    pos_dir: Option<PathBuf>,
    /// Also compare classifier-free guidance with classifier guidance (clevr-attr's null and
    /// clevr-attr-clf's terms) and both, at scales 1, 3 and 7.5
    #[arg(long)]
    classifier: bool,
    /// Compose every attribute of the main table, `AND NOT` and the sweep with the classifier's
    /// (`a.red AND clf.red`): clevr-attr guided by clevr-attr-clf too
    #[arg(long)]
    guided: bool,
    /// The classifier's folder for `--classifier` and `--guided` [default: models/clevr-attr-clf]
    #[arg(long)]
    clf_dir: Option<PathBuf>,
    /// Output folder for eval.json and the example PNGs
    #[arg(short, long, default_value = "out/eval-clevr-attr")]
    out: PathBuf,
    /// Only the final table
    #[arg(short, long)]
    quiet: bool,
}

/// The folder of model `name`: the given one, or where `comp run` finds it.
fn folder(given: &Option<PathBuf>, name: &str) -> PathBuf {
    given.clone().unwrap_or_else(|| comp_models::locate::find(name).unwrap_or_else(|| comp_models::locate::default_dir(name)))
}

/// Loads a clevr model of `kind` from `dir`, under the folder's name (the name scripts use).
fn load(kind: &str, dir: &std::path::Path, name: &str, device: &candle_core::Device) -> Result<Box<dyn comp_runtime::Denoiser>, Failure> {
    let model = Clevr::load_as(kind, dir, device).map_err(|e| crate::error::load(&e))?;
    if model.card().is_some_and(|c| c.training.tiny) {
        eprintln!("note: {} holds the tiny test network; its accuracy means nothing", dir.display());
    }
    Ok(comp_models::folders::renamed(Box::new(model), name))
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
    let model = load(attr::NAME, &folder(&args.model_dir, attr::NAME), attr::NAME, &device)?;
    let labels = attr::all_labels();
    if model.info().concepts.len() != labels.len() {
        return Err(Failure::Usage(format!(
            "`comp eval clevr-attr` scores a model that knows all {} attributes; this one knows {}",
            labels.len(),
            model.info().concepts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    let extra = if args.cross {
        let colour = load(attr::NAME, &folder(&args.color_dir, "clevr-attr-color"), "clevr-attr-color", &device)?;
        let shape_size = load(attr::NAME, &folder(&args.shape_size_dir, "clevr-attr-shape-size"), "clevr-attr-shape-size", &device)?;
        let positions =
            load(comp_models::clevr::NAME, &folder(&args.pos_dir, comp_models::clevr::NAME), comp_models::clevr::NAME, &device)?;
        Some((colour, shape_size, positions))
    } else {
        None
    };
    let clf: Option<Box<dyn comp_runtime::Denoiser>> = if args.classifier || args.guided {
        let name = comp_models::clevr::classifier::NAME;
        let m =
            comp_models::clevr::classifier::ClevrClf::load(&folder(&args.clf_dir, name), &device).map_err(|e| crate::error::load(&e))?;
        Some(Box::new(m))
    } else {
        None
    };
    let cross = extra.as_ref().map(|(c, s, p)| CrossModels { colour: c.as_ref(), shape_size: s.as_ref(), positions: p.as_ref() });
    std::fs::create_dir_all(&args.out).map_err(|e| Failure::Usage(format!("cannot create output folder `{}`: {e}", args.out.display())))?;
    let opts = EvalOptions {
        sets: args.sets,
        per_set: args.per_set,
        sampler: args.sampler.clone(),
        steps: args.steps,
        scale: args.scale,
        seed: args.seed,
        sweep,
        guided: args.guided,
        guidance_table: args.classifier,
        ..Default::default()
    };
    let quiet = args.quiet;
    let mut progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let r = evaluate(model.as_ref(), &device, &opts, cross.as_ref(), clf.as_deref(), Some(&args.out), &mut progress)
        .map_err(|e| Failure::Runtime(format!("evaluating {}: {}", attr::NAME, crate::error::runtime_message(&e))))?;
    let pct = |a: &comp_lab::clevr::eval::Accuracy| format!("{:>6.2}% [{:>6.2}, {:>6.2}]", a.percent, a.ci_low, a.ci_high);
    println!(
        "{}{}: {} sets per k, {} sample(s) each, {} {} steps, scale {}, base null",
        attr::NAME,
        if opts.guided { " guided by clevr-attr-clf (each attribute `a.x AND clf.x`)" } else { "" },
        opts.sets,
        opts.per_set,
        opts.sampler,
        opts.steps,
        opts.scale
    );
    let v = &r.validation;
    println!(
        "detector (on {} rendered scenes): all three right {:.1}%, colour {:.1}%, shape {:.1}%, size {:.1}%, one object {:.1}%",
        v.scenes,
        100.0 * v.all,
        100.0 * v.colour,
        100.0 * v.shape,
        100.0 * v.size,
        100.0 * v.one_object
    );
    for k in &r.composed {
        println!("{} attribute(s): {}", k.k, pct(&k.accuracy));
    }
    if let Some(n) = &r.negation {
        println!("a AND NOT b: {} (has a {:.2}%, lacks b {:.2}%)", pct(&n.accuracy), n.has_a.percent, n.lacks_b.percent);
    }
    for p in &r.sweep {
        println!("scale {:>5}, 2 attributes: {}", p.scale, pct(&p.accuracy));
    }
    if let Some(c) = &r.cross {
        for row in &c.rows {
            println!(
                "cross, {} attributes: within clevr-attr {}, across colour + shape/size models {}",
                row.k,
                pct(&row.within),
                pct(&row.across)
            );
        }
        let p = &c.positions;
        println!(
            "clevr-pos position AND clevr-attr attribute: {} (attribute {:.2}%, position {:.2}%)",
            pct(&p.both),
            p.attribute.percent,
            p.position.percent
        );
    }
    for g in &r.guidance {
        println!(
            "{:<15} guidance, scale {:>3}: 1 attribute {}, 2 {}, 3 {}; {:.2} ms and {:.1} model calls per step",
            g.method,
            g.scale,
            pct(&g.accuracy[0]),
            pct(&g.accuracy[1]),
            pct(&g.accuracy[2]),
            1e3 * g.seconds_per_step,
            g.calls_per_step
        );
    }
    if let Some(p) = &r.positions_clf {
        println!(
            "clevr-pos position AND clevr-attr-clf attribute: {} (attribute {:.2}%, position {:.2}%)",
            pct(&p.both),
            p.attribute.percent,
            p.position.percent
        );
    }
    println!("{} model calls, {:.1}s -> {}", r.model_calls, r.wall_s, args.out.join("eval.json").display());
    Ok(())
}

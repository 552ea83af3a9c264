//! `comp run FILE`: sample every `sample` of a file (or a plan JSON from `comp plan --emit json`)
//! and write, per sample, `DIR/NAME/samples.npy`, a picture and `run.json`.

use crate::pipeline::{self, SourceFile};
use crate::Failure;
use comp_plan::{Plan, SamplePlan};
use comp_runtime::Denoiser;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// A .comp file, or a plan written by `comp plan --emit json`
    file: String,
    /// Output directory; each sample writes into DIR/NAME/
    #[arg(short, long, default_value = "out")]
    out: PathBuf,
    /// Run only this sample
    #[arg(long)]
    sample: Option<String>,
    /// Override the seed of every sample
    #[arg(long)]
    seed: Option<u64>,
    /// Override the number of samples drawn
    #[arg(long)]
    samples: Option<usize>,
    /// `cpu`, `cuda` or `cuda:N`
    #[arg(long, default_value = "cpu")]
    device: String,
    /// No progress bar
    #[arg(short, long)]
    quiet: bool,
}

/// Models loaded once each, on one device: what `comp run` and the REPL's `:run` sample with.
pub struct Runner {
    device: candle_core::Device,
    models: HashMap<String, Box<dyn Denoiser>>,
}

impl Runner {
    /// A runner on the device a `--device` string names.
    pub fn new(device: &str) -> Result<Runner, Failure> {
        let device = comp_runtime::device(device).map_err(|e| Failure::Usage(crate::error::runtime_message(&e)))?;
        Ok(Runner { device, models: HashMap::new() })
    }

    /// Samples `sample` with its model, loading the model the first time it is asked for;
    /// `progress` hears (steps done, steps).
    pub fn execute(&mut self, sample: &SamplePlan, progress: Option<&dyn Fn(usize, usize)>) -> Result<comp_runtime::RunOutput, Failure> {
        if !self.models.contains_key(&sample.model) {
            let m = comp_models::load(&sample.model, &self.device).map_err(|e| crate::error::runtime(&e))?;
            self.models.insert(sample.model.clone(), m);
        }
        let model = self.models[&sample.model].as_ref();
        let opts = comp_runtime::ExecOptions { progress };
        comp_runtime::execute(sample, model, &self.device, &opts).map_err(|e| crate::error::runtime(&e))
    }
}

pub fn run(args: Args) -> Result<(), Failure> {
    let plan = load_plan(&args.file)?;
    if args.samples == Some(0) {
        return Err(Failure::Usage("`--samples` must be at least 1".into()));
    }
    if args.seed.is_some_and(|s| s > (1u64 << 53) - 1) {
        return Err(Failure::Usage("`--seed` must be at most 2^53 - 1".into()));
    }
    let selected = select(&plan, args.sample.as_deref())?;
    let mut runner = Runner::new(&args.device)?;
    prepare_dir(&args.out)?;
    for sample in selected {
        let mut sample = sample.clone();
        if let Some(seed) = args.seed {
            sample.settings.seed = seed;
        }
        if let Some(n) = args.samples {
            sample.settings.samples = n;
        }
        run_one(&args, &sample, &mut runner)?;
    }
    Ok(())
}

/// Compiles a .comp file, or reads a JSON plan.
fn load_plan(path: &str) -> Result<Plan, Failure> {
    let source = SourceFile::read(path).map_err(Failure::Usage)?;
    if path.ends_with(".json") {
        let plan: Plan = serde_json::from_str(&source.text)
            .map_err(|e| Failure::Runtime(format!("`{path}` is not a plan written by `comp plan --emit json`: {e}")))?;
        if plan.version != comp_plan::PLAN_VERSION {
            return Err(Failure::Runtime(format!(
                "`{path}` is a version {} plan; this comp runs version {} (recompile it with `comp plan --emit json`)",
                plan.version,
                comp_plan::PLAN_VERSION
            )));
        }
        check_sample_names(path, &plan)?;
        return Ok(plan);
    }
    let models = comp_models::infos();
    let checked = pipeline::check(&source, &models);
    super::print_diagnostics(&source, &checked);
    let compiled = checked.compiled.ok_or(Failure::Input)?;
    if compiled.plan.samples.is_empty() {
        return Err(Failure::Runtime(format!("`{path}` has no `sample` statement: nothing to run (add `sample NAME = EXPR`)")));
    }
    Ok(compiled.plan)
}

/// A JSON plan skips the checker, and its sample names become folder names: each must be a
/// name as the language spells them (no `/`, no `..`) and appear once.
fn check_sample_names(path: &str, plan: &Plan) -> Result<(), Failure> {
    let mut seen = std::collections::HashSet::new();
    for s in &plan.samples {
        let name = s.sample.as_str();
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(Failure::Runtime(format!(
                "`{path}`: sample name `{name}` is not a name (letters, digits, `_` and `-`, not starting with a digit)"
            )));
        }
        if !seen.insert(name) {
            return Err(Failure::Runtime(format!("`{path}`: two samples are named `{name}`")));
        }
    }
    Ok(())
}

fn select<'p>(plan: &'p Plan, name: Option<&str>) -> Result<Vec<&'p SamplePlan>, Failure> {
    let Some(name) = name else {
        return Ok(plan.samples.iter().collect());
    };
    match plan.samples.iter().find(|s| s.sample == name) {
        Some(s) => Ok(vec![s]),
        None => {
            let names: Vec<&str> = plan.samples.iter().map(|s| s.sample.as_str()).collect();
            Err(Failure::Usage(format!("no sample named `{name}`; the file has: {}", names.join(", "))))
        }
    }
}

/// Creates the output directory up front, so an unwritable one fails before any sampling.
fn prepare_dir(dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)
        .and_then(|_| {
            let probe = dir.join(format!(".comp-write-test-{}", std::process::id()));
            std::fs::write(&probe, b"")?;
            std::fs::remove_file(probe)
        })
        .map_err(|e| Failure::Usage(format!("cannot write to output directory `{}`: {}", dir.display(), pipeline::io_reason(&e))))
}

fn run_one(args: &Args, sample: &SamplePlan, runner: &mut Runner) -> Result<(), Failure> {
    let steps = sample.settings.sampler.steps();
    let bar = crate::progress::steps(&sample.sample, steps, args.quiet);
    let started = Instant::now();
    let progress = |done: usize, _total: usize| bar.set_position(done as u64);
    let output = runner.execute(sample, Some(&progress))?;
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();

    let dir = args.out.join(&sample.sample);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::Usage(format!("cannot create `{}`: {}", dir.display(), pipeline::io_reason(&e))))?;
    remove_previous_outputs(&dir).map_err(|e| Failure::Runtime(format!("clearing `{}`: {}", dir.display(), pipeline::io_reason(&e))))?;
    let written = comp_runtime::output::write_samples(&dir, &output.samples)
        .map_err(|e| Failure::Runtime(format!("writing `{}`: {}", dir.display(), crate::error::runtime_message(&e))))?;
    let record = serde_json::json!({
        "comp_version": env!("CARGO_PKG_VERSION"),
        "source": args.file,
        "sample": sample.sample,
        "model": sample.model,
        "device": args.device,
        "seed": sample.settings.seed,
        "samples": sample.settings.samples,
        "settings": sample.settings,
        "model_calls": output.model_calls,
        "acceptance": output.acceptance,
        "steps": steps,
        "wall_time_s": wall,
        "outputs": written.iter().map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned())).collect::<Vec<_>>(),
        "rows_evaluated": output.rows_evaluated,
        "plan": sample,
    });
    let json = serde_json::to_string_pretty(&record).expect("serialisable");
    comp_runtime::output::write_atomic(&dir.join("run.json"), json.as_bytes())
        .map_err(|e| Failure::Runtime(format!("writing run.json: {e}")))?;
    let picture = written.iter().find(|p| p.ends_with("plot.png") || p.ends_with("grid.png"));
    eprintln!(
        "{}: {} samples, {} model calls, {:.2}s -> {}",
        sample.sample,
        sample.settings.samples,
        output.model_calls,
        wall,
        picture.unwrap_or(&dir).display()
    );
    Ok(())
}

/// Removes what an earlier `comp run` wrote into a sample's folder (and only that), so that the
/// folder never mixes two runs: a rerun with fewer images leaves no stale `0012.png`, and a
/// failure part-way leaves no earlier `run.json` beside new samples. `run.json` goes first: a
/// folder without one is an incomplete run.
fn remove_previous_outputs(dir: &Path) -> std::io::Result<()> {
    let ours = |name: &str| {
        matches!(name, "run.json" | "samples.npy" | "plot.png" | "grid.png")
            || name.strip_suffix(".png").is_some_and(|stem| !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()))
    };
    let run_json = dir.join("run.json");
    if run_json.exists() {
        std::fs::remove_file(run_json)?;
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_str().is_some_and(ours) && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

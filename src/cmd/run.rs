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
    /// Per learned model loaded, the weights file it was loaded from and its FNV-1a hash, for
    /// `run.json`: which weights made a run, when several folders could hold them.
    weights: HashMap<String, serde_json::Value>,
}

impl Runner {
    /// A runner on the device a `--device` string names.
    pub fn new(device: &str) -> Result<Runner, Failure> {
        let device = comp_runtime::device(device).map_err(|e| Failure::Usage(crate::error::runtime_message(&e)))?;
        Ok(Runner { device, models: HashMap::new(), weights: HashMap::new() })
    }

    /// Samples `sample` with its model, loading the model the first time it is asked for.
    pub fn execute(&mut self, sample: &SamplePlan, opts: &comp_runtime::ExecOptions) -> Result<comp_runtime::RunOutput, Failure> {
        if !self.models.contains_key(&sample.model) {
            let m = comp_models::load(&sample.model, &self.device).map_err(|e| crate::error::runtime(&e))?;
            if let Some(comp_models::locate::Weights::Found(dir)) = comp_models::weights(&sample.model) {
                let path = dir.join(comp_models::locate::WEIGHTS_FILE);
                let path = path.canonicalize().unwrap_or(path);
                let hash = std::fs::read(&path).map(|b| comp_models::weights::fnv1a64(&b)).map_err(|e| Failure::Runtime(format!("reading `{}`: {e}", path.display())))?;
                self.weights.insert(sample.model.clone(), serde_json::json!({ "path": path, "fnv1a64": hash }));
            }
            self.models.insert(sample.model.clone(), m);
        }
        let model = self.models[&sample.model].as_ref();
        comp_runtime::execute(sample, model, &self.device, opts).map_err(|e| crate::error::runtime(&e))
    }

    /// `{path, fnv1a64}` of the weights a learned model was loaded from; `None` for a model
    /// without weights (the exact `toy2d`) or one not loaded yet.
    pub fn weights(&self, model: &str) -> Option<&serde_json::Value> {
        self.weights.get(model)
    }
}

pub fn run(args: Args) -> Result<(), Failure> {
    let (plan, expressions) = load_plan(&args.file)?;
    if args.samples == Some(0) {
        return Err(Failure::Usage("`--samples` must be at least 1".into()));
    }
    if args.seed.is_some_and(|s| s > (1u64 << 53) - 1) {
        return Err(Failure::Usage("`--seed` must be at most 2^53 - 1".into()));
    }
    let selected = select(&plan, args.sample.as_deref())?;
    let mut runner = Runner::new(&args.device)?;
    prepare_dir(&args.out)?;
    // One run per output folder at a time: two runs into one folder would mix their files.
    let _lock = comp_runtime::output::OutputLock::acquire(&args.out).map_err(Failure::Usage)?;
    for sample in selected {
        let mut sample = sample.clone();
        if let Some(seed) = args.seed {
            sample.settings.seed = seed;
        }
        if let Some(n) = args.samples {
            sample.settings.samples = n;
        }
        let title = comp_runtime::output::Title {
            name: sample.sample.clone(),
            expression: expressions.get(&sample.sample).cloned().unwrap_or_else(|| describe_conditions(&sample)),
        };
        run_one(&args, &sample, &mut runner, &title)?;
    }
    Ok(())
}

/// A JSON plan has no expression text: its conditions stand in for it in picture titles.
fn describe_conditions(sample: &SamplePlan) -> String {
    let conds: Vec<String> = sample.conditions.iter().map(comp_runtime::finite::describe).collect();
    format!("plan over {}", conds.join(", "))
}

/// Compiles a .comp file, or reads a JSON plan; with each sample's expression as written (for
/// the pictures' titles; none for a JSON plan).
fn load_plan(path: &str) -> Result<(Plan, HashMap<String, String>), Failure> {
    let source = SourceFile::read(path).map_err(Failure::Usage)?;
    let models = comp_models::infos();
    if path.ends_with(".json") {
        let plan: Plan = serde_json::from_str(&source.text)
            .map_err(|e| Failure::Runtime(format!("`{path}` is not a plan written by `comp plan --emit json`: {e}")))?;
        let problems = comp_compiler::validate::validate(&plan, &models);
        if !problems.is_empty() {
            return Err(Failure::Runtime(format!("`{path}` is not a valid plan:\n  {}", problems.join("\n  "))));
        }
        return Ok((plan, HashMap::new()));
    }
    let checked = pipeline::check(&source, &models);
    super::print_diagnostics(&source, &checked);
    let compiled = checked.compiled.ok_or(Failure::Input)?;
    if compiled.plan.samples.is_empty() {
        return Err(Failure::Runtime(format!("`{path}` has no `sample` statement: nothing to run (add `sample NAME = EXPR`)")));
    }
    let mut expressions = HashMap::new();
    if let Some(program) = &checked.program {
        for item in &program.items {
            if let comp_grammar::ast::Item::Sample(s) = item {
                expressions.insert(s.name.name.clone(), source.text[s.expr.span.range()].to_string());
            }
        }
    }
    Ok((compiled.plan, expressions))
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

/// Creates the output directory up front, so an unwritable one (or a file in its place) fails
/// before any sampling.
fn prepare_dir(dir: &Path) -> Result<(), Failure> {
    if dir.exists() && !dir.is_dir() {
        return Err(Failure::Usage(format!(
            "`-o {}` names a file; `-o` takes a folder (each sample writes into FOLDER/NAME/)",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .and_then(|_| {
            let probe = dir.join(format!(".comp-write-test-{}", std::process::id()));
            std::fs::write(&probe, b"")?;
            std::fs::remove_file(probe)
        })
        .map_err(|e| Failure::Usage(format!("cannot write to output directory `{}`: {}", dir.display(), pipeline::io_reason(&e))))
}

fn run_one(args: &Args, sample: &SamplePlan, runner: &mut Runner, title: &comp_runtime::output::Title) -> Result<(), Failure> {
    let steps = sample.settings.sampler.steps();
    let bar = crate::progress::steps(&sample.sample, steps, args.quiet);
    let started = Instant::now();
    let progress = |done: usize, _total: usize| bar.set_position(done as u64);
    let output = runner.execute(sample, &comp_runtime::ExecOptions { progress: Some(&progress), cancel: None })?;
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();

    let counts = comp_runtime::output::counts(&output.samples).map_err(|e| Failure::Runtime(crate::error::runtime_message(&e)))?;
    let dir = args.out.join(&sample.sample);
    if dir.exists() && !dir.is_dir() {
        return Err(Failure::Usage(format!("`{}` is a file; sample `{}` needs a folder there", dir.display(), sample.sample)));
    }
    // Everything is written into a staging folder beside the sample's, then moved in with
    // `run.json` last: a folder either holds a whole run (with its `run.json`) or none.
    let staging = args.out.join(format!(".{}.partial-{}", sample.sample, std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| {
        let written = comp_runtime::output::write_samples_titled(&staging, &output.samples, title)
            .map_err(|e| Failure::Runtime(format!("writing `{}`: {}", dir.display(), crate::error::runtime_message(&e))))?;
        let record = serde_json::json!({
            "comp_version": env!("CARGO_PKG_VERSION"),
            "source": args.file,
            "sample": sample.sample,
            "model": sample.model,
            "weights": runner.weights(&sample.model),
            "device": args.device,
            "seed": sample.settings.seed,
            "samples": sample.settings.samples,
            "non_finite": counts.non_finite,
            "outside_picture": counts.outside_picture,
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
        comp_runtime::output::write_atomic(&staging.join("run.json"), json.as_bytes())
            .map_err(|e| Failure::Runtime(format!("writing run.json: {e}")))?;
        publish(&staging, &dir, &written).map_err(|e| Failure::Runtime(format!("moving the outputs into `{}`: {}", dir.display(), pipeline::io_reason(&e))))?;
        Ok::<_, Failure>(written.iter().map(|p| dir.join(p.file_name().expect("written files have names"))).collect::<Vec<_>>())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    let written = result?;
    let picture = written.iter().find(|p| p.ends_with("plot.png") || p.ends_with("grid.png"));
    eprintln!(
        "{}: {} samples ({} non-finite, {} outside the picture), {} model calls, {:.2}s -> {}",
        sample.sample,
        sample.settings.samples,
        counts.non_finite,
        counts.outside_picture,
        output.model_calls,
        wall,
        picture.unwrap_or(&dir).display()
    );
    Ok(())
}

/// Moves a staged run into `dir`: the previous run's outputs go first (its `run.json` before
/// anything), then the new files, `run.json` last (renames within one file system).
fn publish(staging: &Path, dir: &Path, written: &[PathBuf]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    remove_previous_outputs(dir)?;
    for file in written.iter().map(|p| p.file_name().expect("written files have names")).chain([std::ffi::OsStr::new("run.json")]) {
        std::fs::rename(staging.join(file), dir.join(file))?;
    }
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

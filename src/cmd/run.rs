//! `comp run FILE`: sample every `sample` of a file (or a plan JSON from `comp plan --emit json`)
//! and write, per sample, `DIR/NAME/samples.npy`, a picture and `run.json`; with `--shard I/N`,
//! only that share of the samples, into `DIR/NAME/shards/` (see [`super::shard`]).

use super::record::{ModelRecord, RunRecord};
use super::shard::{self, Manifest, Shard};
use crate::pipeline::{self, SourceFile};
use crate::Failure;
use comp_compiler::Overrides;
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
    /// `--seed`, `--samples`, `--dtype`: settings compiled in over the file's
    #[command(flatten)]
    overrides: super::OverrideArgs,
    /// `cpu`, `cuda` or `cuda:N`
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Draw only shard I of N of the samples (`I/N`, I from 0), or `auto` to read it from a
    /// Slurm job array or a Kubernetes Indexed Job; `comp merge` joins the shards
    #[arg(long, value_name = "I/N|auto")]
    shard: Option<String>,
    /// No progress bar
    #[arg(short, long)]
    quiet: bool,
}

/// Models loaded once each, on one device: what `comp run` and the REPL's `:run` sample with.
pub struct Runner {
    device: candle_core::Device,
    models: HashMap<String, Box<dyn Denoiser>>,
    /// Per learned model loaded, the weights file it was loaded from and its SHA-256, for
    /// `run.json`: which weights made a run, when several folders could hold them.
    weights: HashMap<String, serde_json::Value>,
}

impl Runner {
    /// A runner on the device a `--device` string names.
    pub fn new(device: &str) -> Result<Runner, Failure> {
        let device = comp_runtime::device(device).map_err(|e| Failure::Usage(crate::error::runtime_message(&e)))?;
        Ok(Runner { device, models: HashMap::new(), weights: HashMap::new() })
    }

    /// Loads model `name` unless it is loaded, with the hash of its weights.
    fn ensure_loaded(&mut self, name: &str) -> Result<(), Failure> {
        if self.models.contains_key(name) {
            return Ok(());
        }
        let m = comp_models::load(name, &self.device).map_err(|e| crate::error::load(&e))?;
        let files = comp_models::weight_files(name);
        let mut hashed = Vec::new();
        for path in files {
            let path = path.canonicalize().unwrap_or(path);
            // SHA-256, streamed, and cached by path, size and mtime (a second run reads nothing).
            let hash = comp_models::weights::sha256_file_cached(&path)
                .map_err(|e| Failure::Runtime(format!("reading `{}`: {e}", path.display())))?;
            hashed.push(serde_json::json!({ "path": path, "sha256": hash }));
        }
        // One file: `{path, sha256}`; a Stable Diffusion folder: `{path: folder, files: [...]}`.
        match (hashed.len(), comp_models::weights(name)) {
            (0, _) => {}
            (1, _) => {
                self.weights.insert(name.to_string(), hashed.pop().expect("one"));
            }
            (_, Some(comp_models::locate::Weights::Found(dir))) => {
                let dir = dir.canonicalize().unwrap_or(dir);
                self.weights.insert(name.to_string(), serde_json::json!({ "path": dir, "files": hashed }));
            }
            _ => {}
        }
        self.models.insert(name.to_string(), m);
        Ok(())
    }

    /// Samples `sample` with its model (or, composing several, with each of them), loading
    /// each model the first time it is asked for.
    pub fn execute(&mut self, sample: &SamplePlan, opts: &comp_runtime::ExecOptions) -> Result<comp_runtime::RunOutput, Failure> {
        let names = sample.model_names();
        for name in &names {
            self.ensure_loaded(name)?;
        }
        let run = |model: &dyn Denoiser| comp_runtime::execute(sample, model, &self.device, opts).map_err(|e| crate::error::run(&e));
        if !sample.several() {
            return run(self.models[&sample.model].as_ref());
        }
        let loaded: Vec<&dyn Denoiser> = names.iter().map(|n| self.models[*n].as_ref()).collect();
        let composite = comp_runtime::composite::Composite::new(sample, loaded).map_err(|e| crate::error::runtime(&e))?;
        run(&composite)
    }

    /// `{path, sha256}` of the weights a learned model was loaded from; `None` for a model
    /// without weights (the exact `toy2d`) or one not loaded yet.
    pub fn weights(&self, model: &str) -> Option<&serde_json::Value> {
        self.weights.get(model)
    }
}

pub fn run(args: Args) -> Result<(), Failure> {
    let (plan, expressions, source_text) = load_plan(&args.file, &args.overrides.overrides())?;
    let shard = args.shard.as_deref().map(Shard::parse).transpose().map_err(Failure::Usage)?;
    let selected = select(&plan, args.sample.as_deref())?;
    let mut runner = Runner::new(&args.device)?;
    // What cannot run on this device is refused before anything is loaded or drawn.
    for s in &selected {
        if let Some(why) = comp_models::dtype_refusal(&s.model, s.settings.dtype, &runner.device) {
            return Err(Failure::Usage(format!("sample `{}`: {why}", s.sample)));
        }
    }
    prepare_dir(&args.out)?;
    // One run per output folder at a time: two runs into one folder would mix their files.
    // The shards of a run write into one folder at once, each locking only its own.
    let _lock = match shard {
        None => Some(comp_output::OutputLock::acquire(&args.out).map_err(Failure::Usage)?),
        Some(_) => None,
    };
    for sample in selected {
        let title = comp_output::Title {
            name: sample.sample.clone(),
            expression: expressions.get(&sample.sample).cloned().unwrap_or_else(|| describe_conditions(sample)),
        };
        match shard {
            None => run_one(&args, sample, &mut runner, &title)?,
            Some(shard) => run_shard(&args, &source_text, shard, sample, &mut runner, &title)?,
        }
    }
    Ok(())
}

/// A JSON plan has no expression text: its conditions stand in for it in picture titles.
fn describe_conditions(sample: &SamplePlan) -> String {
    let conds: Vec<String> = sample.conditions.iter().map(ToString::to_string).collect();
    format!("plan over {}", conds.join(", "))
}

/// Compiles a .comp file with the command line's `overrides` compiled in, or reads a JSON plan
/// and sets them in its settings (checked as a script's settings are, against each sample's
/// model, then validated with the plan); with each sample's expression as written (for the
/// pictures' titles; none for a JSON plan). Also returns the file's text (for a shard's
/// `source_hash`).
fn load_plan(path: &str, overrides: &Overrides) -> Result<(Plan, HashMap<String, String>, String), Failure> {
    let source = SourceFile::read(path).map_err(Failure::Usage)?;
    let models = comp_models::infos();
    if path.ends_with(".json") {
        let mut plan: Plan = serde_json::from_str(&source.text)
            .map_err(|e| Failure::Runtime(format!("`{path}` is not a plan written by `comp plan --emit json`: {e}")))?;
        let problems = comp_compiler::validate::validate(&plan, &models);
        if !problems.is_empty() {
            return Err(Failure::Runtime(format!("`{path}` is not a valid plan:\n  {}", problems.join("\n  "))));
        }
        let mut diagnostics = Vec::new();
        for sample in &mut plan.samples {
            let model = models.iter().find(|m| m.name == sample.model).expect("a valid plan's models are known");
            for d in overrides.apply_to(model, &mut sample.settings) {
                if !diagnostics.contains(&d) {
                    diagnostics.push(d);
                }
            }
        }
        super::print_override_diagnostics(&diagnostics, overrides);
        if diagnostics.iter().any(comp_grammar::Diagnostic::is_error) {
            return Err(Failure::Usage(String::new()));
        }
        return Ok((plan, HashMap::new(), source.text));
    }
    let mut checked = pipeline::check_with(&source, &models, overrides);
    super::print_all_diagnostics(&source, &checked, overrides);
    let program = checked.program.take();
    let compiled = super::compiled(checked)?;
    if compiled.plan.samples.is_empty() {
        return Err(Failure::Runtime(format!("`{path}` has no `sample` statement: nothing to run (add `sample NAME = EXPR`)")));
    }
    let mut expressions = HashMap::new();
    if let Some(program) = &program {
        for item in &program.items {
            if let comp_grammar::ast::Item::Sample(s) = item {
                expressions.insert(s.name.name.clone(), source.text[s.expr.span.range()].to_string());
            }
        }
    }
    Ok((compiled.plan, expressions, source.text))
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

fn run_one(args: &Args, sample: &SamplePlan, runner: &mut Runner, title: &comp_output::Title) -> Result<(), Failure> {
    let steps = sample.settings.sampler.steps();
    let bar = crate::progress::steps(&sample.sample, steps, args.quiet);
    let started = Instant::now();
    let progress = |done: usize, _total: usize| bar.set_position(done as u64);
    let output = runner.execute(sample, &comp_runtime::ExecOptions { progress: Some(&progress), ..Default::default() })?;
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();

    let record = |counts: &comp_output::Counts, written: &[PathBuf]| {
        run_record(args, sample, runner, Some(&output), counts, wall, written).to_json()
    };
    let (counts, written) = write_run(&args.out, &sample.sample, &output.samples, title, record)?;
    let dir = args.out.join(&sample.sample);
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

/// What `comp run` records of its run of `sample` (`run.json`), or of a shard's share of it
/// (inside `shard.json`): `output` of the rows drawn (`None` for a shard that drew none), their
/// `counts`, the wall time, and the files written beside the record.
fn run_record(
    args: &Args,
    sample: &SamplePlan,
    runner: &Runner,
    output: Option<&comp_runtime::RunOutput>,
    counts: &comp_output::Counts,
    wall: f64,
    written: &[PathBuf],
) -> RunRecord {
    RunRecord {
        comp_version: env!("CARGO_PKG_VERSION").into(),
        source: args.file.clone(),
        sample: sample.sample.clone(),
        model: sample.model.clone(),
        weights: runner.weights(&sample.model).cloned(),
        device: args.device.clone(),
        seed: sample.settings.seed,
        samples: sample.settings.samples,
        non_finite: counts.non_finite,
        outside_picture: counts.outside_picture,
        settings: sample.settings.clone(),
        model_calls: output.map_or(0, |o| o.model_calls),
        acceptance: output.and_then(|o| o.acceptance),
        steps: sample.settings.sampler.steps(),
        wall_time_s: wall,
        outputs: output_names(written),
        rows_evaluated: output.map_or(0, |o| o.rows_evaluated),
        plan: sample.clone(),
        models: ModelRecord::for_plan(
            sample,
            |m| runner.weights(&m.name).cloned(),
            |i| output.and_then(|o| o.calls_per_model.get(i).copied()).unwrap_or(0),
        ),
        shards: None,
    }
}

/// The file names of `written`, for `run.json`'s `outputs`.
pub(crate) fn output_names(written: &[PathBuf]) -> Vec<Option<String>> {
    written.iter().map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned())).collect()
}

/// Writes a run's outputs for sample `name` into `out/NAME/`: `samples`, their pictures, and
/// `run.json` from `record(counts, files written)`. Everything is written into a staging
/// folder beside the sample's, then moved in with `run.json` last: a folder either holds a
/// whole run (with its `run.json`) or none. Returns the counts and the published paths.
pub(crate) fn write_run(
    out: &Path,
    name: &str,
    samples: &candle_core::Tensor,
    title: &comp_output::Title,
    record: impl FnOnce(&comp_output::Counts, &[PathBuf]) -> serde_json::Value,
) -> Result<(comp_output::Counts, Vec<PathBuf>), Failure> {
    let counts = comp_output::counts(samples).map_err(|e| Failure::Runtime(crate::error::runtime_message(&e)))?;
    let dir = out.join(name);
    if dir.exists() && !dir.is_dir() {
        return Err(Failure::Usage(format!("`{}` is a file; sample `{name}` needs a folder there", dir.display())));
    }
    let staging = out.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| {
        let written = comp_output::write_samples_titled(&staging, samples, title)
            .map_err(|e| Failure::Runtime(format!("writing `{}`: {}", dir.display(), crate::error::runtime_message(&e))))?;
        let json = serde_json::to_string_pretty(&record(&counts, &written)).expect("serialisable");
        comp_output::write_atomic(&staging.join("run.json"), json.as_bytes())
            .map_err(|e| Failure::Runtime(format!("writing run.json: {e}")))?;
        publish(&staging, &dir, &written)
            .map_err(|e| Failure::Runtime(format!("moving the outputs into `{}`: {}", dir.display(), pipeline::io_reason(&e))))?;
        Ok::<_, Failure>(written.iter().map(|p| dir.join(p.file_name().expect("written files have names"))).collect::<Vec<_>>())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    Ok((counts, result?))
}

/// `--shard`: draws the shard's indices of `sample` and writes them with a [`Manifest`] (the
/// shard's run record and its shard fields) into `DIR/NAME/shards/shard-I-of-N/`
/// (`samples.npy` first, `shard.json` last; an empty range writes only `shard.json`).
fn run_shard(
    args: &Args,
    source_text: &str,
    shard: Shard,
    sample: &SamplePlan,
    runner: &mut Runner,
    title: &comp_output::Title,
) -> Result<(), Failure> {
    let range = shard.range(sample.settings.samples);
    let dir = args.out.join(&sample.sample).join("shards").join(shard.folder());
    std::fs::create_dir_all(&dir).map_err(|e| Failure::Usage(format!("cannot create `{}`: {}", dir.display(), pipeline::io_reason(&e))))?;
    let _lock = comp_output::OutputLock::acquire(&dir).map_err(Failure::Usage)?;
    let manifest_path = dir.join("shard.json");
    let npy_path = dir.join("samples.npy");
    for stale in [&manifest_path, &npy_path] {
        if stale.exists() {
            std::fs::remove_file(stale)
                .map_err(|e| Failure::Runtime(format!("removing `{}`: {}", stale.display(), pipeline::io_reason(&e))))?;
        }
    }
    let started = Instant::now();
    let (output, counts, written) = if range.is_empty() {
        (None, comp_output::Counts::default(), vec![])
    } else {
        let bar = crate::progress::steps(&sample.sample, sample.settings.sampler.steps(), args.quiet);
        let progress = |done: usize, _total: usize| bar.set_position(done as u64);
        let opts = comp_runtime::ExecOptions { progress: Some(&progress), indices: Some(range.clone()), ..Default::default() };
        let output = runner.execute(sample, &opts)?;
        bar.finish_and_clear();
        let shape = output.samples.dims().to_vec();
        let data = output
            .samples
            .to_dtype(candle_core::DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| Failure::Runtime(crate::error::runtime_message(&e)))?;
        let bytes = comp_output::npy_bytes(&shape, &data).map_err(|e| Failure::Runtime(format!("encoding samples.npy: {e}")))?;
        comp_output::write_atomic(&npy_path, &bytes).map_err(|e| Failure::Runtime(format!("writing `{}`: {e}", npy_path.display())))?;
        (Some(output), comp_output::counts_of(&shape, &data), vec![npy_path])
    };
    let mut manifest = Manifest {
        shard_index: shard.index,
        shard_count: shard.count,
        indices: [range.start, range.end],
        source_hash: shard::fnv1a64(source_text.as_bytes()),
        plan_hash: shard::plan_hash(sample),
        weights_hash: None,
        expression: title.expression.clone(),
        run: run_record(args, sample, runner, output.as_ref(), &counts, started.elapsed().as_secs_f64(), &written),
    };
    manifest.weights_hash = shard::weights_hash(manifest.weights_ran().as_ref());
    let json = serde_json::to_string_pretty(&manifest).expect("serialisable");
    comp_output::write_atomic(&manifest_path, json.as_bytes())
        .map_err(|e| Failure::Runtime(format!("writing `{}`: {e}", manifest_path.display())))?;
    eprintln!(
        "{}: shard {}/{}, samples {}..{} of {}, {} model calls, {:.2}s -> {}",
        sample.sample,
        shard.index,
        shard.count,
        range.start,
        range.end,
        sample.settings.samples,
        manifest.run.model_calls,
        manifest.run.wall_time_s,
        dir.display()
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

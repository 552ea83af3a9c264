//! `comp merge DIR... [-o OUT]`: joins the shards of a run (`comp run --shard`) into exactly
//! what one run writes: per sample `OUT/NAME/samples.npy` and its pictures, byte for byte those
//! of a single `comp run`, and `run.json` (see docs/cluster.md for the fields that differ).
//!
//! Every `shard.json` below the given folders is read (a shard folder itself, a run's `-o`
//! folder, or anything above). Per sample, the shards must come from one run (same comp
//! version, file hash, model, seed, sample count, weights hash and plan) and cover each index
//! exactly once, and every shard's `samples.npy` must hold its rows in the plan's row shape,
//! with the non-finite and outside ones its record counts; the merged `run.json` is
//! [`RunRecord::merge`] of the shards' records. All of it (the merged record's sums included)
//! is checked, for every sample, before anything is written, so a bad set writes nothing, and
//! the error names the missing or overlapping ranges, or the file and what differs. A manifest
//! is checked first on its own ([`Manifest::validate`]: a `sample` that is not a name, so no
//! `../x` or absolute path, indices that are not its shard's, a record that is not its plan's).

use super::record::RunRecord;
use super::shard::{Manifest, Shard};
use crate::pipeline;
use crate::Failure;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Folders holding shards (the `-o` of `comp run --shard`, or shard folders)
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Output directory; each sample writes into OUT/NAME/ [default: the first DIR]
    #[arg(short, long)]
    out: Option<PathBuf>,
}

/// A shard found on disk.
struct Found {
    dir: PathBuf,
    manifest: Manifest,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let mut found = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for dir in &args.dirs {
        if !dir.is_dir() {
            return Err(Failure::Usage(format!("`{}` is not a folder", dir.display())));
        }
        find_shards(dir, 0, &mut seen, &mut found)?;
    }
    if found.is_empty() {
        let dirs: Vec<String> = args.dirs.iter().map(|d| format!("`{}`", d.display())).collect();
        return Err(Failure::Usage(format!(
            "no `shard.json` under {}: nothing to merge (shards are written by `comp run FILE --shard I/N`)",
            dirs.join(", ")
        )));
    }
    let mut by_sample: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    for f in found {
        by_sample.entry(f.manifest.run.sample.clone()).or_default().push(f);
    }
    // Check every sample, and read every shard's rows, before writing any: a bad set (a
    // damaged `samples.npy` of the last sample included) writes nothing.
    let out = args.out.clone().unwrap_or_else(|| args.dirs[0].clone());
    let mut joined = Vec::new();
    for shards in by_sample.values_mut() {
        check(shards)?;
        let samples = join_rows(shards)?;
        let pairs: Vec<(&Path, &Manifest)> = shards.iter().map(|f| (f.dir.as_path(), &f.manifest)).collect();
        let merged = RunRecord::merge(&pairs).map_err(Failure::Runtime)?;
        let dir = out.join(&shards[0].manifest.run.sample);
        if dir.exists() && !dir.is_dir() {
            return Err(Failure::Usage(format!(
                "`{}` is a file; sample `{}` needs a folder there",
                dir.display(),
                shards[0].manifest.run.sample
            )));
        }
        joined.push((shards, samples, merged));
    }
    std::fs::create_dir_all(&out)
        .map_err(|e| Failure::Usage(format!("cannot write to output directory `{}`: {}", out.display(), pipeline::io_reason(&e))))?;
    let _lock = comp_output::OutputLock::acquire(&out).map_err(Failure::Usage)?;
    for (shards, samples, merged) in &joined {
        merge_sample(&out, shards, samples, merged)?;
    }
    Ok(())
}

/// Why a `shard.json` that does not parse is refused: a manifest of an earlier comp (one
/// without its shard's run record, whose `non_finite` it lacks) is told to be rerun with this
/// comp; anything else is named with serde's reason.
fn unreadable(path: &Path, text: &str, e: &serde_json::Error) -> Failure {
    let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let earlier = value.as_ref().filter(|v| v.get("shard_index").is_some() && v.get("non_finite").is_none());
    match earlier {
        Some(v) => {
            let version = env!("CARGO_PKG_VERSION");
            let by = match v.get("comp_version").and_then(|c| c.as_str()) {
                Some(c) if c != version => format!(" ({c})"),
                _ => String::new(),
            };
            Failure::Runtime(format!(
                "`{}` was written by an earlier comp{by}, whose shard.json did not yet hold the shard's run record (it has no `non_finite`): run that shard again with this comp ({version}), `comp run FILE --shard I/N`, then merge",
                path.display()
            ))
        }
        None => Failure::Runtime(format!(
            "`{}` is not a shard manifest written by `comp run --shard` of this comp ({}): {e}",
            path.display(),
            env!("CARGO_PKG_VERSION")
        )),
    }
}

/// Collects the shards in `dir` and below (depth-limited: shards sit at `DIR/NAME/shards/X/`).
fn find_shards(dir: &Path, depth: usize, seen: &mut std::collections::HashSet<PathBuf>, found: &mut Vec<Found>) -> Result<(), Failure> {
    let manifest = dir.join("shard.json");
    if manifest.is_file() {
        let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if seen.insert(canonical) {
            let text = std::fs::read_to_string(&manifest)
                .map_err(|e| Failure::Usage(format!("reading `{}`: {}", manifest.display(), pipeline::io_reason(&e))))?;
            let manifest: Manifest = serde_json::from_str(&text).map_err(|e| unreadable(&manifest, &text, &e))?;
            manifest.validate().map_err(|e| {
                Failure::Runtime(format!(
                    "`{}` is not a shard manifest written by `comp run --shard`: {e}",
                    dir.join("shard.json").display()
                ))
            })?;
            found.push(Found { dir: dir.to_path_buf(), manifest });
        }
        return Ok(());
    }
    if depth >= 4 {
        return Ok(());
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| Failure::Usage(format!("reading `{}`: {}", dir.display(), pipeline::io_reason(&e))))?;
    let mut subdirs: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    subdirs.sort();
    for sub in subdirs {
        find_shards(&sub, depth + 1, seen, found)?;
    }
    Ok(())
}

/// Sorts one sample's shards by index and checks that they belong to one run and cover
/// `0..samples` exactly once.
fn check(shards: &mut [Found]) -> Result<(), Failure> {
    shards.sort_by_key(|f| (f.manifest.indices, f.dir.clone()));
    let first = &shards[0];
    let (s0, m0) = (&first.manifest, &first.manifest.run);
    for f in shards.iter().skip(1) {
        let (s, m) = (&f.manifest, &f.manifest.run);
        let differ = |what: &str, a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| {
            Failure::Runtime(format!(
                "sample `{}`: shards `{}` and `{}` are not of one run: {what} {a} and {b} (the shards of a run come from the same file, comp version, seed and sample count)",
                m0.sample,
                first.dir.display(),
                f.dir.display()
            ))
        };
        if m.comp_version != m0.comp_version {
            return Err(differ("comp versions", &m0.comp_version, &m.comp_version));
        }
        if s.source_hash != s0.source_hash {
            return Err(differ("file hashes", &s0.source_hash, &s.source_hash));
        }
        if m.model != m0.model {
            return Err(differ("models", &m0.model, &m.model));
        }
        // The seed and the sample count are part of the plan (and its hash): compared first,
        // so that the message names what differs.
        if m.seed != m0.seed {
            return Err(differ("seeds", &m0.seed, &m.seed));
        }
        if m.samples != m0.samples {
            return Err(differ("sample counts", &m0.samples, &m.samples));
        }
        if s.plan_hash != s0.plan_hash || m.plan != m0.plan {
            return Err(differ("plan hashes", &s0.plan_hash, &s.plan_hash));
        }
    }
    // The weights: a shard that drew no rows loaded no model, so only the others count.
    let drawn: Vec<&Found> = shards.iter().filter(|f| !f.manifest.range().is_empty()).collect();
    if let Some(w0) = drawn.first() {
        if let Some(f) = drawn.iter().find(|f| f.manifest.weights_hash != w0.manifest.weights_hash) {
            let show = |h: &Option<String>| h.clone().unwrap_or_else(|| "none recorded".into());
            return Err(Failure::Runtime(format!(
                "sample `{}`: shards `{}` and `{}` ran different weights of `{}` ({} and {}): merged, they would match neither; rerun the shards with one set of weights",
                m0.sample,
                w0.dir.display(),
                f.dir.display(),
                m0.model,
                show(&w0.manifest.weights_hash),
                show(&f.manifest.weights_hash)
            )));
        }
    }
    let total = m0.samples;
    let mut covered = 0..0usize; // indices 0..next are covered, by `covered_by`
    let mut covered_by: Option<&Found> = None;
    let mut missing = Vec::new();
    for f in shards.iter().filter(|f| !f.manifest.range().is_empty()) {
        let r = f.manifest.range();
        if r.end > total {
            return Err(Failure::Runtime(format!(
                "sample `{}`: shard `{}` has indices {}..{} beyond the run's {total} samples",
                m0.sample,
                f.dir.display(),
                r.start,
                r.end
            )));
        }
        if r.start < covered.end {
            let other = covered_by
                .map(|o| format!("`{}` ({}..{})", o.dir.display(), o.manifest.indices[0], o.manifest.indices[1]))
                .unwrap_or_default();
            return Err(Failure::Runtime(format!(
                "sample `{}`: shards overlap: `{}` ({}..{}) and {other} both hold indices {}..{}",
                m0.sample,
                f.dir.display(),
                r.start,
                r.end,
                r.start,
                r.end.min(covered.end)
            )));
        }
        if r.start > covered.end {
            missing.push(covered.end..r.start);
        }
        covered.end = r.end;
        covered_by = Some(f);
    }
    if covered.end < total {
        missing.push(covered.end..total);
    }
    if !missing.is_empty() {
        let count = s0.shard_count;
        let described: Vec<String> = missing
            .iter()
            .map(|r| {
                // Name the shards of the common split that would have written the range: the
                // shards holding its first and last index and those between (computed, not
                // searched for: N may be huge), at most 8 of them named.
                let (first, last) = (Shard::holding(r.start, total, count), Shard::holding(r.end - 1, total, count));
                let mut names: Vec<String> = (first..=last).take(8).map(|i| format!("{i}/{count}")).collect();
                if last - first >= 8 {
                    names.push(format!("… {last}/{count}"));
                }
                format!("indices {}..{} (shard {})", r.start, r.end, names.join(", "))
            })
            .collect();
        return Err(Failure::Runtime(format!(
            "sample `{}`: the shards do not cover all {total} samples; missing {}: run those shards (`comp run FILE --shard I/N`) and merge again",
            m0.sample,
            described.join(", ")
        )));
    }
    Ok(())
}

/// The shape of one row of `samples.npy` a plan's run writes: the model's data shape, or
/// for a latent image model the decoded pictures `[3, H, W]`; `None` for a model this comp
/// does not know.
fn row_shape_of(plan: &comp_plan::SamplePlan) -> Option<Vec<usize>> {
    let info = (comp_models::entry(&plan.model)?.info)();
    match &info.image_size {
        Some(s) => {
            let [w, h] = plan.settings.size.unwrap_or(s.default);
            Some(vec![3, h, w])
        }
        None => Some(info.data_shape.clone()),
    }
}

/// Reads and joins one sample's checked shards (sorted by index): `[samples, ...row]`, every
/// shard's rows checked against its manifest (their number, and the non-finite and outside
/// ones its record counts) and the plan's row shape.
fn join_rows(shards: &[Found]) -> Result<candle_core::Tensor, Failure> {
    let m0 = &shards[0].manifest.run;
    let want = row_shape_of(&m0.plan);
    let mut data = Vec::new();
    let mut row_shape: Option<Vec<usize>> = None;
    for f in shards.iter().filter(|f| !f.manifest.range().is_empty()) {
        let path = f.dir.join("samples.npy");
        let file = std::fs::File::open(&path)
            .map_err(|e| Failure::Runtime(format!("reading `{}`: {}", path.display(), pipeline::io_reason(&e))))?;
        let (shape, values) = comp_output::read_npy(std::io::BufReader::new(file))
            .map_err(|e| Failure::Runtime(format!("reading `{}`: {e}", path.display())))?;
        let rows = f.manifest.range().len();
        if shape.first() != Some(&rows) || row_shape.as_ref().is_some_and(|s| s[..] != shape[1..]) {
            return Err(Failure::Runtime(format!(
                "`{}` has shape {shape:?}, but its shard.json says {rows} samples like the other shards",
                path.display()
            )));
        }
        if let Some(want) = want.as_ref().filter(|w| w[..] != shape[1..]) {
            return Err(Failure::Runtime(format!(
                "`{}` has rows of shape {:?}, but `{}` writes rows of shape {want:?} for this plan",
                path.display(),
                &shape[1..],
                m0.model
            )));
        }
        let counts = comp_output::counts_of(&shape, &values);
        let run = &f.manifest.run;
        if (counts.non_finite, counts.outside_picture) != (run.non_finite, run.outside_picture) {
            return Err(Failure::Runtime(format!(
                "`{}` holds {} non-finite samples and {} outside the picture, but its shard.json records {} and {}: run that shard again",
                path.display(),
                counts.non_finite,
                counts.outside_picture,
                run.non_finite,
                run.outside_picture
            )));
        }
        row_shape = Some(shape[1..].to_vec());
        data.extend_from_slice(&values);
    }
    let mut shape = vec![m0.samples];
    shape.extend(row_shape.or(want).unwrap_or_default());
    candle_core::Tensor::from_vec(data, shape, &candle_core::Device::Cpu).map_err(|e| Failure::Runtime(crate::error::runtime_message(&e)))
}

/// Writes the run's outputs of one sample from its checked shards, their joined rows and the
/// merged record ([`RunRecord::merge`], `outputs` filled in here).
fn merge_sample(out: &Path, shards: &[Found], samples: &candle_core::Tensor, merged: &RunRecord) -> Result<(), Failure> {
    let m0 = &shards[0].manifest;
    let title = comp_output::Title { name: merged.sample.clone(), expression: m0.expression.clone() };
    let record = |counts: &comp_output::Counts, written: &[PathBuf]| {
        // The shards' counts were checked against their rows (`join_rows`): their sums are these.
        debug_assert_eq!((counts.non_finite, counts.outside_picture), (merged.non_finite, merged.outside_picture));
        RunRecord { outputs: super::run::output_names(written), ..merged.clone() }.to_json()
    };
    let (_, written) = super::run::write_run(out, &merged.sample, samples, &title, record)?;
    let picture = written.iter().find(|p| p.ends_with("plot.png") || p.ends_with("grid.png"));
    eprintln!(
        "{}: {} samples from {} shards ({} non-finite, {} outside the picture), {} model calls, {:.2}s of shard time -> {}",
        merged.sample,
        merged.samples,
        shards.len(),
        merged.non_finite,
        merged.outside_picture,
        merged.model_calls,
        merged.wall_time_s,
        picture.map(|p| p.display().to_string()).unwrap_or_else(|| out.join(&merged.sample).display().to_string())
    );
    Ok(())
}

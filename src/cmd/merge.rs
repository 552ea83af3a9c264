//! `comp merge DIR... [-o OUT]`: joins the shards of a run (`comp run --shard`) into exactly
//! what one run writes: per sample `OUT/NAME/samples.npy` and its pictures, byte for byte those
//! of a single `comp run`, and `run.json` (see docs/cluster.md for the fields that differ).
//!
//! Every `shard.json` below the given folders is read (a shard folder itself, a run's `-o`
//! folder, or anything above). Per sample, the shards must come from one run (same comp
//! version, file hash, plan hash, seed and sample count) and cover each index exactly once;
//! otherwise nothing is written and the error names the missing or overlapping ranges.

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
        return Err(Failure::Usage(format!("no `shard.json` under {}: nothing to merge (shards are written by `comp run FILE --shard I/N`)", dirs.join(", "))));
    }
    let mut by_sample: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    for f in found {
        by_sample.entry(f.manifest.sample.clone()).or_default().push(f);
    }
    // Check every sample before writing any, so a bad set writes nothing.
    for shards in by_sample.values_mut() {
        check(shards)?;
    }
    let out = args.out.clone().unwrap_or_else(|| args.dirs[0].clone());
    std::fs::create_dir_all(&out)
        .map_err(|e| Failure::Usage(format!("cannot write to output directory `{}`: {}", out.display(), pipeline::io_reason(&e))))?;
    let _lock = comp_runtime::output::OutputLock::acquire(&out).map_err(Failure::Usage)?;
    for shards in by_sample.values() {
        merge_sample(&out, shards)?;
    }
    Ok(())
}

/// Collects the shards in `dir` and below (depth-limited: shards sit at `DIR/NAME/shards/X/`).
fn find_shards(dir: &Path, depth: usize, seen: &mut std::collections::HashSet<PathBuf>, found: &mut Vec<Found>) -> Result<(), Failure> {
    let manifest = dir.join("shard.json");
    if manifest.is_file() {
        let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if seen.insert(canonical) {
            let text = std::fs::read_to_string(&manifest)
                .map_err(|e| Failure::Usage(format!("reading `{}`: {}", manifest.display(), pipeline::io_reason(&e))))?;
            let manifest: Manifest = serde_json::from_str(&text)
                .map_err(|e| Failure::Runtime(format!("`{}` is not a shard manifest written by `comp run --shard`: {e}", dir.join("shard.json").display())))?;
            found.push(Found { dir: dir.to_path_buf(), manifest });
        }
        return Ok(());
    }
    if depth >= 4 {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Failure::Usage(format!("reading `{}`: {}", dir.display(), pipeline::io_reason(&e))))?;
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
    let m0 = &first.manifest;
    for f in shards.iter().skip(1) {
        let m = &f.manifest;
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
        if m.source_hash != m0.source_hash {
            return Err(differ("file hashes", &m0.source_hash, &m.source_hash));
        }
        if m.plan_hash != m0.plan_hash || m.plan != m0.plan {
            return Err(differ("plan hashes", &m0.plan_hash, &m.plan_hash));
        }
        if m.seed != m0.seed {
            return Err(differ("seeds", &m0.seed, &m.seed));
        }
        if m.samples != m0.samples {
            return Err(differ("sample counts", &m0.samples, &m.samples));
        }
    }
    let total = m0.samples;
    let mut covered = 0..0usize; // indices 0..next are covered, by `covered_by`
    let mut covered_by: Option<&Found> = None;
    let mut missing = Vec::new();
    for f in shards.iter().filter(|f| !f.manifest.range().is_empty()) {
        let r = f.manifest.range();
        if r.end > total {
            return Err(Failure::Runtime(format!("sample `{}`: shard `{}` has indices {}..{} beyond the run's {total} samples", m0.sample, f.dir.display(), r.start, r.end)));
        }
        if r.start < covered.end {
            let other = covered_by.map(|o| format!("`{}` ({}..{})", o.dir.display(), o.manifest.indices[0], o.manifest.indices[1])).unwrap_or_default();
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
        let count = m0.shard_count;
        let described: Vec<String> = missing
            .iter()
            .map(|r| {
                // Name the shards of the common split that would have written the range.
                let names: Vec<String> = (0..count)
                    .map(|i| Shard { index: i, count })
                    .filter(|s| {
                        let sr = s.range(total);
                        !sr.is_empty() && sr.start < r.end && r.start < sr.end
                    })
                    .map(|s| format!("{}/{}", s.index, s.count))
                    .collect();
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

/// Joins one sample's checked shards (sorted by index) and writes the run's outputs.
fn merge_sample(out: &Path, shards: &[Found]) -> Result<(), Failure> {
    let m0 = &shards[0].manifest;
    let mut data = Vec::new();
    let mut row_shape: Option<Vec<usize>> = None;
    for f in shards.iter().filter(|f| !f.manifest.range().is_empty()) {
        let path = f.dir.join("samples.npy");
        let file = std::fs::File::open(&path).map_err(|e| Failure::Runtime(format!("reading `{}`: {}", path.display(), pipeline::io_reason(&e))))?;
        let (shape, values) = comp_runtime::output::read_npy(std::io::BufReader::new(file))
            .map_err(|e| Failure::Runtime(format!("reading `{}`: {e}", path.display())))?;
        let rows = f.manifest.range().len();
        if shape.first() != Some(&rows) || row_shape.as_ref().is_some_and(|s| s[..] != shape[1..]) {
            return Err(Failure::Runtime(format!("`{}` has shape {shape:?}, but its shard.json says {rows} samples like the other shards", path.display())));
        }
        row_shape = Some(shape[1..].to_vec());
        data.extend_from_slice(&values);
    }
    let mut shape = vec![m0.samples];
    shape.extend(row_shape.unwrap_or_default());
    let samples = candle_core::Tensor::from_vec(data, shape, &candle_core::Device::Cpu).map_err(|e| Failure::Runtime(crate::error::runtime_message(&e)))?;
    let title = comp_runtime::output::Title { name: m0.sample.clone(), expression: m0.expression.clone() };
    let model_calls: usize = shards.iter().map(|f| f.manifest.model_calls).sum();
    let rows_evaluated: usize = shards.iter().map(|f| f.manifest.rows_evaluated).sum();
    let wall: f64 = shards.iter().map(|f| f.manifest.wall_time_s).sum();
    // The run's mean acceptance: every sample makes the same proposals, so the shards' rates
    // weighted by their sample counts.
    let drawn: Vec<&Found> = shards.iter().filter(|f| !f.manifest.range().is_empty()).collect();
    let acceptance = drawn
        .iter()
        .map(|f| f.manifest.acceptance.map(|a| a * f.manifest.range().len() as f64))
        .sum::<Option<f64>>()
        .map(|s| s / m0.samples as f64);
    let mut devices: Vec<&str> = shards.iter().map(|f| f.manifest.device.as_str()).collect();
    devices.dedup();
    let record = |counts: &comp_runtime::output::Counts, written: &[PathBuf]| {
        serde_json::json!({
            "comp_version": m0.comp_version,
            "source": m0.source,
            "sample": m0.sample,
            "model": m0.model,
            "device": devices.join(","),
            "seed": m0.seed,
            "samples": m0.samples,
            "non_finite": counts.non_finite,
            "outside_picture": counts.outside_picture,
            "settings": m0.plan.settings,
            "model_calls": model_calls,
            "acceptance": acceptance,
            "steps": m0.steps,
            "wall_time_s": wall,
            "outputs": super::run::output_names(written),
            "rows_evaluated": rows_evaluated,
            "plan": m0.plan,
            "shards": shards.iter().map(|f| serde_json::json!({
                "folder": f.dir,
                "shard": format!("{}/{}", f.manifest.shard_index, f.manifest.shard_count),
                "indices": f.manifest.indices,
                "model_calls": f.manifest.model_calls,
                "wall_time_s": f.manifest.wall_time_s,
                "device": f.manifest.device,
            })).collect::<Vec<_>>(),
        })
    };
    let (counts, written) = super::run::write_run(out, &m0.sample, &samples, &title, record)?;
    let picture = written.iter().find(|p| p.ends_with("plot.png") || p.ends_with("grid.png"));
    eprintln!(
        "{}: {} samples from {} shards ({} non-finite, {} outside the picture), {} model calls, {:.2}s of shard time -> {}",
        m0.sample,
        m0.samples,
        shards.len(),
        counts.non_finite,
        counts.outside_picture,
        model_calls,
        wall,
        picture.map(|p| p.display().to_string()).unwrap_or_else(|| out.join(&m0.sample).display().to_string())
    );
    Ok(())
}

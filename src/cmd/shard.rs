//! Shards: `comp run FILE --shard I/N` draws only its share of a run's sample indices, so that
//! a job array (Slurm, a Kubernetes Indexed Job) can spread one run over many machines, and
//! `comp merge` puts the shares back together into exactly what one run writes
//! (docs/cluster.md).
//!
//! Shard I of N (0-based) draws a contiguous range of indices: with S samples, the first
//! `S % N` shards draw `S / N + 1` samples and the others `S / N`, in index order. Because
//! every sample has its own noise stream (`comp_runtime::noise`), the rows a shard draws are
//! exactly those rows of the whole run. A shard writes into `DIR/NAME/shards/shard-I-of-N/`:
//! `samples.npy` (its rows; none when its range is empty) and `shard.json` (a [`Manifest`]: the
//! shard's run record and its shard fields), `shard.json` last, so a folder without one is an
//! unfinished shard.

use super::record::RunRecord;
use comp_plan::SamplePlan;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// The variable that gives the shard count next to Kubernetes' `JOB_COMPLETION_INDEX` (an
/// Indexed Job does not expose its `completions` to the pod).
pub const COUNT_VAR: &str = "COMP_SHARDS";

impl Shard {
    /// `I/N` (0 ≤ I < N), or `auto`: the shard of a job array, from the environment.
    pub fn parse(spec: &str) -> Result<Shard, String> {
        if spec == "auto" {
            return Shard::from_env(|name| std::env::var(name).ok());
        }
        let parsed = spec.split_once('/').and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) => Shard::new(index, count),
            None => Err(format!("`--shard {spec}`: expected `I/N` (shard I of N, counted from 0, e.g. `3/16`) or `auto`")),
        }
    }

    fn new(index: usize, count: usize) -> Result<Shard, String> {
        if count == 0 {
            return Err("`--shard I/N`: N must be at least 1".into());
        }
        if index >= count {
            return Err(format!("`--shard {index}/{count}`: shards are counted from 0, so I must be below {count}"));
        }
        Ok(Shard { index, count })
    }

    /// `--shard auto`: a Slurm array task (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` of
    /// `SLURM_ARRAY_TASK_COUNT`), else a Kubernetes Indexed Job's pod (`JOB_COMPLETION_INDEX`
    /// of [`COUNT_VAR`]).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let number = |name: &str| -> Result<Option<usize>, String> {
            match var(name) {
                None => Ok(None),
                Some(v) => v.trim().parse().map(Some).map_err(|_| format!("`--shard auto`: {name}={v:?} is not a whole number")),
            }
        };
        if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let count =
                number("SLURM_ARRAY_TASK_COUNT")?.ok_or("`--shard auto`: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not")?;
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            // `sbatch --array=7` (rerunning one failed task) is an array of one task: taken as
            // shard 0 of 1 it would silently draw the whole run.
            if count == 1 && id != 0 {
                return Err(format!(
                    "`--shard auto`: SLURM_ARRAY_TASK_ID={id} in an array of one task (SLURM_ARRAY_TASK_COUNT=1, as `sbatch --array={id}` gives when rerunning one task) does not say which shard of how many: give it explicitly, `--shard {id}/N` (docs/cluster.md uses `--shard \"$SLURM_ARRAY_TASK_ID/N\"`)"
                ));
            }
            let index =
                id.checked_sub(min).ok_or(format!("`--shard auto`: SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}"))?;
            return Shard::new(index, count).map_err(|e| {
                format!("{e} (from SLURM_ARRAY_TASK_ID={id}, SLURM_ARRAY_TASK_MIN={min}, SLURM_ARRAY_TASK_COUNT={count}: use a contiguous `--array=0-{}` without a step)", count.saturating_sub(1))
            });
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = number(COUNT_VAR)?
                .ok_or(format!("`--shard auto`: JOB_COMPLETION_INDEX is set but {COUNT_VAR} is not (set it to the Job's `completions`)"))?;
            return Shard::new(index, count).map_err(|e| format!("{e} (from JOB_COMPLETION_INDEX={index}, {COUNT_VAR}={count})"));
        }
        Err(format!(
            "`--shard auto` found no job array in the environment: it reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (a Slurm job array) or JOB_COMPLETION_INDEX and {COUNT_VAR} (a Kubernetes Indexed Job); elsewhere give `--shard I/N`"
        ))
    }

    /// The shard (of `count`, splitting `samples`) whose range holds sample index `i`
    /// (`i < samples`): the inverse of [`Shard::range`], in constant time.
    pub fn holding(i: usize, samples: usize, count: usize) -> usize {
        let (base, extra) = (samples / count, samples % count);
        // The first `extra` shards hold base + 1 samples each, the others base.
        let big = extra * (base + 1);
        if i < big {
            i / (base + 1)
        } else {
            extra + (i - big) / base.max(1)
        }
    }

    /// The sample indices this shard draws out of `samples`.
    pub fn range(&self, samples: usize) -> Range<usize> {
        let (base, extra) = (samples / self.count, samples % self.count);
        let start = self.index * base + self.index.min(extra);
        start..start + base + usize::from(self.index < extra)
    }

    /// The shard's folder name inside `DIR/NAME/shards/`.
    pub fn folder(&self) -> String {
        let width = (self.count - 1).to_string().len();
        format!("shard-{:0width$}-of-{}", self.index, self.count)
    }
}

/// What a shard wrote, in its `shard.json`: the shard's own run record (what `comp run` records
/// of a run, for this shard's rows), flattened into the manifest beside the shard's fields, so
/// that `shard.json` reads as a `run.json` plus these; enough to check that shards belong to
/// one run and to write that run's outputs (pictures' titles, `run.json`) without the source
/// file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub shard_index: usize,
    pub shard_count: usize,
    /// The indices this shard drew: `[start, end)`.
    pub indices: [usize; 2],
    /// FNV-1a 64 of the file's text, as 16 hex digits.
    pub source_hash: String,
    /// FNV-1a 64 of the sample's plan (compiled with `--seed`, `--samples`, `--dtype`) as compact JSON.
    pub plan_hash: String,
    /// The hashes of the weights files the shard ran, joined (see [`weights_hash`] and
    /// [`Manifest::weights_ran`]): shards made with other weights of the same model are not
    /// merged.
    pub weights_hash: Option<String>,
    /// The expression as written (the pictures' title).
    pub expression: String,
    /// The shard's run record: `samples`, `settings` and `plan` are the whole run's (the plan
    /// hash covers them); the counts, `acceptance`, `wall_time_s`, `device`, `outputs` and
    /// each model's calls in `models` are this shard's; `shards` is absent.
    #[serde(flatten)]
    pub run: RunRecord,
}

impl Manifest {
    pub fn range(&self) -> Range<usize> {
        self.indices[0]..self.indices[1]
    }

    /// The weights the shard ran, as [`weights_hash`] reads them: its model's (the record's
    /// `weights`), or with several models `[{alias, model, weights}, …]` from the record's
    /// `models`, so that shards of one composition made with other weights of any of its
    /// models are told apart.
    pub fn weights_ran(&self) -> Option<serde_json::Value> {
        match &self.run.models {
            Some(models) => Some(serde_json::Value::Array(
                models.iter().map(|m| serde_json::json!({ "alias": m.alias, "model": m.model, "weights": m.weights })).collect(),
            )),
            None => self.run.weights.clone(),
        }
    }

    /// What must hold of one manifest on its own, before it is trusted: its `sample` is a name
    /// (it becomes a folder: no `../x`, no absolute path), the plan's, as are its model, seed,
    /// sample count, settings and steps; its shard is one of its count; its indices are that
    /// shard's; its numbers are in range (a finite wall time, an acceptance rate in [0, 1], no
    /// more non-finite or outside samples than rows); `models` is the plan's table; and
    /// `weights_hash` is that of the weights it records.
    pub fn validate(&self) -> Result<(), String> {
        let run = &self.run;
        if !comp_compiler::validate::is_name(&run.sample) {
            return Err(format!("`sample` {:?} is not a name (letters, digits, `_` and `-`, not starting with a digit)", run.sample));
        }
        if run.plan.sample != run.sample || run.plan.model != run.model {
            return Err(format!(
                "`sample` {:?} and `model` {:?} are not those of its `plan` ({:?}, {:?})",
                run.sample, run.model, run.plan.sample, run.plan.model
            ));
        }
        if run.plan.settings.seed != run.seed || run.plan.settings.samples != run.samples {
            return Err(format!("`seed` {} and `samples` {} are not those of its `plan`", run.seed, run.samples));
        }
        if run.settings != run.plan.settings || run.steps != run.plan.settings.sampler.steps() {
            return Err("`settings` or `steps` are not those of its `plan`".into());
        }
        if run.samples == 0 {
            return Err("`samples` is 0: a run draws at least one".into());
        }
        let shard = Shard::new(self.shard_index, self.shard_count)?;
        let range = shard.range(run.samples);
        if self.indices != [range.start, range.end] {
            return Err(format!(
                "`indices` {:?} are not those of shard {}/{} of {} samples ({}..{})",
                self.indices, self.shard_index, self.shard_count, run.samples, range.start, range.end
            ));
        }
        if !(run.wall_time_s.is_finite() && run.wall_time_s >= 0.0) || run.acceptance.is_some_and(|a| !(0.0..=1.0).contains(&a)) {
            return Err("`wall_time_s` or `acceptance` is out of range".into());
        }
        if run.non_finite.checked_add(run.outside_picture).is_none_or(|n| n > range.len()) {
            return Err(format!(
                "`non_finite` {} and `outside_picture` {} count more samples than the shard's {}",
                run.non_finite,
                run.outside_picture,
                range.len()
            ));
        }
        let table_matches = match &run.models {
            None => !run.plan.several(),
            Some(models) => {
                models.len() == run.plan.models.len()
                    && models.iter().zip(&run.plan.models).all(|(r, p)| r.alias == p.alias && r.model == p.name)
            }
        };
        if !table_matches {
            return Err(
                "`models` is not its `plan`'s table of models (one entry per model, in order, with several; absent with one)".into()
            );
        }
        if run.shards.is_some() {
            return Err("it has `shards`: a merged run's record, not a shard's".into());
        }
        if self.weights_hash != weights_hash(self.weights_ran().as_ref()) {
            return Err("`weights_hash` is not that of the weights it records (`weights`, or each model's in `models`)".into());
        }
        Ok(())
    }
}

/// The weights a run used, as one string: the hashes (`fnv1a64`, `sha256`) found in what
/// `run.json` records under `weights`, in order, joined with `+`; `None` without weights.
/// Paths are left out: the same weights sit at other paths on other machines.
pub fn weights_hash(weights: Option<&serde_json::Value>) -> Option<String> {
    fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        serde_json::Value::String(h) if k == "fnv1a64" || k == "sha256" => out.push(format!("{k}:{h}")),
                        _ => collect(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut hashes = Vec::new();
    collect(weights?, &mut hashes);
    (!hashes.is_empty()).then(|| hashes.join("+"))
}

/// FNV-1a, 64 bits (the standard offset basis and prime), as 16 hex digits: a short, stable
/// fingerprint (not a defence against tampering) that every `comp` version computes alike.
pub fn fnv1a64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// [`fnv1a64`] of a sample's plan as compact JSON (field order is the structs').
pub fn plan_hash(plan: &SamplePlan) -> String {
    fnv1a64(serde_json::to_string(plan).expect("plans serialise").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_contiguous_and_the_first_shards_are_one_larger() {
        // 10 samples over 4 shards: 10 / 4 = 2, 10 % 4 = 2, so sizes 3, 3, 2, 2.
        let r: Vec<_> = (0..4).map(|i| Shard { index: i, count: 4 }.range(10)).collect();
        assert_eq!(r, [0..3, 3..6, 6..8, 8..10]);
        // More shards than samples: the last ones are empty.
        assert_eq!(Shard { index: 2, count: 3 }.range(2), 2..2);
        assert_eq!(Shard { index: 0, count: 1 }.range(7), 0..7);
    }

    #[test]
    fn specs_and_the_environment() {
        assert_eq!(Shard::parse("3/16"), Ok(Shard { index: 3, count: 16 }));
        assert!(Shard::parse("16/16").unwrap_err().contains("below 16"));
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("3").unwrap_err().contains("I/N"));
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let slurm = env(&[("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_COUNT", "16")]);
        assert_eq!(Shard::from_env(slurm), Ok(Shard { index: 5, count: 16 }));
        let slurm1 = env(&[("SLURM_ARRAY_TASK_ID", "16"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "16")]);
        assert_eq!(Shard::from_env(slurm1), Ok(Shard { index: 15, count: 16 }));
        let k8s = env(&[("JOB_COMPLETION_INDEX", "2"), ("COMP_SHARDS", "4")]);
        assert_eq!(Shard::from_env(k8s), Ok(Shard { index: 2, count: 4 }));
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "2")])).unwrap_err().contains("COMP_SHARDS"));
        assert!(Shard::from_env(env(&[])).unwrap_err().contains("SLURM_ARRAY_TASK_ID"));
        assert_eq!(Shard { index: 3, count: 16 }.folder(), "shard-03-of-16");
        // `sbatch --array=7` reruns one task: COUNT=1 must not become shard 0/1 (issue 26).
        let rerun = env(&[("SLURM_ARRAY_TASK_ID", "7"), ("SLURM_ARRAY_TASK_MIN", "7"), ("SLURM_ARRAY_TASK_COUNT", "1")]);
        assert!(Shard::from_env(rerun).unwrap_err().contains("--shard 7/N"));
        let one = env(&[("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_COUNT", "1")]);
        assert_eq!(Shard::from_env(one), Ok(Shard { index: 0, count: 1 }));
    }

    #[test]
    fn the_shard_holding_an_index_is_computed_for_any_count() {
        for (samples, count) in [(10, 4), (50, 4), (7, 7), (3, 5), (100, 1), (1000, 16)] {
            for i in 0..samples {
                let s = Shard::holding(i, samples, count);
                assert!(Shard { index: s, count }.range(samples).contains(&i), "{i} of {samples} over {count}");
            }
        }
        // A count of 2^64 − 1 (issue 26: merge walked every shard) is arithmetic, not a loop.
        assert_eq!(Shard::holding(5, 10, usize::MAX), 5);
    }

    #[test]
    fn fnv1a64_matches_the_published_vectors() {
        // From the FNV reference test suite: "" → cbf29ce484222325, "a" → af63dc4c8601ec8c.
        assert_eq!(fnv1a64(b""), "cbf29ce484222325");
        assert_eq!(fnv1a64(b"a"), "af63dc4c8601ec8c");
    }
}

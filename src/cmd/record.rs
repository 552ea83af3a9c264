//! `run.json`: what one sample's run was — one type written by `comp run`, by each shard of a
//! sharded run (its `shard.json` is this record of its own rows plus the shard's fields, see
//! [`super::shard::Manifest`]) and by `comp merge` ([`RunRecord::merge`], the one place that
//! knows how a merged value comes from the shards'), so that they cannot drift apart
//! (docs/cluster.md lists where a merged record's values differ, never its fields).

use super::shard::Manifest;
use comp_plan::{PlanModel, SamplePlan, Settings};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub comp_version: String,
    /// The file as given to `comp run`.
    pub source: String,
    pub sample: String,
    pub model: String,
    /// The weights the model was loaded from (`{path, sha256}` or a folder's files), `null` for
    /// a model without weights; with several models, the primary one's (each is in `models`).
    pub weights: Option<serde_json::Value>,
    /// The device; a merged run's shards' devices joined by `,` when they differ.
    pub device: String,
    pub seed: u64,
    /// Samples of the run (a shard's record: of the whole run, as its `settings` and `plan`;
    /// the shard's own are its manifest's `indices`).
    pub samples: usize,
    /// Samples with a non-finite value, and (of the others) samples outside the picture's
    /// frame (a shard's record: among its own rows).
    pub non_finite: usize,
    pub outside_picture: usize,
    pub settings: Settings,
    /// Evaluations of the composed ε̂ (with several models, one batched call per model each).
    pub model_calls: usize,
    pub acceptance: Option<f64>,
    pub steps: usize,
    pub wall_time_s: f64,
    /// The files written beside `run.json` (a shard's: beside `shard.json`).
    pub outputs: Vec<Option<String>>,
    pub rows_evaluated: usize,
    pub plan: SamplePlan,
    /// With several models: per model its alias, name, weights and the calls made to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<ModelRecord>>,
    /// A merged run's shards: per shard its folder, `I/N`, indices, calls, wall time, device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<Vec<ShardEntry>>,
}

/// One model of a run composing several.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelRecord {
    pub alias: String,
    pub model: String,
    pub weights: Option<serde_json::Value>,
    pub model_calls: usize,
}

impl ModelRecord {
    /// `run.json`'s `models` for `sample`: `None` for a plan of one model; else per model of
    /// its table, its weights and the calls made to model `i`, from the run or its shards.
    pub fn for_plan(
        sample: &SamplePlan,
        weights: impl Fn(&PlanModel) -> Option<serde_json::Value>,
        calls: impl Fn(usize) -> usize,
    ) -> Option<Vec<ModelRecord>> {
        sample.several().then(|| {
            sample
                .models
                .iter()
                .enumerate()
                .map(|(i, m)| ModelRecord { alias: m.alias.clone(), model: m.name.clone(), weights: weights(m), model_calls: calls(i) })
                .collect()
        })
    }
}

/// One shard of a merged run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardEntry {
    pub folder: std::path::PathBuf,
    /// `I/N`.
    pub shard: String,
    pub indices: [usize; 2],
    pub model_calls: usize,
    pub wall_time_s: f64,
    pub device: String,
}

impl RunRecord {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a run record serialises")
    }

    /// The record of the run that one sample's shards join into, as `comp merge` writes it
    /// (docs/cluster.md lists each value): `shards` are the sample's shards, each with its
    /// folder, checked to be of one run that they cover exactly once, in index order.
    ///
    /// Of the first shard: what every shard's record has alike (version, source, sample, model,
    /// seed, samples, settings, steps, plan). Summed: `model_calls`, `rows_evaluated`,
    /// `non_finite`, `outside_picture`, each model's calls in `models`, and `wall_time_s`
    /// (machine time). Of the first shard that drew rows (one that drew none loaded no model):
    /// `weights` (the primary model's, as one run records it) and each model's in `models`.
    /// `acceptance`: the drawn shards' rates weighted by their sample counts; `device`: the
    /// shards' devices joined by `,` (repeats in a row written once); `shards`: one entry per
    /// shard. `outputs` is left empty: the caller fills in what it wrote.
    ///
    /// A sum past `usize::MAX` (a damaged `shard.json`) is an error.
    pub fn merge(shards: &[(&Path, &Manifest)]) -> Result<RunRecord, String> {
        let Some((_, first)) = shards.first() else {
            return Err("no shards to merge".into());
        };
        let r0 = &first.run;
        let damaged =
            |what: &str| format!("sample `{}`: the shards' `{what}` add up past {}: a shard.json is damaged", r0.sample, usize::MAX);
        let sum = |what: &str, field: &dyn Fn(&RunRecord) -> usize| -> Result<usize, String> {
            shards.iter().try_fold(0usize, |acc, (_, m)| acc.checked_add(field(&m.run))).ok_or_else(|| damaged(what))
        };
        let drawn: Vec<&Manifest> = shards.iter().map(|(_, m)| *m).filter(|m| !m.range().is_empty()).collect();
        // Every sample makes the same proposals, so the run's mean rate is the shards' rates
        // weighted by their sample counts.
        let acceptance =
            drawn.iter().map(|m| m.run.acceptance.map(|a| a * m.range().len() as f64)).sum::<Option<f64>>().map(|s| s / r0.samples as f64);
        let calls_of = |m: &Manifest, i: usize| m.run.models.as_ref().and_then(|ms| ms.get(i)).map_or(0, |r| r.model_calls);
        let per_model = (0..r0.plan.models.len())
            .map(|i| shards.iter().try_fold(0usize, |acc, (_, m)| acc.checked_add(calls_of(m, i))).ok_or_else(|| damaged("models")))
            .collect::<Result<Vec<usize>, String>>()?;
        let weights_of = |alias: &str| {
            drawn.first().and_then(|m| m.run.models.as_ref()?.iter().find(|r| r.alias == alias)?.weights.clone()).filter(|w| !w.is_null())
        };
        let mut devices: Vec<&str> = shards.iter().map(|(_, m)| m.run.device.as_str()).collect();
        devices.dedup();
        Ok(RunRecord {
            comp_version: r0.comp_version.clone(),
            source: r0.source.clone(),
            sample: r0.sample.clone(),
            model: r0.model.clone(),
            weights: drawn.first().and_then(|m| m.run.weights.clone()),
            device: devices.join(","),
            seed: r0.seed,
            samples: r0.samples,
            non_finite: sum("non_finite", &|r| r.non_finite)?,
            outside_picture: sum("outside_picture", &|r| r.outside_picture)?,
            settings: r0.settings.clone(),
            model_calls: sum("model_calls", &|r| r.model_calls)?,
            acceptance,
            steps: r0.steps,
            wall_time_s: shards.iter().map(|(_, m)| m.run.wall_time_s).sum(),
            outputs: Vec::new(),
            rows_evaluated: sum("rows_evaluated", &|r| r.rows_evaluated)?,
            plan: r0.plan.clone(),
            models: ModelRecord::for_plan(&r0.plan, |m| weights_of(&m.alias), |i| per_model[i]),
            shards: Some(
                shards
                    .iter()
                    .map(|(dir, m)| ShardEntry {
                        folder: dir.to_path_buf(),
                        shard: format!("{}/{}", m.shard_index, m.shard_count),
                        indices: m.indices,
                        model_calls: m.run.model_calls,
                        wall_time_s: m.run.wall_time_s,
                        device: m.run.device.clone(),
                    })
                    .collect(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The plan of `e.ring AND l.bar` (the exact toy2d and the learned MLP), 5 samples, DDPM 10 steps.
    fn plan() -> SamplePlan {
        let text =
            "model e = toy2d\nmodel l = toy2d-mlp\nsampler ddpm(steps: 10)\nbase none\nseed 3\n\nsample product = e.ring AND l.bar\n";
        let checked = comp_compiler::compile_text(text, &comp_models::infos());
        let mut plan = checked.compiled.expect("the file compiles").plan.samples.remove(0);
        plan.settings.samples = 5;
        plan
    }

    /// Shard `index` of 2 with its record's numbers; `l`'s weights recorded as `{path, sha256}`.
    fn shard(plan: &SamplePlan, index: usize, counts: [usize; 4], acceptance: f64, wall: f64, device: &str) -> Manifest {
        let [model_calls, rows_evaluated, non_finite, outside_picture] = counts;
        let range = super::super::shard::Shard { index, count: 2 }.range(plan.settings.samples);
        let l = serde_json::json!({ "path": format!("/machine-{index}/toy2d-mlp.safetensors"), "sha256": "ab12" });
        Manifest {
            shard_index: index,
            shard_count: 2,
            indices: [range.start, range.end],
            source_hash: "0123456789abcdef".into(),
            plan_hash: super::super::shard::plan_hash(plan),
            weights_hash: Some("sha256:ab12".into()),
            expression: "e.ring AND l.bar".into(),
            run: RunRecord {
                comp_version: "0.1.0".into(),
                source: "product.comp".into(),
                sample: plan.sample.clone(),
                model: plan.model.clone(),
                weights: None,
                device: device.into(),
                seed: 3,
                samples: 5,
                non_finite,
                outside_picture,
                settings: plan.settings.clone(),
                model_calls,
                acceptance: Some(acceptance),
                steps: 10,
                wall_time_s: wall,
                outputs: vec![Some("samples.npy".into())],
                rows_evaluated,
                plan: plan.clone(),
                models: ModelRecord::for_plan(plan, |m| (m.alias == "l").then(|| l.clone()), |_| model_calls / 2),
                shards: None,
            },
        }
    }

    #[test]
    fn a_merged_record_is_the_sums_and_weighted_means_of_its_shards() {
        let plan = plan();
        // 5 samples over 2 shards: 0..3 and 3..5. Each shard makes 10 steps × 2 models = 20
        // calls (10 per model) and evaluates 10 steps × 2 conditions × its samples rows: 60 and 40.
        let a = shard(&plan, 0, [20, 60, 1, 0], 0.5, 1.25, "cpu");
        let b = shard(&plan, 1, [20, 40, 0, 2], 0.75, 0.5, "cuda:0");
        let (da, db) = (PathBuf::from("s/shard-0-of-2"), PathBuf::from("s/shard-1-of-2"));
        let merged = RunRecord::merge(&[(da.as_path(), &a), (db.as_path(), &b)]).unwrap();
        // Sums: calls 20 + 20 = 40, rows 60 + 40 = 100, non-finite 1 + 0, outside 0 + 2,
        // wall 1.25 + 0.5 = 1.75 s, each model 10 + 10 = 20 calls.
        assert_eq!((merged.model_calls, merged.rows_evaluated, merged.non_finite, merged.outside_picture), (40, 100, 1, 2));
        assert_eq!(merged.wall_time_s, 1.75);
        // Acceptance weighted by sample counts: (0.5 · 3 + 0.75 · 2) / 5 = 3 / 5 = 0.6.
        assert_eq!(merged.acceptance, Some(0.6));
        assert_eq!(merged.device, "cpu,cuda:0");
        assert_eq!((merged.samples, merged.seed, merged.steps, &merged.plan, &merged.sample), (5, 3, 10, &plan, &plan.sample));
        assert!(merged.outputs.is_empty(), "the caller fills in what it wrote");
        // The primary model (the exact toy2d) has no weights; `l`'s are the first shard's.
        assert_eq!(merged.weights, None);
        let models = merged.models.as_ref().unwrap();
        let calls: Vec<(&str, usize)> = models.iter().map(|m| (m.alias.as_str(), m.model_calls)).collect();
        assert_eq!(calls, [("e", 20), ("l", 20)]);
        assert_eq!(models[0].weights, None);
        assert_eq!(models[1].weights.as_ref().unwrap()["path"], "/machine-0/toy2d-mlp.safetensors");
        let shards = merged.shards.as_ref().unwrap();
        assert_eq!(shards.len(), 2);
        assert_eq!((shards[1].folder.as_path(), shards[1].shard.as_str(), shards[1].indices), (db.as_path(), "1/2", [3, 5]));
        assert_eq!((shards[1].model_calls, shards[1].wall_time_s, shards[1].device.as_str()), (20, 0.5, "cuda:0"));

        // The same device twice is written once; a shard without a rate makes the run's unknown.
        let mut c = shard(&plan, 1, [20, 40, 0, 2], 0.75, 0.5, "cpu");
        c.run.acceptance = None;
        let merged = RunRecord::merge(&[(da.as_path(), &a), (db.as_path(), &c)]).unwrap();
        assert_eq!((merged.device.as_str(), merged.acceptance), ("cpu", None));

        // Sums past usize::MAX: a damaged shard.json, named.
        c.run.rows_evaluated = usize::MAX;
        let e = RunRecord::merge(&[(da.as_path(), &a), (db.as_path(), &c)]).unwrap_err();
        assert!(e.contains("`rows_evaluated` add up past"), "{e}");
        // The shards' manifests as `comp run` would write them pass the checks of one manifest.
        a.validate().unwrap();
    }
}

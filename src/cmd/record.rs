//! `run.json`: what one sample's run was, written by `comp run` and, for the joined shards, by
//! `comp merge` — one type, so the two cannot drift apart (docs/cluster.md lists where a merged
//! record's values differ, never its fields).

use comp_plan::{PlanModel, SamplePlan, Settings};
use serde::{Deserialize, Serialize};

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
    pub samples: usize,
    pub non_finite: usize,
    pub outside_picture: usize,
    pub settings: Settings,
    /// Evaluations of the composed ε̂ (with several models, one batched call per model each).
    pub model_calls: usize,
    pub acceptance: Option<f64>,
    pub steps: usize,
    pub wall_time_s: f64,
    /// The files written beside `run.json`.
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
}

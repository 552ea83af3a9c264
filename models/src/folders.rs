//! Models that are folders: a user trains variants (`comp train toy2d --concepts ring,left_bar
//! --out models/toy2d-ring`), and each folder `NAME/` with a model card in a model root (see
//! [`crate::locate`]) is model `NAME`, of the kind its card says:
//!
//! | card ([`crate::card`]) | kind |
//! | --- | --- |
//! | `{"kind": "mlp", "arch": {"param": "energy", ...}, ...}` | `toy2d-mlp` (its concepts are the card's vocabulary) |
//! | `{"kind": "mlp", "arch": {"param": "eps", ...}, ...}` | `toy2d-mlp-eps` |
//! | `{"kind": "clevr-unet", "model": "clevr-pos", ...}` | `clevr-pos` |
//! | `{"kind": "clevr-unet", "model": "clevr-attr", ...}` | `clevr-attr` (its concepts are the card's `arch.labels`) |
//!
//! Old cards still count: `{"format": "comp-mlp", "param": …}` for the MLPs, and
//! `{"format": 1, "model": "clevr-pos" | "clevr-attr", …}` for the UNets.
//!
//! A registry name (`toy2d-mlp`, `sd15`, …) always means the registry's model; a folder whose
//! name is not a name scripts can write (`[A-Za-z_][A-Za-z0-9_-]*`), or whose card is of no
//! kind above (a Stable Diffusion pointer card names a registry model), is not listed. The first
//! root holding a folder of a name wins, as for the registry's learned models.

use std::path::{Path, PathBuf};

use candle_core::{Device, Result};
use comp_plan::{is_name, ModelInfo, SamplePlan};
use comp_runtime::{Denoiser, Prepared, Schedule, Spacing};

use crate::error::LoadResult;
use crate::{clevr, entry, locate, mlp, Entry, REGISTRY};

/// A model folder that is not a registry model.
#[derive(Clone, Debug)]
pub struct FolderModel {
    /// The folder's name: the model's name in scripts.
    pub name: String,
    pub dir: PathBuf,
    /// The registry model it is a variant of (`toy2d-mlp`).
    pub kind: &'static str,
    /// What the checker knows of it (from its card, without loading weights).
    pub info: ModelInfo,
}

/// The kind and info of the folder `dir` named `name`, from its card; `None` when it has no
/// card of a known kind.
fn read(name: &str, dir: &Path) -> Option<FolderModel> {
    let text = std::fs::read_to_string(dir.join(crate::weights::CARD_FILE)).ok()?;
    let card: serde_json::Value = serde_json::from_str(&text).ok()?;
    let path = dir.join(crate::weights::CARD_FILE);
    let is_mlp = card.get("kind").and_then(|k| k.as_str()) == Some(mlp::card::KIND)
        || card.get("format").and_then(|f| f.as_str()) == Some(mlp::card::OLD_FORMAT);
    let (kind, mut info) = if is_mlp {
        let (card, _) = crate::card::parse(name, &path, &text, mlp::card::legacy).ok()?;
        let mut info = mlp::info(card.arch.param);
        info.concepts.retain(|c| card.arch.vocabulary.contains(&c.name));
        info.schedule = Some(crate::toy2d::cosine_schedule(card.schedule.steps, card.schedule.offset));
        (mlp::name_of(card.arch.param), info)
    } else if card.get("model").and_then(|m| m.as_str()) == Some(clevr::NAME) {
        (clevr::NAME, clevr::info())
    } else if card.get("model").and_then(|m| m.as_str()) == Some(clevr::attr::NAME) {
        let (card, _) = crate::card::parse(name, &path, &text, clevr::card::legacy).ok()?;
        card.arch.validate().ok()?;
        (clevr::attr::NAME, clevr::attr::info_for(&card.arch.labels))
    } else {
        return None;
    };
    info.description = format!("a {kind} model from {} ({})", dir.display(), info.description);
    info.name = name.to_string();
    Some(FolderModel { name: name.to_string(), dir: dir.to_path_buf(), kind, info })
}

/// Every folder model in the model roots, in root order then by name.
pub fn folder_models() -> Vec<FolderModel> {
    let mut out: Vec<FolderModel> = Vec::new();
    for root in locate::roots() {
        let Ok(entries) = std::fs::read_dir(&root) else { continue };
        let mut names: Vec<(String, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| Some((e.file_name().to_str()?.to_string(), e.path())))
            .collect();
        names.sort();
        for (name, dir) in names {
            if !is_name(&name) || entry(&name).is_some() || out.iter().any(|f| f.name == name) {
                continue;
            }
            if let Some(f) = read(&name, &dir) {
                out.push(f);
            }
        }
    }
    out
}

/// The folder model `name`, if there is one.
pub fn folder_model(name: &str) -> Option<FolderModel> {
    if !is_name(name) || entry(name).is_some() {
        return None;
    }
    let dir = locate::find(name)?;
    read(name, &dir)
}

/// Loads a folder model with its kind's loader, under its own name.
pub fn load(f: &FolderModel, device: &Device) -> LoadResult<Box<dyn Denoiser>> {
    let kind: &Entry = REGISTRY.iter().find(|e| e.name == f.kind).expect("folder kinds are registry models");
    let inner = if f.kind == mlp::ENERGY_NAME || f.kind == mlp::EPS_NAME {
        Box::new(mlp::Mlp::load_dir(&f.name, &f.dir, device)?) as Box<dyn Denoiser>
    } else {
        (kind.load)(&f.dir, device)?
    };
    let mut info = inner.info().clone();
    info.name = f.name.clone();
    info.description = f.info.description.clone();
    Ok(Box::new(Named { info, inner }))
}

/// `inner` under the name `name` (a folder's, the name scripts use for it); a model already
/// of that name is returned as it is.
pub fn renamed(inner: Box<dyn Denoiser>, name: &str) -> Box<dyn Denoiser> {
    if inner.info().name == name {
        return inner;
    }
    let mut info = inner.info().clone();
    info.name = name.to_string();
    Box::new(Named { info, inner })
}

/// A loaded model under another name (a folder's), otherwise itself.
struct Named {
    info: ModelInfo,
    inner: Box<dyn Denoiser>,
}

impl Denoiser for Named {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn schedule(&self) -> &Schedule {
        self.inner.schedule()
    }
    fn spacing(&self) -> Spacing {
        self.inner.spacing()
    }
    fn prepare(&self, plan: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        self.inner.prepare(plan)
    }
    fn working_bytes_per_row(&self, sample_shape: &[usize]) -> usize {
        self.inner.working_bytes_per_row(sample_shape)
    }
    fn fixed_working_bytes(&self, sample_shape: &[usize]) -> usize {
        self.inner.fixed_working_bytes(sample_shape)
    }
    fn x0_range(&self, sampler: &comp_plan::Sampler) -> Option<(f32, f32)> {
        self.inner.x0_range(sampler)
    }
}

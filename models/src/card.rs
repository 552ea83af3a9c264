//! The model card, `model.json`: one envelope for every learned model, read and written here.
//!
//! ```json
//! {
//!   "format": "comp-model",
//!   "version": 1,
//!   "model": "clevr-pos",
//!   "kind": "clevr-unet",
//!   "weights": { "file": "model.safetensors", "dtype": "f16", "bytes": 1234, "fnv1a64": "…" },
//!   "schedule": { "kind": "cosine", "steps": 1000, "offset": 0.008 },
//!   "training": { … the kind's own record … },
//!   "arch": { … the kind's own network … },
//!   "comp_version": "0.1.0"
//! }
//! ```
//!
//! `model` is the registry model the weights are (a folder model's card names the registry
//! model it is a variant of), `kind` the network family: [`mlp`](crate::mlp) (`toy2d-mlp`,
//! `toy2d-mlp-eps`), `clevr-unet` (`clevr-pos`, `clevr-attr`) or `clevr-classifier`
//! (`clevr-attr-clf`). `training` and `arch` are typed per kind ([`Envelope`]'s parameters).
//! `weights` ties the card to its weights file: [`Envelope::write`] computes it from the file,
//! [`read`] checks the file's size and hash against it.
//!
//! Cards written before the envelope still load: each kind passes [`read`] a converter of its
//! old shape (`{"format": "comp-mlp", …}` for the MLPs, `{"format": 1, …}` for the clevr
//! networks), which gives the envelope in memory; an old clevr card had no hash, so its
//! `weights` are those of the file found beside it. (Stable Diffusion's `model.json` is a
//! pointer to a diffusers folder, not a card of this kind: see [`crate::sd::folder`].)

use std::path::Path;

use candle_core::Result;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{LoadError, LoadResult};
use crate::weights::{self, fnv1a64, NoWeights, WeightsCard, CARD_FILE, WEIGHTS_FILE};

/// The envelope's `format`, the same for every kind.
pub const FORMAT: &str = "comp-model";
/// The envelope version this comp reads and writes.
pub const VERSION: u32 = 1;

/// A model card: the envelope, with the kind's network `A` and training record `T`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope<A, T> {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The registry model the weights are: `toy2d-mlp`, `clevr-attr`, …
    pub model: String,
    /// The network family: `mlp`, `clevr-unet`, `clevr-classifier`.
    pub kind: String,
    /// The weights file this card describes: its size and FNV-1a 64 hash (hex).
    pub weights: WeightsCard,
    /// The native noise schedule the model was trained on.
    pub schedule: ScheduleCard,
    /// How the model was trained (the kind's record).
    pub training: T,
    /// How to rebuild the network (the kind's).
    pub arch: A,
    /// The comp that trained it (empty for an old clevr card, which did not say).
    pub comp_version: String,
}

/// The native noise schedule a model was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleCard {
    /// `cosine` (the only one trained so far).
    pub kind: String,
    pub steps: usize,
    /// The cosine offset s.
    pub offset: f64,
}

impl ScheduleCard {
    /// Improved DDPM's cosine schedule over `steps` with offset `offset`.
    pub fn cosine(steps: usize, offset: f64) -> Self {
        ScheduleCard { kind: "cosine".into(), steps, offset }
    }
}

/// An old card's JSON as the kind's envelope: `None` when it is not of the kind's old shape,
/// `Some(Err)` when it is but does not parse.
pub type Legacy<A, T> = fn(&serde_json::Value) -> Option<std::result::Result<Envelope<A, T>, String>>;

impl<A, T> Envelope<A, T> {
    /// A card of this comp's format and version for model `model` of kind `kind`; its
    /// `weights` name [`WEIGHTS_FILE`] and are filled in by [`Envelope::write`].
    pub fn new(model: &str, kind: &str, schedule: ScheduleCard, arch: A, training: T) -> Self {
        Envelope {
            format: FORMAT.into(),
            version: VERSION,
            model: model.into(),
            kind: kind.into(),
            weights: WeightsCard { file: WEIGHTS_FILE.into(), dtype: String::new(), bytes: 0, fnv1a64: String::new() },
            schedule,
            training,
            arch,
            comp_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

impl<A: Serialize + Clone, T: Serialize + Clone> Envelope<A, T> {
    /// Writes `dir/model.json` (atomically) with `weights` computed from the weights file in
    /// `dir` (written before the card): its size, hash and stored dtype. Returns the card
    /// as written.
    pub fn write(&self, dir: &Path) -> Result<Self> {
        let mut card = self.clone();
        if card.weights.file.is_empty() {
            card.weights.file = WEIGHTS_FILE.into();
        }
        let bytes = weights::read_bytes(&dir.join(&card.weights.file))?;
        card.weights = describe(&card.weights.file, &bytes);
        weights::write_card(&dir.join(CARD_FILE), &card)?;
        Ok(card)
    }
}

/// What a card records of the weights file `file` holding `bytes`.
pub fn describe(file: &str, bytes: &[u8]) -> WeightsCard {
    WeightsCard { file: file.into(), dtype: stored_dtype(bytes), bytes: bytes.len() as u64, fnv1a64: fnv1a64(bytes) }
}

/// The dtype a safetensors file stores (`f16`, `f32`; of its first tensor by name), or empty
/// when it is not one or holds none.
fn stored_dtype(bytes: &[u8]) -> String {
    let Ok((_, meta)) = safetensors::SafeTensors::read_metadata(bytes) else { return String::new() };
    let tensors = meta.tensors();
    let first = tensors.keys().min().and_then(|k| tensors.get(k));
    first.map(|t| format!("{:?}", t.dtype).to_lowercase()).unwrap_or_default()
}

/// Parses a card's text (read from `path`, for model `name`): the envelope, or an old card the
/// kind's `legacy` converter knows. Says whether it was an old one. Checks nothing of what it
/// describes (see [`read`]).
pub fn parse<A: DeserializeOwned, T: DeserializeOwned>(
    name: &str,
    path: &Path,
    text: &str,
    legacy: Legacy<A, T>,
) -> LoadResult<(Envelope<A, T>, bool)> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid(name, path, e.to_string()))?;
    parse_value(name, path, value, legacy)
}

fn invalid(name: &str, path: &Path, e: String) -> LoadError {
    LoadError::bad_card(name, path, format!("{} is not a valid model card: {e}", path.display()))
}

fn parse_value<A: DeserializeOwned, T: DeserializeOwned>(
    name: &str,
    path: &Path,
    value: serde_json::Value,
    legacy: Legacy<A, T>,
) -> LoadResult<(Envelope<A, T>, bool)> {
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        if let Some(old) = legacy(&value) {
            return old.map(|c| (c, true)).map_err(|e| invalid(name, path, e));
        }
    }
    serde_json::from_value(value).map(|c| (c, false)).map_err(|e| invalid(name, path, e.to_string()))
}

/// The envelope's fields that say what a card is, read before the kind's own.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
    model: String,
    kind: String,
}

impl Header {
    /// A [`LoadError::BadCard`] unless this is a card of this comp's format and version, of
    /// kind `kind`, for one of `models`.
    fn check(&self, name: &str, path: &Path, models: &[&str], kind: &str) -> LoadResult<()> {
        if self.format == FORMAT && self.version == VERSION && self.kind == kind && models.contains(&self.model.as_str()) {
            return Ok(());
        }
        Err(LoadError::bad_card(
            name,
            path,
            format!(
                "{} is a `{}` card for `{}` ({} version {}); this comp reads `{kind}` cards for {} ({FORMAT} version {VERSION})",
                path.display(),
                self.kind,
                self.model,
                self.format,
                self.version,
                models.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(" or "),
            ),
        ))
    }
}

/// Reads model `name`'s card `dir/model.json`, one of `models` (registry names) of kind
/// `kind`, and checks it against the weights file it names:
///
/// * no card or no weights file in `dir` is [`NoWeights`] (naming `dir`);
/// * a card that cannot be read, is not JSON or not of the envelope's (or the kind's old)
///   shape, is of another format, version or kind, names another model, or whose weights file
///   is not the one it describes (size and FNV-1a hash) is [`LoadError::BadCard`].
///
/// An old card is converted by `legacy`; one without a hash takes the file's.
pub fn read<A: DeserializeOwned, T: DeserializeOwned>(
    name: &str,
    models: &[&str],
    kind: &str,
    dir: &Path,
    legacy: Legacy<A, T>,
) -> LoadResult<Envelope<A, T>> {
    let path = dir.join(CARD_FILE);
    if !path.is_file() || !dir.join(WEIGHTS_FILE).is_file() {
        return Err(NoWeights::error(name, dir));
    }
    let bad = |reason: String| LoadError::bad_card(name, &path, reason);
    let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| invalid(name, &path, e.to_string()))?;
    // What the card is, before the kind's fields: a card of another kind is named as such.
    if let Ok(header) = serde_json::from_value::<Header>(value.clone()) {
        header.check(name, &path, models, kind)?;
    }
    let (mut card, old) = parse_value(name, &path, value, legacy)?;
    let header = Header { format: card.format.clone(), version: card.version, model: card.model.clone(), kind: card.kind.clone() };
    header.check(name, &path, models, kind)?;
    let file = if card.weights.file.is_empty() { WEIGHTS_FILE } else { card.weights.file.as_str() };
    let weights_path = dir.join(file);
    let bytes = weights::read_bytes(&weights_path)?;
    if old && card.weights.fnv1a64.is_empty() {
        card.weights = describe(file, &bytes);
    } else if !card.weights.matches(&bytes) {
        return Err(bad(format!(
            "{} is not the weights file its card {} describes (corrupt, or from another training run)",
            weights_path.display(),
            path.display()
        )));
    }
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Toy = Envelope<Vec<u32>, String>;

    fn no_legacy(_: &serde_json::Value) -> Option<std::result::Result<Toy, String>> {
        None
    }

    fn old_shape(v: &serde_json::Value) -> Option<std::result::Result<Toy, String>> {
        let arch = v.get("old")?;
        Some(
            serde_json::from_value(arch.clone())
                .map(|a| Envelope::new("toy", "toy", ScheduleCard::cosine(10, 0.008), a, "old".into()))
                .map_err(|e| e.to_string()),
        )
    }

    #[test]
    fn writes_the_weights_hash_reads_it_back_and_refuses_a_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join(WEIGHTS_FILE), b"weights").unwrap();
        let card: Toy = Envelope::new("toy", "toy", ScheduleCard::cosine(10, 0.008), vec![1, 2], "run".into());
        let written = card.write(d).unwrap();
        assert_eq!((written.weights.bytes, written.weights.fnv1a64.as_str()), (7, fnv1a64(b"weights").as_str()));
        let text = std::fs::read_to_string(d.join(CARD_FILE)).unwrap();
        assert!(
            text.starts_with("{\n  \"format\": \"comp-model\",\n  \"version\": 1,\n  \"model\": \"toy\",\n  \"kind\": \"toy\""),
            "{text}"
        );
        assert_eq!(read("toy", &["toy"], "toy", d, no_legacy).unwrap(), written);
        // Another kind, or another model, is a bad card.
        assert!(matches!(read::<Vec<u32>, String>("toy", &["toy"], "other", d, no_legacy), Err(LoadError::BadCard { .. })));
        let e = read::<Vec<u32>, String>("x", &["x"], "toy", d, no_legacy).unwrap_err();
        assert!(e.to_string().contains("is a `toy` card for `toy`"), "{e}");
        // Other weights: the card no longer describes them.
        std::fs::write(d.join(WEIGHTS_FILE), b"weightz").unwrap();
        match read::<Vec<u32>, String>("toy", &["toy"], "toy", d, no_legacy) {
            Err(LoadError::BadCard { reason, .. }) => assert!(reason.contains("is not the weights file its card"), "{reason}"),
            other => panic!("expected a bad card, got {other:?}"),
        }
        // An old shape is converted, taking the file's hash.
        std::fs::write(d.join(CARD_FILE), r#"{"old": [3]}"#).unwrap();
        let c = read("toy", &["toy"], "toy", d, old_shape).unwrap();
        assert_eq!((c.arch, c.training.as_str(), c.weights.fnv1a64), (vec![3], "old", fnv1a64(b"weightz")));
        std::fs::write(d.join(CARD_FILE), r#"{"old": "three"}"#).unwrap();
        let e = read("toy", &["toy"], "toy", d, old_shape).unwrap_err();
        assert!(e.to_string().contains("is not a valid model card"), "{e}");
        // No weights beside it.
        std::fs::remove_file(d.join(WEIGHTS_FILE)).unwrap();
        assert!(matches!(read("toy", &["toy"], "toy", d, old_shape), Err(LoadError::NoWeights(_))));
    }
}

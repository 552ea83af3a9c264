//! Learned models on disk: one folder per model, `model.safetensors` (the weights) beside
//! `model.json` (the model card, one envelope for every kind: [`crate::card`]; what was trained, how, and how to rebuild the network).
//!
//! Every model reads and writes its folder through this file: safetensors load and save
//! (written atomically through the runtime's one writer: a temporary file, fsync, rename, and
//! clean-up on failure), the card as pretty JSON, the weights' size and FNV-1a hash that tie a
//! card to its weights file, and the one "no weights" error ([`NoWeights`]), which says where
//! the weights were looked for and nothing about how to make them (a model does not know the
//! command line: the CLI matches [`crate::LoadError::NoWeights`] and adds that).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Result, Tensor};
use comp_output::write_atomic;
use serde::{Deserialize, Serialize};

use crate::error::LoadError;

/// The model card's file name in a model folder.
pub const CARD_FILE: &str = "model.json";
/// The weights' file name in a model folder.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// A model has no weights: in the folder it was pointed at, or in any folder searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoWeights {
    pub model: String,
    /// The folders looked in, in order (one when the folder was given).
    pub searched: Vec<PathBuf>,
}

impl std::fmt::Display for NoWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.searched.as_slice() {
            [dir] => write!(f, "model `{}` has no weights at {}", self.model, dir.display()),
            searched => {
                let list: Vec<String> = searched.iter().map(|p| format!("  {}", p.display())).collect();
                write!(
                    f,
                    "model `{}` has no weights (`{WEIGHTS_FILE}`); searched, in order:\n{}\nset {} to a folder that holds `{}/{WEIGHTS_FILE}` (a list, like PATH; searched first)",
                    self.model,
                    list.join("\n"),
                    crate::locate::ENV,
                    self.model
                )
            }
        }
    }
}

impl std::error::Error for NoWeights {}

impl NoWeights {
    /// No weights in the folder `dir` a model was pointed at.
    pub fn error(model: &str, dir: &Path) -> LoadError {
        NoWeights::searched(model, vec![dir.into()])
    }

    /// No weights in any of the folders searched.
    pub fn searched(model: &str, searched: Vec<PathBuf>) -> LoadError {
        LoadError::NoWeights(NoWeights { model: model.into(), searched })
    }
}

/// Which weights file a card belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightsCard {
    pub file: String,
    /// The stored dtype (`f16`); models compute in f32.
    pub dtype: String,
    pub bytes: u64,
    pub fnv1a64: String,
}

impl WeightsCard {
    /// Whether `bytes` are the file this card describes.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() as u64 == self.bytes && fnv1a64(bytes) == self.fnv1a64
    }
}

/// FNV-1a, 64 bit, as hex: a cheap check that a card and a weights file belong together (files
/// are named by [`sha256_file`]).
pub fn fnv1a64(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a64_update(FNV_OFFSET, bytes))
}

/// FNV-1a's starting state.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64 bit, continued over `bytes` from state `h` ([`FNV_OFFSET`] to start).
pub fn fnv1a64_update(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// [`fnv1a64`] of a file, read in pieces (a Stable Diffusion UNet is gigabytes).
pub fn fnv1a64_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut h = FNV_OFFSET;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h = fnv1a64_update(h, &buf[..n]);
    }
    Ok(format!("{h:016x}"))
}

/// SHA-256 of a file as hex, read in pieces (a Stable Diffusion UNet is gigabytes): the
/// ecosystem's name for a weights file (Hugging Face's file ids; AUTOMATIC1111's "Model hash"
/// and Civitai's AutoV2 are its first 10 hex digits, [`short_hash`]).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut h = sha2::Sha256::new();
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The short form of a SHA-256: its first 10 hex digits (AUTOMATIC1111's and Civitai's).
pub fn short_hash(sha256: &str) -> &str {
    sha256.get(..10).unwrap_or(sha256)
}

/// [`sha256_file`], remembered by path, size and modification time in a small cache file
/// ([`hash_cache_path`]), so a second load of gigabytes of weights costs nothing. A cache that
/// cannot be read or written is only slower.
pub fn sha256_file_cached(path: &Path) -> std::io::Result<String> {
    let meta = std::fs::metadata(path)?;
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos());
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf()).to_string_lossy().into_owned();
    let cache = hash_cache_path();
    let mut entries: serde_json::Map<String, serde_json::Value> =
        cache.as_ref().and_then(|c| std::fs::read(c).ok()).and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let stamp = serde_json::json!({"bytes": meta.len(), "mtime_ns": mtime.map(|m| m.to_string())});
    if let Some(e) = entries.get(&key) {
        if mtime.is_some() && e["bytes"] == stamp["bytes"] && e["mtime_ns"] == stamp["mtime_ns"] {
            if let Some(h) = e["sha256"].as_str() {
                return Ok(h.to_string());
            }
        }
    }
    let hash = sha256_file(path)?;
    if let (Some(cache), Some(_)) = (cache, mtime) {
        let mut entry = stamp;
        entry["sha256"] = serde_json::Value::from(hash.clone());
        entries.insert(key, entry);
        if let Some(dir) = cache.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = write_atomic(&cache, &serde_json::to_vec_pretty(&entries).unwrap_or_default());
    }
    Ok(hash)
}

/// Where [`sha256_file_cached`] keeps its hashes: `$COMP_HASH_CACHE`, else
/// `$XDG_CACHE_HOME/comp/sha256.json`, else `~/.cache/comp/sha256.json`.
pub fn hash_cache_path() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("COMP_HASH_CACHE") {
        return Some(p.into());
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| std::path::PathBuf::from(h).join(".cache")))?;
    Some(base.join("comp").join("sha256.json"))
}

fn msg(text: String) -> candle_core::Error {
    candle_core::Error::Msg(text)
}

/// Writes named tensors as a safetensors file, converted to `dtype` (and to the CPU),
/// atomically. Returns what a card records of the file.
pub fn save_tensors(path: &Path, tensors: &HashMap<String, Tensor>, dtype: DType) -> Result<WeightsCard> {
    let converted = tensors
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.to_dtype(dtype)?.to_device(&Device::Cpu)?)))
        .collect::<Result<HashMap<String, Tensor>>>()?;
    let bytes = safetensors::serialize(converted.iter().map(|(k, v)| (k.as_str(), v)), None)
        .map_err(|e| msg(format!("encoding {}: {e}", path.display())))?;
    write_atomic(path, &bytes).map_err(|e| msg(e.to_string()))?;
    Ok(WeightsCard {
        file: path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        dtype: format!("{dtype:?}").to_lowercase(),
        bytes: bytes.len() as u64,
        fnv1a64: fnv1a64(&bytes),
    })
}

/// Reads a weights file's bytes (to check against its card before parsing them).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| msg(format!("cannot read weights {}: {e}", path.display())))
}

/// Parses safetensors bytes read from `path` into tensors on `device`, as stored; a corrupt
/// file is a clear error naming it.
pub fn parse_tensors(bytes: &[u8], path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    candle_core::safetensors::load_buffer(bytes, device)
        .map_err(|e| msg(format!("cannot read weights {}: it is not a valid safetensors file: {e}", path.display())))
}

/// Reads a safetensors file into tensors on `device`, as stored.
pub fn load_tensors(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    parse_tensors(&read_bytes(path)?, path, device)
}

/// Converts every tensor to f32 (models store f16 and compute in f32).
pub fn to_f32(tensors: HashMap<String, Tensor>) -> Result<HashMap<String, Tensor>> {
    tensors.into_iter().map(|(k, v)| Ok((k, v.to_dtype(DType::F32)?))).collect()
}

/// Writes a card as pretty JSON (with a final newline), atomically (for [`crate::card`], which
/// reads and writes every learned model's card).
pub fn write_card<C: Serialize>(path: &Path, card: &C) -> Result<()> {
    let json = serde_json::to_string_pretty(card).map_err(|e| msg(format!("encoding {}: {e}", path.display())))?;
    write_atomic(path, format!("{json}\n").as_bytes()).map_err(|e| msg(e.to_string()))
}

#[cfg(test)]
mod hash_tests {
    use super::*;

    #[test]
    fn sha256_is_streamed_and_cached_by_path_size_and_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.safetensors");
        std::fs::write(&file, b"abc").unwrap();
        let known = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_file(&file).unwrap(), known);
        assert_eq!(short_hash(known), "ba7816bf8f");
        // The cache answers without reading: a stale entry (same size and mtime, another
        // hash) is believed, which shows the file was not read again.
        let cache = dir.path().join("cache.json");
        std::env::set_var("COMP_HASH_CACHE", &cache);
        assert_eq!(sha256_file_cached(&file).unwrap(), known);
        let text = std::fs::read_to_string(&cache).unwrap().replace(known, "cached");
        std::fs::write(&cache, text).unwrap();
        assert_eq!(sha256_file_cached(&file).unwrap(), "cached");
        // Another size: hashed again.
        std::fs::write(&file, b"abcd").unwrap();
        assert_eq!(sha256_file_cached(&file).unwrap(), "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589");
        std::env::remove_var("COMP_HASH_CACHE");
    }
}

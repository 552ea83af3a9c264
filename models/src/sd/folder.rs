//! Where a Stable Diffusion checkpoint is on disk, never fetched: a diffusers folder, found
//!
//! 1. through a model card `ROOT/NAME/model.json` = `{"diffusers": "/path/to/folder"}` in the
//!    roots of [`crate::locate`] (`COMP_MODELS` first), or `ROOT/NAME/` being a diffusers
//!    folder itself (it has `model_index.json` or `unet/`);
//! 2. else in the Hugging Face cache, offline: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
//!    `~/.cache/huggingface/hub`, folder `models--ORG--NAME/snapshots/REV/` for each repository
//!    the model lists, REV from `refs/main` (else the newest snapshot).
//!
//! [`Files::check`] then says which file is missing and what was expected, before anything
//! is loaded.

use candle_core::{bail, Result};
use std::path::{Path, PathBuf};

use crate::error::{LoadError, LoadResult};

/// The card that points a model at a diffusers folder.
pub const CARD: &str = "model.json";

/// The files of a diffusers checkpoint that `comp` reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Files {
    pub root: PathBuf,
    pub unet_config: PathBuf,
    pub unet: PathBuf,
    pub vae_config: PathBuf,
    pub vae: PathBuf,
    pub text_config: PathBuf,
    pub text: PathBuf,
    pub tokenizer: PathBuf,
    /// `None`: SD's defaults.
    pub scheduler: Option<PathBuf>,
}

impl Files {
    /// Every weights file, for hashing into `run.json`.
    pub fn weights(&self) -> Vec<PathBuf> {
        vec![self.unet.clone(), self.vae.clone(), self.text.clone()]
    }

    /// The files of the diffusers folder `root`, or an error naming the first one missing.
    pub fn check(root: &Path) -> Result<Files> {
        if !root.is_dir() {
            bail!("{} is not a folder (expected a diffusers folder with `unet/`, `vae/`, `text_encoder/` and `tokenizer/`)", root.display())
        }
        const PARTS: [&str; 4] = ["unet", "vae", "text_encoder", "tokenizer"];
        if PARTS.iter().all(|p| std::fs::symlink_metadata(root.join(p)).is_err()) {
            bail!("{} is not a diffusers folder: it has none of `unet/`, `vae/`, `text_encoder/` and `tokenizer/`", root.display())
        }
        let need = |sub: &str, file: &str| -> Result<PathBuf> {
            let p = root.join(sub).join(file);
            if present(&p, root, &format!("{sub}/{file}"))? {
                Ok(p)
            } else {
                bail!(
                    "{}: `{sub}/{file}` is missing (a diffusers folder has `unet/`, `vae/`, `text_encoder/` and `tokenizer/`)",
                    root.display()
                )
            }
        };
        let weights = |sub: &str, stem: &str| -> Result<PathBuf> {
            // Full precision first; an `.fp16` variant is converted on load.
            for name in [format!("{stem}.safetensors"), format!("{stem}.fp16.safetensors")] {
                let p = root.join(sub).join(&name);
                if present(&p, root, &format!("{sub}/{name}"))? {
                    return Ok(p);
                }
            }
            let pickled = [format!("{stem}.bin"), format!("{stem}.fp16.bin")].iter().any(|n| root.join(sub).join(n).is_file());
            if pickled {
                bail!(
                    "{}: `{sub}/` has only PyTorch `.bin` weights; comp reads safetensors (`{sub}/{stem}.safetensors`): convert them, e.g. with diffusers' `save_pretrained(..., safe_serialization=True)`",
                    root.display()
                )
            }
            bail!("{}: `{sub}/{stem}.safetensors` is missing (or its `.fp16.safetensors` variant)", root.display())
        };
        let tokenizer = root.join("tokenizer");
        let has_pair = tokenizer.join("vocab.json").is_file() && tokenizer.join("merges.txt").is_file();
        if !has_pair && !tokenizer.join("tokenizer.json").is_file() {
            bail!("{}: `tokenizer/` needs `vocab.json` and `merges.txt` (or a `tokenizer.json`)", root.display())
        }
        let scheduler = root.join("scheduler").join("scheduler_config.json");
        let files = Files {
            root: root.to_path_buf(),
            unet_config: need("unet", "config.json")?,
            unet: weights("unet", "diffusion_pytorch_model")?,
            vae_config: need("vae", "config.json")?,
            vae: weights("vae", "diffusion_pytorch_model")?,
            text_config: need("text_encoder", "config.json")?,
            text: weights("text_encoder", "model")?,
            tokenizer,
            scheduler: scheduler.is_file().then_some(scheduler),
        };
        files.check_tensor_names()?;
        Ok(files)
    }

    /// Reads each weights file's header (not its tensors) and checks that it holds the
    /// network it should, under a layout comp reads: a folder is reported "found" only when
    /// a run can load it, not when its file names merely look right.
    fn check_tensor_names(&self) -> Result<()> {
        let expect = |file: &Path, what: &str, any_of: &[&str]| -> Result<()> {
            let names = tensor_names(file)?;
            if any_of.iter().any(|n| names.contains(*n)) {
                return Ok(());
            }
            let mut sample: Vec<&String> = names.iter().collect();
            sample.sort();
            let shown: Vec<String> = sample.iter().take(3).map(|n| format!("`{n}`")).collect();
            bail!(
                "{}: this is not {what} comp can read: it has no {} (its {} tensors begin {})",
                file.display(),
                any_of.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" or "),
                names.len(),
                if shown.is_empty() { "with nothing".to_string() } else { shown.join(", ") }
            )
        };
        expect(&self.unet, "a diffusers UNet", &["conv_in.weight"])?;
        expect(&self.vae, "a diffusers VAE", &["decoder.conv_in.weight"])?;
        expect(&self.text, "a CLIP text encoder", &crate::sd::clip::TOKEN_EMBEDDING_NAMES)
    }
}

/// The tensor names in a safetensors file, read from its header alone (8 bytes of length, then
/// that much JSON): a multi-gigabyte file is not read to check its layout.
pub fn tensor_names(path: &Path) -> Result<std::collections::HashSet<String>> {
    use std::io::Read;
    let fail = |what: String| candle_core::Error::Msg(format!("{}: {what}", path.display()));
    let mut f = std::fs::File::open(path).map_err(|e| fail(format!("cannot be read: {e}")))?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(|_| fail("is not a safetensors file (shorter than its 8-byte header length)".into()))?;
    let n = u64::from_le_bytes(len);
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    // The safetensors format caps the header at 100 MB.
    if n == 0 || n > 100_000_000 || n > size.saturating_sub(8) {
        return Err(fail(format!("is not a safetensors file (its header claims {n} bytes of a {size}-byte file)")));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(|e| fail(format!("cannot be read: {e}")))?;
    let v: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| fail(format!("is not a safetensors file (its header is not JSON: {e})")))?;
    let Some(obj) = v.as_object() else { return Err(fail("is not a safetensors file (its header is not a JSON object)".into())) };
    Ok(obj.keys().filter(|k| *k != "__metadata__").cloned().collect())
}

/// Whether `path` (shown as `name` inside `root`) is a readable file: `Ok(false)` when nothing
/// is there, an error when something is there that cannot be read as one (a folder, a
/// dangling or looping symlink, a file without read permission), so that none is reported as
/// "missing".
fn present(path: &Path, root: &Path, name: &str) -> Result<bool> {
    let Ok(entry) = std::fs::symlink_metadata(path) else { return Ok(false) };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if entry.file_type().is_symlink() => {
            bail!("{}: `{name}` is a symbolic link that leads nowhere ({e})", root.display())
        }
        Err(e) => bail!("{}: `{name}` cannot be read: {e}", root.display()),
    };
    if meta.is_dir() {
        bail!("{}: `{name}` is a folder; expected a file", root.display())
    }
    if !meta.is_file() {
        bail!("{}: `{name}` is not a regular file", root.display())
    }
    if let Err(e) = std::fs::File::open(path) {
        bail!("{}: `{name}` cannot be read: {e}", root.display())
    }
    Ok(true)
}

/// Where a model's folder was found, or everywhere it was looked for.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    Folder(PathBuf),
    Missing(Vec<PathBuf>),
}

/// Finds model `name`'s diffusers folder (see the module doc); `hub` lists the Hugging Face
/// repositories (`org/name`) that hold it. A model card that cannot be read or names no folder
/// is [`LoadError::BadCard`].
pub fn locate(name: &str, hub: &[&str]) -> LoadResult<Found> {
    locate_in(name, hub, &crate::locate::roots(), &hub_caches())
}

/// [`locate`] over given model roots and hub caches.
pub fn locate_in(name: &str, hub: &[&str], roots: &[PathBuf], caches: &[PathBuf]) -> LoadResult<Found> {
    let mut searched = Vec::new();
    for root in roots {
        let dir = root.join(name);
        let card = dir.join(CARD);
        // Anything at the card's path is the card: one that cannot be read or understood is
        // reported as such, never as "no model card".
        if std::fs::symlink_metadata(&card).is_ok() {
            return read_card(&card)
                .map(Found::Folder)
                .map_err(|why| LoadError::bad_card(name, &card, format!("model card {}: {why}", card.display())));
        }
        if dir.join("model_index.json").is_file() || dir.join("unet").is_dir() {
            return Ok(Found::Folder(dir));
        }
        searched.push(card);
    }
    for cache in caches {
        for repo in hub {
            let repo_dir = cache.join(format!("models--{}", repo.replace('/', "--")));
            if let Some(snap) = snapshot(&repo_dir) {
                return Ok(Found::Folder(snap));
            }
            searched.push(repo_dir.join("snapshots"));
        }
    }
    Ok(Found::Missing(searched))
}

/// `{"diffusers": PATH}`; a relative path is relative to the card's folder. Err: what is
/// wrong with the card.
fn read_card(card: &Path) -> std::result::Result<PathBuf, String> {
    let expected = "expected {\"diffusers\": \"/path/to/a/diffusers/folder\"}";
    let meta = std::fs::metadata(card).map_err(|e| format!("{e}; {expected}"))?;
    if !meta.is_file() {
        return Err(format!("not a file; {expected}"));
    }
    let text = std::fs::read_to_string(card).map_err(|e| format!("cannot be read: {e}"))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{e}; {expected}"))?;
    let Some(p) = v.get("diffusers").and_then(|p| p.as_str()).filter(|p| !p.trim().is_empty()) else {
        return Err(expected.to_string());
    };
    let p = PathBuf::from(p);
    Ok(if p.is_relative() { card.parent().unwrap_or(Path::new(".")).join(p) } else { p })
}

/// The snapshot `refs/main` names, else the most recently modified one.
fn snapshot(repo_dir: &Path) -> Option<PathBuf> {
    let snaps = repo_dir.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(repo_dir.join("refs").join("main")) {
        // A revision is one folder name inside `snapshots/`: an empty or `.` ref would name
        // `snapshots/` itself, and an absolute or `..` path a folder outside the cache.
        let rev = rev.trim();
        let mut parts = Path::new(rev).components();
        if let (Some(std::path::Component::Normal(name)), None) = (parts.next(), parts.next()) {
            let dir = snaps.join(name);
            if dir.is_dir() {
                return Some(dir);
            }
        }
    }
    std::fs::read_dir(&snaps)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// The Hugging Face hub caches, in the order the `huggingface_hub` library resolves them.
pub fn hub_caches() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("HF_HUB_CACHE") {
        return vec![PathBuf::from(p)];
    }
    if let Some(p) = std::env::var_os("HF_HOME") {
        return vec![PathBuf::from(p).join("hub")];
    }
    dirs_home().map(|h| vec![h.join(".cache").join("huggingface").join("hub")]).unwrap_or_default()
}

fn dirs_home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// The message for a model found nowhere: every place searched, and how to point at a folder.
pub fn missing_message(name: &str, searched: &[PathBuf]) -> String {
    let list: Vec<String> = searched.iter().map(|p| format!("  {}", p.display())).collect();
    format!(
        "model `{name}` has no weights: no model card and no Hugging Face snapshot; searched, in order:\n{}\n\
         point comp at a diffusers folder on this machine: write {{\"diffusers\": \"/path/to/the/folder\"}} to `models/{name}/{CARD}` \
         (or to `{name}/{CARD}` in a folder listed in {}); comp never downloads weights",
        list.join("\n"),
        crate::locate::ENV
    )
}

//! Where learned models' folders are: `models/NAME/` holds `model.safetensors` and
//! `model.json`.
//!
//! The roots searched, in order; the first root with a folder `NAME` wins:
//!
//! 1. `models/` in the current directory (running from the repository root);
//! 2. `models/` in each ancestor of the running executable, nearest first (the repository's
//!    `models/` for `target/release/comp`, and for tests under `target/debug/deps/`);
//! 3. each directory of the `COMP_MODELS` environment variable (a path list, like `PATH`),
//!    which holds the `NAME/` folders directly.

use std::path::{Path, PathBuf};

/// The environment variable naming extra model roots.
pub const ENV: &str = "COMP_MODELS";

/// The roots searched for model folders, in search order (existing or not).
pub fn roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd.join("models"));
    }
    if let Ok(exe) = std::env::current_exe() {
        let exe = exe.canonicalize().unwrap_or(exe);
        roots.extend(exe.ancestors().skip(1).map(|a| a.join("models")));
    }
    if let Some(list) = std::env::var_os(ENV) {
        roots.extend(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()));
    }
    let mut seen = Vec::new();
    roots.retain(|r| {
        let new = !seen.contains(r);
        seen.push(r.clone());
        new
    });
    roots
}

/// The folder of model `name`: the first `ROOT/NAME` that is a directory.
pub fn find(name: &str) -> Option<PathBuf> {
    find_in(name, &roots())
}

/// [`find`] over the given roots.
pub fn find_in(name: &str, roots: &[PathBuf]) -> Option<PathBuf> {
    roots.iter().map(|r| r.join(name)).find(|p| p.is_dir())
}

/// `models/NAME` for messages when no folder was found.
pub fn default_dir(name: &str) -> PathBuf {
    Path::new("models").join(name)
}

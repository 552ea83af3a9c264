//! Where learned models' folders are: `models/NAME/` holds `model.safetensors` and
//! `model.json`.
//!
//! The roots searched, in order; the first root with a folder `NAME` wins:
//!
//! 1. each directory of the `COMP_MODELS` environment variable (a path list, like `PATH`),
//!    which holds the `NAME/` folders directly: an explicit setting wins over the defaults;
//! 2. `models/` in the current directory (running from the repository root);
//! 3. `models/` in each ancestor of the running executable, nearest first (the repository's
//!    `models/` for `target/release/comp`, and for tests under `target/debug/deps/`).

use std::path::{Path, PathBuf};

/// The environment variable naming model roots searched before the defaults.
pub const ENV: &str = "COMP_MODELS";

/// The file that holds a learned model's weights.
pub use crate::weights::WEIGHTS_FILE;

/// The roots searched for model folders, in search order (existing or not).
pub fn roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(list) = std::env::var_os(ENV) {
        roots.extend(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd.join("models"));
    }
    if let Ok(exe) = std::env::current_exe() {
        let exe = exe.canonicalize().unwrap_or(exe);
        roots.extend(exe.ancestors().skip(1).map(|a| a.join("models")));
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

/// Where a learned model's weights are, or where they were looked for.
#[derive(Clone, Debug, PartialEq)]
pub enum Weights {
    /// `DIR/model.safetensors` exists.
    Found(PathBuf),
    /// No root has `NAME/model.safetensors`; the folders searched, in order.
    Missing(Vec<PathBuf>),
    /// Something is there but cannot be used (a Stable Diffusion model card that cannot be
    /// read, or one naming a folder that is missing, empty or incomplete): why, naming the
    /// file.
    Unusable(String),
}

/// [`Weights`] of model `name` over the given roots: the folder [`find_in`] picks, when it
/// holds weights.
pub fn weights_in(name: &str, roots: &[PathBuf]) -> Weights {
    match find_in(name, roots) {
        Some(dir) if dir.join(WEIGHTS_FILE).is_file() => Weights::Found(dir),
        _ => Weights::Missing(roots.iter().map(|r| r.join(name)).collect()),
    }
}

/// [`weights_in`] over [`roots`].
pub fn weights(name: &str) -> Weights {
    weights_in(name, &roots())
}

/// `models/NAME` for messages when no folder was found.
pub fn default_dir(name: &str) -> PathBuf {
    Path::new("models").join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_root_with_weights_wins_and_missing_lists_every_root() {
        let base = std::env::temp_dir().join(format!("comp-locate-test-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        std::fs::create_dir_all(b.join("m")).unwrap();
        std::fs::write(b.join("m").join(WEIGHTS_FILE), b"").unwrap();
        let roots = vec![a.clone(), b.clone()];
        assert_eq!(weights_in("m", &roots), Weights::Found(b.join("m")));
        assert_eq!(weights_in("other", &roots), Weights::Missing(vec![a.join("other"), b.join("other")]));
        // A folder without weights in an earlier root is the one picked: it is reported missing.
        std::fs::create_dir_all(a.join("m")).unwrap();
        assert!(matches!(weights_in("m", &roots), Weights::Missing(_)));
        let msg = crate::NoWeights { model: "m".into(), searched: vec![a.join("m"), b.join("m")] }.to_string();
        assert!(msg.contains(&a.join("m").display().to_string()) && msg.contains("COMP_MODELS"), "{msg}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}

//! Every repository path that the README, the other Markdown files and the code's comments name
//! exists: a moved file leaves no stale pointer behind (issue 20 found eleven).
//!
//! A path is a word starting with one of the repository's top-level folders
//! (`lab/tests/clevr.rs`, `docs/plan.md`). Placeholders (`models/NAME/`, `step-N`), a glob's pattern (its folder is checked),
//! outputs (`out/`, `target/`) and the folders a user makes (the README's example Stable
//! Diffusion folder) are not repository paths.

use std::path::{Path, PathBuf};

const TOP: &[&str] = &[
    "plan", "grammar", "compiler", "runtime", "models", "lab", "src", "tests", "docs", "examples", "bench", "benches", "fuzz", "editors",
    ".ci",
];

/// Folders the docs name as a user's own, not shipped: a Stable Diffusion checkpoint the user
/// converts, and a toy2d model the user trains in a walkthrough.
const USER_FOLDERS: &[&str] = &["models/sd15", "models/toy2d-ring"];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if p.is_dir() {
            if !matches!(name.as_str(), "target" | "node_modules" | ".git" | "corpus" | "snapshots") {
                files(&p, out);
            }
        } else if name.ends_with(".md") || name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// A part of a path (between `/` and `-`) in capitals: `NAME`, `N`, `CONCEPT`.
fn placeholder(path: &str) -> bool {
    path.split(['/', '-']).any(|part| {
        part.chars().any(|c| c.is_ascii_uppercase()) && part.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

fn named_paths(line: &str) -> Vec<String> {
    let re =
        regex::Regex::new(&format!(r"(?:^|[^A-Za-z0-9_./~-])((?:{})/[A-Za-z0-9_.+/-]*[A-Za-z0-9_+/])", TOP.join("|").replace('.', r"\.")))
            .expect("a valid pattern");
    re.captures_iter(line)
        .map(|c| c[1].trim_end_matches('.').to_string())
        .filter(|p| !placeholder(p) && !p.starts_with("out/"))
        .filter(|p| !USER_FOLDERS.iter().any(|u| p == u || p.starts_with(&format!("{u}/"))))
        .collect()
}

#[test]
fn every_named_repository_path_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = vec![];
    files(root, &mut all);
    assert!(all.iter().any(|p| p.ends_with("README.md")), "the walk found the README");
    let mut missing = vec![];
    let mut seen = 0;
    for file in &all {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        let is_rs = file.extension().is_some_and(|e| e == "rs");
        for (i, line) in text.lines().enumerate() {
            // In Rust files only comments name paths for a reader; code paths are checked by the
            // compiler or by the tests that open them.
            if is_rs && !line.trim_start().starts_with("//") {
                continue;
            }
            for p in named_paths(line) {
                seen += 1;
                if !root.join(&p).exists() {
                    missing.push(format!("{}:{}: `{p}`", file.strip_prefix(root).unwrap_or(file).display(), i + 1));
                }
            }
        }
    }
    assert!(seen > 100, "only {seen} paths found: the pattern is broken");
    assert!(missing.is_empty(), "named paths that do not exist:\n{}", missing.join("\n"));
}

#[test]
fn the_pattern_finds_paths_and_skips_placeholders() {
    assert_eq!(named_paths("see `lab/tests/clevr.rs`, and docs/plan.md."), ["lab/tests/clevr.rs", "docs/plan.md"]);
    assert_eq!(named_paths("models/NAME/model.json, models/clevr-pos/checkpoints/step-N, out/eval"), Vec::<String>::new());
    // A glob's folder is checked, not its pattern.
    assert_eq!(named_paths("tests/invalid/*.comp"), ["tests/invalid/"]);
    assert_eq!(named_paths("comp-models/sd, ./src/main.rs, xsrc/a.rs"), Vec::<String>::new());
    assert_eq!(named_paths("models/sd15/model.json"), Vec::<String>::new());
}

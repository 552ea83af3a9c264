//! Every repository path the README and docs/ name exists: a moved file otherwise leaves the
//! docs pointing at nothing (issue 20 found five). A path is a backticked word or a markdown
//! link target that starts with one of the repository's top-level folders; placeholders
//! (`step-N`, `NAME`, `{…}`, `*`) and the paths a user creates (`models/NAME/model.json` cards)
//! are not checked.

use std::path::Path;

const TOPS: [&str; 15] = [
    "models", "runtime", "compiler", "grammar", "plan", "lab", "src", "tests", "docs", "editors", "examples", "bench", "benches", "fuzz",
    ".ci",
];

/// Paths a user writes, named in the docs as instructions.
const USER_MADE: [&str; 1] = ["models/sd15/model.json"];

fn is_placeholder(p: &str) -> bool {
    p.contains(['{', '}', '*', '<', '>', '…'])
        || p.contains("NAME")
        || p.contains("...")
        || p.split(['/', '-', '.']).any(|part| part == "N")
}

/// `(candidate, relative to the markdown file?)` for each backticked word and link target.
fn candidates(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 && !part.contains(char::is_whitespace) {
            out.push((part.to_string(), false));
        }
    }
    for piece in text.split("](").skip(1) {
        if let Some(end) = piece.find(')') {
            let target = &piece[..end];
            if !target.contains(char::is_whitespace) && !target.contains("://") {
                out.push((target.split('#').next().unwrap_or("").to_string(), true));
            }
        }
    }
    out
}

#[test]
fn every_path_the_docs_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            docs.push(p);
        }
    }
    let mut missing = Vec::new();
    let mut checked = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        for (cand, relative) in candidates(&text) {
            let path = cand.split(':').next().unwrap_or("").trim_end_matches(['.', ',', ';']);
            let from_root = path.strip_prefix("../").filter(|_| relative).unwrap_or(path);
            if !TOPS.iter().any(|t| from_root.starts_with(&format!("{t}/"))) || is_placeholder(path) || USER_MADE.contains(&path) {
                continue;
            }
            checked += 1;
            let here = if relative { doc.parent().unwrap().join(path) } else { root.join(path) };
            if !here.exists() && !root.join(from_root).exists() {
                missing.push(format!("{}: `{path}`", doc.strip_prefix(root).unwrap().display()));
            }
        }
    }
    assert!(checked > 50, "only {checked} paths found: is the scan broken?");
    assert!(missing.is_empty(), "paths named in the docs that do not exist:\n{}", missing.join("\n"));
}

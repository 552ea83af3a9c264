//! Emacs with the shipped mode (editors/emacs/comp-mode.el) and eglot, `--batch`, against the
//! built `comp` (tests/emacs/eglot.el reports what the session shows). Skipped, with a
//! message, where `emacs` is not installed or has no eglot (Emacs 29 has it built in; Debian
//! 12's Emacs 28 needs `apt-get install elpa-eglot`; .ci/run installs both).

use std::process::Command;

fn has_eglot() -> Option<bool> {
    let probe = "(progn (dolist (d (file-expand-wildcards \"/usr/share/emacs/site-lisp/elpa/*\")) (add-to-list 'load-path d)) (princ (if (require 'eglot nil t) \"yes\" \"no\")))";
    let out = Command::new("emacs").args(["--batch", "-Q", "--eval", probe]).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).contains("yes"))
}

#[test]
fn emacs_with_comp_mode_and_eglot_shows_diagnostics_hover_and_completion() {
    match has_eglot() {
        None => return eprintln!("skipped: emacs is not installed (Debian: `apt-get install emacs-nox elpa-eglot`)"),
        Some(false) => return eprintln!("skipped: this Emacs has no eglot (Emacs 29 has it; Debian 12: `apt-get install elpa-eglot`)"),
        Some(true) => {}
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.comp");
    std::fs::write(
        &file,
        "model clevr-pos\nsize 512x768\nlet AND-x = pos(0.25, 0.5)  # a comment\nsample s = AND-x AND bar\nsample t = AND-x AND p\n",
    )
    .unwrap();
    let out = dir.path().join("out.txt");
    let root = env!("CARGO_MANIFEST_DIR");
    let run = Command::new("emacs")
        .args(["--batch", "-Q", "-l"])
        .arg(format!("{root}/tests/emacs/eglot.el"))
        .env("COMP_BIN", env!("CARGO_BIN_EXE_comp"))
        .env("COMP_FILE", &file)
        .env("COMP_OUT", &out)
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run emacs");
    let report = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(run.status.success(), "emacs failed ({:?}):\n{report}\n{}", run.status, String::from_utf8_lossy(&run.stderr));
    let lines: Vec<&str> = report.lines().collect();
    // Highlighting (faces as Emacs names them), then flymake's diagnostics (eglot writes each
    // as `comp [CODE]: MESSAGE` in 1.9; other versions word it differently, so only the
    // position, code and message are checked), the hover, and the completion's inserted text.
    let expected: &[&[&str]] = &[
        &["mode: comp-mode"],
        &["face model: font-lock-builtin-face"],
        &["face AND: font-lock-keyword-face"],
        &["face AND-x =: font-lock-variable-name-face"],
        &["face # a comment: font-lock-comment"],
        &["face 512x768: font-lock-constant-face"],
        &["face pos(: font-lock-function-name-face"],
        &["1:0 ", "E0102", "unknown setting `size`"],
        &["3:21 ", "E0103", "unknown name `bar`"],
        &["4:21 ", "E0103", "unknown name `p`"],
        &["hover: **concept `pos(x, y)`**"],
        // No snippet (`pos(${1:x}, ${2:y})`): eglot 1.9 does not announce snippet support.
        &["completion pos: pos"],
    ];
    assert_eq!(lines.len(), expected.len(), "{report}");
    for (line, parts) in lines.iter().zip(expected) {
        assert!(line.starts_with(parts[0]) && parts.iter().all(|p| line.contains(p)), "`{line}` is not {parts:?}:\n{report}");
    }
}

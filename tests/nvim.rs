//! A real editor: Neovim's built-in LSP client attached to `comp lsp` (tests/nvim/diagnostics.lua,
//! headless). Skipped, with a message, where `nvim` is not installed (`apt-get install neovim`).

use std::process::Command;

#[test]
fn neovim_shows_the_diagnostics() {
    if Command::new("nvim").arg("--version").output().is_err() {
        eprintln!("skipped: nvim is not installed (Debian: `apt-get install neovim`)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.comp");
    // tests/invalid/unknown_concept.comp, and a line with non-ASCII text before its errors.
    std::fs::write(&file, "model toy2d\nsample s = rnig AND bar\nsample t = \"😀 café\" AND rng\n").unwrap();
    let out = dir.path().join("out.txt");
    let root = env!("CARGO_MANIFEST_DIR");
    let status = Command::new("nvim")
        .args(["--headless", "--clean", "-i", "NONE", "-u"])
        .arg(format!("{root}/tests/nvim/diagnostics.lua"))
        .env("COMP_BIN", env!("CARGO_BIN_EXE_comp"))
        .env("COMP_FILE", &file)
        .env("COMP_OUT", &out)
        .env("COMP_HOVER", "1:20") // on `bar`
        // Neovim's LSP log and state go to the temporary folder, not the user's.
        .env("XDG_CACHE_HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run nvim");
    let report = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(status.status.success(), "nvim failed ({:?}):\n{report}\n{}", status.status, String::from_utf8_lossy(&status.stderr));
    // Neovim reports byte columns: `rng` is at byte 28 of its line (UTF-16 column 25 on the
    // wire: `😀` is 4 bytes and 2 units, `é` 2 bytes and 1 unit), so the server's UTF-16
    // columns were read back to the right place.
    assert_eq!(
        report,
        "1:11 E0103 unknown name `rnig`\n\
         2:11 E0111 `toy2d` does not take text prompts\n\
         2:28 E0103 unknown name `rng`\n\
         hover: **concept `bar`**\n"
    );
}

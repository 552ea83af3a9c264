//! A real editor: Neovim set up exactly as docs/editors.md says (its `init.lua` snippet for the
//! installed version, read from the docs), opening a .comp file, against the built `comp`
//! (first on PATH, as `cmd = { "comp", "lsp" }` finds it). tests/nvim/check.lua reports what
//! the session shows. Skipped, with a message, where `nvim` is not installed (Debian:
//! `apt-get install neovim`, 0.7.2; .ci/run installs it).

use std::path::Path;
use std::process::Command;

/// The installed Neovim's (major, minor) version.
fn nvim_version() -> Option<(u32, u32)> {
    let out = Command::new("nvim").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text.lines().next()?.strip_prefix("NVIM v")?;
    let mut parts = v.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse().ok());
    Some((parts.next()?, parts.next()?))
}

/// The first ```lua block after the heading that starts with `heading` in docs/editors.md.
fn snippet(heading: &str) -> String {
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/editors.md")).unwrap();
    let at = docs.find(&format!("\n{heading}")).unwrap_or_else(|| panic!("docs/editors.md has no heading `{heading}`"));
    let rest = &docs[at..];
    let start = rest.find("```lua\n").expect("a lua block after the heading") + "```lua\n".len();
    let end = rest[start..].find("```").expect("the block's end");
    rest[start..start + end].to_string()
}

#[test]
fn neovim_set_up_as_the_docs_say_shows_diagnostics_hover_and_completion() {
    let Some(version) = nvim_version() else {
        eprintln!("skipped: nvim is not installed (Debian: `apt-get install neovim`)");
        return;
    };
    let heading = if version >= (0, 11) { "### Neovim 0.11 and later" } else { "### Neovim 0.7 to 0.10" };
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let init = format!(
        "{}\nvim.api.nvim_create_autocmd(\"VimEnter\", {{ callback = function() dofile(\"{root}/tests/nvim/check.lua\") end }})\n",
        snippet(heading)
    );
    std::fs::write(dir.path().join("init.lua"), init).unwrap();
    let file = dir.path().join("example.comp");
    // tests/invalid/unknown_concept.comp, a line with non-ASCII text before its errors, and a
    // sampler to complete (at the start of its value).
    std::fs::write(&file, "model toy2d\nsample s = rnig AND bar\nsample t = \"😀 café\" AND rng\nsampler ddpm(steps: 10)\n").unwrap();
    let out = dir.path().join("out.txt");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_comp")).parent().unwrap().to_path_buf();
    let path =
        std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()))).unwrap();
    let status = Command::new("nvim")
        .args(["--headless", "--clean", "-i", "NONE", "-u"])
        .arg(dir.path().join("init.lua"))
        .arg(&file)
        .env("PATH", path)
        .env("COMP_OUT", &out)
        .env("COMP_HOVER", "1:20") // on `bar`
        .env("COMP_COMPLETE", "3:8") // after `sampler `
        // Neovim's LSP log and state go to the temporary folder, not the user's.
        .env("XDG_CACHE_HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run nvim");
    let report = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        status.status.success(),
        "nvim {version:?} failed ({:?}):\n{report}\n{}",
        status.status,
        String::from_utf8_lossy(&status.stderr)
    );
    // Neovim reports byte columns: `rng` is at byte 28 of its line (UTF-16 column 25 on the
    // wire: `😀` is 4 bytes and 2 units, `é` 2 bytes and 1 unit), so the server's UTF-16
    // columns were read back to the right place.
    assert_eq!(
        report,
        "filetype: comp\n\
         omnifunc: v:lua.vim.lsp.omnifunc\n\
         1:11 E0103 unknown name `rnig`\n\
         2:11 E0111 `toy2d` does not take text prompts\n\
         2:28 E0103 unknown name `rng`\n\
         hover: **concept `bar`**\n\
         complete: ddim ddpm dpmpp2m euler_a\n",
        "nvim {version:?}"
    );
}

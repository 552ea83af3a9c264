//! From a file's bytes to a plan, shared by every command and the REPL: read and decode here,
//! then `comp_compiler::compile_text` (parse → compile), collecting every diagnostic.

pub use comp_compiler::Checked;
use comp_compiler::{Context, ModelInfo, Overrides};
use comp_grammar::Diagnostic;
use std::path::Path;

/// A source file as read from disk: its name for diagnostics and its text. A file that is not
/// UTF-8 keeps a lossy text (valid up to the first bad byte, where the diagnostic points).
pub struct SourceFile {
    pub name: String,
    pub text: String,
    /// `Some` when the bytes were not UTF-8 (the E0002 diagnostic).
    pub decode_error: Option<Diagnostic>,
}

impl SourceFile {
    /// Reads a file; `-` reads standard input. At most [`MAX_SOURCE_BYTES`]: `/dev/zero` or a
    /// runaway pipe is refused instead of read without bound.
    pub fn read(path: &str) -> Result<SourceFile, String> {
        let bytes = if path == "-" {
            read_capped(std::io::stdin().lock(), "standard input")?
        } else {
            let p = Path::new(path);
            if p.is_dir() {
                return Err(format!("`{path}` is a directory, not a .comp file"));
            }
            let file = std::fs::File::open(p).map_err(|e| format!("cannot read `{path}`: {}", io_reason(&e)))?;
            read_capped(file, &format!("`{path}`"))?
        };
        let name = if path == "-" { "<stdin>".to_string() } else { path.to_string() };
        Ok(SourceFile::from_bytes(name, &bytes))
    }

    pub fn from_bytes(name: String, bytes: &[u8]) -> SourceFile {
        match comp_grammar::decode(bytes) {
            Ok(text) => SourceFile { name, text: text.to_string(), decode_error: None },
            Err(d) => SourceFile { name, text: byte_for_byte_lossy(bytes), decode_error: Some(d) },
        }
    }
}

/// The largest script or plan comp reads: 8 MiB (the largest example is under 1 KiB).
pub const MAX_SOURCE_BYTES: u64 = 8 << 20;

/// Reads at most [`MAX_SOURCE_BYTES`] from `r`; more is an error naming `what`.
pub fn read_capped(r: impl std::io::Read, what: &str) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut r.take(MAX_SOURCE_BYTES + 1), &mut buf)
        .map_err(|e| format!("cannot read {what}: {}", io_reason(&e)))?;
    if buf.len() as u64 > MAX_SOURCE_BYTES {
        return Err(format!("{what} is larger than {} MiB: not a script comp reads", MAX_SOURCE_BYTES >> 20));
    }
    Ok(buf)
}

/// The text with each byte that is not UTF-8 replaced by `?`: unlike `from_utf8_lossy` (which
/// puts a 3-byte U+FFFD in), byte offsets stay those of the file, so spans still point right.
fn byte_for_byte_lossy(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        text.extend(std::iter::repeat_n('?', chunk.invalid().len()));
    }
    text
}

/// A short reason for an I/O error, in the user's words.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// Parses and compiles a source file against the known models.
pub fn check(source: &SourceFile, models: &[ModelInfo]) -> Checked {
    check_with(source, models, &Overrides::default())
}

/// [`check`], with settings from the command line (`--seed`, `--samples`, `--dtype`) compiled
/// in over the file's ([`comp_compiler::overrides`]).
pub fn check_with(source: &SourceFile, models: &[ModelInfo], overrides: &Overrides) -> Checked {
    if let Some(d) = &source.decode_error {
        return Checked::failed(vec![d.clone()]);
    }
    check_text_with(&source.text, models, overrides)
}

/// Parses and compiles a text as `comp check` does, prompts checked against the models' text
/// encoders (W0007, [`crate::prompts`]). `check`, the REPL and `comp lsp` all come here, so
/// they report the same.
pub fn check_text(text: &str, models: &[ModelInfo]) -> Checked {
    check_text_with(text, models, &Overrides::default())
}

/// [`check_text`] with command-line overrides.
pub fn check_text_with(text: &str, models: &[ModelInfo], overrides: &Overrides) -> Checked {
    let ctx = Context { source: Some(text), text_limits: Some(&crate::prompts::Tokenizers), overrides: Some(overrides) };
    comp_compiler::compile_text_in(text, models, &ctx)
}

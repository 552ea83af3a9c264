//! Reading a file's bytes as text.

use crate::{Diagnostic, Span};

/// Checks that `bytes` are UTF-8 and returns them as text; E0002 at the first invalid byte
/// otherwise.
///
/// ```
/// assert_eq!(comp_grammar::decode(b"scale 2\n").unwrap(), "scale 2\n");
/// let error = comp_grammar::decode(b"scale \xff\n").unwrap_err();
/// assert_eq!((error.code, error.span()), ("E0002", comp_grammar::Span::new(6, 7)));
/// ```
#[allow(clippy::result_large_err)] // one diagnostic, once per file: size does not matter
pub fn decode(bytes: &[u8]) -> Result<&str, Diagnostic> {
    std::str::from_utf8(bytes).map_err(|error| {
        let at = error.valid_up_to();
        Diagnostic::error("E0002", "the file is not UTF-8", Span::new(at, at + 1))
            .with_label(format!("byte 0x{:02x} is not UTF-8 text", bytes[at]))
            .with_help("save the file as UTF-8")
    })
}

//! `comp-grammar`: the `.comp` grammar (pest), the syntax tree with byte spans, and the one
//! `Diagnostic` type shared by every stage.
//!
//! [`decode`] checks a file's bytes are text (E0002); [`parse`] turns text into a [`Program`]
//! or diagnostics: syntax errors (E0001), nesting too deep (E0003), numbers that overflow
//! (E0004).
//!
//! ```
//! let program = comp_grammar::parse("model toy2d\nsample s = ring AND bar\n").unwrap();
//! assert_eq!(program.items.len(), 2);
//! ```
//!
//! [`Program`]: ast::Program
#![forbid(unsafe_code)]

pub mod ast;
mod decode;
pub mod diagnostic;
mod parse;
mod prepass;
mod span;
mod syntax_error;

pub use decode::decode;
pub use diagnostic::{Diagnostic, Label, Severity};
pub use parse::{parse, MAX_CHAIN, MAX_DEPTH};
pub use prepass::MAX_PARENS;
pub use span::Span;
pub use syntax_error::KEYWORDS;

//! `comp-grammar`: the `.comp` grammar (pest), the syntax tree with byte spans, and the one
//! `Diagnostic` type shared by every stage.
//!
//! ```
//! let program = comp_grammar::parse("model toy2d\nsample s = ring AND bar\n").unwrap();
//! assert_eq!(program.items.len(), 2);
//! ```
#![forbid(unsafe_code)]

pub mod ast;
pub mod diagnostic;
mod span;

pub use diagnostic::{Diagnostic, Label, Severity};
pub use span::Span;

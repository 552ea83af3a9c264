//! `comp lsp`: a language server over stdio, for editors.
//!
//! It reuses the compiler exactly as `comp check` does ([`analysis::compile`]) and offers:
//! diagnostics on open and on every change; hover on concepts, lets, terms (their final
//! coefficient in the plan), settings and models; completion (the REPL's candidates, with
//! snippets for constructors); go to definition, references and rename of `let`s; formatting
//! (`comp fmt`); a quick fix for every "did you mean" help. Positions are UTF-16, as LSP
//! requires. Editor setup: `docs/editors.md`.
//!
//! | file | what |
//! | --- | --- |
//! | [`server`] | the loop: messages, dispatch, panics caught per request, publishing |
//! | [`document`] | open documents, edits, byte offsets ⇄ UTF-16 positions |
//! | [`analysis`] | the one call into the compiler |
//! | [`diagnostics`] | compiler diagnostics → LSP diagnostics |
//! | [`syntax`] | what is under the cursor; where a `let` is used |
//! | [`hover`], [`completion`], [`navigation`], [`actions`] | the features |

mod actions;
mod analysis;
mod completion;
mod diagnostics;
mod document;
mod hover;
mod navigation;
mod qualified;
mod server;
mod syntax;

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), Failure> {
    server::serve(comp_models::infos())
}

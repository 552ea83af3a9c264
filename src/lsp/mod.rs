//! `comp lsp`: a language server over stdio, for editors.
//!
//! It reuses the compiler exactly as `comp check` does ([`analysis::compile`]) and offers:
//! diagnostics on open and on every change; hover on concepts, lets, terms (their condition and
//! final coefficient in the plan, from the compiler's source map), settings and models; completion (the REPL's candidates, with
//! snippets for constructors); go to definition, references and rename of `let`s; formatting
//! (`comp fmt`); a quick fix for every "did you mean" help. Positions are UTF-16, as LSP
//! requires. Editor setup: `docs/editors.md`.
//!
//! | file | what |
//! | --- | --- |
//! | [`transport`] | JSON-RPC framing that survives malformed input |
//! | [`server`] | the loop: messages, dispatch, panics caught per request, debounced publishing |
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
mod transport;

use crate::Failure;

/// Language clients start servers with these conventional flags; stdio is the only transport,
/// so each is accepted and changes nothing.
#[derive(clap::Args)]
pub struct Args {
    /// Speak over stdin/stdout (the default and only transport; vscode-languageclient passes it)
    #[arg(long)]
    stdio: bool,
    /// The client's process id (accepted for clients that pass it; unused)
    #[arg(long = "clientProcessId", hide = true)]
    client_process_id: Option<String>,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let _ = (args.stdio, args.client_process_id);
    server::serve(comp_models::infos())
}

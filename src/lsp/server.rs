//! The server loop: JSON-RPC over stdio ([`transport`]), one message at a time.
//!
//! - Diagnostics are published once the edits stop: [`QUIET`] after the last change (and at
//!   most [`MAX_DELAY`] after the first of a stream that never pauses), so a burst of edits is
//!   checked once. A request always sees the latest text (documents are analysed on demand, at
//!   most once per version).
//! - Malformed input never ends the server: see [`transport`]. Each request runs under
//!   `catch_unwind`: a panic answers that request with InternalError and the server goes on.
//!   An unknown request gets MethodNotFound; a request before `initialize`,
//!   ServerNotInitialized. Anything may come between the `initialize` reply and
//!   `initialized`.
//! - `shutdown` then `exit` ends with status 0; `exit` without `shutdown`, or the client
//!   closing the connection, with status 1 (as the protocol asks).
//! - At most [`MAX_PUBLISHED`] diagnostics are published per document (errors first), with a
//!   last one saying how many more `comp check` reports: an editor shows no more usefully,
//!   and a file of 100,000 unused lets would otherwise cost the server gigabytes.

use super::actions;
use super::completion;
use super::diagnostics::to_lsp;
use super::document::Document;
use super::hover;
use super::navigation;
use super::transport::{self, code, Incoming, Reader};
use crate::Failure;
use comp_compiler::ModelInfo;
use comp_grammar::Span;
use lsp_types::notification::{self as note, Notification as _};
use lsp_types::request::{self as req, Request as _};
use lsp_types::*;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long after the last edit the diagnostics are computed.
pub const QUIET: Duration = Duration::from_millis(40);
/// The longest the diagnostics wait while edits keep arriving.
pub const MAX_DELAY: Duration = Duration::from_millis(500);
/// The most diagnostics published for one document.
pub const MAX_PUBLISHED: usize = 1000;

/// What the server can do, as announced in the `initialize` reply.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::INCREMENTAL),
            ..TextDocumentSyncOptions::default()
        })),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![" ".into(), "(".into()]),
            ..CompletionOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        ..ServerCapabilities::default()
    }
}

/// Serves one client on stdin/stdout until it exits.
pub fn serve(models: Vec<ModelInfo>) -> Result<(), Failure> {
    let (tx, rx) = mpsc::channel();
    // The reader thread ends with the input; the process ends with the loop, not waiting for it.
    std::thread::spawn(move || {
        let mut reader = Reader::new(std::io::stdin().lock());
        while let Some(message) = reader.next_message() {
            if tx.send(message).is_err() {
                break;
            }
        }
    });
    let mut server = Server::new(models, std::io::stdout().lock());
    server.run(&rx)
}

struct Server<W: Write> {
    models: Vec<ModelInfo>,
    out: W,
    /// Open documents by URI (as text: `Uri` caches its parse in cells, unfit as a key).
    docs: HashMap<String, Document>,
    /// Documents whose diagnostics have not been published since they changed.
    stale: BTreeSet<String>,
    /// When the first and the last unpublished change arrived.
    changed: Option<(Instant, Instant)>,
    initialized: bool,
    shut_down: bool,
    /// The client inserts snippets (`pos(${1:x}, ${2:y})`); else plain names.
    snippets: bool,
    /// The client has gone (writing failed).
    gone: bool,
    /// `COMP_LSP_LOG` set: log each check's timings to stderr (the editor's LSP log).
    log: bool,
}

type Reply = Result<Value, ResponseError>;

struct ResponseError {
    code: i64,
    message: String,
}

impl<W: Write> Server<W> {
    fn new(models: Vec<ModelInfo>, out: W) -> Self {
        Server {
            models,
            out,
            docs: HashMap::new(),
            stale: BTreeSet::new(),
            changed: None,
            initialized: false,
            shut_down: false,
            snippets: false,
            gone: false,
            log: std::env::var_os("COMP_LSP_LOG").is_some(),
        }
    }

    fn run(&mut self, rx: &mpsc::Receiver<Incoming>) -> Result<(), Failure> {
        loop {
            if self.gone {
                return Err(Failure::Runtime("lsp: the client closed its end of the connection".into()));
            }
            let message = match self.changed {
                None => rx.recv().ok(),
                Some((first, last)) => {
                    let due = (last + QUIET).min(first + MAX_DELAY);
                    match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                        Ok(m) => Some(m),
                        Err(RecvTimeoutError::Timeout) => {
                            self.publish();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => None,
                    }
                }
            };
            let Some(message) = message else {
                return Err(Failure::Runtime("lsp: the client closed the connection without `exit`".into()));
            };
            match message {
                Incoming::Request { id, method, params } => {
                    let reply = self.dispatch(&method, params);
                    self.respond(id, reply);
                }
                Incoming::Notification { method, .. } if method == note::Exit::METHOD => {
                    return if self.shut_down { Ok(()) } else { Err(Failure::Runtime("lsp: `exit` before `shutdown`".into())) };
                }
                Incoming::Notification { method, params } => {
                    if !self.initialized {
                        continue; // before `initialize`, notifications are dropped (the protocol says so)
                    }
                    if catch_unwind(AssertUnwindSafe(|| self.notification(&method, params))).is_err() {
                        eprintln!("comp lsp: internal error handling `{method}` (a bug in comp: please report it)");
                    }
                }
                Incoming::Response => {} // the server sends no requests
                Incoming::Malformed { id, code, message } => {
                    eprintln!("comp lsp: {message}");
                    if let Some(id) = id {
                        self.respond(id, Err(ResponseError { code, message }));
                    }
                }
            }
        }
    }

    /// The reply to one request, whatever state the server is in.
    fn dispatch(&mut self, method: &str, params: Value) -> Reply {
        if method == req::Initialize::METHOD {
            if self.initialized {
                return Err(ResponseError { code: code::INVALID_REQUEST, message: "the server is initialized already".into() });
            }
            self.initialized = true;
            let snippets = &params["capabilities"]["textDocument"]["completion"]["completionItem"]["snippetSupport"];
            self.snippets = snippets.as_bool() == Some(true);
            let caps = serde_json::to_value(capabilities()).expect("serialisable");
            return Ok(json!({"capabilities": caps, "serverInfo": {"name": "comp", "version": env!("CARGO_PKG_VERSION")}}));
        }
        if !self.initialized {
            return Err(ResponseError {
                code: code::SERVER_NOT_INITIALIZED,
                message: "the server is not initialized: send `initialize` first".into(),
            });
        }
        if self.shut_down {
            return Err(ResponseError { code: code::INVALID_REQUEST, message: "the server is shutting down".into() });
        }
        if method == req::Shutdown::METHOD {
            self.shut_down = true;
            return Ok(Value::Null);
        }
        guarded(|| self.request(method, params))
    }

    fn respond(&mut self, id: Value, reply: Reply) {
        let message = match reply {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(e) => json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}}),
        };
        self.send(&message);
    }

    fn send(&mut self, message: &impl serde::Serialize) {
        if transport::write(&mut self.out, message).is_err() {
            self.gone = true;
        }
    }

    fn changed(&mut self, key: String) {
        let now = Instant::now();
        self.changed = Some(match self.changed {
            Some((first, _)) => (first, now),
            None => (now, now),
        });
        self.stale.insert(key);
    }

    fn notification(&mut self, method: &str, params: Value) {
        match method {
            note::DidOpenTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<DidOpenTextDocumentParams>(params) else { return };
                let doc = p.text_document;
                self.docs.insert(doc.uri.to_string(), Document::new(doc.version, doc.text));
                self.changed(doc.uri.to_string());
            }
            note::DidChangeTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<DidChangeTextDocumentParams>(params) else { return };
                if let Some(doc) = self.docs.get_mut(p.text_document.uri.as_str()) {
                    doc.apply(p.text_document.version, p.content_changes);
                    self.changed(p.text_document.uri.to_string());
                }
            }
            note::DidCloseTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<DidCloseTextDocumentParams>(params) else { return };
                self.docs.remove(p.text_document.uri.as_str());
                self.changed(p.text_document.uri.to_string()); // publishes none: clears the editor's list
            }
            _ => {} // initialized, didSave, $/cancelRequest, configuration: nothing to do
        }
    }

    /// Publishes the diagnostics of every document changed since they were last published.
    fn publish(&mut self) {
        self.changed = None;
        for key in std::mem::take(&mut self.stale) {
            let Ok(uri) = key.parse::<Uri>() else { continue };
            let started = Instant::now();
            let mut checked_at = started;
            let (diagnostics, version) = match self.docs.get_mut(&key) {
                None => (vec![], None),
                Some(doc) => {
                    let models = &self.models;
                    let converted = catch_unwind(AssertUnwindSafe(|| {
                        let analysis = doc.analysis(models);
                        checked_at = Instant::now();
                        published(&uri, doc, &analysis)
                    }));
                    (
                        converted.unwrap_or_else(|_| {
                            vec![whole_file("internal error: the checker crashed on this text (a bug in comp: please report it)")]
                        }),
                        Some(doc.version),
                    )
                }
            };
            let converted_at = Instant::now();
            let count = diagnostics.len();
            let params = PublishDiagnosticsParams { uri, diagnostics, version };
            self.send(&json!({"jsonrpc": "2.0", "method": note::PublishDiagnostics::METHOD, "params": params}));
            if self.log {
                let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
                let done = Instant::now();
                eprintln!(
                    "comp lsp: version {version:?}: {count} diagnostics; check {:.1} ms, convert {:.1} ms, encode {:.1} ms",
                    ms(started, checked_at),
                    ms(checked_at, converted_at),
                    ms(converted_at, done)
                );
            }
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Reply {
        let models = &self.models;
        match method {
            req::HoverRequest::METHOD => {
                let p: HoverParams = parse(params)?;
                let (doc, offset) = at(&mut self.docs, &p.text_document_position_params)?;
                let analysis = doc.analysis(models);
                let hover = hover::hover(&analysis, models, offset).map(|(text, span)| Hover {
                    contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }),
                    range: Some(doc.range(span)),
                });
                json(hover)
            }
            req::Completion::METHOD => {
                let p: CompletionParams = parse(params)?;
                let (doc, offset) = at(&mut self.docs, &p.text_document_position)?;
                let doc = &*doc;
                let items = completion::complete(&doc.text, offset, models, self.snippets, |a, b| doc.range(Span::new(a, b)));
                json(CompletionResponse::Array(items))
            }
            req::GotoDefinition::METHOD => {
                let p: GotoDefinitionParams = parse(params)?;
                let uri = p.text_document_position_params.text_document.uri.clone();
                let (doc, offset) = at(&mut self.docs, &p.text_document_position_params)?;
                let analysis = doc.analysis(models);
                let span = analysis.tree().and_then(|prog| navigation::definition(prog, offset));
                json(span.map(|s| GotoDefinitionResponse::Scalar(Location { uri, range: doc.range(s) })))
            }
            req::References::METHOD => {
                let p: ReferenceParams = parse(params)?;
                let uri = p.text_document_position.text_document.uri.clone();
                let (doc, offset) = at(&mut self.docs, &p.text_document_position)?;
                let analysis = doc.analysis(models);
                let spans = navigation::references_in(&analysis, offset, p.context.include_declaration);
                let locations =
                    spans.map(|spans| spans.into_iter().map(|s| Location { uri: uri.clone(), range: doc.range(s) }).collect::<Vec<_>>());
                json(locations)
            }
            req::Rename::METHOD => {
                let p: RenameParams = parse(params)?;
                let uri = p.text_document_position.text_document.uri.clone();
                let (doc, offset) = at(&mut self.docs, &p.text_document_position)?;
                let analysis = doc.analysis(models);
                let program = analysis.tree().ok_or_else(|| failed("nothing in the file parses: fix the syntax errors to rename"))?;
                let concepts: Vec<String> =
                    hover::model_of(program, models).map(|m| m.concepts.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
                let spans = navigation::rename_in(&analysis, offset, &p.new_name, &concepts).map_err(|e| failed(&e))?;
                let edits: Vec<TextEdit> =
                    spans.into_iter().map(|s| TextEdit { range: doc.range(s), new_text: p.new_name.clone() }).collect();
                json(WorkspaceEdit { changes: Some(HashMap::from([(uri, edits)])), ..WorkspaceEdit::default() })
            }
            req::Formatting::METHOD => {
                let p: DocumentFormattingParams = parse(params)?;
                let doc = document(&mut self.docs, &p.text_document.uri)?;
                let analysis = doc.analysis(models);
                json(actions::format(doc, &analysis))
            }
            req::CodeActionRequest::METHOD => {
                let p: CodeActionParams = parse(params)?;
                let doc = document(&mut self.docs, &p.text_document.uri)?;
                let analysis = doc.analysis(models);
                let span = doc.index.span(&doc.text, p.range);
                json(actions::quick_fixes(&p.text_document.uri, doc, &analysis, span))
            }
            other => Err(ResponseError { code: code::METHOD_NOT_FOUND, message: format!("unknown request `{other}`") }),
        }
    }
}

/// The diagnostics published for `doc`: at most [`MAX_PUBLISHED`], errors first, then a note
/// of how many more there are.
fn published(uri: &Uri, doc: &Document, analysis: &super::analysis::Analysis) -> Vec<lsp_types::Diagnostic> {
    if analysis.too_large {
        let mib = crate::pipeline::MAX_SOURCE_BYTES >> 20;
        return vec![whole_file(&format!("the file is larger than {mib} MiB: not checked (`comp check` refuses it too)"))];
    }
    let all = &analysis.checked.diagnostics;
    if all.len() <= MAX_PUBLISHED {
        return all.iter().map(|d| to_lsp(uri, doc, d)).collect();
    }
    let errors = all.iter().filter(|d| d.is_error());
    let warnings = all.iter().filter(|d| !d.is_error());
    let mut out: Vec<lsp_types::Diagnostic> = errors.chain(warnings).take(MAX_PUBLISHED).map(|d| to_lsp(uri, doc, d)).collect();
    let mut more = whole_file(&format!("{} more diagnostics not shown: `comp check` lists them all", all.len() - MAX_PUBLISHED));
    more.severity = Some(DiagnosticSeverity::INFORMATION);
    out.push(more);
    out
}

/// Runs a request handler, turning a panic into an InternalError reply.
fn guarded(handler: impl FnOnce() -> Reply) -> Reply {
    match catch_unwind(AssertUnwindSafe(handler)) {
        Ok(reply) => reply,
        Err(panic) => {
            let what =
                panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
            Err(ResponseError { code: code::INTERNAL_ERROR, message: format!("internal error in comp: {what} (a bug: please report it)") })
        }
    }
}

/// A diagnostic about the whole file, at its start.
fn whole_file(message: &str) -> lsp_types::Diagnostic {
    lsp_types::Diagnostic {
        range: Range::default(),
        severity: Some(DiagnosticSeverity::ERROR),
        source: Some("comp".into()),
        message: message.into(),
        ..lsp_types::Diagnostic::default()
    }
}

fn parse<P: serde::de::DeserializeOwned>(params: Value) -> Result<P, ResponseError> {
    serde_json::from_value(params).map_err(|e| ResponseError { code: code::INVALID_PARAMS, message: format!("invalid parameters: {e}") })
}

fn json(value: impl serde::Serialize) -> Reply {
    Ok(serde_json::to_value(value).expect("serialisable"))
}

fn failed(message: &str) -> ResponseError {
    ResponseError { code: code::REQUEST_FAILED, message: message.to_string() }
}

fn document<'a>(docs: &'a mut HashMap<String, Document>, uri: &Uri) -> Result<&'a mut Document, ResponseError> {
    docs.get_mut(uri.as_str()).ok_or_else(|| failed(&format!("`{}` is not open", uri.as_str())))
}

/// The document and the byte offset of a position in it.
fn at<'a>(docs: &'a mut HashMap<String, Document>, p: &TextDocumentPositionParams) -> Result<(&'a mut Document, usize), ResponseError> {
    let doc = document(docs, &p.text_document.uri)?;
    let offset = doc.offset(p.position);
    Ok((doc, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_handler_answers_internal_error() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let reply = guarded(|| panic!("boom"));
        std::panic::set_hook(quiet);
        let error = reply.expect_err("an error reply");
        assert_eq!(error.code, code::INTERNAL_ERROR);
        assert!(error.message.contains("boom"), "{}", error.message);
        assert!(guarded(|| Ok(Value::Null)).is_ok());
    }
}

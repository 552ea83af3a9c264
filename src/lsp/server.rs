//! The server loop: JSON-RPC over stdio (`lsp-server`), one message at a time.
//!
//! - Diagnostics are published when the queue of incoming messages is empty, so a burst of
//!   edits is checked once; a request always sees the latest text (documents are analysed on
//!   demand, at most once per version).
//! - Each request runs under `catch_unwind`: a panic answers that request with InternalError
//!   and the server goes on. An unknown request gets MethodNotFound.
//! - `shutdown` then `exit` ends with status 0; `exit` without `shutdown`, or the client
//!   closing the connection, with status 1 (as the protocol asks).

use super::actions;
use super::completion;
use super::diagnostics::to_lsp;
use super::document::Document;
use super::hover;
use super::navigation;
use crate::Failure;
use comp_compiler::ModelInfo;
use comp_grammar::Span;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response, ResponseError};
use lsp_types::notification::{self as note, Notification as _};
use lsp_types::request::{self as req, Request as _};
use lsp_types::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};

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
        completion_provider: Some(CompletionOptions::default()),
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
    let (connection, io_threads) = Connection::stdio();
    let caps = serde_json::to_value(capabilities()).expect("serialisable");
    connection.initialize(caps).map_err(|e| Failure::Runtime(format!("lsp: initialisation failed: {e}")))?;
    let mut server = Server { models, docs: HashMap::new(), stale: BTreeSet::new(), shut_down: false, log: std::env::var_os("COMP_LSP_LOG").is_some() };
    let result = server.run(&connection);
    drop(connection); // closes the writer's channel, so its thread ends
    io_threads.join().map_err(|e| Failure::Runtime(format!("lsp: {e}")))?;
    result
}

struct Server {
    models: Vec<ModelInfo>,
    /// Open documents by URI (as text: `Uri` caches its parse in cells, unfit as a key).
    docs: HashMap<String, Document>,
    /// Documents whose diagnostics have not been published since they changed.
    stale: BTreeSet<String>,
    shut_down: bool,
    /// `COMP_LSP_LOG` set: log each check's timings to stderr (the editor's LSP log).
    log: bool,
}

type Reply = Result<Value, ResponseError>;

impl Server {
    fn run(&mut self, connection: &Connection) -> Result<(), Failure> {
        for message in &connection.receiver {
            match message {
                Message::Request(r) => {
                    let response = if self.shut_down {
                        Response::new_err(r.id, ErrorCode::InvalidRequest as i32, "the server is shutting down".into())
                    } else if r.method == req::Shutdown::METHOD {
                        self.shut_down = true;
                        Response::new_ok(r.id, ())
                    } else {
                        let id = r.id.clone();
                        guarded(id, || self.request(r))
                    };
                    send(connection, response.into());
                }
                Message::Notification(n) if n.method == note::Exit::METHOD => {
                    return if self.shut_down { Ok(()) } else { Err(Failure::Runtime("lsp: `exit` before `shutdown`".into())) };
                }
                Message::Notification(n) => {
                    let method = n.method.clone();
                    if catch_unwind(AssertUnwindSafe(|| self.notification(n))).is_err() {
                        eprintln!("comp lsp: internal error handling `{method}` (a bug in comp: please report it)");
                    }
                }
                Message::Response(_) => {} // the server sends no requests
            }
            if connection.receiver.is_empty() {
                self.publish(connection);
            }
        }
        Err(Failure::Runtime("lsp: the client closed the connection without `exit`".into()))
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            note::DidOpenTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<DidOpenTextDocumentParams>(n.params) else { return };
                let doc = p.text_document;
                self.docs.insert(doc.uri.to_string(), Document::new(doc.version, doc.text));
                self.stale.insert(doc.uri.to_string());
            }
            note::DidChangeTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<DidChangeTextDocumentParams>(n.params) else { return };
                if let Some(doc) = self.docs.get_mut(p.text_document.uri.as_str()) {
                    doc.apply(p.text_document.version, p.content_changes);
                    self.stale.insert(p.text_document.uri.to_string());
                }
            }
            note::DidCloseTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<DidCloseTextDocumentParams>(n.params) else { return };
                self.docs.remove(p.text_document.uri.as_str());
                self.stale.insert(p.text_document.uri.to_string()); // publishes none: clears the editor's list
            }
            _ => {} // initialized, didSave, $/cancelRequest, configuration: nothing to do
        }
    }

    /// Publishes the diagnostics of every document changed since they were last published.
    fn publish(&mut self, connection: &Connection) {
        for key in std::mem::take(&mut self.stale) {
            let uri: Uri = key.parse().expect("a URI the client sent");
            let started = std::time::Instant::now();
            let mut checked_at = started;
            let (diagnostics, version) = match self.docs.get_mut(&key) {
                None => (vec![], None),
                Some(doc) => {
                    let models = &self.models;
                    let converted = catch_unwind(AssertUnwindSafe(|| {
                        let analysis = doc.analysis(models);
                        checked_at = std::time::Instant::now();
                        analysis.checked.diagnostics.iter().map(|d| to_lsp(&uri, doc, d)).collect::<Vec<_>>()
                    }));
                    (converted.unwrap_or_else(|_| vec![crashed()]), Some(doc.version))
                }
            };
            let converted_at = std::time::Instant::now();
            let count = diagnostics.len();
            let params = PublishDiagnosticsParams { uri, diagnostics, version };
            send(connection, Notification::new(note::PublishDiagnostics::METHOD.into(), params).into());
            if self.log {
                let ms = |a: std::time::Instant, b: std::time::Instant| (b - a).as_secs_f64() * 1e3;
                let done = std::time::Instant::now();
                eprintln!(
                    "comp lsp: version {version:?}: {count} diagnostics; check {:.1} ms, convert {:.1} ms, encode {:.1} ms",
                    ms(started, checked_at),
                    ms(checked_at, converted_at),
                    ms(converted_at, done)
                );
            }
        }
    }

    fn request(&mut self, r: Request) -> Reply {
        let models = &self.models;
        match r.method.as_str() {
            req::HoverRequest::METHOD => {
                let p: HoverParams = params(r)?;
                let (doc, offset) = at(&mut self.docs, &p.text_document_position_params)?;
                let analysis = doc.analysis(models);
                let hover = hover::hover(&analysis, models, offset).map(|(text, span)| Hover {
                    contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }),
                    range: Some(doc.range(span)),
                });
                json(hover)
            }
            req::Completion::METHOD => {
                let p: CompletionParams = params(r)?;
                let (doc, offset) = at(&mut self.docs, &p.text_document_position)?;
                let doc = &*doc;
                let items = completion::complete(&doc.text, offset, models, |a, b| doc.range(Span::new(a, b)));
                json(CompletionResponse::Array(items))
            }
            req::GotoDefinition::METHOD => {
                let p: GotoDefinitionParams = params(r)?;
                let uri = p.text_document_position_params.text_document.uri.clone();
                let (doc, offset) = at(&mut self.docs, &p.text_document_position_params)?;
                let analysis = doc.analysis(models);
                let span = analysis.program().and_then(|prog| navigation::definition(prog, offset));
                json(span.map(|s| GotoDefinitionResponse::Scalar(Location { uri, range: doc.range(s) })))
            }
            req::References::METHOD => {
                let p: ReferenceParams = params(r)?;
                let uri = p.text_document_position.text_document.uri.clone();
                let (doc, offset) = at(&mut self.docs, &p.text_document_position)?;
                let analysis = doc.analysis(models);
                let spans = analysis.program().and_then(|prog| navigation::references(prog, offset, p.context.include_declaration));
                let locations = spans.map(|spans| spans.into_iter().map(|s| Location { uri: uri.clone(), range: doc.range(s) }).collect::<Vec<_>>());
                json(locations)
            }
            req::Rename::METHOD => {
                let p: RenameParams = params(r)?;
                let uri = p.text_document_position.text_document.uri.clone();
                let (doc, offset) = at(&mut self.docs, &p.text_document_position)?;
                let analysis = doc.analysis(models);
                let program = analysis.program().ok_or_else(|| failed("the file has syntax errors: fix them to rename"))?;
                let concepts: Vec<String> = hover::model_of(program, models).map(|m| m.concepts.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
                let spans = navigation::rename(program, offset, &p.new_name, &concepts).map_err(|e| failed(&e))?;
                let edits: Vec<TextEdit> = spans.into_iter().map(|s| TextEdit { range: doc.range(s), new_text: p.new_name.clone() }).collect();
                json(WorkspaceEdit { changes: Some(HashMap::from([(uri, edits)])), ..WorkspaceEdit::default() })
            }
            req::Formatting::METHOD => {
                let p: DocumentFormattingParams = params(r)?;
                let doc = document(&mut self.docs, &p.text_document.uri)?;
                let analysis = doc.analysis(models);
                json(actions::format(doc, &analysis))
            }
            req::CodeActionRequest::METHOD => {
                let p: CodeActionParams = params(r)?;
                let doc = document(&mut self.docs, &p.text_document.uri)?;
                let analysis = doc.analysis(models);
                let span = doc.index.span(&doc.text, p.range);
                json(actions::quick_fixes(&p.text_document.uri, doc, &analysis, span))
            }
            other => Err(ResponseError { code: ErrorCode::MethodNotFound as i32, message: format!("unknown request `{other}`"), data: None }),
        }
    }
}

/// Runs a request handler, turning a panic into an InternalError reply.
fn guarded(id: RequestId, handler: impl FnOnce() -> Reply) -> Response {
    match catch_unwind(AssertUnwindSafe(handler)) {
        Ok(reply) => Response { id, response_result: reply },
        Err(panic) => {
            let what = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
            let message = format!("internal error in comp: {what} (a bug: please report it)");
            Response::new_err(id, ErrorCode::InternalError as i32, message)
        }
    }
}

/// The one diagnostic shown when checking the text itself crashed.
fn crashed() -> lsp_types::Diagnostic {
    lsp_types::Diagnostic {
        range: Range::default(),
        severity: Some(DiagnosticSeverity::ERROR),
        source: Some("comp".into()),
        message: "internal error: the checker crashed on this text (a bug in comp: please report it)".into(),
        ..lsp_types::Diagnostic::default()
    }
}

fn send(connection: &Connection, message: Message) {
    // Fails only when the client has gone; the loop then ends on its own.
    let _ = connection.sender.send(message);
}

fn params<P: serde::de::DeserializeOwned>(r: Request) -> Result<P, ResponseError> {
    serde_json::from_value(r.params).map_err(|e| ResponseError { code: ErrorCode::InvalidParams as i32, message: format!("invalid parameters: {e}"), data: None })
}

fn json(value: impl serde::Serialize) -> Reply {
    Ok(serde_json::to_value(value).expect("serialisable"))
}

fn failed(message: &str) -> ResponseError {
    ResponseError { code: ErrorCode::RequestFailed as i32, message: message.to_string(), data: None }
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
        let response = guarded(RequestId::from(7), || panic!("boom"));
        std::panic::set_hook(quiet);
        let error = response.response_result.expect_err("an error reply");
        assert_eq!(error.code, ErrorCode::InternalError as i32);
        assert!(error.message.contains("boom"), "{}", error.message);
        let ok = guarded(RequestId::from(8), || Ok(Value::Null));
        assert!(ok.response_result.is_ok());
    }
}

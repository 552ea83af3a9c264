//! A minimal LSP client for tests and benchmarks: spawns `comp lsp` and speaks JSON-RPC with
//! `Content-Length` framing over its stdin/stdout, as an editor does.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// How long to wait for one message before the test fails (generous: CI machines are shared).
const WAIT: Duration = Duration::from_secs(60);

pub struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    /// Notifications that arrived while waiting for a response.
    pending: Vec<Value>,
    next_id: i64,
}

impl Client {
    /// Starts `comp lsp` and completes the `initialize` handshake; returns the client and the
    /// server's `initialize` result.
    pub fn start(binary: &str) -> (Client, Value) {
        Self::start_with(binary, json!({}))
    }

    /// [`Client::start`] announcing `capabilities` (`{}`: none).
    pub fn start_with(binary: &str, capabilities: Value) -> (Client, Value) {
        let mut client = Self::spawn(binary, &["lsp"]);
        let init = client.request("initialize", json!({"processId": null, "rootUri": null, "capabilities": capabilities}));
        client.notify("initialized", json!({}));
        (client, init)
    }

    /// Starts `binary ARGS` without the handshake.
    pub fn spawn(binary: &str, args: &[&str]) -> Client {
        let mut child = Command::new(binary)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn comp lsp");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Client { child, stdin, messages: rx, pending: Vec::new(), next_id: 1 }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes `bytes` to the server as they are (for malformed input).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to the server");
        stdin.flush().expect("flush");
    }

    /// The response with `id` (already arrived, or the next one with it).
    pub fn response(&mut self, id: &Value) -> Value {
        let is_it = |m: &Value| m.get("id") == Some(id) && m.get("method").is_none();
        if let Some(i) = self.pending.iter().position(is_it) {
            return self.pending.remove(i);
        }
        loop {
            let message = self.next();
            if is_it(&message) {
                return message;
            }
            self.pending.push(message);
        }
    }

    /// Every `publishDiagnostics` for `uri` that arrived so far or arrives within `wait`.
    pub fn all_diagnostics(&mut self, uri: &str, wait: Duration) -> Vec<Value> {
        let is_ours = |m: &Value| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri;
        let deadline = std::time::Instant::now() + wait;
        while let Ok(m) = self.messages.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            self.pending.push(m);
        }
        let (ours, rest): (Vec<Value>, Vec<Value>) = std::mem::take(&mut self.pending).into_iter().partition(is_ours);
        self.pending = rest;
        ours.into_iter().map(|m| m["params"].clone()).collect()
    }

    pub fn send(&mut self, message: &Value) {
        let body = serde_json::to_string(message).expect("serialisable");
        let stdin = self.stdin.as_mut().expect("stdin open");
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write to the server");
        stdin.flush().expect("flush");
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns the whole response (`result` or `error`).
    pub fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.next();
            if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
                return message;
            }
            self.pending.push(message);
        }
    }

    /// Sends a request and returns its `result` (panics on an error reply).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params);
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    /// The next `publishDiagnostics` for `uri` (skipping other notifications).
    pub fn diagnostics(&mut self, uri: &str) -> Value {
        let is_ours = |m: &Value| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri;
        if let Some(i) = self.pending.iter().position(is_ours) {
            return self.pending.remove(i)["params"].clone();
        }
        loop {
            let message = self.next();
            if is_ours(&message) {
                return message["params"].clone();
            }
            self.pending.push(message);
        }
    }

    fn next(&mut self) -> Value {
        self.messages.recv_timeout(WAIT).expect("a message from the server in time")
    }

    /// `shutdown`, `exit`, and the server's exit status.
    pub fn shutdown(mut self) -> std::process::ExitStatus {
        let reply = self.request_raw("shutdown", Value::Null);
        assert_eq!(reply["result"], Value::Null, "{reply}");
        self.notify("exit", Value::Null);
        self.stdin = None;
        self.child.wait().expect("the server exits")
    }

    /// Ends the server without the protocol (closing its input), for abnormal-end tests.
    pub fn close(mut self) -> std::process::ExitStatus {
        self.stdin = None;
        self.child.wait().expect("the server exits")
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one framed message; `None` at the end of the stream.
fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some(n) = header.strip_prefix("Content-Length: ") {
            length = n.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

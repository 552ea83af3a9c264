//! JSON-RPC framing over stdin/stdout, written to survive any input: whatever the client sends,
//! the server answers what it can and reads on.
//!
//! ```text
//! Content-Length: 52\r\n          headers: `Content-Length` (any case), others ignored;
//! \r\n                             lines may end in `\n` alone (read as if `\r\n`)
//! {"jsonrpc":"2.0","id":1,...}     the body: one JSON object
//! ```
//!
//! | input | what happens |
//! | --- | --- |
//! | a body that is not JSON, or not UTF-8 | `-32700` (parse error) to its `id` when one can be read from it, else a line on stderr |
//! | `\ud800` (a lone surrogate escape, what `JSON.stringify` writes for half a pair) | read as U+FFFD (one UTF-16 unit too, so positions stay right) |
//! | `[]`, `5`, an object with no `method` and no `result`/`error` | `-32600` (invalid request) to its `id` when it has one |
//! | `Content-Length` missing, not a number, or over [`MAX_MESSAGE_BYTES`] | the bytes up to the next `Content-Length:` header are skipped (in bounded memory), `-32700` to the `id` found near their start |
//! | `Content-Length` too small | the body is cut: `-32700`; the rest is skipped up to the next header |
//! | the end of the input | the end of the stream (the server ends) |

use serde_json::Value;
use std::io::{BufRead, Write};

/// The largest message body read: 16 MiB, room for a document of [`MAX_DOCUMENT_BYTES`]
/// written as a JSON string (escapes make it longer). Larger messages are skipped.
///
/// [`MAX_DOCUMENT_BYTES`]: crate::pipeline::MAX_SOURCE_BYTES
pub const MAX_MESSAGE_BYTES: u64 = 2 * crate::pipeline::MAX_SOURCE_BYTES;

/// JSON-RPC error codes the server answers with.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    pub const SERVER_NOT_INITIALIZED: i64 = -32002;
    pub const REQUEST_FAILED: i64 = -32803;
}

/// One message from the client, or what could be made of a malformed one.
#[derive(Debug)]
pub enum Incoming {
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
    /// A reply to a request of ours (the server sends none, so it is ignored).
    Response,
    /// A message that could not be read: answer `id` (when known) with `code` and `message`.
    Malformed {
        id: Option<Value>,
        code: i64,
        message: String,
    },
}

/// Reads messages from `input` until it ends (reading never fails otherwise: a malformed
/// message is an [`Incoming::Malformed`]).
pub struct Reader<R> {
    input: R,
    /// A line read while skipping that holds the next message's `Content-Length` header.
    pending: Option<String>,
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R) -> Self {
        Reader { input, pending: None }
    }

    /// The next message; `None` at the end of the input (or when it cannot be read any more).
    pub fn next_message(&mut self) -> Option<Incoming> {
        let headers = self.headers()?;
        match headers {
            Headers::Length(n) if n <= MAX_MESSAGE_BYTES => {
                let mut body = vec![0; n as usize];
                if let Err(e) = self.input.read_exact(&mut body) {
                    // The input ended inside the body.
                    let _ = e;
                    return None;
                }
                Some(decode(&body))
            }
            Headers::Length(n) => {
                let sniffed = self.skip_to_next_header()?;
                Some(Incoming::Malformed {
                    id: sniff_id(&sniffed),
                    code: code::PARSE_ERROR,
                    message: format!("a message of {n} bytes: the largest read is {} MiB", MAX_MESSAGE_BYTES >> 20),
                })
            }
            Headers::NoLength(why) => {
                let sniffed = self.skip_to_next_header()?;
                Some(Incoming::Malformed { id: sniff_id(&sniffed), code: code::PARSE_ERROR, message: why })
            }
        }
    }

    /// Reads header lines up to the blank line that ends them. A line that is not a header
    /// (the rest of a body whose `Content-Length` was too small) is skipped, unless a
    /// `Content-Length:` header starts inside it.
    fn headers(&mut self) -> Option<Headers> {
        let mut length: Option<Result<u64, String>> = None;
        // Whether a header line has been read (blank lines before one are skipped).
        let mut seen_any = false;
        loop {
            let line = match self.pending.take() {
                Some(l) => l,
                None => self.line()?,
            };
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if seen_any {
                    break;
                }
                continue; // blank lines between messages
            }
            let lower = line.to_ascii_lowercase();
            // Not a length: another header (`Content-Type`), or junk before a message (the
            // rest of a body whose `Content-Length` was too small): skipped.
            let Some(at) = lower.find("content-length:") else {
                let name = line.split_once(':').map_or("", |(name, _)| name);
                seen_any |= !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                continue;
            };
            seen_any = true;
            let value = line[at + "content-length:".len()..].trim();
            length = Some(value.parse::<u64>().map_err(|_| format!("`Content-Length: {value}` is not a length")));
        }
        Some(match length {
            Some(Ok(n)) => Headers::Length(n),
            Some(Err(why)) => Headers::NoLength(why),
            None => Headers::NoLength("a message without a `Content-Length` header".into()),
        })
    }

    /// One line (up to and with its `\n`), in bounded memory: of a very long line only the
    /// start and the end are kept, enough to find a header in it.
    fn line(&mut self) -> Option<String> {
        const KEEP: usize = 4096;
        let mut kept: Vec<u8> = Vec::new();
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return None,
            };
            if buf.is_empty() {
                return if kept.is_empty() { None } else { Some(String::from_utf8_lossy(&kept).into_owned()) };
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            kept.extend_from_slice(chunk);
            let used = chunk.len();
            self.input.consume(used);
            if kept.len() > 2 * KEEP {
                // Keep the start (an `id` to sniff) and the end (where a header would start).
                let tail = kept.split_off(kept.len() - KEEP);
                kept.truncate(KEEP);
                kept.extend_from_slice(b"\n");
                kept.extend_from_slice(&tail);
            }
            if done {
                return Some(String::from_utf8_lossy(&kept).into_owned());
            }
        }
    }

    /// Skips input up to the next line holding a `Content-Length:` header (kept for
    /// [`Reader::headers`]), returning the start of what was skipped (where an `id` may be read).
    fn skip_to_next_header(&mut self) -> Option<String> {
        const SNIFF: usize = 4096;
        let mut start = String::new();
        loop {
            let line = self.line()?;
            let at = line.to_ascii_lowercase().find("content-length:");
            if start.len() < SNIFF {
                start.push_str(&line[..at.unwrap_or(line.len())]);
            }
            if at.is_some() {
                self.pending = Some(line);
                return Some(start);
            }
        }
    }
}

enum Headers {
    Length(u64),
    NoLength(String),
}

/// A body's message (see the module doc for what is made of malformed ones).
pub fn decode(body: &[u8]) -> Incoming {
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(v) => v,
        Err(e) => {
            // A lone surrogate escape is read as U+FFFD; anything else is a parse error.
            let fixed = std::str::from_utf8(body).ok().and_then(replace_lone_surrogates).and_then(|s| serde_json::from_str(&s).ok());
            match fixed {
                Some(v) => v,
                None => {
                    let why = if std::str::from_utf8(body).is_err() {
                        "the message is not UTF-8".to_string()
                    } else {
                        format!("the message is not JSON: {e}")
                    };
                    return Incoming::Malformed { id: sniff_id(&String::from_utf8_lossy(body)), code: code::PARSE_ERROR, message: why };
                }
            }
        }
    };
    classify(value)
}

/// A parsed JSON value as a request, notification or response.
fn classify(value: Value) -> Incoming {
    let Value::Object(mut map) = value else {
        return Incoming::Malformed {
            id: None,
            code: code::INVALID_REQUEST,
            message: "a message must be a JSON object (batches are not part of LSP)".into(),
        };
    };
    let id = map.remove("id").filter(|id| id.is_number() || id.is_string());
    let params = map.remove("params").unwrap_or(Value::Null);
    match (map.remove("method"), id) {
        (Some(Value::String(method)), Some(id)) => Incoming::Request { id, method, params },
        (Some(Value::String(method)), None) => Incoming::Notification { method, params },
        (Some(_), id) => Incoming::Malformed { id, code: code::INVALID_REQUEST, message: "`method` must be a string".into() },
        (None, id) if map.contains_key("result") || map.contains_key("error") => {
            let _ = id;
            Incoming::Response
        }
        (None, id) => Incoming::Malformed { id, code: code::INVALID_REQUEST, message: "a message with no `method`".into() },
    }
}

/// `text` with each `\uXXXX` escape of a lone surrogate replaced by `\ufffd`; `None` when
/// there is none.
fn replace_lone_surrogates(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let hex = |i: usize| -> Option<u16> {
        let s = text.get(i..i + 4)?;
        u16::from_str_radix(s, 16).ok()
    };
    let mut out = String::with_capacity(text.len());
    let (mut i, mut last, mut changed) = (0, 0, false);
    while i + 1 < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes[i + 1] == b'u' {
                if let Some(u) = hex(i + 2) {
                    let high = (0xD800..0xDC00).contains(&u);
                    let low = (0xDC00..0xE000).contains(&u);
                    let paired = high && text.get(i + 6..i + 8) == Some("\\u") && hex(i + 8).is_some_and(|v| (0xDC00..0xE000).contains(&v));
                    if paired {
                        i += 12;
                        continue;
                    }
                    if high || low {
                        out.push_str(&text[last..i]);
                        out.push_str("\\ufffd");
                        i += 6;
                        last = i;
                        changed = true;
                        continue;
                    }
                }
            }
            i += 2; // any other escape, `\\` included
            continue;
        }
        i += 1;
    }
    out.push_str(&text[last..]);
    changed.then_some(out)
}

/// The `id` of a message that could not be parsed, if one can be read near its start:
/// `"id": 7` or `"id": "x"`.
fn sniff_id(text: &str) -> Option<Value> {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
        return map.get("id").filter(|id| id.is_number() || id.is_string()).cloned();
    }
    let mut from = 0;
    while let Some(at) = text[from..].find("\"id\"") {
        let rest = text[from + at + 4..].trim_start();
        from += at + 4;
        let Some(rest) = rest.strip_prefix(':') else { continue };
        let rest = rest.trim_start();
        if let Some(s) = rest.strip_prefix('"') {
            if let Some(end) = s.find('"') {
                return Some(Value::String(s[..end].to_string()));
            }
        } else {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect();
            if let Ok(n) = digits.parse::<i64>() {
                return Some(Value::from(n));
            }
        }
    }
    None
}

/// Writes one message with its header; an error means the client has gone.
pub fn write(out: &mut impl Write, message: &impl serde::Serialize) -> std::io::Result<()> {
    let body = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    write!(out, "Content-Length: {}\r\n\r\n", body.len())?;
    out.write_all(&body)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8]) -> Vec<Incoming> {
        let mut reader = Reader::new(std::io::BufReader::new(input));
        std::iter::from_fn(|| reader.next_message()).collect()
    }

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    const PING: &str = r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#;

    fn is_ping(m: &Incoming) -> bool {
        matches!(m, Incoming::Request { id, method, .. } if id == &Value::from(9) && method == "ping")
    }

    fn malformed_id(m: &Incoming) -> Option<(Option<Value>, i64)> {
        match m {
            Incoming::Malformed { id, code, .. } => Some((id.clone(), *code)),
            _ => None,
        }
    }

    #[test]
    fn each_malformed_message_is_answered_and_the_next_one_read() {
        type Case = (String, Option<(Option<Value>, i64)>);
        let cases: Vec<Case> = vec![
            (frame(r#"{"jsonrpc":"2.0","id":1,"method":"x""#), Some((Some(1.into()), code::PARSE_ERROR))),
            (frame("not json at all"), Some((None, code::PARSE_ERROR))),
            (frame("[]"), Some((None, code::INVALID_REQUEST))),
            (frame(r#"{"jsonrpc":"2.0","id":2}"#), Some((Some(2.into()), code::INVALID_REQUEST))),
            // Too small a length: the body is cut, the rest skipped.
            (format!("Content-Length: 30\r\n\r\n{PING}"), Some((Some(9.into()), code::PARSE_ERROR))),
            // No length, a length that is not a number, a huge one.
            (format!("Content-Type: x\r\n\r\n{}", r#"{"id":3,"method":"m"}"#), Some((Some(3.into()), code::PARSE_ERROR))),
            (format!("Content-Length: -1\r\n\r\n{}", r#"{"id":4}"#), Some((Some(4.into()), code::PARSE_ERROR))),
            (format!("Content-Length: 1000000000000000000\r\n\r\n{}", r#"{"id":5}"#), Some((Some(5.into()), code::PARSE_ERROR))),
            (format!("Content-Length: {}\r\n\r\n{}", u64::MAX, r#"{"id":6}"#), Some((Some(6.into()), code::PARSE_ERROR))),
        ];
        for (input, expected) in cases {
            let all = read_all(format!("{input}{}", frame(PING)).as_bytes());
            assert_eq!(all.len(), 2, "{input:?}: {all:?}");
            assert_eq!(malformed_id(&all[0]), expected, "{input:?}: {all:?}");
            assert!(is_ping(&all[1]), "{input:?}: {all:?}");
        }
    }

    #[test]
    fn invalid_utf8_is_a_parse_error_with_its_id() {
        let body = b"{\"id\":7,\"method\":\"a\xff\"}";
        let mut input = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        input.extend_from_slice(body);
        input.extend_from_slice(frame(PING).as_bytes());
        let all = read_all(&input);
        assert_eq!(malformed_id(&all[0]), Some((Some(7.into()), code::PARSE_ERROR)), "{all:?}");
        assert!(is_ping(&all[1]));
    }

    #[test]
    fn lf_only_headers_and_lone_surrogates_are_read() {
        let body = r#"{"jsonrpc":"2.0","method":"n","params":{"text":"a\ud800b\ud83d\ude00"}}"#;
        let all = read_all(format!("Content-Length: {}\n\n{body}{}", body.len(), frame(PING)).as_bytes());
        match &all[0] {
            Incoming::Notification { params, .. } => assert_eq!(params["text"], "a\u{fffd}b😀"),
            other => panic!("{other:?}"),
        }
        assert!(is_ping(&all[1]));
    }

    #[test]
    fn a_long_junk_line_is_skipped_in_bounded_memory() {
        let junk = "x".repeat(1 << 20);
        let all = read_all(format!("Content-Length: 3\r\n\r\n{{\"a{junk}{}", frame(PING)).as_bytes());
        assert!(is_ping(all.last().unwrap()), "{:?}", all.len());
    }
}

//! `comp lsp` on a large file: re-checking after one edit, as an editor sees it.
//!
//! `cargo bench --bench lsp`: the server is spawned and driven over JSON-RPC; a file of 10,000
//! statements (benches/common: lets and samples) is open, and each iteration sends one
//! incremental edit (one character of one `let`, alternately breaking and fixing it) and waits
//! for the published diagnostics. Beside it, on the same text, the compiler alone (parse, and
//! parse + compile) to show what the round trip spends its time on, and a hover on a `let`
//! (which compiles the file once more with a probe sample).

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

mod common;
#[path = "../tests/common/lsp_client.rs"]
mod lsp_client;

const URI: &str = "file:///bench/large.comp";
const N: usize = 10_000;

fn bench(c: &mut Criterion) {
    let text = common::generated(N);
    // Statement i is on line i + 2; i = 5001 is `let l5001 = right_bar` (5001 % 6 = 3), whose
    // last character, column 20, the edits flip between `r` and `z`.
    let line = 5003;
    assert_eq!(text.lines().nth(line), Some("let l5001 = right_bar"));
    let models = comp_models::infos();

    let (mut client, _) = lsp_client::Client::start(env!("CARGO_BIN_EXE_comp"));
    client.notify("textDocument/didOpen", json!({"textDocument": {"uri": URI, "languageId": "comp", "version": 1, "text": text}}));
    // The generated file has no errors but many warnings (a sample repeats concepts its lets
    // share: W0002), all published on every check, as an editor would receive them.
    let opened = client.diagnostics(URI);
    let warnings = opened["diagnostics"].as_array().expect("a list").len();
    assert_eq!(errors(&opened), 0);
    eprintln!("{N} statements, {} lines, {warnings} warnings published per check", text.lines().count());

    let mut group = c.benchmark_group(format!("lsp/{N}_statements"));
    group.sample_size(30);
    let mut version = 1;
    group.bench_function("recheck_after_one_edit", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                version += 1;
                let character = if version % 2 == 0 { "z" } else { "r" };
                let range = json!({"start": {"line": line, "character": 20}, "end": {"line": line, "character": 21}});
                client.notify(
                    "textDocument/didChange",
                    json!({"textDocument": {"uri": URI, "version": version}, "contentChanges": [{"range": range, "text": character}]}),
                );
                let published = client.diagnostics(URI);
                assert_eq!(published["version"], version);
                black_box(published);
            }
            started.elapsed()
        })
    });
    // A burst: 200 one-character edits written at once (as fast as an editor replaying a
    // macro, or a held key), then the wait for the diagnostics of the last version. The server
    // checks once, 40 ms after the edits stop: measured from the end of the write to the
    // arrival of the final version's diagnostics, and the publishes counted.
    group.sample_size(10);
    group.bench_function("burst_of_200_edits_then_diagnostics", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let mut burst = Vec::new();
                for _ in 0..200 {
                    version += 1;
                    let character = if version % 2 == 0 { "z" } else { "r" };
                    let range = json!({"start": {"line": line, "character": 20}, "end": {"line": line, "character": 21}});
                    let body = json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": URI, "version": version}, "contentChanges": [{"range": range, "text": character}]}}).to_string();
                    burst.extend(format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes());
                }
                client.send_raw(&burst);
                let written = Instant::now();
                let mut publishes = 0;
                loop {
                    let published = client.diagnostics(URI);
                    publishes += 1;
                    if published["version"] == version {
                        break;
                    }
                }
                total += written.elapsed();
                black_box(publishes);
                eprintln!("burst of 200 edits: {publishes} publish(es), the last {:.0} ms after the last edit", written.elapsed().as_secs_f64() * 1e3);
            }
            total
        })
    });
    group.sample_size(30);
    // Leave the file without errors, so the hover shows the let's simplified form.
    if version % 2 == 0 {
        version += 1;
        let range = json!({"start": {"line": line, "character": 20}, "end": {"line": line, "character": 21}});
        client.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": URI, "version": version}, "contentChanges": [{"range": range, "text": "r"}]}),
        );
        assert_eq!(errors(&client.diagnostics(URI)), 0);
    }
    group.bench_function("hover_on_a_let", |b| {
        let at = json!({"textDocument": {"uri": URI}, "position": {"line": line, "character": 6}});
        b.iter(|| {
            let hover = client.request("textDocument/hover", at.clone());
            assert!(hover["contents"]["value"].as_str().unwrap().contains("simplified"));
            black_box(hover)
        })
    });
    group.bench_function("parse_only", |b| b.iter(|| comp_grammar::parse(black_box(&text)).expect("parses").items.len()));
    group.bench_function("parse_and_compile", |b| {
        b.iter(|| {
            let program = comp_grammar::parse(black_box(&text)).expect("parses");
            comp_compiler::compile(&program, &models).diagnostics.len()
        })
    });
    group.finish();
    assert_eq!(client.shutdown().code(), Some(0));
}

fn errors(published: &serde_json::Value) -> usize {
    published["diagnostics"].as_array().expect("a list").iter().filter(|d| d["severity"] == 1).count()
}

criterion_group!(benches, bench);
criterion_main!(benches);

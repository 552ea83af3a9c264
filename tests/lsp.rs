//! `comp lsp` end to end: spawns the binary and speaks JSON-RPC to it as an editor does.
//! Positions are LSP's: 0-based lines, columns in UTF-16 code units.

#[path = "common/lsp_client.rs"]
mod lsp_client;

use lsp_client::Client;
use serde_json::{json, Value};

const URI: &str = "file:///work/composition.comp";

/// Three errors; the last line has non-ASCII text before its errors: `😀` is 4 bytes, 1
/// character and 2 UTF-16 units, `é` 2 bytes, 1 character, 1 unit. So `rng` on line 4 starts
/// at UTF-16 column 25 (11 for `sample t = `, 1 for `"`, 2 for `😀`, 5 for ` café`, 1 for `"`,
/// 5 for ` AND `), while its character column is 24 and its byte column 28.
const BROKEN: &str = "model toy2d\nscale 2\nlet stripe = bar\nsample product = rin AND stripe\nsample t = \"😀 café\" AND rng\n";

fn range(l0: u64, c0: u64, l1: u64, c1: u64) -> Value {
    json!({"start": {"line": l0, "character": c0}, "end": {"line": l1, "character": c1}})
}

fn at(line: u64, character: u64) -> Value {
    json!({"textDocument": {"uri": URI}, "position": {"line": line, "character": character}})
}

fn start() -> Client {
    let (client, init) = Client::start(env!("CARGO_BIN_EXE_comp"));
    let caps = &init["capabilities"];
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental sync: {init}");
    assert_eq!(caps["positionEncoding"], "utf-16");
    for cap in ["hoverProvider", "definitionProvider", "referencesProvider", "renameProvider", "documentFormattingProvider"] {
        assert_eq!(caps[cap], true, "{cap}: {init}");
    }
    client
}

fn open(client: &mut Client, text: &str) -> Value {
    client.notify("textDocument/didOpen", json!({"textDocument": {"uri": URI, "languageId": "comp", "version": 1, "text": text}}));
    client.diagnostics(URI)
}

fn change(client: &mut Client, version: i64, changes: Value) -> Value {
    client.notify("textDocument/didChange", json!({"textDocument": {"uri": URI, "version": version}, "contentChanges": changes}));
    client.diagnostics(URI)
}

fn hover_text(client: &mut Client, line: u64, character: u64) -> String {
    let hover = client.request("textDocument/hover", at(line, character));
    hover["contents"]["value"].as_str().unwrap_or_else(|| panic!("a hover at {line}:{character}: {hover}")).to_string()
}

#[test]
fn an_editor_session() {
    let mut client = start();

    // didOpen: every error, with its code and UTF-16 range, exactly as `comp check` reports.
    let published = open(&mut client, BROKEN);
    assert_eq!(published["version"], 1);
    let diags = published["diagnostics"].as_array().unwrap();
    let summary: Vec<(String, Value)> = diags.iter().map(|d| (d["code"].as_str().unwrap().to_string(), d["range"].clone())).collect();
    assert_eq!(
        summary,
        vec![
            ("E0103".to_string(), range(3, 17, 3, 20)), // `rin`
            ("E0111".to_string(), range(4, 11, 4, 20)), // `"😀 café"`: 1 + 2 + 5 + 1 units
            ("E0103".to_string(), range(4, 25, 4, 28)), // `rng`, after the non-ASCII text
        ]
    );
    let rng = &diags[2];
    assert_eq!(rng["severity"], 1);
    assert_eq!(rng["source"], "comp");
    assert!(rng["message"].as_str().unwrap().starts_with("unknown name `rng`"), "{rng}");
    assert!(rng["message"].as_str().unwrap().contains("help: did you mean `ring`?"), "{rng}");
    assert_eq!(rng["relatedInformation"][0]["message"], "not a concept of the model or a `let`");
    assert_eq!(rng["relatedInformation"][0]["location"]["range"], range(4, 25, 4, 28));

    // A quick fix for the "did you mean": replace `rng` (after the non-ASCII text) by `ring`.
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": URI}, "range": range(4, 26, 4, 26), "context": {"diagnostics": []}}),
    );
    let actions = actions.as_array().unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["title"], "replace `rng` with `ring`");
    assert_eq!(actions[0]["kind"], "quickfix");
    assert_eq!(actions[0]["edit"]["changes"][URI], json!([{"range": range(4, 25, 4, 28), "newText": "ring"}]));

    // didChange, incremental: three edits, each against the text the previous one left.
    let fixed = change(
        &mut client,
        2,
        json!([
            {"range": range(4, 25, 4, 28), "text": "ring"},
            {"range": range(4, 11, 4, 20), "text": "0.5 * box_small"},
            {"range": range(3, 20, 3, 20), "text": "g"},
        ]),
    );
    assert_eq!(fixed["version"], 2);
    assert_eq!(fixed["diagnostics"], json!([]), "all fixed: {fixed}");
    // The text is now:
    // 0 model toy2d
    // 1 scale 2
    // 2 let stripe = bar
    // 3 sample product = ring AND stripe
    // 4 sample t = 0.5 * box_small AND ring

    // Hover on a concept: its description and its final coefficient, scale 2 × weight 1 = 2.
    let ring = hover_text(&mut client, 3, 19);
    assert!(ring.contains("concept `ring`") && ring.contains("8 Gaussians"), "{ring}");
    assert!(ring.contains("- `product`: 2 on [0, 1)"), "{ring}");
    // ... and 2 × 0.5 = 1 for `0.5 * box_small` in `t`.
    let small = hover_text(&mut client, 4, 20);
    assert!(small.contains("- `t`: 1 on [0, 1)"), "{small}");
    // On a let: its definition and simplified form.
    let stripe = hover_text(&mut client, 3, 28);
    assert!(stripe.contains("let stripe = bar") && stripe.contains("simplified: `1 * bar`"), "{stripe}");
    // A let written over lines with a comment inside shows on one line, as the REPL keeps it.
    let multiline = change(&mut client, 3, json!([{"range": range(2, 13, 2, 16), "text": "(bar  # the stripe\n  AND bar)"}]));
    assert_eq!(multiline["diagnostics"][0]["code"], "W0002(duplicate-terms)", "{multiline}");
    let stripe = hover_text(&mut client, 2, 6);
    assert!(stripe.contains("let stripe = (bar AND bar)") && stripe.contains("simplified: `2 * bar`"), "{stripe}");
    change(&mut client, 4, json!([{"range": range(2, 13, 3, 10), "text": "bar"}]));
    // On a setting: what it does and the model's default.
    let scale = hover_text(&mut client, 1, 2);
    assert!(scale.contains("setting `scale`") && scale.contains("`toy2d` default: `1`"), "{scale}");

    // Definition and references of `stripe`, from its use on line 3.
    let definition = client.request("textDocument/definition", at(3, 28));
    assert_eq!(definition, json!({"uri": URI, "range": range(2, 4, 2, 10)}));
    let mut refs = at(3, 28);
    refs["context"] = json!({"includeDeclaration": true});
    let references = client.request("textDocument/references", refs);
    assert_eq!(references, json!([{"uri": URI, "range": range(2, 4, 2, 10)}, {"uri": URI, "range": range(3, 26, 3, 32)}]));

    // Rename `stripe` to `band`: the definition and the use.
    let mut rename = at(2, 6);
    rename["newName"] = json!("band");
    let edit = client.request("textDocument/rename", rename.clone());
    assert_eq!(edit["changes"][URI], json!([{"range": range(2, 4, 2, 10), "newText": "band"}, {"range": range(3, 26, 3, 32), "newText": "band"}]));
    rename["newName"] = json!("not a name");
    let refused = client.request_raw("textDocument/rename", rename);
    assert_eq!(refused["error"]["code"], -32803, "RequestFailed: {refused}");

    // Completion where the REPL completes: a let, a setting at the start of a line.
    let items = client.request("textDocument/completion", at(3, 29)); // `str|ipe`
    let labels: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert_eq!(labels, vec!["stripe"]);
    assert_eq!(items[0]["kind"], 6, "Variable");
    assert_eq!(items[0]["textEdit"]["range"], range(3, 26, 3, 29));
    let items = client.request("textDocument/completion", at(1, 2)); // `sc|ale 2`
    let scale = items.as_array().unwrap().iter().find(|i| i["label"] == "scale").expect("`scale` offered");
    assert_eq!(scale["kind"], 10, "Property");
    assert_eq!(scale["textEdit"]["range"], range(1, 0, 1, 2));

    // An unknown request: MethodNotFound; the server goes on.
    let unknown = client.request_raw("comp/noSuchThing", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");

    // Formatting: the edits `comp fmt` would make.
    let messy = change(&mut client, 5, json!([{"text": "model   toy2d\nsample s=ring   AND(bar)   # both\n\n\n"}]));
    assert_eq!(messy["diagnostics"], json!([]));
    let edits = client.request("textDocument/formatting", json!({"textDocument": {"uri": URI}, "options": {"tabSize": 4, "insertSpaces": true}}));
    assert_eq!(edits, json!([{"range": range(0, 0, 4, 0), "newText": "model toy2d\nsample s = ring AND (bar)  # both\n"}]));

    assert_eq!(client.shutdown().code(), Some(0), "shutdown then exit: status 0");
}

#[test]
fn constructors_complete_as_snippets_and_hover_with_their_ranges() {
    let mut client = start();
    let text = "model clevr-pos\nlet left = pos(0.25, 0.5)\nsample v = le\nsample w = left AND p\n";
    let published = open(&mut client, text);
    assert!(!published["diagnostics"].as_array().unwrap().is_empty(), "`le` and `p` are unknown names");
    let items = client.request("textDocument/completion", at(2, 13));
    let left = items.as_array().unwrap().iter().find(|i| i["label"] == "left").expect("the let `left` offered");
    assert_eq!(left["kind"], 6, "Variable");
    let items = client.request("textDocument/completion", at(3, 21));
    let pos = items.as_array().unwrap().iter().find(|i| i["label"] == "pos").expect("the constructor `pos` offered");
    assert_eq!(pos["insertTextFormat"], 2, "a snippet");
    assert_eq!(pos["textEdit"], json!({"range": range(3, 20, 3, 21), "newText": "pos(${1:x}, ${2:y})"}));
    assert_eq!(pos["kind"], 3, "Function");
    let items = client.request("textDocument/completion", at(0, 7)); // `model c|levr-pos`
    let model = items.as_array().unwrap().iter().find(|i| i["label"] == "clevr-pos").expect("the model offered after `model`");
    assert_eq!(model["kind"], 9, "Module");

    // Hover on a constructor: its parameters' ranges, and the term's coefficient, found by
    // binding named arguments in another order as the compiler does: with scale 7.5,
    // `NOT 0.5 * pos(y: 0.5, x: 0.75)` is 7.5 × −0.5 = −3.75 (`comp plan` prints
    // `-2.75·#0 + 7.5·#1 - 3.75·#2`, null being 1 − 7.5 × (1 − 0.5) = −2.75).
    let text = "model clevr-pos\nscale 7.5\nsample pair = pos(0.25, 0.5) AND NOT 0.5 * pos(y: 0.5, x: 0.75)\n";
    let clean = change(&mut client, 2, json!([{"text": text}]));
    assert_eq!(clean["diagnostics"], json!([]));
    let second = hover_text(&mut client, 2, 44);
    assert!(second.contains("concept `pos(x, y)`"), "{second}");
    assert!(second.contains("- `x`: ") && second.contains("(in 0..=1)"), "{second}");
    assert!(second.contains("- `pair`: -3.75 on [0, 1)"), "{second}");
    let first = hover_text(&mut client, 2, 15);
    assert!(first.contains("- `pair`: 7.5 on [0, 1)"), "{first}");
    assert_eq!(client.shutdown().code(), Some(0));
}

#[test]
fn half_typed_text_never_crashes_the_server() {
    let mut client = start();
    open(&mut client, "model toy2d\n");
    // Each prefix of a file, as if typed one character at a time, then requests everywhere.
    let file = "model toy2d\nlet s = (ring AND\n  0.5 * bar @ [0, 0.6])\nsample p = s OR \"é\" with scale 2, seed\n";
    let mut version = 1;
    for end in (1..=file.len()).filter(|&i| file.is_char_boundary(i)).step_by(7) {
        version += 1;
        change(&mut client, version, json!([{"text": &file[..end]}]));
        for (line, character) in [(0, 3), (1, 9), (2, 4), (3, 12), (9, 99)] {
            for method in ["textDocument/hover", "textDocument/completion", "textDocument/definition"] {
                let reply = client.request_raw(method, at(line, character));
                assert!(reply.get("error").is_none(), "{method} at {line}:{character} on {:?}: {reply}", &file[..end]);
            }
        }
    }
    // A syntax error is a diagnostic, not a crash; formatting leaves broken text alone.
    let broken = change(&mut client, version + 1, json!([{"text": "model toy2d\nsample s = (ring AND"}]));
    assert_eq!(broken["diagnostics"][0]["code"], "E0001", "{broken}");
    let edits = client.request("textDocument/formatting", json!({"textDocument": {"uri": URI}, "options": {"tabSize": 4, "insertSpaces": true}}));
    assert_eq!(edits, Value::Null);
    assert_eq!(client.shutdown().code(), Some(0));
}

#[test]
fn exit_without_shutdown_is_status_1() {
    let (mut client, _) = Client::start(env!("CARGO_BIN_EXE_comp"));
    client.notify("exit", Value::Null);
    assert_eq!(client.close().code(), Some(1));
}

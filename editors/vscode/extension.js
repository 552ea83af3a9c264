// The comp extension: highlighting comes from syntaxes/comp.tmLanguage.json; everything else
// (diagnostics as you type, hover, completion, go to definition, references, rename, format,
// quick fixes) from the language server `comp lsp`, started here over stdio (`comp lsp --stdio`:
// vscode-languageclient adds the flag).
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("comp").get("path") || "comp";
  const server = { command, args: ["lsp"], transport: TransportKind.stdio };
  client = new LanguageClient(
    "comp",
    "comp language server",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "comp" }, { scheme: "untitled", language: "comp" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };

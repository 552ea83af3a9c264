// The extension's own client code, run outside VS Code: the bundle (dist/extension.js, what the
// package ships) or extension.js is loaded with a stub of the `vscode` API, activated, and
// shown a .comp document; it must start `comp lsp --stdio` through vscode-languageclient and
// receive that document's diagnostics.
//
//   COMP_BIN=target/debug/comp node test/client.js [dist/extension.js]
//
// The stub implements what vscode-languageclient touches on this path (configuration, output
// channels, documents and their events, diagnostic collections, the value classes); anything
// else is a permissive dummy. Exit status 0 when the diagnostics arrive, with their codes.
const Module = require("module");
const path = require("path");

const BIN = process.env.COMP_BIN || "comp";
const entry = path.resolve(__dirname, "..", process.argv[2] || "dist/extension.js");
const TIMEOUT_MS = 60000;

// A value that is anything: callable, constructible, every property another such value.
function dummy(name = "dummy") {
  const fn = function () {
    return dummy(name + "()");
  };
  return new Proxy(fn, {
    get(target, prop) {
      if (prop === "then") return undefined; // not a promise
      if (prop === Symbol.toPrimitive) return () => name;
      if (prop === Symbol.iterator) return function* () {};
      if (prop === "dispose") return () => {};
      if (prop === "length") return 0;
      if (prop in target) return target[prop];
      return dummy(`${name}.${String(prop)}`);
    },
    apply() {
      return dummy(name + "()");
    },
    construct() {
      return dummy("new " + name);
    },
  });
}

// Anything not listed falls back to a dummy, so an API this stub lacks cannot crash the test.
function permissive(object, name) {
  return new Proxy(object, {
    get(target, prop) {
      if (prop in target) return target[prop];
      if (prop === "then") return undefined;
      return dummy(`${name}.${String(prop)}`);
    },
  });
}

class Disposable {
  constructor(f) {
    this.f = f;
  }
  static from(...items) {
    return new Disposable(() => items.forEach((i) => i && i.dispose && i.dispose()));
  }
  dispose() {
    if (this.f) this.f();
  }
}

class EventEmitter {
  constructor() {
    this.listeners = [];
    this.event = (listener, thisArg) => {
      const l = thisArg ? listener.bind(thisArg) : listener;
      this.listeners.push(l);
      return new Disposable(() => (this.listeners = this.listeners.filter((x) => x !== l)));
    };
  }
  fire(value) {
    for (const l of this.listeners.slice()) l(value);
  }
  dispose() {
    this.listeners = [];
  }
}

class Uri {
  constructor(scheme, fsPath) {
    this.scheme = scheme;
    this.fsPath = fsPath;
    this.path = fsPath;
  }
  static parse(text) {
    const m = /^([a-z]+):\/\/(.*)$/.exec(text);
    return m ? new Uri(m[1], decodeURIComponent(m[2])) : new Uri("file", text);
  }
  static file(p) {
    return new Uri("file", p);
  }
  toString() {
    return `${this.scheme}://${encodeURI(this.fsPath)}`;
  }
  toJSON() {
    return this.toString();
  }
}

class Position {
  constructor(line, character) {
    this.line = line;
    this.character = character;
  }
}
class Range {
  constructor(a, b, c, d) {
    [this.start, this.end] = a instanceof Position ? [a, b] : [new Position(a, b), new Position(c, d)];
  }
}
class Location {
  constructor(uri, range) {
    this.uri = uri;
    this.range = range;
  }
}
class Diagnostic {
  constructor(range, message, severity) {
    this.range = range;
    this.message = message;
    this.severity = severity;
  }
}
class DiagnosticRelatedInformation {
  constructor(location, message) {
    this.location = location;
    this.message = message;
  }
}
class CancellationTokenSource {
  constructor() {
    this.token = { isCancellationRequested: false, onCancellationRequested: () => new Disposable() };
  }
  cancel() {}
  dispose() {}
}

const TEXT = "model toy2d\nsample s = rnig AND bar\n";
const document = {
  uri: Uri.file("/tmp/comp-client-test/example.comp"),
  fileName: "/tmp/comp-client-test/example.comp",
  languageId: "comp",
  version: 1,
  isClosed: false,
  isDirty: false,
  isUntitled: false,
  lineCount: 3,
  eol: 1,
  getText: () => TEXT,
  save: async () => true,
};

const opened = new EventEmitter();
let resolveDiagnostics;
const diagnosticsArrived = new Promise((r) => (resolveDiagnostics = r));
const collections = [];

const vscode = permissive(
  {
    version: "1.95.0",
    Disposable,
    EventEmitter,
    Uri,
    Position,
    Range,
    Location,
    Diagnostic,
    DiagnosticRelatedInformation,
    CancellationTokenSource,
    DiagnosticSeverity: { Error: 0, Warning: 1, Information: 2, Hint: 3 },
    DiagnosticTag: { Unnecessary: 1, Deprecated: 2 },
    ExtensionMode: { Production: 1, Development: 2, Test: 3 },
    ConfigurationTarget: { Global: 1, Workspace: 2, WorkspaceFolder: 3 },
    workspace: permissive(
      {
        workspaceFolders: undefined,
        textDocuments: [],
        getConfiguration: () => ({ get: (key, def) => (key === "path" ? BIN : def), has: () => false, inspect: () => undefined, update: async () => {} }),
        onDidOpenTextDocument: opened.event,
        onDidCloseTextDocument: new EventEmitter().event,
        onDidChangeTextDocument: new EventEmitter().event,
        onDidSaveTextDocument: new EventEmitter().event,
        onWillSaveTextDocument: new EventEmitter().event,
        onDidChangeConfiguration: new EventEmitter().event,
        onDidChangeWorkspaceFolders: new EventEmitter().event,
        onDidCreateFiles: new EventEmitter().event,
        onDidRenameFiles: new EventEmitter().event,
        onDidDeleteFiles: new EventEmitter().event,
        createFileSystemWatcher: () => ({ onDidCreate: () => new Disposable(), onDidChange: () => new Disposable(), onDidDelete: () => new Disposable(), dispose() {} }),
      },
      "workspace"
    ),
    window: permissive(
      {
        activeTextEditor: undefined,
        visibleTextEditors: [],
        onDidChangeVisibleTextEditors: new EventEmitter().event,
        onDidChangeActiveTextEditor: new EventEmitter().event,
        createOutputChannel: (name) => ({
          name,
          append: (s) => process.env.COMP_CLIENT_LOG && process.stderr.write(s),
          appendLine: (s) => process.env.COMP_CLIENT_LOG && process.stderr.write(s + "\n"),
          replace() {},
          clear() {},
          show() {},
          hide() {},
          dispose() {},
          info() {},
          warn() {},
          error: (s) => process.stderr.write(`client error: ${s}\n`),
          debug() {},
          trace() {},
        }),
        showErrorMessage: async (m) => {
          process.stderr.write(`showErrorMessage: ${m}\n`);
          return undefined;
        },
        showWarningMessage: async () => undefined,
        showInformationMessage: async () => undefined,
      },
      "window"
    ),
    languages: permissive(
      {
        match: (selector, doc) => {
          const list = Array.isArray(selector) ? selector : [selector];
          return list.some((s) => (typeof s === "string" ? s === doc.languageId : (!s.language || s.language === doc.languageId) && (!s.scheme || s.scheme === doc.uri.scheme))) ? 10 : 0;
        },
        createDiagnosticCollection: (name) => {
          const map = new Map();
          const collection = {
            name,
            set: (uri, diagnostics) => {
              map.set(uri.toString(), diagnostics);
              if (diagnostics && diagnostics.length) resolveDiagnostics({ uri: uri.toString(), diagnostics });
            },
            get: (uri) => map.get(uri.toString()),
            delete: (uri) => map.delete(uri.toString()),
            clear: () => map.clear(),
            forEach: (f) => map.forEach((v, k) => f(Uri.parse(k), v)),
            dispose() {},
          };
          collections.push(collection);
          return collection;
        },
      },
      "languages"
    ),
    commands: permissive({ registerCommand: () => new Disposable(), executeCommand: async () => undefined }, "commands"),
    env: permissive({ language: "en", appName: "stub", machineId: "stub", sessionId: "stub" }, "env"),
    extensions: permissive({ all: [], getExtension: () => undefined }, "extensions"),
  },
  "vscode"
);

// `require("vscode")` anywhere (the bundle, vscode-languageclient) gets the stub.
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === "vscode" ? "vscode" : resolve.call(this, request, ...rest);
};
require.cache.vscode = { id: "vscode", filename: "vscode", loaded: true, exports: vscode };

async function main() {
  const timer = setTimeout(() => {
    console.error(`no diagnostics within ${TIMEOUT_MS / 1000} s`);
    process.exit(2);
  }, TIMEOUT_MS);
  const extension = require(entry);
  const context = { subscriptions: [], extensionPath: path.dirname(entry), asAbsolutePath: (p) => path.join(path.dirname(entry), p), extensionMode: 3 };
  await extension.activate(context);
  // The document opens after the client is running (as when a user opens a file).
  vscode.workspace.textDocuments.push(document);
  opened.fire(document);
  const { uri, diagnostics } = await diagnosticsArrived;
  clearTimeout(timer);
  const codes = diagnostics.map((d) => `${d.range.start.line}:${d.range.start.character} ${typeof d.code === "object" ? d.code.value : d.code} ${d.message.split("\n")[0]}`);
  console.log(`diagnostics for ${uri}:`);
  for (const c of codes) console.log("  " + c);
  await extension.deactivate();
  process.exit(codes.some((c) => c.includes("E0103")) ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

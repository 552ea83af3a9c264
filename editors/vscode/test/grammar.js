// The TextMate grammar (syntaxes/comp.tmLanguage.json) tokenised as VS Code tokenises it
// (vscode-textmate with the Oniguruma regex engine):
//
//   node test/grammar.js [FILE.comp ...]     (default: every example and invalid program)
//
// Checks that every token that is not blank has a scope beyond `source.comp`, over each file,
// and the cases that once went wrong (issue 25), each as `text → token: scope`. Exit status 1
// on any failure, listing them.
const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const root = path.resolve(__dirname, "../../..");
const grammarPath = process.env.COMP_GRAMMAR || path.join(__dirname, "../syntaxes/comp.tmLanguage.json");

async function loadGrammar() {
  const wasm = fs.readFileSync(path.join(path.dirname(require.resolve("vscode-oniguruma")), "onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) =>
      scope === "source.comp" ? vsctm.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath) : null,
  });
  return registry.loadGrammar("source.comp");
}

// [{text, scopes}] for each line of `text`.
function tokenize(grammar, text) {
  let state = vsctm.INITIAL;
  const lines = [];
  for (const line of text.split(/\r?\n/)) {
    const result = grammar.tokenizeLine(line, state);
    lines.push(result.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes })));
    state = result.ruleStack;
  }
  return lines;
}

function files() {
  if (process.argv.length > 2) return process.argv.slice(2);
  const dirs = ["examples", "tests/invalid", "tests/warnings"].map((d) => path.join(root, d));
  const out = [];
  for (const dir of dirs) {
    if (!fs.existsSync(dir)) continue;
    // not_utf8.comp is not text: an editor shows its bytes decoded some other way.
    for (const f of fs.readdirSync(dir).sort()) if (f.endsWith(".comp") && f !== "not_utf8.comp") out.push(path.join(dir, f));
  }
  return out;
}

// `[text, token, scope]`: in `text`, the token `token` has a scope starting with `scope`
// (`null`: the token is not one token of its own).
const CASES = [
  ["size 512x768", "512x768", "constant.numeric.dimensions"],
  ["size 512x768", "size", "support.type.property-name"],
  ["scale +7.5", "+7.5", "constant.numeric"],
  ["scale -7.5", "-7.5", "constant.numeric"],
  ['sample s = "a red cube\nsample t = ring', "t", "entity.name.variable"],
  ['sample s = "a red cube\nsample t = ring', "ring", "variable.other"],
  ['sample s = "a red cube"', '"', "punctuation.definition.string.begin"],
  ['sample s = "a \\"red\\" cube"', "\\\"", "constant.character.escape"],
  ["let AND-x = ring", "AND-x", "entity.name.variable"],
  ["sample s = AND-x AND null-ish", "AND-x", "variable.other"],
  ["sample s = AND-x AND null-ish", "null-ish", "variable.other"],
  ["sample s = AND-x AND null-ish", "AND", "keyword.operator.logical"],
  ["sample s = NOT-y", "NOT-y", "variable.other"],
  ["let s = (ring AND\n  bar  # the stripe\n  AND box)", "bar", "variable.other"],
  ["let s = (ring AND\n  bar  # the stripe\n  AND box)", "# the stripe", "comment.line"],
  ["sampler ddim(steps: 50, eta: 0)", "sampler", "support.type.property-name"],
  ["sampler ddim(steps: 50, eta: 0)", "ddim", "entity.name.function"],
  ["sampler ddim(steps: 50, eta: 0)", "steps", "variable.parameter"],
  ["sample s = ring with scale 2, seed 3", "seed", "support.type.property-name"],
  ["sample s = 0.5 * pos(0.2, 0.5) @ [0, 0.6]", "@", "keyword.operator"],
  ["base none", "none", "constant.language"],
];

function scopeOf(lines, token) {
  for (const line of lines) for (const t of line) if (t.text === token) return t.scopes[t.scopes.length - 1];
  return null;
}

async function main() {
  const grammar = await loadGrammar();
  const failures = [];
  let tokens = 0;
  const list = files();
  for (const file of list) {
    const text = fs.readFileSync(file, "utf8");
    tokenize(grammar, text).forEach((line, i) => {
      for (const t of line) {
        tokens += 1;
        if (t.text.trim() !== "" && t.scopes.length < 2) {
          failures.push(`${path.relative(root, file)}:${i + 1}: \`${t.text}\` has no scope`);
        }
      }
    });
  }
  for (const [text, token, scope] of CASES) {
    const got = scopeOf(tokenize(grammar, text), token);
    if (got === null || !got.startsWith(scope)) {
      failures.push(`${JSON.stringify(text)}: \`${token}\` is ${got === null ? "not one token" : got}, expected ${scope}`);
    }
  }
  console.log(`grammar: ${list.length} files, ${tokens} tokens, ${CASES.length} cases; ${failures.length} failures`);
  for (const f of failures) console.log("  " + f);
  process.exit(failures.length ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

"""Compare `comp import a1111 --steps N` with AUTOMATIC1111's own prompt code, model call by model call.

Usage: python3 bench/peer/a1111_import.py WEBUI_CHECKOUT STEPS PROMPT...   (needs `pip install lark==1.1.2`)

For each prompt, A1111's side uses its own functions from WEBUI_CHECKOUT/modules/prompt_parser.py
(extra-network tags removed first with the regex of modules/extra_networks.py):
get_multicond_prompt_list (AND, weights), get_learned_conditioning_prompt_schedules (editing,
alternation), parse_prompt_attention (emphasis, BREAK); model call k (0-based) uses schedule step
max(k, 1), as its CFGDenoiser does. The texts are reduced to the words CLIP sees as comp writes
them (emphasis dropped, separately tokenised pieces joined by a space, white space collapsed).
comp's side is the written file's terms active at each step (fraction (k + 0.5)/N). Prints one
line per prompt: `same`, `DIFF` (with both sides) or `comp refused` (its stderr's last line).
Run it several times with different PYTHONHASHSEED values: A1111's parse of a few prompts changes
with the seed (comp warns W0110 there).
"""
import json, os, re, subprocess, sys, types

sys.modules.setdefault("torch", types.ModuleType("torch"))  # prompt_parser imports torch at the end
import runpy

webui, steps, prompts = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
pp = runpy.run_path(os.path.join(webui, "modules", "prompt_parser.py"), run_name="prompt_parser_peer")
COMP = os.environ.get("COMP", os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "comp"))
EXTRA = re.compile(r"<(\w+):([^>]+)>")


def words(fragments):
    out = ""
    for text, weight in fragments:
        if text == "BREAK" and weight == -1:
            out += " "
            continue
        if out and not out[-1].isspace() and text and not text[0].isspace():
            out += " "
        out += text
    return " ".join(out.split())


def a1111(prompt, n):
    (parts,), flat, _ = pp["get_multicond_prompt_list"]([EXTRA.sub("", prompt)])
    schedules = pp["get_learned_conditioning_prompt_schedules"](flat, n)
    calls = []
    for k in range(n):
        step, acc = max(k, 1), {}
        for index, weight in parts:
            text = next(t for end, t in schedules[index] if step <= end)
            w = words(pp["parse_prompt_attention"](text))
            acc[w] = acc.get(w, 0.0) + weight
        calls.append(sorted((t, round(w, 9)) for t, w in acc.items() if w != 0))
    return calls


TERM = re.compile(r'(NOT )?(?:([0-9.e+-]+) \* )?"((?:[^"\\]|\\.)*)"(?: @ \[([^,\]]+), ([^\]]+)\])?')


def comp(prompt, n):
    r = subprocess.run([COMP, "import", "a1111", "-", "--steps", str(n)], input=prompt, capture_output=True, text=True)
    if r.returncode != 0:
        return None, (r.stderr.strip().splitlines() or [""])[-1]
    if "base none" in r.stdout:
        return None, "written with explicit coefficients (not compared)"
    line = next(l for l in r.stdout.splitlines() if l.startswith("sample image = "))
    terms = []
    for m in TERM.finditer(line):
        w = float(m.group(2) or 1.0) * (-1 if m.group(1) else 1)
        terms.append((json.loads('"' + m.group(3) + '"'), w, float(m.group(4) or 0), float(m.group(5) or 1)))
    calls = []
    for k in range(n):
        f, acc = (k + 0.5) / n, {}
        for t, w, a, b in terms:
            if a <= f < b:
                acc[t] = acc.get(t, 0.0) + w
        calls.append(sorted((t, round(w, 9)) for t, w in acc.items() if w != 0))
    return calls, ""


for p in prompts:
    theirs = a1111(p, steps)
    ours, why = comp(p, steps)
    if ours is None:
        print(f"comp refused {p!r}: {why}")
    elif ours == theirs:
        print(f"same {p!r}")
    else:
        print(f"DIFF {p!r}\n  A1111 {theirs}\n  comp  {ours}")

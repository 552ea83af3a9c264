//! The REPL's state and what each input does to it. Pure of terminals: `Session::handle` takes
//! one input (a statement, an expression or a `:command`) and returns the text to show, so the
//! interactive loop and the scripted (stdin) loop behave the same and tests can drive it.

use super::scatter;
use crate::cmd::run::Runner;
use crate::pipeline;
use crate::render;
use crate::Failure;
use comp_compiler::ModelInfo;
use comp_compiler::RenderHuman;
use comp_grammar::ast::{ExprKind, Item, Program, SettingValue};
use comp_grammar::{Diagnostic, Span};

/// The name the REPL gives to an expression typed alone.
pub const EXPR_SAMPLE: &str = "_";

/// The commands, for `:help` and completion.
pub const COMMANDS: &[(&str, &str)] = &[
    (":run", "[NAME] [N]  sample NAME (default, or `_`: the last expression) and summarise N samples; Ctrl-C stops it"),
    (":plan", "[NAME]      the plan of NAME (default: the last expression)"),
    (":ast", "[NAME]      the syntax tree of NAME as JSON"),
    (":json", "[NAME]      the plan of NAME as JSON"),
    (":load", "FILE        replace the session with a .comp file"),
    (":save", "FILE        write the session as a .comp file"),
    (":set", "KEY VALUE   set a setting (same as typing `KEY VALUE`)"),
    (":model", "NAME        switch model; `:model a = NAME` adds a model to compose (terms `a.concept`)"),
    (":models", "            list the models and their concepts"),
    (":session", "            show the session's statements"),
    (":help", "            this help"),
    (":quit", "            leave (Ctrl-D also leaves)"),
];

/// Whether `word` is a setting a statement may start with (the language's vocabulary; `size`
/// and `dtype` are the image models': the checker says when the session's model has no such
/// setting).
pub fn is_setting(word: &str) -> bool {
    comp_compiler::vocabulary::setting(word).is_some()
}

/// What handling one input gave.
pub struct Reply {
    pub text: String,
    pub error: bool,
    pub quit: bool,
}

impl Reply {
    fn ok(text: impl Into<String>) -> Reply {
        Reply { text: text.into(), error: false, quit: false }
    }
    fn err(text: impl Into<String>) -> Reply {
        Reply { text: text.into(), error: true, quit: false }
    }
}

/// A statement kept by the session, with the key that a later statement replaces it by.
#[derive(Clone)]
struct Entry {
    key: String,
    text: String,
}

pub struct Session {
    models: Vec<ModelInfo>,
    entries: Vec<Entry>,
    last_expr: Option<String>,
    color: bool,
    /// `:run` samples through the same path as `comp run`: each model loaded once a session.
    runner: Runner,
    /// Set by Ctrl-C in an interactive session: stops a `:run` before its next step.
    cancel: Option<&'static std::sync::atomic::AtomicBool>,
}

impl Session {
    pub fn new(models: Vec<ModelInfo>, color: bool, runner: Runner) -> Session {
        let mut s = Session { models, entries: Vec::new(), last_expr: None, color, runner, cancel: None };
        s.entries.push(Entry { key: "set:model".into(), text: "model toy2d".into() });
        s
    }

    /// Lets `flag` (set by Ctrl-C) stop a `:run` in progress.
    pub fn set_cancel(&mut self, flag: &'static std::sync::atomic::AtomicBool) {
        self.cancel = Some(flag);
    }

    /// The session as a .comp file.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            out.push_str(&e.text);
            out.push('\n');
        }
        out
    }

    /// The current model's info.
    pub fn model(&self) -> Option<&ModelInfo> {
        let name = self.entries.iter().find(|e| e.key == "set:model")?.text.strip_prefix("model")?.trim().to_string();
        self.models.iter().find(|m| m.name == name)
    }

    pub fn models(&self) -> &[ModelInfo] {
        &self.models
    }

    /// Names of the session's lets and samples (for completion).
    pub fn names(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|e| e.key.strip_prefix("let:").or_else(|| e.key.strip_prefix("sample:")))
            .map(str::to_string)
            .collect()
    }

    /// Handles one complete input (possibly several lines while parentheses were open).
    pub fn handle(&mut self, input: &str) -> Reply {
        let input = input.trim();
        if input.is_empty() || input.starts_with('#') {
            return Reply::ok("");
        }
        if let Some(rest) = input.strip_prefix(':') {
            return self.command(rest);
        }
        self.statement_or_expr(input)
    }

    fn statement_or_expr(&mut self, input: &str) -> Reply {
        let first = input.split_whitespace().next().unwrap_or("");
        let extra: Vec<String> = self.model().map(|m| m.extra_settings.iter().map(|p| p.name.clone()).collect()).unwrap_or_default();
        let is_statement = first == "let" || first == "sample" || is_setting(first) || extra.iter().any(|s| s == first);
        if !is_statement {
            let stmt = format!("sample {EXPR_SAMPLE} = {input}");
            return self.expression(input, &stmt);
        }
        let program = match comp_grammar::parse(input) {
            Ok(p) => p,
            Err(ds) => return Reply::err(self.render_line(input, &ds, 0)),
        };
        let Some(item) = program.items.first() else { return Reply::ok("") };
        let key = match item {
            Item::Setting(s) => format!("set:{}", s.name.name),
            Item::Let(l) => format!("let:{}", l.name.name),
            Item::Sample(s) => format!("sample:{}", s.name.name),
            Item::Model(m) => format!("model:{}", m.alias.name),
        };
        let candidate = self.with_entry(Entry { key: key.clone(), text: input.to_string() });
        let text = candidate.iter().map(|e| e.text.as_str()).collect::<Vec<_>>().join("\n") + "\n";
        let checked = pipeline::check_text(&text, &self.models);
        // Where the typed statement sits in the session: a statement that replaces another
        // (`:model`, a setting typed again) keeps its place, which is not the end.
        let line_start: usize = candidate.iter().take_while(|e| e.key != key).map(|e| e.text.len() + 1).sum();
        let report = self.render_split(&text, line_start, input, &checked.diagnostics);
        if checked.has_errors() {
            return Reply::err(report);
        }
        self.entries = candidate;
        let mut out = report;
        if let Item::Model(m) = item {
            out += &format!("model {} = {}\n", m.alias.name, m.model.name);
        }
        if let Item::Setting(s) = item {
            if s.name.name == "model" {
                if let SettingValue::Expr(e) = &s.value {
                    if let ExprKind::Name(n) = &e.kind {
                        out += &format!("model {}\n", n.name);
                    }
                }
            }
        }
        Reply::ok(out)
    }

    /// The session's entries with `entry` replacing the one with its key (or appended).
    fn with_entry(&self, entry: Entry) -> Vec<Entry> {
        let mut entries = self.entries.clone();
        match entries.iter_mut().find(|e| e.key == entry.key) {
            Some(e) => *e = entry,
            None => entries.push(entry),
        }
        entries
    }

    fn expression(&mut self, input: &str, stmt: &str) -> Reply {
        let text = self.text() + stmt + "\n";
        let line_start = text.len() - stmt.len() - 1 + (stmt.len() - input.len());
        let checked = pipeline::check_text(&text, &self.models);
        let report = self.render_split(&text, line_start, input, &checked.diagnostics);
        let Some(compiled) = checked.compiled.filter(|_| !checked.diagnostics.iter().any(|d| d.is_error())) else {
            return Reply::err(report);
        };
        self.last_expr = Some(input.to_string());
        let mut out = report;
        if let Some(s) = compiled.simplified.iter().find(|s| s.to_string().starts_with(&format!("{EXPR_SAMPLE} "))) {
            out += &format!("simplified: {s}\n");
        }
        let plan = comp_compiler::Plan {
            version: compiled.plan.version,
            samples: compiled.plan.samples.into_iter().filter(|s| s.sample == EXPR_SAMPLE).collect(),
        };
        out += &plan.render_human();
        Reply::ok(out)
    }

    /// Renders diagnostics: those in the typed line against the line (as `<input>`), the rest
    /// (errors the new line causes elsewhere in the session) against the session.
    fn render_split(&self, text: &str, line_start: usize, line: &str, diagnostics: &[Diagnostic]) -> String {
        let mut out = String::new();
        for d in diagnostics {
            if d.lint == Some("unused-let") {
                continue; // a REPL session defines lets before it uses them
            }
            let span = d.span();
            if span.start as usize >= line_start && span.end as usize <= line_start + line.len() {
                let shifted = shift(d, line_start);
                out += &render::human("<input>", line, &shifted, self.color);
            } else if d.is_error() {
                out += &render::human("<session>", text, d, self.color);
            }
        }
        out
    }

    fn render_line(&self, line: &str, diagnostics: &[Diagnostic], offset: usize) -> String {
        diagnostics.iter().map(|d| render::human("<input>", line, &shift(d, offset), self.color)).collect()
    }

    fn command(&mut self, rest: &str) -> Reply {
        let mut words = rest.split_whitespace();
        let name = words.next().unwrap_or("");
        let args: Vec<&str> = words.collect();
        match name {
            "q" | "quit" | "exit" => Reply { text: String::new(), error: false, quit: true },
            "help" | "h" => Reply::ok(help()),
            "models" => Reply::ok(self.models.iter().map(crate::cmd::models::describe).collect::<Vec<_>>().join("\n")),
            "session" => Reply::ok(self.text()),
            "model" => match args.as_slice() {
                [m] => self.statement_or_expr(&format!("model {m}")),
                [alias, "=", m] => self.statement_or_expr(&format!("model {alias} = {m}")),
                _ => Reply::err("usage: :model NAME, or :model ALIAS = NAME to compose another model (`:models` lists them)\n"),
            },
            "set" => match args.as_slice() {
                [key, value @ ..] if !value.is_empty() => self.statement_or_expr(&format!("{key} {}", value.join(" "))),
                _ => Reply::err("usage: :set KEY VALUE, for example `:set scale 3`\n"),
            },
            "plan" | "ast" | "json" => self.show(name, args.first().copied()),
            "run" => self.run(&args),
            "load" => match args.as_slice() {
                [file] => self.load(file),
                _ => Reply::err("usage: :load FILE\n"),
            },
            "save" => match args.as_slice() {
                [file] => self.save(file),
                _ => Reply::err("usage: :save FILE\n"),
            },
            other => {
                let names: Vec<&str> = COMMANDS.iter().map(|(c, _)| &c[1..]).collect();
                let guess = names.iter().min_by_key(|n| strsim::levenshtein(n, other)).filter(|n| strsim::levenshtein(n, other) <= 2);
                let hint = guess.map(|g| format!(" (did you mean `:{g}`?)")).unwrap_or_default();
                Reply::err(format!("unknown command `:{other}`{hint}; `:help` lists the commands\n"))
            }
        }
    }

    /// The text of a sample to show or run: a session sample by name, or the last expression.
    fn target(&self, name: Option<&str>) -> Result<(String, String), String> {
        // `_` names the last expression, as the plan calls it (`:run _ 200`).
        let name = name.filter(|n| *n != EXPR_SAMPLE || self.entries.iter().any(|e| e.key == format!("sample:{n}")));
        match name {
            Some(n) => {
                if self.entries.iter().any(|e| e.key == format!("sample:{n}")) {
                    Ok((self.text(), n.to_string()))
                } else {
                    Err(format!("no sample named `{n}` in the session; samples: {}\n", self.sample_names().join(", ")))
                }
            }
            None => match &self.last_expr {
                Some(e) => Ok((self.text() + &format!("sample {EXPR_SAMPLE} = {e}\n"), EXPR_SAMPLE.to_string())),
                None => match self.sample_names().last() {
                    Some(n) => Ok((self.text(), n.clone())),
                    None => Err("nothing to show yet: type an expression such as `ring AND bar`, or name a sample\n".into()),
                },
            },
        }
    }

    fn sample_names(&self) -> Vec<String> {
        self.entries.iter().filter_map(|e| e.key.strip_prefix("sample:").map(str::to_string)).collect()
    }

    fn show(&self, what: &str, name: Option<&str>) -> Reply {
        let (text, sample) = match self.target(name) {
            Ok(t) => t,
            Err(e) => return Reply::err(e),
        };
        let checked = comp_compiler::compile_text(&text, &self.models);
        let Some(compiled) = checked.compiled else {
            return Reply::err(self.render_split(&text, text.len(), "", &checked.diagnostics));
        };
        match what {
            "ast" => {
                let program = checked.program.expect("compiled implies parsed");
                let item = program.items.iter().find(|i| matches!(i, Item::Sample(s) if s.name.name == sample));
                Reply::ok(serde_json::to_string_pretty(&item).expect("serialisable") + "\n")
            }
            _ => {
                let plan = comp_compiler::Plan {
                    version: compiled.plan.version,
                    samples: compiled.plan.samples.into_iter().filter(|s| s.sample == sample).collect(),
                };
                if what == "json" {
                    Reply::ok(serde_json::to_string_pretty(&plan).expect("serialisable") + "\n")
                } else {
                    Reply::ok(plan.render_human())
                }
            }
        }
    }

    fn run(&mut self, args: &[&str]) -> Reply {
        // `:run`, `:run NAME`, `:run N`, `:run NAME N`
        let (name, count) = match args {
            [] => (None, None),
            [a] => match a.parse::<usize>() {
                Ok(n) => (None, Some(n)),
                Err(_) => (Some(*a), None),
            },
            [a, b] => match b.parse::<usize>() {
                Ok(n) => (Some(*a), Some(n)),
                Err(_) => return Reply::err(format!("`{b}` is not a number of samples; usage: :run [NAME] [N]\n")),
            },
            _ => return Reply::err("usage: :run [NAME] [N]\n"),
        };
        let (text, sample) = match self.target(name) {
            Ok(t) => t,
            Err(e) => return Reply::err(e),
        };
        // N is a `samples` setting from outside the session, checked and compiled in as
        // `comp run --samples N` is.
        let overrides = comp_compiler::Overrides { samples: count, ..Default::default() };
        let ctx = comp_compiler::Context { overrides: Some(&overrides), ..Default::default() };
        let checked = comp_compiler::compile_text_in(&text, &self.models, &ctx);
        if let Some(d) = checked.override_diagnostics.iter().find(|d| d.is_error()) {
            return Reply::err(format!("error: {}\n", d.message));
        }
        let Some(compiled) = checked.compiled else {
            return Reply::err(self.render_split(&text, text.len(), "", &checked.diagnostics));
        };
        let plan = compiled.plan.samples.into_iter().find(|s| s.sample == sample).expect("the target sample is in the plan");
        let started = std::time::Instant::now();
        if let Some(flag) = self.cancel {
            flag.store(false, std::sync::atomic::Ordering::Relaxed); // a Ctrl-C before this run does not stop it
        }
        let opts = comp_runtime::ExecOptions { progress: None, cancel: self.cancel, ..Default::default() };
        let out = match self.runner.execute(&plan, &opts) {
            Ok(o) => o,
            Err(Failure::Usage(m) | Failure::Runtime(m)) => return Reply::err(format!("error: {m}\n")),
            Err(Failure::Input) => return Reply::err("error: the input has errors\n"),
        };
        let secs = started.elapsed().as_secs_f64();
        let mut text = format!(
            "{} samples of `{}` in {:.2}s, {} model calls\n",
            plan.settings.samples,
            if sample == EXPR_SAMPLE { self.last_expr.clone().unwrap_or_default() } else { sample.clone() },
            secs,
            out.model_calls
        );
        text += &scatter::summary(&out.samples);
        Reply::ok(text)
    }

    fn load(&mut self, file: &str) -> Reply {
        let source = match pipeline::SourceFile::read(file) {
            Ok(s) => s,
            Err(e) => return Reply::err(format!("error: {e}\n")),
        };
        let checked = pipeline::check(&source, &self.models);
        if checked.has_errors() {
            let out: String = checked
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| render::human(&source.name, &source.text, d, self.color))
                .collect();
            return Reply::err(out + "the session is unchanged\n");
        }
        let program: Program = checked.program.expect("no errors implies parsed");
        let mut entries = Vec::new();
        for item in &program.items {
            let key = match item {
                Item::Setting(s) => format!("set:{}", s.name.name),
                Item::Let(l) => format!("let:{}", l.name.name),
                Item::Sample(s) => format!("sample:{}", s.name.name),
                Item::Model(m) => format!("model:{}", m.alias.name),
            };
            entries.push(Entry { key, text: statement_text(&source.text, item.span(), &program) });
        }
        let n = entries.len();
        self.entries = entries;
        self.last_expr = None;
        Reply::ok(format!("loaded {n} statements from {file}\n"))
    }

    fn save(&self, file: &str) -> Reply {
        match comp_output::write_atomic(std::path::Path::new(file), self.text().as_bytes()) {
            Ok(()) => Reply::ok(format!("saved {} statements to {file}\n", self.entries.len())),
            Err(e) => Reply::err(format!("error: cannot write `{file}`: {e}\n")),
        }
    }
}

/// A statement's source text on one line: comments inside it dropped, line breaks (only
/// possible inside parentheses) turned into spaces.
pub fn statement_text(source: &str, span: Span, program: &Program) -> String {
    let mut bytes = source[span.range()].as_bytes().to_vec();
    for c in &program.comments {
        if c.span.start >= span.start && c.span.end <= span.end {
            for b in &mut bytes[(c.span.start - span.start) as usize..(c.span.end - span.start) as usize] {
                *b = b' ';
            }
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shift(d: &Diagnostic, by: usize) -> Diagnostic {
    let mut d = d.clone();
    for l in &mut d.labels {
        l.span = Span { start: (l.span.start as usize).saturating_sub(by) as u32, end: (l.span.end as usize).saturating_sub(by) as u32 };
    }
    d
}

fn help() -> String {
    let mut out = String::from(
        "Type a statement (`let x = ring`, `scale 3`, `sample s = ring AND bar`) to add it to the session,\n\
         or an expression (`ring AND bar`) to see its simplified form and plan. Commands:\n",
    );
    for (c, d) in COMMANDS {
        out += &format!("  {c:<9}{d}\n");
    }
    out += "Tab completes names; open parentheses continue the input on the next line.\n";
    out
}

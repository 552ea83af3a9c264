//! `comp fmt`: the canonical layout of a `.comp` file.
//!
//! ```text
//! before:  model   toy2d      # the model
//!          sample s=(ring
//!             AND   0.5*bar@[0,.6])   with scale 2,seed 3
//! after:   model toy2d  # the model
//!          sample s = (ring AND 0.5 * bar @ [0, .6]) with scale 2, seed 3
//! ```
//!
//! The layout:
//!
//! - One statement a line. A setting's name and value are separated by one space (no column
//!   alignment: aligned values make a one-line change re-indent its neighbours).
//! - Single spaces around `=`, `AND`, `OR`, `*`, `@`, and the mixture `:` (`0.7 : a`); calls
//!   as `name(a, b, k: v)`; windows as `e @ [0, 0.6]`; `with a 1, b 2`.
//! - Number literals exactly as written; strings re-escaped (`\"`, `\\`, `\n`, `\t`).
//! - Parentheses the user wrote are kept, with no space inside them. A parenthesised
//!   expression written over several lines is joined onto one line, unless comments are inside
//!   it: then each comment ends its line (an own-line comment stays on its own line) and the
//!   expression continues on the next line, indented by four spaces.
//! - Comments: one on its own line stays on its own line, before the statement that followed
//!   it; one after a statement stays at the end of that statement's line, after two spaces.
//! - Runs of blank lines become one blank line; no blank lines at the start or end; the file
//!   ends with exactly one line break (an empty file stays empty).
//!
//! The formatter prints the tree, so it never changes the parse (the AST is the same, spans
//! aside), and formatting twice gives the same text. It expects `program` to be `source`
//! parsed: it reads `source` only to find comments and the blank lines between statements,
//! and prints no parentheses the tree does not have.

use comp_grammar::ast::{Arg, ArgValue, Comment, Expr, ExprKind, Item, Number, Program, Setting, SettingValue};
use comp_grammar::Span;

/// Indentation of the continuation lines of a statement broken by comments.
const INDENT: &str = "    ";

/// Formats `program`, parsed from `source`, in the canonical layout (see the module docs).
///
/// ```
/// let source = "model   toy2d\nsample s=ring   AND(bar)   # both\n\n\n";
/// let program = comp_grammar::parse(source).unwrap();
/// assert_eq!(comp_compiler::format(source, &program), "model toy2d\nsample s = ring AND (bar)  # both\n");
/// ```
pub fn format(source: &str, program: &Program) -> String {
    let mut out = String::new();
    // The end of the last thing written, in the source (for blank lines).
    let mut last_end: Option<usize> = None;
    let mut comments = program.comments.iter().peekable();

    for item in &program.items {
        let span = item.span();
        // Own-line comments before the item.
        while let Some(c) = comments.next_if(|c| c.span.start < span.start) {
            blank_line_between(source, &mut out, last_end, c.span.start);
            out.push_str(&c.text);
            out.push('\n');
            last_end = Some(c.span.end as usize);
        }
        blank_line_between(source, &mut out, last_end, span.start);
        let inner: Vec<&Comment> = std::iter::from_fn(|| comments.next_if(|c| c.span.start < span.end)).collect();
        let mut w = Writer { source, out: String::new(), comments: inner, next: 0 };
        w.item(item);
        w.flush_comments(usize::MAX);
        out.push_str(w.out.trim_end_matches(' '));
        last_end = Some(span.end as usize);
        // A comment on the statement's last line is its trailing comment.
        if let Some(c) = comments.next_if(|c| !source[span.end as usize..c.span.start as usize].contains('\n')) {
            out.push_str("  ");
            out.push_str(&c.text);
            last_end = Some(c.span.end as usize);
        }
        out.push('\n');
    }
    for c in comments {
        blank_line_between(source, &mut out, last_end, c.span.start);
        out.push_str(&c.text);
        out.push('\n');
        last_end = Some(c.span.end as usize);
    }
    out
}

/// Writes one blank line if the source has one or more between `last_end` and `start`.
fn blank_line_between(source: &str, out: &mut String, last_end: Option<usize>, start: u32) {
    if let Some(end) = last_end {
        if source[end..start as usize].matches('\n').count() >= 2 {
            out.push('\n');
        }
    }
}

/// The offset of the next token at or after `from`: past white space and comments.
fn next_token(source: &str, from: usize) -> usize {
    let bytes = source.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => i = bytes[i..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| i + n),
            _ => return i,
        }
    }
    i
}

/// Writes one statement, token by token; a comment inside it is written before the first
/// token that follows it in the source.
struct Writer<'a> {
    source: &'a str,
    out: String,
    /// The comments inside this statement, in order.
    comments: Vec<&'a Comment>,
    /// The first comment not yet written.
    next: usize,
}

impl<'a> Writer<'a> {
    /// Is the current line empty so far (the start, or just after a comment's line break)?
    fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with(&format!("\n{INDENT}"))
    }

    fn newline(&mut self) {
        let trimmed = self.out.trim_end_matches(' ').len();
        self.out.truncate(trimmed);
        self.out.push('\n');
        self.out.push_str(INDENT);
    }

    /// Writes the comments that start before source offset `pos`.
    fn flush_comments(&mut self, pos: usize) {
        while let Some(c) = self.comments.get(self.next).copied().filter(|c| (c.span.start as usize) < pos) {
            let line_start = self.source[..c.span.start as usize].rfind('\n').map_or(0, |n| n + 1);
            let own_line = self.source[line_start..c.span.start as usize].trim().is_empty();
            if own_line && !self.at_line_start() {
                self.newline();
            }
            if !self.at_line_start() {
                self.out.push_str("  ");
            }
            self.out.push_str(&c.text);
            self.newline();
            self.next += 1;
        }
    }

    /// Writes `text`, found at source offset `pos`, after a space if `space`.
    fn token(&mut self, text: &str, pos: usize, space: bool) {
        self.flush_comments(pos);
        if space && !self.at_line_start() {
            self.out.push(' ');
        }
        self.out.push_str(text);
    }

    /// Writes the punctuation or keyword `text` that follows source offset `after`.
    fn punct(&mut self, text: &str, after: u32, space: bool) {
        let pos = next_token(self.source, after as usize);
        self.token(text, pos, space);
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Setting(s) => self.setting(s, false),
            Item::Let(l) => {
                self.token("let", l.span.start as usize, false);
                self.token(&l.name.name, l.name.span.start as usize, true);
                self.punct("=", l.name.span.end, true);
                self.expr(&l.expr, true);
            }
            Item::Sample(s) => {
                self.token("sample", s.span.start as usize, false);
                self.token(&s.name.name, s.name.span.start as usize, true);
                self.punct("=", s.name.span.end, true);
                self.expr(&s.expr, true);
                let mut prev = s.expr.span.end;
                for (i, setting) in s.overrides.iter().enumerate() {
                    if i == 0 {
                        self.punct("with", prev, true);
                    } else {
                        self.punct(",", prev, false);
                    }
                    self.setting(setting, true);
                    prev = setting.span.end;
                }
            }
            Item::Model(m) => {
                self.token("model", m.span.start as usize, false);
                self.token(&m.alias.name, m.alias.span.start as usize, true);
                self.punct("=", m.alias.span.end, true);
                self.token(&m.model.name, m.model.span.start as usize, true);
            }
        }
    }

    fn setting(&mut self, s: &Setting, space: bool) {
        self.token(&s.name.name, s.name.span.start as usize, space);
        match &s.value {
            SettingValue::Number(n) => self.number(n, true),
            SettingValue::Expr(e) => self.expr(e, true),
            SettingValue::Dimensions(d) => self.token(&d.text, d.span.start as usize, true),
        }
    }

    fn number(&mut self, n: &Number, space: bool) {
        self.token(&n.text, n.span.start as usize, space);
    }

    fn expr(&mut self, e: &Expr, space: bool) {
        let start = e.span.start as usize;
        match &e.kind {
            ExprKind::Or(branches) => {
                let mut prev: Option<Span> = None;
                for b in branches {
                    let first = match prev {
                        Some(p) => {
                            self.punct("OR", p.end, true);
                            true
                        }
                        None => space,
                    };
                    match &b.weight {
                        Some(w) => {
                            self.number(w, first);
                            self.punct(":", w.span.end, true);
                            self.expr(&b.expr, true);
                        }
                        None => self.expr(&b.expr, first),
                    }
                    prev = Some(b.span);
                }
            }
            ExprKind::And(terms) => {
                for (i, t) in terms.iter().enumerate() {
                    if i > 0 {
                        self.punct("AND", terms[i - 1].span.end, true);
                    }
                    self.expr(t, i > 0 || space);
                }
            }
            ExprKind::Not(inner) => {
                self.token("NOT", start, space);
                self.expr(inner, true);
            }
            ExprKind::Weight { weight, expr } => {
                self.number(weight, space);
                self.punct("*", weight.span.end, true);
                self.expr(expr, true);
            }
            ExprKind::Window { expr, from, to } => {
                self.expr(expr, space);
                let at = next_token(self.source, expr.span.end as usize);
                self.token("@", at, true);
                self.punct("[", at as u32 + 1, true);
                self.number(from, false);
                self.punct(",", from.span.end, false);
                self.number(to, true);
                self.punct("]", to.span.end, false);
            }
            ExprKind::Name(id) => self.token(&id.name, start, space),
            ExprKind::Call { name, args } => {
                self.token(&name.name, start, space);
                self.punct("(", name.span.end, false);
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        self.punct(",", args[i - 1].span.end, false);
                    }
                    self.arg(a, i > 0);
                }
                self.token(")", e.span.end as usize - 1, false);
            }
            ExprKind::Text(t) => self.token(&quote(t), start, space),
            ExprKind::Qualified { model, expr } => {
                // `a.ring`: the alias and its dot are one token; the term follows at once.
                self.token(&format!("{}.", model.name), start, space);
                self.expr(expr, false);
            }
            ExprKind::Paren(inner) => {
                self.token("(", start, space);
                self.expr(inner, false);
                self.token(")", e.span.end as usize - 1, false);
            }
        }
    }

    fn arg(&mut self, a: &Arg, space: bool) {
        let mut space = space;
        if let Some(name) = &a.name {
            self.token(&name.name, name.span.start as usize, space);
            self.punct(":", name.span.end, false);
            space = true;
        }
        match &a.value {
            ArgValue::Number(n) => self.number(n, space),
            ArgValue::Name(id) => self.token(&id.name, id.span.start as usize, space),
            ArgValue::Text { value, span } => self.token(&quote(value), span.start as usize, space),
        }
    }
}

/// A string literal for `value`, escaped.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::format;
    use comp_grammar::parse;

    fn fmt(source: &str) -> String {
        let program = parse(source).unwrap_or_else(|d| panic!("{source:?}: {d:#?}"));
        format(source, &program)
    }

    /// The program's `Debug` picture with every span blanked out.
    fn without_spans(source: &str) -> String {
        let program = parse(source).unwrap_or_else(|d| panic!("{source:?}: {d:#?}"));
        let text = format!("{program:?}");
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("Span { start: ") {
            out.push_str(&rest[..i]);
            out.push('_');
            rest = &rest[i..];
            rest = &rest[rest.find(" }").expect("a span ends") + 2..];
        }
        out.push_str(rest);
        out
    }

    const PROGRAMS: &[&str] = &[
        "model toy2d\nsample s = ring AND bar\n",
        "# head\n\n\n\nmodel   toy2d   # the model\nsampler ddpm( steps :100 )\n\n\n# lets\nlet stripe=bar\nsample product=ring AND stripe   \n\n\n# tail\n\n",
        "sample strong = ring AND bar with scale 2,seed 3 , sampler ddim(steps: 50, eta: 0)\n",
        "sample m = 0.7:a OR 0.3 : b AND c OR d\n",
        "sample w = NOT 0.3*a@[0,.5] AND b@[ 0.5 , 1 ]\n",
        "sample n = ((a OR b) AND (NOT  c)) @ [0, 1e-1]\nlet x = 2*3*NOT NOT a\n",
        "model clevr-text\nsample t = \"a \\\"red\\\" cube\\n\\t\\\\\" AND f(\"x\", name: \"y\", flag: true)\n",
        "sample s = (ring   # the ring\n            AND bar)\n",
        "sample s = (\n  # own line\n  ring\n  AND   # after and\n  bar   # before paren\n)  # trailing\n",
        "sample s = f(1,\n   2,  # two\n   k: 3)\nscale 7.5\n",
        "sample s = (ring\n   AND\n   bar)\nbase 0.5 * ring\nscale -1e3\nseed +2\n",
        "\n\n  scale 1  \r\n\r\n\r\n\tseed 2\r\n",
        "# only a comment",
        "",
        "\n\n\n",
    ];

    #[test]
    fn idempotent_and_same_parse() {
        for source in PROGRAMS {
            let once = fmt(source);
            let twice = fmt(&once);
            assert_eq!(once, twice, "not idempotent for {source:?}");
            assert_eq!(without_spans(source), without_spans(&once), "parse changed for {source:?}:\n{once}");
        }
    }

    #[test]
    fn examples_idempotent_and_same_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "comp") {
                let source = std::fs::read_to_string(&path).unwrap();
                let once = fmt(&source);
                assert_eq!(once, fmt(&once), "{}", path.display());
                assert_eq!(without_spans(&source), without_spans(&once), "{}", path.display());
            }
        }
    }

    #[test]
    fn canonical_layout() {
        assert_eq!(
            fmt(PROGRAMS[1]),
            "# head\n\nmodel toy2d  # the model\nsampler ddpm(steps: 100)\n\n# lets\nlet stripe = bar\nsample product = ring AND stripe\n\n# tail\n"
        );
        assert_eq!(fmt(PROGRAMS[2]), "sample strong = ring AND bar with scale 2, seed 3, sampler ddim(steps: 50, eta: 0)\n");
        assert_eq!(fmt(PROGRAMS[3]), "sample m = 0.7 : a OR 0.3 : b AND c OR d\n");
        assert_eq!(fmt(PROGRAMS[4]), "sample w = NOT 0.3 * a @ [0, .5] AND b @ [0.5, 1]\n");
        assert_eq!(fmt(PROGRAMS[5]), "sample n = ((a OR b) AND (NOT c)) @ [0, 1e-1]\nlet x = 2 * 3 * NOT NOT a\n");
        assert_eq!(fmt(PROGRAMS[6]).lines().nth(1).unwrap(), PROGRAMS[6].lines().nth(1).unwrap());
        assert_eq!(fmt(PROGRAMS[11]), "scale 1\n\nseed 2\n");
        assert_eq!(fmt(PROGRAMS[12]), "# only a comment\n");
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n\n\n"), "");
    }

    #[test]
    fn multi_line_parentheses() {
        // Without comments: joined.
        assert_eq!(fmt(PROGRAMS[10]).lines().next().unwrap(), "sample s = (ring AND bar)");
        // With comments: each comment ends its line; own-line comments keep their own line.
        assert_eq!(fmt(PROGRAMS[7]), "sample s = (ring  # the ring\n    AND bar)\n");
        assert_eq!(
            fmt(PROGRAMS[8]),
            "sample s = (\n    # own line\n    ring AND  # after and\n    bar  # before paren\n    )  # trailing\n"
        );
        assert_eq!(fmt(PROGRAMS[9]), "sample s = f(1, 2,  # two\n    k: 3)\nscale 7.5\n");
    }

    #[test]
    fn comments_are_never_lost() {
        for source in PROGRAMS {
            let before: Vec<String> = parse(source).unwrap().comments.into_iter().map(|c| c.text).collect();
            let after: Vec<String> = parse(&fmt(source)).unwrap().comments.into_iter().map(|c| c.text).collect();
            assert_eq!(before, after, "{source:?}");
        }
    }

    /// Random programs (a fixed xorshift seed): random spacing, line breaks and comments
    /// inside parentheses, own-line and trailing comments, blank lines.
    #[test]
    fn random_programs_idempotent_and_same_parse() {
        struct Gen(u64);
        impl Gen {
            fn next(&mut self, n: u64) -> u64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 % n
            }
            /// White space between tokens; inside parentheses it may break lines and comment.
            fn ws(&mut self, depth: usize) -> &'static str {
                let choices: &[&str] =
                    if depth > 0 { &[" ", "  ", "\t", "\n  ", " # c\n", "\n  # own\n  ", " ", " "] } else { &[" ", "  ", "\t", " "] };
                choices[self.next(choices.len() as u64) as usize]
            }
            fn num(&mut self) -> &'static str {
                ["0.5", "-1", ".25", "2e-1", "+3", "7"][self.next(6) as usize]
            }
            fn atom(&mut self, depth: usize, budget: usize) -> String {
                match self.next(if budget == 0 { 3 } else { 4 }) {
                    0 => ["ring", "bar", "clevr-pos", "_x"][self.next(4) as usize].to_string(),
                    1 => {
                        let (a, b) = (self.ws(depth + 1), self.ws(depth + 1));
                        format!("pos({a}{}{b},{}k: \"s\\\"\"{})", self.num(), self.ws(depth + 1), self.ws(depth + 1))
                    }
                    2 => "\"a \\n cube\"".to_string(),
                    _ => {
                        let (a, b) = (self.ws(depth + 1), self.ws(depth + 1));
                        format!("({a}{}{b})", self.expr(depth + 1, budget - 1))
                    }
                }
            }
            fn prefixed(&mut self, depth: usize, budget: usize) -> String {
                let mut s = String::new();
                for _ in 0..self.next(3) {
                    if self.next(2) == 0 {
                        s += &format!("NOT{}", self.ws(depth));
                    } else {
                        s += &format!("{}{}*{}", self.num(), self.ws(depth), self.ws(depth));
                    }
                }
                s += &self.atom(depth, budget);
                for _ in 0..self.next(2) {
                    s += &format!("{}@{}[{}, {}]", self.ws(depth), self.ws(depth), self.num(), self.num());
                }
                s
            }
            fn expr(&mut self, depth: usize, budget: usize) -> String {
                let mut s = String::new();
                let branches = 1 + self.next(3);
                for b in 0..branches {
                    if b > 0 {
                        s += &format!("{}OR{}", self.ws(depth), self.ws(depth));
                    }
                    if branches > 1 && self.next(2) == 0 {
                        s += &format!("{}{}:{}", self.num(), self.ws(depth), self.ws(depth));
                    }
                    for t in 0..1 + self.next(3) {
                        if t > 0 {
                            s += &format!("{}AND{}", self.ws(depth), self.ws(depth));
                        }
                        s += &self.prefixed(depth, budget);
                    }
                }
                s
            }
            fn program(&mut self) -> String {
                let mut s = String::new();
                for _ in 0..1 + self.next(6) {
                    match self.next(6) {
                        0 => s += "\n",
                        1 => s += "  # own line\n",
                        2 => s += &format!("scale{}{}", self.ws(0), self.num()),
                        3 => s += &format!("let x{}={}{}", self.ws(0), self.ws(0), self.expr(0, 2)),
                        _ => {
                            s += &format!("sample s ={}{}", self.ws(0), self.expr(0, 3));
                            if self.next(2) == 0 {
                                s += &format!(" with scale {},{}base {}", self.num(), self.ws(0), self.expr(0, 1));
                            }
                        }
                    }
                    if !s.ends_with('\n') {
                        s += if self.next(3) == 0 { "  # trailing\n" } else { "\n" };
                    }
                }
                s
            }
        }
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        for _ in 0..500 {
            let source = g.program();
            let once = fmt(&source);
            assert_eq!(once, fmt(&once), "not idempotent for {source:?}");
            assert_eq!(without_spans(&source), without_spans(&once), "parse changed for {source:?}:\n{once}");
        }
    }
}

//! AUTOMATIC1111's prompt syntax, read into a tree: plain text, emphasis, prompt editing,
//! alternation, `BREAK` and extra networks.
//!
//! ```text
//! a [mountain:lake:0.25] with (snow:1.2), [fe|]male, \(literal\) BREAK <lora:detail:0.7>
//!   Text("a ") Edit{mountain → lake at 0.25} Text(" with ") Emphasis(1.2, snow) ...
//! ```
//!
//! What A1111 does (`modules/prompt_parser.py`): a lark grammar reads `[from:to:when]`,
//! `[to:when]`, `[from::when]` (prompt editing), `[a|b]` (alternation), `(x)`, `(x:w)`, `[x]`
//! (emphasis ×1.1, ×w, ÷1.1), and `\c` for a literal `c`; `when` with a `.` is a fraction of the
//! steps, without one an absolute step. Where the grammar fails (an unbalanced bracket,
//! `[a:b]` without a number, `[a:b|c]`) A1111 silently drops prompt editing for the whole
//! prompt and reads the brackets as emphasis. Here those are errors, with the span.
//! `<name:args>` (LoRA, hypernetworks) is removed from the prompt before anything else, as
//! A1111's `extra_networks.parse_prompt` does.

use comp_grammar::{Diagnostic, Span};
use std::ops::Range;

/// Deepest nesting of brackets accepted (a prompt is short; this bounds the recursion).
const MAX_DEPTH: usize = 64;

/// One piece of a prompt.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// Literal text, escapes resolved (`\(` is `(`).
    Text(String),
    /// `(x)` (×1.1), `(x:1.3)` (×1.3), `[x]` (÷1.1): A1111 scales these tokens' embeddings.
    Emphasis { factor: f64, body: Vec<Node> },
    /// `[before:after:when]`, `[after:when]` (`before` empty), `[before::when]` (`after` empty).
    Edit { before: Vec<Node>, after: Vec<Node>, when: When },
    /// `[a|b|c]`: option `(step − 1) mod n` at A1111 step `step` (1-based).
    Alternate { options: Vec<Vec<Node>>, span: Span },
    /// `BREAK`: A1111 pads the current 75-token chunk and starts a new one.
    Break,
}

/// When a prompt edit switches: `value` is a fraction of the steps when the number was
/// written with a `.` (`0.5`, `1.`), else an absolute step (`12`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct When {
    pub value: f64,
    pub fraction: bool,
    pub span: Span,
}

/// A prompt read into a tree.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prompt {
    pub nodes: Vec<Node>,
    /// A `|` outside square brackets: A1111's grammar fails on it and then ignores every
    /// prompt edit of the prompt.
    pub stray_pipe: Option<Span>,
}

impl Prompt {
    /// Whether any edit or alternation changes the text during sampling.
    pub fn is_scheduled(&self) -> bool {
        fn any(nodes: &[Node]) -> bool {
            nodes.iter().any(|n| match n {
                Node::Edit { .. } | Node::Alternate { .. } => true,
                Node::Emphasis { body, .. } => any(body),
                Node::Text(_) | Node::Break => false,
            })
        }
        any(&self.nodes)
    }
}

use super::codes::{BAD_EDIT, BAD_WEIGHT, BREAK_DROPPED, EMPHASIS_DROPPED, EXTRA_NETWORK, UNBALANCED};

/// The `<name:args>` extra-network tags of `text` (A1111's `<(\w+):([^>]+)>`), in order.
pub fn extra_networks(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(off) = text[i..].find('<') {
        let start = i + off;
        let mut j = start + 1;
        let name_start = j;
        while j < text.len() {
            let c = text[j..].chars().next().expect("in bounds");
            if !is_word(c) {
                break;
            }
            j += c.len_utf8();
        }
        let ok_name = j > name_start && bytes.get(j) == Some(&b':');
        let close = if ok_name { text[j + 1..].find('>').map(|k| j + 1 + k) } else { None };
        match close {
            Some(end) if end > j + 1 => {
                found.push(start..end + 1);
                i = end + 1;
            }
            _ => i = start + 1,
        }
    }
    found
}

/// Python's `\w` for text: letters, digits, underscore.
pub fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Reads `src[range]` as an A1111 prompt. Errors and warnings go to `diags` (spans into
/// `src`); `None` when there is an error.
pub fn parse(src: &str, range: Range<usize>, extras: &[Range<usize>], diags: &mut Vec<Diagnostic>) -> Option<Prompt> {
    let mut p = Parser { src, end: range.end, pos: range.start, extras, diags, stray_pipe: None, failed: false, open: Vec::new(), abort: false };
    let items = p.seq(None, 0);
    if p.failed {
        return None;
    }
    let nodes = items.into_iter().map(|i| i.into_node(src)).collect();
    Some(Prompt { nodes, stray_pipe: p.stray_pipe })
}

/// What a bracket's body is made of: nodes, and the `:` and `|` that split it.
enum Item {
    Node(Node),
    Colon(usize),
    Pipe(usize),
}

impl Item {
    /// A `:` or `|` that turned out to be text.
    fn into_node(self, src: &str) -> Node {
        match self {
            Item::Node(n) => n,
            Item::Colon(at) | Item::Pipe(at) => Node::Text(src[at..at + 1].to_string()),
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    end: usize,
    pos: usize,
    extras: &'a [Range<usize>],
    diags: &'a mut Vec<Diagnostic>,
    stray_pipe: Option<Span>,
    failed: bool,
    /// The closing brackets the enclosing brackets wait for, innermost last.
    open: Vec<char>,
    /// Too deep: stop reading, report nothing more.
    abort: bool,
}

impl Parser<'_> {
    fn error(&mut self, d: Diagnostic) {
        self.failed = true;
        self.diags.push(d);
    }

    /// Reads until `close` (consumed) or the end of the range.
    fn seq(&mut self, close: Option<(char, usize)>, depth: usize) -> Vec<Item> {
        let mut items = Vec::new();
        let mut text = String::new();
        let flush = |text: &mut String, items: &mut Vec<Item>| {
            if !text.is_empty() {
                items.push(Item::Node(Node::Text(std::mem::take(text))));
            }
        };
        while self.pos < self.end && !self.abort {
            if let Some(r) = self.extras.iter().find(|r| r.start == self.pos) {
                let span = Span::new(r.start, r.end);
                self.diags.push(
                    Diagnostic::warning(EXTRA_NETWORK.0, EXTRA_NETWORK.1, "extra network left out: comp loads no LoRA, hypernetwork or other add-on weights", span)
                        .with_label("A1111 applies these weights to the model; the imported file samples the plain model")
                        .with_note("the tag is removed from the prompt text, as A1111 removes it"),
                );
                self.pos = r.end;
                continue;
            }
            let at = self.pos;
            let c = self.src[at..].chars().next().expect("in bounds");
            match c {
                '\\' => {
                    self.pos += 1;
                    // `\c` is `c`; a backslash at the very end disappears (as in A1111).
                    if let Some(n) = self.src[self.pos..self.end].chars().next() {
                        text.push(n);
                        self.pos += n.len_utf8();
                    }
                }
                '(' | '[' => {
                    flush(&mut text, &mut items);
                    if depth >= MAX_DEPTH {
                        self.error(
                            Diagnostic::error(UNBALANCED, format!("brackets nested deeper than {MAX_DEPTH} levels"), Span::new(at, at + 1))
                                .with_label("too deep"),
                        );
                        self.abort = true;
                        return items;
                    }
                    self.pos += 1;
                    if let Some(node) = self.bracket(c, at, depth + 1) {
                        items.push(Item::Node(node));
                    }
                }
                ')' | ']' => {
                    flush(&mut text, &mut items);
                    match close {
                        Some((want, _)) if want == c => {
                            self.pos += 1;
                            return items;
                        }
                        // `(a [b)`: the `[` is the one never closed; `)` closes the `(`.
                        Some((want, open)) if self.open.contains(&c) => {
                            self.error(
                                Diagnostic::error(UNBALANCED, format!("`{}` is never closed", &self.src[open..open + 1]), Span::new(open, open + 1))
                                    .with_label(format!("no `{want}` closes this"))
                                    .with_secondary(Span::new(at, at + 1), "this closes an outer bracket")
                                    .with_help("A1111 reads a prompt with unbalanced brackets without its prompt editing; close it, or write `\\(` `\\[` for a literal bracket"),
                            );
                            return items;
                        }
                        Some((want, open)) => {
                            self.pos += 1;
                            self.error(
                                Diagnostic::error(UNBALANCED, format!("`{c}` where `{want}` was expected"), Span::new(at, at + 1))
                                    .with_label(format!("expected `{want}`"))
                                    .with_secondary(Span::new(open, open + 1), "to close this")
                                    .with_help("A1111 reads a prompt with unbalanced brackets without its prompt editing; write `\\(` `\\)` `\\[` `\\]` for literal brackets"),
                            );
                            // Recover: treat it as closing this bracket.
                            return items;
                        }
                        None => {
                            self.pos += 1;
                            self.error(
                            Diagnostic::error(UNBALANCED, format!("unmatched `{c}`"), Span::new(at, at + 1))
                                .with_label("nothing to close")
                                .with_help("write `\\)` or `\\]` for a literal bracket"),
                            )
                        }
                    }
                }
                ':' if close.is_some() => {
                    flush(&mut text, &mut items);
                    items.push(Item::Colon(at));
                    self.pos += 1;
                }
                '|' if matches!(close, Some((']', _))) => {
                    flush(&mut text, &mut items);
                    items.push(Item::Pipe(at));
                    self.pos += 1;
                }
                '|' => {
                    self.stray_pipe.get_or_insert(Span::new(at, at + 1));
                    text.push('|');
                    self.pos += 1;
                }
                'B' if self.is_break(at) => {
                    flush(&mut text, &mut items);
                    self.diags.push(
                        Diagnostic::warning(BREAK_DROPPED.0, BREAK_DROPPED.1, "`BREAK` dropped: comp encodes a prompt as one piece", Span::new(at, at + 5))
                            .with_label("A1111 starts a new 75-token chunk here and encodes the chunks separately")
                            .with_note("the text on both sides is kept, joined by a space"),
                    );
                    items.push(Item::Node(Node::Break));
                    self.pos += 5;
                }
                _ => {
                    text.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
        flush(&mut text, &mut items);
        if let (Some((want, open)), false) = (close, self.abort) {
            self.error(
                Diagnostic::error(UNBALANCED, format!("`{}` is never closed", &self.src[open..open + 1]), Span::new(open, open + 1))
                    .with_label(format!("no `{want}` closes this"))
                    .with_help("A1111 reads a prompt with unbalanced brackets without its prompt editing; close it, or write `\\(` `\\[` for a literal bracket"),
            );
        }
        items
    }

    /// `BREAK` at `at` as a whole word.
    fn is_break(&self, at: usize) -> bool {
        let rest = &self.src[at..self.end];
        if !rest.starts_with("BREAK") {
            return false;
        }
        let before = self.src[..at].chars().next_back();
        let after = rest[5..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    }

    /// The bracket opened by `open` at `at` (already consumed) up to its closing bracket.
    fn bracket(&mut self, open: char, at: usize, depth: usize) -> Option<Node> {
        let close = if open == '(' { ')' } else { ']' };
        let errors_before = self.failed;
        self.failed = false;
        let diags_at = self.diags.len();
        self.open.push(close);
        let items = self.seq(Some((close, at)), depth);
        self.open.pop();
        let end = self.pos; // after the closing bracket
        let failed = self.failed;
        self.failed |= errors_before;
        if failed {
            return None;
        }
        let span = Span::new(at, end);
        let inner_end = end - 1;
        let colons: Vec<usize> = items.iter().filter_map(|i| if let Item::Colon(c) = i { Some(*c) } else { None }).collect();
        let pipes = items.iter().any(|i| matches!(i, Item::Pipe(_)));
        let node = if open == '(' {
            self.round(items, &colons, inner_end)?
        } else if colons.is_empty() && !pipes {
            Node::Emphasis { factor: 1.0 / 1.1, body: self.nodes(items) }
        } else if colons.is_empty() {
            let mut options = vec![Vec::new()];
            for item in items {
                match item {
                    Item::Pipe(_) => options.push(Vec::new()),
                    other => options.last_mut().expect("one option").push(other.into_node(self.src)),
                }
            }
            Node::Alternate { options, span }
        } else if pipes {
            self.error(
                Diagnostic::error(BAD_EDIT, "`|` and `:` in one pair of square brackets", span)
                    .with_label("neither prompt editing nor alternation")
                    .with_help("prompt editing is `[from:to:when]`, alternation `[a|b]`; nest one inside the other"),
            );
            return None;
        } else {
            self.edit(items, &colons, span, inner_end)?
        };
        // One warning for nested emphasis, `((word))`: the outermost replaces those inside it.
        if let Node::Emphasis { factor, .. } = &node {
            if *factor != 1.0 {
                let kept: Vec<Diagnostic> = self.diags.drain(diags_at..).filter(|d| d.code != EMPHASIS_DROPPED.0).collect();
                self.diags.extend(kept);
                self.diags.push(emphasis_warning(span, *factor, &node));
            }
        }
        Some(node)
    }

    /// `(x)` or `(x:w)`: the weight is what follows the last top-level `:`, when it looks
    /// like a number (A1111's `:\s*([+-]?[.\d]+)\s*\)`); otherwise the `:` is text.
    fn round(&mut self, items: Vec<Item>, colons: &[usize], inner_end: usize) -> Option<Node> {
        let Some(&last) = colons.last() else {
            return Some(Node::Emphasis { factor: 1.1, body: self.nodes(items) });
        };
        let raw = &self.src[last + 1..inner_end];
        let t = raw.trim();
        let numberish = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '+' || c == '-');
        // A1111's weight pattern: an optional sign, then digits and dots.
        let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
        let a1111_shape = !unsigned.is_empty() && unsigned.chars().all(|c| c.is_ascii_digit() || c == '.');
        if !a1111_shape {
            if numberish {
                let wspan = Span::new(last + 1 + (raw.len() - raw.trim_start().len()), last + 1 + raw.trim_end().len());
                self.error(Diagnostic::error(BAD_WEIGHT, format!("bad emphasis weight `{t}`"), wspan).with_label("not a number").with_help("write the weight as a decimal number: `(word:1.3)`"));
                return None;
            }
            // `(photo: 35mm)`: A1111 reads the colon as text (emphasis 1.1).
            return Some(Node::Emphasis { factor: 1.1, body: self.nodes(items) });
        }
        let wspan = Span::new(last + 1 + (raw.len() - raw.trim_start().len()), last + 1 + raw.trim_end().len());
        let Some(w) = t.parse::<f64>().ok().filter(|w| w.is_finite()) else {
            self.error(Diagnostic::error(BAD_WEIGHT, format!("bad emphasis weight `{t}`"), wspan).with_label("not a number").with_help("write the weight as a decimal number: `(word:1.3)`"));
            return None;
        };
        let body: Vec<Item> = items.into_iter().take_while(|i| !matches!(i, Item::Colon(c) if *c == last)).collect();
        Some(Node::Emphasis { factor: w, body: self.nodes(body) })
    }

    /// `[from:to:when]`, `[to:when]`, `[from::when]`.
    fn edit(&mut self, items: Vec<Item>, colons: &[usize], span: Span, inner_end: usize) -> Option<Node> {
        if colons.len() > 2 {
            self.error(
                Diagnostic::error(BAD_EDIT, format!("prompt editing with {} `:`", colons.len()), span)
                    .with_label("expected `[from:to:when]`, `[to:when]` or `[from::when]`")
                    .with_help("write `\\:` for a colon inside the text"),
            );
            return None;
        }
        let last = *colons.last().expect("at least one colon");
        let raw = &self.src[last + 1..inner_end];
        let t = raw.trim();
        let wspan = Span::new(last + 1 + (raw.len() - raw.trim_start().len()), (last + 1 + raw.trim_end().len()).max(last + 1));
        let when = match lark_number(t) {
            Some(v) if v.is_finite() => When { value: v, fraction: t.contains('.'), span: wspan },
            _ => {
                let shown = if t.is_empty() { "nothing".to_string() } else { format!("`{t}`") };
                let wspan = if t.is_empty() { Span::new(last, last + 1) } else { wspan };
                self.error(
                    Diagnostic::error(BAD_EDIT, format!("prompt editing needs a step or a fraction after the last `:`, found {shown}"), wspan)
                        .with_label("expected a number such as `0.5` (a fraction of the steps) or `12` (a step)")
                        .with_secondary(span, "in this prompt edit")
                        .with_note("A1111 would silently ignore every prompt edit of this prompt")
                        .with_help("write `\\:` for a colon inside the text"),
                );
                return None;
            }
        };
        let mut parts: Vec<Vec<Node>> = vec![Vec::new()];
        for item in items {
            match item {
                Item::Colon(_) => parts.push(Vec::new()),
                other => parts.last_mut().expect("a part").push(other.into_node(self.src)),
            }
        }
        parts.pop(); // the number
        let (before, after) = if parts.len() == 2 {
            let after = parts.pop().expect("two parts");
            (parts.pop().expect("two parts"), after)
        } else {
            (Vec::new(), parts.pop().expect("one part"))
        };
        Some(Node::Edit { before, after, when })
    }

    fn nodes(&self, items: Vec<Item>) -> Vec<Node> {
        items.into_iter().map(|i| i.into_node(self.src)).collect()
    }
}

fn emphasis_warning(span: Span, factor: f64, node: &Node) -> Diagnostic {
    // `((word))`: the factors multiply; say the total when the nesting is a plain chain.
    let mut total = factor;
    let mut n = node;
    while let Node::Emphasis { body, .. } = n {
        match body.as_slice() {
            [inner @ Node::Emphasis { factor, .. }] => {
                total *= factor;
                n = inner;
            }
            _ => break,
        }
    }
    let shown = (total * 1e4).round() / 1e4;
    Diagnostic::warning(EMPHASIS_DROPPED.0, EMPHASIS_DROPPED.1, "emphasis dropped: comp cannot weight words inside a prompt", span)
        .with_label(format!("A1111 scales these words' embeddings by {shown}; the import keeps the words at weight 1"))
        .with_help("to weight a concept, give it its own AND part (`... AND word :1.3`): that weights its score, a different operation")
}

/// lark's `SIGNED_NUMBER`: `[+-]? (INT | INT "." INT? | "." INT) ([eE] [+-]? INT)?`.
pub fn lark_number(t: &str) -> Option<f64> {
    let b = t.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    let int = digits(&mut i);
    let mut frac = 0;
    let dot = i < b.len() && b[i] == b'.';
    if dot {
        i += 1;
        frac = digits(&mut i);
    }
    if int == 0 && frac == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    t.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes of `p`'s diagnostics and the text under each.
    fn diags(p: &str) -> Vec<(&'static str, String)> {
        let mut ds = Vec::new();
        let _ = parse(p, 0..p.len(), &extra_networks(p), &mut ds);
        ds.iter().map(|d| (d.code, p[d.span().range()].to_string())).collect()
    }

    fn d(v: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        v.iter().map(|(c, t)| (*c, t.to_string())).collect()
    }

    #[test]
    fn emphasis_warns_once_per_outermost_bracket() {
        assert_eq!(diags("a ((word)) b"), d(&[("W0101", "((word))")]));
        assert_eq!(diags("(a) [b]"), d(&[("W0101", "(a)"), ("W0101", "[b]")]));
        // Weight 1 changes nothing: only the inner emphasis warns.
        assert_eq!(diags("((a):1)"), d(&[("W0101", "(a)")]));
        // A colon before text is text: `photo: 35mm` emphasised by 1.1.
        assert_eq!(diags("(photo: 35mm)"), d(&[("W0101", "(photo: 35mm)")]));
        assert_eq!(diags("[a:(b:1.2):0.5]"), d(&[("W0101", "(b:1.2)")]));
    }

    #[test]
    fn bad_brackets_weights_and_edits_are_errors_at_their_place() {
        assert_eq!(diags("a (b"), d(&[("E0201", "(")]));
        assert_eq!(diags("a b)"), d(&[("E0201", ")")]));
        assert_eq!(diags("(a]"), d(&[("E0201", "]")]));
        assert_eq!(diags("(a:1.2.3)"), d(&[("E0202", "1.2.3")]));
        assert_eq!(diags("(a: -)"), d(&[("E0202", "-")]));
        assert_eq!(diags("[a:b]"), d(&[("E0203", "b")]));
        assert_eq!(diags("[a:b:]"), d(&[("E0203", ":")]));
        assert_eq!(diags("[a:b:c:0.5]"), d(&[("E0203", "[a:b:c:0.5]")]));
        assert_eq!(diags("[a|b:0.5]"), d(&[("E0203", "[a|b:0.5]")]));
        assert_eq!(diags("[a:b:1e999]"), d(&[("E0203", "1e999")]));
        // Escaped brackets and colons are text.
        assert_eq!(diags("\\(a\\:b\\] \\\\"), d(&[]));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let p = "(".repeat(100_000);
        assert_eq!(diags(&p), d(&[("E0201", "(")]), "one error, not one per open bracket");
    }

    #[test]
    fn a_bracket_left_open_inside_another_is_one_error() {
        assert_eq!(diags("(a [b) c"), d(&[("E0201", "[")]));
        assert_eq!(diags("[a (b] c"), d(&[("E0201", "(")]));
    }

    #[test]
    fn break_lora_and_pipes() {
        assert_eq!(diags("a BREAK b BREAKFAST"), d(&[("W0102", "BREAK")]));
        assert_eq!(diags("a <lora:add-detail:0.7> b"), d(&[("W0103", "<lora:add-detail:0.7>")]));
        assert_eq!(extra_networks("<a:b> <:x> <c:> <d:e>"), vec![0..5, 16..21]);
        let mut ds = Vec::new();
        let p = parse("a | b", 0..5, &[], &mut ds).expect("a bar outside brackets is text");
        assert_eq!((p.nodes, p.stray_pipe), (vec![Node::Text("a | b".into())], Some(Span::new(2, 3))));
    }

    #[test]
    fn lark_numbers() {
        for (t, v) in [("12", 12.0), ("0.5", 0.5), (".5", 0.5), ("1.", 1.0), ("-3", -3.0), ("+2.5e1", 25.0), ("1e2", 100.0)] {
            assert_eq!(lark_number(t), Some(v), "{t}");
        }
        for t in ["", ".", "1.2.3", "e3", "1e", "--1", "0x10", "1 2"] {
            assert_eq!(lark_number(t), None, "{t}");
        }
    }
}

//! AUTOMATIC1111's prompt syntax, in A1111's two passes.
//!
//! 1. **Scheduling** ([`parse`]): A1111's lark grammar (`modules/prompt_parser.py`) finds
//!    prompt editing `[from:to:when]`, `[to:when]`, `[from::when]` and alternation `[a|b]`; the
//!    text of one sampling step keeps everything else as written, brackets and escapes included.
//!    Inside a bracket everything must be well formed; at the top level a bracket or `:` that
//!    does not open or close a well-formed construct is text (so `((a][:b:c [d:3]` still
//!    schedules `[d:3]`). When the grammar fails as a whole (a `|` outside square brackets, a
//!    `\` at the end), A1111 reads the whole part as text and applies none of its edits.
//! 2. **Attention** ([`attention`]): the text of one step is read as A1111's
//!    `parse_prompt_attention` reads it: `(x)` ×1.1, `(x:w)` ×w, `[x]` ÷1.1, unclosed brackets
//!    to the end, stray closers as text, `\(` etc. as the character, `BREAK` (a bare word) a
//!    chunk break. comp drops the emphasis (it cannot weight words inside a prompt) and keeps
//!    the words: [`words`] joins the pieces.
//!
//! ```text
//! a [mountain:lake:0.25] with (snow:1.2)    at step 1 of 10: "a mountain with (snow:1.2)"
//!                                           → pieces ("a mountain with ", 1) ("snow", 1.2)
//!                                           → "a mountain with snow", warning W0101
//! ```
//!
//! Everything is done on a [`Src`]: text with, for each byte, its place in what the user typed,
//! so diagnostics point into the prompt even after `<lora:…>` tags are removed.

use super::codes::{BAD_WEIGHT, BREAK_DROPPED, EMPHASIS_DROPPED, READ_AS_TEXT, UNBALANCED, UNSTABLE};
use super::python;
use comp_grammar::{Diagnostic, Span};
use std::collections::HashMap;
use std::ops::Range;

/// Deepest nesting of brackets read (A1111's parser itself fails with a `RecursionError` at a
/// few hundred levels).
pub const MAX_DEPTH: usize = 200;

/// Text and, for each of its bytes, the byte of the user's input it came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Src {
    pub text: String,
    pub origin: Vec<u32>,
}

impl Src {
    /// The user's input itself.
    pub fn new(text: &str) -> Src {
        Src { text: text.to_string(), origin: (0..text.len() as u32).collect() }
    }

    /// Appends `from.text[r]`.
    pub fn push(&mut self, from: &Src, r: Range<usize>) {
        self.text.push_str(&from.text[r.clone()]);
        self.origin.extend_from_slice(&from.origin[r]);
    }

    /// The input span of `self.text[r]` (`end` is the input's length, for an empty range at
    /// the end). Every byte is copied from the input, so a character's bytes have consecutive
    /// origins.
    pub fn span(&self, r: Range<usize>, end: usize) -> Span {
        let at = |i: usize| self.origin.get(i).map_or(end, |&o| o as usize);
        if r.start >= r.end {
            let p = at(r.start);
            return Span::new(p, p);
        }
        Span::new(at(r.start), self.origin[r.end - 1] as usize + 1)
    }
}

/// One piece of an A1111 prompt part, as the scheduling grammar reads it.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    /// Bytes of the part copied into every step's text as written.
    Lit(Range<usize>),
    /// `[before:after:when]`; `before` is `None` for `[after:when]`.
    Edit { before: Option<Vec<Piece>>, after: Vec<Piece>, when: When },
    /// `[a|b|c]`: option `(step − 1) mod n` at A1111's step `step` (1-based).
    Alt { options: Vec<Vec<Piece>>, span: Range<usize> },
}

/// When an edit switches: `number` as written (lark's `SIGNED_NUMBER`, ASCII); a fraction of
/// the steps when it has a `.`, else a step.
#[derive(Clone, Debug, PartialEq)]
pub struct When {
    pub value: f64,
    pub fraction: bool,
    /// The number, in the part's [`Src`].
    pub span: Range<usize>,
    /// The whole `[...]`, in the part's [`Src`].
    pub edit: Range<usize>,
}

/// A part read by the scheduling grammar.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prompt {
    pub pieces: Vec<Piece>,
}

fn any_schedule(pieces: &[Piece]) -> bool {
    pieces.iter().any(|p| !matches!(p, Piece::Lit(_)))
}

/// Why a bracket is not a well-formed construct.
#[derive(Debug)]
struct Fail {
    reason: String,
    /// Where reading stopped (exclusive), in the part's [`Src`].
    until: usize,
    too_deep: Option<usize>,
    never_closed: bool,
}

/// Reads `src.text[range]` with A1111's scheduling grammar. Warnings (and errors: brackets too
/// deep, a step A1111 cannot compute) go to `diags` with spans into the input (`input_len`
/// long); `None` on an error. `before_and`: the part is followed by an `AND`.
pub fn parse(src: &Src, range: Range<usize>, input_len: usize, before_and: bool, diags: &mut Vec<Diagnostic>) -> Option<Prompt> {
    let p = Parser { s: &src.text, end: range.end };
    let mut pieces: Vec<Piece> = Vec::new();
    let mut total_fail: Option<(Range<usize>, &'static str)> = None;
    let mut warned_until = range.start;
    // A position from which on no `[` has a `:` or `|` after it (to the end): nothing after it
    // that failed looks like an edit.
    let mut plain_from = range.end;
    let mut pos = range.start;
    let bytes = src.text.as_bytes();
    let span = |r: Range<usize>| src.span(r, input_len);
    let matched = matched_openers(&src.text, range.clone());
    while pos < range.end {
        let c = bytes[pos];
        match c {
            b'\\' => {
                let next = src.text[pos + 1..range.end].chars().next();
                match next {
                    Some(n) if n != '\n' => {
                        push_lit(&mut pieces, pos..pos + 1 + n.len_utf8());
                        pos += 1 + n.len_utf8();
                    }
                    _ => {
                        let what = if next.is_some() { "a `\\` before a line break" } else { "a `\\` at the end" };
                        total_fail.get_or_insert((pos..pos + 1, what));
                        push_lit(&mut pieces, pos..pos + 1);
                        pos += 1;
                    }
                }
            }
            b'(' | b'[' if !matched.contains_key(&pos) => {
                // No closer balances it: never a construct (and nothing to try: this keeps a
                // prompt of many open brackets linear).
                if c == b'[' && pos >= warned_until && (pos < plain_from || before_and) {
                    if before_and || looks_scheduled(&src.text[pos..range.end]) {
                        let mut d = Diagnostic::warning(READ_AS_TEXT.0, READ_AS_TEXT.1, "A1111 reads this as text, not as prompt editing or alternation", span(pos..range.end))
                            .with_label(format!("`{}` is never closed", c as char))
                            .with_note("A1111's prompt grammar takes a bracket that is not well formed as text (its emphasis still applies); so does the import")
                            .with_help("close it, or write `\\[` `\\(` for a literal bracket");
                        if before_and {
                            d = d.with_note("A1111 splits the prompt at each AND before it reads brackets: a bracket cannot span an AND");
                        }
                        diags.push(d);
                        warned_until = range.end;
                    } else {
                        plain_from = pos;
                    }
                }
                push_lit(&mut pieces, pos..pos + 1);
                pos += 1;
            }
            b'(' | b'[' => match p.construct(pos, 1) {
                Ok((mut inner, end)) => {
                    if p.ambiguous(&inner, pos, end, &matched) {
                        let text = &src.text[pos..end];
                        diags.push(
                            Diagnostic::warning(UNSTABLE.0, UNSTABLE.1, "A1111 reads this prompt edit one of two ways, depending on Python's hash seed", span(pos..end))
                                .with_label("A1111 applies this edit in some runs and reads it as text in others (lark's parse is ambiguous where a `]` meets a stray bracket or `:`); the import applies it")
                                .with_help(format!("put a space after `{text}` in A1111: it then always applies the edit")),
                        );
                    }
                    pieces.append(&mut inner);
                    pos = end;
                }
                Err(f) => {
                    if let Some(at) = f.too_deep {
                        diags.push(
                            Diagnostic::error(UNBALANCED, format!("brackets nested deeper than {MAX_DEPTH} levels"), span(at..at + 1))
                                .with_label("too deep")
                                .with_note("A1111's own parser fails (RecursionError) a little deeper than this"),
                        );
                        return None;
                    }
                    // The bracket and what it encloses: up to the closer that balances it.
                    let until = matched.get(&pos).map_or(f.until, |&q| q + 1);
                    if pos >= warned_until && looks_scheduled(&src.text[pos..until]) {
                        let mut d = Diagnostic::warning(READ_AS_TEXT.0, READ_AS_TEXT.1, "A1111 reads this as text, not as prompt editing or alternation", span(pos..until))
                            .with_label(f.reason.clone())
                            .with_note("A1111's prompt grammar takes a bracket that is not well formed as text (its emphasis still applies); so does the import")
                            .with_help("write `[from:to:when]` (when: a step `12` or a fraction `0.5`), `[to:when]`, `[from::when]` or `[a|b]`; `\\[` `\\]` `\\:` for literal characters");
                        if f.never_closed && before_and {
                            d = d.with_note("A1111 splits the prompt at each AND before it reads brackets: a bracket cannot span an AND");
                        }
                        diags.push(d);
                        warned_until = until;
                    }
                    push_lit(&mut pieces, pos..pos + 1);
                    pos += 1;
                }
            },
            b')' | b']' | b':' => {
                push_lit(&mut pieces, pos..pos + 1);
                pos += 1;
            }
            b'|' => {
                total_fail.get_or_insert((pos..pos + 1, "a `|` outside square brackets"));
                push_lit(&mut pieces, pos..pos + 1);
                pos += 1;
            }
            _ => {
                let end = src.text[pos..range.end].find(['\\', '(', '[', ')', ']', ':', '|']).map_or(range.end, |k| pos + k);
                push_lit(&mut pieces, pos..end);
                pos = end;
            }
        }
    }
    if let Some((at, what)) = total_fail {
        if any_schedule(&pieces) {
            diags.push(
                Diagnostic::warning(
                    READ_AS_TEXT.0,
                    READ_AS_TEXT.1,
                    format!("A1111's prompt grammar fails on {what}: it applies none of this part's prompt edits"),
                    span(at),
                )
                .with_label("A1111 then reads the whole part as text, prompt editing and alternation included; so does the import")
                .with_help("write `\\|` for a literal bar, `\\\\` for a backslash"),
            );
        }
        pieces = vec![Piece::Lit(range)];
    }
    Some(Prompt { pieces })
}

/// The openers in `text[range]` that some closer balances, and that closer (brackets of either
/// kind counted alike, escapes skipped): a construct can only start at one of these, and ends
/// at that closer if it is one.
fn matched_openers(text: &str, range: Range<usize>) -> HashMap<usize, usize> {
    let b = text.as_bytes();
    let mut stack = Vec::new();
    let mut matched = HashMap::new();
    let mut i = range.start;
    while i < range.end {
        match b[i] {
            b'\\' => i += 1,
            b'(' | b'[' => stack.push(i),
            b')' | b']' => {
                if let Some(o) = stack.pop() {
                    matched.insert(o, i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    matched
}

/// Whether text that failed to be a construct was meant as prompt editing or alternation: a
/// `[` with a `:` or `|` after it.
fn looks_scheduled(t: &str) -> bool {
    t.find('[').is_some_and(|i| t[i..].contains([':', '|']))
}

fn push_lit(pieces: &mut Vec<Piece>, r: Range<usize>) {
    if let Some(Piece::Lit(last)) = pieces.last_mut() {
        if last.end == r.start {
            last.end = r.end;
            return;
        }
    }
    pieces.push(Piece::Lit(r));
}

struct Parser<'a> {
    s: &'a str,
    end: usize,
}

const BRACKETS: &[u8] = b"[]():";

impl Parser<'_> {
    /// The well-formed construct opened at `at`: its pieces and the position after it.
    fn construct(&self, at: usize, depth: usize) -> Result<(Vec<Piece>, usize), Fail> {
        let b = self.s.as_bytes();
        let open = b[at];
        let close = if open == b'(' { b')' } else { b']' };
        let fail = |reason: String, until: usize| Fail { reason, until, too_deep: None, never_closed: false };
        if depth > MAX_DEPTH {
            return Err(Fail { reason: "too deep".into(), until: at + 1, too_deep: Some(at), never_closed: false });
        }
        let mut segs: Vec<Vec<Piece>> = vec![Vec::new()];
        let mut seps: Vec<(u8, usize)> = Vec::new();
        let mut pos = at + 1;
        loop {
            if pos >= self.end {
                let mut f = fail(format!("`{}` is never closed", open as char), self.end);
                f.never_closed = true;
                return Err(f);
            }
            let c = b[pos];
            match c {
                b'\\' => match self.s[pos + 1..self.end].chars().next() {
                    Some(n) if n != '\n' => {
                        push_lit(segs.last_mut().expect("a segment"), pos..pos + 1 + n.len_utf8());
                        pos += 1 + n.len_utf8();
                    }
                    _ => return Err(fail("a `\\` with nothing to escape".into(), pos + 1)),
                },
                b'(' | b'[' => {
                    let (mut inner, end) =
                        self.construct(pos, depth + 1).map_err(|f| Fail { reason: format!("inside it: {}", f.reason), ..f })?;
                    segs.last_mut().expect("a segment").append(&mut inner);
                    pos = end;
                }
                b')' | b']' if c == close => {
                    pos += 1;
                    break;
                }
                b')' | b']' => return Err(fail(format!("`{}` where `{}` closes it", c as char, close as char), pos + 1)),
                b':' => {
                    seps.push((b':', pos));
                    segs.push(Vec::new());
                    pos += 1;
                }
                b'|' if open == b'[' => {
                    seps.push((b'|', pos));
                    segs.push(Vec::new());
                    pos += 1;
                }
                b'|' => return Err(fail("a `|` in round brackets".into(), pos + 1)),
                _ => {
                    let end = self.s[pos..self.end].find(['\\', '(', '[', ')', ']', ':', '|']).map_or(self.end, |k| pos + k);
                    push_lit(segs.last_mut().expect("a segment"), pos..end);
                    pos = end;
                }
            }
        }
        let end = pos;
        let colons = seps.iter().filter(|(c, _)| *c == b':').count();
        let pipes = seps.len() - colons;
        let wrap = |segs: Vec<Vec<Piece>>, seps: &[(u8, usize)]| {
            // Emphasis keeps its brackets and `:` in the step's text.
            let mut out = vec![Piece::Lit(at..at + 1)];
            for (i, seg) in segs.into_iter().enumerate() {
                if i > 0 {
                    let p = seps[i - 1].1;
                    push_lit(&mut out, p..p + 1);
                }
                for piece in seg {
                    match piece {
                        Piece::Lit(r) => push_lit(&mut out, r),
                        other => out.push(other),
                    }
                }
            }
            push_lit(&mut out, end - 1..end);
            out
        };
        if open == b'(' {
            return match colons {
                0 | 1 => Ok((wrap(segs, &seps), end)),
                n => Err(fail(format!("{n} `:` in round brackets (at most one: `(word:1.2)`)"), end)),
            };
        }
        match (colons, pipes) {
            (0, 0) => Ok((wrap(segs, &seps), end)),
            (0, _) => Ok((vec![Piece::Alt { options: segs, span: at..end }], end)),
            (1 | 2, 0) => {
                let last = seps.last().expect("a colon").1;
                let raw = &self.s[last + 1..end - 1];
                let t = python::trim_end(python::trim_start(raw));
                let lead = raw.len() - python::trim_start(raw).len();
                let Some(value) = lark_number(t) else {
                    let what = if t.is_empty() { "nothing".to_string() } else { format!("`{t}`") };
                    return Err(fail(
                        format!("{what} after the last `:` is not a step or fraction A1111's grammar reads (`12`, `0.5`)"),
                        end,
                    ));
                };
                let span = last + 1 + lead..last + 1 + lead + t.len();
                let when = When { value, fraction: t.contains('.'), span, edit: at..end };
                segs.pop();
                let after = segs.pop().expect("a segment before the number");
                let before = segs.pop();
                Ok((vec![Piece::Edit { before, after, when }], end))
            }
            (0.., 0) => Err(fail(format!("{colons} `:` in one pair of square brackets (prompt editing has two)"), end)),
            _ => Err(fail("`|` and `:` in one pair of square brackets".into(), end)),
        }
    }

    /// Whether A1111's reading of the top-level construct `at..end` depends on Python's hash
    /// seed: an edit's `]` in a run of brackets that ends in a stray bracket or `:` (lark may
    /// take the whole run as one text token). Observed with lark 1.1.2 on `[a:b:5]:y`,
    /// `[a:b:5]]`, `[a:b:5](`, `[[a:b:5]]:`; not on `:[a:b:5]` or `[a:b:5] :y`.
    fn ambiguous(&self, pieces: &[Piece], at: usize, end: usize, matched: &HashMap<usize, usize>) -> bool {
        let b = self.s.as_bytes();
        let Some(&next) = b.get(end).filter(|_| end < self.end) else {
            return false;
        };
        if !BRACKETS.contains(&next) {
            return false;
        }
        let stray = matches!(next, b')' | b']' | b':') || !matched.contains_key(&end) || self.construct(end, 1).is_err();
        if !stray {
            return false;
        }
        let mut run = end;
        while run > at && BRACKETS.contains(&b[run - 1]) {
            run -= 1;
        }
        fn closes_in(pieces: &[Piece], run: Range<usize>) -> bool {
            pieces.iter().any(|p| match p {
                Piece::Lit(_) => false,
                Piece::Edit { before, after, when } => {
                    run.contains(&(when.edit.end - 1))
                        || closes_in(after, run.clone())
                        || before.as_deref().is_some_and(|b| closes_in(b, run.clone()))
                }
                Piece::Alt { options, .. } => options.iter().any(|o| closes_in(o, run.clone())),
            })
        }
        closes_in(pieces, run..end)
    }
}

/// lark's `SIGNED_NUMBER`: `[+-]? (INT | INT "." INT? | "." INT) ([eE] [+-]? INT)?`, ASCII digits.
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
    if i < b.len() && b[i] == b'.' {
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

/// One piece of text at one attention weight, after A1111 merges runs of equal weight.
#[derive(Clone, Debug, PartialEq)]
pub struct Fragment {
    pub text: Src,
    pub weight: f64,
}

impl Fragment {
    /// A1111's chunk break: the word `BREAK` at weight exactly −1 (inside emphasis it is the
    /// word "break" at that emphasis).
    pub fn is_break(&self) -> bool {
        self.text.text == "BREAK" && self.weight == -1.0
    }
}

/// What the attention pass found besides the fragments: where emphasis applies, and errors.
#[derive(Debug, Default)]
pub struct Attention {
    pub fragments: Vec<Fragment>,
    /// Brackets that scale some text by a factor other than 1: the bracket's range in the
    /// step's [`Src`], and whether it is never closed (it then reaches to the part's end).
    pub emphasis: Vec<(Range<usize>, bool)>,
    /// `(x:1.2.3)`: a weight Python's `float` refuses (A1111 raises ValueError).
    pub bad_weights: Vec<Range<usize>>,
}

/// A1111's `parse_prompt_attention` on one step's text.
pub fn attention(step: &Src) -> Attention {
    let s = &step.text;
    let b = s.as_bytes();
    let mut res: Vec<(Src, f64)> = Vec::new();
    let mut round: Vec<(usize, usize)> = Vec::new(); // (index in res, position of `(`)
    let mut square: Vec<(usize, usize)> = Vec::new();
    let mut out = Attention::default();
    let text = |r: Range<usize>| {
        let mut t = Src::default();
        t.push(step, r);
        t
    };
    let multiply = |res: &mut Vec<(Src, f64)>,
                    from: usize,
                    m: f64,
                    bracket: Range<usize>,
                    unclosed: bool,
                    emphasis: &mut Vec<(Range<usize>, bool)>| {
        for r in res[from..].iter_mut() {
            r.1 *= m;
        }
        if m != 1.0 && res[from..].iter().any(|r| !r.0.text.is_empty()) {
            emphasis.push((bracket, unclosed));
        }
    };
    let mut pos = 0;
    while pos < s.len() {
        let c = b[pos];
        match c {
            b'\\' => {
                // `\(` `\)` `\[` `\]` `\\` are the character; a lone `\` is nothing.
                match b.get(pos + 1) {
                    Some(b'(' | b')' | b'[' | b']' | b'\\') => {
                        res.push((text(pos + 1..pos + 2), 1.0));
                        pos += 2;
                    }
                    _ => {
                        res.push((text(pos + 1..pos + 1), 1.0));
                        pos += 1;
                    }
                }
            }
            b'(' => {
                round.push((res.len(), pos));
                pos += 1;
            }
            b'[' => {
                square.push((res.len(), pos));
                pos += 1;
            }
            b':' => {
                if let Some((weight, end)) = weight_token(s, pos) {
                    if let Some((from, open)) = round.pop() {
                        match python::float(&s[weight.clone()]) {
                            Some(w) => multiply(&mut res, from, w, open..end, false, &mut out.emphasis),
                            None => out.bad_weights.push(weight),
                        }
                    } else {
                        res.push((text(pos..end), 1.0));
                    }
                    pos = end;
                } else {
                    res.push((text(pos..pos + 1), 1.0));
                    pos += 1;
                }
            }
            b')' => {
                match round.pop() {
                    Some((from, open)) => multiply(&mut res, from, 1.1, open..pos + 1, false, &mut out.emphasis),
                    None => res.push((text(pos..pos + 1), 1.0)),
                }
                pos += 1;
            }
            b']' => {
                match square.pop() {
                    Some((from, open)) => multiply(&mut res, from, 1.0 / 1.1, open..pos + 1, false, &mut out.emphasis),
                    None => res.push((text(pos..pos + 1), 1.0)),
                }
                pos += 1;
            }
            _ => {
                let end = s[pos..].find(['\\', '(', '[', ')', ']', ':']).map_or(s.len(), |k| pos + k);
                split_break(step, pos..end, &mut res);
                pos = end;
            }
        }
    }
    for (from, open) in std::mem::take(&mut round) {
        multiply(&mut res, from, 1.1, open..s.len(), true, &mut out.emphasis);
    }
    for (from, open) in std::mem::take(&mut square) {
        multiply(&mut res, from, 1.0 / 1.1, open..s.len(), true, &mut out.emphasis);
    }
    if res.is_empty() {
        res.push((Src::default(), 1.0));
    }
    for (t, w) in res {
        match out.fragments.last_mut() {
            Some(last) if last.weight == w => {
                last.text.text.push_str(&t.text);
                last.text.origin.extend(t.origin);
            }
            _ => out.fragments.push(Fragment { text: t, weight: w }),
        }
    }
    out
}

/// `:\s*([+-]?[.\d]+)\s*\)` at `at` (a `:`): the weight's range and the end of the match.
fn weight_token(s: &str, at: usize) -> Option<(Range<usize>, usize)> {
    let mut i = at + 1;
    let skip_space = |i: &mut usize| {
        while let Some(c) = s[*i..].chars().next().filter(|&c| python::is_space(c)) {
            *i += c.len_utf8();
        }
    };
    skip_space(&mut i);
    let start = i;
    if matches!(s.as_bytes().get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let body = i;
    while let Some(c) = s[i..].chars().next().filter(|&c| c == '.' || python::digit(c).is_some()) {
        i += c.len_utf8();
    }
    if i == body {
        return None;
    }
    let weight = start..i;
    skip_space(&mut i);
    (s.as_bytes().get(i) == Some(&b')')).then_some((weight, i + 1))
}

/// A1111's split of plain text at `\s*\bBREAK\b\s*`: a `BREAK` marker at weight −1 between
/// the pieces.
fn split_break(step: &Src, r: Range<usize>, res: &mut Vec<(Src, f64)>) {
    let s = &step.text[r.clone()];
    let mut start = 0;
    let mut search = 0;
    while let Some(k) = s[search..].find("BREAK") {
        let at = search + k;
        let before_ok = !s[..at].chars().next_back().is_some_and(python::is_word);
        let after_ok = !s[at + 5..].chars().next().is_some_and(python::is_word);
        if !(before_ok && after_ok) {
            search = at + 5;
            continue;
        }
        let lead = python::trim_end(&s[start..at]).len();
        let mut piece = Src::default();
        piece.push(step, r.start + start..r.start + start + lead);
        res.push((piece, 1.0));
        let mut marker = Src::default();
        marker.push(step, r.start + at..r.start + at + 5);
        res.push((marker, -1.0));
        let rest = &s[at + 5..];
        start = at + 5 + (rest.len() - python::trim_start(rest).len());
        search = start;
    }
    let mut piece = Src::default();
    piece.push(step, r.start + start..r.end);
    res.push((piece, 1.0));
}

/// The words CLIP reads from one step's fragments, without the emphasis: fragments that
/// touch are joined with a space (A1111 tokenises each fragment on its own, so `a(b)c` is the
/// words a, b, c), a chunk break is a space, white space is collapsed (as CLIP's tokenizer does).
pub fn words(fragments: &[Fragment]) -> String {
    let mut out = String::new();
    for f in fragments {
        if f.is_break() {
            out.push(' ');
            continue;
        }
        let t = &f.text.text;
        let touches =
            out.chars().next_back().is_some_and(|c| !python::is_space(c)) && t.chars().next().is_some_and(|c| !python::is_space(c));
        if touches {
            out.push(' ');
        }
        out.push_str(t);
    }
    normalize_space(&out)
}

/// Python white space collapsed to single spaces, trimmed (CLIP's `whitespace_clean`).
pub fn normalize_space(s: &str) -> String {
    s.split(python::is_space).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The `<name:args>` extra-network tags of `text` (A1111's `<(\w+):([^>]+)>`), in order.
pub fn extra_networks(text: &str) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(off) = text[i..].find('<') {
        let start = i + off;
        let name_end = text[start + 1..].find(|c: char| !python::is_word(c)).map_or(text.len(), |k| start + 1 + k);
        let ok_name = name_end > start + 1 && text[name_end..].starts_with(':');
        let close = if ok_name { text[name_end + 1..].find('>').map(|k| name_end + 1 + k) } else { None };
        match close {
            Some(end) if end > name_end + 1 => {
                found.push(start..end + 1);
                i = end + 1;
            }
            _ => i = start + 1,
        }
    }
    found
}

/// Diagnostics of the attention pass of one step, into `out` (spans into the input), each
/// once however many steps show it: emphasis dropped (W0101), `BREAK` dropped (W0102), a
/// weight Python cannot read (E0202).
pub fn attention_diagnostics(step: &Src, a: &Attention, part_end: usize, input_len: usize, seen: &mut Seen, out: &mut Vec<Diagnostic>) {
    let mut once = |code: &'static str, span: Span| seen.insert((code, span.start, span.end));
    for r in &a.bad_weights {
        let span = step.span(r.clone(), input_len);
        if once(BAD_WEIGHT, span) {
            let shown = &step.text[r.clone()];
            out.push(
                Diagnostic::error(BAD_WEIGHT, format!("bad emphasis weight `{shown}`"), span)
                    .with_label("not a number: A1111 stops with a ValueError on this prompt")
                    .with_help("write the weight as a decimal number: `(word:1.3)`"),
            );
        }
    }
    // The outermost brackets only: `((word))` is one warning.
    // A bracket never closed scales everything to the end of the part, whatever the step.
    let mut spans: Vec<Span> = a
        .emphasis
        .iter()
        .map(|(r, unclosed)| {
            let span = step.span(r.clone(), input_len);
            if *unclosed {
                Span::new(span.start as usize, part_end.max(span.end as usize))
            } else {
                span
            }
        })
        .collect();
    spans.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut outer_end = 0;
    let mut first = true;
    for span in spans {
        if !first && span.end <= outer_end {
            continue;
        }
        first = false;
        outer_end = span.end;
        if !once(EMPHASIS_DROPPED.0, span) {
            continue;
        }
        let inside =
            |f: &&Fragment| !f.text.text.is_empty() && !f.is_break() && f.text.origin.iter().any(|&o| (span.start..span.end).contains(&o));
        let ws: Vec<f64> = a.fragments.iter().filter(inside).map(|f| f.weight).collect();
        let round = |w: f64| (w * 1e4).round() / 1e4;
        let shown = match (ws.iter().cloned().reduce(f64::min), ws.iter().cloned().reduce(f64::max)) {
            (Some(lo), Some(hi)) if round(lo) == round(hi) => format!("by {}", round(lo)),
            (Some(lo), Some(hi)) => format!("by {} to {}", round(lo), round(hi)),
            _ => "by a factor".to_string(),
        };
        out.push(
            Diagnostic::warning(EMPHASIS_DROPPED.0, EMPHASIS_DROPPED.1, "emphasis dropped: comp cannot weight words inside a prompt", span)
                .with_label(format!("A1111 scales these words' embeddings {shown}; the import keeps the words at weight 1"))
                .with_help(
                    "to weight a concept, give it its own AND part (`... AND word :1.3`): that weights its score, a different operation",
                ),
        );
    }
    for f in a.fragments.iter().filter(|f| f.is_break()) {
        let span = f.text.span(0..f.text.text.len(), input_len);
        if once(BREAK_DROPPED.0, span) {
            out.push(
                Diagnostic::warning(BREAK_DROPPED.0, BREAK_DROPPED.1, "`BREAK` dropped: comp encodes a prompt as one piece", span)
                    .with_label("A1111 starts a new 75-token chunk here and encodes the chunks separately")
                    .with_note("the text on both sides is kept, joined by a space"),
            );
        }
    }
}

/// Diagnostics already reported: (code, span start, span end).
pub type Seen = std::collections::HashSet<(&'static str, u32, u32)>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes of `p`'s scheduling diagnostics and the text under each.
    fn diags(p: &str) -> Vec<(&'static str, String)> {
        let mut ds = Vec::new();
        let _ = parse(&Src::new(p), 0..p.len(), p.len(), false, &mut ds);
        ds.iter().map(|d| (d.code, p[d.span().range()].to_string())).collect()
    }

    fn d(v: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        v.iter().map(|(c, t)| (*c, t.to_string())).collect()
    }

    /// The fragments of A1111's attention pass: (text, weight) pairs.
    fn frags(p: &str) -> Vec<(String, f64)> {
        attention(&Src::new(p)).fragments.into_iter().map(|f| (f.text.text, f.weight)).collect()
    }

    #[test]
    fn a1111s_attention_doctests() {
        // parse_prompt_attention's own examples (modules/prompt_parser.py).
        assert_eq!(frags("normal text"), vec![("normal text".into(), 1.0)]);
        assert_eq!(frags("an (important) word"), vec![("an ".into(), 1.0), ("important".into(), 1.1), (" word".into(), 1.0)]);
        assert_eq!(frags("(unbalanced"), vec![("unbalanced".into(), 1.1)]);
        assert_eq!(frags("\\(literal\\]"), vec![("(literal]".into(), 1.0)]);
        assert_eq!(frags("(unnecessary)(parens)"), vec![("unnecessaryparens".into(), 1.1)]);
        // (((house:1.3)): 1.3·1.1·1.1 = 1.5730000000000004 in floating point, as A1111 prints.
        let house = frags("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).");
        let want: Vec<(String, f64)> = vec![
            ("a ".into(), 1.0),
            ("house".into(), 1.3 * 1.1 * 1.1),
            (" ".into(), 1.1),
            ("on".into(), 1.0),
            (" a ".into(), 1.1),
            ("hill".into(), 0.55),
            (", sun, ".into(), 1.1),
            ("sky".into(), 1.1 * 1.1 * 1.1 * 1.1),
            (".".into(), 1.1),
        ];
        assert_eq!(house.len(), want.len());
        for ((t, w), (wt, ww)) in house.iter().zip(&want) {
            assert_eq!(t, wt);
            assert!((w - ww).abs() < 1e-12, "{t}: {w} vs {ww}");
        }
        assert_eq!(
            words(&attention(&Src::new("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).")).fragments),
            "a house on a hill , sun, sky ."
        );
    }

    #[test]
    fn break_is_a_chunk_break_only_at_weight_minus_one() {
        let f = attention(&Src::new("a BREAK b")).fragments;
        assert_eq!(f.iter().filter(|f| f.is_break()).count(), 1);
        // Inside brackets the marker is scaled to −1.1: the word "BREAK" at that emphasis.
        let f = attention(&Src::new("(a BREAK b)")).fragments;
        assert!(f.iter().all(|f| !f.is_break()));
        assert_eq!(words(&f), "a BREAK b");
        // `(x:1)` scales by 1: still a break.
        assert_eq!(attention(&Src::new("(a BREAK b:1)")).fragments.iter().filter(|f| f.is_break()).count(), 1);
        // Glued to a word: one word.
        assert_eq!(words(&attention(&Src::new("x BREAKa")).fragments), "x BREAKa");
    }

    #[test]
    fn weights_that_python_cannot_read() {
        assert_eq!(attention(&Src::new("(a:1.2.3)")).bad_weights, vec![3..8]);
        // `(a:+)`: no digit, so `:+` is text inside a 1.1 emphasis.
        assert_eq!(frags("(a:+)"), vec![("a:+".into(), 1.1)]);
        // A Unicode digit is a digit to Python's `\d` and `float`.
        assert_eq!(frags("(猫:１.５)"), vec![("猫".into(), 1.5)]);
        // No open `(`: the weight token is text.
        assert_eq!(frags("a:1.2) b"), vec![("a:1.2) b".into(), 1.0)]);
    }

    #[test]
    fn stray_brackets_are_text_and_edits_around_them_apply() {
        // A1111's doctest: `((a][:b:c [d:3]` schedules [d:3].
        let p = "((a][:b:c [d:3]";
        let mut ds = Vec::new();
        let t = parse(&Src::new(p), 0..p.len(), p.len(), false, &mut ds).expect("parses");
        assert!(matches!(t.pieces.last(), Some(Piece::Edit { .. })), "{:?}", t.pieces);
        assert_eq!(diags(p), d(&[("W0109", "[:b:c [d:3]")]));
        assert_eq!(diags("a (b [c:d:0.5]"), d(&[]), "the unclosed `(` is emphasis to the end; the edit applies");
        assert_eq!(diags("[a:b] [c:d:3]"), d(&[("W0109", "[a:b]")]));
        assert_eq!(diags("[(a:b:c):d:0.5]"), d(&[("W0109", "[(a:b:c):d:0.5]")]));
        assert_eq!(diags("a | [b:c:3]"), d(&[("W0109", "|")]));
        assert_eq!(diags("a | b"), d(&[]), "nothing scheduled: the literal text is the same");
        assert_eq!(diags("[a:b:5]:y"), d(&[("W0110", "[a:b:5]")]));
        assert_eq!(diags("[a:b:5] :y"), d(&[]));
        assert_eq!(diags(":[a:b:5]"), d(&[]));
        // Balanced nesting deeper than 200: refused (A1111's parser fails near 300 levels).
        assert_eq!(diags(&format!("{}[a:b:3]{}", "(".repeat(300), ")".repeat(300))), d(&[("E0201", "(")]));
        // 100,000 brackets never closed: text to A1111's grammar (emphasis to the end), no
        // error, no stack overflow, and no quadratic work.
        assert_eq!(diags(&"(".repeat(100_000)), d(&[]));
        assert_eq!(diags(&"a [b: ".repeat(20_000)), d(&[("W0109", &"a [b: ".repeat(20_000)[2..])]), "one warning");
    }

    #[test]
    fn lark_numbers() {
        for (t, v) in [("12", 12.0), ("0.5", 0.5), (".5", 0.5), ("1.", 1.0), ("-3", -3.0), ("+2.5e1", 25.0), ("1e2", 100.0)] {
            assert_eq!(lark_number(t), Some(v), "{t}");
        }
        for t in ["", ".", "1.2.3", "e3", "1e", "--1", "0x10", "1 2", "１"] {
            assert_eq!(lark_number(t), None, "{t}");
        }
    }

    #[test]
    fn extra_network_tags() {
        assert_eq!(extra_networks("<a:b> <:x> <c:> <d:e>"), vec![0..5, 16..21]);
        assert_eq!(extra_networks("x <lora:AND:1> y"), vec![2..14]);
    }
}

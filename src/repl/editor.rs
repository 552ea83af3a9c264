//! The interactive line editor's helper: completion, hints, highlighting, and multi-line input
//! while parentheses are open.

use super::session::{is_setting, COMMANDS};
use comp_compiler::vocabulary::{KEYWORDS, SETTINGS, VALUE_WORDS};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use std::borrow::Cow;

/// Whether `word` is a keyword or a value word (`null`, `none`).
fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word) || VALUE_WORDS.iter().any(|(w, _)| *w == word)
}

/// The words completion offers besides the fixed ones: the model's concepts, the session's
/// names, the models. Updated by the loop after every input.
#[derive(Default, Clone)]
pub struct Vocabulary {
    pub concepts: Vec<String>,
    pub names: Vec<String>,
    pub models: Vec<String>,
    pub settings: Vec<String>,
}

pub struct ReplHelper {
    pub vocabulary: Vocabulary,
    files: FilenameCompleter,
}

impl ReplHelper {
    pub fn new(vocabulary: Vocabulary) -> ReplHelper {
        ReplHelper { vocabulary, files: FilenameCompleter::new() }
    }
}

/// Completion candidates for the word before `pos`: `(start of the word, candidates)`.
pub fn candidates(line: &str, pos: usize, v: &Vocabulary) -> (usize, Vec<String>) {
    let before = &line[..pos];
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '-' || *c == ':'))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    let word = &before[start..];
    let trimmed = before.trim_start();
    let mut pool: Vec<String> = Vec::new();
    if word.starts_with(':') && before[..start].trim().is_empty() {
        pool.extend(COMMANDS.iter().map(|(c, _)| c.to_string()));
    } else if trimmed.starts_with(":model ") {
        pool.extend(v.models.iter().cloned());
    } else {
        let at_line_start = before[..start].trim().is_empty();
        if at_line_start {
            pool.extend(SETTINGS.iter().map(|s| s.name.to_string()));
            pool.extend(v.settings.iter().cloned());
        }
        if trimmed.starts_with("model ") {
            pool.extend(v.models.iter().cloned());
        }
        pool.extend(KEYWORDS.iter().chain(VALUE_WORDS.iter().map(|(w, _)| w)).map(|s| s.to_string()));
        pool.extend(v.concepts.iter().cloned());
        pool.extend(v.names.iter().cloned());
    }
    let mut out: Vec<String> = pool.into_iter().filter(|c| c.starts_with(word) && c != word).collect();
    out.sort();
    out.dedup();
    (start, out)
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let t = line.trim_start();
        if t.starts_with(":load ") || t.starts_with(":save ") {
            return self.files.complete(line, pos, ctx);
        }
        let (start, words) = candidates(line, pos, &self.vocabulary);
        Ok((start, words.into_iter().map(|w| Pair { display: w.clone(), replacement: w }).collect()))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;

    /// When exactly one word completes what is typed, show its rest in grey.
    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos < line.len() {
            return None;
        }
        let (start, words) = candidates(line, pos, &self.vocabulary);
        if pos == start {
            return None;
        }
        match words.as_slice() {
            [one] => Some(one[pos - start..].to_string()),
            _ => None,
        }
    }
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Owned(highlight(line))
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[90m{hint}\x1b[0m"))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        true
    }
}

/// ANSI colours: keywords blue, numbers yellow, strings green, comments grey, commands bold.
pub fn highlight(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        let take = |pred: &dyn Fn(char) -> bool, i: usize| {
            let mut j = i;
            while j < chars.len() && pred(chars[j].1) {
                j += 1;
            }
            j
        };
        if c == '#' {
            out += &format!("\x1b[90m{}\x1b[0m", &line[at..]);
            break;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].1 != '"' {
                j += if chars[j].1 == '\\' { 2 } else { 1 };
            }
            let end = chars.get(j + 1).map(|p| p.0).unwrap_or(line.len());
            out += &format!("\x1b[32m{}\x1b[0m", &line[at..end]);
            i = j + 1;
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|p| p.1.is_ascii_digit())) {
            let j = take(&|c: char| c.is_ascii_alphanumeric() || c == '.' || c == '+' || c == '-', i);
            let end = chars.get(j).map(|p| p.0).unwrap_or(line.len());
            out += &format!("\x1b[33m{}\x1b[0m", &line[at..end]);
            i = j;
        } else if c.is_alphabetic() || c == '_' || c == ':' {
            let j = take(&|c: char| c.is_alphanumeric() || c == '_' || c == '-' || c == ':', i);
            let end = chars.get(j).map(|p| p.0).unwrap_or(line.len());
            let word = &line[at..end];
            if is_keyword(word) || is_setting(word) {
                out += &format!("\x1b[34m{word}\x1b[0m");
            } else if word.starts_with(':') {
                out += &format!("\x1b[1m{word}\x1b[0m");
            } else {
                out += word;
            }
            i = j;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        // Every line is complete for the editor: the loop in `repl/mod.rs` joins lines while
        // parentheses are open, with its own continuation prompt (the editor would show none).
        let _ = ctx;
        Ok(ValidationResult::Valid(None))
    }
}

impl Helper for ReplHelper {}

/// How many parentheses are open at the end of `text` (strings and comments ignored).
pub fn open_parens(text: &str) -> i64 {
    let (mut depth, mut in_string, mut escaped, mut in_comment) = (0i64, false, false, false);
    for c in text.chars() {
        if in_comment {
            in_comment = c != '\n';
        } else if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else {
            match c {
                '#' => in_comment = true,
                '"' => in_string = true,
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary {
            concepts: vec!["ring".into(), "bar".into(), "box_large".into(), "box_small".into()],
            names: vec!["stripe".into()],
            models: vec!["toy2d".into()],
            settings: vec![],
        }
    }

    #[test]
    fn completes_concepts_keywords_names_and_commands() {
        assert_eq!(candidates("ri", 2, &vocab()), (0, vec!["ring".to_string()]));
        assert_eq!(candidates("ring AND box", 12, &vocab()), (9, vec!["box_large".to_string(), "box_small".to_string()]));
        assert_eq!(candidates("ring A", 6, &vocab()), (5, vec!["AND".to_string()]));
        assert_eq!(candidates("let s = str", 11, &vocab()), (8, vec!["stripe".to_string()]));
        assert_eq!(candidates(":pl", 3, &vocab()), (0, vec![":plan".to_string()]));
        assert_eq!(candidates(":model t", 8, &vocab()), (7, vec!["toy2d".to_string()]));
        // settings only at the start of a line
        assert!(candidates("sc", 2, &vocab()).1.contains(&"scale".to_string()));
        assert!(!candidates("ring AND sc", 11, &vocab()).1.contains(&"scale".to_string()));
    }

    #[test]
    fn open_parens_ignores_strings_and_comments() {
        assert_eq!(open_parens("(ring AND"), 1);
        assert_eq!(open_parens("(ring) # ("), 0);
        assert_eq!(open_parens("\"(\" AND ("), 1);
    }
}

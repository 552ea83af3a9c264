//! Go to definition, references and rename, for `let`s: the name a `let` defines and every
//! use of it in an expression.
//!
//! ```text
//! let stripe = bar                 definition
//! sample s = ring AND stripe       a reference; renaming `stripe` edits both
//! ```

use super::analysis::Analysis;
use super::syntax::{find_let, locate, uses, Target};
use comp_grammar::ast::{Let, Program};
use comp_grammar::Span;

/// The `let` whose name is under the cursor (at its definition or at a use).
pub fn let_at(program: &Program, offset: usize) -> Option<&Let> {
    match locate(program, offset)?.0 {
        Target::LetName(l) => Some(l),
        Target::Name(id, _) => find_let(program, &id.name),
        _ => None,
    }
}

/// The span of the definition of the `let` under the cursor.
pub fn definition(program: &Program, offset: usize) -> Option<Span> {
    Some(let_at(program, offset)?.name.span)
}

/// The uses of the `let` under the cursor, with its definition first when `declaration`.
pub fn references(program: &Program, offset: usize, declaration: bool) -> Option<Vec<Span>> {
    let l = let_at(program, offset)?;
    let mut out = if declaration { vec![l.name.span] } else { vec![] };
    out.extend(uses(program, &l.name.name));
    Some(out)
}

/// The spans to replace to rename the `let` under the cursor to `new_name`, or why not.
pub fn rename(program: &Program, offset: usize, new_name: &str, concepts: &[String]) -> Result<Vec<Span>, String> {
    let Some(l) = let_at(program, offset) else { return Err("only a `let` can be renamed".into()) };
    if !is_name(new_name) {
        return Err(format!("`{new_name}` is not a name: a letter or `_`, then letters, digits, `_` or `-`, and not a keyword"));
    }
    if new_name != l.name.name && find_let(program, new_name).is_some() {
        return Err(format!("a `let` named `{new_name}` already exists"));
    }
    if concepts.iter().any(|c| c == new_name) {
        return Err(format!("`{new_name}` is a concept of the model: the `let` would hide it"));
    }
    Ok(references(program, offset, true).unwrap_or_default())
}

/// [`references`] in the analysed text; while the text has syntax errors, of the statements
/// that parse, with the uses in the lines that do not found word by word.
pub fn references_in(analysis: &Analysis, offset: usize, declaration: bool) -> Option<Vec<Span>> {
    let program = analysis.tree()?;
    let mut spans = references(program, offset, declaration)?;
    if let Some(partial) = analysis.partial() {
        let name = &let_at(program, offset)?.name.name;
        spans.extend(partial.blanked.iter().flat_map(|b| words(&analysis.text, *b, name)));
        spans.sort_by_key(|s| s.start);
        spans.dedup();
    }
    Some(spans)
}

/// [`rename`] in the analysed text, with the uses in lines that do not parse (as
/// [`references_in`] finds them).
pub fn rename_in(analysis: &Analysis, offset: usize, new_name: &str, concepts: &[String]) -> Result<Vec<Span>, String> {
    let Some(program) = analysis.tree() else { return Err("nothing in the file parses".into()) };
    rename(program, offset, new_name, concepts)?;
    Ok(references_in(analysis, offset, true).unwrap_or_default())
}

/// The places in `span` of `text` where the word `name` is written outside strings and
/// comments (a name is letters, digits, `_` and `-`).
fn words(text: &str, span: Span, name: &str) -> Vec<Span> {
    let Some(part) = text.get(span.range()) else { return vec![] };
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut out = Vec::new();
    let mut chars = part.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '#' => break,
            '"' => {
                let mut escaped = false;
                for (_, c) in chars.by_ref() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => break,
                        _ => {}
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if !is_word(d) {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                if &part[i..end] == name {
                    out.push(Span::new(span.start as usize + i, span.start as usize + end));
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether `s` is a name the grammar accepts (`name` in comp.pest), checked by parsing it as
/// one: `let NAME = null`.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && !s.contains(|c: char| c.is_whitespace() || c == '#')
        && matches!(comp_grammar::parse(&format!("let {s} = null\n")), Ok(p) if find_let(&p, s).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_a_let_and_its_uses() {
        let text = "model toy2d\nlet s = bar\nsample p = ring AND s\nsample q = s\n";
        let program = comp_grammar::parse(text).unwrap();
        let at_use = text.rfind("= s").unwrap() + 2;
        let spans = rename(&program, at_use, "stripe", &["ring".into()]).unwrap();
        let starts: Vec<usize> = spans.iter().map(|s| s.start as usize).collect();
        assert_eq!(starts, vec![16, 44, 57]); // the definition, then the uses in order
        assert!(rename(&program, at_use, "AND", &[]).unwrap_err().contains("not a name"));
        assert!(rename(&program, at_use, "two words", &[]).is_err());
        assert!(rename(&program, at_use, "ring", &["ring".into()]).unwrap_err().contains("concept"));
        assert!(rename(&program, text.find("ring").unwrap(), "x", &[]).is_err(), "a concept is not renamed");
    }

    #[test]
    fn uses_in_lines_that_do_not_parse_are_renamed_too() {
        let text = "model toy2d\nlet s = bar\nsample p = (s AND ring # s\nsample q = s\n";
        let analysis = Analysis::new(text, &[]);
        assert!(analysis.program().is_none());
        let spans = rename_in(&analysis, text.rfind("= s").unwrap() + 2, "stripe", &[]).unwrap();
        let starts: Vec<usize> = spans.iter().map(|s| s.start as usize).collect();
        assert_eq!(starts, vec![16, 36, text.rfind("= s").unwrap() + 2]);
        assert_eq!(words("x \"s\" s-1 s", Span::new(0, 11), "s"), vec![Span::new(10, 11)]);
    }
}

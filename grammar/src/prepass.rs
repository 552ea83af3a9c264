//! The lexical pre-pass: one walk over the source before pest sees it.
//!
//! It does what a PEG handles badly or dangerously:
//!
//! - **Comments.** Every `# ...` outside a string is collected (text from `#` to the end of the
//!   line, without the line break) and blanked out.
//! - **Line breaks inside parentheses.** They are white space there, so they become spaces; the
//!   grammar can then treat every remaining `\n` as a statement separator.
//! - **Nesting.** More than [`MAX_PARENS`] open parentheses is E0003 at the offending `(`; pest
//!   never sees (and never recurses into) such input.
//! - **Unbalanced parentheses.** A `)` with no `(` and a `(` never closed are reported here,
//!   where the answer is exact, rather than wherever pest happens to give up.
//! - **A byte-order mark** at the start is blanked out.
//!
//! Every replacement is byte for byte (a blanked comment keeps its length, each byte of a
//! multi-byte character becoming one space), so the copy has the same byte offsets as the
//! source and the spans pest reports are spans of the source.
//!
//! ```text
//! source:   sample s = (ring   # the ring
//!                       AND bar)
//! for pest: sample s = (ring             ␠           AND bar)
//! ```

use crate::ast::Comment;
use crate::{Diagnostic, Span};

/// The most parentheses that may be open at once.
pub const MAX_PARENS: usize = 64;

/// The pre-pass's output: the text pest parses, the comments, and the matched parentheses.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The source with comments and in-parenthesis line breaks replaced by spaces.
    pub text: String,
    /// The comments, in order.
    pub comments: Vec<Comment>,
    /// Each matched pair of parentheses as (offset of `(`, offset of `)`), ordered by `)`.
    pub parens: Vec<(usize, usize)>,
}

/// Runs the pre-pass. Errors: E0003 for nesting deeper than [`MAX_PARENS`] (that one alone, the
/// walk stops there), else E0001 for each `)` without a `(` and for the innermost `(` never
/// closed.
pub(crate) fn prepare(source: &str) -> Result<Prepared, Vec<Diagnostic>> {
    let bytes = source.as_bytes();
    let mut out = bytes.to_vec();
    let mut comments = Vec::new();
    let mut parens = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut errors = Vec::new();

    if source.starts_with('\u{feff}') {
        out[..3].fill(b' ');
    }

    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i),
            b'#' => {
                let mut end = bytes[i..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| i + n);
                if bytes[end - 1] == b'\r' {
                    end -= 1;
                }
                out[i..end].fill(b' ');
                comments.push(Comment { text: source[i..end].to_string(), span: Span::new(i, end) });
                i = end;
            }
            b'(' => {
                if open.len() == MAX_PARENS {
                    let error = Diagnostic::error("E0003", "nesting too deep", Span::new(i, i + 1))
                        .with_label(format!("this `(` is nested more than {MAX_PARENS} deep"))
                        .with_help("split the expression into `let`s");
                    return Err(vec![error]);
                }
                open.push(i);
                i += 1;
            }
            b')' => {
                match open.pop() {
                    Some(start) => parens.push((start, i)),
                    None => errors.push(
                        Diagnostic::error("E0001", "unexpected `)`", Span::new(i, i + 1))
                            .with_label("no `(` is open here")
                            .with_help("remove this `)`, or add the `(` it closes"),
                    ),
                }
                i += 1;
            }
            b'\n' => {
                if !open.is_empty() {
                    out[i] = b' ';
                }
                i += 1;
            }
            _ => i += 1,
        }
    }

    if let Some(&start) = open.last() {
        errors.push(
            Diagnostic::error("E0001", "unclosed `(`", Span::new(start, start + 1))
                .with_label("this `(` is never closed")
                .with_help("add the `)` that closes it"),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let text = String::from_utf8(out).expect("replacing whole characters by spaces keeps UTF-8");
    Ok(Prepared { text, comments, parens })
}

/// The offset just after the string starting at `start` (a `"`): after its closing `"`, or at
/// the line break or end of file that leaves it unterminated (pest reports that).
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return i + 1,
            b'\n' => return i,
            b'\\' if bytes.get(i + 1).is_some_and(|&b| b != b'\n') => i += 2,
            _ => i += 1,
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_comments_and_breaks_in_parens_byte_for_byte() {
        let source = "a = (b # c é\n  AND d) # e\n\"# not\" # f\r\n";
        let p = prepare(source).unwrap();
        assert_eq!(p.text.len(), source.len());
        assert_eq!(p.text, "a = (b          AND d)    \n\"# not\"    \r\n");
        let texts: Vec<_> = p.comments.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["# c é", "# e", "# f"]);
        assert_eq!(p.comments[0].span, Span::new(7, 13));
        assert_eq!(p.parens, [(4, 21)]);
    }

    #[test]
    fn unbalanced_parens() {
        let errors = prepare("a ) (b\n").unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!((errors[0].message.as_str(), errors[0].span()), ("unexpected `)`", Span::new(2, 3)));
        assert_eq!((errors[1].message.as_str(), errors[1].span()), ("unclosed `(`", Span::new(4, 5)));
    }

    #[test]
    fn parens_in_strings_and_comments_do_not_count() {
        assert!(prepare("a \"(\" # (\n").is_ok());
        assert!(prepare("a \"\\\"(\"\n").is_ok());
    }
}

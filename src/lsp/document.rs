//! Open documents: their text and version, edits as the editor sends them, and the mapping
//! between the compiler's byte offsets and LSP positions (a line, and a column counted in
//! UTF-16 code units, as the protocol requires unless a client negotiates otherwise).
//!
//! ```text
//! text:    "ç = 1\n"      `ç` is 2 bytes in UTF-8 and 1 UTF-16 unit
//! byte 3   (the space)  ⇄  line 0, character 1
//! ```

use super::analysis::Analysis;
use comp_compiler::ModelInfo;
use comp_grammar::Span;
use lsp_types::{Position, Range, TextDocumentContentChangeEvent};
use std::sync::Arc;

/// Byte offsets where lines start, to turn offsets into positions and back.
#[derive(Clone, Debug)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        LineIndex { starts: crate::render::line_starts(text) }
    }

    /// The position of byte `offset` (clamped to the text and to a character boundary).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let character = text[start..offset].encode_utf16().count();
        Position { line: line as u32, character: character as u32 }
    }

    /// The byte offset of `pos`. As the protocol says, a column past the end of its line means
    /// the end of the line, and a line past the end means the end of the text; a column inside
    /// a character (between the halves of a surrogate pair) means the start of that character.
    pub fn offset(&self, text: &str, pos: Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else { return text.len() };
        let mut end = self.starts.get(pos.line as usize + 1).map_or(text.len(), |&next| next - 1);
        if text[start..end].ends_with('\r') {
            end -= 1;
        }
        let mut units = 0u32;
        for (i, c) in text[start..end].char_indices() {
            let next = units + c.len_utf16() as u32;
            if next > pos.character {
                return start + i;
            }
            units = next;
        }
        end
    }

    pub fn range(&self, text: &str, span: Span) -> Range {
        Range { start: self.position(text, span.start as usize), end: self.position(text, span.end as usize) }
    }

    /// The byte range of `range` (start and end ordered).
    pub fn span(&self, text: &str, range: Range) -> Span {
        let (a, b) = (self.offset(text, range.start), self.offset(text, range.end));
        Span::new(a.min(b), a.max(b))
    }
}

/// One open document. Its analysis is computed when first needed after a change, so a burst of
/// keystrokes is checked once, not once per keystroke.
pub struct Document {
    pub version: i32,
    pub text: String,
    pub index: LineIndex,
    analysis: Option<Arc<Analysis>>,
}

impl Document {
    pub fn new(version: i32, text: String) -> Document {
        let index = LineIndex::new(&text);
        Document { version, text, index, analysis: None }
    }

    /// Applies the editor's changes in order (each a whole-text replacement or a range edit
    /// whose positions refer to the text after the previous change).
    pub fn apply(&mut self, version: i32, changes: Vec<TextDocumentContentChangeEvent>) {
        for change in changes {
            match change.range {
                None => self.text = change.text,
                Some(range) => {
                    let span = self.index.span(&self.text, range);
                    self.text.replace_range(span.range(), &change.text);
                }
            }
            self.index = LineIndex::new(&self.text);
        }
        self.version = version;
        self.analysis = None;
    }

    /// The compiler's view of the current text (computed at most once per version).
    pub fn analysis(&mut self, models: &[ModelInfo]) -> Arc<Analysis> {
        self.analysis.get_or_insert_with(|| Arc::new(Analysis::new(&self.text, models))).clone()
    }

    pub fn range(&self, span: Span) -> Range {
        self.index.range(&self.text, span)
    }

    pub fn offset(&self, pos: Position) -> usize {
        self.index.offset(&self.text, pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    #[test]
    fn positions_count_utf16_units() {
        // Line 1: `é` is 2 bytes and 1 unit; `😀` is 4 bytes and 2 units (a surrogate pair).
        let text = "ab\né😀x\n";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), pos(0, 0));
        assert_eq!(index.position(text, 3), pos(1, 0));
        assert_eq!(index.position(text, 5), pos(1, 1)); // after é
        assert_eq!(index.position(text, 9), pos(1, 3)); // after 😀
        assert_eq!(index.position(text, 10), pos(1, 4)); // end of line 1
        assert_eq!(index.position(text, 11), pos(2, 0)); // the empty last line
        for offset in [0, 3, 5, 9, 10, 11] {
            assert_eq!(index.offset(text, index.position(text, offset)), offset, "round trip of {offset}");
        }
        assert_eq!(index.offset(text, pos(1, 2)), 5, "inside the pair: the start of 😀");
        assert_eq!(index.offset(text, pos(1, 99)), 10, "past the line's end: the line's end");
        assert_eq!(index.offset(text, pos(9, 0)), text.len(), "past the last line: the end");
    }

    #[test]
    fn crlf_lines_end_before_the_carriage_return() {
        let text = "ab\r\ncd";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(text, pos(0, 5)), 2);
        assert_eq!(index.position(text, 4), pos(1, 0));
    }

    #[test]
    fn range_edits_apply_in_order() {
        let mut doc = Document::new(1, "model toy2d\nsample s = rïng\n".into());
        let edit = |l0, c0, l1, c1, t: &str| TextDocumentContentChangeEvent {
            range: Some(Range { start: pos(l0, c0), end: pos(l1, c1) }),
            range_length: None,
            text: t.into(),
        };
        // Replace `ï` (column 12, one unit) by `i`, then append ` AND bar` after `ring`.
        doc.apply(2, vec![edit(1, 12, 1, 13, "i"), edit(1, 15, 1, 15, " AND bar")]);
        assert_eq!(doc.text, "model toy2d\nsample s = ring AND bar\n");
        assert_eq!(doc.version, 2);
    }
}

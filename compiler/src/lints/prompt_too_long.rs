//! W0007 `prompt-too-long`.
//!
//! **What it does**: flags a prompt longer than its model's text encoder reads, pointing at the
//! part cut.
//!
//! **Why**: CLIP reads 77 tokens, start and end included; every Stable Diffusion pipeline
//! drops the rest without a word, so the end of a long prompt never reaches the model.
//!
//! **Example**: `model sd15`, `sample s = "a red cube on a blue table …"` (98 tokens) →
//! warning from the 76th token to the closing quote.
//!
//! The compiler knows which model each prompt belongs to (a qualified `sd."…"`, or the file's
//! only model that reads text); how a model counts tokens is the model's business, so the
//! caller hands the compiler a [`TextLimits`] (the CLI's counts with the checkpoint's own
//! tokenizer, or CLIP's shipped one). Without it, this lint says nothing.

use crate::check::model::FileModel;
use crate::ir::{Cond, Node};
use comp_grammar::{Diagnostic, Span};
use comp_plan::ModelInfo;

pub const CODE: &str = "W0007";
pub const NAME: &str = "prompt-too-long";

/// Where a model's text encoder cuts a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    /// The prompt's tokens, without the encoder's start and end tokens.
    pub tokens: usize,
    /// How many of them the encoder reads.
    pub room: usize,
    /// The byte of the prompt's text (decoded, without quotes) where the cut starts.
    pub at: usize,
}

/// What the compiler may ask of the models' text encoders.
pub trait TextLimits {
    /// For prompt `text` of model `model` (its registry name): where its encoder cuts it, or
    /// `None` when it fits (or the model reads no text).
    fn cut(&self, model: &str, text: &str) -> Option<Cut>;
}

/// Warns at the cut part of every prompt in `uses` that its model's encoder cuts. `source`
/// (the file's text) places the cut inside the literal; without it the whole literal is marked.
pub fn check(
    uses: &[&Node],
    primary: Option<&ModelInfo>,
    models: &[FileModel],
    limits: &dyn TextLimits,
    source: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) {
    for node in uses {
        node.walk(|n| {
            let Node::Cond { cond: Cond::Text { model, text }, span, .. } = n else { return };
            let info = match model {
                Some(alias) => models.iter().find(|m| &m.alias == alias).and_then(|m| m.info),
                None => primary,
            };
            let Some(cut) = info.and_then(|m| limits.cut(&m.name, text)) else { return };
            let from = source.map_or(span.start as usize, |s| source_offset(s, *span, cut.at));
            let to = (span.end as usize).saturating_sub(1).max(from);
            diags.push(
                Diagnostic::warning(
                    CODE,
                    NAME,
                    format!("this prompt has {} tokens; the text encoder reads {}", cut.tokens, cut.room),
                    Span::new(from, to),
                )
                .with_label("cut: the model never sees this part")
                .with_help("shorten the prompt, or split it into terms joined by `AND` (each term is encoded on its own)"),
            );
        });
    }
}

/// The source offset of byte `decoded` of a literal's value, for the literal written at `span`
/// in `source` (qualified ones, `sd."…"`, start at the alias; an escape takes two source bytes
/// for one decoded byte).
fn source_offset(source: &str, span: Span, decoded: usize) -> usize {
    let Some(raw) = source.get(span.range()) else { return span.start as usize };
    let bytes = raw.as_bytes();
    let Some(quote) = raw.find('"') else { return span.start as usize };
    let (mut i, mut d) = (quote + 1, 0);
    while d < decoded && i + 1 < bytes.len() {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
        d += 1;
    }
    span.start as usize + i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in encoder: one token per word, reading 2.
    struct Words;
    impl TextLimits for Words {
        fn cut(&self, model: &str, text: &str) -> Option<Cut> {
            let starts: Vec<usize> = text.match_indices(' ').map(|(i, _)| i + 1).collect();
            let tokens = starts.len() + 1;
            (model == "sd15" && tokens > 2).then(|| Cut { tokens, room: 2, at: starts[1] })
        }
    }

    #[test]
    fn points_at_the_words_past_the_encoders_room() {
        let text = "model sd15\nsample s = \"a red \\\"cube\\\" on top\" AND \"ok\"\n";
        let info = comp_plan::ModelInfo { name: "sd15".into(), text: true, ..test_info() };
        // Without a TextLimits, nothing is said.
        assert!(crate::compile_text(text, std::slice::from_ref(&info)).diagnostics.iter().all(|d| d.code != CODE));
        let checked = crate::compile_text_with(text, &[info], &Words);
        let w: Vec<_> = checked.diagnostics.iter().filter(|d| d.code == CODE).collect();
        assert_eq!(w.len(), 1, "{:?}", checked.diagnostics);
        assert_eq!(w[0].message, "this prompt has 5 tokens; the text encoder reads 2");
        // The cut starts at the third word, `"cube"`, written with escapes (two source bytes each).
        assert_eq!(&text[w[0].span().range()], "\\\"cube\\\" on top");
    }

    fn test_info() -> comp_plan::ModelInfo {
        comp_plan::ModelInfo {
            name: String::new(),
            description: String::new(),
            data_shape: vec![2],
            concepts: vec![],
            text: false,
            energies: false,
            default_scale: 1.0,
            default_base: comp_plan::DefaultBase::Null,
            default_steps: 10,
            default_sampler: None,
            max_steps: 100,
            default_samples: 1,
            extra_settings: vec![],
            image_size: None,
            dtypes: false,
            schedule: None,
            latent_space: None,
            classifier: false,
        }
    }
}

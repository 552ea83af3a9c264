//! W0007: a prompt longer than the text encoder reads. CLIP reads 77 tokens, start and end
//! included; every SD pipeline cuts the rest silently. The tokenizer is the checkpoint's own
//! when its folder is found, else CLIP's, shipped in comp-models ([`comp_models::tokenizer`]):
//! `comp check`, the REPL and `comp lsp` all report it through [`crate::pipeline::check_text`],
//! which hands [`Tokenizers`] to the compiler; the lint itself, and which model a prompt
//! belongs to (`model sd = sd15` aliases too), is the compiler's.

use comp_compiler::{Cut, TextLimits};

/// The models' text encoders as W0007 counts them: comp-models' tokenizer for each model that
/// reads text (none without the `sd` feature). The compiler decides which model each prompt
/// belongs to and reports the warning (`comp_compiler::lints::prompt_too_long`).
pub struct Tokenizers;

impl TextLimits for Tokenizers {
    #[cfg(not(feature = "sd"))]
    fn cut(&self, _model: &str, _text: &str) -> Option<Cut> {
        None
    }

    #[cfg(feature = "sd")]
    fn cut(&self, model: &str, text: &str) -> Option<Cut> {
        let tokenizer = comp_models::tokenizer(model)?;
        let tokens = tokenizer.encode(text).ok()?;
        Some(Cut { tokens: tokens.count, room: tokenizer.max_len - 2, at: tokens.cut_at? })
    }
}

#[cfg(all(test, feature = "sd"))]
mod tests {
    /// W0007 without weights on disk: the shipped CLIP tokenizer counts the tokens (a
    /// `COMP_MODELS` that holds nothing hides any checkpoint the machine may have).
    #[test]
    fn a_long_prompt_is_warned_about_without_weights() {
        let prompt = ["a red cube on a blue table"; 14].join(" "); // 98 tokens
        let text = format!("model sd15\nsample s = \"{prompt}\"\n");
        let checked = crate::pipeline::check_text(&text, &comp_models::infos());
        let w: Vec<_> = checked.diagnostics.iter().filter(|d| d.code == "W0007").collect();
        assert_eq!(w.len(), 1, "{:?}", checked.diagnostics);
        assert_eq!(w[0].message, "this prompt has 98 tokens; the text encoder reads 75");
        // The cut starts at the 76th token: `blue` of the 11th repeat (7 tokens each).
        let cut = &text[w[0].span().range()];
        assert!(cut.starts_with("blue table a red cube"), "{cut}");
    }

    /// The same prompt in a file that names its model by an alias, qualified and bare (the only
    /// model that reads text): each is warned about; a short one is not.
    #[test]
    fn a_long_prompt_is_warned_about_under_a_model_alias() {
        let prompt = ["a red cube on a blue table"; 14].join(" ");
        let text = format!("model sd = sd15\nmodel d = toy2d\nsample a = sd.\"{prompt}\"\nsample b = \"{prompt}\" AND \"a cabin\"\n");
        let checked = crate::pipeline::check_text(&text, &comp_models::infos());
        let w: Vec<_> = checked.diagnostics.iter().filter(|d| d.code == "W0007").collect();
        assert_eq!(w.len(), 2, "{:?}", checked.diagnostics);
        assert!(w.iter().all(|d| text[d.span().range()].starts_with("blue table a red cube")));
    }
}

//! What loading a model fails with: [`LoadError`]. Callers match on its variants (the CLI adds
//! the command that trains a model without weights to [`LoadError::NoWeights`]); nothing reads
//! its message to find out which error it is.

use std::path::{Path, PathBuf};

use crate::weights::NoWeights;

/// Why a model could not be loaded. Each variant's message is the one line a person reads.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No weights where the model was looked for: the folder it was pointed at, or every
    /// folder searched ([`NoWeights`] says which; a model does not know the command line,
    /// so the advice to train it is the CLI's to add).
    #[error(transparent)]
    NoWeights(#[from] NoWeights),
    /// The model card at `path` (`model.json`) cannot be read, is not a card (not JSON, or
    /// not of the card's shape), or describes something this model is not (another format,
    /// kind or network). `reason` is the sentence after `model `NAME`: `, naming the file.
    #[error("model `{model}`: {reason}")]
    BadCard { model: String, path: PathBuf, reason: String },
    /// Anything else: an unknown model, weights that are unreadable, corrupt or do not fit
    /// their card, a Stable Diffusion folder that is incomplete or inconsistent.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// A loader's result.
pub type LoadResult<T> = std::result::Result<T, LoadError>;

impl LoadError {
    /// A [`LoadError::BadCard`] of model `model`'s card at `path`.
    pub fn bad_card(model: &str, path: &Path, reason: impl Into<String>) -> Self {
        LoadError::BadCard { model: model.into(), path: path.into(), reason: reason.into() }
    }

    /// The error as one line for people (a candle error without its backtrace, its context
    /// first; see [`comp_runtime::error::message`]).
    pub fn message(&self) -> String {
        match self {
            LoadError::Candle(e) => comp_runtime::error::message(e),
            other => other.to_string(),
        }
    }
}

/// For callers that work in candle's errors (training, evaluation): a candle error is given
/// back as it was; the others are wrapped, with their message.
impl From<LoadError> for candle_core::Error {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Candle(e) => e,
            other => candle_core::Error::wrap(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_weights_and_bad_cards_keep_their_messages_as_candle_errors() {
        let e = LoadError::from(NoWeights { model: "m".into(), searched: vec!["here".into()] });
        assert_eq!(e.message(), "model `m` has no weights at here");
        assert_eq!(comp_runtime::error::message(&candle_core::Error::from(e)), "model `m` has no weights at here");
        let e = LoadError::bad_card("m", Path::new("m/model.json"), "m/model.json is not a valid model card: EOF");
        assert_eq!(e.message(), "model `m`: m/model.json is not a valid model card: EOF");
        // A candle error goes back as itself, not wrapped twice.
        let e = LoadError::from(candle_core::Error::Msg("corrupt".into()));
        assert!(matches!(candle_core::Error::from(e), candle_core::Error::Msg(m) if m == "corrupt"));
    }
}

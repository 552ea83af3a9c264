//! How a command ends when it fails, and runtime errors in the user's words: candle's errors,
//! a run's ([`RunError`]) and a model's that could not load ([`LoadError`]), each as one line.

use comp_models::LoadError;
use comp_runtime::RunError;

/// The ways a command ends.
pub enum Failure {
    /// The input has errors (already reported): exit 1.
    Input,
    /// A usage or I/O problem, with its message (empty: already reported): exit 2.
    Usage(String),
    /// A runtime failure (already reported or with its message): exit 1.
    Runtime(String),
}

/// A runtime error as one line: context first, no backtrace.
pub fn runtime_message(e: &candle_core::Error) -> String {
    comp_runtime::error::message(e)
}

/// [`runtime_message`] as a [`Failure::Runtime`].
pub fn runtime(e: &candle_core::Error) -> Failure {
    Failure::Runtime(runtime_message(e))
}

/// A run that stopped ([`comp_runtime::execute`]), as one line: where (the sample and step)
/// and why, in the words of [`RunError`]'s variants or candle's error without its backtrace.
pub fn run_message(e: &RunError) -> String {
    e.message()
}

/// [`run_message`] as a [`Failure::Runtime`].
pub fn run(e: &RunError) -> Failure {
    Failure::Runtime(run_message(e))
}

/// A model that could not be loaded, as one line, and for a learned model without weights
/// ([`LoadError::NoWeights`]) the command that trains it (models do not know the command
/// line; this does).
pub fn load_message(e: &LoadError) -> String {
    let message = e.message();
    let LoadError::NoWeights(missing) = e else { return message };
    match crate::cmd::train::command_for(&missing.model) {
        // One folder: "… has no weights at DIR: train it with `…`"; a list: a line of its own.
        Some(command) if missing.searched.len() == 1 => format!("{message}: train it with `{command}`"),
        Some(command) => format!("{message}\ntrain them with `{command}`"),
        None => message,
    }
}

/// [`load_message`] as a [`Failure::Runtime`].
pub fn load(e: &LoadError) -> Failure {
    Failure::Runtime(load_message(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use comp_models::NoWeights;

    #[test]
    fn missing_weights_of_a_trained_model_say_how_to_train_it() {
        let one = NoWeights::error("clevr-pos", std::path::Path::new("nowhere"));
        assert_eq!(load_message(&one), "model `clevr-pos` has no weights at nowhere: train it with `comp train clevr-pos`");
        let many = NoWeights::searched("toy2d-mlp-eps", vec!["a/toy2d-mlp-eps".into(), "b/toy2d-mlp-eps".into()]);
        let text = load_message(&many);
        assert!(
            text.starts_with("model `toy2d-mlp-eps` has no weights (`model.safetensors`); searched, in order:\n  a/toy2d-mlp-eps\n"),
            "{text}"
        );
        assert!(text.ends_with("\ntrain them with `comp train toy2d --param eps`"), "{text}");
        // A model the CLI cannot train (a folder model of another name): the message alone.
        assert_eq!(load_message(&NoWeights::error("mine", std::path::Path::new("m"))), "model `mine` has no weights at m");
        // Any other error is its message, whatever it says.
        let other = LoadError::from(candle_core::Error::Msg("model `clevr-pos` has no weights at x".into()));
        assert_eq!(load_message(&other), "model `clevr-pos` has no weights at x");
    }
}

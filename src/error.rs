//! How a command ends when it fails, and runtime errors in the user's words.

/// The ways a command ends.
pub enum Failure {
    /// The input has errors (already reported): exit 1.
    Input,
    /// A usage or I/O problem, with its message: exit 2.
    Usage(String),
    /// A runtime failure (already reported or with its message): exit 1.
    Runtime(String),
}

/// A runtime error as one line: context first, no backtrace, and for a learned model without
/// weights, the command that trains it (models do not know the command line; this does).
pub fn runtime_message(e: &candle_core::Error) -> String {
    let message = comp_runtime::error::message(e);
    match comp_models::NoWeights::model_in(e).and_then(|m| crate::cmd::train::command_for(&m)) {
        // One folder: "… has no weights at DIR: train it with `…`"; a list: a line of its own.
        Some(command) if message.contains('\n') => format!("{message}\ntrain them with `{command}`"),
        Some(command) => format!("{message}: train it with `{command}`"),
        None => message,
    }
}

/// [`runtime_message`] as a [`Failure::Runtime`].
pub fn runtime(e: &candle_core::Error) -> Failure {
    Failure::Runtime(runtime_message(e))
}

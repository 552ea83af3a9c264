//! What a run fails with ([`RunError`]), and error messages for people: candle errors carry
//! backtraces (when `RUST_BACKTRACE` is set) and nest context as separate lines; the CLI wants
//! one readable line, outermost context first ([`message`], [`RunError::message`]).
//!
//! A run's own failures (a non-finite value, Ctrl-C, a plan too large for memory) are
//! variants, matched as such; everything candle or a model reports is [`RunError::Candle`],
//! with the step it happened at as context.

use candle_core::Error;
use comp_plan::McmcKind;

use crate::memory::human;

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A NaN or infinity appeared in sample `sample`'s run: `what` (the model's ε for a term,
    /// the composed ε̂, x after an update) is `value` at sample (row) `row`. `step` of `steps`
    /// is the reverse step it happened in, or after which MCMC (`mcmc`) ran; inside a step
    /// both are 0 until the executor places the error ([`RunError::at`]).
    #[error("{}: {what} is {value} at sample {row} (non-finite values stop the run; nothing was written)", place(.sample, *.step, *.steps, .mcmc))]
    NonFinite { sample: String, step: usize, steps: usize, mcmc: Option<McmcKind>, row: usize, what: String, value: f32 },
    /// The cancel flag (the REPL's Ctrl-C) stopped the run before reverse step `step`, or
    /// inside the MCMC level after it (`mcmc`).
    #[error("{}", interrupted(.sample, *.step, *.steps, .mcmc))]
    Interrupted { sample: String, step: usize, steps: usize, mcmc: Option<McmcKind> },
    /// The memory guard ([`crate::memory`]) refused the plan before allocating (boxed: the
    /// error stays small).
    #[error(transparent)]
    TooLarge(Box<TooLarge>),
    /// Anything else: candle's, a model's or the plan's errors, with context.
    #[error(transparent)]
    Candle(#[from] Error),
}

/// A plan too large for memory: `samples` samples of sample `sample` need about `need` bytes
/// (`per_sample` each), over `limit` (set as `why` says); `advice` says how many fit and what to
/// change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "sample `{sample}`: {samples} samples need about {} of memory (about {} each), over the limit of {} ({why}); {advice}",
    human(*.need),
    human(*.per_sample),
    human(*.limit)
)]
pub struct TooLarge {
    pub sample: String,
    pub samples: usize,
    pub need: u128,
    pub per_sample: u128,
    pub limit: u128,
    pub why: String,
    pub advice: String,
}

/// `sample `s`, step 3 of 10` or `sample `s`, Mala after step 3 of 10`.
fn place(sample: &str, step: usize, steps: usize, mcmc: &Option<McmcKind>) -> String {
    match mcmc {
        None => format!("sample `{sample}`, step {step} of {steps}"),
        Some(kind) => format!("sample `{sample}`, {kind:?} after step {step} of {steps}"),
    }
}

fn interrupted(sample: &str, step: usize, steps: usize, mcmc: &Option<McmcKind>) -> String {
    match mcmc {
        None => format!("sample `{sample}`: interrupted at step {step} of {steps}"),
        Some(_) => format!("{}: interrupted", place(sample, step, steps, mcmc)),
    }
}

impl RunError {
    /// A [`RunError::Candle`] with this message (candle's `bail!` for functions that return a
    /// `RunError`).
    pub fn msg(text: impl Into<String>) -> Self {
        RunError::Candle(Error::Msg(text.into()).bt())
    }

    /// The error placed at reverse step `step` of `steps` of sample `sample` (in the MCMC
    /// level after it when `mcmc` is given): a non-finite value or an interruption found inside
    /// the step gets the step; any other error gets it as context, `sample `s`, step 3 of 10: …`.
    pub fn at(self, sample: &str, step: usize, steps: usize, mcmc: Option<McmcKind>) -> Self {
        match self {
            RunError::NonFinite { row, what, value, .. } => {
                RunError::NonFinite { sample: sample.into(), step, steps, mcmc, row, what, value }
            }
            RunError::Interrupted { .. } => RunError::Interrupted { sample: sample.into(), step, steps, mcmc },
            RunError::Candle(e) => RunError::Candle(e.context(place(sample, step, steps, &mcmc))),
            e @ RunError::TooLarge(_) => e,
        }
    }

    /// The error as one line for people ([`message`] for a candle error).
    pub fn message(&self) -> String {
        match self {
            RunError::Candle(e) => message(e),
            other => other.to_string(),
        }
    }
}

/// For callers that work in candle's errors (evaluation, the lab): a candle error is given
/// back as it was; the others are wrapped, with their message.
impl From<RunError> for Error {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Candle(e) => e,
            other => Error::wrap(other),
        }
    }
}

/// `context: inner context: root cause`, without backtraces.
pub fn message(e: &Error) -> String {
    match e {
        Error::WithBacktrace { inner, .. } => message(inner),
        Error::Context { inner, context } => join(&context.to_string(), &message(inner)),
        Error::WrappedContext { wrapped, context } => join(context, &wrapped.to_string()),
        Error::WithPath { inner, path } => format!("{} ({})", message(inner), path.display()),
        other => other.to_string(),
    }
}

fn join(outer: &str, inner: &str) -> String {
    // Contexts that repeat what is inside them (the same prefix added twice) are said once.
    if inner.starts_with(outer) {
        inner.to_string()
    } else {
        format!("{outer}: {inner}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_backtraces_and_joins_context() {
        let e = Error::Msg("root cause".into()).bt().context("step 3").context("sample `s`");
        assert_eq!(message(&e), "sample `s`: step 3: root cause");
    }

    #[test]
    fn errors_found_inside_a_step_are_placed_there() {
        let found = RunError::NonFinite {
            sample: "s".into(),
            step: 0,
            steps: 0,
            mcmc: None,
            row: 3,
            what: "the composed ε̂".into(),
            value: f32::NAN,
        };
        let placed = found.at("s", 4, 10, Some(McmcKind::Mala));
        assert!(matches!(placed, RunError::NonFinite { step: 4, steps: 10, mcmc: Some(McmcKind::Mala), row: 3, .. }));
        assert_eq!(
            placed.message(),
            "sample `s`, Mala after step 4 of 10: the composed ε̂ is NaN at sample 3 (non-finite values stop the run; nothing was written)"
        );
        let stopped = RunError::Interrupted { sample: "s".into(), step: 0, steps: 0, mcmc: None }.at("s", 2, 10, Some(McmcKind::Hmc));
        assert_eq!(stopped.message(), "sample `s`, Hmc after step 2 of 10: interrupted");
        let other = RunError::msg("boom").at("s", 2, 10, None);
        assert_eq!(other.message(), "sample `s`, step 2 of 10: boom");
        // Into candle and back to one line, with the same words.
        assert_eq!(message(&Error::from(stopped)), "sample `s`, Hmc after step 2 of 10: interrupted");
    }
}

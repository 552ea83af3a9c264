//! Error messages for people: candle errors carry backtraces (when `RUST_BACKTRACE` is set) and
//! nest context as separate lines; the CLI wants one readable line, outermost context first.

use candle_core::Error;

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
}

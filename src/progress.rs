//! The one progress bar of long work (`run`, `train`): steps done of all, a message, elapsed
//! time and an estimate of what is left, on stderr; hidden with `-q`.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `steps` steps labelled `prefix`; `set_message` adds a running figure (a loss).
pub fn steps(prefix: &str, steps: usize, quiet: bool) -> ProgressBar {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(steps as u64) };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} steps {msg} {elapsed_precise} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix.to_string());
    bar
}

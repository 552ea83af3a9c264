//! E0124: a sample that costs more than [`MAX_MODEL_CALLS`] model calls.
//!
//! ```text
//! sampler ddpm(steps: 100)
//! mcmc hmc(steps: 10000, leapfrog: 1000)   # each count in range, but 99 levels × 10^7 calls
//! sample s = ring AND bar                  # E0124: 990,000,100 model calls, the limit is 10^8
//! ```
//!
//! Every count is bounded on its own (steps by the model's schedule, MCMC steps by
//! [`MAX_MCMC_STEPS`](crate::plan::MAX_MCMC_STEPS), leapfrog by
//! [`MAX_LEAPFROG`](crate::plan::MAX_LEAPFROG)); their product is bounded here, counted with
//! saturating arithmetic so that it never wraps.

use crate::plan::{SamplePlan, MAX_MODEL_CALLS};
use comp_grammar::{Diagnostic, Span};

/// Reports E0124 at `span` (the sample's expression) when `plan` costs too many model calls.
pub fn check_model_calls(plan: &SamplePlan, span: Span, diags: &mut Vec<Diagnostic>) {
    let (reverse, mcmc) = crate::model_calls(plan);
    let total = reverse.saturating_add(mcmc);
    if total <= MAX_MODEL_CALLS {
        return;
    }
    let shown = if total == usize::MAX { "more than 2^64".to_string() } else { total.to_string() };
    diags.push(
        Diagnostic::error("E0124", format!("this sample costs {shown} model calls; the limit is {MAX_MODEL_CALLS}"), span)
            .with_label(format!("{reverse} reverse steps and {mcmc} MCMC evaluations"))
            .with_help("use fewer MCMC `steps` or `leapfrog` steps, or run MCMC on part of the trajectory (`from`, `to`)"),
    );
}

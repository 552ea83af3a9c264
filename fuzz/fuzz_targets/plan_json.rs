//! Any bytes as a JSON plan (`comp run plan.json`): reading and validating never panics, and a
//! plan the validator accepts can be rendered, costed and stepped through without panicking.
#![no_main]

use comp_compiler::RenderHuman;
use libfuzzer_sys::fuzz_target;

#[path = "../models.rs"]
mod models;

fuzz_target!(|data: &[u8]| {
    let Ok(plan) = serde_json::from_slice::<comp_compiler::Plan>(data) else { return };
    let problems = comp_compiler::validate::validate(&plan, &models::models());
    if !problems.is_empty() {
        return;
    }
    let _ = plan.render_human();
    for s in &plan.samples {
        let (reverse, mcmc) = comp_compiler::model_calls(s);
        assert!(reverse.saturating_add(mcmc) <= comp_compiler::plan::MAX_MODEL_CALLS);
        // Every step has a segment: the segments cover [0, 1].
        let steps = s.settings.sampler.steps();
        for k in 0..steps {
            assert!(s.segment_at(k).is_some(), "step {k} of {steps} has no segment");
        }
    }
});

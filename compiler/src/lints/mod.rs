//! Lints: warnings, one per file, each with a code and a kebab-case name. Shown but not
//! fatal (the CLI's `--deny warnings` makes them so).

pub mod duplicate_terms;
pub mod inactive_stretch;
pub mod oversaturated_guidance;
pub mod prompt_too_long;
pub mod shadowed_concept;
pub mod unused_let;
pub mod unused_model;
pub mod zero_weight;

/// Every lint: (code, name, what it reports).
pub const ALL: [(&str, &str, &str); 8] = [
    (zero_weight::CODE, zero_weight::NAME, "a term whose weight is 0 (it is dropped)"),
    (duplicate_terms::CODE, duplicate_terms::NAME, "the same condition written twice in one conjunction (merged)"),
    (unused_let::CODE, unused_let::NAME, "a `let` no sample uses"),
    (shadowed_concept::CODE, shadowed_concept::NAME, "a `let` named like a concept of the model"),
    (oversaturated_guidance::CODE, oversaturated_guidance::NAME, "total guidance s·Σ|w_i| or |1 − s·Σw_i| above 30"),
    (inactive_stretch::CODE, inactive_stretch::NAME, "a stretch of the trajectory where no term is active"),
    (prompt_too_long::CODE, prompt_too_long::NAME, "a prompt longer than its model's text encoder reads (the part cut)"),
    (unused_model::CODE, unused_model::NAME, "a model of a file with several that no term comes from"),
];

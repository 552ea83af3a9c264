//! Any bytes through decode → parse → check → plan: no panic, no hang; a compiled plan meets
//! the JSON validator's guarantees, renders, and survives a JSON round trip.
#![no_main]

use comp_compiler::RenderHuman;
use libfuzzer_sys::fuzz_target;

#[path = "../models.rs"]
mod models;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = comp_grammar::decode(data) else { return };
    let Ok(program) = comp_grammar::parse(text) else { return };
    let models = models::models();
    let out = comp_compiler::compile(&program, &models);
    let Some(compiled) = out.value else {
        assert!(out.diagnostics.iter().any(|d| d.is_error()), "no value without an error");
        return;
    };
    let problems = comp_compiler::validate::validate(&compiled.plan, &models);
    // An empty plan (no `sample`) is the one thing a file may compile to and a JSON plan may not.
    if !compiled.plan.samples.is_empty() {
        assert!(problems.is_empty(), "a compiled plan fails validation: {problems:?}\n{text}");
    }
    let _ = compiled.plan.render_human();
    let json = serde_json::to_string(&compiled.plan).expect("a plan serialises");
    let back: comp_compiler::Plan = serde_json::from_str(&json).expect("and reads back");
    assert_eq!(back, compiled.plan);
});

//! `comp fmt` on anything that parses: the output parses, formatting it again changes nothing
//! (idempotent), and it compiles to the same plan with the same diagnostic codes.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../models.rs"]
mod models;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = comp_grammar::decode(data) else { return };
    let Ok(program) = comp_grammar::parse(text) else { return };
    let once = comp_compiler::format(text, &program);
    let reparsed = comp_grammar::parse(&once).unwrap_or_else(|e| panic!("formatted text does not parse: {e:?}\n--- input\n{text}\n--- formatted\n{once}"));
    let twice = comp_compiler::format(&once, &reparsed);
    assert_eq!(once, twice, "fmt is not idempotent\n--- input\n{text}");
    let models = models::models();
    let a = comp_compiler::compile(&program, &models);
    let b = comp_compiler::compile(&reparsed, &models);
    let codes = |o: &comp_compiler::Outcome<comp_compiler::Compiled>| {
        let mut c: Vec<&str> = o.diagnostics.iter().map(|d| d.code).collect();
        c.sort_unstable();
        c
    };
    assert_eq!(codes(&a), codes(&b), "fmt changed the diagnostics\n--- input\n{text}\n--- formatted\n{once}");
    assert_eq!(a.value.map(|c| c.plan), b.value.map(|c| c.plan), "fmt changed the plan\n--- input\n{text}\n--- formatted\n{once}");
});

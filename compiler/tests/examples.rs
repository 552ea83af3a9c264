//! Every example in `examples/` compiles without errors against the test models, and its
//! plan renders.

mod common;
use common::*;
use comp_compiler::RenderHuman;

#[test]
fn examples_compile() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/ exists") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "comp") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        let out = run(&src);
        assert!(out.value.is_some(), "{}: {:#?}", path.display(), out.diagnostics);
        let c = out.value.unwrap();
        assert!(!c.plan.render_human().is_empty());
        for s in &c.simplified {
            assert!(!s.to_string().is_empty());
        }
        n += 1;
    }
    assert!(n > 0);
}

//! The fuzz targets (fuzz/, nightly) check scripts against copies of the models' infos, so
//! that they do not build candle; this keeps the copies equal to the real ones.

#[path = "../fuzz/models.rs"]
mod fuzz_models;

#[test]
fn fuzz_model_infos_match_the_registry() {
    let strip = |mut m: comp_compiler::ModelInfo| {
        m.description.clear();
        // The schedule and latent space are compared by the compiler's own tests.
        m.schedule = None;
        m.latent_space = None;
        for c in &mut m.concepts {
            c.description.clear();
            for p in &mut c.params {
                p.description.clear();
            }
        }
        m
    };
    let copies = fuzz_models::models();
    // The registry's models (folder models are users' variants of them).
    for real in comp_models::all().map(|e| (e.info)()) {
        let copy = copies.iter().find(|c| c.name == real.name).unwrap_or_else(|| panic!("fuzz/models.rs lacks `{}`", real.name));
        assert_eq!(strip(copy.clone()), strip(real));
    }
}

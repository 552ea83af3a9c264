//! Writes a tiny random Stable Diffusion checkpoint (diffusers layout) into a folder, for
//! trying `comp` with `model sd15` without real weights: `cargo run -p comp-models --example
//! tiny_sd -- DIR`, then point `models/sd15/model.json` at DIR. Its pictures are noise: the
//! networks are random.
fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: tiny_sd DIR");
        std::process::exit(2);
    };
    if let Err(e) = comp_models::sd::tiny::write(std::path::Path::new(&dir), &comp_models::sd::tiny::Spec::tiny(), 1) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

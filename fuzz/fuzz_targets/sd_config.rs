//! Stable Diffusion folder configs (issue 26): the tiny checkpoint of `comp_models::sd::tiny`,
//! with one of its four JSON configs (`unet/config.json`, `vae/config.json`,
//! `text_encoder/config.json`, `scheduler/scheduler_config.json`) replaced by the input. Opening
//! the folder gives a model or an error that names the folder, never a panic; a folder that
//! opens loads its weights and takes one DDIM step and a VAE decode at 64x64, which must not
//! panic either (an error, e.g. a tensor of another shape than the config says, is fine).
//!
//! Input: one byte choosing the file (mod 4), then the file's bytes. Seeds in
//! `corpus/sd_config` are the four configs as written; `sd_config.dict` has JSON tokens.
#![no_main]

use comp_models::sd::{self, tiny, StableDiffusion};
use comp_runtime::{Denoiser, ExecOptions};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

const FILES: [&str; 4] = ["unet/config.json", "vae/config.json", "text_encoder/config.json", "scheduler/scheduler_config.json"];

/// The checkpoint (written once per process) and its configs as written.
fn checkpoint() -> &'static (PathBuf, Vec<Vec<u8>>) {
    static CKPT: OnceLock<(PathBuf, Vec<Vec<u8>>)> = OnceLock::new();
    CKPT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("comp-fuzz-sd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        tiny::write(&dir, &tiny::Spec::tiny(), 1).expect("writing the tiny checkpoint");
        let originals = FILES.iter().map(|f| std::fs::read(dir.join(f)).expect("a config")).collect();
        (dir, originals)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, text)) = data.split_first() else { return };
    let which = which as usize % FILES.len();
    let (dir, originals) = checkpoint();
    let path = dir.join(FILES[which]);
    std::fs::write(&path, text).unwrap();
    let dev = candle_core::Device::Cpu;
    match StableDiffusion::open(&sd::VARIANTS[0], dir, &dev) {
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains(&dir.display().to_string()), "an error that names no file: {e}");
        }
        Ok(model) => {
            let script = "model sd15\nsize 64x64\nsampler ddim(steps: 1)\nsamples 1\nsample s = \"cat\"\n";
            let checked = comp_compiler::compile_text(script, &[model.info().clone()]);
            if let Some(c) = checked.compiled {
                let plan = &c.plan.samples[0];
                let _ = comp_runtime::execute(plan, &model, &dev, &ExecOptions::default());
            }
        }
    }
    std::fs::write(&path, &originals[which]).unwrap();
});

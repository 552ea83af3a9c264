//! comp against the reference implementation's own numbers: two tiny pipelines written by
//! diffusers 0.42 + transformers 5.24 (`save_pretrained(safe_serialization=True)`), with golden
//! outputs diffusers computed from fixed inputs (`bench/peer/sd_fixture.py` writes both; its
//! versions are in each folder's `golden.json`). No Python runs here.
//!
//! * `diffusers-sd1`: SD 1.x-like; transformers 5's text encoder layout (no `text_model.`
//!   prefix) and `tokenizer.json`; a `PNDMScheduler` config without `clip_sample`, so diffusers'
//!   DDIM clips x̂₀ to [−1, 1] and comp's `ddim` must too.
//! * `diffusers-sd2-zsnr`: SD 2.x-like; v-prediction, GELU encoder, the `vocab.json` +
//!   `merges.txt` tokenizer padding with a special `!`, and a zero-terminal-SNR DDIM schedule
//!   with trailing spacing.
#![cfg(feature = "sd")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use comp_models::sd::{self, SdRun, StableDiffusion};
use comp_plan::SamplePlan;
use comp_runtime::{Denoiser, ExecOptions, Prepared};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn golden(dir: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir.join("golden.safetensors"), &Device::Cpu).unwrap()
}

fn prompts(dir: &Path) -> Vec<String> {
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap()).unwrap();
    meta["prompts"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
}

fn open(dir: &Path, variant: &str) -> StableDiffusion {
    StableDiffusion::open(sd::variant(variant).unwrap(), dir, &Device::Cpu).unwrap()
}

fn plan(model: &StableDiffusion, body: &str) -> SamplePlan {
    let text = format!("model {}\nsize 64x64\n{body}\n", model.info().name);
    let checked = comp_compiler::compile_text(&text, &[model.info().clone()]);
    let Some(c) = checked.compiled else { panic!("{text}: {:?}", checked.diagnostics) };
    c.plan.samples.into_iter().next().unwrap()
}

/// Largest |a − b| relative to the largest |b|.
fn rel(a: &Tensor, b: &Tensor) -> f32 {
    let a = a.to_dtype(DType::F32).unwrap();
    let b = b.to_dtype(DType::F32).unwrap();
    let d = (&a - &b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    let m = b.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    let r = d / m.max(1e-12);
    RELS.with(|v| v.borrow_mut().push(r));
    r
}

thread_local! {
    /// Every comparison's relative difference, printed by [`report`] (`--nocapture`).
    static RELS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Prints the largest relative difference since the last report, under `what`.
fn report(what: &str) {
    let worst = RELS.with(|v| v.borrow_mut().drain(..).fold(0f32, f32::max));
    eprintln!("{what}: largest relative difference from diffusers {worst:.2e}");
}

/// The run's trajectory from diffusers' starting latents: x before and after each step.
fn trajectory(model: &StableDiffusion, plan: &SamplePlan, start: &Tensor) -> Vec<Tensor> {
    let seen = std::cell::RefCell::new(Vec::new());
    let observe = |_k: usize, x: &Tensor| seen.borrow_mut().push(x.clone());
    let opts = ExecOptions { observe: Some(&observe), start: Some(start), ..Default::default() };
    comp_runtime::execute(plan, model, &Device::Cpu, &opts).unwrap();
    seen.into_inner()
}

fn check_tokens(dir: &Path, model: &StableDiffusion, g: &HashMap<String, Tensor>) {
    let want: Vec<Vec<i64>> = g["token_ids"].to_vec2().unwrap();
    for (p, want) in prompts(dir).iter().zip(want) {
        let ours: Vec<i64> = model.tokenizer().encode(p).unwrap().ids.iter().map(|&i| i as i64).collect();
        assert_eq!(ours, want, "{}: tokens of {p:?}", dir.display());
    }
}

/// The text states, one UNet call and one VAE decode, of a run's nets.
fn check_networks(run: &SdRun, g: &HashMap<String, Tensor>, unet_tol: f32) {
    let text = Tensor::cat(&[run.prompt_states("").unwrap(), run.prompt_states("a red cat").unwrap()], 0).unwrap();
    let d = rel(&text, &g["text_states"]);
    assert!(d < 1e-5, "text states: {d}");
    eprintln!("text states: {d:.2e}");
    let eps = run.unet_forward(&g["unet_x"], 500, &text).unwrap();
    let d = rel(&eps, &g["unet_eps"]);
    assert!(d < unet_tol, "UNet: {d}");
    eprintln!("UNet: {d:.2e}");
    // comp's pictures are clamped to [−1, 1], as every pipeline's post-processing does.
    let image = run.decode(&g["vae_z"]).unwrap();
    let d = rel(&image, &g["vae_image"].clamp(-1f32, 1f32).unwrap());
    assert!(d < 1e-4, "VAE: {d}");
    eprintln!("VAE: {d:.2e}");
}

#[test]
fn an_sd1_folder_written_by_diffusers_and_transformers_5_matches_diffusers() {
    let dir = fixture("diffusers-sd1");
    let model = open(&dir, "sd15");
    let g = golden(&dir);
    check_tokens(&dir, &model, &g);
    // The schedule: diffusers' ᾱ (computed in f32) to float error.
    let ab: Vec<f64> = g["alphas_cumprod"].to_vec1().unwrap();
    for (t, want) in ab.iter().enumerate() {
        assert!((model.schedule().alpha_bar(t) - want).abs() < 1e-6, "ᾱ_{t}");
    }
    // Classifier-free guidance, 10 DDIM steps; diffusers clips x̂₀ (its DDIM's default where the
    // folder's PNDM config says nothing), and so does comp.
    let p = plan(&model, "sampler ddim(steps: 10)\nscale 6\nseed 0\nsamples 2\nbase \"\"\nsample s = \"a red cat\"");
    assert_eq!(model.x0_range(&p.settings.sampler), Some((-1.0, 1.0)));
    let ours = trajectory(&model, &p, &g["ddim_start"]);
    let want = &g["ddim_cfg"];
    assert_eq!(ours.len(), 11);
    for (k, x) in ours.iter().enumerate() {
        let d = rel(x, &want.get(k).unwrap());
        assert!(d < 1e-4, "CFG step {k}: {d}");
    }
    report("sd1: 10 DDIM steps of CFG, x̂₀ clipped");
    // `AND NOT`, as comp defines it: ε_u + s·[(ε_cat − ε_u) − (ε_dog − ε_u)].
    let p = plan(&model, "sampler ddim(steps: 10)\nscale 3\nseed 0\nsamples 1\nbase \"\"\nsample s = \"cat\" AND NOT \"dog\"");
    let ours = trajectory(&model, &p, &g["ddim_start"].narrow(0, 0, 1).unwrap());
    let want = &g["ddim_and_not"];
    for (k, x) in ours.iter().enumerate() {
        let d = rel(x, &want.get(k).unwrap());
        assert!(d < 1e-4, "AND NOT step {k}: {d}");
    }
    report("sd1: 10 DDIM steps of AND NOT");
    // comp's own UNet (the CPU's, with diffusers' exact GELU): about 1e-6.
    check_networks(&model.prepare_run(&p).unwrap(), &g, 5e-6);
    report("sd1: text states, UNet, VAE");
    // candle-transformers' UNet (what a GPU or f16 runs): its GEGLU uses the tanh GELU,
    // diffusers the exact one, about 3.5e-5 here.
    model.use_candle_unet(true);
    let p = plan(&model, "sampler ddim(steps: 10)\nscale 6\nseed 0\nsamples 2\nbase \"\"\nsample s = \"a red cat\"");
    check_networks(&model.prepare_run(&p).unwrap(), &g, 2e-4);
    report("sd1: text states, candle-transformers' UNet, VAE");
}

#[test]
fn an_sd2_zero_snr_folder_written_by_diffusers_matches_diffusers() {
    let dir = fixture("diffusers-sd2-zsnr");
    let model = open(&dir, "sd21");
    let g = golden(&dir);
    check_tokens(&dir, &model, &g);
    // Zero terminal SNR: diffusers' ᾱ everywhere but the last, which it keeps at 0 and comp at
    // 2⁻²⁴ (or half the one before), so that x̂₀ stays finite.
    let ab: Vec<f64> = g["alphas_cumprod"].to_vec1().unwrap();
    assert_eq!(ab[999], 0.0);
    for (t, want) in ab.iter().enumerate().take(999) {
        assert!((model.schedule().alpha_bar(t) - want).abs() < 1e-6, "ᾱ_{t}");
    }
    let last = model.schedule().alpha_bar(999);
    assert!(last > 0.0 && last <= comp_runtime::schedule::ZERO_SNR_FLOOR, "{last}");
    // 10 trailing DDIM steps, starting at t = 999 where ᾱ is (about) 0.
    let p = plan(&model, "sampler ddim(steps: 10)\nscale 6\nseed 0\nsamples 2\nbase \"\"\nsample s = \"a red cat\"");
    assert_eq!(model.x0_range(&p.settings.sampler), None, "the folder says clip_sample: false");
    let ours = trajectory(&model, &p, &g["ddim_start"]);
    let want = &g["ddim_cfg"];
    for (k, x) in ours.iter().enumerate() {
        let d = rel(x, &want.get(k).unwrap());
        assert!(d < 5e-4, "zero-SNR CFG step {k}: {d}");
    }
    report("sd2-zsnr: 10 trailing DDIM steps of CFG");
    check_networks(&model.prepare_run(&p).unwrap(), &g, 5e-6);
    report("sd2-zsnr: text states, UNet, VAE");
}

/// A latent side that does not halve evenly (9 → 5 → 3 on the way down) is upsampled to the
/// size of the activation it is joined with, as diffusers' `upsample_size` does: comp's own UNet
/// and candle-transformers' agree (up to their GELUs).
#[test]
fn comps_unet_and_candle_transformers_agree_on_odd_latent_sides() {
    let dir = fixture("diffusers-sd1");
    let model = open(&dir, "sd15");
    let p = plan(&model, "sampler ddim(steps: 10)\nseed 0\nsamples 1\nbase \"\"\nsample s = \"a red cat\"");
    let run = model.prepare_run(&p).unwrap();
    let text = run.prompt_states("a red cat").unwrap();
    let x = Tensor::randn(0f32, 1.0, (1, 4, 9, 7), &Device::Cpu).unwrap();
    let ours = run.unet_forward(&x, 300, &text).unwrap();
    model.use_candle_unet(true);
    let theirs = model.prepare_run(&p).unwrap().unet_forward(&x, 300, &text).unwrap();
    assert_eq!(ours.dims(), &[1, 4, 9, 7]);
    assert_eq!(theirs.dims(), ours.dims());
    let d = rel(&ours, &theirs);
    assert!(d < 2e-4, "{d}");
    eprintln!("odd sides, comp's UNet vs candle-transformers': {d:.2e}");
}

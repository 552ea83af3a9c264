//! Stable Diffusion through the real loading code, on tiny random checkpoints in the diffusers
//! layout (`comp_models::sd::tiny`): our plumbing against candle-transformers' own UNet and
//! DDIM scheduler in a plain classifier-free-guidance loop, the fused `AND NOT` against the
//! formula, the call and encoding counts, a run's ownership of its encodings, and bad folders.
#![cfg(feature = "sd")]

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::stable_diffusion::{
    ddim::DDIMSchedulerConfig,
    schedulers::{PredictionType, SchedulerConfig},
    unet_2d::UNet2DConditionModel,
    vae::AutoEncoderKL,
};
use comp_models::sd::{self, config::UnetJson, config::VaeJson, tiny, SdRun, StableDiffusion};
use comp_plan::{Condition, ModelInfo, SamplePlan, Sampler};
use comp_runtime::{noise::Noise, Denoiser, ExecOptions, ModelOutput, Prepared, Schedule, Spacing};
use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

fn checkpoint(spec: &tiny::Spec) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    tiny::write(dir.path(), spec, 1).unwrap();
    dir
}

fn open(dir: &Path) -> StableDiffusion {
    StableDiffusion::open(&sd::VARIANTS[0], dir, &Device::Cpu).unwrap()
}

fn plan(model: &StableDiffusion, body: &str) -> SamplePlan {
    let text = format!("model sd15\nsize 64x64\n{body}\n");
    let checked = comp_compiler::compile_text(&text, &[model.info().clone()]);
    let Some(c) = checked.compiled else { panic!("{text}: {:?}", checked.diagnostics) };
    c.plan.samples.into_iter().next().unwrap()
}

/// Runs `plan`, returning the trajectory (x at the start and after each step) and the pictures.
fn trajectory(model: &StableDiffusion, plan: &SamplePlan) -> (Vec<Tensor>, Tensor) {
    let seen = RefCell::new(Vec::new());
    let observe = |_k: usize, x: &Tensor| seen.borrow_mut().push(x.clone());
    let out = comp_runtime::execute(plan, model, &Device::Cpu, &ExecOptions { observe: Some(&observe), ..Default::default() }).unwrap();
    (seen.into_inner(), out.samples)
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

/// candle-transformers' UNet and VAE, built from the checkpoint's own files.
fn upstream(dir: &Path) -> (UNet2DConditionModel, AutoEncoderKL) {
    let vb = |p: std::path::PathBuf| unsafe { VarBuilder::from_mmaped_safetensors(&[p], DType::F32, &Device::Cpu).unwrap() };
    let uj: UnetJson = sd::config::read_json(&dir.join("unet/config.json")).unwrap();
    let vj: VaeJson = sd::config::read_json(&dir.join("vae/config.json")).unwrap();
    let unet = UNet2DConditionModel::new(vb(dir.join("unet/diffusion_pytorch_model.safetensors")), 4, 4, false, uj.to_candle(dir).unwrap())
        .unwrap();
    let vae = AutoEncoderKL::new(vb(dir.join("vae/diffusion_pytorch_model.safetensors")), 3, 3, vj.to_candle()).unwrap();
    (unet, vae)
}

/// The prompt's encoder states, N times: `[N, 77, D]`.
fn states(model: &StableDiffusion, dir: &Path, prompt: &str, n: usize) -> Tensor {
    let cfg: sd::clip::ClipConfig = sd::config::read_json(&dir.join("text_encoder/config.json")).unwrap();
    let vb =
        unsafe { VarBuilder::from_mmaped_safetensors(&[dir.join("text_encoder/model.safetensors")], DType::F32, &Device::Cpu).unwrap() };
    let enc = sd::clip::ClipTextEncoder::new(vb, &cfg).unwrap();
    let ids = model.tokenizer().encode(prompt).unwrap().ids;
    enc.forward(&Tensor::new(ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap()).unwrap().repeat((n, 1, 1)).unwrap()
}

/// The plain classifier-free guidance loop of every SD pipeline, with candle-transformers'
/// UNet and DDIM scheduler: ε̂ = ε_u + s·(ε_c − ε_u) from one batched call over [x; x].
fn cfg_loop(
    dir: &Path,
    model: &StableDiffusion,
    prompt: &str,
    scale: f64,
    steps: usize,
    prediction: PredictionType,
    x0: &Tensor,
) -> Vec<Tensor> {
    let (unet, _) = upstream(dir);
    let n = x0.dim(0).unwrap();
    let ctx = Tensor::cat(&[states(model, dir, "", n), states(model, dir, prompt, n)], 0).unwrap();
    let mut sched = DDIMSchedulerConfig { prediction_type: prediction, ..Default::default() }.build(steps).unwrap();
    let mut x = x0.clone();
    let mut out = vec![x.clone()];
    for &t in sched.timesteps().to_vec().iter() {
        let both = Tensor::cat(&[&x, &x], 0).unwrap();
        let pred = unet.forward(&both, t as f64, &ctx).unwrap();
        let (u, c) = (pred.narrow(0, 0, n).unwrap(), pred.narrow(0, n, n).unwrap());
        let guided = (&u + ((c - &u).unwrap() * scale).unwrap()).unwrap();
        x = sched.step(&guided, t, &x).unwrap();
        out.push(x.clone());
    }
    out
}

fn start(seed: u64, n: usize) -> Tensor {
    Noise::new(seed, 0..n).normal(&[n, 4, 8, 8], &Device::Cpu).unwrap()
}

#[test]
fn one_prompt_with_base_empty_matches_a_plain_cfg_loop_step_for_step() {
    for (spec, prediction) in [(tiny::Spec::tiny(), PredictionType::Epsilon), (tiny::Spec::tiny_v(), PredictionType::VPrediction)] {
        let dir = checkpoint(&spec);
        let model = open(dir.path());
        // The same UNet on both sides, so that only the plumbing is compared: comp's own (the
        // CPU's default) uses the exact GELU where candle-transformers' uses the tanh one, which
        // on these random networks alone moves a step by about 1e-3 (comp's own UNet is checked
        // against diffusers in sd_diffusers.rs).
        model.use_candle_unet(true);
        let p = plan(&model, "sampler ddim(steps: 8)\nscale 6\nseed 3\nsamples 2\nbase \"\"\nsample s = \"a red cat\"");
        let (ours, pictures) = trajectory(&model, &p);
        let theirs = cfg_loop(dir.path(), &model, "a red cat", 6.0, 8, prediction, &start(3, 2));
        assert_eq!(ours.len(), 9);
        assert_eq!(theirs.len(), 9);
        // Float rounding only: candle's loop makes one pass over [x; x], ours (on the CPU) one
        // pass per sample over its two rows, and a row's last bits depend on its batch; over 8
        // steps of a random network that grows to 0.9e-4..1.5e-4 (it depends on the network,
        // drawn anew by each test process). A plumbing bug is orders of magnitude above.
        for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            let d = max_diff(a, b);
            assert!(d <= 5e-4, "{prediction:?}: step {k}: max |Δ| = {d}");
        }
        // The pictures: candle's VAE decoding the same latents.
        let (_, vae) = upstream(dir.path());
        let last = theirs.last().unwrap();
        let want = vae.decode(&(last * (1.0 / 0.18215)).unwrap()).unwrap().clamp(-1f32, 1f32).unwrap();
        assert_eq!(pictures.dims(), &[2, 3, 64, 64]);
        assert!(max_diff(&pictures, &want) <= 1e-4);
    }
}

#[test]
fn and_not_matches_the_formula_from_separate_unet_calls() {
    let dir = checkpoint(&tiny::Spec::tiny());
    let model = open(dir.path());
    model.use_candle_unet(true); // the same UNet as `unet` below: see the test above
    let p = plan(&model, "sampler ddim(steps: 4)\nscale 3\nseed 5\nsamples 1\nbase \"\"\nsample s = \"cat\" AND NOT \"dog\"");
    let (ours, _) = trajectory(&model, &p);
    // ε̂ = ε_u + s·[(ε_cat − ε_u) − (ε_dog − ε_u)], each ε from its own UNet call, then one
    // DDIM step with candle-transformers' scheduler.
    let (unet, _) = upstream(dir.path());
    let x = start(5, 1);
    let mut sched = DDIMSchedulerConfig::default().build(4).unwrap();
    let t = sched.timesteps()[0];
    let eps = |prompt: &str| unet.forward(&x, t as f64, &states(&model, dir.path(), prompt, 1)).unwrap();
    let (u, a, b) = (eps(""), eps("cat"), eps("dog"));
    let guided = (&u + (((&a - &u).unwrap() - (&b - &u).unwrap()).unwrap() * 3.0).unwrap()).unwrap();
    let next = sched.step(&guided, t, &x).unwrap();
    let d = max_diff(&ours[1], &next);
    assert!(d <= 1e-4, "max |Δ| = {d}");
}

/// What a run of [`Watched`] held when it ended: its prompts, the prompts it encoded, its UNet
/// calls.
#[derive(Debug, PartialEq)]
struct Ended {
    prompts: Vec<String>,
    encoded: usize,
    unet_calls: usize,
}

/// Stable Diffusion exactly (every method its own), except that each run reports what it held
/// when it is dropped, and the runs alive are counted: the executor's runs, seen from outside.
struct Watched<'a> {
    sd: &'a StableDiffusion,
    live: AtomicUsize,
    ended: Mutex<Vec<Ended>>,
}

impl<'a> Watched<'a> {
    fn new(sd: &'a StableDiffusion) -> Self {
        Self { sd, live: 0.into(), ended: Default::default() }
    }
}

impl Denoiser for Watched<'_> {
    fn info(&self) -> &ModelInfo {
        self.sd.info()
    }
    fn schedule(&self) -> &Schedule {
        self.sd.schedule()
    }
    fn spacing(&self) -> Spacing {
        self.sd.spacing()
    }
    fn prepare(&self, plan: &SamplePlan) -> candle_core::Result<Box<dyn Prepared + '_>> {
        let run = self.sd.prepare_run(plan)?;
        self.live.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(WatchedRun { run, watched: self }))
    }
    fn working_bytes_per_row(&self, sample_shape: &[usize]) -> usize {
        self.sd.working_bytes_per_row(sample_shape)
    }
    fn fixed_working_bytes(&self, sample_shape: &[usize]) -> usize {
        self.sd.fixed_working_bytes(sample_shape)
    }
    fn x0_range(&self, sampler: &Sampler) -> Option<(f32, f32)> {
        self.sd.x0_range(sampler)
    }
}

struct WatchedRun<'a> {
    run: SdRun<'a>,
    watched: &'a Watched<'a>,
}

impl Prepared for WatchedRun<'_> {
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> candle_core::Result<ModelOutput> {
        self.run.forward(x, t, conds, want_energy)
    }
    fn decode(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.run.decode(x)
    }
}

impl Drop for WatchedRun<'_> {
    fn drop(&mut self) {
        let prompts = self.run.prompts().into_iter().map(String::from).collect();
        let ended = Ended { prompts, encoded: self.run.prompts_encoded(), unet_calls: self.run.unet_calls() };
        self.watched.ended.lock().unwrap().push(ended);
        self.watched.live.fetch_sub(1, Ordering::SeqCst);
    }
}

fn ended(prompts: &[&str], encoded: usize, unet_calls: usize) -> Ended {
    Ended { prompts: prompts.iter().map(|p| p.to_string()).collect(), encoded, unet_calls }
}

#[test]
fn k_prompts_cost_one_unet_call_per_step_and_each_prompt_is_encoded_once() {
    let dir = checkpoint(&tiny::Spec::tiny());
    let model = open(dir.path());
    let watched = Watched::new(&model);
    // Three prompts and the base: four conditions, all active at every step.
    let p = plan(&model, "sampler ddim(steps: 3)\nsamples 2\nsample s = \"cat\" AND 0.5 * \"dog\" AND NOT \"snow\"");
    assert_eq!(p.conditions.len(), 4);
    let out = comp_runtime::execute(&p, &watched, &Device::Cpu, &ExecOptions::default()).unwrap();
    assert_eq!(out.model_calls, 3);
    assert_eq!(out.rows_evaluated, 3 * 4 * 2, "each call: 4 conditions × 2 samples");
    // "cat", "dog", "snow" and the empty base prompt, each encoded once; one UNet call per step.
    assert_eq!(*watched.ended.lock().unwrap(), [ended(&["", "cat", "dog", "snow"], 4, 3)]);
    // A second run encodes its prompts again, into its own run: nothing is kept between runs.
    comp_runtime::execute(&p, &watched, &Device::Cpu, &ExecOptions::default()).unwrap();
    assert_eq!(watched.ended.lock().unwrap()[1], ended(&["", "cat", "dog", "snow"], 4, 3));
}

/// A REPL session: runs of different prompts one after another on one loaded model. Each run
/// holds the encodings of its own prompts only and is dropped when its pictures are returned,
/// so the model keeps no prompt of any run (its prompt cache grew with every `:run` before the
/// encodings moved into the run); the pictures are those of the model itself, bit for bit.
#[test]
fn runs_of_different_prompts_each_hold_their_own_encodings_and_end_with_them() {
    let dir = checkpoint(&tiny::Spec::tiny());
    let model = open(dir.path());
    let watched = Watched::new(&model);
    let runs = [
        ("sample s = \"cat\"", vec!["", "cat"]),
        ("sample s = \"dog\" AND NOT \"snow\"", vec!["", "dog", "snow"]),
        ("base \"blurry\"\nsample s = \"cat\" AND \"a red ball\"", vec!["a red ball", "blurry", "cat"]),
        ("base none\nsample s = \"snow\"", vec!["snow"]),
    ];
    for (i, (body, prompts)) in runs.iter().enumerate() {
        let p = plan(&model, &format!("sampler ddim(steps: 2)\nsamples 1\nseed {i}\n{body}"));
        let out = comp_runtime::execute(&p, &watched, &Device::Cpu, &ExecOptions::default()).unwrap();
        assert_eq!(watched.live.load(Ordering::SeqCst), 0, "run {i} ended with its samples");
        assert_eq!(watched.ended.lock().unwrap()[i], ended(prompts, prompts.len(), 2), "run {i}");
        let bare = comp_runtime::execute(&p, &model, &Device::Cpu, &ExecOptions::default()).unwrap();
        assert_eq!(max_diff(&out.samples, &bare.samples), 0.0, "run {i}");
        assert_eq!(out.model_calls, bare.model_calls);
    }
    // A run prepared by hand is the same: its prompts are its plan's, whatever ran before.
    let p = plan(&model, "sampler ddim(steps: 2)\nsamples 1\nsample s = \"a red ball\"");
    let run = model.prepare_run(&p).unwrap();
    assert_eq!(run.prompts(), ["", "a red ball"]);
    assert_eq!((run.prompts_encoded(), run.unet_calls()), (2, 0));
}

#[test]
fn a_step_window_drops_its_prompt_rows_outside_the_window() {
    let dir = checkpoint(&tiny::Spec::tiny());
    let model = open(dir.path());
    let watched = Watched::new(&model);
    // 4 steps at fractions 0.125, 0.375, 0.625, 0.875: "dog" is active in the first two.
    let p = plan(&model, "sampler ddim(steps: 4)\nsamples 1\nsample s = \"cat\" AND \"dog\" @ [0, 0.5]");
    let out = comp_runtime::execute(&p, &watched, &Device::Cpu, &ExecOptions::default()).unwrap();
    assert_eq!(watched.ended.lock().unwrap()[0].unet_calls, 4);
    assert_eq!(out.rows_evaluated, 2 * 3 + 2 * 2, "3 rows (base, cat, dog), then 2 (base, cat)");
}

#[test]
fn fp16_files_load_and_f16_runs_stay_close_to_f32() {
    let mut spec = tiny::Spec::tiny();
    spec.fp16_files = true;
    let dir = checkpoint(&spec);
    assert!(dir.path().join("unet/diffusion_pytorch_model.fp16.safetensors").is_file());
    let model = open(dir.path());
    let p32 = plan(&model, "sampler ddim(steps: 3)\nsamples 1\nsample s = \"cat\"");
    let p16 = plan(&model, "sampler ddim(steps: 3)\nsamples 1\ndtype f16\nsample s = \"cat\"");
    assert_eq!(p16.settings.dtype, Some(comp_plan::Dtype::F16));
    let (a, _) = trajectory(&model, &p32);
    let (b, _) = trajectory(&model, &p16);
    // After one step: f16 rounding (about 1e-3 relative) through a random network.
    let d = max_diff(&a[1], &b[1]);
    let size = a[1].abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    assert!(d > 0.0 && d < 0.02 * size, "f16 against f32: max |Δ| = {d} of max |x| = {size}");
}

#[test]
fn the_tokenizer_merges_words_pads_to_77_and_reports_the_cut() {
    let dir = checkpoint(&tiny::Spec::tiny());
    let model = open(dir.path());
    let (vocab, _) = tiny::vocabulary();
    let id = |t: &str| vocab.iter().position(|v| v == t).unwrap() as u32;
    let t = model.tokenizer().encode("A  Cat!").unwrap();
    // Lowercased, whitespace collapsed; `cat` merged whole; `!` is word-final on its own.
    assert_eq!(&t.ids[..5], &[id("<|startoftext|>"), id("a</w>"), id("cat</w>"), id("!</w>"), id("<|endoftext|>")]);
    assert_eq!(t.ids.len(), 77);
    assert!(t.ids[5..].iter().all(|&i| i == id("<|endoftext|>")), "SD 1.x pads with <|endoftext|>");
    assert_eq!((t.count, t.cut_at), (3, None));
    // 80 words of one token each: 75 fit; the 76th starts at byte 75 · 4 = 300.
    let long = "cat ".repeat(80);
    let t = model.tokenizer().encode(&long).unwrap();
    assert_eq!((t.count, t.cut_at, t.eos_index), (80, Some(300), 76));
    // A folder with only a `tokenizer.json` (the fast tokenizer's file) tokenizes the same.
    let tok = dir.path().join("tokenizer");
    let json = sd::tokenizer::pipeline(&tok.join("vocab.json"), &tok.join("merges.txt"), None).unwrap();
    std::fs::write(tok.join("tokenizer.json"), json.to_string()).unwrap();
    std::fs::remove_file(tok.join("vocab.json")).unwrap();
    std::fs::remove_file(tok.join("merges.txt")).unwrap();
    let fast = sd::tokenizer::ClipTokenizer::load(&tok, 77).unwrap();
    assert_eq!(fast.encode("A  Cat!").unwrap().ids, model.tokenizer().encode("A  Cat!").unwrap().ids);
    assert_eq!(fast.encode(&long).unwrap(), t);
    // SD 2.x's tokenizer pads with `!`.
    let dir = checkpoint(&tiny::Spec::tiny_v());
    let model = open(dir.path());
    assert_eq!(model.tokenizer().encode("cat").unwrap().ids[3], id("!"));
    // ... and, as transformers does, makes its pad token special: `!` never merges or takes
    // `</w>` (SD 1.x's tokenizer above gives `!</w>`).
    let t = model.tokenizer().encode("cat!!").unwrap();
    assert_eq!(&t.ids[..5], &[id("<|startoftext|>"), id("cat</w>"), id("!"), id("!"), id("<|endoftext|>")]);
    assert_eq!(t.count, 3);
    // Special tokens match as typed: `<|endoftext|>` is the end token, `<|ENDOFTEXT|>` text.
    let t = model.tokenizer().encode("cat <|endoftext|>").unwrap();
    assert_eq!(&t.ids[..4], &[id("<|startoftext|>"), id("cat</w>"), id("<|endoftext|>"), id("<|endoftext|>")]);
    let t = model.tokenizer().encode("cat <|ENDOFTEXT|>").unwrap();
    assert!(t.count > 2 && !t.ids[2..t.eos_index].contains(&id("<|endoftext|>")), "{:?}", &t.ids[..t.eos_index + 1]);
}

#[test]
fn our_clip_encoder_matches_candle_transformers_clip() {
    use candle_transformers::models::clip::text_model::{Activation, ClipTextConfig, ClipTextTransformer};
    let dir = checkpoint(&tiny::Spec::tiny());
    let cfg: sd::clip::ClipConfig = sd::config::read_json(&dir.path().join("text_encoder/config.json")).unwrap();
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(&[dir.path().join("text_encoder/model.safetensors")], DType::F32, &Device::Cpu).unwrap()
    };
    let ours = sd::clip::ClipTextEncoder::new(vb.clone(), &cfg).unwrap();
    let theirs = ClipTextTransformer::new(
        vb.pp("text_model"),
        &ClipTextConfig {
            vocab_size: cfg.vocab_size,
            embed_dim: cfg.hidden_size,
            activation: Activation::QuickGelu,
            intermediate_size: cfg.intermediate_size,
            max_position_embeddings: cfg.max_position_embeddings,
            pad_with: None,
            num_hidden_layers: cfg.num_hidden_layers,
            num_attention_heads: cfg.num_attention_heads,
            projection_dim: cfg.hidden_size,
        },
    )
    .unwrap();
    let ids: Vec<u32> = (0..77u32).map(|i| (i * 37) % cfg.vocab_size as u32).collect();
    let ids = Tensor::new(ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let d = max_diff(&ours.forward(&ids).unwrap(), &theirs.forward_with_mask(&ids, usize::MAX).unwrap());
    assert!(d <= 1e-5, "max |Δ| = {d}");
}

fn open_err(dir: &Path) -> String {
    match StableDiffusion::open(&sd::VARIANTS[0], dir, &Device::Cpu) {
        Ok(_) => panic!("opened a bad folder"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_folders_say_which_file_is_missing_or_wrong() {
    let dir = checkpoint(&tiny::Spec::tiny());
    let p = dir.path();
    // Missing UNet weights.
    std::fs::rename(p.join("unet/diffusion_pytorch_model.safetensors"), p.join("unet/diffusion_pytorch_model.bin")).unwrap();
    let e = open_err(p);
    assert!(e.contains("only PyTorch `.bin` weights") && e.contains("unet/diffusion_pytorch_model.safetensors"), "{e}");
    std::fs::remove_file(p.join("unet/diffusion_pytorch_model.bin")).unwrap();
    let e = open_err(p);
    assert!(e.contains("`unet/diffusion_pytorch_model.safetensors` is missing"), "{e}");
    // No tokenizer.
    let dir = checkpoint(&tiny::Spec::tiny());
    std::fs::remove_file(dir.path().join("tokenizer/merges.txt")).unwrap();
    let e = open_err(dir.path());
    assert!(e.contains("`tokenizer/` needs `vocab.json` and `merges.txt`"), "{e}");
    // A text encoder of another width than the UNet attends to.
    let dir = checkpoint(&tiny::Spec::tiny());
    let cfg = dir.path().join("text_encoder/config.json");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("\"hidden_size\": 32", "\"hidden_size\": 64");
    std::fs::write(&cfg, text).unwrap();
    let e = open_err(dir.path());
    assert!(e.contains("mixes two checkpoints"), "{e}");
    // An SDXL UNet.
    let dir = checkpoint(&tiny::Spec::tiny());
    let cfg = dir.path().join("unet/config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    v["addition_embed_type"] = serde_json::json!("text_time");
    std::fs::write(&cfg, v.to_string()).unwrap();
    let e = open_err(dir.path());
    assert!(e.contains("addition_embed_type: text_time") && e.contains("not supported"), "{e}");
    // Not a folder at all.
    let e = open_err(&dir.path().join("nowhere"));
    assert!(e.contains("is not a folder"), "{e}");
    // A tensor of the wrong shape is found at load (the first run), naming the file.
    let dir = checkpoint(&tiny::Spec::tiny());
    let cfg = dir.path().join("unet/config.json");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("\"layers_per_block\": 1", "\"layers_per_block\": 2");
    std::fs::write(&cfg, text).unwrap();
    let model = open(dir.path());
    let p = plan(&model, "sampler ddim(steps: 2)\nsamples 1\nsample s = \"cat\"");
    let e = comp_runtime::execute(&p, &model, &Device::Cpu, &ExecOptions::default()).unwrap_err().to_string();
    assert!(e.contains("diffusion_pytorch_model.safetensors"), "{e}");
}

#[test]
fn the_hugging_face_cache_is_resolved_offline_through_refs_main() {
    let base = tempfile::tempdir().unwrap();
    let cache = base.path().join("hub");
    let repo = cache.join("models--runwayml--stable-diffusion-v1-5");
    std::fs::create_dir_all(repo.join("snapshots/abc123")).unwrap();
    std::fs::create_dir_all(repo.join("snapshots/older")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "abc123\n").unwrap();
    let v = sd::variant("sd15").unwrap();
    let roots = vec![base.path().join("models")];
    let found = sd::folder::locate_in("sd15", v.hub, &roots, std::slice::from_ref(&cache)).unwrap();
    assert_eq!(found, sd::folder::Found::Folder(repo.join("snapshots/abc123")));
    // A model card wins over the cache, and a relative path is relative to the card.
    std::fs::create_dir_all(roots[0].join("sd15")).unwrap();
    std::fs::write(roots[0].join("sd15/model.json"), r#"{"diffusers": "../../weights/sd15"}"#).unwrap();
    let found = sd::folder::locate_in("sd15", v.hub, &roots, std::slice::from_ref(&cache)).unwrap();
    assert_eq!(found, sd::folder::Found::Folder(roots[0].join("sd15").join("../../weights/sd15")));
    // Nothing anywhere: every place searched is listed.
    let found = sd::folder::locate_in("sd21", sd::variant("sd21").unwrap().hub, &roots, std::slice::from_ref(&cache)).unwrap();
    let sd::folder::Found::Missing(searched) = found else { panic!() };
    assert_eq!(searched, vec![roots[0].join("sd21/model.json"), cache.join("models--stabilityai--stable-diffusion-2-1/snapshots")]);
}

/// Rewrites `dir/file` (a JSON config) through `f`.
fn edit(dir: &Path, file: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join(file);
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, v.to_string()).unwrap();
}

/// `open_err` of a fresh tiny checkpoint with `file` edited; the error must name the file and
/// the field (issue 26: these panicked, or failed later without naming either).
fn refused(file: &str, field: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let dir = checkpoint(&tiny::Spec::tiny());
    edit(dir.path(), file, f);
    let e = open_err(dir.path());
    assert!(e.contains(file) && e.contains(&format!("`{field}`")), "{file} `{field}`: {e}");
}

#[test]
fn config_values_candle_cannot_build_are_refused_naming_file_and_field() {
    use serde_json::json;
    refused("unet/config.json", "norm_num_groups", |v| v["norm_num_groups"] = json!(0));
    refused("unet/config.json", "attention_head_dim", |v| v["attention_head_dim"] = json!(0));
    refused("unet/config.json", "attention_head_dim", |v| v["attention_head_dim"] = json!(3));
    refused("unet/config.json", "attention_head_dim", |v| v["attention_head_dim"] = json!([2, 0]));
    refused("unet/config.json", "layers_per_block", |v| v["layers_per_block"] = json!(0));
    refused("unet/config.json", "cross_attention_dim", |v| v["cross_attention_dim"] = json!(0));
    refused("unet/config.json", "block_out_channels", |v| v["block_out_channels"] = json!([0, 64]));
    refused("unet/config.json", "transformer_layers_per_block", |v| v["transformer_layers_per_block"] = json!(0));
    refused("unet/config.json", "norm_eps", |v| v["norm_eps"] = json!(-1.0));
    refused("vae/config.json", "block_out_channels", |v| v["block_out_channels"] = json!([]));
    refused("vae/config.json", "norm_num_groups", |v| v["norm_num_groups"] = json!(0));
    refused("vae/config.json", "latent_channels", |v| v["latent_channels"] = json!(0));
    refused("vae/config.json", "scaling_factor", |v| v["scaling_factor"] = json!(0.0));
    refused("vae/config.json", "block_out_channels", |v| v["block_out_channels"] = json!([8, 8, 16, 10]));
    refused("text_encoder/config.json", "num_attention_heads", |v| v["num_attention_heads"] = json!(0));
    refused("text_encoder/config.json", "hidden_size", |v| v["num_attention_heads"] = json!(3));
    refused("text_encoder/config.json", "max_position_embeddings", |v| v["max_position_embeddings"] = json!(1));
    refused("text_encoder/config.json", "vocab_size", |v| v["vocab_size"] = json!(0));
    refused("text_encoder/config.json", "hidden_act", |v| v["hidden_act"] = json!("relu"));
}

#[test]
fn scheduler_configs_of_the_wrong_type_or_range_are_refused_naming_the_field() {
    use serde_json::json;
    let file = "scheduler/scheduler_config.json";
    refused(file, "prediction_type", |v| v["prediction_type"] = json!(5));
    refused(file, "beta_start", |v| v["beta_start"] = json!("0.1"));
    refused(file, "beta_start", |v| v["beta_start"] = json!(-0.1));
    refused(file, "beta_start", |v| v["beta_end"] = json!(1.5));
    refused(file, "steps_offset", |v| v["steps_offset"] = json!(1000));
    refused(file, "steps_offset", |v| v["steps_offset"] = json!(-1));
    refused(file, "num_train_timesteps", |v| v["num_train_timesteps"] = json!("1000"));
    refused(file, "set_alpha_to_one", |v| v["set_alpha_to_one"] = json!("yes"));
    refused(file, "timestep_spacing", |v| v["timestep_spacing"] = json!(["leading"]));
    refused(file, "trained_betas", |v| v["trained_betas"] = json!([0.1, 0.2]));
    // Not an object at all.
    let dir = checkpoint(&tiny::Spec::tiny());
    std::fs::write(dir.path().join(file), "[1,2]").unwrap();
    let e = open_err(dir.path());
    assert!(e.contains(file) && e.contains("expected a JSON object") && e.contains("an array"), "{e}");
    // A schedule whose ᾱ underflows is named in a line, not as thousands of numbers.
    let dir = checkpoint(&tiny::Spec::tiny());
    edit(dir.path(), file, |v| {
        v["num_train_timesteps"] = json!(100000);
        v["beta_start"] = json!(0.5);
        v["beta_end"] = json!(0.9);
    });
    let e = open_err(dir.path());
    assert!(e.contains(file) && e.contains("leaves (0, 1)") && e.len() < 400, "{e}");
    // `null` is "not set", as diffusers writes it: the default.
    let dir = checkpoint(&tiny::Spec::tiny());
    edit(dir.path(), file, |v| v["timestep_spacing"] = json!(null));
    open(dir.path());
}

#[test]
fn weights_that_are_folders_or_broken_links_are_not_called_missing() {
    let dir = checkpoint(&tiny::Spec::tiny());
    let w = dir.path().join("unet/diffusion_pytorch_model.safetensors");
    std::fs::remove_file(&w).unwrap();
    std::fs::create_dir(&w).unwrap();
    let e = open_err(dir.path());
    assert!(e.contains("`unet/diffusion_pytorch_model.safetensors` is a folder"), "{e}");
    std::fs::remove_dir(&w).unwrap();
    std::os::unix::fs::symlink("diffusion_pytorch_model.safetensors", &w).unwrap();
    let e = open_err(dir.path());
    assert!(e.contains("`unet/diffusion_pytorch_model.safetensors` is a symbolic link that leads nowhere"), "{e}");
    // A config that is a folder.
    let dir = checkpoint(&tiny::Spec::tiny());
    let c = dir.path().join("vae/config.json");
    std::fs::remove_file(&c).unwrap();
    std::fs::create_dir(&c).unwrap();
    let e = open_err(dir.path());
    assert!(e.contains("`vae/config.json` is a folder"), "{e}");
}

#[test]
fn tokenizer_ids_beyond_the_encoders_vocabulary_are_refused_at_open() {
    let dir = checkpoint(&tiny::Spec::tiny());
    edit(dir.path(), "text_encoder/config.json", |v| v["vocab_size"] = serde_json::json!(10));
    let e = open_err(dir.path());
    assert!(e.contains("tokenizer") && e.contains("`vocab_size` 10") && e.contains("text_encoder/config.json"), "{e}");
}

#[test]
fn weights_the_config_does_not_use_are_refused_at_load() {
    // The file holds two encoder layers; the config declares one: layer 1 would be unused.
    let dir = checkpoint(&tiny::Spec::tiny());
    edit(dir.path(), "text_encoder/config.json", |v| v["num_hidden_layers"] = serde_json::json!(1));
    let model = open(dir.path());
    let p = plan(&model, "sampler ddim(steps: 2)\nsamples 1\nsample s = \"cat\"");
    let e = comp_runtime::execute(&p, &model, &Device::Cpu, &ExecOptions::default()).unwrap_err().to_string();
    assert!(e.contains("model.safetensors") && e.contains("are not used") && e.contains("encoder.layers.1"), "{e}");
}

#[test]
fn bf16_on_the_cpu_is_refused_before_loading_with_why() {
    let dir = checkpoint(&tiny::Spec::tiny());
    // A weights file that cannot load: a refusal that came after loading would name it.
    let bogus = std::collections::HashMap::from([("conv_in.weight".to_string(), Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap())]);
    candle_core::safetensors::save(&bogus, dir.path().join("unet/diffusion_pytorch_model.safetensors")).unwrap();
    let model = open(dir.path());
    let p = plan(&model, "sampler ddim(steps: 2)\nsamples 1\ndtype bf16\nsample s = \"cat\"");
    let e = comp_runtime::execute(&p, &model, &Device::Cpu, &ExecOptions::default()).unwrap_err().to_string();
    assert!(e.contains("`dtype bf16` does not run on the CPU") && !e.contains("safetensors"), "{e}");
    assert!(sd::dtype_refusal(DType::F16, &Device::Cpu).is_none());
}

#[test]
fn an_infinity_out_of_the_vae_is_counted_not_clamped_to_white() {
    let dir = checkpoint(&tiny::Spec::tiny());
    let file = dir.path().join("vae/diffusion_pytorch_model.safetensors");
    let mut tensors = candle_core::safetensors::load(&file, &Device::Cpu).unwrap();
    let bias = tensors.get("decoder.conv_out.bias").unwrap();
    let inf = Tensor::full(f32::INFINITY, bias.dims(), &Device::Cpu).unwrap();
    tensors.insert("decoder.conv_out.bias".into(), inf);
    candle_core::safetensors::save(&tensors, &file).unwrap();
    let model = open(dir.path());
    let p = plan(&model, "sampler ddim(steps: 2)\nsamples 2\nsample s = \"cat\"");
    let out = comp_runtime::execute(&p, &model, &Device::Cpu, &ExecOptions::default()).unwrap();
    let counts = comp_output::counts(&out.samples).unwrap();
    assert_eq!(counts.non_finite, 2, "both pictures are +inf before the clamp");
}

#[test]
fn the_hugging_face_cache_refuses_refs_that_leave_the_snapshots_folder() {
    let base = tempfile::tempdir().unwrap();
    let cache = base.path().join("hub");
    let repo = cache.join("models--runwayml--stable-diffusion-v1-5");
    std::fs::create_dir_all(repo.join("snapshots/abc123")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::create_dir_all(base.path().join("elsewhere")).unwrap();
    let v = sd::variant("sd15").unwrap();
    let roots = vec![base.path().join("models")];
    let elsewhere = base.path().join("elsewhere").display().to_string();
    for rev in ["", ".", "\n", "..", "../../..", elsewhere.as_str(), "abc123/..", "/"] {
        std::fs::write(repo.join("refs/main"), rev).unwrap();
        let found = sd::folder::locate_in("sd15", v.hub, &roots, std::slice::from_ref(&cache)).unwrap();
        assert_eq!(found, sd::folder::Found::Folder(repo.join("snapshots/abc123")), "refs/main = {rev:?}: the newest snapshot");
    }
}

#[test]
fn a_model_card_that_cannot_be_read_is_reported_as_itself() {
    let base = tempfile::tempdir().unwrap();
    let roots = vec![base.path().join("models")];
    let card = roots[0].join("sd15/model.json");
    std::fs::create_dir_all(card.parent().unwrap()).unwrap();
    let v = sd::variant("sd15").unwrap();
    let err = || sd::folder::locate_in("sd15", v.hub, &roots, &[]).unwrap_err().to_string();
    std::fs::write(&card, "{\"diffusers\": ").unwrap();
    let e = err();
    assert!(e.contains("model card") && e.contains("model.json") && e.contains("EOF"), "{e}");
    std::fs::write(&card, "[1, 2]").unwrap();
    assert!(err().contains("expected {\"diffusers\""), "{}", err());
    std::fs::write(&card, "{\"diffusers\": \"\"}").unwrap();
    assert!(err().contains("expected {\"diffusers\""), "{}", err());
    // A link to itself (a loop) and a folder where the card should be.
    std::fs::remove_file(&card).unwrap();
    std::os::unix::fs::symlink("model.json", &card).unwrap();
    let e = err();
    assert!(e.contains("model card") && e.contains("model.json"), "{e}");
    std::fs::remove_file(&card).unwrap();
    std::fs::create_dir(&card).unwrap();
    assert!(err().contains("not a file"), "{}", err());
}

#[test]
fn a_sample_is_the_same_bits_whatever_is_drawn_beside_it() {
    // Issue 26: `--samples 2` differed from the first 2 of `--samples 5` by up to 2.6e-5, so
    // merged shards were not one run. On the CPU each sample's UNet pass is its own now.
    let dir = checkpoint(&tiny::Spec::tiny());
    let model = open(dir.path());
    let two = plan(&model, "sampler ddim(steps: 3)\nsamples 2\nseed 4\nsample s = \"cat\" AND NOT \"dog\"");
    let five = plan(&model, "sampler ddim(steps: 3)\nsamples 5\nseed 4\nsample s = \"cat\" AND NOT \"dog\"");
    let a = comp_runtime::execute(&two, &model, &Device::Cpu, &ExecOptions::default()).unwrap().samples;
    let b = comp_runtime::execute(&five, &model, &Device::Cpu, &ExecOptions::default()).unwrap().samples;
    let bits = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a), bits(&b.narrow(0, 0, 2).unwrap()));
    // A shard drawing indices 3..5 alone draws rows 3 and 4 of the whole run.
    let opts = ExecOptions { indices: Some(3..5), ..Default::default() };
    let c = comp_runtime::execute(&five, &model, &Device::Cpu, &opts).unwrap().samples;
    assert_eq!(bits(&c), bits(&b.narrow(0, 3, 2).unwrap()));
}

#[test]
fn every_scheduler_key_is_followed_or_refused_by_name() {
    use serde_json::json;
    let file = "scheduler/scheduler_config.json";
    // Refused by name unless at their defaults.
    refused(file, "thresholding", |v| v["thresholding"] = json!(true));
    refused(file, "use_karras_sigmas", |v| v["use_karras_sigmas"] = json!(true));
    refused(file, "variance_type", |v| v["variance_type"] = json!("learned_range"));
    refused(file, "my_new_setting", |v| v["my_new_setting"] = json!(1));
    refused(file, "rescale_betas_zero_snr", |v| v["rescale_betas_zero_snr"] = json!(true)); // with ε-prediction
    refused(file, "clip_sample", |v| v["clip_sample"] = json!("no"));
    refused(file, "trained_betas", |v| v["trained_betas"] = json!(vec![1.5; 1000]));
    // ... and accepted at their defaults, as diffusers writes every one of them.
    let dir = checkpoint(&tiny::Spec::tiny());
    edit(dir.path(), file, |v| {
        v["thresholding"] = json!(false);
        v["use_karras_sigmas"] = json!(false);
        v["variance_type"] = json!("fixed_small");
        v["solver_order"] = json!(2);
        v["_diffusers_version"] = json!("0.42.1");
    });
    let base = open(dir.path());
    // `trained_betas` is followed: SD's own β as a list give SD's schedule.
    let (b0, b1) = (0.00085f64.sqrt(), 0.012f64.sqrt());
    let betas: Vec<f64> = (0..1000).map(|i| (b0 + (b1 - b0) * i as f64 / 999.0).powi(2)).collect();
    let dir = checkpoint(&tiny::Spec::tiny());
    edit(dir.path(), file, |v| {
        v["trained_betas"] = json!(betas);
        v["beta_schedule"] = json!("linear"); // ignored by diffusers when `trained_betas` is given
    });
    let listed = open(dir.path());
    for t in [0, 1, 500, 999] {
        assert!((listed.schedule().alpha_bar(t) - base.schedule().alpha_bar(t)).abs() < 1e-12);
    }
    // `squaredcos_cap_v2` is improved DDPM's cosine schedule.
    let dir = checkpoint(&tiny::Spec::tiny());
    edit(dir.path(), file, |v| v["beta_schedule"] = json!("squaredcos_cap_v2"));
    let cos = open(dir.path());
    let want = comp_runtime::Schedule::cosine(1000, 0.008).unwrap();
    assert!((cos.schedule().alpha_bar(500) - want.alpha_bar(500)).abs() < 1e-12);
}

#[test]
fn clip_sample_follows_diffusers_per_sampler() {
    use comp_plan::Sampler;
    let (ddim, ddpm, euler) = (Sampler::Ddim { steps: 10, eta: 0.0 }, Sampler::Ddpm { steps: 10 }, Sampler::EulerA { steps: 10 });
    // The tiny folder says `clip_sample: false`: no sampler clips.
    let dir = checkpoint(&tiny::Spec::tiny());
    let m = open(dir.path());
    assert_eq!((m.x0_range(&ddim), m.x0_range(&ddpm), m.x0_range(&euler)), (None, None, None));
    // Without the key (SD 1.5's PNDM config as diffusers writes it): DDIM and DDPM clip to ±1
    // (`DDIMScheduler.from_config` defaults it to true), Euler never does.
    let file = "scheduler/scheduler_config.json";
    let dir = checkpoint(&tiny::Spec::tiny());
    edit(dir.path(), file, |v| {
        v.as_object_mut().unwrap().remove("clip_sample");
    });
    let m = open(dir.path());
    assert_eq!((m.x0_range(&ddim), m.x0_range(&ddpm), m.x0_range(&euler)), (Some((-1.0, 1.0)), Some((-1.0, 1.0)), None));
    // `clip_sample_range` is followed.
    let dir = checkpoint(&tiny::Spec::tiny());
    edit(dir.path(), file, |v| {
        v["clip_sample"] = serde_json::json!(true);
        v["clip_sample_range"] = serde_json::json!(2.5);
    });
    assert_eq!(open(dir.path()).x0_range(&ddim), Some((-2.5, 2.5)));
}

#[test]
fn a_weights_file_without_the_networks_tensors_is_not_reported_found() {
    // A text encoder whose tensors are named in neither transformers layout: `comp models`
    // (through `Files::check`) reports it before any run, naming the file.
    let dir = checkpoint(&tiny::Spec::tiny());
    let path = dir.path().join("text_encoder/model.safetensors");
    let tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    let renamed: std::collections::HashMap<String, Tensor> = tensors.into_iter().map(|(k, v)| (format!("clip.{k}"), v)).collect();
    candle_core::safetensors::save(&renamed, &path).unwrap();
    let e = sd::folder::Files::check(dir.path()).unwrap_err().to_string();
    assert!(e.contains("text_encoder/model.safetensors") && e.contains("not a CLIP text encoder") && e.contains("clip."), "{e}");
    // The layout transformers 5 writes (no `text_model.` prefix) loads, and encodes as the
    // prefixed one does.
    let dir = checkpoint(&tiny::Spec::tiny());
    let prefixed = open(dir.path());
    let p = plan(&prefixed, "sampler ddim(steps: 2)\nsamples 1\nsample s = \"cat\"");
    let want = prefixed.prepare_run(&p).unwrap().prompt_states("red cat").unwrap();
    let path = dir.path().join("text_encoder/model.safetensors");
    let tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    let bare: std::collections::HashMap<String, Tensor> =
        tensors.into_iter().map(|(k, v)| (k.strip_prefix("text_model.").unwrap_or(&k).to_string(), v)).collect();
    candle_core::safetensors::save(&bare, &path).unwrap();
    let model = open(dir.path());
    assert_eq!(max_diff(&model.prepare_run(&p).unwrap().prompt_states("red cat").unwrap(), &want), 0.0);
    // A file that is not safetensors at all.
    std::fs::write(&path, b"not a safetensors file").unwrap();
    let e = sd::folder::Files::check(dir.path()).unwrap_err().to_string();
    assert!(e.contains("is not a safetensors file"), "{e}");
}

#[test]
fn pictures_are_decoded_one_at_a_time_until_candle_decodes_batches_right() {
    // candle 0.11's `Linear` on a transposed batched input is wrong for every row after the
    // first, so `AutoEncoderKL::decode` of a batch of 2 spoils the second picture (its VAE's
    // mid-block attention takes that path; reported on a diffusers-built VAE, issue 28; this
    // tiny one does not show it). comp decodes one picture at a time: each picture of a batch
    // must be bit-identical to decoding it alone, which a batched decode would break.
    let dir = checkpoint(&tiny::Spec::tiny());
    let model = open(dir.path());
    let p = plan(&model, "sampler ddim(steps: 2)\nsamples 1\nsample s = \"cat\"");
    let run = model.prepare_run(&p).unwrap();
    let z = start(11, 2);
    let both = run.decode(&z).unwrap();
    for i in 0..2 {
        let alone = run.decode(&z.narrow(0, i, 1).unwrap()).unwrap();
        assert_eq!(max_diff(&both.narrow(0, i, 1).unwrap(), &alone), 0.0, "picture {i}");
    }
}

//! Stable Diffusion 1.x and 2.x from weights already on the user's disk (never downloaded).
//!
//! | file | what |
//! | --- | --- |
//! | this file | the four model names, their vocabularies, [`StableDiffusion`] (the [`Denoiser`]) and [`SdRun`] (one run of it) |
//! | [`folder`] | finding a diffusers folder (model card or Hugging Face cache) and checking its files |
//! | [`config`] | the folder's `config.json` files, read into candle-transformers' UNet and VAE configs |
//! | [`tokenizer`] | CLIP's BPE tokenizer (the `tokenizers` crate) and the 77-token cut |
//! | [`clip`] | the CLIP text encoder |
//! | [`unet`] | the UNet on the CPU in f32: channel-last, the clevr-pos kernels, exact GELU |
//! | `kernels` | its transformer arithmetic: linear layers with bias and residual in one GEMM, GEGLU, attention |
//! | [`tiny`] | tiny random checkpoints in the diffusers layout, for tests and benchmarks |
//!
//! A run: [`Denoiser::prepare`] loads the weights in the plan's `dtype` (once; again only when a
//! later run asks another dtype) and returns the run, an [`SdRun`], which encodes each unique
//! prompt of the plan once (`null`, the base of classifier-free guidance, is the empty prompt
//! `""`) and owns those encodings: they are dropped with the run, so a model that serves many
//! runs (the REPL's) keeps none of their prompts. Every step is then **one** UNet call over all
//! active conditions' rows, each row cross-attending to its own prompt (on the CPU made as one
//! pass per sample over its K rows, so that sample i's arithmetic is the same whatever is drawn
//! beside it); a v-prediction model's output is turned into ε there, so the samplers and the
//! fused combination see ε as for every model; [`Prepared::decode`] runs the VAE at the end,
//! one picture at a time.

pub mod clip;
pub mod config;
pub mod folder;
mod kernels;
pub mod tiny;
pub mod tokenizer;
pub mod unet;

use candle_core::{bail, DType, Device, Result, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::stable_diffusion::{unet_2d::UNet2DConditionModel, vae::AutoEncoderKL};
use comp_plan::{Condition, ConditionKind, DefaultBase, Dtype, ImageSize, ModelInfo, SamplePlan, Sampler};
use comp_runtime::{Denoiser, ModelOutput, Prepared, Schedule, Spacing};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::LoadResult;
use config::{Prediction, SchedulerJson, UnetJson, VaeJson};

/// One checkpoint family `comp` knows by name.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    pub name: &'static str,
    pub description: &'static str,
    /// Hugging Face repositories that hold it, searched in the cache in this order.
    pub hub: &'static [&'static str],
    /// Its training resolution, the default `size`.
    pub size: usize,
    pub prediction: Prediction,
    pub default_steps: usize,
    pub default_scale: f64,
    pub default_base: DefaultBase,
    pub default_sampler: fn(usize) -> Sampler,
}

/// The checkpoints supported (docs/stable-diffusion.md lists them with their sources).
pub const VARIANTS: [Variant; 4] = [
    Variant {
        name: "sd15",
        description: "Stable Diffusion 1.x (1.4, 1.5): text prompts, 512x512, ε-prediction; weights from your disk",
        hub: &["stable-diffusion-v1-5/stable-diffusion-v1-5", "runwayml/stable-diffusion-v1-5", "CompVis/stable-diffusion-v1-4"],
        size: 512,
        prediction: Prediction::Epsilon,
        default_steps: 30,
        default_scale: 7.5,
        default_base: DefaultBase::Null,
        default_sampler: |steps| Sampler::Dpmpp2m { steps },
    },
    Variant {
        name: "sd21",
        description: "Stable Diffusion 2.1 (768): text prompts, 768x768, v-prediction; weights from your disk",
        hub: &["stabilityai/stable-diffusion-2-1"],
        size: 768,
        prediction: Prediction::V,
        default_steps: 30,
        default_scale: 7.5,
        default_base: DefaultBase::Null,
        default_sampler: |steps| Sampler::Dpmpp2m { steps },
    },
    Variant {
        name: "sd21-base",
        description: "Stable Diffusion 2.1-base: text prompts, 512x512, ε-prediction; weights from your disk",
        hub: &["stabilityai/stable-diffusion-2-1-base"],
        size: 512,
        prediction: Prediction::Epsilon,
        default_steps: 30,
        default_scale: 7.5,
        default_base: DefaultBase::Null,
        default_sampler: |steps| Sampler::Dpmpp2m { steps },
    },
    Variant {
        name: "sd-turbo",
        description: "SD-Turbo (distilled 2.1): text prompts, 512x512, 1 to 4 steps without guidance; weights from your disk",
        hub: &["stabilityai/sd-turbo"],
        size: 512,
        prediction: Prediction::Epsilon,
        default_steps: 1,
        // Distilled without guidance: the prompt's own prediction, `base none`, scale 1.
        default_scale: 1.0,
        default_base: DefaultBase::None,
        default_sampler: |steps| Sampler::EulerA { steps },
    },
];

/// The variant named `name`.
pub fn variant(name: &str) -> Option<&'static Variant> {
    VARIANTS.iter().find(|v| v.name == name)
}

/// What the checker knows of a variant: text prompts, `size`, `dtype`; no energies.
pub fn info(v: &Variant) -> ModelInfo {
    ModelInfo {
        name: v.name.into(),
        description: v.description.into(),
        data_shape: vec![4, v.size / 8, v.size / 8],
        concepts: vec![],
        text: true,
        energies: false,
        default_scale: v.default_scale,
        default_base: v.default_base,
        default_steps: v.default_steps,
        default_sampler: Some((v.default_sampler)(v.default_steps)),
        max_steps: 1000,
        default_samples: 4,
        extra_settings: vec![],
        image_size: Some(ImageSize { default: [v.size, v.size], multiple_of: 8, min: 64, max: 2048, latent_channels: 4 }),
        dtypes: true,
        // Every SD 1.x/2.x checkpoint's scheduler config (checked against the folder's own
        // when it loads); the latent space is the SD VAE's (factor 8, 4 channels, ×0.18215).
        schedule: Some("scaled_linear(T=1000, 0.00085..0.012)".into()),
        latent_space: Some("sd-vae-f8c4".into()),
        classifier: false,
    }
}

/// The UNet: this project's on the CPU in f32 ([`unet`]), candle-transformers' elsewhere (a GPU,
/// f16/bf16, a downsampling padding other than 1) or when asked for
/// ([`StableDiffusion::use_candle_unet`], or `COMP_SD_CANDLE_UNET=1` in the environment), to
/// compare the two.
// One per loaded checkpoint: the variants' sizes (0.5 and 1.1 kB) do not matter.
#[allow(clippy::large_enum_variant)]
enum Unet {
    Own(unet::Unet),
    Candle(UNet2DConditionModel),
}

impl Unet {
    fn forward(&self, x: &Tensor, t: f64, states: &Tensor) -> Result<Tensor> {
        match self {
            Unet::Own(u) => u.forward(x, t, states),
            Unet::Candle(u) => u.forward(x, t, states),
        }
    }
}

/// The networks, loaded in one dtype.
struct Nets {
    dtype: DType,
    unet: Unet,
    vae: AutoEncoderKL,
    text: clip::ClipTextEncoder,
}

/// A Stable Diffusion checkpoint, ready to sample (see the module doc).
pub struct StableDiffusion {
    info: ModelInfo,
    files: folder::Files,
    device: Device,
    unet_json: UnetJson,
    vae_json: VaeJson,
    clip_json: clip::ClipConfig,
    scheduler: SchedulerJson,
    schedule: Schedule,
    tokenizer: tokenizer::ClipTokenizer,
    /// The nets of the last run's dtype (a run holds its own `Arc` of them).
    nets: Mutex<Option<Arc<Nets>>>,
    /// Run candle-transformers' UNet on the CPU too ([`StableDiffusion::use_candle_unet`]).
    candle_unet: AtomicBool,
}

/// A weights file's tensor names, and those a network asked for while it was built.
struct Recorded {
    names: Vec<String>,
    used: Arc<Mutex<HashSet<String>>>,
}

impl Recorded {
    /// Refuses a file holding tensors the network never asked for: its config declares fewer
    /// layers or blocks than the file holds, and the extra weights would be silently unused.
    /// (`position_ids`, a buffer older `transformers` saved with the text encoder, is no
    /// weight.)
    fn all_used(&self, file: &Path, config: &Path, fields: &str) -> Result<()> {
        let used = self.used.lock().map_err(|_| candle_core::Error::Msg("poisoned".into()))?;
        let mut unused: Vec<&String> = self.names.iter().filter(|n| !used.contains(*n) && !n.ends_with("position_ids")).collect();
        if unused.is_empty() {
            return Ok(());
        }
        unused.sort();
        let shown: Vec<String> = unused.iter().take(3).map(|n| format!("`{n}`")).collect();
        bail!(
            "{}: {} tensors are not used by the network {} describes (e.g. {}): does its {fields} declare fewer layers than the file holds? comp refuses rather than run with part of the weights",
            file.display(),
            unused.len(),
            config.display(),
            shown.join(", ")
        )
    }
}

/// A memory-mapped safetensors file that records the names asked for (see [`Recorded`]).
struct Recording {
    file: candle_core::safetensors::MmapedSafetensors,
    used: Arc<Mutex<HashSet<String>>>,
}

impl Recording {
    fn note(&self, name: &str) {
        if let Ok(mut used) = self.used.lock() {
            used.insert(name.to_string());
        }
    }
}

impl candle_nn::var_builder::SimpleBackend for Recording {
    fn get(&self, s: candle_core::Shape, name: &str, h: candle_nn::Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        self.note(name);
        candle_nn::var_builder::SimpleBackend::get(&self.file, s, name, h, dtype, dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> Result<Tensor> {
        self.note(name);
        candle_nn::var_builder::SimpleBackend::get_unchecked(&self.file, name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        candle_nn::var_builder::SimpleBackend::contains_tensor(&self.file, name)
    }
}

/// Why `dtype` cannot run on `device`, before anything is loaded: candle's CPU backend has no
/// bf16 convolutions, so a bf16 run on the CPU would load every weight and fail at its first
/// UNet call.
pub fn dtype_refusal(dtype: DType, device: &Device) -> Option<String> {
    (dtype == DType::BF16 && device.is_cpu()).then(|| {
        "`dtype bf16` does not run on the CPU (candle's CPU backend has no bf16 convolutions): use `f32` (the CPU default) or run on a GPU with `--device cuda`".to_string()
    })
}

pub(crate) fn dtype_of(d: Dtype) -> DType {
    match d {
        Dtype::F16 => DType::F16,
        Dtype::Bf16 => DType::BF16,
        Dtype::F32 => DType::F32,
    }
}

impl StableDiffusion {
    /// Checks the diffusers folder `root` and reads its configs and tokenizer; the weights
    /// are loaded by the first run (in its dtype). Errors name the file and what was expected.
    pub fn open(v: &Variant, root: &Path, device: &Device) -> LoadResult<Self> {
        let files = folder::Files::check(root)?;
        let unet_json: UnetJson = config::read_json(&files.unet_config)?;
        unet_json.to_candle(&files.unet_config)?;
        let vae_json: VaeJson = config::read_json(&files.vae_config)?;
        vae_json.check(&files.vae_config)?;
        let clip_json: clip::ClipConfig = config::read_json(&files.text_config)?;
        clip_json.check(&files.text_config)?;
        let scheduler = match &files.scheduler {
            Some(p) => SchedulerJson::read(p, v.prediction)?,
            None => SchedulerJson::sd_default(v.prediction),
        };
        if unet_json.cross_attention_dim != clip_json.hidden_size {
            return Err(candle_core::Error::Msg(format!(
                "{}: the UNet cross-attends to {}-wide text states but the text encoder ({}) gives {}: the folder mixes two checkpoints",
                root.display(),
                unet_json.cross_attention_dim,
                files.text_config.display(),
                clip_json.hidden_size
            ))
            .into());
        }
        if unet_json.in_channels != vae_json.latent_channels || unet_json.out_channels != vae_json.latent_channels {
            return Err(candle_core::Error::Msg(format!(
                "{}: the UNet takes {} channels and gives {}, but the VAE's latents have {}; comp runs text-to-image UNets (not inpainting or depth ones)",
                root.display(),
                unet_json.in_channels,
                unet_json.out_channels,
                vae_json.latent_channels
            )).into());
        }
        let native = scheduler.schedule(files.scheduler.as_deref().unwrap_or(root))?;
        let first = native.alpha_bar(0);
        let schedule = if scheduler.set_alpha_to_one { native } else { native.with_final_alpha_bar(first) };
        let tokenizer = tokenizer::ClipTokenizer::load(&files.tokenizer, clip_json.max_position_embeddings)?;
        if let Some(max) = tokenizer.max_id() {
            if max as usize >= clip_json.vocab_size {
                return Err(candle_core::Error::Msg(format!(
                    "{}: the tokenizer has ids up to {max}, but the text encoder ({}) has `vocab_size` {}: the folder mixes two checkpoints",
                    files.tokenizer.display(),
                    files.text_config.display(),
                    clip_json.vocab_size
                )).into());
            }
        }
        let mut info = info(v);
        let factor = vae_json.factor();
        info.max_steps = scheduler.train_timesteps;
        if let Some(s) = &mut info.image_size {
            s.multiple_of = factor;
            s.latent_channels = vae_json.latent_channels;
            s.min = s.min.max(factor);
        }
        info.data_shape = info.sample_shape(None);
        Ok(Self {
            info,
            files,
            device: device.clone(),
            unet_json,
            vae_json,
            clip_json,
            scheduler,
            schedule,
            tokenizer,
            nets: Mutex::new(None),
            candle_unet: AtomicBool::new(std::env::var("COMP_SD_CANDLE_UNET").is_ok_and(|v| v == "1")),
        })
    }

    /// Finds variant `name`'s folder (see [`folder`]) and opens it.
    pub fn locate_and_open(name: &str, device: &Device) -> LoadResult<Self> {
        let Some(v) = variant(name) else { return Err(candle_core::Error::Msg(format!("unknown Stable Diffusion model `{name}`")).into()) };
        match folder::locate(v.name, v.hub)? {
            folder::Found::Folder(dir) => Self::open(v, &dir, device),
            folder::Found::Missing(searched) => Err(candle_core::Error::Msg(folder::missing_message(v.name, &searched)).into()),
        }
    }

    /// The checkpoint's files.
    pub fn files(&self) -> &folder::Files {
        &self.files
    }

    /// The tokenizer (for the 77-token warning).
    pub fn tokenizer(&self) -> &tokenizer::ClipTokenizer {
        &self.tokenizer
    }

    /// Runs candle-transformers' UNet on the CPU as well (`true`) or this project's own (`false`,
    /// the default), from the next load of the nets on (the next run prepared): to compare the
    /// two.
    pub fn use_candle_unet(&self, yes: bool) {
        self.candle_unet.store(yes, Ordering::Relaxed);
        if let Ok(mut slot) = self.nets.lock() {
            *slot = None;
        }
    }

    /// The model prepared for a run of `plan` ([`Denoiser::prepare`] boxes it): the nets
    /// loaded in the plan's dtype, and each of the plan's prompts encoded once. A dtype the
    /// device cannot run is refused first ([`dtype_refusal`]).
    pub fn prepare_run(&self, plan: &SamplePlan) -> Result<SdRun<'_>> {
        let dtype = self.dtype_for(plan.settings.dtype);
        if let Some(why) = dtype_refusal(dtype, &self.device) {
            bail!("{why}")
        }
        let nets = self.nets(dtype)?;
        let mut run = SdRun {
            model: self,
            nets,
            embeddings: HashMap::new(),
            unet_calls: AtomicUsize::new(0),
            unet_nanos: AtomicU64::new(0),
            prompts_encoded: AtomicUsize::new(0),
        };
        for c in &plan.conditions {
            let prompt = Self::prompt_of(c)?;
            if !run.embeddings.contains_key(prompt) {
                let e = run.encode(prompt)?;
                run.embeddings.insert(prompt.to_string(), e);
            }
        }
        Ok(run)
    }

    /// The dtype a run computes in: the plan's, else f16 on a GPU and f32 on the CPU (whose
    /// f16 matrix products are slower than f32 ones).
    pub fn dtype_for(&self, wanted: Option<Dtype>) -> DType {
        match wanted {
            Some(d) => dtype_of(d),
            None if self.device.is_cpu() => DType::F32,
            None => DType::F16,
        }
    }

    /// The nets in `dtype`, loading them (and dropping another dtype's) when needed.
    fn nets(&self, dtype: DType) -> Result<Arc<Nets>> {
        let mut slot = self.nets.lock().map_err(|_| candle_core::Error::Msg("a previous run panicked while loading".into()))?;
        if let Some(n) = slot.as_ref().filter(|n| n.dtype == dtype) {
            return Ok(n.clone());
        }
        *slot = None;
        let load = |p: &PathBuf| -> Result<(VarBuilder<'static>, Recorded)> {
            // Safety is the safetensors crate's and candle's: the files are mapped read-only.
            #[allow(unsafe_code)]
            let file = unsafe { candle_core::safetensors::MmapedSafetensors::new(p) }.map_err(ctx(p))?;
            let recorded = Recorded { names: file.tensors().into_iter().map(|(n, _)| n).collect(), used: Default::default() };
            let backend = Recording { file, used: recorded.used.clone() };
            Ok((VarBuilder::from_backend(Box::new(backend), dtype, self.device.clone()), recorded))
        };
        fn ctx(p: &Path) -> impl Fn(candle_core::Error) -> candle_core::Error + '_ {
            move |e| e.context(format!("loading {}", p.display()))
        }
        let f = &self.files;
        let unet_cfg = self.unet_json.to_candle(&f.unet_config)?;
        let (vb, seen) = load(&f.unet)?;
        let candle_asked = self.candle_unet.load(Ordering::Relaxed);
        let unet = if self.device.is_cpu() && dtype == DType::F32 && unet::supports(&self.unet_json) && !candle_asked {
            Unet::Own(unet::Unet::new(&self.unet_json, vb).map_err(ctx(&f.unet))?)
        } else {
            Unet::Candle(
                UNet2DConditionModel::new(vb, self.unet_json.in_channels, self.unet_json.out_channels, false, unet_cfg)
                    .map_err(ctx(&f.unet))?,
            )
        };
        seen.all_used(&f.unet, &f.unet_config, "`layers_per_block`, `transformer_layers_per_block` or `block_out_channels`")?;
        let (vb, seen) = load(&f.vae)?;
        let vae = AutoEncoderKL::new(vb, 3, 3, self.vae_json.to_candle()).map_err(ctx(&f.vae))?;
        seen.all_used(&f.vae, &f.vae_config, "`layers_per_block` or `block_out_channels`")?;
        let (vb, seen) = load(&f.text)?;
        let text = clip::ClipTextEncoder::new(vb, &self.clip_json).map_err(ctx(&f.text))?;
        seen.all_used(&f.text, &f.text_config, "`num_hidden_layers`")?;
        let nets = Arc::new(Nets { dtype, unet, vae, text });
        *slot = Some(nets.clone());
        Ok(nets)
    }

    /// The prompt a condition stands for: its text, or `""` for `null`.
    fn prompt_of(c: &Condition) -> Result<&str> {
        match &c.kind {
            ConditionKind::Text { text } => Ok(text),
            ConditionKind::Null => Ok(""),
            ConditionKind::Concept { .. } => bail!("Stable Diffusion takes text prompts, not the concept `{c}`"),
        }
    }
}

impl Denoiser for StableDiffusion {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    fn spacing(&self) -> Spacing {
        match self.scheduler.spacing.as_str() {
            "trailing" => Spacing::Trailing,
            "linspace" => Spacing::Even,
            _ => Spacing::Leading { offset: self.scheduler.steps_offset },
        }
    }

    fn prepare(&self, plan: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        Ok(Box::new(self.prepare_run(plan)?))
    }

    /// `clip_sample`: x̂₀ clipped to ±`clip_sample_range` for `ddim` and `ddpm`, as diffusers'
    /// DDIM and DDPM schedulers do with this folder's config (see [`SchedulerJson::clips`]).
    /// comp then samples with the ε the clipped x̂₀ implies, which is diffusers' DDIM with
    /// `use_clipped_model_output=True` (its DDPM always does so).
    fn x0_range(&self, sampler: &Sampler) -> Option<(f32, f32)> {
        let r = self.scheduler.clip_sample_range as f32;
        self.scheduler.clips(sampler).then_some((-r, r))
    }

    /// The UNet's largest activations per row: at the highest resolution (the latent's h·w
    /// cells), its attention matrices (heads·(h·w)² for the scores and as much for their
    /// softmax) and some twenty feature maps of the first block's width.
    fn working_bytes_per_row(&self, sample_shape: &[usize]) -> usize {
        let hw: usize = sample_shape.iter().skip(1).product();
        let width = self.unet_json.block_out_channels.first().copied().unwrap_or(320);
        let bytes = 4;
        (2 * self.unet_json.first_heads() * hw * hw + 20 * width * hw).saturating_mul(bytes)
    }

    /// Decoding one picture: about eight feature maps of the VAE's widest full-resolution
    /// layer, plus its mid-block attention over the latent cells.
    fn fixed_working_bytes(&self, sample_shape: &[usize]) -> usize {
        let hw: usize = sample_shape.iter().skip(1).product();
        let f = self.vae_json.factor();
        let pixels = hw * f * f;
        let width = self.vae_json.block_out_channels.iter().copied().max().unwrap_or(512);
        (8 * width * pixels / 4 + 2 * hw * hw).saturating_mul(4)
    }
}

/// Stable Diffusion prepared for one run ([`StableDiffusion::prepare_run`]): the nets in the
/// run's dtype, the encoder states of the run's prompts (its own: dropped with it), and the
/// run's counters.
pub struct SdRun<'a> {
    model: &'a StableDiffusion,
    nets: Arc<Nets>,
    /// Prompt → its encoder states `[1, 77, D]`, in the nets' dtype: the plan's prompts.
    embeddings: HashMap<String, Tensor>,
    unet_calls: AtomicUsize,
    /// Wall time inside the UNet, for the benchmark's account of the composed step's overhead.
    unet_nanos: AtomicU64,
    prompts_encoded: AtomicUsize,
}

impl SdRun<'_> {
    /// UNet calls of this run: one per step, over all active conditions' rows (on the CPU made
    /// as one pass per sample, so that a sample's arithmetic does not depend on the batch).
    pub fn unet_calls(&self) -> usize {
        self.unet_calls.load(Ordering::Relaxed)
    }

    /// Wall time this run spent in UNet calls (the rest of a composed step is the plumbing).
    pub fn unet_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.unet_nanos.load(Ordering::Relaxed))
    }

    /// Prompts this run put through the text encoder: each of its plan's once (and any asked
    /// of [`SdRun::prompt_states`] besides).
    pub fn prompts_encoded(&self) -> usize {
        self.prompts_encoded.load(Ordering::Relaxed)
    }

    /// The prompts this run holds encoder states of (its plan's; `""` for `null`), sorted.
    pub fn prompts(&self) -> Vec<&str> {
        let mut p: Vec<&str> = self.embeddings.keys().map(String::as_str).collect();
        p.sort_unstable();
        p
    }

    /// A prompt's encoder states `[1, 77, D]`: the run's own for a prompt of its plan, else
    /// encoded now (and not kept).
    pub fn prompt_states(&self, prompt: &str) -> Result<Tensor> {
        match self.embeddings.get(prompt) {
            Some(e) => Ok(e.clone()),
            None => self.encode(prompt),
        }
    }

    /// The bare batched UNet pass the composed step wraps, for the speed benchmark: `x`
    /// `[B, C, h, w]`, `states` `[B, 77, D]` (see [`SdRun::prompt_states`]).
    pub fn unet_forward(&self, x: &Tensor, t: usize, states: &Tensor) -> Result<Tensor> {
        self.nets.unet.forward(&x.to_dtype(self.nets.dtype)?, t as f64, states)
    }

    /// Runs `prompt` through the text encoder: `[1, 77, D]`.
    fn encode(&self, prompt: &str) -> Result<Tensor> {
        let tokens = self.model.tokenizer.encode(prompt)?;
        let ids = Tensor::new(tokens.ids.as_slice(), &self.model.device)?.unsqueeze(0)?;
        let e = self.nets.text.forward(&ids)?;
        self.prompts_encoded.fetch_add(1, Ordering::Relaxed);
        Ok(e)
    }

    /// The encoder states of a prompt of the run's plan.
    fn embedding(&self, prompt: &str) -> Result<Tensor> {
        match self.embeddings.get(prompt) {
            Some(e) => Ok(e.clone()),
            None => bail!("Stable Diffusion: the prompt {prompt:?} is not one of the plan this run was prepared for"),
        }
    }

    /// One UNet pass over `x` `[B, C, h, w]` at native timestep `t`, each row attending to its
    /// row of `states` `[B, 77, D]`; ε (v turned into ε) in f32.
    fn unet_eps(&self, x: &Tensor, t: usize, states: &Tensor) -> Result<Tensor> {
        let started = std::time::Instant::now();
        let out = self.nets.unet.forward(&x.to_dtype(self.nets.dtype)?, t as f64, states)?.to_dtype(DType::F32)?;
        self.unet_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        match self.model.scheduler.prediction {
            Prediction::Epsilon => Ok(out),
            // v = √ᾱ·ε − √(1−ᾱ)·x₀ and x = √ᾱ·x₀ + √(1−ᾱ)·ε give ε = √ᾱ·v + √(1−ᾱ)·x.
            Prediction::V => {
                let ab = self.model.schedule.alpha_bar(t);
                out.affine(ab.sqrt(), 0.0)? + x.affine((1.0 - ab).sqrt(), 0.0)?
            }
        }
    }
}

impl Prepared for SdRun<'_> {
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput> {
        if want_energy {
            bail!("Stable Diffusion has no energies (`OR`, MALA and HMC need them)")
        }
        let rows = x.dim(0)?;
        let k = conds.len();
        if k == 0 || rows % k != 0 {
            bail!("{rows} rows do not split into {k} conditions")
        }
        let n = rows / k;
        let ts: Vec<f32> = t.to_dtype(DType::F32)?.to_vec1()?;
        let t0 = ts[0];
        if ts.iter().any(|&v| v != t0) || !(t0 >= 0.0 && (t0 as usize) < self.model.schedule.len()) {
            bail!("Stable Diffusion evaluates one timestep per call, in 0..{}", self.model.schedule.len())
        }
        let prompts = conds.iter().map(|c| self.embedding(StableDiffusion::prompt_of(c)?)).collect::<Result<Vec<_>>>()?;
        self.unet_calls.fetch_add(1, Ordering::Relaxed);
        if self.model.device.is_cpu() && n > 1 {
            // On the CPU, one UNet pass per sample over its K rows: a sample's arithmetic is then
            // the same whatever else is drawn with it (`--samples 2` gives exactly the first 2
            // of `--samples 5`, and merged shards equal one run), and it costs nothing here:
            // a CPU pass takes time in proportion to its rows (docs/stable-diffusion.md, Speed).
            let states = Tensor::cat(&prompts, 0)?; // [K, 77, D]
            let dims = x.dims().to_vec();
            let by_cond = x.reshape([&[k, n][..], &dims[1..]].concat())?; // [K, N, C, h, w]
            let parts = (0..n)
                .map(|j| {
                    let xj = by_cond.narrow(1, j, 1)?.squeeze(1)?.contiguous()?;
                    self.unet_eps(&xj, t0 as usize, &states)?.unsqueeze(1)
                })
                .collect::<Result<Vec<_>>>()?;
            let eps = Tensor::cat(&parts, 1)?.reshape(dims)?;
            return Ok(ModelOutput { eps, energy: None });
        }
        // Each condition's states, repeated for its block of N rows: [K·N, 77, D].
        let states = prompts.iter().map(|e| e.repeat((n, 1, 1))).collect::<Result<Vec<_>>>()?;
        let states = Tensor::cat(&states, 0)?;
        let eps = self.unet_eps(x, t0 as usize, &states)?;
        Ok(ModelOutput { eps, energy: None })
    }

    /// Latents → pixels in [−1, 1], one picture at a time (the VAE decoder's activations at
    /// full resolution are the largest of the run).
    fn decode(&self, x: &Tensor) -> Result<Tensor> {
        let nets = &self.nets;
        let scale = self.model.vae_json.scaling_factor;
        let images = (0..x.dim(0)?)
            .map(|i| {
                let z = (x.narrow(0, i, 1)?.to_dtype(nets.dtype)? * (1.0 / scale))?;
                let img = nets.vae.decode(&z)?.to_dtype(DType::F32)?;
                // 0·x is 0 where x is finite and NaN where it is ±inf or NaN: added after the
                // clamp, it keeps an infinity from hiding as a saturated pixel, so the run's
                // non-finite count sees it as it sees NaNs.
                let poison = img.affine(0.0, 0.0)?;
                img.clamp(-1f32, 1f32)? + poison
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&images, 0)
    }
}

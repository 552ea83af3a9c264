//! Tiny random Stable Diffusion checkpoints in the diffusers layout: the same files a real
//! checkpoint has (`unet/`, `vae/`, `text_encoder/`, `tokenizer/` with `vocab.json` +
//! `merges.txt`, `scheduler/`), with networks of a few thousand weights, so that tests go
//! through the real loading code in milliseconds. The weights are candle-nn's initialisation
//! (random), saved from a `VarMap` after building each network with candle-transformers' (or
//! our CLIP's) constructors, so every tensor name and shape is what a loader asks for.
//!
//! [`Spec::sd15_unet`] keeps the full-size SD 1.5 UNet (random) with a tiny VAE and text
//! encoder: the speed benchmark's checkpoint.

use candle_core::{DType, Device, Result};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::stable_diffusion::{unet_2d::UNet2DConditionModel, vae::AutoEncoderKL};
use serde_json::json;
use std::path::Path;

use super::clip::{ClipConfig, ClipTextEncoder};
use super::config::{UnetJson, VaeJson};

/// What to write.
#[derive(Clone, Debug)]
pub struct Spec {
    pub unet: serde_json::Value,
    pub vae: serde_json::Value,
    pub text: serde_json::Value,
    pub scheduler: serde_json::Value,
    /// Write the weights as `*.fp16.safetensors` in f16 (as `--variant fp16` downloads are).
    pub fp16_files: bool,
}

/// The words [`vocabulary`] merges whole (anything else tokenizes byte by byte).
pub const WORDS: [&str; 4] = ["cat", "dog", "red", "snow"];

impl Spec {
    /// A tiny SD 1.x: ε-prediction, QuickGELU text encoder, 64-pixel pictures as 8×8 latents.
    pub fn tiny() -> Spec {
        Spec {
            unet: json!({
                "_class_name": "UNet2DConditionModel",
                "in_channels": 4, "out_channels": 4,
                "block_out_channels": [32, 64],
                "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
                "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
                "layers_per_block": 1,
                "attention_head_dim": 2,
                "cross_attention_dim": 32,
                "norm_num_groups": 32,
                "sample_size": 8
            }),
            vae: json!({
                "_class_name": "AutoencoderKL",
                "block_out_channels": [8, 8, 16, 16],
                "layers_per_block": 1,
                "latent_channels": 4,
                "norm_num_groups": 4,
                "scaling_factor": 0.18215
            }),
            text: json!({
                "vocab_size": vocabulary().0.len(),
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "max_position_embeddings": 77,
                "hidden_act": "quick_gelu"
            }),
            scheduler: json!({
                "_class_name": "PNDMScheduler",
                "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
                "num_train_timesteps": 1000, "prediction_type": "epsilon",
                "set_alpha_to_one": false, "steps_offset": 1, "skip_prk_steps": true,
                "clip_sample": false, "trained_betas": null
            }),
            fp16_files: false,
        }
    }

    /// [`Spec::tiny`] as SD 2.x is: v-prediction, GELU encoder, `!` padding (set in [`write`]).
    pub fn tiny_v() -> Spec {
        let mut s = Spec::tiny();
        s.scheduler["prediction_type"] = json!("v_prediction");
        s.text["hidden_act"] = json!("gelu");
        s.unet["use_linear_projection"] = json!(true);
        s
    }

    /// The full-size SD 1.5 UNet (random weights: speed does not depend on them) with a tiny
    /// VAE and a one-layer, 768-wide text encoder.
    pub fn sd15_unet() -> Spec {
        let mut s = Spec::tiny();
        s.unet = json!({
            "_class_name": "UNet2DConditionModel",
            "in_channels": 4, "out_channels": 4,
            "block_out_channels": [320, 640, 1280, 1280],
            "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
            "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
            "layers_per_block": 2,
            "attention_head_dim": 8,
            "cross_attention_dim": 768,
            "norm_num_groups": 32,
            "sample_size": 64
        });
        s.text["hidden_size"] = json!(768);
        s.text["intermediate_size"] = json!(768);
        s.text["num_hidden_layers"] = json!(1);
        s.text["num_attention_heads"] = json!(12);
        s
    }
}

/// CLIP's byte-to-character table (GPT-2's): printable bytes stand for themselves, the others
/// for characters from U+0100 on, so every byte string is a string of visible characters.
fn byte_chars() -> Vec<char> {
    let printable = |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut next = 256;
    (0..256u32)
        .map(|b| {
            if printable(b) {
                char::from_u32(b).expect("a byte is a char")
            } else {
                next += 1;
                char::from_u32(next - 1).expect("below the surrogates")
            }
        })
        .collect()
}

/// A tiny CLIP vocabulary: every byte alone and word-final (`</w>`), [`WORDS`] merged whole,
/// and the two special tokens; with the merges that build the words.
pub fn vocabulary() -> (Vec<String>, Vec<String>) {
    let chars = byte_chars();
    let mut vocab: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
    vocab.extend(chars.iter().map(|c| format!("{c}</w>")));
    let mut merges = Vec::new();
    for w in WORDS {
        // Left to right: c a → ca, ca t</w> → cat</w>.
        let letters: Vec<String> = w.chars().map(|c| c.to_string()).collect();
        let mut acc = letters[0].clone();
        for (i, l) in letters.iter().enumerate().skip(1) {
            let last = i == letters.len() - 1;
            let right = if last { format!("{l}</w>") } else { l.clone() };
            merges.push(format!("{acc} {right}"));
            acc = format!("{acc}{right}");
            if !vocab.contains(&acc) {
                vocab.push(acc.clone());
            }
        }
    }
    vocab.push("<|startoftext|>".into());
    vocab.push("<|endoftext|>".into());
    (vocab, merges)
}

/// Redraws every weight from `seed` with the mean and spread candle-nn's initialisation gave
/// it (norm scales stay 1, biases 0): candle's CPU generator cannot be seeded, and a test's
/// checkpoint must be the same every time.
fn reseed(vm: &VarMap, seed: u64) -> Result<()> {
    use rand::SeedableRng;
    use rand_distr::Distribution;
    let data = vm.data().lock().expect("not poisoned");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let values: Vec<f32> = var.as_tensor().flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
        let n = values.len().max(1) as f64;
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
        let std = (values.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        if std == 0.0 {
            continue;
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(crate::weights::fnv1a64_update(crate::weights::FNV_OFFSET, name.as_bytes()));
        let normal = rand_distr::StandardNormal;
        let fresh: Vec<f32> = (0..values.len()).map(|_| (mean + std * Distribution::<f64>::sample(&normal, &mut rng)) as f32).collect();
        var.set(&candle_core::Tensor::from_vec(fresh, var.as_tensor().shape(), &Device::Cpu)?)?;
    }
    Ok(())
}

/// Writes a checkpoint of `spec` into `dir` (created), with random weights from `seed`.
pub fn write(dir: &Path, spec: &Spec, seed: u64) -> Result<()> {
    let io = |e: std::io::Error| candle_core::Error::Msg(format!("writing {}: {e}", dir.display()));
    let dev = Device::Cpu;
    let put_json = |sub: &str, file: &str, v: &serde_json::Value| -> Result<()> {
        std::fs::create_dir_all(dir.join(sub)).map_err(io)?;
        std::fs::write(dir.join(sub).join(file), serde_json::to_string_pretty(v).expect("json")).map_err(io)
    };
    let save = |sub: &str, stem: &str, vm: &VarMap| -> Result<()> {
        reseed(vm, seed)?;
        if spec.fp16_files {
            let data = vm.data().lock().expect("not poisoned");
            let tensors: std::collections::HashMap<String, candle_core::Tensor> =
                data.iter().map(|(k, v)| Ok((k.clone(), v.as_tensor().to_dtype(DType::F16)?))).collect::<Result<_>>()?;
            candle_core::safetensors::save(&tensors, dir.join(sub).join(format!("{stem}.fp16.safetensors")))
        } else {
            vm.save(dir.join(sub).join(format!("{stem}.safetensors")))
        }
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    put_json("", "model_index.json", &json!({"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0"}))?;

    put_json("unet", "config.json", &spec.unet)?;
    let unet_json: UnetJson = serde_json::from_value(spec.unet.clone()).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let vm = VarMap::new();
    let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
    UNet2DConditionModel::new(vb, unet_json.in_channels, unet_json.out_channels, false, unet_json.to_candle(dir)?)?;
    save("unet", "diffusion_pytorch_model", &vm)?;

    put_json("vae", "config.json", &spec.vae)?;
    let vae_json: VaeJson = serde_json::from_value(spec.vae.clone()).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let vm = VarMap::new();
    AutoEncoderKL::new(VarBuilder::from_varmap(&vm, DType::F32, &dev), 3, 3, vae_json.to_candle())?;
    save("vae", "diffusion_pytorch_model", &vm)?;

    put_json("text_encoder", "config.json", &spec.text)?;
    let clip_json: ClipConfig = serde_json::from_value(spec.text.clone()).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let vm = VarMap::new();
    ClipTextEncoder::new(VarBuilder::from_varmap(&vm, DType::F32, &dev), &clip_json)?;
    save("text_encoder", "model", &vm)?;

    let (vocab, merges) = vocabulary();
    let vocab: serde_json::Map<String, serde_json::Value> = vocab.into_iter().enumerate().map(|(i, t)| (t, json!(i))).collect();
    put_json("tokenizer", "vocab.json", &serde_json::Value::Object(vocab))?;
    let merges_txt = format!("#version: 0.2\n{}\n", merges.join("\n"));
    std::fs::write(dir.join("tokenizer").join("merges.txt"), merges_txt).map_err(io)?;
    if clip_json.hidden_act == "gelu" {
        // SD 2.x pads with `!`, as its tokenizer's special_tokens_map.json says.
        put_json("tokenizer", "special_tokens_map.json", &json!({"pad_token": "!"}))?;
    }
    put_json("scheduler", "scheduler_config.json", &spec.scheduler)?;
    Ok(())
}

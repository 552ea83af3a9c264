//! `comp models`: the models, their vocabularies, and where their weights are.

use crate::Failure;
use comp_compiler::{DefaultBase, ModelInfo, ParamKind};
use comp_models::locate::Weights;

#[derive(clap::Args)]
pub struct Args {
    /// Print the model infos as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let models = comp_models::infos();
    if args.json {
        // Each model's info, with `weights`: `null` (needs none), or where they are / were sought.
        let entries: Vec<serde_json::Value> = models
            .iter()
            .map(|m| {
                let mut v = serde_json::to_value(m).expect("serialisable");
                v["weights"] = match comp_models::weights(&m.name) {
                    None => serde_json::json!({"status": "built-in"}),
                    Some(Weights::Found(dir)) => serde_json::json!({"status": "found", "path": dir, "files": hashes(&m.name)}),
                    Some(Weights::Unusable(why)) => serde_json::json!({"status": "unusable", "error": why}),
                    Some(Weights::Missing(searched)) => serde_json::json!({
                        "status": "missing", "searched": searched, "train": crate::cmd::train::command_for(&m.name),
                    }),
                };
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&entries).expect("serialisable"));
        return Ok(());
    }
    for (i, m) in models.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", describe(m));
        println!("  weights: {}", weights_line(&m.name));
    }
    Ok(())
}

/// Where a model's weights are, in one line.
pub fn weights_line(name: &str) -> String {
    match comp_models::weights(name) {
        None => "none needed (exact, built in)".into(),
        Some(Weights::Found(dir)) => {
            let files = hashes(name);
            let shown: Vec<String> = files
                .iter()
                .map(|f| {
                    let short = f["sha256"].as_str().map_or("unreadable", comp_models::weights::short_hash);
                    match files.len() {
                        1 => format!("sha256 {short}"),
                        _ => format!("{} {short}", f["file"].as_str().unwrap_or("?")),
                    }
                })
                .collect();
            match files.len() {
                0 => format!("{}", dir.display()),
                1 => format!("{} ({})", dir.display(), shown[0]),
                _ => format!("{} (sha256: {})", dir.display(), shown.join(", ")),
            }
        }
        Some(Weights::Unusable(why)) => format!("unusable: {why}"),
        Some(Weights::Missing(searched)) if comp_models::missing_advice(name, &searched).is_some() => format!(
            "missing (searched {} places, {} first, then the Hugging Face cache; point at a diffusers folder with `models/{name}/model.json`, see docs/stable-diffusion.md)",
            searched.len(),
            comp_models::locate::ENV,
        ),
        Some(Weights::Missing(searched)) => format!(
            "missing (searched {} folders, {} first; train with `{}`)",
            searched.len(),
            comp_models::locate::ENV,
            crate::cmd::train::command_for(name).unwrap_or("comp train")
        ),
    }
}

/// `{file, path, sha256}` of each weights file of a model whose weights are found (the hash
/// cached by path, size and mtime: computed once per file, as `comp run` records it).
fn hashes(name: &str) -> Vec<serde_json::Value> {
    comp_models::weight_files(name)
        .into_iter()
        .map(|path| {
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            let parent = path.parent().and_then(|p| p.file_name()).map(|p| p.to_string_lossy().into_owned());
            // SD folders hold `unet/…safetensors`, `vae/…`: name each by its folder.
            let label = match parent {
                Some(p) if matches!(p.as_str(), "unet" | "vae" | "text_encoder") => p,
                _ => file,
            };
            let sha = comp_models::weights::sha256_file_cached(&path).ok();
            serde_json::json!({"file": label, "path": path, "sha256": sha})
        })
        .collect()
}

/// A model's entry in `comp models`.
pub fn describe(m: &ModelInfo) -> String {
    let mut out = format!("{}  {}\n", m.name, m.description);
    let shape: Vec<String> = m.data_shape.iter().map(|d| d.to_string()).collect();
    let base = match m.default_base {
        DefaultBase::None => "none",
        DefaultBase::Null => "null",
    };
    out += &format!(
        "  data [{}], energies: {}, text prompts: {}, defaults: scale {}, base {}, {} steps, {} samples\n",
        shape.join(", "),
        if m.energies { "yes" } else { "no" },
        if m.text { "yes" } else { "no" },
        m.default_scale,
        base,
        m.default_steps,
        m.default_samples
    );
    if let Some(s) = &m.image_size {
        out += &format!(
            "  size {}x{} by default (`size WxH`: multiples of {} in {}..={}), sampled as [{}, H/{}, W/{}] latents; dtype f16, bf16 or f32\n",
            s.default[0], s.default[1], s.multiple_of, s.min, s.max, s.latent_channels, s.multiple_of, s.multiple_of
        );
    }
    if m.classifier {
        // A classifier's defaults are those of the model it guides; its concepts are labels.
        out = format!("{}  {}\n", m.name, m.description);
        out += &format!(
            "  classifier of data [{}]: guides a denoiser of the same data (`model d = …`, `model clf = {}`, `sample s = clf.LABEL`); energies (−log p): {}\n",
            shape.join(", "),
            m.name,
            if m.energies { "yes" } else { "no" }
        );
        out += "  labels:\n";
    } else if m.concepts.is_empty() && m.text {
        out += "  concepts: none; text prompts (`\"a red cube\"`)\n";
        return out;
    } else {
        out += "  concepts:\n";
    }
    for c in &m.concepts {
        let sig = if c.params.is_empty() {
            c.name.clone()
        } else {
            let ps: Vec<String> = c.params.iter().map(param_sig).collect();
            format!("{}({})", c.name, ps.join(", "))
        };
        out += &format!("    {sig:<28} {}\n", c.description);
    }
    if !m.extra_settings.is_empty() {
        out += "  settings:\n";
        for p in &m.extra_settings {
            out += &format!("    {:<28} {}\n", param_sig(p), p.description);
        }
    }
    out
}

fn param_sig(p: &comp_compiler::Param) -> String {
    match &p.kind {
        ParamKind::Number { min, max, integer } => {
            let ty = if *integer { "int" } else { "" };
            let default = p.default.map(|d| format!(" = {d}")).unwrap_or_default();
            format!("{}: {ty}{min}..{max}{default}", p.name)
        }
    }
}

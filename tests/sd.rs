//! `comp` end to end on a Stable Diffusion model: a tiny random checkpoint in the diffusers
//! layout (written here through `comp_models::sd::tiny`), found through a model card in a
//! `COMP_MODELS` folder, as a user's real weights would be.

mod common;

use common::comp_env;
use std::path::Path;

/// A folder with `models/sd15/model.json` pointing at a tiny checkpoint in `weights/`.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    comp_models::sd::tiny::write(&dir.path().join("weights"), &comp_models::sd::tiny::Spec::tiny(), 1).unwrap();
    std::fs::create_dir_all(dir.path().join("models/sd15")).unwrap();
    std::fs::write(dir.path().join("models/sd15/model.json"), r#"{"diffusers": "../../weights"}"#).unwrap();
    dir
}

fn env(dir: &Path) -> Vec<(&'static str, String)> {
    vec![("COMP_MODELS", dir.join("models").display().to_string()), ("HF_HUB_CACHE", dir.join("no-cache").display().to_string())]
}

fn run(dir: &Path, args: &[&str]) -> common::Run {
    let e = env(dir);
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    comp_env(dir, args, "", &e)
}

const SCRIPT: &str = "model sd15\nsize 64x64\nsampler ddim(steps: 3)\nsamples 2\nbase \"blurry\"\nsample cabin = \"a red cat\" AND 0.6 * \"snow\" AND NOT \"dog\"\n";

#[test]
fn run_writes_pictures_and_a_run_json_that_names_every_prompt_and_weights_file() {
    let dir = setup();
    let d = dir.path();
    std::fs::write(d.join("cabin.comp"), SCRIPT).unwrap();
    let r = run(d, &["run", "cabin.comp", "-q", "-o", "out"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for f in ["grid.png", "0000.png", "0001.png", "samples.npy", "run.json"] {
        assert!(d.join("out/cabin").join(f).is_file(), "{f}");
    }
    let img = image::open(d.join("out/cabin/0000.png")).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("out/cabin/run.json")).unwrap()).unwrap();
    let texts: Vec<&str> = json["plan"]["conditions"].as_array().unwrap().iter().filter_map(|c| c["text"].as_str()).collect();
    assert_eq!(texts, ["blurry", "a red cat", "snow", "dog"]);
    assert_eq!(json["model_calls"], 3, "one UNet call per step for three prompts and the base");
    assert_eq!(json["settings"]["size"], serde_json::json!([64, 64]));
    let files = json["weights"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "UNet, VAE, text encoder");
    for f in files {
        let path = Path::new(f["path"].as_str().unwrap());
        assert!(path.starts_with(d.join("weights").canonicalize().unwrap()), "{path:?}");
        assert_eq!(f["sha256"].as_str().unwrap(), comp_models::weights::sha256_file(path).unwrap());
    }
    // The same seed gives the same pictures.
    let r = run(d, &["run", "cabin.comp", "-q", "-o", "again"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(d.join("out/cabin/samples.npy")).unwrap(), std::fs::read(d.join("again/cabin/samples.npy")).unwrap());
    // `--dtype`: checked, and only for models that have it.
    let r = run(d, &["run", "cabin.comp", "-q", "-o", "bad", "--dtype", "f64"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("expected `f16`, `bf16` or `f32`"), "{}", r.stderr);
    std::fs::write(d.join("toy.comp"), "model toy2d\nsample s = ring\n").unwrap();
    let r = run(d, &["run", "toy.comp", "-q", "-o", "toy", "--dtype", "f16"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("`toy2d` computes in f32 only"), "{}", r.stderr);
}

#[test]
fn a_prompt_past_77_tokens_warns_at_the_part_that_is_cut() {
    let dir = setup();
    let d = dir.path();
    // "sample s = \"" is 12 bytes; each "cat " is one token of 4 bytes; 75 fit, so the cut
    // starts at byte 12 + 300 of line 3 (column 313) and runs to the closing quote.
    let script = format!("model sd15\nsize 64x64\nsample s = \"{}\"\n", "cat ".repeat(80));
    std::fs::write(d.join("long.comp"), script).unwrap();
    let r = run(d, &["check", "--format", "json", "long.comp"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let diags: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let w = &diags[0];
    assert_eq!(w["code"], "W0007");
    assert_eq!(w["message"], "this prompt has 80 tokens; the text encoder reads 75");
    assert_eq!((w["line"].as_u64(), w["column"].as_u64(), w["end_column"].as_u64()), (Some(3), Some(313), Some(333)));
    // 75 tokens fit: no warning.
    std::fs::write(d.join("fits.comp"), format!("model sd15\nsample s = \"{}\"\n", "cat ".repeat(75))).unwrap();
    let r = run(d, &["check", "--format", "json", "fits.comp"]);
    assert_eq!(r.stdout.trim(), "[]", "{}", r.stdout);
}

#[test]
fn missing_weights_name_every_place_searched_and_how_to_point_at_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("models")).unwrap();
    std::fs::write(d.join("cabin.comp"), SCRIPT).unwrap();
    // `check` needs no weights.
    assert_eq!(run(d, &["check", "cabin.comp"]).code, 0);
    let r = run(d, &["run", "cabin.comp", "-q", "-o", "out"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("model `sd15` has no weights"), "{}", r.stderr);
    assert!(r.stderr.contains(&d.join("models/sd15/model.json").display().to_string()), "{}", r.stderr);
    assert!(r.stderr.contains("models--runwayml--stable-diffusion-v1-5"), "{}", r.stderr);
    assert!(r.stderr.contains("{\"diffusers\": \"/path/to/the/folder\"}"), "{}", r.stderr);
    assert!(!d.join("out/cabin").exists(), "nothing written");
    let r = run(d, &["models"]);
    assert!(r.stdout.contains("point at a diffusers folder with `models/sd15/model.json`"), "{}", r.stdout);
    // With weights: `comp models` says where.
    let dir = setup();
    let r = run(dir.path(), &["models", "--json"]);
    let models: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let sd15 = models.as_array().unwrap().iter().find(|m| m["name"] == "sd15").unwrap();
    assert_eq!(sd15["weights"]["status"], "found");
    assert!(sd15["weights"]["path"].as_str().unwrap().ends_with("weights"), "{sd15}");
    assert_eq!(sd15["text"], true);
    assert_eq!(sd15["image_size"]["default"], serde_json::json!([512, 512]));
}

#[test]
fn size_dtype_and_prompts_are_checked_before_anything_loads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let check = |name: &str, text: &str| {
        std::fs::write(d.join(name), text).unwrap();
        let r = run(d, &["check", "--format", "json", name]);
        serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()
    };
    let v = check("a.comp", "model sd15\nsize 500x512\nsample s = \"a cat\"\n");
    assert_eq!((v[0]["code"].as_str(), v[0]["column"].as_u64()), (Some("E0114"), Some(6)));
    assert_eq!(v[0]["help"], "the nearest allowed size is `504x512`");
    let v = check("b.comp", "model toy2d\nsize 512x512\nsample s = ring\n");
    assert_eq!(v[0]["code"], "E0102", "{v}");
    let v = check("c.comp", "model sd15\ndtype fp16\nsample s = \"a cat\"\n");
    assert_eq!((v[0]["code"].as_str(), v[0]["help"].as_str()), (Some("E0114"), Some("did you mean `f16`?")), "{v}");
    let v = check("d.comp", "model sd15\nsample s = ring\n");
    assert_eq!(v[0]["code"], "E0103", "a concept name on a text model: {v}");
    let v = check("e.comp", "model toy2d\nsample s = \"a cat\"\n");
    assert_eq!(v[0]["code"], "E0111", "{v}");
    let v = check("f.comp", "model sd15\nsample s = \"a\" OR \"b\"\n");
    assert_eq!(v[0]["code"], "E0112", "OR needs energies: {v}");
}

#[test]
fn an_a1111_prompt_imports_into_a_script_that_checks_and_runs() {
    let dir = setup();
    let d = dir.path();
    let r = run(
        d,
        &["import", "a1111", "a red cat AND snow :0.6", "--negative", "blurry", "--steps", "3", "--size", "64x64", "-o", "imported.comp"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(d, &["check", "imported.comp"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(d, &["run", "imported.comp", "-q", "-o", "out", "--samples", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_run_that_would_not_fit_is_refused_with_what_to_ask_instead() {
    let dir = setup();
    let d = dir.path();
    // At 2048x2048 the latent has 256² cells: the first block's attention matrices alone are
    // 2 heads × 65536² f32 = 32 GiB per row.
    std::fs::write(d.join("big.comp"), "model sd15\nsize 2048x2048\nsamples 1\nsample s = \"a cat\"\n").unwrap();
    let mut e = env(d);
    e.push(("COMP_MEMORY_LIMIT", "1G".into()));
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = comp_env(d, &["run", "big.comp", "-q", "-o", "out"], "", &e);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("not even one fits at 2048x2048: ask a smaller `size`"), "{}", r.stderr);
    assert!(!d.join("out/s").exists());
}

/// Two checkpoints that share SD's latent space compose: each encodes its own prompts with
/// its own text encoder, one UNet call per model per step, and the first model's VAE decodes.
#[test]
fn two_checkpoints_compose_each_with_its_own_prompts() {
    let dir = setup();
    let d = dir.path();
    // A second, different tiny checkpoint (another seed) as `sd21-base`.
    comp_models::sd::tiny::write(&d.join("weights2"), &comp_models::sd::tiny::Spec::tiny(), 2).unwrap();
    std::fs::create_dir_all(d.join("models/sd21-base")).unwrap();
    std::fs::write(d.join("models/sd21-base/model.json"), r#"{"diffusers": "../../weights2"}"#).unwrap();
    let script = "model a = sd15\nmodel b = sd21-base\nsize 64x64\nsampler ddim(steps: 3)\nsamples 2\nbase a.null\nscale 5\nsample s = a.\"a red cat\" AND 0.5 * b.\"snow\"\n";
    std::fs::write(d.join("two.comp"), script).unwrap();
    let plan = run(d, &["plan", "two.comp"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    // a.null: 1 − 5 = −4; a."a red cat": 5; b."snow": 2.5; b.null: −2.5.
    assert!(plan.stdout.contains("linear: -4·#0 + 5·#1 + 2.5·#2 - 2.5·#3"), "{}", plan.stdout);
    let r = run(d, &["run", "two.comp", "-q", "-o", "out"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("out/s/run.json")).unwrap()).unwrap();
    assert_eq!(json["model_calls"], 6, "one UNet call per model per step");
    assert_eq!(json["models"][1]["model_calls"], 3);
    let files = json["models"][1]["weights"]["files"].as_array().unwrap();
    assert!(Path::new(files[0]["path"].as_str().unwrap()).starts_with(d.join("weights2").canonicalize().unwrap()));
    let img = image::open(d.join("out/s/0000.png")).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));
    // Swapping the checkpoints changes the pictures (each term really comes from its model).
    std::fs::write(d.join("swap.comp"), script.replace("model a = sd15\nmodel b = sd21-base", "model a = sd21-base\nmodel b = sd15"))
        .unwrap();
    let r = run(d, &["run", "swap.comp", "-q", "-o", "swap"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_ne!(std::fs::read(d.join("out/s/samples.npy")).unwrap(), std::fs::read(d.join("swap/s/samples.npy")).unwrap());
    // A latent model and a 2D model do not compose.
    std::fs::write(d.join("bad.comp"), "model a = sd15\nmodel t = toy2d\nbase none\nsample s = a.\"cat\" AND t.ring\n").unwrap();
    let r = run(d, &["check", "bad.comp"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("E0127"), "{}", r.stderr);
}

/// `comp models --json`'s `weights` entry of sd15.
fn sd15_weights(dir: &Path) -> serde_json::Value {
    let r = run(dir, &["models", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let models: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    models.as_array().unwrap().iter().find(|m| m["name"] == "sd15").unwrap()["weights"].clone()
}

#[test]
fn a_card_that_is_broken_or_points_nowhere_useful_is_not_found() {
    let dir = setup();
    let d = dir.path();
    std::fs::write(d.join("cabin.comp"), SCRIPT).unwrap();
    let card = d.join("models/sd15/model.json");
    // A malformed card: its own error, not "no model card and no Hugging Face snapshot".
    std::fs::write(&card, "{\"diffusers\": ").unwrap();
    let r = run(d, &["run", "cabin.comp", "-q", "-o", "out"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("model card") && r.stderr.contains("model.json") && !r.stderr.contains("no model card"), "{}", r.stderr);
    let w = sd15_weights(d);
    assert_eq!(w["status"], "unusable", "{w}");
    assert!(w["error"].as_str().unwrap().contains("model card"), "{w}");
    // A card naming a missing folder, a file, an empty folder: `comp models` does not say found.
    std::fs::write(d.join("a-file"), "").unwrap();
    std::fs::create_dir_all(d.join("empty")).unwrap();
    for (target, says) in
        [("../../nowhere", "is not a folder"), ("../../a-file", "is not a folder"), ("../../empty", "is not a diffusers folder")]
    {
        std::fs::write(&card, format!("{{\"diffusers\": \"{target}\"}}")).unwrap();
        let w = sd15_weights(d);
        assert_eq!(w["status"], "unusable", "{target}: {w}");
        assert!(w["error"].as_str().unwrap().contains(says), "{target}: {w}");
        let r = run(d, &["models"]);
        assert!(r.stdout.contains("weights: unusable:"), "{}", r.stdout);
    }
}

#[test]
fn bf16_on_the_cpu_is_refused_before_anything_runs() {
    let dir = setup();
    let d = dir.path();
    std::fs::write(d.join("cabin.comp"), SCRIPT).unwrap();
    let r = run(d, &["run", "cabin.comp", "-q", "-o", "out", "--dtype", "bf16"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("sample `cabin`: `dtype bf16` does not run on the CPU"), "{}", r.stderr);
    assert!(!d.join("out").exists(), "nothing written");
    std::fs::write(d.join("b.comp"), SCRIPT.replace("samples 2", "samples 2\ndtype bf16")).unwrap();
    let r = run(d, &["run", "b.comp", "-q", "-o", "out"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("does not run on the CPU"), "{}", r.stderr);
}

#[test]
fn the_repl_takes_size_and_dtype() {
    let dir = setup();
    let d = dir.path();
    let e = env(d);
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let session = "model sd15\nsize 64x64\ndtype f32\nsampler ddim(steps: 2)\nsample s = \"a red cat\"\n:run s 1\n";
    let r = comp_env(d, &["repl"], session, &e);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("Error"), "{}", r.stdout);
    assert!(r.stdout.contains("1 samples of `s`"), "{}", r.stdout);
    assert!(
        r.stdout.contains("[1, 3, 64, 64]") || r.stdout.contains("64x64") || r.stdout.contains("64 × 64"),
        "sampled at 64x64, not 512x512:\n{}",
        r.stdout
    );
}

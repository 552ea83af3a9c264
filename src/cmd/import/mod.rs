//! `comp import a1111|composable PROMPT`: a prompt written for today's tools as a `.comp` file.
//!
//! | file | what |
//! | --- | --- |
//! | [`prompt`] | A1111's prompt syntax: its scheduling grammar (editing, alternation) and its attention pass (emphasis, BREAK) |
//! | [`schedule`] | a part into the texts A1111's sampler conditions on, model call by model call (step windows) |
//! | [`python`] | Python's `\s`, `\w`, `\d` and `float`, as A1111's regular expressions see them |
//! | [`a1111`] | A1111's `AND`, weights and negative prompt → a [`Composition`] |
//! | [`composable`] | the Composable Diffusion pipeline's `a \| b` and weights → a [`Composition`] |
//! | [`infotext`] | A1111's generation parameters (prompt, negative prompt, steps, sampler, ...) |
//! | [`emit`] | a [`Composition`] as `.comp` text |
//!
//! Diagnostics point into the imported text (the prompt, the negative prompt or the weights)
//! and are rendered like the compiler's. Nothing is written when there is an error; the file
//! is written atomically and an existing one is kept unless `--force`.

pub mod a1111;
pub mod codes;
pub mod composable;
pub mod composition;
pub mod emit;
pub mod infotext;
pub mod prompt;
pub mod python;
#[cfg(test)]
mod roundtrip;
pub mod schedule;

use crate::{render, Failure};
#[cfg(test)]
use composition::Composition;
use composition::{Diagnostics, Input};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The tool the prompt is written for
    #[arg(value_enum)]
    from: Tool,
    /// The prompt, quoted (`-` reads it from standard input)
    prompt: String,
    /// PROMPT is A1111's generation parameters (the text under an image, a PNG's `parameters`):
    /// prompt, negative prompt, steps, sampler, CFG scale, seed and size come from it; flags override
    #[arg(long)]
    infotext: bool,
    /// The negative prompt (A1111's second box; the pipeline's `negative_prompt`)
    #[arg(long, value_name = "TEXT")]
    negative: Option<String>,
    /// The Composable Diffusion pipeline's weights, one per `|`-separated prompt: "7.5 | -7.5"
    #[arg(long, value_name = "W1 | W2")]
    weights: Option<String>,
    /// The guidance scale: A1111's CFG scale (default 7), the pipeline's guidance_scale (default 7.5)
    #[arg(long, allow_negative_numbers = true)]
    scale: Option<f64>,
    /// Sampling steps (needed for `[a:b:12]` and `[a|b]`; makes `[a:b:0.5]` exact)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    steps: Option<u32>,
    /// The sampler: comp's name (euler_a, dpmpp2m, ddim, ddpm) or A1111's ("Euler a", "DPM++ 2M", "DDIM")
    #[arg(long)]
    sampler: Option<String>,
    /// Image size, WIDTHxHEIGHT (multiples of 8): 512x512
    #[arg(long, value_parser = parse_size)]
    size: Option<(u32, u32)>,
    /// The seed (comp's noise differs from A1111's: the same seed gives other images)
    #[arg(long)]
    seed: Option<u64>,
    /// The model the file names
    #[arg(long, default_value = "sd15")]
    model: String,
    /// The sample's name
    #[arg(long, default_value = "image")]
    name: String,
    /// Write the .comp file here (default: standard output)
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace the output file if it exists
    #[arg(long)]
    force: bool,
    /// Treat warnings as errors (`--deny warnings`): write nothing if the meaning differs anywhere
    #[arg(long, value_name = "warnings", value_parser = ["warnings"])]
    deny: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Tool {
    /// AUTOMATIC1111's webui: `a AND b :1.2`, `[a:b:0.5]`, `(word:1.3)`
    A1111,
    /// The Composable Diffusion pipeline (diffusers community): `a | b` with --weights
    Composable,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("expected WIDTHxHEIGHT such as 512x512, found `{s}`"))?;
    let read = |v: &str| v.trim().parse::<u32>().ok().filter(|&n| n > 0 && n % 8 == 0 && n <= 8192);
    match (read(w), read(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!("`{s}`: width and height must be multiples of 8 in 8..=8192")),
    }
}

/// A name comp accepts (`[A-Za-z_][A-Za-z0-9_-]*`, not a keyword).
fn valid_name(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !comp_compiler::vocabulary::KEYWORDS.contains(&s)
        && !comp_compiler::vocabulary::VALUE_WORDS.iter().any(|(w, _)| *w == s)
}

/// comp's sampler for a name in comp's or A1111's spelling (and A1111's schedule type, from an
/// infotext), and a warning where A1111's differs.
fn sampler(name: &str, schedule: Option<&str>, diags: &mut Diagnostics) -> Result<&'static str, String> {
    let key = name.trim().to_ascii_lowercase();
    let comp = match key.as_str() {
        "euler_a" | "euler a" => "euler_a",
        "dpmpp2m" | "dpm++ 2m" | "dpm++ 2m karras" => "dpmpp2m",
        "ddim" => "ddim",
        "ddpm" => "ddpm",
        _ => return Err(format!("no comp sampler for `{name}`: comp has euler_a (A1111's \"Euler a\"), dpmpp2m (\"DPM++ 2M\"), ddim (\"DDIM\") and ddpm; choose one with --sampler")),
    };
    let schedule = schedule.filter(|s| !s.eq_ignore_ascii_case("automatic"));
    if let Some(schedule) = schedule {
        diags.push(
            Input::Flag("infotext"),
            comp_grammar::Diagnostic::warning(
                codes::SAMPLER.0,
                codes::SAMPLER.1,
                format!(
                    "schedule type `{schedule}`: comp's samplers step evenly through the model's own timesteps, so the noise levels differ"
                ),
                Default::default(),
            ),
        );
    } else if key.starts_with("dpm++") {
        diags.push(
            Input::Flag("--sampler"),
            comp_grammar::Diagnostic::warning(
                codes::SAMPLER.0,
                codes::SAMPLER.1,
                format!("`{name}`: A1111 runs DPM++ 2M on Karras sigmas (its default schedule type for DPM++ 2M in current versions); comp's dpmpp2m steps evenly through the model's own timesteps, so the noise levels differ"),
                Default::default(),
            ),
        );
    }
    Ok(comp)
}

pub fn run(args: Args) -> Result<(), Failure> {
    if !valid_name(&args.model) {
        return Err(Failure::Usage(format!("`--model {}` is not a model name", args.model)));
    }
    if !valid_name(&args.name) {
        return Err(Failure::Usage(format!(
            "`--name {}` is not a sample name: letters, digits, `_` and `-`, starting with a letter",
            args.name
        )));
    }
    if args.from == Tool::A1111 && args.weights.is_some() {
        return Err(Failure::Usage(
            "`--weights` is for `comp import composable`; A1111 writes weights in the prompt: `a AND b :1.2`".into(),
        ));
    }
    if args.from == Tool::Composable && args.infotext {
        return Err(Failure::Usage("`--infotext` is A1111's format: use it with `comp import a1111`".into()));
    }
    if let Some(s) = args.scale.filter(|s| !s.is_finite()) {
        return Err(Failure::Usage(format!("`--scale {s}` is not a finite number")));
    }
    let text = if args.prompt == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut s)
            .map_err(|e| Failure::Usage(format!("cannot read the prompt from standard input: {e}")))?;
        s.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&s).to_string()
    } else {
        args.prompt.clone()
    };
    if let Some(out) = &args.output {
        // `symlink_metadata`: a dangling symbolic link is there too, and is not replaced (or
        // written through) without `--force`.
        if std::fs::symlink_metadata(out).is_ok() && !args.force {
            return Err(Failure::Usage(format!("`{}` exists: give --force to replace it", out.display())));
        }
    }
    let mut diags = Diagnostics::default();
    let req = if args.infotext { from_infotext(&args, &text, &mut diags)? } else { Request::from_flags(&args, text) };
    let sampler = req.sampler.as_deref().map(|s| sampler(s, req.schedule.as_deref(), &mut diags)).transpose().map_err(Failure::Usage)?;
    let negative = req.negative.as_deref();
    let (tool, composition) = match args.from {
        Tool::A1111 => ("a1111", a1111::import(&req.prompt, negative, req.steps, req.scale.unwrap_or(7.0), &mut diags)),
        Tool::Composable => {
            ("composable", composable::import(&req.prompt, args.weights.as_deref(), negative, req.scale.unwrap_or(7.5), &mut diags))
        }
    };
    print_diagnostics(&diags, &req.prompt, negative.unwrap_or(""), args.weights.as_deref().unwrap_or(""));
    let Some(composition) = composition.filter(|_| !diags.has_errors()) else {
        return Err(Failure::Input);
    };
    if args.deny.is_some() && !diags.list.is_empty() {
        return Err(Failure::Runtime(format!("{} warning(s) denied by --deny warnings: nothing written", diags.list.len())));
    }
    let settings = emit::Settings {
        model: args.model.clone(),
        size: req.size,
        // `--steps` alone: DPM++ 2M, the default sampler of recent A1111 versions.
        sampler: sampler.or(req.steps.map(|_| "dpmpp2m")).map(str::to_string),
        steps: req.steps,
        seed: req.seed,
        name: args.name.clone(),
    };
    let tool = if args.infotext { format!("{tool} --infotext") } else { tool.to_string() };
    let text = emit::comp_file(&settings, &composition, &provenance(&tool, &req, args.weights.as_deref()));
    checked(&args, text).and_then(|text| write(&args, &text))
}

/// The written text, when `comp check` accepts it; otherwise the checker's diagnostics under
/// the text, and nothing written (a seed or size the model refuses, too many steps, an
/// unknown model or one without text prompts, a weight that overflows, too many parts).
fn checked(args: &Args, text: String) -> Result<String, Failure> {
    let name = args.output.as_ref().map_or_else(|| "imported.comp".to_string(), |p| p.display().to_string());
    let source = crate::pipeline::SourceFile { name, text, decode_error: None };
    let checked = crate::pipeline::check(&source, &comp_models::infos());
    if !checked.diagnostics.iter().any(|d| d.is_error()) {
        return Ok(source.text);
    }
    let errors: Vec<comp_grammar::Diagnostic> = checked.diagnostics.into_iter().filter(|d| d.is_error()).collect();
    eprint!("{}", render::human_all(&source.name, &source.text, &errors, render::stderr_color()));
    eprintln!(
        "error: `comp check` refuses the imported file ({} error{}): nothing written",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    Err(Failure::Input)
}

/// What to import: from the flags, or from an infotext with the flags on top.
struct Request {
    prompt: String,
    negative: Option<String>,
    steps: Option<u32>,
    sampler: Option<String>,
    /// A1111's schedule type (`Karras`), from an infotext.
    schedule: Option<String>,
    scale: Option<f64>,
    seed: Option<u64>,
    size: Option<(u32, u32)>,
    /// The checkpoint an infotext names, for the header.
    checkpoint: Option<String>,
}

impl Request {
    fn from_flags(args: &Args, prompt: String) -> Request {
        Request {
            prompt,
            negative: args.negative.clone(),
            steps: args.steps,
            sampler: args.sampler.clone(),
            schedule: None,
            scale: args.scale,
            seed: args.seed,
            size: args.size,
            checkpoint: None,
        }
    }
}

/// An infotext's prompt and settings, each overridden by its flag; a warning naming the
/// parameters that change the image but that comp does not reproduce.
fn from_infotext(args: &Args, text: &str, diags: &mut Diagnostics) -> Result<Request, Failure> {
    let it = infotext::parse(text);
    let bad = |key: &str, v: &str| Failure::Usage(format!("the infotext's `{key}: {v}` is not a valid value"));
    let num = |key: &str| -> Result<Option<f64>, Failure> {
        it.get(key).map(|v| v.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| bad(key, v))).transpose()
    };
    let steps = match it.get("Steps") {
        Some(v) => Some(v.trim().parse::<u32>().ok().filter(|n| (1..=10_000).contains(n)).ok_or_else(|| bad("Steps", v))?),
        None => None,
    };
    let seed = match it.get("Seed") {
        // A1111 seeds are non-negative; -1 ("random") is never written to an infotext.
        Some(v) => Some(v.trim().parse::<u64>().map_err(|_| bad("Seed", v))?),
        None => None,
    };
    let size = it.get("Size").map(|v| parse_size(v).map_err(|_| bad("Size", v))).transpose()?;
    let mut ignored: Vec<String> = Vec::new();
    // A key written twice: A1111 keeps the last value (it assigns them in order).
    let last = |i: usize, k: &str| !it.params[i + 1..].iter().any(|(k2, _)| k2 == k);
    for (k, v) in it.params.iter().enumerate().filter(|(i, (k, _))| last(*i, k)).map(|(_, kv)| kv) {
        let changes_image = match k.as_str() {
            "Clip skip" => v.trim() != "1",
            "Variation seed strength" => v.trim().parse::<f64>() != Ok(0.0),
            "Denoising strength" | "Hires upscale" | "Hires resize-1" | "Hires steps" | "Hires upscaler" | "VAE" | "Refiner"
            | "Refiner switch at" => true,
            _ => false,
        };
        if changes_image {
            ignored.push(format!("{k}: {v}"));
        }
    }
    if !ignored.is_empty() {
        diags.push(
            Input::Flag("infotext"),
            comp_grammar::Diagnostic::warning(
                codes::INFOTEXT.0,
                codes::INFOTEXT.1,
                format!("parameters that change A1111's image and that the import does not carry over: {}", ignored.join(", ")),
                Default::default(),
            ),
        );
    }
    let checkpoint = match (it.get("Model"), it.get("Model hash")) {
        (Some(m), Some(h)) => Some(format!("{m} [{h}]")),
        (Some(m), None) => Some(m.to_string()),
        (None, Some(h)) => Some(format!("[{h}]")),
        (None, None) => None,
    };
    Ok(Request {
        prompt: it.prompt.clone(),
        negative: args.negative.clone().or(it.negative.clone()),
        steps: args.steps.or(steps),
        sampler: args.sampler.clone().or(it.get("Sampler").map(str::to_string)),
        schedule: if args.sampler.is_some() { None } else { it.get("Schedule type").map(str::to_string) },
        scale: args.scale.or(num("CFG scale")?),
        seed: args.seed.or(seed),
        size: args.size.or(size),
        checkpoint,
    })
}

/// The header: where the file came from.
fn provenance(tool: &str, req: &Request, weights: Option<&str>) -> Vec<String> {
    let mut lines = vec![format!("imported by `comp import {tool}` from")];
    let mut field = |label: &str, text: &str| {
        for (i, l) in text.lines().enumerate() {
            let lead = if i == 0 { label.to_string() } else { " ".repeat(label.len()) };
            lines.push(format!("  {lead}{l}"));
        }
    };
    field("prompt: ", &req.prompt);
    if let Some(n) = &req.negative {
        field("negative prompt: ", n);
    }
    if let Some(w) = weights {
        field("weights: ", w);
    }
    if let Some(c) = &req.checkpoint {
        field("A1111 checkpoint: ", c);
    }
    lines
}

/// Renders every diagnostic under the text it points into, on stderr.
fn print_diagnostics(diags: &Diagnostics, prompt: &str, negative: &str, weights: &str) {
    let color = render::stderr_color();
    for (input, d) in &diags.list {
        let (name, text) = match input {
            Input::Prompt => ("prompt", prompt),
            Input::Negative => ("negative prompt", negative),
            Input::Weights => ("--weights", weights),
            Input::Flag(flag) => {
                let kind = if d.is_error() { "error" } else { "warning" };
                let lint = d.lint.map(|l| format!("({l})")).unwrap_or_default();
                eprintln!("{kind}[{}{lint}] {flag}: {}", d.code, d.message);
                continue;
            }
        };
        eprint!("{}", render::human(name, text, d, color));
    }
}

/// Writes `text` to `-o FILE` atomically, or to standard output.
fn write(args: &Args, text: &str) -> Result<(), Failure> {
    match &args.output {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(path) => {
            comp_output::write_atomic(path, text.as_bytes())
                .map_err(|e| Failure::Usage(format!("cannot write `{}`: {e}", path.display())))?;
            eprintln!("wrote {}", path.display());
            Ok(())
        }
    }
}

/// Imports for tests: the composition of an A1111 prompt, or the diagnostics.
#[cfg(test)]
pub fn a1111_for_test(
    prompt: &str,
    negative: Option<&str>,
    steps: Option<u32>,
    scale: f64,
) -> Result<(Composition, Diagnostics), Diagnostics> {
    let mut d = Diagnostics::default();
    match a1111::import(prompt, negative, steps, scale, &mut d) {
        Some(c) if !d.has_errors() => Ok((c, d)),
        _ => Err(d),
    }
}

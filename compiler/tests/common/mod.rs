//! Test-only models and helpers. The compiler knows no model; these mirror the real ones'
//! vocabularies and defaults.
#![allow(dead_code)]

use comp_compiler::{compile, Compiled, Concept, DefaultBase, ModelInfo, Outcome, Param, ParamKind};
use comp_grammar::Diagnostic;

fn concept(name: &str) -> Concept {
    Concept { name: name.into(), description: String::new(), params: vec![] }
}

fn unit(name: &str) -> Param {
    Param { name: name.into(), kind: ParamKind::Number { min: 0.0, max: 1.0, integer: false }, default: None, description: String::new() }
}

/// toy2d: RRR's 2D concepts, exact energies, no text; scale 1, base none.
pub fn toy2d() -> ModelInfo {
    ModelInfo {
        name: "toy2d".into(),
        description: "exact 2D densities".into(),
        data_shape: vec![2],
        concepts: ["ring", "bar", "left_bar", "right_bar", "box_large", "box_small"].into_iter().map(concept).collect(),
        text: false,
        energies: true,
        default_scale: 1.0,
        default_base: DefaultBase::None,
        default_steps: 100,
        max_steps: 1000,
        default_samples: 1000,
        extra_settings: vec![],
        image_size: None,
        default_sampler: None,
        dtypes: false,
        schedule: None,
        latent_space: None,
        classifier: false,
    }
}

/// clevr-pos: one constructor `pos(x: 0..=1, y: 0..=1)`, no energies; scale 7.5, base null.
pub fn clevr() -> ModelInfo {
    ModelInfo {
        name: "clevr-pos".into(),
        description: "CLEVR object positions".into(),
        data_shape: vec![3, 32, 32],
        concepts: vec![Concept { name: "pos".into(), description: String::new(), params: vec![unit("x"), unit("y")] }],
        text: false,
        energies: false,
        default_scale: 7.5,
        default_base: DefaultBase::Null,
        default_steps: 100,
        max_steps: 1000,
        default_samples: 8,
        extra_settings: vec![Param {
            name: "size".into(),
            kind: ParamKind::Number { min: 8.0, max: 128.0, integer: true },
            default: Some(32.0),
            description: String::new(),
        }],
        image_size: None,
        default_sampler: None,
        dtypes: false,
        schedule: None,
        latent_space: None,
        classifier: false,
    }
}

/// A text model: prompts allowed, no concepts, energies.
pub fn textmodel() -> ModelInfo {
    ModelInfo {
        name: "textmodel".into(),
        description: "takes prompts".into(),
        data_shape: vec![3, 8, 8],
        concepts: vec![],
        text: true,
        energies: true,
        default_scale: 7.5,
        default_base: DefaultBase::Null,
        default_steps: 50,
        max_steps: 1000,
        default_samples: 4,
        extra_settings: vec![],
        image_size: None,
        default_sampler: None,
        dtypes: false,
        schedule: None,
        latent_space: None,
        classifier: false,
    }
}

/// The learned toy2d model: toy2d's vocabulary under its own name (the examples compose it).
pub fn toy2d_mlp() -> ModelInfo {
    ModelInfo { name: "toy2d-mlp".into(), ..toy2d() }
}

/// A clevr-attr model (named `name`) knowing `labels`: argument-free concepts, no energies.
pub fn clevr_attr(name: &str, labels: &[&str]) -> ModelInfo {
    let concepts = labels.iter().map(|l| Concept { name: l.to_string(), description: String::new(), params: vec![] }).collect();
    ModelInfo { name: name.into(), description: "CLEVR object attributes".into(), concepts, extra_settings: vec![], ..clevr() }
}

const COLOURS: [&str; 8] = ["red", "green", "blue", "yellow", "cyan", "magenta", "white", "black"];

pub fn models() -> Vec<ModelInfo> {
    let all: Vec<&str> = COLOURS.iter().copied().chain(["disc", "square", "small", "large"]).collect();
    vec![
        toy2d(),
        clevr(),
        textmodel(),
        toy2d_mlp(),
        clevr_attr("clevr-attr", &all),
        clevr_attr("clevr-attr-color", &COLOURS),
        clevr_attr("clevr-attr-shape-size", &["disc", "square", "small", "large"]),
        ModelInfo { name: "toy2d-clf".into(), classifier: true, ..toy2d() },
        // The attribute classifier: clevr-attr's labels and data, with energies (−log p).
        ModelInfo { name: "clevr-attr-clf".into(), energies: true, classifier: true, ..clevr_attr("clevr-attr-clf", &all) },
    ]
}

/// Parses (which must succeed) and compiles against [`models`].
pub fn run(src: &str) -> Outcome<Compiled> {
    let program = comp_grammar::parse(src).unwrap_or_else(|e| panic!("parse failed: {e:?}\n{src}"));
    compile(&program, &models())
}

/// Compiles `src`, which must have no errors, and returns the result.
pub fn ok(src: &str) -> Compiled {
    let out = run(src);
    let errors: Vec<_> = out.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:#?}\n{src}");
    out.value.expect("a value when no errors")
}

/// The text under a diagnostic's primary span.
pub fn span_text<'a>(src: &'a str, d: &Diagnostic) -> &'a str {
    &src[d.span().range()]
}

/// The only diagnostic of `src` with `code` (there must be exactly one), as
/// (span text, message, diagnostic).
pub fn one<'a>(src: &'a str, code: &str) -> (&'a str, String, Diagnostic) {
    let out = run(src);
    let found: Vec<&Diagnostic> = out.diagnostics.iter().filter(|d| d.code == code).collect();
    assert_eq!(found.len(), 1, "expected one {code}, got {:#?}\nall: {:#?}\n{src}", found, out.diagnostics);
    if found[0].is_error() {
        assert!(out.value.is_none(), "an error must leave no value");
    }
    let d = found[0].clone();
    (span_text(src, &d), d.message.clone(), d)
}

/// The codes of all diagnostics of `src`, in order.
pub fn codes(src: &str) -> Vec<&'static str> {
    run(src).diagnostics.iter().map(|d| d.code).collect()
}

//! The vocabularies the targets check against: the real models' infos, written out here so
//! that the front-end targets do not build candle (`tests/fuzz_models.rs` in the main suite
//! keeps them equal to `comp_models::infos()`, descriptions aside).

use comp_compiler::{Concept, DefaultBase, ModelInfo, Param, ParamKind};
use comp_plan::{ImageSize, Sampler};

fn concept(name: &str, params: Vec<Param>) -> Concept {
    Concept { name: name.into(), description: String::new(), params }
}

fn unit(name: &str) -> Param {
    Param { name: name.into(), kind: ParamKind::Number { min: 0.0, max: 1.0, integer: false }, default: None, description: String::new() }
}

fn toy(name: &str, energies: bool) -> ModelInfo {
    ModelInfo {
        name: name.into(),
        description: String::new(),
        data_shape: vec![2],
        concepts: ["ring", "bar", "left_bar", "right_bar", "box_large", "box_small"].into_iter().map(|c| concept(c, vec![])).collect(),
        text: false,
        energies,
        default_scale: 1.0,
        default_base: DefaultBase::None,
        default_steps: 100,
        max_steps: 100,
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

/// toy2d and its exact classifier, the two learned toy2d models, clevr-pos, clevr-attr, a
/// text model (prompts, energies) and the Stable Diffusion models.
pub fn models() -> Vec<ModelInfo> {
    let clevr = ModelInfo {
        name: "clevr-pos".into(),
        description: String::new(),
        data_shape: vec![3, 32, 32],
        concepts: vec![concept("pos", vec![unit("x"), unit("y")])],
        text: false,
        energies: false,
        default_scale: 7.5,
        default_base: DefaultBase::Null,
        default_steps: 100,
        max_steps: 1000,
        default_samples: 8,
        extra_settings: vec![],
        image_size: None,
        default_sampler: None,
        dtypes: false,
        schedule: None,
        latent_space: None,
        classifier: false,
    };
    // Not a real model: prompts, energies and a model setting, so the targets reach that code.
    let size = Param {
        name: "size".into(),
        kind: ParamKind::Number { min: 8.0, max: 128.0, integer: true },
        default: Some(32.0),
        description: String::new(),
    };
    let text = ModelInfo { text: true, concepts: vec![], data_shape: vec![3, 8, 8], extra_settings: vec![size], ..toy("textmodel", true) };
    let sd = |name: &str, size: usize, steps: usize, scale: f64, base: DefaultBase, sampler: Sampler| ModelInfo {
        name: name.into(),
        description: String::new(),
        data_shape: vec![4, size / 8, size / 8],
        concepts: vec![],
        text: true,
        energies: false,
        default_scale: scale,
        default_base: base,
        default_steps: steps,
        default_sampler: Some(sampler),
        max_steps: 1000,
        default_samples: 4,
        extra_settings: vec![],
        image_size: Some(ImageSize { default: [size, size], multiple_of: 8, min: 64, max: 2048, latent_channels: 4 }),
        dtypes: true,
        schedule: None,
        latent_space: None,
        classifier: false,
    };
    let attrs = ["red", "green", "blue", "yellow", "cyan", "magenta", "white", "black", "disc", "square", "small", "large"];
    let clevr_attr = ModelInfo { name: "clevr-attr".into(), concepts: attrs.iter().map(|a| concept(a, vec![])).collect(), ..clevr.clone() };
    vec![
        toy("toy2d", true),
        ModelInfo { classifier: true, ..toy("toy2d-clf", true) },
        toy("toy2d-mlp", true),
        toy("toy2d-mlp-eps", false),
        clevr,
        ModelInfo { name: "clevr-attr-clf".into(), energies: true, classifier: true, ..clevr_attr.clone() },
        clevr_attr,
        text,
        sd("sd15", 512, 30, 7.5, DefaultBase::Null, Sampler::Dpmpp2m { steps: 30 }),
        sd("sd21", 768, 30, 7.5, DefaultBase::Null, Sampler::Dpmpp2m { steps: 30 }),
        sd("sd21-base", 512, 30, 7.5, DefaultBase::Null, Sampler::Dpmpp2m { steps: 30 }),
        sd("sd-turbo", 512, 1, 1.0, DefaultBase::None, Sampler::EulerA { steps: 1 }),
    ]
}

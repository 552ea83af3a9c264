//! `clevr-attr`: Composable Diffusion's attribute experiment on generated 32×32 scenes of ONE
//! object: its colour (8), shape (disc, square) and size (small, large) are the concepts.
//!
//! The network is clevr-pos's UNet (ε-prediction, cosine schedule) with the position's linear
//! embedding replaced by a learned vector per attribute (a linear layer on the one-hot label)
//! and no heatmap channel: an attribute is a property of the whole image, not of a place.
//! A model may know a subset of the attribute groups (`comp train clevr-attr --attributes
//! color`): its card lists the labels it was trained on, which are its vocabulary.

use comp_plan::{Concept, DefaultBase, ModelInfo};

use super::SIZE;

/// The model's name in scripts: `model clevr-attr`.
pub const NAME: &str = "clevr-attr";

/// The attribute groups, each a list of mutually exclusive values, in label order. The colour
/// names are those of the scene palette (`lab/src/clevr/data.rs`), in its order.
pub const GROUPS: [(&str, &[&str]); 3] = [
    ("color", &["red", "green", "blue", "yellow", "cyan", "magenta", "white", "black"]),
    ("shape", &["disc", "square"]),
    ("size", &["small", "large"]),
];

/// Every attribute, in label order (the full model's vocabulary).
pub fn all_labels() -> Vec<String> {
    GROUPS.iter().flat_map(|(_, vs)| vs.iter().map(|v| v.to_string())).collect()
}

/// The labels of the named groups (`color`, `shape`, `size`; `colour` is accepted), in label
/// order whatever the order given; an unknown group is an error naming the known ones.
pub fn labels_of_groups(groups: &[String]) -> std::result::Result<Vec<String>, String> {
    for g in groups {
        let g = g.trim();
        if !GROUPS.iter().any(|(n, _)| *n == g) && g != "colour" {
            let known: Vec<&str> = GROUPS.iter().map(|(n, _)| *n).collect();
            return Err(format!("unknown attribute group `{g}`: the groups are {}", known.join(", ")));
        }
    }
    if groups.is_empty() {
        return Err("no attribute group given: name at least one of color, shape, size".into());
    }
    let wanted = |n: &str| groups.iter().any(|g| g.trim() == n || (n == "color" && g.trim() == "colour"));
    Ok(GROUPS.iter().filter(|(n, _)| wanted(n)).flat_map(|(_, vs)| vs.iter().map(|v| v.to_string())).collect())
}

/// The group of an attribute (`red` → `color`).
pub fn group_of(label: &str) -> Option<&'static str> {
    GROUPS.iter().find(|(_, vs)| vs.contains(&label)).map(|(n, _)| *n)
}

/// Checks a card's label list: known attributes, no repeats, whole groups in label order.
pub fn validate_labels(labels: &[String]) -> std::result::Result<(), String> {
    let groups: Vec<String> =
        GROUPS.iter().filter(|(_, vs)| labels.iter().any(|l| vs.contains(&l.as_str()))).map(|(n, _)| n.to_string()).collect();
    match labels_of_groups(&groups) {
        Ok(expected) if expected == labels => Ok(()),
        _ => Err(format!("the labels {labels:?} are not whole attribute groups in order (e.g. {:?})", all_labels())),
    }
}

/// Vocabulary and defaults of a clevr-attr model trained on `labels`: one concept per label,
/// without arguments; the paper's settings (scale 7.5, base null, 100 steps).
pub fn info_for(labels: &[String]) -> ModelInfo {
    let describe = |l: &str| match group_of(l) {
        Some("color") => format!("the object is {l}"),
        Some("shape") => format!("the object is a {l}"),
        _ => format!("the object is {l}"),
    };
    ModelInfo {
        name: NAME.into(),
        description: "attributes (colour, shape, size) of one object in 32×32 scenes (learned UNet)".into(),
        data_shape: vec![3, SIZE, SIZE],
        concepts: labels.iter().map(|l| Concept { name: l.clone(), description: describe(l), params: vec![] }).collect(),
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
        schedule: Some(crate::toy2d::cosine_schedule(1000, super::COSINE_S)),
        latent_space: None,
        classifier: false,
    }
}

/// The full model's vocabulary (all 12 attributes).
pub fn info() -> ModelInfo {
    info_for(&all_labels())
}

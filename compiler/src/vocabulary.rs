//! The language's words and what each means, in one place: the checker ([`crate::settings`]),
//! `comp lsp` (completion and hover) and the REPL (completion and highlighting) read these
//! lists rather than keeping their own. The keywords themselves belong to the grammar (its
//! syntax errors name them); the sampler, MCMC and dtype names to the plan's types, which the
//! tests below hold these descriptions to.

pub use comp_grammar::KEYWORDS;

/// Words that stand for a value: where an operand goes (`null`) or as `base` (`none`, `null`).
pub const VALUE_WORDS: [(&str, &str); 2] =
    [("null", "the model's unconditional prediction ε(x, ∅)"), ("none", "no base: guidance is measured from 0 (`base none`)")];

/// Which models a setting applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applies {
    /// Every model.
    Always,
    /// Models that make pictures of a chosen size (`ModelInfo::image_size`).
    ImageSize,
    /// Models that compute in a chosen precision (`ModelInfo::dtypes`).
    Dtypes,
}

/// A setting: its name, which models have it, and what it does (docs/language.md,
/// "Statements"; the hover text).
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    pub name: &'static str,
    pub applies: Applies,
    pub doc: &'static str,
}

/// Every setting a script may write, besides a model's own (`ModelInfo::extra_settings`).
pub const SETTINGS: [Setting; 9] = [
    Setting {
        name: "model",
        applies: Applies::Always,
        doc: "the model every name is checked against (required; `comp models` lists them)",
    },
    Setting {
        name: "sampler",
        applies: Applies::Always,
        doc: "the reverse sampler; `steps` defaults to the model's:\n\
              - `ddpm(steps: N)`: ancestral sampling (stochastic)\n\
              - `ddim(steps: N, eta: E)`: DDIM; `eta` in [0, 1], default 0 (deterministic)\n\
              - `dpmpp2m(steps: N)`: DPM-Solver++(2M), deterministic, second order\n\
              - `euler_a(steps: N)`: Euler ancestral (A1111's \"Euler a\"), stochastic",
    },
    Setting {
        name: "mcmc",
        applies: Applies::Always,
        doc: "annealed MCMC after each reverse step:\n\
              - `none`\n\
              - `ula(...)`: unadjusted Langevin\n\
              - `mala(...)`: Metropolis-adjusted Langevin (needs energies)\n\
              - `uhmc(...)`: unadjusted Hamiltonian Monte Carlo\n\
              - `hmc(...)`: Hamiltonian Monte Carlo (needs energies)\n\n\
              parameters: `steps`, `step_size`, `beta_scaled`, `leapfrog`, `damping`, `mass`, `from`, `to`",
    },
    Setting {
        name: "base",
        applies: Applies::Always,
        doc: "the base condition ε_b guidance is measured against: `none`, `null` or an expression",
    },
    Setting { name: "scale", applies: Applies::Always, doc: "the global guidance scale s (finite)" },
    Setting { name: "seed", applies: Applies::Always, doc: "the random seed: an integer 0 ..= 2^53 − 1" },
    Setting { name: "samples", applies: Applies::Always, doc: "how many samples to draw: an integer ≥ 1" },
    Setting { name: "size", applies: Applies::ImageSize, doc: "the picture's width by height in pixels, `WIDTHxHEIGHT` (`512x768`)" },
    Setting {
        name: "dtype",
        applies: Applies::Dtypes,
        doc: "the precision the model computes in: `f16`, `bf16` or `f32` (`comp run --dtype` overrides it)",
    },
];

/// The settings every model has (those of [`SETTINGS`] that apply always).
pub const STANDARD: [&str; 7] = ["model", "sampler", "mcmc", "base", "scale", "seed", "samples"];

/// The setting named `name`.
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// Whether `model` has setting `s` (with no model known, every setting may apply).
pub fn applies(s: &Setting, model: Option<&comp_plan::ModelInfo>) -> bool {
    match (s.applies, model) {
        (_, None) | (Applies::Always, _) => true,
        (Applies::ImageSize, Some(m)) => m.image_size.is_some(),
        (Applies::Dtypes, Some(m)) => m.dtypes,
    }
}

/// The samplers, as a script names them (`comp_plan::SAMPLER_NAMES`), with how to write them.
pub const SAMPLERS: [(&str, &str); 4] = [
    ("ddpm", "ancestral sampling (stochastic): `ddpm(steps: N)`"),
    ("ddim", "DDIM: `ddim(steps: N, eta: E)`, eta 0 deterministic"),
    ("dpmpp2m", "DPM-Solver++(2M), deterministic, second order: `dpmpp2m(steps: N)`"),
    ("euler_a", "Euler ancestral (A1111's \"Euler a\"): `euler_a(steps: N)`"),
];

/// `mcmc`'s values: `none` and the kinds (`comp_plan::McmcKind`).
pub const MCMC: [(&str, &str); 5] = [
    ("none", "no MCMC"),
    ("ula", "unadjusted Langevin"),
    ("mala", "Metropolis-adjusted Langevin (needs energies)"),
    ("uhmc", "unadjusted Hamiltonian Monte Carlo"),
    ("hmc", "Hamiltonian Monte Carlo (needs energies)"),
];

/// `dtype`'s values (`comp_plan::Dtype`).
pub const DTYPES: [(&str, &str); 3] = [("f16", "half precision"), ("bf16", "bfloat16"), ("f32", "single precision")];

#[cfg(test)]
mod tests {
    use super::*;
    use comp_plan::{Dtype, McmcKind, SAMPLER_NAMES};

    #[test]
    fn the_lists_name_what_the_plan_types_accept() {
        let names = |l: &[(&str, &str)]| l.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>();
        assert_eq!(names(&SAMPLERS), SAMPLER_NAMES);
        let mut kinds = vec!["none".to_string()];
        kinds.extend(McmcKind::ALL.iter().map(|k| k.name().to_string()));
        assert_eq!(names(&MCMC), kinds);
        assert_eq!(names(&DTYPES), Dtype::ALL.map(|d| d.name()));
        let standard: Vec<&str> = SETTINGS.iter().filter(|s| s.applies == Applies::Always).map(|s| s.name).collect();
        assert_eq!(standard, STANDARD);
        assert_eq!(KEYWORDS, ["AND", "OR", "NOT", "let", "sample", "with"]);
    }
}

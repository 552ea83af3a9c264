//! Settings from the command line ([`comp_compiler::Overrides`]): read and checked as the
//! file's own, set over every sample's, their diagnostics pointing into the command line.

mod common;
use common::*;
use comp_compiler::{compile_text, compile_text_in, Checked, Context, ModelInfo, Overrides};

fn with(text: &str, overrides: &Overrides, models: &[ModelInfo]) -> Checked {
    compile_text_in(text, models, &Context { overrides: Some(overrides), ..Default::default() })
}

fn json(c: &Checked) -> String {
    serde_json::to_string(&c.compiled.as_ref().expect("compiles").plan).unwrap()
}

/// A model with a `dtype` setting (as Stable Diffusion's).
fn precise() -> ModelInfo {
    ModelInfo { name: "precise".into(), dtypes: true, ..textmodel() }
}

#[test]
fn an_override_is_the_setting_written_at_the_top_of_the_file_over_every_with() {
    let models = [toy2d(), precise()];
    let o = Overrides { seed: Some(7), samples: Some(30), dtype: None };
    let flagged = with("model toy2d\nseed 1\nsample a = ring\nsample b = bar with seed 3, samples 9\n", &o, &models);
    assert!(flagged.diagnostics.is_empty() && flagged.override_diagnostics.is_empty());
    let written = compile_text("model toy2d\nseed 7\nsamples 30\nsample a = ring\nsample b = bar with seed 7, samples 30\n", &models);
    assert_eq!(json(&flagged), json(&written));
    let o = Overrides { dtype: Some("bf16".into()), ..Default::default() };
    let flagged = with("model precise\nsample s = \"a cat\" with dtype f16\n", &o, &models);
    let written = compile_text("model precise\nsample s = \"a cat\" with dtype bf16\n", &models);
    assert_eq!(json(&flagged), json(&written));
    // None given: the file's own plan.
    let text = "model toy2d\nsample s = ring\n";
    assert_eq!(json(&with(text, &Overrides::default(), &models)), json(&compile_text(text, &models)));
}

#[test]
fn a_wrong_override_is_the_files_diagnostic_in_the_command_line_and_leaves_no_plan() {
    let models = [toy2d(), precise()];
    let o = Overrides { seed: Some(1 << 53), samples: Some(0), dtype: Some("f16".into()) };
    let line = o.command_line();
    assert_eq!(line, "--seed 9007199254740992 --samples 0 --dtype f16");
    let c = with("model toy2d\nsample s = ring\n", &o, &models);
    assert!(c.compiled.is_none() && c.has_errors() && c.overrides_have_errors());
    assert!(c.diagnostics.is_empty(), "the file is fine: {:?}", c.diagnostics);
    let got: Vec<(&str, &str, &str)> =
        c.override_diagnostics.iter().map(|d| (d.code, &line[d.span().range()], d.message.as_str())).collect();
    assert_eq!(
        got,
        [
            ("E0114", "9007199254740992", "invalid value for `seed`: expected a whole number in 0..=2^53-1"),
            ("E0114", "0", "invalid value for `samples`: expected a whole number >= 1"),
            ("E0102", "--dtype", "unknown setting `dtype`"),
        ]
    );
    // Word for word what the same settings written in the file get.
    let written = compile_text("model toy2d\nseed 9007199254740992\nsamples 0\ndtype f16\nsample s = ring\n", &models);
    let strip = |d: &comp_grammar::Diagnostic| (d.code, d.message.clone(), d.labels[0].message.clone(), d.help.clone(), d.notes.clone());
    assert_eq!(c.override_diagnostics.iter().map(strip).collect::<Vec<_>>(), written.diagnostics.iter().map(strip).collect::<Vec<_>>());
    assert_eq!(
        c.override_diagnostics[2].help.as_deref(),
        Some("`toy2d` computes in f32 only: `dtype` is a setting of the models that compute in several precisions (Stable Diffusion)")
    );
    // A dtype that is no dtype, on a model that has the setting: E0114 with a suggestion.
    let o = Overrides { dtype: Some("f17".into()), ..Default::default() };
    let c = with("model precise\nsample s = \"a cat\"\n", &o, &models);
    let d = &c.override_diagnostics[0];
    assert_eq!((d.code, &o.command_line()[d.span().range()]), ("E0114", "f17"));
    assert_eq!(d.help.as_deref(), Some("did you mean `f16`?"));
    // A plan read from JSON: the same checks against its model.
    let mut settings = compile_text("model toy2d\nsample s = ring\n", &models).compiled.unwrap().plan.samples[0].settings.clone();
    let before = settings.clone();
    let diags = Overrides { samples: Some(0), ..Default::default() }.apply_to(&models[0], &mut settings);
    assert_eq!(diags[0].message, "invalid value for `samples`: expected a whole number >= 1");
    assert_eq!(settings, before, "nothing set when an override is wrong");
    assert!(Overrides { seed: Some(4), ..Default::default() }.apply_to(&models[0], &mut settings).is_empty());
    assert_eq!(settings.seed, 4);
}

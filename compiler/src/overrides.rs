//! Settings given from outside the file: `comp run FILE --seed 3 --samples 10 --dtype f16`
//! (also `comp plan`, and the REPL's `:run NAME N`).
//!
//! They are settings, read and checked by [`crate::settings::read`] exactly as the file's own
//! `seed`, `samples` and `dtype` are (ranges, which models have a `dtype`), and compiled in
//! over every sample's settings (over a `with` too): a plan compiled with `--seed 3` is the plan
//! of the file with `seed 3` written at its top (and no `with seed`), field for field.
//!
//! A problem with one is the diagnostic the same setting in the file gets, pointing into the
//! command line instead: [`Overrides::command_line`] is the text their spans index
//! (`--seed 3 --dtype f16`), which the CLI renders as a source named `<command line>`. They are
//! kept apart from the file's diagnostics (`Checked::override_diagnostics`), whose spans index
//! the file.
//!
//! ```text
//! comp run toy.comp --dtype f16
//! [E0102] Error: unknown setting `dtype`
//!    ╭─[ <command line>:1:1 ]
//!  1 │ --dtype f16
//!    │ ───┬───
//!    │    ╰───── not a setting
//! ```

use crate::check::model::FileModel;
use crate::model_info::ModelInfo;
use crate::plan::Settings;
use crate::resolve::Scope;
use crate::settings::{self, Written};
use comp_grammar::ast::{Expr, ExprKind, Ident, Number, Setting, SettingValue};
use comp_grammar::{Diagnostic, Span};
use std::collections::BTreeSet;

/// The settings a command line gives, each `None` when not given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--seed N`
    pub seed: Option<u64>,
    /// `--samples N`
    pub samples: Option<usize>,
    /// `--dtype NAME`, as typed (checked like a script's `dtype NAME`).
    pub dtype: Option<String>,
}

impl Overrides {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }

    /// The overrides as flags, `--seed 3 --samples 10 --dtype f16` (in that order, those given):
    /// the text the spans of their diagnostics index.
    pub fn command_line(&self) -> String {
        self.flags().iter().map(|(flag, value, _)| format!("{flag} {value}")).collect::<Vec<_>>().join(" ")
    }

    /// (flag, value as written, setting name) of each override given.
    fn flags(&self) -> Vec<(&'static str, String, &'static str)> {
        let mut out = Vec::new();
        if let Some(s) = self.seed {
            out.push(("--seed", s.to_string(), "seed"));
        }
        if let Some(n) = self.samples {
            out.push(("--samples", n.to_string(), "samples"));
        }
        if let Some(d) = &self.dtype {
            out.push(("--dtype", d.clone(), "dtype"));
        }
        out
    }

    /// The overrides as the settings a script would write, spans in [`Self::command_line`]:
    /// the setting's name is the flag, its value the flag's argument.
    pub fn settings(&self) -> Vec<Setting> {
        let mut at = 0;
        let mut out = Vec::new();
        for (flag, value, name) in self.flags() {
            let flag_span = Span::new(at, at + flag.len());
            let value_span = Span::new(flag_span.end as usize + 1, flag_span.end as usize + 1 + value.len());
            let setting_value = if name == "dtype" {
                SettingValue::Expr(Expr { kind: ExprKind::Name(Ident { name: value.clone(), span: value_span }), span: value_span })
            } else {
                // A u64 or usize as f64: exact up to 2^53, and any larger one is larger than
                // 2^53 − 1 still (rounding is monotonic), so the range checks hold.
                let number: f64 = value.parse().expect("a number's own digits");
                SettingValue::Number(Number { value: number, text: value.clone(), span: value_span })
            };
            out.push(Setting {
                name: Ident { name: name.to_string(), span: flag_span },
                value: setting_value,
                span: flag_span.to(value_span),
            });
            at = value_span.end as usize + 1;
        }
        out
    }

    /// Reads and checks the overrides as settings of a file whose models are `scope`'s (the
    /// diagnostics' spans index [`Self::command_line`]).
    pub fn read(&self, scope: &Scope, diags: &mut Vec<Diagnostic>) -> Written {
        let settings = self.settings();
        let refs: Vec<&Setting> = settings.iter().collect();
        settings::read(&refs, scope, true, diags)
    }

    /// For a plan that was not compiled here (`comp run PLAN.json`): checks the overrides as
    /// settings of `model` (with the diagnostics a script's settings get) and, when none is an
    /// error, sets them in `settings`. Returns the diagnostics.
    pub fn apply_to(&self, model: &ModelInfo, settings: &mut Settings) -> Vec<Diagnostic> {
        let models = [FileModel { alias: model.name.clone(), alias_span: Span::default(), info: Some(model), named: false }];
        let lets = BTreeSet::new();
        let scope = Scope { model: Some(model), models: &models, lets: &lets };
        let mut diags = Vec::new();
        let w = self.read(&scope, &mut diags);
        if !diags.iter().any(Diagnostic::is_error) {
            settings.seed = w.seed.unwrap_or(settings.seed);
            settings.samples = w.samples.unwrap_or(settings.samples);
            settings.dtype = w.dtype.or(settings.dtype);
        }
        diags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_index_the_command_line() {
        let o = Overrides { seed: Some(3), samples: Some(10), dtype: Some("f16".into()) };
        let line = o.command_line();
        assert_eq!(line, "--seed 3 --samples 10 --dtype f16");
        let settings = o.settings();
        let shown: Vec<(&str, &str, &str)> =
            settings.iter().map(|s| (s.name.name.as_str(), &line[s.name.span.range()], &line[s.value.span().range()])).collect();
        assert_eq!(shown, [("seed", "--seed", "3"), ("samples", "--samples", "10"), ("dtype", "--dtype", "f16")]);
        assert_eq!(Overrides { dtype: Some("f16".into()), ..Default::default() }.command_line(), "--dtype f16");
        assert!(Overrides::default().is_empty() && Overrides::default().settings().is_empty());
    }
}

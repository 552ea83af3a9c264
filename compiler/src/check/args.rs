//! Binding constructor arguments to parameters: `pos(0.25, y: 0.5)`, `ddim(steps: 50)`,
//! `hmc(leapfrog: 3, beta_scaled: true)`.
//!
//! Positional arguments fill parameters in order, named ones by name; left-out parameters take
//! their default. Reports E0104 (count), E0105 (type), E0106 (range, or the spec's own code),
//! E0107 (unknown or repeated name), each at the offending argument.

use crate::suggest::did_you_mean;
use comp_grammar::ast::{Arg, ArgValue};
use comp_grammar::{Diagnostic, Span};

/// The type of a parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArgKind {
    /// A number in `min..=max` (or `min < x` when `min_exclusive`); whole when `integer`.
    Number { min: f64, max: f64, integer: bool, min_exclusive: bool },
    /// `true` or `false`.
    Bool,
}

impl ArgKind {
    pub fn number(min: f64, max: f64, integer: bool) -> ArgKind {
        ArgKind::Number { min, max, integer, min_exclusive: false }
    }

    /// The allowed values in words: `0..=1`, `>= 1`, `> 0`.
    pub fn range_text(self) -> String {
        match self {
            ArgKind::Bool => "`true` or `false`".into(),
            ArgKind::Number { min, max, min_exclusive, .. } => match (min_exclusive, max.is_finite()) {
                (true, false) => format!("> {min}"),
                (false, false) => format!(">= {min}"),
                (true, true) => format!("in ({min}, {max}]"),
                (false, true) => format!("in {min}..={max}"),
            },
        }
    }
}

/// One parameter as the binder sees it.
#[derive(Clone, Debug)]
pub struct ParamSpec {
    pub name: String,
    pub kind: ArgKind,
    /// `None`: required.
    pub default: Option<f64>,
    /// The code for an out-of-range value (E0106, or E0114 for zero steps).
    pub range_code: &'static str,
}

impl ParamSpec {
    pub fn new(name: &str, kind: ArgKind, default: Option<f64>) -> ParamSpec {
        ParamSpec { name: name.into(), kind, default, range_code: "E0106" }
    }
}

impl From<&crate::model_info::Param> for ParamSpec {
    fn from(p: &crate::model_info::Param) -> ParamSpec {
        let crate::model_info::ParamKind::Number { min, max, integer } = p.kind;
        ParamSpec::new(&p.name, ArgKind::number(min, max, integer), p.default)
    }
}

/// Checks one value against a parameter; `true`/`false` are 1/0. `None` after reporting.
pub fn check_value(p: &ParamSpec, value: &ArgValue, diags: &mut Vec<Diagnostic>) -> Option<f64> {
    match (p.kind, value) {
        (ArgKind::Bool, ArgValue::Name(id)) if id.name == "true" || id.name == "false" => Some(if id.name == "true" { 1.0 } else { 0.0 }),
        (ArgKind::Bool, v) => {
            diags.push(
                Diagnostic::error("E0105", format!("`{}` must be `true` or `false`", p.name), v.span())
                    .with_label("expected `true` or `false`"),
            );
            None
        }
        (ArgKind::Number { min, max, integer, min_exclusive }, ArgValue::Number(n)) => {
            let v = n.value;
            if integer && v.fract() != 0.0 {
                diags.push(
                    Diagnostic::error("E0105", format!("`{}` must be a whole number", p.name), n.span)
                        .with_label("not a whole number")
                        .with_help(format!("`{}` must be a whole number {}", p.name, p.kind.range_text())),
                );
                return None;
            }
            let below = if min_exclusive { v <= min } else { v < min };
            if below || v > max || !v.is_finite() {
                diags.push(
                    Diagnostic::error(p.range_code, format!("`{}` must be {}, found {}", p.name, p.kind.range_text(), n.text), n.span)
                        .with_label("out of range")
                        .with_help(format!("`{}` must be {}", p.name, p.kind.range_text())),
                );
                return None;
            }
            Some(v)
        }
        (ArgKind::Number { .. }, v) => {
            let found = match v {
                ArgValue::Name(id) => format!("the name `{}`", id.name),
                ArgValue::Text { .. } => "a string".to_string(),
                ArgValue::Number(_) => unreachable!("handled above"),
            };
            diags.push(
                Diagnostic::error("E0105", format!("`{}` must be a number, found {found}", p.name), v.span())
                    .with_label("expected a number")
                    .with_help(format!("`{}` must be a number {}", p.name, p.kind.range_text())),
            );
            None
        }
    }
}

/// Binds `args` of a call to `callee` (spanning `call_span`) to `params`. Returns the values
/// in parameter order with defaults filled, or `None` when anything was reported.
pub fn bind_args(callee: &str, params: &[ParamSpec], args: &[Arg], call_span: Span, diags: &mut Vec<Diagnostic>) -> Option<Vec<f64>> {
    let before = diags.len();
    let mut slots: Vec<Option<(f64, Span)>> = vec![None; params.len()];
    let mut seen: Vec<Option<Span>> = vec![None; params.len()];
    let signature = params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ");
    let mut positional = 0;
    for arg in args {
        let index = match &arg.name {
            None => {
                let i = positional;
                positional += 1;
                if i >= params.len() {
                    diags.push(
                        Diagnostic::error(
                            "E0104",
                            format!("`{callee}` takes {} argument{}, found more", params.len(), plural(params.len())),
                            arg.span,
                        )
                        .with_label("unexpected argument")
                        .with_help(format!("`{callee}({signature})`")),
                    );
                    continue;
                }
                i
            }
            Some(id) => match params.iter().position(|p| p.name == id.name) {
                Some(i) => i,
                None => {
                    let mut d = Diagnostic::error("E0107", format!("`{callee}` has no argument `{}`", id.name), id.span)
                        .with_label("unknown argument");
                    d.help = did_you_mean(&id.name, params.iter().map(|p| p.name.as_str()))
                        .or_else(|| Some(format!("`{callee}` takes ({signature})")));
                    diags.push(d);
                    continue;
                }
            },
        };
        let name_span = arg.name.as_ref().map_or(arg.span, |n| n.span);
        if let Some(first) = seen[index] {
            diags.push(
                Diagnostic::error("E0107", format!("argument `{}` given twice", params[index].name), name_span)
                    .with_label("repeated here")
                    .with_secondary(first, "first given here"),
            );
            continue;
        }
        seen[index] = Some(arg.span);
        if let Some(v) = check_value(&params[index], &arg.value, diags) {
            slots[index] = Some((v, arg.span));
        }
    }
    let mut values = Vec::with_capacity(params.len());
    for (i, p) in params.iter().enumerate() {
        match (slots[i], seen[i], p.default) {
            (Some((v, _)), _, _) => values.push(v),
            (None, Some(_), _) => values.push(f64::NAN), // bad value, already reported
            (None, None, Some(d)) => values.push(d),
            (None, None, None) => {
                diags.push(
                    Diagnostic::error("E0104", format!("`{callee}` is missing argument `{}`", p.name), call_span)
                        .with_label(format!("`{}` is missing", p.name))
                        .with_help(format!("`{callee}` takes ({signature})")),
                );
                values.push(f64::NAN);
            }
        }
    }
    (diags.len() == before).then_some(values)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

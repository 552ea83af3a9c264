//! Settings: reading what a scope writes (the file's top level, or one sample's `with`), and
//! resolving a sample's settings: the sample's `with`, then the file, then the model's
//! defaults.
//!
//! ```text
//! sampler ddim(steps: 50)          # eta defaults to 0
//! mcmc hmc(leapfrog: 5)            # the other parameters take the defaults of docs/language.md
//! sample s = ring with scale 2     # this sample: scale 2; seed 0, samples from the model
//! ```
//!
//! A setting written again replaces the whole setting: `with sampler ddim(eta: 1)` does not
//! keep the file's `steps`. Reports E0102 (unknown setting), E0105/E0106 (parameters),
//! E0113 (MALA/HMC without energies), E0114 (invalid value), E0116 (duplicate), E0119
//! (`model` in a `with`), E0121 (invalid `base`, the parts that need no lets).

use crate::check::args::{bind_args, check_value, ArgKind, ParamSpec};
use crate::ir::Node;
use crate::model_info::{DefaultBase, ModelInfo};
use crate::plan::{Dtype, Mcmc, McmcKind, Sampler, Settings, DDIM_ETA, MAX_LEAPFROG, MAX_MCMC_STEPS, SAMPLER_NAMES};
use crate::resolve::{resolve, Scope};
use crate::suggest::did_you_mean;
use comp_grammar::ast::{ArgValue, Expr, ExprKind, Setting, SettingValue};
use comp_grammar::{Diagnostic, Span};
use std::collections::BTreeMap;

/// The largest seed: 2^53 − 1, the largest integer every f64 holds exactly.
pub const MAX_SEED: u64 = (1 << 53) - 1;

/// The settings every model has, besides its own.
pub use crate::vocabulary::STANDARD;

/// `base` as written.
#[derive(Clone, Debug, PartialEq)]
pub enum BaseSpec {
    None,
    /// `base null`; the span of `null` when written (none for the model's default).
    Null(Option<Span>),
    /// `base 0.5 * ring`: resolved, lets not inlined; `span` is the expression.
    Expr(Node, Span),
}

/// `sampler` as written; `steps: None` takes the model's default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SamplerSpec {
    Ddpm { steps: Option<usize> },
    Ddim { steps: Option<usize>, eta: f64 },
    Dpmpp2m { steps: Option<usize> },
    EulerA { steps: Option<usize> },
}

/// The settings one scope writes; `None`: not written (or written wrongly, and reported).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Written {
    pub sampler: Option<SamplerSpec>,
    pub mcmc: Option<Option<Mcmc>>,
    pub base: Option<BaseSpec>,
    /// Whether a `base` is written (rightly or not): with several models one is required, and
    /// a wrong one has said what is wrong with it.
    pub base_written: bool,
    pub scale: Option<f64>,
    pub seed: Option<u64>,
    pub samples: Option<usize>,
    pub extra: BTreeMap<String, f64>,
    pub size: Option<[usize; 2]>,
    pub dtype: Option<Dtype>,
}

/// What the plan needs from one sample's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub settings: Settings,
    pub base: BaseSpec,
}

fn invalid(name: &str, expected: &str, span: Span) -> Diagnostic {
    Diagnostic::error("E0114", format!("invalid value for `{name}`: expected {expected}"), span).with_label(format!("expected {expected}"))
}

fn number<'a>(s: &'a Setting, expected: &str, diags: &mut Vec<Diagnostic>) -> Option<&'a comp_grammar::ast::Number> {
    match &s.value {
        SettingValue::Number(n) => Some(n),
        v => {
            diags.push(invalid(&s.name.name, expected, v.span()));
            None
        }
    }
}

/// `ddpm`, `ddim(...)`: the constructor's name and arguments (none for a bare name).
fn call(e: &Expr) -> Option<(&comp_grammar::ast::Ident, &[comp_grammar::ast::Arg])> {
    match &e.kind {
        ExprKind::Name(id) => Some((id, &[])),
        ExprKind::Call { name, args } => Some((name, args)),
        ExprKind::Paren(e) => call(e),
        _ => None,
    }
}

fn steps_param(default: Option<f64>) -> ParamSpec {
    ParamSpec { range_code: "E0114", ..ParamSpec::new("steps", ArgKind::number(1.0, f64::INFINITY, true), default) }
}

/// More steps than the model's native schedule has cannot be sampled: E0106 at the argument.
fn check_max_steps(steps: Option<usize>, args: &[comp_grammar::ast::Arg], model: Option<&ModelInfo>, diags: &mut Vec<Diagnostic>) {
    let (Some(steps), Some(model)) = (steps, model) else { return };
    if steps <= model.max_steps {
        return;
    }
    let span = args
        .iter()
        .find(|a| a.name.as_ref().is_some_and(|n| n.name == "steps"))
        .or_else(|| args.iter().find(|a| a.name.is_none()))
        .map(|a| a.value.span())
        .unwrap_or_default();
    diags.push(
        Diagnostic::error("E0106", format!("`steps` must be in 1..={} for `{}`, found {steps}", model.max_steps, model.name), span)
            .with_label("more steps than the model's noise schedule has")
            .with_help(format!(
                "the noise schedule of `{}` has {} steps; sample with at most {}",
                model.name, model.max_steps, model.max_steps
            )),
    );
}

fn read_sampler(s: &Setting, model: Option<&ModelInfo>, diags: &mut Vec<Diagnostic>) -> Option<SamplerSpec> {
    const EXPECTED: &str = "`ddpm(steps: N)`, `ddim(steps: N, eta: E)`, `dpmpp2m(steps: N)` or `euler_a(steps: N)`";
    let SettingValue::Expr(e) = &s.value else {
        diags.push(invalid("sampler", EXPECTED, s.value.span()));
        return None;
    };
    let Some((name, args)) = call(e) else {
        diags.push(invalid("sampler", EXPECTED, e.span));
        return None;
    };
    let steps = |v: f64| (!v.is_nan()).then_some(v as usize);
    match name.name.as_str() {
        "ddpm" => {
            let v = bind_args("ddpm", &[steps_param(Some(f64::NAN))], args, e.span, diags)?;
            check_max_steps(steps(v[0]), args, model, diags);
            Some(SamplerSpec::Ddpm { steps: steps(v[0]) })
        }
        "ddim" => {
            let eta = ParamSpec::new("eta", ArgKind::number(*DDIM_ETA.start(), *DDIM_ETA.end(), false), Some(0.0));
            let v = bind_args("ddim", &[steps_param(Some(f64::NAN)), eta], args, e.span, diags)?;
            check_max_steps(steps(v[0]), args, model, diags);
            Some(SamplerSpec::Ddim { steps: steps(v[0]), eta: v[1] })
        }
        "dpmpp2m" => {
            let v = bind_args("dpmpp2m", &[steps_param(Some(f64::NAN))], args, e.span, diags)?;
            check_max_steps(steps(v[0]), args, model, diags);
            Some(SamplerSpec::Dpmpp2m { steps: steps(v[0]) })
        }
        "euler_a" => {
            let v = bind_args("euler_a", &[steps_param(Some(f64::NAN))], args, e.span, diags)?;
            check_max_steps(steps(v[0]), args, model, diags);
            Some(SamplerSpec::EulerA { steps: steps(v[0]) })
        }
        other => {
            let mut d = Diagnostic::error("E0114", format!("unknown sampler `{other}`"), name.span)
                .with_label("expected `ddpm`, `ddim`, `dpmpp2m` or `euler_a`");
            d.help = did_you_mean(other, SAMPLER_NAMES).or_else(|| Some(format!("write {EXPECTED}")));
            diags.push(d);
            None
        }
    }
}

fn read_mcmc(s: &Setting, model: Option<&ModelInfo>, diags: &mut Vec<Diagnostic>) -> Option<Option<Mcmc>> {
    const EXPECTED: &str = "`none`, `ula(...)`, `mala(...)`, `uhmc(...)` or `hmc(...)`";
    let Some((name, args)) = (match &s.value {
        SettingValue::Expr(e) => call(e),
        SettingValue::Number(_) | SettingValue::Dimensions(_) => None,
    }) else {
        diags.push(invalid("mcmc", EXPECTED, s.value.span()));
        return None;
    };
    let kind = match name.name.as_str() {
        "none" if args.is_empty() => return Some(None),
        other => match other.parse::<McmcKind>() {
            Ok(kind) => kind,
            Err(_) => {
                let mut d = Diagnostic::error("E0114", format!("unknown MCMC sampler `{other}`"), name.span)
                    .with_label(format!("expected {EXPECTED}"));
                d.help = did_you_mean(other, std::iter::once("none").chain(McmcKind::ALL.map(McmcKind::name)));
                diags.push(d);
                return None;
            }
        },
    };
    let mut bad = false;
    if let Some(m) = model.filter(|m| kind.needs_energies() && !m.energies) {
        diags.push(
            Diagnostic::error("E0113", format!("`{}` needs a model with energies; `{}` has none", name.name, m.name), name.span)
                .with_label("accepts or rejects by energy")
                .with_help("use `ula` or `uhmc`, which need only scores"),
        );
        bad = true;
    }
    let hmc = kind.is_hamiltonian();
    let positive = |name: &str, d: f64| {
        ParamSpec::new(name, ArgKind::Number { min: 0.0, max: f64::INFINITY, integer: false, min_exclusive: true }, Some(d))
    };
    let unit = |name: &str, d: f64| ParamSpec::new(name, ArgKind::number(0.0, 1.0, false), Some(d));
    let mcmc_steps =
        ParamSpec { range_code: "E0114", ..ParamSpec::new("steps", ArgKind::number(1.0, MAX_MCMC_STEPS as f64, true), Some(10.0)) };
    let mut params = vec![
        mcmc_steps,
        positive("step_size", if hmc { 0.03 } else { 0.001 }),
        ParamSpec::new("beta_scaled", ArgKind::Bool, Some(0.0)),
        unit("from", 0.0),
        unit("to", 1.0),
    ];
    if hmc {
        params.push(ParamSpec::new("leapfrog", ArgKind::number(1.0, MAX_LEAPFROG as f64, true), Some(3.0)));
        params.push(unit("damping", 0.5));
        params.push(positive("mass", 1.0));
    }
    let v = bind_args(&name.name, &params, args, s.value.span(), diags)?;
    if v[3] >= v[4] {
        diags.push(
            Diagnostic::error("E0114", format!("MCMC range [{}, {}] is empty", v[3], v[4]), s.value.span())
                .with_label("`from` must be less than `to`"),
        );
        return None;
    }
    let get = |i: usize, d: f64| v.get(i).copied().unwrap_or(d);
    let mcmc = Mcmc {
        kind,
        steps: v[0] as usize,
        step_size: v[1],
        beta_scaled: v[2] != 0.0,
        from: v[3],
        to: v[4],
        leapfrog: get(5, 3.0) as usize,
        damping: get(6, 0.5),
        mass: get(7, 1.0),
    };
    (!bad).then_some(Some(mcmc))
}

fn read_base(s: &Setting, scope: &Scope, diags: &mut Vec<Diagnostic>) -> Option<BaseSpec> {
    let SettingValue::Expr(e) = &s.value else {
        diags.push(
            Diagnostic::error("E0121", "invalid `base`: expected `none`, `null` or an expression", s.value.span())
                .with_label("a bare number")
                .with_help("write `base none`, `base null`, or an expression such as `base 0.5 * ring`"),
        );
        return None;
    };
    if let ExprKind::Name(id) = &e.kind {
        if id.name == "none" && !scope.lets.contains("none") {
            return Some(BaseSpec::None);
        }
        if id.name == "null" && scope.models.len() > 1 && !scope.lets.contains("null") {
            diags.push(scope.ambiguous_null(id.span, "`base null`"));
            return None;
        }
    }
    let before = diags.len();
    let node = resolve(e, scope, diags);
    if let Node::Cond { cond: crate::ir::Cond::Null { model: None }, span, .. } = node {
        return Some(BaseSpec::Null(Some(span)));
    }
    (diags.len() == before).then_some(BaseSpec::Expr(node, e.span))
}

/// `size 512x768`: width by height, each a multiple of the model's factor within its bounds.
fn read_size(s: &Setting, model: Option<&ModelInfo>, diags: &mut Vec<Diagnostic>) -> Option<[usize; 2]> {
    let spec = model?.image_size.as_ref()?;
    let (lo, hi, m) = (spec.min, spec.max, spec.multiple_of);
    let expected = format!("`WIDTHxHEIGHT`, each side a multiple of {m} in {lo}..={hi}");
    let SettingValue::Dimensions(d) = &s.value else {
        diags.push(
            invalid("size", &expected, s.value.span()).with_help(format!("for example `size {}x{}`", spec.default[0], spec.default[1])),
        );
        return None;
    };
    let side = |v: Option<u64>| v.filter(|&v| v >= lo as u64 && v <= hi as u64 && v % m as u64 == 0).map(|v| v as usize);
    match (side(d.width), side(d.height)) {
        (Some(w), Some(h)) => Some([w, h]),
        _ => {
            let round = |v: Option<u64>| {
                let v = v.unwrap_or(hi as u64).clamp(lo as u64, hi as u64) as usize;
                (v + m / 2) / m * m
            };
            diags.push(invalid("size", &expected, d.span).with_help(format!(
                "the nearest allowed size is `{}x{}`",
                round(d.width).max(lo),
                round(d.height).max(lo)
            )));
            None
        }
    }
}

/// `dtype f16`, `bf16` or `f32`.
fn read_dtype(s: &Setting, diags: &mut Vec<Diagnostic>) -> Option<Dtype> {
    let name = match &s.value {
        SettingValue::Expr(Expr { kind: ExprKind::Name(id), .. }) => Some(id.name.as_str()),
        _ => None,
    };
    match name.and_then(Dtype::from_name) {
        Some(d) => Some(d),
        None => {
            let mut d = invalid("dtype", "`f16`, `bf16` or `f32`", s.value.span());
            d.help = name.and_then(|n| did_you_mean(n, crate::vocabulary::DTYPES.map(|(d, _)| d)));
            diags.push(d);
            None
        }
    }
}

/// Why a setting other models have (`size`, `dtype`) is not one of `model`'s.
fn not_here(name: &str, model: &ModelInfo) -> Option<String> {
    use crate::vocabulary::Applies;
    match crate::vocabulary::setting(name)?.applies {
        Applies::Always => None,
        Applies::ImageSize => Some(format!(
            "`{}` makes samples of one size: `size` is a setting of the models whose pictures come in sizes (Stable Diffusion)",
            model.name
        )),
        Applies::Dtypes => Some(format!(
            "`{}` computes in f32 only: `dtype` is a setting of the models that compute in several precisions (Stable Diffusion)",
            model.name
        )),
    }
}

/// Reads the settings of one scope. `top_level` is false for a `with` list; the model
/// statement is read elsewhere (see [`crate::check::model`]) and only rejected here in a `with`.
pub fn read(settings: &[&Setting], scope: &Scope, top_level: bool, diags: &mut Vec<Diagnostic>) -> Written {
    let mut w = Written::default();
    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
    for s in settings {
        let name = s.name.name.as_str();
        if let Some(first) = seen.get(name) {
            let where_ = if top_level { "in a file" } else { "in one `with`" };
            diags.push(
                Diagnostic::error("E0116", format!("`{name}` is set twice"), s.name.span)
                    .with_label("set again here")
                    .with_secondary(*first, "first set here")
                    .with_help(format!("each setting may appear once {where_}")),
            );
            continue;
        }
        seen.insert(name, s.name.span);
        match name {
            "model" if top_level => {}
            "model" => diags.push(
                Diagnostic::error("E0119", "`model` cannot be overridden in a `with`", s.name.span)
                    .with_label("the model is chosen once per file")
                    .with_help("move this sample to a file of its own"),
            ),
            "sampler" => w.sampler = read_sampler(s, scope.model, diags),
            // With several models, which of them a sample uses decides (`check::several`).
            "mcmc" => w.mcmc = read_mcmc(s, scope.model.filter(|_| scope.models.len() <= 1), diags),
            "base" => {
                w.base_written = true;
                w.base = read_base(s, scope, diags);
            }
            "size" if scope.model.is_some_and(|m| m.image_size.is_some()) => w.size = read_size(s, scope.model, diags),
            "dtype" if scope.model.is_some_and(|m| m.dtypes) => w.dtype = read_dtype(s, diags),
            "scale" => {
                if let Some(n) = number(s, "a finite number", diags) {
                    if n.value.is_finite() {
                        w.scale = Some(n.value);
                    } else {
                        diags.push(invalid("scale", "a finite number", n.span));
                    }
                }
            }
            "seed" => {
                if let Some(n) = number(s, "a whole number in 0..=2^53-1", diags) {
                    if n.value.fract() == 0.0 && (0.0..=MAX_SEED as f64).contains(&n.value) {
                        w.seed = Some(n.value as u64);
                    } else {
                        diags.push(invalid("seed", "a whole number in 0..=2^53-1", n.span));
                    }
                }
            }
            "samples" => {
                if let Some(n) = number(s, "a whole number >= 1", diags) {
                    if n.value.fract() == 0.0 && n.value >= 1.0 && n.value <= usize::MAX as f64 {
                        w.samples = Some(n.value as usize);
                    } else {
                        diags.push(invalid("samples", "a whole number >= 1", n.span));
                    }
                }
            }
            _ => {
                let Some(model) = scope.model else { continue };
                if let Some(p) = model.extra_settings.iter().find(|p| p.name == name) {
                    let spec = ParamSpec::from(p);
                    let value = match &s.value {
                        SettingValue::Number(n) => ArgValue::Number(n.clone()),
                        SettingValue::Expr(e) => match &e.kind {
                            ExprKind::Name(id) => ArgValue::Name(id.clone()),
                            _ => {
                                diags.push(invalid(name, &format!("a number {}", spec.kind.range_text()), e.span));
                                continue;
                            }
                        },
                        SettingValue::Dimensions(d) => {
                            diags.push(invalid(name, &format!("a number {}", spec.kind.range_text()), d.span));
                            continue;
                        }
                    };
                    if let Some(v) = check_value(&spec, &value, diags) {
                        w.extra.insert(name.to_string(), v);
                    }
                } else {
                    let known: Vec<&str> = STANDARD
                        .iter()
                        .copied()
                        .chain(model.image_size.is_some().then_some("size"))
                        .chain(model.dtypes.then_some("dtype"))
                        .chain(model.extra_settings.iter().map(|p| p.name.as_str()))
                        .collect();
                    let mut d = Diagnostic::error("E0102", format!("unknown setting `{name}`"), s.name.span)
                        .with_label("not a setting")
                        .with_note(format!("settings of `{}`: {}", model.name, known.join(", ")));
                    d.help = did_you_mean(name, known).or_else(|| not_here(name, model));
                    diags.push(d);
                }
            }
        }
    }
    w
}

/// One sample's settings: the command line's overrides ([`crate::overrides`]), then its
/// `with`, then the file's, then the model's defaults.
pub fn resolve_settings(overrides: &Written, file: &Written, with: &Written, model: &ModelInfo) -> Resolved {
    // The scopes that write settings, the one that wins first.
    let layers = [overrides, with, file];
    let sampler = match layers.iter().find_map(|w| w.sampler) {
        None => match &model.default_sampler {
            Some(s) => s.clone(),
            None => Sampler::Ddpm { steps: model.default_steps },
        },
        Some(SamplerSpec::Ddpm { steps }) => Sampler::Ddpm { steps: steps.unwrap_or(model.default_steps) },
        Some(SamplerSpec::Ddim { steps, eta }) => Sampler::Ddim { steps: steps.unwrap_or(model.default_steps), eta },
        Some(SamplerSpec::Dpmpp2m { steps }) => Sampler::Dpmpp2m { steps: steps.unwrap_or(model.default_steps) },
        Some(SamplerSpec::EulerA { steps }) => Sampler::EulerA { steps: steps.unwrap_or(model.default_steps) },
    };
    let mut extra: BTreeMap<String, f64> = model.extra_settings.iter().filter_map(|p| Some((p.name.clone(), p.default?))).collect();
    for w in layers.iter().rev() {
        extra.extend(w.extra.clone());
    }
    let base = layers.iter().find_map(|w| w.base.clone()).unwrap_or(match model.default_base {
        DefaultBase::None => BaseSpec::None,
        DefaultBase::Null => BaseSpec::Null(None),
    });
    Resolved {
        settings: Settings {
            sampler,
            mcmc: layers.iter().find_map(|w| w.mcmc.clone()).flatten(),
            scale: layers.iter().find_map(|w| w.scale).unwrap_or(model.default_scale),
            seed: layers.iter().find_map(|w| w.seed).unwrap_or(0),
            samples: layers.iter().find_map(|w| w.samples).unwrap_or(model.default_samples),
            extra,
            size: layers.iter().find_map(|w| w.size).or(model.image_size.as_ref().map(|s| s.default)),
            dtype: layers.iter().find_map(|w| w.dtype),
        },
        base,
    }
}

//! Property tests: the plan computes what docs/language.md says the *unsimplified* tree
//! means. A reference evaluator walks the syntax tree directly (lets looked up by name,
//! weights multiplied on the way down, windows intersected) and applies the formula
//!
//!   ε̂ = (1 − s·Σ w_i) · ε_b + Σ s·w_i · ε_i     (active terms at f = (k + 0.5)/steps)
//!
//! and, for mixtures, ε̂ = Σ_j π_j ε_j with π = softmax_j(log m_j − E_j/σ).

mod common;
use common::*;
use comp_compiler::plan::{Combine, SamplePlan};
use comp_grammar::ast::*;
use comp_grammar::Span;
use proptest::prelude::*;
use std::collections::BTreeMap;

const CONCEPTS: [&str; 4] = ["ring", "bar", "left_bar", "right_bar"];
const S: Span = Span { start: 0, end: 0 };

fn num(v: f64) -> Number {
    Number { value: v, text: v.to_string(), span: S }
}
fn e(kind: ExprKind) -> Expr {
    Expr { kind, span: S }
}
fn name(n: &str) -> Expr {
    e(ExprKind::Name(Ident { name: n.into(), span: S }))
}

fn weight() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), Just(-1.0), Just(0.5), Just(2.0), -3.0..3.0f64]
}

fn window() -> impl Strategy<Value = (f64, f64)> {
    (0u8..10).prop_flat_map(|a| (Just(a), a + 1..=10)).prop_map(|(a, b)| (a as f64 / 10.0, b as f64 / 10.0))
}

/// A linear expression (no OR) over the concepts and the given let names.
fn linear(names: Vec<&'static str>) -> BoxedStrategy<Expr> {
    let leaf = proptest::sample::select(names).prop_map(name);
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(|xs| e(ExprKind::And(xs))),
            inner.clone().prop_map(|x| e(ExprKind::Not(Box::new(x)))),
            (weight(), inner.clone()).prop_map(|(w, x)| e(ExprKind::Weight { weight: num(w), expr: Box::new(x) })),
            (window(), inner.clone()).prop_map(|((a, b), x)| e(ExprKind::Window { expr: Box::new(x), from: num(a), to: num(b) })),
            inner.prop_map(|x| e(ExprKind::Paren(Box::new(x)))),
        ]
    })
    .boxed()
}

/// A mixture: an OR of linear branches, possibly inside an AND, with an OR nested as a branch
/// of an OR, and `l1` (a let holding an OR, see [`mixture_let`]) used as an AND operand or a
/// branch.
fn mixture(names: Vec<&'static str>) -> BoxedStrategy<Expr> {
    let branch =
        |x: BoxedStrategy<Expr>| (proptest::option::of(0.1..5.0f64), x).prop_map(|(m, expr)| Branch { weight: m.map(num), expr, span: S });
    let or_of =
        |b: BoxedStrategy<Branch>| proptest::collection::vec(b, 2..4).prop_map(|bs| e(ExprKind::Paren(Box::new(e(ExprKind::Or(bs))))));
    let or = or_of(branch(linear(names.clone())).boxed());
    let inner_or = or.clone().boxed();
    let nested = or_of(branch(prop_oneof![2 => linear(names.clone()), 1 => inner_or, 1 => Just(name("l1"))].boxed()).boxed());
    prop_oneof![
        or.clone(),
        (linear(names.clone()), or.clone()).prop_map(|(a, o)| e(ExprKind::And(vec![a, o]))),
        (or.clone(), or).prop_map(|(a, b)| e(ExprKind::And(vec![a, b]))),
        nested.clone(),
        (linear(names.clone()), nested).prop_map(|(a, o)| e(ExprKind::And(vec![a, o]))),
        linear(names).prop_map(|a| e(ExprKind::And(vec![a, name("l1")]))),
    ]
    .boxed()
}

/// What `let l1 = …` holds in the mixture property: an OR of linear branches over the concepts.
fn mixture_let() -> BoxedStrategy<Expr> {
    let branch =
        (proptest::option::of(0.1..5.0f64), linear(CONCEPTS.to_vec())).prop_map(|(m, expr)| Branch { weight: m.map(num), expr, span: S });
    proptest::collection::vec(branch, 2..4).prop_map(|bs| e(ExprKind::Or(bs))).boxed()
}

#[derive(Clone, Debug)]
enum BaseChoice {
    Default,
    None,
    Null,
    Expr(f64, f64),
}

fn base() -> impl Strategy<Value = BaseChoice> {
    prop_oneof![
        Just(BaseChoice::Default),
        Just(BaseChoice::None),
        Just(BaseChoice::Null),
        (-2.0..2.0f64, -2.0..2.0f64).prop_map(|(a, b)| BaseChoice::Expr(a, b)),
    ]
}

fn setting(n: &str, value: SettingValue) -> Item {
    Item::Setting(Setting { name: Ident { name: n.into(), span: S }, value, span: S })
}

fn program(l0: Expr, l1: Expr, sample: Expr, scale: f64, steps: usize, base: &BaseChoice) -> Program {
    let mut items = vec![
        setting("model", SettingValue::Expr(name("toy2d"))),
        setting("scale", SettingValue::Number(num(scale))),
        setting(
            "sampler",
            SettingValue::Expr(e(ExprKind::Call {
                name: Ident { name: "ddpm".into(), span: S },
                args: vec![Arg {
                    name: Some(Ident { name: "steps".into(), span: S }),
                    value: ArgValue::Number(num(steps as f64)),
                    span: S,
                }],
            })),
        ),
    ];
    let b = match base {
        BaseChoice::Default => None,
        BaseChoice::None => Some(name("none")),
        BaseChoice::Null => Some(name("null")),
        BaseChoice::Expr(a, b) => Some(e(ExprKind::And(vec![
            e(ExprKind::Weight { weight: num(*a), expr: Box::new(name("bar")) }),
            e(ExprKind::Weight { weight: num(*b), expr: Box::new(name("null")) }),
        ]))),
    };
    if let Some(b) = b {
        items.push(setting("base", SettingValue::Expr(b)));
    }
    for (n, x) in [("l0", l0), ("l1", l1)] {
        items.push(Item::Let(Let { name: Ident { name: n.into(), span: S }, expr: x, span: S }));
    }
    items.push(Item::Sample(Sample { name: Ident { name: "s".into(), span: S }, expr: sample, overrides: vec![], span: S }));
    Program { items, comments: vec![] }
}

// ---- the reference: straight from the tree -------------------------------------------------

/// A term: (condition, weight, from, to).
type Term = (String, f64, f64, f64);

/// Mixture components of `x`: (log mixture weight, terms). A linear expression has one.
fn components(x: &Expr, lets: &BTreeMap<String, Expr>) -> Vec<(f64, Vec<Term>)> {
    match &x.kind {
        ExprKind::Name(id) => match lets.get(&id.name) {
            Some(body) => components(body, lets),
            None => vec![(0.0, vec![(id.name.clone(), 1.0, 0.0, 1.0)])],
        },
        ExprKind::Paren(x) => components(x, lets),
        ExprKind::And(xs) => xs.iter().fold(vec![(0.0, vec![])], |acc, x| {
            let c = components(x, lets);
            acc.iter().flat_map(|(la, ta)| c.iter().map(move |(lb, tb)| (la + lb, ta.iter().chain(tb).cloned().collect()))).collect()
        }),
        ExprKind::Or(bs) => {
            let total: f64 = bs.iter().map(|b| b.weight.as_ref().map_or(1.0, |n| n.value)).sum();
            bs.iter()
                .flat_map(|b| {
                    let lm = (b.weight.as_ref().map_or(1.0, |n| n.value) / total).ln();
                    components(&b.expr, lets).into_iter().map(move |(l, t)| (l + lm, t))
                })
                .collect()
        }
        ExprKind::Not(x) => map_terms(components(x, lets), |t| t.1 = -t.1),
        ExprKind::Weight { weight, expr } => map_terms(components(expr, lets), |t| t.1 *= weight.value),
        ExprKind::Window { expr, from, to } => map_terms(components(expr, lets), |t| {
            t.2 = t.2.max(from.value);
            t.3 = t.3.min(to.value);
        }),
        other => panic!("not generated: {other:?}"),
    }
}

fn map_terms(mut c: Vec<(f64, Vec<Term>)>, f: impl Fn(&mut Term)) -> Vec<(f64, Vec<Term>)> {
    c.iter_mut().flat_map(|(_, t)| t.iter_mut()).for_each(f);
    c
}

#[derive(Debug)]
struct World {
    eps: BTreeMap<String, [f64; 2]>,
    energy: BTreeMap<String, f64>,
}

/// (ε_j, E_j) of one component at trajectory fraction f.
fn component_at(terms: &[Term], f: f64, s: f64, base: &[(String, f64)], w: &World) -> ([f64; 2], f64) {
    let active: Vec<&Term> = terms.iter().filter(|t| t.2 <= f && f < t.3).collect();
    let sum_w: f64 = active.iter().map(|t| t.1).sum();
    let mut eps = [0.0; 2];
    let mut energy = 0.0;
    let mut add = |c: &str, k: f64| {
        eps[0] += k * w.eps[c][0];
        eps[1] += k * w.eps[c][1];
        energy += k * w.energy[c];
    };
    for (c, b) in base {
        add(c, (1.0 - s * sum_w) * b);
    }
    for t in active {
        add(&t.0, s * t.1);
    }
    (eps, energy)
}

fn softmax_mix(parts: &[(f64, [f64; 2], f64)], sigma: f64) -> [f64; 2] {
    let logits: Vec<f64> = parts.iter().map(|(lm, _, e)| lm - e / sigma).collect();
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = logits.iter().map(|l| (l - max).exp()).sum();
    let mut out = [0.0; 2];
    for (l, (_, eps, _)) in logits.iter().zip(parts) {
        let p = (l - max).exp() / z;
        out[0] += p * eps[0];
        out[1] += p * eps[1];
    }
    out
}

fn reference(prog: &Program, f: f64, s: f64, base: &[(String, f64)], w: &World, sigma: f64) -> [f64; 2] {
    let mut lets = BTreeMap::new();
    let mut sample = None;
    for i in &prog.items {
        match i {
            Item::Let(l) => {
                lets.insert(l.name.name.clone(), l.expr.clone());
            }
            Item::Sample(x) => sample = Some(x.expr.clone()),
            _ => {}
        }
    }
    let comps = components(&sample.unwrap(), &lets);
    let parts: Vec<(f64, [f64; 2], f64)> = comps
        .iter()
        .map(|(lm, t)| {
            let (eps, e) = component_at(t, f, s, base, w);
            (*lm, eps, e)
        })
        .collect();
    if parts.len() == 1 {
        parts[0].1
    } else {
        softmax_mix(&parts, sigma)
    }
}

fn from_plan(p: &SamplePlan, step: usize, w: &World, sigma: f64) -> [f64; 2] {
    let seg = p.segment_at(step).expect("segments cover the trajectory");
    let cond = |id: usize| p.conditions[id].to_string();
    let lin = |coeffs: &[f64]| {
        let mut eps = [0.0; 2];
        let mut energy = 0.0;
        for (c, &id) in coeffs.iter().zip(&seg.active) {
            eps[0] += c * w.eps[&cond(id)][0];
            eps[1] += c * w.eps[&cond(id)][1];
            energy += c * w.energy[&cond(id)];
        }
        (eps, energy)
    };
    match &seg.combine {
        Combine::Linear { coeffs } => lin(coeffs).0,
        Combine::Mixture { branches } => {
            let parts: Vec<(f64, [f64; 2], f64)> = branches
                .iter()
                .map(|b| {
                    let (eps, e) = lin(&b.coeffs);
                    (b.log_weight, eps, e)
                })
                .collect();
            softmax_mix(&parts, sigma)
        }
    }
}

fn world() -> impl Strategy<Value = World> {
    proptest::collection::vec((-2.0..2.0f64, -2.0..2.0f64, -3.0..3.0f64), 5).prop_map(|v| {
        let names = ["null", "ring", "bar", "left_bar", "right_bar"];
        World {
            eps: names.iter().zip(&v).map(|(n, (a, b, _))| (n.to_string(), [*a, *b])).collect(),
            energy: names.iter().zip(&v).map(|(n, (_, _, e))| (n.to_string(), *e)).collect(),
        }
    })
}

/// The error codes the reference finds for the tree (a superset of what the compiler must
/// report): E0115 when some term's nested windows do not overlap (in the sample or any let); E0110 when a mixture
/// component, after merging equal (concept, window) terms and dropping zeros, has a negative
/// term and no positive one; E0123 when, between two consecutive window bounds, a component
/// with active terms has a total exponent (1 − s·Σw)·Σβ + s·Σw of 0 or less.
fn reference_rejections(prog: &Program, scale: f64, base: &[(String, f64)]) -> Vec<&'static str> {
    let mut lets = BTreeMap::new();
    let mut sample = None;
    for i in &prog.items {
        match i {
            Item::Let(l) => {
                lets.insert(l.name.name.clone(), l.expr.clone());
            }
            Item::Sample(x) => sample = Some(x.expr.clone()),
            _ => {}
        }
    }
    let comps = components(&sample.unwrap(), &lets);
    let mut codes = vec![];
    // Windows are checked in every let too, used or not.
    let in_lets = lets.values().flat_map(|x| components(x, &lets)).flat_map(|(_, t)| t).any(|t| t.2 >= t.3);
    if in_lets || comps.iter().flat_map(|(_, t)| t).any(|t| t.2 >= t.3) {
        codes.push("E0115");
    }
    let negation_alone = comps.iter().any(|(_, terms)| {
        let mut merged: BTreeMap<(String, u64, u64), f64> = BTreeMap::new();
        for t in terms {
            *merged.entry((t.0.clone(), t.2.to_bits(), t.3.to_bits())).or_default() += t.1;
        }
        let w: Vec<f64> = merged.into_values().filter(|w| *w != 0.0).collect();
        w.iter().any(|w| *w < 0.0) && !w.iter().any(|w| *w > 0.0)
    });
    if negation_alone {
        codes.push("E0110");
    }
    let sum_beta: f64 = base.iter().map(|b| b.1).sum();
    let no_density = comps.iter().any(|(_, terms)| {
        let mut bounds: Vec<f64> = terms.iter().flat_map(|t| [t.2, t.3]).chain([0.0, 1.0]).filter(|b| (0.0..=1.0).contains(b)).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.windows(2).filter(|b| b[0] < b[1]).any(|b| {
            let f = (b[0] + b[1]) / 2.0;
            let active: Vec<f64> = terms.iter().filter(|t| t.2 <= f && f < t.3).map(|t| t.1).collect();
            let sum_w: f64 = active.iter().sum();
            let total = (1.0 - scale * sum_w) * sum_beta + scale * sum_w;
            let size = (1.0 + scale.abs() * active.iter().map(|w| w.abs()).sum::<f64>()) * (1.0 + sum_beta.abs());
            !active.is_empty() && total <= 1e-6 * size
        })
    });
    if no_density {
        codes.push("E0123");
    }
    codes
}

/// Whether a case was compared step by step with the reference or (rightly) rejected.
#[derive(Debug, PartialEq)]
enum Outcome {
    Checked,
    Rejected,
}

fn check(prog: Program, base: &BaseChoice, scale: f64, steps: usize, w: &World, sigma: f64) -> Result<Outcome, TestCaseError> {
    let base_terms: Vec<(String, f64)> = match base {
        BaseChoice::None | BaseChoice::Default => vec![], // toy2d's default base is none
        BaseChoice::Null => vec![("null".into(), 1.0)],
        BaseChoice::Expr(a, b) => vec![("bar".into(), *a), ("null".into(), *b)],
    };
    let out = comp_compiler::compile(&prog, &[toy2d()]);
    let expected = reference_rejections(&prog, scale, &base_terms);
    let Some(compiled) = out.value else {
        // Only the checks that reject ill-defined trees may refuse: NOT with nothing positive,
        // nested windows that do not overlap, weights that sum to 0 or less (no density); and
        // each only where the reference, walking the tree, finds that very problem.
        let errors: Vec<_> = out.diagnostics.iter().filter(|d| d.is_error()).collect();
        prop_assert!(!errors.is_empty());
        for d in errors {
            prop_assert!(expected.contains(&d.code), "{} rejected, but the reference finds only {expected:?}: {d:?}", d.code);
        }
        return Ok(Outcome::Rejected);
    };
    // A term that is never active is an error, not a silent no-op.
    prop_assert!(!expected.contains(&"E0115"), "nested windows that do not overlap compiled");
    let p = &compiled.plan.samples[0];
    for step in 0..steps {
        let f = (step as f64 + 0.5) / steps as f64;
        let want = reference(&prog, f, scale, &base_terms, w, sigma);
        let got = from_plan(p, step, w, sigma);
        for i in 0..2 {
            let tol = 1e-9 * (1.0 + want[i].abs());
            prop_assert!((want[i] - got[i]).abs() <= tol, "step {step}: want {want:?}, got {got:?}\n{}\n{p:#?}", compiled.simplified[0]);
        }
    }
    Ok(Outcome::Checked)
}

/// Runs `cases` cases of `test` and asserts that at least `min_checked` of them were compared
/// with the reference (not rejected): a generator drifting to trees that all fail a check
/// would otherwise pass while testing nothing.
fn run_cases<S: Strategy>(strategy: S, cases: u32, min_checked: f64, test: impl Fn(S::Value) -> Result<Outcome, TestCaseError>) {
    use std::sync::atomic::{AtomicU32, Ordering};
    let (checked, total) = (AtomicU32::new(0), AtomicU32::new(0));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases, ..ProptestConfig::default() });
    let result = runner.run(&strategy, |v| {
        let outcome = test(v)?;
        total.fetch_add(1, Ordering::Relaxed);
        if outcome == Outcome::Checked {
            checked.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (checked, total) = (checked.into_inner(), total.into_inner());
    eprintln!("{checked} of {total} cases compiled and checked step by step");
    assert!(checked as f64 >= min_checked * total as f64, "only {checked} of {total} cases were checked; the rest were rejected");
}

#[test]
fn linear_plans_match_the_formula_on_the_tree() {
    let strategy = (
        linear(CONCEPTS.to_vec()),
        linear(vec!["ring", "bar", "l0"]),
        linear(vec!["ring", "bar", "left_bar", "right_bar", "l0", "l1"]),
        prop_oneof![Just(1.0), Just(7.5), -2.0..10.0f64],
        1usize..60,
        base(),
        world(),
    );
    // About 60 % compile (the rest: NOT alone, or weights summing to 0 or less without a
    // base); the share of 300 cases has a standard deviation of about 3 %.
    run_cases(strategy, 300, 0.4, |(l0, l1, sample, scale, steps, base, w)| {
        check(program(l0, l1, sample, scale, steps, &base), &base, scale, steps, &w, 1.0)
    });
}

#[test]
fn mixture_plans_match_the_formula_on_the_tree() {
    let strategy = (
        linear(CONCEPTS.to_vec()),
        mixture_let(),
        mixture(vec!["ring", "bar", "left_bar", "right_bar", "l0"]),
        prop_oneof![Just(1.0), -2.0..5.0f64],
        1usize..30,
        base(),
        world(),
        0.1..2.0f64,
    );
    // About 37 % compile (products of mixtures reject more often); sd about 3 %.
    run_cases(strategy, 300, 0.25, |(l0, l1, sample, scale, steps, base, w, sigma)| {
        check(program(l0, l1, sample, scale, steps, &base), &base, scale, steps, &w, sigma)
    });
}

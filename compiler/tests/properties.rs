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

/// A mixture: an OR of linear branches, possibly inside an AND.
fn mixture(names: Vec<&'static str>) -> BoxedStrategy<Expr> {
    let branch = (proptest::option::of(0.1..5.0f64), linear(names.clone()))
        .prop_map(|(m, expr)| Branch { weight: m.map(num), expr, span: S });
    let or = proptest::collection::vec(branch, 2..4).prop_map(|bs| e(ExprKind::Paren(Box::new(e(ExprKind::Or(bs))))));
    prop_oneof![
        or.clone(),
        (linear(names.clone()), or.clone()).prop_map(|(a, o)| e(ExprKind::And(vec![a, o]))),
        (or.clone(), or).prop_map(|(a, b)| e(ExprKind::And(vec![a, b]))),
    ]
    .boxed()
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
                args: vec![Arg { name: Some(Ident { name: "steps".into(), span: S }), value: ArgValue::Number(num(steps as f64)), span: S }],
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
            acc.iter()
                .flat_map(|(la, ta)| c.iter().map(move |(lb, tb)| (la + lb, ta.iter().chain(tb).cloned().collect())))
                .collect()
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
    let cond = |id: usize| p.conditions[id].concept.clone();
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

fn check(prog: Program, base: &BaseChoice, scale: f64, steps: usize, w: &World, sigma: f64) -> Result<(), TestCaseError> {
    let out = comp_compiler::compile(&prog, &[toy2d()]);
    let Some(compiled) = out.value else {
        // Only the checks that reject ill-defined trees may refuse: NOT with nothing positive,
        // nested windows that do not overlap, weights that sum to 0 or less (no density).
        for d in out.diagnostics.iter().filter(|d| d.is_error()) {
            prop_assert!(d.code == "E0110" || d.code == "E0115" || d.code == "E0123", "unexpected {d:?}");
        }
        return Ok(());
    };
    let base_terms: Vec<(String, f64)> = match base {
        BaseChoice::None | BaseChoice::Default => vec![], // toy2d's default base is none
        BaseChoice::Null => vec![("null".into(), 1.0)],
        BaseChoice::Expr(a, b) => vec![("bar".into(), *a), ("null".into(), *b)],
    };
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
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn linear_plans_match_the_formula_on_the_tree(
        l0 in linear(CONCEPTS.to_vec()),
        l1 in linear(vec!["ring", "bar", "l0"]),
        sample in linear(vec!["ring", "bar", "left_bar", "right_bar", "l0", "l1"]),
        scale in prop_oneof![Just(1.0), Just(7.5), -2.0..10.0f64],
        steps in 1usize..60,
        base in base(),
        w in world(),
    ) {
        check(program(l0, l1, sample, scale, steps, &base), &base, scale, steps, &w, 1.0)?;
    }

    #[test]
    fn mixture_plans_match_the_formula_on_the_tree(
        l0 in linear(CONCEPTS.to_vec()),
        sample in mixture(vec!["ring", "bar", "left_bar", "right_bar", "l0"]),
        scale in prop_oneof![Just(1.0), -2.0..5.0f64],
        steps in 1usize..30,
        base in base(),
        w in world(),
        sigma in 0.1..2.0f64,
    ) {
        check(program(l0, name("ring"), sample, scale, steps, &base), &base, scale, steps, &w, sigma)?;
    }
}

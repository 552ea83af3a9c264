//! Shared helpers: hand-built plans (the compiler may not exist yet), an instrumented
//! denoiser, and sample-quality measures.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use candle_core::{Result, Tensor};
use comp_plan::ModelInfo;
use comp_plan::{Branch, Combine, Condition, SamplePlan, Sampler, Segment, Settings};
use comp_runtime::{Denoiser, ModelOutput, Prepared, Schedule};

/// `null` or a concept without arguments.
pub fn cond(id: usize, concept: &str) -> Condition {
    match concept {
        "null" => Condition::null(id),
        name => Condition::concept(id, name, vec![]),
    }
}

pub fn settings(sampler: Sampler, samples: usize, seed: u64) -> Settings {
    Settings { sampler, mcmc: None, scale: 1.0, seed, samples, extra: BTreeMap::new(), size: None, dtype: None }
}

/// One segment over the whole trajectory: Σ coeffs[k]·ε(concepts[k]).
pub fn linear_plan(concepts: &[&str], coeffs: &[f64], sampler: Sampler, samples: usize, seed: u64) -> SamplePlan {
    SamplePlan {
        models: vec![],
        sample: "s".into(),
        model: "toy2d".into(),
        settings: settings(sampler, samples, seed),
        conditions: concepts.iter().enumerate().map(|(i, c)| cond(i, c)).collect(),
        segments: vec![Segment {
            from: 0.0,
            to: 1.0,
            active: (0..concepts.len()).collect(),
            combine: Combine::Linear { coeffs: coeffs.to_vec() },
        }],
    }
}

/// An equal-weight OR of single concepts.
pub fn or_plan(concepts: &[&str], sampler: Sampler, samples: usize, seed: u64) -> SamplePlan {
    let k = concepts.len();
    let branches = (0..k)
        .map(|j| Branch { log_weight: (1.0 / k as f64).ln(), coeffs: (0..k).map(|i| if i == j { 1.0 } else { 0.0 }).collect() })
        .collect();
    SamplePlan {
        models: vec![],
        sample: "s".into(),
        model: "toy2d".into(),
        settings: settings(sampler, samples, seed),
        conditions: concepts.iter().enumerate().map(|(i, c)| cond(i, c)).collect(),
        segments: vec![Segment { from: 0.0, to: 1.0, active: (0..k).collect(), combine: Combine::Mixture { branches } }],
    }
}

pub fn points(t: &Tensor) -> Vec<[f64; 2]> {
    t.to_vec2::<f32>().unwrap().into_iter().map(|r| [r[0] as f64, r[1] as f64]).collect()
}

/// Unbiased MMD² with the RBF kernel exp(−|x − y|²/(2h²)).
pub fn mmd2(a: &[[f64; 2]], b: &[[f64; 2]], h: f64) -> f64 {
    let k = |p: &[f64; 2], q: &[f64; 2]| (-((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)) / (2.0 * h * h)).exp();
    let within = |s: &[[f64; 2]]| {
        let mut t = 0.0;
        for i in 0..s.len() {
            for j in 0..s.len() {
                if i != j {
                    t += k(&s[i], &s[j]);
                }
            }
        }
        t / (s.len() * (s.len() - 1)) as f64
    };
    let mut cross = 0.0;
    for p in a {
        for q in b {
            cross += k(p, q);
        }
    }
    within(a) + within(b) - 2.0 * cross / (a.len() * b.len()) as f64
}

/// Wraps a denoiser and counts calls and rows per condition concept.
pub struct Counting<'a> {
    pub inner: &'a dyn Denoiser,
    pub calls: Mutex<usize>,
    pub rows: Mutex<BTreeMap<String, usize>>,
}

impl<'a> Counting<'a> {
    pub fn new(inner: &'a dyn Denoiser) -> Self {
        Self { inner, calls: Mutex::new(0), rows: Mutex::new(BTreeMap::new()) }
    }
    pub fn rows_of(&self, concept: &str) -> usize {
        self.rows.lock().unwrap().get(concept).copied().unwrap_or(0)
    }
}

impl Denoiser for Counting<'_> {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }
    fn schedule(&self) -> &Schedule {
        self.inner.schedule()
    }
    fn prepare(&self, plan: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        Ok(Box::new(CountingRun { inner: self.inner.prepare(plan)?, calls: &self.calls, rows: &self.rows }))
    }
}

/// A run of [`Counting`]: the inner model's run, counted into the wrapper's counts.
struct CountingRun<'a> {
    inner: Box<dyn Prepared + 'a>,
    calls: &'a Mutex<usize>,
    rows: &'a Mutex<BTreeMap<String, usize>>,
}

impl Prepared for CountingRun<'_> {
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput> {
        *self.calls.lock().unwrap() += 1;
        let n = x.dim(0)? / conds.len();
        let mut rows = self.rows.lock().unwrap();
        for c in conds {
            *rows.entry(c.to_string()).or_default() += n;
        }
        self.inner.forward(x, t, conds, want_energy)
    }
    fn decode(&self, x: &Tensor) -> Result<Tensor> {
        self.inner.decode(x)
    }
}

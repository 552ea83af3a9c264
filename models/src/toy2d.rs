//! `toy2d`: an *exact* denoiser for RRR's 2D concepts (ring, bars, boxes).
//!
//! There are no weights: ε and energies come from the closed-form noised densities in
//! `density.rs`, so ε = −σ_t ∇ log p_t(x) and E = −σ_t log p_t(x) are the true score and
//! (normalised) energy at every noise level. That makes `toy2d` the ground truth for tests of
//! the samplers and of composition: any error in a composed sample is the composition's (or
//! the sampler's), never the model's.
//!
//! `null` is the equal mixture of all six concepts, the unconditional model a classifier-free
//! trained network would approximate.

mod density;
mod normal;

use std::sync::LazyLock;

use candle_core::{bail, DType, Result, Tensor};
use comp_plan::{Concept, DefaultBase, ModelInfo, SamplePlan};
use comp_plan::{Condition, ConditionKind};
use rand::Rng;
use rayon::prelude::*;

pub use density::{Shape, P2};

use comp_runtime::Schedule;
use comp_runtime::{Denoiser, ModelOutput, Prepared};

/// The model's name in scripts: `model toy2d`.
pub const NAME: &str = "toy2d";

/// Native training steps of the model's cosine schedule (as in RRR's 2D notebook).
pub const NATIVE_STEPS: usize = 100;

/// A concept of `toy2d`, or its unconditional `null`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Toy2dConcept {
    Ring,
    Bar,
    LeftBar,
    RightBar,
    BoxLarge,
    BoxSmall,
    /// The equal mixture of the six concepts.
    Null,
}

impl Toy2dConcept {
    /// The six concepts (without `Null`), in vocabulary order.
    pub const ALL: [Toy2dConcept; 6] = [
        Toy2dConcept::Ring,
        Toy2dConcept::Bar,
        Toy2dConcept::LeftBar,
        Toy2dConcept::RightBar,
        Toy2dConcept::BoxLarge,
        Toy2dConcept::BoxSmall,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Toy2dConcept::Ring => "ring",
            Toy2dConcept::Bar => "bar",
            Toy2dConcept::LeftBar => "left_bar",
            Toy2dConcept::RightBar => "right_bar",
            Toy2dConcept::BoxLarge => "box_large",
            Toy2dConcept::BoxSmall => "box_small",
            Toy2dConcept::Null => "null",
        }
    }

    /// The concept a script names (`null` included).
    /// The concept a plan's condition names (`null` included); `None` for a text prompt or a
    /// concept toy2d lacks.
    pub fn of(c: &Condition) -> Option<Self> {
        match &c.kind {
            ConditionKind::Null => Some(Toy2dConcept::Null),
            ConditionKind::Concept { name, args } if args.is_empty() => Self::ALL.into_iter().find(|k| k.name() == name),
            _ => None,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().chain([Toy2dConcept::Null]).find(|c| c.name() == name)
    }

    pub fn description(self) -> &'static str {
        match self {
            Toy2dConcept::Ring => "8 Gaussians (std 0.03) on a circle of radius 0.5",
            Toy2dConcept::Bar => "uniform on |x| <= 0.2, |y| <= 1",
            Toy2dConcept::LeftBar => "uniform on -0.3 <= x <= -0.1, |y| <= 1",
            Toy2dConcept::RightBar => "uniform on 0.1 <= x <= 0.3, |y| <= 1",
            Toy2dConcept::BoxLarge => "uniform on |x|, |y| <= 0.7",
            Toy2dConcept::BoxSmall => "uniform on |x|, |y| <= 0.3",
            Toy2dConcept::Null => "equal mixture of the six concepts",
        }
    }

    /// The x₀ distribution; `None` for `Null` (a mixture of shapes, not a shape).
    pub fn shape(self) -> Option<&'static Shape> {
        Self::ALL.iter().position(|c| *c == self).map(|i| &SHAPES[i])
    }
}

/// The shapes of `Toy2dConcept::ALL`, built once.
static SHAPES: LazyLock<[Shape; 6]> = LazyLock::new(|| {
    let ring = (0..8)
        .map(|k| {
            let a = 2.0 * std::f64::consts::PI * k as f64 / 8.0;
            [0.5 * a.cos(), 0.5 * a.sin()]
        })
        .collect();
    let bx = |x0: f64, x1: f64, y: f64| Shape::Box { lo: [x0, -y], hi: [x1, y] };
    [
        Shape::Gaussians { means: ring, std: 0.03 },
        bx(-0.2, 0.2, 1.0),
        bx(-0.3, -0.1, 1.0),
        bx(0.1, 0.3, 1.0),
        bx(-0.7, 0.7, 0.7),
        bx(-0.3, 0.3, 0.3),
    ]
});

/// log p_t(x) and ∇ₓ log p_t(x) of a concept at noise level ᾱ ∈ (0, 1].
pub fn log_density_grad(concept: Toy2dConcept, x: P2, alpha_bar: f64) -> (f64, P2) {
    match concept.shape() {
        Some(shape) => shape.log_density_grad(x, alpha_bar),
        None => {
            let parts = SHAPES.each_ref().map(|s| s.log_density_grad(x, alpha_bar));
            density::mixture(&parts)
        }
    }
}

/// log p_t(x) of a concept at noise level ᾱ (ᾱ = 1: the target density itself).
pub fn log_density(concept: Toy2dConcept, x: P2, alpha_bar: f64) -> f64 {
    log_density_grad(concept, x, alpha_bar).0
}

/// n exact draws of x₀ from a concept (`Null`: a uniformly chosen concept per draw).
pub fn sample_x0<R: Rng + ?Sized>(concept: Toy2dConcept, n: usize, rng: &mut R) -> Vec<P2> {
    (0..n)
        .map(|_| match concept.shape() {
            Some(s) => s.sample(rng),
            None => SHAPES[rng.random_range(0..SHAPES.len())].sample(rng),
        })
        .collect()
}

/// A square grid of cell centres over `[lo, hi]²`, `n` cells a side, for evaluating
/// densities (normalisation checks, log-likelihood of samples under a target).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    pub lo: f64,
    pub hi: f64,
    pub n: usize,
}

impl Grid {
    /// Side length of one cell.
    pub fn cell(&self) -> f64 {
        (self.hi - self.lo) / self.n as f64
    }

    /// The centre of cell (i, j): i along x, j along y.
    pub fn point(&self, i: usize, j: usize) -> P2 {
        let c = self.cell();
        [self.lo + (i as f64 + 0.5) * c, self.lo + (j as f64 + 0.5) * c]
    }

    /// `f` at every cell centre, row-major with y outer: index j·n + i. Parallel.
    pub fn eval<F: Fn(P2) -> f64 + Sync>(&self, f: F) -> Vec<f64> {
        (0..self.n * self.n).into_par_iter().map(|k| f(self.point(k % self.n, k / self.n))).collect()
    }
}

/// The noise-free target log-density of a concept on a grid (ᾱ = 1).
pub fn target_log_density_grid(concept: Toy2dConcept, grid: &Grid) -> Vec<f64> {
    grid.eval(|x| log_density(concept, x, 1.0))
}

/// `toy2d`'s vocabulary and defaults.
pub fn info() -> ModelInfo {
    ModelInfo {
        name: NAME.into(),
        description: "exact 2D toy densities (RRR's ring, bars and boxes); closed-form scores and energies".into(),
        data_shape: vec![2],
        concepts: Toy2dConcept::ALL
            .iter()
            .map(|c| Concept { name: c.name().into(), description: c.description().into(), params: vec![] })
            .collect(),
        text: false,
        energies: true,
        default_scale: 1.0,
        default_base: DefaultBase::None,
        default_steps: NATIVE_STEPS,
        max_steps: NATIVE_STEPS,
        default_samples: 1000,
        extra_settings: vec![],
        image_size: None,
        default_sampler: None,
        dtypes: false,
        schedule: Some(cosine_schedule(NATIVE_STEPS, 0.008)),
        latent_space: None,
        classifier: false,
    }
}

/// The words `ModelInfo::schedule` uses for improved DDPM's cosine schedule.
pub fn cosine_schedule(steps: usize, offset: f64) -> String {
    format!("cosine(T={steps}, s={offset})")
}

/// The exact toy denoiser.
pub struct Toy2d {
    info: ModelInfo,
    schedule: Schedule,
}

impl Toy2d {
    pub fn new() -> Result<Self> {
        Ok(Self { info: info(), schedule: Schedule::cosine(NATIVE_STEPS, 0.008)? })
    }
}

impl Denoiser for Toy2d {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Nothing to prepare: the exact model is its own run.
    fn prepare(&self, _plan: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        Ok(Box::new(self))
    }
}

impl Prepared for Toy2d {
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput> {
        let (rows, dim) = x.dims2().map_err(|e| e.context("toy2d: x must be [K·N, 2]"))?;
        if dim != 2 || conds.is_empty() || !rows.is_multiple_of(conds.len()) {
            bail!("toy2d: x has shape {:?}, expected [K·N, 2] with K = {} conditions", x.dims(), conds.len())
        }
        let n = rows / conds.len();
        let concepts = conds
            .iter()
            .map(|c| {
                Toy2dConcept::of(c).ok_or_else(|| {
                    let names: Vec<_> = Toy2dConcept::ALL.iter().map(|c| c.name()).collect();
                    candle_core::Error::Msg(format!("toy2d has no concept `{c}` (it has {}, and null)", names.join(", ")))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let xs = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let ts = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        if ts.len() != rows {
            bail!("toy2d: t has {} entries for {rows} rows", ts.len())
        }
        // Rows in parallel chunks, written straight into the output buffers (f64 inside).
        const CHUNK: usize = 2048;
        let mut eps = vec![0f32; 2 * rows];
        let mut energy = vec![0f32; if want_energy { rows } else { 0 }];
        let fill = |first: usize, e: &mut [f32], mut en: Option<&mut [f32]>| {
            for j in 0..e.len() / 2 {
                let r = first + j;
                let ab = self.schedule.alpha_bar_at(ts[r] as f64);
                let sigma = (1.0 - ab).sqrt();
                let (log_p, g) = log_density_grad(concepts[r / n], [xs[2 * r] as f64, xs[2 * r + 1] as f64], ab);
                e[2 * j] = (-sigma * g[0]) as f32;
                e[2 * j + 1] = (-sigma * g[1]) as f32;
                if let Some(en) = en.as_deref_mut() {
                    en[j] = (-sigma * log_p) as f32;
                }
            }
        };
        if want_energy {
            eps.par_chunks_mut(2 * CHUNK)
                .zip(energy.par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(c, (e, en))| fill(c * CHUNK, e, Some(en)));
        } else {
            eps.par_chunks_mut(2 * CHUNK).enumerate().for_each(|(c, e)| fill(c * CHUNK, e, None));
        }
        let eps = Tensor::from_vec(eps, (rows, 2), x.device())?;
        let energy = if want_energy { Some(Tensor::from_vec(energy, rows, x.device())?) } else { None };
        Ok(ModelOutput { eps, energy })
    }
}

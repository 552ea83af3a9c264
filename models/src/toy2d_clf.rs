//! `toy2d-clf`: the exact classifier of toy2d's six concepts, p(c | x_t), from the exact noised
//! densities with a uniform prior over the concepts, so that toy2d's `null` (the equal mixture)
//! is its marginal:
//!
//!   p(c | x_t) = p_c(x_t) / (6 · p_null(x_t)),
//!   −σ_t ∇ₓ log p(c | x_t) = ε_toy2d(x_t | c) − ε_toy2d(x_t | ∅),
//!   −σ_t log p(c | x_t) = E_toy2d(c) − E_toy2d(∅) + σ_t log 6,
//!
//! (toy2d's energies are σ_t-scaled, E = −σ_t log p_t). A classifier term `clf.c` adds its
//! "ε" −σ_t ∇ log p(c | x_t) to ε̂, and its `null` is 0, so classifier guidance with this model
//! at scale λ is exactly classifier-free guidance with toy2d at λ:
//! ∇log p(x_t) + λ∇log p(c | x_t) = (1 − λ)∇log p(x_t) + λ∇log p(x_t | c).

use candle_core::{bail, DType, Result, Tensor};
use comp_plan::{Condition, ModelInfo, SamplePlan};
use comp_runtime::{Denoiser, ModelOutput, Prepared, Schedule};

use crate::toy2d::{self, Toy2d};

/// The model's name in scripts: `model clf = toy2d-clf`.
pub const NAME: &str = "toy2d-clf";

/// toy2d's vocabulary as labels; a classifier with energies, on toy2d's schedule.
pub fn info() -> ModelInfo {
    let mut info = toy2d::info();
    info.name = NAME.into();
    info.description = "the exact classifier p(c | x_t) of toy2d's six concepts (classifier guidance)".into();
    info.classifier = true;
    info
}

/// The exact classifier, computed from toy2d.
pub struct Toy2dClf {
    info: ModelInfo,
    toy2d: Toy2d,
}

impl Toy2dClf {
    pub fn new() -> Result<Self> {
        Ok(Self { info: info(), toy2d: Toy2d::new()? })
    }
}

impl Denoiser for Toy2dClf {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn schedule(&self) -> &Schedule {
        self.toy2d.schedule()
    }

    /// Nothing to prepare: the exact classifier is its own run.
    fn prepare(&self, _plan: &SamplePlan) -> Result<Box<dyn Prepared + '_>> {
        Ok(Box::new(self))
    }
}

impl Prepared for Toy2dClf {
    fn forward(&self, x: &Tensor, t: &Tensor, conds: &[&Condition], want_energy: bool) -> Result<ModelOutput> {
        let rows = x.dim(0)?;
        if conds.is_empty() || !rows.is_multiple_of(conds.len()) {
            bail!("{NAME}: {rows} rows do not split over {} conditions", conds.len())
        }
        let n = rows / conds.len();
        let null = Condition::null(0);
        let (mut eps, mut energy) = (Vec::with_capacity(conds.len()), Vec::with_capacity(conds.len()));
        for (k, c) in conds.iter().enumerate() {
            let (xk, tk) = (x.narrow(0, k * n, n)?, t.narrow(0, k * n, n)?);
            if c.is_null() {
                // Its own unconditional: guidance 0, energy 0 (nothing to evaluate).
                eps.push(xk.zeros_like()?.to_dtype(DType::F32)?);
                energy.push(Tensor::zeros(n, DType::F32, x.device())?);
                continue;
            }
            // One toy2d call over the label and null rows of this condition.
            let both = self.toy2d.forward(&Tensor::cat(&[&xk, &xk], 0)?, &Tensor::cat(&[&tk, &tk], 0)?, &[*c, &null], want_energy)?;
            eps.push((both.eps.narrow(0, 0, n)? - both.eps.narrow(0, n, n)?)?);
            if let Some(e) = both.energy {
                let sigma: Vec<f32> = tk
                    .to_dtype(DType::F32)?
                    .to_vec1::<f32>()?
                    .iter()
                    .map(|&t| ((1.0 - self.toy2d.schedule().alpha_bar_at(t as f64)).sqrt() * 6f64.ln()) as f32)
                    .collect();
                let log6 = Tensor::from_vec(sigma, n, x.device())?;
                energy.push(((e.narrow(0, 0, n)? - e.narrow(0, n, n)?)? + log6)?);
            }
        }
        let energy = if want_energy { Some(Tensor::cat(&energy, 0)?) } else { None };
        Ok(ModelOutput { eps: Tensor::cat(&eps, 0)?, energy })
    }
}

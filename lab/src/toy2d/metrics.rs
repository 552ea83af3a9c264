//! Sample-quality measures for 2D samples against a target density given on a grid
//! (RRR's measures): mean log-likelihood under the softened normalised target, MMD² with an
//! RBF kernel, and exact draws from the gridded target.

use rand::Rng;
use rayon::prelude::*;

use comp_models::toy2d::{Grid, P2};

/// A normalised density on a grid: log Z of the unnormalised log-density `log_q` over the
/// grid's cells, and the cells' probabilities for drawing exact samples.
#[derive(Clone, Debug)]
pub struct GridDensity {
    pub grid: Grid,
    /// log ∫ q over the grid (cell-centre rule).
    pub log_z: f64,
    /// Cumulative cell probabilities, row-major (index j·n + i), last entry 1.
    cdf: Vec<f64>,
}

impl GridDensity {
    /// Normalises `log_q` (finite or −∞ at each cell centre of `grid`, index j·n + i).
    pub fn new(grid: Grid, log_q: &[f64]) -> Result<Self, String> {
        let max = log_q.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if !max.is_finite() {
            return Err(format!("the target's log-density has no finite maximum on the grid ({max})"));
        }
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = log_q
            .iter()
            .map(|l| {
                acc += (l - max).exp();
                acc
            })
            .collect();
        let total = acc;
        cdf.iter_mut().for_each(|c| *c /= total);
        let cell = grid.cell();
        Ok(Self { grid, log_z: max + total.ln() + 2.0 * cell.ln(), cdf })
    }

    /// Area of the grid's square.
    pub fn area(&self) -> f64 {
        (self.grid.hi - self.grid.lo).powi(2)
    }

    /// Whether x lies in the grid's square.
    pub fn contains(&self, x: P2) -> bool {
        let (lo, hi) = (self.grid.lo, self.grid.hi);
        (lo..=hi).contains(&x[0]) && (lo..=hi).contains(&x[1])
    }

    /// n exact draws: a cell by its mass, then uniformly within the cell.
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Vec<P2> {
        let cell = self.grid.cell();
        (0..n)
            .map(|_| {
                let u: f64 = rng.random();
                let k = self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1);
                let (i, j) = (k % self.grid.n, k / self.grid.n);
                let c = self.grid.point(i, j);
                [c[0] + (rng.random::<f64>() - 0.5) * cell, c[1] + (rng.random::<f64>() - 0.5) * cell]
            })
            .collect()
    }
}

/// Mass of the uniform density mixed into the target so that no sample scores −∞.
pub const SOFTEN: f64 = 0.01;

/// Mean over samples of log((1 − SOFTEN)·p(x) + SOFTEN/A), with p = exp(log_q(x) − log Z)
/// inside the grid's square of area A and 0 outside (and for non-finite samples).
pub fn mean_log_likelihood<F>(samples: &[P2], density: &GridDensity, log_q: F) -> f64
where
    F: Fn(P2) -> f64 + Sync,
{
    let floor = (SOFTEN / density.area()).ln();
    let total: f64 = samples
        .par_iter()
        .map(|&x| {
            let finite = x[0].is_finite() && x[1].is_finite();
            let lp = if finite && density.contains(x) { log_q(x) - density.log_z } else { f64::NEG_INFINITY };
            log_add((1.0 - SOFTEN).ln() + lp, floor)
        })
        .sum();
    total / samples.len().max(1) as f64
}

/// log(eᵃ + eᵇ), with −∞ (and NaN, read as −∞) handled.
fn log_add(a: f64, b: f64) -> f64 {
    let a = if a.is_nan() { f64::NEG_INFINITY } else { a };
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if hi == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// The RBF kernel's bandwidth: k(a, b) = exp(−‖a − b‖² / (2·0.1²)).
pub const MMD_BANDWIDTH: f64 = 0.1;

/// Unbiased MMD² (Gretton et al. 2012, eq. 3) between two samples with the RBF kernel of
/// bandwidth [`MMD_BANDWIDTH`]. Non-finite points are treated as infinitely far away.
pub fn mmd2(x: &[P2], y: &[P2]) -> f64 {
    let clean = |v: &[P2]| -> Vec<P2> { v.iter().map(|p| if p[0].is_finite() && p[1].is_finite() { *p } else { [1e9, 1e9] }).collect() };
    let (x, y) = (clean(x), clean(y));
    let inv = 1.0 / (2.0 * MMD_BANDWIDTH * MMD_BANDWIDTH);
    let k = |a: &P2, b: &P2| {
        let (dx, dy) = (a[0] - b[0], a[1] - b[1]);
        (-(dx * dx + dy * dy) * inv).exp()
    };
    let within = |v: &[P2]| -> f64 {
        let n = v.len() as f64;
        if v.len() < 2 {
            return 0.0;
        }
        let s: f64 = (0..v.len()).into_par_iter().map(|i| v[i + 1..].iter().map(|b| k(&v[i], b)).sum::<f64>()).sum();
        2.0 * s / (n * (n - 1.0))
    };
    let cross: f64 = x.par_iter().map(|a| y.iter().map(|b| k(a, b)).sum::<f64>()).sum::<f64>() / (x.len() as f64 * y.len() as f64);
    within(&x) + within(&y) - 2.0 * cross
}

/// The fraction of samples for which `inside` holds.
pub fn fraction<F: Fn(P2) -> bool>(samples: &[P2], inside: F) -> f64 {
    samples.iter().filter(|&&x| inside(x)).count() as f64 / samples.len().max(1) as f64
}

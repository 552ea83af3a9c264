//! Closed-form densities of 2D shapes after the forward process, with analytic scores.
//!
//! x_t = √ᾱ x₀ + σ z, σ = √(1 − ᾱ). A Gaussian N(μ, s²I) becomes N(√ᾱμ, (ᾱs² + σ²)I); a
//! uniform box [a, b] per coordinate becomes
//! (Φ((x − √ᾱa)/σ) − Φ((x − √ᾱb)/σ)) / (√ᾱ(b − a)) per coordinate. Both are computed in log
//! space (see `normal.rs`), so log-densities and scores are finite for every finite x at
//! every ᾱ in (0, 1); at ᾱ = 1 exactly the box is the plain uniform (−∞ outside).

use rand::Rng;
use rand_distr::StandardNormal;

use super::normal::{dlog_cdf_diff, log_cdf_diff, narrow_interval};

/// A 2D point.
pub type P2 = [f64; 2];

/// The x₀ distribution of one toy concept.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// An equal mixture of isotropic Gaussians.
    Gaussians { means: Vec<P2>, std: f64 },
    /// The uniform distribution on the box `lo..=hi` (per coordinate).
    Box { lo: P2, hi: P2 },
}

impl Shape {
    /// log p_t(x) and ∇ₓ log p_t(x) at noise level ᾱ ∈ (0, 1].
    pub fn log_density_grad(&self, x: P2, alpha_bar: f64) -> (f64, P2) {
        match self {
            Shape::Gaussians { means, std } => gaussians(means, *std, x, alpha_bar),
            Shape::Box { lo, hi } => {
                let (lx, gx) = box_1d(x[0], lo[0], hi[0], alpha_bar);
                let (ly, gy) = box_1d(x[1], lo[1], hi[1], alpha_bar);
                (lx + ly, [gx, gy])
            }
        }
    }

    /// One exact draw of x₀.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> P2 {
        match self {
            Shape::Gaussians { means, std } => {
                let mu = means[rng.random_range(0..means.len())];
                let z: [f64; 2] = [rng.sample(StandardNormal), rng.sample(StandardNormal)];
                [mu[0] + std * z[0], mu[1] + std * z[1]]
            }
            Shape::Box { lo, hi } => [rng.random_range(lo[0]..=hi[0]), rng.random_range(lo[1]..=hi[1])],
        }
    }
}

/// An equal mixture of N(√ᾱμ_k, vI), v = ᾱs² + σ²: a logsumexp over components, and the
/// score as the responsibility-weighted sum of component scores.
fn gaussians(means: &[P2], std: f64, x: P2, alpha_bar: f64) -> (f64, P2) {
    let sab = alpha_bar.sqrt();
    let v = alpha_bar * std * std + (1.0 - alpha_bar);
    let logit = |mu: &P2| {
        let (dx, dy) = (x[0] - sab * mu[0], x[1] - sab * mu[1]);
        -(dx * dx + dy * dy) / (2.0 * v)
    };
    let max = means.iter().map(logit).fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    let mut grad = [0.0; 2];
    for mu in means {
        let w = (logit(mu) - max).exp();
        sum += w;
        grad[0] -= w * (x[0] - sab * mu[0]) / v;
        grad[1] -= w * (x[1] - sab * mu[1]) / v;
    }
    let log_p = max + sum.ln() - (means.len() as f64).ln() - (2.0 * std::f64::consts::PI * v).ln();
    (log_p, [grad[0] / sum, grad[1] / sum])
}

/// The noised uniform on [a, b] in one coordinate: log density and its derivative.
fn box_1d(x: f64, a: f64, b: f64, alpha_bar: f64) -> (f64, f64) {
    if alpha_bar >= 1.0 {
        return if (a..=b).contains(&x) { (-(b - a).ln(), 0.0) } else { (f64::NEG_INFINITY, 0.0) };
    }
    let sab = alpha_bar.sqrt();
    let sigma = (1.0 - alpha_bar).sqrt();
    let hi = (x - sab * a) / sigma;
    let lo = (x - sab * b) / sigma;
    let delta = sab * (b - a) / sigma;
    if delta < 1e-5 {
        // p = φ(m)·sinhc(mδ/2)/σ: the factor δ/(√ᾱ(b − a)) = 1/σ cancelled by hand, so
        // ᾱ → 0 gives N(0, 1) instead of 0/0.
        let m = (x - sab * 0.5 * (a + b)) / sigma;
        let (log_p, dm) = narrow_interval(m, delta);
        return (log_p - sigma.ln(), dm / sigma);
    }
    let log_diff = log_cdf_diff(hi, lo);
    let log_p = log_diff - sab.ln() - (b - a).ln();
    (log_p, dlog_cdf_diff(hi, lo, delta, log_diff) / sigma)
}

/// log of an equal mixture of densities given their log-densities and scores: logsumexp
/// minus log n, and the posterior-weighted score. All −∞ gives (−∞, 0), not NaN.
pub fn mixture(parts: &[(f64, P2)]) -> (f64, P2) {
    let max = parts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return (f64::NEG_INFINITY, [0.0; 2]);
    }
    let mut sum = 0.0;
    let mut grad = [0.0; 2];
    for (l, g) in parts {
        let w = (l - max).exp();
        sum += w;
        grad[0] += w * g[0];
        grad[1] += w * g[1];
    }
    let log_p = max + sum.ln() - (parts.len() as f64).ln();
    (log_p, [grad[0] / sum, grad[1] / sum])
}

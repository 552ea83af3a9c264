//! Stable logarithms of the standard normal CDF Φ and of differences Φ(hi) − Φ(lo).
//!
//! A uniform box noised by the forward process has density proportional to
//! Φ((x − √ᾱa)/σ) − Φ((x − √ᾱb)/σ). Computed naively this is 0 − 0 far outside the box at
//! small σ (the log is −∞ and the score NaN) and 1 − 1 ... at large σ (catastrophic
//! cancellation). Everything here works in log space instead, in f64:
//!
//! * log Φ(z) from `erfc` where it is representable and an asymptotic series in the far left
//!   tail (z ≤ −20, where Φ(z) < 3e-89 and the series is accurate to ~1e-13 relative);
//! * log(Φ(hi) − Φ(lo)) by reflecting into the left tail (Φ(hi) − Φ(lo) = Φ(−lo) − Φ(−hi))
//!   and then log Φ(hi) + log(1 − exp(log Φ(lo) − log Φ(hi)));
//! * for an interval narrower than 1e-5 (a box seen through almost pure noise), the midpoint
//!   form ∫φ = δ·φ(m)·sinh(mδ/2)/(mδ/2), exact to O(δ²) relative.

use std::f64::consts::{LN_2, SQRT_2};

/// ½ ln 2π.
pub const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// log φ(z) of the standard normal density.
pub fn log_pdf(z: f64) -> f64 {
    -0.5 * z * z - HALF_LN_2PI
}

/// log Φ(z), accurate in both tails.
pub fn log_cdf(z: f64) -> f64 {
    if z > 0.0 {
        // Φ = 1 − Q with Q = erfc(z/√2)/2 small: log1p keeps its digits.
        libm::log1p(-0.5 * libm::erfc(z / SQRT_2))
    } else if z > -20.0 {
        (0.5 * libm::erfc(-z / SQRT_2)).ln()
    } else {
        // Φ(z) = φ(z)/|z| · (1 − 1/z² + 3/z⁴ − 15/z⁶ + …) (Abramowitz & Stegun 26.2.12).
        let w = 1.0 / (z * z);
        let mut term = 1.0;
        let mut series = 1.0;
        for k in 1..=8 {
            term *= -((2 * k - 1) as f64) * w;
            series += term;
        }
        log_pdf(z) - (-z).ln() + series.ln()
    }
}

/// log(1 − eˣ) for x ≤ 0, without cancellation at either end (Mächler 2012).
pub fn log1mexp(x: f64) -> f64 {
    if x > -LN_2 {
        (-libm::expm1(x)).ln()
    } else {
        libm::log1p(-x.exp())
    }
}

/// log(sinh(y)/y), even in y, finite for every finite y.
pub fn log_sinhc(y: f64) -> f64 {
    let y = y.abs();
    if y < 1e-4 {
        y * y / 6.0
    } else if y < 700.0 {
        (y.sinh() / y).ln()
    } else {
        y - LN_2 - y.ln() + libm::log1p(-(-2.0 * y).exp())
    }
}

/// log(Φ(hi) − Φ(lo)) for hi > lo with hi − lo not tiny (≥ 1e-5; see [`narrow_interval`]).
pub fn log_cdf_diff(hi: f64, lo: f64) -> f64 {
    // Both in the right tail: reflect so the subtraction happens between small numbers.
    let (hi, lo) = if lo > 0.0 { (-lo, -hi) } else { (hi, lo) };
    let a = log_cdf(hi);
    let b = log_cdf(lo);
    a + log1mexp(b - a)
}

/// For an interval of width δ < 1e-5 around m: log((Φ(m + δ/2) − Φ(m − δ/2))/δ) and its
/// derivative in m. The midpoint form ∫φ = δ·φ(m)·sinh(mδ/2)/(mδ/2) drops only a factor
/// 1 + O(δ²) (≤ δ²/8), and dividing by δ here keeps δ = 0 (ᾱ = 0) finite: the limit is φ(m).
pub fn narrow_interval(m: f64, delta: f64) -> (f64, f64) {
    let y = 0.5 * m * delta;
    (log_pdf(m) + log_sinhc(y), -m + 0.5 * delta * langevin(y))
}

/// The Langevin function coth(y) − 1/y, the derivative of log(sinh(y)/y).
fn langevin(y: f64) -> f64 {
    if y.abs() < 1e-3 {
        y / 3.0 - y * y * y / 45.0
    } else {
        1.0 / y.tanh() - 1.0 / y
    }
}

/// d/ds log(Φ(hi + s) − Φ(lo + s)) at s = 0, i.e. (φ(hi) − φ(lo))/(Φ(hi) − Φ(lo)), given
/// `log_diff` = log(Φ(hi) − Φ(lo)).
///
/// φ(hi) − φ(lo) is written as φ(lo)·expm1(−δm) or −φ(hi)·expm1(δm) (m the midpoint,
/// δ the width; hi² − lo² = 2δm), whichever keeps the expm1 argument ≤ 0, so there is no
/// cancellation at the box's centre and no overflow far away.
pub fn dlog_cdf_diff(hi: f64, lo: f64, delta: f64, log_diff: f64) -> f64 {
    let m = 0.5 * (hi + lo);
    if m >= 0.0 {
        (log_pdf(lo) - log_diff).exp() * libm::expm1(-delta * m)
    } else {
        -(log_pdf(hi) - log_diff).exp() * libm::expm1(delta * m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_cdf_matches_known_values() {
        // Φ(0) = 1/2; Φ(−1) = 0.15865525393145707; Φ(−30): log = −454.3212439955…
        assert!((log_cdf(0.0) - 0.5f64.ln()).abs() < 1e-15);
        assert!((log_cdf(-1.0) - 0.158_655_253_931_457_07f64.ln()).abs() < 1e-14);
        // Both sides of the series switch agree.
        let (l, r) = (log_cdf(-20.0 - 1e-9), log_cdf(-20.0 + 1e-9));
        assert!((l - r).abs() < 1e-7, "{l} {r}");
        assert!(log_cdf(40.0) == 0.0 && log_cdf(-1e6).is_finite());
    }

    #[test]
    fn narrow_interval_branches_agree() {
        for m in [-30.0, -3.0, 0.0, 0.7, 12.0] {
            let d = 1e-6;
            let wide = log_cdf_diff(m + d / 2.0, m - d / 2.0);
            let narrow = narrow_interval(m, d).0 + d.ln();
            assert!((wide - narrow).abs() < 1e-8, "m={m}: {wide} vs {narrow}");
        }
    }
}

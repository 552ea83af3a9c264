//! The measures the README's tables rest on, against values worked out by hand: the softened
//! mean log-likelihood, the unbiased MMD², and the 95 % Wilson interval.

use comp_lab::clevr::eval::wilson;
use comp_lab::toy2d::metrics::{mean_log_likelihood, mmd2, GridDensity, MMD_BANDWIDTH, SOFTEN};
use comp_models::toy2d::Grid;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// A flat target on [−1, 1]² (A = 4): log Z = ln 4 (the cell-centre rule is exact for a
/// constant), p = 1/4 inside. A sample inside scores ln((1 − s)/4 + s/4) = −ln 4; one outside
/// (or NaN) scores the floor ln(s/4). So {inside, outside} averages −ln 4 + ½ ln s.
#[test]
fn log_likelihood_of_a_flat_target() {
    let grid = Grid { lo: -1.0, hi: 1.0, n: 40 };
    let density = GridDensity::new(grid, &vec![0.0; 40 * 40]).unwrap();
    assert!(close(density.log_z, 4f64.ln(), 1e-9), "log Z {}", density.log_z);
    let flat = |_: [f64; 2]| 0.0;
    let inside = mean_log_likelihood(&[[0.3, -0.2], [0.0, 0.9]], &density, flat);
    assert!(close(inside, -4f64.ln(), 1e-12), "{inside}");
    let mixed = mean_log_likelihood(&[[0.3, -0.2], [1.5, 0.0]], &density, flat);
    assert!(close(mixed, -4f64.ln() + 0.5 * SOFTEN.ln(), 1e-12), "{mixed}");
    let nan = mean_log_likelihood(&[[f64::NAN, 0.0]], &density, flat);
    assert!(close(nan, (SOFTEN / 4.0).ln(), 1e-12), "{nan}");
}

/// A target twice as dense on the left half (log q = ln 2 there, 0 on the right): Z = 2·2 + 1·2
/// = 6 on [−1, 1]², so p = 1/3 left and 1/6 right; a left sample scores
/// ln((1 − s)/3 + s/4).
#[test]
fn log_likelihood_normalises_an_uneven_target() {
    let n = 40;
    let grid = Grid { lo: -1.0, hi: 1.0, n };
    let log_q = |x: [f64; 2]| if x[0] < 0.0 { 2f64.ln() } else { 0.0 };
    let cells: Vec<f64> = (0..n * n)
        .map(|idx| {
            let (i, _j) = (idx % n, idx / n);
            log_q([-1.0 + (i as f64 + 0.5) * 0.05, 0.0])
        })
        .collect();
    let density = GridDensity::new(grid, &cells).unwrap();
    assert!(close(density.log_z, 6f64.ln(), 1e-9), "log Z {}", density.log_z);
    let left = mean_log_likelihood(&[[-0.5, 0.5]], &density, log_q);
    assert!(close(left, ((1.0 - SOFTEN) / 3.0 + SOFTEN / 4.0).ln(), 1e-12), "{left}");
}

/// Two copies of {a, b} with ‖a − b‖ = h (the bandwidth), so k(a, b) = e^(−1/2): both
/// within-sample terms are e^(−1/2) (the unbiased estimate leaves out i = j), the cross term
/// is (1 + 1 + 2e^(−1/2))/4, so MMD² = 2e^(−1/2) − 1 − e^(−1/2) = e^(−1/2) − 1 (negative: the
/// estimate is unbiased, not a squared distance).
#[test]
fn mmd2_of_two_point_sets() {
    let h = MMD_BANDWIDTH;
    let x = [[0.0, 0.0], [h, 0.0]];
    let got = mmd2(&x, &x);
    assert!(close(got, (-0.5f64).exp() - 1.0, 1e-12), "{got}");
    // Far apart sets: the cross term vanishes, each within term is k = e^(−1/2) (‖·‖ = h).
    let y = [[5.0, 5.0], [5.0, 5.0 + h]];
    let got = mmd2(&x, &y);
    assert!(close(got, 2.0 * (-0.5f64).exp(), 1e-12), "{got}");
    // A non-finite point is infinitely far from everything: within {a, NaN} k = 0; across,
    // only a·a and NaN·NaN (both moved to the same far point) count, (1 + 0 + 0 + 1)/4 = ½, so
    // MMD² = 0 + 0 − 2·½ = −1.
    let z = [[0.0, 0.0], [f64::NAN, 0.0]];
    let got = mmd2(&z, &z);
    assert!(close(got, -1.0, 1e-12), "{got}");
}

/// 8 of 10 with z = 1.95996: centre (0.8 + z²/20)/(1 + z²/10) = 0.71674, half-width
/// z·√(0.016 + z²/400)/(1 + z²/10) = 0.22658: [0.49016, 0.94332] (the textbook interval
/// for 8/10). 0 of 10 gives [0, z²/(n + z²)] = [0, 0.27753].
#[test]
fn wilson_interval_known_values() {
    let (lo, hi) = wilson(8, 10);
    assert!(close(lo, 0.49016, 1e-4) && close(hi, 0.94332, 1e-4), "({lo}, {hi})");
    let (lo, hi) = wilson(0, 10);
    assert!(close(lo, 0.0, 1e-12) && close(hi, 0.27753, 1e-4), "({lo}, {hi})");
    assert_eq!(wilson(0, 0), (0.0, 1.0));
}

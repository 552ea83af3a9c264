//! The exact toy2d densities: analytic scores against finite differences, normalisation,
//! and finiteness at extreme noise levels and far-away points.

use candle_core::{Device, Tensor};
use comp_models as models;
use comp_models::toy2d::{log_density, log_density_grad, target_log_density_grid, Grid, Toy2dConcept};

mod common;

fn all_concepts() -> Vec<Toy2dConcept> {
    Toy2dConcept::ALL.into_iter().chain([Toy2dConcept::Null]).collect()
}

/// ᾱ near 1 (σ = 0.01), at the cosine schedule's first step, mid, near 0, and the cosine
/// schedule's noisiest (≈ 2.4e-7), and below the narrow-interval switch (1e-13).
const LEVELS: [f64; 7] = [1.0 - 1e-4, 0.9996, 0.9, 0.5, 1e-3, 2.4e-7, 1e-13];

#[test]
fn scores_match_central_differences() {
    let pts = [
        [0.0, 0.0],
        [0.5, 0.0],
        [0.35, 0.36],
        [0.2, 0.99],
        [0.21, 1.01],
        [-0.3, 0.1],
        [-0.1001, -0.5],
        [0.7, 0.69],
        [0.31, -0.3],
        [2.0, -3.0],
        [-6.0, 4.0],
    ];
    let mut worst = 0.0f64;
    for c in all_concepts() {
        for ab in LEVELS {
            for x in pts {
                let (_, g) = log_density_grad(c, x, ab);
                for d in 0..2 {
                    let h = 1e-6;
                    let (mut xp, mut xm) = (x, x);
                    xp[d] += h;
                    xm[d] -= h;
                    let fd = (log_density(c, xp, ab) - log_density(c, xm, ab)) / (2.0 * h);
                    let err = (fd - g[d]).abs() / (1.0 + g[d].abs());
                    worst = worst.max(err);
                    assert!(err < 1e-4, "{c:?} ᾱ={ab} x={x:?} d={d}: analytic {} vs fd {fd}", g[d]);
                }
            }
        }
    }
    eprintln!("worst relative score error vs finite differences: {worst:.2e}");
}

#[test]
fn densities_integrate_to_one() {
    for ab in [1.0, 1.0 - 1e-4, 0.9, 0.5, 1e-3, 2.4e-7] {
        let sigma = (1.0f64 - ab).sqrt();
        let half = (ab.sqrt() * 1.0 + 8.0 * sigma).max(1.2);
        // at ᾱ = 1 the cells (0.01) align with every box edge, so boxes integrate exactly
        let grid = if ab == 1.0 { Grid { lo: -1.5, hi: 1.5, n: 300 } } else { Grid { lo: -half, hi: half, n: 400 } };
        for c in all_concepts() {
            let lp = if ab == 1.0 { target_log_density_grid(c, &grid) } else { grid.eval(|x| log_density(c, x, ab)) };
            let mass: f64 = lp.iter().map(|l| l.exp()).sum::<f64>() * grid.cell().powi(2);
            assert!((mass - 1.0).abs() < 2e-3, "{c:?} at ᾱ={ab}: mass {mass}");
        }
    }
}

#[test]
fn exact_box_mass_at_alpha_one() {
    let grid = Grid { lo: -1.5, hi: 1.5, n: 300 };
    for c in [Toy2dConcept::Bar, Toy2dConcept::LeftBar, Toy2dConcept::BoxLarge, Toy2dConcept::BoxSmall] {
        let mass: f64 = target_log_density_grid(c, &grid).iter().map(|l| l.exp()).sum::<f64>() * 1e-4;
        assert!((mass - 1.0).abs() < 1e-9, "{c:?}: {mass}");
    }
    // uniform on 0.4 × 2: density 1.25 inside, 0 outside
    assert!((log_density(Toy2dConcept::Bar, [0.0, 0.0], 1.0) - 1.25f64.ln()).abs() < 1e-12);
    assert_eq!(log_density(Toy2dConcept::Bar, [0.3, 0.0], 1.0), f64::NEG_INFINITY);
}

#[test]
fn noised_gaussian_matches_closed_form() {
    // One ring component seen from far along its axis: the mixture is dominated by the
    // nearest mean, and log p → log N(x; √ᾱμ, v) − log 8.
    let ab = 0.5f64;
    let v = ab * 0.03f64.powi(2) + (1.0 - ab);
    let x = [0.5 * ab.sqrt(), 0.0];
    let lp = log_density(Toy2dConcept::Ring, x, ab);
    let direct: f64 = (0..8)
        .map(|k| {
            let a = 2.0 * std::f64::consts::PI * k as f64 / 8.0;
            let (dx, dy) = (x[0] - ab.sqrt() * 0.5 * a.cos(), x[1] - ab.sqrt() * 0.5 * a.sin());
            (-(dx * dx + dy * dy) / (2.0 * v)).exp() / (2.0 * std::f64::consts::PI * v) / 8.0
        })
        .sum();
    assert!((lp - direct.ln()).abs() < 1e-12);
}

#[test]
fn eps_is_finite_everywhere() {
    let far = [[1e3, -1e3], [50.0, 0.0], [0.0, 0.0], [0.2, 0.0], [-0.3, 1.0], [1e8, 1e8]];
    for c in all_concepts() {
        for ab in [1.0 - 1e-12, 1.0 - 1e-8, 0.9996, 0.5, 2.4e-7, 1e-20, 0.0] {
            for x in far {
                let (lp, g) = log_density_grad(c, x, ab);
                let sigma = (1.0f64 - ab).sqrt();
                let eps = [-sigma * g[0], -sigma * g[1]];
                assert!(lp.is_finite() && eps.iter().all(|e| e.is_finite()), "{c:?} ᾱ={ab} x={x:?}: {lp} {g:?}");
            }
        }
    }
    // Through the Denoiser, at the least and most noisy native timesteps.
    let dev = Device::Cpu;
    let model = models::load("toy2d", &dev).unwrap();
    let names: Vec<&str> = all_concepts().iter().map(|c| c.name()).collect();
    let plan = common::linear_plan(&names, &vec![1.0; names.len()], comp_plan::Sampler::Ddpm { steps: 100 }, 1, 0);
    let run = model.prepare(&plan).unwrap();
    let refs: Vec<_> = plan.conditions.iter().collect();
    let n = far.len();
    let xs: Vec<f32> = (0..refs.len()).flat_map(|_| far.iter().flat_map(|p| [p[0] as f32, p[1] as f32])).collect();
    let x = Tensor::from_vec(xs, (refs.len() * n, 2), &dev).unwrap();
    for t in [0.0f32, 99.0] {
        let t = Tensor::full(t, refs.len() * n, &dev).unwrap();
        let out = run.forward(&x, &t, &refs, true).unwrap();
        let eps = out.eps.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let e = out.energy.unwrap().to_vec1::<f32>().unwrap();
        assert!(eps.iter().chain(&e).all(|v| v.is_finite()), "{eps:?} {e:?}");
    }
}

#[test]
fn pure_noise_limit_is_standard_normal() {
    // ᾱ → 0: every concept's noised density tends to N(0, I), whose ε is x itself.
    for c in all_concepts() {
        let (lp, g) = log_density_grad(c, [0.3, -1.2], 1e-14);
        let want = -0.5 * (0.09 + 1.44) - (2.0 * std::f64::consts::PI).ln();
        assert!((lp - want).abs() < 1e-5, "{c:?}: {lp} vs {want}");
        assert!((g[0] + 0.3).abs() < 1e-5 && (g[1] - 1.2).abs() < 1e-5, "{c:?}: {g:?}");
    }
}

#[test]
fn narrow_interval_switch_is_continuous() {
    // The bar (width 0.4) switches to the midpoint form where √ᾱ·0.4/σ = 1e-5.
    let ab_switch = (1e-5f64 / 0.4).powi(2);
    for x in [[0.0, 0.0], [0.15, 0.3], [3.0, -2.0]] {
        let (l1, g1) = log_density_grad(Toy2dConcept::Bar, x, ab_switch * (1.0 - 1e-9));
        let (l2, g2) = log_density_grad(Toy2dConcept::Bar, x, ab_switch * (1.0 + 1e-9));
        assert!((l1 - l2).abs() < 1e-9, "{l1} {l2}");
        assert!((g1[0] - g2[0]).abs() < 1e-9 && (g1[1] - g2[1]).abs() < 1e-9, "{g1:?} {g2:?}");
    }
}

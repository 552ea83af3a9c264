//! Schedules, respacing and the sampler's update coefficients.

use comp_plan::Sampler;
use comp_runtime::sampler::{ddim_coeffs, ddpm_coeffs, ReverseSampler};
use comp_runtime::Schedule;

#[test]
fn cosine_schedule_values() {
    let s = Schedule::cosine(100, 0.008).unwrap();
    assert_eq!(s.len(), 100);
    // ᾱ_0 = f(1)/f(0) with f(τ) = cos²((τ/100 + 0.008)/1.008 · π/2)
    let f = |t: f64| {
        ((t / 100.0 + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
            .cos()
            .powi(2)
    };
    assert!((s.alpha_bar(0) - f(1.0) / f(0.0)).abs() < 1e-15);
    assert!((s.alpha_bar(50) - f(51.0) / f(0.0)).abs() < 1e-12);
    // the last β is clipped at 0.999
    assert!((s.beta(99) - 0.999).abs() < 1e-12);
    assert!(s.alpha_bar(99) > 0.0 && s.alpha_bar(99) < 1e-6);
    for i in 1..100 {
        assert!(s.alpha_bar(i) < s.alpha_bar(i - 1));
    }
}

#[test]
fn linear_schedule_matches_ddpm_at_1000_steps() {
    let s = Schedule::linear(1000).unwrap();
    assert!((s.beta(0) - 1e-4).abs() < 1e-12 && (s.beta(999) - 0.02).abs() < 1e-12);
}

#[test]
fn respacing_keeps_native_alpha_bars() {
    let native = Schedule::cosine(100, 0.008).unwrap();
    assert_eq!(native.respace(100).unwrap(), native);
    let r = native.respace(10).unwrap();
    assert_eq!(r.len(), 10);
    let ts: Vec<usize> = (0..10).map(|i| r.timestep(i)).collect();
    assert_eq!(ts, vec![0, 11, 22, 33, 44, 55, 66, 77, 88, 99]);
    for (i, &t) in ts.iter().enumerate() {
        assert_eq!(r.alpha_bar(i), native.alpha_bar(t));
    }
    // β recomputed between kept steps: Π(1 − β) is still ᾱ
    let prod: f64 = (0..10).map(|i| 1.0 - r.beta(i)).product();
    assert!((prod - r.alpha_bar(9)).abs() < 1e-15);
    assert!(native.respace(101).is_err() && native.respace(0).is_err());
    assert_eq!(native.respace(1).unwrap().timestep(0), 99);
}

#[test]
fn ddim_eta_one_is_ddpm_and_eta_zero_draws_no_noise() {
    let native = Schedule::cosine(100, 0.008).unwrap();
    let s = ReverseSampler::new(
        &native,
        &Sampler::Ddim {
            steps: 25,
            eta: 0.0,
        },
    )
    .unwrap();
    for k in 0..25 {
        assert_eq!(s.coeffs(k).noise, 0.0, "step {k}");
    }
    for (ab, prev) in [(0.2, 0.5), (2.4e-7, 2.4e-4), (0.9, 0.999)] {
        let (a, b) = (ddpm_coeffs(ab, prev), ddim_coeffs(ab, prev, 1.0));
        assert!(
            (a.x - b.x).abs() < 1e-9 * a.x.abs()
                && (a.eps - b.eps).abs() < 1e-9 * a.eps.abs().max(1.0)
        );
        assert!((a.noise - b.noise).abs() < 1e-12);
    }
    // the last step lands on data without noise
    let d = ReverseSampler::new(&native, &Sampler::Ddpm { steps: 100 }).unwrap();
    assert_eq!(d.coeffs(99).noise, 0.0);
    assert_eq!(d.timestep(0), 99);
    assert_eq!(d.alpha_bar_next(99), 1.0);
}

//! Schedules, respacing and the sampler's update coefficients.

use comp_plan::Sampler;
use comp_runtime::sampler::{ddim_coeffs, ddpm_coeffs, euler_ancestral_coeffs, ReverseSampler};
use comp_runtime::Schedule;
use comp_runtime::Spacing;

#[test]
fn cosine_schedule_values() {
    let s = Schedule::cosine(100, 0.008).unwrap();
    assert_eq!(s.len(), 100);
    // ᾱ_0 = f(1)/f(0) with f(τ) = cos²((τ/100 + 0.008)/1.008 · π/2)
    let f = |t: f64| ((t / 100.0 + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2).cos().powi(2);
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
    let s = ReverseSampler::new(&native, &Sampler::Ddim { steps: 25, eta: 0.0 }).unwrap();
    for k in 0..25 {
        assert_eq!(s.coeffs(k).noise, 0.0, "step {k}");
    }
    for (ab, prev) in [(0.2, 0.5), (2.4e-7, 2.4e-4), (0.9, 0.999)] {
        let (a, b) = (ddpm_coeffs(ab, prev), ddim_coeffs(ab, prev, 1.0));
        assert!((a.x - b.x).abs() < 1e-9 * a.x.abs() && (a.eps - b.eps).abs() < 1e-9 * a.eps.abs().max(1.0));
        assert!((a.noise - b.noise).abs() < 1e-12);
    }
    // the last step lands on data without noise
    let d = ReverseSampler::new(&native, &Sampler::Ddpm { steps: 100 }).unwrap();
    assert_eq!(d.coeffs(99).noise, 0.0);
    assert_eq!(d.timestep(0), 99);
    assert_eq!(d.alpha_bar_next(99), 1.0);
}

/// Data N(μ, s²) in each coordinate: at a level with α = √ᾱ and σ = √(1 − ᾱ), x_t ~
/// N(αμ, v) with v = α²s² + σ², and the exact ε(x) = E[z | x] = σ(x − αμ)/v. The
/// probability-flow ODE then moves a point along x_t = αμ + √v·u for a fixed u, so its exact
/// solution from x_T is x_0 = μ + s·(x_T − α_T μ)/√v_T: the closed form the solvers approach.
const MU: f64 = 0.7;
const S: f64 = 0.2;

fn exact_eps(x: f64, alpha_bar: f64) -> f64 {
    let (a, s2) = (alpha_bar.sqrt(), 1.0 - alpha_bar);
    s2.sqrt() * (x - a * MU) / (alpha_bar * S * S + s2)
}

fn exact_flow(x_t: f64, alpha_bar: f64) -> f64 {
    let a = alpha_bar.sqrt();
    MU + S * (x_t - a * MU) / (alpha_bar * S * S + 1.0 - alpha_bar).sqrt()
}

/// Runs `sampler` over the 1000-step cosine schedule from the given starting points with the
/// exact ε, through `ReverseSampler::step` (the executor's path), counting evaluations.
fn solve(sampler: Sampler, start: &[f32]) -> (Vec<f64>, usize) {
    use candle_core::{Device, Tensor};
    let native = Schedule::cosine(1000, 0.008).unwrap();
    let mut s = ReverseSampler::new(&native, &sampler).unwrap();
    let mut x = Tensor::from_slice(start, start.len(), &Device::Cpu).unwrap();
    let mut noise = comp_runtime::noise::Noise::new(0, 0..start.len());
    let mut evals = 0;
    let levels = s.clone();
    for k in 0..s.steps() {
        let mut eval = |x: &Tensor, at: comp_runtime::sampler::At| {
            evals += 1;
            assert_eq!(at.timestep, levels.timestep(at.step));
            let ab = levels.alpha_bar(at.step);
            let v: Vec<f32> = x.to_vec1::<f32>()?.iter().map(|&x| exact_eps(x as f64, ab) as f32).collect();
            Tensor::from_vec(v, x.dims(), x.device())
        };
        x = s.step(k, &x, &mut eval, &mut noise).unwrap();
    }
    (x.to_vec1::<f32>().unwrap().iter().map(|&v| v as f64).collect(), evals)
}

/// Largest distance of a solver's result from the exact flow of each starting point.
fn flow_error(sampler: Sampler, start: &[f32]) -> f64 {
    let native = Schedule::cosine(1000, 0.008).unwrap();
    let ab_t = ReverseSampler::new(&native, &sampler).unwrap().alpha_bar(0);
    let (out, evals) = solve(sampler.clone(), start);
    assert_eq!(evals, sampler.steps() * sampler.calls_per_step(), "one evaluation per step");
    out.iter().zip(start).map(|(&x, &x_t)| (x - exact_flow(x_t as f64, ab_t)).abs()).fold(0.0, f64::max)
}

/// Measured on the 1000-step cosine schedule (f64 reference computed beside it, the same to
/// three digits): max error from the exact flow at 100 / 200 / 400 / 800 steps is
/// 1.1e-2 / 2.7e-3 / 4.8e-4 / 8.3e-5 for DPM-Solver++(2M) (÷4.2, ÷5.6, ÷5.8 per doubling:
/// second order) and 1.9e-2 / 9.9e-3 / 5.4e-3 / 3.0e-3 for DDIM (÷2.0, ÷1.85, ÷1.8: first
/// order). At 25–50 steps both are dominated by the first step, which crosses log-SNR −10 to
/// −3 in one go from the cosine schedule's ᾱ_T ≈ 2e-9 (there the solvers are within 1.5× of
/// each other), so the test asserts the order where it shows.
#[test]
fn dpmpp2m_follows_the_exact_flow_of_a_gaussian_to_second_order() {
    let start: Vec<f32> = (-20..=20).map(|i| i as f32 * 0.15).collect();
    let (mut dpm, mut ddim) = (Vec::new(), Vec::new());
    for steps in [100, 200, 400] {
        dpm.push(flow_error(Sampler::Dpmpp2m { steps }, &start));
        ddim.push(flow_error(Sampler::Ddim { steps, eta: 0.0 }, &start));
    }
    for i in 0..3 {
        assert!(dpm[i] < ddim[i], "the second-order solver is closer: {dpm:?} vs {ddim:?}");
    }
    for i in 0..2 {
        // Doubling the steps: second order divides the error by about 4, first order by 2.
        assert!(dpm[i] / dpm[i + 1] > 3.5, "dpmpp2m converges at second order: {dpm:?}");
        assert!(ddim[i] / ddim[i + 1] < 2.5, "ddim converges at first order: {ddim:?}");
    }
    assert!(dpm[2] < 1e-3, "400 steps land within 1e-3 of the exact flow: {dpm:?}");
}

#[test]
fn dpmpp2m_first_and_last_steps_are_ddim() {
    use candle_core::{Device, Tensor};
    let native = Schedule::cosine(1000, 0.008).unwrap();
    let x = Tensor::new(&[0.3f32, -1.2, 2.0], &Device::Cpu).unwrap();
    let mut noise = comp_runtime::noise::Noise::new(0, 0..3);
    for k in [0, 24] {
        // A fresh solver has no previous prediction (k = 0); the last step lands on σ = 0.
        let mut dpm = ReverseSampler::new(&native, &Sampler::Dpmpp2m { steps: 25 }).unwrap();
        let mut ddim = ReverseSampler::new(&native, &Sampler::Ddim { steps: 25, eta: 0.0 }).unwrap();
        let mut eval = |x: &Tensor, _| x.affine(0.5, 0.1);
        if k == 24 {
            let warm = dpm.step(23, &x, &mut eval, &mut noise).unwrap();
            assert!(warm.to_vec1::<f32>().unwrap().iter().all(|v| v.is_finite()));
        }
        let a = dpm.step(k, &x, &mut eval, &mut noise).unwrap().to_vec1::<f32>().unwrap();
        let b = ddim.step(k, &x, &mut eval, &mut noise).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(a, b, "step {k}");
    }
}

#[test]
fn euler_ancestral_coefficients_by_hand() {
    // ᾱ 0.5 → 0.8: σ_c = √(0.5/0.5) = 1, σ_n = √(0.2/0.8) = 0.5;
    // σ_up = √(0.25·(1 − 0.25)/1) = √0.1875, σ_down = √(0.25 − 0.1875) = 0.25;
    // x: √(0.8/0.5) = √1.6; ε: √0.8·(0.25 − 1); z: √0.8·√0.1875.
    let c = euler_ancestral_coeffs(0.5, 0.8);
    assert!((c.x - 1.6f64.sqrt()).abs() < 1e-12);
    assert!((c.eps - 0.8f64.sqrt() * -0.75).abs() < 1e-12);
    assert!((c.noise - (0.8f64 * 0.1875).sqrt()).abs() < 1e-12);
    // To clean data: x̂₀ = (x − √(1 − ᾱ)ε)/√ᾱ, no noise.
    let c = euler_ancestral_coeffs(0.25, 1.0);
    assert!((c.x - 2.0).abs() < 1e-12 && (c.eps + 3f64.sqrt()).abs() < 1e-12 && c.noise == 0.0);
}

#[test]
fn leading_and_trailing_spacing_pick_diffusers_timesteps() {
    let native = Schedule::scaled_linear(1000, 0.00085, 0.012).unwrap();
    // β_0 = 0.00085: ᾱ_0 = 0.99915.
    assert!((native.alpha_bar(0) - 0.99915).abs() < 1e-12);
    // Leading with offset 1, 25 steps: 1, 41, …, 961 (Stable Diffusion 1.x/2.x).
    let lead = native.respace_with(25, Spacing::Leading { offset: 1 }).unwrap();
    let ts: Vec<usize> = (0..25).map(|i| lead.timestep(i)).collect();
    assert_eq!(ts, (0..25).map(|s| s * 40 + 1).collect::<Vec<_>>());
    // Trailing, 4 steps: 249, 499, 749, 999 (SD-Turbo's one step is 999).
    let trail = native.respace_with(4, Spacing::Trailing).unwrap();
    assert_eq!((0..4).map(|i| trail.timestep(i)).collect::<Vec<_>>(), vec![249, 499, 749, 999]);
    assert_eq!(native.respace_with(1, Spacing::Trailing).unwrap().timestep(0), 999);
    // The end of sampling: ᾱ = 1 unless the model sets it (SD's set_alpha_to_one = false).
    assert_eq!(lead.alpha_bar_prev(0), 1.0);
    let sd = native.clone().with_final_alpha_bar(native.alpha_bar(0)).respace_with(25, Spacing::Leading { offset: 1 }).unwrap();
    assert_eq!(sd.alpha_bar_prev(0), native.alpha_bar(0));
    assert_eq!(sd.alpha_bar_prev(1), native.alpha_bar(1));
}

#[test]
fn euler_ancestral_samples_a_gaussian_with_the_right_spread() {
    // Data N(0, 0.25) under the linear schedule: ε(x, t) = √(1 − ᾱ)·x/(ᾱ·0.25 + 1 − ᾱ)
    // exactly, so the sampler alone decides the spread of what comes out (0.5 here).
    let native = Schedule::linear(1000).unwrap();
    let mut s = ReverseSampler::new(&native, &Sampler::EulerA { steps: 1000 }).unwrap();
    let n = 4000;
    let dev = candle_core::Device::Cpu;
    let mut noise = comp_runtime::noise::Noise::new(11, 0..n);
    let mut x = noise.normal(&[n, 1], &dev).unwrap();
    for k in 0..1000 {
        let mut eval = |x: &candle_core::Tensor, at: comp_runtime::sampler::At| {
            let ab = at.alpha_bar;
            x.affine((1.0 - ab).sqrt() / (ab * 0.25 + 1.0 - ab), 0.0)
        };
        x = s.step(k, &x, &mut eval, &mut noise).unwrap();
    }
    let v: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
    let var = v.iter().map(|&a| (a as f64).powi(2)).sum::<f64>() / n as f64;
    // Euler is first order: propagating the variance through the step's coefficients gives
    // 0.196 at 50 steps, 0.233 at 200 and 0.246 at 1000. The standard error of a variance
    // from 4000 draws is 0.25·√(2/4000) ≈ 0.0056: allow 0.02 around 0.25.
    assert!((var - 0.25).abs() < 0.02, "variance {var}");
}

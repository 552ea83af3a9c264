//! A segment's `Combine` rule applied to one stacked model output: ε̂ (and, when asked,
//! the composed energy), through one fused weighted sum.
//!
//! * `Linear`: ε̂ = Σ_k c_k ε_k with the plan's coefficients.
//! * `Mixture`: branch j has E_j = Σ_k a_jk E_k and ε_j = Σ_k a_jk ε_k; with per-sample
//!   π = softmax_j(log m_j − E_j/σ_t), ε̂ = Σ_j π_j ε_j = Σ_k (Σ_j π_j a_jk) ε_k. The inner
//!   sums are N·K *effective coefficients*, computed from the energies on the host; then one
//!   fused pass over ε, never one tensor op per branch and term. Since the mixture's energy
//!   is E = −σ_t logsumexp_j(log m_j − E_j/σ_t), this ε̂ is exactly ∇ₓE.

use candle_core::{bail, DType, Result, Tensor};
use comp_plan::{Branch, Combine};
use rayon::prelude::*;

use crate::denoiser::ModelOutput;
use crate::fused::{fused_sum, Coeffs};

/// A combined prediction for N samples.
#[derive(Clone, Debug)]
pub struct Combined {
    /// ε̂, `[N, ...data_shape]` f32.
    pub eps: Tensor,
    /// The composed energy per sample, `[N]` f32, when asked for and available.
    pub energy: Option<Tensor>,
}

/// Applies `combine` to `out` (K = number of active conditions, N samples each) at noise
/// level `sigma` = σ_t. `want_energy` also returns the composed energy (MALA, HMC).
pub fn combine(out: &ModelOutput, k: usize, combine: &Combine, sigma: f64, want_energy: bool) -> Result<Combined> {
    let rows = out.eps.dim(0)?;
    if k == 0 || !rows.is_multiple_of(k) {
        bail!("combine: {rows} rows do not split into {k} conditions")
    }
    let n = rows / k;
    let energies = match (&out.energy, combine, want_energy) {
        (Some(e), _, _) => Some(e.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?),
        (None, Combine::Mixture { .. }, _) => {
            bail!("a mixture (OR) needs energies, but the model returned none")
        }
        (None, _, true) => bail!("energies were asked for, but the model returned none"),
        (None, _, false) => None,
    };
    match combine {
        Combine::Linear { coeffs } => {
            if coeffs.len() != k {
                bail!("combine: {} coefficients for {k} active conditions", coeffs.len())
            }
            let c: Vec<f32> = coeffs.iter().map(|&c| c as f32).collect();
            let eps = fused_sum(&out.eps, k, &Coeffs::Shared(c))?;
            let energy = match (want_energy, energies) {
                (true, Some(e)) => {
                    if e.len() != k * n {
                        bail!("combine: the model returned {} energies for {} rows", e.len(), k * n)
                    }
                    let v: Vec<f32> = (0..n).map(|i| (0..k).map(|j| coeffs[j] * e[j * n + i]).sum::<f64>() as f32).collect();
                    Some(Tensor::from_vec(v, n, out.eps.device())?)
                }
                _ => None,
            };
            Ok(Combined { eps, energy })
        }
        Combine::Mixture { branches } => {
            let e = energies.expect("checked above");
            let (c, energy) = mixture_coeffs(&e, k, n, branches, sigma)?;
            let eps = fused_sum(&out.eps, k, &Coeffs::PerSample(c))?;
            let energy = if want_energy { Some(Tensor::from_vec(energy, n, out.eps.device())?) } else { None };
            Ok(Combined { eps, energy })
        }
    }
}

/// Effective per-sample coefficients c_{n,k} = Σ_j π_{n,j} a_jk (row-major `[N, K]`) and the
/// mixture energy −σ logsumexp_j(log m_j − E_j/σ) per sample, from stacked energies
/// `energy[k·N + n]`.
pub fn mixture_coeffs(energy: &[f64], k: usize, n: usize, branches: &[Branch], sigma: f64) -> Result<(Vec<f32>, Vec<f32>)> {
    if energy.len() != k * n {
        bail!("mixture: {} energies for K = {k}, N = {n}", energy.len())
    }
    if branches.is_empty() {
        bail!("mixture with no branches")
    }
    if let Some(b) = branches.iter().find(|b| b.coeffs.len() != k) {
        bail!("mixture branch has {} coefficients for {k} active conditions", b.coeffs.len())
    }
    if sigma.is_nan() || sigma <= 0.0 {
        bail!("mixture at σ = {sigma}: the weights need a positive noise level")
    }
    let per: Vec<(Vec<f32>, f32)> = (0..n)
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| {
            let logits: Vec<f64> = branches
                .iter()
                .map(|b| {
                    let e_j: f64 = b.coeffs.iter().enumerate().map(|(j, a)| a * energy[j * n + i]).sum();
                    b.log_weight - e_j / sigma
                })
                .collect();
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
            let z: f64 = w.iter().sum();
            let c = (0..k).map(|j| branches.iter().zip(&w).map(|(b, w)| w / z * b.coeffs[j]).sum::<f64>() as f32).collect();
            (c, (-sigma * (max + z.ln())) as f32)
        })
        .collect();
    let mut coeffs = Vec::with_capacity(n * k);
    let mut energies = Vec::with_capacity(n);
    for (c, e) in per {
        coeffs.extend(c);
        energies.push(e);
    }
    Ok((coeffs, energies))
}

//! From f to ε: the energy parameterisation E = ‖f(x, t, c) − x‖², ε = ∇ₓE (RRR, 2D), or
//! the plain one, ε = f.
//!
//! ∇ₓE = 2·J_fᵀ(f − x) − 2·(f − x) is written out here as a vector-Jacobian product back
//! through each layer, with ordinary tensor ops, instead of asking candle's autograd for it.
//! Training the energy model needs the gradient of ε (itself a gradient) w.r.t. the weights;
//! candle detaches the gradients its `backward` returns, so a second `backward` through them
//! would be silently wrong. Built by hand, ε is a plain graph of differentiable ops and one
//! `backward` of the ε loss is exact.
//!
//! Back through the layers of `net.rs`, with g the gradient w.r.t. a layer's output:
//!
//! ```text
//! f = W_out·silu(h_L) + b      →  g_h = (g·W_out) ⊙ silu′(h_L)
//! hᵢ₊₁ = hᵢ + W_2·silu(aᵢ) + b →  g_a = (g_h·W_2) ⊙ silu′(aᵢ)
//! aᵢ = W_1·silu(hᵢ) + …        →  g_h ← g_h + (g_a·W_1) ⊙ silu′(hᵢ)
//! h₀ = W_in·x + b_in           →  g_x = g_h·W_in
//! ```
//!
//! The conditioning path does not depend on x and contributes nothing.

use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

use super::net::{silu_grad, Net};

/// How the network's output becomes ε.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Param {
    /// E = ‖f − x‖², ε = ∇ₓE: the model has energies (OR, MALA, HMC).
    Energy,
    /// ε = f: a score model of the same size, without energies.
    Eps,
}

impl Param {
    pub fn name(self) -> &'static str {
        match self {
            Param::Energy => "energy",
            Param::Eps => "eps",
        }
    }
}

/// ε (`[B, d]`) and, for the energy parameterisation, E (`[B]`).
pub struct EpsEnergy {
    pub eps: Tensor,
    pub energy: Option<Tensor>,
}

/// ε and E of `net` at x under `param`; groups as in [`Net::trace`].
pub fn eps_energy(net: &Net, param: Param, x: &Tensor, t: &[f32], c: &[u32]) -> Result<EpsEnergy> {
    let trace = net.trace(x, t, c)?;
    match param {
        Param::Eps => Ok(EpsEnergy { eps: trace.out, energy: None }),
        Param::Energy => {
            let r = (&trace.out - x)?;
            let energy = r.sqr()?.sum(1)?;
            let g_out = (&r * 2.0)?;
            // back through the output layer
            let (h_last, s_last) = trace.h.last().expect("at least h₀");
            let mut g_h = (net.output.vjp(&g_out)? * silu_grad(h_last, s_last)?)?;
            // back through the blocks, last first
            for (i, block) in net.blocks.iter().enumerate().rev() {
                let (a, sa) = &trace.a[i];
                let (h, sh) = &trace.h[i];
                let g_a = (block.lin2.vjp(&g_h)? * silu_grad(a, sa)?)?;
                g_h = (g_h + (block.lin1.vjp(&g_a)? * silu_grad(h, sh)?)?)?;
            }
            let g_x = net.input.vjp(&g_h)?;
            Ok(EpsEnergy { eps: (g_x - g_out)?, energy: Some(energy) })
        }
    }
}

//! An exponential moving average of weights, kept by hand next to candle's `VarMap`.
//!
//! After optimiser step n (1-based) every tensor is updated as
//! `ema ← d·ema + (1 − d)·w` with d = min(decay, (1 + n)/(10 + n)): the usual warm-up, so
//! that a short run's average is not dominated by the random initial weights.

use std::collections::HashMap;

use candle_core::{Result, Tensor};
use candle_nn::VarMap;

/// The averaged weights, by variable name.
pub struct Ema {
    decay: f64,
    steps: usize,
    weights: HashMap<String, Tensor>,
}

impl Ema {
    /// Starts the average at the variables' current values.
    pub fn new(vars: &VarMap, decay: f64) -> Result<Self> {
        let weights = vars
            .data()
            .lock()
            .expect("VarMap lock")
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_tensor().detach().copy()?)))
            .collect::<Result<_>>()?;
        Ok(Self { decay, steps: 0, weights })
    }

    /// The decay used at the next update.
    pub fn current_decay(&self) -> f64 {
        let n = (self.steps + 1) as f64;
        self.decay.min((1.0 + n) / (10.0 + n))
    }

    /// Folds the variables' current values into the average.
    pub fn update(&mut self, vars: &VarMap) -> Result<()> {
        let d = self.current_decay();
        let data = vars.data().lock().expect("VarMap lock");
        for (k, v) in data.iter() {
            let avg = self.weights.get_mut(k).expect("same variables as at creation");
            *avg = ((&*avg * d)? + (v.as_tensor().detach() * (1.0 - d))?)?;
        }
        self.steps += 1;
        Ok(())
    }

    /// The averaged weights.
    pub fn weights(&self) -> &HashMap<String, Tensor> {
        &self.weights
    }
}

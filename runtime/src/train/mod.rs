//! Training learned models with candle: `comp train toy2d`.
//!
//! * [`toy2d`]: the toy2d MLPs (energy and ε parameterisations) on exact draws of the toy2d
//!   concepts.
//! * [`ema`]: the exponential moving average of the weights that is saved.
//!
//! The optimiser is candle-nn's `AdamW` over a `VarMap` of the model's variables.

pub mod clevr;
pub mod ema;
pub mod toy2d;

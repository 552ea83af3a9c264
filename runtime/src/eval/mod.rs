//! Benchmarks behind `comp eval`: sample-quality measures and the toy2d evaluation.
//!
//! | file | what |
//! | --- | --- |
//! | [`metrics`] | log-likelihood under a gridded target, MMD², exact draws from a grid |
//! | [`toy2d`] | RRR's 2D compositions × samplers against the exact targets |
//! | [`figure`] | the scatter-plot grid `eval.png` |

pub mod figure;
pub mod metrics;
pub mod toy2d;

//! RRR's 2D experiments on the toy2d concepts: training the learned MLPs and measuring
//! sampling quality against the exact targets.
//!
//! | file | what |
//! | --- | --- |
//! | [`train`] | `comp train toy2d`: the MLPs (energy and ε parameterisations) on exact draws |
//! | [`eval`] | `comp eval toy2d`: RRR's compositions × samplers against the exact targets |
//! | [`metrics`] | log-likelihood under a gridded target, MMD², exact draws from a grid |
//! | [`figure`] | the scatter-plot grid `eval.png` |

pub mod eval;
pub mod figure;
pub mod metrics;
pub mod train;

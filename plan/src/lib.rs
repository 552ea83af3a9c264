//! `comp-plan`: the types that cross from the compiler to the runtime.
//!
//! | type | what it is |
//! | --- | --- |
//! | [`Plan`], [`SamplePlan`] | what the runtime executes, per `sample` (`comp plan --emit json`) |
//! | [`Condition`] ([`ConditionKind`]), [`Segment`], [`Combine`] | the unique conditions and how each stretch of the trajectory combines them |
//! | [`Sampler`], [`Mcmc`] | the reverse sampler and the annealed MCMC, with what each costs in model calls |
//! | [`ModelInfo`] | a model's vocabulary and defaults, as the checker needs them |
//!
//! serde types only: the compiler produces them, the runtime and the models consume them, and
//! neither needs the other to do so.
#![forbid(unsafe_code)]

pub mod condition;
pub mod model_info;
pub mod plan;

pub use model_info::{Concept, DefaultBase, ImageSize, ModelInfo, Param, ParamKind};
pub use plan::*;

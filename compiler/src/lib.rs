//! `comp-compiler`: from a parsed `.comp` program to a `Plan`.
#![forbid(unsafe_code)]

pub mod model_info;
pub mod plan;

pub use model_info::{Concept, DefaultBase, ModelInfo, Param, ParamKind};
pub use plan::Plan;

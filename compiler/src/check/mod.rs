//! Checks: each rule in its own file. Name resolution itself is in [`crate::resolve`];
//! settings are read and checked in [`crate::settings`].

pub mod args;
pub mod base;
pub mod classifier;
pub mod cost;
pub mod finite;
pub mod lets;
pub mod mixture;
pub mod model;
pub mod negation;
pub mod or_placement;
pub mod several;
pub mod size;
pub mod text;
pub mod total_weight;
pub mod windows;

//! Composable Diffusion's positional CLEVR experiment, on generated 32×32 scenes.
//!
//! * [`data`]: the scene generator (training data and realistic position sets);
//! * [`detect`]: "is there an object at (x, y)?" from the pixels, and its calibration;
//! * [`eval`]: `comp eval clevr-pos`: composed positions scored like the paper's Table 1.
//!
//! * [`train`]: `comp train clevr-pos`: the model (`comp_models::clevr`) on generated scenes.

pub mod data;
pub mod detect;
pub mod eval;
pub mod train;

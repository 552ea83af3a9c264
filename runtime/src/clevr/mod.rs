//! Composable Diffusion's positional CLEVR experiment, on generated 32×32 scenes.
//!
//! * [`data`]: the scene generator (training data and realistic position sets);
//! * [`detect`]: "is there an object at (x, y)?" from the pixels, and its calibration;
//! * [`eval`]: `comp eval clevr-pos`: composed positions scored like the paper's Table 1.
//!
//! The model itself is `crate::models::clevr`; its training `crate::train::clevr`.

pub mod data;
pub mod detect;
pub mod eval;

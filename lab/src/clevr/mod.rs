//! Composable Diffusion's positional CLEVR experiment, on generated 32×32 scenes.
//!
//! * [`data`]: the scene generator (training data and realistic position sets);
//! * [`detect`]: "is there an object at (x, y)?" from the pixels, and its calibration;
//! * [`eval`]: `comp eval clevr-pos`: composed positions scored like the paper's Table 1.
//!
//! * [`train`]: `comp train clevr-pos` / `clevr-attr`: the models (`comp_models::clevr`) on
//!   generated scenes.
//! * [`attr`]: the one-object scenes of the attribute experiment (`clevr-attr`);
//! * [`attr_detect`], [`attr_eval`]: its detector and `comp eval clevr-attr`;
//! * [`clf_train`]: `comp train clevr-attr-clf`, the noise-conditional attribute classifier.

pub mod attr;
pub mod attr_detect;
pub mod attr_eval;
pub mod clf_train;
pub mod data;
pub mod detect;
pub mod eval;
pub mod train;

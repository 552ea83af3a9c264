//! [`SimplifiedSample`]: what `comp plan --emit simplified` shows, the canonical form of each
//! sample after simplification.
//!
//! ```text
//! product = 1 * ring AND 1 * bar
//! staged = 1 * pos(0.5, 0.5) AND 0.5 * pos(0.2, 0.8) @ [0, 0.6]
//!   [0, 0.6): 1 * pos(0.5, 0.5) AND 0.5 * pos(0.2, 0.8)
//!   [0.6, 1): 1 * pos(0.5, 0.5)
//! either = 0.5 : (1 * left_bar) OR 0.5 : (1 * right_bar)
//! ```
//!
//! Weights are signed (`NOT 0.3 * b` is `-0.3 * b`); mixture weights are normalised. When
//! windows cut the trajectory, one line per segment follows with the terms active there.

use crate::ir::{Dnf, Stretch};
use std::fmt;

/// The canonical form of one sample.
#[derive(Clone, Debug, PartialEq)]
pub struct SimplifiedSample {
    pub name: String,
    /// Lets inlined, weights distributed, duplicates merged, zeros dropped.
    pub dnf: Dnf,
    /// The segments of the trajectory, each with its active terms.
    pub segments: Vec<Stretch>,
}

impl fmt::Display for SimplifiedSample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.name, self.dnf)?;
        if self.segments.len() > 1 {
            for s in &self.segments {
                write!(f, "\n  [{}, {}): {}", s.from, s.to, s.dnf)?;
            }
        }
        Ok(())
    }
}

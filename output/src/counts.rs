//! What a picture leaves out: samples that are not finite, and samples outside the picture
//! (2D points beyond the plot's fixed frame, image values beyond [−1, 1], clipped when drawn).
//! Every run reports both, so an exploded sampler is never just an empty plot.

use candle_core::{DType, Result, Tensor};
use serde::Serialize;

/// Counts of samples (rows along dimension 0) a picture cannot show as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Samples with a NaN or infinite value.
    pub non_finite: usize,
    /// Finite samples outside the picture: a 2D point with |x| or |y| above the plot's
    /// half-width; an image with a value outside [−1, 1].
    pub outside_picture: usize,
}

/// [`Counts`] of `samples` (`[N, ...]`).
pub fn counts(samples: &Tensor) -> Result<Counts> {
    let shape = samples.dims().to_vec();
    let data = samples.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    Ok(counts_of(&shape, &data))
}

/// [`counts`] over host data of shape `shape`.
pub fn counts_of(shape: &[usize], data: &[f32]) -> Counts {
    let n = shape.first().copied().unwrap_or(0);
    if n == 0 || data.is_empty() {
        return Counts::default();
    }
    let per = data.len() / n;
    let limit = if shape.len() == 2 && shape[1] == 2 { super::scatter::EXTENT as f32 } else { 1.0 };
    let pictured = shape.len() == 4 || (shape.len() == 2 && shape[1] == 2);
    let mut c = Counts::default();
    for row in data.chunks_exact(per) {
        if row.iter().any(|v| !v.is_finite()) {
            c.non_finite += 1;
        } else if pictured && row.iter().any(|v| v.abs() > limit) {
            c.outside_picture += 1;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_points_and_images() {
        // 2D: (0, 0) inside, (2, 0) outside the ±1.5 frame, (NaN, 0) non-finite, (1.5, −1.5) on the edge.
        let pts = [0.0, 0.0, 2.0, 0.0, f32::NAN, 0.0, 1.5, -1.5];
        assert_eq!(counts_of(&[4, 2], &pts), Counts { non_finite: 1, outside_picture: 1 });
        // Images [2, 1, 1, 2]: the second has 1.2, clipped.
        assert_eq!(counts_of(&[2, 1, 1, 2], &[0.5, -1.0, 1.2, 0.0]), Counts { non_finite: 0, outside_picture: 1 });
        // Other shapes have no picture: nothing is outside it.
        assert_eq!(counts_of(&[1, 3], &[9.0, 9.0, f32::INFINITY]), Counts { non_finite: 1, outside_picture: 0 });
    }
}

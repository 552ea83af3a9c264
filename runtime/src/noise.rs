//! The run's own random numbers: x_T and every sampler and MCMC draw.
//!
//! Every sample has its own stream: sample i of a run seeded with s draws everything (its
//! x_T row, each step's noise row, each MCMC proposal row and accept test) from ChaCha8 with
//! the key `seed_from_u64(s)` and stream number i (ChaCha's 64-bit stream id, a separate
//! 2^64-block sequence per id). So sample i depends only on the plan, the seed and i, never on
//! how many samples are drawn together or which of them: `--samples 3` gives the first three
//! samples of `--samples 10`, and a shard drawing indices 40..60 gives exactly those rows of
//! the whole run. ChaCha's stream is fixed by its specification (unlike `StdRng`'s, which may
//! change between rand versions). Draws are made on the host, one generator per row (in
//! parallel for large batches: each row's values depend only on its own generator), into one
//! buffer copied to the device as one tensor.

use std::ops::Range;

use candle_core::{bail, Device, Result, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// Below this many values a draw stays on one thread (rayon's hand-off costs more).
const PARALLEL_FROM: usize = 1 << 14;

/// Seeded per-sample sources of standard normal tensors and uniform draws, for the sample
/// indices of one batch.
pub struct Noise {
    /// `rngs[j]` is the stream of sample index `first + j`.
    rngs: Vec<ChaCha8Rng>,
    first: usize,
}

impl Noise {
    /// The streams of sample indices `indices` (a whole run: `0..samples`; a shard: its range)
    /// of a run seeded with `seed`.
    pub fn new(seed: u64, indices: Range<usize>) -> Self {
        let key = ChaCha8Rng::seed_from_u64(seed);
        let first = indices.start;
        let rngs = indices
            .map(|i| {
                let mut rng = key.clone();
                rng.set_stream(i as u64);
                rng
            })
            .collect();
        Self { rngs, first }
    }

    /// How many samples (rows) each draw is for.
    pub fn rows(&self) -> usize {
        self.rngs.len()
    }

    /// The sample indices this source draws for.
    pub fn indices(&self) -> Range<usize> {
        self.first..self.first + self.rngs.len()
    }

    /// A tensor of i.i.d. N(0, 1) f32 draws of `shape`, whose first dimension is the number of
    /// samples: row j comes from the stream of sample `first + j`.
    pub fn normal(&mut self, shape: &[usize], device: &Device) -> Result<Tensor> {
        let rows = shape.first().copied().unwrap_or(1);
        if rows != self.rngs.len() {
            bail!("noise for {} samples asked for {rows} rows (shape {shape:?})", self.rngs.len())
        }
        let per_row: usize = shape.iter().skip(1).product();
        let mut v = vec![0f32; rows * per_row];
        let fill = |(row, rng): (&mut [f32], &mut ChaCha8Rng)| row.iter_mut().for_each(|x| *x = rng.sample(StandardNormal));
        match PARALLEL_FROM.checked_div(per_row) {
            None => {} // rows of no values: nothing to draw
            Some(rows_per_task) if v.len() >= PARALLEL_FROM => {
                v.par_chunks_mut(per_row).zip(self.rngs.par_iter_mut()).with_min_len(rows_per_task.max(1)).for_each(fill)
            }
            Some(_) => v.chunks_mut(per_row).zip(self.rngs.iter_mut()).for_each(fill),
        }
        Tensor::from_vec(v, shape, device)
    }

    /// One U(0, 1) draw in f64 per sample (Metropolis accept tests), from each sample's stream.
    pub fn uniform(&mut self, n: usize) -> Result<Vec<f64>> {
        if n != self.rngs.len() {
            bail!("uniform draws for {} samples asked for {n}", self.rngs.len())
        }
        Ok(self.rngs.iter_mut().map(|rng| rng.random::<f64>()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(seed: u64, indices: Range<usize>, per_row: usize) -> Vec<Vec<f32>> {
        let n = indices.len();
        let mut noise = Noise::new(seed, indices);
        // Two draws: the second row of each sample continues its own stream.
        let _ = noise.normal(&[n, per_row], &Device::Cpu).unwrap();
        noise.normal(&[n, per_row], &Device::Cpu).unwrap().to_vec2().unwrap()
    }

    #[test]
    fn a_sample_row_depends_only_on_seed_and_index() {
        // Small rows (serial path) and rows large enough for the parallel path.
        for per_row in [2, 5000] {
            let all = rows(7, 0..10, per_row);
            assert_eq!(rows(7, 0..3, per_row), all[0..3]);
            assert_eq!(rows(7, 4..9, per_row), all[4..9]);
            assert_ne!(rows(8, 0..3, per_row), all[0..3]);
        }
        let mut a = Noise::new(3, 0..6);
        let mut b = Noise::new(3, 2..4);
        assert_eq!(a.uniform(6).unwrap()[2..4], b.uniform(2).unwrap());
    }

    #[test]
    fn a_draw_for_another_row_count_is_refused() {
        let mut noise = Noise::new(0, 0..4);
        assert!(noise.normal(&[3, 2], &Device::Cpu).is_err());
        assert!(noise.uniform(5).is_err());
    }
}

//! A detector for "is there an object at (x, y)?", read from the pixels alone.
//!
//! Composable Diffusion scores a composed CLEVR sample correct when an object is found at
//! every requested position. Our scenes have a plain background, so an object is simply a
//! patch that differs from it: the detector estimates the background as the per-channel
//! median of the image (objects cover well under half of it), marks a pixel as foreground
//! when some channel differs from the background by more than [`Detector::threshold`], and
//! says "object" when at least [`Detector::min_fraction`] of the pixels within
//! [`Detector::radius`] of the position are foreground *and* those pixels are one flat colour
//! (per-channel standard deviation at most [`Detector::max_spread`]: objects are flat, while
//! noise, which differs from any background, is not). The smallest object (a square of
//! half-side 2.2 px) contains that whole window when centred on the position, so a sample
//! counts when its object lies within about a pixel of where it was asked for.
//!
//! [`calibrate`] measures the detector on generated scenes, where the truth is known: true
//! object positions should all be found, and positions far from every object none.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::data::{to_pixel, Scene, SIZE};

/// The detector's settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Detector {
    /// Window radius around the position, pixels.
    pub radius: f64,
    /// Foreground threshold: largest per-channel difference from the background, in the
    /// image's [−1, 1] units (the palette differs by at least 0.7).
    pub threshold: f32,
    /// Fraction of the window that must be foreground.
    pub min_fraction: f64,
    /// Largest per-channel standard deviation of the window's foreground pixels.
    pub max_spread: f32,
}

impl Default for Detector {
    fn default() -> Self {
        Detector { radius: 2.0, threshold: 0.35, min_fraction: 0.5, max_spread: 0.25 }
    }
}

/// One image, `[3, SIZE, SIZE]` in [−1, 1], prepared for queries.
pub struct Foreground {
    mask: Vec<bool>,
    img: Vec<f32>,
}

impl Detector {
    /// The foreground mask of an image `[3, SIZE, SIZE]`.
    pub fn foreground(&self, img: &[f32]) -> Foreground {
        let plane = SIZE * SIZE;
        assert_eq!(img.len(), 3 * plane, "the detector reads [3, {SIZE}, {SIZE}] images");
        let bg: Vec<f32> = (0..3).map(|c| median(&img[c * plane..(c + 1) * plane])).collect();
        let mask = (0..plane).map(|p| (0..3).any(|c| (img[c * plane + p] - bg[c]).abs() > self.threshold)).collect();
        Foreground { mask, img: img.to_vec() }
    }

    /// Fraction of the window around `pos` ((x, y), y upward) that is foreground, and the
    /// largest per-channel standard deviation of those foreground pixels.
    pub fn measure(&self, fg: &Foreground, pos: [f64; 2]) -> (f64, f32) {
        let (pc, pr) = to_pixel(pos);
        let plane = SIZE * SIZE;
        let (mut inside, mut on) = (0usize, 0usize);
        let (mut sum, mut sq) = ([0f32; 3], [0f32; 3]);
        let lo = |v: f64| ((v - self.radius).floor().max(0.0)) as usize;
        let hi = |v: f64| ((v + self.radius).ceil().min(SIZE as f64)) as usize;
        for r in lo(pr)..hi(pr) {
            for c in lo(pc)..hi(pc) {
                let (dc, dr) = (c as f64 + 0.5 - pc, r as f64 + 0.5 - pr);
                if dc * dc + dr * dr <= self.radius * self.radius {
                    inside += 1;
                    if fg.mask[r * SIZE + c] {
                        on += 1;
                        for ch in 0..3 {
                            let v = fg.img[ch * plane + r * SIZE + c];
                            sum[ch] += v;
                            sq[ch] += v * v;
                        }
                    }
                }
            }
        }
        if on == 0 {
            return (0.0, 0.0);
        }
        let n = on as f32;
        let spread = (0..3).map(|ch| (sq[ch] / n - (sum[ch] / n).powi(2)).max(0.0).sqrt()).fold(0.0, f32::max);
        (on as f64 / inside as f64, spread)
    }

    /// Whether an object is at `pos`: enough of the window is foreground, in one flat colour.
    pub fn found(&self, fg: &Foreground, pos: [f64; 2]) -> bool {
        let (fraction, spread) = self.measure(fg, pos);
        fraction >= self.min_fraction && spread <= self.max_spread
    }

    /// Whether an object is at `pos` in `img` (`[3, SIZE, SIZE]`).
    pub fn object_at(&self, img: &[f32], pos: [f64; 2]) -> bool {
        self.found(&self.foreground(img), pos)
    }
}

fn median(v: &[f32]) -> f32 {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    s[s.len() / 2]
}

/// The detector measured on generated scenes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calibration {
    pub scenes: usize,
    /// True object positions tried, and the fraction found.
    pub true_positions: usize,
    pub true_found: f64,
    /// Random positions at least 2 px from every object's edge (no object there), and the
    /// fraction (wrongly) found.
    pub empty_positions: usize,
    pub empty_found: f64,
    /// Uniformly random positions whose window touches an object's edge but misses its centre
    /// by more than the object's size (near misses), and the fraction found.
    pub near_positions: usize,
    pub near_found: f64,
}

/// Measures `det` on `scenes` generated scenes (seeded): every object's true position, and
/// random positions sorted into "empty" (clear of every object) and "near miss".
pub fn calibrate(det: &Detector, scenes: usize, seed: u64) -> Calibration {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut t, mut tf, mut e, mut ef, mut n, mut nf) = (0, 0, 0, 0, 0, 0);
    for _ in 0..scenes {
        let scene = Scene::random(&mut rng);
        let fg = det.foreground(&scene.render());
        for p in scene.positions() {
            t += 1;
            tf += det.found(&fg, p) as usize;
        }
        for _ in 0..4 {
            let pos = [rng.random_range(0.0..1.0), rng.random_range(0.0..1.0)];
            let (pc, pr) = to_pixel(pos);
            let dist = |o: &super::data::Object| ((o.col - pc).powi(2) + (o.row - pr).powi(2)).sqrt();
            let clear = scene.objects.iter().all(|o| dist(o) > o.bound() + det.radius + 2.0);
            let near = !clear && scene.objects.iter().all(|o| dist(o) > 2.0 * o.bound());
            if clear {
                e += 1;
                ef += det.found(&fg, pos) as usize;
            } else if near {
                n += 1;
                nf += det.found(&fg, pos) as usize;
            }
        }
    }
    let frac = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Calibration {
        scenes,
        true_positions: t,
        true_found: frac(tf, t),
        empty_positions: e,
        empty_found: frac(ef, e),
        near_positions: n,
        near_found: frac(nf, n),
    }
}

//! The project's own attribute detector for one-object scenes: what colour, shape and size
//! the object in a 32×32 image has, from the pixels alone (no learned part, so it cannot share
//! a learned model's blind spots).
//!
//! 1. **Objects.** A pixel is object when some channel differs from the grey floor by more
//!    than [`Detector::threshold`] (every palette colour differs by ≥ 0.35 in some channel);
//!    4-connected components of at least [`Detector::min_pixels`] pixels are objects. A scene
//!    that does not hold exactly one is [`Reading::objects`] ≠ 1 and fails every attribute.
//! 2. **Colour.** The mean of the object's core pixels (those at least 80% as far from the
//!    floor as the farthest), the nearest palette colour.
//! 3. **Coverage.** Each pixel near the object is the floor blended with the colour by its
//!    coverage α (that is how scenes are drawn): α is the projection of (pixel − floor) on
//!    (colour − floor). The area is Σα, the centre the α-weighted mean of pixel centres.
//! 4. **Size.** Small objects cover at most 49 px² (a square of half-side 3.5), large ones at
//!    least 78.5 px² (a disc of radius 5): the area splits them at [`Detector::area_split`].
//! 5. **Shape.** A disc and a square of that area are drawn at that centre with the scenes'
//!    anti-aliasing; the one whose coverage is nearer (squared error) to α is the shape.

use serde::Serialize;

use super::attr::Attributes;
use super::data::{BACKGROUND, PALETTE, SIZE};

/// The detector's settings.
#[derive(Clone, Debug, Serialize)]
pub struct Detector {
    /// Largest per-channel difference from the floor (in [0, 1] units) of an object pixel.
    pub threshold: f32,
    /// Smallest component counted as an object, pixels (smaller specks are noise).
    pub min_pixels: usize,
    /// Area (px²) splitting small from large.
    pub area_split: f64,
}

impl Default for Detector {
    fn default() -> Self {
        Detector { threshold: 0.15, min_pixels: 4, area_split: 62.0 }
    }
}

/// What the detector read from an image.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reading {
    /// Objects found (components of at least `min_pixels`).
    pub objects: usize,
    /// The attributes of the largest object (meaningful when `objects == 1`).
    pub attributes: Option<Attributes>,
    /// Its area (px²) and the squared errors of the disc and square templates.
    pub area: f64,
    pub disc_error: f64,
    pub square_error: f64,
}

impl Reading {
    /// Whether the image holds exactly one object and it has attribute `name`.
    pub fn has(&self, name: &str) -> bool {
        self.objects == 1 && self.attributes.is_some_and(|a| a.has(name))
    }
}

impl Detector {
    /// Reads an image `[3, 32, 32]` in [−1, 1] (planar, as the models produce).
    pub fn read(&self, img: &[f32]) -> Reading {
        let plane = SIZE * SIZE;
        let px = |i: usize| -> [f32; 3] { std::array::from_fn(|c| ((img[c * plane + i] + 1.0) / 2.0).clamp(0.0, 1.0)) };
        let dist: Vec<f32> = (0..plane)
            .map(|i| {
                let p = px(i);
                (0..3).map(|c| (p[c] - BACKGROUND[c]).abs()).fold(0.0, f32::max)
            })
            .collect();
        let components = components(&dist, self.threshold);
        let objects: Vec<&Vec<usize>> = components.iter().filter(|c| c.len() >= self.min_pixels).collect();
        let none = Reading { objects: objects.len(), attributes: None, area: 0.0, disc_error: 0.0, square_error: 0.0 };
        let Some(obj) = objects.iter().max_by_key(|c| c.len()) else { return none };
        // Colour: the core pixels' mean, nearest palette entry.
        let far = obj.iter().map(|&i| dist[i]).fold(0.0, f32::max);
        let core: Vec<usize> = obj.iter().copied().filter(|&i| dist[i] >= 0.8 * far).collect();
        let mut mean = [0f32; 3];
        for &i in &core {
            let p = px(i);
            for c in 0..3 {
                mean[c] += p[c] / core.len() as f32;
            }
        }
        let colour = (0..PALETTE.len()).min_by(|&a, &b| sq(&PALETTE[a], &mean).total_cmp(&sq(&PALETTE[b], &mean))).unwrap_or(0);
        // Coverage near the object: its bounding box grown by 2 pixels.
        let (mut r0, mut r1, mut c0, mut c1) = (SIZE, 0, SIZE, 0);
        for &i in obj.iter() {
            let (r, c) = (i / SIZE, i % SIZE);
            (r0, r1, c0, c1) = (r0.min(r), r1.max(r), c0.min(c), c1.max(c));
        }
        let (r0, r1, c0, c1) = (r0.saturating_sub(2), (r1 + 2).min(SIZE - 1), c0.saturating_sub(2), (c1 + 2).min(SIZE - 1));
        let dir: [f32; 3] = std::array::from_fn(|c| PALETTE[colour][c] - BACKGROUND[c]);
        let norm2: f32 = dir.iter().map(|d| d * d).sum();
        let mut alpha = Vec::new();
        let (mut area, mut cx, mut cy) = (0f64, 0f64, 0f64);
        for r in r0..=r1 {
            for c in c0..=c1 {
                let p = px(r * SIZE + c);
                let a = ((0..3).map(|k| (p[k] - BACKGROUND[k]) * dir[k]).sum::<f32>() / norm2).clamp(0.0, 1.0) as f64;
                alpha.push((r, c, a));
                area += a;
                cx += a * (c as f64 + 0.5);
                cy += a * (r as f64 + 0.5);
            }
        }
        if area <= 0.0 {
            return none;
        }
        let (cx, cy) = (cx / area, cy / area);
        let template_error = |square: bool| -> f64 {
            let size = if square { area.sqrt() / 2.0 } else { (area / std::f64::consts::PI).sqrt() };
            alpha
                .iter()
                .map(|&(r, c, a)| {
                    let (dx, dy) = (c as f64 + 0.5 - cx, r as f64 + 0.5 - cy);
                    let d = if square { dx.abs().max(dy.abs()) } else { (dx * dx + dy * dy).sqrt() } - size;
                    let t = (0.5 - d).clamp(0.0, 1.0);
                    (t - a) * (t - a)
                })
                .sum()
        };
        let (disc_error, square_error) = (template_error(false), template_error(true));
        let attributes = Attributes { colour, shape: (square_error < disc_error) as usize, size: (area >= self.area_split) as usize };
        Reading { objects: objects.len(), attributes: Some(attributes), area, disc_error, square_error }
    }
}

fn sq(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    (0..3).map(|c| (a[c] - b[c]).powi(2)).sum()
}

/// 4-connected components of the pixels with `dist > threshold`, as pixel index lists.
fn components(dist: &[f32], threshold: f32) -> Vec<Vec<usize>> {
    let mut seen = vec![false; dist.len()];
    let mut out = Vec::new();
    for start in 0..dist.len() {
        if seen[start] || dist[start] <= threshold {
            continue;
        }
        seen[start] = true;
        let (mut stack, mut comp) = (vec![start], Vec::new());
        while let Some(i) = stack.pop() {
            comp.push(i);
            let (r, c) = (i / SIZE, i % SIZE);
            let mut visit = |j: usize| {
                if !seen[j] && dist[j] > threshold {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if r > 0 {
                visit(i - SIZE);
            }
            if r + 1 < SIZE {
                visit(i + SIZE);
            }
            if c > 0 {
                visit(i - 1);
            }
            if c + 1 < SIZE {
                visit(i + 1);
            }
        }
        out.push(comp);
    }
    out
}

/// The detector's accuracy on rendered scenes (the ground truth known).
#[derive(Clone, Debug, Serialize)]
pub struct Validation {
    pub scenes: usize,
    /// Fraction read as exactly one object.
    pub one_object: f64,
    /// Fraction with each attribute right, and all three.
    pub colour: f64,
    pub shape: f64,
    pub size: f64,
    pub all: f64,
}

/// Reads `scenes` random one-object scenes (seeded) and scores the readings.
pub fn validate(det: &Detector, scenes: usize, seed: u64) -> Validation {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut one, mut col, mut shp, mut siz, mut all) = (0, 0, 0, 0, 0);
    for _ in 0..scenes {
        let (scene, truth) = super::attr::random_scene(&mut rng);
        let r = det.read(&scene.render());
        one += (r.objects == 1) as usize;
        if let (1, Some(a)) = (r.objects, r.attributes) {
            col += (a.colour == truth.colour) as usize;
            shp += (a.shape == truth.shape) as usize;
            siz += (a.size == truth.size) as usize;
            all += (a == truth) as usize;
        }
    }
    let f = |n: usize| n as f64 / scenes.max(1) as f64;
    Validation { scenes, one_object: f(one), colour: f(col), shape: f(shp), size: f(siz), all: f(all) }
}

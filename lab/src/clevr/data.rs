//! A deterministic generator of small CLEVR-like scenes: 32×32 RGB images of 1–5 flat discs
//! and squares in saturated colours on a plain grey background, never overlapping, with soft
//! (anti-aliased) edges.
//!
//! It stands in for the CLEVR renders of Composable Diffusion's position experiment: what the
//! experiment needs is only that each image has a few well separated objects, and a label
//! "there is an object at (x, y)". Positions are in [0, 1]² with y measured *upward*, as in
//! the paper: the pixel row of y is (1 − y)·H and the column of x is x·W.
//!
//! Everything is drawn from a `ChaCha8Rng`, whose stream is fixed by its specification, so a
//! seed gives the same scenes on every machine.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Side of the square images, in pixels.
pub use comp_models::clevr::SIZE;
/// Most objects in a scene.
pub const MAX_OBJECTS: usize = 5;
/// Probability that a training label is dropped to the learned null (classifier-free guidance).
pub const NULL_PROB: f64 = 0.1;
/// Background colour, RGB in [0, 1] (0 in the model's [−1, 1] range).
pub const BACKGROUND: [f32; 3] = [0.5, 0.5, 0.5];
/// Object colours, RGB in [0, 1]: each differs from the background by at least 0.35 in some
/// channel, so the detector can tell every one of them from the floor.
pub const PALETTE: [[f32; 3]; 8] = [
    [0.87, 0.20, 0.20], // red
    [0.20, 0.75, 0.30], // green
    [0.20, 0.35, 0.90], // blue
    [0.95, 0.85, 0.20], // yellow
    [0.20, 0.80, 0.85], // cyan
    [0.80, 0.25, 0.80], // magenta
    [0.95, 0.95, 0.95], // white
    [0.12, 0.12, 0.12], // black
];
/// Disc radii, pixels.
const DISC_RADIUS: (f64, f64) = (2.5, 3.5);
/// Square half-sides, pixels.
const SQUARE_HALF: (f64, f64) = (2.2, 3.0);
/// Free space kept between the bounding circles of two objects, pixels.
const GAP: f64 = 1.0;
/// Free space kept between an object's bounding circle and the image border, pixels.
const MARGIN: f64 = 0.5;

/// The two kinds of objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Disc,
    Square,
}

/// One object: its shape, colour (an index into [`PALETTE`]), centre in pixel coordinates
/// (column, row; continuous, pixel (c, r) covers [c, c+1) × [r, r+1)) and size (radius or
/// half-side).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Object {
    pub shape: Shape,
    pub colour: usize,
    pub col: f64,
    pub row: f64,
    pub size: f64,
}

impl Object {
    /// Radius of the smallest circle around the object.
    pub fn bound(&self) -> f64 {
        match self.shape {
            Shape::Disc => self.size,
            Shape::Square => self.size * std::f64::consts::SQRT_2,
        }
    }

    /// The object's centre as a position label: (x, y) in [0, 1]², y upward.
    pub fn position(&self) -> [f64; 2] {
        [self.col / SIZE as f64, 1.0 - self.row / SIZE as f64]
    }

    /// Signed distance (pixels) from a point to the object's edge: negative inside.
    fn signed_distance(&self, col: f64, row: f64) -> f64 {
        let (dx, dy) = (col - self.col, row - self.row);
        match self.shape {
            Shape::Disc => (dx * dx + dy * dy).sqrt() - self.size,
            Shape::Square => dx.abs().max(dy.abs()) - self.size,
        }
    }
}

/// Pixel coordinates (column, row) of a position label (x, y), y upward.
pub fn to_pixel(pos: [f64; 2]) -> (f64, f64) {
    (pos[0] * SIZE as f64, (1.0 - pos[1]) * SIZE as f64)
}

/// A scene: the objects, in drawing order.
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    pub objects: Vec<Object>,
}

impl Scene {
    /// A random scene of `n` objects (1..=5), placed by rejection so that none overlap; a
    /// placement that fails 100 times restarts the scene (5 objects always fit).
    pub fn random_with(rng: &mut ChaCha8Rng, n: usize) -> Scene {
        let n = n.clamp(1, MAX_OBJECTS);
        'scene: loop {
            let mut objects: Vec<Object> = Vec::with_capacity(n);
            for _ in 0..n {
                let mut placed = false;
                for _ in 0..100 {
                    let o = random_object(rng);
                    if objects.iter().all(|p| apart(p, &o)) {
                        objects.push(o);
                        placed = true;
                        break;
                    }
                }
                if !placed {
                    continue 'scene;
                }
            }
            return Scene { objects };
        }
    }

    /// A random scene of 1–5 objects (uniform count).
    pub fn random(rng: &mut ChaCha8Rng) -> Scene {
        let n = rng.random_range(1..=MAX_OBJECTS);
        Scene::random_with(rng, n)
    }

    /// The image, `[3, SIZE, SIZE]` row-major, values in [−1, 1]. Each pixel is the background
    /// blended with every object by its coverage clamp(0.5 − d, 0, 1) (d the signed distance
    /// of the pixel centre to the edge): a one-pixel soft edge.
    pub fn render(&self) -> Vec<f32> {
        let plane = SIZE * SIZE;
        let mut img = vec![0f32; 3 * plane];
        for r in 0..SIZE {
            for c in 0..SIZE {
                let mut rgb = BACKGROUND;
                for o in &self.objects {
                    let a = (0.5 - o.signed_distance(c as f64 + 0.5, r as f64 + 0.5)).clamp(0.0, 1.0) as f32;
                    if a > 0.0 {
                        for (ch, v) in rgb.iter_mut().enumerate() {
                            *v = (1.0 - a) * *v + a * PALETTE[o.colour][ch];
                        }
                    }
                }
                for (ch, v) in rgb.iter().enumerate() {
                    img[ch * plane + r * SIZE + c] = 2.0 * v - 1.0;
                }
            }
        }
        img
    }

    /// The object positions as labels.
    pub fn positions(&self) -> Vec<[f64; 2]> {
        self.objects.iter().map(Object::position).collect()
    }
}

fn random_object(rng: &mut ChaCha8Rng) -> Object {
    let shape = if rng.random_bool(0.5) { Shape::Disc } else { Shape::Square };
    let (lo, hi) = match shape {
        Shape::Disc => DISC_RADIUS,
        Shape::Square => SQUARE_HALF,
    };
    let size = rng.random_range(lo..hi);
    let colour = rng.random_range(0..PALETTE.len());
    let mut o = Object { shape, colour, col: 0.0, row: 0.0, size };
    let b = o.bound() + MARGIN;
    o.col = rng.random_range(b..SIZE as f64 - b);
    o.row = rng.random_range(b..SIZE as f64 - b);
    o
}

fn apart(a: &Object, b: &Object) -> bool {
    let d = ((a.col - b.col).powi(2) + (a.row - b.row).powi(2)).sqrt();
    d >= a.bound() + b.bound() + GAP
}

/// Positions drawn like those of real scenes: the centres of a random scene of `k` objects,
/// so they lie where objects can be and far enough apart to be distinct objects.
pub fn random_positions(rng: &mut ChaCha8Rng, k: usize) -> Vec<[f64; 2]> {
    Scene::random_with(rng, k).positions()
}

/// A training batch, host-side: images `[n, 3, 32, 32]`, labels `[n, 2]` and a mask `[n]`
/// (1 = conditioned on the label, 0 = dropped to null; a dropped label is (0, 0)).
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub images: Vec<f32>,
    pub labels: Vec<f32>,
    pub mask: Vec<f32>,
    pub n: usize,
}

/// `n` training examples: a random scene, the position of one of its objects (uniformly
/// chosen), and with probability `null_prob` the label dropped.
pub fn batch(rng: &mut ChaCha8Rng, n: usize, null_prob: f64) -> Batch {
    let mut b =
        Batch { images: Vec::with_capacity(n * 3 * SIZE * SIZE), labels: Vec::with_capacity(2 * n), mask: Vec::with_capacity(n), n };
    for _ in 0..n {
        let scene = Scene::random(rng);
        let pick = rng.random_range(0..scene.objects.len());
        let keep = !rng.random_bool(null_prob);
        let [x, y] = scene.objects[pick].position();
        b.images.extend(scene.render());
        if keep {
            b.labels.extend([x as f32, y as f32]);
        } else {
            b.labels.extend([0.0, 0.0]);
        }
        b.mask.push(if keep { 1.0 } else { 0.0 });
    }
    b
}

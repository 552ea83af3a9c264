//! The scenes of the attribute experiment (`clevr-attr`): 32×32 RGB, the grey floor of
//! [`super::data`], exactly ONE object, never touching the border, with anti-aliased edges.
//! Its colour is one of the 8 palette colours, its shape a disc or an axis-aligned square, its
//! size `small` (radius or half-side 2.5–3.5 px) or `large` (5.0–6.5 px), its position uniform
//! over the places where it fits; all four drawn independently and uniformly.
//!
//! A training label is ONE of the object's attributes, its group chosen uniformly among the
//! groups the model is trained on (as the paper trains on single labels), dropped to null with
//! probability 0.1.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::data::{Object, Scene, Shape, PALETTE, SIZE};
use comp_models::clevr::attr::GROUPS;

/// Radius or half-side of a small object, pixels.
pub const SMALL: (f64, f64) = (2.5, 3.5);
/// Radius or half-side of a large object, pixels.
pub const LARGE: (f64, f64) = (5.0, 6.5);
/// Free space between the object's bounding circle and the border: the anti-aliased edge
/// reaches half a pixel beyond the shape, so one pixel keeps it off the border.
const MARGIN: f64 = 1.0;

/// The attributes of one object, as indices into each group of [`GROUPS`]: colour (also the
/// [`PALETTE`] index), shape (0 disc, 1 square), size (0 small, 1 large).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Attributes {
    pub colour: usize,
    pub shape: usize,
    pub size: usize,
}

impl Attributes {
    /// The value index of group `g` (0 colour, 1 shape, 2 size).
    pub fn get(&self, g: usize) -> usize {
        [self.colour, self.shape, self.size][g]
    }

    /// The attribute names, in group order (`["red", "disc", "small"]`).
    pub fn names(&self) -> [&'static str; 3] {
        [GROUPS[0].1[self.colour], GROUPS[1].1[self.shape], GROUPS[2].1[self.size]]
    }

    /// Whether the object has attribute `name` (false for a name of no group).
    pub fn has(&self, name: &str) -> bool {
        self.names().contains(&name)
    }
}

/// A random one-object scene and its attributes.
pub fn random_scene(rng: &mut ChaCha8Rng) -> (Scene, Attributes) {
    let a = Attributes { colour: rng.random_range(0..PALETTE.len()), shape: rng.random_range(0..2), size: rng.random_range(0..2) };
    (scene_with(rng, a), a)
}

/// A random one-object scene with the given attributes (size and position drawn).
pub fn scene_with(rng: &mut ChaCha8Rng, a: Attributes) -> Scene {
    let (lo, hi) = if a.size == 0 { SMALL } else { LARGE };
    let size = rng.random_range(lo..hi);
    let shape = if a.shape == 0 { Shape::Disc } else { Shape::Square };
    let mut o = Object { shape, colour: a.colour, col: 0.0, row: 0.0, size };
    let b = o.bound() + MARGIN;
    o.col = rng.random_range(b..SIZE as f64 - b);
    o.row = rng.random_range(b..SIZE as f64 - b);
    Scene { objects: vec![o] }
}

/// A training batch: images `[n, 3, 32, 32]`, one-hot labels `[n, labels.len()]` over the
/// model's `labels` (whole groups, in label order), mask `[n]` (0 = dropped to null, label
/// row all zero).
pub fn batch(rng: &mut ChaCha8Rng, n: usize, labels: &[String], null_prob: f64) -> super::data::Batch {
    let groups: Vec<usize> = (0..GROUPS.len()).filter(|&g| GROUPS[g].1.iter().any(|v| labels.iter().any(|l| l == v))).collect();
    let mut b = super::data::Batch {
        images: Vec::with_capacity(n * 3 * SIZE * SIZE),
        labels: Vec::with_capacity(labels.len() * n),
        mask: Vec::with_capacity(n),
        n,
    };
    for _ in 0..n {
        let (scene, a) = random_scene(rng);
        let g = groups[rng.random_range(0..groups.len())];
        let keep = !rng.random_bool(null_prob);
        b.images.extend(scene.render());
        let name = GROUPS[g].1[a.get(g)];
        b.labels.extend(labels.iter().map(|l| if keep && l == name { 1.0f32 } else { 0.0 }));
        b.mask.push(if keep { 1.0 } else { 0.0 });
    }
    b
}

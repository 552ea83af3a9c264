//! `plot.png`: a scatter of 2D samples on fixed axes [−1.5, 1.5]².
//!
//! Fixed axes make plots of different runs comparable at a glance (a collapsed or exploded
//! sampler shows as such instead of being rescaled away). Points are small dots whose
//! opacity accumulates (each hit covers 30% of what is left), so dense modes read as dense.

use image::{Rgb, RgbImage};

/// Half-width of the plotted square.
pub const EXTENT: f64 = 1.5;
/// Side of the picture in pixels.
pub const SIZE: u32 = 512;

const BACKGROUND: [u8; 3] = [250, 250, 247];
const GRID: [u8; 3] = [232, 232, 228];
const AXIS: [u8; 3] = [170, 170, 165];
const POINT: [f64; 3] = [31.0, 100.0, 180.0];
const ALPHA: f64 = 0.3;

/// Pixel coordinates (column, row) of a point; y grows upwards.
fn to_pixel(p: [f32; 2]) -> (f64, f64) {
    let s = SIZE as f64 / (2.0 * EXTENT);
    ((p[0] as f64 + EXTENT) * s, (EXTENT - p[1] as f64) * s)
}

/// Renders the points (pairs of f32) to an image.
pub fn scatter(points: &[[f32; 2]]) -> RgbImage {
    let n = SIZE as usize;
    let mut hits = vec![0u32; n * n];
    for &p in points {
        if !(p[0].is_finite() && p[1].is_finite()) {
            continue;
        }
        let (cx, cy) = to_pixel(p);
        // a 2×2 dot centred on the point
        for dy in [-0.5, 0.5] {
            for dx in [-0.5, 0.5] {
                let (x, y) = ((cx + dx).floor(), (cy + dy).floor());
                if x >= 0.0 && y >= 0.0 && (x as usize) < n && (y as usize) < n {
                    hits[y as usize * n + x as usize] += 1;
                }
            }
        }
    }
    let mut img = RgbImage::from_pixel(SIZE, SIZE, Rgb(BACKGROUND));
    draw_guides(&mut img);
    for (i, &h) in hits.iter().enumerate() {
        if h > 0 {
            let cover = 1.0 - (1.0 - ALPHA).powi(h as i32);
            let px = img.get_pixel_mut((i % n) as u32, (i / n) as u32);
            for (v, p) in px.0.iter_mut().zip(POINT) {
                *v = (*v as f64 * (1.0 - cover) + p * cover).round() as u8;
            }
        }
    }
    img
}

/// Faint grid lines at multiples of 0.5, darker axes through 0, and a frame.
fn draw_guides(img: &mut RgbImage) {
    let last = SIZE - 1;
    for i in -2..=2 {
        let v = i as f32 * 0.5;
        let colour = if i == 0 { AXIS } else { GRID };
        let (col, row) = to_pixel([v, v]);
        let (col, row) = ((col as u32).min(last), (row as u32).min(last));
        for t in 0..SIZE {
            img.put_pixel(col, t, Rgb(colour));
            img.put_pixel(t, row, Rgb(colour));
        }
    }
    for t in 0..SIZE {
        for (x, y) in [(t, 0), (t, last), (0, t), (last, t)] {
            img.put_pixel(x, y, Rgb(AXIS));
        }
    }
}

//! Pictures of image-shaped samples `[N, C, H, W]` (C = 1 or 3, values in [−1, 1]): one
//! image per sample, and `grid.png`, all samples tiled, small ones enlarged (nearest
//! neighbour) so that they are visible: 32² scenes 4×, 512² pictures not at all.

use image::{imageops, Rgb, RgbImage};

/// The largest enlargement of `grid.png`.
pub const MAX_ZOOM: u32 = 4;
/// Tiles are enlarged until their longer side reaches about this many pixels.
const TILE_TARGET: u32 = 128;
const PAD: u32 = 2;

/// The enlargement for tiles of `w`×`h`: the whole factor that brings the longer side closest
/// to [`TILE_TARGET`] from below, between 1 and [`MAX_ZOOM`] (32 px → 4×, 64 → 2×, 128 and
/// larger → 1×), so that a grid of four 512² pictures stays 1,030 px wide, not 4,120.
pub fn zoom_for(w: u32, h: u32) -> u32 {
    (TILE_TARGET / w.max(h).max(1)).clamp(1, MAX_ZOOM)
}

/// Sample `i` of `data` (`[N, C, H, W]`, C ∈ {1, 3}) as an RGB image; [−1, 1] → [0, 255].
pub fn to_image(data: &[f32], shape: [usize; 4], i: usize) -> RgbImage {
    let [_, c, h, w] = shape;
    let plane = h * w;
    let base = i * c * plane;
    let byte = |v: f32| (((v + 1.0) * 127.5).round().clamp(0.0, 255.0)) as u8;
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let at = |ch: usize| byte(data[base + ch * plane + y as usize * w + x as usize]);
        if c == 1 {
            Rgb([at(0); 3])
        } else {
            Rgb([at(0), at(1), at(2)])
        }
    })
}

/// All samples tiled in a near-square grid with a light gutter, enlarged [`zoom_for`] the tiles.
pub fn grid(images: &[RgbImage]) -> RgbImage {
    let n = images.len().max(1) as u32;
    let cols = (n as f64).sqrt().ceil() as u32;
    let rows = n.div_ceil(cols);
    let (w, h) = images.first().map(|i| i.dimensions()).unwrap_or((1, 1));
    let mut out = RgbImage::from_pixel(cols * (w + PAD) + PAD, rows * (h + PAD) + PAD, Rgb([240, 240, 240]));
    for (k, img) in images.iter().enumerate() {
        let (c, r) = (k as u32 % cols, k as u32 / cols);
        imageops::replace(&mut out, img, (PAD + c * (w + PAD)) as i64, (PAD + r * (h + PAD)) as i64);
    }
    let zoom = zoom_for(w, h);
    if zoom == 1 {
        return out;
    }
    imageops::resize(&out, out.width() * zoom, out.height() * zoom, imageops::FilterType::Nearest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_enlarges_small_tiles_only() {
        assert_eq!((zoom_for(32, 32), zoom_for(64, 64), zoom_for(100, 40), zoom_for(128, 128), zoom_for(512, 512)), (4, 2, 1, 1, 1));
        // Four 32² scenes: 2×2 tiles of 32 with 2-pixel gutters is 70 px, 4× is 280.
        let small = vec![RgbImage::new(32, 32); 4];
        assert_eq!(grid(&small).dimensions(), (280, 280));
        // Four 512² pictures: 2 · (512 + 2) + 2 = 1,030 px, not enlarged (it was 4,120).
        let large = vec![RgbImage::new(512, 512); 4];
        assert_eq!(grid(&large).dimensions(), (1030, 1030));
    }
}

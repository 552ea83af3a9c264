//! Pictures of image-shaped samples `[N, C, H, W]` (C = 1 or 3, values in [−1, 1]): one
//! image per sample, and `grid.png`, all samples tiled and enlarged 4× (nearest neighbour)
//! so that small images are visible.

use image::{imageops, Rgb, RgbImage};

/// Enlargement of `grid.png`.
pub const ZOOM: u32 = 4;
const PAD: u32 = 2;

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

/// All samples tiled in a near-square grid with a light gutter, enlarged `ZOOM`×.
pub fn grid(images: &[RgbImage]) -> RgbImage {
    let n = images.len().max(1) as u32;
    let cols = (n as f64).sqrt().ceil() as u32;
    let rows = n.div_ceil(cols);
    let (w, h) = images.first().map(|i| i.dimensions()).unwrap_or((1, 1));
    let mut out = RgbImage::from_pixel(
        cols * (w + PAD) + PAD,
        rows * (h + PAD) + PAD,
        Rgb([240, 240, 240]),
    );
    for (k, img) in images.iter().enumerate() {
        let (c, r) = (k as u32 % cols, k as u32 / cols);
        imageops::replace(
            &mut out,
            img,
            (PAD + c * (w + PAD)) as i64,
            (PAD + r * (h + PAD)) as i64,
        );
    }
    imageops::resize(
        &out,
        out.width() * ZOOM,
        out.height() * ZOOM,
        imageops::FilterType::Nearest,
    )
}

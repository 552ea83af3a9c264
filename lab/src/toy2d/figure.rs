//! `eval.png`: one scatter plot per (composition, sampler) cell, compositions as rows and
//! samplers as columns, labelled in the bundled font that `plot.png` uses
//! ([`comp_output::label`]). Each panel is `plot.png`'s fixed [−1.5, 1.5]² view at
//! half size; a skipped cell is a grey panel reading "n/a".

use image::{imageops, Rgb, RgbImage};

use candle_core::Result;
use comp_models::toy2d::P2;
use comp_output::{label, label_size, scatter};

/// Side of one panel in pixels.
pub const PANEL: u32 = 256;
const GAP: u32 = 6;
const LABEL_W: u32 = 112;
const HEADER_H: u32 = 30;
/// Label size in pixels.
const TEXT: f64 = 16.0;
const PAPER: Rgb<u8> = Rgb([255, 255, 255]);

/// One panel: the points, or `None` for a skipped cell.
pub type Panel = Option<Vec<P2>>;

/// A grid of panels, `panels[row][col]`, with row and column labels.
pub fn figure(rows: &[&str], cols: &[&str], panels: &[Vec<Panel>]) -> Result<RgbImage> {
    let (nr, nc) = (rows.len() as u32, cols.len() as u32);
    let mut img = RgbImage::from_pixel(LABEL_W + nc * (PANEL + GAP), HEADER_H + nr * (PANEL + GAP), PAPER);
    for (c, name) in cols.iter().enumerate() {
        let x0 = LABEL_W + c as u32 * (PANEL + GAP);
        let (w, _) = label_size(name, TEXT)?;
        label(&mut img, name, ((x0 + PANEL.saturating_sub(w) / 2) as i32, 8), TEXT)?;
    }
    for (r, name) in rows.iter().enumerate() {
        let y0 = HEADER_H + r as u32 * (PANEL + GAP);
        label(&mut img, name, (6, (y0 + PANEL / 2 - 7) as i32), TEXT)?;
        for c in 0..cols.len() {
            let x0 = LABEL_W + c as u32 * (PANEL + GAP);
            let tile = match panels.get(r).and_then(|row| row.get(c)) {
                Some(Some(points)) => {
                    let pts: Vec<[f32; 2]> = points.iter().map(|p| [p[0] as f32, p[1] as f32]).collect();
                    imageops::resize(&scatter(&pts), PANEL, PANEL, imageops::FilterType::Triangle)
                }
                _ => {
                    let mut t = RgbImage::from_pixel(PANEL, PANEL, Rgb([228, 228, 226]));
                    let (w, _) = label_size("n/a", TEXT)?;
                    label(&mut t, "n/a", ((PANEL.saturating_sub(w) / 2) as i32, (PANEL / 2 - 7) as i32), TEXT)?;
                    t
                }
            };
            imageops::replace(&mut img, &tile, x0 as i64, y0 as i64);
        }
    }
    Ok(img)
}

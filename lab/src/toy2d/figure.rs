//! `eval.png`: one scatter plot per (composition, sampler) cell, compositions as rows and
//! samplers as columns, labelled with a tiny built-in bitmap font (lower-case letters and
//! `-`, `/`, `_`; no font files needed). Each panel is `plot.png`'s fixed [−1.5, 1.5]² view
//! at half size; a skipped cell is a grey panel reading "n/a".

use image::{imageops, Rgb, RgbImage};

use comp_models::toy2d::P2;
use comp_runtime::output::scatter;

/// Side of one panel in pixels.
pub const PANEL: u32 = 256;
const GAP: u32 = 6;
const LABEL_W: u32 = 112;
const HEADER_H: u32 = 30;
/// Glyph scale: 5×7 glyphs drawn at 2×.
const SCALE: u32 = 2;
const INK: Rgb<u8> = Rgb([40, 40, 40]);
const PAPER: Rgb<u8> = Rgb([255, 255, 255]);

/// One panel: the points, or `None` for a skipped cell.
pub type Panel = Option<Vec<P2>>;

/// A grid of panels, `panels[row][col]`, with row and column labels.
pub fn figure(rows: &[&str], cols: &[&str], panels: &[Vec<Panel>]) -> RgbImage {
    let (nr, nc) = (rows.len() as u32, cols.len() as u32);
    let mut img = RgbImage::from_pixel(LABEL_W + nc * (PANEL + GAP), HEADER_H + nr * (PANEL + GAP), PAPER);
    for (c, name) in cols.iter().enumerate() {
        let x0 = LABEL_W + c as u32 * (PANEL + GAP);
        let w = text_width(name);
        draw_text(&mut img, name, x0 + PANEL.saturating_sub(w) / 2, 8);
    }
    for (r, name) in rows.iter().enumerate() {
        let y0 = HEADER_H + r as u32 * (PANEL + GAP);
        draw_text(&mut img, name, 6, y0 + PANEL / 2 - 7);
        for c in 0..cols.len() {
            let x0 = LABEL_W + c as u32 * (PANEL + GAP);
            let tile = match panels.get(r).and_then(|row| row.get(c)) {
                Some(Some(points)) => {
                    let pts: Vec<[f32; 2]> = points.iter().map(|p| [p[0] as f32, p[1] as f32]).collect();
                    imageops::resize(&scatter(&pts), PANEL, PANEL, imageops::FilterType::Triangle)
                }
                _ => {
                    let mut t = RgbImage::from_pixel(PANEL, PANEL, Rgb([228, 228, 226]));
                    let w = text_width("n/a");
                    draw_text(&mut t, "n/a", (PANEL - w) / 2, PANEL / 2 - 7);
                    t
                }
            };
            imageops::replace(&mut img, &tile, x0 as i64, y0 as i64);
        }
    }
    img
}

/// Width in pixels of `text` drawn by [`draw_text`].
pub fn text_width(text: &str) -> u32 {
    (text.chars().count() as u32 * 6).saturating_sub(1) * SCALE
}

/// Draws `text` with its top-left corner at (x, y); unknown characters are blank.
pub fn draw_text(img: &mut RgbImage, text: &str, x: u32, y: u32) {
    for (i, ch) in text.chars().enumerate() {
        let Some(rows) = glyph(ch) else { continue };
        for (gy, row) in rows.iter().enumerate() {
            for (gx, bit) in row.bytes().enumerate() {
                if bit != b'#' {
                    continue;
                }
                for dy in 0..SCALE {
                    for dx in 0..SCALE {
                        let px = x + (i as u32 * 6 + gx as u32) * SCALE + dx;
                        let py = y + gy as u32 * SCALE + dy;
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, INK);
                        }
                    }
                }
            }
        }
    }
}

/// 5×7 glyphs, one string per row.
fn glyph(c: char) -> Option<[&'static str; 7]> {
    let g = match c {
        'a' => [".....", ".....", ".###.", "....#", ".####", "#...#", ".####"],
        'b' => ["#....", "#....", "####.", "#...#", "#...#", "#...#", "####."],
        'c' => [".....", ".....", ".###.", "#....", "#....", "#...#", ".###."],
        'd' => ["....#", "....#", ".####", "#...#", "#...#", "#...#", ".####"],
        'e' => [".....", ".....", ".###.", "#...#", "#####", "#....", ".###."],
        'f' => ["..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."],
        'g' => [".....", ".####", "#...#", "#...#", ".####", "....#", ".###."],
        'h' => ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"],
        'i' => ["..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."],
        'j' => ["...#.", ".....", "..##.", "...#.", "...#.", "#..#.", ".##.."],
        'k' => ["#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."],
        'l' => [".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."],
        'm' => [".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"],
        'n' => [".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"],
        'o' => [".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."],
        'p' => [".....", ".....", "####.", "#...#", "####.", "#....", "#...."],
        'q' => [".....", ".....", ".####", "#...#", ".####", "....#", "....#"],
        'r' => [".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."],
        's' => [".....", ".....", ".####", "#....", ".###.", "....#", "####."],
        't' => [".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."],
        'u' => [".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"],
        'v' => [".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."],
        'w' => [".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."],
        'x' => [".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"],
        'y' => [".....", ".....", "#...#", "#...#", ".####", "....#", ".###."],
        'z' => [".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"],
        '-' => [".....", ".....", ".....", "#####", ".....", ".....", "....."],
        '/' => [".....", "....#", "...#.", "..#..", ".#...", "#....", "....."],
        '_' => [".....", ".....", ".....", ".....", ".....", ".....", "#####"],
        _ => return None,
    };
    Some(g)
}

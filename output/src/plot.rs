//! Pictures for people, drawn with `plotters` (bitmap backend, the bundled DejaVu Sans subset in
//! `output/assets/`, so no system font is needed): `plot.png` for 2D samples, with a title
//! (the sample's name and expression), axes with ticks on the fixed frame [−1.5, 1.5]², and
//! how many points fall off the frame or are not finite; and a caption above image grids.
//!
//! The frame is fixed so that plots of different runs compare at a glance: an exploded sampler
//! shows as an empty plot *and* a count, never rescaled away.

use std::sync::Once;

use candle_core::{bail, Result};
use image::{imageops, Rgb, RgbImage};
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::scatter::EXTENT;

/// The bundled font: DejaVu Sans cut to Latin-1 and a few symbols (17 KB; license beside it).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
/// Side of `plot.png` in pixels.
pub const PLOT_SIZE: (u32, u32) = (640, 700);
/// Height of a grid's caption strip.
const CAPTION_HEIGHT: u32 = 36;
/// Titles longer than this (characters) are cut with `…`.
const MAX_TITLE: usize = 90;

/// What a picture is of: the sample's name and, when known, its expression.
#[derive(Clone, Debug, Default)]
pub struct Title {
    pub name: String,
    pub expression: String,
}

impl Title {
    /// `name = expression`, or the name alone; cut to [`MAX_TITLE`] characters.
    pub fn text(&self) -> String {
        let full = if self.expression.is_empty() { self.name.clone() } else { format!("{} = {}", self.name, self.expression) };
        cut(&full, MAX_TITLE)
    }
}

fn cut(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        one_line.chars().take(max - 1).collect::<String>() + "…"
    }
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bundled font is a valid TrueType font (a unit test draws with it).
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn plot_error(e: impl std::fmt::Display) -> candle_core::Error {
    candle_core::Error::Msg(format!("drawing the picture: {e}"))
}

/// `plot.png` of 2D points: title, axes with ticks, and the count of points off the frame.
pub fn scatter_plot(points: &[[f32; 2]], title: &Title) -> Result<RgbImage> {
    register_font();
    let (w, h) = PLOT_SIZE;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let extent = EXTENT as f32;
    let inside = |p: &[f32; 2]| p[0].abs() <= extent && p[1].abs() <= extent;
    let non_finite = points.iter().filter(|p| !(p[0].is_finite() && p[1].is_finite())).count();
    let off = points.iter().filter(|p| p[0].is_finite() && p[1].is_finite() && !inside(p)).count();
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&RGBColor(250, 250, 247)).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title.text(), ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(-extent..extent, -extent..extent)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_labels(7)
            .y_labels(7)
            .light_line_style(RGBColor(236, 236, 232))
            .bold_line_style(RGBColor(222, 222, 216))
            .label_style(("sans-serif", 14))
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()
            .map_err(plot_error)?;
        let dot = RGBAColor(31, 100, 180, 0.3).filled();
        chart.draw_series(points.iter().filter(|p| inside(p)).map(|p| Circle::new((p[0], p[1]), 2, dot))).map_err(plot_error)?;
        let note = format!(
            "{} points; {} off the frame [-{EXTENT}, {EXTENT}]²{}",
            points.len(),
            off,
            if non_finite > 0 { format!("; {non_finite} not finite") } else { String::new() }
        );
        let colour = if off + non_finite > 0 { RGBColor(170, 40, 30) } else { RGBColor(90, 90, 85) };
        root.draw(&Text::new(note, (16, h as i32 - 22), ("sans-serif", 14).into_font().color(&colour))).map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    to_image(w, h, buf)
}

/// `grid` with a caption strip above it: the title and the number of images.
pub fn captioned(grid: &RgbImage, title: &Title, images: usize) -> Result<RgbImage> {
    register_font();
    let w = grid.width().max(240);
    let mut buf = vec![255u8; (w * CAPTION_HEIGHT * 3) as usize];
    {
        let strip = BitMapBackend::with_buffer(&mut buf, (w, CAPTION_HEIGHT)).into_drawing_area();
        strip.fill(&RGBColor(240, 240, 240)).map_err(plot_error)?;
        let max = (w as usize / 8).max(10);
        let text = cut(&format!("{} ({images} images)", title.text()), max);
        strip.draw(&Text::new(text, (8, 9), ("sans-serif", 16).into_font().color(&RGBColor(30, 30, 30)))).map_err(plot_error)?;
        strip.present().map_err(plot_error)?;
    }
    let caption = to_image(w, CAPTION_HEIGHT, buf)?;
    let mut out = RgbImage::from_pixel(w, CAPTION_HEIGHT + grid.height(), Rgb([240, 240, 240]));
    imageops::replace(&mut out, &caption, 0, 0);
    imageops::replace(&mut out, grid, 0, CAPTION_HEIGHT as i64);
    Ok(out)
}

/// Writes `text` onto `img`, its top-left corner at (x, y), in the bundled font at `size`
/// pixels: the labels of figures drawn outside plotters (the toy2d eval's `eval.png`).
pub fn label(img: &mut RgbImage, text: &str, (x, y): (i32, i32), size: f64) -> Result<()> {
    register_font();
    let (w, h) = img.dimensions();
    let buf: &mut [u8] = img;
    let area = BitMapBackend::with_buffer(buf, (w, h)).into_drawing_area();
    area.draw(&Text::new(text.to_string(), (x, y), ("sans-serif", size).into_font().color(&RGBColor(40, 40, 40)))).map_err(plot_error)?;
    area.present().map_err(plot_error)
}

/// The width and height in pixels of `text` drawn by [`label`] at `size`.
pub fn label_size(text: &str, size: f64) -> Result<(u32, u32)> {
    register_font();
    ("sans-serif", size).into_font().box_size(text).map_err(plot_error)
}

fn to_image(w: u32, h: u32, buf: Vec<u8>) -> Result<RgbImage> {
    match RgbImage::from_raw(w, h, buf) {
        Some(img) => Ok(img),
        None => bail!("drawing the picture: buffer of the wrong size"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_drawn_in_the_bundled_font() {
        let mut img = RgbImage::from_pixel(120, 30, Rgb([255, 255, 255]));
        let (w, h) = label_size("ddpm", 16.0).unwrap();
        assert!((20..60).contains(&w) && (8..24).contains(&h), "{w}x{h}");
        label(&mut img, "ddpm", (4, 4), 16.0).unwrap();
        let ink =
            |x0: u32, x1: u32| (x0..x1).flat_map(|x| (0..30).map(move |y| (x, y))).filter(|&(x, y)| img.get_pixel(x, y)[0] < 128).count();
        // Ink where the word is, none past its width.
        assert!(ink(4, 4 + w) > 20);
        assert_eq!(ink(8 + w, 120), 0);
    }

    #[test]
    fn titles_are_cut() {
        let t = Title { name: "s".into(), expression: "ring  AND\n bar".into() };
        assert_eq!(t.text(), "s = ring AND bar");
        let long = Title { name: "s".into(), expression: "ring AND ".repeat(30) };
        assert_eq!(long.text().chars().count(), MAX_TITLE);
        assert!(long.text().ends_with('…'));
    }

    #[test]
    fn a_plot_draws_points_text_and_the_frame() {
        let pts: Vec<[f32; 2]> = (0..200).map(|i| [(i as f32 / 100.0) - 1.0, 0.5]).chain([[5.0, 0.0], [f32::NAN, 0.0]]).collect();
        let img = scatter_plot(&pts, &Title { name: "s".into(), expression: "ring AND bar".into() }).unwrap();
        assert_eq!(img.dimensions(), PLOT_SIZE);
        // Some pixels are the points' blue, some the text's red (a point off the frame).
        let blueish = img.pixels().filter(|p| p.0[2] > 150 && p.0[0] < 150).count();
        let reddish = img.pixels().filter(|p| p.0[0] > 140 && p.0[1] < 90 && p.0[2] < 80).count();
        assert!(blueish > 100, "{blueish} blue pixels");
        assert!(reddish > 20, "{reddish} red pixels of the off-frame note");
    }
}

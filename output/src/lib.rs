//! comp's output files, apart from the runtime (which computes samples and writes nothing).
//! Writing a run's results: `samples.npy`, and a picture (`plot.png` for 2D points,
//! `grid.png` plus one PNG per sample for images; see [`plot`] for titles, axes and captions). Every file is written atomically, so an
//! interrupted run never leaves a truncated `samples.npy` that looks valid.

mod atomic;
mod counts;
mod lock;
mod npy;
pub mod plot;
mod scatter;
mod tiles;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use candle_core::{bail, DType, Result, Tensor};
use image::{ImageFormat, RgbImage};

pub use atomic::{write_atomic, write_atomic_with, write_in_place};
pub use counts::{counts, counts_of, Counts};
pub use lock::{clean_stale, OutputLock, LOCK_FILE};
pub use npy::{npy_bytes, read_npy, write_npy};
pub use plot::{captioned, label, label_size, scatter_plot, Title};
pub use scatter::{scatter, EXTENT as PLOT_EXTENT};
pub use tiles::{grid, to_image};

/// PNG bytes of an image.
pub fn png_bytes(img: &RgbImage) -> Result<Vec<u8>> {
    let mut buf = Cursor::new(Vec::new());
    img.write_to(&mut buf, ImageFormat::Png).map_err(|e| candle_core::Error::Msg(format!("encoding PNG: {e}")))?;
    Ok(buf.into_inner())
}

/// Writes `samples` (`[N, ...]`) into `dir` (created if missing): `samples.npy` always;
/// `plot.png` for `[N, 2]`; `grid.png` and `NNNN.png` per sample for `[N, C, H, W]` with
/// C ∈ {1, 3}. Any other shape is refused before anything is written: a run's picture is
/// never silently missing. Returns the paths written.
pub fn write_samples(dir: &Path, samples: &Tensor) -> Result<Vec<PathBuf>> {
    write_samples_titled(dir, samples, &Title::default())
}

/// [`write_samples`] with the pictures titled: `plot.png` (drawn with plotters: title, axes
/// with ticks, points off the frame counted) and `grid.png` (with a caption).
pub fn write_samples_titled(dir: &Path, samples: &Tensor, title: &Title) -> Result<Vec<PathBuf>> {
    let shape = samples.dims().to_vec();
    match shape.as_slice() {
        [_, 2] => {}
        &[_, c, _, _] if c == 1 || c == 3 => {}
        other => bail!("cannot draw samples of shape {other:?}: comp writes 2D points `[N, 2]` and images `[N, C, H, W]` with C = 1 or 3"),
    }
    std::fs::create_dir_all(dir).map_err(|e| candle_core::Error::Msg(format!("creating {}: {e}", dir.display())))?;
    let data = samples.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(name);
        write_atomic(&path, bytes)?;
        written.push(path);
        Ok(())
    };
    put("samples.npy", &npy_bytes(&shape, &data)?)?;
    match shape.as_slice() {
        [_, 2] => {
            let pts: Vec<[f32; 2]> = data.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
            put("plot.png", &png_bytes(&scatter_plot(&pts, title)?)?)?;
        }
        &[n, c, h, w] if c == 1 || c == 3 => {
            let imgs: Vec<RgbImage> = (0..n).map(|i| to_image(&data, [n, c, h, w], i)).collect();
            put("grid.png", &png_bytes(&captioned(&grid(&imgs), title, n)?)?)?;
            for (i, img) in imgs.iter().enumerate() {
                put(&format!("{i:04}.png"), &png_bytes(img)?)?;
            }
        }
        _ => unreachable!("the shape was checked above"),
    }
    Ok(written)
}

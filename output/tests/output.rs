//! NPY round trip, atomic writes and pictures.

use std::io::Cursor;

use candle_core::{Device, Tensor};
use comp_output::{npy_bytes, read_npy, write_atomic, write_atomic_with, write_samples};

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("comp-runtime-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn npy_round_trip() {
    for shape in [vec![5, 2], vec![3], vec![2, 3, 4, 4], vec![0, 2]] {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.25 - 3.0).collect();
        let bytes = npy_bytes(&shape, &data).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes[10 + header_len - 1], b'\n');
        assert_eq!(read_npy(Cursor::new(bytes)).unwrap(), (shape, data));
    }
    // exactly what numpy writes for np.zeros((2, 2), '<f4')
    let b = npy_bytes(&[2, 2], &[0.0; 4]).unwrap();
    assert_eq!(&b[10..10 + 59], b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }".as_slice());
    assert!(npy_bytes(&[3, 2], &[0.0; 4]).is_err());
}

#[test]
fn atomic_write_leaves_nothing_on_error() {
    let dir = tempdir("atomic");
    let target = dir.join("samples.npy");
    write_atomic(&target, b"old").unwrap();
    let err = write_atomic_with(&target, |w| {
        w.write_all(b"half of the new")?;
        Err(std::io::Error::other("disk on fire"))
    });
    assert!(err.unwrap_err().to_string().contains("disk on fire"));
    assert_eq!(std::fs::read(&target).unwrap(), b"old");
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("samples.npy")], "temporary left behind");
    // a directory in the way: the rename fails, the temporary is removed
    std::fs::create_dir(dir.join("sub")).unwrap();
    assert!(write_atomic(&dir.join("sub"), b"x").is_err());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writes_npy_and_pictures() {
    let dir = tempdir("write");
    let pts = Tensor::new(&[[0.0f32, 0.5], [-1.4, 1.4], [3.0, 0.0], [f32::NAN, 0.0]], &Device::Cpu).unwrap();
    let written = write_samples(&dir.join("pts"), &pts).unwrap();
    assert_eq!(written.len(), 2);
    let (shape, data) = read_npy(std::fs::File::open(dir.join("pts/samples.npy")).unwrap()).unwrap();
    assert_eq!(shape, vec![4, 2]);
    assert_eq!(data[..6], pts.flatten_all().unwrap().to_vec1::<f32>().unwrap()[..6]);
    let plot = image::open(dir.join("pts/plot.png")).unwrap();
    assert_eq!((plot.width(), plot.height()), comp_output::plot::PLOT_SIZE);

    let imgs = Tensor::zeros((5, 3, 8, 8), candle_core::DType::F32, &Device::Cpu).unwrap();
    let written = write_samples(&dir.join("imgs"), &imgs).unwrap();
    assert_eq!(written.len(), 2 + 5);
    let grid = image::open(dir.join("imgs/grid.png")).unwrap();
    // 3 × 2 tiles of 8 px with 2 px gutters, enlarged 4× (128 × 88), under a 36 px caption
    // strip at least 240 px wide.
    assert_eq!((grid.width(), grid.height()), (240, 36 + 4 * (2 * 10 + 2)));
    assert!(dir.join("imgs/0004.png").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Centroid (column, row) of the pixels where `a` is markedly bluer than `b` (the dots are
/// translucent blue, 31/100/180; the paper and grid lines are grey), and their count.
fn bluer(a: &image::RgbImage, b: &image::RgbImage) -> (f64, f64, usize) {
    let blueness = |p: &image::Rgb<u8>| p[2] as i32 - p[0] as i32;
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0);
    for (x, y, p) in a.enumerate_pixels() {
        if blueness(p) > blueness(b.get_pixel(x, y)) + 20 {
            sx += x as f64;
            sy += y as f64;
            n += 1;
        }
    }
    (sx / n.max(1) as f64, sy / n.max(1) as f64, n)
}

/// Points are drawn where the samples are: 20 samples at one spot, against the same number at
/// another spot (so the title and the count line are equal and only the dots differ). The
/// frame is [−1.5, 1.5]², so (−1, −1) and (1, 1) are 2/3 of the plotting area apart, which is
/// over 450 px of the 640 px picture: more than 300 px along x; y grows upwards (smaller
/// rows); and (0, 0) lands midway between them (the axes are linear), within 2 px. A blank
/// plot, a flipped or ignored coordinate, or a shifted origin fails.
#[test]
fn plot_draws_points_where_the_samples_are() {
    use comp_output::plot::{scatter_plot, Title};
    let plot = |p: [f32; 2]| scatter_plot(&[p; 20], &Title { name: "s".into(), expression: String::new() }).unwrap();
    let (low, high, mid) = (plot([-1.0, -1.0]), plot([1.0, 1.0]), plot([0.0, 0.0]));
    let (lx, ly, ln) = bluer(&low, &high);
    let (hx, hy, hn) = bluer(&high, &low);
    let (mx, my, mn) = bluer(&mid, &low);
    assert!(ln >= 5 && hn >= 5 && mn >= 5, "dots drawn: {ln}, {hn}, {mn} pixels");
    assert!(hx - lx > 300.0, "x: (−1, −1) at column {lx}, (1, 1) at {hx}");
    assert!(ly - hy > 300.0, "y: (−1, −1) at row {ly}, (1, 1) at {hy}");
    assert!(
        (mx - (lx + hx) / 2.0).abs() < 2.0 && (my - (ly + hy) / 2.0).abs() < 2.0,
        "(0, 0) at ({mx}, {my}), not midway between ({lx}, {ly}) and ({hx}, {hy})"
    );
}

/// A shape the writer cannot draw is refused before anything is written: no `samples.npy`
/// without its picture, no silently missing picture.
#[test]
fn unknown_shapes_are_refused_and_nothing_is_written() {
    let dir = tempdir("shapes");
    for dims in [vec![4, 3], vec![2, 2, 8, 8], vec![4], vec![2, 3, 8, 8, 1]] {
        let t = Tensor::zeros(dims.as_slice(), candle_core::DType::F32, &Device::Cpu).unwrap();
        let out = dir.join(format!("{dims:?}").replace([' ', ',', '[', ']'], "_"));
        let err = write_samples(&out, &t).unwrap_err().to_string();
        assert!(err.contains("cannot draw samples of shape") && err.contains("[N, 2]"), "{dims:?}: {err}");
        assert!(!out.exists(), "{dims:?}: nothing is written");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A write never replaces a device, FIFO or symbolic link with a regular file: a device is
/// written in place, a link is written through (also a dangling one), a folder is refused.
#[cfg(unix)]
#[test]
fn atomic_write_keeps_devices_and_symlinks() {
    let dir = tempdir("atomic-special");
    // A link to /dev/null: the link stays, /dev/null stays a device (written in place).
    let null = dir.join("null");
    std::os::unix::fs::symlink("/dev/null", &null).unwrap();
    write_atomic(&null, b"discarded").unwrap();
    assert!(std::fs::symlink_metadata(&null).unwrap().file_type().is_symlink(), "the link was replaced");
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file(), "/dev/null became a regular file");
    // A dangling link: its target is created, the link kept.
    let link = dir.join("link.json");
    std::os::unix::fs::symlink("target.json", &link).unwrap();
    write_atomic(&link, b"{}").unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read(dir.join("target.json")).unwrap(), b"{}");
    // A link to a link to a regular file: the file is replaced, both links kept.
    let link2 = dir.join("link2");
    std::os::unix::fs::symlink("link.json", &link2).unwrap();
    write_atomic(&link2, b"[1]").unwrap();
    assert_eq!(std::fs::read(dir.join("target.json")).unwrap(), b"[1]");
    assert!(std::fs::symlink_metadata(&link2).unwrap().file_type().is_symlink());
    // A link loop is an error, not a hang or a replaced link.
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::os::unix::fs::symlink("b", &a).unwrap();
    std::os::unix::fs::symlink("a", &b).unwrap();
    assert!(write_atomic(&a, b"x").is_err());
    assert!(std::fs::symlink_metadata(&a).unwrap().file_type().is_symlink());
    // A folder is refused by name.
    std::fs::create_dir(dir.join("sub")).unwrap();
    let e = write_atomic(&dir.join("sub"), b"x").unwrap_err().to_string();
    assert!(e.contains("is a folder"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

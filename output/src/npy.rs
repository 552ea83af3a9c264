//! NPY v1.0 files of f32 (`'<f4'`, C order), as `numpy.load` reads them.
//!
//! The format: the magic `\x93NUMPY`, version 1.0, a little-endian u16 header length, an
//! ASCII Python dict padded with spaces to a multiple of 64 bytes (ending in a newline), then
//! the raw little-endian data.

use std::io::{self, Read, Write};

const MAGIC: &[u8] = b"\x93NUMPY";

/// Writes `data` with `shape` (C order) as NPY v1.0 `'<f4'`.
pub fn write_npy<W: Write + ?Sized>(w: &mut W, shape: &[usize], data: &[f32]) -> io::Result<()> {
    if shape.iter().product::<usize>() != data.len() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("npy: shape {shape:?} for {} values", data.len())));
    }
    let dims = match shape {
        [d] => format!("({d},)"),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    // magic (6) + version (2) + length (2) + header + '\n' ≡ 0 (mod 64)
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.extend(std::iter::repeat_n(' ', pad));
    header.push('\n');
    w.write_all(MAGIC)?;
    w.write_all(&[1, 0])?;
    w.write_all(&(header.len() as u16).to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    w.write_all(&bytes)
}

/// NPY bytes for `data` with `shape`.
pub fn npy_bytes(shape: &[usize], data: &[f32]) -> io::Result<Vec<u8>> {
    let mut v = Vec::with_capacity(128 + 4 * data.len());
    write_npy(&mut v, shape, data)?;
    Ok(v)
}

/// Reads an NPY v1.0 `'<f4'` C-order file written by `write_npy` (or numpy): (shape, data).
pub fn read_npy<R: Read>(mut r: R) -> io::Result<(Vec<usize>, Vec<f32>)> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, format!("npy: {m}"));
    let mut pre = [0u8; 10];
    r.read_exact(&mut pre)?;
    if &pre[..6] != MAGIC || pre[6] != 1 {
        return Err(bad("not an NPY v1 file"));
    }
    let len = u16::from_le_bytes([pre[8], pre[9]]) as usize;
    let mut header = vec![0u8; len];
    r.read_exact(&mut header)?;
    let header = String::from_utf8(header).map_err(|_| bad("header is not UTF-8"))?;
    if !header.contains("'descr': '<f4'") || !header.contains("'fortran_order': False") {
        return Err(bad(&format!("only little-endian f32 C-order arrays are supported: {header}")));
    }
    let shape_str = header.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).ok_or_else(|| bad("no shape"))?;
    let shape = shape_str
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad("bad shape")))
        .collect::<io::Result<Vec<_>>>()?;
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)?;
    let count: usize = shape.iter().product();
    if bytes.len() != 4 * count {
        return Err(bad(&format!("{} data bytes for shape {shape:?}", bytes.len())));
    }
    let data = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Ok((shape, data))
}

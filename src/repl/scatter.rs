//! A summary of samples for the terminal: where they are, and for 2D a small scatter drawn in
//! characters on the same fixed axes as `plot.png`.

use candle_core::Tensor;

/// The axes of the terminal scatter, as in `plot.png`.
const LIMIT: f32 = 1.5;
const COLS: usize = 48;
const ROWS: usize = 20;
/// Density ramp, emptiest first.
const RAMP: &[u8] = b" .:-=+*#%@";

/// A few lines about `samples` (`[N, ...shape]`).
pub fn summary(samples: &Tensor) -> String {
    let dims = samples.dims().to_vec();
    let Ok(flat) = samples.flatten_all().and_then(|t| t.to_vec1::<f32>()) else {
        return "could not read the samples\n".into();
    };
    let n = dims.first().copied().unwrap_or(0).max(1);
    let d = flat.len() / n;
    if d != 2 {
        let mean = flat.iter().sum::<f32>() / flat.len().max(1) as f32;
        let var = flat.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / flat.len().max(1) as f32;
        return format!("shape {dims:?}, values mean {mean:.3}, std {:.3}\n", var.sqrt());
    }
    let points: Vec<(f32, f32)> = flat.chunks(2).map(|p| (p[0], p[1])).collect();
    let mean = |k: usize| points.iter().map(|p| if k == 0 { p.0 } else { p.1 }).sum::<f32>() / n as f32;
    let (mx, my) = (mean(0), mean(1));
    let sd = |k: usize, m: f32| {
        (points.iter().map(|p| if k == 0 { p.0 } else { p.1 }).map(|v| (v - m) * (v - m)).sum::<f32>() / n as f32).sqrt()
    };
    let mut out = format!("mean ({mx:.3}, {my:.3}), std ({:.3}, {:.3})\n", sd(0, mx), sd(1, my));
    out += &draw(&points);
    out
}

/// The scatter: counts per character cell, y upward, on [-1.5, 1.5]².
pub fn draw(points: &[(f32, f32)]) -> String {
    let mut counts = vec![0usize; COLS * ROWS];
    let mut outside = 0;
    for &(x, y) in points {
        let c = ((x + LIMIT) / (2.0 * LIMIT) * COLS as f32).floor();
        let r = ((LIMIT - y) / (2.0 * LIMIT) * ROWS as f32).floor();
        if (0.0..COLS as f32).contains(&c) && (0.0..ROWS as f32).contains(&r) {
            counts[r as usize * COLS + c as usize] += 1;
        } else {
            outside += 1;
        }
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f32;
    let mut out = format!("+{}+\n", "-".repeat(COLS));
    for r in 0..ROWS {
        out.push('|');
        for c in 0..COLS {
            let k = counts[r * COLS + c];
            let level = if k == 0 { 0 } else { 1 + ((k as f32 / max).sqrt() * (RAMP.len() - 2) as f32).round() as usize };
            out.push(RAMP[level.min(RAMP.len() - 1)] as char);
        }
        out += "|\n";
    }
    out += &format!("+{}+  x, y in [-{LIMIT}, {LIMIT}]", "-".repeat(COLS));
    if outside > 0 {
        out += &format!(", {outside} outside");
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_lands_in_its_cell() {
        // (0, 0) is the centre: column 24 of 48, row 10 of 20.
        let s = draw(&[(0.0, 0.0), (5.0, 5.0)]);
        let rows: Vec<&str> = s.lines().collect();
        assert_eq!(rows[1 + 10].as_bytes()[1 + 24], b'@');
        assert!(s.contains("1 outside"));
    }
}

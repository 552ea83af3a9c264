//! How much memory a run will need, estimated from the plan before anything is allocated, and
//! the limit it must stay under.
//!
//! A run of N samples with data of D values (f32) keeps, per sample and at once:
//!
//! * the sampler's state: x, the fresh noise, ε̂ and the update (4 rows), and MCMC's
//!   (HMC: momentum, gradient, proposal and its gradient, the accept mask: 6 more rows);
//! * one model call's input and output: K active conditions stack x K times and return K ε
//!   (2K rows), plus the model's own working memory, [`Denoiser::working_bytes_per_row`] per
//!   stacked row;
//! * the outputs: the samples copied to the host and, for images, their pictures (2 rows).
//!
//! bytes ≈ N · (4·D · (12 + 2K) + K · working). It is an estimate (candle frees tensors as it
//! goes), meant to refuse `--samples 1000000000000` with a clear message instead of an abort
//! when the allocation fails.
//!
//! The limit: `COMP_MEMORY_LIMIT` when set: bytes, or a number with a unit, any case, a space
//! allowed: `K`/`KB`/`KiB`, `M`/`MB`/`MiB`, `G`/`GB`/`GiB`, `T`/`TB`/`TiB`, all powers of 1024
//! (`2G`, `8GB`, `1.5 GiB`, `512MiB`); anything else (`abc`, `-1`, `8GX`) is an error, never
//! silently ignored. Else 3/4 of this machine's memory (`MemTotal` of `/proc/meminfo`); else
//! 8 GiB.

use candle_core::{bail, Result};
use comp_plan::SamplePlan;

use crate::denoiser::Denoiser;
use crate::error::{RunError, TooLarge};

/// The environment variable that sets the memory limit.
pub const ENV: &str = "COMP_MEMORY_LIMIT";

/// Rows of D values kept per sample besides the model call's (see the module doc).
const STATE_ROWS: u128 = 12;

/// The estimated peak bytes of running `plan` with a model of `data_shape` whose forward pass
/// needs `working` bytes per stacked row. Never overflows (u128, saturating).
pub fn estimate_bytes(plan: &SamplePlan, data_shape: &[usize], working: usize) -> u128 {
    let d: u128 = data_shape.iter().map(|&x| x as u128).product();
    let k = plan.segments.iter().map(|s| s.active.len()).max().unwrap_or(0).max(1) as u128;
    let per_sample = 4 * d * (STATE_ROWS + 2 * k) + k * working as u128;
    (plan.settings.samples as u128).saturating_mul(per_sample)
}

/// The limit and where it comes from (for the message); an error for a `COMP_MEMORY_LIMIT`
/// that is not a size.
pub fn limit() -> Result<(u128, String)> {
    if let Some(v) = std::env::var_os(ENV) {
        let text = v.to_string_lossy();
        return match parse_bytes(&text) {
            Some(bytes) => Ok((bytes, format!("set by {ENV}={text}"))),
            None => bail!(
                "{ENV}={text:?} is not a size: give bytes or a number with a unit, e.g. `2G`, `8GB`, `1.5GiB`, `512M` (K, M, G, T: powers of 1024), or unset it to use 3/4 of this machine's memory"
            ),
        };
    }
    Ok(match total_memory() {
        Some(total) => (total / 4 * 3, format!("3/4 of this machine's {}; {ENV} sets another", human(total))),
        None => (8 << 30, format!("the default; {ENV} sets another")),
    })
}

/// `1234`, `512M`, `2G`, `8GB`, `1.5 TiB`, `100b` (units of powers of 1024, any case, see the
/// module doc); `None` for anything else.
pub fn parse_bytes(text: &str) -> Option<u128> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = (t[..split].trim(), t[split..].to_ascii_uppercase());
    let mult: u128 = match unit.as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => return None,
    };
    // Digits and at most one point: no sign, exponent, `inf` or `nan`.
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some((v * mult as f64) as u128)
}

fn total_memory() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `3.2 GiB`.
pub fn human(bytes: u128) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Refuses a plan whose estimate exceeds the limit ([`RunError::TooLarge`], saying how many
/// samples would fit).
pub fn check(plan: &SamplePlan, model: &dyn Denoiser) -> std::result::Result<(), RunError> {
    let (limit, why) = limit()?;
    check_against(plan, model, limit, &why)
}

/// [`check`] against a given limit.
pub fn check_against(plan: &SamplePlan, model: &dyn Denoiser, limit: u128, why: &str) -> std::result::Result<(), RunError> {
    let info = model.info();
    let shape = info.sample_shape(plan.settings.size);
    let working = model.working_bytes_per_row(&shape);
    let need = estimate_bytes(plan, &shape, working).saturating_add(model.fixed_working_bytes(&shape) as u128);
    if need <= limit {
        return Ok(());
    }
    let n = plan.settings.samples as u128;
    let per_sample = (need / n.max(1)).max(1);
    let fit = limit / per_sample;
    let advice = match (&info.image_size, plan.settings.size) {
        (Some(_), Some([w, h])) if fit == 0 => {
            format!("not even one fits at {w}x{h}: ask a smaller `size` (the model's attention grows with the square of its pixels)")
        }
        (Some(_), Some([w, h])) => {
            format!("at most {fit} samples fit at {w}x{h}: ask fewer with `--samples N` or the `samples` setting, or a smaller `size`")
        }
        _ => format!("at most {fit} samples fit: ask fewer with `--samples N` or the `samples` setting"),
    };
    Err(RunError::TooLarge(Box::new(TooLarge {
        sample: plan.sample.clone(),
        samples: plan.settings.samples,
        need,
        per_sample,
        limit,
        why: why.to_string(),
        advice,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_bytes("1234"), Some(1234));
        assert_eq!(parse_bytes("2G"), Some(2 << 30));
        assert_eq!(parse_bytes("1.5k"), Some(1536));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("-1"), None);
        // The usual spellings of units (issue 26): all powers of 1024, any case, a space allowed.
        assert_eq!(parse_bytes("8GB"), Some(8 << 30));
        assert_eq!(parse_bytes("1KiB"), Some(1024));
        assert_eq!(parse_bytes("1.5 GiB"), Some(3 << 29));
        assert_eq!(parse_bytes("512mib"), Some(512 << 20));
        assert_eq!(parse_bytes("100b"), Some(100));
        assert_eq!(parse_bytes("2tb"), Some(2 << 40));
        for bad in ["abc", "", "G", "8GX", "8 G B", "1e9", "inf", "NaN", "+5", "8PB", "1..2G"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}

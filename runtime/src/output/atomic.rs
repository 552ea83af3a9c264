//! Atomic file writes: a reader (or a crash) sees either the old file or the whole new one.
//!
//! The bytes go to a temporary file in the same directory (so the rename cannot cross file
//! systems), are flushed to disk, and the temporary is renamed over the target. On any error
//! the temporary is removed and the target left untouched.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes what `fill` produces to `path` atomically; if `fill` fails, nothing is left behind.
pub fn write_atomic_with<F>(path: &Path, fill: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    write_atomic_inner(path, None, fill)
}

/// Rewrites an existing file with `bytes` the way an editor should (`comp fmt FILE`):
///
/// * a symlink stays a symlink: the file it points to (resolved fully) is rewritten;
/// * the file keeps its permissions (the temporary file gets them before the rename);
/// * a file with several hard links is written through its inode (truncate, write), so every
///   link sees the new text: a rename would detach this name from the others. That write is
///   not atomic; it is the one case where a crash can leave a partial file.
///
/// Otherwise the write is atomic, as [`write_atomic`].
pub fn write_in_place(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let target = fs::canonicalize(path)?;
    let meta = fs::metadata(&target)?;
    if links(&meta) > 1 {
        let mut f = fs::OpenOptions::new().write(true).truncate(true).open(&target)?;
        f.write_all(bytes)?;
        return f.sync_all();
    }
    write_atomic_inner(&target, Some(meta.permissions()), |w| w.write_all(bytes))
}

#[cfg(unix)]
fn links(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(meta)
}

#[cfg(not(unix))]
fn links(_: &fs::Metadata) -> u64 {
    1
}

fn write_atomic_inner<F>(path: &Path, permissions: Option<fs::Permissions>, fill: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let tmp = temp_path(path)?;
    let result = (|| {
        let file = File::create(&tmp)?;
        if let Some(p) = permissions {
            file.set_permissions(p)?;
        }
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

/// `.NAME.tmp-PID-COUNTER` next to `path`: unique within and across processes.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        )
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(".{}.tmp-{}-{n}", name.to_string_lossy(), std::process::id());
    Ok(path.with_file_name(tmp))
}

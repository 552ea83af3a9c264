//! Atomic file writes: a reader (or a crash) sees either the old file or the whole new one.
//!
//! The bytes go to a temporary file in the same directory (so the rename cannot cross file
//! systems), are flushed to disk, and the temporary is renamed over the target. On any error
//! the temporary is removed and the target left untouched.
//!
//! What the path names decides what is written:
//!
//! * nothing, or a regular file: the atomic rename above;
//! * a symbolic link (also one whose target does not exist yet): the file it leads to, resolved
//!   link by link, so the link stays a link (callers that should not write through a link
//!   without being asked, such as `comp import -o FILE`, refuse an existing link without
//!   `--force`);
//! * a device, FIFO or socket (`/dev/null`, `/dev/stdout`, a named pipe): written in place,
//!   opened for writing as it is, never replaced by a regular file;
//! * a folder: refused.

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
    let path = &match resolve(path)? {
        Target::File(p) => p,
        Target::Special(p) => {
            let written = (|| {
                let mut f = fs::OpenOptions::new().write(true).open(&p)?;
                fill(&mut f)?;
                f.flush()
            })();
            return written.map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", p.display())));
        }
    };
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

/// Where a write to a path goes (see the module doc).
enum Target {
    /// A regular file, or none yet: replaced atomically.
    File(PathBuf),
    /// A device, FIFO or socket: written in place.
    Special(PathBuf),
}

/// Follows symbolic links from `path` to what they lead to (at most 40, as the kernel does).
fn resolve(path: &Path) -> io::Result<Target> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        let meta = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::File(p)),
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", p.display()))),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let to = fs::read_link(&p)?;
            p = match p.parent() {
                Some(parent) if to.is_relative() => parent.join(to),
                _ => to,
            };
        } else if kind.is_dir() {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, format!("{} is a folder; expected a file", p.display())));
        } else if kind.is_file() {
            return Ok(Target::File(p));
        } else {
            return Ok(Target::Special(p));
        }
    }
    Err(io::Error::other(format!("{}: too many levels of symbolic links", path.display())))
}

/// `.NAME.tmp-PID-COUNTER` next to `path`: unique within and across processes.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name =
        path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{} has no file name", path.display())))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(".{}.tmp-{}-{n}", name.to_string_lossy(), std::process::id());
    Ok(path.with_file_name(tmp))
}

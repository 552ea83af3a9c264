//! One `comp run` at a time per output folder: a lock file, `DIR/.comp-run.lock`, holding the
//! process id of the run that writes there.
//!
//! Created with `create_new` (atomic on every file system comp writes to), removed when the
//! run ends. A second run into the same folder is refused with a message naming the first.
//! A lock left by a run that no longer exists (killed, Ctrl-C) is stale: on Linux, where
//! `/proc/PID` tells whether a process lives, it is taken over; elsewhere the message says to
//! remove it.
//!
//! Taking the lock also removes what killed runs left in the folder ([`clean_stale`]): a
//! staging folder `.NAME.partial-PID` and temporary files `.FILE.tmp-PID-N` of a process that
//! is gone. With the lock held no other run writes there, and a process that is gone writes
//! nowhere.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the output folder.
pub const LOCK_FILE: &str = ".comp-run.lock";

/// A held lock; dropping it removes the file.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
}

impl OutputLock {
    /// Takes the lock of `dir` (which must exist), or says who holds it.
    pub fn acquire(dir: &Path) -> Result<OutputLock, String> {
        let path = dir.join(LOCK_FILE);
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    clean_stale(dir);
                    return Ok(OutputLock { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<u32>().ok());
                    if holder.is_some_and(is_stale) {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    let who = holder.map(|p| format!(" (process {p})")).unwrap_or_default();
                    return Err(format!(
                        "another `comp run`{who} is writing into `{}`; wait for it to finish or choose another folder with `-o` (if no run is going, remove `{}`)",
                        dir.display(),
                        path.display()
                    ));
                }
                Err(e) => return Err(format!("cannot create `{}`: {e}", path.display())),
            }
        }
        Err(format!("cannot take the lock `{}`: it keeps reappearing", path.display()))
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes, in `dir`, the leftovers of runs whose process is gone: `.NAME.partial-PID`
/// staging folders, `.FILE.tmp-PID-N` temporary files of atomic writes and
/// `.comp-write-test-PID` probes (Linux, where `/proc` tells; elsewhere nothing is removed).
/// Returns the names removed. Errors are ignored: a leftover is untidy, not wrong.
pub fn clean_stale(dir: &Path) -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return removed };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = leftover_pid(name) else { continue };
        if pid == std::process::id() || !is_stale(pid) {
            continue;
        }
        let path = entry.path();
        let gone = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        if gone.is_ok() {
            removed.push(name.to_string());
        }
    }
    removed
}

/// The process id in a leftover's name: `.NAME.partial-PID`, `.FILE.tmp-PID-N` or
/// `.comp-write-test-PID`.
fn leftover_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    if let Some(pid) = rest.strip_prefix("comp-write-test-") {
        return pid.parse().ok();
    }
    if let Some((_, pid)) = rest.rsplit_once(".partial-") {
        return pid.parse().ok();
    }
    let (_, tail) = rest.rsplit_once(".tmp-")?;
    let (pid, n) = tail.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether process `pid` is gone (Linux: no `/proc/PID`); elsewhere a lock is never stale.
fn is_stale(pid: u32) -> bool {
    let proc = Path::new("/proc");
    proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_released_on_drop() {
        let dir = std::env::temp_dir().join(format!("comp-lock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = OutputLock::acquire(&dir).unwrap();
        let err = OutputLock::acquire(&dir).unwrap_err();
        assert!(err.contains(&format!("(process {})", std::process::id())), "{err}");
        drop(first);
        let again = OutputLock::acquire(&dir).unwrap();
        drop(again);
        // A lock whose process is gone is taken over (Linux); pid 0x7fff_fff0 does not exist.
        if Path::new("/proc/self").exists() {
            std::fs::write(dir.join(LOCK_FILE), "2147483632\n").unwrap();
            drop(OutputLock::acquire(&dir).unwrap());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn leftovers_are_named_by_their_process() {
        assert_eq!(leftover_pid(".cabin.partial-123"), Some(123));
        assert_eq!(leftover_pid(".samples.npy.tmp-77-0"), Some(77));
        assert_eq!(leftover_pid(".run.json.tmp-77-12"), Some(77));
        assert_eq!(leftover_pid(".comp-write-test-9"), Some(9));
        assert_eq!(leftover_pid("cabin.partial-123"), None, "not hidden: not ours");
        assert_eq!(leftover_pid(".x.tmp-abc-0"), None);
        assert_eq!(leftover_pid(".comp-run.lock"), None);
    }
}

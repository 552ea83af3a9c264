//! One `comp run` at a time per output folder: a lock file, `DIR/.comp-run.lock`, holding the
//! process id of the run that writes there.
//!
//! Created with `create_new` (atomic on every file system comp writes to), removed when the
//! run ends. A second run into the same folder is refused with a message naming the first.
//! A lock left by a run that no longer exists (killed, Ctrl-C) is stale: on Linux, where
//! `/proc/PID` tells whether a process lives, it is taken over; elsewhere the message says to
//! remove it.

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
}

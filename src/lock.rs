//! One writer per state directory: `apply` and `undo` take a lock file so two runs never
//! interleave their changes or their journals. A lock left by a process that no longer
//! exists is taken over, with a warning.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another cis-fix run holds {path} ({holder}); wait for it to finish, or remove the file if that process is gone")]
    Held { path: PathBuf, holder: String },
    #[error("cannot create the lock {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held while the value lives; the file is removed on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks that the process exists.
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Take the lock of `state_dir` for `what` (e.g. "apply in account 123").
pub fn acquire(state_dir: &Path, what: &str) -> Result<RunLock, LockError> {
    let io = |source| LockError::Io {
        path: state_dir.join("lock"),
        source,
    };
    fs::create_dir_all(state_dir).map_err(io)?;
    let path = state_dir.join("lock");
    for _ in 0..2 {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                let line = format!("{} {}\n", std::process::id(), what);
                f.write_all(line.as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
                return Ok(RunLock { path });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                let pid = holder
                    .split_whitespace()
                    .next()
                    .and_then(|p| p.parse::<u32>().ok());
                match pid {
                    Some(pid) if !alive(pid) => {
                        tracing::warn!(lock = %path.display(), pid, "taking over a lock left by a process that is gone");
                        let _ = fs::remove_file(&path);
                    }
                    _ => {
                        let holder = holder.trim();
                        return Err(LockError::Held {
                            path,
                            holder: match holder.split_once(' ') {
                                Some((pid, what)) => format!("pid {pid}: {what}"),
                                None => holder.to_string(),
                            },
                        });
                    }
                }
            }
            Err(e) => return Err(io(e)),
        }
    }
    Err(LockError::Held {
        path,
        holder: "unknown".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_the_lock_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let a = acquire(dir.path(), "apply in account 1").unwrap();
        let err = acquire(dir.path(), "undo").unwrap_err().to_string();
        assert!(err.contains("apply in account 1"), "{err}");
        drop(a);
        acquire(dir.path(), "undo").unwrap();
    }

    #[test]
    fn a_dead_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // No process has pid 0x7ffffff0 on a normal system.
        fs::write(dir.path().join("lock"), "2147483632 apply\n").unwrap();
        acquire(dir.path(), "apply").unwrap();
    }
}

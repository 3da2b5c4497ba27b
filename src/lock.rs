//! One writer at a time: `apply` and `undo` hold an exclusive flock(2) on a lock file (the
//! state directory's `lock`, and the account's lock in the user's own state directory) so two
//! runs never interleave their changes or their journals.
//!
//! The kernel releases a flock when its holder exits, however it dies, so a lock left by a
//! process that is gone is free: taking it over is atomic, with no pid check to race with.
//! The lock file itself stays (removing it would let two runs lock two different files of one
//! name); it holds the holder's pid and command, for the message a second run prints. Lock
//! files are 0600 in a 0700 directory of this user, never in a shared temp directory.
//!
//! With S3 state the run lock is an object instead (src/state.rs): no kernel frees it, so a
//! lock left by a dead run is taken over only with `--force-unlock RUN`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another cis-fix run holds {path} ({holder}); wait for it to finish")]
    Held { path: PathBuf, holder: String },
    #[error("cannot create the lock {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held while the value lives: closing the file releases the flock; an S3 lock is deleted.
#[derive(Debug)]
pub struct RunLock {
    file: Option<File>,
    _s3: Option<crate::state::S3Lock>,
}

impl RunLock {
    pub fn s3(lock: crate::state::S3Lock) -> RunLock {
        RunLock {
            file: None,
            _s3: Some(lock),
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // What a later reader sees while nobody holds it; the flock goes with the file.
        if let Some(f) = &self.file {
            let _ = f.set_len(0);
        }
    }
}

/// Take the lock of `state_dir` for `what` (e.g. "cis-fix apply since …").
pub fn acquire(state_dir: &Path, what: &str) -> Result<RunLock, LockError> {
    acquire_file(&state_dir.join("lock"), what)
}

/// Take the lock file `path` (made 0600, its directory 0700) for `what`.
pub fn acquire_file(path: &Path, what: &str) -> Result<RunLock, LockError> {
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        crate::journal::private_dir(dir).map_err(io)?;
    }
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Never follow a symlink planted where the lock goes.
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = opts.open(path).map_err(io)?;
    crate::journal::tighten_file(path).map_err(io)?;
    if !try_lock(&file).map_err(io)? {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        return Err(LockError::Held {
            path: path.to_path_buf(),
            holder: match holder.split_once(' ') {
                Some((pid, what)) => format!("pid {pid}: {what}"),
                None if holder.is_empty() => "starting".to_string(),
                None => holder.to_string(),
            },
        });
    }
    let mut before = String::new();
    let _ = file.read_to_string(&mut before);
    if !before.trim().is_empty() {
        tracing::warn!(lock = %path.display(), left = %before.trim(), "taking over a lock left by a process that is gone");
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    file.write_all(format!("{} {}\n", std::process::id(), what).as_bytes())
        .map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(RunLock {
        file: Some(file),
        _s3: None,
    })
}

/// An exclusive, non-blocking flock: `false` when another open file holds it.
fn try_lock(file: &File) -> std::io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock on a descriptor this function borrows; no memory is passed.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(false)
        } else {
            Err(e)
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
        // No process has pid 0x7ffffff0 on a normal system, and none holds the flock.
        fs::write(dir.path().join("lock"), "2147483632 apply\n").unwrap();
        let _l = acquire(dir.path(), "apply").unwrap();
        let text = fs::read_to_string(dir.path().join("lock")).unwrap();
        assert_eq!(text, format!("{} apply\n", std::process::id()));
    }

    #[cfg(unix)]
    #[test]
    fn lock_files_are_private_and_symlinks_are_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("accounts");
        let _l = acquire_file(&sub.join("1.lock"), "apply").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&sub.join("1.lock")), 0o600);
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), sub.join("2.lock")).unwrap();
        assert!(acquire_file(&sub.join("2.lock"), "apply").is_err());
        assert!(!dir.path().join("elsewhere").exists());
    }
}

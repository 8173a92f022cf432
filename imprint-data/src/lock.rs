//! Serialized read-modify-replace of one file across processes.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::DataError;

/// An exclusive advisory lock (`flock`) on a file, held from before it is
/// read until its replacement ([`crate::write_atomic`]) is in place, so that
/// concurrent updates of the same file run one after the other instead of
/// losing each other's changes. Released when dropped, or when the process
/// dies, however it dies.
///
/// Only writers that take the lock are serialized; readers need none, since
/// [`crate::write_atomic`] replaces files whole.
#[derive(Debug)]
pub struct UpdateLock {
    _file: File,
    path: PathBuf,
}

impl UpdateLock {
    /// The locked file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Locks `path` (following symbolic links) for an update, waiting up to
/// `wait` for another process's update to finish; `on_wait` is called once
/// if the lock is busy, before waiting. `Ok(None)` when the file does not
/// exist (nothing to serialize against: creating a file without
/// overwriting is atomic by itself).
///
/// A file replaced while this process waited is locked afresh, so the lock
/// returned is always on the file `path` names when it returns.
///
/// # Errors
/// [`DataError::Locked`] when the wait runs out; [`DataError::NotRegularFile`]
/// for a folder, FIFO, socket or device; [`DataError::Io`] when the file
/// cannot be opened or locked.
pub fn lock_for_update(
    path: &Path,
    wait: Duration,
    on_wait: impl FnOnce(),
) -> Result<Option<UpdateLock>, DataError> {
    let start = Instant::now();
    let mut on_wait = Some(on_wait);
    let mut pause = Duration::from_millis(2);
    loop {
        // Opening a FIFO would block: look before opening.
        match std::fs::metadata(path) {
            Ok(meta) => crate::atomic::check_regular(path, &meta)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(DataError::Io { path: path.to_path_buf(), action: "inspect", source }),
        }
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(DataError::Io { path: path.to_path_buf(), action: "open", source }),
        };
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if let Some(notify) = on_wait.take() {
                        notify();
                    }
                    let waited = start.elapsed();
                    if waited >= wait {
                        return Err(DataError::Locked {
                            path: path.to_path_buf(),
                            waited: waited.as_secs_f64(),
                        });
                    }
                    std::thread::sleep(pause.min(wait - waited));
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(DataError::Io { path: path.to_path_buf(), action: "lock", source });
                }
            }
        }
        // The previous holder may have replaced the file: lock the one the path names now.
        match std::fs::metadata(path) {
            Ok(now) if same_file(&file, &now) => {
                return Ok(Some(UpdateLock { _file: file, path: path.to_path_buf() }));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(DataError::Io { path: path.to_path_buf(), action: "inspect", source }),
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, now: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    file.metadata().is_ok_and(|m| m.dev() == now.dev() && m.ino() == now.ino())
}

#[cfg(not(unix))]
fn same_file(_file: &File, _now: &std::fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;

    #[test]
    fn a_missing_file_needs_no_lock_and_special_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        assert!(lock_for_update(&dir.path().join("none"), Duration::ZERO, || {}).unwrap().is_none());
        let fifo = dir.path().join("fifo");
        #[cfg(unix)]
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        #[cfg(unix)]
        assert!(matches!(
            lock_for_update(&fifo, Duration::ZERO, || {}),
            Err(DataError::NotRegularFile { what: "a FIFO (named pipe)", .. })
        ));
        assert!(matches!(
            lock_for_update(dir.path(), Duration::ZERO, || {}),
            Err(DataError::NotRegularFile { what: "a folder", .. })
        ));
    }

    #[test]
    fn a_held_lock_times_out_with_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.bin");
        std::fs::write(&path, b"x").unwrap();
        let held = lock_for_update(&path, Duration::ZERO, || {}).unwrap().unwrap();
        assert_eq!(held.path(), path);
        let mut told = false;
        let err = lock_for_update(&path, Duration::from_millis(50), || told = true).unwrap_err();
        assert!(told);
        assert!(matches!(err, DataError::Locked { waited, .. } if waited >= 0.05), "{err}");
        assert!(err.to_string().contains("h.bin"), "{err}");
        drop(held);
        assert!(lock_for_update(&path, Duration::ZERO, || {}).unwrap().is_some());
    }

    /// Threads (each with its own open file) count up in a file: every
    /// increment survives because each holds the lock from read to replace.
    #[test]
    fn concurrent_updates_are_serialized_and_none_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("count"));
        crate::write_atomic(&path, b"0", false).unwrap();
        let (threads, rounds) = (4, 25);
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (path, barrier) = (Arc::clone(&path), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..rounds {
                        let _lock = lock_for_update(&path, Duration::from_secs(60), || {}).unwrap().unwrap();
                        let n: u64 = std::fs::read_to_string(&*path).unwrap().parse().unwrap();
                        crate::write_atomic(&path, (n + 1).to_string().as_bytes(), true).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(std::fs::read_to_string(&*path).unwrap(), (threads * rounds).to_string());
    }
}

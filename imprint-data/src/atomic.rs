//! The project's one way of writing a file: all of it or nothing.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, FileType, Metadata};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use crate::error::DataError;

/// Symbolic links followed before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// Writes `bytes` to `path` atomically: they go to a hidden temporary file
/// next to the file (`.{name}.XXXXXX.tmp`, which readers of our folders
/// skip), are flushed to disk, and the file is then moved into place; the
/// folder is synced so that the new name survives a crash. A reader sees
/// either the old file or the complete new one, never a part.
///
/// - A symbolic link is followed: its target is replaced and the link kept.
/// - Only regular files are replaced: a folder, FIFO, socket or device at
///   `path` (or at the end of its links) is refused.
/// - A replaced file keeps its permission bits; a new file gets `0o666`
///   less the process's umask, as `open(2)` gives.
/// - Without `overwrite`, an existing file is never replaced, even by a
///   concurrent writer (the final step is a link that fails if the name
///   exists).
/// - Temporary files that writers of the same file left behind when they
///   were killed (they hold no lock and are older than this process's first
///   write) are removed; interrupted writers of this process leave none
///   when the program calls [`remove_pending_temporaries`] on a signal.
///
/// Missing parent folders are created.
///
/// # Errors
/// [`DataError::AlreadyExists`] without `overwrite` when `path` exists;
/// [`DataError::NotRegularFile`] for a target that is not a regular file;
/// [`DataError::Io`] naming the file and the step that failed. On error the
/// temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), DataError> {
    let first_write = *FIRST_WRITE.get_or_init(SystemTime::now);
    let target = resolve_links(path)?;
    let existing = match std::fs::metadata(&target) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(DataError::Io { path: target, action: "inspect", source }),
    };
    if let Some(meta) = &existing {
        check_regular(path, meta)?;
        if !overwrite {
            return Err(DataError::AlreadyExists { path: path.to_path_buf() });
        }
    }
    let dir = match target.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(io(dir, "create directory"))?;
            dir
        }
        None => Path::new("."),
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    sweep_stale_temporaries(dir, &name, first_write);
    let tmp = new_temporary(dir, &name, existing.as_ref())?;
    let tmp_path = tmp.path().to_path_buf();
    PENDING.lock().unwrap_or_else(|e| e.into_inner()).push(tmp_path.clone());
    let result = fill_and_persist(tmp, &target, bytes, overwrite);
    PENDING.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| *p != tmp_path);
    result.map_err(|e| match e {
        DataError::AlreadyExists { .. } => DataError::AlreadyExists { path: path.to_path_buf() },
        other => other,
    })?;
    // Durability of the rename itself; not every filesystem can sync a folder.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes the temporary files of writes in progress in this process. A
/// program calls it when a signal (Ctrl-C, SIGTERM) ends it, so that an
/// interrupted write leaves nothing behind; the files being replaced are
/// untouched.
pub fn remove_pending_temporaries() {
    let pending = std::mem::take(&mut *PENDING.lock().unwrap_or_else(|e| e.into_inner()));
    for path in pending {
        let _ = std::fs::remove_file(path);
    }
}

/// Temporary files of writes in progress in this process.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// When this process first wrote a file: temporary files older than that
/// and unlocked belong to writers that died.
static FIRST_WRITE: OnceLock<SystemTime> = OnceLock::new();

fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> DataError {
    let path = path.to_path_buf();
    move |source| DataError::Io { path, action, source }
}

/// `path` with its symbolic links followed to the file they end at (which
/// need not exist yet).
fn resolve_links(path: &Path) -> Result<PathBuf, DataError> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current).map_err(io(&current, "read symbolic link"))?;
                current = match current.parent() {
                    Some(dir) => dir.join(link),
                    None => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(DataError::Io {
        path: path.to_path_buf(),
        action: "follow symbolic links",
        source: std::io::Error::other(format!("more than {MAX_LINKS} links (a loop?)")),
    })
}

/// Refuses anything but a regular file.
pub(crate) fn check_regular(path: &Path, meta: &Metadata) -> Result<(), DataError> {
    if meta.is_file() {
        return Ok(());
    }
    Err(DataError::NotRegularFile { path: path.to_path_buf(), what: file_kind(&meta.file_type()) })
}

/// What a file is, for messages that refuse it: `a regular file`,
/// `a folder`, `a FIFO (named pipe)`, `a character device`,
/// `a block device`, `a socket` or `a special file`. Every front door names
/// the files it will not read or replace with these words.
pub fn file_kind(kind: &FileType) -> &'static str {
    if kind.is_file() {
        return "a regular file";
    }
    if kind.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        } else if kind.is_char_device() {
            return "a character device";
        } else if kind.is_block_device() {
            return "a block device";
        } else if kind.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

/// A locked temporary file next to the target, with the existing file's
/// permission bits (or the umask's for a new file).
fn new_temporary(
    dir: &Path,
    name: &str,
    existing: Option<&Metadata>,
) -> Result<tempfile::NamedTempFile, DataError> {
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Created with open(2)'s mode, so the umask applies.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(dir).map_err(io(dir, "create temporary file"))?;
    if let Some(meta) = existing {
        tmp.as_file().set_permissions(meta.permissions()).map_err(io(tmp.path(), "set permissions"))?;
    }
    // Held until the file is closed or its writer dies: the lock tells a
    // writer that sweeps stale temporaries that this one is alive.
    tmp.as_file().try_lock().map_err(|e| DataError::Io {
        path: tmp.path().to_path_buf(),
        action: "lock temporary file",
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(tmp)
}

fn fill_and_persist(
    mut tmp: tempfile::NamedTempFile,
    target: &Path,
    bytes: &[u8],
    overwrite: bool,
) -> Result<(), DataError> {
    tmp.write_all(bytes).map_err(io(tmp.path(), "write"))?;
    tmp.as_file().sync_all().map_err(io(tmp.path(), "fsync"))?;
    let persisted = if overwrite { tmp.persist(target) } else { tmp.persist_noclobber(target) };
    match persisted {
        Ok(_) => Ok(()),
        // Dropping `e.file` removes the temporary file.
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(DataError::AlreadyExists { path: target.to_path_buf() })
        }
        Err(e) => {
            Err(DataError::Io { path: target.to_path_buf(), action: "move into place", source: e.error })
        }
    }
}

/// The name of the file that `file` would be a temporary file of, if it is
/// named like one of [`write_atomic`]'s (`.{name}.XXXXXX.tmp`).
fn temporary_target(file: &str) -> Option<&str> {
    let stem = file.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (name, random) = stem.rsplit_once('.')?;
    let random_ok = random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric());
    (random_ok && !name.is_empty()).then_some(name)
}

/// Per folder, the files named like temporary files that it held when this
/// process first wrote into it, by the name of the file they were for. A
/// dead writer's temporary file is older than this process's first write,
/// so it was there at that listing: one listing per folder finds them all,
/// and a process that writes thousands of files into one folder lists it
/// once.
static TEMPORARIES: Mutex<BTreeMap<PathBuf, HashMap<String, Vec<PathBuf>>>> = Mutex::new(BTreeMap::new());

/// Removes temporary files of `name` in `dir` whose writers died: unlocked,
/// and last written before `before`. Best effort: what cannot be removed
/// stays.
fn sweep_stale_temporaries(dir: &Path, name: &str, before: SystemTime) {
    let candidates = {
        let mut listed = TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner());
        let by_name = listed.entry(dir.to_path_buf()).or_insert_with(|| list_temporaries(dir));
        by_name.remove(name).unwrap_or_default()
    };
    for path in candidates {
        let Ok(file) = File::open(&path) else { continue };
        let stale = file.metadata().is_ok_and(|m| m.is_file() && m.modified().is_ok_and(|t| t < before));
        if stale && file.try_lock().is_ok() {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// The files of `dir` named like temporary files, by the file they are for.
fn list_temporaries(dir: &Path) -> HashMap<String, Vec<PathBuf>> {
    let mut by_name: HashMap<String, Vec<PathBuf>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return by_name };
    for entry in entries.flatten() {
        if let Some(name) = entry.file_name().to_str().and_then(temporary_target) {
            by_name.entry(name.to_string()).or_default().push(entry.path());
        }
    }
    by_name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn writes_replaces_only_when_asked_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("a.json");
        write_atomic(&path, b"one", false).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        assert!(matches!(write_atomic(&path, b"two", false), Err(DataError::AlreadyExists { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_atomic(&path, b"two", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(names(path.parent().unwrap()), vec!["a.json"]);
    }

    #[test]
    fn an_unwritable_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let err = write_atomic(&file.join("child"), b"y", true).unwrap_err();
        assert!(err.to_string().contains("plain"), "{err}");
    }

    #[test]
    fn temporary_names_are_matched_exactly() {
        assert_eq!(temporary_target(".h.safetensors.a1B2c3.tmp"), Some("h.safetensors"));
        assert_eq!(temporary_target(".h.a1B2c3.tmp"), Some("h"));
        assert_eq!(temporary_target(".h.safetensors.a1B2c.tmp"), None);
        assert_eq!(temporary_target("h.safetensors.a1B2c3.tmp"), None);
        assert_eq!(temporary_target(".h.safetensors.a1-2c3.tmp"), None);
        assert_eq!(temporary_target("..a1B2c3.tmp"), None);
        assert_eq!(temporary_target(".h.safetensors.a1B2c3.tmpx"), None);
    }

    #[cfg(unix)]
    mod unix {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt, symlink};

        use super::*;

        #[test]
        fn a_symbolic_link_keeps_pointing_at_its_target_which_is_replaced() {
            let dir = tempfile::tempdir().unwrap();
            let real = dir.path().join("real").join("head.bin");
            write_atomic(&real, b"old", false).unwrap();
            let link = dir.path().join("link.bin");
            symlink("real/head.bin", &link).unwrap();
            let chain = dir.path().join("chain.bin");
            symlink(&link, &chain).unwrap();
            write_atomic(&chain, b"new", true).unwrap();
            assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
            assert!(std::fs::symlink_metadata(&chain).unwrap().file_type().is_symlink());
            assert_eq!(std::fs::read(&real).unwrap(), b"new");
            assert_eq!(names(dir.path()), vec!["chain.bin", "link.bin", "real"]);
            assert_eq!(names(&dir.path().join("real")), vec!["head.bin"]);
            // Without overwrite an existing target is refused through the link too.
            assert!(matches!(write_atomic(&link, b"x", false), Err(DataError::AlreadyExists { .. })));
            // A dangling link gets its target created.
            let dangling = dir.path().join("dangling.bin");
            symlink("real/new.bin", &dangling).unwrap();
            write_atomic(&dangling, b"fresh", false).unwrap();
            assert_eq!(std::fs::read(dir.path().join("real/new.bin")).unwrap(), b"fresh");
            // A loop is an error, not a hang.
            let a = dir.path().join("a");
            symlink("b", &a).unwrap();
            symlink("a", dir.path().join("b")).unwrap();
            let err = write_atomic(&a, b"x", true).unwrap_err();
            assert!(err.to_string().contains("loop"), "{err}");
        }

        #[test]
        fn special_files_are_refused_and_left_alone() {
            let dir = tempfile::tempdir().unwrap();
            let fifo = dir.path().join("fifo");
            assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
            for (path, what) in [
                (fifo.clone(), "a FIFO"),
                (PathBuf::from("/dev/null"), "a character device"),
                (dir.path().to_path_buf(), "a folder"),
            ] {
                let err = write_atomic(&path, b"x", true).unwrap_err();
                assert!(matches!(err, DataError::NotRegularFile { .. }), "{path:?}: {err}");
                assert!(err.to_string().contains(what), "{err}");
            }
            assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
            let link = dir.path().join("to-null");
            symlink("/dev/null", &link).unwrap();
            assert!(matches!(write_atomic(&link, b"x", true), Err(DataError::NotRegularFile { .. })));
            assert_eq!(names(dir.path()), vec!["fifo", "to-null"]);
        }

        #[test]
        fn replaced_files_keep_their_mode_and_new_files_follow_the_umask() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("h.bin");
            std::fs::write(&path, b"old").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
            write_atomic(&path, b"new", true).unwrap();
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o640);
            // The umask of this process, read back from a file open(2) creates.
            let probe = dir.path().join("probe");
            std::fs::write(&probe, b"").unwrap();
            let created = dir.path().join("new.bin");
            write_atomic(&created, b"x", false).unwrap();
            assert_eq!(mode(&created), mode(&probe));
        }

        #[test]
        fn stale_temporaries_of_dead_writers_are_swept_but_live_ones_kept() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("h.bin");
            let stale = dir.path().join(".h.bin.AbC123.tmp");
            let live = dir.path().join(".h.bin.XyZ789.tmp");
            let other = dir.path().join(".g.bin.AbC123.tmp");
            for p in [&stale, &live, &other] {
                std::fs::write(p, b"partial").unwrap();
            }
            let old = SystemTime::now() - std::time::Duration::from_secs(3600);
            for p in [&stale, &live, &other] {
                File::options().write(true).open(p).unwrap().set_modified(old).unwrap();
            }
            // A writer still alive holds the lock on its temporary file.
            let held = File::open(&live).unwrap();
            held.lock().unwrap();
            write_atomic(&path, b"new", true).unwrap();
            assert_eq!(
                names(dir.path()),
                vec![".g.bin.AbC123.tmp", ".h.bin.XyZ789.tmp", "h.bin"],
                "the stale temporary of h.bin goes; the live one and another file's stay"
            );
            drop(held);
        }
    }
}

//! The project's one way of writing a file: all of it or nothing.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::error::DataError;

/// Writes `bytes` to `path` atomically: they go to a hidden temporary file in
/// the same folder (`.{name}.XXXXXX.tmp`, which readers of our folders skip),
/// are flushed to disk, and the file is then moved into place; the folder is
/// synced so that the new name survives a crash. A reader sees either the
/// old file or the complete new one, never a part.
///
/// Without `overwrite`, an existing `path` is never replaced, even by a
/// concurrent writer (the final step is a link that fails if the name
/// exists). Missing parent folders are created.
///
/// # Errors
/// [`DataError::AlreadyExists`] without `overwrite` when `path` exists;
/// [`DataError::Io`] naming the file and the step that failed. On error the
/// temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), DataError> {
    let io = |path: &Path, action: &'static str| {
        let path = path.to_path_buf();
        move |source| DataError::Io { path, action, source }
    };
    if !overwrite && path.exists() {
        return Err(DataError::AlreadyExists { path: path.to_path_buf() });
    }
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(io(dir, "create directory"))?;
            dir
        }
        None => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io(dir, "create temporary file"))?;
    tmp.write_all(bytes).map_err(io(tmp.path(), "write"))?;
    tmp.as_file().sync_all().map_err(io(tmp.path(), "fsync"))?;
    let persisted = if overwrite { tmp.persist(path) } else { tmp.persist_noclobber(path) };
    if let Err(e) = persisted {
        // Dropping `e.file` removes the temporary file.
        return Err(if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            DataError::AlreadyExists { path: path.to_path_buf() }
        } else {
            DataError::Io { path: path.to_path_buf(), action: "move into place", source: e.error }
        });
    }
    // Durability of the rename itself; not every filesystem can sync a folder.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let names: Vec<_> =
            std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
    }

    #[test]
    fn an_unwritable_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let err = write_atomic(&file.join("child"), b"y", true).unwrap_err();
        assert!(err.to_string().contains("plain"), "{err}");
    }
}

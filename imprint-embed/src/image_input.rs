//! Which images to embed, in which order, with which labels.
//!
//! A folder follows torchvision's `ImageFolder` convention: one sub-folder per
//! class, class names sorted, label = position in that order; the images of a
//! class may lie in nested folders. Rows follow the sorted relative paths (class
//! folder, then the path inside it, compared component by component, as Python
//! sorts `pathlib` paths). A list file names one image per line, optionally
//! followed by a tab and its class name; rows keep the file's order.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{EmbedError, io};

/// Where the images come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageInput {
    /// A folder with one sub-folder per class (`ROOT/cat/1.png`, `ROOT/dog/a/2.jpg`).
    Folder(PathBuf),
    /// A UTF-8 text file with one image path per line, optionally followed by a tab
    /// and a class name (all lines or none). Relative paths are relative to the
    /// list file's folder; blank lines and lines starting with `#` are skipped.
    ListFile(PathBuf),
}

impl ImageInput {
    /// The folder or list file.
    pub fn path(&self) -> &Path {
        match self {
            ImageInput::Folder(p) | ImageInput::ListFile(p) => p,
        }
    }
}

/// File name suffixes decoded as images (case-insensitive).
const SUPPORTED: [&str; 3] = ["png", "jpg", "jpeg"];
/// Image suffixes we recognize but do not decode: reported as bad inputs, not ignored.
const UNSUPPORTED: [&str; 11] =
    ["bmp", "gif", "tif", "tiff", "webp", "ppm", "pgm", "pbm", "tga", "avif", "heic"];
/// Folder nesting below the root beyond which we stop (and report it).
const MAX_DEPTH: usize = 32;

/// One image to embed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageItem {
    /// Where to read it.
    pub path: PathBuf,
    /// How it is named in the output (`/`-separated, relative to the folder, or as
    /// written in the list file).
    pub relative: String,
    pub label: usize,
}

/// The images of an input, in row order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listing {
    pub items: Vec<ImageItem>,
    /// Class names in label order; empty for an unlabeled list file.
    pub label_names: Vec<String>,
    /// Files skipped because they are not images (by suffix), e.g. `README.txt`.
    pub n_ignored: usize,
}

pub(crate) fn list(input: &ImageInput) -> Result<Listing, EmbedError> {
    match input {
        ImageInput::Folder(root) => list_folder(root),
        ImageInput::ListFile(file) => list_file(file),
    }
}

fn suffix(path: &Path) -> Option<String> {
    path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase())
}

/// Whether a file is an image we embed (or at least one we report), by suffix.
fn is_image(path: &Path) -> bool {
    suffix(path).is_some_and(|s| SUPPORTED.contains(&s.as_str()) || UNSUPPORTED.contains(&s.as_str()))
}

fn list_folder(root: &Path) -> Result<Listing, EmbedError> {
    let meta = std::fs::metadata(root).map_err(|e| io(root, "open folder", e))?;
    if !meta.is_dir() {
        return Err(EmbedError::EmptyInput {
            path: root.to_path_buf(),
            reason: "not a folder (pass a list file as such)".into(),
        });
    }
    let mut classes = BTreeMap::new();
    let mut n_ignored = 0;
    for entry in read_dir_sorted(root)? {
        if std::fs::metadata(&entry).map(|m| m.is_dir()).unwrap_or(false) {
            let name = entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            classes.insert(name, entry);
        } else {
            n_ignored += 1;
        }
    }
    if classes.is_empty() {
        return Err(EmbedError::EmptyInput {
            path: root.to_path_buf(),
            reason: "no class sub-folders (expected one folder per class, as torchvision's ImageFolder)"
                .into(),
        });
    }
    let mut items = Vec::new();
    let mut label_names = Vec::with_capacity(classes.len());
    for (label, (name, dir)) in classes.into_iter().enumerate() {
        let mut files = Vec::new();
        let mut visited = HashSet::new();
        walk(&dir, &PathBuf::new(), 0, &mut visited, &mut files, &mut n_ignored)?;
        files.sort();
        for rel in files {
            let relative = std::iter::once(name.clone())
                .chain(rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join("/");
            items.push(ImageItem { path: dir.join(&rel), relative, label });
        }
        label_names.push(name);
    }
    if items.is_empty() {
        return Err(EmbedError::EmptyInput {
            path: root.to_path_buf(),
            reason: format!("no images in the class folders (suffixes {})", SUPPORTED.join(", ")),
        });
    }
    Ok(Listing { items, label_names, n_ignored })
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, EmbedError> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, "list folder", e))? {
        entries.push(entry.map_err(|e| io(dir, "list folder", e))?.path());
    }
    entries.sort();
    Ok(entries)
}

/// Collects image files under `dir` as paths relative to the class folder.
fn walk(
    dir: &Path,
    rel: &Path,
    depth: usize,
    visited: &mut HashSet<PathBuf>,
    files: &mut Vec<PathBuf>,
    n_ignored: &mut usize,
) -> Result<(), EmbedError> {
    // Symbolic links are followed; a folder seen before (a link loop) is not entered again.
    let canonical = std::fs::canonicalize(dir).map_err(|e| io(dir, "open folder", e))?;
    if !visited.insert(canonical) {
        return Ok(());
    }
    if depth > MAX_DEPTH {
        return Err(EmbedError::EmptyInput {
            path: dir.to_path_buf(),
            reason: format!("folders nested more than {MAX_DEPTH} levels deep"),
        });
    }
    for entry in read_dir_sorted(dir)? {
        let Some(name) = entry.file_name().map(PathBuf::from) else { continue };
        let meta = std::fs::metadata(&entry);
        if meta.as_ref().is_ok_and(|m| m.is_dir()) {
            walk(&entry, &rel.join(&name), depth + 1, visited, files, n_ignored)?;
        } else if is_image(&entry) {
            // Unreadable entries (dangling links) stay in the list and are reported
            // when they are read, like any other bad image.
            files.push(rel.join(name));
        } else {
            *n_ignored += 1;
        }
    }
    Ok(())
}

fn list_file(file: &Path) -> Result<Listing, EmbedError> {
    let bytes = std::fs::read(file).map_err(|e| io(file, "read", e))?;
    let base = file.parent().unwrap_or(Path::new(""));
    let line_err =
        |line: usize, reason: String| EmbedError::InputLine { path: file.to_path_buf(), line, reason };
    let mut rows: Vec<(PathBuf, String, Option<String>)> = Vec::new();
    let mut labeled: Option<bool> = None;
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = std::str::from_utf8(raw).map_err(|_| line_err(i + 1, "not valid UTF-8".into()))?;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (path, label) = match line.split_once('\t') {
            Some((p, l)) if !l.trim().is_empty() && !l.contains('\t') => (p, Some(l.trim().to_owned())),
            Some(_) => return Err(line_err(i + 1, "expected `PATH` or `PATH<TAB>CLASS`".into())),
            None => (line, None),
        };
        if *labeled.get_or_insert(label.is_some()) != label.is_some() {
            return Err(line_err(
                i + 1,
                "some lines have a class and some do not; give a class on every line or on none".into(),
            ));
        }
        if path.trim().is_empty() {
            return Err(line_err(i + 1, "empty path".into()));
        }
        rows.push((base.join(path), path.to_owned(), label));
    }
    if rows.is_empty() {
        return Err(EmbedError::EmptyInput {
            path: file.to_path_buf(),
            reason: "the list names no image".into(),
        });
    }
    let names: BTreeSet<&str> = rows.iter().filter_map(|r| r.2.as_deref()).collect();
    let label_names: Vec<String> = names.iter().map(|&s| s.to_owned()).collect();
    let items = rows
        .iter()
        .map(|(path, relative, label)| ImageItem {
            path: path.clone(),
            relative: relative.clone(),
            label: label
                .as_deref()
                .and_then(|l| label_names.binary_search_by(|n| n.as_str().cmp(l)).ok())
                .unwrap_or(0),
        })
        .collect();
    Ok(Listing { items, label_names, n_ignored: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("imprint-embed-input-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn folder_order_labels_and_ignored_files() {
        let root = scratch("folder");
        for f in ["b/2.png", "b/10.png", "b/sub/1.JPG", "a/z.jpeg", "a/notes.txt", "c/x.gif", "README.md"] {
            touch(&root.join(f));
        }
        std::fs::create_dir_all(root.join("empty")).unwrap();
        let l = list(&ImageInput::Folder(root.clone())).unwrap();
        let rel: Vec<&str> = l.items.iter().map(|i| i.relative.as_str()).collect();
        // Python's sorted() on paths: "10.png" < "2.png" < "sub/1.JPG".
        assert_eq!(rel, ["a/z.jpeg", "b/10.png", "b/2.png", "b/sub/1.JPG", "c/x.gif"]);
        let labels: Vec<usize> = l.items.iter().map(|i| i.label).collect();
        assert_eq!(labels, [0, 1, 1, 1, 2]);
        assert_eq!(l.label_names, ["a", "b", "c", "empty"]);
        assert_eq!(l.n_ignored, 2);
        assert_eq!(l.items[3].path, root.join("b/sub/1.JPG"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn folder_errors() {
        let root = scratch("folder-errors");
        assert!(matches!(list(&ImageInput::Folder(root.join("missing"))), Err(EmbedError::NotFound { .. })));
        let e = list(&ImageInput::Folder(root.clone())).unwrap_err();
        assert!(matches!(e, EmbedError::EmptyInput { .. }) && e.to_string().contains("class"), "{e}");
        touch(&root.join("a/readme.txt"));
        let e = list(&ImageInput::Folder(root.clone())).unwrap_err();
        assert!(e.to_string().contains("no images"), "{e}");
        touch(&root.join("file.png"));
        let e = list(&ImageInput::Folder(root.join("file.png"))).unwrap_err();
        assert!(matches!(e, EmbedError::EmptyInput { .. }), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn list_files() {
        let root = scratch("list");
        let list_path = root.join("images.txt");
        std::fs::write(&list_path, "# comment\nx/b.png\tdog\r\n\n/abs/a.png\tcat\nc.jpg\tdog\n").unwrap();
        let l = list(&ImageInput::ListFile(list_path.clone())).unwrap();
        assert_eq!(l.label_names, ["cat", "dog"]);
        let got: Vec<(&str, usize)> = l.items.iter().map(|i| (i.relative.as_str(), i.label)).collect();
        assert_eq!(got, [("x/b.png", 1), ("/abs/a.png", 0), ("c.jpg", 1)]);
        assert_eq!(l.items[0].path, root.join("x/b.png"));
        assert_eq!(l.items[1].path, PathBuf::from("/abs/a.png"));

        std::fs::write(&list_path, "a.png\nb.png\n").unwrap();
        let l = list(&ImageInput::ListFile(list_path.clone())).unwrap();
        assert!(l.label_names.is_empty() && l.items.iter().all(|i| i.label == 0));

        for (content, line) in
            [("a.png\tcat\nb.png\n", 2), ("a.png\t\n", 1), ("\tcat\n", 1), ("a\tb\tc\n", 1)]
        {
            std::fs::write(&list_path, content).unwrap();
            let e = list(&ImageInput::ListFile(list_path.clone())).unwrap_err();
            assert!(matches!(e, EmbedError::InputLine { line: l, .. } if l == line), "{content:?}: {e}");
        }
        std::fs::write(&list_path, b"ok.png\n\xff\xfe.png\n").unwrap();
        let e = list(&ImageInput::ListFile(list_path.clone())).unwrap_err();
        assert!(matches!(e, EmbedError::InputLine { line: 2, .. }), "{e}");
        std::fs::write(&list_path, "# nothing\n\n").unwrap();
        assert!(matches!(list(&ImageInput::ListFile(list_path.clone())), Err(EmbedError::EmptyInput { .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }
}

//! Which images to embed, in which order, with which labels.
//!
//! A folder follows torchvision's `ImageFolder` convention: one sub-folder per
//! class, class names sorted, label = position in that order; the images of a
//! class may lie in nested folders. Rows follow the sorted relative paths (class
//! folder, then the path inside it, compared component by component, as Python
//! sorts `pathlib` paths). A list file names one image per line, optionally
//! followed by a tab and its class name; rows keep the file's order.
//!
//! Symbolic links: a link to a file is followed wherever it points (only
//! regular files are read, see `image_io`). A class folder may itself be a link,
//! unless it leads to the input folder or above it. Inside a class folder, a
//! link to a folder is followed only when it leads to a folder inside the same
//! class folder, and each folder is read once (a loop ends there); a link that
//! leads out of the class folder, e.g. `cat/up -> ..`, would give other
//! classes' images this class's label, so it is not followed and is reported as
//! a refused input instead. Names that are not valid UTF-8 cannot be stored
//! faithfully in the output, so they are refused too: an image as a refused
//! input, a class folder as an error (it would be a class without a name).

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
    /// Why it is not read, when it is refused while listing (a name that is not
    /// UTF-8, a folder link that leads out of its class folder).
    pub refused: Option<String>,
}

impl ImageItem {
    /// The error of a refused item.
    pub fn refusal(&self) -> Option<EmbedError> {
        self.refused
            .as_ref()
            .map(|reason| EmbedError::Refused { path: self.path.clone(), reason: reason.clone() })
    }
}

const NOT_UTF8: &str = "the path is not valid UTF-8 (paths are stored as UTF-8 text; rename it)";

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
    let root_canonical = std::fs::canonicalize(root).map_err(|e| io(root, "open folder", e))?;
    let mut classes = BTreeMap::new();
    let mut n_ignored = 0;
    for entry in read_dir_sorted(root)? {
        if std::fs::metadata(&entry).map(|m| m.is_dir()).unwrap_or(false) {
            let Some(name) = entry.file_name().and_then(|n| n.to_str()) else {
                return Err(EmbedError::Refused {
                    path: entry,
                    reason: "the class folder's name is not valid UTF-8 (class names are stored as \
                             UTF-8 text; rename it)"
                        .into(),
                });
            };
            classes.insert(name.to_owned(), entry);
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
        let class_canonical = std::fs::canonicalize(&dir).map_err(|e| io(&dir, "open folder", e))?;
        let mut files = Vec::new();
        if root_canonical.starts_with(&class_canonical) {
            // A link to the input folder (or above): it would hold every class.
            files.push((
                PathBuf::new(),
                Some(format!(
                    "a link to {}, the input folder or a folder above it; not followed",
                    class_canonical.display()
                )),
            ));
        } else {
            let mut visited = HashSet::new();
            let mut walker = Walker {
                class_root: &class_canonical,
                visited: &mut visited,
                files: &mut files,
                n_ignored: &mut n_ignored,
            };
            walker.walk(&dir, &PathBuf::new(), 0)?;
        }
        files.sort();
        for (rel, refused) in files {
            let relative = std::iter::once(name.clone())
                .chain(rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join("/");
            let refused = refused.or_else(|| rel.to_str().is_none().then(|| NOT_UTF8.to_owned()));
            items.push(ImageItem { path: dir.join(&rel), relative, label, refused });
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

/// Collects the image files of one class folder.
struct Walker<'a> {
    /// The class folder, canonical: folder links must stay inside it.
    class_root: &'a Path,
    /// Folders read so far, canonical (a link loop ends at the second visit).
    visited: &'a mut HashSet<PathBuf>,
    /// Paths relative to the class folder, with the reason for refused ones.
    files: &'a mut Vec<(PathBuf, Option<String>)>,
    n_ignored: &'a mut usize,
}

impl Walker<'_> {
    fn walk(&mut self, dir: &Path, rel: &Path, depth: usize) -> Result<(), EmbedError> {
        let canonical = std::fs::canonicalize(dir).map_err(|e| io(dir, "open folder", e))?;
        if !canonical.starts_with(self.class_root) {
            self.files.push((
                rel.to_path_buf(),
                Some(format!(
                    "a link to a folder outside the class folder ({}); not followed",
                    canonical.display()
                )),
            ));
            return Ok(());
        }
        if !self.visited.insert(canonical) {
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
                self.walk(&entry, &rel.join(&name), depth + 1)?;
            } else if is_image(&entry) {
                // Unreadable entries (dangling links, pipes) stay in the list and are
                // reported when they are read, like any other bad image.
                self.files.push((rel.join(name), None));
            } else {
                *self.n_ignored += 1;
            }
        }
        Ok(())
    }
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
            refused: None,
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

    #[cfg(unix)]
    #[test]
    fn folder_links_that_leave_the_class_folder_are_not_followed() {
        use std::os::unix::fs::symlink;
        let root = scratch("links");
        for f in ["a/1.png", "a/sub/2.png", "b/3.png", "outside/4.png"] {
            touch(&root.join(f));
        }
        // Leaves the class folder: up to the input folder, to another class, out of the input.
        symlink("..", root.join("a/up")).unwrap();
        symlink("../../b", root.join("a/sub/to_b")).unwrap();
        // Stays inside: a loop back to the class folder, an alias of a sub-folder.
        symlink("..", root.join("a/sub/loop")).unwrap();
        symlink("sub", root.join("a/alias")).unwrap();
        // A file link is followed wherever it points.
        symlink("../outside/4.png", root.join("b/4.png")).unwrap();
        let l = list(&ImageInput::Folder(root.clone())).unwrap();
        let got: Vec<(&str, usize, bool)> =
            l.items.iter().map(|i| (i.relative.as_str(), i.label, i.refused.is_some())).collect();
        assert_eq!(
            got,
            [
                ("a/1.png", 0, false),
                ("a/alias/2.png", 0, false),
                ("a/alias/to_b", 0, true),
                ("a/up", 0, true),
                ("b/3.png", 1, false),
                ("b/4.png", 1, false),
                ("outside/4.png", 2, false),
            ]
        );
        let e = l.items[3].refusal().unwrap();
        assert!(
            matches!(&e, EmbedError::Refused { reason, .. } if reason.contains("outside the class folder")),
            "{e}"
        );
        // A class folder that is a link to the input folder would hold every class.
        symlink(".", root.join("all")).unwrap();
        let l = list(&ImageInput::Folder(root.clone())).unwrap();
        let all: Vec<&ImageItem> = l.items.iter().filter(|i| i.relative.starts_with("all")).collect();
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(all[0].refused.as_deref().is_some_and(|r| r.contains("input folder")), "{all:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn names_that_are_not_utf8_are_refused() {
        use std::os::unix::ffi::OsStrExt;
        let root = scratch("utf8");
        touch(&root.join("a/ok.png"));
        touch(&root.join("a").join(std::ffi::OsStr::from_bytes(b"caf\xe9.png")));
        let l = list(&ImageInput::Folder(root.clone())).unwrap();
        assert_eq!(l.items.len(), 2);
        let bad = &l.items[0];
        assert!(bad.relative.contains('\u{fffd}'), "{bad:?}");
        let e = bad.refusal().unwrap();
        assert!(e.to_string().contains("not valid UTF-8"), "{e}");
        assert!(l.items[1].refused.is_none());
        // A class folder: refused as a whole (its name is the class).
        touch(&root.join(std::ffi::OsStr::from_bytes(b"\xff")).join("x.png"));
        let e = list(&ImageInput::Folder(root.clone())).unwrap_err();
        assert!(matches!(&e, EmbedError::Refused { reason, .. } if reason.contains("UTF-8")), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}

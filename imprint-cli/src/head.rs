//! Head files: the library's safetensors format, or its JSON text form.
//!
//! Writing, the extension decides: `.json` writes the JSON text form,
//! anything else (`.safetensors` by convention) the safetensors form.
//! Reading, the content decides (a JSON head starts with `{`), so a renamed
//! file still loads. Every write goes through [`imprint_data::write_atomic`]:
//! a temporary file in the same folder, synced, then moved into place, so a
//! head on disk is always complete, old or new.

use std::path::Path;

use imprint::Classifier;

use crate::error::{CliError, Result};
use crate::input::read_file;

/// How a head is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Safetensors tensors plus a JSON header.
    Safetensors,
    /// The same content as JSON text.
    Json,
}

impl Encoding {
    /// The encoding a head written to `path` gets (its extension decides).
    pub fn for_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Safetensors,
        }
    }

    /// The encoding of stored bytes.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Self::Json,
            _ => Self::Safetensors,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Safetensors => "safetensors",
            Self::Json => "json",
        }
    }
}

/// A loaded head with what `inspect` reports about its file.
#[derive(Debug)]
pub struct LoadedHead {
    /// The classifier.
    pub classifier: Classifier,
    /// How the file stores it.
    pub encoding: Encoding,
    /// The file's size in bytes.
    pub file_size: u64,
    /// The safetensors tensors as (name, dtype, shape), in name order (empty for JSON heads).
    pub tensors: Vec<(String, String, Vec<usize>)>,
}

/// Loads the head at `path`, checking it completely.
///
/// # Errors
/// A missing, empty or unreadable file, and every error of the library's
/// loaders (not a head, a newer format version, inconsistent tensors, ...).
pub fn load(path: &Path) -> Result<Classifier> {
    load_with_details(path).map(|h| h.classifier)
}

/// [`load`], also returning the file's encoding, size and tensors.
pub fn load_with_details(path: &Path) -> Result<LoadedHead> {
    let bytes = read_file(path)?;
    let head = |source| CliError::Head { path: path.to_path_buf(), source };
    let encoding = Encoding::of_bytes(&bytes);
    let (classifier, tensors) = match encoding {
        Encoding::Json => {
            let text = std::str::from_utf8(&bytes).map_err(|e| {
                CliError::input(
                    path,
                    format!("not a head: invalid UTF-8 in JSON text at byte {}", e.valid_up_to()),
                )
            })?;
            (Classifier::from_json(text).map_err(head)?, Vec::new())
        }
        Encoding::Safetensors => {
            let classifier = Classifier::from_bytes(&bytes).map_err(head)?;
            // The library accepted the bytes, so they are valid safetensors.
            let mut tensors: Vec<(String, String, Vec<usize>)> =
                safetensors::SafeTensors::deserialize(&bytes)
                    .map(|t| {
                        t.tensors()
                            .into_iter()
                            .map(|(n, v)| (n, format!("{:?}", v.dtype()), v.shape().to_vec()))
                            .collect()
                    })
                    .unwrap_or_default();
            tensors.sort();
            (classifier, tensors)
        }
    };
    Ok(LoadedHead { classifier, encoding, file_size: bytes.len() as u64, tensors })
}

/// Writes `classifier` to `path` atomically in the encoding its extension
/// chooses; an existing file is replaced only with `overwrite`. Returns the
/// number of bytes written.
///
/// # Errors
/// [`CliError::Exists`] without `overwrite`; encoding and I/O errors. On
/// error nothing is written and an existing file is untouched.
pub fn save(classifier: &Classifier, path: &Path, overwrite: bool) -> Result<u64> {
    let bytes = match Encoding::for_path(path) {
        Encoding::Json => classifier.to_json().map(String::into_bytes),
        Encoding::Safetensors => classifier.to_bytes(),
    }
    .map_err(CliError::imprint(format!("{}: cannot encode the head", path.display())))?;
    imprint_data::write_atomic(path, &bytes, overwrite).map_err(|e| match e {
        imprint_data::DataError::AlreadyExists { path } => CliError::Exists { path },
        other => CliError::Data(other),
    })?;
    Ok(bytes.len() as u64)
}

/// Fails early when `path` exists and may not be replaced.
pub fn check_writable(path: &Path, overwrite: bool) -> Result<()> {
    if !overwrite && path.exists() {
        return Err(CliError::Exists { path: path.to_path_buf() });
    }
    if path.is_dir() {
        return Err(CliError::input(path, "is a directory, not a file"));
    }
    Ok(())
}

/// Sizes for people: `812 B`, `3.4 KiB`, `1.21 MiB`, `2.50 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.2} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_and_sizes() {
        assert_eq!(Encoding::for_path(Path::new("h.JSON")), Encoding::Json);
        assert_eq!(Encoding::for_path(Path::new("h.safetensors")), Encoding::Safetensors);
        assert_eq!(Encoding::of_bytes(b"  {\"format\""), Encoding::Json);
        assert_eq!(Encoding::of_bytes(&[8, 0, 0, 0, 0, 0, 0, 0, b'{']), Encoding::Safetensors);
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(1536), "1.50 KiB");
        assert_eq!(human_size(3 << 20), "3.00 MiB");
    }
}

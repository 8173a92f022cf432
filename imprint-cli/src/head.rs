//! Head files: the library's safetensors format, or its JSON text form.
//!
//! Writing, the extension decides: `.json` writes the JSON text form,
//! anything else (`.safetensors` by convention) the safetensors form.
//! Reading, the content decides ([`imprint::HeadEncoding::of_bytes`]), so a
//! renamed file still loads. A head is checked to load back before it is
//! written, and every write goes through [`imprint_data::write_atomic`]: a
//! temporary file next to the head, synced, then moved into place, so a head
//! on disk is always complete, old or new. Commands that replace a head hold
//! its [`imprint_data::UpdateLock`] from reading to replacing it, so
//! concurrent updates happen one after the other.

use std::path::Path;
use std::time::Duration;

use imprint::Classifier;
pub use imprint::HeadEncoding as Encoding;

use crate::Global;
use crate::error::{CliError, Result};
use crate::input::read_file;

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
    let encoding = Encoding::of_bytes(&bytes).map_err(head)?;
    let classifier = Classifier::decode(&bytes).map_err(head)?;
    let mut tensors: Vec<(String, String, Vec<usize>)> = match encoding {
        Encoding::Json => Vec::new(),
        // The library accepted the bytes, so they are valid safetensors.
        Encoding::Safetensors => safetensors::SafeTensors::deserialize(&bytes)
            .map(|t| {
                t.tensors()
                    .into_iter()
                    .map(|(n, v)| (n, format!("{:?}", v.dtype()), v.shape().to_vec()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    tensors.sort();
    Ok(LoadedHead { classifier, encoding, file_size: bytes.len() as u64, tensors })
}

/// Writes `classifier` to `path` atomically in the encoding its extension
/// chooses, after checking that the bytes load back to the same head; an
/// existing file is replaced only with `overwrite`. Returns the number of
/// bytes written.
///
/// # Errors
/// [`CliError::Exists`] without `overwrite`; `-` (a head is binary, not for
/// standard output); encoding errors (a head that would not load back) and
/// I/O errors. On error nothing is written and an existing file is untouched.
pub fn save(classifier: &Classifier, path: &Path, overwrite: bool) -> Result<u64> {
    check_not_stdout(path)?;
    let bytes = classifier
        .encode(Encoding::for_path(path))
        .map_err(CliError::imprint(format!("{}: cannot write the head", path.display())))?;
    imprint_data::write_atomic(path, &bytes, overwrite).map_err(CliError::from_write)?;
    Ok(bytes.len() as u64)
}

/// Fails early when `path` exists and may not be replaced, or cannot be a head file.
pub fn check_writable(path: &Path, overwrite: bool) -> Result<()> {
    check_not_stdout(path)?;
    if !overwrite && path.exists() {
        return Err(CliError::Exists { path: path.to_path_buf() });
    }
    if path.is_dir() {
        return Err(CliError::input(path, "is a directory, not a file"));
    }
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        let what = imprint_data::file_kind(&meta.file_type());
        return Err(CliError::input(path, format!("is {what}, not a regular file; refusing to replace it")));
    }
    Ok(())
}

/// Refuses `-`: heads are binary files, never written to standard output.
fn check_not_stdout(path: &Path) -> Result<()> {
    if path.as_os_str() == "-" {
        return Err(CliError::Usage(
            "a head cannot be written to standard output ('-'); give a file name such as head.safetensors"
                .into(),
        ));
    }
    Ok(())
}

/// How long a command waits for another process's update of the same head.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct WaitArgs {
    /// Seconds to wait while another process updates the same head file (0: fail at once).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0, value_parser = parse_wait)]
    pub wait: f64,
}

fn parse_wait(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v >= 0.0 && Duration::try_from_secs_f64(v).is_ok() => Ok(v),
        _ => Err(format!("'{text}' is not a number of seconds (0 or more)")),
    }
}

/// Takes the update lock of the head file `path` (when it exists) for a
/// read-modify-replace, waiting up to `wait_secs` seconds for another
/// process's update of it to finish, and saying so on stderr.
///
/// # Errors
/// [`CliError::Locked`] when the wait runs out; I/O errors.
pub fn lock_for_update(
    path: &Path,
    wait_secs: f64,
    global: &Global,
) -> Result<Option<imprint_data::UpdateLock>> {
    let wait = Duration::try_from_secs_f64(wait_secs)
        .map_err(|_| CliError::Usage(format!("--wait {wait_secs}: give seconds, 0 or more")))?;
    imprint_data::lock_for_update(path, wait, || {
        global.note(format_args!(
            "waiting up to {wait_secs} s for another process to finish updating {}",
            path.display()
        ));
    })
    .map_err(|e| match e {
        imprint_data::DataError::Locked { path, waited } => CliError::Locked { path, waited },
        other => CliError::Data(other),
    })
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
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(1536), "1.50 KiB");
        assert_eq!(human_size(3 << 20), "3.00 MiB");
    }
}

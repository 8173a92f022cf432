//! A folder of result records, safe against crashes and restarts.
//!
//! Records are written atomically with [`write_atomic`]: the text goes to a
//! hidden temporary file in the same folder, is flushed to disk, and is then
//! moved to `{id}.json` (by a link that fails if the name exists when
//! overwriting is not allowed, so an existing record is never replaced even
//! by a concurrent writer). A run killed half-way leaves at most a hidden
//! `.{id}.json.*.tmp` file, which readers ignore.

use std::path::{Path, PathBuf};

use imprint_compat::{Combination, Record, load_all};
use imprint_core::RngMode;
use imprint_data::{DataError, write_atomic};

use crate::error::{BenchError, Result};

/// The hidden file that marks a folder of reference-mode records.
const RNG_MARKER: &str = ".rng-mode";
/// Its content.
const REFERENCE: &str = "reference";

/// A results folder (`res_dir` of the reference).
#[derive(Debug, Clone)]
pub struct ResultStore {
    dir: PathBuf,
    overwrite: bool,
}

impl ResultStore {
    /// A store in `dir` (created if missing). With `overwrite`, [`ResultStore::write`]
    /// replaces existing records; otherwise it refuses.
    pub fn open(dir: impl Into<PathBuf>, overwrite: bool) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| BenchError::Io {
            path: dir.clone(),
            action: "create directory",
            source,
        })?;
        Ok(Self { dir, overwrite })
    }

    /// [`ResultStore::open`] for records of one random-number mode. Record
    /// ids do not name the mode, so a folder of reference-mode records says
    /// so in a hidden file (`.rng-mode`, written on first use), and the two
    /// modes never mix in one folder: a reference-mode run refuses a folder
    /// of portable records, and a portable run a reference-mode folder.
    pub fn open_for(dir: impl Into<PathBuf>, overwrite: bool, rng_mode: RngMode) -> Result<Self> {
        let store = Self::open(dir, overwrite)?;
        let marker = store.dir.join(RNG_MARKER);
        let reference = match std::fs::read_to_string(&marker) {
            Ok(found) => found.trim() == REFERENCE,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(source) => return Err(BenchError::Io { path: marker, action: "read", source }),
        };
        let mixed = |held: &str, asked: &str| BenchError::InvalidOption {
            option: "--rng".into(),
            value: asked.into(),
            reason: format!(
                "{} holds records of the {held} random-number mode; write to another folder",
                store.dir.display()
            ),
        };
        match (rng_mode, reference) {
            (RngMode::Portable, true) => Err(mixed(REFERENCE, "portable")),
            (RngMode::Portable, false) | (RngMode::Reference, true) => Ok(store),
            (RngMode::Reference, false) => {
                if !store.load()?.is_empty() {
                    return Err(mixed("portable", REFERENCE));
                }
                write_atomic(&marker, REFERENCE.as_bytes(), false)
                    .map_err(|source| BenchError::Data { context: "records folder".into(), source })?;
                Ok(store)
            }
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the record of `combination`.
    pub fn path_of(&self, combination: &Combination) -> PathBuf {
        self.dir.join(combination.id().file_name())
    }

    /// Whether `combination` already has a record to keep (the reference's
    /// skip test): never for a store that overwrites, whose every record is
    /// recomputed.
    pub fn is_done(&self, combination: &Combination) -> bool {
        !self.overwrite && self.path_of(combination).is_file()
    }

    /// Writes a record atomically (see [`write_atomic`]). Errors with
    /// [`BenchError::RecordExists`] if the record exists and the store was
    /// not opened with `overwrite`.
    pub fn write(&self, record: &Record) -> Result<PathBuf> {
        let target = self.dir.join(record.id().file_name());
        write_atomic(&target, record.to_json_text().as_bytes(), self.overwrite).map_err(|e| match e {
            DataError::AlreadyExists { path } => BenchError::RecordExists { path },
            other => BenchError::Data { context: format!("record {}", record.id()), source: other },
        })?;
        Ok(target)
    }

    /// Loads every record of this store; see [`load_all`].
    pub fn load(&self) -> Result<Vec<Record>> {
        Ok(load_all(&self.dir)?)
    }
}

#[cfg(test)]
mod tests {
    use imprint_compat::{ExperimentConfig, ExperimentGrid, TaskF1s};

    use super::*;

    fn sample_record() -> Record {
        let config =
            ExperimentConfig::from_yaml_str(r#"{"proxy_methods": ["kmeans"], "ks": [5]}"#, "t.yaml").unwrap();
        let c = ExperimentGrid::new(&config).combinations()[0].clone();
        let f1 = TaskF1s {
            remapped_class_index: vec![0, 1],
            one_vs_rest_f1: vec![90.5, 88.0],
            class_size: vec![10, 12],
        };
        Record::new(c, 89.25, f1, 1.5, 0.25)
    }

    #[test]
    fn write_skip_and_overwrite_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path(), false).unwrap();
        let r = sample_record();
        assert!(!store.is_done(&r.combination));
        store.write(&r).unwrap();
        assert!(store.is_done(&r.combination));
        assert!(matches!(store.write(&r), Err(BenchError::RecordExists { .. })));
        assert_eq!(store.load().unwrap(), vec![r.clone()]);
        let over = ResultStore::open(dir.path(), true).unwrap();
        // An overwriting store recomputes every record, existing or not.
        assert!(!over.is_done(&r.combination));
        let mut r2 = r.clone();
        r2.task_acc = 50.0;
        over.write(&r2).unwrap();
        assert_eq!(store.load().unwrap()[0].task_acc, 50.0);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn portable_and_reference_records_never_share_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        ResultStore::open_for(dir.path(), false, RngMode::Portable).unwrap().write(&sample_record()).unwrap();
        assert!(ResultStore::open_for(dir.path(), false, RngMode::Portable).is_ok());
        let err = ResultStore::open_for(dir.path(), false, RngMode::Reference).unwrap_err();
        assert!(err.to_string().contains("portable"), "{err}");
        let other = tempfile::tempdir().unwrap();
        ResultStore::open_for(other.path(), false, RngMode::Reference).unwrap();
        assert!(ResultStore::open_for(other.path(), false, RngMode::Portable).is_err());
        assert_eq!(ResultStore::open(other.path(), false).unwrap().load().unwrap(), vec![]);
    }
}

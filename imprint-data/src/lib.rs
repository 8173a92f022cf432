//! Embedding files, tasks and synthetic data for weight imprinting.
//!
//! * **Files** in the layout of the reference implementation (DATEXIS/IMPRINT):
//!   `ROOT/embeddings/{Dataset}/{backbone}/{train|test}/embeddings_{Dataset}_{backbone}_{split}.h5`
//!   ([`reference_path`]; ImageNet's test split is `val`), holding `embeddings`
//!   (float32, `n x dim`) and `labels` (int32, `n`). [`read_embeddings`] reads files
//!   written by h5py (contiguous, chunked, gzip, `libver="latest"` up to HDF5 1.14's
//!   format) and validates them; [`write_embeddings`] writes them atomically. The HDF5
//!   code is pure Rust (`hdf5-pure`): no system library is needed.
//! * **Tasks** ([`TaskSpec`] -> [`Task`]): data sets concatenated with label offsets
//!   (offset of data set `i` = number of distinct training labels of data sets `0..i`),
//!   then a [`LabelMapping`] (unlisted labels dropped, "m in 1" merges), then a task
//!   split, then seeded per-class few-shot presampling ([`FewShot`]).
//! * **Synthetic data** ([`SyntheticParams`]): seeded Gaussian mixtures with `m` modes
//!   per class whose spreads steer within- versus between-class scatter (NC1).
//!
//! Every fallible function returns [`DataError`], whose message names the file (or task
//! and class) and the problem; no input makes this crate panic.
//!
//! ```
//! use imprint_data::{
//!     read_embeddings, write_embeddings, reference_path, LabelMapping, FewShot, SourceData,
//!     Split, SyntheticParams, TaskSpec, WriteOptions,
//! };
//! # fn main() -> Result<(), imprint_data::DataError> {
//! let root = std::env::temp_dir().join(format!("imprint-data-doc-{}", std::process::id()));
//! // Two classes with two modes each, written to and read back from the layout.
//! let data = SyntheticParams::new(2, 2, 8).n_train(20).n_test(10).generate(7)?;
//! for (split, part) in [(Split::Train, &data.train), (Split::Test, &data.test)] {
//!     let path = reference_path(&root, "Toy", "none", split);
//!     write_embeddings(&path, part, &WriteOptions::new().overwrite(true))?;
//! }
//! let toy = SourceData::load(&root, "Toy", "none")?;
//! assert_eq!(toy.train().n_samples(), 40);
//!
//! // Merge both classes into one and keep 5 shots of it.
//! let task = TaskSpec::new("merged")
//!     .mapping(LabelMapping::from_groups(&[vec![0, 1]])?)
//!     .shots(FewShot::PerClass(5))
//!     .seed(17)
//!     .build(&[toy])?;
//! assert_eq!(task.n_classes(), 1);
//! assert_eq!(task.classes()[0].train().nrows(), 5);
//! assert_eq!(task.test_labels().len(), 20);
//! # std::fs::remove_dir_all(&root).ok();
//! # Ok(())
//! # }
//! ```

mod atomic;
mod attrs;
mod embeddings;
mod error;
mod layout;
mod lock;
mod mapping;
mod presample;
mod read;
mod reference_presample;
mod synthetic;
mod task;
mod weibull;
mod write;

pub use atomic::{file_kind, remove_pending_temporaries, write_atomic};
pub use attrs::{AttrValue, Attributes, LABEL_NAMES};
pub use embeddings::Embeddings;
pub use error::{DataError, Origin};
pub use layout::{Split, reference_path};
pub use lock::{UpdateLock, lock_for_update};
pub use mapping::LabelMapping;
pub use presample::{FewShot, PresamplingMethod, presample, presample_indices};
pub use read::{EMBEDDINGS_DATASET, EmbeddingFile, LABELS_DATASET, read_embeddings};
pub use reference_presample::{Prefilter, Presampling, reference_presample_indices};
pub use synthetic::{SyntheticData, SyntheticParams};
pub use task::{ClassData, SourceData, Task, TaskSpec};
pub use weibull::{WeibullMin, weibull_keep};
pub use write::{WriteOptions, write_embeddings};

//! Compatibility with the reference implementation of weight imprinting
//! (DATEXIS/IMPRINT): its config files, its experiment grid, its result
//! records and ids, and the Python behaviour they depend on.
//!
//! # Configs
//! [`config::ExperimentConfig`] reads the reference's config files
//! (`src/config/*.yaml`): JSON-style YAML whose comments are cut at the first
//! `#` of each line (like the reference, the cut also removes the line break),
//! with trailing commas and integer mapping keys. Missing keys take the
//! reference's defaults; everything else that is off (unknown keys or method
//! names, wrong types, out-of-range `k`/`m`, deep nesting, non-UTF-8 bytes)
//! is a [`CompatError`] naming the file, key and value. The
//! `RANDOM_CLASS_REMAPPINGS` placeholder expands to the reference's 100 fixed
//! random ImageNet "i in 1" remappings, reproduced bit for bit
//! ([`imagenet`], [`pyrandom`]).
//!
//! # The grid
//! [`grid::ExperimentGrid`] expands a config into the same combinations, in the
//! same order, as the reference's `run_imprinting_experiments.py`: data
//! combinations (backbone x datasets x label remapping x task split; `map*`
//! remappings only for `["ImageNet"]`), each with the scikit-learn
//! `ParameterGrid` product of the method parameters (keys sorted, last key
//! fastest), pruned by the reference's `filter_combinations` rules, de-duplicated
//! keeping first occurrences, and repeated per seed. [`shard::Shard`] assigns
//! combination `i` to shard `i % N`.
//!
//! # Records
//! One JSON file per combination, `{id}.json`, where the id is the reference's
//! `consistent_id`: MD5 of Python's `json.dumps(combination, sort_keys=True)`
//! over the 19 input keys, read as a 128-bit integer and printed in decimal
//! ([`record::RecordId`]). Records hold the input keys plus `task_acc`,
//! `task_f1s`, `label_mapping_desc`, `task_split`, `task_desc`, `runtime`,
//! `created_at` (UTC here) and `total_GEN_time`, laid out like the reference's
//! `json.dump(..., indent=4)`. [`load_all`] reads ours and the reference's,
//! failing loudly on any corrupt file (`imprint-bench` writes them).
//!
//! # Example
//! ```
//! use imprint_compat::config::ExperimentConfig;
//! use imprint_compat::grid::ExperimentGrid;
//! use imprint_compat::shard::Shard;
//!
//! # fn main() -> Result<(), imprint_compat::CompatError> {
//! let text = r#"{
//!     "backbones": ["resnet18",], # "vit_b_16"],
//!     "seeds": [17121997, 123987],
//!     "proxy_methods": ["mean", "kmeans",],
//!     "ks": [1, 5, 20],
//! }"#;
//! let config = ExperimentConfig::from_yaml_str(text, "example.yaml")?;
//! let grid = ExperimentGrid::new(&config);
//! // mean (k forced to 1) + kmeans with k = 1, 5, 20, times two seeds.
//! assert_eq!(grid.len(), 8);
//! let first = &grid.combinations()[0];
//! assert_eq!(first.params.proxy_method, "mean");
//! assert_eq!(first.id().file_name().len(), first.id().to_string().len() + 5);
//! let shard = Shard::parse("1/3")?;
//! assert_eq!(shard.select(grid.combinations()).count(), 3);
//! println!("{}", grid.dry_run());
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod error;
pub mod grid;
pub mod imagenet;
pub mod names;
pub mod pyjson;
pub mod pyrandom;
pub mod read;
pub mod record;
pub mod shard;
pub mod yaml;

pub use config::ExperimentConfig;
pub use error::{CompatError, Result};
pub use grid::{Combination, DataCombination, DryRun, ExperimentGrid, MethodParams};
pub use read::{load_all, read_record};
pub use record::{Record, RecordId, TaskF1s};
pub use shard::Shard;

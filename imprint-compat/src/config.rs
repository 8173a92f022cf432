//! Experiment config files in the reference's format (`src/config/*.yaml`).
//!
//! The text is read like the reference's `load_config` (comments cut from the
//! first `#` of a line, then YAML; see [`crate::yaml`]). Every key is optional;
//! a missing key takes the reference's default (from `generate_combinations`
//! and `run_imprinting_experiments.py`):
//!
//! | key | default |
//! |---|---|
//! | `backbones` | `["resnet18"]` |
//! | `datasets` | `[["MNIST"]]` |
//! | `label_remappings` | `{"none": {}}` |
//! | `task_splits` | `{"all": [[0, 1, ..., 9]]}` |
//! | `seeds` | `[17121997, 123987, 12412312]` |
//! | `normalize_input_data` | `["l2"]` |
//! | `normalize_for_proxy_selection` | `["none"]` |
//! | `presampling_methods` | `["all"]` |
//! | `presampling_quantiles_values` | `[(0, 1.0)]` (a Python tuple) |
//! | `presampling_fewshot_values` | `[-1]` |
//! | `proxy_methods` | required (the reference's default `"lmeans"` is no method) |
//! | `ks` | `[20]` |
//! | `normalize_weights` | `["l2"]` |
//! | `aggregation_methods` | `["max"]` |
//! | `aggregation_distance_functions` | `["inner_product"]` |
//! | `aggregation_weightings` | `["uniform"]` |
//! | `ms` | `[-1]` |
//!
//! Stricter than the reference (which prints an error and silently falls back
//! to all defaults when anything goes wrong): unknown keys, wrong types,
//! unknown method names, empty lists, `k`, `m` or few-shot values that are 0,
//! below -1 or above [`MAX_K_OR_M`], seeds outside `0..2^32` (numpy's range)
//! or repeated, duplicate labels in a split, and names with path separators
//! are errors naming the key and the value.

use std::path::Path;

use crate::error::{CompatError, Result};
use crate::imagenet::random_class_remappings;
use imprint_core::{AggregationMethod, Distance, InputNorm, WeightNorm, Weighting};
use imprint_data::{LabelMapping, PresamplingMethod};

use crate::names::{self, REFERENCE_ZERO_POLICY};
use crate::pyjson::PyJson;
use crate::yaml::{Node, decode_utf8, parse_config_text};

/// Largest accepted `k`, `m` or few-shot value.
pub const MAX_K_OR_M: i64 = 1_000_000;

/// Largest accepted grid size before pruning (data combinations x parameter
/// product x seeds); larger configs are rejected instead of exhausting memory.
pub const MAX_GRID_SIZE: u128 = 50_000_000;

/// Largest accepted estimate, in bytes, of the data the expanded grid copies:
/// every data combination holds its own copy of its backbone and dataset
/// names, mapping and task split, so a few kilobytes of long lists multiply
/// (a 3 KB config took 630 MB to expand, a 4 KB one 2.5 GB, before this bound;
/// see [`ExperimentConfig::data_copy_bytes`]). The reference's largest configs
/// need a few MB.
pub const MAX_GRID_DATA_BYTES: u128 = 1 << 28;

/// Largest accepted class label in mappings and task splits.
pub const MAX_LABEL: i64 = 1 << 31;

/// The placeholder name that expands to the reference's random ImageNet remappings.
pub const RANDOM_CLASS_REMAPPINGS: &str = "RANDOM_CLASS_REMAPPINGS";

/// The keys a config file may contain.
pub const KNOWN_KEYS: &[&str] = &[
    "backbones",
    "datasets",
    "label_remappings",
    "task_splits",
    "seeds",
    "normalize_input_data",
    "normalize_for_proxy_selection",
    "presampling_methods",
    "presampling_quantiles_values",
    "presampling_fewshot_values",
    "proxy_methods",
    "ks",
    "normalize_weights",
    "aggregation_methods",
    "aggregation_distance_functions",
    "aggregation_weightings",
    "ms",
];

/// A number as Python holds it: `int` and `float` print differently
/// (`1` vs `1.0`), which changes record ids and the reference's de-duplication.
#[derive(Debug, Clone, Copy)]
pub enum Number {
    /// A Python `int`.
    Int(i64),
    /// A Python `float`.
    Float(f64),
}

impl Number {
    /// The numeric value.
    pub fn value(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    /// The Python value for hashing.
    pub fn to_py_json(self) -> PyJson {
        match self {
            Number::Int(i) => PyJson::Int(i),
            Number::Float(f) => PyJson::Float(f),
        }
    }
}

impl PartialEq for Number {
    /// Equal when Python's `str()` is equal (same type and value).
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}

impl Eq for Number {}

impl std::hash::Hash for Number {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            Number::Int(i) => (0u8, *i).hash(state),
            Number::Float(f) => (1u8, f.to_bits()).hash(state),
        }
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => f.write_str(&crate::pyjson::py_float_repr(*x)),
        }
    }
}

/// A `presampling_quantiles_value` `(low, high)`.
///
/// The reference keeps values from the config file as Python lists, while its
/// default and the value forced for `presampling_method = "all"` are the tuple
/// `(0, 1.0)`. The distinction is observable: its rule "weibull with (0, 1.0)
/// is dropped" compares with a tuple, so it only ever drops the default, never
/// a `[0, 1.0]` from a file. We keep the origin to reproduce that exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuantileRange {
    low: Number,
    high: Number,
    is_reference_tuple: bool,
}

impl QuantileRange {
    /// The reference's tuple `(0, 1.0)` (the default, and forced for "all").
    pub const FULL: QuantileRange =
        QuantileRange { low: Number::Int(0), high: Number::Float(1.0), is_reference_tuple: true };

    /// A range as written in a config file (a Python list).
    pub fn from_config(low: Number, high: Number) -> Self {
        Self { low, high, is_reference_tuple: false }
    }

    /// The lower quantile.
    pub fn low(&self) -> Number {
        self.low
    }

    /// The upper quantile.
    pub fn high(&self) -> Number {
        self.high
    }

    /// Whether this is the reference's tuple `(0, 1.0)` rather than a list from a file.
    pub fn is_reference_tuple(&self) -> bool {
        self.is_reference_tuple
    }

    /// The reference's test `value == (0, 1.0)`: true only for tuples with
    /// values 0 and 1 (Python: `[0, 1.0] == (0, 1.0)` is false).
    pub fn equals_full_tuple(&self) -> bool {
        self.is_reference_tuple && self.low.value() == 0.0 && self.high.value() == 1.0
    }

    /// The Python value for hashing (tuples and lists are both JSON arrays).
    pub fn to_py_json(&self) -> PyJson {
        PyJson::List(vec![self.low.to_py_json(), self.high.to_py_json()])
    }
}

/// One entry of `label_remappings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remapping {
    /// A named mapping written in the file.
    Explicit {
        /// Its name (`mapping_name` in records).
        name: String,
        /// The mapping.
        mapping: LabelMapping,
    },
    /// The `RANDOM_CLASS_REMAPPINGS` placeholder (its value in the file is ignored,
    /// as in the reference).
    RandomClassRemappings,
}

/// A named task split: the classes of each task (the reference runs the first).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskSplits {
    name: String,
    splits: Vec<Vec<i64>>,
}

impl TaskSplits {
    /// A named split; labels must be non-negative and unique within a task.
    pub fn new(name: impl Into<String>, splits: Vec<Vec<i64>>) -> Result<Self> {
        let name = name.into();
        check_splits(&name, &splits, "<caller>")?;
        Ok(Self { name, splits })
    }

    /// The name (`task_name` in records).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tasks' class lists (`task_splits` in records).
    pub fn splits(&self) -> &[Vec<i64>] {
        &self.splits
    }
}

fn check_splits(name: &str, splits: &[Vec<i64>], source_name: &str) -> Result<()> {
    let invalid = |reason: String| CompatError::InvalidValue {
        source_name: source_name.to_owned(),
        key: format!("task_splits.{name}"),
        value: format!("{splits:?}"),
        reason,
    };
    if splits.is_empty() || splits.iter().any(Vec::is_empty) {
        return Err(invalid("every split needs at least one task and every task at least one class".into()));
    }
    for task in splits {
        let mut seen = std::collections::HashSet::new();
        for &label in task {
            if !(0..=MAX_LABEL).contains(&label) {
                return Err(invalid(format!("label {label} is outside 0..={MAX_LABEL}")));
            }
            if !seen.insert(label) {
                return Err(invalid(format!("label {label} occurs twice in one task")));
            }
        }
    }
    Ok(())
}

/// A parsed, validated experiment config.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentConfig {
    source_name: String,
    backbones: Vec<String>,
    datasets: Vec<Vec<String>>,
    label_remappings: Vec<Remapping>,
    task_splits: Vec<TaskSplits>,
    seeds: Vec<u64>,
    normalize_input_data: Vec<InputNorm>,
    normalize_for_proxy_selection: Vec<InputNorm>,
    presampling_methods: Vec<PresamplingMethod>,
    presampling_quantiles_values: Vec<QuantileRange>,
    presampling_fewshot_values: Vec<i64>,
    proxy_methods: Vec<&'static str>,
    ks: Vec<i64>,
    normalize_weights: Vec<WeightNorm>,
    aggregation_methods: Vec<AggregationMethod>,
    aggregation_distance_functions: Vec<Distance>,
    aggregation_weightings: Vec<Weighting>,
    ms: Vec<i64>,
}

impl ExperimentConfig {
    /// Reads and parses a config file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| CompatError::Io {
            path: path.to_owned(),
            action: "read",
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// Parses config bytes; `source_name` names them in errors.
    pub fn from_bytes(bytes: &[u8], source_name: &str) -> Result<Self> {
        Self::from_yaml_str(decode_utf8(bytes, source_name)?, source_name)
    }

    /// Parses config text; `source_name` names it in errors.
    pub fn from_yaml_str(text: &str, source_name: &str) -> Result<Self> {
        let root = parse_config_text(text, source_name)?
            .ok_or_else(|| CompatError::EmptyConfig { source_name: source_name.to_owned() })?;
        let p = Parser { source_name };
        let Node::Map(entries) = root else {
            return Err(p.wrong("<top level>", "a mapping of config keys", &root));
        };
        let mut config = ExperimentConfig {
            source_name: source_name.to_owned(),
            backbones: vec!["resnet18".to_owned()],
            datasets: vec![vec!["MNIST".to_owned()]],
            label_remappings: vec![Remapping::Explicit {
                name: "none".into(),
                mapping: LabelMapping::default(),
            }],
            task_splits: vec![TaskSplits { name: "all".into(), splits: vec![(0..10).collect()] }],
            seeds: vec![17_121_997, 123_987, 12_412_312],
            normalize_input_data: vec![InputNorm::L2(REFERENCE_ZERO_POLICY)],
            normalize_for_proxy_selection: vec![InputNorm::None],
            presampling_methods: vec![PresamplingMethod::All],
            presampling_quantiles_values: vec![QuantileRange::FULL],
            presampling_fewshot_values: vec![-1],
            proxy_methods: Vec::new(),
            ks: vec![20],
            normalize_weights: vec![WeightNorm::L2(REFERENCE_ZERO_POLICY)],
            aggregation_methods: vec![AggregationMethod::Max],
            aggregation_distance_functions: vec![Distance::InnerProduct],
            aggregation_weightings: vec![Weighting::Uniform],
            ms: vec![-1],
        };
        let mut saw_proxy_methods = false;
        for (key, value) in &entries {
            let Node::Str(key) = key else {
                return Err(CompatError::UnknownKey {
                    source_name: source_name.to_owned(),
                    key: key.render(),
                    known: KNOWN_KEYS.join(", "),
                });
            };
            match key.as_str() {
                "backbones" => config.backbones = p.names(key, value)?,
                "datasets" => {
                    config.datasets = p
                        .list(key, value)?
                        .iter()
                        .enumerate()
                        .map(|(i, v)| p.names(&format!("{key}[{i}]"), v))
                        .collect::<Result<_>>()?;
                }
                "label_remappings" => config.label_remappings = p.remappings(value)?,
                "task_splits" => config.task_splits = p.task_splits(value)?,
                "seeds" => config.seeds = p.seeds(value)?,
                "normalize_input_data" => {
                    config.normalize_input_data =
                        p.choices(key, value, names::input_norm, || names::known(&["none", "l2"]))?
                }
                "normalize_for_proxy_selection" => {
                    config.normalize_for_proxy_selection =
                        p.choices(key, value, names::input_norm, || names::known(&["none", "l2"]))?;
                }
                "presampling_methods" => {
                    config.presampling_methods =
                        p.choices(key, value, names::parsed::<PresamplingMethod>, || {
                            names::known(&PresamplingMethod::NAMES)
                        })?;
                }
                "presampling_quantiles_values" => config.presampling_quantiles_values = p.quantiles(value)?,
                "presampling_fewshot_values" => config.presampling_fewshot_values = p.sizes(key, value)?,
                "proxy_methods" => {
                    config.proxy_methods = p.choices(key, value, names::proxy_method, || {
                        names::known(&imprint::GENERATOR_NAMES)
                    })?;
                    saw_proxy_methods = true;
                }
                "ks" => config.ks = p.sizes(key, value)?,
                "normalize_weights" => {
                    config.normalize_weights =
                        p.choices(key, value, names::weight_norm, || names::known(&WeightNorm::NAMES))?
                }
                "aggregation_methods" => {
                    config.aggregation_methods =
                        p.choices(key, value, names::parsed::<AggregationMethod>, || {
                            names::known(&AggregationMethod::NAMES)
                        })?;
                }
                "aggregation_distance_functions" => {
                    config.aggregation_distance_functions =
                        p.choices(key, value, names::parsed::<Distance>, || names::known(&Distance::NAMES))?;
                }
                "aggregation_weightings" => {
                    config.aggregation_weightings =
                        p.choices(key, value, names::parsed::<Weighting>, || {
                            names::known(&Weighting::NAMES)
                        })?;
                }
                "ms" => config.ms = p.sizes(key, value)?,
                other => {
                    return Err(CompatError::UnknownKey {
                        source_name: source_name.to_owned(),
                        key: other.to_owned(),
                        known: KNOWN_KEYS.join(", "),
                    });
                }
            }
        }
        if !saw_proxy_methods {
            return Err(CompatError::MissingKey {
                source_name: source_name.to_owned(),
                key: "proxy_methods",
                reason: "the reference's default \"lmeans\" is not a known proxy method; list the methods explicitly",
            });
        }
        config.check_grid_size()?;
        Ok(config)
    }

    /// The number of combinations before pruning: an upper bound of the grid size.
    pub fn unpruned_size(&self) -> u128 {
        let remappings = self.label_remappings.len() as u128
            + if self.label_remappings.contains(&Remapping::RandomClassRemappings) { 99 } else { 0 };
        [
            self.backbones.len(),
            self.datasets.len(),
            self.task_splits.len(),
            self.seeds.len(),
            self.normalize_input_data.len(),
            self.normalize_for_proxy_selection.len(),
            self.presampling_methods.len(),
            self.presampling_quantiles_values.len(),
            self.presampling_fewshot_values.len(),
            self.proxy_methods.len(),
            self.ks.len(),
            self.normalize_weights.len(),
            self.aggregation_methods.len(),
            self.aggregation_distance_functions.len(),
            self.aggregation_weightings.len(),
            self.ms.len(),
        ]
        .iter()
        .fold(remappings, |acc, &n| acc.saturating_mul(n as u128))
    }

    /// An estimate (an upper bound up to allocator overhead), in bytes, of the
    /// data that expanding the grid copies: one copy of the backbone name, the
    /// dataset list, the mapping and the task split per data combination.
    pub fn data_copy_bytes(&self) -> u128 {
        // A String or Vec header plus the allocator's smallest chunk: small
        // copies cost that much whatever their length (measured with glibc).
        const ITEM: u128 = 48;
        let text = |s: &str| ITEM + s.len() as u128;
        let sum = |costs: &mut dyn Iterator<Item = u128>| costs.fold(0u128, u128::saturating_add);
        let backbones = sum(&mut self.backbones.iter().map(|b| text(b)));
        let datasets = sum(&mut self.datasets.iter().map(|d| ITEM + sum(&mut d.iter().map(|n| text(n)))));
        let mut remaps = (0u128, 0u128); // (count, summed cost)
        for r in &self.label_remappings {
            let mut add = |name: &str, m: &LabelMapping| {
                remaps.0 += 1;
                remaps.1 = remaps.1.saturating_add(text(name) + 16 * m.entries().len() as u128);
            };
            match r {
                Remapping::Explicit { name, mapping } => add(name, mapping),
                Remapping::RandomClassRemappings => {
                    random_class_remappings().iter().for_each(|(name, m)| add(name, m));
                }
            }
        }
        let splits = sum(&mut self
            .task_splits
            .iter()
            .map(|t| text(&t.name) + sum(&mut t.splits.iter().map(|task| ITEM + 8 * task.len() as u128))));
        let (n_b, n_d) = (self.backbones.len() as u128, self.datasets.len() as u128);
        let (n_r, n_s) = (remaps.0, self.task_splits.len() as u128);
        // Sum over all (b, d, r, s) of cost(b) + cost(d) + cost(r) + cost(s).
        [
            backbones.saturating_mul(n_d).saturating_mul(n_r).saturating_mul(n_s),
            datasets.saturating_mul(n_b).saturating_mul(n_r).saturating_mul(n_s),
            remaps.1.saturating_mul(n_b).saturating_mul(n_d).saturating_mul(n_s),
            splits.saturating_mul(n_b).saturating_mul(n_d).saturating_mul(n_r),
        ]
        .into_iter()
        .fold(0u128, u128::saturating_add)
    }

    fn check_grid_size(&self) -> Result<()> {
        let size = self.unpruned_size();
        if size > MAX_GRID_SIZE {
            return Err(CompatError::InvalidValue {
                source_name: self.source_name.clone(),
                key: "<all list keys>".into(),
                value: size.to_string(),
                reason: format!(
                    "the unpruned grid has more than {MAX_GRID_SIZE} combinations; split the config"
                ),
            });
        }
        let bytes = self.data_copy_bytes();
        if bytes > MAX_GRID_DATA_BYTES {
            return Err(CompatError::InvalidValue {
                source_name: self.source_name.clone(),
                key: "backbones x datasets x label_remappings x task_splits".into(),
                value: format!("about {bytes} bytes"),
                reason: format!(
                    "every data combination copies its names, mapping and task split, and these \
                     lists would copy more than {MAX_GRID_DATA_BYTES} bytes; split the config"
                ),
            });
        }
        Ok(())
    }

    /// The name used for this config in errors (usually its path).
    pub fn source_name(&self) -> &str {
        &self.source_name
    }
    /// `backbones`.
    pub fn backbones(&self) -> &[String] {
        &self.backbones
    }

    /// This config restricted to one of its backbones (the paper's grid for
    /// one backbone).
    ///
    /// # Errors
    /// [`CompatError::InvalidValue`] if the config does not list `backbone`.
    pub fn only_backbone(mut self, backbone: &str) -> Result<Self> {
        if !self.backbones.iter().any(|b| b == backbone) {
            return Err(CompatError::InvalidValue {
                source_name: self.source_name,
                key: "backbones".into(),
                value: format!("{:?}", self.backbones),
                reason: format!("backbone {backbone:?} was asked for, but the config does not list it"),
            });
        }
        self.backbones = vec![backbone.to_owned()];
        Ok(self)
    }
    /// `datasets`: each entry is a list of datasets concatenated into one task.
    pub fn datasets(&self) -> &[Vec<String>] {
        &self.datasets
    }
    /// `label_remappings` as written (placeholder not expanded).
    pub fn label_remappings(&self) -> &[Remapping] {
        &self.label_remappings
    }
    /// `task_splits`, in file order.
    pub fn task_splits(&self) -> &[TaskSplits] {
        &self.task_splits
    }
    /// `seeds`.
    pub fn seeds(&self) -> &[u64] {
        &self.seeds
    }
    /// `normalize_input_data` (NORMinf).
    pub fn normalize_input_data(&self) -> &[InputNorm] {
        &self.normalize_input_data
    }
    /// `normalize_for_proxy_selection` (NORMpre).
    pub fn normalize_for_proxy_selection(&self) -> &[InputNorm] {
        &self.normalize_for_proxy_selection
    }
    /// `presampling_methods`.
    pub fn presampling_methods(&self) -> &[PresamplingMethod] {
        &self.presampling_methods
    }
    /// `presampling_quantiles_values`.
    pub fn presampling_quantiles_values(&self) -> &[QuantileRange] {
        &self.presampling_quantiles_values
    }
    /// `presampling_fewshot_values` (-1 = all samples).
    pub fn presampling_fewshot_values(&self) -> &[i64] {
        &self.presampling_fewshot_values
    }
    /// `proxy_methods` (GEN).
    pub fn proxy_methods(&self) -> &[&'static str] {
        &self.proxy_methods
    }
    /// `ks` (-1 = all samples).
    pub fn ks(&self) -> &[i64] {
        &self.ks
    }
    /// `normalize_weights` (NORMpost).
    pub fn normalize_weights(&self) -> &[WeightNorm] {
        &self.normalize_weights
    }
    /// `aggregation_methods`.
    pub fn aggregation_methods(&self) -> &[AggregationMethod] {
        &self.aggregation_methods
    }
    /// `aggregation_distance_functions`.
    pub fn aggregation_distance_functions(&self) -> &[Distance] {
        &self.aggregation_distance_functions
    }
    /// `aggregation_weightings`.
    pub fn aggregation_weightings(&self) -> &[Weighting] {
        &self.aggregation_weightings
    }
    /// `ms` (-1 = not m-NN).
    pub fn ms(&self) -> &[i64] {
        &self.ms
    }

    /// The label remappings with the placeholder expanded like the reference's
    /// `load_config`: the file's other mappings first (in order), then the 100
    /// `map{i}-{r}` mappings of [`random_class_remappings`].
    pub fn expanded_remappings(&self) -> Vec<(String, LabelMapping)> {
        let mut out: Vec<(String, LabelMapping)> = self
            .label_remappings
            .iter()
            .filter_map(|r| match r {
                Remapping::Explicit { name, mapping } => Some((name.clone(), mapping.clone())),
                Remapping::RandomClassRemappings => None,
            })
            .collect();
        if self.label_remappings.contains(&Remapping::RandomClassRemappings) {
            out.extend(random_class_remappings());
        }
        out
    }
}

struct Parser<'a> {
    source_name: &'a str,
}

impl Parser<'_> {
    fn wrong(&self, key: &str, expected: &'static str, found: &Node) -> CompatError {
        CompatError::WrongType {
            source_name: self.source_name.to_owned(),
            key: key.to_owned(),
            expected,
            found: found.describe(),
        }
    }

    fn invalid(&self, key: &str, value: String, reason: impl Into<String>) -> CompatError {
        CompatError::InvalidValue {
            source_name: self.source_name.to_owned(),
            key: key.to_owned(),
            value,
            reason: reason.into(),
        }
    }

    fn list<'n>(&self, key: &str, node: &'n Node) -> Result<&'n [Node]> {
        match node {
            Node::Seq(items) if items.is_empty() => {
                Err(self.invalid(key, "[]".into(), "the list must not be empty"))
            }
            Node::Seq(items) => Ok(items),
            other => Err(self.wrong(key, "a list", other)),
        }
    }

    fn map<'n>(&self, key: &str, node: &'n Node) -> Result<&'n [(Node, Node)]> {
        match node {
            Node::Map(entries) if entries.is_empty() => {
                Err(self.invalid(key, "{}".into(), "the mapping must not be empty"))
            }
            Node::Map(entries) => Ok(entries),
            other => Err(self.wrong(key, "a mapping", other)),
        }
    }

    fn int(&self, key: &str, node: &Node) -> Result<i64> {
        match node {
            Node::Int(i) => Ok(*i),
            other => Err(self.wrong(key, "an integer", other)),
        }
    }

    fn string<'n>(&self, key: &str, node: &'n Node) -> Result<&'n str> {
        match node {
            Node::Str(s) => Ok(s),
            other => Err(self.wrong(key, "a string", other)),
        }
    }

    /// Backbone or dataset names: non-empty, no path separators or `..`.
    fn names(&self, key: &str, node: &Node) -> Result<Vec<String>> {
        self.list(key, node)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let k = format!("{key}[{i}]");
                let s = self.string(&k, v)?;
                if s.is_empty() || s.contains(['/', '\\', '\0']) || s == ".." || s == "." {
                    return Err(self.invalid(
                        &k,
                        format!("{s:?}"),
                        "names must be non-empty and free of path separators",
                    ));
                }
                Ok(s.to_owned())
            })
            .collect()
    }

    fn choices<T>(
        &self,
        key: &str,
        node: &Node,
        lookup: fn(&str) -> Option<T>,
        known: fn() -> String,
    ) -> Result<Vec<T>> {
        self.list(key, node)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let k = format!("{key}[{i}]");
                let s = self.string(&k, v)?;
                lookup(s).ok_or_else(|| {
                    self.invalid(&k, format!("{s:?}"), format!("unknown name; known: {}", known()))
                })
            })
            .collect()
    }

    /// `ks`, `ms`, `presampling_fewshot_values`: -1 or 1..=MAX_K_OR_M.
    fn sizes(&self, key: &str, node: &Node) -> Result<Vec<i64>> {
        self.list(key, node)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let k = format!("{key}[{i}]");
                let n = self.int(&k, v)?;
                if n == -1 || (1..=MAX_K_OR_M).contains(&n) {
                    Ok(n)
                } else {
                    Err(self.invalid(
                        &k,
                        n.to_string(),
                        format!("must be -1 (all) or between 1 and {MAX_K_OR_M}"),
                    ))
                }
            })
            .collect()
    }

    fn seeds(&self, node: &Node) -> Result<Vec<u64>> {
        let mut out: Vec<u64> = Vec::new();
        // A set, not `out.contains`: a long seed list must not take quadratic time.
        let mut seen = std::collections::HashSet::new();
        for (i, v) in self.list("seeds", node)?.iter().enumerate() {
            let k = format!("seeds[{i}]");
            let n = self.int(&k, v)?;
            let seed = u32::try_from(n).map_err(|_| {
                self.invalid(&k, n.to_string(), "seeds must lie in 0..2^32 (numpy's seed range)")
            })?;
            if !seen.insert(seed) {
                return Err(self.invalid(
                    &k,
                    n.to_string(),
                    "repeated seed (the reference would run it twice under one id)",
                ));
            }
            out.push(u64::from(seed));
        }
        Ok(out)
    }

    fn number(&self, key: &str, node: &Node) -> Result<Number> {
        match node {
            Node::Int(i) => Ok(Number::Int(*i)),
            Node::Float(f) if f.is_finite() => Ok(Number::Float(*f)),
            other => Err(self.wrong(key, "a finite number", other)),
        }
    }

    fn quantiles(&self, node: &Node) -> Result<Vec<QuantileRange>> {
        let key = "presampling_quantiles_values";
        self.list(key, node)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let k = format!("{key}[{i}]");
                let Node::Seq(pair) = v else { return Err(self.wrong(&k, "a list [low, high]", v)) };
                let [low, high] = pair.as_slice() else {
                    return Err(self.invalid(&k, v.describe(), "expected exactly two numbers [low, high]"));
                };
                let (low, high) = (self.number(&k, low)?, self.number(&k, high)?);
                if !(0.0 <= low.value() && low.value() <= high.value() && high.value() <= 1.0) {
                    return Err(self.invalid(&k, format!("[{low}, {high}]"), "need 0 <= low <= high <= 1"));
                }
                Ok(QuantileRange::from_config(low, high))
            })
            .collect()
    }

    fn remappings(&self, node: &Node) -> Result<Vec<Remapping>> {
        let mut out = Vec::new();
        for (name, value) in self.map("label_remappings", node)? {
            let name = self.string("label_remappings (a name)", name)?;
            let key = format!("label_remappings.{name}");
            if name == RANDOM_CLASS_REMAPPINGS {
                out.push(Remapping::RandomClassRemappings);
                continue;
            }
            let Node::Map(entries) = value else {
                return Err(self.wrong(&key, "a mapping {label: label}", value));
            };
            let mut pairs = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let from = self.int(&format!("{key} (a key)"), k)?;
                let to = self.int(&format!("{key}.{from}"), v)?;
                if !(0..=MAX_LABEL).contains(&from) || !(-1..=MAX_LABEL).contains(&to) {
                    return Err(self.invalid(
                        &key,
                        format!("{from}: {to}"),
                        "labels must be non-negative (-1 allowed as target)",
                    ));
                }
                pairs.push((from, to));
            }
            // Keys are unique: the YAML reader rejects duplicate keys.
            let mapping = LabelMapping::from_reference(pairs)
                .map_err(|e| self.invalid(&key, "mapping".into(), e.to_string()))?;
            out.push(Remapping::Explicit { name: name.to_owned(), mapping });
        }
        Ok(out)
    }

    fn task_splits(&self, node: &Node) -> Result<Vec<TaskSplits>> {
        let mut out = Vec::new();
        for (name, value) in self.map("task_splits", node)? {
            let name = self.string("task_splits (a name)", name)?;
            let key = format!("task_splits.{name}");
            let splits = self
                .list(&key, value)?
                .iter()
                .enumerate()
                .map(|(i, task)| {
                    let k = format!("{key}[{i}]");
                    self.list(&k, task)?.iter().map(|l| self.int(&k, l)).collect::<Result<Vec<i64>>>()
                })
                .collect::<Result<Vec<_>>>()?;
            check_splits(name, &splits, self.source_name)?;
            out.push(TaskSplits { name: name.to_owned(), splits });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STYLE: &str = r#"{
    "backbones": ["resnet18",], # "resnet50"],
    "datasets": [["MNIST"], ["MNIST", "USPS"],],
    "label_remappings": {
        "none": {},
        "pairs": {0: 0, 10: 0, 1: 1, 11: 1,},
        "RANDOM_CLASS_REMAPPINGS": {}, # filled in later
    },
    "task_splits": {
        "all": [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
        # "odd": [[1, 3, 5, 7, 9]],
        "short": [[0, 1, 2]],
    },
    "seeds": [17121997,],
    "presampling_quantiles_values": [[0, 1.0], [0.05, 0.95]],
    "proxy_methods": ["kmeans", "all",],
    "ks": [-1, 5,],
}"#;

    #[test]
    fn lists_that_multiply_into_gigabytes_are_rejected() {
        // 300 backbones x 300 dataset lists x one split of 500 one-class tasks: only
        // 270,000 combinations, but each of the 90,000 data combinations copies the
        // split (2.5 GB in all before this check; found while sizing the fuzz target).
        let text = format!(
            r#"{{"backbones": [{}], "datasets": [{}], "task_splits": {{"t": [{}]}}, "proxy_methods": ["mean"]}}"#,
            vec!["a"; 300].join(","),
            vec!["[a]"; 300].join(","),
            vec!["[0]"; 500].join(",")
        );
        assert!(text.len() < 4096);
        let err = ExperimentConfig::from_yaml_str(&text, "t.yaml").unwrap_err();
        assert!(
            matches!(&err, CompatError::InvalidValue { key, .. } if key.contains("task_splits")),
            "{err}"
        );
        // A tenth of the backbones fits (about 90 MB).
        let text = text.replacen(&vec!["a"; 300].join(","), &vec!["a"; 30].join(","), 1);
        let config = ExperimentConfig::from_yaml_str(&text, "t.yaml").unwrap();
        assert!(config.data_copy_bytes() < MAX_GRID_DATA_BYTES);
        // The placeholder counts as its 100 mappings.
        let random = ExperimentConfig::from_yaml_str(
            r#"{"label_remappings": {"RANDOM_CLASS_REMAPPINGS": {}}, "proxy_methods": ["mean"]}"#,
            "t.yaml",
        )
        .unwrap();
        assert!(random.data_copy_bytes() > 100 * 48);
    }

    #[test]
    fn long_seed_lists_parse_and_repeats_are_found() {
        let seeds: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
        let text = format!(r#"{{"seeds": [{}], "proxy_methods": ["mean"]}}"#, seeds.join(","));
        assert_eq!(ExperimentConfig::from_yaml_str(&text, "t.yaml").unwrap().seeds().len(), 20_000);
        let text = format!(r#"{{"seeds": [{}, 19999], "proxy_methods": ["mean"]}}"#, seeds.join(","));
        let err = ExperimentConfig::from_yaml_str(&text, "t.yaml").unwrap_err();
        assert!(err.to_string().contains("seeds[20000]"), "{err}");
    }

    #[test]
    fn parses_reference_style_and_defaults() {
        let c = ExperimentConfig::from_yaml_str(STYLE, "style.yaml").unwrap();
        assert_eq!(c.backbones(), &["resnet18"]);
        assert_eq!(c.datasets().len(), 2);
        assert_eq!(c.task_splits()[1].name(), "short");
        assert_eq!(c.seeds(), &[17_121_997]);
        assert_eq!(c.normalize_input_data(), &[InputNorm::L2(REFERENCE_ZERO_POLICY)]);
        assert_eq!(c.aggregation_distance_functions(), &[Distance::InnerProduct]);
        assert_eq!(c.ks(), &[-1, 5]);
        let q = c.presampling_quantiles_values();
        assert_eq!(q[0].high(), Number::Float(1.0));
        assert!(!q[0].is_reference_tuple());
        let maps = c.expanded_remappings();
        assert_eq!(maps.len(), 2 + 100);
        assert_eq!(maps[1].0, "pairs");
        assert_eq!(maps[1].1.pairs().collect::<Vec<_>>(), vec![(0, 0), (1, 1), (10, 0), (11, 1)]);
        assert_eq!(maps[1].1.description(), "0->0 & 10->0 & 1->1 & 11->1");
        assert_eq!(maps[2].0, "map1-0");
    }

    #[test]
    fn restricting_to_one_backbone_keeps_the_rest() {
        use crate::ExperimentGrid;
        let text = r#"{"backbones": ["resnet18", "vit_b_16"], "proxy_methods": ["mean"], "ks": [1]}"#;
        let c = ExperimentConfig::from_yaml_str(text, "two.yaml").unwrap();
        let one = c.clone().only_backbone("vit_b_16").unwrap();
        assert_eq!(one.backbones(), &["vit_b_16"]);
        assert_eq!(one.datasets(), c.datasets());
        assert_eq!(ExperimentGrid::new(&one).len() * 2, ExperimentGrid::new(&c).len());
        let err = c.only_backbone("swin_b").unwrap_err();
        assert!(err.to_string().contains("\"swin_b\"") && err.to_string().contains("two.yaml"), "{err}");
    }

    fn err(text: &str) -> CompatError {
        ExperimentConfig::from_yaml_str(text, "bad.yaml").unwrap_err()
    }

    #[test]
    fn hostile_configs_are_named_errors() {
        assert!(
            matches!(err("{\"proxy_methods\": [\"mean\"], \"kz\": [1]}"), CompatError::UnknownKey { key, .. } if key == "kz")
        );
        assert!(
            matches!(err("{\"proxy_methods\": [\"lmeans\"]}"), CompatError::InvalidValue { key, .. } if key == "proxy_methods[0]")
        );
        assert!(
            matches!(err("{\"proxy_methods\": \"mean\"}"), CompatError::WrongType { key, .. } if key == "proxy_methods")
        );
        assert!(
            matches!(err("{\"proxy_methods\": [\"mean\"], \"ks\": [\"5\"]}"), CompatError::WrongType { key, .. } if key == "ks[0]")
        );
        assert!(
            matches!(err("{\"proxy_methods\": [\"mean\"], \"ks\": [5000000]}"), CompatError::InvalidValue { key, .. } if key == "ks[0]")
        );
        assert!(
            matches!(err("{\"proxy_methods\": [\"mean\"], \"ms\": [-2]}"), CompatError::InvalidValue { key, .. } if key == "ms[0]")
        );
        assert!(matches!(
            err("{\"proxy_methods\": [\"mean\"], \"ks\": [0]}"),
            CompatError::InvalidValue { .. }
        ));
        assert!(matches!(
            err("{\"proxy_methods\": [\"mean\"], \"ks\": []}"),
            CompatError::InvalidValue { .. }
        ));
        assert!(matches!(
            err("{\"proxy_methods\": [\"mean\"], \"seeds\": [1, 1]}"),
            CompatError::InvalidValue { .. }
        ));
        assert!(matches!(
            err("{\"proxy_methods\": [\"mean\"], \"seeds\": [-5]}"),
            CompatError::InvalidValue { .. }
        ));
        assert!(matches!(err("{\"ks\": [1]}"), CompatError::MissingKey { key: "proxy_methods", .. }));
        assert!(matches!(err("# nothing\n"), CompatError::EmptyConfig { .. }));
        assert!(matches!(err("[1, 2]"), CompatError::WrongType { .. }));
        assert!(matches!(
            err("{\"proxy_methods\": [\"mean\"], \"backbones\": [\"../x\"]}"),
            CompatError::InvalidValue { .. }
        ));
        assert!(matches!(
            err("{\"proxy_methods\": [\"mean\"], \"label_remappings\": {\"m\": {\"0\": 1}}}"),
            CompatError::WrongType { .. }
        ));
        assert!(matches!(
            err("{\"proxy_methods\": [\"mean\"], \"task_splits\": {\"t\": [[1, 1]]}}"),
            CompatError::InvalidValue { .. }
        ));
        assert!(matches!(
            err("{\"proxy_methods\": [\"mean\"], \"presampling_quantiles_values\": [[0.9, 0.1]]}"),
            CompatError::InvalidValue { .. }
        ));
        assert!(matches!(
            ExperimentConfig::from_bytes(b"\xfe\xff", "x.yaml"),
            Err(CompatError::NotUtf8 { .. })
        ));
        let many: String = (1..=400).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        let huge = format!(
            "{{\"proxy_methods\": [\"kmeans\"], \"ks\": [{many}], \"ms\": [{many}], \"presampling_fewshot_values\": [{many}]}}"
        );
        assert!(matches!(err(&huge), CompatError::InvalidValue { key, .. } if key == "<all list keys>"));
        let e = err("{\"proxy_methods\": [\"mean\"], \"kz\": [1]}").to_string();
        assert!(
            e.contains("bad.yaml") && e.contains("kz") && e.contains("presampling_fewshot_values"),
            "{e}"
        );
    }
}

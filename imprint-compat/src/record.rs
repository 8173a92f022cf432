//! Result records: one JSON file per combination, `{res_dir}/{id}.json`.
//!
//! # The id
//! Exactly the reference's `consistent_id(combination)`: the MD5 digest of
//! Python's `json.dumps(combination, sort_keys=True)` over the 19 input keys
//! (computed before any result key is added), read as a big-endian 128-bit
//! integer and printed in decimal. In that text the mapping's integer keys
//! become strings sorted by integer value, tuples are arrays, and floats use
//! Python's `repr` (so `[0, 1.0]` and `[0, 1]` give different ids); see
//! [`crate::pyjson`].
//!
//! # The file
//! Written like the reference's `json.dump(record, f, indent=4)`: the 19
//! input keys in alphabetical order, then `task_acc`, `task_f1s`,
//! (`task_train_acc`), `label_mapping_desc`, `task_split`, `task_desc`,
//! `runtime`, `created_at`, `total_GEN_time`, then any further keys a
//! reference record carried. `created_at` is `%Y-%m-%d_%H:%M:%S` in **UTC**
//! (the reference writes local time without a zone).

use std::collections::BTreeMap;
use std::fmt;

use md5::{Digest, Md5};
use serde::Deserialize;

use imprint_data::LabelMapping;

use crate::grid::Combination;
use crate::pyjson::PyJson;

/// The reference's record id: MD5 of the combination's sorted JSON, as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub u128);

impl fmt::Display for RecordId {
    /// Decimal, as in the reference's file names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl RecordId {
    /// The record's file name, `{id}.json`.
    pub fn file_name(&self) -> String {
        format!("{}.json", self.0)
    }
}

/// A label mapping as the Python `dict` with `int` keys that the reference
/// hashes and writes: `{old: new}` in order, `-1` for a dropped label.
pub fn mapping_to_py_json(mapping: &LabelMapping) -> PyJson {
    PyJson::IntDict(
        mapping
            .entries()
            .iter()
            .map(|&(old, new)| (old as i64, PyJson::Int(new.map_or(-1, |n| n as i64))))
            .collect(),
    )
}

impl Combination {
    /// The 19 input keys as the Python dict the reference hashes.
    pub fn to_py_json(&self) -> PyJson {
        let d = &self.data;
        let p = &self.params;
        let s = |v: &str| PyJson::Str(v.to_owned());
        PyJson::StrDict(vec![
            ("aggregation_distance_function".into(), s(p.aggregation_distance_function.name())),
            ("aggregation_method".into(), s(p.aggregation_method.name())),
            ("aggregation_weighting".into(), s(p.aggregation_weighting.name())),
            ("backbone_name".into(), s(&d.backbone_name)),
            ("dataset_name".into(), PyJson::List(d.dataset_name.iter().map(|n| s(n)).collect())),
            ("k".into(), PyJson::Int(p.k)),
            ("m".into(), PyJson::Int(p.m)),
            ("mapping".into(), mapping_to_py_json(&d.mapping)),
            ("mapping_name".into(), s(&d.mapping_name)),
            ("normalize_for_proxy_selection".into(), s(p.normalize_for_proxy_selection.name())),
            ("normalize_input_data".into(), s(p.normalize_input_data.name())),
            ("normalize_weights".into(), s(&p.normalize_weights.to_string())),
            ("presampling_fewshot_value".into(), PyJson::Int(p.presampling_fewshot_value)),
            ("presampling_method".into(), s(p.presampling_method.name())),
            ("presampling_quantiles_value".into(), p.presampling_quantiles_value.to_py_json()),
            ("proxy_method".into(), s(p.proxy_method)),
            ("seed".into(), PyJson::Int(self.seed as i64)),
            ("task_name".into(), s(&d.task_name)),
            (
                "task_splits".into(),
                PyJson::List(
                    d.task_splits
                        .iter()
                        .map(|t| PyJson::List(t.iter().map(|&l| PyJson::Int(l)).collect()))
                        .collect(),
                ),
            ),
        ])
    }

    /// The reference's `consistent_id` of this combination.
    pub fn id(&self) -> RecordId {
        let digest = Md5::digest(self.to_py_json().dumps_sorted().as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest);
        RecordId(u128::from_be_bytes(bytes))
    }
}

/// Per-class one-vs-rest F1 scores, as the reference stores them: three
/// parallel lists (`{"remapped_class_index": [...], "one-vs-rest-f1": [...],
/// "class_size": [...]}`), F1 in percent.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct TaskF1s {
    /// Class index in the head (0-based, after remapping).
    pub remapped_class_index: Vec<i64>,
    /// One-vs-rest F1 in percent (0 when precision + recall is 0).
    #[serde(rename = "one-vs-rest-f1")]
    pub one_vs_rest_f1: Vec<f64>,
    /// Number of test samples of the class.
    pub class_size: Vec<u64>,
}

impl TaskF1s {
    fn to_py_json(&self) -> PyJson {
        PyJson::StrDict(vec![
            (
                "remapped_class_index".into(),
                PyJson::List(self.remapped_class_index.iter().map(|&i| PyJson::Int(i)).collect()),
            ),
            (
                "one-vs-rest-f1".into(),
                PyJson::List(self.one_vs_rest_f1.iter().map(|&f| PyJson::Float(f)).collect()),
            ),
            (
                "class_size".into(),
                PyJson::List(self.class_size.iter().map(|&n| PyJson::Int(n as i64)).collect()),
            ),
        ])
    }
}

/// The result of one combination.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The 19 input keys.
    pub combination: Combination,
    /// Test accuracy in percent.
    pub task_acc: f64,
    /// Per-class F1 scores.
    pub task_f1s: TaskF1s,
    /// Training accuracy in percent (the reference's CLI writes it by default).
    pub task_train_acc: Option<f64>,
    /// [`imprint_data::LabelMapping::description`] of the mapping.
    pub label_mapping_desc: String,
    /// The classes of the (first) task.
    pub task_split: Vec<i64>,
    /// The task's classes joined by `" & "`.
    pub task_desc: String,
    /// Wall time of the whole run in seconds.
    pub runtime: f64,
    /// Creation time, `%Y-%m-%d_%H:%M:%S` (UTC for records we write).
    pub created_at: String,
    /// Summed proxy-generation time in seconds (absent in old reference records).
    pub total_gen_time: Option<f64>,
    /// Keys of a reference record that we do not interpret, kept verbatim.
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Record {
    /// A record for `combination` with the derived text fields filled in
    /// (`label_mapping_desc`, `task_split` = first task, `task_desc`) and
    /// `created_at` set to now (UTC).
    pub fn new(
        combination: Combination,
        task_acc: f64,
        task_f1s: TaskF1s,
        runtime: f64,
        total_gen_time: f64,
    ) -> Self {
        let task_split = combination.data.task_splits.first().cloned().unwrap_or_default();
        Self {
            label_mapping_desc: combination.data.mapping.description(),
            task_desc: task_desc(&task_split),
            task_split,
            combination,
            task_acc,
            task_f1s,
            task_train_acc: None,
            runtime,
            created_at: utc_timestamp(std::time::SystemTime::now()),
            total_gen_time: Some(total_gen_time),
            extra: BTreeMap::new(),
        }
    }

    /// The record id (of its combination).
    pub fn id(&self) -> RecordId {
        self.combination.id()
    }

    /// The record as the reference's JSON file text (`indent=4`, key order
    /// as documented in the module docs).
    pub fn to_json_text(&self) -> String {
        let PyJson::StrDict(mut entries) = self.combination.to_py_json() else {
            unreachable!("combinations serialize to a dict")
        };
        entries.push(("task_acc".into(), PyJson::Float(self.task_acc)));
        entries.push(("task_f1s".into(), self.task_f1s.to_py_json()));
        if let Some(acc) = self.task_train_acc {
            entries.push(("task_train_acc".into(), PyJson::Float(acc)));
        }
        entries.push(("label_mapping_desc".into(), PyJson::Str(self.label_mapping_desc.clone())));
        entries.push((
            "task_split".into(),
            PyJson::List(self.task_split.iter().map(|&l| PyJson::Int(l)).collect()),
        ));
        entries.push(("task_desc".into(), PyJson::Str(self.task_desc.clone())));
        entries.push(("runtime".into(), PyJson::Float(self.runtime)));
        entries.push(("created_at".into(), PyJson::Str(self.created_at.clone())));
        if let Some(t) = self.total_gen_time {
            entries.push(("total_GEN_time".into(), PyJson::Float(t)));
        }
        for (k, v) in &self.extra {
            entries.push((k.clone(), value_to_py(v)));
        }
        PyJson::StrDict(entries).dumps_indent(4)
    }
}

/// The reference's `task_desc`: labels joined by `" & "`.
pub fn task_desc(task_split: &[i64]) -> String {
    task_split.iter().map(i64::to_string).collect::<Vec<_>>().join(" & ")
}

fn value_to_py(v: &serde_json::Value) -> PyJson {
    use serde_json::Value;
    match v {
        Value::Null => PyJson::Null,
        Value::Bool(b) => PyJson::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => PyJson::Int(i),
            None => PyJson::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => PyJson::Str(s.clone()),
        Value::Array(items) => PyJson::List(items.iter().map(value_to_py).collect()),
        Value::Object(map) => PyJson::StrDict(map.iter().map(|(k, v)| (k.clone(), value_to_py(v))).collect()),
    }
}

/// Formats a time as `%Y-%m-%d_%H:%M:%S` in UTC (times before 1970 clamp to the epoch).
pub fn utc_timestamp(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}_{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::ExperimentConfig;
    use crate::grid::ExperimentGrid;

    pub(crate) fn first_combination(text: &str) -> Combination {
        let c = ExperimentConfig::from_yaml_str(text, "t.yaml").unwrap();
        ExperimentGrid::new(&c).combinations()[0].clone()
    }

    /// Expected ids computed once with CPython 3.11 (no reference code):
    /// ```text
    /// import hashlib, json
    /// def cid(c): return int(hashlib.md5(json.dumps(c, sort_keys=True).encode()).hexdigest(), 16)
    /// base = {"aggregation_distance_function": "inner_product", "aggregation_method": "max",
    ///         "aggregation_weighting": "uniform", "backbone_name": "resnet18", "dataset_name": ["MNIST"],
    ///         "k": 1, "m": -1, "mapping": {}, "mapping_name": "none",
    ///         "normalize_for_proxy_selection": "none", "normalize_input_data": "none",
    ///         "normalize_weights": "none", "presampling_fewshot_value": -1, "presampling_method": "all",
    ///         "presampling_quantiles_value": (0, 1.0), "proxy_method": "ls", "seed": 17121997,
    ///         "task_name": "all", "task_splits": [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]}
    /// cid(base)  # 100421840525510766929990602713642994183
    /// cid({**base, "dataset_name": ["MNIST", "USPS"], "mapping_name": "pairs",
    ///      "mapping": {0: 0, 10: 0, 1: 1, 11: 1}, "proxy_method": "kmeans", "k": 5,
    ///      "normalize_input_data": "l2", "normalize_weights": "l2",
    ///      "task_name": "short", "task_splits": [[0, 1]], "seed": 123987})
    ///      # 163680200189266586201045944544851573649
    /// cid({**base, "aggregation_method": "mnn", "aggregation_distance_function": "cosine",
    ///      "aggregation_weighting": "weighted_by_distance", "m": 3, "proxy_method": "kmeans", "k": 5,
    ///      "presampling_method": "weibull", "presampling_quantiles_value": [0.05, 0.95],
    ///      "presampling_fewshot_value": 10, "backbone_name": "b\u00e4ckbone"})
    ///      # 129910473812600731933453333464200485998
    /// ```
    /// The first also equals the id the reference's own `generate_combinations`
    /// + `consistent_id` gives for the first combination of its `config.yaml`.
    #[test]
    fn ids_match_python() {
        let base = first_combination(
            r#"{"seeds": [17121997], "normalize_input_data": ["none"], "proxy_methods": ["ls"],
                "normalize_weights": ["none"], "ks": [1]}"#,
        );
        assert_eq!(base.id(), RecordId(100_421_840_525_510_766_929_990_602_713_642_994_183));
        assert_eq!(base.id().file_name(), "100421840525510766929990602713642994183.json");

        let second = first_combination(
            r#"{"seeds": [123987], "datasets": [["MNIST", "USPS"]], "normalize_input_data": ["l2"],
                "label_remappings": {"pairs": {0: 0, 10: 0, 1: 1, 11: 1,},},
                "task_splits": {"short": [[0, 1]]}, "proxy_methods": ["kmeans"], "ks": [5],
                "normalize_weights": ["l2"]}"#,
        );
        assert_eq!(second.id(), RecordId(163_680_200_189_266_586_201_045_944_544_851_573_649));

        let third = first_combination(
            r#"{"seeds": [17121997], "backbones": ["b\u00e4ckbone"], "normalize_input_data": ["none"],
                "aggregation_methods": ["mnn"], "aggregation_distance_functions": ["cosine"],
                "aggregation_weightings": ["weighted_by_distance"], "ms": [3],
                "presampling_methods": ["weibull"], "presampling_quantiles_values": [[0.05, 0.95]],
                "presampling_fewshot_values": [10], "proxy_methods": ["kmeans"], "ks": [5],
                "normalize_weights": ["none"]}"#,
        );
        assert_eq!(third.id(), RecordId(129_910_473_812_600_731_933_453_333_464_200_485_998));
    }

    #[test]
    fn timestamps_and_text_fields() {
        use std::time::{Duration, UNIX_EPOCH};
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01_00:00:00");
        assert_eq!(
            utc_timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400 + 3661)),
            "2000-02-29_01:01:01"
        );
        assert_eq!(utc_timestamp(UNIX_EPOCH + Duration::from_secs(1_767_225_599)), "2025-12-31_23:59:59");
        assert_eq!(task_desc(&[0, 1, 2]), "0 & 1 & 2");
    }
}

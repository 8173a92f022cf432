//! Reading result records from disk: ours and the reference's own JSON output.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use std::sync::Arc;

use imprint_core::{AggregationMethod, Distance, WeightNorm, Weighting};
use imprint_data::{LabelMapping, PresamplingMethod};

use crate::config::{Number, QuantileRange};
use crate::error::{CompatError, Result};
use crate::grid::{Combination, DataCombination, MethodParams};
use crate::names;
use crate::record::{Record, TaskF1s};

/// Loads every `*.json` record in `dir` (ours or the reference's), sorted by
/// file name. Hidden files (names starting with `.`, e.g. interrupted
/// temporary files) are ignored; any other `.json` file that is not a valid
/// record, or whose name is not the id of its content, is an error naming it.
pub fn load_all(dir: impl AsRef<Path>) -> Result<Vec<Record>> {
    let dir = dir.as_ref();
    let entries = std::fs::read_dir(dir).map_err(|source| CompatError::Io {
        path: dir.to_owned(),
        action: "list",
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|source| CompatError::Io { path: dir.to_owned(), action: "list", source })?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".json") && !name.starts_with('.') {
            paths.push(entry.path());
        }
    }
    paths.sort();
    paths.iter().map(|p| read_record(p)).collect()
}

/// Reads one record file, checking that its name is `{id}.json` of its content.
pub fn read_record(path: &Path) -> Result<Record> {
    let text = std::fs::read_to_string(path).map_err(|source| CompatError::Io {
        path: path.to_owned(),
        action: "read",
        source,
    })?;
    let corrupt = |reason: String| CompatError::CorruptRecord { path: path.to_owned(), reason };
    let raw: RawRecord = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    let record = raw.into_record().map_err(corrupt)?;
    let expected = record.id().file_name();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name != expected {
        return Err(corrupt(format!("file name {name} does not match the record's id ({expected})")));
    }
    Ok(record)
}

/// A label mapping read in document order (`{"0": 0, "10": 0}`).
struct OrderedMapping(Vec<(i64, i64)>);

impl<'de> Deserialize<'de> for OrderedMapping {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedMapping;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping {\"label\": label}")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<OrderedMapping, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, i64>()? {
                    let k = k.parse::<i64>().map_err(|_| {
                        serde::de::Error::custom(format!("mapping key {k:?} is not an integer"))
                    })?;
                    out.push((k, v));
                }
                Ok(OrderedMapping(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct RawRecord {
    aggregation_distance_function: String,
    aggregation_method: String,
    aggregation_weighting: String,
    backbone_name: String,
    dataset_name: Vec<String>,
    k: i64,
    m: i64,
    mapping: OrderedMapping,
    mapping_name: String,
    normalize_for_proxy_selection: String,
    normalize_input_data: String,
    normalize_weights: String,
    presampling_fewshot_value: i64,
    presampling_method: String,
    presampling_quantiles_value: Vec<serde_json::Number>,
    proxy_method: String,
    seed: u64,
    task_name: String,
    task_splits: Vec<Vec<i64>>,
    task_acc: f64,
    task_f1s: TaskF1s,
    #[serde(default)]
    task_train_acc: Option<f64>,
    label_mapping_desc: String,
    task_split: Vec<i64>,
    task_desc: String,
    runtime: f64,
    created_at: String,
    #[serde(default, rename = "total_GEN_time")]
    total_gen_time: Option<f64>,
    #[serde(flatten)]
    extra: BTreeMap<String, serde_json::Value>,
}

fn name<T>(
    field: &str,
    value: &str,
    lookup: fn(&str) -> Option<T>,
    known: fn() -> String,
) -> std::result::Result<T, String> {
    lookup(value).ok_or_else(|| format!("{field}: unknown value {value:?} (known: {})", known()))
}

impl RawRecord {
    fn into_record(self) -> std::result::Result<Record, String> {
        let [low, high] = self.presampling_quantiles_value.as_slice() else {
            return Err("presampling_quantiles_value: expected two numbers".into());
        };
        let num = |n: &serde_json::Number| match n.as_i64() {
            Some(i) => Ok(Number::Int(i)),
            None => n
                .as_f64()
                .map(Number::Float)
                .ok_or_else(|| format!("presampling_quantiles_value: bad number {n}")),
        };
        let (low, high) = (num(low)?, num(high)?);
        let presampling_method =
            name("presampling_method", &self.presampling_method, names::parsed::<PresamplingMethod>, || {
                names::known(&PresamplingMethod::NAMES)
            })?;
        // The reference writes the tuple (0, 1.0) for "all" and the default;
        // both are JSON arrays, so the tuple flag only matters for the grid.
        let is_full = matches!((low, high), (Number::Int(0), Number::Float(h)) if h == 1.0);
        let quantiles = if is_full { QuantileRange::FULL } else { QuantileRange::from_config(low, high) };
        let mapping = LabelMapping::from_reference(self.mapping.0).map_err(|e| format!("mapping: {e}"))?;
        let combination = Combination {
            data: Arc::new(DataCombination {
                backbone_name: self.backbone_name,
                dataset_name: self.dataset_name,
                mapping_name: self.mapping_name,
                mapping,
                task_name: self.task_name,
                task_splits: self.task_splits,
            }),
            params: MethodParams {
                aggregation_distance_function: name(
                    "aggregation_distance_function",
                    &self.aggregation_distance_function,
                    names::parsed::<Distance>,
                    || names::known(&Distance::NAMES),
                )?,
                aggregation_method: name(
                    "aggregation_method",
                    &self.aggregation_method,
                    names::parsed::<AggregationMethod>,
                    || names::known(&AggregationMethod::NAMES),
                )?,
                aggregation_weighting: name(
                    "aggregation_weighting",
                    &self.aggregation_weighting,
                    names::parsed::<Weighting>,
                    || names::known(&Weighting::NAMES),
                )?,
                k: self.k,
                m: self.m,
                normalize_for_proxy_selection: name(
                    "normalize_for_proxy_selection",
                    &self.normalize_for_proxy_selection,
                    names::input_norm,
                    || names::known(&["none", "l2"]),
                )?,
                normalize_input_data: name(
                    "normalize_input_data",
                    &self.normalize_input_data,
                    names::input_norm,
                    || names::known(&["none", "l2"]),
                )?,
                normalize_weights: name(
                    "normalize_weights",
                    &self.normalize_weights,
                    names::weight_norm,
                    || names::known(&WeightNorm::NAMES),
                )?,
                presampling_fewshot_value: self.presampling_fewshot_value,
                presampling_method,
                presampling_quantiles_value: quantiles,
                proxy_method: name("proxy_method", &self.proxy_method, names::proxy_method, || {
                    names::known(&imprint::GENERATOR_NAMES)
                })?,
            },
            seed: self.seed,
        };
        let f1 = &self.task_f1s;
        if f1.remapped_class_index.len() != f1.one_vs_rest_f1.len()
            || f1.class_size.len() != f1.one_vs_rest_f1.len()
        {
            return Err("task_f1s: the three lists differ in length".into());
        }
        Ok(Record {
            combination,
            task_acc: self.task_acc,
            task_f1s: self.task_f1s,
            task_train_acc: self.task_train_acc,
            label_mapping_desc: self.label_mapping_desc,
            task_split: self.task_split,
            task_desc: self.task_desc,
            runtime: self.runtime,
            created_at: self.created_at,
            total_gen_time: self.total_gen_time,
            extra: self.extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::first_combination;

    fn sample_record() -> Record {
        let c = first_combination(
            r#"{"seeds": [17121997], "label_remappings": {"pairs": {10: 0, 0: 0, 1: 1, 3: -1}},
                "task_splits": {"t": [[0, 1]]}, "proxy_methods": ["kmeans"], "ks": [5]}"#,
        );
        let f1 = TaskF1s {
            remapped_class_index: vec![0, 1],
            one_vs_rest_f1: vec![90.5, 88.0],
            class_size: vec![10, 12],
        };
        let mut r = Record::new(c, 89.25, f1, 1.5, 0.25);
        r.task_train_acc = Some(99.0);
        r
    }

    #[test]
    fn records_load_back_and_temporary_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let r = sample_record();
        std::fs::write(dir.path().join(r.id().file_name()), r.to_json_text()).unwrap();
        std::fs::write(dir.path().join(format!(".{}.x1y2z3.tmp", r.id().file_name())), "{").unwrap();
        let text = r.to_json_text();
        assert!(text.starts_with("{\n    \"aggregation_distance_function\": \"inner_product\",\n"), "{text}");
        assert!(text.contains("\"mapping\": {\n        \"10\": 0,\n        \"0\": 0,"));
        assert!(text.contains("\"label_mapping_desc\": \"10->0 & 0->0 & 1->1\""));
        assert!(text.contains("\"task_desc\": \"0 & 1\""));
        assert_eq!(load_all(dir.path()).unwrap(), vec![r]);
    }

    #[test]
    fn corrupt_records_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1.json"), "{\"k\": 1").unwrap();
        let e = load_all(dir.path()).unwrap_err();
        assert!(matches!(&e, CompatError::CorruptRecord { path, .. } if path.ends_with("1.json")), "{e}");
        // Valid content under the wrong name.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1.json"), sample_record().to_json_text()).unwrap();
        assert!(matches!(load_all(dir.path()), Err(CompatError::CorruptRecord { .. })));
    }

    /// A record in the reference's own layout (json.dump indent=4, extra keys
    /// such as task_train_acc and final keys we do not interpret).
    #[test]
    fn reads_reference_records() {
        let text = r#"{
    "aggregation_distance_function": "inner_product",
    "aggregation_method": "max",
    "aggregation_weighting": "uniform",
    "backbone_name": "resnet18",
    "dataset_name": [
        "MNIST"
    ],
    "k": 1,
    "m": -1,
    "mapping": {},
    "mapping_name": "none",
    "normalize_for_proxy_selection": "none",
    "normalize_input_data": "none",
    "normalize_weights": "none",
    "presampling_fewshot_value": -1,
    "presampling_method": "all",
    "presampling_quantiles_value": [
        0,
        1.0
    ],
    "proxy_method": "ls",
    "seed": 17121997,
    "task_name": "all",
    "task_splits": [
        [
            0,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            9
        ]
    ],
    "task_acc": 91.5,
    "task_f1s": {
        "remapped_class_index": [
            0
        ],
        "one-vs-rest-f1": [
            91.0
        ],
        "class_size": [
            980
        ]
    },
    "task_train_acc": 93.0,
    "label_mapping_desc": "",
    "task_split": [
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9
    ],
    "task_desc": "0 & 1 & 2 & 3 & 4 & 5 & 6 & 7 & 8 & 9",
    "runtime": 2.5,
    "created_at": "2025-01-02_03:04:05",
    "total_GEN_time": 0.125,
    "wandb_group": "x"
}"#;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("100421840525510766929990602713642994183.json"), text).unwrap();
        let records = load_all(dir.path()).unwrap();
        assert_eq!(records[0].task_train_acc, Some(93.0));
        assert_eq!(records[0].extra["wandb_group"], serde_json::json!("x"));
        // Written back, it is byte-identical to the reference's layout.
        assert_eq!(records[0].to_json_text(), text);
    }
}

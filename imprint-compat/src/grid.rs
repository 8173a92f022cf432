//! The experiment grid: which combinations a config asks for, in which order.
//!
//! # Data combinations
//! For every backbone, then every dataset list, then every label remapping
//! (placeholder expanded, see [`ExperimentConfig::expanded_remappings`]), then
//! every task split, in file order, one [`DataCombination`]; remappings whose
//! name starts with `map` are skipped unless the dataset list is exactly
//! `["ImageNet"]` (as the reference's `run_imprinting_experiments.py` does).
//!
//! # Parameter grid per data combination
//! The product of the parameter lists in scikit-learn `ParameterGrid` order:
//! keys sorted alphabetically, the *last* key varying fastest. With the
//! single-valued data keys left out, from slowest to fastest:
//! `aggregation_distance_function`, `aggregation_method`,
//! `aggregation_weighting`, `k`, `m`, `normalize_for_proxy_selection`,
//! `normalize_input_data`, `normalize_weights`, `presampling_fewshot_value`,
//! `presampling_method`, `presampling_quantiles_value`, `proxy_method`.
//!
//! Each row is then rewritten or dropped by the reference's
//! `filter_combinations` rules, in its order:
//! 1. `max`: `m = -1`, weighting `uniform`;
//! 2. drop `mnn` with `m = -1`; 3. drop `mnn` with `inner_product`;
//! 4. drop `m > 10 k` when `k > 0` (k as written, before rules 7 and 9);
//! 5. presampling `all`: quantiles become the tuple `(0, 1.0)`;
//! 6. drop `weibull` whose quantiles equal the *tuple* `(0, 1.0)` (only the
//!    default; a `[0, 1.0]` list from a file is kept, as in the reference);
//! 7. `mean` and `ls`: `k = 1`; 8. drop `k = -1` unless the method is `all`;
//! 9. `all`: `k = -1`;
//! 10. drop NORMpre != `none` with NORMinf != NORMpre;
//! 11. few-shot value `f != -1` and `f < k`: `k = f`;
//! 12. drop duplicates, keeping the first occurrence (Python `int` and
//!     `float` values, and tuple vs list, count as different, like the
//!     reference's `astype(str)`).
//!
//! Every surviving row is repeated once per seed (seeds fastest). The result
//! is identical, in content and order, to the reference's
//! `generate_combinations` concatenated over data combinations.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::config::{ExperimentConfig, QuantileRange};
use imprint_core::{AggregationMethod, Distance, InputNorm, WeightNorm, Weighting};
use imprint_data::{LabelMapping, PresamplingMethod};

/// The data part of a combination: what embeddings and labels a run uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataCombination {
    /// `backbone_name`.
    pub backbone_name: String,
    /// `dataset_name`: the datasets concatenated into one label space.
    pub dataset_name: Vec<String>,
    /// `mapping_name`.
    pub mapping_name: String,
    /// `mapping`.
    pub mapping: LabelMapping,
    /// `task_name`.
    pub task_name: String,
    /// `task_splits`.
    pub task_splits: Vec<Vec<i64>>,
}

impl fmt::Display for DataCombination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} x {} x {} x {}",
            self.backbone_name,
            self.dataset_name.join("&"),
            self.mapping_name,
            self.task_name
        )
    }
}

/// The method part of a combination (everything but data and seed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MethodParams {
    /// `aggregation_distance_function`.
    pub aggregation_distance_function: Distance,
    /// `aggregation_method`.
    pub aggregation_method: AggregationMethod,
    /// `aggregation_weighting`.
    pub aggregation_weighting: Weighting,
    /// `k` (-1 = all samples).
    pub k: i64,
    /// `m` (-1 for `max`).
    pub m: i64,
    /// `normalize_for_proxy_selection` (NORMpre).
    pub normalize_for_proxy_selection: InputNorm,
    /// `normalize_input_data` (NORMinf).
    pub normalize_input_data: InputNorm,
    /// `normalize_weights` (NORMpost).
    pub normalize_weights: WeightNorm,
    /// `presampling_fewshot_value` (-1 = all).
    pub presampling_fewshot_value: i64,
    /// `presampling_method`.
    pub presampling_method: PresamplingMethod,
    /// `presampling_quantiles_value`.
    pub presampling_quantiles_value: QuantileRange,
    /// `proxy_method`.
    pub proxy_method: &'static str,
}

impl MethodParams {
    /// Applies the reference's `filter_combinations` row rules 1-11 (see the
    /// module docs); `None` if the row is dropped.
    pub fn prune(mut self) -> Option<Self> {
        use AggregationMethod::{Max, Mnn};
        if self.aggregation_method == Max {
            self.m = -1;
            self.aggregation_weighting = Weighting::Uniform;
        }
        if self.aggregation_method == Mnn && self.m == -1 {
            return None;
        }
        if self.aggregation_method == Mnn && self.aggregation_distance_function == Distance::InnerProduct {
            return None;
        }
        if self.k > 0 && self.m > self.k.saturating_mul(10) {
            return None;
        }
        if self.presampling_method == PresamplingMethod::All {
            self.presampling_quantiles_value = QuantileRange::FULL;
        }
        if self.presampling_method == PresamplingMethod::Weibull
            && self.presampling_quantiles_value.equals_full_tuple()
        {
            return None;
        }
        if matches!(self.proxy_method, "mean" | "ls") {
            self.k = 1;
        }
        if self.k == -1 && self.proxy_method != "all" {
            return None;
        }
        if self.proxy_method == "all" {
            self.k = -1;
        }
        if self.normalize_for_proxy_selection != InputNorm::None
            && self.normalize_input_data != self.normalize_for_proxy_selection
        {
            return None;
        }
        if self.presampling_fewshot_value != -1 && self.presampling_fewshot_value < self.k {
            self.k = self.presampling_fewshot_value;
        }
        Some(self)
    }
}

/// One run: the 19 input keys of a result record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Combination {
    /// Backbone, datasets, mapping and task split (shared between runs).
    pub data: Arc<DataCombination>,
    /// Method parameters.
    pub params: MethodParams,
    /// `seed`.
    pub seed: u64,
}

/// The pruned method parameters of one data combination, in reference order,
/// before seed expansion.
pub fn method_grid(config: &ExperimentConfig) -> Vec<MethodParams> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for &aggregation_distance_function in config.aggregation_distance_functions() {
        for &aggregation_method in config.aggregation_methods() {
            for &aggregation_weighting in config.aggregation_weightings() {
                for &k in config.ks() {
                    for &m in config.ms() {
                        for &normalize_for_proxy_selection in config.normalize_for_proxy_selection() {
                            for &normalize_input_data in config.normalize_input_data() {
                                for &normalize_weights in config.normalize_weights() {
                                    for &presampling_fewshot_value in config.presampling_fewshot_values() {
                                        for &presampling_method in config.presampling_methods() {
                                            for &presampling_quantiles_value in
                                                config.presampling_quantiles_values()
                                            {
                                                for &proxy_method in config.proxy_methods() {
                                                    let row = MethodParams {
                                                        aggregation_distance_function,
                                                        aggregation_method,
                                                        aggregation_weighting,
                                                        k,
                                                        m,
                                                        normalize_for_proxy_selection,
                                                        normalize_input_data,
                                                        normalize_weights,
                                                        presampling_fewshot_value,
                                                        presampling_method,
                                                        presampling_quantiles_value,
                                                        proxy_method,
                                                    };
                                                    if let Some(row) = row.prune()
                                                        && seen.insert(row)
                                                    {
                                                        out.push(row);
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// The data combinations of a config, in the reference's order.
pub fn data_combinations(config: &ExperimentConfig) -> Vec<DataCombination> {
    let remappings = config.expanded_remappings();
    let mut out = Vec::new();
    for backbone in config.backbones() {
        for datasets in config.datasets() {
            for (mapping_name, mapping) in &remappings {
                for split in config.task_splits() {
                    let is_imagenet = datasets.len() == 1 && datasets[0] == "ImageNet";
                    if !is_imagenet && mapping_name.starts_with("map") {
                        continue;
                    }
                    out.push(DataCombination {
                        backbone_name: backbone.clone(),
                        dataset_name: datasets.clone(),
                        mapping_name: mapping_name.clone(),
                        mapping: mapping.clone(),
                        task_name: split.name().to_owned(),
                        task_splits: split.splits().to_vec(),
                    });
                }
            }
        }
    }
    out
}

/// The full grid of a config: every combination in the reference's order.
#[derive(Debug, Clone)]
pub struct ExperimentGrid {
    groups: Vec<(Arc<DataCombination>, usize)>,
    combinations: Vec<Combination>,
}

impl ExperimentGrid {
    /// Expands a config (see the module docs for order and pruning).
    pub fn new(config: &ExperimentConfig) -> Self {
        let params = method_grid(config);
        let seeds = config.seeds();
        let data = data_combinations(config);
        let mut combinations = Vec::with_capacity(data.len() * params.len() * seeds.len());
        let mut groups = Vec::with_capacity(data.len());
        for d in data {
            let d = Arc::new(d);
            for p in &params {
                for &seed in seeds {
                    combinations.push(Combination { data: Arc::clone(&d), params: *p, seed });
                }
            }
            groups.push((d, params.len() * seeds.len()));
        }
        Self { groups, combinations }
    }

    /// Every combination, in order.
    pub fn combinations(&self) -> &[Combination] {
        &self.combinations
    }

    /// Number of combinations.
    pub fn len(&self) -> usize {
        self.combinations.len()
    }

    /// Whether the grid is empty.
    pub fn is_empty(&self) -> bool {
        self.combinations.is_empty()
    }

    /// Counts per data combination and in total, without running anything.
    pub fn dry_run(&self) -> DryRun {
        DryRun {
            groups: self.groups.iter().map(|(d, n)| (DataCombination::clone(d), *n)).collect(),
            total: self.len(),
        }
    }
}

/// What a run of the grid would do: combinations per data combination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRun {
    /// `(data combination, number of combinations incl. seeds)`, in order.
    pub groups: Vec<(DataCombination, usize)>,
    /// Total number of combinations.
    pub total: usize,
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (d, n) in &self.groups {
            writeln!(f, "{n:>8}  {d}")?;
        }
        write!(f, "{:>8}  total ({} data combinations)", self.total, self.groups.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config(text: &str) -> ExperimentConfig {
        ExperimentConfig::from_yaml_str(text, "t.yaml").unwrap()
    }

    #[test]
    fn reference_order_and_first_occurrence_dedup() {
        // Counts and order checked against the reference's generate_combinations.
        let c = config(r#"{"seeds": [1, 2], "proxy_methods": ["kmeans", "mean", "all"], "ks": [-1, 1, 5]}"#);
        let rows = method_grid(&c);
        let got: Vec<(&'static str, i64)> = rows.iter().map(|r| (r.proxy_method, r.k)).collect();
        assert_eq!(got, vec![("mean", 1), ("all", -1), ("kmeans", 1), ("kmeans", 5)]);
        let grid = ExperimentGrid::new(&c);
        assert_eq!(grid.len(), 8);
        assert_eq!(grid.combinations()[1].seed, 2);
        assert_eq!(grid.combinations()[1].params.proxy_method, "mean");
    }

    #[test]
    fn weibull_quirk_and_fewshot_cap() {
        let c = config(
            r#"{"seeds": [1], "presampling_methods": ["all", "weibull"],
                "presampling_quantiles_values": [[0, 1.0], [0.1, 0.9], [0, 1]],
                "presampling_fewshot_values": [-1, 2], "proxy_methods": ["kmeans"], "ks": [5]}"#,
        );
        let rows = method_grid(&c);
        // all + 3 weibull lists (none is the reference tuple), times 2 few-shot values.
        assert_eq!(rows.len(), 8);
        assert!(rows.iter().filter(|r| r.presampling_fewshot_value == 2).all(|r| r.k == 2));
        let d = config(
            r#"{"seeds": [1], "presampling_methods": ["all", "weibull"], "proxy_methods": ["kmeans"]}"#,
        );
        assert_eq!(method_grid(&d).len(), 1);
    }

    #[test]
    fn map_remappings_only_for_imagenet() {
        let c = config(
            r#"{"datasets": [["MNIST"], ["ImageNet"]], "proxy_methods": ["mean"], "seeds": [1],
                "label_remappings": {"none": {}, "mapx": {1: 0}, "RANDOM_CLASS_REMAPPINGS": {}}}"#,
        );
        let dry = ExperimentGrid::new(&c).dry_run();
        assert_eq!(dry.groups.len(), 1 + (2 + 100));
        assert_eq!(dry.total, 103);
        assert!(dry.to_string().contains("resnet18 x ImageNet x map10-9 x all"));
    }

    fn arb_config() -> impl Strategy<Value = String> {
        let pick = |names: &'static [&'static str]| {
            proptest::sample::subsequence(names.to_vec(), 1..=names.len())
                .prop_map(|v| v.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", "))
        };
        let nums = |vals: &'static [i64]| {
            proptest::sample::subsequence(vals.to_vec(), 1..=vals.len())
                .prop_map(|v| v.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))
        };
        (
            pick(&["mean", "kmeans", "ls", "all", "random", "fps"]),
            nums(&[-1, 1, 2, 5, 20]),
            nums(&[-1, 1, 3, 50, 300]),
            pick(&["max", "mnn"]),
            pick(&["inner_product", "cosine", "euclidean"]),
            pick(&["uniform", "weighted_by_distance"]),
            pick(&["none", "l2"]),
            pick(&["none", "l2"]),
            nums(&[-1, 1, 3, 10]),
        )
            .prop_map(|(pm, ks, ms, agg, dist, w, pre, inf, few)| {
                format!(
                    r#"{{"seeds": [1, 2], "proxy_methods": [{pm}], "ks": [{ks}], "ms": [{ms}],
                        "aggregation_methods": [{agg}], "aggregation_distance_functions": [{dist}],
                        "aggregation_weightings": [{w}], "normalize_for_proxy_selection": [{pre}],
                        "normalize_input_data": [{inf}], "presampling_fewshot_values": [{few}],
                        "presampling_methods": ["all", "weibull"]}}"#
                )
            })
    }

    proptest! {
        #[test]
        fn pruning_invariants(text in arb_config()) {
            let c = config(&text);
            let rows = method_grid(&c);
            let unique: HashSet<_> = rows.iter().collect();
            prop_assert_eq!(unique.len(), rows.len());
            for r in &rows {
                if r.aggregation_method == AggregationMethod::Max {
                    prop_assert_eq!(r.m, -1);
                    prop_assert_eq!(r.aggregation_weighting, Weighting::Uniform);
                } else {
                    prop_assert!(r.m != -1);
                    prop_assert!(r.aggregation_distance_function != Distance::InnerProduct);
                }
                prop_assert_eq!(r.k == -1, r.proxy_method == "all");
                if matches!(r.proxy_method, "mean" | "ls") {
                    prop_assert_eq!(r.k, 1);
                }
                if r.normalize_for_proxy_selection != InputNorm::None {
                    prop_assert_eq!(r.normalize_input_data, r.normalize_for_proxy_selection);
                }
                if r.presampling_fewshot_value != -1 && r.k != -1 {
                    prop_assert!(r.k <= r.presampling_fewshot_value);
                }
                prop_assert!(r.presampling_method != PresamplingMethod::Weibull);
            }
            let grid = ExperimentGrid::new(&c);
            prop_assert_eq!(grid.len(), rows.len() * 2);
        }
    }
}

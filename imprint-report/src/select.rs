//! From records to the cells of the analysis: one median accuracy per
//! (task, method), like the reference's `groupby(GROUPPARAMS + HYPERPARAMS)
//! .agg(median)`.
//!
//! A *task* (a block of the statistics) is (backbone, datasets, mapping,
//! task split, few-shot value); a *method* is the nine settings of
//! [`MethodKey`]. Only records with `presampling_method = "all"` are used
//! (the paper's tables; the reference's analysis drops the presampling keys
//! too), and records whose accuracy is not finite are skipped; both are
//! counted so the report can say so.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use imprint_compat::MethodParams;
use imprint_core::{AggregationMethod, Distance, InputNorm, WeightNorm, Weighting};
use imprint_data::PresamplingMethod;

use crate::stats;
use imprint_compat::Record;
use imprint_compat::names::REFERENCE_ZERO_POLICY;

/// The data of a task: what the neural-collapse values are keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataKey {
    /// `backbone_name`.
    pub backbone_name: String,
    /// `dataset_name`.
    pub dataset_name: Vec<String>,
    /// `mapping_name`.
    pub mapping_name: String,
    /// `task_name`.
    pub task_name: String,
}

impl fmt::Display for DataKey {
    /// `backbone / datasets / mapping / task`, datasets joined by `&`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} / {} / {} / {}",
            self.backbone_name,
            self.dataset_name.join("&"),
            self.mapping_name,
            self.task_name
        )
    }
}

/// A block of the statistics: the data and the few-shot value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey {
    /// Backbone, datasets, mapping and task split.
    pub data: DataKey,
    /// `presampling_fewshot_value` (-1 = all samples).
    pub presampling_fewshot_value: i64,
}

impl TaskKey {
    /// Whether the task uses every training sample (few-shot value -1).
    pub fn is_full_data(&self) -> bool {
        self.presampling_fewshot_value == -1
    }
}

impl fmt::Display for TaskKey {
    /// The data, then `/ n-shot` unless all samples are used.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.data)?;
        if !self.is_full_data() {
            write!(f, " / {}-shot", self.presampling_fewshot_value)?;
        }
        Ok(())
    }
}

/// A method: the settings the reference's analysis compares (its
/// `HYPERPARAMS` without the presampling keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MethodKey {
    /// NORMpre.
    pub normalize_for_proxy_selection: InputNorm,
    /// GEN.
    pub proxy_method: &'static str,
    /// Number of proxies per class (-1 = all samples).
    pub k: i64,
    /// NORMpost.
    pub normalize_weights: WeightNorm,
    /// NORMinf.
    pub normalize_input_data: InputNorm,
    /// AGG.
    pub aggregation_method: AggregationMethod,
    /// AGG distance.
    pub aggregation_distance_function: Distance,
    /// AGG vote weighting.
    pub aggregation_weighting: Weighting,
    /// Neighbours of `mnn` (-1 for `max`).
    pub m: i64,
}

impl MethodKey {
    /// The method of a record's parameters.
    pub fn of(params: &MethodParams) -> Self {
        Self {
            normalize_for_proxy_selection: params.normalize_for_proxy_selection,
            proxy_method: params.proxy_method,
            k: params.k,
            normalize_weights: params.normalize_weights,
            normalize_input_data: params.normalize_input_data,
            aggregation_method: params.aggregation_method,
            aggregation_distance_function: params.aggregation_distance_function,
            aggregation_weighting: params.aggregation_weighting,
            m: params.m,
        }
    }

    /// `max` with inner product (uniform, m = -1) and the given NORMpre,
    /// GEN, k, NORMpost, NORMinf.
    pub fn max_ip(pre: InputNorm, proxy: &'static str, k: i64, post: WeightNorm, inf: InputNorm) -> Self {
        Self {
            normalize_for_proxy_selection: pre,
            proxy_method: proxy,
            k,
            normalize_weights: post,
            normalize_input_data: inf,
            aggregation_method: AggregationMethod::Max,
            aggregation_distance_function: Distance::InnerProduct,
            aggregation_weighting: Weighting::Uniform,
            m: -1,
        }
    }

    /// L2 everywhere (NORMpre, NORMpost, NORMinf) with `max` and inner product.
    pub fn l2_max(proxy: &'static str, k: i64) -> Self {
        Self::max_ip(
            InputNorm::L2(REFERENCE_ZERO_POLICY),
            proxy,
            k,
            WeightNorm::L2(REFERENCE_ZERO_POLICY),
            InputNorm::L2(REFERENCE_ZERO_POLICY),
        )
    }

    /// This method with another aggregation.
    pub fn with_agg(
        mut self,
        method: AggregationMethod,
        distance: Distance,
        weighting: Weighting,
        m: i64,
    ) -> Self {
        self.aggregation_method = method;
        self.aggregation_distance_function = distance;
        self.aggregation_weighting = weighting;
        self.m = m;
        self
    }

    /// The aggregation in words: `max`, `max (euclidean)` (1-nn), or
    /// `5-nn (euclidean, uniform)`.
    pub fn agg_label(&self) -> String {
        match self.aggregation_method {
            AggregationMethod::Max if self.aggregation_distance_function == Distance::InnerProduct => {
                "max".to_owned()
            }
            AggregationMethod::Max => format!("max ({})", self.aggregation_distance_function),
            AggregationMethod::Mnn => format!(
                "{}-nn ({}, {})",
                self.m, self.aggregation_distance_function, self.aggregation_weighting
            ),
        }
    }

    /// GEN in words: `mean`, `kmeans k=20`, `all`.
    pub fn gen_label(&self) -> String {
        match self.proxy_method {
            "mean" | "ls" | "all" => self.proxy_method.to_string(),
            p => format!("{p} k={}", self.k),
        }
    }
}

impl fmt::Display for MethodKey {
    /// `NORMpre/GEN/NORMpost/NORMinf/AGG`, e.g. `l2/kmeans k=20/l2/l2/max`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}/{}",
            self.normalize_for_proxy_selection,
            self.gen_label(),
            self.normalize_weights,
            self.normalize_input_data,
            self.agg_label()
        )
    }
}

/// The seeds of one (task, method), summarised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Median test accuracy (%) over seeds.
    pub median_acc: f64,
    /// Number of records (seeds) behind the median.
    pub n_seeds: usize,
}

/// The records of a folder, summarised per (task, method).
#[derive(Debug, Clone, Default)]
pub struct Summary {
    cells: BTreeMap<TaskKey, BTreeMap<MethodKey, Cell>>,
    gen_times: BTreeMap<(TaskKey, &'static str, i64), Vec<f64>>,
    /// Number of records given.
    pub n_records: usize,
    /// Records skipped because their accuracy is not finite.
    pub n_non_finite: usize,
    /// Records skipped because their presampling method is not `all`.
    pub n_presampled: usize,
    /// Distinct seeds of the records used.
    pub seeds: BTreeSet<u64>,
}

impl Summary {
    /// Groups records by (task, method) and takes the median accuracy over seeds.
    pub fn build(records: &[Record]) -> Self {
        let mut acc: BTreeMap<TaskKey, BTreeMap<MethodKey, Vec<f64>>> = BTreeMap::new();
        let mut out = Summary { n_records: records.len(), ..Default::default() };
        for r in records {
            let params = &r.combination.params;
            if params.presampling_method != PresamplingMethod::All {
                out.n_presampled += 1;
                continue;
            }
            let d = &r.combination.data;
            let task = TaskKey {
                data: DataKey {
                    backbone_name: d.backbone_name.clone(),
                    dataset_name: d.dataset_name.clone(),
                    mapping_name: d.mapping_name.clone(),
                    task_name: d.task_name.clone(),
                },
                presampling_fewshot_value: params.presampling_fewshot_value,
            };
            if let Some(t) = r.total_gen_time.filter(|t| t.is_finite()) {
                out.gen_times.entry((task.clone(), params.proxy_method, params.k)).or_default().push(t);
            }
            if !r.task_acc.is_finite() {
                out.n_non_finite += 1;
                continue;
            }
            out.seeds.insert(r.combination.seed);
            acc.entry(task).or_default().entry(MethodKey::of(params)).or_default().push(r.task_acc);
        }
        for (task, methods) in acc {
            let cells = methods
                .into_iter()
                .filter_map(|(m, v)| {
                    let median = stats::median(&v).ok()?;
                    Some((m, Cell { median_acc: median, n_seeds: v.len() }))
                })
                .collect();
            out.cells.insert(task, cells);
        }
        out
    }

    /// Every task with at least one usable record, in order.
    pub fn tasks(&self) -> impl Iterator<Item = &TaskKey> {
        self.cells.keys()
    }

    /// The cell of (task, method).
    pub fn get(&self, task: &TaskKey, method: &MethodKey) -> Option<&Cell> {
        self.cells.get(task)?.get(method)
    }

    /// The median accuracy of (task, method).
    pub fn acc(&self, task: &TaskKey, method: &MethodKey) -> Option<f64> {
        self.get(task, method).map(|c| c.median_acc)
    }

    /// Every (task, method, cell), tasks in order, methods in order.
    pub fn cells(&self) -> impl Iterator<Item = (&TaskKey, &MethodKey, &Cell)> {
        self.cells.iter().flat_map(|(t, ms)| ms.iter().map(move |(m, c)| (t, m, c)))
    }

    /// Number of (task, method) cells.
    pub fn n_cells(&self) -> usize {
        self.cells.values().map(BTreeMap::len).sum()
    }

    /// Number of records behind the cells.
    pub fn n_used(&self) -> usize {
        self.cells().map(|(_, _, c)| c.n_seeds).sum()
    }

    /// Whether any task has a cell of `method`, among tasks passing `filter`.
    pub fn has(&self, method: &MethodKey, filter: impl Fn(&TaskKey) -> bool) -> bool {
        self.cells.iter().any(|(t, ms)| filter(t) && ms.contains_key(method))
    }

    /// The methods present in tasks passing `filter` that satisfy `pred`, in order.
    pub fn methods_where(
        &self,
        filter: impl Fn(&TaskKey) -> bool,
        pred: impl Fn(&MethodKey) -> bool,
    ) -> BTreeSet<MethodKey> {
        self.cells
            .iter()
            .filter(|(t, _)| filter(t))
            .flat_map(|(_, ms)| ms.keys())
            .filter(|m| pred(m))
            .copied()
            .collect()
    }

    /// Proxy-generation times (s) of every record of (task, GEN, k), any
    /// other setting and seed.
    pub fn gen_times(&self) -> &BTreeMap<(TaskKey, &'static str, i64), Vec<f64>> {
        &self.gen_times
    }
}

//! One table of the paper: a few methods compared over tasks.
//!
//! For each method row: the average and standard deviation (ddof 1, as
//! pandas in the reference's analysis) over tasks of the per-task median
//! accuracy, and the average rank. Ranks are taken within each task among
//! the table's methods present in that task (best = 1, ties averaged, as the
//! reference's `rank(ascending=False)` within its groups) and averaged over
//! the tasks the method has. The significance tests use only the tasks where
//! every method of the table is present (the reference's `wilcoxon_holm`
//! keeps the same "voters" for all): Friedman's test, then two-sided
//! Wilcoxon signed-rank tests (`zero_method = "pratt"`, as `cd_diag.py`) for
//! every pair, with Holm's correction at alpha = 0.05. Unlike the reference,
//! two methods with identical scores in every task are "not significantly
//! different" (p = 1), and the pairwise tests are reported even when
//! Friedman's test does not reject (with a note).

use crate::stats::{self, RankTies, TestResult, WilcoxonOptions, ZeroMethod};

use super::select::{MethodKey, Summary, TaskKey};
use super::table::{Table, fmt_mean_std, fmt_opt, fmt_p};

/// Significance level of the tests.
pub const ALPHA: f64 = 0.05;

/// A row to look for: a label, the method (or alternatives, first present
/// wins), and the paper's value.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSpec {
    /// Row label, e.g. "Qi et al.".
    pub label: String,
    /// The method; later entries are used only if earlier ones have no records.
    pub candidates: Vec<MethodKey>,
    /// The paper's average accuracy (%), if it reports one.
    pub paper: Option<f64>,
}

impl RowSpec {
    /// A row for one method.
    pub fn new(label: impl Into<String>, method: MethodKey) -> Self {
        Self { label: label.into(), candidates: vec![method], paper: None }
    }

    /// Sets the paper's value.
    pub fn paper(mut self, value: f64) -> Self {
        self.paper = Some(value);
        self
    }

    /// Sets the paper's value if any.
    pub fn paper_opt(mut self, value: Option<f64>) -> Self {
        self.paper = value;
        self
    }

    /// Adds an alternative method used when the earlier ones have no records.
    pub fn or(mut self, method: MethodKey) -> Self {
        self.candidates.push(method);
        self
    }
}

/// The summary of one method row.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodStats {
    /// Row label.
    pub label: String,
    /// The method found in the records.
    pub method: MethodKey,
    /// Average over tasks of the median accuracy (%).
    pub avg_acc: f64,
    /// Standard deviation over tasks (ddof 1); `None` with one task.
    pub std_acc: Option<f64>,
    /// Average rank over the method's tasks (1 = best).
    pub avg_rank: f64,
    /// Number of tasks with records of the method.
    pub n_tasks: usize,
    /// The paper's value.
    pub paper: Option<f64>,
}

/// One pairwise Wilcoxon test.
#[derive(Debug, Clone, PartialEq)]
pub struct PairTest {
    /// First method's label.
    pub a: String,
    /// Second method's label.
    pub b: String,
    /// Unadjusted two-sided p-value.
    pub p_value: f64,
    /// Significant after Holm's correction at [`ALPHA`].
    pub significant: bool,
}

/// The tests over the tasks where every method is present.
#[derive(Debug, Clone, PartialEq)]
pub struct Significance {
    /// Number of complete tasks (blocks).
    pub n_blocks: usize,
    /// The methods tested, in row order.
    pub labels: Vec<String>,
    /// Friedman's test (none with fewer than three methods or when undefined).
    pub friedman: Option<TestResult>,
    /// Pairwise tests, `a` before `b` in row order.
    pub pairs: Vec<PairTest>,
    /// Average dense ranks over the complete blocks (the reference's CD
    /// diagram ranks), in row order.
    pub dense_ranks: Vec<f64>,
    /// What could not be computed, and why.
    pub notes: Vec<String>,
}

impl Significance {
    /// Whether the pair (a, b) (either order) differs significantly.
    pub fn significant(&self, a: &str, b: &str) -> Option<bool> {
        self.pairs.iter().find(|p| (p.a == a && p.b == b) || (p.a == b && p.b == a)).map(|p| p.significant)
    }
}

/// A table of methods compared over tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Table title.
    pub title: String,
    /// Rows with records, in the requested order.
    pub rows: Vec<MethodStats>,
    /// Requested rows without records (`label (method)`).
    pub missing: Vec<String>,
    /// Number of tasks with at least one of the rows.
    pub n_tasks: usize,
    /// The tests, when at least two rows share a task.
    pub significance: Option<Significance>,
    /// Remarks shown under the table.
    pub notes: Vec<String>,
}

impl Comparison {
    /// Compares the rows over the tasks passing `filter`.
    pub fn build(
        title: impl Into<String>,
        summary: &Summary,
        specs: &[RowSpec],
        filter: impl Fn(&TaskKey) -> bool,
    ) -> Self {
        let mut resolved: Vec<(&RowSpec, MethodKey)> = Vec::new();
        let mut missing = Vec::new();
        for spec in specs {
            match spec.candidates.iter().find(|m| summary.has(m, &filter)) {
                Some(m) => resolved.push((spec, *m)),
                None => missing.push(match spec.candidates.first() {
                    Some(m) => format!("{} ({m})", spec.label),
                    None => spec.label.clone(),
                }),
            }
        }
        let with_any: Vec<&TaskKey> = summary
            .tasks()
            .filter(|t| filter(t) && resolved.iter().any(|(_, m)| summary.get(t, m).is_some()))
            .collect();
        // Like the paper, compare methods on the same tasks: the tasks with
        // every method when there are any, else every task with some method.
        let with_all: Vec<&TaskKey> = with_any
            .iter()
            .copied()
            .filter(|t| resolved.iter().all(|(_, m)| summary.acc(t, m).is_some()))
            .collect();
        let mut notes = Vec::new();
        let tasks = if with_all.is_empty() || with_all.len() == with_any.len() {
            with_any
        } else {
            notes.push(format!(
                "Averages and ranks over the {} tasks that have every method; {} more tasks have only some \
                 and are left out.",
                with_all.len(),
                with_any.len() - with_all.len()
            ));
            with_all
        };
        let n = resolved.len();
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); n];
        let mut ranks: Vec<Vec<f64>> = vec![Vec::new(); n];
        let mut complete: Vec<Vec<f64>> = Vec::new();
        for t in &tasks {
            let present: Vec<(usize, f64)> = resolved
                .iter()
                .enumerate()
                .filter_map(|(i, (_, m))| summary.acc(t, m).map(|a| (i, a)))
                .collect();
            let accs: Vec<f64> = present.iter().map(|(_, a)| *a).collect();
            // Accuracies are finite (Summary skips the others), so ranking cannot fail.
            let r = stats::rank_descending(&accs, RankTies::Average).unwrap_or_default();
            for ((i, a), r) in present.iter().zip(r) {
                values[*i].push(*a);
                ranks[*i].push(r);
            }
            if present.len() == n {
                complete.push(accs);
            }
        }
        let rows: Vec<MethodStats> = resolved
            .iter()
            .zip(values.iter().zip(&ranks))
            .map(|((spec, m), (v, r))| MethodStats {
                label: spec.label.clone(),
                method: *m,
                avg_acc: stats::mean(v).unwrap_or(f64::NAN),
                std_acc: stats::std_dev(v, 1).ok(),
                avg_rank: stats::mean(r).unwrap_or(f64::NAN),
                n_tasks: v.len(),
                paper: spec.paper,
            })
            .collect();
        let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
        let significance = if n >= 2 { Some(significance(&labels, &complete)) } else { None };
        Comparison { title: title.into(), rows, missing, n_tasks: tasks.len(), significance, notes }
    }

    /// The row labelled `label`.
    pub fn row(&self, label: &str) -> Option<&MethodStats> {
        self.rows.iter().find(|r| r.label == label)
    }

    /// Adds a remark.
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.notes.push(text.into());
        self
    }

    /// The result table, then (if any) the pairwise-test table.
    pub fn tables(&self) -> Vec<Table> {
        let mut main = Table::new(
            self.title.clone(),
            &["method", "settings", "avg acc % ± std", "avg rank", "n tasks", "paper"],
        )
        .left_columns(2);
        for r in &self.rows {
            main.push(vec![
                r.label.clone(),
                r.method.to_string(),
                fmt_mean_std(r.avg_acc, r.std_acc),
                format!("{:.2}", r.avg_rank),
                r.n_tasks.to_string(),
                fmt_opt(r.paper),
            ]);
        }
        let mut out = vec![main];
        if let Some(s) = &self.significance
            && !s.pairs.is_empty()
        {
            let mut t = Table::new(
                format!("{}: pairwise Wilcoxon signed-rank, Holm at alpha = {ALPHA}", self.title),
                &["method A", "method B", "p", "significant"],
            )
            .left_columns(2);
            for p in &s.pairs {
                t.push(vec![
                    p.a.clone(),
                    p.b.clone(),
                    fmt_p(p.p_value),
                    if p.significant { "yes" } else { "no" }.to_owned(),
                ]);
            }
            out.push(t);
        }
        out
    }

    /// The lines printed under the tables: Friedman's test, missing rows, notes.
    pub fn note_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(s) = &self.significance {
            match &s.friedman {
                Some(f) => out.push(format!(
                    "Friedman test over {} tasks with every method: chi2 = {:.3}, p = {} ({}).",
                    s.n_blocks,
                    f.statistic,
                    fmt_p(f.p_value),
                    if f.p_value < ALPHA { "reject at 0.05" } else { "not rejected at 0.05" }
                )),
                None if s.labels.len() >= 3 => {}
                None => out.push(format!("Two methods: no Friedman test; {} complete tasks.", s.n_blocks)),
            }
            out.extend(s.notes.iter().cloned());
        }
        if !self.missing.is_empty() {
            out.push(format!("Rows without records: {}.", self.missing.join("; ")));
        }
        out.extend(self.notes.iter().cloned());
        out
    }
}

/// Friedman and pairwise Wilcoxon-Holm over complete blocks.
fn significance(labels: &[String], complete: &[Vec<f64>]) -> Significance {
    let k = labels.len();
    let mut s = Significance {
        n_blocks: complete.len(),
        labels: labels.to_vec(),
        friedman: None,
        pairs: Vec::new(),
        dense_ranks: Vec::new(),
        notes: Vec::new(),
    };
    if complete.is_empty() {
        s.notes.push("No task has records of every method: no significance tests.".into());
        return s;
    }
    s.dense_ranks = stats::average_ranks(complete, RankTies::Dense).unwrap_or_default();
    if k >= 3 {
        match stats::friedman(complete) {
            Ok(f) => {
                if f.p_value >= ALPHA {
                    s.notes.push(
                        "Friedman does not reject: the reference would stop here; pairwise tests shown anyway."
                            .into(),
                    );
                }
                s.friedman = Some(f);
            }
            Err(e) => s.notes.push(format!("Friedman test not computed: {e}.")),
        }
    }
    let column = |j: usize| complete.iter().map(|row| row[j]).collect::<Vec<f64>>();
    let options = WilcoxonOptions { zero_method: ZeroMethod::Pratt, ..Default::default() };
    let mut p_values = Vec::new();
    for a in 0..k {
        for b in a + 1..k {
            let (x, y) = (column(a), column(b));
            let p = if x == y {
                1.0
            } else {
                match stats::wilcoxon(&x, &y, options) {
                    Ok(r) => r.p_value,
                    Err(e) => {
                        s.notes
                            .push(format!("Wilcoxon {} vs {}: {e}; taken as p = 1.", labels[a], labels[b]));
                        1.0
                    }
                }
            };
            p_values.push(p);
            s.pairs.push(PairTest {
                a: labels[a].clone(),
                b: labels[b].clone(),
                p_value: p,
                significant: false,
            });
        }
    }
    for (pair, rejected) in s.pairs.iter_mut().zip(stats::holm(&p_values, ALPHA)) {
        pair.significant = rejected;
    }
    s
}

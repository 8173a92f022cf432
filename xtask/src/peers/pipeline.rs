//! The whole bundled-data reproduction, ours against a reference-equivalent
//! Python pipeline (`peers/reference_pipeline.py`) on the same combinations.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::path::Path;
use std::time::Instant;

use serde::Deserialize;

use super::python::PythonEnv;
use imprint_bench::presets::{preset_configs, preset_lambdas};
use imprint_bench::runner::{RunOptions, run_grid};
use imprint_bench::sources::SourceCache;
use imprint_bench::{BenchError, ResultStore};
use imprint_compat::{ExperimentGrid, MethodParams, Shard, load_all};

/// Accuracy agreement of the two pipelines for one proxy method, over the
/// combinations that draw random numbers or over those that do not.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// Proxy method (reference name).
    pub method: String,
    /// Whether these combinations draw random numbers (see [`draws_random`]):
    /// the two sides use different generators (numpy's and ours), so such
    /// combinations can only agree in distribution.
    pub random: bool,
    /// Combinations compared.
    pub n: usize,
    /// Mean absolute difference of task accuracy, percentage points.
    pub mean_abs_diff: f64,
    /// Largest absolute difference, percentage points.
    pub max_abs_diff: f64,
    /// Combinations whose accuracies differ by at most [`EQUAL_PP`].
    pub equal: usize,
}

/// Accuracies closer than this (percentage points) count as equal: the Python
/// pipeline computes accuracy in float32, as the reference does, which is off
/// by up to about 4e-6 points from the exact fraction.
pub const EQUAL_PP: f64 = 1e-4;

/// Whether a combination draws random numbers: few-shot sampling, or a proxy
/// method seeded by the combination's seed.
fn draws_random(params: &MethodParams) -> bool {
    params.presampling_fewshot_value != -1
        || matches!(params.proxy_method, "kmeans" | "kls" | "random" | "fps" | "none")
}

/// What the comparison measured.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineOutcome {
    /// Combinations run by each side.
    pub combinations: usize,
    /// Every how-many-th combination of the preset grid was run.
    pub every: usize,
    /// Our wall time on all cores (task building, every combination, records written).
    pub ours_seconds: f64,
    /// Our wall time on one thread.
    pub ours_one_thread_seconds: f64,
    /// The Python pipeline's wall time, if it ran.
    pub python_seconds: Option<f64>,
    /// The same with the reference's per-sample Python loops restored
    /// (`--reference-overheads`), if it ran.
    pub python_reference_overheads_seconds: Option<f64>,
    /// Accuracy agreement per proxy method, if the Python pipeline ran.
    pub agreement: Vec<Agreement>,
}

#[derive(Deserialize)]
struct PythonSummary {
    wall_seconds: f64,
}

#[derive(Deserialize)]
struct PythonResult {
    id: String,
    task_acc: f64,
}

/// Runs every `every`-th combination of each preset grid through both pipelines.
pub fn compare(
    dir: &Path,
    root: &Path,
    every: usize,
    python: Option<&PythonEnv>,
) -> imprint_bench::Result<PipelineOutcome> {
    let io = |path: &Path, action: &'static str| {
        let path = path.to_owned();
        move |source| BenchError::Io { path, action, source }
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(dir, "remove"))?;
    }
    let records = dir.join("records");
    let shard = Shard::new(0, every.max(1))?;
    let lambdas = preset_lambdas();
    let options = RunOptions {
        embeddings_root: root.to_owned(),
        shard,
        lambdas: lambdas.clone(),
        progress: false,
        sources: SourceCache::new(),
        rng_mode: Default::default(),
    };
    let grids: Vec<ExperimentGrid> = preset_configs()?.iter().map(|(_, c)| ExperimentGrid::new(c)).collect();

    // Every grid into a fresh store; the first run also loads the embeddings
    // (both sides load outside their timing, so they are loaded first).
    let run_all = |store_dir: &Path| -> imprint_bench::Result<(usize, f64)> {
        let store = ResultStore::open(store_dir, false)?;
        let start = Instant::now();
        let mut written = 0;
        for grid in &grids {
            written += run_grid(grid, &store, &options)?.written;
        }
        Ok((written, start.elapsed().as_secs_f64()))
    };
    for grid in &grids {
        for data in imprint_bench::runner::distinct_data([grid], shard) {
            options.sources.get(root, &data.backbone_name, &data.dataset_name)?;
        }
    }
    eprintln!("== whole reproduction: imprint-rs on one thread");
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().map_err(|e| {
        BenchError::Unsupported { context: "a one-thread pool".into(), reason: e.to_string() }
    })?;
    let (_, ours_one_thread_seconds) = one.install(|| run_all(&dir.join("records-one-thread")))?;
    eprintln!("== whole reproduction: imprint-rs on all cores");
    let (combinations, ours_seconds) = run_all(&records)?;
    eprintln!(
        "  {combinations} combinations in {ours_seconds:.1} s ({ours_one_thread_seconds:.1} s on one thread)"
    );

    let Some(python) = python else {
        return Ok(PipelineOutcome {
            combinations,
            every,
            ours_seconds,
            ours_one_thread_seconds,
            python_seconds: None,
            python_reference_overheads_seconds: None,
            agreement: Vec::new(),
        });
    };
    let combos: Vec<String> = grids
        .iter()
        .flat_map(|g| {
            shard.select(g.combinations()).map(|c| c.to_py_json().dumps_sorted()).collect::<Vec<_>>()
        })
        .collect();
    let combos_path = dir.join("combinations.json");
    super::npy::write_atomic(&combos_path, format!("[{}]", combos.join(",\n")).as_bytes())?;
    let out = dir.join("python_results.jsonl");
    let summary = dir.join("python_summary.json");
    let lambda_args: Vec<String> = lambdas.iter().map(|(b, l)| format!("{b}={l}")).collect();
    // One thread: the reference's runner sets torch to one thread by default.
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("--threads"),
        OsStr::new("1"),
        OsStr::new("--embeddings"),
        root.as_os_str(),
        OsStr::new("--combinations"),
        combos_path.as_os_str(),
        OsStr::new("--out"),
        out.as_os_str(),
        OsStr::new("--summary"),
        summary.as_os_str(),
    ];
    for l in &lambda_args {
        args.push(OsStr::new("--lambda"));
        args.push(OsStr::new(l));
    }
    // Its own clock: from the first combination to the last, tasks loaded before.
    let timed = |extra: Option<&str>| -> imprint_bench::Result<f64> {
        let mut all = args.clone();
        all.extend(extra.map(OsStr::new));
        python.run_pipeline(&all)?;
        let text = std::fs::read_to_string(&summary).map_err(io(&summary, "read"))?;
        let parsed: PythonSummary = serde_json::from_str(&text).map_err(|e| BenchError::Unsupported {
            context: summary.clone().display().to_string(),
            reason: format!("unreadable output of the Python pipeline: {e}"),
        })?;
        Ok(parsed.wall_seconds)
    };
    eprintln!(
        "== whole reproduction: reference-equivalent Python pipeline, with the reference's Python loops"
    );
    let python_reference_overheads_seconds = timed(Some("--reference-overheads"))?;
    eprintln!("== whole reproduction: reference-equivalent Python pipeline, vectorized");
    let python_seconds = timed(None)?;

    let text = std::fs::read_to_string(&out).map_err(io(&out, "read"))?;
    let theirs: HashMap<String, f64> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<PythonResult>(l).map(|r| (r.id, r.task_acc)).map_err(|e| {
                BenchError::Unsupported {
                    context: out.clone().display().to_string(),
                    reason: format!("unreadable output of the Python pipeline: {e}"),
                }
            })
        })
        .collect::<imprint_bench::Result<_>>()?;
    let mut by_method: BTreeMap<(String, bool), Vec<f64>> = BTreeMap::new();
    for record in load_all(&records)? {
        if let Some(acc) = theirs.get(&record.id().to_string()) {
            let params = &record.combination.params;
            let key = (params.proxy_method.to_string(), draws_random(params));
            by_method.entry(key).or_default().push((record.task_acc - acc).abs());
        }
    }
    let agreement = by_method
        .into_iter()
        .map(|((method, random), diffs)| Agreement {
            method,
            random,
            n: diffs.len(),
            mean_abs_diff: diffs.iter().sum::<f64>() / diffs.len() as f64,
            max_abs_diff: diffs.iter().fold(0.0, |m, &d| m.max(d)),
            equal: diffs.iter().filter(|&&d| d <= EQUAL_PP).count(),
        })
        .collect();
    Ok(PipelineOutcome {
        combinations,
        every,
        ours_seconds,
        ours_one_thread_seconds,
        python_seconds: Some(python_seconds),
        python_reference_overheads_seconds: Some(python_reference_overheads_seconds),
        agreement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use imprint_compat::ExperimentConfig;

    #[test]
    fn random_draws_come_from_few_shot_sampling_or_a_seeded_method() {
        let config = ExperimentConfig::from_yaml_str(
            r#"{"seeds": [1], "presampling_fewshot_values": [-1, 2],
                "proxy_methods": ["mean", "all", "kmedoids", "cov_max", "ls", "kmeans", "kls", "random", "fps", "none"],
                "ks": [1]}"#,
            "t.yaml",
        )
        .unwrap();
        let grid = ExperimentGrid::new(&config);
        let mut seen = BTreeMap::new();
        for c in grid.combinations() {
            let p = &c.params;
            seen.insert((p.proxy_method, p.presampling_fewshot_value), draws_random(p));
        }
        assert_eq!(seen.len(), 20, "every method with and without few-shot sampling: {seen:?}");
        for ((method, shots), random) in seen {
            let seeded = ["kmeans", "kls", "random", "fps", "none"].contains(&method);
            assert_eq!(random, seeded || shots != -1, "{method} with few-shot value {shots}");
        }
    }
}

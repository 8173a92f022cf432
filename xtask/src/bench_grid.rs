//! `cargo xtask bench-grid`: the reference's grid at the paper's scale, timed
//! on this machine.
//!
//! 1. Writes paper-sized synthetic embeddings in the reference layout (three
//!    data sets of 10 classes, 6,000 training and 1,000 test samples per
//!    class, 512 dimensions, four modes per class; `imprint_data`'s
//!    generator), once: a marker file remembers the settings.
//! 2. Runs the nine non-ImageNet reference configs restricted to one backbone
//!    through `cargo xtask reproduce`'s code path on a uniform shard sample
//!    (`--sample N`: shard 0/N of every config) and, with `--full`, on the
//!    whole grid, each timed with its peak memory.
//! 3. With `--reference CHECKOUT`, runs the reference's own runner
//!    (`scripts/reference_check/run_reference.py --combinations`) on a few
//!    records of the sample and compares accuracy and time.
//! 4. Writes its section of BENCHMARKS.md (between its markers, after the
//!    part `bench-peers` keeps).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use imprint_bench::reproduce::{ReproduceOptions, reproduce};
use imprint_bench::runner::{DETERMINISTIC_GENERATORS, describe};
use imprint_bench::{BenchError, Result};
use imprint_compat::record::utc_timestamp;
use imprint_compat::{Combination, ExperimentConfig, ExperimentGrid, Record, Shard, load_all};
use imprint_core::{AggregationMethod, Distance};
use imprint_data::{Embeddings, Split, SyntheticParams, WriteOptions, reference_path, write_embeddings};
use serde_json::{Value, json};

use crate::bench_peers::KEPT_MARKER;
use crate::machine::{cpu_model, git_commit, memory};
use crate::peers::PythonEnv;
use crate::peers::measure::{median, peak_rss};
use crate::peers::npy::write_atomic;
use crate::workspace_root;

/// The reference's configs for the non-ImageNet experiments, without the
/// digit-combination ones (MNIST-M, USPS and SVHN have no paper-size
/// synthetic stand-in here): 87,630 combinations for one backbone.
pub const NINE_CONFIGS: [&str; 9] = [
    "config_reprod_fig6.yaml",
    "config_reprod_subsec1_aggfixed.yaml",
    "config_reprod_subsec1_aggfixed_kls.yaml",
    "config_reprod_subsec1_aggfocus.yaml",
    "config_reprod_subsec1_aggfocus_kls.yaml",
    "config_reprod_subsec2.yaml",
    "config_reprod_subsec2_kls.yaml",
    "config_reprod_subsec3_non-imagenet.yaml",
    "config_reprod_subsec3_non-imagenet_kls.yaml",
];

/// The data sets of those configs, each with its class spread (harder from
/// MNIST to CIFAR10, as in the paper).
const DATASETS: [(&str, f32); 3] = [("MNIST", 0.2), ("FashionMNIST", 0.12), ("CIFAR10", 0.08)];

/// Paper sizes.
const CLASSES: usize = 10;
const TRAIN_PER_CLASS: usize = 6000;
const TEST_PER_CLASS: usize = 1000;
const DIM: usize = 512;
const MODES: usize = 4;
const MODE_SPREAD: f32 = 0.3;
const NOISE: f32 = 1.0;
/// Added to every feature: post-ReLU backbone features are positive with a
/// common mean, which is what makes cosine scores crowd and the Mahalanobis
/// whitening ill-conditioned.
const OFFSET: f32 = 1.0;

/// The whole grid's folder under the work folder.
const FULL_DIR: &str = "full";

/// Markers around this command's section of BENCHMARKS.md.
const SECTION_START: &str = "<!-- bench-grid: written by cargo xtask bench-grid, replaced on each run -->";
const SECTION_END: &str = "<!-- /bench-grid -->";

/// Arguments of `bench-grid`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The reference's config folder (`src/config` of a DATEXIS/IMPRINT checkout).
    #[arg(long)]
    configs: PathBuf,
    /// The backbone the configs are restricted to (the data is written under it).
    #[arg(long, default_value = "resnet18")]
    backbone: String,
    /// The sample: shard 0/N of every config (every N-th combination).
    #[arg(long, default_value_t = 400)]
    sample: usize,
    /// Also run the whole grid (hours on two cores).
    #[arg(long)]
    full: bool,
    /// Keep the records a previous run of a phase left and time only the rest.
    #[arg(long)]
    resume: bool,
    /// A checkout of the reference (DATEXIS/IMPRINT): time its own runner on
    /// a few records of the sample, in its pinned environment.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Run the reference again even if its results for the same records are kept.
    #[arg(long)]
    rerun_reference: bool,
    /// How many records of the sample the reference runs.
    #[arg(long, default_value_t = 8)]
    reference_records: usize,
    /// The reference's environment (made from scripts/reference_check/requirements.txt
    /// on first use; shared with bench-peers and run_reference.py).
    #[arg(long, default_value = ".venv-reference")]
    reference_venv: PathBuf,
    /// Scratch folder: embeddings (about 1 GB) and records.
    #[arg(long, default_value = "target/bench-grid")]
    work_dir: PathBuf,
    /// The report to update (default: BENCHMARKS.md at the workspace root).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One timed run of the grid.
#[derive(Debug)]
struct Phase {
    name: String,
    selected: usize,
    written: usize,
    wall_seconds: f64,
    peak_mib: Option<f64>,
    /// When and at which commit it ran (UTC).
    measured: String,
    records: Vec<Record>,
}

/// Beside a phase's records: its timing, so that a later run without
/// `--full` still reports the last whole-grid run.
const PHASE_FILE: &str = "phase.json";

/// Beside a phase's records: when it started (UTC, `created_at` format), so
/// that an interrupted run's records can be told from older ones.
const STARTED_FILE: &str = "started.txt";

impl Phase {
    fn summary(&self) -> Value {
        json!({
            "name": self.name, "selected": self.selected, "written": self.written,
            "wall_seconds": self.wall_seconds, "peak_mib": self.peak_mib, "measured": self.measured,
        })
    }

    /// The phase saved in `dir` by an earlier run, with its records.
    fn load(dir: &Path, grids: &[ExperimentGrid], shard: Shard) -> Result<Option<Self>> {
        let Ok(text) = std::fs::read_to_string(dir.join(PHASE_FILE)) else { return Ok(None) };
        let v: Value = serde_json::from_str(&text).map_err(|e| BenchError::Unsupported {
            context: dir.join(PHASE_FILE).display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Some(Self {
            name: v["name"].as_str().unwrap_or("whole grid").to_string(),
            selected: v["selected"].as_u64().unwrap_or(0) as usize,
            written: v["written"].as_u64().unwrap_or(0) as usize,
            wall_seconds: v["wall_seconds"].as_f64().unwrap_or(f64::NAN),
            peak_mib: v["peak_mib"].as_f64(),
            measured: v["measured"].as_str().unwrap_or("unknown").to_string(),
            records: phase_records(dir, grids, shard)?,
        }))
    }
}

/// The records in `dir/records` of the combinations of `grids` in `shard`.
fn phase_records(dir: &Path, grids: &[ExperimentGrid], shard: Shard) -> Result<Vec<Record>> {
    let wanted: HashSet<_> =
        grids.iter().flat_map(|g| shard.select(g.combinations())).map(Combination::id).collect();
    Ok(load_all(dir.join("records"))?.into_iter().filter(|r| wanted.contains(&r.id())).collect())
}

pub fn run(args: Args) -> Result<()> {
    if args.sample == 0 {
        return Err(BenchError::InvalidOption {
            option: "--sample".into(),
            value: "0".into(),
            reason: "need a shard count of at least 1".into(),
        });
    }
    let root = workspace_root();
    let work = root.join(&args.work_dir);
    let configs: Vec<PathBuf> = NINE_CONFIGS.iter().map(|name| args.configs.join(name)).collect();
    let grids: Vec<ExperimentGrid> = configs
        .iter()
        .map(|path| {
            Ok(ExperimentGrid::new(&ExperimentConfig::from_path(path)?.only_backbone(&args.backbone)?))
        })
        .collect::<Result<_>>()?;
    let total: usize = grids.iter().map(ExperimentGrid::len).sum();
    let embeddings = work.join("embeddings");
    let data_seconds = write_data(&embeddings, &args.backbone)?;

    let sample_shard = Shard::parse(&format!("0/{}", args.sample))?;
    let mut phases = vec![run_phase(&args, &configs, &grids, &embeddings, &work, sample_shard)?];
    if args.full {
        phases.push(run_phase(&args, &configs, &grids, &embeddings, &work, Shard::ALL)?);
    } else if let Some(full) = Phase::load(&work.join(FULL_DIR), &grids, Shard::ALL)? {
        eprintln!("== whole grid: reporting the run of {}", full.measured);
        phases.push(full);
    }
    // A whole-grid run that was stopped before it finished: its groups' times.
    let partial = if phases.len() == 1 { partial_run(&work.join(FULL_DIR), &grids)? } else { None };
    let reference = match &args.reference {
        Some(checkout) => Some(run_reference(&args, checkout, &embeddings, &work, &phases[0].records)?),
        None => None,
    };

    let mut section = render(&args, total, data_seconds, &phases, reference.as_ref());
    if let Some(partial) = &partial {
        let end = section.rfind(SECTION_END).unwrap_or(section.len());
        section.insert_str(end, &render_partial(partial, &grids));
    }
    println!("{section}");
    let out = args.out.clone().unwrap_or_else(|| root.join("BENCHMARKS.md"));
    let existing = std::fs::read_to_string(&out).unwrap_or_default();
    write_atomic(&out, with_section(&existing, &section).as_bytes())?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// Writes the synthetic data sets under `root` unless a marker says they are
/// there with these settings; returns the seconds it took (0 if kept).
fn write_data(root: &Path, backbone: &str) -> Result<f64> {
    let settings = json!({
        "backbone": backbone, "datasets": DATASETS.iter().map(|(d, s)| json!([d, s])).collect::<Vec<_>>(),
        "classes": CLASSES, "train_per_class": TRAIN_PER_CLASS, "test_per_class": TEST_PER_CLASS,
        "dim": DIM, "modes": MODES, "mode_spread": MODE_SPREAD, "noise": NOISE, "offset": OFFSET,
    })
    .to_string();
    let marker = root.join("bench-grid-data.json");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(settings.as_str()) {
        eprintln!("embeddings: kept {}", root.display());
        return Ok(0.0);
    }
    let start = Instant::now();
    for (seed, (dataset, class_spread)) in DATASETS.iter().enumerate() {
        eprintln!(
            "embeddings: writing {dataset} ({} x {DIM} train, {} test)",
            CLASSES * TRAIN_PER_CLASS,
            CLASSES * TEST_PER_CLASS
        );
        let data = SyntheticParams::new(CLASSES, MODES, DIM)
            .n_train(TRAIN_PER_CLASS)
            .n_test(TEST_PER_CLASS)
            .class_spread(*class_spread)
            .mode_spread(MODE_SPREAD)
            .noise(NOISE)
            .generate(seed as u64)
            .map_err(|source| BenchError::Data { context: format!("synthetic {dataset}"), source })?;
        for (split, part) in [(Split::Train, data.train), (Split::Test, data.test)] {
            let (mut x, labels) = part.into_parts();
            x += OFFSET;
            let part = Embeddings::new(x, labels)
                .map_err(|source| BenchError::Data { context: format!("synthetic {dataset}"), source })?;
            let path = reference_path(root, dataset, backbone, split);
            write_embeddings(&path, &part, &WriteOptions::new().overwrite(true))
                .map_err(|source| BenchError::Data { context: path.display().to_string(), source })?;
        }
    }
    write_atomic(&marker, settings.as_bytes())?;
    Ok(start.elapsed().as_secs_f64())
}

fn run_phase(
    args: &Args,
    configs: &[PathBuf],
    grids: &[ExperimentGrid],
    embeddings: &Path,
    work: &Path,
    shard: Shard,
) -> Result<Phase> {
    let name = if shard == Shard::ALL { "whole grid".to_string() } else { format!("sample (shard {shard})") };
    let out =
        work.join(if shard == Shard::ALL { FULL_DIR.to_string() } else { format!("sample-{}", args.sample) });
    eprintln!("== {name}: {}", out.display());
    let mut options = ReproduceOptions::presets(embeddings, &out);
    options.configs = configs.to_vec();
    options.backbone = Some(args.backbone.clone());
    options.shard = shard;
    options.overwrite = !args.resume;
    options.progress = true;
    std::fs::create_dir_all(&out).map_err(|source| BenchError::Io {
        path: out.clone(),
        action: "create directory",
        source,
    })?;
    let started = utc_timestamp(std::time::SystemTime::now());
    // The commit at the start: the binary running is the one built then.
    let commit = git_commit().unwrap_or_else(|| "unknown".into());
    write_atomic(&out.join(STARTED_FILE), started.as_bytes())?;
    let start = Instant::now();
    let (summary, peak_mib) = peak_rss(|| reproduce(&options));
    let summary = summary?;
    let wall_seconds = start.elapsed().as_secs_f64();
    let phase = Phase {
        name,
        selected: summary.runs.iter().map(|(_, r)| r.selected).sum(),
        written: summary.runs.iter().map(|(_, r)| r.written).sum(),
        wall_seconds,
        peak_mib,
        measured: format!("{} UTC, commit {commit}", utc_timestamp(std::time::SystemTime::now())),
        records: phase_records(&out, grids, shard)?,
    };
    write_atomic(&out.join(PHASE_FILE), phase.summary().to_string().as_bytes())?;
    Ok(phase)
}

/// The kind of a combination in the time table: generator, aggregation and
/// distance (the breakdown).
fn kind(c: &Combination) -> String {
    let p = &c.params;
    let agg = match (p.aggregation_method, p.aggregation_distance_function) {
        (AggregationMethod::Max, Distance::InnerProduct) => "max, inner product".to_string(),
        (AggregationMethod::Max, d) => format!("max, {d}"),
        (AggregationMethod::Mnn, d) => format!("m-nn, {d}"),
    };
    format!("`{}`, {agg}", p.proxy_method)
}

/// What the reference's runner did on some records of the sample.
#[derive(Debug)]
struct ReferenceRun {
    /// (our record, the reference's accuracy, its seconds), in run order.
    rows: Vec<(Record, f64, f64)>,
    versions: BTreeMap<String, String>,
}

/// Runs the reference's runner on up to `--reference-records` records of
/// the sample: first the k-medoids / Mahalanobis / `max` records (the
/// fidelity case of issue 15), then one of each other kind the reference
/// finishes in minutes (not `all` proxies with a distance search, which take
/// it more than 20 minutes each).
fn run_reference(
    args: &Args,
    checkout: &Path,
    embeddings: &Path,
    work: &Path,
    sample: &[Record],
) -> Result<ReferenceRun> {
    let root = workspace_root();
    let python = PythonEnv {
        base_python: "python3".into(),
        venv: root.join(&args.reference_venv),
        requirements: root.join("scripts").join("reference_check").join("requirements.txt"),
        scripts: root.join("xtask").join("peers"),
    }
    .ensure()?;
    let fidelity = |r: &Record| {
        let p = &r.combination.params;
        p.proxy_method == "kmedoids"
            && p.aggregation_distance_function == Distance::Mahalanobis
            && p.aggregation_method == AggregationMethod::Max
    };
    let slow = |r: &Record| {
        let p = &r.combination.params;
        p.proxy_method == "all" && p.aggregation_distance_function != Distance::InnerProduct
    };
    let mut chosen: Vec<&Record> = sample.iter().filter(|r| fidelity(r)).collect();
    let mut kinds: HashSet<String> = chosen.iter().map(|r| kind(&r.combination)).collect();
    // The reference loads a task's data in minutes: records of the tasks
    // already chosen first.
    let tasks: HashSet<_> = chosen.iter().map(|r| r.combination.data.clone()).collect();
    let mut others: Vec<&Record> = sample.iter().filter(|r| !fidelity(r) && !slow(r)).collect();
    others.sort_by_key(|r| !tasks.contains(&r.combination.data));
    for r in others {
        if kinds.insert(kind(&r.combination)) {
            chosen.push(r);
        }
    }
    chosen.truncate(args.reference_records);
    let listed: Vec<Value> = chosen
        .iter()
        .map(|r| serde_json::from_str(&r.to_json_text()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| BenchError::Unsupported { context: "records".into(), reason: e.to_string() })?;
    let dir = work.join("reference");
    std::fs::create_dir_all(&dir).map_err(|source| BenchError::Io {
        path: dir.clone(),
        action: "create directory",
        source,
    })?;
    let combinations = dir.join("combinations.json");
    let out = dir.join("results.json");
    // The reference's results stay valid while the records chosen and the
    // data are the same (its runs take minutes): keep them unless asked.
    let ids: Vec<String> = chosen.iter().map(|r| r.id().to_string()).collect();
    let ids_file = dir.join("ids.json");
    let same = std::fs::read_to_string(&ids_file).ok() == Some(json!(ids).to_string()) && out.is_file();
    if same && !args.rerun_reference {
        eprintln!("== the reference's runner: kept {} (--rerun-reference to run it again)", out.display());
    } else {
        write_atomic(&combinations, Value::Array(listed).to_string().as_bytes())?;
        eprintln!("== the reference's runner on {} records", chosen.len());
        run_reference_script(args, &python, checkout, embeddings, &combinations, &out)?;
        write_atomic(&ids_file, json!(ids).to_string().as_bytes())?;
    }
    let text = std::fs::read_to_string(&out).map_err(|source| BenchError::Io {
        path: out.clone(),
        action: "read",
        source,
    })?;
    let parsed: Value = serde_json::from_str(&text)
        .map_err(|e| BenchError::Unsupported { context: out.display().to_string(), reason: e.to_string() })?;
    let results = parsed["results"].as_array().cloned().unwrap_or_default();
    if results.len() != chosen.len() {
        return Err(BenchError::Unsupported {
            context: out.display().to_string(),
            reason: format!("{} results for {} combinations", results.len(), chosen.len()),
        });
    }
    let rows = chosen
        .into_iter()
        .zip(&results)
        .map(|(r, v)| {
            (r.clone(), v["task_acc"].as_f64().unwrap_or(f64::NAN), v["seconds"].as_f64().unwrap_or(f64::NAN))
        })
        .collect();
    let versions = parsed["versions"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    Ok(ReferenceRun { rows, versions })
}

/// `scripts/reference_check/run_reference.py --combinations` in the
/// reference's environment, on all cores.
fn run_reference_script(
    args: &Args,
    python: &Path,
    checkout: &Path,
    embeddings: &Path,
    combinations: &Path,
    out: &Path,
) -> Result<()> {
    let root = workspace_root();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let status = Command::new(python)
        .arg(root.join("scripts").join("reference_check").join("run_reference.py"))
        .arg("--reference")
        .arg(checkout)
        .arg("--data")
        .arg(embeddings)
        .arg("--combinations")
        .arg(combinations)
        .arg("--out")
        .arg(out)
        .arg("--venv")
        .arg(root.join(&args.reference_venv))
        .arg("--threads")
        .arg(threads.to_string())
        .status()
        .map_err(|e| BenchError::Unsupported { context: "run_reference.py".into(), reason: e.to_string() })?;
    if status.success() {
        Ok(())
    } else {
        Err(BenchError::Unsupported {
            context: "run_reference.py".into(),
            reason: format!("exited with {status}"),
        })
    }
}

/// One data combination of one config in a whole-grid run: the runner runs
/// them one after another, in grid order.
#[derive(Debug)]
struct GroupTime {
    config: usize,
    task: String,
    done: usize,
    /// From the previous group's last record to this group's last record
    /// (the first group: from the run's start), if the group is complete.
    seconds: Option<f64>,
}

/// An interrupted whole-grid run: when it started and its groups.
#[derive(Debug)]
struct PartialRun {
    started: String,
    groups: Vec<GroupTime>,
}

/// The groups of the whole-grid run in `dir` that has no [`PHASE_FILE`]
/// (stopped before the end), timed from its records' `created_at` (whole
/// seconds); records older than its [`STARTED_FILE`] are ignored.
fn partial_run(dir: &Path, grids: &[ExperimentGrid]) -> Result<Option<PartialRun>> {
    let Ok(started) = std::fs::read_to_string(dir.join(STARTED_FILE)) else { return Ok(None) };
    if dir.join(PHASE_FILE).is_file() {
        return Ok(None);
    }
    let Some(start) = stamp_seconds(started.trim()) else { return Ok(None) };
    let stamps: std::collections::HashMap<_, f64> = phase_records(dir, grids, Shard::ALL)?
        .into_iter()
        .filter_map(|r| stamp_seconds(&r.created_at).filter(|&t| t >= start).map(|t| (r.id(), t)))
        .collect();
    let mut groups = Vec::new();
    let mut previous_end = start;
    for (config, grid) in grids.iter().enumerate() {
        let combinations = grid.combinations();
        let mut i = 0;
        while i < combinations.len() {
            let data = &combinations[i].data;
            let end = combinations[i..]
                .iter()
                .position(|c| !Arc::ptr_eq(&c.data, data))
                .map_or(combinations.len(), |n| i + n);
            let times: Vec<f64> =
                combinations[i..end].iter().filter_map(|c| stamps.get(&c.id()).copied()).collect();
            let last = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let complete = times.len() == end - i;
            groups.push(GroupTime {
                config,
                task: data.task_name.clone(),
                done: times.len(),
                seconds: complete.then_some(last - previous_end),
            });
            if complete {
                previous_end = last;
            }
            i = end;
        }
    }
    Ok(Some(PartialRun { started: started.trim().to_string(), groups }))
}

/// Seconds since the epoch of a `%Y-%m-%d_%H:%M:%S` UTC stamp.
fn stamp_seconds(stamp: &str) -> Option<f64> {
    let (date, time) = stamp.split_once('_')?;
    let d: Vec<i64> = date.split('-').map(str::parse).collect::<std::result::Result<_, _>>().ok()?;
    let t: Vec<i64> = time.split(':').map(str::parse).collect::<std::result::Result<_, _>>().ok()?;
    let ([y, m, day], [h, min, sec]) = (d.as_slice(), t.as_slice()) else { return None };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if *m <= 2 { y - 1 } else { *y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + min * 60 + sec) as f64)
}

/// The interrupted run's table: per config, the groups it finished and
/// their time, and for the others the mean time of the finished groups of
/// the same config and task split (the data sets are the same size).
fn render_partial(partial: &PartialRun, grids: &[ExperimentGrid]) -> String {
    let mut s = format!(
        "\n### The whole grid, stopped before the end\n\nThe `--full` run started {} UTC was stopped \
         before it finished. The runner runs each config's data combinations one after another, so each \
         finished one took from the previous one's last record to its own (`created_at`, whole seconds). \
         A data combination not finished is estimated by the mean of the finished ones of the same config \
         and task split (the three data sets have the same sizes).\n\n\
         | config | combinations | done | data combinations finished | their wall time | estimated rest | estimated total |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
        partial.started
    );
    let (mut measured_all, mut estimated_all, mut unknown) = (0.0, 0.0, false);
    for (config, name) in NINE_CONFIGS.iter().enumerate() {
        let groups: Vec<&GroupTime> = partial.groups.iter().filter(|g| g.config == config).collect();
        let measured: f64 = groups.iter().filter_map(|g| g.seconds).sum();
        let mut rest = 0.0;
        let mut rest_known = true;
        for g in groups.iter().filter(|g| g.seconds.is_none()) {
            let same: Vec<f64> =
                groups.iter().filter(|o| o.task == g.task).filter_map(|o| o.seconds).collect();
            if same.is_empty() {
                rest_known = false;
            } else {
                rest += same.iter().sum::<f64>() / same.len() as f64;
            }
        }
        measured_all += measured;
        estimated_all += rest;
        unknown |= !rest_known;
        let finished = groups.iter().filter(|g| g.seconds.is_some()).count();
        s.push_str(&format!(
            "| {name} | {} | {} | {finished} of {} | {} | {} | {} |\n",
            grids[config].len(),
            groups.iter().map(|g| g.done).sum::<usize>(),
            groups.len(),
            duration(measured),
            if rest_known { duration(rest) } else { "unknown".into() },
            if rest_known { duration(measured + rest) } else { "unknown".into() },
        ));
    }
    s.push_str(&format!(
        "| all nine | {} | {} | | {} | {} | {} |\n",
        grids.iter().map(ExperimentGrid::len).sum::<usize>(),
        partial.groups.iter().map(|g| g.done).sum::<usize>(),
        duration(measured_all),
        if unknown { "unknown".into() } else { duration(estimated_all) },
        if unknown { "unknown".into() } else { duration(measured_all + estimated_all) },
    ));
    s
}

fn render(
    args: &Args,
    total: usize,
    data_seconds: f64,
    phases: &[Phase],
    reference: Option<&ReferenceRun>,
) -> String {
    let mut s = String::new();
    s.push_str(&format!("{SECTION_START}\n\n## The paper's grid at the paper's scale\n\n"));
    s.push_str(&format!(
        "Measured by `cargo xtask bench-grid --configs REFERENCE/src/config --backbone {}{}{}` on {} UTC, \
         commit {}, on {} ({} threads, {}).\n\n",
        args.backbone,
        if args.full { " --full" } else { "" },
        if args.reference.is_some() { " --reference REFERENCE" } else { "" },
        utc_timestamp(std::time::SystemTime::now()),
        git_commit().unwrap_or_else(|| "unknown".into()),
        cpu_model().unwrap_or_else(|| "an unknown CPU".into()),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        memory().unwrap_or_else(|| "unknown memory".into()),
    ));
    s.push_str(&format!(
        "Data: {} synthetic data sets ({}) in the reference layout, {CLASSES} classes of {MODES} modes, \
         {TRAIN_PER_CLASS} training and {TEST_PER_CLASS} test samples per class, {DIM} dimensions \
         (`imprint_data::SyntheticParams`, mode spread {MODE_SPREAD}, noise {NOISE}, offset {OFFSET}){}. \
         Grid: the nine non-ImageNet reference configs ({}) for one backbone, {total} combinations.\n\n",
        DATASETS.len(),
        DATASETS
            .iter()
            .map(|(d, spread)| format!("{d}: class spread {spread}"))
            .collect::<Vec<_>>()
            .join(", "),
        if data_seconds > 0.0 { format!(", written in {data_seconds:.0} s") } else { String::new() },
        NINE_CONFIGS.join(", "),
    ));
    s.push_str(
        "| run | combinations | run now | wall time | per combination | peak memory | measured |\n\
         |---|---:|---:|---:|---:|---:|---|\n",
    );
    for p in phases {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.3} s | {} | {} |\n",
            p.name,
            p.selected,
            p.written,
            duration(p.wall_seconds),
            p.wall_seconds / p.written.max(1) as f64,
            p.peak_mib.map(|m| format!("{:.2} GiB", m / 1024.0)).unwrap_or_else(|| "-".into()),
            p.measured,
        ));
    }
    if let Some(sample) = phases.first().filter(|p| p.written > 0) {
        s.push_str(&format!(
            "\nThe sample's time per combination times {total} combinations would be {}; the whole grid shares \
             more work per proxy set and neighbour search than a sample of every {}-th combination does, so \
             that is an upper bound.\n",
            duration(sample.wall_seconds / sample.written as f64 * total as f64),
            args.sample,
        ));
    }
    for p in phases {
        s.push_str(&kinds_table(p));
    }
    if let Some(reference) = reference {
        s.push_str(&reference_table(reference));
    }
    s.push_str(&format!("\n{SECTION_END}\n"));
    s
}

/// Records' runtimes by kind, the kinds with the most total time first.
fn kinds_table(p: &Phase) -> String {
    let mut by_kind: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &p.records {
        by_kind.entry(kind(&r.combination)).or_default().push(r.runtime);
    }
    let mut rows: Vec<(String, Vec<f64>)> = by_kind.into_iter().collect();
    rows.sort_by(|a, b| b.1.iter().sum::<f64>().total_cmp(&a.1.iter().sum::<f64>()));
    let mut s = format!(
        "\n### Time per combination by kind: {}\n\nFrom the records' `runtime`: the combination's own \
         aggregation plus the shared proxies and neighbour search it used, so shared work counts once per \
         sharer and the sum exceeds the wall time.\n\n| kind | combinations | median | max | sum |\n|---|---:|---:|---:|---:|\n",
        p.name
    );
    for (kind, times) in rows {
        s.push_str(&format!(
            "| {kind} | {} | {:.3} s | {:.3} s | {:.1} s |\n",
            times.len(),
            median(&times),
            times.iter().copied().fold(0.0, f64::max),
            times.iter().sum::<f64>(),
        ));
    }
    s
}

fn reference_table(reference: &ReferenceRun) -> String {
    let mut s = format!(
        "\n### The reference's runner on records of the sample\n\nIts own `run_combination` \
         (`scripts/reference_check/run_reference.py --combinations`), data loading excluded, in its pinned \
         environment ({}); ours is the record's `runtime`.\n\n\
         | combination | imprint-rs % | reference % | difference | imprint-rs s | reference s | x ours |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
        reference.versions.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    );
    for (r, acc, seconds) in &reference.rows {
        s.push_str(&format!(
            "| {}{} | {:.2} | {:.2} | {:.2} | {:.3} | {:.2} | {:.1} |\n",
            describe(&r.combination),
            if draws_random_numbers(&r.combination) { " (random draws: portable RNG)" } else { "" },
            r.task_acc,
            acc,
            r.task_acc - acc,
            r.runtime,
            seconds,
            seconds / r.runtime.max(1e-9),
        ));
    }
    s
}

/// Whether the combination's proxies come from random draws, which the
/// portable RNG makes differently from the reference's (same distribution,
/// other numbers: `cargo xtask reproduce --rng reference` matches them).
fn draws_random_numbers(c: &Combination) -> bool {
    !DETERMINISTIC_GENERATORS.contains(&c.params.proxy_method)
        || c.params.presampling_fewshot_value != -1
        || c.params.presampling_method != imprint_data::PresamplingMethod::All
}

fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("{s:.1} s"),
        s if s < 7200.0 => format!("{:.1} min", s / 60.0),
        s => format!("{:.2} h", s / 3600.0),
    }
}

/// `existing` with this command's section replaced, or added at the end
/// (after the part `bench-peers` keeps, adding its marker if missing).
fn with_section(existing: &str, section: &str) -> String {
    if let (Some(start), Some(end)) = (existing.find(SECTION_START), existing.find(SECTION_END))
        && start < end
    {
        let after = &existing[end + SECTION_END.len()..];
        return format!("{}{}{}", &existing[..start], section.trim_end(), after);
    }
    let mut out = existing.trim_end().to_string();
    if !out.contains(KEPT_MARKER) {
        out.push_str(&format!("\n\n{KEPT_MARKER}"));
    }
    format!("{out}\n\n{}", section.trim_end()) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_replaced_in_place_or_appended_after_the_kept_part() {
        let section = format!("{SECTION_START}\nnew\n{SECTION_END}\n");
        let fresh = with_section("# Benchmarks\n", &section);
        assert_eq!(fresh, format!("# Benchmarks\n\n{KEPT_MARKER}\n\n{SECTION_START}\nnew\n{SECTION_END}\n"));
        let old = format!("# B\n\n{KEPT_MARKER}\n\n{SECTION_START}\nold\n{SECTION_END}\n\n## Python\nkept\n");
        let replaced = with_section(&old, &section);
        assert_eq!(
            replaced,
            format!("# B\n\n{KEPT_MARKER}\n\n{SECTION_START}\nnew\n{SECTION_END}\n\n## Python\nkept\n")
        );
        assert_eq!(with_section(&replaced, &section), replaced);
    }

    #[test]
    fn stamps_are_seconds_since_the_epoch() {
        assert_eq!(stamp_seconds("1970-01-01_00:00:00"), Some(0.0));
        assert_eq!(stamp_seconds("2026-12-02_02:30:13"), Some(1_796_178_613.0));
        assert_eq!(stamp_seconds("2000-02-29_23:59:59"), Some(951_868_799.0));
        assert_eq!(stamp_seconds("2026-12-02 02:30:13"), None);
        assert_eq!(stamp_seconds("2026-12_02:30:13"), None);
    }

    #[test]
    fn the_nine_configs_are_the_non_imagenet_ones_without_the_digit_combinations() {
        assert!(NINE_CONFIGS.iter().all(|c| !c.contains("imagenet") || c.contains("non-imagenet")));
        assert!(NINE_CONFIGS.iter().all(|c| !c.contains("combidigits")));
        assert_eq!(NINE_CONFIGS.iter().collect::<HashSet<_>>().len(), 9);
    }
}

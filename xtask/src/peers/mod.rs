//! `cargo xtask bench-peers`: our implementation and its Python peers
//! (scikit-learn, faiss, torch, and a reference-equivalent pipeline) on the
//! same data, measured in one run on one machine, side by side.
//!
//! Rust writes every workload as `.npy` files plus a JSON plan, measures its
//! own implementation in-process, then runs `xtask/peers/peers.py` on
//! the plan inside a virtual environment made from
//! `xtask/peers/requirements.txt`, and renders `BENCHMARKS.md`:
//! times (median of repetitions), ratios, quality (inertia, accuracy,
//! agreement), peak memory, and the targets of the speed issue.

mod cases;
pub mod measure;
pub mod npy;
mod pipeline;
mod python;
mod render;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use imprint_core::{Aggregation, Distance, Weighting};
use serde::{Deserialize, Serialize};

pub use pipeline::{EQUAL_PP, PipelineOutcome};
pub use python::PythonEnv;
pub use render::render_markdown;

use imprint_bench::workloads::Modes;
use imprint_bench::{BenchError, Result};

/// Name of our implementation in the tables.
pub const OURS: &str = "imprint-rs";

/// Our k-means without its k-means++ initialization: Lloyd from the centres
/// it chose, the work of the peers that start from them.
pub const OURS_FROM_INIT: &str = "imprint-rs (our init)";

/// Our ls with its Gram matrix in f32 (`GramPrecision::F32`, an explicit
/// choice): the float32 work of the reference's torch formula.
pub const OURS_F32_GRAM: &str = "imprint-rs (f32 Gram)";

/// The reference's ls formula in torch (float32), written by `peers.py`.
pub const TORCH_LS: &str = "torch (reference formula)";

/// One implementation's result on one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The case, e.g. `k-means n=6000 d=512 k=20 (overlapping)`.
    pub case: String,
    /// Who ran it, e.g. [`OURS`] or `scikit-learn KMeans`.
    pub implementation: String,
    /// Seconds of every repetition.
    pub seconds: Vec<f64>,
    /// Quality next to time: inertia, accuracy, agreement with ours, ...
    #[serde(default)]
    pub quality: BTreeMap<String, f64>,
    /// Growth of resident memory while it ran, MiB.
    #[serde(default)]
    pub peak_rss_mib: Option<f64>,
    /// A remark shown in the table.
    #[serde(default)]
    pub note: String,
}

impl Measurement {
    /// A measurement without quality figures.
    pub fn new(case: &str, implementation: &str, seconds: Vec<f64>) -> Self {
        Self {
            case: case.to_string(),
            implementation: implementation.to_string(),
            seconds,
            quality: BTreeMap::new(),
            peak_rss_mib: None,
            note: String::new(),
        }
    }

    /// Adds a quality figure.
    pub fn quality(mut self, name: &str, value: f64) -> Self {
        self.quality.insert(name.to_string(), value);
        self
    }

    /// Sets the remark shown in the table.
    pub fn note(mut self, note: &str) -> Self {
        self.note = note.to_string();
        self
    }

    /// Sets the memory growth.
    pub fn peak_rss(mut self, mib: Option<f64>) -> Self {
        self.peak_rss_mib = mib;
        self
    }

    /// The median over repetitions.
    pub fn median_seconds(&self) -> f64 {
        measure::median(&self.seconds)
    }
}

/// How big the workloads are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The paper's sizes (about 6,000 samples per class).
    Paper,
    /// A few percent of them, to try the command out in a minute.
    Quick,
}

/// Settings of one `bench-peers` run.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// Scratch folder for inputs and peer outputs.
    pub work_dir: PathBuf,
    /// Workload sizes.
    pub scale: Scale,
    /// The Python environment of the peers; `None` measures ours only.
    pub python: Option<PythonEnv>,
    /// The reference's Python environment (its pinned torch, NumPy,
    /// scikit-learn, scikit-learn-extra); `None` skips its cases.
    pub reference_python: Option<PythonEnv>,
    /// Run only the cases whose name contains this text.
    pub filter: Option<String>,
    /// Embeddings of the whole-reproduction comparison (the bundled `data/`),
    /// and every how-many-th combination of the preset grid it runs (1 = all);
    /// `None` skips it.
    pub pipeline: Option<(PathBuf, usize)>,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct PeerReport {
    /// Every measurement, ours and the peers', grouped by case in run order.
    pub measurements: Vec<Measurement>,
    /// Library versions the peers reported.
    pub versions: BTreeMap<String, String>,
    /// The whole-reproduction comparison, if run.
    pub pipeline: Option<PipelineOutcome>,
}

/// Runs every case: ours in-process, then the peers on the same inputs.
pub fn run(options: &PeerOptions) -> Result<PeerReport> {
    let dir = options.work_dir.join("inputs");
    std::fs::create_dir_all(&dir).map_err(|source| BenchError::Io {
        path: dir.clone(),
        action: "create directory",
        source,
    })?;
    let mut s = cases::Session::new(&dir, options.filter.as_deref());
    let paper = options.scale == Scale::Paper;
    let (n, big_q, big_p, nc1_n) = if paper { (6000, 10_000, 60_000, 6000) } else { (1500, 1000, 6000, 600) };
    let reps = if paper { 5 } else { 2 };
    let mnn5 = Aggregation::mnn(5, Distance::Euclidean, Weighting::Uniform)
        .map_err(|source| BenchError::Imprint { context: "bench-peers".into(), source })?;

    eprintln!("== imprint-rs (in-process)");
    for modes in [Modes::Overlapping, Modes::Separated] {
        cases::kmeans(&mut s, n, 512, 20, modes, reps)?;
    }
    // How cost grows with n, d and k (overlapping modes).
    for n_scaled in [n / 4, n / 2, 2 * n] {
        cases::kmeans(&mut s, n_scaled, 512, 20, Modes::Overlapping, reps)?;
    }
    for dim in [1024, 2048] {
        cases::kmeans(&mut s, n, dim, 20, Modes::Overlapping, reps)?;
    }
    for k in [5, 50] {
        cases::kmeans(&mut s, n, 512, k, Modes::Overlapping, reps)?;
    }
    cases::lloyd_vs_gemm(&mut s, n, 512, 20, reps)?;
    for k in [1, 5, 20] {
        cases::kmedoids(&mut s, n, 512, k, if paper { 3 } else { reps })?;
    }
    cases::aggregation(&mut s, big_q, 200, 512, Aggregation::max(), reps, false)?;
    cases::aggregation(&mut s, big_q, 200, 512, mnn5, reps, false)?;
    cases::aggregation(&mut s, big_q, big_p, 512, mnn5, 1, true)?;
    cases::aggregation(&mut s, big_q, big_p, 512, Aggregation::max(), 1, true)?;
    // Distances without a GEMM form: few proxies, and all data for a
    // twentieth of the queries (on 2,000 the peers took 7 minutes: faiss's
    // Chebyshev 179 s, scikit-learn's, the reference's path, 93 s).
    for distance in [Distance::Manhattan, Distance::Chebyshev] {
        let mnn5 = Aggregation::mnn(5, distance, Weighting::Uniform)
            .map_err(|source| BenchError::Imprint { context: "bench-peers".into(), source })?;
        cases::aggregation(&mut s, big_q, 200, 512, mnn5, reps, false)?;
        cases::aggregation(&mut s, big_q / 20, big_p, 512, mnn5, 1, true)?;
    }
    for dim in [512, 2048] {
        cases::least_squares(&mut s, n, dim, None, 1e-4, if paper { 3 } else { reps })?;
    }
    cases::least_squares(&mut s, n, 512, Some(5), 1e-4, if paper { 3 } else { reps })?;
    cases::collapse(&mut s, nc1_n, 2048)?;

    let mut measurements = s.ours;
    // Cases for the reference's own libraries (scikit-learn-extra, which has
    // no build for the peers' NumPy) run in the reference's environment.
    let (reference_plan, plan): (Vec<_>, Vec<_>) =
        s.plan.into_iter().partition(|case| case["environment"] == "reference");
    let mut versions = BTreeMap::new();
    for (env, script, plan, name) in [
        (&options.python, "peers.py", plan, "peers"),
        (&options.reference_python, "reference_peers.py", reference_plan, "reference_peers"),
    ] {
        let Some(env) = env else { continue };
        if plan.is_empty() {
            continue;
        }
        eprintln!("== Python peers ({script}, {})", env.venv.display());
        let plan_path = options.work_dir.join(format!("{name}_plan.json"));
        npy::write_atomic(&plan_path, serde_json::json!({ "cases": plan }).to_string().as_bytes())?;
        let peers = env.run_peers(script, &plan_path, &options.work_dir.join(format!("{name}.json")))?;
        for (library, version) in peers.versions {
            let library =
                if name == "peers" { library } else { format!("{library} (reference environment)") };
            versions.insert(library, version);
        }
        measurements.extend(peers.measurements);
    }
    // Group by case, keeping the order in which cases first appear.
    let mut order: Vec<String> = Vec::new();
    for m in &measurements {
        if !order.contains(&m.case) {
            order.push(m.case.clone());
        }
    }
    measurements.sort_by_key(|m| order.iter().position(|c| *c == m.case));

    let pipeline = match (&options.pipeline, &options.python) {
        (Some((root, every)), python) => {
            Some(pipeline::compare(&options.work_dir.join("pipeline"), root, *every, python.as_ref())?)
        }
        (None, _) => None,
    };
    Ok(PeerReport { measurements, versions, pipeline })
}

/// Writes `text` to `path` atomically (temporary file, fsync, rename).
pub fn write_report(path: &Path, text: &str) -> Result<()> {
    npy::write_atomic(path, text.as_bytes())
}

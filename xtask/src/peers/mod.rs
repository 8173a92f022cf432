//! `cargo xtask bench-peers`: our implementation and its Python peers
//! (scikit-learn, faiss, torch, and a reference-equivalent pipeline) on the
//! same data, measured in one run on one machine, side by side.
//!
//! Case by case, Rust writes the workload as `.npy` files, measures its own
//! implementation in-process, then sends the case to `xtask/peers/peers.py`,
//! which runs for the whole run inside a virtual environment made from
//! `xtask/peers/requirements.txt`; at the end it renders `BENCHMARKS.md`:
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
use python::PeerServer;
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

/// Runs every case: ours in-process, then at once the peers on the same
/// inputs (see `xtask/peers/peer_protocol.py`).
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
    let few_reps = if paper { 3 } else { reps };
    let mnn = |m, distance| {
        Aggregation::mnn(m, distance, Weighting::Uniform)
            .map_err(|source| BenchError::Imprint { context: "bench-peers".into(), source })
    };
    let mnn5 = mnn(5, Distance::Euclidean)?;
    let (manhattan5, chebyshev5) = (mnn(5, Distance::Manhattan)?, mnn(5, Distance::Chebyshev)?);

    type Case = Box<dyn FnOnce(&mut cases::Session) -> Result<()>>;
    let mut all: Vec<Case> = Vec::new();
    for modes in [Modes::Overlapping, Modes::Separated] {
        all.push(Box::new(move |s| cases::kmeans(s, n, 512, 20, modes, reps)));
    }
    // How cost grows with n, d and k (overlapping modes).
    for n_scaled in [n / 4, n / 2, 2 * n] {
        all.push(Box::new(move |s| cases::kmeans(s, n_scaled, 512, 20, Modes::Overlapping, reps)));
    }
    for dim in [1024, 2048] {
        all.push(Box::new(move |s| cases::kmeans(s, n, dim, 20, Modes::Overlapping, reps)));
    }
    for k in [5, 50] {
        all.push(Box::new(move |s| cases::kmeans(s, n, 512, k, Modes::Overlapping, reps)));
    }
    all.push(Box::new(move |s| cases::lloyd_vs_gemm(s, n, 512, 20, reps)));
    for k in [1, 5, 20] {
        all.push(Box::new(move |s| cases::kmedoids(s, n, 512, k, few_reps)));
    }
    all.push(Box::new(move |s| cases::aggregation(s, big_q, 200, 512, Aggregation::max(), reps, false)));
    all.push(Box::new(move |s| cases::aggregation(s, big_q, 200, 512, mnn5, reps, false)));
    all.push(Box::new(move |s| cases::aggregation(s, big_q, big_p, 512, mnn5, 1, true)));
    all.push(Box::new(move |s| cases::aggregation(s, big_q, big_p, 512, Aggregation::max(), 1, true)));
    // Distances without a GEMM form: few proxies, and all data for a
    // twentieth of the queries (on 2,000 the peers took 7 minutes: faiss's
    // Chebyshev 179 s, scikit-learn's, the reference's path, 93 s).
    for agg in [manhattan5, chebyshev5] {
        all.push(Box::new(move |s| cases::aggregation(s, big_q, 200, 512, agg, reps, false)));
        all.push(Box::new(move |s| cases::aggregation(s, big_q / 20, big_p, 512, agg, 1, true)));
    }
    for dim in [512, 2048] {
        all.push(Box::new(move |s| cases::least_squares(s, n, dim, None, 1e-4, few_reps)));
    }
    all.push(Box::new(move |s| cases::least_squares(s, n, 512, Some(5), 1e-4, few_reps)));
    all.push(Box::new(move |s| cases::collapse(s, nc1_n, 2048)));

    // Cases for the reference's own libraries (scikit-learn-extra, which has
    // no build for the peers' NumPy) run in the reference's environment.
    let mut peers = LazyServer::new(options.python.as_ref(), "peers.py", "");
    let mut reference =
        LazyServer::new(options.reference_python.as_ref(), "reference_peers.py", " (reference environment)");
    let mut measurements = Vec::new();
    for case in all {
        case(&mut s)?;
        measurements.append(&mut s.ours);
        for entry in std::mem::take(&mut s.plan) {
            let server = if entry["environment"] == "reference" { &mut reference } else { &mut peers };
            measurements.extend(server.run(&entry)?);
        }
    }
    let mut versions = BTreeMap::new();
    peers.finish(&mut versions)?;
    reference.finish(&mut versions)?;

    let pipeline = match (&options.pipeline, &options.python) {
        (Some((root, every)), python) => {
            Some(pipeline::compare(&options.work_dir.join("pipeline"), root, *every, python.as_ref())?)
        }
        (None, _) => None,
    };
    Ok(PeerReport { measurements, versions, pipeline })
}

/// A peer script started when its first case comes (a run whose filter
/// selects none of its cases never starts it); without an environment, its
/// cases have no peers.
struct LazyServer<'a> {
    env: Option<&'a PythonEnv>,
    script: &'static str,
    /// Appended to the library names of its versions.
    version_suffix: &'static str,
    server: Option<PeerServer>,
}

impl<'a> LazyServer<'a> {
    fn new(env: Option<&'a PythonEnv>, script: &'static str, version_suffix: &'static str) -> Self {
        Self { env, script, version_suffix, server: None }
    }

    fn run(&mut self, case: &serde_json::Value) -> Result<Vec<Measurement>> {
        let Some(env) = self.env else { return Ok(Vec::new()) };
        if self.server.is_none() {
            eprintln!("== Python peers ({}, {})", self.script, env.venv.display());
            self.server = Some(env.serve(self.script)?);
        }
        self.server.as_mut().expect("started above").run(case)
    }

    /// Stops the script, adding the versions it reported to `versions`.
    fn finish(self, versions: &mut BTreeMap<String, String>) -> Result<()> {
        let Some(server) = self.server else { return Ok(()) };
        for (library, version) in &server.versions {
            versions.insert(format!("{library}{}", self.version_suffix), version.clone());
        }
        server.finish()
    }
}

/// Writes `text` to `path` atomically (temporary file, fsync, rename).
pub fn write_report(path: &Path, text: &str) -> Result<()> {
    npy::write_atomic(path, text.as_bytes())
}

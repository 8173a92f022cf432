//! Bit-identical results for 1, 2 and 4 rayon threads and across repeated
//! runs: every generator, the least-squares oracles, class-parallel
//! imprinting, every aggregation and distance (on enough queries and proxies
//! that aggregation works block by block), neural collapse, and whole grid
//! records. Sizes are chosen so that the parallel and blocked code paths run:
//! several 256-row generator blocks, GEMMs above faer's threading threshold
//! and summed dimensions above its 512-deep panels, and the faer kernels that
//! would split a summed dimension across threads (see "Determinism" in
//! ARCHITECTURE.md for the list and how each is fixed).

#![allow(clippy::unwrap_used)] // test helpers: a failure should stop the test loudly

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use imprint_baselines::{KLeastSquaresParams, LeastSquaresParams};
use imprint_bench::ResultStore;
use imprint_bench::runner::{RunOptions, run_grid};
use imprint_compat::{ExperimentConfig, ExperimentGrid, Shard, load_all};
use imprint_core::{
    Aggregation, Aggregator, Centering, Distance, GenerateExt, ImprintedHead, Imprinter, InputNorm, Shots,
    WeightNorm, Weighting, ZeroVectorPolicy, argmax_rows, neural_collapse,
};
use imprint_data::{Split, SyntheticParams, WriteOptions, reference_path, write_embeddings};
use imprint_gen::{GENERATOR_NAMES, KMeansParams, KMedoidsParams, generator_by_name};
use ndarray::{Array2, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Pool sizes every computation runs with, in order; 4 comes twice so that a
/// result depending on scheduling rather than on the thread count shows too.
const THREADS: [usize; 4] = [1, 2, 4, 4];

/// The results of one computation as raw bits, labelled, in computation order.
#[derive(Debug, Default, PartialEq)]
struct Bits(Vec<(String, Vec<u64>)>);

impl Bits {
    fn f32s<'a>(&mut self, label: impl Into<String>, values: impl IntoIterator<Item = &'a f32>) {
        self.0.push((label.into(), values.into_iter().map(|v| u64::from(v.to_bits())).collect()));
    }

    fn f64s(&mut self, label: impl Into<String>, values: impl IntoIterator<Item = f64>) {
        self.0.push((label.into(), values.into_iter().map(f64::to_bits).collect()));
    }

    fn ints(&mut self, label: impl Into<String>, values: impl IntoIterator<Item = usize>) {
        self.0.push((label.into(), values.into_iter().map(|v| v as u64).collect()));
    }

    fn array(&mut self, label: impl Into<String>, a: &Array2<f32>) {
        let label = label.into();
        self.ints(format!("{label} (shape)"), [a.nrows(), a.ncols()]);
        self.f32s(label, a.iter());
    }

    /// Every label whose bits differ from `reference`'s, with the first
    /// differing position and how many differ.
    fn differences(&self, reference: &Bits) -> Vec<String> {
        let theirs: BTreeMap<&str, &Vec<u64>> = self.0.iter().map(|(l, b)| (l.as_str(), b)).collect();
        let mut out = Vec::new();
        for (label, want) in &reference.0 {
            match theirs.get(label.as_str()) {
                None => out.push(format!("{label}: missing")),
                Some(got) if got.len() != want.len() => {
                    out.push(format!("{label}: {} values instead of {}", got.len(), want.len()))
                }
                Some(got) => {
                    let diff: Vec<usize> = (0..want.len()).filter(|&i| got[i] != want[i]).collect();
                    if let Some(&i) = diff.first() {
                        out.push(format!(
                            "{label}: {} of {} values differ, first at {i} (bits {:#x} instead of {:#x})",
                            diff.len(),
                            want.len(),
                            got[i],
                            want[i]
                        ));
                    }
                }
            }
        }
        if self.0.len() != reference.0.len() {
            out.push(format!("{} results instead of {}", self.0.len(), reference.0.len()));
        }
        out
    }
}

/// Runs `f` in a fresh rayon pool of each size of [`THREADS`] and checks that
/// every run gives the bits of the first (one thread).
fn same_bits_on_every_pool(what: &str, f: impl Fn() -> Bits + Sync) {
    let runs: Vec<(usize, Bits)> = THREADS
        .iter()
        .map(|&n| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
            (n, pool.install(&f))
        })
        .collect();
    let (_, reference) = &runs[0];
    assert!(!reference.0.is_empty());
    let mut report = Vec::new();
    for (i, (n, bits)) in runs.iter().enumerate().skip(1) {
        for d in bits.differences(reference) {
            report.push(format!("run {i} ({n} threads) vs 1 thread: {d}"));
        }
    }
    assert!(report.is_empty(), "{what} depends on the thread count:\n{}", report.join("\n"));
}

/// `n` rows in `dim` dimensions around `centres` seeded random centres, so
/// that k-means has clusters to find and iterates several times.
fn blobs(seed: u64, n: usize, dim: usize, centres: usize, spread: f32) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mid = Array2::from_shape_fn((centres, dim), |_| rng.random_range(-1.0f32..1.0));
    Array2::from_shape_fn((n, dim), |(i, j)| mid[[i % centres, j]] + spread * rng.random_range(-1.0f32..1.0))
}

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

#[test]
fn every_generator_is_bit_identical_on_any_thread_count() {
    // 900 rows: three full 256-row blocks and a partial one; 700 rows in 300 dims.
    let cases = [blobs(1, 900, 96, 12, 0.4), blobs(2, 700, 300, 9, 0.6)];
    same_bits_on_every_pool("proxy generation", || {
        let mut bits = Bits::default();
        for (c, x) in cases.iter().enumerate() {
            for &name in GENERATOR_NAMES {
                for k in [1, 7, 40] {
                    let generator = generator_by_name(name, Some(k)).unwrap();
                    let proxies = generator.generate(x.view(), &mut rng(17121997, c as u64)).unwrap();
                    bits.array(format!("data {c}: {name} k={k}"), &proxies);
                }
            }
            // What the proxies come from: labels, inertia (f64 sums), iterations.
            let shots = Shots::new(x.view(), "shots").unwrap();
            for k in [7, 40] {
                let fit = KMeansParams::new(k).check().unwrap().fit(shots, &mut rng(5, c as u64)).unwrap();
                bits.ints(format!("data {c}: kmeans k={k} labels"), fit.labels().iter().copied());
                bits.f64s(format!("data {c}: kmeans k={k} inertia"), [fit.inertia()]);
                bits.ints(format!("data {c}: kmeans k={k} iterations"), [fit.n_iter()]);
                let fit = KMedoidsParams::new(k).check().unwrap().fit(shots).unwrap();
                bits.ints(format!("data {c}: kmedoids k={k} medoids"), fit.medoid_indices().iter().copied());
                bits.f64s(format!("data {c}: kmedoids k={k} inertia"), [fit.inertia()]);
            }
        }
        bits
    });
}

#[test]
fn least_squares_oracles_are_bit_identical_on_any_thread_count() {
    // 300 and 560 features: the Cholesky factor and solve of the second are
    // blocked, and its Gram GEMMs sum over more than one 512-deep panel.
    let cases: Vec<Vec<Array2<f32>>> = [(300, 6, 180), (560, 4, 260)]
        .iter()
        .enumerate()
        .map(|(c, &(dim, n_classes, n))| {
            (0..n_classes).map(|i| blobs(10 * c as u64 + i as u64, n, dim, 3, 0.5)).collect()
        })
        .collect();
    same_bits_on_every_pool("ls and kls", || {
        let mut bits = Bits::default();
        for (c, classes) in cases.iter().enumerate() {
            let views: Vec<_> = classes.iter().map(|x| x.view()).collect();
            for lambda in [1e-4, 0.05] {
                let ls = LeastSquaresParams::new(lambda).check().unwrap();
                bits.array(format!("data {c}: ls lambda={lambda}"), &ls.fit(&views).unwrap());
                // One class: a single right-hand side (see `solve_with_factor`).
                bits.array(format!("data {c}: ls lambda={lambda}, one class"), &ls.fit(&views[..1]).unwrap());
            }
            for k in [Some(1), Some(3), Some(8), None] {
                let w = KLeastSquaresParams::new(k, 0.05).check().unwrap().fit(&views, 7).unwrap();
                for (class, w) in w.iter().enumerate() {
                    bits.array(format!("data {c}: kls k={k:?} class {class}"), w);
                }
            }
        }
        bits
    });
}

#[test]
fn class_parallel_imprinting_is_bit_identical_on_any_thread_count() {
    let classes: Vec<Array2<f32>> = (0..8).map(|c| blobs(100 + c, 300, 128, 4, 0.5)).collect();
    let named: Vec<(String, _)> =
        classes.iter().enumerate().map(|(c, x)| (format!("c{c}"), x.view())).collect();
    let queries = blobs(150, 400, 128, 32, 0.6);
    let inference =
        [Aggregation::max(), Aggregation::mnn(5, Distance::Cosine, Weighting::InverseDistance).unwrap()];
    same_bits_on_every_pool("Imprinter::imprint_task", || {
        let mut bits = Bits::default();
        for &name in GENERATOR_NAMES {
            for post in [WeightNorm::L2(ZeroVectorPolicy::Reject), WeightNorm::Quantile] {
                let label = format!("{name} k=5 {post:?}");
                let imprinter = Imprinter::from_boxed(generator_by_name(name, Some(5)).unwrap())
                    .with_pre_norm(InputNorm::L2(ZeroVectorPolicy::Reject))
                    .with_post_norm(post)
                    .with_seed(17121997);
                let mut head =
                    ImprintedHead::with_inference(128, InputNorm::L2(ZeroVectorPolicy::Reject), inference[0])
                        .unwrap();
                imprinter.imprint_task(&mut head, &named).unwrap();
                bits.array(format!("{label} weights"), &head.weights().to_owned());
                bits.ints(format!("{label} classes"), head.proxy_classes());
                scores_and_predictions(&mut bits, &label, &head, &queries, &inference, true);
            }
        }
        bits
    });
}

const DISTANCES: [Distance; 6] = [
    Distance::InnerProduct,
    Distance::Cosine,
    Distance::Euclidean,
    Distance::Manhattan,
    Distance::Chebyshev,
    Distance::Mahalanobis,
];

/// Max and m-nn under every distance, m-nn with each of `weightings`.
fn aggregations(weightings: &[Weighting]) -> Vec<Aggregation> {
    let mut out = Vec::new();
    for distance in DISTANCES {
        out.push(Aggregation::Max { distance });
        for &weighting in weightings {
            out.push(Aggregation::mnn(5, distance, weighting).unwrap());
        }
    }
    out
}

fn head_of(proxies: &[Array2<f32>]) -> ImprintedHead {
    let dim = proxies[0].ncols();
    let mut head =
        ImprintedHead::with_inference(dim, InputNorm::L2(ZeroVectorPolicy::Reject), Aggregation::max())
            .unwrap();
    for (c, p) in proxies.iter().enumerate() {
        head.add_class(format!("c{c}"), p.view()).unwrap();
    }
    head
}

/// Raw scores ([`ImprintedHead::scores`]) and predictions of `head` on
/// `queries` under each of `aggregations`. With `predict`, predictions come
/// from [`ImprintedHead::predict`], else from [`argmax_rows`] of the scores
/// (which is what `predict` does) to save a second pass.
fn scores_and_predictions(
    bits: &mut Bits,
    label: &str,
    head: &ImprintedHead,
    queries: &Array2<f32>,
    aggregations: &[Aggregation],
    predict: bool,
) {
    for &agg in aggregations {
        let mut head = head.clone();
        head.set_aggregation(agg);
        let scores = head.scores(queries.view()).unwrap();
        let predicted =
            if predict { head.predict(queries.view()).unwrap() } else { argmax_rows(scores.view()) };
        bits.array(format!("{label}: {} scores", agg.describe()), &scores);
        bits.ints(format!("{label}: {} predictions", agg.describe()), predicted);
    }
}

#[test]
fn aggregation_over_query_blocks_is_bit_identical_on_any_thread_count() {
    // 4,096 proxies: aggregation takes 2^24 / 4,096 = 4,096 queries per block,
    // so 4,097 queries make a full block and a block of one query. Few
    // features keep the element-wise distances cheap in a test build; m-nn
    // with uniform votes (integer counts) is left to the next test.
    let proxies: Vec<Array2<f32>> = (0..8).map(|c| blobs(200 + c, 512, 6, 16, 0.4)).collect();
    let head = head_of(&proxies);
    assert_eq!(head.n_proxies(), 4096);
    let queries = blobs(300, 4097, 6, 40, 0.6);
    let aggs = aggregations(&[Weighting::InverseDistance]);
    same_bits_on_every_pool("aggregation in blocks", || {
        let mut bits = Bits::default();
        scores_and_predictions(&mut bits, "4097 queries", &head, &queries, &aggs, false);
        bits
    });
}

#[test]
fn aggregation_in_high_dimension_is_bit_identical_on_any_thread_count() {
    // 576 features: distance GEMMs sum over two 512-deep panels, and the
    // Mahalanobis whitening solves against a 576 x 576 factor, also for a
    // single query (a matrix-vector product, which faer splits along the
    // summed dimension when it runs in parallel; see ARCHITECTURE.md).
    let proxies: Vec<Array2<f32>> = (0..6).map(|c| blobs(400 + c, 60, 576, 5, 0.5)).collect();
    let head = head_of(&proxies);
    let queries = blobs(500, 41, 576, 30, 0.6);
    let one = queries.slice(s![..1, ..]).to_owned();
    let aggs = aggregations(&[Weighting::Uniform, Weighting::InverseDistance]);
    same_bits_on_every_pool("aggregation in 576 dimensions", || {
        let mut bits = Bits::default();
        scores_and_predictions(&mut bits, "41 queries", &head, &queries, &aggs, true);
        scores_and_predictions(&mut bits, "1 query", &head, &one, &aggs, true);
        bits
    });
}

#[test]
fn neural_collapse_is_bit_identical_on_any_thread_count() {
    // 400 and 600 features: past the size where faer's symmetric
    // eigendecomposition would tridiagonalize in parallel.
    let cases: Vec<Vec<Array2<f32>>> = [64, 300, 400, 600]
        .iter()
        .map(|&dim| (0..6).map(|c| blobs(600 + c, 150, dim, 3, 0.7)).collect())
        .collect();
    same_bits_on_every_pool("neural_collapse", || {
        let mut bits = Bits::default();
        for classes in &cases {
            let views: Vec<_> = classes.iter().map(|x| x.view()).collect();
            let dim = classes[0].ncols();
            for centering in [Centering::Paper, Centering::Reference] {
                let c = neural_collapse(&views, centering).unwrap();
                bits.f64s(format!("dim {dim} {centering:?}: nc1, vci"), [c.nc1, c.vci]);
                bits.ints(format!("dim {dim} {centering:?}: rank"), [c.rank_between]);
            }
        }
        bits
    });
}

const GRID: &str = r#"{
    "backbones": ["toynet"],
    "datasets": [["Toy"]],
    "task_splits": {"all": [[0, 1, 2, 3, 4]]},
    "seeds": [1, 2],
    "normalize_input_data": ["l2"],
    "normalize_for_proxy_selection": ["l2"],
    "proxy_methods": ["all", "random", "mean", "kmeans", "kmedoids", "fps", "cov_max", "none", "ls", "kls"],
    "ks": [4],
    "normalize_weights": ["l2", "quantile"],
    "aggregation_methods": ["max", "mnn"],
    "aggregation_distance_functions": ["inner_product", "cosine", "mahalanobis"],
    "aggregation_weightings": ["uniform", "weighted_by_distance"],
    "ms": [5],
}"#;

/// A scratch folder under Cargo's per-target temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("determinism-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn grid_records_are_identical_on_any_thread_count() {
    let data = Scratch::new("data");
    let toy = SyntheticParams::new(5, 3, 48).n_train(150).n_test(60).generate(9).unwrap();
    for (split, part) in [(Split::Train, &toy.train), (Split::Test, &toy.test)] {
        write_embeddings(reference_path(&data.0, "Toy", "toynet", split), part, &WriteOptions::new())
            .unwrap();
    }
    let grid = ExperimentGrid::new(&ExperimentConfig::from_yaml_str(GRID, "determinism grid").unwrap());
    assert!(grid.len() >= 100, "{}", grid.len());
    let options = RunOptions {
        embeddings_root: data.0.clone(),
        shard: Shard::ALL,
        lambdas: BTreeMap::from([("toynet".to_string(), 0.05)]),
        progress: false,
        sources: Default::default(),
        rng_mode: Default::default(),
    };
    let out = Scratch::new("records");
    same_bits_on_every_pool("grid records", || {
        let dir = out.0.join(format!("run-{}", rayon::current_num_threads()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = ResultStore::open(&dir, false).unwrap();
        let summary = run_grid(&grid, &store, &options).unwrap();
        assert_eq!(summary.written, grid.len());
        let mut bits = Bits::default();
        for mut r in load_all(&dir).unwrap() {
            let id = r.id().file_name();
            bits.f64s(format!("{id} task_acc"), [r.task_acc]);
            bits.f64s(format!("{id} task_f1s"), r.task_f1s.one_vs_rest_f1.iter().copied());
            bits.f64s(format!("{id} task_train_acc"), r.task_train_acc);
            // Every other field, as written, except wall times and the creation time.
            r.runtime = 0.0;
            r.total_gen_time = Some(0.0);
            r.created_at = String::new();
            bits.ints(format!("{id} text"), r.to_json_text().bytes().map(usize::from));
        }
        assert_eq!(bits.0.len(), 4 * grid.len());
        bits
    });
}

#[test]
fn bits_report_names_what_differs() {
    let mut a = Bits::default();
    a.f32s("x", &[1.0, 2.0, 3.0]);
    let mut b = Bits::default();
    b.f32s("x", &[1.0, 2.5, 3.0]);
    let d = b.differences(&a);
    assert_eq!(d.len(), 1);
    assert!(d[0].starts_with("x: 1 of 3 values differ, first at 1"), "{}", d[0]);
    assert!(a.differences(&a).is_empty());
}

//! The cases of `bench-peers`: each writes its inputs for the Python peers,
//! measures our implementation in-process and leaves the peers' entry in
//! [`Session::plan`].

use std::path::{Path, PathBuf};

use imprint_baselines::{KLeastSquaresParams, LeastSquaresParams};
use imprint_core::gemm::{GramPrecision, matmul_abt, matmul_atb};
use imprint_core::{
    AggregateExt, Aggregation, Centering, Distance, Shots, Weighting, metrics, neural_collapse,
};
use imprint_gen::{KMeansParams, KMedoidsParams};
use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::measure::{peak_rss_growth, time_reps};
use super::{Measurement, OURS, OURS_F32_GRAM, OURS_FROM_INIT, npy};
use imprint_bench::workloads::{Modes, one_class, task};
use imprint_bench::{BenchError, Result};

/// The paper's seeds.
pub const SEEDS: [u64; 3] = [17121997, 123987, 12412312];

/// Classes of the multi-class cases (the paper's tasks have 10 to 1,000).
const N_CLASSES: usize = 10;

/// Where inputs go, what the peers are asked to do, and what we measured.
#[derive(Debug)]
pub struct Session {
    dir: PathBuf,
    filter: Option<String>,
    /// What the Python peers are to run for the case just measured (taken
    /// after every case).
    pub plan: Vec<Value>,
    /// Our measurements (and bare-GEMM baselines) of that case.
    pub ours: Vec<Measurement>,
}

impl Session {
    /// A session writing its inputs under `dir`, running the cases whose name
    /// contains `filter` (all without one).
    pub fn new(dir: &Path, filter: Option<&str>) -> Self {
        Self { dir: dir.to_owned(), filter: filter.map(str::to_owned), plan: Vec::new(), ours: Vec::new() }
    }

    /// Whether `case` is selected; announces it if so.
    fn wants(&self, case: &str) -> bool {
        let wanted = self.filter.as_deref().is_none_or(|f| case.contains(f));
        if wanted {
            eprintln!("{case}");
        }
        wanted
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write(&self, name: &str, x: ArrayView2<'_, f32>) -> Result<String> {
        let path = self.file(name);
        npy::write_f32(&path, x)?;
        Ok(path.display().to_string())
    }

    fn write_labels(&self, name: &str, labels: &[usize]) -> Result<String> {
        let path = self.file(name);
        npy::write_i64(&path, labels)?;
        Ok(path.display().to_string())
    }

    fn record(&mut self, m: Measurement) {
        eprintln!("  {:<48} {:<34} {:>9.4} s", m.case, m.implementation, m.median_seconds());
        self.ours.push(m);
    }
}

fn imprint(context: &str) -> impl FnOnce(imprint_core::ImprintError) -> BenchError + '_ {
    move |source| BenchError::Imprint { context: context.to_string(), source }
}

/// k-means on one class: ours against scikit-learn (the reference's call and
/// started from our k-means++ centres) and faiss.
pub fn kmeans(s: &mut Session, n: usize, dim: usize, k: usize, modes: Modes, reps: usize) -> Result<()> {
    let case = format!("k-means n={n} d={dim} k={k} ({})", modes.name());
    if !s.wants(&case) {
        return Ok(());
    }
    let x = one_class(n, dim, modes, 7)?;
    let tag = format!("kmeans_{n}_{dim}_{k}_{}", modes.name());
    let x_path = s.write(&format!("{tag}.npy"), x.view())?;
    let km = KMeansParams::new(k).check().map_err(imprint(&case))?;
    let shots = Shots::new(x.view(), "benchmark data").map_err(imprint(&case))?;
    let (mut seconds, mut inertia, mut iters, mut inits) = (Vec::new(), 0.0, 0.0, Vec::new());
    let (mut iters_per_seed, mut lloyd_seconds) = (Vec::new(), Vec::new());
    for seed in SEEDS {
        let (t, fit) = time_reps(reps, || km.fit(shots, &mut ChaCha8Rng::seed_from_u64(seed)));
        let fit = fit.map_err(imprint(&case))?;
        seconds.extend(t);
        // The same iterations from the same centres, k-means++ left out: the
        // work of the peers that start from our centres.
        let (t, again) = time_reps(reps, || km.fit_from(shots, fit.init()));
        let again = again.map_err(imprint(&case))?;
        if again.n_iter() != fit.n_iter() || again.labels() != fit.labels() {
            return Err(BenchError::Unsupported {
                context: case,
                reason: "k-means from its own init did not repeat the fit".into(),
            });
        }
        lloyd_seconds.extend(t);
        inertia += fit.inertia() / SEEDS.len() as f64;
        iters += fit.n_iter() as f64 / SEEDS.len() as f64;
        iters_per_seed.push(fit.n_iter());
        inits.push(s.write_labels(&format!("{tag}_init_{seed}.npy"), fit.init())?);
    }
    s.plan.push(json!({
        "kind": "kmeans", "case": case, "x": x_path, "k": k, "seeds": SEEDS, "init": inits, "reps": reps,
        "iterations": iters_per_seed,
    }));
    s.record(Measurement::new(&case, OURS, seconds).quality("inertia", inertia).quality("iterations", iters));
    s.record(
        Measurement::new(&case, OURS_FROM_INIT, lloyd_seconds)
            .quality("inertia", inertia)
            .quality("iterations", iters)
            .note("Lloyd from our k-means++ centres (KMeans::fit_from)"),
    );
    Ok(())
}

/// k-medoids on one class: ours against scikit-learn-extra's `KMedoids`
/// (the reference's call, same settings: euclidean, alternate, heuristic
/// init, 300 iterations), which runs in the reference's environment.
pub fn kmedoids(s: &mut Session, n: usize, dim: usize, k: usize, reps: usize) -> Result<()> {
    let case = format!("k-medoids n={n} d={dim} k={k}");
    if !s.wants(&case) {
        return Ok(());
    }
    // Separated modes: the medoids move before they settle.
    let x = one_class(n, dim, Modes::Separated, 7)?;
    let tag = format!("kmedoids_{n}_{dim}_{k}");
    let x_path = s.write(&format!("{tag}.npy"), x.view())?;
    let km = KMedoidsParams::new(k).check().map_err(imprint(&case))?;
    let shots = Shots::new(x.view(), "benchmark data").map_err(imprint(&case))?;
    let (seconds, fit) = time_reps(reps, || km.fit(shots));
    let fit = fit.map_err(imprint(&case))?;
    s.plan.push(json!({
        "kind": "kmedoids", "case": case, "x": x_path, "k": k, "reps": reps,
        "medoids": fit.medoid_indices(), "environment": "reference",
    }));
    s.record(
        Measurement::new(&case, OURS, seconds)
            .quality("inertia", fit.inertia())
            .quality("iterations", fit.n_iter() as f64),
    );
    Ok(())
}

/// Iterations of the long fit of [`lloyd_vs_gemm`]: the noise of a fit's
/// fixed costs (a few ms) is shared among `LLOYD_ITERATIONS - 1` iterations.
const LLOYD_ITERATIONS: usize = 31;

/// One Lloyd iteration of k-means against faer's GEMM of the same shape (the
/// iteration's inner products): the share of GEMM throughput the fused
/// assignment and update keep.
///
/// Both are timed in alternation, round after round: Lloyd from the same
/// k-means++ centres for 1 and for [`LLOYD_ITERATIONS`] iterations, or one
/// fewer than it takes to converge (`fit_from`; tol 0, so only unchanged
/// labels stop it; neither fit converges, so both end with the same final
/// relabelling), then as many GEMMs. A round's time per iteration (per
/// product) is the difference over the extra ones, so both are warm and a
/// fit's fixed costs (centring, inertia) drop out; the medians over
/// `20 x reps` rounds are set against each other, and a slow spell of the
/// machine falls on both.
pub fn lloyd_vs_gemm(s: &mut Session, n: usize, dim: usize, k: usize, reps: usize) -> Result<()> {
    let case = format!("Lloyd iteration n={n} d={dim} k={k}");
    if !s.wants(&case) {
        return Ok(());
    }
    let x = one_class(n, dim, Modes::Overlapping, 7)?;
    let shots = Shots::new(x.view(), "benchmark data").map_err(imprint(&case))?;
    let params = |iters: usize| KMeansParams::new(k).max_iter(iters).tol(0.0).check().map_err(imprint(&case));
    let full = params(KMeansParams::DEFAULT_MAX_ITER)?;
    let init =
        full.fit(shots, &mut ChaCha8Rng::seed_from_u64(SEEDS[0])).map_err(imprint(&case))?.init().to_vec();
    // Both fits must stop at their cap, so that both end with the relabelling
    // pass a converged fit skips and the difference is whole iterations only.
    let converged_at = full.fit_from(shots, &init).map_err(imprint(&case))?.n_iter();
    let iterations = LLOYD_ITERATIONS.min(converged_at.saturating_sub(1));
    if iterations < 2 {
        return Err(BenchError::Unsupported {
            context: case,
            reason: format!("k-means converged in {converged_at} iterations"),
        });
    }
    let (one, many) = (params(1)?, params(iterations)?);
    let c = x.slice(ndarray::s![..k, ..]).to_owned();
    let (mut per_iter, mut gemm) = (Vec::new(), Vec::new());
    let extra = iterations - 1;
    for _ in 0..20 * reps {
        let (t_one, _) = time_reps(1, || one.fit_from(shots, &init));
        let (t_many, fit) = time_reps(1, || many.fit_from(shots, &init));
        let fit = fit.map_err(imprint(&case))?;
        if fit.converged() || fit.n_iter() != iterations {
            return Err(BenchError::Unsupported {
                context: case,
                reason: format!("k-means from the same centres stopped after {} iterations", fit.n_iter()),
            });
        }
        per_iter.push((t_many[0] - t_one[0]).max(0.0) / extra as f64);
        // The GEMM the same way: as many extra products, warm like the iterations.
        let products = |count: usize| {
            time_reps(1, || {
                for _ in 0..count {
                    std::hint::black_box(matmul_abt(x.view(), c.view()))
                        .expect("internal: x and its rows have one width");
                }
            })
            .0[0]
        };
        let (t_one, t_many) = (products(1), products(1 + extra));
        gemm.push((t_many - t_one).max(0.0) / extra as f64);
    }
    s.record(Measurement::new(&case, OURS, per_iter).quality("iterations timed", extra as f64));
    s.record(Measurement::new(&case, "faer GEMM (same shape)", gemm));
    Ok(())
}

/// Data of the aggregation cases: `n_proxies` training samples as proxies,
/// `n_queries` test samples as queries.
struct AggData {
    proxies: Array2<f32>,
    classes: Vec<usize>,
    queries: Array2<f32>,
    truth: Vec<usize>,
    paths: Value,
}

fn agg_data(s: &Session, n_queries: usize, n_proxies: usize, dim: usize) -> Result<AggData> {
    let data = task(N_CLASSES, n_proxies / N_CLASSES, n_queries / N_CLASSES, dim, 11)?;
    let (proxies, classes) = data.train.into_parts();
    let (queries, truth) = data.test.into_parts();
    let tag = format!("agg_{n_queries}_{n_proxies}_{dim}");
    let paths = json!({
        "proxies": s.write(&format!("{tag}_proxies.npy"), proxies.view())?,
        "proxy_labels": s.write_labels(&format!("{tag}_proxy_labels.npy"), &classes)?,
        "queries": s.write(&format!("{tag}_queries.npy"), queries.view())?,
        "query_labels": s.write_labels(&format!("{tag}_query_labels.npy"), &truth)?,
    });
    Ok(AggData { proxies, classes, queries, truth, paths })
}

/// Aggregation of `n_queries` queries against `n_proxies` proxies: ours
/// against scikit-learn's brute-force neighbours (for m-nn the reference's
/// own call), faiss's exact search and torch, and (with `gemm`) against
/// faer's bare GEMM of the same shape: for Manhattan and Chebyshev, which
/// take three vector operations per element pair where the GEMM takes one
/// fused multiply-add, three times the GEMM's time is the machine's limit.
pub fn aggregation(
    s: &mut Session,
    n_queries: usize,
    n_proxies: usize,
    dim: usize,
    aggregation: Aggregation,
    reps: usize,
    gemm: bool,
) -> Result<()> {
    let (kind, m, metric) = match aggregation {
        Aggregation::Max { distance: Distance::InnerProduct } => ("max", 1, Distance::InnerProduct),
        Aggregation::Mnn(p)
            if matches!(p.distance(), Distance::Euclidean | Distance::Manhattan | Distance::Chebyshev)
                && p.weighting() == Weighting::Uniform =>
        {
            ("mnn", p.m(), p.distance())
        }
        other => {
            return Err(BenchError::Unsupported {
                context: "bench-peers".into(),
                reason: format!("no peers for {other:?}"),
            });
        }
    };
    let what = if kind == "max" { "max (inner product)".to_string() } else { format!("{m}-nn ({metric})") };
    let case = format!("{what} {n_queries} x {n_proxies} d={dim}");
    if !s.wants(&case) {
        return Ok(());
    }
    let d = agg_data(s, n_queries, n_proxies, dim)?;
    let run = || aggregation.predict(d.proxies.view(), &d.classes, N_CLASSES, d.queries.view());
    let (first, rss) = peak_rss_growth(|| time_reps(1, run));
    let (mut seconds, predicted) = first;
    if reps > 1 {
        seconds.extend(time_reps(reps - 1, run).0);
    }
    let predicted = predicted.map_err(imprint(&case))?;
    let accuracy = 100.0 * metrics::accuracy(&predicted, &d.truth).map_err(imprint(&case))?;
    let tag = format!("{kind}{m}_{metric}_{n_queries}_{n_proxies}_{dim}");
    let mut entry = json!({
        "kind": kind, "case": case, "m": m, "metric": metric.name(), "n_classes": N_CLASSES, "reps": reps,
        "reference_predictions": s.write_labels(&format!("{tag}_predictions.npy"), &predicted)?,
    });
    merge(&mut entry, d.paths);
    s.plan.push(entry);
    s.record(Measurement::new(&case, OURS, seconds).quality("accuracy %", accuracy).peak_rss(rss));
    if gemm {
        let ((t, _), rss) =
            peak_rss_growth(|| time_reps(1, || matmul_abt(d.queries.view(), d.proxies.view())));
        s.record(Measurement::new(&case, "faer GEMM (same shape, bare)", t).peak_rss(rss));
    }
    Ok(())
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}

/// The least-squares oracles over `N_CLASSES` classes of `n` samples: ours
/// against the reference's torch formula (`ls`) and its k-means + torch
/// pipeline (`kls`), and the Gram matrix as one faer f64 GEMM.
pub fn least_squares(
    s: &mut Session,
    n: usize,
    dim: usize,
    k: Option<usize>,
    lambda: f64,
    reps: usize,
) -> Result<()> {
    let case = match k {
        None => format!("ls {N_CLASSES} classes x {n} d={dim}"),
        Some(k) => format!("kls k={k} {N_CLASSES} classes x {n} d={dim}"),
    };
    if !s.wants(&case) {
        return Ok(());
    }
    let data = task(N_CLASSES, n, 300, dim, 13)?;
    let tag = format!("ls_{n}_{dim}");
    let (x, labels) = (data.train.embeddings(), data.train.labels());
    let classes: Vec<ArrayView2<'_, f32>> =
        (0..N_CLASSES).map(|c| x.slice(ndarray::s![c * n..(c + 1) * n, ..])).collect();
    debug_assert!(labels.iter().enumerate().all(|(i, &l)| l == i / n));
    let test = (data.test.embeddings(), data.test.labels());
    // ls is deterministic; kls runs with each of the paper's seeds (its
    // k-means, and so its accuracy, depends on the seed).
    let (mut seconds, mut accuracy, mut stacked, mut f32_row) = (Vec::new(), 0.0, None, None);
    match k {
        None => {
            let ls = LeastSquaresParams::new(lambda).check().map_err(imprint(&case))?;
            let (t, w) = time_reps(reps, || ls.fit(&classes));
            let w = w.map_err(imprint(&case))?;
            seconds = t;
            let all_classes: Vec<usize> = (0..N_CLASSES).collect();
            accuracy = head_accuracy(&w, &all_classes, test, &case)?;
            let f32_gram = LeastSquaresParams::new(lambda)
                .gram_precision(GramPrecision::F32)
                .check()
                .map_err(imprint(&case))?;
            let (t32, w32) = time_reps(reps, || f32_gram.fit(&classes));
            let w32 = w32.map_err(imprint(&case))?;
            let w64 = w.mapv(f64::from);
            let difference = (&w32.mapv(f64::from) - &w64).pow2().sum().sqrt() / w64.pow2().sum().sqrt();
            f32_row = Some(
                Measurement::new(&case, OURS_F32_GRAM, t32)
                    .quality("accuracy %", head_accuracy(&w32, &all_classes, test, &case)?)
                    .quality("relative difference to ours", difference)
                    .note("LeastSquaresParams::gram_precision(GramPrecision::F32): f32 products per 128 rows, summed in f64; f64 solve"),
            );
            stacked = Some(w);
        }
        Some(k) => {
            let kls = KLeastSquaresParams::new(Some(k), lambda).check().map_err(imprint(&case))?;
            for seed in SEEDS {
                let (t, w) = time_reps(reps, || kls.fit(&classes, seed));
                let w = w.map_err(imprint(&case))?;
                seconds.extend(t);
                let owner: Vec<usize> = w.iter().enumerate().flat_map(|(c, w)| vec![c; w.nrows()]).collect();
                let all = ndarray::concatenate(Axis(0), &w.iter().map(|w| w.view()).collect::<Vec<_>>())
                    .map_err(|e| BenchError::Unsupported { context: case.clone(), reason: e.to_string() })?;
                accuracy += head_accuracy(&all, &owner, test, &case)? / SEEDS.len() as f64;
            }
        }
    }
    let mut entry = json!({
        "kind": if k.is_some() { "kls" } else { "ls" }, "case": case, "lambda": lambda, "k": k.unwrap_or(1),
        "seeds": SEEDS, "reps": reps,
        "x": s.write(&format!("{tag}_x.npy"), x)?,
        "labels": s.write_labels(&format!("{tag}_labels.npy"), labels)?,
        "test": s.write(&format!("{tag}_test.npy"), data.test.embeddings())?,
        "test_labels": s.write_labels(&format!("{tag}_test_labels.npy"), data.test.labels())?,
    });
    if let Some(w) = &stacked {
        merge(&mut entry, json!({"reference_weights": s.write(&format!("{tag}_weights.npy"), w.view())?}));
    }
    s.plan.push(entry);
    s.record(Measurement::new(&case, OURS, seconds).quality("accuracy %", accuracy));
    if let Some(row) = f32_row {
        s.record(row);
    }
    if k.is_none() {
        let x64 = x.mapv(f64::from);
        let (t, _) = time_reps(reps, || matmul_atb(x64.view(), x64.view()));
        s.record(Measurement::new(&case, "faer GEMM f64 (Gram X^T X)", t));
    }
    Ok(())
}

/// Accuracy in percent of the head with proxies `weights` of classes
/// `owner`, max over inner products.
fn head_accuracy(
    weights: &Array2<f32>,
    owner: &[usize],
    (test, truth): (ArrayView2<'_, f32>, &[usize]),
    case: &str,
) -> Result<f64> {
    let predicted =
        Aggregation::max().predict(weights.view(), owner, N_CLASSES, test).map_err(imprint(case))?;
    Ok(100.0 * metrics::accuracy(&predicted, truth).map_err(imprint(case))?)
}

/// NC1 and VCI of `N_CLASSES` classes of `n` samples in `dim` dimensions:
/// ours (paper formula, chunked) against a torch port of the formula.
pub fn collapse(s: &mut Session, n: usize, dim: usize) -> Result<()> {
    let case = format!("NC1 {} x {dim}", N_CLASSES * n);
    if !s.wants(&case) {
        return Ok(());
    }
    let data = task(N_CLASSES, n, 1, dim, 17)?;
    let x = data.train.embeddings();
    let classes: Vec<ArrayView2<'_, f32>> =
        (0..N_CLASSES).map(|c| x.slice(ndarray::s![c * n..(c + 1) * n, ..])).collect();
    let ((t, result), rss) = peak_rss_growth(|| time_reps(1, || neural_collapse(&classes, Centering::Paper)));
    let c = result.map_err(imprint(&case))?;
    s.plan.push(json!({
        "kind": "nc1", "case": case, "reps": 1,
        "x": s.write("nc1_x.npy", x)?,
        "labels": s.write_labels("nc1_labels.npy", data.train.labels())?,
    }));
    s.record(Measurement::new(&case, OURS, t).quality("NC1", c.nc1).quality("VCI", c.vci).peak_rss(rss));
    Ok(())
}

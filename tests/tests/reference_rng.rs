//! The ports of the reference's random draws and float32 numerics against
//! values written by torch 2.2.2, numpy 1.26.4, scikit-learn 1.5.2 and
//! scipy 1.14.1 (`tests/fixtures/reference_rng.json`, made by
//! `scripts/reference_check/make_rng_fixtures.py`).

#![allow(clippy::unwrap_used)] // test helpers: a failure should stop the test loudly

use std::path::Path;

use imprint_core::Shots;
use imprint_core::reference_rng::{
    Mt19937, RandomState, TorchGenerator, randint, randperm, uniform_f32, xavier_uniform,
};
use imprint_core::{reference_levels, torch_quantile};
use imprint_data::WeibullMin;
use imprint_gen::{KMeansParams, SklearnInput};
use ndarray::Array2;
use rand::SeedableRng;
use serde_json::Value;

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reference_rng.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("u64")).collect()
}

fn i64s(v: &Value) -> Vec<i64> {
    v.as_array().expect("array").iter().map(|x| x.as_i64().expect("i64")).collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("f64")).collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    f64s(v).into_iter().map(|x| x as f32).collect()
}

/// The entries a fixture kept (`every`-th of `all`).
fn sampled<T: Copy>(all: &[T], case: &Value) -> Vec<T> {
    let every = case["every"].as_u64().expect("every") as usize;
    all.iter().step_by(every).copied().collect()
}

#[test]
fn mt19937_outputs_match_numpy() {
    let f = fixture();
    for (seed, want) in f["mt19937"].as_object().expect("object") {
        let seed: u64 = seed.parse().expect("seed");
        let mut mt = Mt19937::new(seed as u32);
        let all: Vec<u64> = (0..1000).map(|_| u64::from(mt.next_u32())).collect();
        assert_eq!(all[..8], u64s(&want["first"])[..], "seed {seed}");
        let every: Vec<u64> = all.iter().step_by(97).copied().collect();
        assert_eq!(every, u64s(&want["every_97th"]), "seed {seed}");
    }
}

#[test]
fn torch_randperm_randint_uniform_and_xavier_match() {
    let f = fixture();
    let t = &f["torch"];
    for case in t["randperm"].as_array().expect("cases") {
        let (seed, n) = (case["seed"].as_u64().unwrap(), case["n"].as_u64().unwrap() as usize);
        let got = randperm(n, &mut TorchGenerator::new(seed)).unwrap();
        let want: Vec<usize> = u64s(&case["perm"]).into_iter().map(|v| v as usize).collect();
        assert_eq!(got, want, "randperm({n}), seed {seed}");
    }
    for case in t["randint"].as_array().expect("cases") {
        let (seed, high) = (case["seed"].as_u64().unwrap(), case["high"].as_u64().unwrap());
        let mut rng = TorchGenerator::new(seed);
        let got: Vec<u64> = (0..6).map(|_| randint(high, &mut rng).unwrap()).collect();
        assert_eq!(got, u64s(&case["values"]), "randint({high}), seed {seed}");
    }
    for case in t["uniform"].as_array().expect("cases") {
        let seed = case["seed"].as_u64().unwrap();
        let (from, to) = (case["from"].as_f64().unwrap(), case["to"].as_f64().unwrap());
        let mut rng = TorchGenerator::new(seed);
        let got: Vec<f32> = (0..64).map(|_| uniform_f32(from, to, &mut rng)).collect();
        assert_eq!(got, f32s(&case["values"]), "uniform_({from}, {to}), seed {seed}");
    }
    for case in t["xavier"].as_array().expect("cases") {
        let seed = case["seed"].as_u64().unwrap();
        let (rows, cols) = (case["rows"].as_u64().unwrap() as usize, case["cols"].as_u64().unwrap() as usize);
        let w = xavier_uniform(rows, cols, 1.0, &mut TorchGenerator::new(seed));
        let all: Vec<f32> = w.iter().copied().collect();
        assert_eq!(sampled(&all, case), f32s(&case["values"]), "xavier ({rows}, {cols}), seed {seed}");
    }
    // One generator consumed by several calls, in the reference's order.
    let seq = &t["sequence"];
    let mut rng = TorchGenerator::new(seq["seed"].as_u64().unwrap());
    let head: Vec<u64> = randperm(80, &mut rng).unwrap()[..10].iter().map(|&v| v as u64).collect();
    assert_eq!(head, u64s(&seq["randperm_80_head_10"]));
    let perm: Vec<u64> = randperm(160, &mut rng).unwrap().into_iter().map(|v| v as u64).collect();
    assert_eq!(perm, u64s(&seq["randperm_160"]));
    assert_eq!(randint(80, &mut rng).unwrap(), seq["randint_80"].as_u64().unwrap());
    let w: Vec<f32> = xavier_uniform(2, 16, 1.0, &mut rng).iter().copied().collect();
    assert_eq!(w, f32s(&seq["xavier_2_16"]));
    let last: Vec<u64> = randperm(7, &mut rng).unwrap().into_iter().map(|v| v as u64).collect();
    assert_eq!(last, u64s(&seq["randperm_7"]));
}

#[test]
fn numpy_random_state_matches() {
    let f = fixture();
    for case in f["numpy"].as_array().expect("cases") {
        let seed = case["seed"].as_u64().unwrap();
        let mut rs = RandomState::from_seed(seed).unwrap();
        let sample: Vec<f64> = (0..5).map(|_| rs.random_sample()).collect();
        assert_eq!(sample, f64s(&case["random_sample"]), "seed {seed}");
        let uniform: Vec<f64> = (0..5).map(|_| rs.uniform(0.0, 1.0)).collect();
        assert_eq!(uniform, f64s(&case["uniform"]), "seed {seed}");
        let small: Vec<i64> = (0..8).map(|_| rs.randint(0, 10).unwrap()).collect();
        assert_eq!(small, i64s(&case["randint_0_10"]), "seed {seed}");
        let signed: Vec<i64> = (0..8).map(|_| rs.randint(-5, 1000).unwrap()).collect();
        assert_eq!(signed, i64s(&case["randint_m5_1000"]), "seed {seed}");
        let wide: Vec<i64> = (0..4).map(|_| rs.randint(0, 1 << 40).unwrap()).collect();
        assert_eq!(wide, i64s(&case["randint_0_2p40"]), "seed {seed}");
        let choice = rs.choice_f32(&[1.0f32 / 80.0; 80]).unwrap();
        assert_eq!(choice as u64, case["choice_80_f32"].as_u64().unwrap(), "seed {seed}");
    }
}

#[test]
fn kmeans_plusplus_draws_scikit_learns_initial_centres() {
    let f = fixture();
    let km = &f["kmeans"];
    let (rows, cols) = (km["rows"].as_u64().unwrap() as usize, km["cols"].as_u64().unwrap() as usize);
    let x = Array2::from_shape_vec((rows, cols), f32s(&km["x"])).unwrap();
    let shots = Shots::new(x.view(), "k-means fixture").unwrap();
    let mut worst = 0.0f64;
    for case in km["cases"].as_array().expect("cases") {
        let (seed, k) = (case["seed"].as_u64().unwrap(), case["k"].as_u64().unwrap() as usize);
        let fit = KMeansParams::new(k)
            .random_state(seed, SklearnInput::Float32)
            .check()
            .unwrap()
            .fit(shots, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0))
            .unwrap();
        let init: Vec<u64> = fit.init().iter().map(|&i| i as u64).collect();
        assert_eq!(init, u64s(&case["init"]), "k-means++ init, k {k}, seed {seed}");
        // From the same start, Lloyd reaches scikit-learn's centres up to float32 sums.
        let want = f32s(&case["centres"]);
        for (a, b) in fit.centroids().iter().zip(&want) {
            let d = f64::from((a - b).abs());
            worst = worst.max(d);
            assert!(d <= 1e-5 * (1.0 + f64::from(b.abs())), "centre {a} vs {b}, k {k}, seed {seed}");
        }
    }
    eprintln!("k-means centres: max |diff| to scikit-learn {worst:.2e}");
}

#[test]
fn quantile_levels_and_values_match_torch() {
    let f = fixture();
    let q = &f["quantile"];
    for (n, case) in q["levels"].as_object().expect("levels") {
        let n: usize = n.parse().unwrap();
        let levels = reference_levels(n);
        assert_eq!(levels.len() as u64, case["len"].as_u64().unwrap(), "len of levels({n})");
        assert_eq!(sampled(&levels, case), f32s(&case["values"]), "levels({n})");
    }
    for case in q["quantiles"].as_array().expect("quantiles") {
        let (dim, count) = (case["dim"].as_u64().unwrap() as usize, case["count"].as_u64().unwrap() as usize);
        // The fixture's reference values: exact rationals rounded to float32.
        let mut reference: Vec<f32> =
            (0..count).map(|i| ((((i as f64 * 7919.0) % 10007.0) / 10007.0 - 0.5) * 0.1) as f32).collect();
        reference.sort_by(f32::total_cmp);
        let got: Vec<f32> = reference_levels(dim)
            .iter()
            .map(|&l| torch_quantile(&reference, l).expect("non-empty reference"))
            .collect();
        assert_eq!(sampled(&got, case), f32s(&case["values"]), "quantile, dim {dim}, {count} weights");
    }
}

/// Weibull fits against SciPy's. With numpy's baseline kernels (AVX-512
/// disabled) the port follows SciPy's arithmetic step for step: parameters
/// agree to 1e-12 relative. With numpy's AVX-512 kernels, whose float32
/// `power` rounds some values differently, SciPy's own Nelder-Mead path moves;
/// the parameters then agree to `WEIBULL_AVX512_RTOL` of the scale and the
/// quantiles to `WEIBULL_PPF_RTOL`.
const WEIBULL_EXACT_RTOL: f64 = 1e-12;
const WEIBULL_AVX512_RTOL: f64 = 5e-3;
const WEIBULL_PPF_RTOL: f64 = 5e-3;

#[test]
fn weibull_fit_and_ppf_match_scipy() {
    let f = fixture();
    let w = &f["weibull"];
    let quantiles = f64s(&w["quantiles"]);
    let (mut worst_exact, mut worst_params, mut worst_ppf) = (0.0f64, 0.0f64, 0.0f64);
    for case in w["cases"].as_array().expect("cases") {
        let kind = case["kind"].as_str().unwrap();
        let data = f32s(&case["data"]);
        let fit = WeibullMin::fit(&data).unwrap();
        let got = [fit.shape(), fit.loc(), fit.scale()];
        let ppf: Vec<f64> = quantiles.iter().map(|&q| fit.ppf(q)).collect();
        for (which, tol_params, tol_ppf) in [
            ("baseline", WEIBULL_EXACT_RTOL, WEIBULL_EXACT_RTOL),
            ("default", WEIBULL_AVX512_RTOL, WEIBULL_PPF_RTOL),
        ] {
            let want = &case[which];
            let want_params = [
                want["shape"].as_f64().unwrap(),
                want["loc"].as_f64().unwrap(),
                want["scale"].as_f64().unwrap(),
            ];
            // Shape relative to itself; loc and scale relative to the scale.
            let rel = [
                (got[0] - want_params[0]).abs() / want_params[0],
                (got[1] - want_params[1]).abs() / want_params[2],
                (got[2] - want_params[2]).abs() / want_params[2],
            ];
            let rel_params = rel.iter().fold(0.0f64, |m, &r| m.max(r));
            let rel_ppf = ppf
                .iter()
                .zip(f64s(&want["ppf"]))
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs() / want_params[2]));
            eprintln!(
                "weibull {kind} (n = {}) vs SciPy {which}: params {rel_params:.2e}, ppf {rel_ppf:.2e}",
                data.len()
            );
            assert!(rel_params <= tol_params, "{kind}: {got:?} vs SciPy {which} {want_params:?}");
            assert!(rel_ppf <= tol_ppf, "{kind}: ppf {ppf:?} vs SciPy {which} {:?}", want["ppf"]);
            if which == "baseline" {
                worst_exact = worst_exact.max(rel_params.max(rel_ppf));
            } else {
                worst_params = worst_params.max(rel_params);
                worst_ppf = worst_ppf.max(rel_ppf);
            }
        }
    }
    eprintln!(
        "weibull: baseline {worst_exact:.2e}; AVX-512 numpy: params {worst_params:.2e}, ppf {worst_ppf:.2e}"
    );
}

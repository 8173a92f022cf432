//! The least-squares oracles over 10 classes of 6,000 shots: `ls` at d = 512
//! and 2048 (also with its Gram matrix in f32, `GramPrecision::F32`), `kls`
//! with k = 5 and 20 at d = 512, and the f64 Gram matrix
//! `X^T X` of all shots as one bare faer GEMM for reference. Accuracy of the
//! resulting head (max over inner products) is printed first.
//!
//! `cargo bench -p imprint-bench --bench oracles`

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use imprint_baselines::{KLeastSquaresParams, LeastSquaresParams};
use imprint_bench::workloads::task;
use imprint_core::gemm::{GramPrecision, matmul_atb};
use imprint_core::{AggregateExt, Aggregation, metrics};
use ndarray::{Array2, ArrayView2, Axis, s};

const N_CLASSES: usize = 10;
const N: usize = 6000;
const LAMBDA: f64 = 1e-4;
const SEED: u64 = 17121997;

fn accuracy(weights: &[Array2<f32>], test: ArrayView2<'_, f32>, truth: &[usize]) -> f64 {
    let classes: Vec<usize> = weights.iter().enumerate().flat_map(|(c, w)| vec![c; w.nrows()]).collect();
    let stacked = ndarray::concatenate(Axis(0), &weights.iter().map(|w| w.view()).collect::<Vec<_>>())
        .expect("same dim");
    let predicted =
        Aggregation::max().predict(stacked.view(), &classes, N_CLASSES, test).expect("predictions");
    100.0 * metrics::accuracy(&predicted, truth).expect("same length")
}

fn oracles(c: &mut Criterion) {
    let mut group = c.benchmark_group("oracles");
    group.sample_size(10);
    for dim in [512, 2048] {
        let data = task(N_CLASSES, N, 300, dim, 13).expect("workload");
        let x = data.train.embeddings();
        let classes: Vec<ArrayView2<'_, f32>> =
            (0..N_CLASSES).map(|c| x.slice(s![c * N..(c + 1) * N, ..])).collect();
        let test = (data.test.embeddings(), data.test.labels());
        let ls = LeastSquaresParams::new(LAMBDA).check().expect("lambda");
        let w = ls.fit(&classes).expect("weights");
        let per_class: Vec<Array2<f32>> = w.outer_iter().map(|r| r.insert_axis(Axis(0)).to_owned()).collect();
        eprintln!("quality oracles/ls/d{dim}: accuracy {:.2}%", accuracy(&per_class, test.0, test.1));
        group.bench_function(BenchmarkId::new("ls", format!("d{dim}")), |b| {
            b.iter(|| ls.fit(&classes).expect("weights"))
        });
        let f32_gram =
            LeastSquaresParams::new(LAMBDA).gram_precision(GramPrecision::F32).check().expect("lambda");
        group.bench_function(BenchmarkId::new("ls f32 Gram", format!("d{dim}")), |b| {
            b.iter(|| f32_gram.fit(&classes).expect("weights"))
        });
        let x64 = x.mapv(f64::from);
        group.bench_function(BenchmarkId::new("bare faer GEMM f64 X^T X", format!("d{dim}")), |b| {
            b.iter(|| matmul_atb(x64.view(), x64.view()))
        });
        if dim == 512 {
            for k in [5, 20] {
                let kls = KLeastSquaresParams::new(Some(k), LAMBDA).check().expect("params");
                let w = kls.fit(&classes, SEED).expect("weights");
                eprintln!("quality oracles/kls/k{k}/d{dim}: accuracy {:.2}%", accuracy(&w, test.0, test.1));
                group.bench_function(BenchmarkId::new(format!("kls k{k}"), format!("d{dim}")), |b| {
                    b.iter(|| kls.fit(&classes, SEED).expect("weights"))
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, oracles);
criterion_main!(benches);

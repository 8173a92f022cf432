//! AGG at the paper's sizes: 10,000 queries (d = 512) against 200 proxies
//! (20 per class) and against 60,000 (all training data imprinted), with
//! `max` over inner products and 5-nn under the Euclidean and cosine
//! distances; the bare faer GEMM of each shape for reference. Accuracy is
//! printed next to each benchmark.
//!
//! `cargo bench -p imprint-bench --bench aggregation`

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use imprint_bench::workloads::task;
use imprint_core::gemm::matmul_abt;
use imprint_core::{AggregateExt, Aggregation, Aggregator, Distance, Weighting, metrics};
use ndarray::Axis;

const N_CLASSES: usize = 10;

fn aggregation(c: &mut Criterion) {
    let data = task(N_CLASSES, 6000, 1000, 512, 11).expect("workload");
    let (all, all_classes) = (data.train.embeddings(), data.train.labels());
    let (queries, truth) = (data.test.embeddings(), data.test.labels());
    // 20 proxies per class: the first 20 shots of each.
    let few_rows: Vec<usize> = (0..N_CLASSES).flat_map(|c| c * 6000..c * 6000 + 20).collect();
    let few = all.select(Axis(0), &few_rows);
    let few_classes: Vec<usize> = few_rows.iter().map(|&i| all_classes[i]).collect();

    let aggregations = [
        Aggregation::max(),
        Aggregation::mnn(5, Distance::Euclidean, Weighting::Uniform).expect("m > 0"),
        Aggregation::mnn(5, Distance::Cosine, Weighting::Uniform).expect("m > 0"),
    ];
    for (label, proxies, classes) in [("200", few.view(), &few_classes[..]), ("60000", all, all_classes)] {
        let mut group = c.benchmark_group(format!("agg/10000x{label}"));
        group.sample_size(10).throughput(Throughput::Elements((queries.nrows() * proxies.nrows()) as u64));
        for agg in aggregations {
            let predicted = agg.predict(proxies, classes, N_CLASSES, queries).expect("predictions");
            let accuracy = metrics::accuracy(&predicted, truth).expect("same length");
            eprintln!("quality agg/10000x{label}/{}: accuracy {:.2}%", agg.describe(), 100.0 * accuracy);
            group.bench_function(BenchmarkId::from_parameter(agg.describe()), |b| {
                b.iter(|| agg.class_scores(proxies, classes, N_CLASSES, queries).expect("scores"))
            });
        }
        group.bench_function(BenchmarkId::from_parameter("bare faer GEMM"), |b| {
            b.iter(|| matmul_abt(queries, proxies))
        });
        group.finish();
    }
}

criterion_group!(benches, aggregation);
criterion_main!(benches);

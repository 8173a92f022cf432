//! NC1 and VCI on 60,000 x 2,048 embeddings of 10 classes (the paper's size
//! for a 2,048-d backbone), computed in bounded memory; the values are
//! printed first.
//!
//! `cargo bench -p imprint-bench --bench collapse`

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{Criterion, criterion_group, criterion_main};
use imprint_bench::workloads::task;
use imprint_core::{Centering, neural_collapse};
use ndarray::{ArrayView2, s};

fn collapse(c: &mut Criterion) {
    let (n_classes, n, dim) = (10, 6000, 2048);
    let data = task(n_classes, n, 1, dim, 17).expect("workload");
    let x = data.train.embeddings();
    let classes: Vec<ArrayView2<'_, f32>> =
        (0..n_classes).map(|c| x.slice(s![c * n..(c + 1) * n, ..])).collect();
    let result = neural_collapse(&classes, Centering::Paper).expect("NC1");
    eprintln!(
        "quality nc1/60000x2048: NC1 {:.6}, VCI {:.6}, rank of Sigma_B {}",
        result.nc1, result.vci, result.rank_between
    );
    let mut group = c.benchmark_group("nc1");
    group.sample_size(10);
    group.bench_function("60000x2048", |b| {
        b.iter(|| neural_collapse(&classes, Centering::Paper).expect("NC1"))
    });
    group.finish();
}

criterion_group!(benches, collapse);
criterion_main!(benches);

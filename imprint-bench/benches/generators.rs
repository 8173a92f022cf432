//! GEN per class at the paper's sizes: n = 6,000 shots, d in {512, 768, 1024,
//! 1280, 2048}, k in {1, 5, 20}, every generator. Each benchmark prints its
//! quality first: the quantization error (sum of squared distances of the
//! shots to their nearest proxy; k-means' inertia).
//!
//! `cargo bench -p imprint-bench --bench generators`; restrict with a filter
//! (`-- kmeans/d512`) or `IMPRINT_BENCH_DIMS=512,2048`.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use imprint_bench::workloads::quantization_error;
use imprint_bench::workloads::{Modes, one_class};
use imprint_core::GenerateExt;
use imprint_gen::{GENERATOR_NAMES, generator_by_name};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const N: usize = 6000;
const SEED: u64 = 17121997;

fn dims() -> Vec<usize> {
    std::env::var("IMPRINT_BENCH_DIMS")
        .ok()
        .map(|v| v.split(',').filter_map(|d| d.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![512, 768, 1024, 1280, 2048])
}

fn generators(c: &mut Criterion) {
    for dim in dims() {
        let x = one_class(N, dim, Modes::Overlapping, 7).expect("workload");
        let mut group = c.benchmark_group(format!("gen/d{dim}"));
        group.sample_size(10).throughput(Throughput::Elements(N as u64));
        for name in GENERATOR_NAMES {
            // mean and all do not depend on k.
            let ks: &[Option<usize>] = match *name {
                "mean" | "all" => &[None],
                _ => &[Some(1), Some(5), Some(20)],
            };
            for &k in ks {
                let generator = generator_by_name(name, k).expect("registered generator");
                let proxies =
                    generator.generate(x.view(), &mut ChaCha8Rng::seed_from_u64(SEED)).expect("proxies");
                let k_label = format!("k{}", k.map_or("-".into(), |k| k.to_string()));
                // Every shot is a proxy of `all`: its error is 0 by construction.
                let error = if *name == "all" { 0.0 } else { quantization_error(x.view(), proxies.view()) };
                eprintln!(
                    "quality gen/d{dim}/{name}/{k_label}: {} proxies, quantization error {error:.6e}",
                    proxies.nrows()
                );
                group.bench_function(BenchmarkId::new(*name, k_label), |b| {
                    b.iter(|| {
                        generator.generate(x.view(), &mut ChaCha8Rng::seed_from_u64(SEED)).expect("proxies")
                    })
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, generators);
criterion_main!(benches);

//! Images per second of EfficientNet-Lite (preprocessing and network, after
//! decoding) on a folder of images, and the peak resident memory; the Rust side of
//! the comparison with `scripts/bench_embed_torch.py` in BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release -p imprint-embed --example bench_lite0 -- \
//!     --weights "$IMPRINT_EFFICIENTNET_LITE0_PTH" --images target/bundled-images/FashionMNIST/test --threads 2
//! ```

#![allow(clippy::unwrap_used)] // a benchmark run by hand: a failure should stop it loudly

use std::path::{Path, PathBuf};
use std::time::Instant;

use imprint_embed::{EfficientNetLite, EfficientNetVariant, Pixels, read_image};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let weights = PathBuf::from(arg("--weights").expect("--weights PATH"));
    let images = PathBuf::from(arg("--images").expect("--images DIR"));
    let threads: usize = arg("--threads").map_or(2, |t| t.parse().unwrap());
    let batch: usize = arg("--batch").map_or(32, |t| t.parse().unwrap());
    let repeats: usize = arg("--repeats").map_or(3, |t| t.parse().unwrap());
    let variant = match arg("--variant").as_deref() {
        Some("lite1") => EfficientNetVariant::Lite1,
        Some("lite2") => EfficientNetVariant::Lite2,
        _ => EfficientNetVariant::Lite0,
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let t = Instant::now();
    let net = EfficientNetLite::load(&weights, variant).unwrap();
    let load_s = t.elapsed().as_secs_f64();
    let mut paths = Vec::new();
    collect(&images, &mut paths);
    paths.sort();
    let t = Instant::now();
    let pixels: Vec<Pixels> = pool.install(|| {
        use rayon::prelude::*;
        paths.par_iter().map(|p| read_image(p).unwrap()).collect()
    });
    let decode_s = t.elapsed().as_secs_f64();
    // One warm-up batch, then the best of `repeats` passes over all images.
    pool.install(|| net.embed_pixels(&pixels[..batch.min(pixels.len())]));
    let mut best = f64::INFINITY;
    let mut checksum = 0.0f64;
    for _ in 0..repeats {
        let t = Instant::now();
        for chunk in pixels.chunks(batch) {
            let e = pool.install(|| net.embed_pixels(chunk));
            checksum += f64::from(e[[0, 0]]);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let n = pixels.len();
    println!(
        "{{\"impl\": \"imprint-embed\", \"variant\": \"{variant:?}\", \"images\": {n}, \"threads\": {threads}, \
         \"batch\": {batch}, \"load_s\": {load_s:.3}, \"decode_s\": {decode_s:.3}, \"embed_s\": {best:.3}, \
         \"images_per_s\": {:.2}, \"peak_rss_mib\": {:.1}, \"checksum\": {checksum:.6}}}",
        n as f64 / best,
        peak_rss_mib()
    );
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// VmHWM of /proc/self/status (Linux), in MiB; 0 elsewhere.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

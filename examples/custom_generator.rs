//! A research extension written outside the crates: a new proxy generator,
//! "trimmed mean", used in a head exactly like the built-in ones.
//!
//! Run with `cargo run -p imprint-examples --example custom_generator`.

use imprint_core::{
    Aggregation, ImprintError, ImprintedHead, Imprinter, InputNorm, ProxyGenerator, Result, RngCore, Shots,
    WeightNorm, ZeroVectorPolicy, metrics,
};
use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One proxy per class: the mean of the samples closest to the class mean,
/// ignoring the `trim` fraction farthest away (robust to outliers).
#[derive(Debug)]
struct TrimmedMean {
    trim: f64,
}

impl TrimmedMean {
    fn new(trim: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&trim) {
            return Err(ImprintError::invalid("trim", trim, "must be in [0, 1)"));
        }
        Ok(Self { trim })
    }
}

impl ProxyGenerator for TrimmedMean {
    fn name(&self) -> &str {
        "trimmed_mean"
    }

    fn n_proxies(&self) -> Option<usize> {
        Some(1)
    }

    fn propose(&self, shots: Shots<'_>, _rng: &mut dyn RngCore) -> Result<Array2<f32>> {
        let x = shots.view();
        let mean = x.mean_axis(Axis(0)).expect("Shots are never empty");
        let mut by_distance: Vec<(f32, usize)> =
            x.outer_iter().enumerate().map(|(i, r)| ((&r - &mean).mapv(|v| v * v).sum(), i)).collect();
        by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let keep = ((1.0 - self.trim) * x.nrows() as f64).ceil().max(1.0) as usize;
        let rows: Vec<usize> = by_distance[..keep].iter().map(|&(_, i)| i).collect();
        Ok(x.select(Axis(0), &rows).mean_axis(Axis(0)).expect("keep >= 1").insert_axis(Axis(0)))
    }
}

/// Two Gaussian classes with a few far outliers in class 0.
fn data(rng: &mut ChaCha8Rng, n: usize, outliers: bool) -> (Vec<Array2<f32>>, Array2<f32>, Vec<usize>) {
    let centres = [[1.0f32, 0.2, 0.0, 0.0], [0.2, 1.0, 0.0, 0.0]];
    let mut classes = Vec::new();
    for (c, centre) in centres.iter().enumerate() {
        let mut x = Array2::from_shape_fn((n, 4), |(_, j)| centre[j] + rng.random_range(-0.3..0.3));
        if outliers && c == 0 {
            for i in 0..n / 10 {
                x.row_mut(i).assign(&ndarray::arr1(&[-8.0, 9.0, 0.0, 0.0]));
            }
        }
        classes.push(x);
    }
    let queries =
        ndarray::concatenate![Axis(0), data_like(rng, centres[0], n), data_like(rng, centres[1], n)];
    let truth = (0..2 * n).map(|i| i / n).collect();
    (classes, queries, truth)
}

fn data_like(rng: &mut ChaCha8Rng, centre: [f32; 4], n: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, 4), |(_, j)| centre[j] + rng.random_range(-0.3..0.3))
}

fn main() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(17121997);
    let (train, queries, truth) = data(&mut rng, 200, true);

    for (label, imprinter) in [
        ("mean (built in)", Imprinter::from_boxed(imprint_gen::generator_by_name("mean", None)?)),
        ("trimmed_mean(0.2)", Imprinter::new(TrimmedMean::new(0.2)?)),
    ] {
        let imprinter = imprinter.with_post_norm(WeightNorm::L2(ZeroVectorPolicy::Reject)).with_seed(1);
        let mut head =
            ImprintedHead::with_inference(4, InputNorm::L2(ZeroVectorPolicy::Reject), Aggregation::max())?;
        let classes: Vec<(String, _)> =
            train.iter().enumerate().map(|(c, x)| (format!("class{c}"), x.view())).collect();
        imprinter.imprint_task(&mut head, &classes)?;
        let predicted = head.predict(queries.view())?;
        println!("{label:>18}: accuracy {:.1}%", 100.0 * metrics::accuracy(&predicted, &truth)?);
    }
    Ok(())
}

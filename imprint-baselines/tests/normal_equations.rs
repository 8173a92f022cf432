//! Property: least-squares weights satisfy the normal equations
//! `(X^T X / N + lambda I) (C W^T) = M`.

use imprint_baselines::LeastSquaresParams;
use ndarray::{Array2, Axis, concatenate};
use proptest::prelude::*;

fn class(rows: usize, dim: usize) -> impl Strategy<Value = Array2<f32>> {
    proptest::collection::vec(-1.0f32..1.0, rows * dim)
        .prop_map(move |v| Array2::from_shape_vec((rows, dim), v).expect("shape"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn weights_solve_the_normal_equations(
        classes in (1usize..6, 2usize..5).prop_flat_map(|(dim, c)| proptest::collection::vec(class(4, dim), c)),
        lambda in prop_oneof![Just(1e-4), Just(0.05), 0.01f64..1.0],
    ) {
        let views: Vec<_> = classes.iter().map(|c| c.view()).collect();
        let w = LeastSquaresParams::new(lambda).check().unwrap().fit(&views).unwrap();
        let x = concatenate(Axis(0), &views).unwrap().mapv(f64::from);
        let n = x.nrows() as f64;
        let c = classes.len() as f64;
        let a = x.t().dot(&x) / n + Array2::<f64>::eye(x.ncols()) * lambda;
        let m = Array2::from_shape_fn((x.ncols(), classes.len()), |(j, k)| {
            classes[k].column(j).mapv(f64::from).mean().unwrap()
        });
        let lhs = a.dot(&w.t().mapv(f64::from)) * c;
        // W is returned in f32: the residual is bounded by its rounding amplified by |A|.
        let a_max = a.iter().fold(0.0f64, |s, v| s.max(v.abs()));
        let w_max = f64::from(w.iter().fold(0.0f32, |s, v| s.max(v.abs())));
        let scale = 1.0 + a_max * w_max * c * x.ncols() as f64;
        for (l, r) in lhs.iter().zip(&m) {
            prop_assert!((l - r).abs() <= 1e-6 * scale, "{} vs {}", l, r);
        }
    }
}

//! `ls`: the least-squares optimal linear head (one weight vector per class).

use faer::{Mat, MatRef, Par, Side};
use imprint_core::gemm::{GramPrecision, add_gram_of_rows, as_faer, parallelism, parallelism_for};
use imprint_core::{ImprintError, JointGenerator, Result, Shots, StreamRng, check_dim, check_embeddings};
use ndarray::{Array2, ArrayView2, ArrayViewMut1, Zip};

/// Parameters of [`LeastSquares`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeastSquaresParams {
    lambda: f64,
    precision: GramPrecision,
}

impl LeastSquaresParams {
    /// Ridge parameter `lambda` (no default: it depends on the backbone; see
    /// [`crate::lambda_for_backbone`]).
    pub fn new(lambda: f64) -> Self {
        Self { lambda, precision: GramPrecision::F64 }
    }

    /// The arithmetic of the Gram matrix `X^T X` (default f64). With
    /// [`GramPrecision::F32`] its products are summed in f32 over each 128
    /// rows and those sums in f64: about twice as fast, about as accurate as
    /// the reference's float32 `torch` formula or better (the solve stays
    /// f64; `docs/performance.md`).
    pub fn gram_precision(self, precision: GramPrecision) -> Self {
        Self { precision, ..self }
    }

    /// Validates `lambda`: finite and non-negative.
    pub fn check(self) -> Result<LeastSquares> {
        if !self.lambda.is_finite() || self.lambda < 0.0 {
            return Err(ImprintError::invalid("lambda", self.lambda, "must be finite and >= 0"));
        }
        Ok(LeastSquares { lambda: self.lambda, precision: self.precision })
    }
}

/// The least-squares oracle (not imprinting: it uses every class's data):
///
/// `W = (1/C) M^T (Sigma_T + mu_G mu_G^T + lambda I)^-1`
///
/// with `mu_G` the mean of all samples, `M` the class means (`d x C`) and
/// `Sigma_T` the total covariance with divisor `N`. Since
/// `Sigma_T + mu_G mu_G^T = X^T X / N`, the system matrix is one Gram matrix
/// plus the ridge; it is solved by Cholesky in f64, never inverted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeastSquares {
    lambda: f64,
    precision: GramPrecision,
}

impl LeastSquares {
    /// The ridge parameter.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The arithmetic of the Gram matrix.
    pub fn gram_precision(&self) -> GramPrecision {
        self.precision
    }

    /// One weight vector per class, `C x d`, rows in the order of `classes`.
    pub fn fit(&self, classes: &[ArrayView2<'_, f32>]) -> Result<Array2<f32>> {
        let Some(first) = classes.first() else {
            return Err(ImprintError::Empty { what: "classes given to least squares".into() });
        };
        let dim = first.ncols();
        for (c, x) in classes.iter().enumerate() {
            check_embeddings(*x, &format!("shots of class {c} (least squares)"))?;
            check_dim(*x, dim, "least squares: class against class 0")?;
        }
        let n_total: usize = classes.iter().map(|x| x.nrows()).sum();
        // S = A^-1 M, A = X^T X / N + lambda I (dim x dim). The class means are
        // M = X^T Y with Y[i, c] = 1/n_c for the samples of class c, so also
        // S = X^T (X X^T / N + lambda I)^-1 Y (N x N): the smaller system is solved.
        let solution = if n_total < dim {
            if self.lambda == 0.0 {
                return Err(ImprintError::Numerical {
                    op: "least squares (Cholesky of X^T X / N + lambda I)",
                    reason: format!(
                        "X^T X has rank at most N = {n_total} < {dim} features, so the system is singular; use lambda > 0"
                    ),
                });
            }
            self.solve_in_sample_space(classes, n_total, dim)?
        } else {
            self.solve_in_feature_space(classes, n_total, dim)?
        };
        let scale = 1.0 / classes.len() as f64;
        Ok(Array2::from_shape_fn((classes.len(), dim), |(c, j)| (solution[(j, c)] * scale) as f32))
    }

    /// Products of finite f32 data are finite in f64, but may overflow in
    /// f32 (entries beyond about 1e19): then say so rather than solve.
    fn check_gram(&self, gram: &Array2<f64>) -> Result<()> {
        if self.precision == GramPrecision::F32 && gram.iter().any(|v| !v.is_finite()) {
            return Err(ImprintError::Numerical {
                op: "least squares (Gram matrix in f32)",
                reason: "a product overflowed f32 (embedding entries too large); use GramPrecision::F64"
                    .into(),
            });
        }
        Ok(())
    }

    /// `A^-1 M` from the `dim x dim` system (only its lower triangle is formed:
    /// the Cholesky reads no more).
    fn solve_in_feature_space(
        &self,
        classes: &[ArrayView2<'_, f32>],
        n_total: usize,
        dim: usize,
    ) -> Result<Mat<f64>> {
        let mut gram = Array2::<f64>::zeros((dim, dim));
        let mut means = Array2::<f64>::zeros((dim, classes.len()));
        for (c, x) in classes.iter().enumerate() {
            let sums =
                add_gram_of_rows(*x, 1.0 / n_total as f64, &mut gram, self.precision, |_, row, out| {
                    Zip::from(ArrayViewMut1::from(out)).and(row).for_each(|o, &v| *o = f64::from(v));
                })?;
            means.column_mut(c).assign(&(sums / x.nrows() as f64));
        }
        self.check_gram(&gram)?;
        gram.diag_mut().mapv_inplace(|v| v + self.lambda);
        let llt = as_faer(gram.view())?.llt(Side::Lower).map_err(|e| ImprintError::Numerical {
            op: "least squares (Cholesky of X^T X / N + lambda I)",
            reason: format!("{e:?}; the system is singular, use lambda > 0"),
        })?;
        Ok(solve_with_factor(llt.L(), means.view()))
    }

    /// `X^T (X X^T / N + lambda I)^-1 Y` from the `N x N` system, for fewer
    /// samples than features (few shots, small tasks).
    fn solve_in_sample_space(
        &self,
        classes: &[ArrayView2<'_, f32>],
        n_total: usize,
        dim: usize,
    ) -> Result<Mat<f64>> {
        let x = ndarray::concatenate(ndarray::Axis(0), classes)
            .map_err(|e| ImprintError::Numerical { op: "least squares", reason: e.to_string() })?;
        // X X^T is the Gram matrix of the columns of X (lower triangle).
        let mut gram = Array2::<f64>::zeros((n_total, n_total));
        add_gram_of_rows(x.t(), 1.0 / n_total as f64, &mut gram, self.precision, |_, col, out| {
            Zip::from(ArrayViewMut1::from(out)).and(col).for_each(|o, &v| *o = f64::from(v));
        })?;
        self.check_gram(&gram)?;
        gram.diag_mut().mapv_inplace(|v| v + self.lambda);
        let llt = as_faer(gram.view())?.llt(Side::Lower).map_err(|e| ImprintError::Numerical {
            op: "least squares (Cholesky of X X^T / N + lambda I)",
            reason: format!("{e:?}; the system is singular, use lambda > 0"),
        })?;
        let mut y = Array2::<f64>::zeros((n_total, classes.len()));
        let mut first = 0;
        for (c, class) in classes.iter().enumerate() {
            y.slice_mut(ndarray::s![first..first + class.nrows(), c]).fill(1.0 / class.nrows() as f64);
            first += class.nrows();
        }
        let z = solve_with_factor(llt.L(), y.view());
        let x64 = x.mapv(f64::from);
        let mut solution = Mat::<f64>::zeros(dim, classes.len());
        faer::linalg::matmul::matmul(
            solution.as_mut(),
            faer::Accum::Replace,
            as_faer(x64.view())?.transpose(),
            z.as_ref(),
            1.0,
            parallelism_for(dim, classes.len()),
        );
        Ok(solution)
    }
}

impl JointGenerator for LeastSquares {
    fn name(&self) -> &str {
        "ls"
    }

    /// One proxy per class: the rows of [`LeastSquares::fit`]. Draws nothing.
    fn propose_joint(&self, classes: &[Shots<'_>], _rngs: &mut [StreamRng]) -> Result<Vec<Array2<f32>>> {
        let views: Vec<ArrayView2<'_, f32>> = classes.iter().map(|s| s.view()).collect();
        let w = self.fit(&views)?;
        Ok(w.outer_iter().map(|r| r.insert_axis(ndarray::Axis(0)).to_owned()).collect())
    }
}

/// `A^-1 rhs` from the Cholesky factor `L` of `A`, the same for any number of
/// rayon threads.
///
/// With several right-hand sides faer's triangular solves are GEMMs, split
/// across threads by output blocks only. A single right-hand side (one class)
/// makes them matrix-vector products, which faer splits along the summed
/// dimension when it runs them in parallel (faer 0.24
/// `linalg/matmul/mod.rs`, `matvec_colmajor`: one partial sum per thread), so
/// the result would depend on the thread count from about 512 features on.
/// That case costs `2 dim^2` flops and runs on the calling thread.
fn solve_with_factor(factor: MatRef<'_, f64>, rhs: ArrayView2<'_, f64>) -> Mat<f64> {
    let mut solution = Mat::from_fn(rhs.nrows(), rhs.ncols(), |i, j| rhs[[i, j]]);
    let par = if rhs.ncols() == 1 { Par::Seq } else { parallelism() };
    faer::linalg::cholesky::llt::solve::solve_in_place(
        factor,
        solution.as_mut(),
        par,
        faer::dyn_stack::MemStack::new(&mut []),
    );
    solution
}

#[cfg(test)]
mod tests {
    use imprint_core::gemm::matmul_atb;
    use ndarray::{Array2, Axis, array, concatenate};

    use super::*;

    /// Inverse by Gauss-Jordan elimination with partial pivoting: slow and obviously correct.
    fn inverse(a: &Array2<f64>) -> Array2<f64> {
        let n = a.nrows();
        let mut m = concatenate![Axis(1), a.clone(), Array2::eye(n)];
        for c in 0..n {
            let p = (c..n).max_by(|&i, &j| m[[i, c]].abs().total_cmp(&m[[j, c]].abs())).unwrap();
            for k in 0..2 * n {
                m.swap([c, k], [p, k]);
            }
            let d = m[[c, c]];
            m.row_mut(c).mapv_inplace(|v| v / d);
            for r in (0..n).filter(|&r| r != c) {
                let f = m[[r, c]];
                let row = m.row(c).to_owned();
                m.row_mut(r).zip_mut_with(&row, |v, &w| *v -= f * w);
            }
        }
        m.slice(ndarray::s![.., n..]).to_owned()
    }

    /// The SPEC formula written out literally.
    fn naive(classes: &[Array2<f32>], lambda: f64) -> Array2<f64> {
        let all = concatenate(Axis(0), &classes.iter().map(|c| c.view()).collect::<Vec<_>>()).unwrap();
        let x = all.mapv(f64::from);
        let n = x.nrows() as f64;
        let mu = x.mean_axis(Axis(0)).unwrap();
        let centred = &x - &mu;
        let sigma_t = centred.t().dot(&centred) / n;
        let mu_col = mu.clone().insert_axis(Axis(1));
        let a = sigma_t + mu_col.dot(&mu_col.t()) + Array2::<f64>::eye(x.ncols()) * lambda;
        let m = Array2::from_shape_fn((x.ncols(), classes.len()), |(j, c)| {
            classes[c].column(j).mapv(f64::from).mean().unwrap()
        });
        m.t().dot(&inverse(&a)) / classes.len() as f64
    }

    #[test]
    fn matches_the_literal_formula() {
        let a = array![[1.0f32, 0.2, 0.0], [0.8, 0.1, 0.3], [1.2, -0.1, 0.1]];
        let b = array![[0.0f32, 1.0, 0.5], [0.1, 0.9, 0.4]];
        let c = array![[-0.5f32, 0.3, 1.0], [-0.4, 0.2, 1.1], [-0.6, 0.1, 0.9], [-0.5, 0.0, 1.0]];
        for lambda in [1e-4, 0.05, 1.0] {
            let got = LeastSquaresParams::new(lambda)
                .check()
                .unwrap()
                .fit(&[a.view(), b.view(), c.view()])
                .unwrap();
            let want = naive(&[a.clone(), b.clone(), c.clone()], lambda);
            for (g, w) in got.iter().zip(&want) {
                assert!((f64::from(*g) - w).abs() <= 1e-4 * (1.0 + w.abs()), "lambda {lambda}: {g} vs {w}");
            }
        }
    }

    /// One right-hand side in 600 dimensions takes faer's parallel
    /// matrix-vector path unless it is forced onto one thread: the f64
    /// solution must not depend on the pool (the f32 weights would hide most
    /// differences).
    #[test]
    fn solution_is_bit_identical_for_any_thread_count() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let x = Array2::from_shape_fn((700, 600), |_| rng.random_range(-1.0f64..1.0));
        let mut gram = matmul_atb(x.view(), x.view()).unwrap() / 700.0;
        gram.diag_mut().mapv_inplace(|v| v + 0.05);
        let llt = as_faer(gram.view()).unwrap().llt(Side::Lower).unwrap();
        let rhs = Array2::from_shape_fn((600, 3), |_| rng.random_range(-1.0f64..1.0));
        let bits = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                [rhs.slice(ndarray::s![.., ..1]), rhs.view()].map(|r| {
                    let s = solve_with_factor(llt.L(), r);
                    (0..s.ncols())
                        .flat_map(|j| (0..s.nrows()).map(move |i| (i, j)))
                        .map(|(i, j)| s[(i, j)].to_bits())
                        .collect::<Vec<u64>>()
                })
            })
        };
        let one = bits(1);
        for threads in [2, 4, 4] {
            assert!(one == bits(threads), "{threads} threads");
        }
    }

    #[test]
    fn fewer_samples_than_features_matches_the_literal_formula() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        // 5 samples in 12 dimensions: solved in sample space (5 x 5).
        let classes: Vec<Array2<f32>> = [2, 1, 2]
            .iter()
            .map(|&n| Array2::from_shape_fn((n, 12), |_| rng.random_range(-1.0f32..1.0)))
            .collect();
        let views: Vec<_> = classes.iter().map(|c| c.view()).collect();
        for lambda in [1e-3, 0.05, 1.0] {
            let got = LeastSquaresParams::new(lambda).check().unwrap().fit(&views).unwrap();
            let want = naive(&classes, lambda);
            for (g, w) in got.iter().zip(&want) {
                assert!((f64::from(*g) - w).abs() <= 1e-4 * (1.0 + w.abs()), "lambda {lambda}: {g} vs {w}");
            }
        }
    }

    /// The f32 Gram (an explicit choice) against the literal formula in f64,
    /// in feature space (rows past several 128-row chunks) and in sample space.
    #[test]
    fn f32_gram_is_close_to_the_literal_formula() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        assert_eq!(LeastSquaresParams::new(0.1).check().unwrap().gram_precision(), GramPrecision::F64);
        for (sizes, dim) in [(vec![300, 250, 400], 40), (vec![3, 2, 4], 30)] {
            let classes: Vec<Array2<f32>> = sizes
                .iter()
                .enumerate()
                .map(|(c, &n)| {
                    Array2::from_shape_fn((n, dim), |(_, j)| {
                        rng.random_range(-1.0f32..1.0) + (j % 3 == c) as u8 as f32
                    })
                })
                .collect();
            let views: Vec<_> = classes.iter().map(|c| c.view()).collect();
            for lambda in [1e-3, 0.1] {
                let ls = LeastSquaresParams::new(lambda).gram_precision(GramPrecision::F32).check().unwrap();
                assert_eq!(ls.gram_precision(), GramPrecision::F32);
                let got = ls.fit(&views).unwrap();
                let want = naive(&classes, lambda);
                let scale = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (f64::from(*g) - w).abs() <= 1e-4 * scale,
                        "{sizes:?} lambda {lambda}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(LeastSquaresParams::new(-1.0).check().is_err());
        assert!(LeastSquaresParams::new(f64::NAN).check().is_err());
        let ls = LeastSquaresParams::new(0.1).check().unwrap();
        assert!(matches!(ls.fit(&[]), Err(ImprintError::Empty { .. })));
        let a = array![[1.0f32, 0.0]];
        let empty = Array2::<f32>::zeros((0, 2));
        let err = ls.fit(&[a.view(), empty.view()]).unwrap_err();
        assert!(matches!(err, ImprintError::Empty { .. }) && err.to_string().contains("class 1"), "{err}");
        let wide = array![[1.0f32, 0.0, 0.0]];
        assert!(matches!(ls.fit(&[a.view(), wide.view()]), Err(ImprintError::DimensionMismatch { .. })));
        let nan = array![[f32::NAN, 0.0]];
        assert!(matches!(ls.fit(&[a.view(), nan.view()]), Err(ImprintError::NonFinite { .. })));
        // Entries whose products overflow f32: an error with the f32 Gram, solved in f64.
        let huge = array![[3e19f32, 1.0], [1.0, 2e19]];
        let f32_gram = LeastSquaresParams::new(0.1).gram_precision(GramPrecision::F32).check().unwrap();
        let (wide_huge, wide) = (array![[3e19f32, 1.0, 0.0]], array![[0.0f32, 1.0, 1.0]]);
        // Feature space (3 samples, 2 features) and sample space (2 samples, 3 features).
        for classes in [[huge.view(), a.view()], [wide_huge.view(), wide.view()]] {
            let err = f32_gram.fit(&classes).unwrap_err();
            assert!(
                matches!(err, ImprintError::Numerical { .. }) && err.to_string().contains("F64"),
                "{err}"
            );
            assert!(ls.fit(&classes).is_ok());
        }
        // lambda = 0 with fewer samples than dimensions: singular, reported, not a panic.
        let singular = LeastSquaresParams::new(0.0).check().unwrap();
        assert!(matches!(singular.fit(&[a.view()]), Err(ImprintError::Numerical { .. })));
    }
}

//! Neural-collapse measures of a labelled embedding set: NC1 (paper eq. 1) and VCI.
//!
//! On L2-normalized embeddings, with `mu_c` the class means and `mu_G` the
//! mean of all samples:
//!
//! - `Sigma_W = (1/C) sum_c (1/n_c) sum_i (x_i - mu_c)(x_i - mu_c)^T`
//! - `Sigma_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T`
//! - `NC1 = Tr(Sigma_W Sigma_B^+) / C`
//! - `VCI = 1 - Tr(Sigma_B (Sigma_W + Sigma_B)^+) / rank(Sigma_B)`
//!
//! Pseudo-inverses come from symmetric eigendecompositions; eigenvalues below
//! `dim * eps * max eigenvalue` count as zero (numpy's `matrix_rank` rule).

use faer::{Mat, Par, Side};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::gemm::{GramPrecision, add_gram_of_rows, faer_ref as as_faer, symmetrize_lower};
use crate::{ImprintError, Result};

/// How within-class scatter is centred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Centering {
    /// The paper's formula: each sample minus its class mean.
    #[default]
    Paper,
    /// The reference code's formula: each sample minus `(mu_c - mu_G)`, which
    /// adds `mu_G mu_G^T` to `Sigma_W` (and so raises NC1 when the global mean
    /// is far from the origin). Use it to compare with the reference's numbers.
    Reference,
}

/// NC1 and VCI of one labelled set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Collapse {
    /// Within-class variability relative to between-class separation (0 = collapsed).
    pub nc1: f64,
    /// Variability collapse index in [0, 1] (0 = collapsed).
    pub vci: f64,
    /// Rank of `Sigma_B` (at most `C - 1`).
    pub rank_between: usize,
}

/// NC1 and VCI of `classes` (one array of embeddings per class, same dim),
/// L2-normalized here first. Needs at least two classes with data; zero
/// embeddings are rejected.
///
/// Memory is `O(dim^2)` plus a block of rows: classes are read twice (means,
/// then scatter) and converted to f64 block by block. `Sigma_B^+` comes from
/// the `C x C` eigenproblem of the class means (`Sigma_B` has rank below
/// `C`), so only `Sigma_T` needs `O(dim^3)` work: a Cholesky factorization
/// when it is numerically positive definite (every squared pivot above
/// `dim * eps * the largest`), else a symmetric eigendecomposition.
pub fn neural_collapse(classes: &[ArrayView2<'_, f32>], centering: Centering) -> Result<Collapse> {
    if classes.len() < 2 {
        return Err(ImprintError::invalid("classes", classes.len(), "NC1 needs at least two classes"));
    }
    let dim = classes[0].ncols();
    let n_classes = classes.len() as f64;
    // Pass 1: validation, inverse norms and class means of the normalized rows.
    let mut inv_norms: Vec<Vec<f64>> = Vec::with_capacity(classes.len());
    let mut means = Array2::<f64>::zeros((classes.len(), dim));
    let mut global = Array1::<f64>::zeros(dim);
    let mut n_total = 0usize;
    for (c, x) in classes.iter().enumerate() {
        let what = format!("embeddings of class {c} (NC1)");
        crate::check::check_embeddings(*x, &what)?;
        crate::check::check_dim(*x, dim, "neural_collapse: class against class 0")?;
        let mut inv = Vec::with_capacity(x.nrows());
        let mut sum = vec![0.0f64; dim];
        for (row, r) in x.outer_iter().enumerate() {
            let norm = match r.as_slice() {
                Some(r) => crate::norm::sum_of_squares(r),
                None => r.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>(),
            }
            .sqrt();
            if norm == 0.0 {
                return Err(ImprintError::ZeroVector { what, row });
            }
            let scale = 1.0 / norm;
            sum.iter_mut().zip(r).for_each(|(s, &v)| *s += unit(v, scale));
            inv.push(scale);
        }
        for (g, s) in global.iter_mut().zip(&sum) {
            *g += s;
        }
        means.row_mut(c).assign(&Array1::from_vec(sum).mapv(|s| s / x.nrows() as f64));
        n_total += x.nrows();
        inv_norms.push(inv);
    }
    global /= n_total as f64;
    let between = &means - &global;
    // Pass 2: the within-class scatter, as a matrix or (fewer samples than
    // features) as the rows whose Gram matrix it is.
    let within = if n_total + 1 + classes.len() < dim {
        Within::rows(classes, &inv_norms, &means, &global, centering)
    } else {
        Within::matrix(classes, &inv_norms, &means, &global, centering)
    };

    // Sigma_B = B^T B / C shares its non-zero eigenvalues with G = B B^T / C;
    // its unit eigenvectors are u_j = B^T v_j / sqrt(C lambda_j).
    let small = between.dot(&between.t()) / n_classes;
    let (vals, vecs) = eigen(&small)?;
    let tol_b = tolerance(&vals, dim);
    let rank_between = vals.iter().filter(|&&v| v > tol_b).count();
    if rank_between == 0 {
        return Err(ImprintError::Numerical {
            op: "neural_collapse",
            reason: "all class means coincide, so between-class scatter is zero".into(),
        });
    }
    let mut nc1 = 0.0;
    for (j, &lambda) in vals.iter().enumerate().filter(|&(_, &v)| v > tol_b) {
        let v = Array1::from_shape_fn(classes.len(), |c| vecs[(c, j)]);
        let u = between.t().dot(&v) / (n_classes * lambda).sqrt();
        nc1 += within.quadratic_form(&u) / lambda;
    }
    let nc1 = nc1 / n_classes;

    // VCI: Tr(Sigma_B Sigma_T^+) = (1/C) sum_c b_c^T Sigma_T^+ b_c.
    let trace = within.between_over_total(&between)?;
    let vci = 1.0 - trace / rank_between as f64;
    Ok(Collapse { nc1, vci, rank_between })
}

/// The within-class scatter `Sigma_W` (plus `mu_G mu_G^T` for the
/// reference centering).
enum Within {
    /// The `dim x dim` matrix, for at least as many samples as features.
    Matrix(Array2<f64>),
    /// Rows `R` with `Sigma_W = R^T R` (`(x_i - mu_c) / sqrt(n_c C)`, and
    /// `mu_G` for the reference centering), for fewer samples than features:
    /// every `dim x dim` problem then has a smaller twin in sample space.
    Rows(Array2<f64>),
}

impl Within {
    /// `Sigma_W` accumulated block by block (lower triangle, then mirrored).
    fn matrix(
        classes: &[ArrayView2<'_, f32>],
        inv_norms: &[Vec<f64>],
        means: &Array2<f64>,
        global: &Array1<f64>,
        centering: Centering,
    ) -> Self {
        let dim = means.ncols();
        let n_classes = classes.len() as f64;
        let mut sigma_w = Array2::<f64>::zeros((dim, dim));
        for (c, x) in classes.iter().enumerate() {
            let mean = means.row(c);
            let inv = &inv_norms[c];
            add_gram_of_rows(
                *x,
                1.0 / (x.nrows() as f64 * n_classes),
                &mut sigma_w,
                GramPrecision::F64,
                |i, r, out| {
                    for ((o, &v), &m) in out.iter_mut().zip(r).zip(mean) {
                        *o = unit(v, inv[i]) - m;
                    }
                },
            )
            .expect("internal: sigma_w is dim x dim");
        }
        symmetrize_lower(&mut sigma_w).expect("internal: sigma_w is square");
        if centering == Centering::Reference {
            let g = global.view().insert_axis(Axis(1));
            sigma_w += &g.dot(&g.t());
        }
        Self::Matrix(sigma_w)
    }

    /// The rows of `Sigma_W = R^T R`.
    fn rows(
        classes: &[ArrayView2<'_, f32>],
        inv_norms: &[Vec<f64>],
        means: &Array2<f64>,
        global: &Array1<f64>,
        centering: Centering,
    ) -> Self {
        let n_classes = classes.len() as f64;
        let n_total: usize = classes.iter().map(|x| x.nrows()).sum();
        let extra = usize::from(centering == Centering::Reference);
        let mut rows = Array2::<f64>::zeros((n_total + extra, means.ncols()));
        let mut at = 0;
        for (c, x) in classes.iter().enumerate() {
            let scale = 1.0 / (x.nrows() as f64 * n_classes).sqrt();
            for (i, r) in x.outer_iter().enumerate() {
                for ((o, &v), &m) in rows.row_mut(at).iter_mut().zip(r).zip(means.row(c)) {
                    *o = (unit(v, inv_norms[c][i]) - m) * scale;
                }
                at += 1;
            }
        }
        if extra == 1 {
            rows.row_mut(n_total).assign(global);
        }
        Self::Rows(rows)
    }

    /// `u^T Sigma_W u`.
    fn quadratic_form(&self, u: &Array1<f64>) -> f64 {
        match self {
            Self::Matrix(sigma_w) => u.dot(&sigma_w.dot(u)),
            Self::Rows(r) => r.dot(u).iter().map(|v| v * v).sum(),
        }
    }

    /// `Tr(Sigma_B Sigma_T^+)` with `Sigma_B = B^T B / C`, `Sigma_T = Sigma_W + Sigma_B`.
    fn between_over_total(&self, between: &Array2<f64>) -> Result<f64> {
        let (n_classes, dim) = (between.nrows() as f64, between.ncols());
        match self {
            Self::Matrix(sigma_w) => {
                let sigma_t = sigma_w + &(between.t().dot(between) / n_classes);
                Ok(match positive_definite_factor(&sigma_t) {
                    Some(l) => {
                        let bt = between.t().as_standard_layout().into_owned();
                        let mut rhs = as_faer(bt.view()).to_owned();
                        faer::linalg::triangular_solve::solve_lower_triangular_in_place(
                            l.as_ref(),
                            rhs.as_mut(),
                            Par::Seq,
                        );
                        rhs.squared_norm_l2() / n_classes
                    }
                    None => {
                        let (t_vals, t_vecs) = eigen(&sigma_t)?;
                        let sigma_b = between.t().dot(between) / n_classes;
                        trace_with_pinv(&sigma_b, &t_vals, &t_vecs, tolerance(&t_vals, dim))
                    }
                })
            }
            Self::Rows(r) => {
                // Sigma_T = Z^T Z with Z = [R; B / sqrt(C)]; with Z Z^T = V diag(s) V^T,
                // b^T Sigma_T^+ b = sum_j (v_j^T Z b)^2 / s_j^2 over s_j above the tolerance.
                let z = ndarray::concatenate![Axis(0), r.view(), (between / n_classes.sqrt()).view()];
                let (vals, vecs) = eigen(&crate::gemm::matmul_abt(z.view(), z.view())?)?;
                let tol = tolerance(&vals, dim);
                let zb = z.dot(&between.t());
                let mut trace = 0.0;
                for (j, &s) in vals.iter().enumerate().filter(|&(_, &s)| s > tol) {
                    let v = Array1::from_shape_fn(z.nrows(), |i| vecs[(i, j)]);
                    trace += zb.t().dot(&v).iter().map(|p| p * p).sum::<f64>() / (s * s);
                }
                Ok(trace / n_classes)
            }
        }
    }
}

/// `v / |x|` rounded to f32, as [`crate::l2_normalize_rows`] does, in f64.
#[inline]
fn unit(v: f32, inv_norm: f64) -> f64 {
    f64::from((f64::from(v) * inv_norm) as f32)
}

/// The lower Cholesky factor of `a` if every squared pivot exceeds
/// `dim * eps` times the largest (numerically positive definite).
fn positive_definite_factor(a: &Array2<f64>) -> Option<Mat<f64>> {
    let a = a.as_standard_layout();
    let llt = as_faer(a.view()).llt(Side::Lower).ok()?;
    let l = llt.L().to_owned();
    let pivots: Vec<f64> = (0..l.nrows()).map(|i| l[(i, i)] * l[(i, i)]).collect();
    let tol = tolerance(&pivots, a.nrows());
    pivots.iter().all(|&p| p > tol).then_some(l)
}

/// `Tr(A U diag(1/s) U^T)` over eigenpairs with `s > tol` = `sum_j u_j^T A u_j / s_j`.
fn trace_with_pinv(a: &Array2<f64>, vals: &[f64], vecs: &Mat<f64>, tol: f64) -> f64 {
    let a = a.as_standard_layout();
    let a = as_faer(a.view());
    vals.iter()
        .enumerate()
        .filter(|&(_, &s)| s > tol)
        .map(|(j, &s)| {
            let u = vecs.col(j);
            let au = a * u;
            u.transpose() * &au / s
        })
        .sum()
}

fn tolerance(vals: &[f64], dim: usize) -> f64 {
    let max = vals.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    max * dim as f64 * f64::EPSILON
}

/// Eigenvalues and eigenvectors of the symmetric `a`, computed on the calling
/// thread: faer tridiagonalizes large matrices in parallel with one partial
/// sum per thread (faer 0.24 `linalg/evd/tridiag.rs`), so the result would
/// depend on the number of threads.
fn eigen(a: &Array2<f64>) -> Result<(Vec<f64>, Mat<f64>)> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::evd::{ComputeEigenvectors, self_adjoint_evd, self_adjoint_evd_scratch};
    let n = a.nrows();
    let mut s = faer::diag::Diag::<f64>::zeros(n);
    let mut u = Mat::<f64>::zeros(n, n);
    let mut mem = MemBuffer::new(self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::Yes,
        Par::Seq,
        Default::default(),
    ));
    self_adjoint_evd(
        as_faer(a.as_standard_layout().view()),
        s.as_mut(),
        Some(u.as_mut()),
        Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| ImprintError::Numerical {
        op: "symmetric eigendecomposition (NC1)",
        reason: format!("{e:?}"),
    })?;
    Ok(((0..n).map(|i| s[i]).collect(), u))
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;

    #[test]
    fn two_classes_in_the_plane_match_hand_computation() {
        // Class 0 at angles +-t around (1, 0), class 1 at angles +-t around (0, 1).
        let t = 0.3f32;
        let a = array![[t.cos(), t.sin()], [t.cos(), -t.sin()]];
        let b = array![[t.sin(), t.cos()], [-t.sin(), t.cos()]];
        let got = neural_collapse(&[a.view(), b.view()], Centering::Paper).unwrap();
        // mu_0 = (cos t, 0), mu_1 = (0, cos t); Sigma_W = diag(0, s^2)/2 + diag(s^2, 0)/2 = s^2/2 I.
        // Sigma_B = (1/2) * 2 * (c/2)^2 (1,-1)(1,-1)^T / ... = c^2/4 [[1,-1],[-1,1]] / 1.
        let (s, c) = (f64::from(t.sin()), f64::from(t.cos()));
        let sigma_b_eig = c * c / 2.0; // eigenvalue along (1,-1)/sqrt2
        let want_nc1 = (s * s / 2.0) / sigma_b_eig / 2.0;
        assert!((got.nc1 - want_nc1).abs() < 1e-6, "{} vs {want_nc1}", got.nc1);
        assert_eq!(got.rank_between, 1);
        // Sigma_T along (1,-1): s^2/2 + c^2/2; VCI = 1 - (c^2/2)/(s^2/2 + c^2/2)
        let want_vci = 1.0 - (c * c / 2.0) / (s * s / 2.0 + c * c / 2.0);
        assert!((got.vci - want_vci).abs() < 1e-6, "{} vs {want_vci}", got.vci);
    }

    /// The formulas written out with full `dim x dim` matrices and
    /// eigendecomposition pseudo-inverses: slow and obvious.
    fn naive(classes: &[Array2<f32>], centering: Centering) -> (f64, f64) {
        let norm: Vec<Array2<f64>> = classes
            .iter()
            .map(|x| {
                let x = x.mapv(f64::from);
                let n = x.map_axis(Axis(1), |r| r.dot(&r).sqrt()).insert_axis(Axis(1));
                (&x / &n).mapv(|v| f64::from(v as f32))
            })
            .collect();
        let c = classes.len() as f64;
        let dim = classes[0].ncols();
        let all = ndarray::concatenate(Axis(0), &norm.iter().map(|x| x.view()).collect::<Vec<_>>()).unwrap();
        let global = all.mean_axis(Axis(0)).unwrap();
        let mut sigma_w = Array2::<f64>::zeros((dim, dim));
        let mut sigma_b = Array2::<f64>::zeros((dim, dim));
        for x in &norm {
            let mean = x.mean_axis(Axis(0)).unwrap();
            let centred = x - &mean;
            sigma_w = sigma_w + centred.t().dot(&centred) / (x.nrows() as f64 * c);
            let b = (&mean - &global).insert_axis(Axis(1));
            sigma_b = sigma_b + b.dot(&b.t()) / c;
        }
        if centering == Centering::Reference {
            let g = global.insert_axis(Axis(1));
            sigma_w = sigma_w + g.dot(&g.t());
        }
        let pinv = |a: &Array2<f64>| {
            let (vals, vecs) = eigen(a).unwrap();
            let tol = tolerance(&vals, dim);
            let mut p = Array2::<f64>::zeros((dim, dim));
            for (j, &v) in vals.iter().enumerate().filter(|&(_, &v)| v > tol) {
                let u = Array1::from_shape_fn(dim, |i| vecs[(i, j)]).insert_axis(Axis(1));
                p = p + u.dot(&u.t()) / v;
            }
            (p, vals.iter().filter(|&&v| v > tol).count())
        };
        let (pb, rank) = pinv(&sigma_b);
        let (pt, _) = pinv(&(&sigma_w + &sigma_b));
        (sigma_w.dot(&pb).diag().sum() / c, 1.0 - sigma_b.dot(&pt).diag().sum() / rank as f64)
    }

    #[test]
    fn matches_the_full_matrix_formulas_with_more_or_fewer_samples_than_dims() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // 5 classes of 30 (Sigma_T full rank in 6 dims; Cholesky), of 3
        // (rank-deficient in 40 dims; eigendecomposition) and of 1,031 (rows
        // over several of the Gram kernel's 128-row blocks).
        for (n, dim) in [(30, 6), (3, 40), (1031, 5)] {
            let classes: Vec<Array2<f32>> = (0..5)
                .map(|c| {
                    let centre: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
                    Array2::from_shape_fn((n, dim), |(_, j)| {
                        centre[j] + 0.5 * rng.random_range(-1.0f32..1.0) + c as f32 * 0.1
                    })
                })
                .collect();
            let views: Vec<_> = classes.iter().map(|x| x.view()).collect();
            for centering in [Centering::Paper, Centering::Reference] {
                let got = neural_collapse(&views, centering).unwrap();
                let (nc1, vci) = naive(&classes, centering);
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-8 * (1.0 + b.abs());
                assert!(close(got.nc1, nc1), "n {n}, dim {dim}, {centering:?}: NC1 {} vs {nc1}", got.nc1);
                assert!(close(got.vci, vci), "n {n}, dim {dim}, {centering:?}: VCI {} vs {vci}", got.vci);
            }
        }
    }

    #[test]
    fn reference_centering_adds_global_mean_outer_product() {
        let a = array![[1.0f32, 0.1], [1.0, -0.1]];
        let b = array![[0.9f32, 0.5], [0.8, 0.6]];
        let paper = neural_collapse(&[a.view(), b.view()], Centering::Paper).unwrap();
        let reference = neural_collapse(&[a.view(), b.view()], Centering::Reference).unwrap();
        assert!(reference.nc1 > paper.nc1);
    }

    #[test]
    fn collapsed_classes_have_zero_nc1() {
        let a = array![[1.0f32, 0.0], [2.0, 0.0]];
        let b = array![[0.0f32, 3.0]];
        let got = neural_collapse(&[a.view(), b.view()], Centering::Paper).unwrap();
        assert!(got.nc1.abs() < 1e-12 && got.vci.abs() < 1e-9, "{got:?}");
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        let a = array![[1.0f32, 0.0]];
        assert!(neural_collapse(&[a.view()], Centering::Paper).is_err());
        assert!(matches!(
            neural_collapse(&[a.view(), a.view()], Centering::Paper),
            Err(ImprintError::Numerical { .. })
        ));
        let b = array![[1.0f32, 0.0, 0.0]];
        assert!(matches!(
            neural_collapse(&[a.view(), b.view()], Centering::Paper),
            Err(ImprintError::DimensionMismatch { .. })
        ));
        let e = Array2::<f32>::zeros((0, 2));
        assert!(matches!(
            neural_collapse(&[a.view(), e.view()], Centering::Paper),
            Err(ImprintError::Empty { .. })
        ));
        let z = array![[0.0f32, 0.0]];
        assert!(matches!(
            neural_collapse(&[a.view(), z.view()], Centering::Paper),
            Err(ImprintError::ZeroVector { .. })
        ));
    }
}

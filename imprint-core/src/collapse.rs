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

use faer::Mat;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::gemm::{as_faer, matmul_atb};
use crate::norm::{ZeroVectorPolicy, l2_normalize_rows};
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
pub fn neural_collapse(classes: &[ArrayView2<'_, f32>], centering: Centering) -> Result<Collapse> {
    if classes.len() < 2 {
        return Err(ImprintError::invalid("classes", classes.len(), "NC1 needs at least two classes"));
    }
    let dim = classes[0].ncols();
    let n_classes = classes.len() as f64;
    let mut sigma_w = Array2::<f64>::zeros((dim, dim));
    let mut means = Array2::<f64>::zeros((classes.len(), dim));
    let mut global = Array1::<f64>::zeros(dim);
    let mut n_total = 0usize;
    for (c, x) in classes.iter().enumerate() {
        let what = format!("embeddings of class {c} (NC1)");
        crate::check::check_embeddings(*x, &what)?;
        crate::check::check_dim(*x, dim, "neural_collapse: class against class 0")?;
        let x = l2_normalize_rows(*x, ZeroVectorPolicy::Reject, &what)?.mapv(f64::from);
        let mean = x.mean_axis(Axis(0)).expect("internal: non-empty");
        let centred = &x - &mean;
        sigma_w.scaled_add(1.0 / (x.nrows() as f64 * n_classes), &matmul_atb(centred.view(), centred.view()));
        global += &x.sum_axis(Axis(0));
        n_total += x.nrows();
        means.row_mut(c).assign(&mean);
    }
    global /= n_total as f64;
    if centering == Centering::Reference {
        let g = global.view().insert_axis(Axis(1));
        sigma_w += &g.dot(&g.t());
    }
    let between = &means - &global;
    let sigma_b = matmul_atb(between.view(), between.view()) / n_classes;

    let (b_vals, b_vecs) = eigen(&sigma_b)?;
    let tol_b = tolerance(&b_vals, dim);
    let rank_between = b_vals.iter().filter(|&&v| v > tol_b).count();
    if rank_between == 0 {
        return Err(ImprintError::Numerical {
            op: "neural_collapse",
            reason: "all class means coincide, so between-class scatter is zero".into(),
        });
    }
    let nc1 = trace_with_pinv(&sigma_w, &b_vals, &b_vecs, tol_b) / n_classes;
    let (t_vals, t_vecs) = eigen(&(&sigma_w + &sigma_b))?;
    let vci =
        1.0 - trace_with_pinv(&sigma_b, &t_vals, &t_vecs, tolerance(&t_vals, dim)) / rank_between as f64;
    Ok(Collapse { nc1, vci, rank_between })
}

/// `Tr(A U diag(1/s) U^T)` over eigenpairs with `s > tol` = `sum_j u_j^T A u_j / s_j`.
fn trace_with_pinv(a: &Array2<f64>, vals: &[f64], vecs: &Mat<f64>, tol: f64) -> f64 {
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
    let par = faer::Par::Seq;
    let mut mem =
        MemBuffer::new(self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::Yes, par, Default::default()));
    self_adjoint_evd(
        as_faer(a.view()),
        s.as_mut(),
        Some(u.as_mut()),
        par,
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

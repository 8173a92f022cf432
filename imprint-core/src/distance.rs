//! Distances between queries and proxies, computed block by block.
//!
//! Inner product, cosine and Euclidean distances are one GEMM plus norms;
//! Manhattan and Chebyshev have no GEMM form and run on the register-tiled
//! kernel of `crate::tiled`. Mahalanobis
//! distances are computed in f64 by `crate::mahalanobis` (f32 cancels
//! catastrophically there, see that module).

use std::fmt;
use std::str::FromStr;

use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis, CowArray, Ix2, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::gemm::dots_seq_into;
use crate::mahalanobis::MahalanobisKernel;
use crate::tiled::{Chebyshev, Layout, Manhattan, PairOp, pairwise_into};
use crate::{ImprintError, Result};

/// Ridge added to the proxies' covariance before inverting it for Mahalanobis
/// distances (reference: `VI = inv(cov + 1e-6 I)`).
pub const MAHALANOBIS_RIDGE: f64 = 1e-6;

/// How a query is compared with a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// `<x, p>`, a similarity: larger is closer.
    InnerProduct,
    /// `1 - <x, p> / (|x| |p|)`; a zero vector has similarity 0 to everything.
    Cosine,
    /// `|x - p|_2`.
    Euclidean,
    /// `|x - p|_1`.
    Manhattan,
    /// `|x - p|_inf`.
    Chebyshev,
    /// `sqrt((x - p)^T VI (x - p))`, `VI = (cov(proxies) + 1e-6 I)^-1`, the
    /// covariance over the proxies as observations with divisor `n - 1`
    /// (zero for a single proxy).
    Mahalanobis,
}

impl Distance {
    /// Every configuration name.
    pub const NAMES: [&'static str; 6] =
        ["inner_product", "cosine", "euclidean", "manhattan", "chebyshev", "mahalanobis"];

    /// Configuration name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::InnerProduct => "inner_product",
            Self::Cosine => "cosine",
            Self::Euclidean => "euclidean",
            Self::Manhattan => "manhattan",
            Self::Chebyshev => "chebyshev",
            Self::Mahalanobis => "mahalanobis",
        }
    }
}

impl fmt::Display for Distance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Distance {
    type Err = ImprintError;

    fn from_str(s: &str) -> Result<Self> {
        Self::NAMES
            .iter()
            .position(|&n| n == s)
            .map(|i| {
                [
                    Self::InnerProduct,
                    Self::Cosine,
                    Self::Euclidean,
                    Self::Manhattan,
                    Self::Chebyshev,
                    Self::Mahalanobis,
                ][i]
            })
            .ok_or_else(|| ImprintError::UnknownName {
                kind: "distance",
                name: s.to_string(),
                known: Self::NAMES.iter().map(|n| n.to_string()).collect(),
            })
    }
}

/// Queries per block of [`DistanceKernel::dissimilarity`] and of the
/// aggregators: fixed, so that how work is split (and so every sum) does not
/// depend on the number of threads.
pub(crate) const QUERY_BLOCK: usize = 256;

/// Proxies per tile: a tile of `QUERY_BLOCK x PROXY_BLOCK` f32 (1 MiB) stays
/// in a core's L2 cache while it is reduced.
pub(crate) const PROXY_BLOCK: usize = 1024;

/// Proxies prepared once for repeated distance blocks, with their norms.
/// Every distance but Mahalanobis (see [`MahalanobisKernel`]).
#[derive(Debug)]
pub(crate) struct DistanceKernel<'a> {
    distance: Distance,
    proxies: CowArray<'a, f32, Ix2>,
    /// Squared norms (Euclidean) or norms (cosine).
    proxy_norms: Array1<f32>,
}

/// A block of queries prepared for [`DistanceKernel::tile_into`]: in standard
/// layout, with the norms the distance needs.
#[derive(Debug)]
pub(crate) struct PreparedQueries<'q> {
    rows: CowArray<'q, f32, Ix2>,
    norms: Array1<f32>,
}

impl PreparedQueries<'_> {
    /// Number of queries.
    pub fn len(&self) -> usize {
        self.rows.nrows()
    }
}

impl<'a> DistanceKernel<'a> {
    /// Prepares `proxies` (finite, at least one row) for `distance`.
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] for [`Distance::Mahalanobis`],
    /// which is [`MahalanobisKernel`]'s.
    pub fn new(distance: Distance, proxies: ArrayView2<'a, f32>) -> Result<Self> {
        let proxies = standard_layout(proxies);
        let mut kernel = Self { distance, proxies, proxy_norms: Array1::zeros(0) };
        match distance {
            Distance::Euclidean => kernel.proxy_norms = squared_norms(kernel.proxies.view()),
            Distance::Cosine => kernel.proxy_norms = squared_norms(kernel.proxies.view()).mapv(f32::sqrt),
            Distance::Mahalanobis => {
                return Err(ImprintError::invalid(
                    "distance",
                    "mahalanobis",
                    "internal: Mahalanobis distances are computed in f64 by MahalanobisKernel",
                ));
            }
            Distance::InnerProduct | Distance::Manhattan | Distance::Chebyshev => {}
        }
        Ok(kernel)
    }

    /// The number of proxies.
    pub fn n_proxies(&self) -> usize {
        self.proxies.nrows()
    }

    /// Prepares a block of queries (same dimension as the proxies).
    pub fn prepare<'q>(&self, queries: ArrayView2<'q, f32>) -> PreparedQueries<'q> {
        let rows = standard_layout(queries);
        let norms = match self.distance {
            Distance::Euclidean | Distance::Mahalanobis => squared_norms(rows.view()),
            Distance::Cosine => squared_norms(rows.view()).mapv(f32::sqrt),
            Distance::InnerProduct | Distance::Manhattan | Distance::Chebyshev => Array1::zeros(0),
        };
        PreparedQueries { rows, norms }
    }

    /// Ranking keys of the prepared queries against the proxies `proxies` (a
    /// range of proxy rows) into `out` (`queries x proxies.len()`, standard
    /// layout), on the calling thread. A key is the dissimilarity itself, or,
    /// for the Euclidean distance, `|p|^2 - 2 <x, p>`: the
    /// square root and the query's norm are left for [`DistanceKernel::finish`],
    /// so that ranking many proxies costs one fused multiply-add per pair.
    /// `finish` is non-decreasing in the key, so a smaller key never means a
    /// larger distance.
    ///
    /// # Panics
    /// If `proxies` is out of range or `out` has the wrong shape.
    pub fn keys_into(
        &self,
        queries: &PreparedQueries<'_>,
        proxies: Range<usize>,
        mut out: ArrayViewMut2<'_, f32>,
    ) {
        let p = self.proxies.slice(s![proxies.clone(), ..]);
        let pn = self.proxy_norms.as_slice().expect("fresh array").get(proxies.clone()).unwrap_or(&[]);
        match self.distance {
            Distance::InnerProduct => {
                dots_seq_into(queries.rows.view(), p, out.view_mut());
                out.mapv_inplace(|v| -v);
            }
            Distance::Cosine => {
                dots_seq_into(queries.rows.view(), p, out.view_mut());
                with_norms(out, &queries.norms, pn, |dot, qn, pn| {
                    let denom = qn * pn;
                    if denom > 0.0 { (1.0 - dot / denom).max(0.0) } else { 1.0 }
                });
            }
            Distance::Euclidean | Distance::Mahalanobis => {
                dots_seq_into(queries.rows.view(), p, out.view_mut());
                with_norms(out, &queries.norms, pn, |dot, _, p_sq| p_sq - 2.0 * dot);
            }
            Distance::Manhattan => tiled_into::<Manhattan>(queries.rows.view(), p, out),
            Distance::Chebyshev => tiled_into::<Chebyshev>(queries.rows.view(), p, out),
        }
    }

    /// The dissimilarity of query `row` (of `queries`) with ranking key `key`:
    /// `sqrt(max(|x|^2 + key, 0))` for the Euclidean distance, the key
    /// itself otherwise.
    #[inline]
    pub fn finish(&self, queries: &PreparedQueries<'_>, row: usize, key: f32) -> f32 {
        match self.distance {
            Distance::Euclidean | Distance::Mahalanobis => (queries.norms[row] + key).max(0.0).sqrt(),
            _ => key,
        }
    }

    /// Dissimilarities (finished keys) of the prepared queries to the proxies
    /// `proxies` into `out`; smaller is closer. For [`Distance::InnerProduct`]
    /// this is `-<x, p>`.
    ///
    /// # Panics
    /// If `proxies` is out of range or `out` has the wrong shape.
    pub fn tile_into(
        &self,
        queries: &PreparedQueries<'_>,
        proxies: Range<usize>,
        mut out: ArrayViewMut2<'_, f32>,
    ) {
        self.keys_into(queries, proxies, out.view_mut());
        if matches!(self.distance, Distance::Euclidean | Distance::Mahalanobis) {
            for (r, mut row) in out.outer_iter_mut().enumerate() {
                row.mapv_inplace(|key| self.finish(queries, r, key));
            }
        }
    }

    /// Dissimilarities of `queries` to every proxy, `queries.nrows() x n_proxies`;
    /// smaller is closer. For [`Distance::InnerProduct`] this is `-<x, p>`.
    /// Blocks of queries run in parallel.
    pub fn dissimilarity(&self, queries: ArrayView2<'_, f32>) -> Array2<f32> {
        let mut d = Array2::<f32>::zeros((queries.nrows(), self.n_proxies()));
        let blocks: Vec<_> = d.axis_chunks_iter_mut(Axis(0), QUERY_BLOCK).collect();
        blocks.into_par_iter().enumerate().for_each(|(b, out)| {
            let start = b * QUERY_BLOCK;
            let q = self.prepare(queries.slice(s![start..start + out.nrows(), ..]));
            self.tile_into(&q, 0..self.n_proxies(), out);
        });
        d
    }
}

/// Full matrix of distances (or `-<x, p>` for the inner product) between every
/// query and every proxy. Convenience for small inputs and tests; the
/// aggregators work tile by tile instead.
pub fn pairwise(
    distance: Distance,
    queries: ArrayView2<'_, f32>,
    proxies: ArrayView2<'_, f32>,
) -> Result<Array2<f32>> {
    crate::check::check_finite(queries, "queries")?;
    crate::check::check_embeddings(proxies, "proxies")?;
    crate::check::check_dim(queries, proxies.ncols(), "distance::pairwise")?;
    if distance == Distance::Mahalanobis {
        // Computed in f64, rounded once at the end.
        return Ok(MahalanobisKernel::new(proxies)?.distances(queries).mapv(|d| d as f32));
    }
    Ok(DistanceKernel::new(distance, proxies)?.dissimilarity(queries))
}

/// `x` itself if in standard layout, else a standard-layout copy.
fn standard_layout(x: ArrayView2<'_, f32>) -> CowArray<'_, f32, Ix2> {
    if x.is_standard_layout() {
        CowArray::from(x)
    } else {
        CowArray::from(x.as_standard_layout().into_owned())
    }
}

fn squared_norms(x: ArrayView2<'_, f32>) -> Array1<f32> {
    x.map_axis(Axis(1), |r| match r.as_slice() {
        Some(r) => crate::norm::sum_of_squares(r) as f32,
        None => r.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() as f32,
    })
}

/// `out[i][j] = f(out[i][j], query_norms[i], proxy_norms[j])`: turns inner
/// products into distances.
fn with_norms(
    mut out: ArrayViewMut2<'_, f32>,
    query_norms: &Array1<f32>,
    proxy_norms: &[f32],
    f: impl Fn(f32, f32, f32) -> f32,
) {
    for (mut row, &qn) in out.outer_iter_mut().zip(query_norms) {
        let row = row.as_slice_mut().expect("internal: tile in standard layout");
        row.iter_mut().zip(proxy_norms).for_each(|(v, &pn)| *v = f(*v, qn, pn));
    }
}

/// A [`PairOp`] of every query with every proxy (both in standard layout),
/// by the register-tiled kernel of [`crate::tiled`].
fn tiled_into<O: PairOp>(
    queries: ArrayView2<'_, f32>,
    proxies: ArrayView2<'_, f32>,
    mut out: ArrayViewMut2<'_, f32>,
) {
    let out = out.as_slice_mut().expect("internal: tile in standard layout");
    let q = queries.as_slice().expect("internal: queries in standard layout");
    let p = proxies.as_slice().expect("internal: proxies in standard layout");
    match proxies.ncols() {
        // Zero-dimensional rows are at distance 0 from each other.
        0 => out.fill(0.0),
        dim => pairwise_into::<O>(q, p, dim, out, Layout::RowsOfA),
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;

    fn naive(distance: Distance, q: &[f32], p: &[f32], vi: Option<&Array2<f64>>) -> f32 {
        let diff: Vec<f64> = q.iter().zip(p).map(|(a, b)| f64::from(a - b)).collect();
        let dot: f64 = q.iter().zip(p).map(|(a, b)| f64::from(a * b)).sum();
        let nq: f64 = q.iter().map(|a| f64::from(a * a)).sum::<f64>().sqrt();
        let np: f64 = p.iter().map(|a| f64::from(a * a)).sum::<f64>().sqrt();
        (match distance {
            Distance::InnerProduct => -dot,
            Distance::Cosine => 1.0 - dot / (nq * np),
            Distance::Euclidean => diff.iter().map(|d| d * d).sum::<f64>().sqrt(),
            Distance::Manhattan => diff.iter().map(|d| d.abs()).sum(),
            Distance::Chebyshev => diff.iter().fold(0.0f64, |m, d| m.max(d.abs())),
            Distance::Mahalanobis => {
                let vi = vi.unwrap();
                let n = diff.len();
                (0..n)
                    .flat_map(|i| (0..n).map(move |j| (i, j)))
                    .map(|(i, j)| diff[i] * vi[[i, j]] * diff[j])
                    .sum::<f64>()
                    .sqrt()
            }
        }) as f32
    }

    /// Inverse by Gauss-Jordan elimination, slow and obviously correct.
    fn naive_inverse(a: &Array2<f64>) -> Array2<f64> {
        let n = a.nrows();
        let mut m = ndarray::concatenate![Axis(1), a.clone(), Array2::eye(n)];
        for c in 0..n {
            let piv = (c..n).max_by(|&i, &j| m[[i, c]].abs().total_cmp(&m[[j, c]].abs())).unwrap();
            for k in 0..2 * n {
                m.swap([c, k], [piv, k]);
            }
            let d = m[[c, c]];
            m.row_mut(c).mapv_inplace(|v| v / d);
            for r in 0..n {
                if r != c {
                    let f = m[[r, c]];
                    let rowc = m.row(c).to_owned();
                    m.row_mut(r).zip_mut_with(&rowc, |v, &w| *v -= f * w);
                }
            }
        }
        m.slice(ndarray::s![.., n..]).to_owned()
    }

    #[test]
    fn every_distance_matches_naive() {
        let proxies = array![[1.0f32, 0.5, -1.0], [0.2, 2.0, 0.0], [-1.0, 0.3, 0.7], [0.0, 0.0, 1.5]];
        let queries = array![[0.3f32, -0.2, 1.0], [2.0, 1.0, 0.0]];
        let x = proxies.mapv(f64::from);
        let mean = x.mean_axis(Axis(0)).unwrap();
        let c = &x - &mean;
        let mut cov = c.t().dot(&c) / 3.0;
        cov.diag_mut().mapv_inplace(|v| v + MAHALANOBIS_RIDGE);
        let vi = naive_inverse(&cov);
        for name in Distance::NAMES {
            let distance: Distance = name.parse().unwrap();
            let got = pairwise(distance, queries.view(), proxies.view()).unwrap();
            for i in 0..2 {
                for j in 0..4 {
                    let want = naive(
                        distance,
                        queries.row(i).as_slice().unwrap(),
                        proxies.row(j).as_slice().unwrap(),
                        Some(&vi),
                    );
                    let tol = 1e-4 * (1.0 + want.abs());
                    assert!((got[[i, j]] - want).abs() <= tol, "{name} [{i},{j}]: {} vs {want}", got[[i, j]]);
                }
            }
        }
    }

    #[test]
    fn cosine_of_zero_vector_is_one_and_single_proxy_mahalanobis_works() {
        let proxies = array![[1.0f32, 0.0]];
        let queries = array![[0.0f32, 0.0]];
        assert_eq!(pairwise(Distance::Cosine, queries.view(), proxies.view()).unwrap()[[0, 0]], 1.0);
        let d = pairwise(Distance::Mahalanobis, queries.view(), proxies.view()).unwrap();
        assert!((d[[0, 0]] - 1000.0).abs() < 1e-2, "{}", d[[0, 0]]);
    }

    #[test]
    fn mismatched_dims_and_unknown_names_are_errors() {
        let p = Array2::<f32>::zeros((2, 3));
        let q = Array2::<f32>::zeros((2, 4));
        assert!(matches!(
            pairwise(Distance::Euclidean, q.view(), p.view()),
            Err(ImprintError::DimensionMismatch { .. })
        ));
        assert!(matches!("l1".parse::<Distance>(), Err(ImprintError::UnknownName { .. })));
    }
}

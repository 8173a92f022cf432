//! The AGG stage: turning query-to-proxy comparisons into class scores.

use std::fmt;
use std::str::FromStr;

use std::ops::Range;

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, s};
use num_traits::{Float, One, Zero};
use pulp::{Simd, WithSimd};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::check::{check_dim, check_embeddings, check_finite};
use crate::distance::{Distance, DistanceKernel, PROXY_BLOCK, PreparedQueries, QUERY_BLOCK};
use crate::mahalanobis::{MahalanobisKernel, WhitenedQueries};
use crate::{ImprintError, Result};

/// Weight added to a distance before inverting it for distance-weighted votes.
pub const VOTE_EPSILON: f32 = 1e-10;

/// An aggregator (AGG): scores every class for every query from the proxies.
pub trait Aggregator: Send + Sync + fmt::Debug {
    /// Human-readable description, e.g. `"5-nn (cosine, uniform)"`.
    fn describe(&self) -> String;

    /// Scores, `queries.nrows() x n_classes`; the predicted class is the
    /// highest score, ties going to the lowest class index.
    ///
    /// `proxy_class[i]` is the class of proxy row `i`. Inputs are validated by
    /// [`AggregateExt::class_scores`]; implementors may assume finite values,
    /// matching dimensions and at least one proxy.
    fn scores(
        &self,
        proxies: ArrayView2<'_, f32>,
        proxy_class: &[usize],
        n_classes: usize,
        queries: ArrayView2<'_, f32>,
    ) -> Result<Array2<f32>>;

    /// Predicted class per query (same inputs and assumptions as
    /// [`Aggregator::scores`]): by default the argmax of the scores, ties to
    /// the lowest class index. An aggregator that ranks in more precision
    /// than its f32 scores carry overrides this (Mahalanobis ranks in f64).
    fn predictions(
        &self,
        proxies: ArrayView2<'_, f32>,
        proxy_class: &[usize],
        n_classes: usize,
        queries: ArrayView2<'_, f32>,
    ) -> Result<Vec<usize>> {
        Ok(argmax_rows(self.scores(proxies, proxy_class, n_classes, queries)?.view()))
    }
}

/// Validating entry points for every [`Aggregator`].
pub trait AggregateExt: Aggregator {
    /// Validates shapes and values, then calls [`Aggregator::scores`].
    fn class_scores(
        &self,
        proxies: ArrayView2<'_, f32>,
        proxy_class: &[usize],
        n_classes: usize,
        queries: ArrayView2<'_, f32>,
    ) -> Result<Array2<f32>> {
        check_inputs(proxies, proxy_class, n_classes, queries)?;
        self.scores(proxies, proxy_class, n_classes, queries)
    }

    /// Predicted class per query: validates like
    /// [`AggregateExt::class_scores`], then calls [`Aggregator::predictions`]
    /// (the argmax of the scores, ties to the lowest class index).
    fn predict(
        &self,
        proxies: ArrayView2<'_, f32>,
        proxy_class: &[usize],
        n_classes: usize,
        queries: ArrayView2<'_, f32>,
    ) -> Result<Vec<usize>> {
        check_inputs(proxies, proxy_class, n_classes, queries)?;
        self.predictions(proxies, proxy_class, n_classes, queries)
    }
}

impl<A: Aggregator + ?Sized> AggregateExt for A {}

fn check_inputs(
    proxies: ArrayView2<'_, f32>,
    proxy_class: &[usize],
    n_classes: usize,
    queries: ArrayView2<'_, f32>,
) -> Result<()> {
    check_embeddings(proxies, "proxies")?;
    check_finite(queries, "queries")?;
    check_dim(queries, proxies.ncols(), "aggregate: queries against proxies")?;
    if proxy_class.len() != proxies.nrows() {
        return Err(ImprintError::mismatch(
            "aggregate: proxy labels",
            format!("{} labels (one per proxy)", proxies.nrows()),
            proxy_class.len(),
        ));
    }
    if let Some(&class) = proxy_class.iter().find(|&&c| c >= n_classes) {
        return Err(ImprintError::UnknownClass { class, n_classes });
    }
    Ok(())
}

/// Index of the largest value per row; ties (and all-NaN rows) go to the lowest index.
pub fn argmax_rows(scores: ArrayView2<'_, f32>) -> Vec<usize> {
    argmax_rows_of(scores)
}

/// [`argmax_rows`] for f32 or f64 scores.
fn argmax_rows_of<T: PartialOrd + Copy>(scores: ArrayView2<'_, T>) -> Vec<usize> {
    scores
        .outer_iter()
        .map(|row| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

/// How the m nearest proxies vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// One vote each.
    #[default]
    Uniform,
    /// A vote of `1 / (distance + 1e-10)` (reference name `weighted_by_distance`).
    #[serde(rename = "weighted_by_distance")]
    InverseDistance,
}

impl Weighting {
    /// Every configuration name.
    pub const NAMES: [&'static str; 2] = ["uniform", "weighted_by_distance"];

    /// Configuration name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Uniform => Self::NAMES[0],
            Self::InverseDistance => Self::NAMES[1],
        }
    }
}

impl fmt::Display for Weighting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Weighting {
    type Err = ImprintError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "uniform" => Ok(Self::Uniform),
            "weighted_by_distance" => Ok(Self::InverseDistance),
            _ => Err(ImprintError::UnknownName {
                kind: "weighting",
                name: s.to_string(),
                known: Self::NAMES.iter().map(|n| n.to_string()).collect(),
            }),
        }
    }
}

/// The AGG method of a configuration (reference key `aggregation_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregationMethod {
    /// The maximum over each class's proxies.
    Max,
    /// A vote of the `m` nearest proxies.
    Mnn,
}

impl AggregationMethod {
    /// Every configuration name.
    pub const NAMES: [&'static str; 2] = ["max", "mnn"];

    /// Configuration name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Max => "max",
            Self::Mnn => "mnn",
        }
    }
}

impl fmt::Display for AggregationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AggregationMethod {
    type Err = ImprintError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "max" => Ok(Self::Max),
            "mnn" => Ok(Self::Mnn),
            _ => Err(ImprintError::UnknownName {
                kind: "aggregation method",
                name: s.to_string(),
                known: Self::NAMES.iter().map(|n| n.to_string()).collect(),
            }),
        }
    }
}

/// Checked parameters of m-nearest-neighbour voting: `m >= 1` by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "UncheckedMnn", into = "UncheckedMnn")]
pub struct MnnParams {
    m: usize,
    distance: Distance,
    weighting: Weighting,
}

impl MnnParams {
    /// `m` nearest proxies under `distance`, voting with `weighting`.
    /// `Distance::InnerProduct` is not a distance; as in the reference, m-nn
    /// then ranks by cosine distance.
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] for `m = 0`.
    pub fn new(m: usize, distance: Distance, weighting: Weighting) -> Result<Self> {
        if m == 0 {
            return Err(ImprintError::invalid("m", 0, "m-nn needs at least one neighbour"));
        }
        Ok(Self { m, distance, weighting })
    }

    /// Number of neighbours, at least 1 (capped at the number of proxies when scoring).
    pub fn m(&self) -> usize {
        self.m
    }

    /// The distance as configured.
    pub fn distance(&self) -> Distance {
        self.distance
    }

    /// The distance used to rank neighbours (`InnerProduct` ranks by cosine).
    pub fn ranking_distance(&self) -> Distance {
        if self.distance == Distance::InnerProduct { Distance::Cosine } else { self.distance }
    }

    /// How neighbours vote.
    pub fn weighting(&self) -> Weighting {
        self.weighting
    }
}

/// The serialized form of [`MnnParams`], checked on the way in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UncheckedMnn {
    m: usize,
    distance: Distance,
    weighting: Weighting,
}

impl TryFrom<UncheckedMnn> for MnnParams {
    type Error = ImprintError;

    fn try_from(u: UncheckedMnn) -> Result<Self> {
        Self::new(u.m, u.distance, u.weighting)
    }
}

impl From<MnnParams> for UncheckedMnn {
    fn from(p: MnnParams) -> Self {
        Self { m: p.m, distance: p.distance, weighting: p.weighting }
    }
}

/// The built-in aggregations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Aggregation {
    /// `score_c(x) = max_{p in class c} sim(p, x)`: the inner product, the
    /// cosine similarity, or minus the distance (so `max` under a distance is
    /// 1-nearest-neighbour).
    Max {
        /// Comparison of queries with proxies.
        distance: Distance,
    },
    /// Vote of the `m` nearest proxies (`m` capped at the number of proxies;
    /// ties in distance go to the lower proxy index). The score of a class is
    /// the sum of its neighbours' votes.
    Mnn(MnnParams),
}

impl Default for Aggregation {
    fn default() -> Self {
        Self::Max { distance: Distance::InnerProduct }
    }
}

impl Aggregation {
    /// `max` over inner products, the paper's default.
    pub fn max() -> Self {
        Self::default()
    }

    /// `m`-nearest-neighbour voting; `m = 0` is an error.
    pub fn mnn(m: usize, distance: Distance, weighting: Weighting) -> Result<Self> {
        Ok(Self::Mnn(MnnParams::new(m, distance, weighting)?))
    }

    /// The method: `max` or `mnn`.
    pub fn method(&self) -> AggregationMethod {
        match self {
            Self::Max { .. } => AggregationMethod::Max,
            Self::Mnn(_) => AggregationMethod::Mnn,
        }
    }

    /// The distance as configured.
    pub fn distance(&self) -> Distance {
        match self {
            Self::Max { distance } => *distance,
            Self::Mnn(p) => p.distance(),
        }
    }
}

impl Aggregator for Aggregation {
    fn describe(&self) -> String {
        match self {
            Self::Max { distance } => format!("max ({distance})"),
            Self::Mnn(p) => format!("{}-nn ({}, {})", p.m(), p.distance(), p.weighting().name()),
        }
    }

    fn scores(
        &self,
        proxies: ArrayView2<'_, f32>,
        proxy_class: &[usize],
        n_classes: usize,
        queries: ArrayView2<'_, f32>,
    ) -> Result<Array2<f32>> {
        let (distance, m, weighting) = self.settings(proxies.nrows());
        if distance == Distance::Mahalanobis {
            let kernel = MahalanobisKernel::new(proxies)?;
            let scores = tiled_scores(&kernel, false, m, weighting, proxy_class, n_classes, queries);
            return Ok(scores.mapv(|v| v as f32));
        }
        let kernel = DistanceKernel::new(distance, proxies)?;
        Ok(tiled_scores(&kernel, distance == Distance::Cosine, m, weighting, proxy_class, n_classes, queries))
    }

    fn predictions(
        &self,
        proxies: ArrayView2<'_, f32>,
        proxy_class: &[usize],
        n_classes: usize,
        queries: ArrayView2<'_, f32>,
    ) -> Result<Vec<usize>> {
        let (distance, m, weighting) = self.settings(proxies.nrows());
        if distance == Distance::Mahalanobis {
            // Ranked on the f64 scores: their f32 rounding can tie classes
            // whose distances differ far below a large common part.
            let kernel = MahalanobisKernel::new(proxies)?;
            let scores = tiled_scores(&kernel, false, m, weighting, proxy_class, n_classes, queries);
            return Ok(argmax_rows_of(scores.view()));
        }
        Ok(argmax_rows(self.scores(proxies, proxy_class, n_classes, queries)?.view()))
    }
}

impl Aggregation {
    /// The ranking distance, the number of neighbours (none for `max`) and
    /// the weighting, for `n_proxies` proxies.
    fn settings(&self, n_proxies: usize) -> (Distance, Option<usize>, Weighting) {
        match *self {
            Self::Max { distance } => (distance, None, Weighting::Uniform),
            Self::Mnn(p) => (p.ranking_distance(), Some(p.m().min(n_proxies)), p.weighting()),
        }
    }
}

/// The number type of ranking keys, distances and scores: f32 for every
/// distance but Mahalanobis, which is f64 (see `crate::mahalanobis`).
trait Key: Float + std::ops::AddAssign + Send + Sync + fmt::Debug + 'static {
    /// What a distance-weighted vote adds to the distance before inverting it.
    const VOTE_EPSILON: Self;

    /// The smallest of `keys` (infinity if none), NaN skipped, on `simd`'s
    /// vectors: the smaller per lane (a NaN key is never smaller), then
    /// across the lanes and the tail.
    fn smallest<S: Simd>(simd: S, keys: &[Self]) -> Self;

    /// Whether any of `keys` is below `bound` (NaN is not), on `simd`'s
    /// vectors: one comparison and one mask test per vector, no reduction.
    fn any_below<S: Simd>(simd: S, keys: &[Self], bound: Self) -> bool;
}

impl Key for f32 {
    const VOTE_EPSILON: f32 = VOTE_EPSILON;

    #[inline(always)]
    fn smallest<S: Simd>(simd: S, keys: &[f32]) -> f32 {
        let (vectors, tail) = S::as_simd_f32s(keys);
        let lanes = vectors.iter().fold(simd.splat_f32s(f32::INFINITY), |acc, &key| {
            simd.select_f32s(simd.less_than_f32s(key, acc), key, acc)
        });
        tail.iter().fold(simd.reduce_min_f32s(lanes), |a, &b| a.min(b))
    }

    #[inline(always)]
    fn any_below<S: Simd>(simd: S, keys: &[f32], bound: f32) -> bool {
        let (vectors, tail) = S::as_simd_f32s(keys);
        let splat = simd.splat_f32s(bound);
        for &key in vectors {
            if simd.first_true_m32s(simd.less_than_f32s(key, splat)) < S::F32_LANES {
                return true;
            }
        }
        tail.iter().any(|&key| key < bound)
    }
}

impl Key for f64 {
    const VOTE_EPSILON: f64 = 1e-10;

    #[inline(always)]
    fn smallest<S: Simd>(simd: S, keys: &[f64]) -> f64 {
        let (vectors, tail) = S::as_simd_f64s(keys);
        let lanes = vectors.iter().fold(simd.splat_f64s(f64::INFINITY), |acc, &key| {
            simd.select_f64s(simd.less_than_f64s(key, acc), key, acc)
        });
        tail.iter().fold(simd.reduce_min_f64s(lanes), |a, &b| a.min(b))
    }

    #[inline(always)]
    fn any_below<S: Simd>(simd: S, keys: &[f64], bound: f64) -> bool {
        let (vectors, tail) = S::as_simd_f64s(keys);
        let splat = simd.splat_f64s(bound);
        for &key in vectors {
            if simd.first_true_m64s(simd.less_than_f64s(key, splat)) < S::F64_LANES {
                return true;
            }
        }
        tail.iter().any(|&key| key < bound)
    }
}

/// Proxies prepared for tiles of ranking keys: the f32 [`DistanceKernel`]
/// or the f64 [`MahalanobisKernel`].
trait Tiles: Sync {
    type K: Key;
    type Prepared<'q>;
    fn n_proxies(&self) -> usize;
    fn prepare<'q>(&self, queries: ArrayView2<'q, f32>) -> Self::Prepared<'q>;
    fn n_queries(prepared: &Self::Prepared<'_>) -> usize;
    fn keys_into(&self, queries: &Self::Prepared<'_>, proxies: Range<usize>, out: ArrayViewMut2<'_, Self::K>);
    fn finish(&self, queries: &Self::Prepared<'_>, row: usize, key: Self::K) -> Self::K;
}

impl Tiles for DistanceKernel<'_> {
    type K = f32;
    type Prepared<'q> = PreparedQueries<'q>;
    fn n_proxies(&self) -> usize {
        DistanceKernel::n_proxies(self)
    }
    fn prepare<'q>(&self, queries: ArrayView2<'q, f32>) -> PreparedQueries<'q> {
        DistanceKernel::prepare(self, queries)
    }
    fn n_queries(prepared: &PreparedQueries<'_>) -> usize {
        prepared.len()
    }
    fn keys_into(&self, queries: &PreparedQueries<'_>, proxies: Range<usize>, out: ArrayViewMut2<'_, f32>) {
        DistanceKernel::keys_into(self, queries, proxies, out)
    }
    fn finish(&self, queries: &PreparedQueries<'_>, row: usize, key: f32) -> f32 {
        DistanceKernel::finish(self, queries, row, key)
    }
}

impl Tiles for MahalanobisKernel {
    type K = f64;
    type Prepared<'q> = WhitenedQueries;
    fn n_proxies(&self) -> usize {
        MahalanobisKernel::n_proxies(self)
    }
    fn prepare<'q>(&self, queries: ArrayView2<'q, f32>) -> WhitenedQueries {
        MahalanobisKernel::prepare(self, queries)
    }
    fn n_queries(prepared: &WhitenedQueries) -> usize {
        prepared.len()
    }
    fn keys_into(&self, queries: &WhitenedQueries, proxies: Range<usize>, out: ArrayViewMut2<'_, f64>) {
        MahalanobisKernel::keys_into(self, queries, proxies, out)
    }
    fn finish(&self, queries: &WhitenedQueries, row: usize, key: f64) -> f64 {
        MahalanobisKernel::finish(self, queries, row, key)
    }
}

/// Scores of every query: per class, the largest similarity (`m` = None:
/// minus the distance, or `1 - d` for cosine) or the votes of the `m`
/// nearest proxies.
fn tiled_scores<T: Tiles>(
    kernel: &T,
    cosine: bool,
    m: Option<usize>,
    weighting: Weighting,
    proxy_class: &[usize],
    n_classes: usize,
    queries: ArrayView2<'_, f32>,
) -> Array2<T::K> {
    match m {
        None => class_max(kernel, cosine, proxy_class, n_classes, queries),
        Some(m) => vote_scores(&nearest_lists(kernel, m, queries), m, weighting, proxy_class, n_classes),
    }
}

/// Per class, the largest similarity of its proxies to each query.
///
/// Blocks of queries run in parallel; each walks the proxies tile by tile in
/// index order, so no distance matrix larger than a tile exists and every
/// row's result is independent of the thread count.
fn class_max<T: Tiles>(
    kernel: &T,
    cosine: bool,
    proxy_class: &[usize],
    n_classes: usize,
    queries: ArrayView2<'_, f32>,
) -> Array2<T::K> {
    let n_proxies = kernel.n_proxies();
    let mut scores = Array2::<T::K>::zeros((queries.nrows(), n_classes));
    let blocks: Vec<_> = scores.axis_chunks_iter_mut(Axis(0), QUERY_BLOCK).collect();
    blocks.into_par_iter().enumerate().for_each(|(b, mut out)| {
        let start = b * QUERY_BLOCK;
        let q = kernel.prepare(queries.slice(s![start..start + out.nrows(), ..]));
        let n_q = T::n_queries(&q);
        let mut buffer = vec![T::K::zero(); n_q * PROXY_BLOCK.min(n_proxies)];
        // Running smallest key per class.
        out.fill(T::K::infinity());
        let similarity = |d: T::K| if cosine { T::K::one() - d } else { -d };
        for first in (0..n_proxies).step_by(PROXY_BLOCK) {
            let last = (first + PROXY_BLOCK).min(n_proxies);
            let mut t = ArrayViewMut2::from_shape((n_q, last - first), &mut buffer[..n_q * (last - first)])
                .expect("internal: the buffer holds a full tile");
            kernel.keys_into(&q, first..last, t.view_mut());
            let runs = class_runs(&proxy_class[first..last]);
            pulp::Arch::new().dispatch(NearestPerClass { tile: t.view(), runs: &runs, out: out.view_mut() });
        }
        for (r, mut row) in out.outer_iter_mut().enumerate() {
            let row = row.as_slice_mut().expect("internal: row of a standard array");
            // The smallest key of a class gives its largest similarity.
            row.iter_mut().for_each(|v| {
                *v = if *v == T::K::infinity() {
                    T::K::neg_infinity()
                } else {
                    similarity(kernel.finish(&q, r, *v))
                }
            });
        }
    });
    scores
}

/// The `m` nearest proxies of every query, in query order.
///
/// Blocks of queries run in parallel, each walking the proxies tile by tile
/// in index order (as [`class_max`]), so the lists do not depend on the
/// thread count.
fn nearest_lists<T: Tiles>(kernel: &T, m: usize, queries: ArrayView2<'_, f32>) -> Vec<Nearest<T::K>> {
    let n_proxies = kernel.n_proxies();
    let starts: Vec<usize> = (0..queries.nrows()).step_by(QUERY_BLOCK).collect();
    let blocks: Vec<Vec<Nearest<T::K>>> = starts
        .into_par_iter()
        .map(|start| {
            let end = (start + QUERY_BLOCK).min(queries.nrows());
            let q = kernel.prepare(queries.slice(s![start..end, ..]));
            let n_q = T::n_queries(&q);
            let mut buffer = vec![T::K::zero(); n_q * PROXY_BLOCK.min(n_proxies)];
            let mut nearest: Vec<Nearest<T::K>> = (0..n_q).map(|_| Nearest::new(m)).collect();
            for first in (0..n_proxies).step_by(PROXY_BLOCK) {
                let last = (first + PROXY_BLOCK).min(n_proxies);
                let mut t =
                    ArrayViewMut2::from_shape((n_q, last - first), &mut buffer[..n_q * (last - first)])
                        .expect("internal: the buffer holds a full tile");
                kernel.keys_into(&q, first..last, t.view_mut());
                let finish = |r: usize, key: T::K| kernel.finish(&q, r, key);
                pulp::Arch::new().dispatch(Offer { tile: t.view(), first, nearest: &mut nearest, finish });
            }
            nearest
        })
        .collect();
    blocks.into_iter().flatten().collect()
}

/// Votes of the `m` nearest proxies of each list (nearest first).
fn vote_scores<K: Key>(
    nearest: &[Nearest<K>],
    m: usize,
    weighting: Weighting,
    proxy_class: &[usize],
    n_classes: usize,
) -> Array2<K> {
    let mut scores = Array2::<K>::zeros((nearest.len(), n_classes));
    for (mut row, list) in scores.outer_iter_mut().zip(nearest) {
        list.vote(m, proxy_class, weighting, row.as_slice_mut().expect("internal: row of a standard array"));
    }
    scores
}

/// The nearest proxies of every query under one distance, searched once for
/// the largest `m` needed and then voted from for any smaller `m` and any
/// weighting: a grid that runs m-nn with several `m` and weightings on the
/// same proxies and queries searches once.
///
/// The `m` nearest proxies are the first `m` of the `M >= m` nearest (both
/// sorted by distance, then proxy index), and votes are added nearest first
/// in the same precision, so [`Neighbours::predict`] equals
/// [`AggregateExt::predict`] of the same m-nn aggregation bit for bit.
#[derive(Debug)]
pub struct Neighbours {
    distance: Distance,
    n_proxies: usize,
    m: usize,
    lists: NeighbourLists,
}

#[derive(Debug)]
enum NeighbourLists {
    F32(Vec<Nearest<f32>>),
    F64(Vec<Nearest<f64>>),
}

impl Neighbours {
    /// The `m` nearest `proxies` (`m` capped at their number) of every query
    /// under `distance` ([`Distance::InnerProduct`] ranks by cosine, as m-nn
    /// does).
    ///
    /// # Errors
    /// As [`AggregateExt::class_scores`] for the inputs;
    /// [`ImprintError::InvalidParameter`] for `m = 0`.
    pub fn search(
        distance: Distance,
        m: usize,
        proxies: ArrayView2<'_, f32>,
        queries: ArrayView2<'_, f32>,
    ) -> Result<Self> {
        let distance = MnnParams::new(m, distance, Weighting::Uniform)?.ranking_distance();
        check_embeddings(proxies, "proxies")?;
        check_finite(queries, "queries")?;
        check_dim(queries, proxies.ncols(), "Neighbours::search: queries against proxies")?;
        let m = m.min(proxies.nrows());
        let lists = if distance == Distance::Mahalanobis {
            NeighbourLists::F64(nearest_lists(&MahalanobisKernel::new(proxies)?, m, queries))
        } else {
            NeighbourLists::F32(nearest_lists(&DistanceKernel::new(distance, proxies)?, m, queries))
        };
        Ok(Self { distance, n_proxies: proxies.nrows(), m, lists })
    }

    /// The number of neighbours kept per query.
    pub fn m(&self) -> usize {
        self.m
    }

    /// The distance the neighbours were ranked by.
    pub fn distance(&self) -> Distance {
        self.distance
    }

    /// Predicted class per query by m-nn voting with `params`: equal to
    /// [`AggregateExt::predict`] of `Aggregation::Mnn(params)` on the
    /// proxies and queries searched.
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] if `params` ranks by another
    /// distance or needs more neighbours than were searched;
    /// [`ImprintError::DimensionMismatch`] or [`ImprintError::UnknownClass`]
    /// for proxy labels that do not fit.
    pub fn predict(&self, params: &MnnParams, proxy_class: &[usize], n_classes: usize) -> Result<Vec<usize>> {
        if params.ranking_distance() != self.distance {
            return Err(ImprintError::invalid(
                "distance",
                params.ranking_distance(),
                format!("the neighbours were searched under {}", self.distance),
            ));
        }
        let m = params.m().min(self.n_proxies);
        if m > self.m {
            return Err(ImprintError::invalid(
                "m",
                params.m(),
                format!("only {} neighbours were searched", self.m),
            ));
        }
        if proxy_class.len() != self.n_proxies {
            return Err(ImprintError::mismatch(
                "Neighbours::predict: proxy labels",
                format!("{} labels (one per proxy)", self.n_proxies),
                proxy_class.len(),
            ));
        }
        if let Some(&class) = proxy_class.iter().find(|&&c| c >= n_classes) {
            return Err(ImprintError::UnknownClass { class, n_classes });
        }
        let weighting = params.weighting();
        Ok(match &self.lists {
            NeighbourLists::F32(lists) => {
                argmax_rows(vote_scores(lists, m, weighting, proxy_class, n_classes).view())
            }
            NeighbourLists::F64(lists) => {
                argmax_rows_of(vote_scores(lists, m, weighting, proxy_class, n_classes).view())
            }
        })
    }
}

/// The maximal runs of equal classes in `proxy_class`: `(class, proxies)`.
/// Proxies are usually stored class by class, so a tile has few runs.
fn class_runs(proxy_class: &[usize]) -> Vec<(usize, Range<usize>)> {
    let mut runs: Vec<(usize, Range<usize>)> = Vec::new();
    for (i, &c) in proxy_class.iter().enumerate() {
        match runs.last_mut() {
            Some((last, run)) if *last == c => run.end = i + 1,
            _ => runs.push((c, i..i + 1)),
        }
    }
    runs
}

/// Lowers each class's running smallest key (`out`, queries x classes) with
/// one tile of keys (queries x proxies), its proxies given as runs of one
/// class ([`class_runs`]); NaN, possible only after overflow, never wins.
/// Offers every row of a tile of keys (proxies `first..`) to its query's
/// [`Nearest`] list, on the machine's vectors (one dispatch per tile).
struct Offer<'a, K, F> {
    tile: ArrayView2<'a, K>,
    first: usize,
    nearest: &'a mut [Nearest<K>],
    /// `finish(row, key)`: the distance of a key of query `row`.
    finish: F,
}

impl<K: Key, F: Fn(usize, K) -> K> WithSimd for Offer<'_, K, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Offer { tile, first, nearest, finish } = self;
        for ((r, keys), nearest) in tile.outer_iter().enumerate().zip(nearest) {
            let keys = keys.to_slice().expect("internal: tile rows are contiguous");
            nearest.offer(simd, keys, first, |key| finish(r, key));
        }
    }
}

/// One dispatch to the machine's vectors per tile: runs are short (a few
/// dozen proxies), too short to pay for one each.
struct NearestPerClass<'a, K> {
    tile: ArrayView2<'a, K>,
    runs: &'a [(usize, Range<usize>)],
    out: ArrayViewMut2<'a, K>,
}

impl<K: Key> WithSimd for NearestPerClass<'_, K> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let NearestPerClass { tile, runs, mut out } = self;
        for (keys, mut out) in tile.outer_iter().zip(out.outer_iter_mut()) {
            let keys = keys.to_slice().expect("internal: tile rows are contiguous");
            let out = out.as_slice_mut().expect("internal: rows of a standard array");
            for (c, run) in runs {
                let smallest = K::smallest(simd, &keys[run.clone()]);
                if smallest < out[*c] {
                    out[*c] = smallest;
                }
            }
        }
    }
}

/// The `m` nearest proxies seen so far, sorted by (distance, proxy index).
/// Proxies are offered in increasing index order, so a proxy enters only if
/// strictly closer than the current `m`-th: ties keep the lower index.
#[derive(Debug)]
struct Nearest<K> {
    m: usize,
    /// (distance, key, proxy index), sorted by (distance, index).
    kept: Vec<(K, K, u32)>,
}

impl<K: Key> Nearest<K> {
    fn new(m: usize) -> Self {
        Self { m, kept: Vec::with_capacity(m) }
    }

    /// Offers the proxies `first..first + keys.len()` by their ranking keys;
    /// `finish` turns a key into the distance. A key not below the worst kept
    /// key cannot be strictly closer (`finish` is non-decreasing), so whole
    /// chunks are usually passed over with one comparison of their minimum;
    /// the distance is computed only for a proxy that may enter. NaN
    /// (possible only after overflow) counts as infinitely far.
    #[inline(always)]
    fn offer<S: Simd>(&mut self, simd: S, keys: &[K], first: usize, finish: impl Fn(K) -> K) {
        const CHUNK: usize = 16;
        for (c, chunk) in keys.chunks(CHUNK).enumerate() {
            let base = first + c * CHUNK;
            if self.kept.len() < self.m {
                for (j, &key) in chunk.iter().enumerate() {
                    self.consider(key, base + j, &finish);
                }
                continue;
            }
            let worst = self.kept[self.m - 1].1;
            // NaN is not below, so a chunk of NaN is passed over too.
            if !K::any_below(simd, chunk, worst) {
                continue;
            }
            // The keys below the worst kept key, listed without a branch per
            // key (NaN is not below); the worst only falls as keys enter, so
            // no other key of the chunk could.
            let mut below = [0u8; CHUNK];
            let mut count = 0;
            for (j, &key) in chunk.iter().enumerate() {
                below[count] = j as u8;
                count += usize::from(key < worst);
            }
            for &j in &below[..count] {
                let j = usize::from(j);
                self.consider(chunk[j], base + j, &finish);
            }
        }
    }

    /// Offers one proxy (`index`, by its ranking key); `finish` turns a key
    /// into the distance.
    #[inline(always)]
    fn consider(&mut self, key: K, index: usize, finish: &impl Fn(K) -> K) {
        let key = if key.is_nan() { K::infinity() } else { key };
        let index = index as u32;
        if self.kept.len() == self.m {
            let (worst_distance, worst_key, _) = self.kept[self.m - 1];
            if key >= worst_key {
                return;
            }
            let distance = finish(key);
            if distance >= worst_distance {
                return;
            }
            self.kept.pop();
            self.insert(distance, key, index);
        } else {
            self.insert(finish(key), key, index);
        }
    }

    /// Inserts in (distance, index) order: from the end, past every entry
    /// ranked after it (the lists are short: a library's memmove and a binary
    /// search cost more than a few swaps).
    #[inline(always)]
    fn insert(&mut self, distance: K, key: K, index: u32) {
        let distance = if distance.is_nan() { K::infinity() } else { distance };
        self.kept.push((distance, key, index));
        let mut at = self.kept.len() - 1;
        while at > 0 {
            let (d, _, i) = self.kept[at - 1];
            if d < distance || (d == distance && i < index) {
                break;
            }
            self.kept.swap(at - 1, at);
            at -= 1;
        }
    }

    /// Adds the votes of the `m` nearest proxies, nearest first, to `out`.
    fn vote(&self, m: usize, proxy_class: &[usize], weighting: Weighting, out: &mut [K]) {
        for &(d, _, i) in self.kept.iter().take(m) {
            let w = match weighting {
                Weighting::Uniform => K::one(),
                Weighting::InverseDistance => K::one() / (d + K::VOTE_EPSILON),
            };
            out[proxy_class[i as usize]] += w;
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;

    /// `Key::smallest` on the machine's vectors against a plain scan, for
    /// lengths around the vector widths, with NaN keys anywhere (never the
    /// result unless nothing else is there: then infinity).
    fn check_smallest<K: Key>(from: impl Fn(f64) -> K) {
        struct Smallest<'a, K>(&'a [K]);
        impl<K: Key> WithSimd for Smallest<'_, K> {
            type Output = K;
            fn with_simd<S: Simd>(self, simd: S) -> K {
                K::smallest(simd, self.0)
            }
        }
        for len in 0..40usize {
            for nan_at in [None, Some(0), Some(len / 2), Some(len.saturating_sub(1))] {
                let mut keys: Vec<K> =
                    (0..len).map(|i| from(((i * 37 + 11) % 23) as f64 - 9.5 + i as f64 * 1e-3)).collect();
                if let Some(at) = nan_at.filter(|&at| at < len) {
                    keys[at] = K::nan();
                }
                let plain = keys
                    .iter()
                    .filter(|k| !k.is_nan())
                    .fold(K::infinity(), |a, &b| if b < a { b } else { a });
                let got = pulp::Arch::new().dispatch(Smallest(&keys));
                assert_eq!(got, plain, "length {len}, NaN at {nan_at:?}");
                // `any_below` at, around and beyond every key and infinity.
                for bound in
                    keys.iter().flat_map(|&k| [k, k + from(1e-4), k - from(1e-4)]).chain([K::infinity()])
                {
                    let plain = keys.iter().any(|&k| k < bound);
                    let got = pulp::Arch::new().dispatch(AnyBelow(&keys, bound));
                    assert_eq!(got, plain, "length {len}, NaN at {nan_at:?}, below {bound:?}");
                }
            }
        }
    }

    struct AnyBelow<'a, K>(&'a [K], K);
    impl<K: Key> WithSimd for AnyBelow<'_, K> {
        type Output = bool;
        fn with_simd<S: Simd>(self, simd: S) -> bool {
            K::any_below(simd, self.0, self.1)
        }
    }

    #[test]
    fn smallest_key_and_any_below_skip_nan_on_the_vectors() {
        check_smallest::<f32>(|v| v as f32);
        check_smallest::<f64>(|v| v);
    }

    #[test]
    fn max_inner_product_picks_the_best_proxy_per_class() {
        let proxies = array![[1.0f32, 0.0], [0.0, 1.0], [0.7, 0.7]];
        let classes = [0, 1, 1];
        let q = array![[1.0f32, 0.1], [0.6, 0.8]];
        let s = Aggregation::max().class_scores(proxies.view(), &classes, 2, q.view()).unwrap();
        assert_eq!(s[[0, 0]], 1.0);
        assert!((s[[0, 1]] - 0.77).abs() < 1e-6);
        assert_eq!(Aggregation::max().predict(proxies.view(), &classes, 2, q.view()).unwrap(), vec![0, 1]);
    }

    #[test]
    fn mnn_votes_with_lowest_class_on_ties() {
        // Query at 0: neighbours at distance 1 (class 1), 2 (class 0), 2 (class 1).
        let proxies = array![[2.0f32], [1.0], [-2.0], [10.0]];
        let classes = [0, 1, 1, 0];
        let q = array![[0.0f32]];
        let uniform = Aggregation::mnn(3, Distance::Euclidean, Weighting::Uniform).unwrap();
        assert_eq!(uniform.class_scores(proxies.view(), &classes, 2, q.view()).unwrap(), array![[1.0, 2.0]]);
        // m = 2: the tie at distance 2 goes to the lower proxy index (class 0): 1 vote each, class 0 wins.
        let two = Aggregation::mnn(2, Distance::Euclidean, Weighting::Uniform).unwrap();
        assert_eq!(two.predict(proxies.view(), &classes, 2, q.view()).unwrap(), vec![0]);
        let weighted = Aggregation::mnn(2, Distance::Euclidean, Weighting::InverseDistance).unwrap();
        let s = weighted.class_scores(proxies.view(), &classes, 2, q.view()).unwrap();
        assert!((s[[0, 0]] - 0.5).abs() < 1e-6 && (s[[0, 1]] - 1.0).abs() < 1e-6);
        // m larger than the number of proxies is capped.
        let big = Aggregation::mnn(100, Distance::Manhattan, Weighting::Uniform).unwrap();
        assert_eq!(big.class_scores(proxies.view(), &classes, 2, q.view()).unwrap(), array![[2.0, 2.0]]);
    }

    /// Scores from the full distance matrix, the slow and obvious way: every
    /// proxy sorted by (distance, index), votes added nearest first.
    fn naive_scores(
        agg: Aggregation,
        proxies: &Array2<f32>,
        classes: &[usize],
        n_classes: usize,
        q: &Array2<f32>,
    ) -> Array2<f32> {
        let (distance, m, weighting) = match agg {
            Aggregation::Max { distance } => (distance, None, Weighting::Uniform),
            Aggregation::Mnn(p) => (p.ranking_distance(), Some(p.m().min(proxies.nrows())), p.weighting()),
        };
        if distance == Distance::Mahalanobis {
            // Mahalanobis distances, and everything after them, are f64.
            let d = MahalanobisKernel::new(proxies.view()).unwrap().distances(q.view());
            return naive_from(&d, false, m, weighting, classes, n_classes).mapv(|v| v as f32);
        }
        let d = crate::distance::pairwise(distance, q.view(), proxies.view()).unwrap();
        naive_from(&d, distance == Distance::Cosine, m, weighting, classes, n_classes)
    }

    fn naive_from<K: Key>(
        d: &Array2<K>,
        cosine: bool,
        m: Option<usize>,
        weighting: Weighting,
        classes: &[usize],
        n_classes: usize,
    ) -> Array2<K> {
        let mut out = Array2::<K>::zeros((d.nrows(), n_classes));
        for (i, row) in d.outer_iter().enumerate() {
            match m {
                None => {
                    for c in 0..n_classes {
                        out[[i, c]] = (0..d.ncols())
                            .filter(|&j| classes[j] == c)
                            .map(|j| if cosine { K::one() - row[j] } else { -row[j] })
                            .fold(K::neg_infinity(), K::max);
                    }
                }
                Some(m) => {
                    let mut order: Vec<usize> = (0..d.ncols()).collect();
                    order.sort_by(|&a, &b| row[a].partial_cmp(&row[b]).unwrap().then(a.cmp(&b)));
                    for &j in &order[..m] {
                        out[[i, classes[j]]] += match weighting {
                            Weighting::Uniform => K::one(),
                            Weighting::InverseDistance => K::one() / (row[j] + K::VOTE_EPSILON),
                        };
                    }
                }
            }
        }
        out
    }

    #[test]
    fn tiled_scores_equal_the_full_matrix_across_tiles_and_ties() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        // More than two tiles of proxies and two blocks of queries, on a coarse
        // grid of values so that equal distances (ties) are common.
        let n_proxies = 2 * PROXY_BLOCK + 37;
        let mut proxies = Array2::from_shape_fn((n_proxies, 4), |_| rng.random_range(-3i32..=3) as f32);
        // The same proxy on both sides of a tile boundary, in different classes.
        let dup = proxies.row(PROXY_BLOCK - 1).to_owned();
        proxies.row_mut(PROXY_BLOCK).assign(&dup);
        // Classes interleaved, and stored class by class (runs that cross the
        // tile boundaries, of lengths not a multiple of the lanes).
        let interleaved: Vec<usize> = (0..n_proxies).map(|j| (j * 7) % 5).collect();
        let grouped: Vec<usize> = (0..n_proxies).map(|j| j * 5 / n_proxies).collect();
        let q = Array2::from_shape_fn((QUERY_BLOCK + 45, 4), |_| rng.random_range(-3i32..=3) as f32);
        for (name, classes) in Distance::NAMES.iter().flat_map(|n| [(n, &interleaved), (n, &grouped)]) {
            let distance: Distance = name.parse().unwrap();
            let mut aggs = vec![Aggregation::Max { distance }];
            for m in [1, 4, 60, n_proxies + 1] {
                for weighting in [Weighting::Uniform, Weighting::InverseDistance] {
                    aggs.push(Aggregation::mnn(m, distance, weighting).unwrap());
                }
            }
            for agg in aggs {
                let got = agg.class_scores(proxies.view(), classes, 5, q.view()).unwrap();
                let want = naive_scores(agg, &proxies, classes, 5, &q);
                assert!(
                    got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{}: tiled scores differ from the full matrix",
                    agg.describe()
                );
            }
        }
    }

    #[test]
    fn one_search_at_the_largest_m_predicts_every_smaller_m_and_weighting() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        // Two proxy tiles and two query blocks; coarse values make ties common.
        let n_proxies = PROXY_BLOCK + 300;
        let proxies = Array2::from_shape_fn((n_proxies, 6), |_| rng.random_range(-3i32..=3) as f32);
        let classes: Vec<usize> = (0..n_proxies).map(|j| (j * 5) % 7).collect();
        let q = Array2::from_shape_fn((QUERY_BLOCK + 20, 6), |_| rng.random_range(-3i32..=3) as f32);
        for name in Distance::NAMES {
            let distance: Distance = name.parse().unwrap();
            let found = Neighbours::search(distance, 50, proxies.view(), q.view()).unwrap();
            for m in [1, 3, 50] {
                for weighting in [Weighting::Uniform, Weighting::InverseDistance] {
                    let agg = Aggregation::mnn(m, distance, weighting).unwrap();
                    let Aggregation::Mnn(params) = agg else { unreachable!() };
                    assert_eq!(
                        found.predict(&params, &classes, 7).unwrap(),
                        agg.predict(proxies.view(), &classes, 7, q.view()).unwrap(),
                        "{}",
                        agg.describe()
                    );
                }
            }
            let Aggregation::Mnn(too_many) = Aggregation::mnn(51, distance, Weighting::Uniform).unwrap()
            else {
                unreachable!()
            };
            assert!(found.predict(&too_many, &classes, 7).is_err(), "more neighbours than searched");
        }
        // m is capped at the number of proxies, for the search and the vote.
        let few = proxies.slice(s![..4, ..]);
        let found = Neighbours::search(Distance::Euclidean, 10, few, q.view()).unwrap();
        assert_eq!(found.m(), 4);
        let agg = Aggregation::mnn(9, Distance::Euclidean, Weighting::InverseDistance).unwrap();
        let Aggregation::Mnn(params) = agg else { unreachable!() };
        assert_eq!(
            found.predict(&params, &classes[..4], 7).unwrap(),
            agg.predict(few, &classes[..4], 7, q.view()).unwrap()
        );
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let proxies = array![[1.0f32, 0.0]];
        let q = array![[1.0f32, 0.0, 0.0]];
        let agg = Aggregation::max();
        assert!(matches!(
            agg.class_scores(proxies.view(), &[0], 1, q.view()),
            Err(ImprintError::DimensionMismatch { .. })
        ));
        let q = array![[1.0f32, 0.0]];
        assert!(matches!(
            agg.class_scores(proxies.view(), &[3], 2, q.view()),
            Err(ImprintError::UnknownClass { class: 3, .. })
        ));
        assert!(matches!(
            agg.class_scores(proxies.view(), &[0, 0], 1, q.view()),
            Err(ImprintError::DimensionMismatch { .. })
        ));
        let empty = Array2::<f32>::zeros((0, 2));
        assert!(matches!(agg.class_scores(empty.view(), &[], 1, q.view()), Err(ImprintError::Empty { .. })));
        assert!(Aggregation::mnn(0, Distance::Cosine, Weighting::Uniform).is_err());
        assert!(matches!("knn".parse::<Weighting>(), Err(ImprintError::UnknownName { .. })));
        let no_queries = Array2::<f32>::zeros((0, 2));
        assert_eq!(agg.class_scores(proxies.view(), &[0], 1, no_queries.view()).unwrap().dim(), (0, 1));
    }
}

//! The imprinted head: proxies grouped by class, plus how to classify with them.

use std::io::{Read, Write};

use ndarray::{Array2, ArrayView2, Axis, concatenate, s};
use serde::{Deserialize, Serialize};

use crate::aggregate::{AggregateExt, Aggregation, Aggregator};
use crate::check::{check_dim, check_embeddings, check_finite};
use crate::norm::InputNorm;
use crate::{ImprintError, Result};

/// Format tag written into every saved head.
pub const SAVED_HEAD_FORMAT: &str = "imprint-rs head";
/// Version of the saved-head format this build reads and writes.
pub const SAVED_HEAD_VERSION: u32 = 1;

/// A classifier head set by imprinting: the proxies of every class, grouped by
/// class (no bias), the input normalization applied to queries (NORMinf) and
/// the aggregation (AGG) that turns proxy comparisons into class scores.
///
/// Classes are added one after another ([`ImprintedHead::add_class`], the
/// continual setting) and proxies can be added to an existing class
/// ([`ImprintedHead::extend_class`]). Every class has at least one proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct ImprintedHead {
    dim: usize,
    /// `(n_proxies, dim)`; class `c` owns rows `offsets[c]..offsets[c + 1]`.
    weights: Array2<f32>,
    offsets: Vec<usize>,
    class_names: Vec<String>,
    input_norm: InputNorm,
    aggregation: Aggregation,
}

impl ImprintedHead {
    /// An empty head for `dim`-dimensional embeddings that classifies with no
    /// input normalization and `max` over inner products.
    pub fn new(dim: usize) -> Result<Self> {
        Self::with_inference(dim, InputNorm::None, Aggregation::max())
    }

    /// An empty head with the given NORMinf and AGG.
    pub fn with_inference(dim: usize, input_norm: InputNorm, aggregation: Aggregation) -> Result<Self> {
        if dim == 0 {
            return Err(ImprintError::invalid("dim", 0, "embeddings need at least one feature"));
        }
        // ndarray cannot even describe an empty array with more columns than isize::MAX.
        if isize::try_from(dim).is_err() {
            return Err(ImprintError::invalid("dim", dim, format!("at most {} features", isize::MAX)));
        }
        Ok(Self {
            dim,
            weights: Array2::zeros((0, dim)),
            offsets: vec![0],
            class_names: Vec::new(),
            input_norm,
            aggregation,
        })
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Total number of proxies over all classes.
    pub fn n_proxies(&self) -> usize {
        self.weights.nrows()
    }

    /// Every proxy, one per row, grouped by class in class order.
    pub fn weights(&self) -> ArrayView2<'_, f32> {
        self.weights.view()
    }

    /// The class of every proxy row of [`ImprintedHead::weights`].
    pub fn proxy_classes(&self) -> Vec<usize> {
        self.offsets.windows(2).enumerate().flat_map(|(c, w)| std::iter::repeat_n(c, w[1] - w[0])).collect()
    }

    /// The proxies of one class.
    pub fn class_proxies(&self, class: usize) -> Result<ArrayView2<'_, f32>> {
        self.check_class(class)?;
        Ok(self.weights.slice(s![self.offsets[class]..self.offsets[class + 1], ..]))
    }

    /// Class names in class-index order.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Index of the class called `name`, if any.
    pub fn class_index(&self, name: &str) -> Option<usize> {
        self.class_names.iter().position(|n| n == name)
    }

    /// NORMinf applied to queries.
    pub fn input_norm(&self) -> InputNorm {
        self.input_norm
    }

    /// AGG used by [`ImprintedHead::scores`].
    pub fn aggregation(&self) -> Aggregation {
        self.aggregation
    }

    /// Replaces NORMinf.
    pub fn set_input_norm(&mut self, input_norm: InputNorm) {
        self.input_norm = input_norm;
    }

    /// Replaces AGG.
    pub fn set_aggregation(&mut self, aggregation: Aggregation) {
        self.aggregation = aggregation;
    }

    /// Appends a new class with the given proxies (already normalized) and
    /// returns its index. Names must be unique.
    pub fn add_class(&mut self, name: impl Into<String>, proxies: ArrayView2<'_, f32>) -> Result<usize> {
        let name = name.into();
        if self.class_index(&name).is_some() {
            return Err(ImprintError::invalid(
                "class name",
                name,
                "the head already has a class with this name",
            ));
        }
        self.check_proxies(proxies, &name)?;
        self.weights.append(Axis(0), proxies).expect("internal: columns checked");
        self.offsets.push(self.weights.nrows());
        self.class_names.push(name);
        Ok(self.n_classes() - 1)
    }

    /// Adds proxies to an existing class (e.g. proxies generated from new samples).
    pub fn extend_class(&mut self, class: usize, proxies: ArrayView2<'_, f32>) -> Result<()> {
        self.check_class(class)?;
        let name = self.class_names[class].clone();
        self.check_proxies(proxies, &name)?;
        let end = self.offsets[class + 1];
        self.weights = concatenate![
            Axis(0),
            self.weights.slice(s![..end, ..]),
            proxies,
            self.weights.slice(s![end.., ..])
        ];
        for o in &mut self.offsets[class + 1..] {
            *o += proxies.nrows();
        }
        Ok(())
    }

    /// Replaces the proxies of class `class` (e.g. after refitting it from more shots).
    pub fn replace_class(&mut self, class: usize, proxies: ArrayView2<'_, f32>) -> Result<()> {
        self.check_class(class)?;
        self.check_proxies(proxies, &self.class_names[class])?;
        let (start, end) = (self.offsets[class], self.offsets[class + 1]);
        self.weights = concatenate![
            Axis(0),
            self.weights.slice(s![..start, ..]),
            proxies,
            self.weights.slice(s![end.., ..])
        ];
        let grown = proxies.nrows() as isize - (end - start) as isize;
        for o in &mut self.offsets[class + 1..] {
            *o = o.wrapping_add_signed(grown);
        }
        Ok(())
    }

    /// Removes class `class` and its proxies; later classes move down by one index.
    pub fn remove_class(&mut self, class: usize) -> Result<()> {
        self.check_class(class)?;
        let (start, end) = (self.offsets[class], self.offsets[class + 1]);
        self.weights =
            concatenate![Axis(0), self.weights.slice(s![..start, ..]), self.weights.slice(s![end.., ..])];
        self.offsets.remove(class + 1);
        for o in &mut self.offsets[class + 1..] {
            *o -= end - start;
        }
        self.class_names.remove(class);
        Ok(())
    }

    /// Renames class `class`; names stay unique.
    pub fn rename_class(&mut self, class: usize, name: impl Into<String>) -> Result<()> {
        self.check_class(class)?;
        let name = name.into();
        if self.class_index(&name).is_some_and(|c| c != class) {
            return Err(ImprintError::invalid(
                "class name",
                name,
                "the head already has a class with this name",
            ));
        }
        self.class_names[class] = name;
        Ok(())
    }

    /// The proxies of every class before `class`: the reference distribution
    /// of quantile NORMpost for a class imprinted at that position.
    pub fn weights_before(&self, class: usize) -> Result<ArrayView2<'_, f32>> {
        if class > self.n_classes() {
            return Err(ImprintError::UnknownClass { class, n_classes: self.n_classes() });
        }
        Ok(self.weights.slice(s![..self.offsets[class], ..]))
    }

    /// Class scores of `queries` (`n_queries x n_classes`) with the head's own
    /// NORMinf and AGG.
    pub fn scores(&self, queries: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.scores_with(&self.aggregation, queries)
    }

    /// Class scores with another aggregator (the head's NORMinf still applies).
    pub fn scores_with(
        &self,
        aggregator: &dyn Aggregator,
        queries: ArrayView2<'_, f32>,
    ) -> Result<Array2<f32>> {
        let queries = self.inference_queries(queries, "ImprintedHead::scores (queries against head)")?;
        aggregator.class_scores(self.weights.view(), &self.proxy_classes(), self.n_classes(), queries.view())
    }

    /// Predicted class index per query: the highest score, ties to the lowest
    /// index ([`AggregateExt::predict`]: Mahalanobis ranks in f64, finer
    /// than its f32 scores).
    pub fn predict(&self, queries: ArrayView2<'_, f32>) -> Result<Vec<usize>> {
        let queries = self.inference_queries(queries, "ImprintedHead::predict (queries against head)")?;
        self.aggregation.predict(self.weights.view(), &self.proxy_classes(), self.n_classes(), queries.view())
    }

    /// Checks `queries` against a non-empty head and applies NORMinf.
    fn inference_queries<'q>(
        &self,
        queries: ArrayView2<'q, f32>,
        what: &'static str,
    ) -> Result<ndarray::CowArray<'q, f32, ndarray::Ix2>> {
        if self.n_classes() == 0 {
            return Err(ImprintError::Empty { what: "the head (no class imprinted yet)".into() });
        }
        check_finite(queries, "queries")?;
        check_dim(queries, self.dim, what)?;
        self.input_norm.apply_cow(queries, "queries (NORMinf)")
    }

    /// Writes the head as versioned JSON (f32 values round-trip exactly).
    pub fn save_json<W: Write>(&self, writer: W) -> Result<()> {
        let saved = SavedHead {
            format: SAVED_HEAD_FORMAT.to_string(),
            version: SAVED_HEAD_VERSION,
            dim: self.dim,
            input_norm: self.input_norm,
            aggregation: self.aggregation,
            classes: (0..self.n_classes())
                .map(|c| SavedClass {
                    name: self.class_names[c].clone(),
                    proxies: self
                        .weights
                        .slice(s![self.offsets[c]..self.offsets[c + 1], ..])
                        .outer_iter()
                        .map(|r| r.to_vec())
                        .collect(),
                })
                .collect(),
        };
        serde_json::to_writer(writer, &saved)
            .map_err(|e| ImprintError::SavedHead { reason: format!("cannot write: {e}") })
    }

    /// Reads a head written by [`ImprintedHead::save_json`], validating
    /// format, version, shapes and values.
    pub fn load_json<R: Read>(reader: R) -> Result<Self> {
        // Values are read as f64, so that one beyond the f32 range is reported
        // below with its class and position rather than as a parse error.
        let saved: SavedHead<f64> = serde_json::from_reader(reader)
            .map_err(|e| ImprintError::SavedHead { reason: format!("not a valid saved head: {e}") })?;
        if saved.format != SAVED_HEAD_FORMAT {
            return Err(ImprintError::SavedHead {
                reason: format!("format is '{}', expected '{SAVED_HEAD_FORMAT}'", saved.format),
            });
        }
        if saved.version != SAVED_HEAD_VERSION {
            return Err(ImprintError::SavedHead {
                reason: format!(
                    "format version {} is not supported by this build (reads version {SAVED_HEAD_VERSION})",
                    saved.version
                ),
            });
        }
        let mut head = Self::with_inference(saved.dim, saved.input_norm, saved.aggregation)?;
        for (c, class) in saved.classes.into_iter().enumerate() {
            if let Some((r, row)) = class.proxies.iter().enumerate().find(|(_, r)| r.len() != saved.dim) {
                return Err(ImprintError::SavedHead {
                    reason: format!(
                        "class {c} ('{}') proxy {r} has {} values, the head has dim {}",
                        class.name,
                        row.len(),
                        saved.dim
                    ),
                });
            }
            let flat: Vec<f32> = class.proxies.concat().into_iter().map(|v| v as f32).collect();
            let proxies = Array2::from_shape_vec((class.proxies.len(), saved.dim), flat)
                .expect("internal: row lengths checked");
            head.add_class(class.name, proxies.view())
                .map_err(|e| ImprintError::SavedHead { reason: format!("class {c}: {e}") })?;
        }
        Ok(head)
    }

    fn check_class(&self, class: usize) -> Result<()> {
        if class >= self.n_classes() {
            return Err(ImprintError::UnknownClass { class, n_classes: self.n_classes() });
        }
        Ok(())
    }

    fn check_proxies(&self, proxies: ArrayView2<'_, f32>, name: &str) -> Result<()> {
        let what = format!("proxies of class '{name}'");
        check_embeddings(proxies, &what)?;
        check_dim(proxies, self.dim, "ImprintedHead: proxies against head")?;
        // Euclidean scores add a proxy's squared norm to the query's and the
        // others multiply it with a query: a quarter of float32's maximum
        // leaves room for both.
        let limit = f64::from(f32::MAX) / 4.0;
        let squared_norms =
            proxies.outer_iter().map(|p| p.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>());
        match squared_norms.enumerate().find(|(_, sq)| *sq > limit) {
            Some((row, sq)) => Err(ImprintError::invalid(
                "proxy",
                format!("row {row} of the {what} (L2 norm {:.3e})", sq.sqrt()),
                format!(
                    "a proxy's L2 norm must be at most {:.3e}, or its scores overflow float32",
                    limit.sqrt()
                ),
            )),
            None => Ok(()),
        }
    }
}

/// The saved format; values are written as f32 (shortest round-trip form)
/// and read as f64 (exactly the same f32 after rounding once more).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedHead<T> {
    format: String,
    version: u32,
    dim: usize,
    input_norm: InputNorm,
    aggregation: Aggregation,
    classes: Vec<SavedClass<T>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedClass<T> {
    name: String,
    proxies: Vec<Vec<T>>,
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;
    use crate::aggregate::Weighting;
    use crate::distance::Distance;
    use crate::norm::ZeroVectorPolicy;

    fn two_class_head() -> ImprintedHead {
        let mut head = ImprintedHead::new(2).unwrap();
        head.add_class("cat", array![[1.0f32, 0.0]].view()).unwrap();
        head.add_class("dog", array![[0.0f32, 1.0], [-1.0, 0.0]].view()).unwrap();
        head
    }

    #[test]
    fn classes_and_proxies_are_grouped() {
        let mut head = two_class_head();
        assert_eq!(head.proxy_classes(), vec![0, 1, 1]);
        head.extend_class(0, array![[0.5f32, 0.5]].view()).unwrap();
        assert_eq!(head.proxy_classes(), vec![0, 0, 1, 1]);
        assert_eq!(head.class_proxies(0).unwrap(), array![[1.0f32, 0.0], [0.5, 0.5]]);
        assert_eq!(head.class_proxies(1).unwrap(), array![[0.0f32, 1.0], [-1.0, 0.0]]);
        assert_eq!(head.predict(array![[0.9f32, 0.1], [-2.0, 0.1]].view()).unwrap(), vec![0, 1]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut head = two_class_head();
        assert!(matches!(
            head.predict(array![[1.0f32, 0.0, 0.0]].view()),
            Err(ImprintError::DimensionMismatch { .. })
        ));
        assert!(matches!(
            head.add_class("cat", array![[1.0f32, 0.0]].view()),
            Err(ImprintError::InvalidParameter { .. })
        ));
        assert!(matches!(
            head.extend_class(5, array![[1.0f32, 0.0]].view()),
            Err(ImprintError::UnknownClass { .. })
        ));
        assert!(matches!(head.add_class("x", Array2::zeros((0, 2)).view()), Err(ImprintError::Empty { .. })));
        assert!(matches!(
            head.add_class("x", array![[f32::NAN, 0.0]].view()),
            Err(ImprintError::NonFinite { .. })
        ));
        assert!(matches!(
            ImprintedHead::new(3).unwrap().predict(array![[1.0f32, 0.0, 0.0]].view()),
            Err(ImprintError::Empty { .. })
        ));
        assert!(ImprintedHead::new(0).is_err());
        assert!(matches!(
            ImprintedHead::new(usize::MAX),
            Err(ImprintError::InvalidParameter { name: "dim", .. })
        ));
        assert_eq!(head.n_classes(), 2, "failed additions leave the head unchanged");
    }

    #[test]
    fn save_load_round_trips_exactly() {
        let mut head = two_class_head();
        head.set_input_norm(InputNorm::L2(ZeroVectorPolicy::KeepZero));
        head.set_aggregation(Aggregation::mnn(3, Distance::Mahalanobis, Weighting::InverseDistance).unwrap());
        head.extend_class(1, array![[0.1f32 + 1e-7, 1.0 / 3.0]].view()).unwrap();
        let mut buf = Vec::new();
        head.save_json(&mut buf).unwrap();
        let loaded = ImprintedHead::load_json(buf.as_slice()).unwrap();
        assert_eq!(loaded, head);
    }

    #[test]
    fn corrupt_or_future_saved_heads_are_errors() {
        let mut buf = Vec::new();
        two_class_head().save_json(&mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let future = text.replace("\"version\":1", "\"version\":2");
        let err = ImprintedHead::load_json(future.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
        let truncated = &text[..text.len() / 2];
        assert!(matches!(
            ImprintedHead::load_json(truncated.as_bytes()),
            Err(ImprintError::SavedHead { .. })
        ));
        let short_row = text.replace("[1.0,0.0]", "[1.0]");
        assert!(matches!(
            ImprintedHead::load_json(short_row.as_bytes()),
            Err(ImprintError::SavedHead { .. })
        ));
        let dup = text.replace("\"dog\"", "\"cat\"");
        assert!(matches!(ImprintedHead::load_json(dup.as_bytes()), Err(ImprintError::SavedHead { .. })));
        let zero_m = text.replace(
            "{\"method\":\"max\",\"distance\":\"inner_product\"}",
            "{\"method\":\"mnn\",\"m\":0,\"distance\":\"cosine\",\"weighting\":\"uniform\"}",
        );
        assert_ne!(zero_m, text);
        assert!(ImprintedHead::load_json(zero_m.as_bytes()).is_err());
        // A hostile dim (more columns than ndarray can describe) is an error, not a panic.
        let huge = text.replace("\"dim\":2", &format!("\"dim\":{}", u64::MAX));
        assert_ne!(huge, text);
        assert!(matches!(
            ImprintedHead::load_json(huge.as_bytes()),
            Err(ImprintError::InvalidParameter { name: "dim", .. })
        ));
    }
}

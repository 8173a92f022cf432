//! Cross-crate and end-to-end tests live in `tests/tests/`.
//!
//! The library part holds the bodies of the fuzz targets ([`fuzz`]), shared by
//! the cargo-fuzz crate in `fuzz/` and by the CI regression test
//! `tests/tests/fuzz_regressions.rs`, so that every input the fuzzer kept
//! (seeds and minimized crashes) is replayed by `cargo test --workspace`.

pub mod fuzz {
    //! Fuzz target bodies: each takes arbitrary bytes and must never panic,
    //! abort or exhaust memory; it asserts invariants of what it accepts.
    //!
    //! Each returns `true` when the input was accepted (parsed or loaded) and
    //! `false` when it was rejected with an error, so callers can check that a
    //! seed corpus exercises both paths.

    use imprint_compat::config::{MAX_GRID_DATA_BYTES, MAX_GRID_SIZE};
    use imprint_compat::{ExperimentConfig, ExperimentGrid};
    use imprint_core::{AggregationMethod, ImprintError, ImprintedHead, Weighting};
    use imprint_data::EmbeddingFile;
    use ndarray::Array2;

    /// Configs whose unpruned grid is larger than this are parsed and checked
    /// but not expanded: expansion allocates one combination (88 bytes) per
    /// grid point, up to [`MAX_GRID_SIZE`] (over 4 GB), which the parser
    /// deliberately accepts; expanding them would only measure the allocator.
    /// The data those combinations copy is bounded by the parser
    /// ([`MAX_GRID_DATA_BYTES`]), which this target asserts.
    pub const FUZZ_MAX_EXPANDED_GRID: u128 = 4096;

    /// Largest head dimension for which queries are built and scored: scoring
    /// costs up to `dim^3` (Mahalanobis), and a loaded head with classes has
    /// at most as many values per proxy as the input has bytes anyway.
    pub const FUZZ_MAX_QUERY_DIM: usize = 4096;

    /// The HDF5 loading path: `EmbeddingFile::from_bytes`, then `attributes`
    /// and `read`. Checks that what reads back has the declared shape and only
    /// finite values.
    pub fn hdf5_embeddings(data: &[u8]) -> bool {
        let Ok(file) = EmbeddingFile::from_bytes(data.to_vec(), "fuzz.h5") else {
            return false;
        };
        let (n_rows, dim) = file.shape();
        // Attributes are decoded lazily; errors are fine, panics are not.
        if let Ok(attrs) = file.attributes() {
            for (name, value) in &attrs {
                let _ = format!("{name}={value}");
            }
        }
        let Ok(embeddings) = file.read() else {
            return false;
        };
        assert_eq!(
            embeddings.embeddings().dim(),
            (n_rows, dim),
            "read shape differs from the declared shape"
        );
        assert_eq!(embeddings.labels().len(), n_rows, "one label per row");
        assert!(n_rows > 0 && dim > 0, "an accepted file has rows and columns");
        assert!(embeddings.embeddings().iter().all(|v| v.is_finite()), "accepted values are finite");
        true
    }

    /// The reference-config parser (`ExperimentConfig::from_bytes`, which
    /// rejects non-UTF-8 itself), then grid expansion for configs of at most
    /// [`FUZZ_MAX_EXPANDED_GRID`] unpruned combinations.
    pub fn config(data: &[u8]) -> bool {
        let Ok(config) = ExperimentConfig::from_bytes(data, "fuzz.yaml") else {
            return false;
        };
        let unpruned = config.unpruned_size();
        assert!(unpruned <= MAX_GRID_SIZE, "the parser enforces MAX_GRID_SIZE");
        assert!(config.data_copy_bytes() <= MAX_GRID_DATA_BYTES, "the parser enforces MAX_GRID_DATA_BYTES");
        assert!(!config.proxy_methods().is_empty(), "proxy_methods is required and non-empty");
        // The text form must parse to the same config: parsing is a pure function.
        let text = std::str::from_utf8(data).expect("accepted configs are UTF-8");
        let again = ExperimentConfig::from_yaml_str(text, "fuzz.yaml").expect("same text parses again");
        assert_eq!(again, config, "parsing is deterministic");
        if unpruned > FUZZ_MAX_EXPANDED_GRID {
            return true;
        }
        let grid = ExperimentGrid::new(&config);
        assert!(grid.len() as u128 <= unpruned, "pruning only removes combinations");
        let dry = grid.dry_run();
        assert_eq!(dry.total, grid.len());
        assert_eq!(dry.groups.iter().map(|(_, n)| n).sum::<usize>(), grid.len());
        let _ = dry.to_string();
        for c in grid.combinations() {
            let p = &c.params;
            match p.aggregation_method {
                AggregationMethod::Max => {
                    assert_eq!((p.m, p.aggregation_weighting), (-1, Weighting::Uniform), "{p:?}");
                }
                AggregationMethod::Mnn => assert!(p.m >= 1, "m-nn rows have m >= 1: {p:?}"),
            }
            if p.proxy_method == "all" {
                assert_eq!(p.k, -1, "`all` keeps every sample: {p:?}");
            } else {
                assert!(p.k >= 1, "k is positive unless the method is `all`: {p:?}");
            }
            assert!(config.seeds().contains(&c.seed));
        }
        true
    }

    /// The saved-head loader: `ImprintedHead::load_json`; a head that loads
    /// must save and reload to an equal head, and predict on queries of its
    /// dimension (class indices in range) but reject queries of another.
    pub fn saved_head(data: &[u8]) -> bool {
        let Ok(head) = ImprintedHead::load_json(data) else {
            return false;
        };
        let dim = head.dim();
        assert!(dim > 0, "a loaded head has dim >= 1");
        assert_eq!(head.weights().ncols(), dim);
        assert_eq!(head.proxy_classes().len(), head.n_proxies());
        assert!(head.weights().iter().all(|v| v.is_finite()), "loaded proxies are finite");
        for (c, name) in head.class_names().iter().enumerate() {
            assert_eq!(head.class_index(name), Some(c), "class names are unique");
            assert!(head.class_proxies(c).is_ok_and(|p| p.nrows() >= 1), "every class has a proxy");
        }

        let mut saved = Vec::new();
        head.save_json(&mut saved).expect("a loaded head saves");
        let reloaded = ImprintedHead::load_json(saved.as_slice()).expect("a saved head reloads");
        assert_eq!(reloaded, head, "save/load round trip");

        if head.n_classes() == 0 {
            let err = head.predict(Array2::<f32>::ones((1, 1)).view());
            assert!(matches!(err, Err(ImprintError::Empty { .. })), "empty head: {err:?}");
            return true;
        }
        if dim > FUZZ_MAX_QUERY_DIM {
            return true;
        }
        // Non-zero rows, so that an L2 NORMinf that rejects zero vectors accepts them.
        let queries =
            Array2::from_shape_fn((3, dim), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 5.0 - 0.9 + 0.01);
        let pred = head.predict(queries.view()).expect("a loaded head classifies finite, non-zero queries");
        assert_eq!(pred.len(), 3);
        assert!(pred.iter().all(|&c| c < head.n_classes()), "predicted class out of range: {pred:?}");
        let wrong = Array2::<f32>::ones((2, dim + 1));
        let err = head.predict(wrong.view());
        assert!(matches!(err, Err(ImprintError::DimensionMismatch { .. })), "wrong dim: {err:?}");
        true
    }

    /// The practitioner's head loader: `imprint::Classifier::from_bytes`
    /// (safetensors) or, for text starting with `{`, `from_json`. A head that
    /// loads must save and reload to an equal head in both forms, and classify
    /// queries of its dimension into its classes.
    pub fn classifier(data: &[u8]) -> bool {
        let loaded = match data.first() {
            Some(b'{') => std::str::from_utf8(data).ok().and_then(|t| imprint::Classifier::from_json(t).ok()),
            _ => imprint::Classifier::from_bytes(data).ok(),
        };
        let Some(head) = loaded else {
            return false;
        };
        let dim = head.dim();
        assert!(dim > 0, "a loaded head has dim >= 1");
        assert_eq!(head.proxy_counts().len(), head.n_classes());
        assert!(head.proxy_counts().iter().all(|&n| n >= 1), "every class has a proxy");
        assert!(head.head().weights().iter().all(|v| v.is_finite()), "loaded proxies are finite");
        let again = imprint::Classifier::from_bytes(&head.to_bytes().expect("a loaded head saves"))
            .expect("a saved head reloads");
        assert!(again == head, "safetensors round trip");
        let json =
            imprint::Classifier::from_json(&head.to_json().expect("JSON export")).expect("JSON reloads");
        assert!(json == head, "JSON round trip");
        if head.n_classes() == 0 || dim > FUZZ_MAX_QUERY_DIM {
            return true;
        }
        let queries =
            Array2::from_shape_fn((3, dim), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 5.0 - 0.9 + 0.01);
        let predicted =
            head.predict_indices(queries.view()).expect("a loaded head classifies finite, non-zero queries");
        assert!(predicted.iter().all(|&c| c < head.n_classes()));
        let p = head.predict_proba(queries.view()).expect("probabilities");
        assert!(p.iter().all(|v| v.is_finite()));
        if head.calibration().thresholds().is_some() {
            assert_eq!(head.predict_open(queries.view()).expect("rejection").len(), 3);
        }
        true
    }
}

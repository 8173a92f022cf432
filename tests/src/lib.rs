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

    use imprint_cli::input::{csv_file, npy};
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

    /// The practitioner's head loader as every front door calls it:
    /// `imprint::Classifier::decode`, which reads safetensors or JSON text
    /// as `imprint::HeadEncoding::of_bytes` decides from the bytes'
    /// structure. The encoding agrees with the bytes (safetensors: a header
    /// length that fits and a header that opens a JSON object; JSON: `{`
    /// after an optional byte order mark and white space), and a head that
    /// decodes was decoded with it. A head that loads must save and reload to
    /// an equal head in both forms (each recognized as its encoding, JSON
    /// also after a byte order mark), and classify queries of its dimension
    /// into its classes.
    pub fn classifier(data: &[u8]) -> bool {
        let encoding = imprint::HeadEncoding::of_bytes(data);
        match encoding {
            Ok(imprint::HeadEncoding::Safetensors) => {
                let len = u64::from_le_bytes(data[..8].try_into().expect("safetensors has 8 bytes"));
                assert!(len >= 2 && len <= (data.len() - 8) as u64 && data[8] == b'{', "safetensors header");
            }
            Ok(imprint::HeadEncoding::Json) => {
                let text = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
                assert_eq!(text.trim_ascii_start().first(), Some(&b'{'), "JSON text opens an object");
            }
            Err(_) => {}
        }
        let Ok(head) = imprint::Classifier::decode(data) else {
            return false;
        };
        let again = match encoding.expect("a decoded head has an encoding") {
            imprint::HeadEncoding::Safetensors => imprint::Classifier::from_bytes(data),
            imprint::HeadEncoding::Json => {
                let text = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
                imprint::Classifier::from_json(std::str::from_utf8(text).expect("decoded JSON is UTF-8"))
            }
        };
        assert!(again.is_ok_and(|h| h == head), "decode reads with the loader of the encoding");
        let dim = head.dim();
        assert!(dim > 0, "a loaded head has dim >= 1");
        assert_eq!(head.proxy_counts().len(), head.n_classes());
        assert!(head.proxy_counts().iter().all(|&n| n >= 1), "every class has a proxy");
        assert!(head.head().weights().iter().all(|v| v.is_finite()), "loaded proxies are finite");
        let bytes = head.to_bytes().expect("a loaded head saves");
        let text = head.to_json().expect("JSON export");
        let with_bom = [&b"\xef\xbb\xbf \n"[..], text.as_bytes()].concat();
        for (form, saved, encoding) in [
            ("safetensors", &bytes[..], imprint::HeadEncoding::Safetensors),
            ("JSON", text.as_bytes(), imprint::HeadEncoding::Json),
            ("JSON after a byte order mark", &with_bom[..], imprint::HeadEncoding::Json),
        ] {
            assert_eq!(imprint::HeadEncoding::of_bytes(saved).ok(), Some(encoding), "{form} is recognized");
            let again = imprint::Classifier::decode(saved).expect("a saved head reloads");
            assert!(again == head, "{form} round trip");
        }
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

    /// The CLI's CSV reader (`imprint_cli::input::csv_file`): the whole
    /// input as one slice, and again a few bytes at a time ([`Trickle`]),
    /// must give the same table or the same error; an accepted table has at
    /// least one row and one column, only finite values and one label per
    /// row, all integers or all strings, strings trimmed and not empty.
    pub fn cli_csv(data: &[u8]) -> bool {
        let whole = csv_file::read(data);
        let trickled = csv_file::read_from(Trickle::new(data), None).map_err(|e| e.to_string());
        match (&whole, &trickled) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.x, b.x, "values depend on how the bytes arrive");
                assert_eq!(a.labels, b.labels, "labels depend on how the bytes arrive");
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "errors depend on how the bytes arrive"),
            _ => panic!("the result depends on how the bytes arrive: {whole:?} against {trickled:?}"),
        }
        let Ok(table) = whole else {
            return false;
        };
        let (rows, cols) = table.x.dim();
        assert!(rows >= 1 && cols >= 1, "an accepted table has rows and columns");
        assert!(table.x.iter().all(|v| v.is_finite()), "accepted values are finite");
        if let Some(labels) = &table.labels {
            assert_eq!(labels.len(), rows, "one label per row");
            text_labels_hold(labels);
        }
        true
    }

    /// The CLI's `.npy` reader (`imprint_cli::input::npy`), every input read
    /// both as a matrix and as labels, whole and a few bytes at a time (the
    /// same result either way). An accepted matrix has rows and columns and
    /// only finite values; accepted string labels are not empty.
    pub fn cli_npy(data: &[u8]) -> bool {
        let matrix = npy::read_matrix(data);
        let trickled = npy::read_matrix_from(Trickle::new(data), None).map_err(|e| e.to_string());
        assert_eq!(matrix, trickled, "the matrix depends on how the bytes arrive");
        let labels = npy::read_labels(data);
        let trickled = npy::read_labels_from(Trickle::new(data)).map_err(|e| e.to_string());
        assert_eq!(labels, trickled, "the labels depend on how the bytes arrive");
        if let Ok(x) = &matrix {
            assert!(x.nrows() >= 1 && x.ncols() >= 1, "an accepted matrix has rows and columns");
            assert!(x.iter().all(|v| v.is_finite()), "accepted values are finite");
        }
        if let Ok(labels) = &labels {
            assert!(
                labels.iter().all(|l| !matches!(l, imprint::ClassLabel::Text(t) if t.is_empty())),
                "string labels are not empty"
            );
        }
        matrix.is_ok() || labels.is_ok()
    }

    /// The CLI's text label reader (`--labels FILE.txt`,
    /// `imprint_cli::input::read_text_labels`), whole and a few bytes at a
    /// time through a small buffer (the same result either way). Accepted
    /// labels are at least one, all integers or all strings, and strings are
    /// trimmed and not empty.
    pub fn cli_labels(data: &[u8]) -> bool {
        let whole = imprint_cli::input::read_text_labels(data);
        let buffered = std::io::BufReader::with_capacity(5, Trickle::new(data));
        let trickled = imprint_cli::input::read_text_labels_from(buffered).map_err(|e| e.to_string());
        assert_eq!(whole, trickled, "the labels depend on how the bytes arrive");
        let Ok(labels) = whole else {
            return false;
        };
        assert!(!labels.is_empty(), "an accepted file has labels");
        text_labels_hold(&labels);
        true
    }

    /// Labels read from text: all integers or all strings, and strings are
    /// trimmed and not empty.
    fn text_labels_hold(labels: &[imprint::ClassLabel]) {
        let ints = labels.iter().filter(|l| matches!(l, imprint::ClassLabel::Int(_))).count();
        assert!(ints == 0 || ints == labels.len(), "labels are all integers or all strings");
        for label in labels {
            if let imprint::ClassLabel::Text(t) = label {
                assert!(!t.is_empty() && t.trim() == t, "string labels are trimmed, not empty: {t:?}");
            }
        }
    }

    /// A reader that hands out its bytes 1 to 7 at a time, in a fixed
    /// pattern, as a pipe may: streaming readers must not depend on where
    /// their input is cut.
    pub struct Trickle<'a> {
        data: &'a [u8],
        reads: usize,
    }

    impl<'a> Trickle<'a> {
        /// A reader of `data`.
        pub fn new(data: &'a [u8]) -> Self {
            Self { data, reads: 0 }
        }
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.reads += 1;
            let n = (self.reads * 5 % 7 + 1).min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }
}

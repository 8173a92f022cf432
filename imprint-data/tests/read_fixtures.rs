//! Reading files written by h5py (scripts/make_fixtures.py), good and malformed.

use std::path::PathBuf;

use imprint_data::{AttrValue, DataError, EmbeddingFile, Origin, read_embeddings};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures").join(name)
}

/// The data every good fixture holds: x[i, j] = i + j / 10, y[i] = i % 3.
fn check_reference_values(name: &str) {
    let e = read_embeddings(fixture(name)).unwrap_or_else(|err| panic!("{name}: {err}"));
    assert_eq!((e.n_samples(), e.dim()), (12, 5), "{name}");
    for i in 0..12 {
        assert_eq!(e.labels()[i], i % 3, "{name} label {i}");
        for j in 0..5 {
            let want = i as f32 + j as f32 / 10.0;
            assert_eq!(e.embeddings()[[i, j]], want, "{name} [{i}, {j}]");
        }
    }
}

#[test]
fn reads_every_h5py_layout() {
    for name in [
        "contiguous.h5",
        "reference_style.h5",
        "chunked_gzip.h5",
        "latest_gzip.h5",
        "appended.h5",
        "labels_int64.h5",
        "big_endian.h5",
    ] {
        check_reference_values(name);
    }
}

#[test]
fn exposes_shape_and_attributes() {
    let f = EmbeddingFile::open(fixture("chunked_gzip.h5")).unwrap();
    assert_eq!(f.shape(), (12, 5));
    let attrs = f.attributes().unwrap();
    assert_eq!(attrs["backbone"], AttrValue::Text("fixture".into()));
    assert_eq!(attrs["seed"], AttrValue::Int(7));
    assert_eq!(attrs["scale"], AttrValue::Float(0.5));
    let latest = EmbeddingFile::open(fixture("latest_gzip.h5")).unwrap();
    assert_eq!(latest.attributes().unwrap()["backbone"], AttrValue::Text("fixture-latest".into()));
}

fn err(name: &str) -> DataError {
    match read_embeddings(fixture(name)) {
        Ok(_) => panic!("{name}: expected an error"),
        Err(e) => {
            // Every message names the file.
            assert!(e.to_string().contains(name), "{name}: message `{e}` lacks the file");
            e
        }
    }
}

#[test]
fn hdf5_2_latest_format_is_reported_as_unsupported() {
    let e = err("latest_v200.h5");
    assert!(matches!(e, DataError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("libver"), "{e}");
}

#[test]
fn missing_and_empty_files() {
    assert!(matches!(err("does_not_exist.h5"), DataError::NotFound { .. }));
    assert!(matches!(err("empty.h5"), DataError::EmptyFile { .. }));
    assert!(matches!(err("not_hdf5.h5"), DataError::Corrupt { .. }));
}

#[test]
fn truncated_and_corrupt_files() {
    for name in ["truncated.h5", "truncated_tail.h5", "corrupt_signature.h5", "corrupt_chunk.h5"] {
        assert!(matches!(err(name), DataError::Corrupt { .. }), "{name}: {}", err(name));
    }
}

#[test]
fn missing_datasets() {
    assert!(matches!(err("missing_labels.h5"), DataError::MissingDataset { dataset: "labels", .. }));
    assert!(matches!(err("missing_embeddings.h5"), DataError::MissingDataset { dataset: "embeddings", .. }));
    assert!(matches!(err("embeddings_group.h5"), DataError::MissingDataset { dataset: "embeddings", .. }));
}

#[test]
fn wrong_dtype_and_rank() {
    let e = err("embeddings_f64.h5");
    assert!(matches!(&e, DataError::WrongDtype { dataset: "embeddings", .. }), "{e}");
    assert!(e.to_string().contains("f64"), "{e}");
    assert!(matches!(err("labels_float.h5"), DataError::WrongDtype { dataset: "labels", .. }));
    assert!(matches!(
        err("embeddings_rank1.h5"),
        DataError::WrongRank { dataset: "embeddings", expected: 2, .. }
    ));
    assert!(matches!(
        err("embeddings_rank3.h5"),
        DataError::WrongRank { dataset: "embeddings", expected: 2, .. }
    ));
    assert!(matches!(err("labels_rank2.h5"), DataError::WrongRank { dataset: "labels", expected: 1, .. }));
}

#[test]
fn value_problems() {
    assert!(matches!(
        err("length_mismatch.h5"),
        DataError::LengthMismatch { n_rows: 12, n_labels: 10, origin: Origin::File(_) }
    ));
    let e = err("nan_row.h5");
    assert!(matches!(e, DataError::NonFinite { row: 3, col: 2, .. }), "{e}");
    assert!(e.to_string().contains("row 3"), "{e}");
    assert!(matches!(err("inf_row.h5"), DataError::NonFinite { row: 8, col: 4, .. }));
    assert!(matches!(err("negative_label.h5"), DataError::LabelOutOfRange { row: 4, label: -1, .. }));
    assert!(matches!(err("zero_rows.h5"), DataError::ZeroRows { .. }));
}

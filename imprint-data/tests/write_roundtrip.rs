//! Writing: round trips, atomic no-clobber, compression options, errors.

use std::path::PathBuf;

use imprint_data::{
    AttrValue, DataError, EmbeddingFile, Embeddings, SyntheticParams, WriteOptions, read_embeddings,
    write_embeddings,
};
use ndarray::Array2;

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imprint-data-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn round_trip_with_and_without_compression() {
    let dir = temp_dir("roundtrip");
    let data = SyntheticParams::new(3, 2, 17).n_train(50).generate(5).unwrap().train;
    for (i, level) in [None, Some(0), Some(4), Some(9)].into_iter().enumerate() {
        let path = dir.join(format!("nested/dir/f{i}.h5"));
        let options = WriteOptions::new()
            .deflate(level)
            .chunk_rows(16)
            .attribute("backbone", "synthetic")
            .attribute("seed", 5_i64)
            .attribute("spread", 0.25);
        write_embeddings(&path, &data, &options).unwrap();
        assert_eq!(read_embeddings(&path).unwrap(), data);
        let attrs = EmbeddingFile::open(&path).unwrap().attributes().unwrap();
        assert_eq!(attrs["backbone"], AttrValue::Text("synthetic".into()));
        assert_eq!(attrs["seed"], AttrValue::Int(5));
        assert_eq!(attrs["spread"], AttrValue::Float(0.25));
    }
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("nested/dir"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn never_overwrites_unless_asked() {
    let dir = temp_dir("clobber");
    let path = dir.join("e.h5");
    let one = Embeddings::new(Array2::from_elem((2, 3), 1.0), vec![0, 1]).unwrap();
    let two = Embeddings::new(Array2::from_elem((1, 3), 2.0), vec![4]).unwrap();
    write_embeddings(&path, &one, &WriteOptions::new()).unwrap();
    let e = write_embeddings(&path, &two, &WriteOptions::new()).unwrap_err();
    assert!(matches!(e, DataError::AlreadyExists { .. }));
    assert!(e.to_string().contains("e.h5"));
    assert_eq!(read_embeddings(&path).unwrap(), one);
    write_embeddings(&path, &two, &WriteOptions::new().overwrite(true)).unwrap();
    assert_eq!(read_embeddings(&path).unwrap(), two);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn single_row_and_label_range() {
    let dir = temp_dir("edge");
    let one = Embeddings::new(Array2::from_elem((1, 1), -0.5), vec![0]).unwrap();
    write_embeddings(dir.join("one.h5"), &one, &WriteOptions::new()).unwrap();
    assert_eq!(read_embeddings(dir.join("one.h5")).unwrap(), one);
    let huge = Embeddings::new(Array2::zeros((1, 2)), vec![usize::MAX]).unwrap();
    let e = write_embeddings(dir.join("huge.h5"), &huge, &WriteOptions::new()).unwrap_err();
    assert!(matches!(e, DataError::LabelOutOfRange { row: 0, .. }), "{e}");
    assert!(!dir.join("huge.h5").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn string_lists_and_string_datasets_round_trip() {
    let dir = temp_dir("strings");
    let path = dir.join("s.h5");
    let data = Embeddings::new(Array2::from_elem((3, 2), 0.5), vec![0, 1, 1]).unwrap();
    let names = vec!["ankle boot".to_owned(), "Käfer".to_owned()];
    let paths = vec!["a/1.png".to_owned(), "b/ü 2.jpg".to_owned(), String::new()];
    let options =
        WriteOptions::new().attribute("label_names", names.clone()).string_dataset("paths", paths.clone());
    write_embeddings(&path, &data, &options).unwrap();
    let file = EmbeddingFile::open(&path).unwrap();
    assert_eq!(file.attributes().unwrap()["label_names"], AttrValue::TextList(names));
    assert_eq!(file.read_strings("paths").unwrap(), paths);
    assert_eq!(file.read().unwrap(), data);
    let e = file.read_strings("missing").unwrap_err();
    assert!(matches!(e, DataError::MissingDataset { dataset: "missing", .. }), "{e}");
    assert_eq!(AttrValue::TextList(vec!["a".into(), "b\"".into()]).to_string(), r#"["a", "b\""]"#);

    // A string dataset may not replace the embeddings or the labels.
    let clash = WriteOptions::new().string_dataset("labels", vec!["x".into()]);
    let e = write_embeddings(dir.join("clash.h5"), &data, &clash).unwrap_err();
    assert!(matches!(e, DataError::Encode { .. }), "{e}");
    assert!(!dir.join("clash.h5").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

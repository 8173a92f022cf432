//! The bundled real data set under data/ loads through the public API.

use std::path::PathBuf;

use imprint_data::{AttrValue, EmbeddingFile, FewShot, SourceData, Split, TaskSpec, reference_path};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("data")
}

const BACKBONE: &str = "efficientnet_lite0";

#[test]
fn bundled_datasets_have_the_documented_shape() {
    for name in ["FashionMNIST", "MNIST5k", "Digits"] {
        let s = SourceData::load(root(), name, BACKBONE).unwrap();
        assert_eq!(s.train().dim(), 1280, "{name}");
        assert_eq!(s.train().n_samples(), 800, "{name}");
        assert_eq!(s.test().n_samples(), 300, "{name}");
        let train_counts = s.train().class_counts();
        assert_eq!(train_counts.keys().copied().collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
        assert!(train_counts.values().all(|&n| n == 80), "{name}");
        assert!(s.test().class_counts().values().all(|&n| n == 30), "{name}");
        let f = EmbeddingFile::open(reference_path(root(), name, BACKBONE, Split::Train)).unwrap();
        let attrs = f.attributes().unwrap();
        assert_eq!(attrs["backbone"], AttrValue::Text(BACKBONE.into()));
        assert_eq!(attrs["dataset"], AttrValue::Text(name.into()));
    }
}

#[test]
fn bundled_combidigits_style_task() {
    let sources: Vec<SourceData> =
        ["MNIST5k", "Digits"].iter().map(|n| SourceData::load(root(), n, BACKBONE).unwrap()).collect();
    let task = TaskSpec::new("combined").shots(FewShot::PerClass(20)).seed(17121997).build(&sources).unwrap();
    assert_eq!(task.n_classes(), 20);
    assert_eq!(task.test_labels().len(), 600);
    assert!(task.classes().iter().all(|c| c.n_train() == 20));
}

//! Task construction: offsets, mapping, split, presampling, and the errors naming classes.

use imprint_data::{DataError, Embeddings, FewShot, LabelMapping, SourceData, TaskSpec};
use ndarray::Array2;
use proptest::prelude::*;

/// A data set whose rows encode (dataset id, row): x[i] = [id, i].
fn source(name: &str, id: f32, train: &[usize], test: &[usize]) -> SourceData {
    let make = |labels: &[usize]| {
        let x = Array2::from_shape_fn((labels.len(), 2), |(i, j)| if j == 0 { id } else { i as f32 });
        Embeddings::new(x, labels.to_vec()).expect("valid test data")
    };
    SourceData::new(name, make(train), make(test)).expect("equal dims")
}

#[test]
fn single_dataset_all_classes() {
    let s = source("A", 0.0, &[2, 0, 1, 0, 2], &[0, 1, 2, 2]);
    let task = TaskSpec::new("t").build(&[s]).unwrap();
    assert_eq!(task.n_classes(), 3);
    assert_eq!(task.class_labels(), vec![0, 1, 2]);
    assert_eq!(task.classes()[0].train().column(1).to_vec(), vec![1.0, 3.0]);
    assert_eq!(task.test_labels(), &[0, 1, 2, 2]);
    let (x, y) = task.train_stacked();
    assert_eq!(x.nrows(), 5);
    assert_eq!(y, vec![0, 0, 1, 2, 2]);
}

#[test]
fn offsets_count_distinct_training_labels_and_mapping_merges() {
    // CombiDigits-like: B's labels become 3..5 because A has 3 distinct training labels.
    let a = source("A", 0.0, &[0, 1, 2, 1], &[0, 1, 2]);
    let b = source("B", 1.0, &[0, 1, 2], &[2, 1, 0]);
    let plain = TaskSpec::new("concat").build(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(plain.class_labels(), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(plain.classes()[3].train()[[0, 0]], 1.0);

    let merged = LabelMapping::from_groups(&[vec![0, 3], vec![1, 4]]).unwrap();
    let task = TaskSpec::new("merged").mapping(merged).build(&[a, b]).unwrap();
    assert_eq!(task.class_labels(), vec![0, 1]);
    assert_eq!(task.classes()[0].n_train(), 2); // A's 0 and B's 0
    assert_eq!(task.classes()[1].n_train(), 3); // A's two 1s and B's 1
    // Test rows of dropped labels (A's 2, B's 2 -> 5) are gone.
    assert_eq!(task.test_labels(), &[0, 1, 1, 0]);
}

#[test]
fn split_order_defines_class_indices() {
    let s = source("A", 0.0, &[0, 1, 2, 3], &[3, 2, 1, 0]);
    let task = TaskSpec::new("t").split(vec![3, 1]).build(&[s]).unwrap();
    assert_eq!(task.class_labels(), vec![3, 1]);
    assert_eq!(task.test_labels(), &[0, 1]);
    assert_eq!(task.train_of(0).unwrap()[[0, 1]], 3.0);
    assert!(task.train_of(2).is_none());
}

#[test]
fn errors_name_the_class_or_task() {
    let s = source("A", 0.0, &[0, 0, 1], &[0, 1, 2]);
    let e = TaskSpec::new("t").build(std::slice::from_ref(&s)).unwrap_err();
    assert!(matches!(&e, DataError::EmptyClass { label: 2, split: "train", .. }), "{e}");
    assert!(e.to_string().contains("class 2") && e.to_string().contains("`t`"), "{e}");

    let e = TaskSpec::new("t").split(vec![0, 7]).build(std::slice::from_ref(&s)).unwrap_err();
    assert!(matches!(e, DataError::EmptyClass { label: 7, split: "train", .. }));

    let e = TaskSpec::new("t")
        .mapping(LabelMapping::new([(9, 0)]).unwrap())
        .build(std::slice::from_ref(&s))
        .unwrap_err();
    assert!(matches!(e, DataError::InvalidSplit { .. } | DataError::EmptyTask { .. }), "{e}");

    let e = TaskSpec::new("t")
        .mapping(LabelMapping::new([(9, 0)]).unwrap())
        .split(vec![0])
        .build(std::slice::from_ref(&s))
        .unwrap_err();
    assert!(matches!(e, DataError::EmptyTask { split: "train", .. }), "{e}");

    let e = TaskSpec::new("t").split(vec![0, 0]).build(std::slice::from_ref(&s)).unwrap_err();
    assert!(matches!(e, DataError::InvalidSplit { .. }));
    let e = TaskSpec::new("t").split(vec![]).build(std::slice::from_ref(&s)).unwrap_err();
    assert!(matches!(e, DataError::InvalidSplit { .. }));

    let only_train = source("B", 0.0, &[0, 1], &[0, 0]);
    let e = TaskSpec::new("t").build(&[only_train]).unwrap_err();
    assert!(matches!(e, DataError::EmptyClass { label: 1, split: "test", .. }), "{e}");

    assert!(matches!(TaskSpec::new("t").build(&[]), Err(DataError::NoDatasets { .. })));

    let wide = SourceData::new(
        "W",
        Embeddings::new(Array2::zeros((1, 3)), vec![0]).unwrap(),
        Embeddings::new(Array2::zeros((1, 3)), vec![0]).unwrap(),
    )
    .unwrap();
    let e = TaskSpec::new("t").build(&[s, wide]).unwrap_err();
    assert!(matches!(e, DataError::DimMismatch { found: 3, expected: 2, .. }));
}

#[test]
fn presampling_is_seeded_per_class() {
    let labels: Vec<usize> = (0..60).map(|i| i % 3).collect();
    let s = source("A", 0.0, &labels, &[0, 1, 2]);
    let build = |seed| {
        TaskSpec::new("t").shots(FewShot::PerClass(4)).seed(seed).build(std::slice::from_ref(&s)).unwrap()
    };
    let a = build(1);
    assert_eq!(a, build(1));
    assert_ne!(a, build(2));
    for c in a.classes() {
        assert_eq!(c.n_train(), 4);
        assert_eq!(c.n_train_available(), 20);
    }
    // A class keeps the same shots when other classes leave the task.
    let only_two = TaskSpec::new("t")
        .shots(FewShot::PerClass(4))
        .seed(1)
        .split(vec![2])
        .build(std::slice::from_ref(&s))
        .unwrap();
    assert_eq!(only_two.classes()[0].train(), a.classes()[2].train());
}

proptest! {
    #[test]
    fn mapping_drops_unlisted_labels(
        labels in prop::collection::vec(0usize..8, 1..60),
        keep in prop::collection::btree_set(0usize..8, 1..8),
        shots in 1usize..10,
        seed: u64,
    ) {
        let s = source("A", 0.0, &labels, &labels);
        let mapping = LabelMapping::new(keep.iter().map(|&l| (l, l / 2))).unwrap();
        match TaskSpec::new("p").mapping(mapping.clone()).shots(FewShot::PerClass(shots)).seed(seed).build(&[s]) {
            Ok(task) => {
                let mut expected: Vec<usize> =
                    labels.iter().filter_map(|&l| mapping.get(l)).collect();
                expected.sort_unstable();
                expected.dedup();
                prop_assert_eq!(task.class_labels(), expected);
                let n_test = labels.iter().filter(|&&l| keep.contains(&l)).count();
                prop_assert_eq!(task.test_labels().len(), n_test);
                for c in task.classes() {
                    prop_assert_eq!(c.n_train(), shots.min(c.n_train_available()));
                }
            }
            Err(e) => {
                // Only possible when no listed label occurs at all.
                prop_assert!(labels.iter().all(|l| !keep.contains(l)), "{}", e);
            }
        }
    }
}

//! Writes the committed seed corpus of the fuzz targets, `fuzz/seeds/<target>/`:
//! `cargo run -p imprint-tests --example write_fuzz_seeds`. The replay test
//! `tests/fuzz_regressions.rs` runs every seed in CI; see `docs/fuzzing.md`.

#![allow(clippy::unwrap_used)] // a tool run by hand: a failure should stop it loudly

use std::fs;
use std::path::{Path, PathBuf};

use imprint_core::{Aggregation, Distance, ImprintedHead, InputNorm, Weighting, ZeroVectorPolicy};
use imprint_data::{Embeddings, WriteOptions, write_embeddings};
use ndarray::{Array2, array};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fuzz")
}

/// h5py-written fixtures of imprint-data (valid files, every error kind, the
/// layouts h5py writes), copied as they are.
const HDF5_FIXTURES: &[&str] = &[
    "appended.h5",
    "big_endian.h5",
    "chunked_gzip.h5",
    "contiguous.h5",
    "embeddings_f64.h5",
    "embeddings_group.h5",
    "embeddings_rank1.h5",
    "labels_float.h5",
    "labels_int64.h5",
    "latest_gzip.h5",
    "latest_v200.h5",
    "length_mismatch.h5",
    "missing_labels.h5",
    "nan_row.h5",
    "negative_label.h5",
    "not_hdf5.h5",
    "reference_style.h5",
    "truncated.h5",
    "zero_rows.h5",
];

/// Hostile or unusual configs, next to the presets and the bench fixtures.
const CONFIG_SEEDS: &[(&str, &str)] = &[
    ("minimal.yaml", r#"{"proxy_methods": ["mean"]}"#),
    (
        "block_style.yaml",
        "backbones:\n  - resnet18\nproxy_methods: [kmeans, all]\nks: [1, -1]\nms: [-1, 3]\n\
         aggregation_methods: [max, mnn]\naggregation_distance_functions: [cosine, euclidean]\n",
    ),
    (
        "pruning_rules.yaml",
        r#"{"proxy_methods": ["kmeans", "mean", "ls", "all", "kls"], "ks": [-1, 1, 5, 20],
"ms": [-1, 1, 7, 300], "aggregation_methods": ["max", "mnn"],
"aggregation_distance_functions": ["inner_product", "mahalanobis", "chebyshev"],
"aggregation_weightings": ["uniform", "weighted_by_distance"],
"presampling_methods": ["all", "weibull"], "presampling_quantiles_values": [[0, 1.0], [0.1, 0.9], [0, 1]],
"presampling_fewshot_values": [-1, 1, 3], "normalize_for_proxy_selection": ["none", "l2"],
"normalize_input_data": ["none", "l2"], "normalize_weights": ["none", "l2", "quantile"], "seeds": [0, 4294967295]}"#,
    ),
    (
        "random_remappings.yaml",
        r#"{"datasets": [["ImageNet"], ["MNIST"]], "label_remappings": {"RANDOM_CLASS_REMAPPINGS": {}, "p": {0: 1, 1: 0}},
"task_splits": {"a": [[0, 1], [2, 3]]}, "seeds": [1], "proxy_methods": ["mean"]}"#,
    ),
    ("comments_crlf.yaml", "# a comment\r\n{\"proxy_methods\": # cut here\r\n [\"mean\"]}\r\n"),
    (
        "yaml11_scalars.yaml",
        "{\"proxy_methods\": [\"mean\"], \"ks\": [yes, ~, .inf, .nan, 1e5, 0x10, 1_000, +3, -0.0]}",
    ),
    ("anchors.yaml", "a: &x [1]\nb: *x\nproxy_methods: !!seq [mean]\n"),
    (
        "deep_nesting.yaml",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]",
    ),
    ("duplicate_keys.yaml", "{\"proxy_methods\": [\"mean\"], \"proxy_methods\": [\"all\"]}"),
    ("unknown_key.yaml", "{\"proxy_method\": [\"mean\"]}"),
    ("wrong_types.yaml", "{\"proxy_methods\": \"mean\", \"seeds\": [-1, 1.5, \"x\"], \"ks\": {}}"),
    ("two_documents.yaml", "--- {\"proxy_methods\": [\"mean\"]}\n--- {}\n"),
    ("path_names.yaml", "{\"backbones\": [\"../x\", \"a/b\"], \"proxy_methods\": [\"mean\"]}"),
    ("empty.yaml", ""),
];

/// Writes `fuzz/seeds/<target>/`; run by hand when the corpus should change,
/// then commit the result.
fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let seeds = fuzz_dir().join("seeds");

    // hdf5_embeddings: h5py fixtures, plus files written by this library.
    let dir = seeds.join("hdf5_embeddings");
    fs::create_dir_all(&dir).unwrap();
    for name in HDF5_FIXTURES {
        fs::copy(root.join("imprint-data/tests/fixtures").join(name), dir.join(format!("h5py_{name}")))
            .unwrap();
    }
    let data = Embeddings::new(
        Array2::from_shape_fn((5, 4), |(i, j)| (i * 4 + j) as f32 * 0.25 - 1.0),
        vec![0, 1, 2, 1, 0],
    )
    .unwrap();
    let written = [
        (
            "written_gzip_attrs.h5",
            WriteOptions::new()
                .chunk_rows(2)
                .attribute("backbone", "efficientnet_lite0")
                .attribute("n_images", 5i64)
                .attribute("scale", 0.5f64),
        ),
        ("written_uncompressed.h5", WriteOptions::new().deflate(None).chunk_rows(3)),
    ];
    for (name, options) in written {
        write_embeddings(dir.join(name), &data, &options.overwrite(true)).unwrap();
    }
    let one = Embeddings::new(array![[1.5f32]], vec![7]).unwrap();
    write_embeddings(dir.join("written_one_value.h5"), &one, &WriteOptions::new().overwrite(true)).unwrap();

    // config: the presets, the bench fixtures and the hostile texts above.
    let dir = seeds.join("config");
    fs::create_dir_all(&dir).unwrap();
    for (from, prefix) in
        [("imprint-bench/presets", "preset_"), ("imprint-compat/tests/fixtures", "fixture_")]
    {
        for entry in fs::read_dir(root.join(from)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let name = path.file_name().unwrap().to_str().unwrap();
                fs::copy(&path, dir.join(format!("{prefix}{name}"))).unwrap();
            }
        }
    }
    for (name, text) in CONFIG_SEEDS {
        fs::write(dir.join(name), text).unwrap();
    }
    fs::write(dir.join("not_utf8.yaml"), b"{\"proxy_methods\": [\"m\xffan\"]}").unwrap();

    // saved_head: heads saved by the library, one per inference setting.
    let dir = seeds.join("saved_head");
    fs::create_dir_all(&dir).unwrap();
    let save = |name: &str, head: &ImprintedHead| {
        let mut buf = Vec::new();
        head.save_json(&mut buf).unwrap();
        fs::write(dir.join(name), buf).unwrap();
    };
    let mut two = ImprintedHead::new(2).unwrap();
    two.add_class("cat", array![[1.0f32, 0.0]].view()).unwrap();
    two.add_class("dog", array![[0.0f32, 1.0], [-1.0, 0.0]].view()).unwrap();
    save("max_inner_product.json", &two);
    for distance in [
        Distance::Cosine,
        Distance::Euclidean,
        Distance::Manhattan,
        Distance::Chebyshev,
        Distance::Mahalanobis,
    ] {
        let mut head = two.clone();
        head.set_aggregation(Aggregation::Max { distance });
        save(&format!("max_{}.json", distance.name()), &head);
        head.set_input_norm(InputNorm::L2(ZeroVectorPolicy::KeepZero));
        head.set_aggregation(Aggregation::mnn(2, distance, Weighting::InverseDistance).unwrap());
        save(&format!("mnn2_{}_l2.json", distance.name()), &head);
    }
    let mut wide = ImprintedHead::with_inference(
        5,
        InputNorm::L2(ZeroVectorPolicy::Reject),
        Aggregation::mnn(3, Distance::Euclidean, Weighting::Uniform).unwrap(),
    )
    .unwrap();
    wide.add_class("zero", Array2::zeros((1, 5)).view()).unwrap();
    wide.add_class("tiny", array![[1e-38f32, -3e38, 0.1, 1.0 / 3.0, 7.0]].view()).unwrap();
    save("mnn3_euclidean_extreme_values.json", &wide);
    save("empty_head.json", &ImprintedHead::new(3).unwrap());
    let text = {
        let mut buf = Vec::new();
        two.save_json(&mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    };
    let hand: &[(&str, String)] = &[
        ("future_version.json", text.replace("\"version\":1", "\"version\":2")),
        ("short_row.json", text.replace("[1.0,0.0]", "[1.0]")),
        ("duplicate_class.json", text.replace("\"dog\"", "\"cat\"")),
        ("overflow_value.json", text.replace("[1.0,0.0]", "[1e39,0.0]")),
        ("unknown_field.json", text.replace("\"dim\":2", "\"dim\":2,\"bias\":[0]")),
        ("empty_class.json", text.replace("[[0.0,1.0],[-1.0,0.0]]", "[]")),
        (
            "zero_m.json",
            text.replace("{\"method\":\"max\"", "{\"method\":\"mnn\",\"m\":0,\"weighting\":\"uniform\""),
        ),
        ("truncated.json", text[..text.len() / 2].to_owned()),
    ];
    for (name, body) in hand {
        assert_ne!(body, &text, "{name}");
        fs::write(dir.join(name), body).unwrap();
    }

    // classifier: practitioner heads in every form, and broken copies of one.
    let dir = seeds.join("classifier");
    fs::create_dir_all(&dir).unwrap();
    let x = Array2::from_shape_fn((24, 4), |(i, j)| {
        ((i * 5 + j * 3) % 7) as f32 + if j == i % 3 { 4.0 } else { 0.0 }
    });
    let y: Vec<i64> = (0..24).map(|i| (i % 3) as i64).collect();
    let mut heads = Vec::new();
    for (name, spec, post) in [
        (
            "kmeans",
            imprint::GeneratorSpec::new("kmeans", Some(2)),
            imprint::WeightNorm::L2(ZeroVectorPolicy::Reject),
        ),
        ("mean_quantile", imprint::GeneratorSpec::new("mean", None), imprint::WeightNorm::Quantile),
        ("all_none", imprint::GeneratorSpec::new("all", None), imprint::WeightNorm::None),
        (
            "ls",
            imprint::GeneratorSpec::oracle("ls", None, 0.1),
            imprint::WeightNorm::L2(ZeroVectorPolicy::Reject),
        ),
    ] {
        let recipe = imprint::Recipe::paper().with_generator(spec).with_post_norm(post);
        let mut head = imprint::Classifier::fit(recipe, x.view(), &y).unwrap();
        head.calibrate_rejection(x.view(), &y, 0.9, 3).unwrap();
        head.calibrate_temperature(x.view(), &y).unwrap();
        fs::write(dir.join(format!("{name}.safetensors")), head.to_bytes().unwrap()).unwrap();
        heads.push(head);
    }
    let strings = imprint::Classifier::fit(
        imprint::Recipe::paper().with_generator(imprint::GeneratorSpec::new("mean", None)),
        x.view(),
        &y.iter().map(|l| format!("class {l}")).collect::<Vec<_>>(),
    )
    .unwrap();
    fs::write(dir.join("string_labels.safetensors"), strings.to_bytes().unwrap()).unwrap();
    fs::write(dir.join("kmeans_int8.safetensors"), heads[0].to_int8_bytes().unwrap()).unwrap();
    fs::write(dir.join("kmeans.json"), heads[0].to_json().unwrap()).unwrap();
    let empty = imprint::Classifier::new(imprint::Recipe::paper(), 3).unwrap();
    fs::write(dir.join("empty.safetensors"), empty.to_bytes().unwrap()).unwrap();
    let bytes = heads[0].to_bytes().unwrap();
    fs::write(dir.join("truncated.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let mut huge_header = bytes.clone();
    huge_header[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    fs::write(dir.join("huge_header.safetensors"), huge_header).unwrap();
    let json = heads[0].to_json().unwrap();
    for (name, from, to) in [
        ("future_version.json", "\"version\":2", "\"version\":9"),
        ("wrong_dim.json", "\"dim\":4", "\"dim\":5"),
        (
            "bad_counts.json",
            "\"proxy_counts\":{\"shape\":[3],\"dtype\":\"I64\",\"data\":[2",
            "\"proxy_counts\":{\"shape\":[3],\"dtype\":\"I64\",\"data\":[9",
        ),
    ] {
        assert!(json.contains(from), "{name}: {from}");
        fs::write(dir.join(name), json.replacen(from, to, 1)).unwrap();
    }
}

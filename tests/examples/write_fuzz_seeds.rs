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

/// CSV input files of the command line: every layout it reads, then one file
/// per error it reports.
const CSV_SEEDS: &[(&str, &[u8])] = &[
    ("labels_last.csv", b"f0,f1,label\n0.5,-1.25,cat\n1e-3,2,dog\n"),
    ("bom_crlf_labels_first.csv", b"\xef\xbb\xbflabel,a,b\r\n1,0.5,0.25\r\n2,1,-1\r\n"),
    ("no_labels_no_final_newline.csv", b"a,b,c\n1,2,3\n4,5,6"),
    ("quoted_fields.csv", b"\"x, y\",z,label\n\"1\",2,\"a \"\"quoted\"\", label\"\n3,4,\"two\nlines\"\n"),
    ("blank_lines_and_spaces.csv", b"\n a , b ,label\n\n 1 , 2 , x \n\n3,\t4\t,y\n\n"),
    ("integer_labels.csv", b"a,label\n1,0\n2,-1\n3,07\n"),
    ("extreme_values.csv", b"a,b,label\n1e-45,3.4028235e38,x\n-0,.5,y\n+7,-1E+2,x\n"),
    ("unicode_names.csv", "\u{3b1},\u{3b2},label\n1,2,\u{e9}t\u{e9}\n\u{a0}3\u{a0},4,\u{732b}\n".as_bytes()),
    ("cr_only.csv", b"a,label\r1,x\r2,y\r"),
    ("ragged_row.csv", b"a,b,label\n1,2,x\n3,y\n"),
    ("empty_cell.csv", b"a,b\n1,2\n3,\n"),
    ("not_a_number.csv", b"a,b,label\n1,2,x\n3,abc,y\n"),
    ("nan.csv", b"a,b\n1,2\nnan,1\n"),
    ("infinity.csv", b"a,b\n-inf,2\n"),
    ("outside_float32.csv", b"a,b\n1e40,2\n"),
    ("empty_label.csv", b"x,label\n1,\n"),
    ("invalid_utf8.csv", b"x,y\n1,\xff\n"),
    ("invalid_utf8_header.csv", b"x,\xfe\n1,2\n"),
    ("two_label_columns.csv", b"label,x,label\n1,2,3\n"),
    ("only_a_label_column.csv", b"label\ncat\n"),
    ("header_only.csv", b"a,b,label\n"),
    ("blank_header.csv", b" , ,\n1,2,3\n"),
    ("double_bom.csv", b"\xef\xbb\xbf\xef\xbb\xbfa,b\n1,2\n"),
    ("unterminated_quote.csv", b"a,b\n1,\"2\n3,4\n"),
    ("empty.csv", b""),
];

/// Text label files (`--labels FILE.txt`): integers, strings, and each error.
const LABEL_SEEDS: &[(&str, &[u8])] = &[
    ("integers.txt", b"3\n-1\n3\n0\n"),
    ("names_crlf_spaces.txt", b"cat\r\ndog\r\n  bird  \r\n"),
    ("no_final_newline.txt", b"a\nb"),
    ("not_quite_integers.txt", b"1\n07\n+2\n"),
    ("trailing_blanks.txt", b"a\nb\n   "),
    ("unicode.txt", "\u{fc}n\u{ef}\n\u{30b3}\u{30fc}\u{30c9}\n\u{a0}x\u{2003}\n".as_bytes()),
    ("beyond_i64.txt", b"9223372036854775808\n1\n"),
    ("empty_line.txt", b"a\n\nb\n"),
    ("two_final_newlines.txt", b"a\nb\n\n"),
    ("only_a_newline.txt", b"\n"),
    ("white_space.txt", b" \t\n"),
    ("invalid_utf8.txt", b"a\nb\xff\n"),
    ("empty.txt", b""),
];

/// A `.npy` file of format version `major` with `header` (padded as NumPy
/// pads it) and `data`.
fn npy_file(major: u8, header: &str, data: &[u8]) -> Vec<u8> {
    let prefix = if major == 1 { 10 } else { 12 };
    let mut h = header.to_string();
    while !(prefix + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([major, 0]);
    if major == 1 {
        out.extend(u16::try_from(h.len()).unwrap().to_le_bytes());
    } else {
        out.extend(u32::try_from(h.len()).unwrap().to_le_bytes());
    }
    out.extend(h.as_bytes());
    out.extend(data);
    out
}

/// `.npy` files as NumPy writes them: matrices and label vectors of every
/// dtype the command line reads, then damaged and unsupported ones.
fn npy_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let hdr = |descr: &str, fortran: bool, shape: &str| {
        let order = if fortran { "True" } else { "False" };
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}")
    };
    let f4 = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let f8 = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let m: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
    let mut fortran = Vec::new();
    for j in 0..4 {
        for i in 0..3 {
            fortran.push(m[i * 4 + j]);
        }
    }
    let be: Vec<u8> = m.iter().flat_map(|x| x.to_be_bytes()).collect();
    let wide: Vec<f64> = m.iter().map(|&x| f64::from(x)).collect();
    let unicode: Vec<u8> = "cat\0\0dog\u{e9}\0".chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
    let mut nan = m.clone();
    nan[6] = f32::NAN;
    let mut fortran_inf = fortran.clone();
    fortran_inf[1] = f32::INFINITY;
    vec![
        ("f4_c_3x4.npy", npy_file(1, &hdr("<f4", false, "(3, 4)"), &f4(&m))),
        ("f4_fortran_3x4.npy", npy_file(1, &hdr("<f4", true, "(3, 4)"), &f4(&fortran))),
        ("f8_c_3x4_v2.npy", npy_file(2, &hdr("<f8", false, "(3, 4)"), &f8(&wide))),
        (
            "f4_big_endian_v3.npy",
            npy_file(3, "{\"descr\": \">f4\", \"fortran_order\": False, \"shape\": (3,4)}", &be),
        ),
        (
            "python2_long_shape.npy",
            npy_file(1, "{ 'descr':'<f4' ,'fortran_order' :False,'shape':( 1L ,2L ) }", &f4(&[1.0, 2.0])),
        ),
        (
            "labels_i8.npy",
            npy_file(1, &hdr("<i8", false, "(3,)"), &[3i64, -1, 7].map(i64::to_le_bytes).concat()),
        ),
        ("labels_u1.npy", npy_file(1, &hdr("|u1", false, "(2,)"), &[200, 1])),
        (
            "labels_i2_big_endian.npy",
            npy_file(1, &hdr(">i2", false, "(2,)"), &[-300i16, 5].map(i16::to_be_bytes).concat()),
        ),
        ("labels_unicode.npy", npy_file(1, &hdr("<U5", false, "(2,)"), &unicode)),
        ("labels_bytes.npy", npy_file(1, &hdr("|S3", false, "(2,)"), b"ab\0xyz")),
        ("labels_u8_beyond_i64.npy", npy_file(1, &hdr("<u8", false, "(1,)"), &u64::MAX.to_le_bytes())),
        ("labels_empty_string.npy", npy_file(1, &hdr("|S2", false, "(2,)"), b"ab\0\0")),
        ("labels_bad_code_point.npy", npy_file(1, &hdr("<U1", false, "(1,)"), &0xD800u32.to_le_bytes())),
        ("nan_at_row_1.npy", npy_file(1, &hdr("<f4", false, "(3, 4)"), &f4(&nan))),
        ("fortran_inf.npy", npy_file(1, &hdr("<f4", true, "(3, 4)"), &f4(&fortran_inf))),
        ("f8_outside_float32.npy", npy_file(1, &hdr("<f8", false, "(1, 2)"), &f8(&[1.0, 1e300]))),
        ("truncated_data.npy", npy_file(1, &hdr("<f4", false, "(3, 4)"), &f4(&m[..11]))),
        ("bytes_after_data.npy", npy_file(1, &hdr("<f4", false, "(2, 2)"), &f4(&m[..5]))),
        ("no_rows.npy", npy_file(1, &hdr("<f4", false, "(0, 4)"), &[])),
        ("rank_3.npy", npy_file(1, &hdr("<f4", false, "(1, 2, 2)"), &f4(&m[..4]))),
        ("object_dtype.npy", npy_file(1, &hdr("|O", false, "(1, 1)"), &[0; 8])),
        (
            "structured_dtype.npy",
            npy_file(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", &[0; 4]),
        ),
        ("huge_shape_no_data.npy", npy_file(1, &hdr("<f4", false, "(99999999999, 99999)"), &[])),
        ("deep_nesting.npy", npy_file(1, &format!("{}{}", "(".repeat(20), ")".repeat(20)), &[])),
        ("version_9.npy", {
            let mut b = npy_file(1, &hdr("<f4", false, "(1, 1)"), &[0; 4]);
            b[6] = 9;
            b
        }),
        ("truncated_header.npy", npy_file(1, &hdr("<f4", false, "(3, 4)"), &f4(&m))[..40].to_vec()),
        ("not_npy.npy", b"PK\x03\x04 a zip archive, maybe an npz".to_vec()),
    ]
}

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
    wide.add_class("tiny", array![[1e-38f32, -3e18, 0.1, 1.0 / 3.0, 7.0]].view()).unwrap();
    // A proxy of norm 3e38 overflows scores, and `add_class` refuses it; the
    // seed holds one, for the loader to refuse.
    let mut buf = Vec::new();
    wide.save_json(&mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert!(text.contains(",-3e+18,"), "{text}");
    fs::write(dir.join("mnn3_euclidean_extreme_values.json"), text.replace(",-3e+18,", ",-3e+38,")).unwrap();
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
    // Encodings that a test of the first byte mistakes: a safetensors header
    // padded to 31,520 bytes, whose length starts with the bytes ` {`, and
    // JSON text after a byte order mark and a blank line.
    let header_len = usize::try_from(u64::from_le_bytes(bytes[..8].try_into().unwrap())).unwrap();
    let mut padded = 31_520u64.to_le_bytes().to_vec();
    padded.extend(&bytes[8..8 + header_len]);
    padded.resize(8 + 31_520, b' ');
    padded.extend(&bytes[8 + header_len..]);
    assert_eq!(&padded[..2], b" {");
    fs::write(dir.join("header_length_starts_like_json.safetensors"), padded).unwrap();
    let json = heads[0].to_json().unwrap();
    fs::write(dir.join("bom_blank_line.json"), [&b"\xef\xbb\xbf\r\n"[..], json.as_bytes()].concat()).unwrap();
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

    // cli_csv, cli_npy, cli_labels: the command line's input files.
    for (target, files) in [
        ("cli_csv", CSV_SEEDS.iter().map(|(n, b)| (*n, b.to_vec())).collect::<Vec<_>>()),
        ("cli_npy", npy_seeds()),
        ("cli_labels", LABEL_SEEDS.iter().map(|(n, b)| (*n, b.to_vec())).collect()),
    ] {
        let dir = seeds.join(target);
        fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in files {
            fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

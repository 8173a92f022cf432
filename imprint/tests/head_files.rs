//! Saved heads: the encoding is decided by a real parse, every head the
//! library encodes decodes to itself in both encodings, and crafted heads
//! that would give infinite scores or NaN probabilities are refused.

#![allow(clippy::unwrap_used)] // test code: a failure should stop the test loudly

use imprint::{ClassLabel, Classifier, GeneratorSpec, HeadEncoding, InputNorm, Recipe, WeightNorm};
use ndarray::{Array2, s};
use proptest::prelude::*;

fn rows(n: usize, dim: usize, seed: u64) -> Array2<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    Array2::from_shape_fn((n, dim), |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 2000) as f32 / 1000.0 - 1.0
    })
}

fn header_len(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().unwrap())
}

fn head_with_label(label: &str) -> Classifier {
    let x = rows(6, 4, 3);
    let y = [label, label, label, "b", "b", "b"];
    Classifier::fit(Recipe::paper().with_generator(GeneratorSpec::new("mean", None)), x.view(), &y).unwrap()
}

/// Safetensors heads whose length bytes read as white space and `{`
/// (31,520 = `20 7B 00 ..`, 97,056 = `20 7B 01 ..`) are safetensors.
#[test]
fn length_bytes_that_look_like_json_do_not_fool_the_detection() {
    for target in [31_520u64, 97_056] {
        let mut len = target as usize / 2;
        let bytes = loop {
            let bytes = head_with_label(&"a".repeat(len)).to_bytes().unwrap();
            let got = header_len(&bytes);
            if got == target {
                break bytes;
            }
            len = (len as i64 + target as i64 - got as i64) as usize;
        };
        assert_eq!(bytes[0], b' ');
        assert_eq!(bytes[1], b'{');
        assert_eq!(HeadEncoding::of_bytes(&bytes).unwrap(), HeadEncoding::Safetensors);
        let back = Classifier::decode(&bytes).unwrap();
        assert_eq!(back, Classifier::from_bytes(&bytes).unwrap());
        assert_eq!(back.classes()[0], ClassLabel::from("a".repeat(len)));
    }
}

#[test]
fn the_same_head_always_gives_the_same_bytes() {
    let head = head_with_label("cat");
    let first = head.to_bytes().unwrap();
    for _ in 0..20 {
        assert_eq!(head.to_bytes().unwrap(), first);
        assert_eq!(head.encode(HeadEncoding::Safetensors).unwrap(), first);
    }
    let back = Classifier::decode(&first).unwrap();
    assert_eq!(back.to_bytes().unwrap(), first);
    assert_eq!(head.to_int8_bytes().unwrap(), head.to_int8_bytes().unwrap());
}

#[test]
fn json_text_loads_with_a_byte_order_mark_and_white_space_and_anything_else_is_refused() {
    let head = head_with_label("cat");
    let json = head.to_json().unwrap();
    for text in [json.clone(), format!("\u{feff}{json}"), format!(" \n\t{json}"), format!("\u{feff}  {json}")]
    {
        assert_eq!(HeadEncoding::of_bytes(text.as_bytes()).unwrap(), HeadEncoding::Json);
        assert_eq!(Classifier::decode(text.as_bytes()).unwrap(), head);
        assert_eq!(Classifier::load(text.as_bytes()).unwrap(), head);
    }
    assert_eq!(Classifier::from_json(&format!("\u{feff}{json}")).unwrap(), head);
    for (bytes, needle) in [
        (&b""[..], "too few"),
        (b"{}", "not a valid JSON head"),
        (b"not a head at all", "neither safetensors"),
        (&[0xff; 64], "neither safetensors"),
        (&[16, 0, 0, 0, 0, 0, 0, 0, b'{', b'}'], "neither safetensors"),
    ] {
        let err = Classifier::decode(bytes).unwrap_err().to_string();
        assert!(err.contains(needle), "{bytes:?}: {err}");
    }
    let err = Classifier::decode(b"\xef\xbb\xbf{\xff\xfe}").unwrap_err().to_string();
    assert!(err.contains("invalid UTF-8"), "{err}");
}

fn edit_json(head: &Classifier, edit: impl Fn(&mut serde_json::Value)) -> String {
    let mut value: serde_json::Value = serde_json::from_str(&head.to_json().unwrap()).unwrap();
    edit(&mut value);
    value.to_string()
}

#[test]
fn crafted_values_that_would_overflow_scores_are_refused() {
    let head = head_with_label("cat");
    let huge = edit_json(&head, |v| {
        for x in v["tensors"]["proxies"]["data"].as_array_mut().unwrap() {
            *x = serde_json::json!(x.as_f64().unwrap() * 1e30);
        }
    });
    let err = Classifier::from_json(&huge).unwrap_err().to_string();
    assert!(err.contains("L2 norm"), "{err}");
    for t in [1e-45, 1e-7, 1e7, 0.0, -1.0] {
        let cold = edit_json(&head, |v| v["header"]["calibration"]["temperature"] = serde_json::json!(t));
        let err = Classifier::from_json(&cold).unwrap_err().to_string();
        assert!(err.contains("temperature"), "{t}: {err}");
    }
    // int8 exports: scales large enough that int8 * scale overflows.
    let int8 = head.to_int8_bytes().unwrap();
    let loaded = Classifier::from_bytes(&int8).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&loaded.to_json().unwrap()).unwrap();
    json["tensors"]["proxies"]["data"] =
        serde_json::json!(vec![3.0e38f32; json["tensors"]["proxies"]["data"].as_array().unwrap().len()]);
    let err = Classifier::from_json(&json.to_string()).unwrap_err().to_string();
    assert!(err.contains("L2 norm"), "{err}");
}

#[test]
fn rows_too_large_for_float32_scores_are_an_error_naming_the_row() {
    let recipe = Recipe::paper()
        .with_generator(GeneratorSpec::new("mean", None))
        .with_pre_norm(InputNorm::None)
        .with_post_norm(WeightNorm::None)
        .with_input_norm(InputNorm::None);
    let x = rows(6, 4, 5) + 5.0;
    let head = Classifier::fit(recipe.clone(), x.view(), &[0i64, 0, 0, 1, 1, 1]).unwrap();
    let mut queries = x.clone();
    // Finite, but its products with proxies near 5 are not.
    queries.slice_mut(s![2, ..]).fill(3e38);
    for err in [
        head.scores(queries.view()).unwrap_err(),
        head.predict_proba(queries.view()).unwrap_err(),
        head.top_k(queries.view(), 1).unwrap_err(),
        head.knownness(queries.view()).unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(text.contains("too large for float32") && text.contains("row 2"), "{text}");
    }
    // Shots that large make proxies no score can use: refused when imprinted.
    let err = Classifier::fit(recipe, x.mapv(|v| v * 1e30).view(), &[0i64, 0, 0, 1, 1, 1]).unwrap_err();
    assert!(err.to_string().contains("L2 norm"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Any head the library encodes decodes to itself, in both encodings,
    /// whatever its labels; `encode` checks exactly that.
    #[test]
    fn every_encoded_head_decodes_to_itself(
        labels in prop::collection::vec(any::<String>(), 1..4),
        long in 0usize..40_000,
        generator in prop::sample::select(vec!["mean", "kmeans", "all", "random", "ls"]),
        seed in any::<u64>(),
    ) {
        let mut labels: Vec<String> = labels;
        labels[0].push_str(&"x".repeat(long));
        labels.sort();
        labels.dedup();
        let n_per = 3;
        let x = rows(labels.len() * n_per, 5, seed);
        let y: Vec<&str> = (0..x.nrows()).map(|i| labels[i / n_per].as_str()).collect();
        let spec = if generator == "ls" {
            GeneratorSpec::oracle("ls", None, 0.05)
        } else {
            GeneratorSpec::new(generator, Some(2))
        };
        let head = Classifier::fit(Recipe::paper().with_generator(spec), x.view(), &y).unwrap();
        for encoding in [HeadEncoding::Safetensors, HeadEncoding::Json] {
            let bytes = head.encode(encoding).unwrap();
            prop_assert_eq!(HeadEncoding::of_bytes(&bytes).unwrap(), encoding);
            prop_assert!(Classifier::decode(&bytes).unwrap() == head);
        }
    }
}

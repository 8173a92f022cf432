//! Labels that anyone may have written, through every output of the binary:
//! human-readable text shows control, bidirectional and invisible characters
//! escaped and never panics on a label's length; CSV and JSON keep labels
//! exact; `--spreadsheet-safe` guards label cells against formulas; an
//! `--unknown-label` may not read as a class.

#![allow(clippy::unwrap_used)] // test code: a failure should stop the test loudly

mod common;

use std::path::{Path, PathBuf};

use common::*;
use proptest::prelude::*;
use serde_json::Value;

/// Characters that must never reach a terminal raw (decided here, apart from
/// the binary's own list): every `Cc` character but the newline that ends
/// lines, the bidirectional marks, embeddings, overrides and isolates, and
/// the line and paragraph separators.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

fn assert_clean(what: &str, text: &str) {
    let raw = raw_controls(text);
    assert!(raw.is_empty(), "{what} prints raw {raw:?}:\n{}", text.escape_debug());
}

/// Writes string labels as a NumPy `<U` vector (which holds any character but NUL).
fn write_npy_text_labels(path: &Path, labels: &[String]) {
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1).max(1);
    let mut bytes = npy_header(&format!("<U{width}"), false, &[labels.len()]);
    for l in labels {
        let n = l.chars().count();
        bytes.extend(l.chars().flat_map(|c| u32::from(c).to_le_bytes()));
        bytes.extend(std::iter::repeat_n(0u8, 4 * (width - n)));
    }
    std::fs::write(path, bytes).unwrap();
}

/// Writes a CSV file (columns `f0..`, `label`) with every label quoted as CSV needs.
fn write_quoted_csv(path: &Path, x: &ndarray::Array2<f32>, labels: &[String]) {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = (0..x.ncols()).map(|j| format!("f{j}")).collect();
    header.push("label".into());
    w.write_record(&header).unwrap();
    for (row, l) in x.outer_iter().zip(labels) {
        let mut cells: Vec<String> = row.iter().map(f32::to_string).collect();
        cells.push(l.clone());
        w.write_record(&cells).unwrap();
    }
    std::fs::write(path, w.into_inner().unwrap()).unwrap();
}

/// Rows of `names.len()` classes (`n_per` each) in `dir`: `x.npy` and `y.npy`
/// (the names as string labels), and the head `fit` makes of them.
fn text_head(dir: &Path, names: &[String], n_per: usize, extra: &[&str]) -> (PathBuf, PathBuf, PathBuf) {
    let (x, y) = toy(names.len(), n_per, names.len().max(4));
    let (xs, ys, head) = (dir.join("x.npy"), dir.join("y.npy"), dir.join("h.safetensors"));
    write_npy(&xs, &x);
    write_npy_text_labels(&ys, &y.iter().map(|&c| names[c].clone()).collect::<Vec<_>>());
    let mut args = vec!["fit".to_string(), "--train".into(), s(&xs), "--labels".into(), s(&ys)];
    args.extend(["--out".into(), s(&head), "--generator".into(), "mean".into(), "--force".into()]);
    args.extend(extra.iter().map(|a| a.to_string()));
    ok(dir, &args);
    (head, xs, ys)
}

/// The label cells (columns `label` or `label_K`) of predictions CSV.
fn csv_labels(text: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let columns: Vec<usize> = (0..header.len()).filter(|&i| header[i].starts_with("label")).collect();
    reader
        .records()
        .flat_map(|r| columns.iter().map(|&i| r.as_ref().unwrap()[i].to_string()).collect::<Vec<_>>())
        .collect()
}

#[test]
fn an_unknown_label_that_reads_as_a_class_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Integer classes 0, 1, 2: `--unknown-label 2` would write rejected rows as class 2.
    let (x, y) = toy(3, 12, 6);
    let train = d.join("train.h5");
    write_h5(&train, &x, &y);
    let head = d.join("int.safetensors");
    ok(d, &["fit", "--train", &s(&train), "--out", &s(&head)]);
    let predict = |head: &Path, input: &Path, extra: &[&str]| {
        let mut args = vec!["predict".to_string(), "--head".into(), s(head), "--input".into(), s(input)];
        args.extend(extra.iter().map(|a| a.to_string()));
        imprint_in(d, &args)
    };
    for format in ["csv", "jsonl"] {
        let run = predict(&head, &train, &["--reject", "--unknown-label", "2", "--format", format]);
        assert_eq!(run.code, Some(2), "{}", run.stderr);
        assert!(run.stderr.contains("integer class labelled '2'"), "{}", run.stderr);
        assert!(run.stderr.contains("--unknown-label"), "{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stdout.is_empty());
    }
    // Another spelling is another label; without --reject the marker is unused.
    assert!(predict(&head, &train, &["--reject", "--unknown-label", "02"]).ok());
    assert!(predict(&head, &train, &["--unknown-label", "2"]).ok());

    // Text classes: the label "7" (a string, from NumPy strings) is refused the same way.
    let names: Vec<String> = ["7", "cat"].iter().map(|n| n.to_string()).collect();
    let (text, xs, _) = text_head(d, &names, 6, &[]);
    let run = predict(&text, &xs, &["--reject", "--unknown-label", "7"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("text class labelled '7'"), "{}", run.stderr);
    assert!(predict(&text, &xs, &["--reject", "--unknown-label", "dog"]).ok());
}

#[test]
fn labels_longer_than_the_formatter_pads_print_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let long = "L".repeat(70_000);
    let names = [long.clone(), "b".to_string()];
    let (x, y) = toy(2, 6, 4);
    let csv = d.join("long.csv");
    write_quoted_csv(&csv, &x, &y.iter().map(|&c| names[c].clone()).collect::<Vec<_>>());
    let head = d.join("h.safetensors");
    ok(d, &["fit", "--train", &s(&csv), "--out", &s(&head), "--generator", "mean"]);

    let inspect = ok(d, &["inspect", &s(&head)]);
    let lines: Vec<&str> = inspect.stdout.lines().collect();
    let long_line = lines.iter().find(|l| l.starts_with("LLL")).unwrap();
    assert!(long_line.starts_with(&format!("{long}  ")), "the long label is printed whole");
    // The short label's column is padded to the widest the tables pad (65,535).
    let short = lines.iter().find(|l| l.starts_with("b ")).unwrap();
    assert_eq!(short.find(|c| c != 'b' && c != ' '), Some(65_535 + 2 + 8 - 1), "{}", &short[65_530..]);

    let eval = ok(d, &["eval", "--head", &s(&head), "--test", &s(&csv)]);
    assert!(eval.stdout.contains("accuracy  100.00 %"), "{}", &eval.stdout[..200]);
    assert_eq!(eval.stdout.matches(long.as_str()).count(), 2, "F1 table and confusion row");
    let json = json(&ok(d, &["eval", "--head", &s(&head), "--test", &s(&csv), "--json"]));
    assert_eq!(json["classes"][0], Value::String(long));
}

#[test]
fn human_readable_outputs_escape_controls_and_machine_outputs_keep_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names: Vec<String> = [
        "osc\u{1b}]0;pwned\u{7}title",
        "red\u{1b}[31mtext",
        "nul\0byte",
        "\u{202e}fdp.exe",
        "iso\u{2066}late\u{2069}",
        "c1\u{9b}2J",
        "del\u{7f}x",
        "line\nbreak",
        "tab\tin",
        "é 猫 👨\u{200d}👩",
    ]
    .iter()
    .map(|n| n.to_string())
    .collect();
    let (x, y) = toy(names.len(), 6, 12);
    let labels: Vec<String> = y.iter().map(|&c| names[c].clone()).collect();
    let csv = d.join("hostile.csv");
    write_quoted_csv(&csv, &x, &labels);
    let head = d.join("h.safetensors");
    let fit = ok(d, &["fit", "--train", &s(&csv), "--out", &s(&head), "--generator", "mean"]);
    assert_clean("fit's summary", &fit.stderr);

    let inspect = ok(d, &["inspect", &s(&head)]);
    assert_clean("inspect", &inspect.stdout);
    assert!(inspect.stdout.contains("osc\\u{1b}]0;pwned\\u{7}title "), "{}", inspect.stdout);
    assert!(inspect.stdout.contains("\\u{202e}fdp.exe"), "{}", inspect.stdout);
    assert!(inspect.stdout.contains("nul\\u{0}byte"), "{}", inspect.stdout);
    assert!(inspect.stdout.contains("line\\nbreak"), "{}", inspect.stdout);
    assert!(inspect.stdout.contains("é 猫 👨\u{200d}👩"), "printable text stays as it is");
    let info = json(&ok(d, &["inspect", &s(&head), "--json"]));
    let mut sorted = names.clone();
    sorted.sort();
    let classes: Vec<String> = info["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(classes, sorted, "JSON keeps labels exact");

    let eval = ok(d, &["eval", "--head", &s(&head), "--test", &s(&csv)]);
    assert_clean("eval", &eval.stdout);
    assert!(eval.stdout.contains("red\\u{1b}[31mtext"), "{}", eval.stdout);
    let report = json(&ok(d, &["eval", "--head", &s(&head), "--test", &s(&csv), "--json"]));
    assert_eq!(report["classes"], serde_json::json!(sorted));

    // CSV predictions keep every label exact (quoted where CSV needs it).
    let predict = ok(d, &["predict", "--head", &s(&head), "--input", &s(&csv)]);
    assert_eq!(csv_labels(&predict.stdout), labels);
    // Notes and errors on stderr: the unknown marker, a label the head does not know.
    let marker = "\u{1b}[2J\u{202e}";
    let rejected =
        ok(d, &["predict", "--head", &s(&head), "--input", &s(&csv), "--reject", "--unknown-label", marker]);
    assert_clean("predict's note", &rejected.stderr);
    assert!(rejected.stderr.contains("rejected as \\u{1b}[2J\\u{202e}"), "{}", rejected.stderr);
    let taken = imprint_in(
        d,
        &["predict", "--head", &s(&head), "--input", &s(&csv), "--reject", "--unknown-label", &names[0]],
    );
    assert_eq!(taken.code, Some(2));
    assert_clean("predict's error", &taken.stderr);
    assert!(taken.stderr.contains("osc\\u{1b}]0;pwned\\u{7}title"), "{}", taken.stderr);

    let stranger = d.join("stranger.csv");
    write_quoted_csv(&stranger, &x, &vec!["evil\u{1b}]8;;http://x\u{7}\nnext".to_string(); x.nrows()]);
    for command in ["eval", "calibrate"] {
        let flag = if command == "eval" { "--test" } else { "--val" };
        let run = imprint_in(d, &[command, "--head", &s(&head), flag, &s(&stranger)]);
        assert_eq!(run.code, Some(1), "{}", run.stderr);
        assert_clean(command, &run.stderr);
        assert!(run.stderr.contains("label evil\\u{1b}]8;;http://x\\u{7}\\nnext at row 0"), "{}", run.stderr);
    }
}

#[test]
fn spreadsheet_safe_prefixes_formula_labels_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names: Vec<String> = [
        "=HYPERLINK(\"http://x\",\"y\")",
        "+1",
        "-2",
        "@SUM(A1)",
        "\tcmd",
        "\rcr",
        "'quoted",
        "plain",
        "a=b",
    ]
    .iter()
    .map(|n| n.to_string())
    .collect();
    let (head, xs, _) = text_head(d, &names, 5, &["--no-reject-calibration"]);
    let plain = ok(d, &["predict", "--head", &s(&head), "--input", &s(&xs), "--top-k", "2"]);
    let safe =
        ok(d, &["predict", "--head", &s(&head), "--input", &s(&xs), "--top-k", "2", "--spreadsheet-safe"]);
    let (exact, guarded) = (csv_labels(&plain.stdout), csv_labels(&safe.stdout));
    assert!(exact.iter().all(|l| names.contains(l)), "by default labels are exact");
    for (label, cell) in exact.iter().zip(&guarded) {
        let formula = label.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']);
        let expected = if formula { format!("'{label}") } else { label.clone() };
        assert_eq!(cell, &expected);
    }
    // Scores and row numbers are the same cells, in the same places.
    let numbers = |text: &str| -> Vec<String> {
        csv::Reader::from_reader(text.as_bytes())
            .records()
            .flat_map(|r| {
                let r = r.unwrap();
                [0, 2, 4].map(|i| r[i].to_string())
            })
            .collect()
    };
    assert_eq!(numbers(&plain.stdout), numbers(&safe.stdout));

    // Integer labels are numbers, never formulas: -1 stays -1.
    let (x, _) = toy(2, 6, 4);
    let h5 = d.join("neg.npy");
    write_npy(&h5, &x);
    let ys = d.join("neg_y.npy");
    write_npy_labels(&ys, &[-1, -1, -1, -1, -1, -1, 5, 5, 5, 5, 5, 5]);
    let int_head = d.join("int.safetensors");
    ok(d, &["fit", "--train", &s(&h5), "--labels", &s(&ys), "--out", &s(&int_head), "--generator", "mean"]);
    let ints = ok(d, &["predict", "--head", &s(&int_head), "--input", &s(&h5), "--spreadsheet-safe"]);
    assert_eq!(ints.stdout, ok(d, &["predict", "--head", &s(&int_head), "--input", &s(&h5)]).stdout);
    assert!(ints.stdout.contains("\n0,-1,"), "{}", ints.stdout);

    // JSON lines keep labels exact: the flag is refused there.
    let jsonl = imprint_in(
        d,
        &["predict", "--head", &s(&head), "--input", &s(&xs), "--format", "jsonl", "--spreadsheet-safe"],
    );
    assert_eq!(jsonl.code, Some(2));
    assert!(jsonl.stderr.contains("--spreadsheet-safe applies to CSV output"), "{}", jsonl.stderr);
    let help = ok(d, &["predict", "--help"]);
    assert!(help.stdout.contains("--spreadsheet-safe"), "{}", help.stdout);
}

/// One label: short with any characters (weighted towards the dangerous
/// ones), or longer than the formatter's widest column. No NUL: NumPy
/// strings end at the first one (the CSV test above carries a NUL).
fn label() -> impl Strategy<Value = String> {
    let hostile = prop::sample::select(vec![
        '\u{1b}', '\u{7}', '\u{9b}', '\u{85}', '\u{7f}', '\t', '\n', '\r', '\u{202e}', '\u{2066}',
        '\u{200f}', '\u{2028}', '\u{feff}', '=', '-', '\'', ' ', '"', ',', '\\', 'é', '猫',
    ]);
    let ch = prop_oneof![3 => any::<char>(), 2 => hostile].prop_map(|c| if c == '\0' { '\u{1}' } else { c });
    prop_oneof![
        6 => prop::collection::vec(ch.clone(), 1..20).prop_map(|v| v.into_iter().collect::<String>()),
        1 => (ch, 65_530..66_000usize, any::<char>())
            .prop_map(|(c, n, end)| std::iter::repeat_n(c, n).chain([if end == '\0' { 'z' } else { end }]).collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any labels through fit, inspect, eval and predict: no panic, no raw
    /// control character in text for people, labels exact in CSV and JSON.
    #[test]
    fn any_labels_survive_every_output(names in prop::collection::btree_set(label(), 1..4)) {
        let names: Vec<String> = names.into_iter().collect();
        prop_assume!(!names.iter().any(|n| n == "unknown"));
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (head, xs, ys) = text_head(d, &names, 5, &[]);
        let (h, x, y) = (s(&head), s(&xs), s(&ys));

        let inspect = ok(d, &["inspect", &h]);
        assert_clean("inspect", &inspect.stdout);
        let info = json(&ok(d, &["inspect", &h, "--json"]));
        let classes: Vec<&str> = info["classes"].as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap()).collect();
        prop_assert_eq!(classes, names.iter().map(String::as_str).collect::<Vec<_>>());

        let eval = ok(d, &["eval", "--head", &h, "--test", &x, "--labels", &y]);
        assert_clean("eval", &eval.stdout);
        assert_clean("eval's notes", &eval.stderr);
        let report = json(&ok(d, &["eval", "--head", &h, "--test", &x, "--labels", &y, "--json"]));
        prop_assert_eq!(report["classes"].clone(), serde_json::json!(names));

        let predict = ok(d, &["predict", "--head", &h, "--input", &x, "--reject", "--top-k", "2"]);
        assert_clean("predict's notes", &predict.stderr);
        for l in csv_labels(&predict.stdout) {
            prop_assert!(l == "unknown" || names.contains(&l), "{:?}", l);
        }
        // A class's label as the marker (one argument holds at most 128 KiB on Linux).
        let shortest = names.iter().min_by_key(|n| n.len()).unwrap();
        if shortest.len() < 100_000 {
            let marker = format!("--unknown-label={shortest}");
            let clash = imprint_in(d, &["predict", "--head", &h, "--input", &x, "--reject", &marker]);
            prop_assert_eq!(clash.code, Some(2));
            assert_clean("predict's error", &clash.stderr);
            prop_assert!(!clash.stderr.contains("panicked"));
        }
    }
}

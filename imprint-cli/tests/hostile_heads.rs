//! Head files under concurrent writers, kill -9 and signals at any point,
//! special and linked paths, and crafted content: a head is never lost,
//! never half-written, never unreadable after `imprint` wrote it, and never
//! accepted when it would give garbage.

#![allow(clippy::unwrap_used)] // test code: a failure should stop the test loudly

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use imprint::{ClassLabel, Classifier};

/// `imprint args...` started in `dir`, output discarded.
fn spawn(dir: &Path, args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_imprint"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Waits for `child` at most `limit`; kills it and fails if it runs longer.
fn wait_at_most(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("imprint ran for more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn load(path: &Path) -> Classifier {
    Classifier::decode(&std::fs::read(path).unwrap()).unwrap()
}

fn int_classes(c: &Classifier) -> Vec<i64> {
    c.classes()
        .iter()
        .map(|l| match l {
            ClassLabel::Int(v) => *v,
            other => panic!("text label {other}"),
        })
        .collect()
}

/// Temporary files of atomic writes left in `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n.ends_with(".tmp"))
        .collect()
}

/// A head of classes 0 and 1 of an 8-class toy file, and the file.
fn small_head(d: &Path) -> (PathBuf, PathBuf) {
    let (x, y) = toy(8, 12, 16);
    let train = d.join("train.h5");
    write_h5(&train, &x, &y);
    let head = d.join("h.safetensors");
    ok(d, &["fit", "--train", &s(&train), "--classes", "0-1", "--generator", "mean", "--out", &s(&head)]);
    (head, train)
}

#[test]
fn concurrent_adds_and_calibrations_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for round in 0..3 {
        let (head, train) = small_head(d);
        let mut children: Vec<(String, Child)> = (2..8)
            .map(|k| {
                let a =
                    args(&["add", "--head", &s(&head), "--train", &s(&train), "--classes", &k.to_string()]);
                (format!("add class {k}"), spawn(d, &a))
            })
            .collect();
        children.push((
            "calibrate".into(),
            spawn(d, &args(&["calibrate", "--head", &s(&head), "--val", &s(&train), "--classes", "0-1"])),
        ));
        for (what, child) in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let c = load(&head);
        let mut classes = int_classes(&c);
        classes.sort();
        assert_eq!(classes, (0..8).collect::<Vec<_>>(), "round {round}: every reported add is in the head");
        assert!(c.calibration().is_temperature_calibrated(), "round {round}: the calibration landed too");
        assert!(temporaries(d).is_empty());
        std::fs::remove_file(&head).unwrap();
    }
}

#[test]
fn a_busy_head_is_waited_for_or_given_up_on_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (head, train) = small_head(d);
    let before = std::fs::read(&head).unwrap();
    let held = imprint_data::lock_for_update(&head, Duration::ZERO, || {}).unwrap().unwrap();
    let add = |class: &str, wait: &str| {
        args(&["add", "--head", &s(&head), "--train", &s(&train), "--classes", class, "--wait", wait])
    };
    let refused = imprint_in(d, &add("2", "0"));
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(refused.stderr.contains("another process is updating this head"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--wait"), "{}", refused.stderr);
    assert_eq!(std::fs::read(&head).unwrap(), before, "nothing written");

    let mut waiting = spawn(d, &add("3", "60"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(waiting.try_wait().unwrap().is_none(), "the second writer waits for the lock");
    drop(held);
    let out = waiting.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("waiting up to 60 s"), "{stderr}");
    assert_eq!(int_classes(&load(&head)), vec![0, 1, 3]);

    let bad = imprint_in(d, &add("4", "-1"));
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
}

/// The length of a safetensors header, from the file's first 8 bytes.
fn header_len(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    u64::from_le_bytes(bytes[..8].try_into().unwrap())
}

/// Writes `label_len`-long text labels to a CSV (two classes), so that the
/// header length can be steered.
fn csv_with_label(path: &Path, first: &str, second: &str) {
    let (x, _) = toy(2, 4, 8);
    let labels: Vec<String> =
        (0..8).map(|i| if i < 4 { first.to_string() } else { second.to_string() }).collect();
    write_csv(path, &x, Some(&labels));
}

/// Steers the header of the head written by `write(label_len)` to `target`
/// bytes by changing one label's length.
fn steer(target: u64, write: impl Fn(usize) -> PathBuf) -> PathBuf {
    let mut len = target as usize / 2;
    for _ in 0..8 {
        let path = write(len);
        let got = header_len(&path);
        if got == target {
            return path;
        }
        len = (len as i64 + target as i64 - got as i64).max(1) as usize;
    }
    panic!("could not steer the header to {target} bytes");
}

/// A header of 31,520 bytes starts the file with `20 7B`, which reads as
/// white space then `{`; 97,056 gives `20 7B 01`. Such heads are written
/// by `fit` and `add` and must load everywhere.
#[test]
fn heads_whose_length_bytes_look_like_json_load_after_fit_and_add() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for target in [31_520u64, 97_056] {
        let fitted = steer(target, |len| {
            let csv = d.join("rows.csv");
            csv_with_label(&csv, &"a".repeat(len), "b");
            let head = d.join("fitted.safetensors");
            ok(d, &["fit", "--train", &s(&csv), "--generator", "mean", "--out", &s(&head), "--force"]);
            head
        });
        assert_eq!(&std::fs::read(&fitted).unwrap()[..2], &[0x20, 0x7b]);
        let info: serde_json::Value =
            serde_json::from_str(&ok(d, &["inspect", &s(&fitted), "--json"]).stdout).unwrap();
        assert_eq!(info["encoding"], "safetensors");
        let csv = d.join("rows.csv");
        ok(d, &["predict", "--head", &s(&fitted), "--input", &s(&csv)]);

        // The same through `add`: a loadable head whose update lands on such a length.
        let base = d.join("base.safetensors");
        let small = d.join("small.csv");
        csv_with_label(&small, "a", "b");
        ok(d, &["fit", "--train", &s(&small), "--generator", "mean", "--out", &s(&base), "--force"]);
        let added = steer(target, |len| {
            let more = d.join("more.csv");
            csv_with_label(&more, &"c".repeat(len), "b");
            let out = d.join("added.safetensors");
            ok(d, &["add", "--head", &s(&base), "--train", &s(&more), "--out", &s(&out), "--force"]);
            out
        });
        ok(d, &["inspect", &s(&added)]);
        ok(d, &["add", "--head", &s(&added), "--train", &s(&small)]);
    }
}

#[test]
fn json_heads_load_in_every_door_with_or_without_a_byte_order_mark() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, train) = small_head(d);
    let json = d.join("h.json");
    ok(d, &["fit", "--train", &s(&train), "--classes", "0-2", "--out", &s(&json)]);
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend(std::fs::read(&json).unwrap());
    let with_bom = d.join("bom.json");
    std::fs::write(&with_bom, &bom).unwrap();
    for path in [&json, &with_bom] {
        let info: serde_json::Value =
            serde_json::from_str(&ok(d, &["inspect", &s(path), "--json"]).stdout).unwrap();
        assert_eq!(info["encoding"], "json");
        ok(d, &["predict", "--head", &s(path), "--input", &s(&train)]);
        assert_eq!(int_classes(&load(path)), vec![0, 1, 2]);
        assert_eq!(
            int_classes(&Classifier::load(std::fs::File::open(path).unwrap()).unwrap()),
            vec![0, 1, 2]
        );
    }
    ok(d, &["add", "--head", &s(&with_bom), "--train", &s(&train), "--classes", "3"]);
    assert_eq!(int_classes(&load(&with_bom)), vec![0, 1, 2, 3]);
}

/// Edits the JSON text of a head: `edit` changes the parsed value.
fn crafted(d: &Path, name: &str, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let (x, y) = toy(8, 12, 16);
    let train = d.join("train.h5");
    write_h5(&train, &x, &y);
    let json = d.join("base.json");
    ok(d, &["fit", "--train", &s(&train), "--classes", "0-2", "--out", &s(&json), "--force"]);
    let mut value: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    edit(&mut value);
    let path = d.join(name);
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    path
}

#[test]
fn crafted_heads_that_would_give_garbage_are_refused_when_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let huge = crafted(d, "huge.json", |v| {
        for x in v["tensors"]["proxies"]["data"].as_array_mut().unwrap() {
            *x = serde_json::json!(x.as_f64().unwrap() * 1e30);
        }
    });
    let cold = crafted(d, "cold.json", |v| {
        v["header"]["calibration"]["temperature"] = serde_json::json!(1e-45);
    });
    let rows = d.join("train.h5");
    for (head, needle) in [(&huge, "L2 norm"), (&cold, "temperature")] {
        for cmd in [
            args(&["inspect", &s(head)]),
            args(&["predict", "--head", &s(head), "--input", &s(&rows)]),
            args(&["eval", "--head", &s(head), "--test", &s(&rows), "--classes", "0-2"]),
        ] {
            let run = imprint_in(d, &cmd);
            assert_eq!(run.code, Some(1), "{cmd:?}: {}", run.stderr);
            assert!(run.stderr.contains(needle), "{cmd:?}: {}", run.stderr);
        }
    }
}

#[test]
fn rows_too_large_for_float32_scores_fail_predict_and_eval_alike_and_are_never_imprinted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (x, y) = toy(3, 6, 8);
    let train = d.join("train.h5");
    write_h5(&train, &x, &y);
    let head = d.join("raw.safetensors");
    let raw = ["--pre-norm", "none", "--post-norm", "none", "--input-norm", "none", "--generator", "mean"];
    let mut fit = args(&["fit", "--train", &s(&train), "--out", &s(&head)]);
    fit.extend(args(&raw));
    ok(d, &fit);
    let huge = d.join("huge.h5");
    // Finite float32 rows whose products with the proxies are not.
    write_h5(&huge, &x.mapv(|v| v * 1e38), &y);
    for cmd in [
        args(&["predict", "--head", &s(&head), "--input", &s(&huge)]),
        args(&["predict", "--head", &s(&head), "--input", &s(&huge), "--format", "jsonl"]),
        args(&["eval", "--head", &s(&head), "--test", &s(&huge)]),
    ] {
        let run = imprint_in(d, &cmd);
        assert_eq!(run.code, Some(1), "{cmd:?}: {}", run.stderr);
        assert!(run.stderr.contains("too large for float32"), "{cmd:?}: {}", run.stderr);
    }
    // Imprinting such rows gives proxies no score can use: refused, nothing written.
    let before = std::fs::read(&head).unwrap();
    let run = imprint_in(d, &["add", "--head", &s(&head), "--train", &s(&huge)]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("L2 norm"), "{}", run.stderr);
    assert_eq!(std::fs::read(&head).unwrap(), before);
    let mut fit = args(&["fit", "--train", &s(&huge), "--out", &s(d.join("new.safetensors"))]);
    fit.extend(args(&raw));
    assert_eq!(imprint_in(d, &fit).code, Some(1));
    assert!(!d.join("new.safetensors").exists());
}

#[cfg(unix)]
mod unix {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt, symlink};

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn symbolic_links_special_files_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (head, train) = small_head(d);

        // A linked head: the target is updated, the link stays a link.
        std::fs::create_dir(d.join("store")).unwrap();
        let real = d.join("store/real.safetensors");
        std::fs::rename(&head, &real).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        symlink("store/real.safetensors", &head).unwrap();
        ok(d, &["add", "--head", &s(&head), "--train", &s(&train), "--classes", "2"]);
        assert!(std::fs::symlink_metadata(&head).unwrap().file_type().is_symlink());
        assert_eq!(int_classes(&load(&real)), vec![0, 1, 2]);
        assert_eq!(mode(&real), 0o640, "a replaced head keeps its mode");
        assert!(temporaries(d).is_empty() && temporaries(&d.join("store")).is_empty());

        // A new head follows the umask, like any file this process creates.
        let probe = d.join("probe");
        std::fs::write(&probe, b"").unwrap();
        let fresh = d.join("fresh.safetensors");
        ok(
            d,
            &["fit", "--train", &s(&train), "--classes", "0-1", "--generator", "mean", "--out", &s(&fresh)],
        );
        assert_eq!(mode(&fresh), mode(&probe));

        // Special files are refused, not replaced (and a FIFO does not hang us).
        let fifo = d.join("fifo.safetensors");
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let fifo_link = d.join("fifo-link.safetensors");
        symlink(&fifo, &fifo_link).unwrap();
        for out in [&fifo, &fifo_link, &PathBuf::from("/proc/self/fd/1")] {
            for cmd in [
                args(&["fit", "--train", &s(&train), "--generator", "mean", "--out", &s(out), "--force"]),
                args(&[
                    "add",
                    "--head",
                    &s(&real),
                    "--train",
                    &s(&train),
                    "--classes",
                    "3",
                    "--out",
                    &s(out),
                    "--force",
                ]),
                args(&["predict", "--head", &s(&real), "--input", &s(&train), "--out", &s(out), "--force"]),
            ] {
                let mut child = spawn(d, &cmd);
                let status = wait_at_most(&mut child, Duration::from_secs(60));
                let mut stderr = String::new();
                std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
                assert_eq!(status.code(), Some(1), "{cmd:?}: {stderr}");
                assert!(stderr.contains("not a regular file"), "{cmd:?}: {stderr}");
            }
        }
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

        // A head is binary: '-' is not standard output for it, and no file named '-' appears.
        let run = imprint_in(d, &["fit", "--train", &s(&train), "--generator", "mean", "--out", "-"]);
        assert_eq!(run.code, Some(2), "{}", run.stderr);
        assert!(!d.join("-").exists());
    }

    /// A head large enough that writing it takes a while.
    fn large_head(d: &Path) -> (PathBuf, PathBuf) {
        let (x, y) = toy(6, 600, 512);
        let train = d.join("big.h5");
        write_h5(&train, &x, &y);
        let head = d.join("big.safetensors");
        ok(
            d,
            &[
                "fit",
                "--train",
                &s(&train),
                "--classes",
                "0-4",
                "--generator",
                "all",
                "--no-reject-calibration",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain([String::from("--out"), s(&head)])
            .collect::<Vec<_>>(),
        );
        (head, train)
    }

    /// The commands that replace a file, each with what a complete new file holds.
    fn writers(head: &Path, train: &Path, out: &Path) -> Vec<(&'static str, Vec<String>)> {
        vec![
            ("add", args(&["add", "--head", &s(head), "--train", &s(train), "--classes", "5"])),
            ("calibrate", args(&["calibrate", "--head", &s(head), "--val", &s(train), "--classes", "0-1"])),
            (
                "fit",
                args(&[
                    "fit",
                    "--train",
                    &s(train),
                    "--classes",
                    "0-5",
                    "--generator",
                    "all",
                    "--no-reject-calibration",
                    "--out",
                    &s(head),
                    "--force",
                ]),
            ),
            (
                "predict",
                args(&["predict", "--head", &s(head), "--input", &s(train), "--out", &s(out), "--force"]),
            ),
        ]
    }

    /// kill -9 at spread-out moments of every writing command: the file is
    /// the old or the new complete version, and the next write of it leaves
    /// no temporary file behind.
    #[test]
    fn kill_9_at_any_point_leaves_the_old_or_the_new_file_and_no_temporary_survives_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (head, train) = large_head(d);
        let original = std::fs::read(&head).unwrap();
        let out = d.join("predictions.csv");
        for (name, cmd) in writers(&head, &train, &out) {
            // The uninterrupted run: its duration and its result.
            std::fs::write(&head, &original).unwrap();
            std::fs::write(&out, b"old predictions\n").unwrap();
            let start = Instant::now();
            ok(d, &cmd);
            let took = start.elapsed();
            let target = if name == "predict" { &out } else { &head };
            let new = std::fs::read(target).unwrap();
            let old = if name == "predict" { b"old predictions\n".to_vec() } else { original.clone() };
            let same = |a: &[u8], b: &[u8]| {
                if name == "predict" {
                    return a == b;
                }
                let (a, b) = (Classifier::decode(a).unwrap(), Classifier::decode(b).unwrap());
                a.classes() == b.classes()
                    && a.head().weights() == b.head().weights()
                    && a.calibration() == b.calibration()
            };
            for i in 0..8 {
                std::fs::write(&head, &original).unwrap();
                std::fs::write(&out, b"old predictions\n").unwrap();
                let mut child = spawn(d, &cmd);
                std::thread::sleep(took.mul_f64(f64::from(i) / 7.0));
                let _ = child.kill();
                let _ = child.wait();
                let now = std::fs::read(target).unwrap();
                assert!(same(&now, &old) || same(&now, &new), "{name}, kill at {i}/7: neither old nor new");
                // The next write of the file sweeps what the killed writer left.
                ok(d, &cmd);
                assert!(temporaries(d).is_empty(), "{name}, kill at {i}/7: {:?} survived", temporaries(d));
            }
        }
    }

    /// SIGTERM and SIGINT while the temporary file exists: the command ends
    /// with 128 + the signal, removes it, and leaves the old file.
    #[test]
    fn sigterm_and_sigint_remove_the_temporary_file_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (head, train) = large_head(d);
        let original = std::fs::read(&head).unwrap();
        let cmd = args(&["add", "--head", &s(&head), "--train", &s(&train), "--classes", "5"]);
        for (signal, code) in [("TERM", 143), ("INT", 130)] {
            let mut caught = 0;
            for _ in 0..40 {
                std::fs::write(&head, &original).unwrap();
                let mut child = spawn(d, &cmd);
                // Signal as soon as the temporary file appears.
                let status = loop {
                    if let Some(status) = child.try_wait().unwrap() {
                        break Some(status);
                    }
                    if !temporaries(d).is_empty() {
                        break None;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                };
                if status.is_some() {
                    continue; // finished before the write was caught; try again
                }
                let pid = child.id().to_string();
                assert!(Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap().success());
                let status = wait_at_most(&mut child, Duration::from_secs(30));
                if status.success() {
                    continue; // the rename won the race
                }
                assert_eq!(status.code(), Some(code), "SIG{signal}");
                assert!(temporaries(d).is_empty(), "SIG{signal}: {:?} left", temporaries(d));
                let classes = int_classes(&load(&head));
                assert!(
                    classes == [0, 1, 2, 3, 4] || classes == [0, 1, 2, 3, 4, 5],
                    "old or new: {classes:?}"
                );
                caught += 1;
                if caught == 2 {
                    break;
                }
            }
            assert!(caught > 0, "SIG{signal} never arrived while the temporary file existed");
        }
    }
}

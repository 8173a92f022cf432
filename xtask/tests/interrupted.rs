//! `cargo xtask reproduce` killed with SIGKILL at seeded random points and
//! restarted ends with exactly the records of an uninterrupted run: none
//! missing, duplicated or truncated, and complete report files.
//!
//! Records, `neural_collapse.json`, `report.md` and `figures/*.svg` are all
//! written atomically (hidden temporary file, fsync, then link or rename), so
//! a kill leaves at most hidden `.{name}.tmp-{pid}-{n}` files behind. Readers
//! skip hidden files and writers never reuse an existing temporary name, so
//! such leftovers are harmless; they are not deleted automatically because on
//! a shared results folder they may belong to a shard still running.

#![cfg(unix)] // SIGKILL
#![allow(clippy::unwrap_used)] // test helpers: a failure should stop the test loudly

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use imprint_compat::read_record;
use imprint_compat::{Record, load_all};
use imprint_data::{Split, SyntheticParams, WriteOptions, reference_path, write_embeddings};
use imprint_report::{read_collapse, render};

/// 396 combinations: enough that a run in the test profile takes a second or more.
const CONFIG: &str = r#"{
    "backbones": ["toynet"],
    "datasets": [["Toy"]],
    "task_splits": {"all": [[0, 1, 2, 3, 4, 5]]},
    "seeds": [17121997, 123987, 12412312],
    "normalize_input_data": ["l2"],
    "normalize_for_proxy_selection": ["l2"],
    "proxy_methods": ["mean", "kmeans", "kmedoids", "fps", "random", "ls", "kls"],
    "ks": [1, 2, 5, 10],
    "normalize_weights": ["l2", "quantile"],
    "aggregation_methods": ["max", "mnn"],
    "aggregation_distance_functions": ["inner_product", "euclidean"],
    "ms": [3],
}"#;

/// Kills that must land while a run is alive, and among them while it is
/// writing records (some but not all of its records on disk).
const MIN_KILLS: usize = 6;
const MIN_KILLS_WRITING: usize = 4;
/// Kills that must hit a run that only has the report to write.
const REPORT_KILLS: usize = 6;
/// Upper bound on attempts, should the machine be far slower or faster than planned.
const MAX_ATTEMPTS: usize = 40;

/// The seeded pseudo-random delays (SplitMix64).
struct SplitMix(u64);

impl SplitMix {
    /// Uniform in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as f64 / (u64::MAX as f64 + 1.0)
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let data = SyntheticParams::new(6, 3, 48).n_train(100).n_test(40).generate(5).unwrap();
    for (split, part) in [(Split::Train, &data.train), (Split::Test, &data.test)] {
        write_embeddings(reference_path(&root, "Toy", "toynet", split), part, &WriteOptions::new()).unwrap();
    }
    let config = root.join("config.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    Setup { _dir: dir, root, config }
}

fn command(setup: &Setup, out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(["reproduce", "--embeddings"])
        .arg(&setup.root)
        .arg("--config")
        .arg(&setup.config)
        .arg("--out")
        .arg(out)
        .args(["--lambda", "toynet=0.05", "--no-progress"]);
    cmd
}

/// Spawns a run whose output nobody reads (so it can never block on a full pipe).
fn spawn(setup: &Setup, out: &Path) -> Child {
    command(setup, out).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// Names of the visible `*.json` files in `records` (what readers load).
fn record_names(records: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(records) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// Every hidden file under `dir` (one level of subfolders).
fn hidden_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in [dir.to_path_buf(), dir.join("records"), dir.join("figures")] {
        let Ok(entries) = std::fs::read_dir(&sub) else { continue };
        for e in entries {
            let e = e.unwrap();
            if e.file_name().to_string_lossy().starts_with('.') {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// The visible report files (`neural_collapse.json`, `report.md`,
/// `figures/*.svg`) and their bytes.
fn report_files(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for name in ["neural_collapse.json", "report.md"] {
        if let Ok(bytes) = std::fs::read(out.join(name)) {
            files.insert(name.to_string(), bytes);
        }
    }
    if let Ok(entries) = std::fs::read_dir(out.join("figures")) {
        for e in entries {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                files.insert(
                    format!("figures/{name}"),
                    std::fs::read(out.join("figures").join(&name)).unwrap(),
                );
            }
        }
    }
    files
}

/// A record as text with the fields that legitimately differ between runs
/// (wall times, creation time) blanked.
fn comparable(mut r: Record) -> String {
    r.runtime = 0.0;
    r.total_gen_time = Some(0.0);
    r.created_at = String::new();
    r.to_json_text()
}

/// Every visible record in `records`: it parses and is named by its own id
/// ([`read_record`] checks both) and is complete JSON; by file name, with
/// its text.
fn read_all(records: &Path) -> BTreeMap<String, (Record, String)> {
    record_names(records)
        .into_iter()
        .map(|name| {
            let path = records.join(&name);
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with('{') && text.ends_with('}'), "{name} is truncated");
            let record = read_record(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, (record, text))
        })
        .collect()
}

/// A record's text without the lines of wall times and creation time.
fn without_timings(text: &str) -> String {
    text.lines()
        .filter(|l| {
            !["\"runtime\"", "\"created_at\"", "\"total_GEN_time\""]
                .iter()
                .any(|k| l.trim_start().starts_with(k))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What one killed run did.
#[derive(Debug)]
struct Kill {
    #[allow(dead_code)] // printed
    delay_ms: u64,
    /// The process died of the kill (it had not finished).
    alive: bool,
    records_before: usize,
    records_after: usize,
}

#[test]
fn killed_and_restarted_runs_give_the_records_of_an_uninterrupted_run() {
    let setup = setup();
    let out_a = setup.root.join("out_a");
    let out_b = setup.root.join("out_b");

    // The uninterrupted run, timed: start-up, first and last record, end.
    let start = Instant::now();
    let mut child = spawn(&setup, &out_a);
    let (mut first, mut last, mut seen) = (None, Duration::ZERO, 0);
    while child.try_wait().unwrap().is_none() {
        let n = record_names(&out_a.join("records")).len();
        if n > seen {
            first.get_or_insert(start.elapsed());
            (seen, last) = (n, start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let total_time = start.elapsed();
    assert!(child.wait().unwrap().success());
    let reference = read_all(&out_a.join("records"));
    let total = reference.len();
    assert_eq!(total, 396);
    let first = first.unwrap_or(last);
    eprintln!(
        "uninterrupted: {total} records in {:.2} s (first after {:.2} s, last after {:.2} s)",
        total_time.as_secs_f64(),
        first.as_secs_f64(),
        last.as_secs_f64()
    );

    // Killed runs: one at spawn, one during start-up, then kills once a
    // seeded random number of new records has appeared (up to 40% of those
    // left, plus 0-3 ms), so that they land while records are being written
    // however fast or slow this machine is, and work is left for the end.
    let mut rng = SplitMix(0x1721_1997);
    let mut kills: Vec<Kill> = Vec::new();
    let mut seen_files: Vec<BTreeMap<String, Vec<u8>>> = Vec::new();
    let writing_kills = |kills: &[Kill]| {
        kills
            .iter()
            .filter(|k| k.alive && k.records_after > k.records_before && k.records_after < total)
            .count()
    };
    for attempt in 0..MAX_ATTEMPTS {
        let alive_kills = kills.iter().filter(|k| k.alive).count();
        if alive_kills >= MIN_KILLS && writing_kills(&kills) >= MIN_KILLS_WRITING {
            break;
        }
        let before = record_names(&out_b.join("records")).len();
        let u = rng.next();
        let start = Instant::now();
        let mut child = spawn(&setup, &out_b);
        match attempt {
            0 => {}
            1 => std::thread::sleep(first.mul_f64(0.5 * u)),
            _ => {
                let target = before + 1 + ((total - before) as f64 * 0.4 * u) as usize;
                while record_names(&out_b.join("records")).len() < target
                    && child.try_wait().unwrap().is_none()
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_micros((3000.0 * rng.next()) as u64));
            }
        }
        let delay = start.elapsed();
        child.kill().unwrap(); // SIGKILL; a no-op if the run has already finished
        let status = child.wait().unwrap();
        let alive = status.signal() == Some(9);
        assert!(alive || status.success(), "{status}");
        // Whatever a kill leaves is readable: records whole, report files complete (checked below).
        let after = read_all(&out_b.join("records")).len();
        assert!(after >= before);
        seen_files.push(report_files(&out_b));
        kills.push(Kill {
            delay_ms: delay.as_millis() as u64,
            alive,
            records_before: before,
            records_after: after,
        });
    }
    eprintln!("kills: {kills:#?}");
    let alive_kills = kills.iter().filter(|k| k.alive).count();
    assert!(alive_kills >= MIN_KILLS, "only {alive_kills} kills hit a running process: {kills:?}");
    assert!(
        writing_kills(&kills) >= MIN_KILLS_WRITING,
        "only {} kills landed while records were being written: {kills:?}",
        writing_kills(&kills)
    );

    // The final, uninterrupted run completes what is left.
    let before = record_names(&out_b.join("records")).len();
    let last_run = command(&setup, &out_b).output().unwrap();
    let stderr = String::from_utf8_lossy(&last_run.stderr);
    assert!(last_run.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("{before} already done, {} written", total - before)), "{stderr}");

    // Same record files, each equal to the uninterrupted run's but for timings.
    let records = read_all(&out_b.join("records"));
    assert_eq!(records.keys().collect::<Vec<_>>(), reference.keys().collect::<Vec<_>>());
    for (name, (record, text)) in &records {
        let (want, want_text) = &reference[name];
        assert_eq!(comparable(record.clone()), comparable(want.clone()), "{name}");
        assert_eq!(without_timings(text), without_timings(want_text), "{name}");
    }
    let loaded = load_all(out_b.join("records")).unwrap();
    assert_eq!(loaded.len(), total, "no duplicate ids");

    // Report files are complete: what rendering the final records gives.
    let files = report_files(&out_b);
    let collapse = read_collapse(out_b.join("neural_collapse.json")).unwrap();
    assert_eq!(files["neural_collapse.json"], report_files(&out_a)["neural_collapse.json"]);
    let report = render(&loaded, &collapse).unwrap();
    assert_eq!(String::from_utf8_lossy(&files["report.md"]), report.to_markdown());
    assert!(!report.figures.is_empty());
    for f in &report.figures {
        assert_eq!(files[&format!("figures/{}", f.file_name)], f.svg.as_bytes(), "{}", f.file_name);
    }
    // A report file seen after any kill was complete: the report step only
    // runs once every record is on disk, so it is the final file.
    for (i, seen) in seen_files.iter().enumerate() {
        for (name, bytes) in seen {
            assert!(bytes == &files[name], "{name} after kill {i} differs from the final one");
        }
    }

    // Kills in the report step: records complete (copied from the first
    // run), report files removed before each run. A kill comes at a seeded
    // random point of start-up and NC1 (before `neural_collapse.json`
    // appears), or at a random point after it appears, while `report.md` and
    // the figures are rendered and written (timed on a reference copy, which
    // also gives the expected files).
    let copy_records = |to: &Path| {
        std::fs::create_dir_all(to.join("records")).unwrap();
        for name in reference.keys() {
            std::fs::copy(out_a.join("records").join(name), to.join("records").join(name)).unwrap();
        }
    };
    let (out_c, out_d) = (setup.root.join("out_c"), setup.root.join("out_d"));
    copy_records(&out_c);
    copy_records(&out_d);
    let start = Instant::now();
    let mut child = spawn(&setup, &out_d);
    let mut collapse_written = None;
    while child.try_wait().unwrap().is_none() {
        if collapse_written.is_none() && out_d.join("neural_collapse.json").exists() {
            collapse_written = Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    assert!(child.wait().unwrap().success());
    let report_run = start.elapsed();
    let rendering = report_run - collapse_written.unwrap_or(report_run);
    let want = report_files(&out_d);
    let mut report_kills: Vec<(u128, bool, usize)> = Vec::new();
    // Halved after every kill that came too late (the run had finished).
    let mut scale = 1.0;
    for i in 0..MAX_ATTEMPTS {
        if report_kills.iter().filter(|k| k.1).count() >= REPORT_KILLS {
            break;
        }
        for name in want.keys() {
            let _ = std::fs::remove_file(out_c.join(name));
        }
        let start = Instant::now();
        let mut child = spawn(&setup, &out_c);
        if i % 3 == 0 {
            std::thread::sleep(report_run.mul_f64(0.5 * scale * rng.next()));
        } else {
            while !out_c.join("neural_collapse.json").exists() && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(rendering.mul_f64(1.2 * scale * rng.next()));
        }
        let delay = start.elapsed();
        child.kill().unwrap();
        let killed = child.wait().unwrap().signal() == Some(9);
        if !killed {
            scale *= 0.5;
        }
        let files = report_files(&out_c);
        for (name, bytes) in &files {
            assert!(bytes == &want[name], "{name} incomplete after a kill at {delay:?}");
        }
        report_kills.push((delay.as_millis(), killed, files.len()));
    }
    eprintln!(
        "report step: uninterrupted {:.3} s ({:.3} s after NC1); kills (ms, killed, files present of {}): \
         {report_kills:?}",
        report_run.as_secs_f64(),
        rendering.as_secs_f64(),
        want.len()
    );
    let killed = report_kills.iter().filter(|k| k.1).count();
    assert!(killed >= REPORT_KILLS, "{report_kills:?}");
    assert!(command(&setup, &out_c).stdout(Stdio::null()).status().unwrap().success());
    assert!(report_files(&out_c) == want, "report files after the final run");

    // Leftovers of kills are hidden temporary files only.
    let hidden = hidden_files(&out_b);
    eprintln!("hidden leftovers: {hidden:?}");
    for path in hidden.iter().chain(&hidden_files(&out_c)) {
        let name = path.file_name().unwrap().to_string_lossy();
        // write_atomic's temporary files: `.{name}.XXXXXX.tmp`.
        assert!(name.starts_with('.') && name.ends_with(".tmp"), "unexpected hidden file {}", path.display());
    }
    assert!(hidden_files(&out_a).is_empty() && hidden_files(&out_d).is_empty());
}

//! Grid size, order and record ids against the reference's Python pipeline.
//!
//! Without environment variables this checks our own fixture configs in
//! `tests/fixtures/` against values computed once with the reference's
//! `load_config` + `generate_combinations` + `consistent_id` (concatenated over
//! data combinations as `run_imprinting_experiments.py` does). With
//! `IMPRINT_REFERENCE_CONFIGS=/dir`, it checks every entry of
//! `/dir/expected_counts.json` instead, of the form
//! `{"file.yaml": {"count": N, "ids_md5": "..."}}` or `{"file.yaml": N}`.
//! `ids_md5` is the MD5 of the decimal ids, in order, joined by `\n`.

use std::path::{Path, PathBuf};

use imprint_compat::config::ExperimentConfig;
use imprint_compat::grid::ExperimentGrid;
use md5::{Digest, Md5};

/// (file, number of combinations, MD5 of the ordered ids), from the reference's code.
const FIXTURES: &[(&str, usize, &str)] = &[
    ("aggregation.yaml", 19200, "8b7b92b37a499a9ae2b2e6a25e3b7dd2"),
    ("defaults.yaml", 6, "fca0f08837b7e9e99b87424c52b5dda6"),
    ("presampling.yaml", 1584, "5e48943eb0ff0a330fd50bdf29cf0465"),
    ("remappings.yaml", 1248, "5b8163362abc270029a3c4354b083885"),
];

fn ids_md5(grid: &ExperimentGrid) -> String {
    let ids: Vec<String> = grid.combinations().iter().map(|c| c.id().to_string()).collect();
    Md5::digest(ids.join("\n").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn check(dir: &Path, file: &str, count: usize, digest: Option<&str>) -> Result<(), String> {
    let config = ExperimentConfig::from_path(dir.join(file)).map_err(|e| e.to_string())?;
    let grid = ExperimentGrid::new(&config);
    if grid.len() != count {
        return Err(format!("{file}: {} combinations, reference {count}", grid.len()));
    }
    if let Some(want) = digest {
        let got = ids_md5(&grid);
        if got != want {
            return Err(format!("{file}: ids differ from the reference (md5 {got} vs {want})"));
        }
    }
    println!("{file}: {count} combinations, ids match");
    Ok(())
}

#[test]
fn grids_match_the_reference() {
    let mut failures = Vec::new();
    if let Some(dir) = std::env::var_os("IMPRINT_REFERENCE_CONFIGS") {
        let dir = PathBuf::from(dir);
        let text = std::fs::read_to_string(dir.join("expected_counts.json")).unwrap();
        let expected: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert!(!expected.is_empty());
        for (file, v) in &expected {
            let (count, digest) = match v {
                serde_json::Value::Number(n) => (n.as_u64().unwrap() as usize, None),
                obj => (obj["count"].as_u64().unwrap() as usize, obj.get("ids_md5").and_then(|d| d.as_str())),
            };
            if let Err(e) = check(&dir, file, count, digest) {
                failures.push(e);
            }
        }
    } else {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for &(file, count, digest) in FIXTURES {
            if let Err(e) = check(&dir, file, count, Some(digest)) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn shards_partition_a_real_grid() {
    use imprint_compat::shard::Shard;
    use std::collections::HashSet;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let grid = ExperimentGrid::new(&ExperimentConfig::from_path(dir.join("presampling.yaml")).unwrap());
    let all: HashSet<_> = grid.combinations().iter().map(|c| c.id()).collect();
    assert_eq!(all.len(), grid.len(), "ids are unique");
    for count in [1, 7, 64] {
        let mut union = Vec::new();
        for index in 0..count {
            union.extend(Shard::new(index, count).unwrap().select(grid.combinations()).map(|c| c.id()));
        }
        assert_eq!(union.len(), grid.len());
        assert_eq!(union.into_iter().collect::<HashSet<_>>(), all);
    }
}

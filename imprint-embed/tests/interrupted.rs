//! A run killed with SIGKILL (twice, at different points) and started again
//! finishes with exactly the embeddings of an uninterrupted run, reusing the
//! batches finished before each kill. The killed runs are this test binary
//! started again in "child" mode, so nothing but the library is involved.

#![allow(clippy::unwrap_used)] // test helpers: a failure should stop the test loudly

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use imprint_embed::{EmbedOptions, ImageInput, Model, embed_images};

use common::{fixtures, scratch, synthetic_lite0_pth};

const CHILD: &str = "IMPRINT_EMBED_INTERRUPTED_CHILD";
/// Bytes of the partial file's header and of one single-image record (1,280 floats).
const HEADER: u64 = 22 + 4 + 8 + 4;
const RECORD: u64 = 4 + 8 + 1 + 1280 * 4 + 8;

fn run(dir: &Path, out: &Path, resume: bool) -> imprint_embed::EmbedSummary {
    let options =
        EmbedOptions::new().with_batch_size(1).with_threads(1).with_progress(false).with_resume(resume);
    embed_images(
        Model::EfficientNetLite0,
        &dir.join("w.pth"),
        &ImageInput::Folder(dir.join("images")),
        out,
        &options,
    )
    .unwrap()
}

#[test]
fn killed_runs_resume_to_the_same_result() {
    if let Some(dir) = std::env::var_os(CHILD) {
        // Child mode: run until killed.
        let dir = PathBuf::from(dir);
        run(&dir, &dir.join("out.h5"), true);
        return;
    }
    let dir = scratch("interrupted");
    for (i, e) in std::fs::read_dir(fixtures().join("bundled/FashionMNIST/train/0")).unwrap().enumerate() {
        let p = e.unwrap().path();
        for copy in 0..12 {
            let target = dir.join(format!("images/c{copy}/{i}.png"));
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&p, target).unwrap();
        }
    }
    std::fs::write(dir.join("w.pth"), synthetic_lite0_pth()).unwrap();
    let out = dir.join("out.h5");
    let partial = dir.join("out.h5.partial");
    for records in [3, 9] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "killed_runs_resume_to_the_same_result", "--nocapture"])
            .env(CHILD, &dir)
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::fs::metadata(&partial).map_or(0, |m| m.len()) < HEADER + records * RECORD {
            assert!(start.elapsed() < Duration::from_secs(120), "the child made no progress");
            assert!(child.try_wait().unwrap().is_none(), "the child finished before it was killed");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!out.exists(), "a killed run left an output file");
    }
    let resumed = run(&dir, &out, true);
    assert!(resumed.resumed >= 9 && resumed.resumed < 24, "resumed {} of 24", resumed.resumed);
    assert!(!partial.exists());
    let fresh = dir.join("fresh.h5");
    run(&dir, &fresh, false);
    let bits = |p: &Path| -> Vec<u32> {
        imprint_data::read_embeddings(p).unwrap().embeddings().iter().map(|v| v.to_bits()).collect()
    };
    assert_eq!(bits(&out), bits(&fresh));
    std::fs::remove_dir_all(&dir).unwrap();
}

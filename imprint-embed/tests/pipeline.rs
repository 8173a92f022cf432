//! Whole runs without the real weights: a Lite0-shaped `.pth` with seeded values
//! stands in, so the order, labels, bad-input policy, resume and thread-count
//! independence are tested everywhere. (Fidelity to PyTorch is `fidelity.rs`.)

#![allow(clippy::unwrap_used)] // test helpers: a failure should stop the test loudly

mod common;

use std::path::{Path, PathBuf};

use imprint_data::{AttrValue, EmbeddingFile};
use imprint_embed::{BadInput, EmbedError, EmbedOptions, ImageInput, Model, embed_images, embed_text};

use common::{fixtures, scratch, synthetic_lite0_pth};

/// A folder of two classes from the fixture images, plus a corrupt PNG, an
/// unsupported GIF and a text file; returns it and the synthetic weights.
fn setup(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = scratch(name);
    let images = dir.join("images");
    let src = fixtures().join("bundled/Digits/test");
    for (class, from) in [("digit0", "0"), ("digit1", "1")] {
        std::fs::create_dir_all(images.join(class)).unwrap();
        for e in std::fs::read_dir(src.join(from)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, images.join(class).join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::create_dir_all(images.join("digit1/more")).unwrap();
    std::fs::copy(fixtures().join("images/gray/digit_8x8.png"), images.join("digit1/more/x.png")).unwrap();
    std::fs::write(images.join("digit1/zz_corrupt.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    std::fs::write(images.join("digit0/anim.gif"), b"GIF89a").unwrap();
    std::fs::write(images.join("digit0/notes.txt"), b"not an image").unwrap();
    let weights = dir.join("lite0.pth");
    std::fs::write(&weights, synthetic_lite0_pth()).unwrap();
    (dir, images, weights)
}

fn options() -> EmbedOptions {
    EmbedOptions::new().with_progress(false).with_batch_size(2).with_threads(2)
}

fn embeddings_bits(path: &Path) -> Vec<u32> {
    let data = imprint_data::read_embeddings(path).unwrap();
    data.embeddings().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn folder_run_writes_the_reference_layout_and_skips_bad_images() {
    let (dir, images, weights) = setup("folder");
    let out = dir.join("out/train.h5");
    let s = embed_images(
        Model::EfficientNetLite0,
        &weights,
        &ImageInput::Folder(images.clone()),
        &out,
        &options(),
    )
    .unwrap();
    assert_eq!(s.n_rows, 5);
    assert_eq!(s.dim, 1280);
    assert_eq!(s.label_names, ["digit0", "digit1"]);
    assert_eq!(s.n_ignored_files, 1);
    let skipped: Vec<&str> = s.skipped.iter().map(|k| k.input.as_str()).collect();
    assert_eq!(skipped, ["digit0/anim.gif", "digit1/zz_corrupt.png"]);
    assert!(s.skipped[1].reason.contains("zz_corrupt.png"), "{}", s.skipped[1].reason);
    assert!(s.skipped[0].reason.contains("not supported"), "{}", s.skipped[0].reason);

    let file = EmbeddingFile::open(&out).unwrap();
    let data = file.read().unwrap();
    assert_eq!(data.labels(), [0, 0, 1, 1, 1]);
    let paths = file.read_strings("paths").unwrap();
    assert_eq!(
        paths,
        ["digit0/0000.png", "digit0/0001.png", "digit1/0030.png", "digit1/0031.png", "digit1/more/x.png"]
    );
    let attrs = file.attributes().unwrap();
    assert_eq!(attrs["label_names"], AttrValue::TextList(vec!["digit0".into(), "digit1".into()]));
    assert_eq!(attrs["backbone"], AttrValue::Text("efficientnet_lite0".into()));
    assert_eq!(attrs["n_skipped"], AttrValue::Int(2));
    assert_eq!(file.read_strings("skipped").unwrap().len(), 2);
    assert!(!imprint_embed_partial(&out).exists());

    // Without overwrite the file is kept; with it, replaced by the same bits.
    let e = embed_images(
        Model::EfficientNetLite0,
        &weights,
        &ImageInput::Folder(images.clone()),
        &out,
        &options(),
    )
    .unwrap_err();
    assert!(matches!(e, EmbedError::AlreadyExists { .. }), "{e}");
    let before = embeddings_bits(&out);
    embed_images(
        Model::EfficientNetLite0,
        &weights,
        &ImageInput::Folder(images),
        &out,
        &options().with_overwrite(true),
    )
    .unwrap();
    assert_eq!(embeddings_bits(&out), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn imprint_embed_partial(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

#[test]
fn results_do_not_depend_on_threads_or_batch_size() {
    let (dir, images, weights) = setup("threads");
    let input = ImageInput::Folder(images);
    let mut runs = Vec::new();
    for (threads, batch) in [(1, 1), (2, 2), (2, 5), (3, 64)] {
        let out = dir.join(format!("t{threads}-b{batch}.h5"));
        let o = options().with_threads(threads).with_batch_size(batch);
        embed_images(Model::EfficientNetLite0, &weights, &input, &out, &o).unwrap();
        runs.push(embeddings_bits(&out));
    }
    assert!(runs.windows(2).all(|w| w[0] == w[1]), "embeddings differ between thread counts or batch sizes");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fail_policy_stops_at_the_first_bad_image_and_a_rerun_resumes() {
    let (dir, images, weights) = setup("resume");
    std::fs::remove_file(images.join("digit0/anim.gif")).unwrap();
    let input = ImageInput::Folder(images.clone());
    let out = dir.join("resume.h5");
    let fail = options().with_on_bad_input(BadInput::Fail).with_batch_size(1);
    let e = embed_images(Model::EfficientNetLite0, &weights, &input, &out, &fail).unwrap_err();
    assert!(matches!(&e, EmbedError::Image { path, .. } if path.ends_with("zz_corrupt.png")), "{e}");
    assert!(!out.exists());
    assert!(imprint_embed_partial(&out).exists());

    // The bad image sorts after the other five: with it gone, the rerun reuses them all.
    std::fs::remove_file(images.join("digit1/zz_corrupt.png")).unwrap();
    let s = embed_images(Model::EfficientNetLite0, &weights, &input, &out, &fail).unwrap();
    assert_eq!((s.resumed, s.n_rows), (5, 5));
    assert!(!imprint_embed_partial(&out).exists());

    // Same bits as a fresh run; resume(false) starts over.
    let fresh = dir.join("fresh.h5");
    let s = embed_images(Model::EfficientNetLite0, &weights, &input, &fresh, &options().with_resume(false))
        .unwrap();
    assert_eq!(s.resumed, 0);
    assert_eq!(embeddings_bits(&out), embeddings_bits(&fresh));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_changed_input_is_embedded_again_on_resume() {
    let (dir, images, weights) = setup("changed");
    let input = ImageInput::Folder(images.clone());
    let out = dir.join("changed.h5");
    let fail = options().with_on_bad_input(BadInput::Fail).with_batch_size(1);
    std::fs::remove_file(images.join("digit0/anim.gif")).unwrap();
    embed_images(Model::EfficientNetLite0, &weights, &input, &out, &fail).unwrap_err();
    // Replace the second image's content: only the first row can be reused.
    std::fs::copy(images.join("digit1/0030.png"), images.join("digit0/0001.png")).unwrap();
    std::fs::remove_file(images.join("digit1/zz_corrupt.png")).unwrap();
    let s = embed_images(Model::EfficientNetLite0, &weights, &input, &out, &fail).unwrap();
    assert_eq!(s.resumed, 1);
    let data = imprint_data::read_embeddings(&out).unwrap();
    assert_eq!(data.embeddings().row(1), data.embeddings().row(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn list_files_keep_their_order_and_labels() {
    let (dir, images, weights) = setup("list");
    let list = dir.join("list.txt");
    std::fs::write(&list, "images/digit1/0031.png\tone\nimages/digit0/0000.png\tzero\n").unwrap();
    let out = dir.join("list.h5");
    let s = embed_images(Model::EfficientNetLite0, &weights, &ImageInput::ListFile(list), &out, &options())
        .unwrap();
    assert_eq!(s.label_names, ["one", "zero"]);
    let file = EmbeddingFile::open(&out).unwrap();
    assert_eq!(file.read().unwrap().labels(), [0, 1]);
    assert_eq!(file.read_strings("paths").unwrap(), ["images/digit1/0031.png", "images/digit0/0000.png"]);
    let _ = images;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_before_any_work() {
    let (dir, images, weights) = setup("errors");
    let input = ImageInput::Folder(images.clone());
    let out = dir.join("e.h5");
    let run = |model, w: &Path, input: &ImageInput, o: &EmbedOptions| embed_images(model, w, input, &out, o);
    let e = run(Model::AllMiniLmL6V2, &weights, &input, &options()).unwrap_err();
    assert!(matches!(e, EmbedError::WrongModality { .. }), "{e}");
    let e = embed_text(Model::EfficientNetLite0, &weights, &dir.join("t.txt"), &out, &options()).unwrap_err();
    assert!(matches!(e, EmbedError::WrongModality { .. }), "{e}");
    let e = run(Model::EfficientNetLite0, &weights, &input, &options().with_batch_size(0)).unwrap_err();
    assert!(matches!(e, EmbedError::InvalidOption { name: "batch_size", .. }), "{e}");
    let e = run(Model::EfficientNetLite0, &dir.join("missing.pth"), &input, &options()).unwrap_err();
    assert!(matches!(&e, EmbedError::NotFound { path } if path.ends_with("missing.pth")), "{e}");
    std::fs::write(dir.join("junk.pth"), b"not a checkpoint").unwrap();
    let e = run(Model::EfficientNetLite0, &dir.join("junk.pth"), &input, &options()).unwrap_err();
    assert!(matches!(e, EmbedError::Weights { .. }) && e.to_string().contains("junk.pth"), "{e}");
    let e = run(Model::EfficientNetLite1, &weights, &input, &options()).unwrap_err();
    assert!(matches!(e, EmbedError::TensorMismatch { .. } | EmbedError::MissingTensor { .. }), "{e}");
    let e = run(Model::EfficientNetLite0, &weights, &ImageInput::Folder(dir.join("nope")), &options())
        .unwrap_err();
    assert!(matches!(e, EmbedError::NotFound { .. }), "{e}");
    // Every image bad: an error, and no output.
    let bad = dir.join("bad");
    std::fs::create_dir_all(bad.join("c")).unwrap();
    std::fs::write(bad.join("c/a.png"), b"broken").unwrap();
    let e =
        run(Model::EfficientNetLite0, &weights, &ImageInput::Folder(bad.clone()), &options()).unwrap_err();
    assert!(matches!(e, EmbedError::AllSkipped { n_skipped: 1, .. }), "{e}");
    assert!(!out.exists());
    assert!(!imprint_embed_partial(&out).exists(), "a run with every input bad left its resume file");
    // Failing on the first input: nothing finished, so no resume file either.
    let fail = options().with_on_bad_input(BadInput::Fail);
    let e = run(Model::EfficientNetLite0, &weights, &ImageInput::Folder(bad), &fail).unwrap_err();
    assert!(matches!(e, EmbedError::Image { .. }), "{e}");
    assert!(!out.exists() && !imprint_embed_partial(&out).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn text_runs_write_labels_and_texts() {
    let Some(weights) = common::weights("IMPRINT_MINILM_DIR") else { return };
    let dir = scratch("text");
    let csv = dir.join("t.csv");
    std::fs::write(&csv, "text,label\n\"Hello, world\",b\nSecond,a\n\"\",b\n").unwrap();
    let out = dir.join("t.h5");
    let s = embed_text(Model::AllMiniLmL6V2, &weights, &csv, &out, &options()).unwrap();
    assert_eq!((s.n_rows, s.dim, s.label_names.clone()), (3, 384, vec!["a".to_owned(), "b".to_owned()]));
    let file = EmbeddingFile::open(&out).unwrap();
    let data = file.read().unwrap();
    assert_eq!(data.labels(), [1, 0, 1]);
    assert_eq!(file.read_strings("texts").unwrap(), ["Hello, world", "Second", ""]);
    for row in data.embeddings().outer_iter() {
        let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "not L2-normalized: {norm}");
    }
    // Plain text: one example per non-blank line, unlabeled.
    let txt = dir.join("t.txt");
    std::fs::write(&txt, "one\n\ntwo\n").unwrap();
    let s = embed_text(Model::AllMiniLmL6V2, &weights, &txt, &dir.join("u.h5"), &options()).unwrap();
    assert_eq!((s.n_rows, s.label_names.len()), (2, 0));
    assert!(
        !EmbeddingFile::open(dir.join("u.h5")).unwrap().attributes().unwrap().contains_key("label_names")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `embed_images` on another thread, failing the test (instead of hanging it) after 120 s.
fn embed_within_120s(
    weights: &Path,
    input: ImageInput,
    out: &Path,
    options: EmbedOptions,
) -> Result<imprint_embed::EmbedSummary, EmbedError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (weights, out) = (weights.to_path_buf(), out.to_path_buf());
    std::thread::spawn(move || {
        // The receiver may have given up waiting: nothing to do then.
        let _ = tx.send(embed_images(Model::EfficientNetLite0, &weights, &input, &out, &options));
    });
    rx.recv_timeout(std::time::Duration::from_secs(120)).expect("embed_images did not return within 120 s")
}

#[cfg(unix)]
#[test]
fn pipes_devices_and_huge_files_in_the_folder_are_skipped_and_listed() {
    let (dir, images, weights) = setup("special");
    let made = std::process::Command::new("mkfifo").arg(images.join("digit0/fifo.png")).status().unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", images.join("digit0/zero.png")).unwrap();
    // Sparse: 3 GiB by its size, nothing on disk.
    std::fs::File::create(images.join("digit1/huge.png")).unwrap().set_len(3 << 30).unwrap();
    let out = dir.join("special.h5");
    let s = embed_within_120s(&weights, ImageInput::Folder(images), &out, options()).unwrap();
    assert_eq!(s.n_rows, 5);
    let skipped: Vec<(&str, &str)> =
        s.skipped.iter().map(|k| (k.input.as_str(), k.reason.as_str())).collect();
    assert_eq!(skipped.len(), 5, "{skipped:?}");
    for (input, needle) in [
        ("digit0/fifo.png", "named pipe"),
        ("digit0/zero.png", "character device"),
        ("digit1/huge.png", "limit"),
    ] {
        assert!(skipped.iter().any(|(i, r)| *i == input && r.contains(needle)), "{input}: {skipped:?}");
    }
    let listed = EmbeddingFile::open(&out).unwrap().read_strings("skipped").unwrap();
    assert!(listed.iter().any(|l| l.starts_with("digit0/fifo.png: ")), "{listed:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn folder_links_out_of_a_class_are_not_followed() {
    let (dir, images, weights) = setup("links");
    // `digit0/up` is the input folder: followed, digit1's images would be embedded as digit0.
    std::os::unix::fs::symlink("..", images.join("digit0/up")).unwrap();
    std::os::unix::fs::symlink("../digit1", images.join("digit0/other")).unwrap();
    let out = dir.join("links.h5");
    let s = embed_within_120s(&weights, ImageInput::Folder(images.clone()), &out, options()).unwrap();
    let file = EmbeddingFile::open(&out).unwrap();
    let paths = file.read_strings("paths").unwrap();
    assert_eq!(
        paths,
        ["digit0/0000.png", "digit0/0001.png", "digit1/0030.png", "digit1/0031.png", "digit1/more/x.png"]
    );
    assert_eq!(file.read().unwrap().labels(), [0, 0, 1, 1, 1]);
    let refused: Vec<&str> =
        s.skipped.iter().filter(|k| k.reason.contains("not followed")).map(|k| k.input.as_str()).collect();
    assert_eq!(refused, ["digit0/other", "digit0/up"]);
    // Under the fail policy, a refused link stops the run like any bad input.
    std::fs::remove_file(images.join("digit0/anim.gif")).unwrap();
    let fail = options().with_on_bad_input(BadInput::Fail);
    let e = embed_within_120s(&weights, ImageInput::Folder(images), &dir.join("f.h5"), fail).unwrap_err();
    assert!(matches!(&e, EmbedError::Refused { path, .. } if path.ends_with("digit0/other")), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn file_names_that_are_not_utf8_are_refused_not_stored_lossy() {
    use std::os::unix::ffi::OsStrExt;
    let (dir, images, weights) = setup("utf8");
    let name = std::ffi::OsStr::from_bytes(b"0000-\xe9.png");
    std::fs::copy(images.join("digit0/0000.png"), images.join("digit0").join(name)).unwrap();
    let out = dir.join("utf8.h5");
    let s = embed_within_120s(&weights, ImageInput::Folder(images), &out, options()).unwrap();
    assert_eq!(s.n_rows, 5);
    let skipped =
        s.skipped.iter().find(|k| k.reason.contains("UTF-8")).expect("the file is listed as skipped");
    assert_eq!(skipped.input, "digit0/0000-\u{fffd}.png");
    let paths = EmbeddingFile::open(&out).unwrap().read_strings("paths").unwrap();
    assert!(paths.iter().all(|p| !p.contains('\u{fffd}')), "{paths:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_run_on_the_same_output_is_refused_while_the_first_runs() {
    let (dir, images, weights) = setup("busy");
    let out = dir.join("busy.h5");
    // A run in progress holds the resume file locked.
    let held = std::fs::File::create(imprint_embed_partial(&out)).unwrap();
    held.try_lock().unwrap();
    let e = embed_within_120s(&weights, ImageInput::Folder(images.clone()), &out, options()).unwrap_err();
    assert!(matches!(&e, EmbedError::Busy { path, .. } if path == &out), "{e}");
    assert!(e.to_string().contains("another run"), "{e}");
    assert!(!out.exists());
    drop(held);
    // Once it lets go, the next run goes through and removes the resume file.
    embed_within_120s(&weights, ImageInput::Folder(images), &out, options()).unwrap();
    assert!(out.exists() && !imprint_embed_partial(&out).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_runs_on_one_output_give_one_file_and_clear_errors() {
    let (dir, images, weights) = setup("concurrent");
    let out = dir.join("c.h5");
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let (weights, images, out) = (weights.clone(), images.clone(), out.clone());
            std::thread::spawn(move || {
                embed_images(
                    Model::EfficientNetLite0,
                    &weights,
                    &ImageInput::Folder(images),
                    &out,
                    &options(),
                )
            })
        })
        .collect();
    let results: Vec<_> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    let done = results.iter().filter(|r| r.is_ok()).count();
    assert!(done >= 1, "no run finished");
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(e, EmbedError::Busy { .. } | EmbedError::AlreadyExists { .. }), "{e}");
    }
    assert_eq!(EmbeddingFile::open(&out).unwrap().read().unwrap().labels(), [0, 0, 1, 1, 1]);
    assert!(!imprint_embed_partial(&out).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

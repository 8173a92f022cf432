//! Whole runs: inputs in, one embedding file out, in batches, in parallel,
//! resumable, with bad inputs skipped or fatal.

use std::ops::Range;
use std::path::Path;
use std::time::{Instant, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ndarray::Array2;
use rayon::prelude::*;

use imprint_data::{Embeddings, WriteOptions, write_embeddings};

use crate::efficientnet::EfficientNetLite;
use crate::error::EmbedError;
use crate::image_input::{self, ImageInput};
use crate::image_io::{IMAGE_MEMORY_BUDGET, MemoryBudget, read_image_within};
use crate::minilm::{MAX_TOKENS, MiniLm};
use crate::model::{Modality, Model};
use crate::options::{BadInput, EmbedOptions, EmbedSummary, SkippedInput};
use crate::partial::{Entry, Fnv, Partial};
use crate::text_input;

/// Embeds every image of `input` with an EfficientNet-Lite `model` and writes them
/// to `out` in the reference HDF5 layout.
///
/// The file holds `embeddings` (float32, `n x 1280`) and `labels` (int32, the
/// class folder's position in sorted order, or the list file's class), a
/// `paths` dataset with each row's relative path, and root attributes
/// `label_names` (class names in label order), `model`, `backbone`, `weights`,
/// `preprocessing`, `source`, `n_skipped` and `generator`; skipped inputs are
/// listed in a `skipped` dataset. Rows follow the sorted relative paths (folder)
/// or the list's order.
///
/// The run works in batches of [`EmbedOptions::with_batch_size`] inputs; each
/// finished batch is saved to `OUT.partial`, so a run that is killed continues
/// where it stopped when started again with the same arguments. The output
/// appears atomically when every input is done; the partial file is then
/// removed.
///
/// # Errors
/// [`EmbedError::WrongModality`] for a text model, [`EmbedError::AlreadyExists`]
/// when `out` exists without [`EmbedOptions::with_overwrite`], every error of
/// [`EfficientNetLite::load`] and of reading the input, the first unreadable
/// image under [`BadInput::Fail`], [`EmbedError::AllSkipped`] when no image
/// could be read, and [`EmbedError::Data`] when the output cannot be written.
pub fn embed_images(
    model: Model,
    weights: &Path,
    input: &ImageInput,
    out: &Path,
    options: &EmbedOptions,
) -> Result<EmbedSummary, EmbedError> {
    let start = Instant::now();
    let variant = model.efficientnet_variant().ok_or(EmbedError::WrongModality {
        model: model.name(),
        embeds: "text",
        asked: "images",
    })?;
    preflight(out, options)?;
    let listing = image_input::list(input)?;
    let net = EfficientNetLite::load(weights, variant)?;
    let inputs: Vec<String> = listing.items.iter().map(|i| i.relative.clone()).collect();
    let labels: Vec<usize> = listing.items.iter().map(|i| i.label).collect();
    let keys: Vec<u64> = listing
        .items
        .iter()
        .map(|i| {
            let name = listing.label_names.get(i.label).map_or("", String::as_str);
            file_identity(Fnv::new().field(i.relative.as_bytes()).field(name.as_bytes()), &i.path).finish()
        })
        .collect();
    let job = Job {
        model,
        weights,
        source: input.path(),
        out,
        options,
        inputs: &inputs,
        labels: &labels,
        label_names: &listing.label_names,
        keys: &keys,
        dim: net.dim(),
        preprocessing: format!(
            "bilinear resize to {s}x{s} (align_corners=False), grayscale repeated to 3 channels, \
             x in [0,1] -> (x*255-127)/128; embedding = global average pool of extract_features \
             (penultimate, before dropout and fc)",
            s = net.image_size()
        ),
        rows_dataset: "paths",
    };
    // Shared by every thread: the decoded images in memory at one time, whatever the thread count.
    let budget = MemoryBudget::new(IMAGE_MEMORY_BUDGET);
    let compute = |range: Range<usize>| -> Vec<Result<Vec<f32>, EmbedError>> {
        listing.items[range]
            .par_iter()
            .map(|item| {
                if let Some(e) = item.refusal() {
                    return Err(e);
                }
                let (pixels, grant) = read_image_within(&item.path, &budget)?;
                let input = net.preprocess(&pixels);
                drop((pixels, grant));
                Ok(net.forward(&input))
            })
            .collect()
    };
    let progress = job.embed(compute)?;
    let mut summary = job.finish(progress, inputs.clone())?;
    summary.n_ignored_files = listing.n_ignored;
    summary.elapsed = start.elapsed();
    Ok(summary)
}

/// Embeds every text of `input` (one per line, or a CSV/TSV file with a `text` and
/// an optional `label` column) with all-MiniLM-L6-v2 from the folder `weights` and
/// writes them to `out` like [`embed_images`], with each row's text in a `texts`
/// dataset. Unlabeled text gets label 0 and no `label_names`.
///
/// # Errors
/// [`EmbedError::WrongModality`] for an image model, and as [`embed_images`] with
/// [`MiniLm::load`]'s errors and those of reading the text file.
pub fn embed_text(
    model: Model,
    weights: &Path,
    input: &Path,
    out: &Path,
    options: &EmbedOptions,
) -> Result<EmbedSummary, EmbedError> {
    let start = Instant::now();
    if model.modality() != Modality::Text {
        return Err(EmbedError::WrongModality { model: model.name(), embeds: "images", asked: "text" });
    }
    preflight(out, options)?;
    let listing = text_input::read_texts(input)?;
    let net = MiniLm::load(weights)?;
    let label_names = listing.label_names;
    let n = listing.items.len();
    let (mut texts, mut lines, mut labels) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    // The texts are moved, never copied: one may be as long as the file.
    for item in listing.items {
        texts.push(item.text);
        lines.push(item.line);
        labels.push(item.label);
    }
    let inputs: Vec<String> = lines.iter().map(|line| format!("line {line}")).collect();
    let keys: Vec<u64> = (0..n)
        .map(|i| {
            let name = label_names.get(labels[i]).map_or("", String::as_str);
            Fnv::new()
                .field(&(lines[i] as u64).to_le_bytes())
                .field(texts[i].as_bytes())
                .field(name.as_bytes())
                .finish()
        })
        .collect();
    let job = Job {
        model,
        weights,
        source: input,
        out,
        options,
        inputs: &inputs,
        labels: &labels,
        label_names: &label_names,
        keys: &keys,
        dim: net.dim(),
        preprocessing: format!(
            "WordPiece tokens of tokenizer.json truncated to {MAX_TOKENS}; BERT encoder; mean over \
             tokens; L2-normalized (sentence-transformers all-MiniLM-L6-v2)"
        ),
        rows_dataset: "texts",
    };
    let compute = |range: Range<usize>| -> Vec<Result<Vec<f32>, EmbedError>> {
        texts[range.clone()]
            .par_iter()
            .zip(&lines[range])
            .map(|(text, &line)| {
                net.embed_one(text).map_err(|e| EmbedError::InputLine {
                    path: input.to_path_buf(),
                    line,
                    reason: e.to_string(),
                })
            })
            .collect()
    };
    let progress = job.embed(compute)?;
    let mut summary = job.finish(progress, texts)?;
    summary.elapsed = start.elapsed();
    Ok(summary)
}

fn preflight(out: &Path, options: &EmbedOptions) -> Result<(), EmbedError> {
    options.check()?;
    if out.exists() && !options.overwrite() {
        return Err(EmbedError::AlreadyExists { path: out.to_path_buf() });
    }
    Ok(())
}

/// Adds a file's size and modification time to a key (nothing if it cannot be read:
/// the run reports that file when it reads it).
fn file_identity(h: Fnv, path: &Path) -> Fnv {
    match std::fs::metadata(path) {
        Ok(m) => {
            let mtime =
                m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
            h.field(&m.len().to_le_bytes()).field(&mtime.to_le_bytes())
        }
        Err(_) => h,
    }
}

/// What a run needs to know, whatever the modality.
struct Job<'a> {
    model: Model,
    weights: &'a Path,
    source: &'a Path,
    out: &'a Path,
    options: &'a EmbedOptions,
    /// One per input: how errors and the `skipped` list name it (path or `line N`).
    inputs: &'a [String],
    labels: &'a [usize],
    label_names: &'a [String],
    keys: &'a [u64],
    dim: usize,
    preprocessing: String,
    rows_dataset: &'static str,
}

/// The entries of a run whose inputs are all done, with its locked resume file.
struct Progress {
    partial: Partial,
    entries: Vec<Entry>,
    resumed: usize,
}

impl Job<'_> {
    /// Embeds every input not finished by an interrupted run, batch by batch,
    /// saving each batch to `OUT.partial`, which it holds locked against other runs.
    fn embed(
        &self,
        compute: impl Fn(Range<usize>) -> Vec<Result<Vec<f32>, EmbedError>> + Sync,
    ) -> Result<Progress, EmbedError> {
        let run_key = file_identity(
            Fnv::new()
                .field(b"imprint-embed run v1")
                .field(self.model.name().as_bytes())
                .field(self.preprocessing.as_bytes())
                .field(self.weights.to_string_lossy().as_bytes()),
            self.weights,
        )
        .finish();
        let partial_path = Partial::path_for(self.out);
        let (mut partial, mut entries) =
            Partial::open(&partial_path, self.out, run_key, self.dim, self.keys, self.options.resume())?;
        // Checked again under the lock: a run that held it may have finished meanwhile.
        if self.out.exists() && !self.options.overwrite() {
            partial.abandon(entries.is_empty())?;
            return Err(EmbedError::AlreadyExists { path: self.out.to_path_buf() });
        }
        let resumed = entries.len();
        let result = self.embed_rest(&compute, &mut partial, &mut entries, resumed);
        if let Err(e) = result {
            // The batches finished so far stay for a resume; a file with none goes.
            partial.abandon(entries.is_empty())?;
            return Err(e);
        }
        Ok(Progress { partial, entries, resumed })
    }

    fn embed_rest(
        &self,
        compute: &(impl Fn(Range<usize>) -> Vec<Result<Vec<f32>, EmbedError>> + Sync),
        partial: &mut Partial,
        entries: &mut Vec<Entry>,
        resumed: usize,
    ) -> Result<(), EmbedError> {
        let n = self.inputs.len();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.options.threads())
            .build()
            .map_err(|e| EmbedError::ThreadPool { threads: self.options.threads(), reason: e.to_string() })?;
        let bar = self.progress_bar(n, resumed);
        let batch = self.options.batch_size();
        while entries.len() < n {
            let range = entries.len()..(entries.len() + batch).min(n);
            let results = pool.install(|| compute(range.clone()));
            let mut finished = Vec::with_capacity(results.len());
            for (i, result) in range.clone().zip(results) {
                match result {
                    Ok(row) if row.iter().all(|v| v.is_finite()) => finished.push(Entry::Row(row)),
                    Ok(_) => {
                        return Err(EmbedError::NonFinite { path: self.source.join(&self.inputs[i]) });
                    }
                    Err(e) if self.options.on_bad_input() == BadInput::Skip => {
                        finished.push(Entry::Skipped(e.to_string()));
                    }
                    Err(e) => return Err(e),
                }
            }
            partial.append(&self.keys[range.clone()], &finished)?;
            entries.extend(finished);
            bar.inc(range.len() as u64);
        }
        bar.finish_and_clear();
        Ok(())
    }

    /// Writes the output from the finished entries and each input's row name
    /// (relative path or text), and removes `OUT.partial`; also when every input
    /// was bad, since there is nothing to resume and nothing is written.
    fn finish(&self, progress: Progress, names: Vec<String>) -> Result<EmbedSummary, EmbedError> {
        let Progress { partial, entries, resumed } = progress;
        match self.write(&entries, names, resumed) {
            Ok(summary) => {
                partial.remove()?;
                Ok(summary)
            }
            Err(e @ EmbedError::AllSkipped { .. }) => {
                partial.remove()?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    fn progress_bar(&self, n: usize, done: usize) -> ProgressBar {
        if !self.options.progress() {
            return ProgressBar::hidden();
        }
        // Drawn only when standard error is a terminal.
        let bar = ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, ETA {eta})",
        ) {
            bar.set_style(style);
        }
        bar.set_message(format!("embedding with {}", self.model));
        bar.set_position(done as u64);
        bar
    }

    fn write(
        &self,
        entries: &[Entry],
        names: Vec<String>,
        resumed: usize,
    ) -> Result<EmbedSummary, EmbedError> {
        let mut values = Vec::new();
        let mut labels = Vec::new();
        let mut kept = Vec::new();
        let mut skipped = Vec::new();
        for ((i, entry), name) in entries.iter().enumerate().zip(names) {
            match entry {
                Entry::Row(row) => {
                    values.extend_from_slice(row);
                    labels.push(self.labels[i]);
                    kept.push(name);
                }
                Entry::Skipped(reason) => {
                    skipped.push(SkippedInput { input: self.inputs[i].clone(), reason: reason.clone() });
                }
            }
        }
        if labels.is_empty() {
            return Err(EmbedError::AllSkipped {
                path: self.source.to_path_buf(),
                n_skipped: skipped.len(),
                first: skipped.first().map_or_else(String::new, |s| s.reason.clone()),
            });
        }
        let n_rows = labels.len();
        let matrix = Array2::from_shape_vec((n_rows, self.dim), values).map_err(|e| EmbedError::Shape {
            op: "embedding rows",
            found: vec![n_rows, self.dim],
            expected: e.to_string(),
        })?;
        let data = Embeddings::new(matrix, labels)?;
        let weights_name =
            self.weights.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut options = WriteOptions::new()
            .overwrite(self.options.overwrite())
            .attribute("model", self.model.name())
            .attribute("backbone", self.model.backbone_name())
            .attribute("weights", weights_name)
            .attribute("preprocessing", self.preprocessing.clone())
            .attribute("source", self.source.to_string_lossy().into_owned())
            .attribute("n_skipped", skipped.len() as i64)
            .attribute("generator", concat!("imprint-embed ", env!("CARGO_PKG_VERSION")))
            .string_dataset(self.rows_dataset, kept);
        if !self.label_names.is_empty() {
            options = options.attribute(imprint_data::LABEL_NAMES, self.label_names.to_vec());
        }
        if !skipped.is_empty() {
            let lines = skipped.iter().map(|s| format!("{}: {}", s.input, s.reason)).collect();
            options = options.string_dataset("skipped", lines);
        }
        write_embeddings(self.out, &data, &options)?;
        Ok(EmbedSummary {
            output: self.out.to_path_buf(),
            model: self.model,
            n_rows,
            dim: self.dim,
            label_names: self.label_names.to_vec(),
            skipped,
            resumed,
            n_ignored_files: 0,
            elapsed: std::time::Duration::ZERO,
        })
    }
}

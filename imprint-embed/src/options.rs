//! Settings of an embedding run and what it reports back.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::EmbedError;
use crate::model::Model;

/// What to do with an input that cannot be read or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BadInput {
    /// Leave it out, report it in [`EmbedSummary::skipped`] and in the output file.
    #[default]
    Skip,
    /// Stop the run with its error (the batches finished so far are kept for a resume).
    Fail,
}

/// Settings of [`embed_images`](crate::embed_images) and [`embed_text`](crate::embed_text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedOptions {
    batch_size: usize,
    threads: usize,
    on_bad_input: BadInput,
    progress: bool,
    overwrite: bool,
    resume: bool,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl EmbedOptions {
    /// The most worker threads a run takes (256). More threads than cores does not
    /// go faster, and each thread holds a network's working buffers (about 15 MB
    /// for EfficientNet-Lite2, so 256 threads hold about 4 GB).
    pub const MAX_THREADS: usize = 256;
    /// The largest batch (65,536 inputs).
    pub const MAX_BATCH_SIZE: usize = 1 << 16;

    /// Defaults: batches of 32, all cores (`with_threads(0)`), skip bad inputs, a progress
    /// bar on a terminal, never overwrite, resume an interrupted run.
    pub fn new() -> Self {
        Self {
            batch_size: 32,
            threads: 0,
            on_bad_input: BadInput::Skip,
            progress: true,
            overwrite: false,
            resume: true,
        }
    }

    /// Inputs per batch: the unit of parallel work and of the resume file.
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// Worker threads; 0 = one per core. Results do not depend on it.
    pub fn with_threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// Skip or fail on unreadable inputs.
    pub fn with_on_bad_input(mut self, policy: BadInput) -> Self {
        self.on_bad_input = policy;
        self
    }

    /// Draw a progress bar on standard error (only when it is a terminal).
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Replace an existing output file.
    pub fn with_overwrite(mut self, on: bool) -> Self {
        self.overwrite = on;
        self
    }

    /// Continue from `OUT.partial` left by an interrupted run (default); `false`
    /// starts over.
    pub fn with_resume(mut self, on: bool) -> Self {
        self.resume = on;
        self
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The thread count (0 = one per core).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The bad-input policy.
    pub fn on_bad_input(&self) -> BadInput {
        self.on_bad_input
    }

    /// Whether a progress bar may be drawn.
    pub fn progress(&self) -> bool {
        self.progress
    }

    /// Whether an existing output is replaced.
    pub fn overwrite(&self) -> bool {
        self.overwrite
    }

    /// Whether an interrupted run is resumed.
    pub fn resume(&self) -> bool {
        self.resume
    }

    /// Checks the settings; the runs do it first too.
    ///
    /// # Errors
    /// [`EmbedError::InvalidOption`] for a batch size outside `1..=`[`Self::MAX_BATCH_SIZE`]
    /// or more than [`Self::MAX_THREADS`] threads.
    pub fn check(&self) -> Result<(), EmbedError> {
        if self.batch_size == 0 || self.batch_size > Self::MAX_BATCH_SIZE {
            return Err(EmbedError::InvalidOption {
                name: "batch_size",
                reason: format!("{} is not in 1..={}", self.batch_size, Self::MAX_BATCH_SIZE),
            });
        }
        if self.threads > Self::MAX_THREADS {
            return Err(EmbedError::InvalidOption {
                name: "threads",
                reason: format!("{} is more than {} (0 takes one per core)", self.threads, Self::MAX_THREADS),
            });
        }
        Ok(())
    }
}

/// An input that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedInput {
    /// The image's relative path, or `line N` of a text file.
    pub input: String,
    /// The error, naming the file.
    pub reason: String,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EmbedSummary {
    /// The file written.
    pub output: PathBuf,
    /// The model.
    pub model: Model,
    /// Rows written (inputs embedded).
    pub n_rows: usize,
    /// Embedding dimension.
    pub dim: usize,
    /// Class names in label order (empty for unlabeled input).
    pub label_names: Vec<String>,
    /// Inputs left out under [`BadInput::Skip`], in input order.
    pub skipped: Vec<SkippedInput>,
    /// Inputs taken from an interrupted run's resume file instead of embedded again.
    pub resumed: usize,
    /// Files in the input folder that are not images (by suffix) and were not considered.
    pub n_ignored_files: usize,
    /// Wall-clock time of the run, loading included.
    pub elapsed: Duration,
}

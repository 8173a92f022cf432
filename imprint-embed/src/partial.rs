//! The resume file `OUT.partial`: finished batches of an unfinished run.
//!
//! A header names the run (model, weights, preprocessing: the run key) and the
//! embedding dimension; each batch is appended as one record and synced before
//! the next batch starts. Every entry carries a key of its input (path or line,
//! label, size and modification time), so a restarted run reuses the longest
//! prefix of entries whose keys still match its inputs in order, and embeds
//! the rest. A record cut off by a kill fails its checksum and is dropped with
//! everything after it. The final output is written separately and atomically;
//! this file is removed once it exists.
//!
//! A run holds the file locked (an advisory lock, `File::try_lock`) from before
//! it reads it until it removes it, so a second run on the same output fails at
//! once instead of interleaving its batches with the first one's. The file is
//! therefore changed in place, never replaced: a reused prefix that ends
//! between records is cut off with `set_len`, and anything else is rewritten
//! (a kill during that rewrite loses only what is rewritten, which the next
//! run embeds again).
//!
//! Layout, little-endian: `IMPRINT-EMBED-PARTIAL\n`, u32 version, u64 run key,
//! u32 dim; then records: u32 entry count, entries (u64 key, u8 status; status 1:
//! `dim` f32; status 0: u32 length and that many bytes of UTF-8 reason), u64
//! FNV-1a checksum of the record.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{EmbedError, io};

const MAGIC: &[u8] = b"IMPRINT-EMBED-PARTIAL\n";
const VERSION: u32 = 1;
const HEADER_LEN: usize = MAGIC.len() + 4 + 8 + 4;
const MAX_REASON: usize = 1 << 16;

/// One finished input: its embedding, or why it was skipped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Entry {
    Row(Vec<f32>),
    Skipped(String),
}

/// 64-bit FNV-1a, a stable hash for keys and checksums (std's hasher may change
/// between Rust releases).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub fn bytes(mut self, bytes: &[u8]) -> Self {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self
    }

    /// A length-prefixed field, so that ("ab", "c") and ("a", "bc") differ.
    pub fn field(self, bytes: &[u8]) -> Self {
        self.bytes(&(bytes.len() as u64).to_le_bytes()).bytes(bytes)
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

/// An open resume file, positioned for appending records.
#[derive(Debug)]
pub(crate) struct Partial {
    path: PathBuf,
    file: File,
    dim: usize,
}

impl Partial {
    /// The resume file of output `out`.
    pub fn path_for(out: &Path) -> PathBuf {
        let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".partial");
        out.with_file_name(name)
    }

    /// Opens and locks the resume file at `path` of output `out` for a run with
    /// `run_key` over inputs with `keys`, and returns the entries it can reuse (a
    /// prefix of `keys`). Without `resume`, or when the file belongs to another
    /// run, it starts empty.
    ///
    /// # Errors
    /// [`EmbedError::Busy`] when another run holds the file, and I/O errors.
    pub fn open(
        path: &Path,
        out: &Path,
        run_key: u64,
        dim: usize,
        keys: &[u64],
        resume: bool,
    ) -> Result<(Self, Vec<Entry>), EmbedError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, "create folder", e))?;
        }
        let mut file = lock(path, out)?;
        let mut bytes = Vec::new();
        if resume {
            file.read_to_end(&mut bytes).map_err(|e| io(path, "read", e))?;
        }
        let header = header(run_key, dim);
        let (reused, reused_len) = read_reusable(&bytes, &header, dim, keys);
        if let Some(len) = reused_len {
            // Whole records: keep them as they are, drop whatever follows.
            file.set_len(len as u64).map_err(|e| io(path, "write", e))?;
        } else {
            let mut content = header;
            if !reused.is_empty() {
                content.extend_from_slice(&encode_record(&keys[..reused.len()], &reused));
            }
            file.set_len(0).map_err(|e| io(path, "write", e))?;
            file.seek(SeekFrom::Start(0)).map_err(|e| io(path, "write", e))?;
            file.write_all(&content).map_err(|e| io(path, "write", e))?;
        }
        file.sync_all().map_err(|e| io(path, "sync", e))?;
        file.seek(SeekFrom::End(0)).map_err(|e| io(path, "write", e))?;
        Ok((Self { path: path.to_path_buf(), file, dim }, reused))
    }

    /// Appends one finished batch and syncs it to disk.
    pub fn append(&mut self, keys: &[u64], entries: &[Entry]) -> Result<(), EmbedError> {
        debug_assert!(entries.iter().all(|e| match e {
            Entry::Row(r) => r.len() == self.dim,
            Entry::Skipped(_) => true,
        }));
        let record = encode_record(keys, entries);
        self.file.write_all(&record).map_err(|e| io(&self.path, "write", e))?;
        self.file.sync_data().map_err(|e| io(&self.path, "sync", e))
    }

    /// Deletes the file (the run is complete), then lets it go.
    pub fn remove(self) -> Result<(), EmbedError> {
        let removed = std::fs::remove_file(&self.path).map_err(|e| io(&self.path, "remove", e));
        drop(self.file);
        removed
    }

    /// Lets the file go after a failed run: deleted when `empty` (nothing to
    /// resume), kept otherwise.
    pub fn abandon(self, empty: bool) -> Result<(), EmbedError> {
        if empty { self.remove() } else { Ok(()) }
    }
}

/// Opens (creating it) and locks the resume file; the lock is on the file that
/// is at `path` once locked (a run that finishes removes its file, and one
/// waiting on the removed file would lock nothing).
fn lock(path: &Path, out: &Path) -> Result<File, EmbedError> {
    for _ in 0..16 {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io(path, "open", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(EmbedError::Busy { path: out.to_path_buf(), partial: path.to_path_buf() });
            }
            // A file system without locks: run without one.
            Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => return Ok(file),
            Err(TryLockError::Error(e)) => return Err(io(path, "lock", e)),
        }
        if same_file(&file, path) {
            return Ok(file);
        }
    }
    Err(EmbedError::Busy { path: out.to_path_buf(), partial: path.to_path_buf() })
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

fn header(run_key: u64, dim: usize) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&run_key.to_le_bytes());
    h.extend_from_slice(&(dim as u32).to_le_bytes());
    h
}

fn encode_record(keys: &[u64], entries: &[Entry]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (key, entry) in keys.iter().zip(entries) {
        r.extend_from_slice(&key.to_le_bytes());
        match entry {
            Entry::Row(values) => {
                r.push(1);
                values.iter().for_each(|v| r.extend_from_slice(&v.to_le_bytes()));
            }
            Entry::Skipped(reason) => {
                r.push(0);
                let mut end = reason.len().min(MAX_REASON);
                while !reason.is_char_boundary(end) {
                    end -= 1;
                }
                r.extend_from_slice(&(end as u32).to_le_bytes());
                r.extend_from_slice(&reason.as_bytes()[..end]);
            }
        }
    }
    let checksum = Fnv::new().bytes(&r).finish();
    r.extend_from_slice(&checksum.to_le_bytes());
    r
}

/// The entries of a previous run (the file's `bytes`) that can be reused: a
/// valid prefix of records, after the expected `header`, whose keys match
/// `keys`. Anything unreadable ends the prefix. Also returns the byte length of
/// the header and the records reused, when they are reused whole.
fn read_reusable(bytes: &[u8], header: &[u8], dim: usize, keys: &[u64]) -> (Vec<Entry>, Option<usize>) {
    if bytes.len() < HEADER_LEN || bytes[..HEADER_LEN] != header[..] {
        return (Vec::new(), None);
    }
    let mut cursor = Cursor { data: bytes, pos: HEADER_LEN };
    let mut entries = Vec::new();
    let mut whole = Some(HEADER_LEN);
    'records: while cursor.pos < bytes.len() {
        let start = cursor.pos;
        let Some(record) = read_record(&mut cursor, dim) else { break };
        let body = &bytes[start..cursor.pos - 8];
        let Some(checksum) = cursor.data.get(cursor.pos - 8..cursor.pos) else { break };
        if Fnv::new().bytes(body).finish().to_le_bytes() != checksum {
            break;
        }
        for (key, entry) in record {
            if keys.get(entries.len()) != Some(&key) {
                whole = None;
                break 'records;
            }
            entries.push(entry);
        }
        whole = Some(cursor.pos);
    }
    (entries, whole)
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len())?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }
}

/// Parses one record including its checksum bytes; `None` if it is cut off or malformed.
fn read_record(c: &mut Cursor<'_>, dim: usize) -> Option<Vec<(u64, Entry)>> {
    let n = c.u32()? as usize;
    let mut out = Vec::new();
    for _ in 0..n {
        let key = c.u64()?;
        let entry = match c.take(1)?[0] {
            1 => Entry::Row(
                c.take(dim.checked_mul(4)?)?
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            0 => {
                let len = c.u32()? as usize;
                if len > MAX_REASON {
                    return None;
                }
                Entry::Skipped(String::from_utf8(c.take(len)?.to_vec()).ok()?)
            }
            _ => return None,
        };
        out.push((key, entry));
    }
    c.take(8)?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("imprint-embed-partial-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("out.h5.partial")
    }

    fn row(v: f32) -> Entry {
        Entry::Row(vec![v, -v])
    }

    #[test]
    fn resumes_the_matching_prefix() {
        let path = scratch("prefix");
        let keys = [11, 12, 13, 14, 15];
        let (mut p, reused) = Partial::open(&path, Path::new("out.h5"), 7, 2, &keys, true).unwrap();
        assert!(reused.is_empty());
        p.append(&keys[..2], &[row(1.0), Entry::Skipped("x.png: bad".into())]).unwrap();
        p.append(&keys[2..3], &[row(3.0)]).unwrap();
        drop(p);
        // Same run: all three entries come back.
        let (p, reused) = Partial::open(&path, Path::new("out.h5"), 7, 2, &keys, true).unwrap();
        assert_eq!(reused, [row(1.0), Entry::Skipped("x.png: bad".into()), row(3.0)]);
        drop(p);
        // The second input changed: only the first entry is reused.
        let (p, reused) =
            Partial::open(&path, Path::new("out.h5"), 7, 2, &[11, 99, 13, 14, 15], true).unwrap();
        assert_eq!(reused, [row(1.0)]);
        drop(p);
        // Another run key, another dimension or no resume: nothing is reused.
        assert!(Partial::open(&path, Path::new("out.h5"), 8, 2, &keys, true).unwrap().1.is_empty());
        let (mut p, _) = Partial::open(&path, Path::new("out.h5"), 7, 2, &keys, true).unwrap();
        p.append(&keys[..1], &[row(1.0)]).unwrap();
        drop(p);
        assert!(Partial::open(&path, Path::new("out.h5"), 7, 3, &keys, true).unwrap().1.is_empty());
        assert!(Partial::open(&path, Path::new("out.h5"), 7, 2, &keys, false).unwrap().1.is_empty());
        let (p, _) = Partial::open(&path, Path::new("out.h5"), 7, 2, &keys, true).unwrap();
        p.remove().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_torn_record_is_dropped() {
        let path = scratch("torn");
        let keys = [1, 2, 3];
        let (mut p, _) = Partial::open(&path, Path::new("out.h5"), 1, 2, &keys, true).unwrap();
        p.append(&keys[..1], &[row(1.0)]).unwrap();
        p.append(&keys[1..], &[row(2.0), row(3.0)]).unwrap();
        drop(p);
        let full = std::fs::read(&path).unwrap();
        // Every cut inside the second record keeps exactly the first.
        let first_end = HEADER_LEN + 4 + 8 + 1 + 8 + 8;
        for cut in first_end..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (_, reused) = Partial::open(&path, Path::new("out.h5"), 1, 2, &keys, true).unwrap();
            assert_eq!(reused, [row(1.0)], "cut at {cut}");
        }
        // A flipped byte in the first record drops everything.
        let mut flipped = full.clone();
        flipped[HEADER_LEN + 14] ^= 0x40;
        std::fs::write(&path, &flipped).unwrap();
        assert!(Partial::open(&path, Path::new("out.h5"), 1, 2, &keys, true).unwrap().1.is_empty());
        // Garbage is not an error, just nothing to reuse.
        std::fs::write(&path, b"garbage").unwrap();
        assert!(Partial::open(&path, Path::new("out.h5"), 1, 2, &keys, true).unwrap().1.is_empty());
        assert_eq!(Partial::path_for(Path::new("a/b.h5")), PathBuf::from("a/b.h5.partial"));
    }

    #[test]
    fn a_second_run_on_the_same_output_is_refused() {
        let path = scratch("lock");
        let out = Path::new("out.h5");
        let keys = [1, 2];
        let (mut p, _) = Partial::open(&path, out, 1, 2, &keys, true).unwrap();
        p.append(&keys[..1], &[row(1.0)]).unwrap();
        let e = Partial::open(&path, out, 1, 2, &keys, true).unwrap_err();
        assert!(matches!(&e, EmbedError::Busy { path, .. } if path == out), "{e}");
        assert!(e.to_string().contains("another run"), "{e}");
        // The refused run changed nothing; once the first lets go, its entry is reused.
        drop(p);
        let (p, reused) = Partial::open(&path, out, 1, 2, &keys, true).unwrap();
        assert_eq!(reused, [row(1.0)]);
        // Abandoned with entries: kept; without: removed.
        p.abandon(false).unwrap();
        assert!(path.exists());
        let (p, _) = Partial::open(&path, out, 1, 2, &keys, false).unwrap();
        p.abandon(true).unwrap();
        assert!(!path.exists());
    }
}

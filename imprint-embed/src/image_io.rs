//! Decoding PNG and JPEG files into 8-bit grayscale or RGB pixels.
//!
//! The colour handling follows `scripts/extract_embeddings.py`, which opens
//! folder images with Pillow's `convert("RGB")`: grayscale stays one channel
//! (the network sees it repeated to three, which is what `convert("RGB")`
//! gives), an alpha channel is dropped without compositing, palette images are
//! expanded. 16-bit images are scaled to 8 bits (`v / 257`, rounded), where
//! Pillow would clip them; such files are rare in classification data sets.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Condvar, Mutex};

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::error::{EmbedError, io};

/// Images larger than this many pixels are refused (a decompression bomb guard,
/// about 16,000 x 16,000).
pub const MAX_PIXELS: u64 = 1 << 28;

/// Image files larger than this (256 MiB) are refused without being read.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// The memory (2 GiB) that all the images being decoded at one time share,
/// whatever the thread count.
///
/// From reading its file until its network input is made, an image is counted
/// for `2 x file size + pixels x (2 x b + 4)` bytes, where `b` is the bytes per
/// pixel of the decoded image (1 grey, 2 grey and alpha, 3 RGB, 4 RGBA or a
/// palette, twice as many at 16 bits): the file and the JPEG decoder's copy of
/// it, the decoded image, its 8-bit copy or the decoder's buffers, and the
/// float plane that is resized (an upper bound of the measured peaks, see
/// `docs/embed.md`). An image that needs more than the whole budget is
/// refused (8-bit RGB over about 214 million pixels, 16-bit RGBA over 107
/// million); the others wait for room, which changes when an image is
/// decoded, never its result.
pub const IMAGE_MEMORY_BUDGET: u64 = 2 << 30;

/// A decoded image: `height x width x channels` bytes, row-major, with 1
/// (grayscale) or 3 (RGB) channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    height: usize,
    width: usize,
    channels: usize,
    data: Vec<u8>,
}

impl Pixels {
    /// Wraps raw pixels.
    ///
    /// # Errors
    /// [`EmbedError::Shape`] when `channels` is not 1 or 3, a side is zero, or
    /// `data` does not hold `height * width * channels` bytes.
    pub fn new(height: usize, width: usize, channels: usize, data: Vec<u8>) -> Result<Self, EmbedError> {
        let expected = height.checked_mul(width).and_then(|n| n.checked_mul(channels));
        if !(channels == 1 || channels == 3) || height == 0 || width == 0 || expected != Some(data.len()) {
            return Err(EmbedError::Shape {
                op: "Pixels::new",
                found: vec![height, width, channels, data.len()],
                expected: "height, width > 0, 1 or 3 channels and height * width * channels bytes".into(),
            });
        }
        Ok(Self { height, width, channels, data })
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// 1 (grayscale) or 3 (RGB).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The bytes, `height x width x channels`, row-major.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// Reads and decodes a PNG or JPEG file.
///
/// Only regular files are opened for reading (a named pipe, a device or a
/// folder is refused without waiting on it), and the limits apply before any
/// pixel is decoded: [`MAX_FILE_BYTES`], [`MAX_PIXELS`] and
/// [`IMAGE_MEMORY_BUDGET`] for this one image.
///
/// # Errors
/// [`EmbedError::NotFound`] / [`EmbedError::Io`] when it cannot be read,
/// [`EmbedError::Refused`] when it is not a regular file or is over a limit,
/// [`EmbedError::Image`] when it is not a PNG or JPEG file, is corrupt or truncated.
pub fn read_image(path: impl AsRef<Path>) -> Result<Pixels, EmbedError> {
    let budget = MemoryBudget::new(IMAGE_MEMORY_BUDGET);
    read_image_within(path.as_ref(), &budget).map(|(pixels, _grant)| pixels)
}

/// [`read_image`], holding the image's share of `budget` from before the file is
/// read until the returned grant is dropped (after the network input is made).
pub(crate) fn read_image_within<'b>(
    path: &Path,
    budget: &'b MemoryBudget,
) -> Result<(Pixels, Grant<'b>), EmbedError> {
    let (mut file, size) = open_regular(path)?;
    let header = probe(&mut BufReader::new(&mut file), path)?;
    let need = check_limits(&header, size, path)?;
    let grant = budget.reserve(need);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(|e| io(path, "read", e))?;
    // One byte more than the size seen, to notice a file that grew meanwhile.
    (&mut file).take(size + 1).read_to_end(&mut bytes).map_err(|e| io(path, "read", e))?;
    if bytes.len() as u64 != size {
        return Err(EmbedError::Refused {
            path: path.to_path_buf(),
            reason: "the file changed while it was read".into(),
        });
    }
    let pixels = decode_probed(&bytes, &header, path)?;
    Ok((pixels, grant))
}

/// Decodes the bytes of a PNG or JPEG file (the format is sniffed from the
/// content, not the name); `path` only names it in errors.
///
/// # Errors
/// As [`read_image`], without the I/O errors and the file checks.
pub fn decode_image(bytes: &[u8], path: &Path) -> Result<Pixels, EmbedError> {
    let header = probe(&mut Cursor::new(bytes), path)?;
    check_limits(&header, bytes.len() as u64, path)?;
    decode_probed(bytes, &header, path)
}

/// The bytes an image is counted for (see [`IMAGE_MEMORY_BUDGET`]).
fn decoding_memory(width: u32, height: u32, bytes_per_pixel: u64, file_bytes: u64) -> u64 {
    let pixels = u64::from(width) * u64::from(height);
    file_bytes.saturating_mul(2).saturating_add(pixels.saturating_mul(2 * bytes_per_pixel + 4))
}

/// What the header of a PNG or JPEG file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    format: ImageFormat,
    width: u32,
    height: u32,
    /// Bytes per pixel of the image as the decoder returns it.
    bytes_per_pixel: u64,
}

/// Opens a regular file for reading, without blocking on a named pipe or a device.
fn open_regular(path: &Path) -> Result<(File, u64), EmbedError> {
    let refuse = |meta: &std::fs::Metadata| -> Result<(), EmbedError> {
        if !meta.is_file() {
            return Err(EmbedError::Refused {
                path: path.to_path_buf(),
                reason: format!(
                    "{}; only regular files are read",
                    imprint_data::file_kind(&meta.file_type())
                ),
            });
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(EmbedError::Refused {
                path: path.to_path_buf(),
                reason: format!(
                    "the file has {} bytes, more than the limit of {} ({} MiB)",
                    meta.len(),
                    MAX_FILE_BYTES,
                    MAX_FILE_BYTES >> 20
                ),
            });
        }
        Ok(())
    };
    refuse(&std::fs::metadata(path).map_err(|e| io(path, "read", e))?)?;
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Should the file have been replaced by a named pipe since, opening it
        // does not wait for a writer; the check below then refuses it.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| io(path, "read", e))?;
    let meta = file.metadata().map_err(|e| io(path, "read", e))?;
    refuse(&meta)?;
    Ok((file, meta.len()))
}

/// The format, size and decoded pixel size, from the first bytes of the file (a
/// PNG's `IHDR`, a JPEG's frame header), before any pixel is decoded.
fn probe<R: BufRead + Seek>(r: &mut R, path: &Path) -> Result<Header, EmbedError> {
    let bad = |reason: String| EmbedError::Image { path: path.to_path_buf(), reason };
    let mut magic = Vec::with_capacity(16);
    r.by_ref().take(16).read_to_end(&mut magic).map_err(|e| io(path, "read", e))?;
    let format = image::guess_format(&magic).map_err(|_| bad("not a PNG or JPEG file".into()))?;
    r.seek(SeekFrom::Start(0)).map_err(|e| io(path, "read", e))?;
    let header = match format {
        ImageFormat::Png => probe_png(r),
        ImageFormat::Jpeg => probe_jpeg(r),
        other => return Err(bad(format!("{other:?} images are not supported (PNG and JPEG are)"))),
    };
    header.map_err(|reason| bad(reason.to_owned()))
}

fn read_exact<R: Read, const N: usize>(r: &mut R) -> Result<[u8; N], &'static str> {
    let mut buf = [0u8; N];
    r.read_exact(&mut buf).map_err(|_| "the header is cut off")?;
    Ok(buf)
}

fn probe_png<R: Read>(r: &mut R) -> Result<Header, &'static str> {
    // Signature, then the IHDR chunk: length 13, type, width, height, bit depth, colour type.
    let b: [u8; 26] = read_exact(r)?;
    if b[8..16] != [0, 0, 0, 13, b'I', b'H', b'D', b'R'] {
        return Err("the PNG does not start with its IHDR header");
    }
    let width = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
    let height = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
    let wide = u64::from(b[24] == 16);
    let samples = match b[25] {
        0 => 1,
        2 => 3,
        // Palette images come out as RGB or RGBA.
        3 => 4,
        4 => 2,
        6 => 4,
        _ => return Err("unknown PNG colour type"),
    };
    Ok(Header { format: ImageFormat::Png, width, height, bytes_per_pixel: samples << wide })
}

fn probe_jpeg<R: BufRead + Seek>(r: &mut R) -> Result<Header, &'static str> {
    let soi: [u8; 2] = read_exact(r)?;
    if soi != [0xff, 0xd8] {
        return Err("not a JPEG file");
    }
    loop {
        // A marker: 0xff (any number of fill bytes), then its code.
        let [mut code] = read_exact::<_, 1>(r)?;
        if code != 0xff {
            return Err("the JPEG header is damaged (a marker was expected)");
        }
        while code == 0xff {
            [code] = read_exact(r)?;
        }
        match code {
            // Markers without a length: RSTn, TEM (and a stray SOI).
            0xd0..=0xd8 | 0x01 => continue,
            // End of image, or the scan, before any frame header.
            0xd9 | 0xda => return Err("the JPEG has no frame header"),
            _ => {}
        }
        let len = u16::from_be_bytes(read_exact(r)?);
        if len < 2 {
            return Err("the JPEG header is damaged (a segment length under 2)");
        }
        // SOF0..SOF15, less DHT (c4), JPG (c8) and DAC (cc).
        if matches!(code, 0xc0..=0xcf) && !matches!(code, 0xc4 | 0xc8 | 0xcc) {
            let f: [u8; 6] = read_exact(r)?;
            let precision = f[0];
            let height = u32::from(u16::from_be_bytes([f[1], f[2]]));
            let width = u32::from(u16::from_be_bytes([f[3], f[4]]));
            let components = u64::from(f[5]);
            if height == 0 || width == 0 || components == 0 {
                return Err("the JPEG frame header gives no size");
            }
            // Decoded as grey, RGB (or CMYK on the way to RGB); more than 8 bits twice as wide.
            let bytes_per_pixel = components.min(4) << u64::from(precision > 8);
            return Ok(Header { format: ImageFormat::Jpeg, width, height, bytes_per_pixel });
        }
        r.seek_relative(i64::from(len) - 2).map_err(|_| "the header is cut off")?;
    }
}

/// Refuses an image over [`MAX_PIXELS`] or [`IMAGE_MEMORY_BUDGET`]; returns the
/// memory it needs.
fn check_limits(h: &Header, file_bytes: u64, path: &Path) -> Result<u64, EmbedError> {
    let pixels = u64::from(h.width) * u64::from(h.height);
    if pixels > MAX_PIXELS {
        return Err(EmbedError::Image {
            path: path.to_path_buf(),
            reason: format!("{} x {} pixels is more than the limit of {MAX_PIXELS}", h.width, h.height),
        });
    }
    let need = decoding_memory(h.width, h.height, h.bytes_per_pixel, file_bytes);
    if need > IMAGE_MEMORY_BUDGET {
        return Err(EmbedError::Refused {
            path: path.to_path_buf(),
            reason: format!(
                "{} x {} pixels at {} bytes each need about {} MiB to decode, more than the budget of {} MiB",
                h.width,
                h.height,
                h.bytes_per_pixel,
                need >> 20,
                IMAGE_MEMORY_BUDGET >> 20
            ),
        });
    }
    Ok(need)
}

/// Decodes `bytes`, whose header is `header`, with the decoder held to the size
/// the header gives.
fn decode_probed(bytes: &[u8], header: &Header, path: &Path) -> Result<Pixels, EmbedError> {
    let bad = |reason: String| EmbedError::Image { path: path.to_path_buf(), reason };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), header.format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(header.width);
    limits.max_image_height = Some(header.height);
    // Room for the decoded image at 16 bits and 4 channels, plus the decoder's own buffers.
    limits.max_alloc = Some(u64::from(header.width) * u64::from(header.height) * 8 + (64 << 20));
    reader.limits(limits);
    let img = reader.decode().map_err(|e| bad(e.to_string()))?;
    let (width, height) = (img.width() as usize, img.height() as usize);
    if (img.width(), img.height()) != (header.width, header.height) {
        return Err(bad(format!(
            "the decoder found {} x {} pixels where the header gives {} x {}",
            img.width(),
            img.height(),
            header.width,
            header.height
        )));
    }
    let (channels, data) = match img {
        DynamicImage::ImageLuma8(g) => (1, g.into_raw()),
        DynamicImage::ImageLumaA8(_) | DynamicImage::ImageLuma16(_) | DynamicImage::ImageLumaA16(_) => {
            (1, img.to_luma8().into_raw())
        }
        DynamicImage::ImageRgb8(rgb) => (3, rgb.into_raw()),
        other => (3, other.to_rgb8().into_raw()),
    };
    Pixels::new(height, width, channels, data)
}

/// Memory shared by the images decoded at one time: [`MemoryBudget::reserve`]
/// waits until the bytes asked for fit beside those already granted.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

/// A share of a [`MemoryBudget`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Grant<'b> {
    budget: &'b MemoryBudget,
    bytes: u64,
}

impl MemoryBudget {
    pub(crate) fn new(total: u64) -> Self {
        Self { total, used: Mutex::new(0), freed: Condvar::new() }
    }

    /// Waits until `bytes` (at most the total; more is taken as the total) fit.
    /// Deadlock-free as long as a holder waits for nothing but its own work.
    pub(crate) fn reserve(&self, bytes: u64) -> Grant<'_> {
        let bytes = bytes.min(self.total);
        let mut used = self.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while *used + bytes > self.total {
            used = self.freed.wait(used).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *used += bytes;
        Grant { budget: self, bytes }
    }

    #[cfg(test)]
    fn used(&self) -> u64 {
        *self.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Grant<'_> {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *used -= self.bytes;
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(img: DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn grayscale_rgb_and_alpha() {
        let gray = image::GrayImage::from_fn(3, 2, |x, y| image::Luma([(10 * x + y) as u8]));
        let p = decode_image(&png(DynamicImage::ImageLuma8(gray)), Path::new("g.png")).unwrap();
        assert_eq!((p.height(), p.width(), p.channels()), (2, 3, 1));
        assert_eq!(p.data(), &[0, 10, 20, 1, 11, 21]);
        let rgba = image::RgbaImage::from_fn(2, 1, |x, _| image::Rgba([x as u8, 2, 3, 0]));
        let p = decode_image(&png(DynamicImage::ImageRgba8(rgba)), Path::new("a.png")).unwrap();
        assert_eq!((p.channels(), p.data()), (3, &[0, 2, 3, 1, 2, 3][..]));
        let g16 = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(1, 1, |_, _| image::Luma([65535]));
        let p = decode_image(&png(DynamicImage::ImageLuma16(g16)), Path::new("w.png")).unwrap();
        assert_eq!(p.data(), &[255]);
    }

    /// A PNG of `w x h` 8-bit grey pixels as far as its header says, with an empty
    /// IDAT chunk: every chunk has a correct CRC.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        png_header_of(w, h, 8, 0)
    }

    /// [`png_header`] with another bit depth and colour type.
    fn png_header_of(w: u32, h: u32, depth: u8, colour: u8) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            let mut crc = 0xffff_ffffu32;
            for &b in &body {
                crc ^= u32::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
                }
            }
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            out.extend_from_slice(&body);
            out.extend_from_slice(&(!crc).to_be_bytes());
        }
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &[]);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let good = png(DynamicImage::ImageLuma8(image::GrayImage::new(4, 4)));
        for (bytes, what) in [
            (&b""[..], "empty"),
            (&b"hello, world"[..], "text"),
            (&good[..good.len() / 2], "truncated"),
            (&b"BM\x00\x00\x00\x00"[..], "bmp"),
        ] {
            let e = decode_image(bytes, Path::new("bad/x.png")).unwrap_err();
            assert!(matches!(e, EmbedError::Image { .. }), "{what}: {e}");
            assert!(e.to_string().contains("bad/x.png"), "{what}: {e}");
        }
        assert!(matches!(read_image("/nonexistent/imprint.png"), Err(EmbedError::NotFound { .. })));
        // A header that declares 65,535 x 65,535 pixels is refused before decoding.
        let e = decode_image(&png_header(65_535, 65_535), Path::new("bomb.png")).unwrap_err();
        assert!(e.to_string().contains("more than the limit"), "{e}");
        assert!(Pixels::new(2, 2, 2, vec![0; 8]).is_err());
        assert!(Pixels::new(0, 2, 1, vec![]).is_err());
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("imprint-embed-io-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `read_image` on another thread, failing the test (instead of hanging it) after 30 s.
    fn read_within_30s(path: &Path) -> Result<Pixels, EmbedError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            // The receiver may have given up waiting: nothing to do then.
            let _ = tx.send(read_image(&path));
        });
        rx.recv_timeout(std::time::Duration::from_secs(30)).expect("read_image did not return within 30 s")
    }

    #[cfg(unix)]
    #[test]
    fn pipes_devices_and_folders_are_refused_without_reading() {
        let dir = scratch("special");
        let fifo = dir.join("fifo.png");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let e = read_within_30s(&fifo).unwrap_err();
        assert!(matches!(&e, EmbedError::Refused { reason, .. } if reason.contains("named pipe")), "{e}");
        let e = read_within_30s(Path::new("/dev/zero")).unwrap_err();
        assert!(
            matches!(&e, EmbedError::Refused { reason, .. } if reason.contains("character device")),
            "{e}"
        );
        std::fs::create_dir_all(dir.join("folder.png")).unwrap();
        let e = read_within_30s(&dir.join("folder.png")).unwrap_err();
        assert!(matches!(&e, EmbedError::Refused { reason, .. } if reason.contains("a folder")), "{e}");
        // A link to a pipe is the pipe.
        std::os::unix::fs::symlink(&fifo, dir.join("link.png")).unwrap();
        assert!(matches!(read_within_30s(&dir.join("link.png")), Err(EmbedError::Refused { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_over_the_size_limit_are_refused_unread() {
        let dir = scratch("size");
        // Sparse: 3 GiB of size, no data on disk; reading it would take 3 GiB of memory.
        let path = dir.join("huge.png");
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(3 << 30).unwrap();
        let e = read_within_30s(&path).unwrap_err();
        assert!(matches!(&e, EmbedError::Refused { reason, .. } if reason.contains("limit")), "{e}");
        assert!(e.to_string().contains("huge.png"), "{e}");
        // One byte over the limit: refused; a PNG header at the limit is read (and fails to decode).
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert!(matches!(read_within_30s(&path), Err(EmbedError::Refused { .. })));
        drop(f);
        std::fs::write(&path, png_header(4, 4)).unwrap();
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(MAX_FILE_BYTES).unwrap();
        assert!(matches!(read_within_30s(&path), Err(EmbedError::Image { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn images_whose_decoding_needs_more_than_the_budget_are_refused_before_decoding() {
        // 16,000 x 16,000 is under MAX_PIXELS; at 16-bit RGBA it needs 20 bytes a pixel, 4.8 GiB.
        let bytes = png_header_of(16_000, 16_000, 16, 6);
        let e = decode_image(&bytes, Path::new("big.png")).unwrap_err();
        assert!(matches!(&e, EmbedError::Refused { reason, .. } if reason.contains("budget")), "{e}");
        let dir = scratch("budget");
        std::fs::write(dir.join("big.png"), &bytes).unwrap();
        assert!(matches!(read_within_30s(&dir.join("big.png")), Err(EmbedError::Refused { .. })));
        // The same size in 8-bit grey fits (6 bytes a pixel, 1.4 GiB) and is decoded (here: fails on
        // its empty data).
        let e = decode_image(&png_header_of(16_000, 16_000, 8, 0), Path::new("grey.png")).unwrap_err();
        assert!(matches!(e, EmbedError::Image { .. }), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_header_probe_agrees_with_the_decoder() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images");
        let mut n = 0;
        for class in ["gray", "rgb"] {
            for entry in std::fs::read_dir(fixtures.join(class)).unwrap() {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                let h = probe(&mut Cursor::new(&bytes), &path).unwrap();
                let img = image::load_from_memory(&bytes).unwrap();
                assert_eq!((h.width, h.height), (img.width(), img.height()), "{}", path.display());
                let decoded = u64::from(img.color().bytes_per_pixel());
                assert!(h.bytes_per_pixel >= decoded, "{}: {h:?} vs {:?}", path.display(), img.color());
                n += 1;
            }
        }
        assert_eq!(n, 8);
        // Markers before the frame header (APPn, COM, fill bytes) are skipped.
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0, 0, 4, 1, 2, 0xff, 0xff, 0xfe, 0, 2];
        jpeg.extend_from_slice(&[0xff, 0xc2, 0, 11, 8, 0, 7, 0, 9, 3]);
        let h = probe(&mut Cursor::new(&jpeg), Path::new("p.jpg")).unwrap();
        assert_eq!((h.format, h.width, h.height, h.bytes_per_pixel), (ImageFormat::Jpeg, 9, 7, 3));
        for cut in 2..jpeg.len() {
            let e = probe(&mut Cursor::new(&jpeg[..cut]), Path::new("p.jpg")).unwrap_err();
            assert!(matches!(e, EmbedError::Image { .. }), "cut at {cut}: {e}");
        }
    }

    #[test]
    fn the_budget_holds_whatever_the_thread_count() {
        let budget = MemoryBudget::new(100);
        let peak = Mutex::new(0u64);
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let (budget, peak) = (&budget, &peak);
                s.spawn(move || {
                    for i in 0..200u64 {
                        let grant = budget.reserve((t * 7 + i * 13) % 60 + 1);
                        let used = budget.used();
                        assert!(used <= 100, "{used} bytes granted of 100");
                        let mut p = peak.lock().unwrap();
                        *p = (*p).max(used);
                        drop(p);
                        std::thread::sleep(std::time::Duration::from_micros(100));
                        drop(grant);
                    }
                });
            }
        });
        assert_eq!(budget.used(), 0);
        assert!(*peak.lock().unwrap() > 60, "the threads never shared the budget");
        // Asking for more than the whole budget waits for it all, then proceeds.
        let g = budget.reserve(1000);
        assert_eq!(budget.used(), 100);
        drop(g);
    }
}

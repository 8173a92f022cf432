//! Decoding PNG and JPEG files into 8-bit grayscale or RGB pixels.
//!
//! The colour handling follows `scripts/extract_embeddings.py`, which opens
//! folder images with Pillow's `convert("RGB")`: grayscale stays one channel
//! (the network sees it repeated to three, which is what `convert("RGB")`
//! gives), an alpha channel is dropped without compositing, palette images are
//! expanded. 16-bit images are scaled to 8 bits (`v / 257`, rounded), where
//! Pillow would clip them; such files are rare in classification data sets.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::error::{EmbedError, io};

/// Images larger than this many pixels are refused (a decompression bomb guard,
/// about 16,000 x 16,000).
pub const MAX_PIXELS: u64 = 1 << 28;

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
/// # Errors
/// [`EmbedError::NotFound`] / [`EmbedError::Io`] when it cannot be read,
/// [`EmbedError::Image`] when it is not a PNG or JPEG file, is corrupt or truncated,
/// or has more than [`MAX_PIXELS`] pixels.
pub fn read_image(path: impl AsRef<Path>) -> Result<Pixels, EmbedError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| io(path, "read", e))?;
    decode_image(&bytes, path)
}

/// Decodes the bytes of a PNG or JPEG file (the format is sniffed from the
/// content, not the name); `path` only names it in errors.
///
/// # Errors
/// As [`read_image`], without the I/O errors.
pub fn decode_image(bytes: &[u8], path: &Path) -> Result<Pixels, EmbedError> {
    let bad = |reason: String| EmbedError::Image { path: path.to_path_buf(), reason };
    let format = image::guess_format(bytes).map_err(|_| bad("not a PNG or JPEG file".into()))?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg) {
        return Err(bad(format!("{format:?} images are not supported (PNG and JPEG are)")));
    }
    // The header first, so that a huge declared size is refused before any allocation.
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| bad(e.to_string()))?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(bad(format!("{w} x {h} pixels is more than the limit of {MAX_PIXELS}")));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits_for(w, h));
    let img = reader.decode().map_err(|e| bad(e.to_string()))?;
    let (width, height) = (img.width() as usize, img.height() as usize);
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

fn limits_for(w: u32, h: u32) -> Limits {
    let mut limits = Limits::default();
    // Room for the decoded image at 16 bits and 4 channels, plus the decoder's own buffers.
    limits.max_alloc = Some(u64::from(w) * u64::from(h) * 8 + (64 << 20));
    limits
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
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
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
}

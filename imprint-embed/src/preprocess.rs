//! Image preprocessing of `scripts/extract_embeddings.py`, value for value:
//!
//! ```text
//! t = uint8 / 255.0                       # float32, [0, 1]
//! t = F.interpolate(t, size=(s, s), mode="bilinear", align_corners=False)
//! x = (t.clamp(0, 1) * 255.0 - 127.0) / 128.0
//! ```
//!
//! Grayscale is resized once and repeated to three channels (the script repeats
//! first; the resize acts on each channel alone, so the values are the same).
//! The resize follows PyTorch's CPU kernel (`UpSampleKernel.cpp`,
//! `compute_indices_weights_linear`): in float32, scale = in / out, source
//! coordinate `scale * (dst + 0.5) - 0.5` clamped at 0, neighbours `floor` and
//! `floor + 1` (the same at the border), and the result
//! `(x00 * w0 + x01 * w1) * h0 + (x10 * w0 + x11 * w1) * h1` with the row
//! interpolated first. No antialiasing (PyTorch's default).

use crate::image_io::Pixels;

/// One axis of the resize: for each output index, the two source indices and weights.
struct Taps {
    index: Vec<(usize, usize)>,
    weight: Vec<(f32, f32)>,
}

fn taps(input: usize, output: usize) -> Taps {
    let scale = input as f32 / output as f32;
    let mut index = Vec::with_capacity(output);
    let mut weight = Vec::with_capacity(output);
    for dst in 0..output {
        let src = (scale * (dst as f32 + 0.5) - 0.5).max(0.0);
        // `src` is finite and non-negative; the cast truncates, which is floor here.
        let i0 = (src as usize).min(input - 1);
        let lambda = (src - i0 as f32).clamp(0.0, 1.0);
        let i1 = if i0 < input - 1 { i0 + 1 } else { i0 };
        index.push((i0, i1));
        weight.push((1.0 - lambda, lambda));
    }
    Taps { index, weight }
}

/// Resizes one `h x w` float plane to `size x size`.
fn resize_plane(plane: &[f32], (h, w): (usize, usize), size: usize, out: &mut [f32]) {
    let rows = taps(h, size);
    let cols = taps(w, size);
    for (oy, (&(y0, y1), &(h0, h1))) in rows.index.iter().zip(&rows.weight).enumerate() {
        let r0 = &plane[y0 * w..(y0 + 1) * w];
        let r1 = &plane[y1 * w..(y1 + 1) * w];
        let dst = &mut out[oy * size..(oy + 1) * size];
        for (d, (&(x0, x1), &(w0, w1))) in dst.iter_mut().zip(cols.index.iter().zip(&cols.weight)) {
            let top = r0[x0] * w0 + r0[x1] * w1;
            let bottom = r1[x0] * w0 + r1[x1] * w1;
            *d = top * h0 + bottom * h1;
        }
    }
}

/// `3 x size x size` network input of one image.
pub(crate) fn preprocess(image: &Pixels, size: usize) -> Vec<f32> {
    let (h, w, c) = (image.height(), image.width(), image.channels());
    let plane_len = size * size;
    let mut out = vec![0.0f32; 3 * plane_len];
    let mut plane = vec![0.0f32; h * w];
    for ch in 0..c {
        for (p, px) in plane.iter_mut().zip(image.data().iter().skip(ch).step_by(c)) {
            *p = f32::from(*px) / 255.0;
        }
        resize_plane(&plane, (h, w), size, &mut out[ch * plane_len..(ch + 1) * plane_len]);
    }
    for v in &mut out[..c * plane_len] {
        *v = (v.clamp(0.0, 1.0) * 255.0 - 127.0) / 128.0;
    }
    if c == 1 {
        let (gray, rest) = out.split_at_mut(plane_len);
        rest[..plane_len].copy_from_slice(gray);
        rest[plane_len..].copy_from_slice(gray);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_size_keeps_values() {
        let img = Pixels::new(2, 2, 1, vec![0, 127, 255, 64]).unwrap();
        let x = preprocess(&img, 2);
        let want: Vec<f32> =
            [0u8, 127, 255, 64].iter().map(|&v| ((f32::from(v) / 255.0) * 255.0 - 127.0) / 128.0).collect();
        assert_eq!(&x[..4], &want[..]);
        assert_eq!(&x[4..8], &want[..]);
        assert_eq!(&x[8..], &want[..]);
    }

    #[test]
    fn upsampling_matches_pytorch_bilinear() {
        // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4),
        //     mode="bilinear", align_corners=False)
        let want =
            [[0.0, 0.25, 0.75, 1.0], [0.5, 0.75, 1.25, 1.5], [1.5, 1.75, 2.25, 2.5], [2.0, 2.25, 2.75, 3.0]];
        let mut out = vec![0.0; 16];
        resize_plane(&[0.0, 1.0, 2.0, 3.0], (2, 2), 4, &mut out);
        for (i, row) in want.iter().enumerate() {
            assert_eq!(&out[i * 4..i * 4 + 4], row);
        }
    }

    #[test]
    fn downsampling_samples_two_neighbours_without_antialiasing() {
        // 1 x 4 -> 2 columns: scale 2, sources 0.5 and 2.5.
        let t = taps(4, 2);
        assert_eq!(t.index, [(0, 1), (2, 3)]);
        assert_eq!(t.weight, [(0.5, 0.5), (0.5, 0.5)]);
        // The last source row has no right neighbour.
        let t = taps(3, 4);
        assert_eq!(t.index[3], (2, 2));
    }

    #[test]
    fn rgb_channels_are_resized_separately() {
        let img = Pixels::new(1, 2, 3, vec![255, 0, 0, 255, 0, 255]).unwrap();
        let x = preprocess(&img, 1);
        // 1 x 2 -> 1 x 1: source column 0.5, the mean of both pixels.
        let scaled = |v: f32| (v * 255.0 - 127.0) / 128.0;
        assert_eq!(x, [scaled(1.0), scaled(0.0), scaled(0.5)]);
    }
}

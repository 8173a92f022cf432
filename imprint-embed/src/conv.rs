//! The three convolutions of EfficientNet-Lite, on one image in channel-major
//! (`C x H x W`) layout, with batch normalization folded into weights and bias.
//!
//! Padding is TensorFlow's "SAME", as `Conv2dStaticSamePadding` of
//! efficientnet-lite-pytorch computes it: the output has `ceil(in / stride)`
//! positions and the `max((out - 1) * stride + k - in, 0)` padded pixels are
//! split with the smaller half before (top, left) and the larger after.

use crate::gemm;

/// Output length and padding before, for "SAME" padding.
pub(crate) fn same_padding(input: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = input.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(input);
    (out, total / 2)
}

/// Folds `y = (conv(x) - mean) / sqrt(var + eps) * gamma + beta` into the
/// convolution: scales each output channel's weights (`per_out` values each)
/// and returns the bias.
pub(crate) fn fold_batch_norm(
    weight: &mut [f32],
    per_out: usize,
    [gamma, beta, mean, var]: [&[f32]; 4],
    eps: f64,
) -> Vec<f32> {
    let mut bias = Vec::with_capacity(gamma.len());
    for (c, w) in weight.chunks_exact_mut(per_out).enumerate() {
        let scale = f64::from(gamma[c]) / (f64::from(var[c]) + eps).sqrt();
        for v in w.iter_mut() {
            *v = (f64::from(*v) * scale) as f32;
        }
        bias.push((f64::from(beta[c]) - f64::from(mean[c]) * scale) as f32);
    }
    bias
}

/// What follows the bias: EfficientNet-Lite's ReLU6, or nothing (projections).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Activation {
    Relu6,
    Linear,
}

/// Adds each channel's bias to its `hw` values and applies `act`.
pub(crate) fn bias_act(x: &mut [f32], bias: &[f32], hw: usize, act: Activation) {
    for (plane, &b) in x.chunks_exact_mut(hw).zip(bias) {
        match act {
            Activation::Relu6 => plane.iter_mut().for_each(|v| *v = (*v + b).clamp(0.0, 6.0)),
            Activation::Linear => plane.iter_mut().for_each(|v| *v += b),
        }
    }
}

/// A 1x1 convolution: a `c_out x c_in` matrix times the `c_in x hw` image.
#[derive(Debug, Clone)]
pub(crate) struct Pointwise {
    pub c_in: usize,
    pub c_out: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Pointwise {
    pub fn forward(&self, x: &[f32], hw: usize, act: Activation) -> Vec<f32> {
        let mut out = vec![0.0; self.c_out * hw];
        gemm::matmul(&mut out, &self.weight, x, (self.c_out, self.c_in, hw), false);
        bias_act(&mut out, &self.bias, hw, act);
        out
    }
}

/// A depthwise `k x k` convolution (one filter per channel) with stride 1 or 2.
#[derive(Debug, Clone)]
pub(crate) struct Depthwise {
    pub channels: usize,
    pub kernel: usize,
    pub stride: usize,
    /// `channels x kernel x kernel`.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Depthwise {
    /// Returns the output and its `(height, width)`.
    pub fn forward(&self, x: &[f32], (h, w): (usize, usize)) -> (Vec<f32>, (usize, usize)) {
        let (k, s) = (self.kernel, self.stride);
        let (ho, pad_top) = same_padding(h, k, s);
        let (wo, pad_left) = same_padding(w, k, s);
        // For each kernel column, the output columns whose input column is inside
        // the image: ix = ox * s + kx - pad_left in [0, w).
        let ranges: Vec<(usize, usize)> = (0..k)
            .map(|kx| {
                let lo = pad_left.saturating_sub(kx).div_ceil(s);
                let hi = ((w + pad_left).saturating_sub(kx)).div_ceil(s).min(wo);
                (lo, hi.max(lo))
            })
            .collect();
        let mut out = vec![0.0f32; self.channels * ho * wo];
        for c in 0..self.channels {
            let plane = &x[c * h * w..(c + 1) * h * w];
            let filter = &self.weight[c * k * k..(c + 1) * k * k];
            let out_plane = &mut out[c * ho * wo..(c + 1) * ho * wo];
            for oy in 0..ho {
                let row_out = &mut out_plane[oy * wo..(oy + 1) * wo];
                for ky in 0..k {
                    let iy = oy * s + ky;
                    if iy < pad_top || iy - pad_top >= h {
                        continue;
                    }
                    let row_in = &plane[(iy - pad_top) * w..(iy - pad_top + 1) * w];
                    for (kx, &(lo, hi)) in ranges.iter().enumerate() {
                        let wv = filter[ky * k + kx];
                        // First input column: lo * s + kx - pad_left (>= 0 by construction).
                        let start = lo * s + kx - pad_left;
                        let dst = &mut row_out[lo..hi];
                        if s == 1 {
                            for (o, &i) in dst.iter_mut().zip(&row_in[start..]) {
                                *o += wv * i;
                            }
                        } else {
                            for (o, &i) in dst.iter_mut().zip(row_in[start..].iter().step_by(s)) {
                                *o += wv * i;
                            }
                        }
                    }
                }
            }
        }
        bias_act(&mut out, &self.bias, ho * wo, Activation::Relu6);
        (out, (ho, wo))
    }
}

/// The stem: a dense `k x k` convolution with stride 2 over the 3 input
/// channels, as an im2col matrix (`c_in * k * k` rows) times the weights.
#[derive(Debug, Clone)]
pub(crate) struct Stem {
    pub c_in: usize,
    pub c_out: usize,
    pub kernel: usize,
    pub stride: usize,
    /// `c_out x (c_in * kernel * kernel)`.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Stem {
    /// Returns the output and its `(height, width)`.
    pub fn forward(&self, x: &[f32], (h, w): (usize, usize)) -> (Vec<f32>, (usize, usize)) {
        let (k, s) = (self.kernel, self.stride);
        let (ho, pad_top) = same_padding(h, k, s);
        let (wo, pad_left) = same_padding(w, k, s);
        let rows = self.c_in * k * k;
        let mut cols = vec![0.0f32; rows * ho * wo];
        for c in 0..self.c_in {
            let plane = &x[c * h * w..(c + 1) * h * w];
            for ky in 0..k {
                for kx in 0..k {
                    let row = &mut cols[((c * k + ky) * k + kx) * ho * wo..][..ho * wo];
                    for oy in 0..ho {
                        let iy = oy * s + ky;
                        if iy < pad_top || iy - pad_top >= h {
                            continue;
                        }
                        let src = &plane[(iy - pad_top) * w..(iy - pad_top + 1) * w];
                        for ox in 0..wo {
                            let ix = ox * s + kx;
                            if ix >= pad_left && ix - pad_left < w {
                                row[oy * wo + ox] = src[ix - pad_left];
                            }
                        }
                    }
                }
            }
        }
        let mut out = vec![0.0f32; self.c_out * ho * wo];
        gemm::matmul(&mut out, &self.weight, &cols, (self.c_out, rows, ho * wo), false);
        bias_act(&mut out, &self.bias, ho * wo, Activation::Relu6);
        (out, (ho, wo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution with explicit zero padding: the obviously correct version.
    fn naive(
        x: &[f32],
        (c_in, h, w): (usize, usize, usize),
        weight: &[f32],
        (c_out, k, s): (usize, usize, usize),
        depthwise: bool,
    ) -> Vec<f32> {
        let (ho, pt) = same_padding(h, k, s);
        let (wo, pl) = same_padding(w, k, s);
        let mut out = vec![0.0f32; c_out * ho * wo];
        for o in 0..c_out {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = 0.0f64;
                    let inputs: Vec<usize> = if depthwise { vec![o] } else { (0..c_in).collect() };
                    for (ci_idx, &ci) in inputs.iter().enumerate() {
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (oy * s + ky) as isize - pt as isize;
                                let ix = (ox * s + kx) as isize - pl as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let wi = if depthwise {
                                    (o * k + ky) * k + kx
                                } else {
                                    ((o * c_in + ci_idx) * k + ky) * k + kx
                                };
                                acc += f64::from(weight[wi])
                                    * f64::from(x[(ci * h + iy as usize) * w + ix as usize]);
                            }
                        }
                    }
                    out[(o * ho + oy) * wo + ox] = (acc as f32).clamp(0.0, 6.0);
                }
            }
        }
        out
    }

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.618 + seed).sin() * 2.0).collect()
    }

    #[test]
    fn same_padding_matches_tensorflow() {
        // (input, kernel, stride) -> (output, padding before), from the model's shapes.
        assert_eq!(same_padding(224, 3, 2), (112, 0));
        assert_eq!(same_padding(56, 5, 2), (28, 1));
        assert_eq!(same_padding(65, 5, 2), (33, 2));
        assert_eq!(same_padding(14, 5, 1), (14, 2));
        assert_eq!(same_padding(7, 3, 1), (7, 1));
        assert_eq!(same_padding(1, 5, 2), (1, 2));
    }

    #[test]
    fn depthwise_and_stem_match_direct_convolution() {
        for &(h, w, k, s) in
            &[(7, 9, 3, 1), (8, 8, 3, 2), (9, 6, 5, 2), (5, 5, 5, 1), (1, 3, 5, 2), (13, 11, 3, 2)]
        {
            let c = 3;
            let x = values(c * h * w, 0.3);
            let weight = values(c * k * k, 1.1);
            let dw =
                Depthwise { channels: c, kernel: k, stride: s, weight: weight.clone(), bias: vec![0.0; c] };
            let (got, _) = dw.forward(&x, (h, w));
            let want = naive(&x, (c, h, w), &weight, (c, k, s), true);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "depthwise {h}x{w} k{k} s{s}: {g} vs {w}");
            }
            let c_out = 4;
            let sw = values(c_out * c * k * k, 2.3);
            let stem =
                Stem { c_in: c, c_out, kernel: k, stride: s, weight: sw.clone(), bias: vec![0.0; c_out] };
            let (got, _) = stem.forward(&x, (h, w));
            let want = naive(&x, (c, h, w), &sw, (c_out, k, s), false);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-4, "stem {h}x{w} k{k} s{s}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn folded_batch_norm_equals_batch_norm_after_the_convolution() {
        let mut w = vec![1.0, -2.0, 0.5, 4.0];
        let bias = fold_batch_norm(&mut w, 2, [&[2.0, 0.5], &[0.1, -0.2], &[1.0, 3.0], &[4.0, 0.25]], 0.0);
        // Channel 0: scale 2 / 2 = 1; channel 1: scale 0.5 / 0.5 = 1, bias -0.2 - 3.
        assert_eq!(w, [1.0, -2.0, 0.5, 4.0]);
        assert!((bias[0] - (0.1 - 1.0)).abs() < 1e-7 && (bias[1] - (-3.2)).abs() < 1e-6);
        let mut x = vec![-1.0, 7.0, 0.5, 2.0];
        bias_act(&mut x, &[0.0, 1.0], 2, Activation::Relu6);
        assert_eq!(x, [0.0, 6.0, 1.5, 3.0]);
    }
}

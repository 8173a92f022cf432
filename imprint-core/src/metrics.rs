//! Accuracy and per-class one-vs-rest F1.

use serde::{Deserialize, Serialize};

use crate::{ImprintError, Result};

/// Fraction of predictions equal to the truth, in [0, 1].
///
/// Errors when the lengths differ or there is nothing to score.
pub fn accuracy(predicted: &[usize], truth: &[usize]) -> Result<f64> {
    check_lengths(predicted, truth)?;
    let hits = predicted.iter().zip(truth).filter(|(p, t)| p == t).count();
    Ok(hits as f64 / truth.len() as f64)
}

/// One-vs-rest F1 of one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassF1 {
    /// Class index.
    pub class: usize,
    /// `2 TP / (2 TP + FP + FN)` in [0, 1]; 0 when the class is neither
    /// predicted nor present (scikit-learn's `zero_division=0`).
    pub f1: f64,
    /// Number of true samples of the class.
    pub support: usize,
}

/// One-vs-rest F1 for every class `0..n_classes`.
pub fn per_class_f1(predicted: &[usize], truth: &[usize], n_classes: usize) -> Result<Vec<ClassF1>> {
    check_lengths(predicted, truth)?;
    if let Some(&class) = predicted.iter().chain(truth).find(|&&c| c >= n_classes) {
        return Err(ImprintError::UnknownClass { class, n_classes });
    }
    let (mut tp, mut fp, mut fnn) =
        (vec![0usize; n_classes], vec![0usize; n_classes], vec![0usize; n_classes]);
    for (&p, &t) in predicted.iter().zip(truth) {
        if p == t {
            tp[t] += 1;
        } else {
            fp[p] += 1;
            fnn[t] += 1;
        }
    }
    Ok((0..n_classes)
        .map(|c| {
            let denom = 2 * tp[c] + fp[c] + fnn[c];
            ClassF1 {
                class: c,
                f1: if denom == 0 { 0.0 } else { 2.0 * tp[c] as f64 / denom as f64 },
                support: tp[c] + fnn[c],
            }
        })
        .collect())
}

fn check_lengths(predicted: &[usize], truth: &[usize]) -> Result<()> {
    if predicted.len() != truth.len() {
        return Err(ImprintError::mismatch(
            "metrics: predictions against labels",
            truth.len(),
            predicted.len(),
        ));
    }
    if truth.is_empty() {
        return Err(ImprintError::Empty { what: "labels to score".into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_values() {
        let truth = [0, 0, 1, 1, 2];
        let pred = [0, 1, 1, 1, 0];
        assert!((accuracy(&pred, &truth).unwrap() - 0.6).abs() < 1e-12);
        let f1 = per_class_f1(&pred, &truth, 4).unwrap();
        // class 0: tp 1 fp 1 fn 1 -> 0.5; class 1: tp 2 fp 1 fn 0 -> 0.8; class 2: 0; class 3: 0.
        let got: Vec<f64> = f1.iter().map(|c| c.f1).collect();
        assert_eq!(got, vec![0.5, 0.8, 0.0, 0.0]);
        assert_eq!(f1.iter().map(|c| c.support).collect::<Vec<_>>(), vec![2, 2, 1, 0]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(matches!(accuracy(&[0], &[0, 1]), Err(ImprintError::DimensionMismatch { .. })));
        assert!(matches!(accuracy(&[], &[]), Err(ImprintError::Empty { .. })));
        assert!(matches!(per_class_f1(&[5], &[0], 2), Err(ImprintError::UnknownClass { class: 5, .. })));
    }
}

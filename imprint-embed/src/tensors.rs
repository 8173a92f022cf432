//! Named weight tensors as read from a file, checked against what a model needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::EmbedError;

/// One tensor: its shape and, for float32 tensors, its values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tensor {
    pub shape: Vec<usize>,
    /// `None` for tensors of another element type, named in `dtype`.
    pub data: Option<Vec<f32>>,
    pub dtype: &'static str,
}

/// The tensors of one weights file, by name.
#[derive(Debug)]
pub(crate) struct Tensors {
    path: PathBuf,
    map: BTreeMap<String, Tensor>,
}

impl Tensors {
    pub fn new(path: &Path, map: BTreeMap<String, Tensor>) -> Self {
        Self { path: path.to_path_buf(), map }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes and returns the float32 values of `name`, which must have `shape`.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, EmbedError> {
        let t = self
            .map
            .remove(name)
            .ok_or_else(|| EmbedError::MissingTensor { path: self.path.clone(), name: name.to_owned() })?;
        match t.data {
            Some(data) if t.shape == shape => Ok(data),
            _ => Err(EmbedError::TensorMismatch {
                path: self.path.clone(),
                name: name.to_owned(),
                found: format!("{} {:?}", t.dtype, t.shape),
                expected: format!("f32 {shape:?}"),
            }),
        }
    }

    /// The shape of `name`, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.map.get(name).map(|t| t.shape.as_slice())
    }
}

/// Element count of a shape, or `None` on overflow.
pub(crate) fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_checks_presence_shape_and_dtype() {
        let mut map = BTreeMap::new();
        map.insert("w".to_owned(), Tensor { shape: vec![2, 1], data: Some(vec![1.0, 2.0]), dtype: "f32" });
        map.insert("n".to_owned(), Tensor { shape: vec![], data: None, dtype: "i64" });
        let mut t = Tensors::new(Path::new("x.pth"), map);
        assert_eq!(t.shape("w"), Some(&[2, 1][..]));
        let e = t.take("w", &[1, 2]).unwrap_err();
        assert!(matches!(e, EmbedError::TensorMismatch { .. }), "{e}");
        assert!(e.to_string().contains("x.pth") && e.to_string().contains("[2, 1]"), "{e}");
        assert!(matches!(t.take("n", &[]), Err(EmbedError::TensorMismatch { .. })));
        assert!(matches!(t.take("gone", &[1]), Err(EmbedError::MissingTensor { .. })));
        assert_eq!(numel(&[3, 4, 5]), Some(60));
        assert_eq!(numel(&[usize::MAX, 2]), None);
    }
}

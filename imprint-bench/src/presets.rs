//! The grid `cargo xtask reproduce` runs by default: config files in the
//! reference's format (`imprint-bench/presets/*.yaml`), one per paper table,
//! each run on every task family of the bundled real embeddings (`data/`).
//!
//! A preset file is a complete config on the plain tasks. Its three data
//! lines (`"datasets"`, `"label_remappings"`, `"task_splits"`) are swapped for
//! those of each [`TaskFamily`], so every table compares its methods on the
//! same ten tasks: three data sets, their "2 in 1" and "5 in 1" remappings,
//! and the multi-domain digits task.

use std::collections::BTreeMap;

use imprint_compat::ExperimentConfig;

use crate::{BenchError, Result};

/// Every preset: (name, config text on the plain tasks).
pub const PRESETS: &[(&str, &str)] = &[
    ("norm", include_str!("../presets/norm.yaml")),
    ("gen", include_str!("../presets/gen.yaml")),
    ("oracle", include_str!("../presets/oracle.yaml")),
    ("agg", include_str!("../presets/agg.yaml")),
    ("fewshot", include_str!("../presets/fewshot.yaml")),
    ("proxies", include_str!("../presets/proxies.yaml")),
];

/// A set of tasks: the three data lines of a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskFamily {
    /// Short name, used in messages.
    pub name: &'static str,
    /// The `"datasets"` line.
    pub datasets: &'static str,
    /// The `"label_remappings"` line.
    pub label_remappings: &'static str,
    /// The `"task_splits"` line.
    pub task_splits: &'static str,
}

const SINGLE_DATASETS: &str = r#"    "datasets": [["FashionMNIST"], ["MNIST5k"], ["Digits"]],"#;

/// The task families of the bundled data.
pub const TASK_FAMILIES: &[TaskFamily] = &[
    TaskFamily {
        name: "plain",
        datasets: SINGLE_DATASETS,
        label_remappings: r#"    "label_remappings": {"none": {}},"#,
        task_splits: r#"    "task_splits": {"all": [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]},"#,
    },
    // Pairs of classes merged into one label: 5 classes with two modes each
    // (the paper's "m in 1" tasks peak at k = m).
    TaskFamily {
        name: "2in1",
        datasets: SINGLE_DATASETS,
        label_remappings: r#"    "label_remappings": {"2in1": {0: 0, 5: 0, 1: 1, 6: 1, 2: 2, 7: 2, 3: 3, 8: 3, 4: 4, 9: 4}},"#,
        task_splits: r#"    "task_splits": {"all": [[0, 1, 2, 3, 4]]},"#,
    },
    // Five classes merged into each label: 2 classes with five modes each.
    TaskFamily {
        name: "5in1",
        datasets: SINGLE_DATASETS,
        label_remappings: r#"    "label_remappings": {"5in1": {0: 0, 2: 0, 4: 0, 6: 0, 8: 0, 1: 1, 3: 1, 5: 1, 7: 1, 9: 1}},"#,
        task_splits: r#"    "task_splits": {"all": [[0, 1]]},"#,
    },
    // The paper's CombiDigits built from the available digit sets: digit d of
    // MNIST5k (labels 0-9) and of scikit-learn's digits (labels 10-19) -> d.
    TaskFamily {
        name: "combidigits",
        datasets: r#"    "datasets": [["MNIST5k", "Digits"]],"#,
        label_remappings: r#"    "label_remappings": {"combined": {0: 0, 10: 0, 1: 1, 11: 1, 2: 2, 12: 2, 3: 3, 13: 3, 4: 4, 14: 4, 5: 5, 15: 5, 6: 6, 16: 6, 7: 7, 17: 7, 8: 8, 18: 8, 9: 9, 19: 9}},"#,
        task_splits: r#"    "task_splits": {"all": [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]},"#,
    },
];

/// The backbone of the bundled embeddings.
pub const BUNDLED_BACKBONE: &str = "efficientnet_lite0";

/// Lambda of the least-squares oracles for the bundled backbone, which the
/// paper does not cover. Chosen on the training split only: 5-fold
/// cross-validation of `ls` over {1e-4, 1e-3, 1e-2, 0.05, 0.1} gave mean
/// accuracies 83.8, 88.4, 90.6, 90.3, 90.0 % (`scripts/choose_lambda.py`).
pub const BUNDLED_LAMBDA: f64 = 0.01;

/// `text` with its data lines replaced by `family`'s.
pub fn with_family(preset: &str, text: &str, family: &TaskFamily) -> Result<String> {
    let plain = &TASK_FAMILIES[0];
    let mut out = text.to_string();
    for (from, to) in [
        (plain.datasets, family.datasets),
        (plain.label_remappings, family.label_remappings),
        (plain.task_splits, family.task_splits),
    ] {
        if out.matches(from).count() != 1 {
            return Err(BenchError::Unsupported {
                context: format!("preset '{preset}'"),
                reason: format!("expected the line `{}` exactly once", from.trim()),
            });
        }
        out = out.replace(from, to);
    }
    Ok(out)
}

/// Every preset on every task family, named `{preset}/{family}`.
pub fn preset_configs() -> Result<Vec<(String, ExperimentConfig)>> {
    let mut configs = Vec::new();
    for &(preset, text) in PRESETS {
        for family in TASK_FAMILIES {
            let name = format!("{preset}/{}", family.name);
            let text = with_family(preset, text, family)?;
            configs.push((name.clone(), ExperimentConfig::from_yaml_str(&text, &format!("preset {name}"))?));
        }
    }
    Ok(configs)
}

/// The lambdas the presets need.
pub fn preset_lambdas() -> BTreeMap<String, f64> {
    BTreeMap::from([(BUNDLED_BACKBONE.to_string(), BUNDLED_LAMBDA)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use imprint_compat::ExperimentGrid;

    #[test]
    fn every_preset_parses_on_every_family() {
        let configs = preset_configs().unwrap();
        assert_eq!(configs.len(), PRESETS.len() * TASK_FAMILIES.len());
        let total: usize = configs.iter().map(|(_, c)| ExperimentGrid::new(c).len()).sum();
        for (name, config) in &configs {
            assert!(!ExperimentGrid::new(config).is_empty(), "{name}");
            assert!(config.backbones().iter().all(|b| b == BUNDLED_BACKBONE), "{name}");
        }
        assert!(total > 1000 && total < 10_000, "{total} combinations");
    }

    #[test]
    fn a_preset_without_its_data_lines_is_an_error() {
        let err = with_family("broken", "{}", &TASK_FAMILIES[1]).unwrap_err();
        assert!(err.to_string().contains("datasets"), "{err}");
    }
}

//! `imprint fit`: imprint one class per distinct label of a training file.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use imprint::{
    Aggregation, Classifier, Distance, GENERATOR_NAMES, GeneratorSpec, InputNorm, PAPER_SEED, Recipe,
    Updates, WeightNorm, Weighting, ZeroVectorPolicy, canonical_name,
};

use crate::error::{CliError, Result};
use crate::input::Input;
use crate::{Global, head, progress, text};

/// Default proxies per class (the paper's recommended k).
pub const DEFAULT_K: i64 = 20;

/// Arguments of `imprint fit`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  # The paper's recommended setting (l2 / kmeans k=20 / l2 / l2 / max, seed 17121997):
  imprint fit --train data/embeddings/FashionMNIST/efficientnet_lite0/train/embeddings_FashionMNIST_efficientnet_lite0_train.h5 \\
              --out fashion.safetensors
  # Only some classes of a file (the others can come later with `imprint add --classes`):
  imprint fit --train train.h5 --classes 0-7,9 --out fashion.safetensors
  # One mean per class, 5-nearest-neighbour voting, from a .npy matrix and a label file:
  imprint fit --train x.npy --labels y.txt --generator mean --aggregation mnn --m 5 --distance cosine --out head.json

Defaults are the paper's recommended setting. Rejection thresholds for `predict --reject` are
calibrated from the training rows (5-fold out-of-fold knownness, 95% true-positive rate) unless
--no-reject-calibration is given. A head written to a .json path is stored as JSON text, any other
path as safetensors.")]
pub struct FitArgs {
    /// Labelled training embeddings: HDF5 (reference layout), .npy (with --labels) or .csv (with a `label` column).
    #[arg(long, value_name = "FILE")]
    pub train: PathBuf,
    /// Labels of a .npy or CSV training file: a .npy vector, or text with one label per line.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Use only the rows of these classes: labels and integer ranges separated by commas, e.g. `0-4,7`.
    #[arg(long, value_name = "LIST")]
    pub classes: Option<crate::input::ClassFilter>,
    /// Where to write the head (.json: JSON text; otherwise safetensors).
    #[arg(long, value_name = "HEAD")]
    pub out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// Waiting for concurrent updates of --out (with --force).
    #[command(flatten)]
    pub lock: head::WaitArgs,
    /// Proxy generator (GEN): mean, kmeans, kmedoids, cov_max, fps, random, all, none, ls, kls.
    #[arg(long, value_name = "G", default_value = "kmeans")]
    pub generator: String,
    /// Proxies per class [default: 20; mean and ls: 1]; -1 keeps every shot (generator all, and kls).
    #[arg(long, value_name = "K", allow_negative_numbers = true)]
    pub k: Option<i64>,
    /// Ridge parameter of ls and kls (the paper: resnet18/50 1e-4, vit_b_16 0.1, swin_b and convnextv2 0.05).
    #[arg(long, value_name = "L", allow_negative_numbers = true)]
    pub lambda: Option<f64>,
    /// NORMpre: normalization of the training rows before GEN.
    #[arg(long, value_name = "N", default_value = "l2", value_parser = ["none", "l2"])]
    pub pre_norm: String,
    /// NORMpost: normalization of the proxies.
    #[arg(long, value_name = "N", default_value = "l2", value_parser = ["none", "l2", "quantile"])]
    pub post_norm: String,
    /// NORMinf: normalization of the queries.
    #[arg(long, value_name = "N", default_value = "l2", value_parser = ["none", "l2"])]
    pub input_norm: String,
    /// AGG: the best proxy per class (max) or a vote of the m nearest proxies (mnn).
    #[arg(long, value_name = "A", default_value = "max", value_parser = ["max", "mnn"])]
    pub aggregation: String,
    /// Neighbours of mnn (required with --aggregation mnn).
    #[arg(long, value_name = "M")]
    pub m: Option<usize>,
    /// Similarity or distance of AGG (mnn with inner_product ranks by cosine).
    #[arg(long, value_name = "D", default_value = "inner_product", value_parser = Distance::NAMES)]
    pub distance: String,
    /// Votes of mnn.
    #[arg(long, value_name = "W", default_value = "uniform", value_parser = ["uniform", "weighted_by_distance"])]
    pub weighting: String,
    /// Seed of every random draw (k-means++ starts, random and fps picks).
    #[arg(long, value_name = "S", default_value_t = PAPER_SEED)]
    pub seed: u64,
    /// What L2 normalization does with an all-zero row: reject it (an error) or keep it as zeros.
    #[arg(long, value_name = "P", default_value = "reject", value_parser = ["reject", "keep"])]
    pub zero_vectors: String,
    /// exact: keep what exact updates by `imprint add` need (shots or running means);
    /// append: keep only proxies (smaller files; added shots append proxies).
    #[arg(long, value_name = "U", default_value = "exact", value_parser = ["exact", "append"])]
    pub updates: String,
    /// Do not calibrate rejection thresholds (then `predict --reject` needs `imprint calibrate --rejection`).
    #[arg(long)]
    pub no_reject_calibration: bool,
    /// Share of known rows the rejection thresholds keep.
    #[arg(long, value_name = "TPR", default_value_t = 0.95)]
    pub target_tpr: f64,
    /// Folds of the out-of-fold rejection calibration.
    #[arg(long, value_name = "F", default_value_t = 5)]
    pub folds: usize,
}

/// The recipe that the arguments describe.
///
/// # Errors
/// [`CliError::Usage`] for an unknown generator, a `k`, `m`, `lambda` or
/// weighting that does not fit the generator or aggregation.
pub fn recipe(a: &FitArgs) -> Result<Recipe> {
    let usage = |m: String| CliError::Usage(m);
    let name = canonical_name(&a.generator).ok_or_else(|| {
        usage(format!("unknown proxy generator '{}'; known: {}", a.generator, GENERATOR_NAMES.join(", ")))
    })?;
    let k = match (name, a.k) {
        ("mean" | "ls", None | Some(1)) => None,
        ("mean" | "ls", Some(k)) => {
            return Err(usage(format!("--k {k}: {name} imprints one proxy per class; leave --k out")));
        }
        ("all", None | Some(-1)) => None,
        ("all", Some(k)) => return Err(usage(format!("--k {k}: all keeps every shot; leave --k out"))),
        (_, None) => Some(DEFAULT_K as usize),
        (_, Some(-1)) => None,
        (_, Some(k)) if k >= 1 => Some(k as usize),
        (_, Some(k)) => {
            return Err(usage(format!("--k {k}: k must be a positive number of proxies (or -1)")));
        }
    };
    let spec = match (imprint::JOINT_NAMES.contains(&name), a.lambda) {
        (true, Some(lambda)) => GeneratorSpec::oracle(name, k, lambda),
        (true, None) => {
            return Err(usage(format!(
                "--generator {name} needs --lambda (the paper: resnet18/resnet50 1e-4, vit_b_16 0.1, \
                 swin_b and convnextv2-femto-1k-224 0.05)"
            )));
        }
        (false, Some(l)) => {
            return Err(usage(format!("--lambda {l}: only ls and kls have a ridge parameter")));
        }
        (false, None) => GeneratorSpec::new(name, k),
    };
    let policy = if a.zero_vectors == "keep" { ZeroVectorPolicy::KeepZero } else { ZeroVectorPolicy::Reject };
    let input_norm = |n: &str| if n == "l2" { InputNorm::L2(policy) } else { InputNorm::None };
    let post_norm = match a.post_norm.as_str() {
        "l2" => WeightNorm::L2(policy),
        "quantile" => WeightNorm::Quantile,
        _ => WeightNorm::None,
    };
    let distance: Distance = a.distance.parse().map_err(|e: imprint::ImprintError| usage(e.to_string()))?;
    let weighting: Weighting =
        a.weighting.parse().map_err(|e: imprint::ImprintError| usage(e.to_string()))?;
    let aggregation = match (a.aggregation.as_str(), a.m) {
        ("mnn", Some(m)) => {
            Aggregation::mnn(m, distance, weighting).map_err(|e| usage(format!("--m {m}: {e}")))?
        }
        ("mnn", None) => return Err(usage("--aggregation mnn needs --m (the number of neighbours)".into())),
        (_, Some(m)) => return Err(usage(format!("--m {m}: only --aggregation mnn votes by neighbours"))),
        (_, None) if weighting != Weighting::Uniform => {
            return Err(usage(format!("--weighting {weighting}: only --aggregation mnn weights votes")));
        }
        (_, None) => Aggregation::Max { distance },
    };
    let updates = if a.updates == "append" { Updates::Append } else { Updates::Exact };
    let recipe = Recipe::paper()
        .with_generator(spec)
        .with_pre_norm(input_norm(&a.pre_norm))
        .with_post_norm(post_norm)
        .with_input_norm(input_norm(&a.input_norm))
        .with_aggregation(aggregation)
        .with_seed(a.seed)
        .with_updates(updates);
    recipe.imprinter().map_err(|e| usage(format!("--generator {name}: {e}")))?;
    Ok(recipe)
}

/// Checks the rejection-calibration settings.
pub fn check_rejection_args(target_tpr: f64, folds: usize) -> Result<()> {
    if !(target_tpr > 0.0 && target_tpr <= 1.0) {
        return Err(CliError::Usage(format!("--target-tpr {target_tpr}: must be in (0, 1]")));
    }
    if folds < 2 {
        return Err(CliError::Usage(format!("--folds {folds}: out-of-fold calibration needs at least 2")));
    }
    Ok(())
}

/// Runs `imprint fit`.
pub fn run(a: &FitArgs, global: &Global) -> Result<()> {
    let recipe = recipe(a)?;
    if !a.no_reject_calibration {
        check_rejection_args(a.target_tpr, a.folds)?;
    }
    head::check_writable(&a.out, a.force)?;
    let start = Instant::now();
    let show = progress::visible(global.quiet);
    let bar = progress::spinner(show, format!("reading {}", text::path(&a.train)));
    let mut input = Input::read(&a.train, a.labels.as_deref())?;
    if let Some(filter) = &a.classes {
        input.select(filter, "--classes")?;
    }
    let labels = input.require_labels()?;
    // NORMpre normalizes the shots; rejection calibration also scores them under NORMinf.
    let norms: &[_] =
        if a.no_reject_calibration { &[recipe.pre_norm] } else { &[recipe.pre_norm, recipe.input_norm] };
    crate::check_zero_rows(&input, norms, "pass --zero-vectors keep to keep them as zeros")?;
    let context = || format!("fitting a head on {}", a.train.display());
    let n_classes = labels.iter().collect::<std::collections::HashSet<_>>().len();
    bar.set_message(format!(
        "imprinting {n_classes} classes ({}) from {} rows",
        recipe.describe(),
        input.x.nrows()
    ));
    let mut classifier =
        Classifier::fit(recipe, input.x.view(), labels).map_err(CliError::imprint(context()))?;
    let mut calibrated = false;
    if !a.no_reject_calibration {
        if has_two_shots_in_a_class(labels) {
            bar.set_message(format!("calibrating rejection ({} folds)", a.folds));
            classifier
                .calibrate_rejection(input.x.view(), labels, a.target_tpr, a.folds)
                .map_err(CliError::imprint(format!("calibrating rejection on {}", a.train.display())))?;
            calibrated = true;
        } else {
            global.note(format_args!(
                "warning: no class has two training rows, so rejection was not calibrated; \
                 `predict --reject` will need `imprint calibrate --rejection` first"
            ));
        }
    }
    bar.set_message(format!("writing {}", text::path(&a.out)));
    // A head being updated by another process is replaced after that update.
    let _lock = if a.force { head::lock_for_update(&a.out, a.lock.wait, global)? } else { None };
    let size = head::save(&classifier, &a.out, a.force)?;
    bar.finish_and_clear();
    let proxies: usize = classifier.proxy_counts().iter().sum();
    global.note(format_args!(
        "fitted {} classes ({proxies} proxies, dimension {}) from {} rows of {} in {:.2} s{}; wrote {} ({})",
        classifier.n_classes(),
        classifier.dim(),
        input.x.nrows(),
        a.train.display(),
        start.elapsed().as_secs_f64(),
        if calibrated { format!("; rejection calibrated at TPR {}", a.target_tpr) } else { String::new() },
        a.out.display(),
        head::human_size(size)
    ));
    Ok(())
}

/// Whether some label occurs twice (rejection calibration needs a class with two shots).
fn has_two_shots_in_a_class(labels: &[imprint::ClassLabel]) -> bool {
    let mut seen = std::collections::HashSet::new();
    labels.iter().any(|l| !seen.insert(l))
}

//! `BENCHMARKS.md`: the measured tables and the targets of the speed issue.

use std::fmt::Write as _;

use super::EQUAL_PP;
use super::{Measurement, OURS, OURS_F32_GRAM, OURS_FROM_INIT, PeerReport, TORCH_LS};

/// Peer names written by `peers.py` that the targets refer to.
pub const SKLEARN_KMEANS: &str = "scikit-learn KMeans";
/// faiss's k-means.
pub const FAISS_KMEANS: &str = "faiss Kmeans";
/// scikit-learn's brute-force nearest neighbours.
pub const SKLEARN_NN: &str = "scikit-learn NearestNeighbors (brute)";

/// faiss's k-means from our k-means++ centres for as many iterations as ours took.
pub const FAISS_KMEANS_SAME: &str = "faiss Kmeans (our init, our iterations)";

/// Whether `implementation` is a peer doing the same work as ours: not
/// ours, not a bare-GEMM baseline, and not faiss's default k-means (random
/// init, 25 iterations whatever ours took; [`FAISS_KMEANS_SAME`] is its
/// same-work row).
pub fn same_work_peer(implementation: &str) -> bool {
    implementation != OURS
        && implementation != OURS_FROM_INIT
        && implementation != OURS_F32_GRAM
        && !implementation.starts_with("faer GEMM")
        && implementation != FAISS_KMEANS
}

/// Whether a k-means peer starts from our k-means++ centres (and so does
/// the work of [`OURS_FROM_INIT`], not of the whole fit).
fn starts_from_our_init(implementation: &str) -> bool {
    implementation.contains("(our init")
}

/// For every case with ours and at least one same-work peer
/// ([`same_work_peer`]): the pair of ours and a peer with the lowest ratio
/// of the peer's median to ours, each peer against our row doing its work
/// where measured: [`OURS_FROM_INIT`] for the peers that start from our
/// centres, [`OURS_F32_GRAM`] for the reference's float32 ls formula
/// ([`TORCH_LS`]).
pub fn fastest_peers(ms: &[Measurement]) -> Vec<(&Measurement, &Measurement)> {
    let mut out = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for m in ms {
        if seen.contains(&m.case.as_str()) {
            continue;
        }
        seen.push(&m.case);
        let Some(whole) = find(ms, &m.case, OURS) else { continue };
        let from_init = find(ms, &m.case, OURS_FROM_INIT).unwrap_or(whole);
        let f32_gram = find(ms, &m.case, OURS_F32_GRAM).unwrap_or(whole);
        let ours_for = |peer: &str| match peer {
            _ if starts_from_our_init(peer) => from_init,
            TORCH_LS => f32_gram,
            _ => whole,
        };
        let ratio =
            |(ours, peer): &(&Measurement, &Measurement)| peer.median_seconds() / ours.median_seconds();
        let worst = ms
            .iter()
            .filter(|p| p.case == m.case && same_work_peer(&p.implementation))
            .map(|p| (ours_for(&p.implementation), p))
            .min_by(|a, b| ratio(a).total_cmp(&ratio(b)));
        if let Some(pair) = worst {
            out.push(pair);
        }
    }
    out
}

/// One target of the speed issue, evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// What is asked.
    pub goal: String,
    /// What was measured.
    pub measured: String,
    /// Whether it is met; `None` when a measurement is missing.
    pub met: Option<bool>,
}

fn find<'a>(ms: &'a [Measurement], case: &str, implementation: &str) -> Option<&'a Measurement> {
    ms.iter().find(|m| m.case == case && m.implementation == implementation)
}

/// `slow` takes at least `at_least` times as long as `fast`.
fn ratio_target(
    goal: String,
    slow: Option<&Measurement>,
    fast: Option<&Measurement>,
    at_least: f64,
) -> Target {
    match (slow, fast) {
        (Some(s), Some(f)) => {
            let r = s.median_seconds() / f.median_seconds();
            Target {
                goal,
                measured: format!(
                    "{} {:.4} s, {} {:.4} s: {r:.2}x",
                    f.implementation,
                    f.median_seconds(),
                    s.implementation,
                    s.median_seconds()
                ),
                met: Some(r >= at_least),
            }
        }
        _ => Target { goal, measured: "not measured".into(), met: None },
    }
}

/// The targets of the speed issue, from the measurements of one run.
pub fn targets(report: &PeerReport) -> Vec<Target> {
    let ms = &report.measurements;
    let mut out = Vec::new();
    for modes in ["overlapping", "separated"] {
        let case = format!("k-means n=6000 d=512 k=20 ({modes})");
        let ours = find(ms, &case, OURS);
        let sk = find(ms, &case, SKLEARN_KMEANS);
        out.push(ratio_target(format!("{case}: >= 10x faster than scikit-learn"), sk, ours, 10.0));
        out.push(
            match (ours.and_then(|m| m.quality.get("inertia")), sk.and_then(|m| m.quality.get("inertia"))) {
                (Some(a), Some(b)) => Target {
                    goal: format!("{case}: inertia <= 1% above scikit-learn's"),
                    measured: format!("{:+.3}% ({a:.6e} vs {b:.6e})", 100.0 * (a / b - 1.0)),
                    met: Some(*a <= 1.01 * b),
                },
                _ => Target {
                    goal: format!("{case}: inertia within 1%"),
                    measured: "not measured".into(),
                    met: None,
                },
            },
        );
        out.push(ratio_target(
            format!("{case}: at least as fast as faiss"),
            find(ms, &case, FAISS_KMEANS),
            ours,
            1.0,
        ));
    }
    let mnn = "5-nn (euclidean) 10000 x 60000 d=512";
    out.push(ratio_target(
        format!("{mnn}: >= 5x faster than scikit-learn"),
        find(ms, mnn, SKLEARN_NN),
        find(ms, mnn, OURS),
        5.0,
    ));
    out.push(ratio_target(
        format!("{mnn}: within 1.3x of faer's bare GEMM of the same shape"),
        find(ms, mnn, "faer GEMM (same shape, bare)"),
        find(ms, mnn, OURS),
        1.0 / 1.3,
    ));
    out.push(ratio_target(
        "Lloyd iteration n=6000 d=512 k=20: >= 90% of faer's GEMM throughput (its time over ours >= 0.9)"
            .into(),
        find(ms, "Lloyd iteration n=6000 d=512 k=20", "faer GEMM (same shape)"),
        find(ms, "Lloyd iteration n=6000 d=512 k=20", OURS),
        0.9,
    ));
    for (case, gemm) in [
        ("max (inner product) 10000 x 60000 d=512", "faer GEMM (same shape, bare)"),
        ("ls 10 classes x 6000 d=512", "faer GEMM f64 (Gram X^T X)"),
        ("ls 10 classes x 6000 d=2048", "faer GEMM f64 (Gram X^T X)"),
    ] {
        out.push(ratio_target(
            format!("{case}: >= 50% of faer's GEMM throughput (its time over ours >= 0.5)"),
            find(ms, case, gemm),
            find(ms, case, OURS),
            0.5,
        ));
    }
    if let Some(p) = &report.pipeline {
        let goal = format!(
            "whole bundled reproduction ({} combinations): >= 20x faster than the Python pipeline",
            p.combinations
        );
        out.push(match p.python_seconds {
            Some(py) => {
                let r = py / p.ours_seconds;
                Target {
                    goal,
                    measured: format!(
                        "{r:.1}x ({:.1} s on all cores vs {py:.1} s; one thread each: {:.1}x)",
                        p.ours_seconds,
                        py / p.ours_one_thread_seconds
                    ),
                    met: Some(r >= 20.0),
                }
            }
            None => Target { goal, measured: "Python pipeline not run".into(), met: None },
        });
    }
    out
}

/// Renders the report; `header` says when, where and from which commit.
pub fn render_markdown(report: &PeerReport, header: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n\n{header}\n");
    if !report.versions.is_empty() {
        let v: Vec<String> = report.versions.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(md, "Peers: {}.\n", v.join(", "));
    }
    let _ = writeln!(
        md,
        "Times are medians over repetitions (the k-means cases: over repetitions and the paper's three seeds), \
         wall clock, every implementation using all cores; \"x ours\" is the peer's time over ours \
         (above 1: we are faster). Peak memory is the growth of resident memory while the case ran.\n"
    );
    let _ = writeln!(md, "## Targets\n\n| target | measured | met |\n|---|---|---|");
    for t in targets(report) {
        let met = match t.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        let _ = writeln!(md, "| {} | {} | {met} |", t.goal, t.measured);
    }
    let _ = writeln!(
        md,
        "\nWhy a target is missed, with profiles, and how the ratios move between CPUs: \
         [docs/performance.md](docs/performance.md)."
    );
    let fastest = fastest_peers(&report.measurements);
    if !fastest.is_empty() {
        let _ = writeln!(
            md,
            "\n## Fastest peer per case\n\n\
             The fastest peer doing the same work (bare-GEMM baselines and faiss's default 25-iteration k-means \
             left out): for k-means, the peers that start from our k-means++ centres (scikit-learn's Lloyd \
             and \"{FAISS_KMEANS_SAME}\") are set against \"{OURS_FROM_INIT}\", our Lloyd iterations from \
             those centres; the reference's float32 ls formula (\"{TORCH_LS}\") is set against \
             \"{OURS_F32_GRAM}\", our ls with its Gram matrix in f32 by explicit choice (its accuracy and its \
             difference to our f64 weights are in the case's table); the others against our whole fit. The \
             row shows the pair with the lowest ratio. \"peer / ours\" is the peer's time over ours: below 1, the peer is faster; 0.95 to 1 \
             counts as a tie on a shared machine.\n\n\
             | case | ours | ours s | fastest peer | peer s | peer / ours |\n|---|---|---:|---|---:|---:|"
        );
        for (ours, peer) in fastest {
            let r = peer.median_seconds() / ours.median_seconds();
            let flag = if r < 0.95 { " **ours slower**" } else { "" };
            let _ = writeln!(
                md,
                "| {} | {} | {:.4} | {} | {:.4} | {r:.2}{flag} |",
                ours.case,
                ours.implementation,
                ours.median_seconds(),
                peer.implementation,
                peer.median_seconds()
            );
        }
    }
    let _ = writeln!(md, "\n## Measurements\n");
    let mut case = "";
    for m in &report.measurements {
        if m.case != case {
            case = &m.case;
            let _ = writeln!(
                md,
                "\n### {case}\n\n| implementation | median s | x ours | quality | peak MiB | note |\n|---|---:|---:|---|---:|---|"
            );
        }
        let ours = find(&report.measurements, case, OURS).map(Measurement::median_seconds);
        let ratio = ours.map(|o| format!("{:.2}", m.median_seconds() / o)).unwrap_or_else(|| "-".into());
        let quality: Vec<String> = m.quality.iter().map(|(k, v)| format!("{k} {}", number(*v))).collect();
        let rss = m.peak_rss_mib.map(|r| format!("{r:.0}")).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            md,
            "| {} | {:.4} | {ratio} | {} | {rss} | {} |",
            m.implementation,
            m.median_seconds(),
            quality.join(", "),
            m.note
        );
    }
    if let Some(p) = &report.pipeline {
        let _ = writeln!(md, "\n## Whole reproduction on the bundled data\n");
        let every = match p.every {
            1 => "Every combination".to_string(),
            n => format!("Every {n}-th combination"),
        };
        let _ = writeln!(
            md,
            "{every} of the preset grid ({} records), the same embeddings and inputs on both sides, loaded \
             before the clock. imprint-rs: {:.1} s on all cores, {:.1} s on one thread.",
            p.combinations, p.ours_seconds, p.ours_one_thread_seconds
        );
        if let Some(py) = p.python_seconds {
            let _ = writeln!(
                md,
                "The reference-equivalent Python pipeline (`xtask/peers/reference_pipeline.py`, one torch \
                 thread as the reference's runner sets by default): {py:.1} s, {:.1}x ours on all cores and {:.1}x \
                 ours on one thread.",
                py / p.ours_seconds,
                py / p.ours_one_thread_seconds
            );
            if let Some(slow) = p.python_reference_overheads_seconds {
                let _ = writeln!(
                    md,
                    "With the reference's per-sample Python loops and second forward pass restored \
                     (`--reference-overheads`): {slow:.1} s, {:.1}x ours on all cores.",
                    slow / p.ours_seconds
                );
            }
            let _ = writeln!(md);
            let _ = writeln!(
                md,
                "Agreement of task accuracy (percentage points). \"Random draws\": the combination samples few shots \
                 or its proxy method is seeded (kmeans, kls, random, fps, none); the pipeline draws from numpy's \
                 generators and we from ours, so those agree in distribution only. \"Equal\": within {EQUAL_PP:e} \
                 points (the pipeline's accuracy is a float32, as in the reference).\n\n\
                 | proxy method | random draws | n | equal | mean abs diff | max abs diff |\n|---|---|---:|---:|---:|---:|"
            );
            for a in &p.agreement {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {:.3} | {:.2} |",
                    a.method,
                    if a.random { "yes" } else { "no" },
                    a.n,
                    a.equal,
                    a.mean_abs_diff,
                    a.max_abs_diff
                );
            }
        }
    }
    md
}

fn number(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-2) { format!("{v:.4e}") } else { format!("{v:.3}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::PipelineOutcome;
    use crate::peers::pipeline::Agreement;

    fn m(case: &str, who: &str, s: f64) -> Measurement {
        Measurement::new(case, who, vec![s])
    }

    #[test]
    fn targets_compare_the_right_rows_and_render() {
        let case = "k-means n=6000 d=512 k=20 (overlapping)";
        let report = PeerReport {
            measurements: vec![
                m(case, OURS, 0.01).quality("inertia", 100.0),
                m(case, SKLEARN_KMEANS, 0.2).quality("inertia", 100.5),
                m(case, FAISS_KMEANS, 0.005),
                m(case, FAISS_KMEANS_SAME, 0.008),
                m(case, OURS_FROM_INIT, 0.007),
                m(case, "faer GEMM (same shape)", 0.001),
                m("ls 10 classes x 6000 d=512", OURS, 0.2),
                m("ls 10 classes x 6000 d=512", TORCH_LS, 0.1),
                m("ls 10 classes x 6000 d=2048", OURS, 3.0),
                m("ls 10 classes x 6000 d=2048", OURS_F32_GRAM, 1.5),
                m("ls 10 classes x 6000 d=2048", TORCH_LS, 2.4),
            ],
            versions: [("numpy".to_string(), "2.4".to_string())].into(),
            pipeline: Some(PipelineOutcome {
                combinations: 10,
                every: 1,
                ours_seconds: 1.0,
                ours_one_thread_seconds: 1.5,
                python_seconds: Some(30.0),
                python_reference_overheads_seconds: Some(40.0),
                agreement: vec![
                    Agreement {
                        method: "kmeans".into(),
                        random: true,
                        n: 4,
                        mean_abs_diff: 1.25,
                        max_abs_diff: 3.0,
                        equal: 1,
                    },
                    Agreement {
                        method: "mean".into(),
                        random: false,
                        n: 6,
                        mean_abs_diff: 0.0,
                        max_abs_diff: 0.0,
                        equal: 6,
                    },
                ],
            }),
        };
        let t = targets(&report);
        assert_eq!(t[0].met, Some(true), "{:?}", t[0]);
        assert_eq!(t[1].met, Some(true), "{:?}", t[1]);
        assert_eq!(t[2].met, Some(false), "faiss is faster: {:?}", t[2]);
        assert_eq!(t[3].met, None, "separated modes not measured");
        assert_eq!(t.last().unwrap().met, Some(true));
        let md = render_markdown(&report, "header");
        assert!(md.contains("| scikit-learn KMeans | 0.2000 | 20.00 | inertia 100.500 |"), "{md}");
        assert!(md.contains("30.0x"), "{md}");
        assert!(md.contains("**no**"), "{md}");
        assert!(md.contains("| kmeans | yes | 4 | 1 | 1.250 | 3.00 |"), "{md}");
        assert!(md.contains("| mean | no | 6 | 6 | 0.000 | 0.00 |"), "{md}");
        assert!(md.contains("within 1e-4 points"), "{md}");
        // The fastest same-work peer: not faiss's 25 iterations, not the bare
        // GEMM; the one starting from our centres against our Lloyd alone.
        assert!(
            md.contains(&format!(
                "| {case} | {OURS_FROM_INIT} | 0.0070 | {FAISS_KMEANS_SAME} | 0.0080 | 1.14 |"
            )),
            "{md}"
        );
        assert!(
            md.contains("| ls 10 classes x 6000 d=512 | imprint-rs | 0.2000 | torch (reference formula) | 0.1000 | 0.50 **ours slower** |"),
            "{md}"
        );
        // torch's float32 formula against our f32 Gram where it was measured.
        assert!(
            md.contains(&format!(
                "| ls 10 classes x 6000 d=2048 | {OURS_F32_GRAM} | 1.5000 | {TORCH_LS} | 2.4000 | 1.60 |"
            )),
            "{md}"
        );
    }
}

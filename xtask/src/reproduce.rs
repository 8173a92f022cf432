//! `cargo xtask reproduce`: the paper's experiment grid.
//!
//! The grid runner, records and reports are not built yet (issue #4); until
//! then this command states what it will do and exits successfully.

use std::process::ExitCode;

const PLAN: &str = "\
cargo xtask reproduce: the experiment grid runner is not implemented yet.

When it is, this command will, on the bundled real embeddings (data/):
  1. prior methods vs ours vs the least-squares oracle (k = 20);
  2. GEN at k = 5 and k = 20 (mean, kmeans, kmedoids, covmax, random, fps);
  3. NORMpre / NORMpost / NORMinf combinations at k = 1;
  4. AGG with all data and with 20-means (max, m-nn for m in 1, 3, 5, 20, 50);
  5. the low-data n-shot curve and accuracy vs number of proxies with NC1,
     including 'm in 1' remapped tasks and a multi-domain digits task;
  6. k-least-squares and the GEN runtime table;
then print the tables in the paper's format and write one JSON record per
combination, report.md and SVG figures to an output folder.

The framework it will drive is available now as library crates
(imprint-core, imprint-gen, imprint-baselines); see README.md.";

/// Prints the plan; arguments are not interpreted yet.
pub fn run(args: &[String]) -> ExitCode {
    if !args.is_empty() {
        eprintln!("note: arguments {args:?} are ignored until the grid runner exists");
    }
    println!("{PLAN}");
    ExitCode::SUCCESS
}

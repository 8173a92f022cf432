//! `cargo xtask`: project automation. `main` only dispatches; each subcommand
//! lives in its own module and the heavy lifting in the library crates.

mod reproduce;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  reproduce   regenerate the paper's tables on the bundled real data
  help        print this message";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("reproduce") => reproduce::run(&args[1..]),
        None | Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("error: unknown command '{other}'\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

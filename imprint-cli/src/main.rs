//! The `imprint` command line (see the `imprint_cli` library for the commands).

fn main() -> std::process::ExitCode {
    imprint_cli::main()
}

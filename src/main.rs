//! The `cis-fix` binary: parse arguments, run, map the outcome to an exit code.

fn main() -> std::process::ExitCode {
    cis_fix::cli::main()
}

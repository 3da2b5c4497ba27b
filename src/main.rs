//! The `cis-fix` binary: parse arguments, run, map the outcome to an exit code.

fn main() -> std::process::ExitCode {
    // Behave like other Unix tools when the reader goes away (`cis-fix controls | head`):
    // end quietly on SIGPIPE instead of panicking inside println!.
    #[cfg(unix)]
    // SAFETY: resetting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    cis_fix::cli::main()
}

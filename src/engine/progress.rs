//! Progress for long work (planning regions × controls, applying many changes), on stderr
//! and only on a terminal, cleared before anything else is printed so it never garbles a
//! prompt or the diff.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// No output at all (tests, pipes, `--quiet`).
    pub fn hidden() -> Progress {
        Progress(None)
    }

    /// A bar on stderr when it is a terminal and not `quiet`; otherwise hidden.
    pub fn for_terminal(what: &str, quiet: bool) -> Progress {
        if quiet || crate::output::capturing() || !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        Progress(Some(bar))
    }

    /// A spinner with `what` on stderr (a terminal, not `quiet`), ticking on its own: for
    /// reads whose length is not known up front. Cleared like the bar.
    pub fn spinner(what: &str, quiet: bool) -> Progress {
        if quiet || crate::output::capturing() || !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress(Some(bar))
    }

    pub fn add_total(&self, n: usize) {
        if let Some(b) = &self.0 {
            b.inc_length(n as u64);
        }
    }

    pub fn tick(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }

    /// Remove the bar from the screen.
    pub fn clear(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

//! Ctrl-C during apply or undo: the change in flight finishes (its journal entry is already
//! written), nothing new starts, and the run ends with a summary. A second Ctrl-C exits at
//! once; the journal then shows the in-flight change as unknown, which undo handles.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Listen for SIGINT from now on.
    pub fn install() -> Interrupt {
        let flag = Interrupt::default();
        let f = flag.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                f.0.store(true, Ordering::SeqCst);
                eprintln!("\ninterrupted: finishing the change in flight, then stopping (Ctrl-C again to quit at once)");
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("interrupted again: quitting; the journal records the change in flight as unknown");
                    std::process::exit(130);
                }
            }
        });
        flag
    }

    pub fn raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

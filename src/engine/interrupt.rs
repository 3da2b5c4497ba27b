//! Ctrl-C during apply, undo or a guided session: the change in flight finishes (its journal
//! entry is already written), nothing new starts, and the run ends with a summary. A second
//! Ctrl-C exits at once; the journal then shows the in-flight change as unknown, which undo
//! handles.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Listen for SIGINT from now on. The handler is in place when this returns (tokio's
    /// `ctrl_c()` only registers on its first poll; a Ctrl-C before that would kill the
    /// process with nothing finished).
    pub fn install() -> Interrupt {
        let flag = Interrupt::default();
        let f = flag.clone();
        let mut sigint = CtrlC::register();
        tokio::spawn(async move {
            if sigint.recv().await {
                f.0.store(true, Ordering::SeqCst);
                eprintln!("\ninterrupted: stopping once the change in flight, if any, is done (Ctrl-C again to quit at once)");
                if sigint.recv().await {
                    eprintln!("interrupted again: quitting; the journal records the change in flight as unknown");
                    crate::prompt::restore_terminal();
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

/// SIGINT, registered on creation.
struct CtrlC {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl CtrlC {
    fn register() -> CtrlC {
        CtrlC {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok(),
        }
    }

    /// The next Ctrl-C; `false` when none can be received.
    async fn recv(&mut self) -> bool {
        #[cfg(unix)]
        {
            match &mut self.signal {
                Some(s) => s.recv().await.is_some(),
                None => tokio::signal::ctrl_c().await.is_ok(),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.is_ok()
        }
    }
}

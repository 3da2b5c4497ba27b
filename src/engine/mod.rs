//! The engine: build a plan (read-only, concurrent), apply approved changes (re-read, refuse
//! what moved, journal, write, verify), and undo journaled changes.

mod apply;
mod interrupt;
mod observe;
mod planner;
mod progress;
mod undo;

pub use apply::{apply_changes, check_stale, ApplyOutcome, ChangeResult};
pub use interrupt::Interrupt;
pub use planner::{build_plan, needs_regions};
pub use progress::Progress;
pub use undo::{undo_run, undoable, undone, UndoOutcome, UndoResult};

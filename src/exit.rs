//! Exit codes (the CI-facing contract) and the top-level error that carries one.

use std::fmt;

/// The documented exit codes. Terraform-style: 2 means "changes pending" only for
/// `plan --detailed-exitcode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Nothing to do, or everything applied and verified.
    Ok = 0,
    /// Usage or tool error (bad flags, credentials, malformed files).
    Error = 1,
    /// `plan --detailed-exitcode`: changes are pending.
    Pending = 2,
    /// Some changes failed, did not verify, or could not be read.
    Failed = 3,
    /// Refused: declined, stale plan, no TTY without `--yes`, wrong account.
    Refused = 4,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The worse of two outcomes; refusals and failures outrank pending changes.
    pub fn worst(self, other: Exit) -> Exit {
        fn rank(e: Exit) -> u8 {
            match e {
                Exit::Ok => 0,
                Exit::Pending => 1,
                Exit::Failed => 2,
                Exit::Refused => 3,
                Exit::Error => 4,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// An error that ends the command with a chosen exit code and one clear line.
#[derive(Debug)]
pub struct Fatal {
    pub exit: Exit,
    pub message: String,
}

impl Fatal {
    pub fn usage(message: impl Into<String>) -> Self {
        Fatal {
            exit: Exit::Error,
            message: message.into(),
        }
    }

    pub fn refused(message: impl Into<String>) -> Self {
        Fatal {
            exit: Exit::Refused,
            message: message.into(),
        }
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fatal {}

//! The closing summary of `apply`, `guide` and `undo`: every outcome counted, including what
//! did not happen (declined, refused, skipped, interrupted, left to do by hand), and the exit
//! code that goes with those words.

use crate::engine::ChangeResult;
use crate::exit::Exit;
use crate::plan::{Item, Status};

/// Which run a summary closes: its words are that run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// `apply` and `guide`.
    Apply,
    Undo,
}

impl Run {
    /// A change written and verified.
    pub fn verified(self) -> &'static str {
        match self {
            Run::Apply => "applied, verified",
            Run::Undo => "restored, verified",
        }
    }

    /// A change with nothing to write.
    pub fn already(self) -> &'static str {
        match self {
            Run::Apply => "already satisfied",
            Run::Undo => "already in its previous state",
        }
    }

    /// A change written whose re-read does not show it.
    pub fn not_verified(self) -> &'static str {
        match self {
            Run::Apply => "applied, not verified",
            Run::Undo => "restored, not verified",
        }
    }
}

/// What a run did with each change it was given. The status words are the same as in the
/// per-change lines, the plan and `history` (docs/formats.md lists them).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcomes {
    /// Written, and the re-read shows the desired state.
    pub verified: usize,
    /// Nothing to write: an earlier change of the run already made it so.
    pub already: usize,
    pub not_verified: usize,
    pub failed: usize,
    /// Answered no.
    pub declined: usize,
    /// The target moved since the plan; nothing written.
    pub stale: usize,
    /// Not asked under --yes; `skip_flags` would include them.
    pub skipped: usize,
    pub skip_flags: Vec<String>,
    /// Interrupted (Ctrl-C) before they started.
    pub not_started: usize,
    /// Waited for another control's change that this run did not make.
    pub waiting: usize,
    /// Only a person can fix these (root MFA, …); the plan gives the steps.
    pub manual: usize,
    /// cis-fix could not tell whether these pass.
    pub undetermined: usize,
    /// Their state could not be read.
    pub unreadable: usize,
    /// Left alone under an exception (file entry or tag).
    pub excepted: usize,
}

impl Outcomes {
    /// Count what applying one change came to.
    pub fn record(&mut self, result: &ChangeResult) {
        match result {
            ChangeResult::Verified => self.verified += 1,
            ChangeResult::AlreadySatisfied => self.already += 1,
            ChangeResult::NotVerified(_) => self.not_verified += 1,
            ChangeResult::Failed(_) => self.failed += 1,
            ChangeResult::Stale(_) => self.stale += 1,
            ChangeResult::NotStarted => self.not_started += 1,
        }
    }

    /// Count the items of a plan nobody is asked about: left to do by hand, undetermined,
    /// unreadable, excepted, waiting for another change.
    pub fn count_unasked(&mut self, items: &[Item]) {
        for i in items {
            match i.finding.status {
                Status::Manual => self.manual += 1,
                Status::Unknown => self.undetermined += 1,
                Status::Error => self.unreadable += 1,
                Status::Excepted => self.excepted += 1,
                Status::Blocked => self.waiting += 1,
                _ => {}
            }
        }
    }

    pub fn skip(&mut self, flags: &str) {
        self.skipped += 1;
        for f in flags.split_whitespace() {
            if !self.skip_flags.iter().any(|x| x == f) {
                self.skip_flags.push(f.to_string());
            }
        }
    }

    /// Changes something was done about or decided on.
    pub fn total(&self) -> usize {
        self.verified
            + self.already
            + self.not_verified
            + self.failed
            + self.declined
            + self.stale
            + self.skipped
            + self.not_started
    }

    /// 4 when something was declined, refused as stale or skipped (a refusal outranks a
    /// failure, as everywhere: [`Exit::worst`]); else 3 when something failed, did not verify,
    /// was interrupted or could not be read; else 0.
    pub fn exit(&self) -> Exit {
        let mut e = Exit::Ok;
        if self.failed + self.not_verified + self.not_started + self.unreadable > 0 {
            e = e.worst(Exit::Failed);
        }
        if self.declined + self.stale + self.skipped > 0 {
            e = e.worst(Exit::Refused);
        }
        e
    }

    /// `Summary:` and one line per outcome that happened, in the words of `run`'s per-change
    /// lines.
    pub fn text(&self, run: Run) -> String {
        let mut rows: Vec<(String, usize, String)> = Vec::new();
        let mut row = |what: &str, n: usize, note: String| {
            if n > 0 {
                rows.push((what.to_string(), n, note));
            }
        };
        let undo = run == Run::Undo;
        row(run.verified(), self.verified, String::new());
        row(
            run.already(),
            self.already,
            if undo {
                String::new()
            } else {
                "(an earlier change of this run did it)".into()
            },
        );
        row(run.not_verified(), self.not_verified, String::new());
        row("failed", self.failed, String::new());
        row("declined", self.declined, "(you answered no)".into());
        row(
            "refused (stale)",
            self.stale,
            if undo {
                "(changed since cis-fix applied it; --force restores it anyway)"
            } else {
                "(the target changed since cis-fix read it)"
            }
            .into(),
        );
        row(
            "skipped",
            self.skipped,
            if self.skip_flags.is_empty() {
                String::new()
            } else {
                format!("(pass {} to include them)", self.skip_flags.join(" "))
            },
        );
        row("not started (interrupted)", self.not_started, String::new());
        row(
            "waiting for another change",
            self.waiting,
            "(select what they wait for, or --with-dependencies)".into(),
        );
        row(
            "left to do by hand",
            self.manual,
            "(`cis-fix plan` shows the steps)".into(),
        );
        row("undetermined", self.undetermined, String::new());
        row("could not be read", self.unreadable, String::new());
        row(
            "excepted",
            self.excepted,
            "(left alone under an exception; `cis-fix plan` shows each)".into(),
        );
        let mut s = String::from("Summary:\n");
        if rows.is_empty() {
            s.push_str("  nothing was changed\n");
        }
        let width = rows
            .iter()
            .map(|(w, _, _)| w.len())
            .max()
            .unwrap_or(0)
            .max(27);
        for (what, n, note) in rows {
            let line = format!("  {what:<width$} {n:>4}  {note}");
            s.push_str(line.trim_end());
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_counted_and_the_exit_code_agrees() {
        let ok = Outcomes {
            verified: 3,
            already: 1,
            manual: 2,
            ..Default::default()
        };
        assert_eq!(ok.exit(), Exit::Ok);
        let t = ok.text(Run::Apply);
        assert!(t.contains("applied, verified              3"), "{t}");
        assert!(t.contains("left to do by hand             2"), "{t}");
        assert!(!t.contains("failed"), "{t}");

        let mut refused = Outcomes {
            verified: 1,
            declined: 2,
            stale: 1,
            ..Default::default()
        };
        refused.skip("--allow-destructive");
        refused.skip("--force-in-use --allow-destructive");
        assert_eq!(refused.exit(), Exit::Refused);
        let t = refused.text(Run::Apply);
        assert!(t.contains("declined                       2"), "{t}");
        assert!(t.contains("refused (stale)                1"), "{t}");
        assert!(
            t.contains("skipped                        2  (pass --allow-destructive --force-in-use to include them)"),
            "{t}"
        );

        let both = Outcomes {
            failed: 1,
            declined: 1,
            ..Default::default()
        };
        assert_eq!(both.exit(), Exit::Refused, "a refusal outranks a failure");
        for failed in [
            Outcomes {
                not_verified: 1,
                ..Default::default()
            },
            Outcomes {
                not_started: 2,
                ..Default::default()
            },
        ] {
            assert_eq!(failed.exit(), Exit::Failed, "{failed:?}");
        }
        assert!(Outcomes::default()
            .text(Run::Apply)
            .contains("nothing was changed"));
    }

    #[test]
    fn an_undo_summary_speaks_of_restoring() {
        let t = Outcomes {
            verified: 2,
            already: 1,
            not_verified: 1,
            stale: 1,
            ..Default::default()
        }
        .text(Run::Undo);
        assert!(t.contains("restored, verified               2"), "{t}");
        assert!(t.contains("already in its previous state    1"), "{t}");
        assert!(t.contains("restored, not verified           1"), "{t}");
        assert!(t.contains("--force restores it anyway"), "{t}");
        assert!(
            !t.contains("applied,") && !t.contains("earlier change"),
            "{t}"
        );
    }
}

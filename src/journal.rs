//! The journal: an append-only file per run under the state directory. Each change is
//! recorded with the target's previous state *before* the write call is made, then completed
//! with the result and the verified state. `undo` reads it back; a corrupt or truncated line
//! is reported, never skipped.
//!
//! Line format: `<sha256 of the JSON> <JSON>`; the hash catches edits and torn writes.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::plan::now_rfc3339;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("state directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal {path} line {line} is corrupt ({reason}); cis-fix will not guess what happened in that run: inspect or move the file")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("no run '{0}' in the journal: `cis-fix history` lists the runs")]
    UnknownRun(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A reference to one change of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRef {
    pub run_id: String,
    pub seq: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    Start {
        run_id: String,
        command: String,
        account_id: String,
        benchmark: String,
        cis_fix_version: String,
        at: String,
    },
    /// Written and flushed before the write call.
    Intent {
        seq: u32,
        control: String,
        id: String,
        region: Option<String>,
        target: String,
        /// The state just before the write, re-read.
        previous: Value,
        /// The state the write aims for.
        planned: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        undo_of: Option<ChangeRef>,
        at: String,
    },
    Outcome {
        seq: u32,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        at: String,
    },
    Verified {
        seq: u32,
        verified: bool,
        /// The state re-read after the write.
        observed: Value,
        at: String,
    },
    End {
        at: String,
        interrupted: bool,
    },
}

/// Where runs live.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// The XDG state directory (`$XDG_STATE_HOME/cis-fix`), or the platform's local data dir.
    pub fn default_dir() -> Option<PathBuf> {
        dirs::state_dir()
            .or_else(dirs::data_local_dir)
            .map(|d| d.join("cis-fix"))
    }

    pub fn at(state_dir: &Path) -> Journal {
        Journal {
            dir: state_dir.join("runs"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state directory (the parent of `runs/`), where the run lock lives.
    pub fn state_dir(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
    }

    /// Create the run file (and the directory) now, so that an unwritable state directory
    /// stops `apply` before anything in the account changes.
    pub fn start_run(
        &self,
        command: &str,
        account_id: &str,
        benchmark: &str,
    ) -> Result<RunWriter, JournalError> {
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let run_id = new_run_id();
        let path = self.dir.join(format!("{run_id}.jsonl"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut w = RunWriter {
            file,
            path,
            run_id: run_id.clone(),
            seq: 0,
        };
        w.append(&Entry::Start {
            run_id,
            command: command.to_string(),
            account_id: account_id.to_string(),
            benchmark: benchmark.to_string(),
            cis_fix_version: env!("CARGO_PKG_VERSION").to_string(),
            at: now_rfc3339(),
        })?;
        Ok(w)
    }

    /// Every run, oldest first. A run file that cannot be read comes back as an error in
    /// its place.
    pub fn runs(&self) -> Result<Vec<Result<Run, JournalError>>, JournalError> {
        let mut files: Vec<PathBuf> = match fs::read_dir(&self.dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir)(e)),
        };
        files.sort();
        let mut runs: Vec<Result<Run, JournalError>> = files.iter().map(|p| Run::read(p)).collect();
        // Run ids sort by time to the millisecond; the recorded start time breaks ties.
        runs.sort_by_key(|r| match r {
            Ok(r) => (parse_time(&r.started_at), r.run_id.clone()),
            Err(_) => (None, String::new()),
        });
        Ok(runs)
    }

    pub fn load(&self, run_id: &str) -> Result<Run, JournalError> {
        let path = self.dir.join(format!("{run_id}.jsonl"));
        if !path.exists() || run_id.contains('/') || run_id.contains("..") {
            return Err(JournalError::UnknownRun(run_id.to_string()));
        }
        Run::read(&path)
    }
}

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

fn new_run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second].[subsecond digits:3]Z"
        ))
        .unwrap_or_default();
    let salt = (now.nanosecond() ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{stamp}-{salt:04x}")
}

/// Appends entries to one run file, flushing each to disk before returning.
#[derive(Debug)]
pub struct RunWriter {
    file: File,
    path: PathBuf,
    run_id: String,
    seq: u32,
}

impl RunWriter {
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }

    /// Record that the run is over (or was interrupted).
    pub fn finish(&mut self, interrupted: bool) -> Result<(), JournalError> {
        self.append(&Entry::End {
            at: now_rfc3339(),
            interrupted,
        })
    }

    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let json = serde_json::to_string(entry).map_err(|e| JournalError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        let line = format!("{} {json}\n", hex::encode(Sha256::digest(json.as_bytes())));
        self.file
            .write_all(line.as_bytes())
            .map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))
    }
}

/// One change as the journal tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    pub seq: u32,
    pub control: String,
    pub id: String,
    pub region: Option<String>,
    pub target: String,
    pub previous: Value,
    pub planned: Value,
    pub undo_of: Option<ChangeRef>,
    /// `None`: the write was started but its result never recorded (killed mid-call).
    pub ok: Option<bool>,
    pub error: Option<String>,
    pub verified: Option<bool>,
    pub observed: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub run_id: String,
    pub command: String,
    pub account_id: String,
    pub benchmark: String,
    pub started_at: String,
    pub ended: bool,
    pub changes: Vec<ChangeRecord>,
}

impl Run {
    fn read(path: &Path) -> Result<Run, JournalError> {
        let text = fs::read_to_string(path).map_err(io(path))?;
        let corrupt = |line: usize, reason: String| JournalError::Corrupt {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let mut run: Option<Run> = None;
        let ends_cleanly = text.is_empty() || text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        for (i, raw) in lines.iter().enumerate() {
            let n = i + 1;
            if n == lines.len() && !ends_cleanly {
                return Err(corrupt(n, "the last line is truncated".into()));
            }
            let (sum, json) = raw
                .split_once(' ')
                .ok_or_else(|| corrupt(n, "no checksum".into()))?;
            if hex::encode(Sha256::digest(json.as_bytes())) != sum {
                return Err(corrupt(n, "checksum mismatch".into()));
            }
            let entry: Entry = serde_json::from_str(json).map_err(|e| corrupt(n, e.to_string()))?;
            match (entry, run.as_mut()) {
                (
                    Entry::Start {
                        run_id,
                        command,
                        account_id,
                        benchmark,
                        at,
                        ..
                    },
                    None,
                ) => {
                    run = Some(Run {
                        run_id,
                        command,
                        account_id,
                        benchmark,
                        started_at: at,
                        ended: false,
                        changes: Vec::new(),
                    })
                }
                (Entry::Start { .. }, Some(_)) => {
                    return Err(corrupt(n, "a second start entry".into()))
                }
                (_, None) => return Err(corrupt(n, "entry before the start entry".into())),
                (
                    Entry::Intent {
                        seq,
                        control,
                        id,
                        region,
                        target,
                        previous,
                        planned,
                        undo_of,
                        ..
                    },
                    Some(r),
                ) => r.changes.push(ChangeRecord {
                    seq,
                    control,
                    id,
                    region,
                    target,
                    previous,
                    planned,
                    undo_of,
                    ok: None,
                    error: None,
                    verified: None,
                    observed: None,
                }),
                (Entry::Outcome { seq, ok, error, .. }, Some(r)) => {
                    let c =
                        r.changes.iter_mut().find(|c| c.seq == seq).ok_or_else(|| {
                            corrupt(n, format!("outcome for unknown change {seq}"))
                        })?;
                    c.ok = Some(ok);
                    c.error = error;
                }
                (
                    Entry::Verified {
                        seq,
                        verified,
                        observed,
                        ..
                    },
                    Some(r),
                ) => {
                    let c = r.changes.iter_mut().find(|c| c.seq == seq).ok_or_else(|| {
                        corrupt(n, format!("verification for unknown change {seq}"))
                    })?;
                    c.verified = Some(verified);
                    c.observed = Some(observed);
                }
                (Entry::End { .. }, Some(r)) => r.ended = true,
            }
        }
        run.ok_or_else(|| corrupt(1, "empty run file".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn intent(seq: u32) -> Entry {
        Entry::Intent {
            seq,
            control: "password-min-length".into(),
            id: "1.7".into(),
            region: None,
            target: "account password policy".into(),
            previous: Value::Null,
            planned: json!({"MinimumPasswordLength": 14}),
            undo_of: None,
            at: now_rfc3339(),
        }
    }

    #[test]
    fn round_trip_and_in_flight_change() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::at(dir.path());
        let mut w = j.start_run("apply", "111122223333", "5.0").unwrap();
        let s1 = w.next_seq();
        w.append(&intent(s1)).unwrap();
        w.append(&Entry::Outcome {
            seq: s1,
            ok: true,
            error: None,
            at: now_rfc3339(),
        })
        .unwrap();
        let s2 = w.next_seq();
        w.append(&intent(s2)).unwrap();
        let run = j.load(w.run_id()).unwrap();
        assert_eq!(run.changes.len(), 2);
        assert_eq!(run.changes[0].ok, Some(true));
        assert_eq!(run.changes[1].ok, None, "in-flight change stays unknown");
        assert!(!run.ended);
    }

    #[test]
    fn tampered_and_truncated_lines_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::at(dir.path());
        let mut w = j.start_run("apply", "111122223333", "5.0").unwrap();
        let s = w.next_seq();
        w.append(&intent(s)).unwrap();
        let path = j.dir().join(format!("{}.jsonl", w.run_id()));
        let text = fs::read_to_string(&path).unwrap();
        fs::write(
            &path,
            text.replace(
                "\"MinimumPasswordLength\":14",
                "\"MinimumPasswordLength\":15",
            ),
        )
        .unwrap();
        let err = j.load(w.run_id()).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("checksum"), "{err}");
        fs::write(&path, &text[..text.len() - 5]).unwrap();
        let err = j.load(w.run_id()).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn unknown_run_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Journal::at(dir.path())
            .load("nope")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no run 'nope'"), "{err}");
    }
}

//! The journal: an append-only file per run under the state directory. Each change is
//! recorded with the target's previous state *before* the write call is made, then completed
//! with the result and the verified state. `undo` reads it back; a corrupt or truncated line
//! is reported, never skipped.
//!
//! Line format: `m1:<HMAC-SHA256> <JSON>`. The MAC is keyed with the state directory's secret
//! (`journal.key`, 0600, made on first use) and covers the previous line's MAC, so an entry
//! edited by someone without the key (its check recomputed as a plain hash), and entries
//! removed from the middle or reordered, are detected: `undo` refuses such a run. Someone who
//! can read the key (the same user) can forge entries; the MAC does not protect against them.
//! Runs written by an older cis-fix (`<sha256> <JSON>`) are read, and reported unverifiable.
//!
//! The state directory is the user's own: created 0700 (an existing one open to others is
//! tightened, one owned by another user refused), run files, key and lock 0600.
//!
//! With S3 state (`--state s3://…`, src/state.rs) the same lines go to the object
//! `PREFIX/runs/RUN.jsonl`, rewritten whole after each entry, keyed with `PREFIX/journal.key`.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::plan::now_rfc3339;
use crate::state::{Put, S3State, StateError};

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
    #[error("journal {path} line {line} does not match what cis-fix recorded ({reason}): it was edited, reordered or cut, or written with another key; undo will not restore from it (inspect it, or move it out of the state directory)")]
    Tampered {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("no run '{0}' in the journal: `cis-fix history` lists the runs")]
    UnknownRun(String),
    #[error(transparent)]
    State(#[from] StateError),
}

/// The tag of a keyed line.
const MAC_TAG: &str = "m1:";
/// The state directory's secret for the journal MAC.
const KEY_FILE: &str = "journal.key";

/// HMAC-SHA256 (RFC 2104) of the concatenated `parts`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The MAC of one line: the entry's JSON, chained to the previous line's MAC.
fn line_mac(key: &[u8], prev: &str, json: &str) -> String {
    hex::encode(hmac_sha256(key, &[prev.as_bytes(), b"\n", json.as_bytes()]))
}

/// Equal without an early exit on the first differing byte.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Create `dir` (and missing parents) readable by this user only; tighten an existing one that
/// others can read or write; refuse one owned by another user.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let md = fs::metadata(dir)?;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if md.uid() != me {
            return Err(std::io::Error::other(format!(
                "owned by uid {}, not by this user (uid {me}); use a directory of your own (--state-dir)",
                md.uid()
            )));
        }
        if md.mode() & 0o077 != 0 {
            tracing::info!(dir = %dir.display(), mode = format!("{:o}", md.mode() & 0o777), "directory was open to other users; tightened to 0700");
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Open options for a new or existing file only this user can read (0600).
fn private_file() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// Tighten a file that others can read to 0600.
pub fn tighten_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
        }
    }
    let _ = path;
    Ok(())
}

/// Read the state directory's key; make it when `create` and there is none.
fn read_key(state_dir: &Path, create: bool) -> Result<Option<Vec<u8>>, JournalError> {
    let path = state_dir.join(KEY_FILE);
    let parse = |text: &str| {
        match hex::decode(text.trim()) {
        Ok(k) if k.len() == 32 => Ok(k),
        _ => Err(JournalError::Io {
            path: path.clone(),
            source: std::io::Error::other(
                "the journal key is not 64 hex digits; it was edited or cut: restore it from a backup, or move the state directory away",
            ),
        }),
    }
    };
    match fs::read_to_string(&path) {
        Ok(text) => {
            tighten_file(&path).map_err(io(&path))?;
            return parse(&text).map(Some);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    }
    let mut key = [0u8; 32];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(io(Path::new("/dev/urandom")))?;
    let text = hex::encode(key) + "\n";
    match private_file().write(true).create_new(true).open(&path) {
        Ok(mut f) => {
            f.write_all(text.as_bytes()).map_err(io(&path))?;
            f.sync_all().map_err(io(&path))?;
            Ok(Some(key.to_vec()))
        }
        // Made by another run a moment ago: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            parse(&fs::read_to_string(&path).map_err(io(&path))?).map(Some)
        }
        Err(e) => Err(io(&path)(e)),
    }
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
        /// The role assumed to reach the account in a multi-account run (`None`: the
        /// caller's own credentials); undo reaches the account the same way.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role_arn: Option<String>,
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
    /// `Some`: the runs are objects in S3 (`dir` then only names them).
    s3: Option<Arc<S3State>>,
    /// `--force-unlock RUN`, for the lock taken on this state.
    force_unlock: Option<String>,
    /// The id the next single-account run takes: the S3 lock's, so the lock names its run.
    reserved: Arc<Mutex<Option<String>>>,
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
            s3: None,
            force_unlock: None,
            reserved: Arc::default(),
        }
    }

    /// The journal in S3 state (connected and checked).
    pub fn s3(state: Arc<S3State>) -> Journal {
        Journal {
            dir: PathBuf::from(state.loc.url_of("runs")),
            s3: Some(state),
            force_unlock: None,
            reserved: Arc::default(),
        }
    }

    pub fn with_force_unlock(mut self, run: Option<String>) -> Journal {
        self.force_unlock = run;
        self
    }

    pub fn force_unlock(&self) -> Option<&str> {
        self.force_unlock.as_deref()
    }

    pub fn s3_state(&self) -> Option<&Arc<S3State>> {
        self.s3.as_ref()
    }

    /// The next run started without a group takes `id` (the lock's).
    pub fn reserve_run_id(&self, id: &str) {
        *self.reserved.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.to_string());
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
        self.start_run_in(command, account_id, benchmark, None)
    }

    /// Start a run; in a multi-account run, the account's part of `group`: its id is
    /// `GROUP.ACCOUNT`, so `undo GROUP` finds every account's part.
    pub fn start_run_in(
        &self,
        command: &str,
        account_id: &str,
        benchmark: &str,
        group: Option<(&str, Option<&str>)>,
    ) -> Result<RunWriter, JournalError> {
        let run_id = match group {
            Some((g, _)) => format!("{g}.{account_id}"),
            None => self
                .reserved
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or_else(new_run_id),
        };
        let path = self.dir.join(format!("{run_id}.jsonl"));
        let (sink, key) = match &self.s3 {
            Some(s) => (
                Sink::S3 {
                    state: s.clone(),
                    name: format!("runs/{run_id}.jsonl"),
                    text: String::new(),
                    etag: None,
                    written: false,
                },
                s.journal_key(true)?.unwrap_or_default(),
            ),
            None => {
                private_dir(self.state_dir()).map_err(io(self.state_dir()))?;
                private_dir(&self.dir).map_err(io(&self.dir))?;
                // Run files an older cis-fix left readable by others.
                if let Ok(rd) = fs::read_dir(&self.dir) {
                    for e in rd.flatten() {
                        tighten_file(&e.path()).map_err(io(&e.path()))?;
                    }
                }
                let key = read_key(self.state_dir(), true)?.unwrap_or_default();
                let file = private_file()
                    .create_new(true)
                    .append(true)
                    .open(&path)
                    .map_err(io(&path))?;
                (Sink::File(file), key)
            }
        };
        let mut w = RunWriter {
            sink,
            path,
            run_id: run_id.clone(),
            seq: 0,
            key,
            last_mac: String::new(),
        };
        w.append(&Entry::Start {
            run_id,
            command: command.to_string(),
            account_id: account_id.to_string(),
            benchmark: benchmark.to_string(),
            cis_fix_version: env!("CARGO_PKG_VERSION").to_string(),
            at: now_rfc3339(),
            role_arn: group.and_then(|(_, r)| r.map(str::to_string)),
        })?;
        Ok(w)
    }

    /// Every run, oldest first. A run file that cannot be read comes back as an error in
    /// its place.
    pub fn runs(&self) -> Result<Vec<Result<Run, JournalError>>, JournalError> {
        if let Some(s) = &self.s3 {
            let mut names: Vec<String> = s
                .list("runs")?
                .into_iter()
                .filter(|n| n.ends_with(".jsonl") && n.matches('/').count() == 1)
                .collect();
            names.sort();
            let key = s.journal_key(false)?;
            let mut runs: Vec<Result<Run, JournalError>> = names
                .iter()
                .map(|n| {
                    let text = s.read_cached(n)?.unwrap_or_default();
                    Run::parse(&text, Path::new(&s.loc.url_of(n)), key.as_deref())
                })
                .collect();
            runs.sort_by_key(|r| match r {
                Ok(r) => (parse_time(&r.started_at), r.run_id.clone()),
                Err(_) => (None, String::new()),
            });
            return Ok(runs);
        }
        let mut files: Vec<PathBuf> = match fs::read_dir(&self.dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir)(e)),
        };
        files.sort();
        let key = read_key(self.state_dir(), false)?;
        let mut runs: Vec<Result<Run, JournalError>> =
            files.iter().map(|p| Run::read(p, key.as_deref())).collect();
        // Run ids sort by time to the millisecond; the recorded start time breaks ties.
        runs.sort_by_key(|r| match r {
            Ok(r) => (parse_time(&r.started_at), r.run_id.clone()),
            Err(_) => (None, String::new()),
        });
        Ok(runs)
    }

    /// The account runs of a multi-account run `group` (`GROUP.ACCOUNT`), by account.
    pub fn group(&self, group: &str) -> Result<Vec<Run>, JournalError> {
        let prefix = format!("{group}.");
        let mut out = Vec::new();
        for r in self.runs()? {
            let r = r?;
            if r.run_id.starts_with(&prefix) {
                out.push(r);
            }
        }
        out.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        Ok(out)
    }

    pub fn load(&self, run_id: &str) -> Result<Run, JournalError> {
        if run_id.is_empty() || run_id.contains('/') || run_id.contains("..") {
            return Err(JournalError::UnknownRun(run_id.to_string()));
        }
        if let Some(s) = &self.s3 {
            let name = format!("runs/{run_id}.jsonl");
            let text = s
                .read_cached(&name)?
                .ok_or_else(|| JournalError::UnknownRun(run_id.to_string()))?;
            return Run::parse(
                &text,
                Path::new(&s.loc.url_of(&name)),
                s.journal_key(false)?.as_deref(),
            );
        }
        let path = self.dir.join(format!("{run_id}.jsonl"));
        if !path.exists() {
            return Err(JournalError::UnknownRun(run_id.to_string()));
        }
        Run::read(&path, read_key(self.state_dir(), false)?.as_deref())
    }
}

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// A new run id: the time to the millisecond and a salt.
pub fn new_run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second].[subsecond digits:3]Z"
        ))
        .unwrap_or_default();
    let salt = (now.nanosecond() ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{stamp}-{salt:04x}")
}

/// Where a run's lines go.
#[derive(Debug)]
enum Sink {
    /// Appended and fsync'd.
    File(File),
    /// The whole run rewritten to its object after each line.
    S3 {
        state: Arc<S3State>,
        name: String,
        text: String,
        etag: Option<String>,
        written: bool,
    },
}

/// Appends entries to one run file (or object), each stored before returning.
#[derive(Debug)]
pub struct RunWriter {
    sink: Sink,
    path: PathBuf,
    run_id: String,
    seq: u32,
    key: Vec<u8>,
    /// The MAC of the last line written, which the next one covers.
    last_mac: String,
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
        let mac = line_mac(&self.key, &self.last_mac, &json);
        let line = format!("{MAC_TAG}{mac} {json}\n");
        match &mut self.sink {
            Sink::File(file) => {
                file.write_all(line.as_bytes()).map_err(io(&self.path))?;
                file.sync_data().map_err(io(&self.path))?;
            }
            Sink::S3 {
                state,
                name,
                text,
                etag,
                written,
            } => {
                let next = format!("{text}{line}");
                // First write: only if no run of this id is there; then only over our own
                // last write (a run rewritten by someone else in between stops this one).
                let cond = if *written { etag.as_deref() } else { None };
                match state.put(name, &next, !*written, cond)? {
                    Put::Done { etag: e } => {
                        *text = next;
                        *etag = e;
                        *written = true;
                    }
                    Put::Precondition => {
                        return Err(JournalError::State(StateError::Other {
                            url: self.path.display().to_string(),
                            message: if *written {
                                "the run was rewritten by someone else since cis-fix last wrote it; stopping".into()
                            } else {
                                "a run of this id is already there".into()
                            },
                        }))
                    }
                }
            }
        }
        self.last_mac = mac;
        Ok(())
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
    /// The role assumed to reach the account (a multi-account run's part).
    pub role_arn: Option<String>,
    pub ended: bool,
    pub changes: Vec<ChangeRecord>,
    /// False for a run written by an older cis-fix (plain hashes, no MAC): its entries cannot
    /// be told from an edit, and undo refuses it unless `--force`.
    pub verified: bool,
    /// The MAC of the run's last line, which covers every line before it (the chain's head);
    /// `None` for an older, unkeyed run. Kept somewhere the operator cannot write, it shows
    /// later that the run was not rewritten.
    pub chain_head: Option<String>,
    /// How many lines (entries) the chain covers.
    pub entries: usize,
}

impl Run {
    fn read(path: &Path, key: Option<&[u8]>) -> Result<Run, JournalError> {
        let text = fs::read_to_string(path).map_err(io(path))?;
        Run::parse(&text, path, key)
    }

    /// A run's text; `path` names it in errors, and its stem must be the run id.
    fn parse(text: &str, path: &Path, key: Option<&[u8]>) -> Result<Run, JournalError> {
        let corrupt = |line: usize, reason: String| JournalError::Corrupt {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let tampered = |line: usize, reason: &str| JournalError::Tampered {
            path: path.to_path_buf(),
            line,
            reason: reason.to_string(),
        };
        let mut run: Option<Run> = None;
        let ends_cleanly = text.is_empty() || text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        // Keyed (this cis-fix) or plain (older): decided by the first line, the same for all.
        let keyed = lines.first().is_none_or(|l| l.starts_with(MAC_TAG));
        let mut last_mac = String::new();
        for (i, raw) in lines.iter().enumerate() {
            let n = i + 1;
            if n == lines.len() && !ends_cleanly {
                return Err(corrupt(n, "the last line is truncated".into()));
            }
            let (sum, json) = raw
                .split_once(' ')
                .ok_or_else(|| corrupt(n, "no checksum".into()))?;
            match (keyed, sum.strip_prefix(MAC_TAG)) {
                (true, Some(mac)) => {
                    let Some(key) = key else {
                        return Err(tampered(
                            n,
                            "the state directory has no journal.key to check it with",
                        ));
                    };
                    if !same(&line_mac(key, &last_mac, json), mac) {
                        return Err(tampered(n, "MAC mismatch"));
                    }
                    last_mac = mac.to_string();
                }
                (false, None) => {
                    if hex::encode(Sha256::digest(json.as_bytes())) != sum {
                        return Err(corrupt(n, "checksum mismatch".into()));
                    }
                }
                _ => return Err(tampered(n, "keyed and unkeyed lines mixed")),
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
                        role_arn,
                        ..
                    },
                    None,
                ) => {
                    if keyed && path.file_stem().is_some_and(|s| *s != *run_id) {
                        return Err(tampered(n, "the run id is not the file's name"));
                    }
                    run = Some(Run {
                        run_id,
                        command,
                        account_id,
                        benchmark,
                        started_at: at,
                        role_arn,
                        ended: false,
                        changes: Vec::new(),
                        verified: keyed,
                        chain_head: None,
                        entries: 0,
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
        let mut run = run.ok_or_else(|| corrupt(1, "empty run file".into()))?;
        run.entries = lines.len();
        run.chain_head = (keyed && !last_mac.is_empty()).then_some(last_mac);
        Ok(run)
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
        assert!(
            err.contains("line 2") && err.contains("does not match what cis-fix recorded"),
            "{err}"
        );
        fs::write(&path, &text[..text.len() - 5]).unwrap();
        let err = j.load(w.run_id()).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        assert_eq!(
            hex::encode(hmac_sha256(
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    fn two_changes(j: &Journal) -> (String, PathBuf) {
        let mut w = j.start_run("apply", "111122223333", "5.0").unwrap();
        for _ in 0..2 {
            let s = w.next_seq();
            w.append(&intent(s)).unwrap();
        }
        let path = j.dir().join(format!("{}.jsonl", w.run_id()));
        (w.run_id().to_string(), path)
    }

    #[test]
    fn a_recomputed_plain_hash_removed_or_reordered_lines_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::at(dir.path());
        let (id, path) = two_changes(&j);
        assert!(j.load(&id).unwrap().verified);
        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();

        // The edit of someone without the key: a plain SHA-256 in place of the MAC.
        let json = lines[1].split_once(' ').unwrap().1.replace("14", "6");
        let sum = hex::encode(Sha256::digest(json.as_bytes()));
        let edited = text.replace(lines[1], &format!("{MAC_TAG}{sum} {json}"));
        fs::write(&path, edited).unwrap();
        let err = j.load(&id).unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("MAC mismatch"),
            "{err}"
        );

        // A line removed, and two swapped: each line's MAC covers the one before.
        fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        assert!(matches!(
            j.load(&id),
            Err(JournalError::Tampered { line: 2, .. })
        ));
        fs::write(&path, format!("{}\n{}\n{}\n", lines[0], lines[2], lines[1])).unwrap();
        assert!(matches!(
            j.load(&id),
            Err(JournalError::Tampered { line: 2, .. })
        ));

        // Without the key nothing can be checked.
        fs::write(&path, &text).unwrap();
        fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let err = j.load(&id).unwrap_err().to_string();
        assert!(err.contains("no journal.key"), "{err}");
    }

    #[test]
    fn an_older_unkeyed_run_is_read_as_unverifiable() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::at(dir.path());
        fs::create_dir_all(j.dir()).unwrap();
        let mut text = String::new();
        for e in [
            Entry::Start {
                run_id: "old".into(),
                command: "apply".into(),
                account_id: "111122223333".into(),
                benchmark: "5.0".into(),
                cis_fix_version: "0.0.9".into(),
                at: now_rfc3339(),
                role_arn: None,
            },
            intent(1),
        ] {
            let json = serde_json::to_string(&e).unwrap();
            text += &format!("{} {json}\n", hex::encode(Sha256::digest(json.as_bytes())));
        }
        fs::write(j.dir().join("old.jsonl"), &text).unwrap();
        let run = j.load("old").unwrap();
        assert!(!run.verified);
        assert_eq!(run.changes.len(), 1);
        assert_eq!(j.runs().unwrap().len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn state_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir(&state).unwrap();
        fs::set_permissions(&state, fs::Permissions::from_mode(0o755)).unwrap();
        let j = Journal::at(&state);
        fs::create_dir(j.dir()).unwrap();
        let old = j.dir().join("older.jsonl");
        fs::write(&old, "").unwrap();
        fs::set_permissions(&old, fs::Permissions::from_mode(0o644)).unwrap();
        let (_, path) = two_changes(&j);
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(j.dir()), 0o700);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&old), 0o600);
        assert_eq!(mode(&state.join(KEY_FILE)), 0o600);
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

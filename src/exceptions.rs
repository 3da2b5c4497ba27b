//! Exceptions: non-compliance a team keeps on purpose (a public website bucket, a vendor's
//! legacy key), written down with a reason, an owner and an expiry so cis-fix plans it as
//! `excepted` and never changes it, instead of the team giving up on running cis-fix at all.
//!
//! The file (`cis-fix-exceptions.toml` beside `cis-fix.toml`, `exceptions = "…"` in it, or
//! `--exceptions FILE`) is read strictly before any AWS call: every bad entry is one error
//! line naming the file and line. The run's exceptions are installed once
//! ([`install`]); the planner marks every plan it builds ([`mark`]), and `apply` marks a
//! saved plan again when it loads it, so a target excepted after the plan was saved is still
//! left alone. See docs/exceptions.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;
use time::Date;

use crate::catalog::{Benchmark, Catalog};
use crate::plan::{ExceptionNote, ExceptionRef, ExceptionsReport, Plan, Status};

/// The file looked for beside `cis-fix.toml` (or in the working directory).
pub const DEFAULT_FILE: &str = "cis-fix-exceptions.toml";

/// The tag that excepts the resource it is on (`exception_tag` in cis-fix.toml changes it).
pub const DEFAULT_TAG: &str = "cis-fix:exception";

/// The slugs of the controls whose findings carry their targets' tags.
pub fn tag_controls() -> Vec<&'static str> {
    crate::remediations::registry()
        .iter()
        .filter(|c| c.reads_tags())
        .map(|c| c.slug())
        .collect()
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct ExceptionsError(pub String);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    exception: Vec<toml::Spanned<RawEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    account: Option<String>,
    ou: Option<String>,
    region: Option<String>,
    control: Option<String>,
    target: Option<String>,
    tag: Option<String>,
    reason: Option<String>,
    owner: Option<String>,
    expires: Option<toml::Value>,
    permanent: Option<bool>,
    why_permanent: Option<String>,
}

/// One checked entry of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The line of its `[[exception]]` header.
    pub line: usize,
    pub account: Option<String>,
    /// An OU id: the entry matches accounts under that OU, at any depth.
    pub ou: Option<String>,
    pub region: Option<String>,
    /// The control's slug (resolved through the catalog).
    pub control: Option<String>,
    /// A glob (`*`, `?`) over the target, its resource id or ARN.
    pub target: Option<String>,
    /// A tag key and a glob over its value (`team=web*`).
    pub tag: Option<(String, String)>,
    pub reason: String,
    pub owner: String,
    /// The last day the entry applies; `None` when permanent.
    pub expires: Option<Date>,
}

impl Entry {
    /// What the entry matches, for messages: `control s3-deny-http, target website-*`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(a) = &self.account {
            parts.push(format!("account {a}"));
        }
        if let Some(o) = &self.ou {
            parts.push(format!("ou {o}"));
        }
        if let Some(r) = &self.region {
            parts.push(format!("region {r}"));
        }
        if let Some(c) = &self.control {
            parts.push(format!("control {c}"));
        }
        if let Some(t) = &self.target {
            parts.push(format!("target {t}"));
        }
        if let Some((k, v)) = &self.tag {
            parts.push(format!("tag {k}={v}"));
        }
        parts.join(", ")
    }

    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|d| d < today)
    }

    #[allow(clippy::type_complexity)]
    fn key(
        &self,
    ) -> (
        Option<&str>,
        Option<&str>,
        Option<&str>,
        Option<&str>,
        Option<&str>,
        Option<&(String, String)>,
    ) {
        (
            self.account.as_deref(),
            self.ou.as_deref(),
            self.region.as_deref(),
            self.control.as_deref(),
            self.target.as_deref(),
            self.tag.as_ref(),
        )
    }
}

/// The run's exceptions: the checked entries of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Exceptions {
    /// The file (`None`: no file; the exception tag still applies).
    pub path: Option<PathBuf>,
    pub entries: Vec<Entry>,
    /// `--strict-exceptions`: an expired entry makes the command exit 1.
    pub strict: bool,
    /// The tag key that excepts the resource it is on (default [`DEFAULT_TAG`]).
    pub tag_key: String,
}

static INSTALLED: OnceLock<Exceptions> = OnceLock::new();

/// Make `x` the exceptions every plan of this run is marked with (once per process).
pub fn install(x: Exceptions) {
    let _ = INSTALLED.set(x);
}

pub fn installed() -> Option<&'static Exceptions> {
    INSTALLED.get()
}

/// Mark `plan` with the installed exceptions (no-op when there are none).
pub fn mark(plan: &mut Plan) {
    if let Some(x) = installed() {
        x.mark(plan, today());
    }
}

pub fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

/// `ou-` then 4–32 and 8–32 lowercase letters or digits (Organizations' OU id pattern).
pub fn is_ou_id(s: &str) -> bool {
    let ok = |p: &str, min: usize| {
        (min..=32).contains(&p.len())
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3 && parts[0] == "ou" && ok(parts[1], 4) && ok(parts[2], 8)
}

/// Each account's OUs (nearest first), or why they could not be read; filled before the
/// account's plan is marked, only when an entry names an OU.
static ANCESTRY: Mutex<BTreeMap<String, Result<Vec<String>, String>>> = Mutex::new(BTreeMap::new());

/// Whether the installed exceptions need accounts' OU ancestry (an entry names an `ou`).
pub fn needs_ancestry() -> bool {
    installed().is_some_and(Exceptions::has_ou)
}

fn ancestry_of(account: &str) -> Result<Vec<String>, String> {
    ANCESTRY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(account)
        .cloned()
        .unwrap_or_else(|| Err("its OU ancestry was not read".into()))
}

/// Read the OU ancestry of `accounts` with `reader`'s credentials (the management account of
/// a multi-account run, or the account itself), those not already known, when an entry
/// names an OU. A refusal is kept as the account's answer: its `ou` entries then match nothing
/// and its plan says why.
pub async fn learn_ancestry(reader: &crate::remediations::aws::AwsContext, accounts: &[String]) {
    if !needs_ancestry() {
        return;
    }
    let unknown: Vec<String> = {
        let known = ANCESTRY.lock().unwrap_or_else(|p| p.into_inner());
        accounts
            .iter()
            .filter(|a| !known.contains_key(*a))
            .cloned()
            .collect()
    };
    if unknown.is_empty() {
        return;
    }
    let found = crate::remediations::aws::organization::ancestries(reader, &unknown).await;
    let mut known = ANCESTRY.lock().unwrap_or_else(|p| p.into_inner());
    for (account, res) in found {
        known.insert(
            account,
            res.map_err(|e| format!("its OU ancestry could not be read ({e})")),
        );
    }
}

/// Which file to read: `--exceptions`, else `exceptions = "…"` in cis-fix.toml (relative to
/// that file), else `cis-fix-exceptions.toml` beside cis-fix.toml (or here) when it exists.
pub fn locate(flag: Option<&Path>, cfg: &crate::config::Config) -> Option<(PathBuf, bool)> {
    if let Some(p) = flag {
        return Some((p.to_path_buf(), true));
    }
    let dir = cfg
        .path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    if let Some(p) = &cfg.exceptions {
        return Some((dir.join(p), true));
    }
    let beside = dir.join(DEFAULT_FILE);
    beside.is_file().then_some((beside, false))
}

impl Exceptions {
    /// Read and check `path` (which must exist).
    pub fn load(path: &Path, b: Benchmark, cat: &Catalog) -> Result<Exceptions, ExceptionsError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ExceptionsError(format!(
                "exceptions file {}: cannot read it: {e}",
                path.display()
            ))
        })?;
        let entries = parse(&path.display().to_string(), &text, b, cat)?;
        Ok(Exceptions {
            path: Some(path.to_path_buf()),
            entries,
            strict: false,
            tag_key: DEFAULT_TAG.to_string(),
        })
    }

    /// Whether an entry names an OU.
    pub fn has_ou(&self) -> bool {
        self.entries.iter().any(|e| e.ou.is_some())
    }

    /// No file: only the exception tag.
    pub fn none() -> Exceptions {
        Exceptions {
            path: None,
            entries: Vec::new(),
            strict: false,
            tag_key: DEFAULT_TAG.to_string(),
        }
    }

    fn source(&self, e: &Entry) -> String {
        let file = self
            .path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        format!("{file}:{}", e.line)
    }

    /// The entries that expired before `today`.
    pub fn expired(&self, today: Date) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| e.is_expired(today))
            .collect()
    }

    fn note(&self, e: &Entry) -> ExceptionNote {
        ExceptionNote {
            source: self.source(e),
            matches: e.describe(),
            owner: e.owner.clone(),
            expires: e.expires.map(|d| d.to_string()),
        }
    }

    /// Plan each failing item an unexpired entry matches as `excepted` with that entry, and
    /// record the file's expired and unused entries in the plan.
    pub fn mark(&self, plan: &mut Plan, today: Date) {
        let partition = plan.account.partition.clone();
        let ancestry = self.has_ou().then(|| ancestry_of(&plan.account.id));
        let mut used = vec![false; self.entries.len()];
        for item in &mut plan.items {
            let candidates = candidates(&item.finding.target, &item.finding.before, &partition);
            let hit = self.entries.iter().enumerate().find(|(_, e)| {
                !e.is_expired(today)
                    && e.account.as_ref().is_none_or(|a| *a == plan.account.id)
                    && e.ou.as_ref().is_none_or(|o| {
                        ancestry
                            .as_ref()
                            .is_some_and(|r| r.as_ref().is_ok_and(|chain| chain.contains(o)))
                    })
                    && e.region
                        .as_ref()
                        .is_none_or(|r| item.region.as_deref() == Some(r.as_str()))
                    && e.control.as_ref().is_none_or(|c| *c == item.control)
                    && e.target
                        .as_ref()
                        .is_none_or(|t| candidates.iter().any(|c| glob_match(t, c)))
                    && e.tag.as_ref().is_none_or(|(k, v)| {
                        item.finding.tags.get(k).is_some_and(|x| glob_match(v, x))
                    })
            });
            let failing = matches!(
                item.finding.status,
                Status::Change | Status::Manual | Status::Blocked
            );
            let found = match hit {
                Some((n, e)) => {
                    used[n] = true;
                    Some(ExceptionRef {
                        reason: e.reason.clone(),
                        owner: e.owner.clone(),
                        expires: e.expires.map(|d| d.to_string()),
                        source: self.source(e),
                        was: item.finding.status,
                    })
                }
                // The file wins; then the exception tag on the resource itself; then a
                // finding suppressed in Security Hub (--from-security-hub).
                None => {
                    let tagged = match item.finding.tags.get(&self.tag_key) {
                        None => None,
                        Some(value) => match tag_exception(&self.tag_key, value, today) {
                            Ok(mut r) => {
                                r.was = item.finding.status;
                                Some(r)
                            }
                            Err(why) => {
                                if failing {
                                    item.finding.notes.push(why);
                                }
                                None
                            }
                        },
                    };
                    tagged.or_else(|| {
                        crate::security_hub::exception_for(&plan.account.id, item, &candidates)
                    })
                }
            };
            if let (true, Some(r)) = (failing, found) {
                item.finding.exception = Some(r);
                item.finding.status = Status::Excepted;
            }
        }
        let Some(path) = &self.path else { return };
        let report = plan.exceptions.get_or_insert_with(|| ExceptionsReport {
            file: path.display().to_string(),
            expired: Vec::new(),
            unused: Vec::new(),
            ou_unknown: None,
        });
        report.ou_unknown = match ancestry {
            Some(Err(why)) => Some(why),
            _ => None,
        };
        report.expired = self
            .expired(today)
            .into_iter()
            .map(|e| self.note(e))
            .collect();
        report.unused = self
            .entries
            .iter()
            .zip(&used)
            .filter(|(e, u)| !**u && !e.is_expired(today))
            .map(|(e, _)| self.note(e))
            .collect();
    }
}

/// The exception a resource's tag makes: `reason; until=2027-03-31` (the `until=` part
/// optional). Err: why the tag does not except (a bad or past `until`), as a note.
fn tag_exception(key: &str, value: &str, today: Date) -> Result<ExceptionRef, String> {
    let mut until = None;
    let mut words = Vec::new();
    for part in value.split([';', ',']) {
        let part = part.trim();
        match part.strip_prefix("until=") {
            Some(d) => until = Some(d.trim().to_string()),
            None if !part.is_empty() => words.push(part),
            None => {}
        }
    }
    let expires = match until {
        None => None,
        Some(d) => {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            let date = Date::parse(&d, &fmt).map_err(|_| {
                format!("tag {key} says until={d}, which is not a date (YYYY-MM-DD): not excepted")
            })?;
            if date < today {
                return Err(format!(
                    "tag {key} expired on {date}: not excepted any more; renew or remove the tag"
                ));
            }
            Some(date.to_string())
        }
    };
    Ok(ExceptionRef {
        reason: if words.is_empty() {
            "(the tag gives no reason)".into()
        } else {
            words.join("; ")
        },
        owner: "not stated (resource tag)".into(),
        expires,
        source: format!("tag {key}"),
        was: Status::Change,
    })
}

/// What a target pattern is matched against: the plan target (`bucket website-1`), each of
/// its words (`website-1`, `sg-0abc`), the bucket's ARN, and any `arn`/`id`/`name` the
/// control recorded in the observed state.
pub fn candidates(target: &str, before: &serde_json::Value, partition: &str) -> Vec<String> {
    let mut out = vec![target.to_string()];
    for w in target.split_whitespace() {
        let w = w.trim_matches(|c: char| "()[],;'\"".contains(c));
        if !w.is_empty() {
            out.push(w.to_string());
        }
    }
    if let Some(name) = target.strip_prefix("bucket ") {
        out.push(format!("arn:{partition}:s3:::{name}"));
    }
    for k in ["arn", "Arn", "id", "name"] {
        if let Some(s) = before.get(k).and_then(|v| v.as_str()) {
            out.push(s.to_string());
        }
    }
    out
}

/// `*` matches any run of characters (`/` and `:` included), `?` any one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn check_glob(g: &str) -> Result<(), String> {
    if g.trim().is_empty() {
        return Err("target: the pattern is empty".into());
    }
    if let Some(c) = g.chars().find(|c| "[]{}".contains(*c)) {
        return Err(format!(
            "target: '{g}' uses '{c}', which is not supported (only * and ? are)"
        ));
    }
    if g.chars().any(char::is_control) {
        return Err(format!("target: '{g}' contains a control character"));
    }
    Ok(())
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn parse_date(v: &toml::Value) -> Result<Date, String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    match v {
        toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d
            .date
            .and_then(|d| Date::parse(&d.to_string(), &fmt).ok())
            .ok_or_else(|| format!("expires: '{d}' is not a date (YYYY-MM-DD)")),
        toml::Value::String(s) => Date::parse(s.trim(), &fmt)
            .map_err(|_| format!("expires: '{s}' is not a date (YYYY-MM-DD, e.g. 2027-03-31)")),
        other => Err(format!(
            "expires: '{other}' is not a date (YYYY-MM-DD, e.g. 2027-03-31)"
        )),
    }
}

fn required(v: Option<String>, what: &str, hint: &str) -> Result<String, String> {
    match v {
        Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(_) => Err(format!("{what} is empty; {hint}")),
        None => Err(format!("{what} is missing; {hint}")),
    }
}

fn parse_tag(t: &str, control: Option<&str>) -> Result<(String, String), String> {
    let supported = tag_controls();
    let Some((k, v)) = t.split_once('=') else {
        return Err(format!("tag: '{t}' is not key=value"));
    };
    let (k, v) = (k.trim(), v.trim());
    if k.is_empty() {
        return Err(format!("tag: '{t}' has no key (key=value)"));
    }
    check_glob(v).map_err(|e| e.replacen("target:", "tag value:", 1))?;
    if let Some(c) = control {
        if !supported.contains(&c) {
            return Err(format!(
                "tag: control {c} does not read its targets' tags, so a tag cannot match there (tags work for {})",
                supported.join(", ")
            ));
        }
    }
    Ok((k.to_string(), v.to_string()))
}

fn check(raw: RawEntry, b: Benchmark, cat: &Catalog) -> Result<Entry, String> {
    let reason = required(raw.reason, "reason", "say why this target is left as it is")?;
    let owner = required(raw.owner, "owner", "name who answers for it")?;
    if let Some(a) = &raw.account {
        if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("account: '{a}' is not an account id (12 digits)"));
        }
    }
    if let Some(o) = &raw.ou {
        if !is_ou_id(o) {
            return Err(format!(
                "ou: '{o}' is not an OU id (ou- then 4 to 32 and 8 to 32 lowercase letters or digits, e.g. ou-ab12-cd34ef56)"
            ));
        }
    }
    if let Some(r) = &raw.region {
        if !crate::aws::is_region_name(r) {
            return Err(format!(
                "region: '{r}' is not a region name (expected something like eu-west-1)"
            ));
        }
    }
    let control = match &raw.control {
        None => None,
        Some(c) => Some(
            cat.resolve_one(b, c)
                .map_err(|e| {
                    // The catalog's hint names command-line flags; here one entry names one
                    // control.
                    let m = e.to_string();
                    match m.split_once("; use --section") {
                        Some((head, _)) => format!("control: {head}; name one control per entry"),
                        None => format!("control: {m}"),
                    }
                })?
                .slug
                .clone(),
        ),
    };
    if let Some(t) = &raw.target {
        check_glob(t)?;
    }
    let tag = match &raw.tag {
        None => None,
        Some(t) => Some(parse_tag(t, control.as_deref())?),
    };
    if raw.account.is_none()
        && raw.ou.is_none()
        && raw.region.is_none()
        && control.is_none()
        && raw.target.is_none()
        && tag.is_none()
    {
        return Err(
            "matches everything: give at least one of account, ou, region, control, target, tag"
                .into(),
        );
    }
    let permanent = raw.permanent.unwrap_or(false);
    let expires = match (&raw.expires, permanent) {
        (Some(_), true) => {
            return Err("expires and permanent = true: give one or the other".into())
        }
        (Some(v), false) => Some(parse_date(v)?),
        (None, true) => {
            required(
                raw.why_permanent.clone(),
                "why_permanent",
                "a permanent exception says why it never expires",
            )?;
            None
        }
        (None, false) => return Err(
            "expires is missing; give the last day it applies (expires = 2027-03-31), or permanent = true with why_permanent".into(),
        ),
    };
    if raw.why_permanent.is_some() && !permanent {
        return Err("why_permanent without permanent = true".into());
    }
    Ok(Entry {
        line: 0,
        account: raw.account,
        ou: raw.ou,
        region: raw.region,
        control,
        target: raw.target,
        tag,
        reason,
        owner,
        expires,
    })
}

/// Parse and check an exceptions file; the first bad entry is the error, one line
/// (`FILE:LINE: …`).
pub fn parse(
    path: &str,
    text: &str,
    b: Benchmark,
    cat: &Catalog,
) -> Result<Vec<Entry>, ExceptionsError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let what = e.message().trim().replace('\n', " ");
        ExceptionsError(match e.span() {
            Some(s) => format!("{path}:{}: {what}", line_of(text, s.start)),
            None => format!("{path}: {what}"),
        })
    })?;
    let mut entries: Vec<Entry> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for (n, spanned) in raw.exception.into_iter().enumerate() {
        let line = line_of(text, spanned.span().start);
        match check(spanned.into_inner(), b, cat) {
            Ok(mut e) => {
                e.line = line;
                if let Some(first) = entries.iter().find(|o| o.key() == e.key()) {
                    errors.push(format!(
                        "{path}:{line}: exception {}: duplicates the entry on line {} (same account, region, control and target)",
                        n + 1,
                        first.line
                    ));
                } else {
                    entries.push(e);
                }
            }
            Err(m) => errors.push(format!("{path}:{line}: exception {}: {m}", n + 1)),
        }
    }
    match errors.len() {
        0 => Ok(entries),
        1 => Err(ExceptionsError(errors.remove(0))),
        k => Err(ExceptionsError(format!(
            "{} (and {} more bad entries)",
            errors[0],
            k - 1
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse5(text: &str) -> Result<Vec<Entry>, ExceptionsError> {
        parse(
            "x.toml",
            text,
            Benchmark::V5_0,
            Catalog::embedded().unwrap(),
        )
    }

    #[test]
    fn globs() {
        assert!(glob_match("website-*", "website-1"));
        assert!(glob_match("arn:aws:s3:::web*", "arn:aws:s3:::website"));
        assert!(glob_match("sg-??", "sg-01"));
        assert!(!glob_match("sg-??", "sg-012"));
        assert!(!glob_match("web", "website"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn reads_a_good_entry_and_names_lines() {
        let e = parse5(
            "# comment\n[[exception]]\ncontrol = \"5.1.1\"\nregion = \"eu-west-1\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2099-01-31\n",
        )
        .unwrap();
        assert_eq!(e[0].line, 2);
        assert_eq!(e[0].control.as_deref(), Some("ebs-default-encryption"));
        let err = parse5("[[exception]]\ncontrol = \"5.1.1\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"2099-02-30\"\n")
            .unwrap_err()
            .0;
        assert!(err.starts_with("x.toml:1: exception 1: expires"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn ou_ids() {
        assert!(is_ou_id("ou-ab12-cd34ef56"));
        assert!(!is_ou_id("ou-AB12-cd34ef56"));
        assert!(!is_ou_id("ou-ab1-cd34ef56"));
        assert!(!is_ou_id("ou-ab12-cd34ef5"));
        assert!(!is_ou_id("r-ab12"));
        assert!(!is_ou_id("ou-ab12-cd34ef56-x"));
        let e = parse5("[[exception]]\nou = \"ou-ab12-cd34ef56\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2099-01-31\n").unwrap();
        assert_eq!(e[0].describe(), "ou ou-ab12-cd34ef56");
    }

    #[test]
    fn exception_tags() {
        let today = Date::from_calendar_date(2026, time::Month::November, 30).unwrap();
        let r = tag_exception("k", "bastion; until=2027-01-01", today).unwrap();
        assert_eq!(
            (r.reason.as_str(), r.expires.as_deref()),
            ("bastion", Some("2027-01-01"))
        );
        let r = tag_exception("k", "kept", today).unwrap();
        assert_eq!(r.expires, None);
        assert!(tag_exception("k", "x; until=2026-11-29", today)
            .unwrap_err()
            .contains("expired on 2026-11-29"));
        assert!(tag_exception("k", "x, until=soon", today)
            .unwrap_err()
            .contains("not a date"));
    }
}

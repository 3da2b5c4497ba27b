//! The guide's "add an exception" answer: a control's failing targets are kept as they are on
//! purpose, so the guide asks for the reason, the owner and the expiry, shows the entry it
//! will write, and after a yes appends it to the exceptions file in use (the one
//! `--exceptions` or cis-fix.toml names, else `cis-fix-exceptions.toml` beside cis-fix.toml or
//! here, created when missing). The other entries are never rewritten: the new one is
//! appended, and the whole file is checked as `plan` would read it before anything is
//! written. The control is then excepted for the rest of the session.

use std::io::Write;
use std::path::{Path, PathBuf};

use console::style;
use time::Date;

use crate::catalog::{Benchmark, Catalog, Entry};
use crate::plan::{ExceptionRef, Item, Plan, Status};

/// The file the guide appends to.
pub fn file_in_use(config: Option<&Path>) -> PathBuf {
    if let Some(p) = crate::exceptions::installed().and_then(|x| x.path.clone()) {
        return p;
    }
    let cfg = crate::config::Config::load(config).unwrap_or_default();
    cfg.path
        .as_deref()
        .and_then(Path::parent)
        .map(|d| d.join(crate::exceptions::DEFAULT_FILE))
        .unwrap_or_else(|| PathBuf::from(crate::exceptions::DEFAULT_FILE))
}

/// The answers the guide asked for.
pub struct Answers {
    pub reason: String,
    pub owner: String,
    /// `Err(why)`: permanent, with why it never expires.
    pub expires: Result<Date, String>,
}

/// What the entry matches: this account and control, and the target when the changes have
/// one (a target with glob characters is left out: the entry then covers the control).
pub fn target_of(changes: &[&Item]) -> Option<String> {
    let mut targets: Vec<&str> = changes.iter().map(|i| i.finding.target.as_str()).collect();
    targets.sort();
    targets.dedup();
    match targets.as_slice() {
        [one] if !one.contains(['*', '?', '[', ']', '{', '}']) => Some(one.to_string()),
        _ => None,
    }
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The entry's TOML, as it will be appended.
pub fn entry_text(
    account: &str,
    slug: &str,
    target: Option<&str>,
    a: &Answers,
    today: Date,
) -> String {
    let mut t = format!("# added by cis-fix guide on {today}\n[[exception]]\n");
    t.push_str(&format!("account = {}\n", quoted(account)));
    t.push_str(&format!("control = {}\n", quoted(slug)));
    if let Some(target) = target {
        t.push_str(&format!("target = {}\n", quoted(target)));
    }
    t.push_str(&format!("reason = {}\n", quoted(&a.reason)));
    t.push_str(&format!("owner = {}\n", quoted(&a.owner)));
    match &a.expires {
        Ok(d) => t.push_str(&format!("expires = {d}\n")),
        Err(why) => {
            t.push_str("permanent = true\n");
            t.push_str(&format!("why_permanent = {}\n", quoted(why)));
        }
    }
    t
}

/// The file's text with `entry` appended (a blank line between entries), and the line of the
/// new entry's `[[exception]]`.
pub fn appended(existing: &str, entry: &str) -> (String, usize) {
    let mut text = existing.to_string();
    if !text.is_empty() {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        if !text.ends_with("\n\n") {
            text.push('\n');
        }
    }
    // The header is the line after the comment.
    let line = text.matches('\n').count() + 2;
    text.push_str(entry);
    (text, line)
}

/// Check the file with the entry appended as `plan` will read it; on success append the
/// entry (creating the file) and return `FILE:LINE` of it.
pub fn write(path: &Path, entry: &str, b: Benchmark, cat: &Catalog) -> Result<String, String> {
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let (text, line) = appended(&existing, entry);
    crate::exceptions::parse(&path.display().to_string(), &text, b, cat)
        .map_err(|e| format!("not written: {e}"))?;
    let tail = &text[existing.len()..];
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(tail.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(format!("{}:{line}", path.display()))
}

/// Mark the plan's failing items (of `target`, when the entry names one) as excepted by the
/// new entry, as `plan` will from now on.
pub fn mark(plan: &mut Plan, target: Option<&str>, a: &Answers, source: &str) {
    for i in &mut plan.items {
        let failing = matches!(
            i.finding.status,
            Status::Change | Status::Manual | Status::Blocked
        );
        if failing && target.is_none_or(|t| i.finding.target == t) {
            i.finding.exception = Some(ExceptionRef {
                reason: a.reason.clone(),
                owner: a.owner.clone(),
                expires: a.expires.as_ref().ok().map(Date::to_string),
                source: source.to_string(),
                was: i.finding.status,
            });
            i.finding.status = Status::Excepted;
        }
    }
}

/// 90 days from `today`: the default expiry offered.
pub fn default_expiry(today: Date) -> Date {
    today + time::Duration::days(90)
}

/// Parse the expiry answer: a date from today on, or `permanent`. `Ok(None)`: permanent.
pub fn parse_expiry(s: &str, today: Date) -> Result<Option<Date>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("permanent") {
        return Ok(None);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = Date::parse(s, &fmt)
        .map_err(|_| format!("'{s}' is not a date (YYYY-MM-DD) nor 'permanent'"))?;
    if d < today {
        return Err(format!("{d} is in the past"));
    }
    Ok(Some(d))
}

/// The line printed once the entry is written.
pub fn written_line(e: &Entry, source: &str, n: usize) -> String {
    format!(
        "  {} {} left as it is ({} excepted): entry written to {source}",
        style("⊘").cyan(),
        e.slug,
        crate::plan::plural(n, "item", "items")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_expiry(s, Date::MIN).unwrap().unwrap()
    }

    #[test]
    fn expiry_answers() {
        let today = d("2026-11-30");
        assert_eq!(default_expiry(today), d("2027-02-28"));
        assert_eq!(parse_expiry(" permanent ", today), Ok(None));
        assert!(parse_expiry("2026-11-29", today)
            .unwrap_err()
            .contains("past"));
        assert!(parse_expiry("soon", today)
            .unwrap_err()
            .contains("not a date"));
    }

    #[test]
    fn appends_after_a_blank_line_and_names_the_header_line() {
        let (t, line) = appended("", "# c\n[[exception]]\n");
        assert_eq!((t.as_str(), line), ("# c\n[[exception]]\n", 2));
        let (t, line) = appended("a = 1", "# c\n[[exception]]\n");
        assert_eq!(t, "a = 1\n\n# c\n[[exception]]\n");
        assert_eq!(t.lines().nth(line - 1), Some("[[exception]]"));
    }
}

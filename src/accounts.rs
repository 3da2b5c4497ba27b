//! Which accounts a run covers when it covers more than the credentials' own: `--org`,
//! `--ou`, `--accounts`, `--exclude-accounts`, `--shard`, and how each is reached (the role
//! assumed there, or the caller's own credentials for the caller's own account).
//!
//! Everything here that can be checked without AWS is checked before the first call.

use std::sync::Arc;

use crate::aws::organization::{self, OrgAccount};
use crate::aws::{AssumeRequest, AwsContext, AwsError};
use crate::cli::AccountArgs;
use crate::journal::Run;

pub const DEFAULT_ROLE: &str = "OrganizationAccountAccessRole";
pub const DEFAULT_ACCOUNT_CONCURRENCY: usize = 8;

/// Where `--shard auto/N` finds the worker's index: a Kubernetes Indexed Job, an AWS Batch
/// array job, or any runner that sets cis-fix's own variable (a CI matrix).
pub const INDEX_VARS: &[&str] = &[
    "CIS_FIX_SHARD_INDEX",
    "JOB_COMPLETION_INDEX",
    "AWS_BATCH_JOB_ARRAY_INDEX",
];

/// `--shard K/N`: shard K (from 0) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("'{s}' is not K/N (e.g. 0/4: the first of four shards)"))?;
    let k: usize = match k.trim() {
        // The worker's index from the job runner that started it.
        "auto" => {
            let (var, v) = INDEX_VARS
                .iter()
                .find_map(|v| std::env::var(v).ok().map(|x| (*v, x)))
                .ok_or_else(|| {
                    format!(
                        "'{s}': auto takes the index from {}, and none is set",
                        INDEX_VARS.join(", ")
                    )
                })?;
            v.trim()
                .parse()
                .map_err(|_| format!("'{s}': {var}={v} is not a number"))?
        }
        k => k
            .parse()
            .map_err(|_| format!("'{s}': K must be a number or auto"))?,
    };
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("'{s}': N must be a number"))?;
    if n == 0 || k >= n {
        return Err(format!(
            "'{s}': shards are numbered from 0 to N-1 (0/{n} … {}/{n})",
            n.max(1) - 1
        ));
    }
    Ok(Shard { k, n })
}

impl Shard {
    /// The shard's part of `ids` (sorted by the caller): every N-th id from the K-th, so
    /// shards differ in size by one at most and together cover every id once.
    pub fn take<T>(&self, sorted: Vec<T>) -> Vec<T> {
        sorted
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.n == self.k)
            .map(|(_, t)| t)
            .collect()
    }
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_parent_id(s: &str) -> bool {
    let ok = |rest: &str, min: usize| {
        rest.len() >= min
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    if let Some(rest) = s.strip_prefix("r-") {
        return ok(rest, 4);
    }
    match s.strip_prefix("ou-").and_then(|r| r.split_once('-')) {
        Some((root, ou)) => ok(root, 4) && ok(ou, 8),
        None => false,
    }
}

/// Account ids from `--accounts` / `--exclude-accounts`: a comma-separated list, or a file
/// of ids (one a line, or separated by commas or spaces; `#` starts a comment).
pub fn parse_ids(flag: &str, value: &str) -> Result<Vec<String>, String> {
    let looks_like_list = value
        .chars()
        .all(|c| c.is_ascii_digit() || c == ',' || c == ' ');
    let (text, source) = if looks_like_list {
        (value.to_string(), None)
    } else {
        match std::fs::read_to_string(value) {
            Ok(t) => (t, Some(value)),
            Err(e) => {
                return Err(format!(
                    "{flag} '{value}' is neither a list of 12-digit account ids nor a readable file ({e})"
                ))
            }
        }
    };
    let mut ids = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for id in line
            .split([',', ' ', '\t'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if !is_account_id(id) {
                return Err(match source {
                    Some(f) => format!(
                        "{flag}: {f} line {}: '{id}' is not a 12-digit account id",
                        n + 1
                    ),
                    None => format!("{flag}: '{id}' is not a 12-digit account id"),
                });
            }
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_string());
            }
        }
    }
    if ids.is_empty() {
        return Err(format!("{flag} '{value}' names no account"));
    }
    Ok(ids)
}

/// The account flags, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub org: bool,
    pub ous: Vec<String>,
    pub accounts: Vec<String>,
    pub exclude: Vec<String>,
    pub role_name: String,
    pub role_path: String,
    pub external_id: Option<String>,
    pub concurrency: usize,
    pub shard: Option<Shard>,
}

impl Selection {
    /// `None` when no flag asks for more than the credentials' own account.
    pub fn from_args(a: &AccountArgs) -> Result<Option<Selection>, String> {
        let multi = a.org || !a.ous.is_empty() || a.accounts.is_some();
        if !multi {
            for (set, flag) in [
                (a.exclude_accounts.is_some(), "--exclude-accounts"),
                (a.shard.is_some(), "--shard"),
                (a.role_name.is_some(), "--role-name"),
                (a.role_path.is_some(), "--role-path"),
                (a.external_id.is_some(), "--external-id"),
                (a.account_concurrency.is_some(), "--account-concurrency"),
            ] {
                if set {
                    return Err(format!(
                        "{flag} needs the accounts to work on: add --org, --ou OU_ID or --accounts IDS"
                    ));
                }
            }
            return Ok(None);
        }
        for ou in &a.ous {
            if !is_parent_id(ou) {
                return Err(format!(
                    "--ou '{ou}' is not an OU id (ou-abcd-12345678) or a root id (r-abcd)"
                ));
            }
        }
        let role_name = a.role_name.clone().unwrap_or_else(|| DEFAULT_ROLE.into());
        let name_ok = |s: &str, extra: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) || extra.contains(c))
        };
        if role_name.is_empty() || role_name.len() > 64 || !name_ok(&role_name, "") {
            return Err(format!(
                "--role-name '{role_name}' is not an IAM role name (letters, digits and +=,.@_- only, at most 64)"
            ));
        }
        let role_path = a.role_path.clone().unwrap_or_else(|| "/".into());
        if !role_path.starts_with('/') || !role_path.ends_with('/') || !name_ok(&role_path, "/") {
            return Err(format!(
                "--role-path '{role_path}' is not an IAM path (it starts and ends with /, e.g. /ops/)"
            ));
        }
        if let Some(x) = &a.external_id {
            if x.len() < 2 || x.len() > 1224 || !name_ok(x, ":/") {
                return Err(
                    "--external-id must be 2 to 1224 characters of letters, digits and +=,.@:/_-"
                        .into(),
                );
            }
        }
        Ok(Some(Selection {
            org: a.org,
            ous: a.ous.clone(),
            accounts: match &a.accounts {
                Some(v) => parse_ids("--accounts", v)?,
                None => Vec::new(),
            },
            exclude: match &a.exclude_accounts {
                Some(v) => parse_ids("--exclude-accounts", v)?,
                None => Vec::new(),
            },
            role_name,
            role_path,
            external_id: a.external_id.clone(),
            concurrency: concurrency(a),
            shard: a.shard,
        }))
    }

    pub fn role_arn(&self, partition: &str, account: &str) -> String {
        role_arn(partition, &self.role_path, &self.role_name, account)
    }

    /// The accounts, sorted by id: the organization's (or the OUs'), plus `--accounts`,
    /// less `--exclude-accounts`, then the shard's slice.
    pub async fn resolve(&self, caller: &AwsContext) -> Result<Vec<OrgAccount>, AwsError> {
        let mut found: Vec<OrgAccount> = Vec::new();
        if self.org {
            found.extend(organization::all_accounts(caller).await?);
        }
        // Each OU's accounts are read together. The list is whole before any account is
        // run: a shard is a slice of the sorted list.
        let under = futures::future::try_join_all(
            self.ous
                .iter()
                .map(|ou| organization::accounts_under(caller, ou)),
        )
        .await?;
        found.extend(under.into_iter().flatten());
        for id in &self.accounts {
            if !found.iter().any(|a| &a.id == id) {
                found.push(OrgAccount {
                    id: id.clone(),
                    name: String::new(),
                });
            }
        }
        found.retain(|a| !self.exclude.contains(&a.id));
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found.dedup_by(|a, b| a.id == b.id);
        let found = match self.shard {
            Some(s) => s.take(found),
            None => found,
        };
        // `ou = …` exceptions: the management account reads every account's OUs now (a
        // member account could not read its own).
        let ids: Vec<String> = found.iter().map(|a| a.id.clone()).collect();
        crate::exceptions::learn_ancestry(caller, &ids).await;
        Ok(found)
    }

    /// How `account` is reached: the caller's own account with the caller's credentials,
    /// any other by assuming the role there.
    pub fn reach(&self, caller: &Arc<AwsContext>, account: &OrgAccount, run: &str) -> Reach {
        let own = account.id == caller.account.id;
        Reach {
            account: account.id.clone(),
            name: account.name.clone(),
            role_arn: (!own).then(|| self.role_arn(&caller.account.partition, &account.id)),
            external_id: self.external_id.clone(),
            session_name: session_name(run),
            caller: caller.clone(),
            group: None,
        }
    }
}

/// `--account-concurrency`, or its default.
pub fn concurrency(a: &AccountArgs) -> usize {
    a.account_concurrency
        .map(usize::from)
        .unwrap_or(DEFAULT_ACCOUNT_CONCURRENCY)
}

fn role_arn(partition: &str, path: &str, name: &str, account: &str) -> String {
    format!("arn:{partition}:iam::{account}:role{path}{name}")
}

/// `cis-fix-<command>-<time>`, within STS's 64 characters and alphabet.
pub fn session_name(run: &str) -> String {
    let mut s: String = format!("cis-fix-{run}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(64);
    s
}

/// One account of a multi-account run and how to reach it.
#[derive(Debug, Clone)]
pub struct Reach {
    pub account: String,
    pub name: String,
    /// `None`: the caller's own account, with the caller's credentials.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub session_name: String,
    pub caller: Arc<AwsContext>,
    /// The multi-account run's id (apply): each account's journal run is `GROUP.ACCOUNT`.
    pub group: Option<String>,
}

impl Reach {
    /// How an undo reaches the account of `run`, one journaled part of a multi-account run:
    /// the caller's own account with the caller's credentials; any other by the role that
    /// run's apply assumed (its journal names it), or else the role the account flags name.
    /// `session_run` names the undo in the session name.
    pub fn for_journal_run(
        caller: &Arc<AwsContext>,
        run: &Run,
        flags: &AccountArgs,
        session_run: &str,
    ) -> Reach {
        let own = run.account_id == caller.account.id;
        let flagged = || {
            role_arn(
                &caller.account.partition,
                flags.role_path.as_deref().unwrap_or("/"),
                flags.role_name.as_deref().unwrap_or(DEFAULT_ROLE),
                &run.account_id,
            )
        };
        Reach {
            account: run.account_id.clone(),
            name: String::new(),
            role_arn: (!own).then(|| run.role_arn.clone().unwrap_or_else(flagged)),
            external_id: flags.external_id.clone(),
            session_name: session_name(session_run),
            caller: caller.clone(),
            group: None,
        }
    }

    /// The account's context.
    pub async fn connect(&self, prefetch_regions: bool) -> Result<Arc<AwsContext>, AwsError> {
        match &self.role_arn {
            None => Ok(self.caller.clone()),
            Some(arn) => self
                .caller
                .assume(&AssumeRequest {
                    role_arn: arn.clone(),
                    expected_account: self.account.clone(),
                    session_name: self.session_name.clone(),
                    external_id: self.external_id.clone(),
                    prefetch_regions,
                })
                .await
                .map(Arc::new),
        }
    }

    /// `111111111111 (Payments)`.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.account.clone()
        } else {
            format!("{} ({})", self.account, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_account_once_and_differ_by_one_at_most() {
        let ids: Vec<u32> = (0..13).collect();
        let mut seen = Vec::new();
        for k in 0..4 {
            let part = Shard { k, n: 4 }.take(ids.clone());
            assert!(part.len() == 3 || part.len() == 4, "{part:?}");
            seen.extend(part);
        }
        seen.sort();
        assert_eq!(seen, ids);
        assert!(parse_shard("4/4").is_err());
        assert!(parse_shard("0/0").is_err());
        assert!(parse_shard("x").is_err());
        assert_eq!(parse_shard("1/3"), Ok(Shard { k: 1, n: 3 }));
    }

    #[test]
    fn ids_come_from_a_list_or_a_file() {
        assert_eq!(
            parse_ids("--accounts", "111111111111,222222222222").unwrap(),
            vec!["111111111111", "222222222222"]
        );
        let e = parse_ids("--accounts", "11111111111").unwrap_err();
        assert!(
            e.contains("'11111111111' is not a 12-digit account id"),
            "{e}"
        );
        let f = std::env::temp_dir().join(format!("cis-fix-ids-{}", std::process::id()));
        std::fs::write(&f, "# prod\n111111111111\n222222222222 # payments\n\n").unwrap();
        let p = f.display().to_string();
        assert_eq!(parse_ids("--accounts", &p).unwrap().len(), 2);
        std::fs::write(&f, "111111111111\nabc\n").unwrap();
        let e = parse_ids("--accounts", &p).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let _ = std::fs::remove_file(&f);
        assert!(parse_ids("--accounts", "/no/such/file").is_err());
    }

    #[test]
    fn parents_and_sessions() {
        assert!(is_parent_id("ou-ab12-abcdefgh"));
        assert!(is_parent_id("r-ab12"));
        assert!(!is_parent_id("ou-ab12"));
        assert!(!is_parent_id("123456789012"));
        let s = session_name("apply-20261130T140000.123Z-ab12");
        assert!(s.starts_with("cis-fix-apply-") && s.len() <= 64, "{s}");
    }
}

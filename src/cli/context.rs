//! Shared set-up for the commands that reach AWS or the journal.

use std::path::PathBuf;
use std::sync::Arc;

use super::args::GlobalArgs;
use crate::aws::{is_region_name, AwsContext, AwsOptions, ErrorKind, RegionsError};
use crate::catalog::{Catalog, Entry, Selection};
use crate::engine;
use crate::exit::Fatal;
use crate::journal::Journal;

pub fn catalog() -> Result<&'static Catalog, Fatal> {
    Catalog::embedded().map_err(|e| Fatal::usage(e.to_string()))
}

pub fn resolve<'c>(cat: &'c Catalog, sel: &Selection) -> Result<Vec<&'c Entry>, Fatal> {
    let entries = cat.resolve(sel).map_err(|e| Fatal::usage(e.to_string()))?;
    if entries.is_empty() {
        return Err(Fatal::usage(format!(
            "the selection matches no control of {}",
            sel.benchmark
        )));
    }
    Ok(entries)
}

pub async fn connect(g: &GlobalArgs) -> Result<Arc<AwsContext>, Fatal> {
    connect_for(g, false).await
}

/// The caller's connection, made once per process: the command and its S3 state share it
/// (one identity check, one set of budgets and one call log).
static CALLER: tokio::sync::OnceCell<Arc<AwsContext>> = tokio::sync::OnceCell::const_new();

/// Connect; with `regional`, list the enabled regions in the same round trip as the
/// identity check (the run covers regional controls), when this is the process's first
/// connection (else the regions are listed when first needed).
pub async fn connect_for(g: &GlobalArgs, regional: bool) -> Result<Arc<AwsContext>, Fatal> {
    // One account of a multi-account run: the caller is connected already; this account is
    // reached by its role (or is the caller's own).
    if let Some(reach) = &g.target {
        let aws = reach.connect(regional).await.map_err(|e| Fatal {
            exit: crate::exit::Exit::Failed,
            message: match &reach.role_arn {
                Some(arn) => format!("account {} (role {arn}): {e}", reach.account),
                None => format!("account {}: {e}", reach.account),
            },
        })?;
        if reach.role_arn.is_some() {
            super::stats::connected(&aws, true);
        }
        return Ok(aws);
    }
    CALLER
        .get_or_try_init(|| connect_caller(g, regional))
        .await
        .cloned()
}

async fn connect_caller(g: &GlobalArgs, regional: bool) -> Result<Arc<AwsContext>, Fatal> {
    if let Some(r) = &g.region {
        if !is_region_name(r) {
            return Err(Fatal::usage(format!(
                "--region '{r}' is not a region name (expected something like eu-west-1)"
            )));
        }
    }
    let opts = AwsOptions {
        profile: g.profile.clone(),
        region: g.region.clone(),
        endpoint_url: g.endpoint_url.clone(),
        max_attempts: g.max_attempts,
        max_rps: g.max_rps,
        rate_limits: g.rate_limits.clone(),
        in_flight: g.concurrency.map(usize::from),
        // The regions are listed anyway when --region names one (to check it).
        prefetch_regions: g.region.is_some()
            || regional
                && g.regions
                    .as_ref()
                    .is_none_or(|r| *r != crate::aws::RegionSpec::Home),
    };
    let aws = AwsContext::connect(&opts).await.map_err(|e| {
        let msg = e.to_string();
        // A connection that never happened: name where it was going, and the region asked for.
        let unreachable = ["Connect", "dispatch failure", "dns error", "tcp connect"]
            .iter()
            .any(|k| msg.contains(k));
        let endpoint = g
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .filter(|u| !u.is_empty());
        match (unreachable, endpoint, &g.region) {
            (true, Some(url), _) => Fatal::usage(format!(
                "could not reach the endpoint {url} ({}): {msg}",
                if g.endpoint_url.is_some() {
                    "--endpoint-url"
                } else {
                    "AWS_ENDPOINT_URL"
                }
            )),
            (true, None, Some(r)) => Fatal::usage(format!(
                "could not reach AWS in region {r} (is --region {r} a region?): {msg}"
            )),
            _ => Fatal::usage(msg),
        }
    })?;
    // A home region given by name must be one of the account's: `us-east-7` is named here,
    // not met later as an odd error from the first regional call. The list is the one the
    // plan's regions come from (read once).
    if let Some(r) = &g.region {
        let listed = aws.enabled_regions().await;
        if let Err(e) = &listed {
            tracing::debug!(error = %e, "listing regions from the home region");
            // Denied or throttled says nothing about the region; no answer at all from its
            // endpoint (no such host, or an emulator that does not know it) does.
            if matches!(e.kind, ErrorKind::Network | ErrorKind::Service) && e.code.is_none() {
                return Err(Fatal::usage(format!(
                    "--region: region '{r}' is unknown (its endpoint did not answer ec2:DescribeRegions: {e})"
                )));
            }
        }
        if let Ok(enabled) = listed {
            if !enabled.iter().any(|e| e == r) {
                return Err(Fatal::usage(format!(
                    "--region: region '{r}' is unknown or not enabled for account {} (enabled: {})",
                    aws.account.id,
                    enabled.join(", ")
                )));
            }
        }
    }
    super::stats::connected(&aws, false);
    tracing::info!(account = %aws.account.id, caller = %aws.account.caller_arn, credentials = %aws.credentials, region = %aws.home_region, "connected");
    Ok(Arc::new(aws))
}

/// The regions a plan covers: none when every selected control is global.
pub async fn regions(
    g: &GlobalArgs,
    aws: &AwsContext,
    entries: &[&Entry],
) -> Result<Vec<String>, Fatal> {
    if !engine::needs_regions(entries) {
        return Ok(Vec::new());
    }
    let spec = g.regions.clone().unwrap_or(crate::aws::RegionSpec::All);
    // Across accounts, each covers the regions it has enabled of those asked for.
    if let (Some(_), crate::aws::RegionSpec::List(asked)) = (&g.target, &spec) {
        let enabled = aws.enabled_regions().await.map_err(|e| Fatal {
            exit: crate::exit::Exit::Failed,
            message: format!(
                "account {}: could not list its regions: {e}",
                aws.account.id
            ),
        })?;
        return Ok(asked
            .iter()
            .filter(|r| enabled.contains(r))
            .cloned()
            .collect());
    }
    aws.resolve_regions(&spec).await.map_err(|e| match e {
        RegionsError::NotEnabled(m) => Fatal::usage(m),
        RegionsError::Aws(e) => Fatal::usage(format!("could not list the account's regions: {e}")),
    })
}

/// The journal: in S3 with `--state` (connected and its bucket checked once per process),
/// else in the state directory.
pub fn journal(g: &GlobalArgs) -> Result<Journal, Fatal> {
    if let Some(loc) = &g.state {
        // Through the run's own connection: the caller's (of a multi-account run too).
        let caller = match &g.target {
            Some(reach) => reach.caller.clone(),
            None => crate::state::block_on(connect(g))
                .map_err(|e| Fatal::usage(format!("S3 state {loc}: {e}")))??,
        };
        let state = crate::state::open(loc, &caller).map_err(|e| match e {
            crate::state::StateError::Unfit { .. } => Fatal::refused(e.to_string()),
            _ => Fatal::usage(format!("{e}; nothing was changed")),
        })?;
        return Ok(Journal::s3(state).with_force_unlock(g.force_unlock.clone()));
    }
    let dir: PathBuf = match &g.state_dir {
        Some(d) => d.clone(),
        None => Journal::default_dir().ok_or_else(|| {
            Fatal::usage("cannot find a state directory for the journal: pass --state-dir or set CIS_FIX_STATE_DIR")
        })?,
    };
    Ok(Journal::at(&dir).with_force_unlock(g.force_unlock.clone()))
}

/// Take the state's run lock for `what`: the state directory's flock, or the S3 lock object
/// (whose id the run started under it then takes).
pub fn lock(journal: &Journal, what: &str) -> Result<crate::lock::RunLock, Fatal> {
    if let Some(s3) = journal.s3_state() {
        let id = crate::journal::new_run_id();
        let held = s3
            .lock(&id, what, journal.force_unlock())
            .map_err(|e| match e {
                crate::state::S3LockError::State(_) => {
                    Fatal::usage(format!("{e}; nothing was changed"))
                }
                _ => Fatal::refused(e.to_string()),
            })?;
        journal.reserve_run_id(&id);
        return Ok(crate::lock::RunLock::s3(held));
    }
    if journal.force_unlock().is_some() {
        return Err(Fatal::usage(
            "--force-unlock takes over a lock in S3 state (--state s3://…); a local state directory's lock is freed by the kernel when its holder exits",
        ));
    }
    crate::lock::acquire(journal.state_dir(), what).map_err(|e| match e {
        crate::lock::LockError::Held { .. } => Fatal::refused(e.to_string()),
        crate::lock::LockError::Io { .. } => Fatal::usage(format!("{e}; nothing was changed")),
    })
}

/// Take this machine's lock for the account, so runs with different state directories still
/// never change one account at the same time. (Runs on different machines cannot see it.)
/// It lives in the user's own state directory (`$XDG_STATE_HOME/cis-fix/accounts/ID.lock`,
/// 0700/0600), whatever `--state-dir` says: never in a shared, world-writable temp directory.
pub fn account_lock(aws: &AwsContext, what: &str) -> Result<crate::lock::RunLock, Fatal> {
    let dir = Journal::default_dir().ok_or_else(|| {
        Fatal::usage("cannot find this user's state directory for the account lock: set XDG_STATE_HOME or HOME; nothing was changed")
    })?;
    let path = dir
        .join("accounts")
        .join(format!("{}.lock", aws.account.id));
    crate::lock::acquire_file(&path, what).map_err(|e| match e {
        crate::lock::LockError::Held { .. } => {
            Fatal::refused(format!("account {}: {e}", aws.account.id))
        }
        crate::lock::LockError::Io { .. } => Fatal::usage(format!("{e}; nothing was changed")),
    })
}

//! The command line, as clap sees it. Validation that needs more than clap lives in the
//! command functions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::aws::RegionSpec;
use crate::catalog::{Benchmark, Selection};

#[derive(Debug, Parser)]
#[command(
    name = "cis-fix",
    version,
    about = "Bring an AWS account up to the CIS AWS Foundations Benchmark: plan, apply, verify, undo.",
    after_help = "Exit codes: 0 nothing to do / all applied and verified; 1 usage or tool error; \
2 changes pending (plan --detailed-exitcode); 3 some changes failed, did not verify, or could not be read; \
4 refused (declined, stale plan, no terminal without --yes, wrong account)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes, listed under their own heading in each `--help`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// AWS profile from your shared config; wins over AWS_* keys in the environment, as in the
    /// AWS CLI (also `profile` in cis-fix.toml; default: the standard credential chain).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Home region: where global services are called (default: AWS_REGION or the profile's).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Regions to cover for regional controls: `all` enabled regions (the default), `home`,
    /// or a list.
    #[arg(long, global = true, value_name = "all|home|A,B", value_parser = parse_regions)]
    pub regions: Option<RegionSpec>,
    /// Settings file (default: ./cis-fix.toml when present); flags win over it.
    #[arg(long, global = true, env = "CIS_FIX_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Send every AWS call to this endpoint (also AWS_ENDPOINT_URL), e.g. a local emulator.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Where the journal of applied changes lives (default: the XDG state dir).
    #[arg(long, global = true, env = "CIS_FIX_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep the journal and the run lock in S3 instead (also `state` in cis-fix.toml; see
    /// docs/state.md).
    #[arg(long, global = true, env = "CIS_FIX_STATE", value_name = "s3://BUCKET/PREFIX", value_parser = parse_state)]
    pub state: Option<crate::state::S3Location>,
    /// Take over the S3 state lock that run RUN left behind (only once that run is dead).
    #[arg(long, global = true, value_name = "RUN")]
    pub force_unlock: Option<String>,
    /// Most reads at once while planning, and most requests in flight to one endpoint
    /// (default: as many reads as the per-service request budgets allow, and 32 requests per
    /// endpoint; see docs/rate-limits.md).
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: Option<u16>,
    /// Attempts per AWS call, including the first (default: the SDK's, or AWS_MAX_ATTEMPTS).
    #[arg(long, global = true, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: Option<u32>,
    /// An overall cap on AWS requests per second, across all services and regions, retries
    /// included, on top of the per-service budgets (default: no overall cap).
    #[arg(long, global = true, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_rps: Option<u32>,
    /// One service's budget in requests per second, replacing its default (docs/rate-limits.md)
    /// with the account's own figure from Service Quotas: SERVICE=RATE or SERVICE=RATE/BURST
    /// (the burst defaults to twice the rate). Repeatable; e.g. --rate-limit iam=20.
    #[arg(long = "rate-limit", value_name = "SERVICE=RATE", global = true, value_parser = parse_rate_limit)]
    pub rate_limits: Vec<(String, crate::aws::Limit)>,
    /// More log output on stderr (-v, -vv); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print only errors and the final result.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// No colours (also NO_COLOR, or when output is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub accounts: AccountArgs,
    /// The account one part of a multi-account run works on (set by the fan-out, never by a
    /// flag): connecting then assumes its role with the caller's credentials.
    #[arg(skip)]
    pub target: Option<crate::accounts::Reach>,
}

/// Which accounts a run covers (docs/organizations.md). None of them: the credentials' own
/// account, as always.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Accounts (several at once)")]
pub struct AccountArgs {
    /// Every ACTIVE account of the organization (from the management account or a delegated
    /// administrator).
    #[arg(long, global = true)]
    pub org: bool,
    /// The ACTIVE accounts under this OU (or root r-…), OUs within it included. Repeatable.
    #[arg(long = "ou", global = true, value_name = "OU_ID")]
    pub ous: Vec<String>,
    /// These accounts: ids separated by commas, or a file with one id a line (# comments).
    /// With `undo`, `history`: only these accounts of the run.
    #[arg(long, alias = "account", global = true, value_name = "IDS|FILE")]
    pub accounts: Option<String>,
    /// Leave these accounts out: ids separated by commas, or a file.
    #[arg(long, global = true, value_name = "IDS|FILE")]
    pub exclude_accounts: Option<String>,
    /// The role assumed in each account (default OrganizationAccountAccessRole; Control
    /// Tower's AWSControlTowerExecution works the same).
    #[arg(long, global = true, value_name = "NAME")]
    pub role_name: Option<String>,
    /// The role's path (default /).
    #[arg(long, global = true, value_name = "PATH")]
    pub role_path: Option<String>,
    /// External id the role's trust policy asks for.
    #[arg(long, global = true, value_name = "ID")]
    pub external_id: Option<String>,
    /// Accounts worked on at once (default 8); each has its own request budgets.
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub account_concurrency: Option<u16>,
    /// Only shard K of N (K from 0; `auto` reads CIS_FIX_SHARD_INDEX, JOB_COMPLETION_INDEX or
    /// AWS_BATCH_JOB_ARRAY_INDEX): every N-th of the sorted account ids, for N workers of a job
    /// runner (`report merge` joins their plans).
    #[arg(long, global = true, value_name = "K/N", value_parser = crate::accounts::parse_shard)]
    pub shard: Option<crate::accounts::Shard>,
}

fn parse_regions(s: &str) -> Result<RegionSpec, String> {
    s.parse()
}

fn parse_state(s: &str) -> Result<crate::state::S3Location, String> {
    s.parse()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyPurpose {
    Plan,
    Apply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Markdown,
    // The plan's failures as AWS Security Finding Format findings (for BatchImportFindings).
    Asff,
}

/// Which controls a command covers; the same on every command.
#[derive(Debug, Clone, Args)]
pub struct SelectionArgs {
    /// Benchmark version whose numbering --control and --section use.
    #[arg(long, default_value = "5.0", value_parser = parse_benchmark, value_name = "1.2|1.4|3.0|5.0|6.0|7.0")]
    pub benchmark: Benchmark,
    /// A control: its id in --benchmark's numbering (3.1), a slug, or a Security Hub id (CloudTrail.1). Repeatable.
    #[arg(long = "control", short = 'c', value_name = "ID")]
    pub controls: Vec<String>,
    /// A section or subsection (3, 2.1). Repeatable.
    #[arg(long = "section", value_name = "N")]
    pub sections: Vec<String>,
    /// CIS profile level: 1, or 2 (which includes level 1).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub level: Option<u8>,
    /// Also select the controls the chosen ones need first (3.2 needs the trail of 3.1).
    #[arg(long)]
    pub with_dependencies: bool,
}

fn parse_benchmark(s: &str) -> Result<Benchmark, String> {
    s.parse()
}

impl SelectionArgs {
    pub fn selection(&self) -> Selection {
        Selection {
            benchmark: self.benchmark,
            controls: self.controls.clone(),
            sections: self.sections.clone(),
            level: self.level,
            with_dependencies: self.with_dependencies,
        }
    }

    pub fn is_narrowed(&self) -> bool {
        !self.controls.is_empty() || !self.sections.is_empty() || self.level.is_some()
    }
}

/// Parameters that shape what controls plan.
#[derive(Debug, Clone, Args)]
pub struct ParamArgs {
    /// Keep admin-port access for this range: re-authorized before an open rule is revoked
    /// (security groups), or put in place of the open range (network ACLs). Repeatable.
    #[arg(long = "trusted-cidr", value_name = "CIDR", value_parser = parse_trusted_cidr)]
    pub trusted_cidrs: Vec<String>,
    /// SNS topic the CIS alarms notify: an ARN, or a name to create (default cis-fix-alarms).
    #[arg(long, value_name = "ARN|NAME")]
    pub alarm_topic: Option<String>,
    /// Subscribe this address to the alarm topic.
    #[arg(long, value_name = "EMAIL")]
    pub alarm_email: Option<String>,
    /// Set a control parameter, as in cis-fix.toml (trail_name=org-trail,
    /// log_retention_days=90, flow_log_traffic=ALL …). Repeatable; wins over the file.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set_arg)]
    pub set: Vec<(String, toml::Value)>,
    /// Let a role cis-fix creates (the support role of 1.16) trust a principal of another
    /// account; without it only this account's principals are trusted.
    #[arg(long)]
    pub allow_cross_account_trust: bool,
}

fn parse_trusted_cidr(s: &str) -> Result<String, String> {
    crate::remediations::parse_cidr(s)
}

fn parse_set_arg(s: &str) -> Result<(String, toml::Value), String> {
    crate::remediations::parse_set(s)
}

impl ParamArgs {
    /// Whether any parameter flag was given.
    pub fn is_empty(&self) -> bool {
        self.trusted_cidrs.is_empty()
            && self.alarm_topic.is_none()
            && self.alarm_email.is_none()
            && self.set.is_empty()
            && !self.allow_cross_account_trust
    }

    /// The flags as a table of parameter values (later flags win).
    fn table(&self) -> toml::Table {
        let mut t = toml::Table::new();
        for (k, v) in &self.set {
            t.insert(k.clone(), v.clone());
        }
        if !self.trusted_cidrs.is_empty() {
            let list = self.trusted_cidrs.iter().cloned().map(toml::Value::String);
            t.insert("trusted_cidrs".into(), toml::Value::Array(list.collect()));
        }
        if let Some(v) = &self.alarm_topic {
            t.insert("alarm_topic".into(), toml::Value::String(v.clone()));
        }
        if let Some(v) = &self.alarm_email {
            t.insert("alarm_email".into(), toml::Value::String(v.clone()));
        }
        if self.allow_cross_account_trust {
            t.insert(
                "allow_cross_account_trust".into(),
                toml::Value::Boolean(true),
            );
        }
        t
    }

    /// The flags over the settings file's parameters.
    pub fn params_with(
        &self,
        cfg: &crate::config::Config,
    ) -> Result<crate::remediations::Params, crate::exit::Fatal> {
        cfg.params
            .clone()
            .overlay(&self.table())
            .map_err(|e| crate::exit::Fatal::usage(format!("invalid parameter: {e}")))
    }
}

/// Where the run's exceptions come from (docs/exceptions.md).
#[derive(Debug, Clone, Args)]
pub struct ExceptionArgs {
    /// Exceptions file: targets left alone (default: cis-fix-exceptions.toml beside
    /// cis-fix.toml; see docs/exceptions.md).
    #[arg(long = "exceptions", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Exit 1 when an exception in the file has expired.
    #[arg(long)]
    pub strict_exceptions: bool,
}

/// Security Hub as input (docs/exceptions.md).
#[derive(Debug, Clone, Args)]
pub struct SecurityHubArgs {
    /// Select only the controls whose CIS findings in Security Hub are FAILED, per region of
    /// the run; findings suppressed there are excepted (their note is the reason).
    #[arg(long)]
    pub from_security_hub: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the benchmark's controls and what cis-fix does about each.
    Controls {
        #[command(flatten)]
        selection: SelectionArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show what apply would change. Read-only.
    Plan {
        #[command(flatten)]
        selection: SelectionArgs,
        #[command(flatten)]
        params: ParamArgs,
        #[command(flatten)]
        exceptions: ExceptionArgs,
        /// Save the plan for `cis-fix apply FILE`.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
        /// Output format: text for people, json to save or script, markdown for a ticket, asff
        /// for Security Hub.
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
        /// Exit 2 when changes are pending (0 when none).
        #[arg(long)]
        detailed_exitcode: bool,
        /// Show compliant items in full.
        #[arg(long)]
        show_compliant: bool,
        /// Show every item on its own (no folding of identical findings across regions) and
        /// every unchanged field of each diff.
        #[arg(long)]
        expand: bool,
        /// Import the plan's failures into Security Hub as ASFF findings (those `--format asff`
        /// prints), each in its region, and report how many were imported.
        #[arg(long)]
        import_to_security_hub: bool,
        #[command(flatten)]
        hub: SecurityHubArgs,
    },
    /// Apply a saved plan, or plan and apply the selected controls, after confirmation.
    Apply {
        /// A plan saved with `cis-fix plan -o FILE`; applied exactly, stale items refused.
        #[arg(value_name = "PLAN_FILE")]
        plan_file: Option<PathBuf>,
        #[command(flatten)]
        selection: SelectionArgs,
        #[command(flatten)]
        params: ParamArgs,
        #[command(flatten)]
        exceptions: ExceptionArgs,
        /// Do not ask; apply every reversible change.
        /// Targets in use (a default security group with network interfaces) are still skipped
        /// unless --force-in-use.
        #[arg(short = 'y', long)]
        yes: bool,
        /// With --yes, also apply changes that cannot be undone.
        #[arg(long)]
        allow_irreversible: bool,
        /// With --yes, also change targets that are in use (their blast radius is in the plan).
        #[arg(long)]
        force_in_use: bool,
        /// With --yes, also make the changes marked "asked separately": destructive and high
        /// risk, or taking access from a role another account trusts or from a break-glass
        /// principal (break_glass_patterns).
        #[arg(long)]
        allow_destructive: bool,
        /// Show every change on its own (no folding across regions) and every unchanged field.
        #[arg(long)]
        expand: bool,
        #[command(flatten)]
        hub: SecurityHubArgs,
        /// After each change is verified, mark the Security Hub findings of its control and
        /// target RESOLVED, with a note naming the run and the change.
        #[arg(long)]
        update_security_hub: bool,
    },
    /// Put back what an earlier apply changed, from the journal.
    Undo {
        /// The run to undo (default: the latest apply with changes not yet undone).
        #[arg(value_name = "RUN_ID")]
        run_id: Option<String>,
        /// Only these changes of the run (their numbers in `cis-fix history RUN_ID`). Repeatable.
        #[arg(long = "change", value_name = "N")]
        changes: Vec<u32>,
        /// Do not ask.
        #[arg(short = 'y', long)]
        yes: bool,
        /// Restore even targets that changed after cis-fix applied them.
        #[arg(long)]
        force: bool,
        /// After each change is put back, mark the Security Hub findings of its control and
        /// target NEW again, with a note naming the undo.
        #[arg(long)]
        update_security_hub: bool,
    },
    /// A guided hardening session: walk the benchmark section by section, see each control's
    /// diff, and apply, skip, adjust or except it (an entry in the exceptions file).
    Guide {
        #[command(flatten)]
        selection: SelectionArgs,
        #[command(flatten)]
        params: ParamArgs,
        #[command(flatten)]
        exceptions: ExceptionArgs,
    },
    /// Print least-privilege IAM policy documents for the selected controls.
    IamPolicy {
        #[command(flatten)]
        selection: SelectionArgs,
        /// Which permissions: `plan` (read-only) or `apply` (read, write and undo).
        #[arg(long = "for", value_enum, default_value = "apply")]
        purpose: PolicyPurpose,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        #[arg(value_name = "SHELL")]
        shell: String,
    },
    /// List the journaled runs, or the changes of one run.
    History {
        /// Show the changes of this run (default: list every run).
        #[arg(value_name = "RUN_ID")]
        run_id: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Recompute every run's entry chain (or RUN_ID's) with the journal key, print each
        /// chain head, and name the first entry that no longer matches (exit 3).
        #[arg(long)]
        verify: bool,
    },
    /// Write a compliance report for auditors: a plan (live, or saved with `plan -o`) and the
    /// changes journal runs made, as one self-contained HTML file, CSV, or JSON.
    #[command(args_conflicts_with_subcommands = true)]
    Report {
        #[command(subcommand)]
        action: Option<ReportAction>,
        /// A plan saved with `cis-fix plan -o FILE` (default: plan the account now, read-only).
        #[arg(long = "plan", value_name = "FILE")]
        plan_file: Option<PathBuf>,
        #[command(flatten)]
        selection: SelectionArgs,
        #[command(flatten)]
        params: ParamArgs,
        /// Include the changes of this journal run (`cis-fix history` lists them). Repeatable.
        #[arg(long = "run", value_name = "RUN_ID", conflicts_with_all = ["since", "all_runs"])]
        runs: Vec<String>,
        /// Include the journal runs started on or after this date (2026-11-30, or RFC 3339).
        #[arg(long, value_name = "DATE", conflicts_with = "all_runs")]
        since: Option<String>,
        /// Include every journal run of the plan's account.
        #[arg(long)]
        all_runs: bool,
        /// Output format (default: from the -o file's extension, else html).
        #[arg(long, value_enum)]
        format: Option<ReportFormat>,
        /// Write the report to FILE (default: standard output).
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportAction {
    /// Join the plans of a sharded run (`plan --shard K/N -o FILE` on N workers) into the one
    /// plan a single process would have written.
    Merge {
        /// The shards' plan files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Write the merged plan to FILE (default: standard output).
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Html,
    Csv,
    Json,
}

/// `--rate-limit SERVICE=RATE[/BURST]`.
fn parse_rate_limit(s: &str) -> Result<(String, crate::aws::Limit), String> {
    crate::aws::parse_rate_limit(s)
}

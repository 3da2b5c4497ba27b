//! Parameters that change what a control plans (not which controls run). They come from
//! `cis-fix.toml`, then `--set KEY=VALUE` and the named flags, and are saved with a plan, so
//! `apply plan.json` plans exactly as `plan` did. Every name a control creates is derived
//! here, so the plan shows it and the same run always picks the same one.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Where VPC flow logs go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowLogDestination {
    #[default]
    CloudWatchLogs,
    S3,
}

/// The account's security contact (AWS Account API alternate contact, type SECURITY).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Ranges that keep admin-port access: re-authorized before an open rule is revoked
    /// (security groups) or put in place of the open range (network ACLs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_cidrs: Vec<String>,

    // --- logging (section 3) ---
    /// Name of the trail cis-fix creates (default `cis-fix-trail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trail_name: Option<String>,
    /// Home region of a trail cis-fix creates (default: the run's home region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trail_region: Option<String>,
    /// Bucket for CloudTrail logs (default `cis-fix-cloudtrail-ACCOUNT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trail_bucket: Option<String>,
    /// Bucket that receives S3 server access logs (default `cis-fix-access-logs-ACCOUNT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_bucket: Option<String>,
    /// Bucket for AWS Config delivery (default `cis-fix-config-ACCOUNT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_bucket: Option<String>,
    /// Alias of the KMS key cis-fix creates for CloudTrail (default `alias/cis-fix-cloudtrail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_alias: Option<String>,
    /// CloudWatch Logs group the trail delivers to (default `cis-fix-cloudtrail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trail_log_group: Option<String>,
    /// Retention for log groups cis-fix creates, in days (default 365).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_retention_days: Option<i32>,
    /// `cloud-watch-logs` (default) or `s3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_log_destination: Option<FlowLogDestination>,
    /// `REJECT` (default, what CIS asks for) or `ALL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_log_traffic: Option<String>,
    /// Bucket for flow logs when the destination is `s3` (default `cis-fix-flow-logs-ACCOUNT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_log_bucket: Option<String>,
    /// Role flow logs deliver to CloudWatch Logs with (default `cis-fix-flow-logs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_log_role_name: Option<String>,
    /// Role a trail cis-fix creates delivers to CloudWatch Logs with (default
    /// `cis-fix-cloudtrail-logs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trail_log_role_name: Option<String>,
    /// Name of the AWS Config recorder cis-fix creates where a region has none (default
    /// `default`); an existing recorder keeps its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_recorder_name: Option<String>,
    /// Name of the delivery channel cis-fix creates where a region has none (default
    /// `default`); an existing channel keeps its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_channel_name: Option<String>,

    // --- monitoring (section 4) ---
    /// SNS topic the CIS alarms notify: an ARN, or a name created if missing
    /// (default `cis-fix-alarms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_topic: Option<String>,
    /// E-mail address subscribed to the alarm topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_email: Option<String>,

    // --- identity (section 1) ---
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_contact: Option<Contact>,
    /// Attach the forced-MFA policy to this group instead of to each user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_group: Option<String>,
    /// Let lock-out-prone changes include the principal running cis-fix (off by default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_caller: bool,
    /// Principal ARN the support role trusts (default: the account root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_role_trust: Option<String>,
    /// Name of the support role cis-fix creates (default `cis-fix-support`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_role_name: Option<String>,
    /// Let a role cis-fix creates trust a principal of another account (off: only principals
    /// of the account being fixed; `--allow-cross-account-trust`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_cross_account_trust: bool,

    // --- safety ---
    /// Names of break-glass principals: a change that takes access from a user, group or role
    /// whose name contains one of these (case, `-`, `_` and spaces ignored) is asked about on
    /// its own, and `--yes` skips it unless `--allow-destructive` (default
    /// `["break-glass", "emergency"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass_patterns: Option<Vec<String>>,
    /// The broadest IPv4 range accepted as trusted, as a prefix length (default 8: a /8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_cidr_min_prefix: Option<u8>,
    /// The broadest IPv6 range accepted as trusted, as a prefix length (default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_cidr_min_prefix_v6: Option<u8>,

    /// The benchmark the plan was made for (`--benchmark`, set by the planner, not a
    /// setting): Security Hub subscribes that version's CIS standard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<crate::catalog::Benchmark>,
    /// The regions the plan covers (set by the planner, not a setting): account-wide
    /// controls that judge regional resources (3.1 and 3.2 read single-region trails) read
    /// them in each. Saved with the plan, so a saved plan is re-read over the same regions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run_regions: Vec<String>,
    /// The controls the plan covers, by slug (set by the planner, not a setting): 3.9 plans
    /// its change as apply will make it after 3.8's, when both are in the plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run_controls: Vec<String>,
}

/// Every parameter key, for `--set`, `cis-fix.toml` and error messages.
pub const KEYS: &[&str] = &[
    "trusted_cidrs",
    "trail_name",
    "trail_region",
    "trail_bucket",
    "access_log_bucket",
    "config_bucket",
    "kms_key_alias",
    "trail_log_group",
    "log_retention_days",
    "flow_log_destination",
    "flow_log_traffic",
    "flow_log_bucket",
    "flow_log_role_name",
    "trail_log_role_name",
    "config_recorder_name",
    "config_channel_name",
    "alarm_topic",
    "alarm_email",
    "security_contact",
    "mfa_group",
    "include_caller",
    "support_role_trust",
    "support_role_name",
    "allow_cross_account_trust",
    "break_glass_patterns",
    "trusted_cidr_min_prefix",
    "trusted_cidr_min_prefix_v6",
];

/// Break-glass names when `break_glass_patterns` is not set.
pub const DEFAULT_BREAK_GLASS: &[&str] = &["break-glass", "emergency"];
/// Default broadest trusted ranges: a /8 for IPv4, a /32 for IPv6.
pub const DEFAULT_MIN_PREFIX_V4: u8 = 8;
pub const DEFAULT_MIN_PREFIX_V6: u8 = 32;

/// Retention values CloudWatch Logs accepts.
const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

impl Params {
    pub fn trusted_v4(&self) -> impl Iterator<Item = &str> {
        self.trusted_cidrs
            .iter()
            .map(String::as_str)
            .filter(|c| !c.contains(':'))
    }

    pub fn trusted_v6(&self) -> impl Iterator<Item = &str> {
        self.trusted_cidrs
            .iter()
            .map(String::as_str)
            .filter(|c| c.contains(':'))
    }

    /// Parameters from a TOML table (the settings file plus `--set` values). Unknown keys
    /// and bad values are errors naming the key.
    pub fn from_table(table: toml::Table) -> Result<Params, String> {
        if let Some(k) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(unknown_key(k));
        }
        Params::from_checked_table(table)
    }

    fn from_checked_table(table: toml::Table) -> Result<Params, String> {
        let p: Params = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| e.message().trim().replace('\n', " "))?;
        p.validate()?;
        Ok(p)
    }

    /// Check values a control would otherwise only reject mid-apply.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v, max) in [
            ("trusted_cidr_min_prefix", self.trusted_cidr_min_prefix, 32),
            (
                "trusted_cidr_min_prefix_v6",
                self.trusted_cidr_min_prefix_v6,
                128,
            ),
        ] {
            if let Some(n) = v.filter(|n| !(2..=max).contains(n)) {
                return Err(format!(
                    "{key}: {n} is not a prefix length from 2 to {max} (a /0 or /1 is half the internet or more, never trusted)"
                ));
            }
        }
        for c in &self.trusted_cidrs {
            let canonical = parse_cidr(c).map_err(|e| format!("trusted_cidrs: {e}"))?;
            let (ip, len) = canonical.split_once('/').unwrap_or_default();
            let len: u8 = len.parse().unwrap_or(0);
            let (min, key) = if ip.contains(':') {
                (
                    self.trusted_cidr_min_prefix_v6(),
                    "trusted_cidr_min_prefix_v6",
                )
            } else {
                (self.trusted_cidr_min_prefix(), "trusted_cidr_min_prefix")
            };
            if len < min {
                return Err(format!(
                    "trusted_cidrs: '{c}' is broader than a /{min}; a trusted range must be /{min} or narrower (set {key} to change the limit)"
                ));
            }
        }
        if let Some(t) = &self.support_role_trust {
            principal_account(t).map_err(|e| format!("support_role_trust: {e}"))?;
        }
        if let Some(p) = &self.break_glass_patterns {
            if let Some(bad) = p.iter().find(|p| normalise_name(p).is_empty()) {
                return Err(format!(
                    "break_glass_patterns: '{bad}' has no letters or digits to match a name with"
                ));
            }
        }
        if let Some(d) = self.log_retention_days {
            if !RETENTION_DAYS.contains(&d) {
                return Err(format!(
                    "log_retention_days: {d} is not a CloudWatch Logs retention; use one of {RETENTION_DAYS:?}"
                ));
            }
        }
        if let Some(t) = &self.flow_log_traffic {
            if !["REJECT", "ALL"].contains(&t.as_str()) {
                return Err(format!(
                    "flow_log_traffic: '{t}' must be REJECT (what CIS asks for) or ALL"
                ));
            }
        }
        for (key, v) in [
            ("trail_bucket", &self.trail_bucket),
            ("access_log_bucket", &self.access_log_bucket),
            ("config_bucket", &self.config_bucket),
            ("flow_log_bucket", &self.flow_log_bucket),
        ] {
            if let Some(b) = v {
                valid_bucket_name(b).map_err(|e| format!("{key}: {e}"))?;
            }
        }
        for (key, v) in [
            ("flow_log_role_name", &self.flow_log_role_name),
            ("trail_log_role_name", &self.trail_log_role_name),
        ] {
            if let Some(n) = v {
                valid_role_name(n).map_err(|e| format!("{key}: {e}"))?;
            }
        }
        for (key, v) in [
            ("config_recorder_name", &self.config_recorder_name),
            ("config_channel_name", &self.config_channel_name),
        ] {
            if let Some(n) = v.as_deref().filter(|n| n.is_empty() || n.len() > 256) {
                return Err(format!("{key}: '{n}' must be 1 to 256 characters"));
            }
        }
        if let Some(a) = &self.kms_key_alias {
            if !a.starts_with("alias/") || a.starts_with("alias/aws/") || a.len() <= 6 {
                return Err(format!(
                    "kms_key_alias: '{a}' must look like alias/NAME (and not alias/aws/…)"
                ));
            }
        }
        if let Some(r) = &self.trail_region {
            if !crate::aws::is_region_name(r) {
                return Err(format!("trail_region: '{r}' is not an AWS region name"));
            }
        }
        if let Some(e) = &self.alarm_email {
            valid_email(e).map_err(|m| format!("alarm_email: {m}"))?;
        }
        if let Some(c) = &self.security_contact {
            if !c.email.is_empty() {
                valid_email(&c.email).map_err(|m| format!("security_contact.email: {m}"))?;
            }
        }
        Ok(())
    }

    /// Override `self` with every value `over` sets.
    pub fn overlay(mut self, over: &toml::Table) -> Result<Params, String> {
        if let Some(k) = over.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(unknown_key(k));
        }
        let mut table = toml::Table::try_from(&self).map_err(|e| e.to_string())?;
        for (k, v) in over {
            table.insert(k.clone(), v.clone());
        }
        self = Params::from_checked_table(table)?;
        Ok(self)
    }

    pub fn trail_name(&self) -> String {
        self.trail_name
            .clone()
            .unwrap_or_else(|| "cis-fix-trail".into())
    }
    pub fn trail_region(&self, home_region: &str) -> String {
        self.trail_region
            .clone()
            .unwrap_or_else(|| home_region.to_string())
    }
    pub fn trail_bucket(&self, account: &str) -> String {
        self.trail_bucket
            .clone()
            .unwrap_or_else(|| format!("cis-fix-cloudtrail-{account}"))
    }
    pub fn access_log_bucket(&self, account: &str) -> String {
        self.access_log_bucket
            .clone()
            .unwrap_or_else(|| format!("cis-fix-access-logs-{account}"))
    }
    pub fn config_bucket(&self, account: &str) -> String {
        self.config_bucket
            .clone()
            .unwrap_or_else(|| format!("cis-fix-config-{account}"))
    }
    pub fn flow_log_bucket(&self, account: &str) -> String {
        self.flow_log_bucket
            .clone()
            .unwrap_or_else(|| format!("cis-fix-flow-logs-{account}"))
    }
    pub fn kms_key_alias(&self) -> String {
        self.kms_key_alias
            .clone()
            .unwrap_or_else(|| "alias/cis-fix-cloudtrail".into())
    }
    pub fn trail_log_group(&self) -> String {
        self.trail_log_group
            .clone()
            .unwrap_or_else(|| "cis-fix-cloudtrail".into())
    }
    pub fn log_retention_days(&self) -> i32 {
        self.log_retention_days.unwrap_or(365)
    }
    pub fn flow_log_destination(&self) -> FlowLogDestination {
        self.flow_log_destination.unwrap_or_default()
    }
    pub fn flow_log_traffic(&self) -> String {
        self.flow_log_traffic
            .clone()
            .unwrap_or_else(|| "REJECT".into())
    }
    pub fn alarm_topic(&self) -> String {
        self.alarm_topic
            .clone()
            .unwrap_or_else(|| "cis-fix-alarms".into())
    }
    /// Whether the plan covers control `slug` (see `run_controls`).
    pub fn plans(&self, slug: &str) -> bool {
        self.run_controls.iter().any(|s| s == slug)
    }

    /// The parameters undo re-reads a target with: none of the plan's (undo restores recorded
    /// state), but the region a recorded state names as its home (`HomeRegion`), so a
    /// single-region trail outside the run's home region is found again.
    pub fn for_undo(previous: &serde_json::Value) -> Params {
        Params {
            run_regions: previous["HomeRegion"]
                .as_str()
                .map(|r| vec![r.to_string()])
                .unwrap_or_default(),
            ..Params::default()
        }
    }

    /// The benchmark version of this run (5.0 when not set).
    pub fn benchmark(&self) -> crate::catalog::Benchmark {
        self.benchmark.unwrap_or_default()
    }

    pub fn trusted_cidr_min_prefix(&self) -> u8 {
        self.trusted_cidr_min_prefix
            .unwrap_or(DEFAULT_MIN_PREFIX_V4)
    }
    pub fn trusted_cidr_min_prefix_v6(&self) -> u8 {
        self.trusted_cidr_min_prefix_v6
            .unwrap_or(DEFAULT_MIN_PREFIX_V6)
    }

    /// The break-glass pattern `name` matches, if any: `name` contains the pattern, both
    /// compared without case, `-`, `_` or spaces (`BreakGlass_Admin` matches `break-glass`).
    pub fn break_glass_match(&self, name: &str) -> Option<String> {
        let name = normalise_name(name);
        let hit = |p: &str| !normalise_name(p).is_empty() && name.contains(&normalise_name(p));
        match &self.break_glass_patterns {
            Some(list) => list.iter().find(|p| hit(p)).cloned(),
            None => DEFAULT_BREAK_GLASS
                .iter()
                .find(|p| hit(p))
                .map(|p| p.to_string()),
        }
    }

    /// Parameters that only make sense once the account is known: a trust in another account
    /// needs `allow_cross_account_trust`.
    pub fn check_for_account(&self, account: &str) -> Result<(), String> {
        if let Some(t) = &self.support_role_trust {
            let other = principal_account(t)?;
            if other != account && !self.allow_cross_account_trust {
                return Err(format!(
                    "support_role_trust '{t}' is a principal of account {other}, not of this account {account}; cis-fix creates roles trusted only by this account's principals unless --allow-cross-account-trust is given"
                ));
            }
        }
        Ok(())
    }

    pub fn flow_log_role_name(&self) -> String {
        self.flow_log_role_name
            .clone()
            .unwrap_or_else(|| "cis-fix-flow-logs".into())
    }

    pub fn trail_log_role_name(&self) -> String {
        self.trail_log_role_name
            .clone()
            .unwrap_or_else(|| "cis-fix-cloudtrail-logs".into())
    }

    pub fn config_recorder_name(&self) -> String {
        self.config_recorder_name
            .clone()
            .unwrap_or_else(|| "default".into())
    }

    pub fn config_channel_name(&self) -> String {
        self.config_channel_name
            .clone()
            .unwrap_or_else(|| "default".into())
    }

    pub fn support_role_name(&self) -> String {
        self.support_role_name
            .clone()
            .unwrap_or_else(|| "cis-fix-support".into())
    }
}

/// An IAM role name: 1 to 64 of letters, digits and `+=,.@_-`.
pub fn valid_role_name(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{n}' is not an IAM role name (1 to 64 letters, digits or +=,.@_-)"
        ))
    }
}

/// Lower case, letters and digits only: how break-glass names are compared.
fn normalise_name(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The account of an IAM principal given as `arn:PARTITION:iam::ACCOUNT:root|user/…|role/…`
/// or a bare 12-digit account id. Wildcards, services and anything else are refused: a role
/// cis-fix creates is trusted by one named principal.
pub fn principal_account(p: &str) -> Result<String, String> {
    let digits = |a: &str| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
    if digits(p) {
        return Ok(p.to_string());
    }
    let parts: Vec<&str> = p.splitn(6, ':').collect();
    let kind_ok = |r: &str| {
        r == "root" || ((r.starts_with("user/") || r.starts_with("role/")) && !r.ends_with('/'))
    };
    match parts.as_slice() {
        ["arn", part, "iam", "", account, resource]
            if !part.is_empty() && digits(account) && kind_ok(resource) && !p.contains('*') && !p.contains('?') =>
        {
            Ok(account.to_string())
        }
        _ => Err(format!(
            "'{p}' is not an IAM principal; use an account id, or an ARN like arn:aws:iam::111122223333:root or …:role/NAME (no wildcards)"
        )),
    }
}

fn unknown_key(k: &str) -> String {
    let near = KEYS
        .iter()
        .map(|c| (strsim::jaro_winkler(k, c), *c))
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean {c}?)"))
        .unwrap_or_default();
    format!("unknown parameter '{k}'{near}; known: {}", KEYS.join(", "))
}

fn valid_email(e: &str) -> Result<(), String> {
    match e.split_once('@') {
        Some((user, host)) if !user.is_empty() && host.contains('.') && !e.contains(' ') => Ok(()),
        _ => Err(format!("'{e}' is not an e-mail address")),
    }
}

/// S3's naming rules (the common ones): 3–63 characters, lower case, digits, dots, hyphens.
pub fn valid_bucket_name(b: &str) -> Result<(), String> {
    let ok_chars = b
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ok_ends = b
        .chars()
        .next()
        .zip(b.chars().last())
        .is_some_and(|(f, l)| f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric());
    if (3..=63).contains(&b.len()) && ok_chars && ok_ends && !b.contains("..") {
        Ok(())
    } else {
        Err(format!(
            "'{b}' is not a valid S3 bucket name (3-63 characters: a-z, 0-9, '.', '-')"
        ))
    }
}

/// `10.0.0.0/8`, `2001:db8::/32`; a world-open range is not "trusted".
pub fn parse_cidr(s: &str) -> Result<String, String> {
    let (ip, len) = s
        .split_once('/')
        .ok_or_else(|| format!("'{s}' is not a CIDR range (expected e.g. 10.0.0.0/8)"))?;
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("'{s}' is not a CIDR range: '{ip}' is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u8 = len
        .parse()
        .ok()
        .filter(|l| *l <= max)
        .ok_or_else(|| format!("'{s}' is not a CIDR range: prefix length must be 0..={max}"))?;
    if len == 0 {
        return Err(format!("'{s}' is the whole internet, not a trusted range"));
    }
    if len == 1 {
        return Err(format!("'{s}' is half the internet, not a trusted range"));
    }
    Ok(format!("{ip}/{len}"))
}

/// One `--set KEY=VALUE`: the value is read as TOML when it parses (`365`, `true`,
/// `{ name = "…" }`), else taken as a plain string.
pub fn parse_set(s: &str) -> Result<(String, toml::Value), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| {
        format!("'{s}' is not KEY=VALUE (e.g. --set alarm_email=sec@example.com)")
    })?;
    let k = k.trim();
    if !KEYS.contains(&k) {
        return Err(unknown_key(k));
    }
    let v = v.trim();
    let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(v.to_string()));
    let value = match (k, value) {
        ("trusted_cidrs", toml::Value::String(s)) => toml::Value::Array(
            s.split(',')
                .map(|c| toml::Value::String(c.trim().to_string()))
                .collect(),
        ),
        (_, v) => v,
    };
    Ok((k.to_string(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert_eq!(parse_cidr("10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert_eq!(parse_cidr("2001:db8::/32").unwrap(), "2001:db8::/32");
        assert!(parse_cidr("0.0.0.0/0")
            .unwrap_err()
            .contains("whole internet"));
        assert!(parse_cidr("10.0.0.0").is_err());
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("ten/8").is_err());
    }

    fn table(s: &str) -> toml::Table {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn trusted_ranges_broader_than_the_limit_or_half_the_internet_are_refused() {
        for c in ["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"] {
            assert!(
                parse_cidr(c).unwrap_err().contains("half the internet"),
                "{c}"
            );
        }
        let refuse = |t: &str, want: &str| {
            let e = Params::from_table(table(t)).unwrap_err();
            assert!(e.contains(want), "{t}: {e}");
        };
        refuse("trusted_cidrs = [\"10.0.0.0/7\"]", "broader than a /8");
        refuse("trusted_cidrs = [\"2001:db8::/31\"]", "broader than a /32");
        refuse("trusted_cidr_min_prefix = 1", "never trusted");
        refuse(
            "trusted_cidr_min_prefix = 16\ntrusted_cidrs = [\"10.0.0.0/8\"]",
            "set trusted_cidr_min_prefix",
        );
        let ok = Params::from_table(table(
            "trusted_cidr_min_prefix = 4\ntrusted_cidrs = [\"16.0.0.0/4\", \"10.0.0.0/8\", \"2001:db8::/32\"]",
        ));
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn support_role_trust_is_one_principal_of_this_account_unless_allowed() {
        for bad in [
            "*",
            "arn:aws:iam::*:root",
            "arn:aws:iam::111122223333:role/*",
            "ec2.amazonaws.com",
            "arn:aws:s3:::b",
            "12345",
        ] {
            let e =
                Params::from_table(table(&format!("support_role_trust = \"{bad}\""))).unwrap_err();
            assert!(e.contains("not an IAM principal"), "{bad}: {e}");
        }
        let p = Params::from_table(table(
            "support_role_trust = \"arn:aws:iam::999988887777:root\"",
        ))
        .unwrap();
        let e = p.check_for_account("111122223333").unwrap_err();
        assert!(e.contains("--allow-cross-account-trust"), "{e}");
        assert!(p.check_for_account("999988887777").is_ok());
        let p = Params {
            allow_cross_account_trust: true,
            ..p
        };
        assert!(p.check_for_account("111122223333").is_ok());
        let p = Params::from_table(table(
            "support_role_trust = \"arn:aws:iam::111122223333:role/ops\"",
        ))
        .unwrap();
        assert!(p.check_for_account("111122223333").is_ok());
    }

    #[test]
    fn break_glass_names_match_without_case_or_separators() {
        let p = Params::default();
        assert_eq!(
            p.break_glass_match("BreakGlass_Admin").as_deref(),
            Some("break-glass")
        );
        assert_eq!(
            p.break_glass_match("role emergency-access").as_deref(),
            Some("emergency")
        );
        assert_eq!(p.break_glass_match("ops-admin"), None);
        let p = Params::from_table(table("break_glass_patterns = [\"firecall\"]")).unwrap();
        assert_eq!(
            p.break_glass_match("FireCall-1").as_deref(),
            Some("firecall")
        );
        assert_eq!(p.break_glass_match("break-glass"), None);
        assert!(Params::from_table(table("break_glass_patterns = [\"--\"]")).is_err());
    }

    #[test]
    fn reads_a_table_and_defaults_names_from_the_account() {
        let p = Params::from_table(table(
            "trail_name = \"org\"\nlog_retention_days = 90\nflow_log_destination = \"s3\"\n\
             security_contact = { name = \"Sec\", email = \"sec@example.com\", phone = \"+1 555\" }",
        ))
        .unwrap();
        assert_eq!(p.trail_name(), "org");
        assert_eq!(p.log_retention_days(), 90);
        assert_eq!(p.flow_log_destination(), FlowLogDestination::S3);
        assert_eq!(
            p.trail_bucket("111122223333"),
            "cis-fix-cloudtrail-111122223333"
        );
        assert_eq!(p.security_contact.unwrap().email, "sec@example.com");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, want) in [
            ("trail_nme = \"x\"", "did you mean trail_name"),
            ("log_retention_days = 42", "log_retention_days"),
            ("flow_log_traffic = \"ACCEPT\"", "flow_log_traffic"),
            ("trail_bucket = \"Bad_Name\"", "trail_bucket"),
            ("kms_key_alias = \"alias/aws/x\"", "kms_key_alias"),
            ("alarm_email = \"nobody\"", "alarm_email"),
            ("trail_region = \"moon-1\"", "trail_region"),
        ] {
            let e = Params::from_table(table(text)).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn set_values_overlay_the_file() {
        let base = Params::from_table(table("alarm_email = \"a@example.com\"\ntrail_name = \"t\""))
            .unwrap();
        let mut over = toml::Table::new();
        for s in [
            "alarm_email=b@example.com",
            "log_retention_days=30",
            "include_caller=true",
        ] {
            let (k, v) = parse_set(s).unwrap();
            over.insert(k, v);
        }
        let p = base.overlay(&over).unwrap();
        assert_eq!(p.alarm_email.as_deref(), Some("b@example.com"));
        assert_eq!(p.trail_name(), "t");
        assert_eq!(p.log_retention_days(), 30);
        assert!(p.include_caller);
        assert!(parse_set("nope=1")
            .unwrap_err()
            .contains("unknown parameter"));
        assert!(parse_set("alarm_email").is_err());
    }
}

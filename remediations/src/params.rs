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

    /// The benchmark the plan was made for (`--benchmark`, set by the planner, not a
    /// setting): Security Hub subscribes that version's CIS standard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<crate::catalog::Benchmark>,
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
    "alarm_topic",
    "alarm_email",
    "security_contact",
    "mfa_group",
    "include_caller",
    "support_role_trust",
    "support_role_name",
];

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
        for c in &self.trusted_cidrs {
            parse_cidr(c).map_err(|e| format!("trusted_cidrs: {e}"))?;
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
    /// The benchmark version of this run (5.0 when not set).
    pub fn benchmark(&self) -> crate::catalog::Benchmark {
        self.benchmark.unwrap_or_default()
    }

    pub fn support_role_name(&self) -> String {
        self.support_role_name
            .clone()
            .unwrap_or_else(|| "cis-fix-support".into())
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

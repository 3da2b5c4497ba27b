//! `cis-fix.toml`: settings a team keeps next to its runbooks, so every `plan` and `apply`
//! uses the same regions, rate budget and trusted ranges. Command-line flags win over it.
//!
//! ```toml
//! profile = "prod-admin"                # as --profile: wins over AWS_* keys in the environment
//! regions = ["eu-west-1", "us-east-1"]   # or "all" / "home"
//! max_rps = 10
//! rate_limits = { iam = 20, s3 = "50/100" } # as --rate-limit: the account's own figures
//! trusted_cidrs = ["10.0.0.0/8"]
//! alarm_email = "security@example.com"   # and every other control parameter (see Params)
//! exceptions = "exceptions.toml"        # default: cis-fix-exceptions.toml beside this file
//! exception_tag = "cis-fix:exception"    # the tag that excepts the resource it is on
//! state = "s3://my-state-bucket/cis-fix" # as --state: journal and lock in S3 (docs/state.md)
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::aws::RegionSpec;
use crate::remediations::Params;

pub const DEFAULT_FILE: &str = "cis-fix.toml";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// AWS profile, as `--profile`: wins over credentials in the environment.
    pub profile: Option<String>,
    pub regions: Option<RegionSpec>,
    pub max_rps: Option<u32>,
    /// Per-service budgets (`rate_limits = { iam = 20 }`, as `--rate-limit`).
    pub rate_limits: Vec<(String, crate::aws::Limit)>,
    /// Control parameters (trusted ranges, trail and bucket names, alarm e-mail, …).
    pub params: Params,
    /// The exceptions file, relative to this file (`exceptions = "…"`; see docs/exceptions.md).
    pub exceptions: Option<String>,
    /// The tag that excepts the resource it is on (`exception_tag`; default cis-fix:exception).
    pub exception_tag: Option<String>,
    /// The journal and lock in S3 (`state = "s3://…"`, as `--state`).
    pub state: Option<crate::state::S3Location>,
    /// Where it was read from (`None`: no file).
    pub path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RegionsValue {
    Word(String),
    List(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct File {
    profile: Option<String>,
    regions: Option<RegionsValue>,
    max_rps: Option<i64>,
    rate_limits: Option<toml::Table>,
    exceptions: Option<String>,
    exception_tag: Option<String>,
    state: Option<String>,
    /// Everything else is a control parameter; unknown keys are rejected there.
    #[serde(flatten)]
    params: toml::Table,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl Config {
    /// Read `explicit` (which must exist), else `./cis-fix.toml` if there is one.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
            path: path.display().to_string(),
            message: format!("cannot read it: {e}"),
        })?;
        let mut c = Config::parse(&path.display().to_string(), &text)?;
        c.path = Some(path);
        Ok(c)
    }

    pub fn parse(path: &str, text: &str) -> Result<Config, ConfigError> {
        let err = |message: String| ConfigError {
            path: path.to_string(),
            message,
        };
        let f: File = toml::from_str(text).map_err(|e| {
            // toml's own message spans several lines; keep it to one with the line number.
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let what = e.message().trim().replace('\n', " ");
            err(match line {
                Some(l) => format!("line {l}: {what}"),
                None => what,
            })
        })?;
        let regions = match f.regions {
            None => None,
            Some(RegionsValue::Word(w)) => Some(
                w.parse::<RegionSpec>()
                    .map_err(|e| err(format!("regions: {e}")))?,
            ),
            Some(RegionsValue::List(l)) if l.is_empty() => {
                return Err(err(
                    "regions: the list is empty; use \"all\", \"home\" or region names".into(),
                ))
            }
            Some(RegionsValue::List(l)) => Some(
                l.join(",")
                    .parse::<RegionSpec>()
                    .map_err(|e| err(format!("regions: {e}")))?,
            ),
        };
        let max_rps = match f.max_rps {
            None => None,
            Some(n) if (1..=1000).contains(&n) => Some(n as u32),
            Some(n) => return Err(err(format!("max_rps: {n} is not in 1..=1000"))),
        };
        let mut rate_limits = Vec::new();
        for (service, v) in f.rate_limits.iter().flatten() {
            let value = match v {
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Float(x) => x.to_string(),
                toml::Value::String(s) => s.clone(),
                other => {
                    return Err(err(format!(
                        "rate_limits.{service}: {other} is not a rate (a number, or \"RATE/BURST\")"
                    )))
                }
            };
            let limit = crate::aws::parse_rate_limit(&format!("{service}={value}"))
                .map_err(|e| err(format!("rate_limits: {e}")))?;
            rate_limits.push(limit);
        }
        if let Some(p) = &f.profile {
            if p.trim().is_empty() || p.chars().any(char::is_whitespace) {
                return Err(err(format!(
                    "profile: '{p}' is not a profile name (no spaces; as in ~/.aws/config)"
                )));
            }
        }
        if let Some(k) = &f.exception_tag {
            if k.trim().is_empty() || k.len() > 128 {
                return Err(err(format!(
                    "exception_tag: '{k}' is not a tag key (1 to 128 characters)"
                )));
            }
        }
        let state = match &f.state {
            None => None,
            Some(s) => Some(
                s.parse::<crate::state::S3Location>()
                    .map_err(|e| err(format!("state: {e}")))?,
            ),
        };
        let params = Params::from_table(f.params).map_err(err)?;
        Ok(Config {
            profile: f.profile,
            regions,
            max_rps,
            rate_limits,
            params,
            exceptions: f.exceptions,
            exception_tag: f.exception_tag,
            state,
            path: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_setting() {
        let c = Config::parse(
            "c.toml",
            "regions = [\"eu-west-1\", \"us-east-1\"]\nmax_rps = 5\ntrusted_cidrs = [\"10.0.0.0/8\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.regions,
            Some(RegionSpec::List(vec![
                "eu-west-1".into(),
                "us-east-1".into()
            ]))
        );
        assert_eq!(c.max_rps, Some(5));
        let s = Config::parse("c", "state = \"s3://b-1/p\"")
            .unwrap()
            .state
            .unwrap();
        assert_eq!(s.to_string(), "s3://b-1/p");
        let e = Config::parse("c", "state = \"/tmp/x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("state: '/tmp/x' is not an S3 location"), "{e}");
        assert_eq!(c.params.trusted_cidrs, ["10.0.0.0/8"]);
        assert_eq!(
            Config::parse("c", "regions = \"all\"").unwrap().regions,
            Some(RegionSpec::All)
        );
    }

    #[test]
    fn bad_files_are_one_line_errors_with_the_line() {
        let e = Config::parse("c.toml", "max_rps = 5\nmax_rps = 6\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml: line 2"), "{e}");
        let e = Config::parse("c.toml", "regions = [\"eu-west-1\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml: line ") && e.contains("array"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = Config::parse("c.toml", "max_rps = \"fast\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("invalid type"), "{e}");
        let e = Config::parse("c.toml", "max_rsp = 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown parameter 'max_rsp'"), "{e}");
        let e = Config::parse("c.toml", "trusted_cidrs = [\"0.0.0.0/0\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("whole internet"), "{e}");
        let e = Config::parse("c.toml", "regions = [\"mars\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'mars' is not a region name"), "{e}");
        let e = Config::parse("c.toml", "max_rps = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_rps: 0"), "{e}");
    }

    #[test]
    fn rate_limits_are_read_and_checked() {
        let c = Config::parse("c.toml", "rate_limits = { iam = 20, s3 = \"50/80\" }\n").unwrap();
        assert_eq!(
            c.rate_limits,
            vec![
                ("iam".to_string(), crate::aws::Limit::new(20.0, 40.0)),
                ("s3".to_string(), crate::aws::Limit::new(50.0, 80.0)),
            ]
        );
        let e = Config::parse("c.toml", "rate_limits = { iamm = 20 }\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("c.toml: rate_limits: 'iamm' is not a service"),
            "{e}"
        );
        let e = Config::parse("c.toml", "rate_limits = { iam = 0 }\n").unwrap_err();
        assert!(e.to_string().contains("iam: rate '0'"), "{e}");
        let e = Config::parse("c.toml", "rate_limits = { iam = true }\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("rate_limits.iam: true is not a rate"),
            "{e}"
        );
    }
}

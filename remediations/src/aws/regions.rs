//! Region names: parsing `--regions`, partitions, and helpful errors for names that are
//! wrong or not enabled.

use std::str::FromStr;

/// What `--regions` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionSpec {
    /// Only the home region (`--region` / profile / `AWS_REGION`).
    Home,
    /// Every region enabled for the account.
    All,
    List(Vec<String>),
}

impl FromStr for RegionSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "all" => Ok(RegionSpec::All),
            "home" => Ok(RegionSpec::Home),
            "" => Err("empty region list: use `all`, `home` or a comma-separated list such as eu-west-1,us-east-1".into()),
            list => {
                let mut out = Vec::new();
                for r in list.split(',').map(str::trim) {
                    if !is_region_name(r) {
                        return Err(format!(
                            "'{r}' is not a region name (expected something like eu-west-1)"
                        ));
                    }
                    out.push(r.to_string());
                }
                Ok(RegionSpec::List(out))
            }
        }
    }
}

/// `eu-west-1`, `us-gov-west-1`, `ap-southeast-4`: lower-case words and a number.
pub fn is_region_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

pub fn not_enabled_message(region: &str, account: &str, enabled: &[String]) -> String {
    let mut close: Vec<(f64, &String)> = enabled
        .iter()
        .map(|e| (strsim::jaro_winkler(region, e), e))
        .filter(|(s, _)| *s > 0.85)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0));
    let hint = match close.first() {
        Some((_, r)) => format!("; did you mean {r}?"),
        None => String::new(),
    };
    format!(
        "region '{region}' does not exist or is not enabled for account {account}{hint} (enabled: {})",
        enabled.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        assert!(is_region_name("eu-west-1"));
        assert!(is_region_name("us-gov-west-1"));
        assert!(!is_region_name("eu-west"));
        assert!(!is_region_name("EU-west-1"));
        assert!(!is_region_name("mars"));
    }

    #[test]
    fn specs_parse() {
        assert_eq!("all".parse::<RegionSpec>().unwrap(), RegionSpec::All);
        assert_eq!(
            "eu-west-1, us-east-1".parse::<RegionSpec>().unwrap(),
            RegionSpec::List(vec!["eu-west-1".into(), "us-east-1".into()])
        );
        assert!("eu-west-1,nowhere".parse::<RegionSpec>().is_err());
    }

    #[test]
    fn typo_gets_a_suggestion() {
        let m = not_enabled_message("eu-wast-1", "1", &["eu-west-1".into(), "us-east-1".into()]);
        assert!(m.contains("did you mean eu-west-1?"), "{m}");
    }
}

//! Parameters that change what a control plans (not which controls run). They come from the
//! command line and are saved with a plan, so `apply plan.json` plans exactly as `plan` did.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// Ranges that keep admin-port access: re-authorized before an open rule is revoked
    /// (security groups) or put in place of the open range (network ACLs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_cidrs: Vec<String>,
}

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
}

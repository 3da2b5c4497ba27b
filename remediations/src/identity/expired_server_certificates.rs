//! CIS 5.0 1.18: expired SSL/TLS certificates stored in IAM are removed.
//!
//! One target for the account: the list of expired server certificates. Deleting them is
//! irreversible (the private key is gone with it), so the change is marked so and needs
//! `--allow-irreversible` under `--yes`. Before an expired certificate is planned for
//! deletion, cis-fix looks for what still uses it: the listeners of Application and Network
//! Load Balancers in every region of the run (DescribeLoadBalancers + DescribeListeners, their
//! default certificates, by ARN) and CloudFront distributions (ListDistributions,
//! ViewerCertificate.IAMCertificateId). A certificate in use is its own finding, with its
//! users named as `in_use`: asked about separately, and skipped by `--yes` unless
//! `--force-in-use`. Those reads are only made when some certificate has expired.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_iam::types::ServerCertificateMetadata;
use aws_smithy_types::date_time::Format;
use serde_json::json;

use crate::aws::{aws_err, pages, read_each, AwsError};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};

pub struct ExpiredServerCertificates;

const DESCRIPTION: Description = Description {
    slug: "expired-server-certificates",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[
        "iam:ListServerCertificates",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeListeners",
        "cloudfront:ListDistributions",
    ],
    write_actions: &[DELETE],
    change_profile: "medium (a certificate an ELBv2 listener or CloudFront distribution still uses is named and asked about on its own, skipped by --yes unless --force-in-use); IRREVERSIBLE: deleted certificates and keys cannot be restored (needs --allow-irreversible with --yes)",
};

const TARGET: &str = "IAM server certificates";
const DELETE: &str = "iam:DeleteServerCertificate";

/// What the in-use check reads, and what it does not.
fn checked_note(regions: &[String]) -> String {
    format!(
        "Checked for use before deleting: the listeners of load balancers (Application and Network) in {} (their default certificates) and every CloudFront distribution; a certificate one of them uses is listed on its own, as in use. Not read: Classic Load Balancers and listeners' additional (SNI) certificates: check them first (`aws elb describe-load-balancers`, `aws elbv2 describe-listener-certificates`).",
        regions.join(", ")
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cert {
    name: String,
    arn: String,
    /// The `ASCA…` id CloudFront refers to a certificate by.
    id: String,
    /// RFC 3339; `None` when IAM reports no expiration.
    expiration: Option<String>,
    expired: bool,
}

/// The certificates, with whether each has expired at `now` (Unix seconds). Pure.
fn classify(list: &[ServerCertificateMetadata], now: i64) -> Vec<Cert> {
    let mut out: Vec<Cert> = list
        .iter()
        .map(|m| Cert {
            name: m.server_certificate_name().to_string(),
            arn: m.arn().to_string(),
            id: m.server_certificate_id().to_string(),
            expiration: m.expiration().and_then(|e| e.fmt(Format::DateTime).ok()),
            expired: m.expiration().is_some_and(|e| e.secs() < now),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn state(certs: &[&Cert]) -> serde_json::Value {
    json!({
        "expired": certs
            .iter()
            .map(|c| json!({ "name": c.name, "expiration": c.expiration }))
            .collect::<Vec<_>>(),
    })
}

fn described(c: &Cert) -> String {
    format!(
        "{} (expired {})",
        c.name,
        c.expiration.as_deref().unwrap_or("?")
    )
}

fn deletion(target: String, summary: String, certs: &[&Cert], note: &str) -> Finding {
    let mut f = Finding::change(
        target,
        summary,
        Action::Delete,
        state(certs),
        json!({ "expired": [] }),
        certs
            .iter()
            .map(|c| ApiCall::new(DELETE, json!({ "ServerCertificateName": c.name })))
            .collect(),
    )
    .with_risk(Risk::Medium)
    .with_note(note)
    .with_note("Deleting removes the certificate and its private key from IAM for good: undo cannot bring them back.");
    f.reversible = false;
    f.destructive = true;
    f
}

/// The findings for the account's certificates, given who uses each (by name) and the note on
/// what that check read: one for the expired certificates nothing uses, and one per expired
/// certificate in use, naming its users. Pure.
fn findings(certs: &[Cert], users: &BTreeMap<String, Vec<String>>, note: &str) -> Vec<Finding> {
    let expired: Vec<&Cert> = certs.iter().filter(|c| c.expired).collect();
    let (in_use, unused): (Vec<&Cert>, Vec<&Cert>) = expired
        .iter()
        .partition(|c| users.get(&c.name).is_some_and(|u| !u.is_empty()));
    let mut out = Vec::new();
    if expired.is_empty() {
        out.push(Finding::compliant(
            TARGET,
            format!(
                "no expired server certificates ({} stored in IAM)",
                certs.len()
            ),
            state(&[]),
        ));
    } else if !unused.is_empty() {
        let names: Vec<String> = unused.iter().map(|c| described(c)).collect();
        out.push(deletion(
            TARGET.to_string(),
            format!(
                "{}: delete {} (cannot be undone)",
                crate::plan::plural(
                    unused.len(),
                    "expired server certificate",
                    "expired server certificates"
                ),
                names.join(", ")
            ),
            &unused,
            note,
        ));
    }
    for c in in_use {
        let by = &users[&c.name];
        let mut f = deletion(
            format!("IAM server certificate {}", c.name),
            format!(
                "expired server certificate {} is still used by {}: delete it (cannot be undone) only once they no longer need it",
                described(c),
                by.join(", ")
            ),
            &[c],
            note,
        )
        .with_risk(Risk::High)
        .with_note("What uses it breaks TLS once it is gone: give each user a current certificate (ACM or IAM) first, then delete this one.");
        f.in_use = by.clone();
        out.push(f);
    }
    out
}

/// Who uses each of `certs` (by name): ELBv2 listeners in the run's regions (default
/// certificate, by ARN) and CloudFront distributions (by IAM certificate id). Every region and
/// CloudFront are read together; each load balancer's listeners as soon as its page of load
/// balancers is in.
async fn users(
    cx: &Cx<'_>,
    certs: &[&Cert],
    regions: &[String],
) -> Result<BTreeMap<String, Vec<String>>, AwsError> {
    let (listeners, distributions) = futures::try_join!(
        futures::future::try_join_all(regions.iter().map(|r| listener_users(cx, certs, r))),
        distribution_users(cx, certs),
    )?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (cert, user) in listeners.into_iter().flatten().chain(distributions) {
        out.entry(cert).or_default().push(user);
    }
    Ok(out)
}

/// Load balancers whose listeners are read at once within a region.
const LISTENER_READS_AT_ONCE: usize = 8;

/// (certificate name, listener) for each listener of the region's load balancers that serves
/// one of `certs`, in listing order.
async fn listener_users(
    cx: &Cx<'_>,
    certs: &[&Cert],
    region: &str,
) -> Result<Vec<(String, String)>, AwsError> {
    let elb = &cx.aws.elbv2(region);
    let pages = pages(
        "elasticloadbalancing:DescribeLoadBalancers",
        elb.describe_load_balancers().into_paginator().send(),
        |page| {
            page.load_balancers()
                .iter()
                .filter_map(|lb| {
                    let arn = lb.load_balancer_arn()?;
                    Some((
                        arn.to_string(),
                        lb.load_balancer_name().unwrap_or(arn).to_string(),
                    ))
                })
                .collect()
        },
    );
    let found = read_each(
        pages,
        LISTENER_READS_AT_ONCE,
        |(lb_arn, lb_name)| async move {
            let mut found = Vec::new();
            let mut listeners = elb
                .describe_listeners()
                .load_balancer_arn(&lb_arn)
                .into_paginator()
                .send();
            while let Some(page) = listeners.next().await {
                let page = page.map_err(aws_err("elasticloadbalancing:DescribeListeners"))?;
                for l in page.listeners() {
                    for c in certs {
                        if l.certificates()
                            .iter()
                            .any(|x| x.certificate_arn() == Some(c.arn.as_str()))
                        {
                            found.push((
                                c.name.clone(),
                                format!(
                                    "load balancer {lb_name} listener port {} ({region})",
                                    l.port().map_or("?".to_string(), |p| p.to_string())
                                ),
                            ));
                        }
                    }
                }
            }
            Ok(found)
        },
    )
    .await?;
    Ok(found.into_iter().flatten().collect())
}

/// (certificate name, distribution) for each CloudFront distribution that serves one of
/// `certs`.
async fn distribution_users(
    cx: &Cx<'_>,
    certs: &[&Cert],
) -> Result<Vec<(String, String)>, AwsError> {
    let mut out = Vec::new();
    let mut dists = cx
        .aws
        .cloudfront()
        .list_distributions()
        .into_paginator()
        .items()
        .send();
    while let Some(d) = dists.next().await {
        let d = d.map_err(aws_err("cloudfront:ListDistributions"))?;
        let id = d.viewer_certificate().and_then(|v| v.iam_certificate_id());
        for c in certs {
            if id == Some(c.id.as_str()) {
                out.push((
                    c.name.clone(),
                    format!("CloudFront distribution {} ({})", d.id(), d.domain_name()),
                ));
            }
        }
    }
    Ok(out)
}

async fn list(cx: &Cx<'_>) -> Result<Vec<ServerCertificateMetadata>, AwsError> {
    let mut out = Vec::new();
    let mut pages = cx
        .aws
        .iam()
        .list_server_certificates()
        .into_paginator()
        .send();
    while let Some(p) = pages.next().await {
        let p = p.map_err(aws_err("iam:ListServerCertificates"))?;
        out.extend(p.server_certificate_metadata_list().iter().cloned());
    }
    Ok(out)
}

#[async_trait]
impl Control for ExpiredServerCertificates {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    /// Load balancers are regional: the run's regions are read for what uses a certificate.
    fn reads_regions(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let certs = classify(&list(cx).await?, now);
        let expired: Vec<&Cert> = certs.iter().filter(|c| c.expired).collect();
        if expired.is_empty() {
            return Ok(findings(&certs, &BTreeMap::new(), ""));
        }
        let regions = cx.run_regions();
        let users = users(cx, &expired, &regions).await?;
        Ok(findings(&certs, &users, &checked_note(&regions)))
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        let names = f.before["expired"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["name"].as_str())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for name in names {
            match cx
                .aws
                .iam()
                .delete_server_certificate()
                .server_certificate_name(&name)
                .send()
                .await
                .map_err(aws_err(DELETE))
            {
                Err(e) if e.is_code("NoSuchEntity") => {}
                Err(e) if e.is_code("DeleteConflict") => {
                    return Err(AwsError {
                        message: format!(
                            "{name} is still in use ({}); detach it from its listener or distribution first",
                            e.message
                        ),
                        ..e
                    })
                }
                r => r.map(|_| ())?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::DateTime;

    fn meta(name: &str, exp: Option<i64>) -> ServerCertificateMetadata {
        ServerCertificateMetadata::builder()
            .path("/")
            .server_certificate_name(name)
            .server_certificate_id("ASCAEXAMPLE")
            .arn(format!(
                "arn:aws:iam::111122223333:server-certificate/{name}"
            ))
            .set_expiration(exp.map(DateTime::from_secs))
            .build()
            .unwrap()
    }

    #[test]
    fn only_expired_certificates_are_deleted_and_those_in_use_are_asked_apart() {
        let now = 1_800_000_000;
        let certs = classify(
            &[
                meta("web-new", Some(now + 86_400)),
                meta("web-old", Some(now - 1)),
                meta("lb-old", Some(now - 1)),
                meta("unknown", None),
            ],
            now,
        );
        let users = BTreeMap::from([(
            "lb-old".to_string(),
            vec!["load balancer web listener port 443 (eu-west-1)".to_string()],
        )]);
        let f = findings(&certs, &users, &checked_note(&["eu-west-1".into()]));
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].target, TARGET);
        assert_eq!(f[0].status, crate::plan::Status::Change);
        assert!(!f[0].reversible);
        assert!(f[0].destructive);
        assert!(f[0].in_use.is_empty());
        assert_eq!(f[0].calls.len(), 1);
        assert_eq!(f[0].calls[0].params["ServerCertificateName"], "web-old");
        assert_eq!(f[0].before["expired"][0]["name"], "web-old");
        assert!(f[0].notes[0].contains("load balancers (Application and Network) in eu-west-1"));
        assert_eq!(f[1].target, "IAM server certificate lb-old");
        assert_eq!(f[1].in_use, users["lb-old"]);
        assert_eq!(f[1].before["expired"][0]["name"], "lb-old");

        // Only in-use certificates expired: no line for the unused ones.
        let f = findings(&certs[..2], &users, "");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].target, "IAM server certificate lb-old");

        let f = findings(
            &classify(&[meta("web-new", Some(now + 1))], now),
            &users,
            "",
        );
        assert_eq!(f[0].status, crate::plan::Status::Compliant);
        assert_eq!(f[0].before, json!({ "expired": [] }));
    }
}

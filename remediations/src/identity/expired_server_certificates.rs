//! CIS 5.0 1.18: expired SSL/TLS certificates stored in IAM are removed.
//!
//! One target for the account: the list of expired server certificates. Deleting them is
//! irreversible (the private key is gone with it), so the change is marked so and needs
//! `--allow-irreversible` under `--yes`. Whether a load balancer or CloudFront distribution
//! still references a certificate cannot be read with the services cis-fix talks to; the
//! plan says so and names the check to make.

use async_trait::async_trait;
use aws_sdk_iam::types::ServerCertificateMetadata;
use aws_smithy_types::date_time::Format;
use serde_json::json;

use crate::aws::{aws_err, AwsError};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};

pub struct ExpiredServerCertificates;

const DESCRIPTION: Description = Description {
    slug: "expired-server-certificates",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &["iam:ListServerCertificates"],
    write_actions: &[DELETE],
    change_profile: "medium (a listener still using an expired certificate may fail; use by load balancers and CloudFront is not checked); IRREVERSIBLE: deleted certificates and keys cannot be restored (needs --allow-irreversible with --yes)",
};

const TARGET: &str = "IAM server certificates";
const DELETE: &str = "iam:DeleteServerCertificate";

const IN_USE_NOTE: &str = "cis-fix cannot see whether a load balancer (ELB/ALB/NLB listener) or CloudFront distribution still references these certificates: check first, e.g. `aws elbv2 describe-listener-certificates` / `aws elb describe-load-balancers` and the CloudFront distributions' ViewerCertificate.IAMCertificateId. An expired certificate serves no valid TLS anyway, but the listener may fail once it is deleted.";

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cert {
    name: String,
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
            expiration: m.expiration().and_then(|e| e.fmt(Format::DateTime).ok()),
            expired: m.expiration().is_some_and(|e| e.secs() < now),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The finding for the account's certificates. Pure.
fn finding(certs: &[Cert]) -> Finding {
    let expired: Vec<&Cert> = certs.iter().filter(|c| c.expired).collect();
    let before = json!({
        "expired": expired
            .iter()
            .map(|c| json!({ "name": c.name, "expiration": c.expiration }))
            .collect::<Vec<_>>(),
    });
    if expired.is_empty() {
        return Finding::compliant(
            TARGET,
            format!(
                "no expired server certificates ({} stored in IAM)",
                certs.len()
            ),
            before,
        );
    }
    let names: Vec<String> = expired
        .iter()
        .map(|c| {
            format!(
                "{} (expired {})",
                c.name,
                c.expiration.as_deref().unwrap_or("?")
            )
        })
        .collect();
    let mut f = Finding::change(
        TARGET,
        format!(
            "{}: delete {} (cannot be undone)",
            crate::plan::plural(
                expired.len(),
                "expired server certificate",
                "expired server certificates"
            ),
            names.join(", ")
        ),
        Action::Delete,
        before,
        json!({ "expired": [] }),
        expired
            .iter()
            .map(|c| ApiCall::new(DELETE, json!({ "ServerCertificateName": c.name })))
            .collect(),
    )
    .with_risk(Risk::Medium)
    .with_note(IN_USE_NOTE)
    .with_note("Deleting removes the certificate and its private key from IAM for good: undo cannot bring them back.");
    f.reversible = false;
    f.destructive = true;
    f
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
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Ok(vec![finding(&classify(&list(cx).await?, now))])
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
    fn only_expired_certificates_are_deleted() {
        let now = 1_800_000_000;
        let certs = classify(
            &[
                meta("web-new", Some(now + 86_400)),
                meta("web-old", Some(now - 1)),
                meta("unknown", None),
            ],
            now,
        );
        let f = finding(&certs);
        assert_eq!(f.status, crate::plan::Status::Change);
        assert!(!f.reversible);
        assert!(f.destructive);
        assert_eq!(f.calls.len(), 1);
        assert_eq!(f.calls[0].params["ServerCertificateName"], "web-old");
        assert_eq!(f.before["expired"][0]["name"], "web-old");
        assert!(f.notes[0].contains("cannot see whether a load balancer"));

        let f = finding(&classify(&[meta("web-new", Some(now + 1))], now));
        assert_eq!(f.status, crate::plan::Status::Compliant);
        assert_eq!(f.before, json!({ "expired": [] }));
    }
}

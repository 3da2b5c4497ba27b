//! CIS 5.0 2.1.2: MFA Delete is enabled on S3 buckets. Check-only: turning it on needs the
//! root user's credentials and a code from the root MFA device (PutBucketVersioning with the
//! x-amz-mfa header), which no IAM principal can supply.

use async_trait::async_trait;
use serde_json::json;

use crate::aws::{AwsError, ErrorKind};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::s3_buckets::{self as s3b, Bucket};

pub struct S3MfaDelete;

const DESCRIPTION: Description = Description {
    slug: "s3-mfa-delete",
    scope: Scope::Global,
    kind: Kind::CheckOnly,
    read_actions: &[
        "s3:ListAllMyBuckets",
        "s3:GetBucketLocation",
        "s3:GetBucketVersioning",
        s3b::GET_TAGGING,
    ],
    write_actions: &[],
    change_profile: "",
};

fn assess(b: &Bucket, v: &s3b::Versioning, account: &str, partition: &str) -> Finding {
    let before = json!({ "Status": v.status, "MFADelete": v.mfa_delete });
    if v.mfa_delete.as_deref() == Some("Enabled") {
        return Finding::compliant(
            b.target(),
            format!(
                "versioning {} with MFA Delete enabled ({})",
                v.status.as_deref().unwrap_or("?"),
                b.region
            ),
            before,
        );
    }
    let versioning = match v.status.as_deref() {
        Some("Enabled") => "versioning is enabled",
        Some("Suspended") => "versioning is suspended",
        _ => "versioning was never enabled",
    };
    let cmd = format!(
        "As the root user, with the root MFA device at hand, run: aws s3api put-bucket-versioning --region {} --bucket {} --versioning-configuration Status=Enabled,MFADelete=Enabled --mfa \"SERIAL CODE\", where SERIAL is the root MFA device's ARN (root Security credentials page, e.g. arn:{partition}:iam::{account}:mfa/root-account-mfa-device) and CODE its current 6-digit code. Root access keys are needed for the call: create them only for this, and delete them right after (CIS 1.4).",
        b.region, b.name
    );
    Finding {
        manual_steps: vec![
            "Decide whether the bucket needs it: MFA Delete protects object versions from deletion and versioning-state changes, but every such change then needs the root user and its MFA device. It also turns on versioning, so storage grows with every overwrite (add a lifecycle rule for noncurrent versions).".to_string(),
            cmd,
            format!("Check: aws s3api get-bucket-versioning --bucket {} shows \"MFADelete\": \"Enabled\".", b.name),
            "Delete the root access keys again (IAM console → Security credentials), and keep the root MFA device safe.".to_string(),
        ],
        ..Finding::manual(
            b.target(),
            format!("MFA Delete is not enabled; {versioning} ({})", b.region),
            before,
            &[],
        )
    }
    .with_note("Only the root user with its MFA device can enable MFA Delete, so cis-fix reports it and never changes it.")
}

#[async_trait]
impl Control for S3MfaDelete {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    fn reads_tags(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let mut out = Vec::new();
        let buckets = s3b::buckets(cx).await?;
        for (b, res) in s3b::each(&buckets, |b| s3b::versioning(cx, b)).await {
            let f = match res {
                Ok(v) => assess(b, &v, &cx.aws.account.id, &cx.aws.account.partition),
                // An answer the SDK could not read (no AWS error code): the state is
                // unknown, but the steps still apply. The emulator answers this way for
                // every bucket (its GetBucketVersioning reply has the wrong root element).
                Err(e) if e.kind == ErrorKind::Service && e.code.is_none() => {
                    let mut f = assess(
                        b,
                        &s3b::Versioning {
                            status: None,
                            mfa_delete: None,
                        },
                        &cx.aws.account.id,
                        &cx.aws.account.partition,
                    );
                    f.status = crate::plan::Status::Unknown;
                    f.before = serde_json::Value::Null;
                    f.summary = format!(
                        "could not read the versioning state ({}); if MFA Delete is not enabled, the steps below turn it on ({})",
                        s3b::describe_err(&e),
                        b.region
                    );
                    f
                }
                Err(e) if e.kind == ErrorKind::Service || e.kind == ErrorKind::AccessDenied => {
                    Finding::error(b.target(), format!("could not read versioning: {e}"))
                }
                Err(e) => return Err(e),
            };
            out.push((b, f));
        }
        // Exceptions match on the buckets' tags (read only for the ones that fail).
        s3b::each_with_tags(cx, out).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;

    fn b() -> Bucket {
        Bucket {
            name: "logs-1".into(),
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn enabled_is_compliant_otherwise_manual_with_the_command() {
        let on = s3b::Versioning {
            status: Some("Enabled".into()),
            mfa_delete: Some("Enabled".into()),
        };
        assert_eq!(
            assess(&b(), &on, "111122223333", "aws").status,
            Status::Compliant
        );
        let off = s3b::Versioning {
            status: None,
            mfa_delete: None,
        };
        let f = assess(&b(), &off, "111122223333", "aws");
        assert_eq!(f.status, Status::Manual);
        assert!(f.summary.contains("never enabled"), "{}", f.summary);
        let steps = f.manual_steps.join("\n");
        assert!(steps.contains("--bucket logs-1"), "{steps}");
        assert!(steps.contains("MFADelete=Enabled"), "{steps}");
        assert!(
            steps.contains("arn:aws:iam::111122223333:mfa/root-account-mfa-device"),
            "{steps}"
        );
    }
}

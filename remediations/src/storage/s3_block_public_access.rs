//! CIS 5.0 2.1.4: S3 Block Public Access is on, at the account level (S3 Control) and on
//! every bucket, with all four flags.
//!
//! Turning it on makes buckets that are public today private: the plan names them (from
//! GetBucketPolicyStatus and the bucket ACL) as what the change is used by, with high risk,
//! so such a change is asked about on its own. The previous configuration is journaled:
//! undo writes it back, or deletes the block when there was none.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::aws::{AwsError, ErrorKind};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};
use crate::resources::landing_zone;
use crate::resources::s3_buckets::{self as s3b, Bucket, Pab};

pub struct S3BlockPublicAccess;

const DESCRIPTION: Description = Description {
    slug: "s3-block-public-access",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[
            "s3:GetAccountPublicAccessBlock",
            "s3:ListAllMyBuckets",
            "s3:GetBucketLocation",
            "s3:GetBucketPublicAccessBlock",
            "s3:GetBucketPolicy",
            "s3:GetBucketPolicyStatus",
            "s3:GetBucketAcl",
            s3b::GET_TAGGING,
        ],
    write_actions: &[PUT_ACCOUNT, PUT_BUCKET],
    change_profile: "medium; high when buckets are public today (they stop being public; named in the plan and asked separately, --yes needs --force-in-use); reversible: undo writes the previous settings back or deletes the block",
};

pub const ACCOUNT_TARGET: &str = "account Block Public Access";
const PUT_ACCOUNT: &str = "s3:PutAccountPublicAccessBlock";
const PUT_BUCKET: &str = "s3:PutBucketPublicAccessBlock";

fn pab_value(p: Option<Pab>) -> Value {
    p.map(Pab::to_value).unwrap_or(Value::Null)
}

/// The finding for one configuration (account or bucket); `public` = why buckets it covers
/// are public today.
fn finding(
    target: String,
    what: &str,
    current: Option<Pab>,
    call: ApiCall,
    public: Vec<String>,
) -> Finding {
    let before = pab_value(current);
    if current.is_some_and(|p| p.all_on()) {
        return Finding::compliant(target, format!("{what}: all four settings are on"), before);
    }
    let (action, summary) = match current {
        None => (Action::Create, format!("{what}: not configured")),
        Some(p) => (
            Action::Update,
            format!("{what}: off: {}", p.off().join(", ")),
        ),
    };
    let mut f = Finding::change(
        target,
        summary,
        action,
        before,
        Pab::ALL.to_value(),
        vec![call],
    )
    .with_note(match current {
        None => "Undo deletes the public access block again.",
        Some(_) => "Undo writes the previous four settings back.",
    });
    if public.is_empty() {
        f = f.with_risk(Risk::Medium).with_note(
            "Nothing covered is public today; public ACLs and policies are refused from now on.",
        );
    } else {
        f = f.with_risk(Risk::High).with_note(format!(
            "{} STOP being public: anyone relying on anonymous access (websites, downloads, partners) loses it.",
            crate::plan::plural(public.len(), "public bucket", "public buckets")
        ));
        f.in_use = public;
    }
    f
}

fn bucket_call(b: &Bucket) -> ApiCall {
    ApiCall::new(
        PUT_BUCKET,
        json!({ "Bucket": b.name, "PublicAccessBlockConfiguration": Pab::ALL.to_value() }),
    )
}

/// The bucket judged (and its public uses, the account setting's blast radius), the landing
/// zone's log buckets (aws-controltower-logs-…) left to it, with the bucket's tags when it
/// fails (exceptions match on them).
async fn assess_tagged(cx: &Cx<'_>, b: &Bucket) -> Result<(Finding, Vec<String>), AwsError> {
    let f = assess_bucket(cx, b).await?;
    let public = f.in_use.clone();
    let f = landing_zone::guard(
        f,
        &format!("bucket {}", b.name),
        landing_zone::by_name(&b.name).as_ref(),
    );
    Ok((s3b::with_tags(cx, b, f).await?, public))
}

async fn assess_bucket(cx: &Cx<'_>, b: &Bucket) -> Result<Finding, AwsError> {
    let current = s3b::bucket_pab(cx, b).await?;
    // The blast radius is read only for buckets that change, and only for what the bucket's
    // and the account's settings do not already block.
    let public = if current.is_some_and(|p| p.all_on()) {
        Vec::new()
    } else {
        let account = s3b::account_pab(cx).await?.unwrap_or(Pab::NONE);
        let in_force = current.unwrap_or(Pab::NONE).or(account);
        s3b::public_reasons(cx, b, in_force).await?
    };
    Ok(finding(
        b.target(),
        &format!("bucket Block Public Access ({})", b.region),
        current,
        bucket_call(b),
        public,
    ))
}

fn recoverable(e: &AwsError) -> bool {
    e.kind == ErrorKind::Service || e.kind == ErrorKind::AccessDenied
}

#[async_trait]
impl Control for S3BlockPublicAccess {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    fn reads_tags(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let buckets = s3b::buckets(cx).await?;
        let mut out = Vec::new();
        let mut all_public = Vec::new();
        for (b, res) in s3b::each(&buckets, |b| assess_tagged(cx, b)).await {
            match res {
                Ok((f, public)) => {
                    // The account setting covers every bucket: the public ones are its
                    // blast radius too.
                    all_public.extend(public);
                    out.push(f);
                }
                Err(e) if recoverable(&e) => out.push(Finding::error(
                    b.target(),
                    format!("could not read the bucket's public access: {e}"),
                )),
                Err(e) => return Err(e),
            }
        }
        let account = s3b::account_pab(cx).await?;
        let call = ApiCall::new(
            PUT_ACCOUNT,
            json!({ "AccountId": cx.aws.account.id, "PublicAccessBlockConfiguration": Pab::ALL.to_value() }),
        );
        out.insert(
            0,
            finding(
                ACCOUNT_TARGET.to_string(),
                "account-level Block Public Access",
                account,
                call,
                all_public,
            ),
        );
        Ok(out)
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        put(cx, &f.target, Some(Pab::ALL)).await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        put(cx, target, Pab::from_value(previous)?).await
    }
}

/// Write `pab` to the target, or delete its block when `None`.
async fn put(cx: &Cx<'_>, target: &str, pab: Option<Pab>) -> Result<(), AwsError> {
    if target == ACCOUNT_TARGET {
        let s3c = cx.aws.s3control();
        match pab {
            Some(p) => {
                s3c.put_public_access_block()
                    .account_id(&cx.aws.account.id)
                    .public_access_block_configuration(p.to_s3control())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk(PUT_ACCOUNT, e))?;
            }
            None => {
                s3c.delete_public_access_block()
                    .account_id(&cx.aws.account.id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk(PUT_ACCOUNT, e))?;
            }
        }
        return Ok(());
    }
    let b = s3b::bucket_for_target(cx, target).await?;
    let s3 = cx.aws.s3(&b.region);
    match pab {
        Some(p) => {
            s3.put_public_access_block()
                .bucket(&b.name)
                .public_access_block_configuration(p.to_s3())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(PUT_BUCKET, e))?;
        }
        None => {
            s3.delete_public_access_block()
                .bucket(&b.name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(PUT_BUCKET, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;

    fn call() -> ApiCall {
        ApiCall::new(PUT_BUCKET, Value::Null)
    }

    #[test]
    fn all_on_is_compliant_and_none_is_a_create() {
        let f = finding("t".into(), "w", Some(Pab::ALL), call(), vec![]);
        assert_eq!(f.status, Status::Compliant);
        let f = finding("t".into(), "w", None, call(), vec![]);
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.action, Some(Action::Create));
        assert_eq!(f.before, Value::Null);
        assert_eq!(f.after, Pab::ALL.to_value());
        assert_eq!(f.risk, Risk::Medium);
        assert!(f.in_use.is_empty());
    }

    #[test]
    fn public_buckets_make_it_high_risk_and_in_use() {
        let partial = Pab {
            block_public_policy: false,
            ..Pab::ALL
        };
        let f = finding(
            "t".into(),
            "w",
            Some(partial),
            call(),
            vec!["bucket x: its bucket policy makes it public".into()],
        );
        assert_eq!(f.action, Some(Action::Update));
        assert!(f.summary.contains("BlockPublicPolicy"), "{}", f.summary);
        assert_eq!(f.risk, Risk::High);
        assert_eq!(f.in_use.len(), 1);
        assert!(f.notes.iter().any(|n| n.contains("STOP being public")));
    }
}

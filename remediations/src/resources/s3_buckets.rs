//! Reads of the account's S3 buckets shared by the storage controls (CIS 5.0 2.1.x), each
//! memoised for the phase, each sent with the account as ExpectedBucketOwner: the bucket
//! list once (also the ownership check of cis-fix's own log buckets), each bucket's region once, and each
//! bucket's policy, public-access block, policy status, ACL and versioning at most once.
//!
//! Buckets are listed account-wide, but every per-bucket call goes to an S3 client in the
//! bucket's own region (a call to another region's endpoint is redirected or refused).

use std::collections::HashMap;

use aws_sdk_s3::types::{Permission, Type};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::aws::AwsError;
use crate::control::Cx;
use crate::plan::Finding;
use crate::resources::buckets::location;
use crate::resources::lanes::per_region;

/// Per-bucket reads in flight at once in one region (the controls read every bucket).
const CONCURRENCY: usize = 8;

/// How a bucket's plan target starts: `bucket NAME`.
const BUCKET_PREFIX: &str = "bucket ";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    pub region: String,
}

impl Bucket {
    /// The stable plan target.
    pub fn target(&self) -> String {
        format!("{BUCKET_PREFIX}{}", self.name)
    }

    pub fn arn(&self, partition: &str) -> String {
        format!("arn:{partition}:s3:::{}", self.name)
    }
}

/// The target string → the bucket name.
pub fn name_of_target(target: &str) -> &str {
    target.strip_prefix(BUCKET_PREFIX).unwrap_or(target)
}

/// This account's buckets as ListBuckets names them, with the region when S3 gives it
/// (BucketRegion): listed once per phase, shared by the storage reads and by the ownership
/// check of the buckets cis-fix creates ([`crate::resources::buckets::ownership`]).
pub async fn listed(cx: &Cx<'_>) -> Result<Vec<(String, Option<String>)>, AwsError> {
    cx.reads
        .shared("s3:ListAllMyBuckets", || list_all(cx, None))
        .await
}

/// Every page of ListBuckets, only the buckets of `region` when one is given.
async fn list_all(
    cx: &Cx<'_>,
    region: Option<&str>,
) -> Result<Vec<(String, Option<String>)>, AwsError> {
    let s3 = cx.aws.s3(&cx.aws.home_region);
    let mut listed: Vec<(String, Option<String>)> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        // S3 includes each bucket's BucketRegion only when the request has a parameter:
        // MaxBuckets (paged with continuation tokens) makes it give them, sparing a
        // GetBucketLocation per bucket (the emulator gives none).
        let out = s3
            .list_buckets()
            .max_buckets(10_000)
            .set_bucket_region(region.map(str::to_string))
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("s3:ListAllMyBuckets", e))?;
        for b in out.buckets() {
            if let Some(n) = b.name() {
                listed.push((n.to_string(), b.bucket_region().map(str::to_string)));
            }
        }
        token = out.continuation_token().map(str::to_string);
        if token.is_none() {
            return Ok(listed);
        }
    }
}

/// Where S3 named no region (an S3-compatible endpoint, or an emulator), each bucket's region
/// from one listing per region of the run filtered by BucketRegion, when that takes fewer calls
/// than a GetBucketLocation per bucket. Only with two regions or more: a bucket listed in two
/// of them (an endpoint that ignores the filter) is left unlocated, as is one in no listing.
async fn regions_by_listing(
    cx: &Cx<'_>,
    unlocated: usize,
) -> Result<HashMap<String, String>, AwsError> {
    let regions = cx.run_regions();
    if regions.len() < 2 || unlocated <= regions.len() {
        return Ok(HashMap::new());
    }
    let lists = futures::future::join_all(regions.iter().map(|r| list_all(cx, Some(r)))).await;
    let mut seen: HashMap<String, Option<String>> = HashMap::new();
    for (region, list) in regions.iter().zip(lists) {
        for (name, _) in list? {
            seen.entry(name)
                .and_modify(|r| *r = None)
                .or_insert_with(|| Some(region.clone()));
        }
    }
    Ok(seen
        .into_iter()
        .filter_map(|(n, r)| Some((n, r?)))
        .collect())
}

/// A bucket's region from GetBucketLocation, once per run: an apply or undo run carries it
/// from one change to the next (a bucket never moves).
async fn located(cx: &Cx<'_>, name: &str) -> Result<String, AwsError> {
    let aws = cx.aws;
    cx.reads
        .shared(&format!("s3-region:{name}"), || async move {
            location(&aws.s3(&aws.home_region), name, &aws.account.id).await
        })
        .await
}

/// The bucket a focused re-read judges (apply's check and verification of one bucket's
/// change): only it is located and read.
fn focused_bucket<'a>(cx: &'a Cx<'_>) -> Option<&'a str> {
    cx.reads.focus().and_then(|f| f.strip_prefix(BUCKET_PREFIX))
}

/// Every bucket of the account with its region, sorted by name (only the focused one when a
/// re-read is focused on a bucket). ListBuckets once; each bucket's region from the listing
/// when S3 gives it (BucketRegion), else from a listing per region ([`regions_by_listing`]),
/// else GetBucketLocation.
pub async fn buckets(cx: &Cx<'_>) -> Result<Vec<Bucket>, AwsError> {
    let listed = listed(cx).await?;
    let focus = focused_bucket(cx);
    cx.reads
        .shared("s3:buckets", || async move {
            let listed: Vec<_> = listed
                .into_iter()
                .filter(|(n, _)| focus.is_none_or(|f| f == n))
                .collect();
            let unlocated = listed
                .iter()
                .filter(|(_, r)| r.as_deref().is_none_or(str::is_empty))
                .count();
            let by_listing = &regions_by_listing(cx, unlocated).await?;
            let mut out: Vec<Bucket> = stream::iter(listed)
                .map(|(name, region)| async move {
                    let region = match region
                        .filter(|r| !r.is_empty())
                        .or_else(|| by_listing.get(&name).cloned())
                    {
                        Some(r) => r,
                        None => located(cx, &name).await?,
                    };
                    Ok::<_, AwsError>(Bucket { name, region })
                })
                .buffered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
        .await
}

/// The bucket policy's text as stored; `None` when the bucket has none.
pub async fn policy(cx: &Cx<'_>, b: &Bucket) -> Result<Option<String>, AwsError> {
    let aws = cx.aws;
    cx.reads
        .shared(&format!("s3:bucket-policy:{}", b.name), || async move {
            match aws
                .s3(&b.region)
                .get_bucket_policy()
                .bucket(&b.name)
                .expected_bucket_owner(&aws.account.id)
                .send()
                .await
            {
                Ok(out) => Ok(out.policy().map(str::to_string)),
                Err(e) => {
                    let err = AwsError::from_sdk("s3:GetBucketPolicy", e);
                    if err.is_code("NoSuchBucketPolicy") {
                        Ok(None)
                    } else {
                        Err(err)
                    }
                }
            }
        })
        .await
}

/// The bucket's tags as (key, value), GetBucketTagging at most once per bucket and phase; a
/// bucket without tags answers NoSuchTagSet, which is no tags. Read for the exceptions of
/// every control that judges the bucket, so charged to [`EXCEPTION_TAGS`], not to the
/// control that happened to ask first.
pub async fn tags(cx: &Cx<'_>, b: &Bucket) -> Result<Vec<(String, String)>, AwsError> {
    let aws = cx.aws;
    cx.reads
        .shared(&format!("s3:bucket-tagging:{}", b.name), || {
            crate::aws::charged_to(EXCEPTION_TAGS, async move {
                match aws
                    .s3(&b.region)
                    .get_bucket_tagging()
                    .bucket(&b.name)
                    .expected_bucket_owner(&aws.account.id)
                    .send()
                    .await
                {
                    Ok(out) => Ok(out
                        .tag_set()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect()),
                    Err(e) => {
                        let err = AwsError::from_sdk(GET_TAGGING, e);
                        if err.is_code("NoSuchTagSet") {
                            Ok(Vec::new())
                        } else {
                            Err(err)
                        }
                    }
                }
            })
        })
        .await
}

/// What the calls and figures per control name the bucket tag reads by.
pub const EXCEPTION_TAGS: &str = "exception tags";

/// The IAM action of [`tags`], for the controls' `read_actions`.
pub const GET_TAGGING: &str = "s3:GetBucketTagging";

/// `f` with its bucket's tags, so exceptions can match on them (the exception tag among
/// them). Read only for a finding an exception could apply to (one to change, check or
/// blocked): a compliant bucket's tags are never asked for. A bucket whose tags cannot be
/// read is an error finding, not a change: a bucket tagged to be left alone must not be
/// changed because its tags were unreadable. Not read when one target is re-read
/// (verification, undo): exceptions are matched on the plan.
pub async fn with_tags(cx: &Cx<'_>, b: &Bucket, mut f: Finding) -> Result<Finding, AwsError> {
    if cx.reads.focus().is_some() || !f.is_failing() {
        return Ok(f);
    }
    match tags(cx, b).await {
        Ok(t) => {
            f.add_tags(t.iter().map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))));
            Ok(f)
        }
        Err(e)
            if e.kind == crate::aws::ErrorKind::Service
                || e.kind == crate::aws::ErrorKind::AccessDenied =>
        {
            Ok(Finding::error(
                b.target(),
                format!(
                    "could not read the bucket's tags, so an exception tag on it cannot be seen; left alone: {}",
                    describe_err(&e)
                ),
            ))
        }
        Err(e) => Err(e),
    }
}

/// [`with_tags`] for each (bucket, finding), a few at a time, in order.
pub async fn each_with_tags(
    cx: &Cx<'_>,
    found: Vec<(&Bucket, Finding)>,
) -> Result<Vec<Finding>, AwsError> {
    let work: Vec<_> = found
        .into_iter()
        .map(|(b, f)| (b.region.as_str(), with_tags(cx, b, f)))
        .collect();
    per_region(work, CONCURRENCY).await.into_iter().collect()
}

/// The four Block Public Access flags (bucket or account level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pab {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl Pab {
    pub const ALL: Pab = Pab {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    pub const NONE: Pab = Pab {
        block_public_acls: false,
        ignore_public_acls: false,
        block_public_policy: false,
        restrict_public_buckets: false,
    };

    pub fn all_on(&self) -> bool {
        *self == Pab::ALL
    }

    /// Each flag on in either: what holds over a bucket under the account's settings.
    pub fn or(self, other: Pab) -> Pab {
        Pab {
            block_public_acls: self.block_public_acls || other.block_public_acls,
            ignore_public_acls: self.ignore_public_acls || other.ignore_public_acls,
            block_public_policy: self.block_public_policy || other.block_public_policy,
            restrict_public_buckets: self.restrict_public_buckets || other.restrict_public_buckets,
        }
    }

    /// The flags that are off, by name.
    pub fn off(&self) -> Vec<&'static str> {
        [
            ("BlockPublicAcls", self.block_public_acls),
            ("IgnorePublicAcls", self.ignore_public_acls),
            ("BlockPublicPolicy", self.block_public_policy),
            ("RestrictPublicBuckets", self.restrict_public_buckets),
        ]
        .into_iter()
        .filter(|(_, on)| !on)
        .map(|(n, _)| n)
        .collect()
    }

    /// The flags as S3 or S3 Control report them: one it leaves out is off.
    fn from_flags(
        block_public_acls: Option<bool>,
        ignore_public_acls: Option<bool>,
        block_public_policy: Option<bool>,
        restrict_public_buckets: Option<bool>,
    ) -> Pab {
        Pab {
            block_public_acls: block_public_acls.unwrap_or(false),
            ignore_public_acls: ignore_public_acls.unwrap_or(false),
            block_public_policy: block_public_policy.unwrap_or(false),
            restrict_public_buckets: restrict_public_buckets.unwrap_or(false),
        }
    }

    pub fn to_value(self) -> Value {
        json!(self)
    }

    /// A journaled configuration: `null` means there was none.
    pub fn from_value(v: &Value) -> Result<Option<Pab>, AwsError> {
        if v.is_null() {
            return Ok(None);
        }
        serde_json::from_value(v.clone()).map(Some).map_err(|e| {
            AwsError::new(
                crate::aws::ErrorKind::Service,
                "s3:PutBucketPublicAccessBlock",
                format!("internal: unreadable public access block {v}: {e}"),
            )
        })
    }

    pub fn to_s3(self) -> aws_sdk_s3::types::PublicAccessBlockConfiguration {
        aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(self.block_public_acls)
            .ignore_public_acls(self.ignore_public_acls)
            .block_public_policy(self.block_public_policy)
            .restrict_public_buckets(self.restrict_public_buckets)
            .build()
    }

    pub fn to_s3control(self) -> aws_sdk_s3control::types::PublicAccessBlockConfiguration {
        aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(self.block_public_acls)
            .ignore_public_acls(self.ignore_public_acls)
            .block_public_policy(self.block_public_policy)
            .restrict_public_buckets(self.restrict_public_buckets)
            .build()
    }
}

/// A public-access block read that failed: no block configured is `None`, not an error.
fn none_if_unset(err: AwsError) -> Result<Option<Pab>, AwsError> {
    if err.is_code("NoSuchPublicAccessBlockConfiguration") {
        Ok(None)
    } else {
        Err(err)
    }
}

/// The bucket's own public-access block; `None` when it has none.
pub async fn bucket_pab(cx: &Cx<'_>, b: &Bucket) -> Result<Option<Pab>, AwsError> {
    let aws = cx.aws;
    cx.reads
        .shared(&format!("s3:bucket-pab:{}", b.name), || async move {
            match aws
                .s3(&b.region)
                .get_public_access_block()
                .bucket(&b.name)
                .expected_bucket_owner(&aws.account.id)
                .send()
                .await
            {
                Ok(out) => Ok(out.public_access_block_configuration().map(|c| {
                    Pab::from_flags(
                        c.block_public_acls(),
                        c.ignore_public_acls(),
                        c.block_public_policy(),
                        c.restrict_public_buckets(),
                    )
                })),
                Err(e) => none_if_unset(AwsError::from_sdk("s3:GetBucketPublicAccessBlock", e)),
            }
        })
        .await
}

/// The account-level public-access block (S3 Control); `None` when there is none.
pub async fn account_pab(cx: &Cx<'_>) -> Result<Option<Pab>, AwsError> {
    let aws = cx.aws;
    cx.reads
        .shared("s3control:account-pab", || async move {
            match aws
                .s3control()
                .get_public_access_block()
                .account_id(&aws.account.id)
                .send()
                .await
            {
                Ok(out) => Ok(out.public_access_block_configuration().map(|c| {
                    Pab::from_flags(
                        c.block_public_acls(),
                        c.ignore_public_acls(),
                        c.block_public_policy(),
                        c.restrict_public_buckets(),
                    )
                })),
                Err(e) => none_if_unset(AwsError::from_sdk("s3:GetAccountPublicAccessBlock", e)),
            }
        })
        .await
}

/// Why the bucket is public today, one line per reason; empty when it is not. From
/// GetBucketPolicyStatus (only asked when the bucket has a policy: without one S3 answers
/// NoSuchBucketPolicy) and from ACL grants to AllUsers / AuthenticatedUsers. `in_force`: the
/// Block Public Access settings that already hold over the bucket (its own and the
/// account's); a public policy under RestrictPublicBuckets, or a public ACL under
/// IgnorePublicAcls, makes nothing public, so neither is read then.
pub async fn public_reasons(
    cx: &Cx<'_>,
    b: &Bucket,
    in_force: Pab,
) -> Result<Vec<String>, AwsError> {
    let has_policy = !in_force.restrict_public_buckets && policy(cx, b).await?.is_some();
    let read_acl = !in_force.ignore_public_acls;
    let aws = cx.aws;
    cx.reads
        // What is read depends on `in_force`: the key names both.
        .shared(
            &format!(
                "s3:public-reasons:{}:{}{}",
                b.name, has_policy as u8, read_acl as u8
            ),
            || async move {
                let s3 = aws.s3(&b.region);
                let mut out = Vec::new();
                if has_policy {
                    match s3
                        .get_bucket_policy_status()
                        .bucket(&b.name)
                        .expected_bucket_owner(&aws.account.id)
                        .send()
                        .await
                    {
                        Ok(st) => {
                            if st.policy_status().and_then(|p| p.is_public()) == Some(true) {
                                out.push(format!(
                                    "bucket {}: its bucket policy makes it public",
                                    b.name
                                ));
                            }
                        }
                        Err(e) => {
                            let err = AwsError::from_sdk("s3:GetBucketPolicyStatus", e);
                            if !err.is_code("NoSuchBucketPolicy") {
                                return Err(err);
                            }
                        }
                    }
                }
                if !read_acl {
                    return Ok(out);
                }
                let acl = s3
                    .get_bucket_acl()
                    .bucket(&b.name)
                    .expected_bucket_owner(&aws.account.id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("s3:GetBucketAcl", e))?;
                for g in acl.grants() {
                    let Some(grantee) = g.grantee() else { continue };
                    if grantee.r#type() != &Type::Group {
                        continue;
                    }
                    let uri = grantee.uri().unwrap_or_default();
                    let who = if uri.ends_with("/global/AllUsers") {
                        "everyone (AllUsers)"
                    } else if uri.ends_with("/global/AuthenticatedUsers") {
                        "any AWS user (AuthenticatedUsers)"
                    } else {
                        continue;
                    };
                    let perm = g.permission().map(Permission::as_str).unwrap_or("?");
                    out.push(format!("bucket {}: its ACL grants {perm} to {who}", b.name));
                }
                Ok(out)
            },
        )
        .await
}

/// Versioning status and MFA Delete status as S3 reports them (`None` when never set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioning {
    pub status: Option<String>,
    pub mfa_delete: Option<String>,
}

pub async fn versioning(cx: &Cx<'_>, b: &Bucket) -> Result<Versioning, AwsError> {
    let aws = cx.aws;
    cx.reads
        .shared(&format!("s3:versioning:{}", b.name), || async move {
            let out = aws
                .s3(&b.region)
                .get_bucket_versioning()
                .bucket(&b.name)
                .expected_bucket_owner(&aws.account.id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:GetBucketVersioning", e))?;
            Ok(Versioning {
                status: out.status().map(|s| s.as_str().to_string()),
                mfa_delete: out.mfa_delete().map(|s| s.as_str().to_string()),
            })
        })
        .await
}

/// Run `f` for every bucket, a few at a time, results in the buckets' order.
pub async fn each<'b, T, F, Fut>(buckets: &'b [Bucket], f: F) -> Vec<(&'b Bucket, T)>
where
    F: Fn(&'b Bucket) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    // The futures are made up front: a mapping closure inside the stream trips the
    // compiler's higher-ranked lifetime check under async_trait.
    let work: Vec<_> = buckets.iter().map(|b| (b.region.as_str(), f(b))).collect();
    buckets
        .iter()
        .zip(per_region(work, CONCURRENCY).await)
        .collect()
}

/// An error for a summary: an answer the SDK could not read carries neither an AWS code
/// nor a message, so say that instead of "failed: ".
pub fn describe_err(e: &AwsError) -> String {
    if e.code.is_none() && e.message.is_empty() {
        format!("{}: the answer could not be read", e.operation)
    } else {
        e.to_string()
    }
}

/// The bucket of a target, looked up in the (memoised) listing.
pub async fn bucket_for_target(cx: &Cx<'_>, target: &str) -> Result<Bucket, AwsError> {
    let name = name_of_target(target);
    let listed = listed(cx).await?;
    let Some((_, region)) = listed.iter().find(|(n, _)| n == name) else {
        return Err(AwsError::new(
            crate::aws::ErrorKind::Service,
            "s3:ListAllMyBuckets",
            format!("bucket {name} no longer exists"),
        ));
    };
    let region = match region.as_ref().filter(|r| !r.is_empty()) {
        Some(r) => r.clone(),
        None => located(cx, name).await?,
    };
    Ok(Bucket {
        name: name.to_string(),
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pab_round_trips_and_names_what_is_off() {
        let p = Pab {
            block_public_acls: true,
            ignore_public_acls: false,
            block_public_policy: true,
            restrict_public_buckets: false,
        };
        assert_eq!(p.off(), vec!["IgnorePublicAcls", "RestrictPublicBuckets"]);
        assert_eq!(Pab::from_value(&p.to_value()).unwrap(), Some(p));
        assert_eq!(Pab::from_value(&Value::Null).unwrap(), None);
        assert!(Pab::ALL.all_on());
    }
}

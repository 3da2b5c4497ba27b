//! Every IAM user's managed policies, inline policy names and groups in one paginated read
//! (`GetAccountAuthorizationDetails`, filter `User`): a few pages for thousands of users, in
//! place of ListAttachedUserPolicies + ListUserPolicies + ListGroupsForUser per user.
//!
//! The same read carries each user's tags, which exceptions match on.
//!
//! Used by `plan`. A user the read does not list (created after it) falls back to the
//! per-user calls in `access_keys`; the undo paths, which look at one user, use those calls
//! directly rather than paging through the whole account.

use std::collections::HashMap;
use std::sync::Arc;

use crate::aws::{aws_err, AwsError};
use crate::control::Cx;
use crate::plan::Finding;

/// What the read says of one user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserDetail {
    /// Attached managed policies as (name, arn), sorted.
    pub attached: Vec<(String, String)>,
    /// Inline policy names, sorted.
    pub inline: Vec<String>,
    /// Group names, sorted.
    pub groups: Vec<String>,
    /// The user's tags as (key, value): exceptions match on them (`Finding::tags`).
    pub tags: Vec<(String, String)>,
}

/// Every user's detail, by user name. Read once per phase.
pub async fn users(cx: &Cx<'_>) -> Result<Arc<HashMap<String, UserDetail>>, AwsError> {
    cx.reads
        .shared("iam:authorization-details:users", || async {
            let mut out = HashMap::new();
            let mut pages = cx
                .aws
                .iam()
                .get_account_authorization_details()
                .filter(aws_sdk_iam::types::EntityType::User)
                .max_items(1000)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(aws_err("iam:GetAccountAuthorizationDetails"))?;
                for u in page.user_detail_list() {
                    let Some(name) = u.user_name() else { continue };
                    let mut d = UserDetail {
                        attached: u
                            .attached_managed_policies()
                            .iter()
                            .map(|p| {
                                (
                                    p.policy_name().unwrap_or_default().to_string(),
                                    p.policy_arn().unwrap_or_default().to_string(),
                                )
                            })
                            .collect(),
                        inline: u
                            .user_policy_list()
                            .iter()
                            .filter_map(|p| p.policy_name().map(str::to_string))
                            .collect(),
                        groups: u.group_list().to_vec(),
                        tags: u
                            .tags()
                            .iter()
                            .map(|t| (t.key().to_string(), t.value().to_string()))
                            .collect(),
                    };
                    d.attached.sort();
                    d.inline.sort();
                    d.groups.sort();
                    out.insert(name.to_string(), d);
                }
            }
            Ok(Arc::new(out))
        })
        .await
}

/// One user's detail: from the bulk read, else (a user it does not list) from the per-user
/// calls.
pub async fn user(cx: &Cx<'_>, name: &str) -> Result<UserDetail, AwsError> {
    if let Some(d) = users(cx).await?.get(name) {
        return Ok(d.clone());
    }
    use crate::resources::access_keys as ak;
    Ok(UserDetail {
        attached: ak::attached_policies(cx, name).await?,
        inline: ak::inline_policies(cx, name).await?,
        groups: ak::groups_of(cx, name).await?,
        // Only a user created after the bulk read gets here (or a re-read of one user, where
        // exceptions are not matched again): its tags are not asked for.
        tags: Vec::new(),
    })
}

/// `f` with the tags of `user` from the bulk read, so exceptions can match on them. Read
/// only for a finding an exception could apply to (one to change, check or blocked), and
/// not when one target is re-read (verification, undo: exceptions are matched on the plan).
pub async fn with_user_tags(cx: &Cx<'_>, user: &str, mut f: Finding) -> Result<Finding, AwsError> {
    if cx.reads.focus().is_some() || !f.is_failing() {
        return Ok(f);
    }
    if let Some(d) = users(cx).await?.get(user) {
        f.add_tags(
            d.tags
                .iter()
                .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))),
        );
    }
    Ok(f)
}

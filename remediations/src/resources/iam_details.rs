//! Every IAM user's managed policies, inline policy names and groups in one paginated read
//! (`GetAccountAuthorizationDetails`, filter `User`): a few pages for thousands of users, in
//! place of ListAttachedUserPolicies + ListUserPolicies + ListGroupsForUser per user.
//!
//! Used by `plan`. A user the read does not list (created after it) falls back to the
//! per-user calls in `access_keys`; the undo paths, which look at one user, use those calls
//! directly rather than paging through the whole account.

use std::collections::HashMap;
use std::sync::Arc;

use crate::aws::{aws_err, AwsError};
use crate::control::Cx;

/// What the read says of one user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserDetail {
    /// Attached managed policies as (name, arn), sorted.
    pub attached: Vec<(String, String)>,
    /// Inline policy names, sorted.
    pub inline: Vec<String>,
    /// Group names, sorted.
    pub groups: Vec<String>,
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
    })
}

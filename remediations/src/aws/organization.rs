//! The accounts of an AWS Organization, as the management account (or a delegated
//! administrator) lists them: the set a run over `--org` or `--ou` covers. Only ACTIVE
//! accounts count; suspended and closing ones cannot be changed.

use std::error::Error as StdError;
use std::fmt::Debug;
use std::future::Future;

use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};

use super::context::AwsContext;
use super::error::{aws_err, AwsError, ErrorKind};

/// Every page of an Organizations list call, flattened: `pages` is the call's
/// `into_paginator().send().try_collect()`, `items` takes what one page holds. The one place
/// its pages are walked and its error named as `action` (`organizations:ListAccounts`).
pub async fn listed<P, E, R, T, I>(
    action: &'static str,
    pages: impl Future<Output = Result<Vec<P>, SdkError<E, R>>>,
    items: impl FnMut(P) -> I,
) -> Result<Vec<T>, AwsError>
where
    I: IntoIterator<Item = T>,
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let pages = pages.await.map_err(aws_err(action))?;
    Ok(pages.into_iter().flat_map(items).collect())
}

/// One member account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
}

fn active(a: &Account) -> bool {
    match (a.state(), a.status()) {
        (Some(s), _) => *s == AccountState::Active,
        (None, Some(s)) => *s == AccountStatus::Active,
        (None, None) => false,
    }
}

fn member(a: &Account) -> Option<OrgAccount> {
    Some(OrgAccount {
        id: a.id()?.to_string(),
        name: a.name().unwrap_or_default().to_string(),
    })
    .filter(|_| active(a))
}

/// Explain the two refusals an operator can act on.
fn explained(e: AwsError) -> AwsError {
    let hint = if e.is_code("AWSOrganizationsNotInUseException") {
        Some("the calling account is not in an organization")
    } else if e.kind == ErrorKind::AccessDenied || e.is_code("AccessDeniedException") {
        Some("run from the management account or a delegated administrator, with organizations:List* allowed")
    } else {
        None
    };
    match hint {
        Some(h) => AwsError {
            message: format!("{h} ({})", e.message),
            ..e
        },
        None => e,
    }
}

/// Every ACTIVE account of the organization.
pub async fn all_accounts(aws: &AwsContext) -> Result<Vec<OrgAccount>, AwsError> {
    let all = listed(
        "organizations:ListAccounts",
        aws.organizations()
            .list_accounts()
            .into_paginator()
            .send()
            .try_collect(),
        |p| p.accounts.unwrap_or_default(),
    )
    .await
    .map_err(explained)?;
    Ok(all.iter().filter_map(member).collect())
}

/// Every ACTIVE account under `parent` (an OU or the root), OUs within it included. One level
/// of the tree at a time: each OU's accounts and child OUs are asked together, and so are the
/// OUs of one level (the Organizations budget paces them).
pub async fn accounts_under(aws: &AwsContext, parent: &str) -> Result<Vec<OrgAccount>, AwsError> {
    let org = &aws.organizations();
    let mut out = Vec::new();
    let mut level = vec![parent.to_string()];
    while !level.is_empty() {
        let found = futures::future::try_join_all(level.iter().map(|p| async move {
            futures::try_join!(
                listed(
                    "organizations:ListAccountsForParent",
                    org.list_accounts_for_parent()
                        .parent_id(p)
                        .into_paginator()
                        .send()
                        .try_collect(),
                    |p| p.accounts.unwrap_or_default(),
                ),
                listed(
                    "organizations:ListOrganizationalUnitsForParent",
                    org.list_organizational_units_for_parent()
                        .parent_id(p)
                        .into_paginator()
                        .send()
                        .try_collect(),
                    |p| p.organizational_units.unwrap_or_default(),
                )
            )
        }))
        .await
        .map_err(explained)?;
        level = Vec::new();
        for (accounts, ous) in found {
            out.extend(accounts.iter().filter_map(member));
            level.extend(ous.into_iter().filter_map(|u| u.id));
        }
    }
    Ok(out)
}

/// The OUs above each of `accounts`, nearest first (the root left out): ListParents from each
/// account up to the root, every OU's parent asked once however many accounts share it. Needs
/// the management account or a delegated administrator (a member account is refused); each
/// account's answer is its own, so one refusal does not hide the others.
pub async fn ancestries(
    aws: &AwsContext,
    accounts: &[String],
) -> Vec<(String, Result<Vec<String>, AwsError>)> {
    let org = aws.organizations();
    let mut parent_of: std::collections::HashMap<String, Option<String>> = Default::default();
    let mut out = Vec::new();
    for account in accounts {
        let mut chain = Vec::new();
        let mut child = account.clone();
        let res = loop {
            let parent = match parent_of.get(&child) {
                Some(p) => p.clone(),
                None => {
                    let p = match org.list_parents().child_id(&child).send().await {
                        Ok(o) => o.parents().first().and_then(|p| p.id()).map(str::to_string),
                        Err(e) => {
                            break Err(explained(aws_err("organizations:ListParents")(e)));
                        }
                    };
                    // Accounts are asked once each; only OUs are worth remembering.
                    if child.starts_with("ou-") {
                        parent_of.insert(child.clone(), p.clone());
                    }
                    p
                }
            };
            match parent {
                Some(p) if p.starts_with("ou-") && !chain.contains(&p) => {
                    chain.push(p.clone());
                    child = p;
                }
                _ => break Ok(chain),
            }
        };
        out.push((account.clone(), res));
    }
    out
}

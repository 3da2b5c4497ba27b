//! The forced-MFA policy cis-fix attaches for 1.9: its name, path, tag and document, and how
//! an existing policy of that name is judged. Shared by the MFA control that attaches it and
//! the permissions-via-groups check that recognises it.
//!
//! A policy that is already there under cis-fix's name is trusted only when its default
//! version says what cis-fix would write (compared as parsed JSON, statement order, `Sid`s and
//! list order aside): anyone can create `/cis-fix/cis-fix-force-mfa`, and attaching a
//! look-alike that allows `*:*` would hand out administrator rights. The policy cis-fix
//! creates carries the tag [`CREATED_BY_KEY`] = [`CREATED_BY_VALUE`]; undo deletes only a
//! policy with that tag.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError};
use crate::control::Cx;
use crate::resources::policy_attachments::decode_document;
use crate::resources::policy_document::{canonical, digest, normal_statement, statements};

pub const POLICY_NAME: &str = "cis-fix-force-mfa";
/// Path of the policy and of groups cis-fix creates, so undo can tell them apart. IAM groups
/// cannot be tagged: for a group the path is the only marker.
pub const PATH: &str = "/cis-fix/";
/// The tag cis-fix puts on the policy it creates (IAM policies take tags at CreatePolicy).
pub const CREATED_BY_KEY: &str = "cis-fix:created-by";
pub const CREATED_BY_VALUE: &str = "cis-fix";

/// The forced-MFA policy: AWS's documented self-managed-MFA policy, "IAM: Allows IAM users to
/// self-manage an MFA device",
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_iam_mfa-selfmanage.html>
/// (the same statements as "AWS: Allows MFA-authenticated IAM users to manage their own MFA
/// device on the Security credentials page",
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_my-sec-creds-self-manage-mfa-only.html>),
/// statement for statement, plus what a user forced onto MFA also needs before enrolling:
/// change their own password (a new console user must, at the first sign-in) and read the
/// password policy, read their own user, call sts:GetSessionToken (the CLI's way to an MFA
/// session), and delete an unfinished virtual device. The console asks for a device name, so
/// CreateVirtualMFADevice is allowed on `mfa/*`, not `mfa/${aws:username}`, and an enrolment
/// abandoned half-way leaves an unassigned device that must be deleted before the next try
/// (DeleteVirtualMFADevice on `mfa/*`; IAM refuses to delete a device still assigned to a
/// user). `${aws:username}` is an IAM policy variable, not a placeholder.
pub fn policy_document(partition: &str) -> Value {
    let own_user = format!("arn:{partition}:iam::*:user/${{aws:username}}");
    let any_mfa = format!("arn:{partition}:iam::*:mfa/*");
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowListActions",
                "Effect": "Allow",
                "Action": ["iam:ListUsers", "iam:ListVirtualMFADevices"],
                "Resource": "*"
            },
            {
                "Sid": "AllowUserToCreateVirtualMFADevice",
                "Effect": "Allow",
                "Action": ["iam:CreateVirtualMFADevice"],
                "Resource": any_mfa
            },
            {
                "Sid": "AllowUserToManageTheirOwnMFA",
                "Effect": "Allow",
                "Action": [
                    "iam:EnableMFADevice",
                    "iam:GetMFADevice",
                    "iam:ListMFADevices",
                    "iam:ResyncMFADevice"
                ],
                "Resource": own_user
            },
            {
                "Sid": "AllowUserToDeactivateTheirOwnMFAOnlyWhenUsingMFA",
                "Effect": "Allow",
                "Action": ["iam:DeactivateMFADevice"],
                "Resource": [own_user],
                "Condition": { "Bool": { "aws:MultiFactorAuthPresent": "true" } }
            },
            {
                "Sid": "AllowUserToDeleteAnUnfinishedVirtualMFADevice",
                "Effect": "Allow",
                "Action": ["iam:DeleteVirtualMFADevice"],
                "Resource": any_mfa
            },
            {
                "Sid": "AllowViewPasswordPolicy",
                "Effect": "Allow",
                "Action": ["iam:GetAccountPasswordPolicy"],
                "Resource": "*"
            },
            {
                "Sid": "AllowUserToManageTheirOwnPassword",
                "Effect": "Allow",
                "Action": ["iam:ChangePassword", "iam:GetUser"],
                "Resource": own_user
            },
            {
                "Sid": "BlockMostAccessUnlessSignedInWithMFA",
                "Effect": "Deny",
                "NotAction": [
                    "iam:CreateVirtualMFADevice",
                    "iam:EnableMFADevice",
                    "iam:ListMFADevices",
                    "iam:ListUsers",
                    "iam:ListVirtualMFADevices",
                    "iam:ResyncMFADevice",
                    "iam:DeleteVirtualMFADevice",
                    "iam:ChangePassword",
                    "iam:GetAccountPasswordPolicy",
                    "iam:GetUser",
                    "sts:GetSessionToken"
                ],
                "Resource": "*",
                "Condition": { "BoolIfExists": { "aws:MultiFactorAuthPresent": "false" } }
            }
        ]
    })
}

pub fn policy_arn(partition: &str, account: &str) -> String {
    format!("arn:{partition}:iam::{account}:policy{PATH}{POLICY_NAME}")
}

/// How `actual` differs from `expected`, in one line; `None` when they mean the same.
pub fn difference(expected: &Value, actual: &Value) -> Option<String> {
    let e = canonical(expected);
    let a = canonical(actual);
    if e == a {
        return None;
    }
    let set =
        |d: &Value| -> BTreeSet<String> { statements(d).iter().map(|s| s.to_string()).collect() };
    let (es, as_) = (set(&e), set(&a));
    let mut parts = Vec::new();
    if e.get("Version") != a.get("Version") {
        parts.push(format!(
            "Version {} instead of {}",
            a.get("Version").unwrap_or(&Value::Null),
            e.get("Version").unwrap_or(&Value::Null)
        ));
    }
    let extra: Vec<&String> = as_.difference(&es).collect();
    if !extra.is_empty() {
        let shown: Vec<String> = extra.iter().take(3).map(|s| clip(s, 400)).collect();
        parts.push(format!(
            "{} cis-fix does not write: {}",
            crate::plan::plural(extra.len(), "statement", "statements"),
            shown.join(", ")
        ));
    }
    // Name cis-fix's missing statements by their Sid.
    let missing: Vec<String> = statements(expected)
        .into_iter()
        .filter(|s| !as_.contains(&normal_statement(s).to_string()))
        .map(|s| {
            s.get("Sid")
                .and_then(Value::as_str)
                .unwrap_or("(no Sid)")
                .to_string()
        })
        .collect();
    if !missing.is_empty() {
        parts.push(format!(
            "{} missing or changed: {}",
            match missing.len() {
                1 => "1 of cis-fix's statements".to_string(),
                n => format!("{n} of cis-fix's statements"),
            },
            missing.join(", ")
        ));
    }
    Some(parts.join("; "))
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}…")
}

/// What the account holds under the forced-MFA policy's name.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub arn: String,
    pub exists: bool,
    /// Carries cis-fix's tag (created by cis-fix).
    pub created_by_cis_fix: bool,
    /// Digest of the default version's document; of cis-fix's own when the policy is missing.
    pub digest: String,
    /// How the existing document differs from cis-fix's; `None` when it is cis-fix's (or
    /// there is no policy yet).
    pub difference: Option<String>,
}

impl Observed {
    /// Whether cis-fix may attach it (or create it).
    pub fn usable(&self) -> bool {
        self.difference.is_none()
    }

    /// The `prerequisites` entry of a finding that builds on the policy. It stays the same
    /// when cis-fix itself creates the policy with its own document (the digest is then that
    /// document's), so one change of a run creating it does not make the next one stale;
    /// it moves when someone else's document appears or the existing one is edited.
    pub fn prerequisite(&self) -> Value {
        json!({ "arn": self.arn, "document_sha256": self.digest })
    }
}

/// Read the policy named like cis-fix's (GetPolicy, then GetPolicyVersion of its default
/// version), once per phase.
pub async fn observe(cx: &Cx<'_>) -> Result<Observed, AwsError> {
    cx.reads
        .shared("iam:forced-mfa-policy", || async {
            let partition = &cx.aws.account.partition;
            let arn = policy_arn(partition, &cx.aws.account.id);
            let ours = policy_document(partition);
            let iam = cx.aws.iam();
            let policy = match iam.get_policy().policy_arn(&arn).send().await {
                Ok(out) => out.policy,
                Err(e) => {
                    let e = AwsError::from_sdk("iam:GetPolicy", e);
                    if !e.is_code("NoSuchEntity") {
                        return Err(e);
                    }
                    None
                }
            };
            let Some(policy) = policy else {
                return Ok(Observed {
                    arn,
                    exists: false,
                    created_by_cis_fix: false,
                    digest: digest(&ours),
                    difference: None,
                });
            };
            let created_by_cis_fix = policy
                .tags()
                .iter()
                .any(|t| t.key() == CREATED_BY_KEY && t.value() == CREATED_BY_VALUE);
            let version = policy.default_version_id().unwrap_or("v1").to_string();
            let out = iam
                .get_policy_version()
                .policy_arn(&arn)
                .version_id(&version)
                .send()
                .await
                .map_err(aws_err("iam:GetPolicyVersion"))?;
            let doc = out
                .policy_version()
                .and_then(|v| v.document())
                .and_then(decode_document);
            let (digest_, difference_) = match doc {
                Some(d) => (digest(&d), difference(&ours, &d)),
                None => (
                    String::new(),
                    Some(format!(
                        "its default version {version} could not be read as JSON"
                    )),
                ),
            };
            Ok(Observed {
                arn,
                exists: true,
                created_by_cis_fix,
                digest: digest_,
                difference: difference_,
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt<'a>(d: &'a Value, sid: &str) -> &'a Value {
        statements(d)
            .into_iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid}"))
    }

    fn set(v: &Value) -> BTreeSet<&str> {
        match v {
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
            Value::String(s) => [s.as_str()].into(),
            _ => panic!("not a list: {v}"),
        }
    }

    const OWN_USER: &str = "arn:aws:iam::*:user/${aws:username}";
    const ANY_MFA: &str = "arn:aws:iam::*:mfa/*";

    #[test]
    fn list_actions() {
        let d = policy_document("aws");
        let s = stmt(&d, "AllowListActions");
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(
            set(&s["Action"]),
            ["iam:ListUsers", "iam:ListVirtualMFADevices"].into()
        );
        assert_eq!(s["Resource"], "*");
        assert!(s.get("Condition").is_none());
    }

    #[test]
    fn create_virtual_device_under_any_name() {
        let d = policy_document("aws");
        let s = stmt(&d, "AllowUserToCreateVirtualMFADevice");
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(set(&s["Action"]), ["iam:CreateVirtualMFADevice"].into());
        assert_eq!(s["Resource"], ANY_MFA, "the console asks for a device name");
        assert!(s.get("Condition").is_none());
    }

    #[test]
    fn manage_own_mfa() {
        let d = policy_document("aws");
        let s = stmt(&d, "AllowUserToManageTheirOwnMFA");
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(
            set(&s["Action"]),
            [
                "iam:EnableMFADevice",
                "iam:GetMFADevice",
                "iam:ListMFADevices",
                "iam:ResyncMFADevice"
            ]
            .into()
        );
        assert_eq!(s["Resource"], OWN_USER);
        assert!(s.get("Condition").is_none());
    }

    #[test]
    fn deactivate_own_mfa_only_with_mfa() {
        let d = policy_document("aws");
        let s = stmt(&d, "AllowUserToDeactivateTheirOwnMFAOnlyWhenUsingMFA");
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(set(&s["Action"]), ["iam:DeactivateMFADevice"].into());
        assert_eq!(set(&s["Resource"]), [OWN_USER].into());
        assert_eq!(
            s["Condition"],
            json!({ "Bool": { "aws:MultiFactorAuthPresent": "true" } })
        );
    }

    #[test]
    fn delete_an_unfinished_virtual_device() {
        let d = policy_document("aws");
        let s = stmt(&d, "AllowUserToDeleteAnUnfinishedVirtualMFADevice");
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(set(&s["Action"]), ["iam:DeleteVirtualMFADevice"].into());
        assert_eq!(s["Resource"], ANY_MFA);
        assert!(s.get("Condition").is_none());
    }

    #[test]
    fn own_password_and_password_policy() {
        let d = policy_document("aws");
        let s = stmt(&d, "AllowViewPasswordPolicy");
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(set(&s["Action"]), ["iam:GetAccountPasswordPolicy"].into());
        assert_eq!(s["Resource"], "*", "no resource-level permissions");
        assert!(s.get("Condition").is_none());
        let s = stmt(&d, "AllowUserToManageTheirOwnPassword");
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(
            set(&s["Action"]),
            ["iam:ChangePassword", "iam:GetUser"].into()
        );
        assert_eq!(s["Resource"], OWN_USER);
        assert!(s.get("Condition").is_none());
    }

    #[test]
    fn block_most_access_unless_signed_in_with_mfa() {
        let d = policy_document("aws");
        let s = stmt(&d, "BlockMostAccessUnlessSignedInWithMFA");
        assert_eq!(s["Effect"], "Deny");
        assert!(s.get("Action").is_none());
        assert_eq!(
            set(&s["NotAction"]),
            [
                // AWS's documented list…
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:ListMFADevices",
                "iam:ListUsers",
                "iam:ListVirtualMFADevices",
                "iam:ResyncMFADevice",
                // …and what cis-fix's additions need before MFA.
                "iam:DeleteVirtualMFADevice",
                "iam:ChangePassword",
                "iam:GetAccountPasswordPolicy",
                "iam:GetUser",
                "sts:GetSessionToken",
            ]
            .into()
        );
        assert_eq!(s["Resource"], "*");
        assert_eq!(
            s["Condition"],
            json!({ "BoolIfExists": { "aws:MultiFactorAuthPresent": "false" } })
        );
    }

    #[test]
    fn every_statement_is_tested_and_every_allow_is_exempt_from_the_deny() {
        let d = policy_document("aws");
        let sids: BTreeSet<&str> = statements(&d)
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect();
        assert_eq!(sids.len(), 8, "{sids:?}");
        let deny = set(&stmt(&d, "BlockMostAccessUnlessSignedInWithMFA")["NotAction"]);
        // Everything allowed without a condition is usable before MFA, as in AWS's document,
        // except GetMFADevice, which AWS's document, too, leaves under the Deny
        // (DeactivateMFADevice needs MFA by its own condition).
        for s in statements(&d) {
            if s["Effect"] != "Allow" || s.get("Condition").is_some() {
                continue;
            }
            for a in set(&s["Action"]) {
                assert_eq!(
                    deny.contains(a),
                    a != "iam:GetMFADevice",
                    "{a}: allowed, and exempt from the Deny"
                );
            }
        }
    }

    #[test]
    fn partition_goes_into_the_arns() {
        let d = policy_document("aws-cn");
        assert_eq!(
            stmt(&d, "AllowUserToManageTheirOwnMFA")["Resource"],
            "arn:aws-cn:iam::*:user/${aws:username}"
        );
        assert_eq!(
            policy_arn("aws-us-gov", "111122223333"),
            "arn:aws-us-gov:iam::111122223333:policy/cis-fix/cis-fix-force-mfa"
        );
    }

    #[test]
    fn order_sids_and_lone_strings_do_not_matter() {
        let ours = policy_document("aws");
        let mut same = ours.clone();
        let stmts = same["Statement"].as_array_mut().unwrap();
        stmts.reverse();
        let by_sid = |stmts: &mut Vec<Value>, sid: &str| -> usize {
            stmts.iter().position(|s| s["Sid"] == sid).unwrap()
        };
        let i = by_sid(stmts, "BlockMostAccessUnlessSignedInWithMFA");
        stmts[i]["NotAction"].as_array_mut().unwrap().reverse();
        stmts[i]["Sid"] = json!("Renamed");
        let i = by_sid(stmts, "AllowUserToDeleteAnUnfinishedVirtualMFADevice");
        stmts[i]["Action"] = json!("iam:DeleteVirtualMFADevice");
        assert_eq!(difference(&ours, &same), None);
        assert_eq!(digest(&ours), digest(&same));
    }

    #[test]
    fn a_star_policy_differs_and_the_difference_is_named() {
        let ours = policy_document("aws");
        let star = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]});
        let d = difference(&ours, &star).unwrap();
        assert!(d.contains(r#""Action":["*"]"#), "{d}");
        assert!(d.contains("BlockMostAccessUnlessSignedInWithMFA"), "{d}");
        assert_ne!(digest(&ours), digest(&star));
        // One more action in the Deny's exemptions is a difference too.
        let mut wider = ours.clone();
        wider["Statement"][7]["NotAction"]
            .as_array_mut()
            .unwrap()
            .push(json!("s3:*"));
        let d = difference(&ours, &wider).unwrap();
        assert!(d.contains("s3:*"), "{d}");
    }
}

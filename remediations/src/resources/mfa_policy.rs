//! The forced-MFA policy cis-fix attaches for 1.9: its name, path and document. Shared by
//! the MFA control that attaches it and the permissions-via-groups check that recognises it.

use serde_json::{json, Value};

pub const POLICY_NAME: &str = "cis-fix-force-mfa";
/// Path of the policy and of groups cis-fix creates, so undo can tell them apart.
pub const PATH: &str = "/cis-fix/";

/// The forced-MFA policy. `${aws:username}` is an IAM policy variable, not a placeholder.
pub fn policy_document(partition: &str) -> Value {
    let own = |what: &str| format!("arn:{partition}:iam::*:{what}/${{aws:username}}");
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowViewAccountInfo",
                "Effect": "Allow",
                "Action": [
                    "iam:GetAccountPasswordPolicy",
                    "iam:ListVirtualMFADevices",
                    "iam:ListUsers"
                ],
                "Resource": "*"
            },
            {
                "Sid": "AllowManageOwnPasswordAndMFA",
                "Effect": "Allow",
                "Action": [
                    "iam:GetUser",
                    "iam:ChangePassword",
                    "iam:ListMFADevices",
                    "iam:GetMFADevice",
                    "iam:CreateVirtualMFADevice",
                    "iam:EnableMFADevice",
                    "iam:ResyncMFADevice"
                ],
                "Resource": [own("user"), own("mfa")]
            },
            {
                "Sid": "DenyAllExceptMFASetupUnlessSignedInWithMFA",
                "Effect": "Deny",
                "NotAction": [
                    "iam:CreateVirtualMFADevice",
                    "iam:EnableMFADevice",
                    "iam:GetUser",
                    "iam:ChangePassword",
                    "iam:GetAccountPasswordPolicy",
                    "iam:ListMFADevices",
                    "iam:GetMFADevice",
                    "iam:ListVirtualMFADevices",
                    "iam:ResyncMFADevice",
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

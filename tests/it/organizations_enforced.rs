//! An organization under real IAM enforcement: the role cis-fix assumes in a member is not
//! always allowed to do everything. `tests/it/organizations.rs` runs with enforcement off
//! (and emulates refusals with the fault proxy); here moto itself evaluates every call against
//! the IAM policies of the principal that makes it, in a server of the test's own
//! ([`PrivateEmulator`]: enforcement is a server-wide switch).
//!
//! The organization: the management account, whose IAM user `fleet` runs cis-fix (allowed
//! organizations:ListAccounts, sts:AssumeRole on the member role, and in its own account what
//! `cis-fix iam-policy` prints), and three members reached through
//! `OrganizationAccountAccessRole`:
//! - `full`: the role has exactly what `cis-fix iam-policy` prints for the controls (apply);
//! - `read`: the role has what `iam-policy --for plan` prints (it reads, it cannot write);
//! - `refused`: `fleet`'s own policy denies sts:AssumeRole on that account's role.
//!
//! What moto 5.2.5 enforces and what it does not (read in moto/iam/access_control.py and
//! measured by this test):
//! - Identity policies are evaluated for every call of an IAM user or an assumed role (the
//!   role must exist in its account: moto makes each member's OrganizationAccountAccessRole
//!   when it creates the account, trusting the management account, with no policy),
//!   organizations:ListAccounts and sts:AssumeRole included; AssumeRole's resource is the
//!   role's ARN, so a Deny on one account's role refuses that AssumeRole.
//! - A role's trust policy is checked only when the role is in the caller's own account
//!   (moto looks the role up in the caller's IAM): the trust policy of a member's role is
//!   never evaluated, so "the trust policy does not name the caller" cannot be tested here;
//!   the refused AssumeRole comes from the caller's identity policy instead.
//! - Resource ARNs in IAM's own actions are not checked (iam:UpdateAccountPasswordPolicy has
//!   no resource anyway); sts:GetCallerIdentity is always allowed.
//! - moto's denials are `<ErrorResponse><Errors><Error>` for every API, which the Rust SDK
//!   does not read (IAM and STS: no code; Organizations, a JSON API: an unreadable response).
//!   cis-fix reads the code and message from such a body itself
//!   (`remediations/src/aws/error.rs`), so the lines asserted here are the ones AWS's own
//!   AccessDenied gives.

use aws_credential_types::Credentials;
use aws_sdk_iam::types::PasswordPolicy;

use crate::harness::{Output, REGION};
use crate::safety_identity::PrivateEmulator;

const ROLE: &str = "OrganizationAccountAccessRole";
const SEL: &[&str] = &["-c", "1.7", "-c", "1.8", "--regions", REGION];

fn plain(key: &str, secret: &str) -> Credentials {
    Credentials::new(key, secret, None, None, "static")
}

/// `cis-fix iam-policy` for the selection (no AWS call): the policy a member role gets.
fn iam_policy(em: &PrivateEmulator, purpose: &str) -> String {
    let state = tempfile::tempdir().unwrap();
    let mut args = vec!["iam-policy", "--for", purpose];
    args.extend(&SEL[..4]);
    let out = em.run(&plain("x", "y"), state.path(), &args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    out.stdout
}

/// The fields of a password policy that 1.7 and 1.8 change and undo restores, and two they
/// must leave alone.
fn fields(p: &Option<PasswordPolicy>) -> Option<(i32, Option<i32>, bool, Option<i32>)> {
    p.as_ref().map(|p| {
        (
            p.minimum_password_length().unwrap_or(0),
            p.password_reuse_prevention(),
            p.require_symbols(),
            p.max_password_age(),
        )
    })
}

struct Org {
    em: PrivateEmulator,
    mgmt: String,
    full: String,
    read: String,
    refused: String,
    /// `fleet`'s access key in the management account.
    fleet: Credentials,
    /// An IAM user of the management account without organizations:ListAccounts.
    unlisted: Credentials,
    state: tempfile::TempDir,
}

impl Org {
    /// The organization, its principals and the members' password policies, all made
    /// before enforcement is turned on.
    async fn new() -> Org {
        let em = PrivateEmulator::start();
        let mgmt = "210987654321".to_string();
        let admin = em.sdk(em.account(&mgmt).await).await;
        let org = aws_sdk_organizations::Client::new(&admin);
        org.create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await
            .expect("create organization");
        let mut ids = Vec::new();
        for name in ["full", "read", "refused"] {
            ids.push(crate::organizations::create_member(&org, name).await);
        }
        let (full, read, refused) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
        let apply = iam_policy(&em, "apply");
        let plan = iam_policy(&em, "plan");
        // moto makes each member's OrganizationAccountAccessRole (trusting the management
        // account, no policy): each gets its own.
        for (id, policy) in [(&full, &apply), (&read, &plan), (&refused, &apply)] {
            let iam = aws_sdk_iam::Client::new(&em.sdk(em.account(id).await).await);
            iam.put_role_policy()
                .role_name(ROLE)
                .policy_name("cis-fix")
                .policy_document(policy)
                .send()
                .await
                .unwrap();
            weak_password_policy(&iam).await;
        }
        // fleet: lists the organization, assumes the member role, except in `refused`.
        let iam = aws_sdk_iam::Client::new(&admin);
        iam.create_user().user_name("fleet").send().await.unwrap();
        let fleet_policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[
              {{"Effect":"Allow","Action":"organizations:ListAccounts","Resource":"*"}},
              {{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/{ROLE}"}},
              {{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::{refused}:role/{ROLE}"}}]}}"#
        );
        iam.put_user_policy()
            .user_name("fleet")
            .policy_name("fan-out")
            .policy_document(fleet_policy)
            .send()
            .await
            .unwrap();
        // In its own account fleet works as the `full` role does.
        iam.put_user_policy()
            .user_name("fleet")
            .policy_name("cis-fix")
            .policy_document(&apply)
            .send()
            .await
            .unwrap();
        weak_password_policy(&iam).await;
        let k = iam
            .create_access_key()
            .user_name("fleet")
            .send()
            .await
            .unwrap()
            .access_key
            .unwrap();
        let fleet = plain(&k.access_key_id, &k.secret_access_key);
        // unlisted: may assume the member roles, but not list the organization.
        iam.create_user()
            .user_name("unlisted")
            .send()
            .await
            .unwrap();
        iam.put_user_policy()
            .user_name("unlisted")
            .policy_name("assume")
            .policy_document(format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/{ROLE}"}}]}}"#
            ))
            .send()
            .await
            .unwrap();
        let k = iam
            .create_access_key()
            .user_name("unlisted")
            .send()
            .await
            .unwrap()
            .access_key
            .unwrap();
        let unlisted = plain(&k.access_key_id, &k.secret_access_key);
        em.enforce_iam();
        Org {
            em,
            mgmt,
            full,
            read,
            refused,
            fleet,
            unlisted,
            state: tempfile::tempdir().unwrap(),
        }
    }

    /// cis-fix as `fleet`, with the selection (plan, apply) or without it (undo).
    fn run(&self, args: &[&str], sel: bool) -> Output {
        let mut all = args.to_vec();
        if sel {
            all.extend(SEL);
        }
        self.em.run(&self.fleet, self.state.path(), &all)
    }

    /// An account's password policy, re-read under enforcement as `fleet` (its own account)
    /// or through the member's role (both may read it).
    async fn policy(&self, id: &str) -> Option<PasswordPolicy> {
        let fleet = self.em.sdk(self.fleet.clone()).await;
        let sdk = if id == self.mgmt {
            fleet
        } else {
            let c = aws_sdk_sts::Client::new(&fleet)
                .assume_role()
                .role_arn(format!("arn:aws:iam::{id}:role/{ROLE}"))
                .role_session_name("cis-fix-test-read")
                .send()
                .await
                .unwrap_or_else(|e| panic!("assume {id}: {e:?}"))
                .credentials
                .unwrap();
            self.em
                .sdk(Credentials::new(
                    c.access_key_id(),
                    c.secret_access_key(),
                    Some(c.session_token().to_string()),
                    None,
                    "read",
                ))
                .await
        };
        let p = aws_sdk_iam::Client::new(&sdk)
            .get_account_password_policy()
            .send()
            .await
            .unwrap_or_else(|e| panic!("read {id}'s password policy: {e:?}"));
        p.password_policy().cloned()
    }
}

/// The closing table's line of account `id` (the last line that starts with it).
fn line<'a>(out: &'a Output, id: &str) -> &'a str {
    out.stdout
        .lines()
        .map(str::trim_start)
        .rfind(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("no table line for {id}:\n{}", out.stdout))
}

/// The numbers on account `id`'s line of the closing table (after its id and name).
fn counts(out: &Output, id: &str) -> Vec<usize> {
    let l = line(out, id);
    l.split_whitespace()
        .skip(1)
        .filter(|w| !w.starts_with('('))
        .map(|n| n.parse().unwrap_or_else(|_| panic!("{l}")))
        .collect()
}

/// The lines of account `id`'s own report (between its `━━ account` header and the next).
fn section<'a>(out: &'a Output, id: &str) -> Vec<&'a str> {
    out.stdout
        .lines()
        .skip_while(|l| !l.starts_with(&format!("━━ account {id}")))
        .skip(1)
        .take_while(|l| !l.starts_with("━━ account") && !l.starts_with("Accounts"))
        .collect()
}

fn dump(out: &Output) -> String {
    format!("exit {}\n{}\n{}", out.code, out.stdout, out.stderr)
}

/// The refused account: one line, in its section and on its table line, that names the
/// account, the role and the refused sts:AssumeRole.
fn assert_refused(out: &Output, org: &Org) {
    let role = format!("role arn:aws:iam::{}:role/{ROLE}", org.refused);
    let errors: Vec<&str> = section(out, &org.refused)
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(errors.len(), 1, "{}", dump(out));
    for l in [errors[0].trim_start(), line(out, &org.refused)] {
        assert!(
            l.contains(&format!("error: account {}", org.refused)),
            "{l}"
        );
        assert!(l.contains(&role), "{l}");
        assert!(
            l.contains("access denied: missing permission sts:AssumeRole"),
            "{l}"
        );
    }
    assert!(
        out.stdout.contains("4 accounts · 1 failed"),
        "{}",
        dump(out)
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[tokio::test]
async fn an_organization_under_iam_enforcement_fails_only_where_the_role_may_not() {
    let org = Org::new().await;
    let weak = Some((8, Some(3), true, Some(90)));
    let hardened = Some((14, Some(24), true, Some(90)));
    let mut before = Vec::new();
    for id in [&org.mgmt, &org.full, &org.read] {
        let p = org.policy(id).await;
        assert_eq!(fields(&p), weak, "{id} before");
        before.push(p);
    }

    // A caller that may not list the organization: one line naming the permission, before
    // any account is worked on.
    let mut args = vec!["plan", "--org"];
    args.extend(SEL);
    org.em
        .run(&org.unlisted, org.state.path(), &args)
        .assert_one_line_error(
            1,
            "access denied: missing permission organizations:ListAccounts (",
        );

    // plan --org: every account the caller reaches is planned (the read-only role reads all
    // the plan needs); the refused one is one line, and the exit code says something failed.
    let plan = org.run(&["plan", "--org"], true);
    assert_eq!(plan.code, 3, "{}", dump(&plan));
    for id in [&org.mgmt, &org.full, &org.read] {
        // to change, compliant, manual, undetermined, errors
        assert_eq!(counts(&plan, id), [2, 0, 0, 0, 0], "{id}\n{}", dump(&plan));
    }
    assert_refused(&plan, &org);

    // apply --org --yes: where the role may write the policy is hardened; where it may only
    // read, both changes fail with a line naming the denied action; the refused account is
    // not reached; neither stops the others.
    let apply = org.run(&["apply", "--org", "--yes"], true);
    assert_eq!(apply.code, 3, "{}", dump(&apply));
    // verified, failed, declined, skipped, stale
    for id in [&org.mgmt, &org.full] {
        assert_eq!(
            counts(&apply, id),
            [2, 0, 0, 0, 0],
            "{id}\n{}",
            dump(&apply)
        );
    }
    assert_eq!(
        counts(&apply, &org.read),
        [0, 2, 0, 0, 0],
        "{}",
        dump(&apply)
    );
    let failed: Vec<&str> = section(&apply, &org.read)
        .into_iter()
        .map(str::trim_start)
        .filter(|l| l.starts_with("failed 1."))
        .collect();
    assert_eq!(failed.len(), 2, "{}", dump(&apply));
    for l in failed {
        assert!(
            l.contains("access denied: missing permission iam:UpdateAccountPasswordPolicy ("),
            "{l}"
        );
    }
    assert_refused(&apply, &org);
    assert_eq!(fields(&org.policy(&org.mgmt).await), hardened);
    assert_eq!(fields(&org.policy(&org.full).await), hardened);
    assert_eq!(
        org.policy(&org.read).await,
        before[2],
        "read-only account unchanged"
    );

    // undo RUN: each account's part, reached the same way. The hardened ones are restored
    // exactly; in the read-only one nothing was made, so nothing is written (a write would be
    // denied and show as failed): its changes are found already as they were.
    let run = apply
        .stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("Run "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("no run id:\n{}", apply.stdout))
        .to_string();
    let undo = org.run(&["undo", &run, "--yes"], false);
    assert_eq!(undo.code, 0, "{}", dump(&undo));
    // undone (restored, or already as they were), failed, refused
    for id in [&org.mgmt, &org.full, &org.read] {
        assert_eq!(counts(&undo, id), [2, 0, 0], "{id}\n{}", dump(&undo));
    }
    let read_part = section(&undo, &org.read);
    assert_eq!(
        read_part
            .iter()
            .filter(|l| l
                .trim_start()
                .starts_with("already in its previous state #"))
            .count(),
        2,
        "{}",
        dump(&undo)
    );
    assert!(
        !read_part.iter().any(|l| l.contains("restored")),
        "{}",
        dump(&undo)
    );
    assert!(!undo.stdout.contains(&org.refused), "{}", dump(&undo));
    for (id, was) in [&org.mgmt, &org.full, &org.read].into_iter().zip(&before) {
        assert_eq!(&org.policy(id).await, was, "{id} after undo");
    }

    // The refused account was never reached: re-read as the emulator's admin.
    org.em.relax_iam();
    let admin = org.em.sdk(org.em.account(&org.refused).await).await;
    let p = aws_sdk_iam::Client::new(&admin)
        .get_account_password_policy()
        .send()
        .await
        .unwrap();
    assert_eq!(fields(&p.password_policy().cloned()), weak);
}

/// A weak password policy of the account's own, with fields 1.7/1.8 must keep.
async fn weak_password_policy(iam: &aws_sdk_iam::Client) {
    iam.update_account_password_policy()
        .minimum_password_length(8)
        .password_reuse_prevention(3)
        .require_symbols(true)
        .max_password_age(90)
        .send()
        .await
        .unwrap();
}

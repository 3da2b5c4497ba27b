//! The guided session, end to end in a real terminal (tmux): apply one control, skip one,
//! quit at the third, and check the account, the summary and the journal.

use crate::harness::{endpoint, TestAccount, REGION};
use crate::tmux::{cis_fix_line, Tmux};

#[tokio::test]
async fn guide_applies_skips_adjusts_and_quits_with_a_journaled_summary() {
    let acct = TestAccount::new().await;
    acct.iam()
        .update_account_password_policy()
        .minimum_password_length(8)
        .send()
        .await
        .unwrap();
    let group = crate::security_groups::open_group(&acct).await;
    let workdir = tempfile::tempdir().unwrap();
    let cmd = cis_fix_line(
        &acct,
        &endpoint(),
        workdir.path(),
        &format!("guide -c 1.7 -c 5.1.1 -c 5.3 -c 5.5 --regions {REGION}"),
        "GUIDE_EXIT",
    );
    let t = Tmux::start(&format!("cis-fix-guide-{}", acct.id), &cmd);

    // 1.7: apply, but first type the wrong account: refused, asked again.
    let s = t.wait_for("What now?", 1);
    assert!(s.contains(&format!("account   {}", acct.id)), "{s}");
    // "Why" is the risk the control addresses (the catalog's rationale), not the change's.
    assert!(
        s.contains("Why: Short passwords fall quickly to guessing and offline cracking"),
        "{s}"
    );
    assert!(s.contains("8 → 14"), "{s}");
    t.keys(&["Enter"]);
    t.wait_for("to confirm", 1);
    t.keys(&["999999999999", "Enter"]);
    let s = t.wait_for("What now?", 2);
    assert!(
        s.contains("that is not this account; nothing applied"),
        "{s}"
    );
    t.keys(&["Enter"]);
    t.wait_for("to confirm", 2);
    // Choosing apply and typing the account is the one confirmation of a reversible change.
    t.keys(&[&acct.id, "Enter"]);
    // 5.1.1: skip.
    t.wait_for("What now?", 3);
    t.keys(&["Down", "Enter"]);
    // 5.3: adjust the trusted range, see the new diff, apply (its own typed question: it is
    // destructive; the account is not asked again).
    t.wait_for("What now?", 4);
    t.keys(&["Down", "Down", "Enter"]);
    t.wait_for("Trusted CIDR ranges", 1);
    t.keys(&["10.0.0.0/8", "Enter"]);
    let s = t.wait_for("What now?", 5);
    assert!(
        s.contains("CidrIpv4=10.0.0.0/8"),
        "the re-plan shows the trusted rule: {s}"
    );
    t.keys(&["Enter"]);
    t.wait_for("Apply it?", 1);
    // A single key answers nothing: only the typed word and Enter do.
    t.keys(&["y"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        t.screen().matches("What now?").count(),
        5,
        "y alone answered"
    );
    t.keys(&["Enter"]);
    // 5.5: quit, then keep the adjusted parameter.
    t.wait_for("What now?", 6);
    t.keys(&["Down", "Down", "Down", "Down", "Enter"]);
    t.wait_for("Write cis-fix.toml?", 1);
    t.keys(&["yes", "Enter"]);
    let s = t.wait_for("GUIDE_EXIT=", 1);
    // Skipping 5.1.1 declined its change: exit 4, as a declined apply.
    assert!(s.contains("GUIDE_EXIT=4"), "{s}");
    // The counted summary apply and undo print.
    assert_eq!(summary_row(&s, "applied, verified"), 2, "{s}");
    assert_eq!(summary_row(&s, "declined"), 1, "{s}");
    assert!(
        s.contains("You quit half-way: everything applied so far is journaled."),
        "{s}"
    );

    // The saved settings.
    let saved = std::fs::read_to_string(workdir.path().join("cis-fix.toml")).unwrap();
    assert!(
        saved.contains("trusted_cidrs = [\"10.0.0.0/8\"]"),
        "{saved}"
    );
    // The account, re-read: 1.7 and 5.3 applied, 5.1.1 untouched.
    let p = acct.password_policy().await.expect("a password policy");
    assert_eq!(p.minimum_password_length(), Some(14));
    assert!(!acct.ebs_default(REGION).await);
    let rules = acct
        .ec2(REGION)
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(&group)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ssh: Vec<Option<&str>> = rules
        .security_group_rules()
        .iter()
        .filter(|r| r.from_port() == Some(22))
        .map(|r| r.cidr_ipv4())
        .collect();
    assert!(
        ssh.contains(&Some("10.0.0.0/8")) && !ssh.contains(&Some("0.0.0.0/0")),
        "{ssh:?}"
    );
    // The journal: one run with both changes, which undo puts back.
    let hist: serde_json::Value =
        serde_json::from_str(&acct.run(&["history", "--json"]).stdout).unwrap();
    assert_eq!(hist.as_array().unwrap().len(), 1, "{hist}");
    assert_eq!(hist[0]["changes"], 2, "{hist}");
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    let p = acct.password_policy().await.expect("a password policy");
    assert_eq!(p.minimum_password_length(), Some(8));
}

/// The count on the summary row that starts with `what` (the last such row on the screen).
fn summary_row(screen: &str, what: &str) -> usize {
    let summary = screen.rsplit("Summary:").next().unwrap_or_default();
    let row = summary
        .lines()
        .find(|l| l.trim_start().starts_with(what))
        .unwrap_or_else(|| panic!("no {what:?} row in the summary: {screen}"));
    row[row.find(what).unwrap() + what.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count on {row:?}"))
}

/// Declining a change at its own question: counted as declined in the same summary apply
/// prints, exit 4 as a declined apply, and the account keeps what was declined.
#[tokio::test]
async fn guide_declining_a_change_counts_it_and_exits_4() {
    let acct = TestAccount::new().await;
    acct.iam()
        .update_account_password_policy()
        .minimum_password_length(8)
        .send()
        .await
        .unwrap();
    let group = crate::security_groups::open_group(&acct).await;
    let workdir = tempfile::tempdir().unwrap();
    let cmd = cis_fix_line(
        &acct,
        &endpoint(),
        workdir.path(),
        &format!("guide -c 1.7 -c 5.3 --regions {REGION}"),
        "GUIDE_EXIT",
    );
    let t = Tmux::start(&format!("cis-fix-guide-no-{}", acct.id), &cmd);
    // 1.7: apply, with the account typed once.
    t.wait_for("What now?", 1);
    t.keys(&["Enter"]);
    t.wait_for("to confirm", 1);
    t.keys(&[&acct.id, "Enter"]);
    // 5.3: apply, then no at the change's own question.
    t.wait_for("What now?", 2);
    t.keys(&["Enter"]);
    t.wait_for("Apply it?", 1);
    t.keys(&["no", "Enter"]);
    let s = t.wait_for("GUIDE_EXIT=", 1);
    assert!(s.contains("GUIDE_EXIT=4"), "{s}");
    assert_eq!(summary_row(&s, "applied, verified"), 1, "{s}");
    assert_eq!(summary_row(&s, "declined"), 1, "{s}");
    // The account: 1.7 applied, the declined rule still open.
    let p = acct.password_policy().await.expect("a password policy");
    assert_eq!(p.minimum_password_length(), Some(14));
    let rules = acct
        .ec2(REGION)
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(&group)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(rules
        .security_group_rules()
        .iter()
        .any(|r| r.from_port() == Some(22) && r.cidr_ipv4() == Some("0.0.0.0/0")));
}

#[tokio::test]
async fn guide_without_a_terminal_refuses() {
    let acct = TestAccount::new().await;
    acct.run(&["guide", "-c", "1.7"])
        .assert_one_line_error(4, "needs a terminal");
}

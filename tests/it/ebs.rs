//! EBS default encryption (v5.0 5.1.1): a regional control, per region, reversible.

use crate::harness::{plan_json, statuses, TestAccount};

#[tokio::test]
async fn apply_in_selected_regions_only_and_undo() {
    let acct = TestAccount::new().await;
    let sel = [
        "--control",
        "ebs-default-encryption",
        "--regions",
        "eu-west-1,us-east-1",
    ];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let st = statuses(&plan_json(&plan));
    assert_eq!(st.len(), 2);
    assert!(st.iter().all(|s| s.2 == "change"), "{st:?}");

    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(acct.ebs_default("eu-west-1").await);
    assert!(acct.ebs_default("us-east-1").await);
    assert!(
        !acct.ebs_default("ap-southeast-2").await,
        "unselected region untouched"
    );

    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(!acct.ebs_default("eu-west-1").await);
    assert!(!acct.ebs_default("us-east-1").await);
}

#[tokio::test]
async fn undo_of_one_change_leaves_the_others() {
    let acct = TestAccount::new().await;
    let sel = ["--control", "5.1.1", "--regions", "eu-west-1,us-east-1"];
    assert_eq!(acct.run(&[&["apply", "--yes"][..], &sel].concat()).code, 0);
    let hist = acct.run(&["history", "--json"]);
    let runs: serde_json::Value = serde_json::from_str(&hist.stdout).unwrap();
    let run_id = runs[0]["run_id"].as_str().unwrap().to_string();
    let detail: serde_json::Value =
        serde_json::from_str(&acct.run(&["history", &run_id, "--json"]).stdout).unwrap();
    let change = detail["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["region"] == "us-east-1")
        .unwrap()["change"]
        .to_string();
    let undo = acct.run(&["undo", &run_id, "--change", &change, "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(!acct.ebs_default("us-east-1").await);
    assert!(acct.ebs_default("eu-west-1").await, "other change kept");
}

#[tokio::test]
async fn undo_of_a_target_already_back_counts_as_undone() {
    let acct = TestAccount::new().await;
    let sel = ["--control", "5.1.1", "--regions", "eu-west-1,us-east-1"];
    assert_eq!(acct.run(&[&["apply", "--yes"][..], &sel].concat()).code, 0);
    // Someone turns it off again by hand in one region.
    acct.ec2("us-east-1")
        .disable_ebs_encryption_by_default()
        .send()
        .await
        .unwrap();
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(
        undo.stdout.contains("already in its previous state"),
        "{}",
        undo.stdout
    );
    assert!(!acct.ebs_default("eu-west-1").await);
    let again = acct.run(&["undo", "--yes"]);
    assert_eq!(again.code, 0);
    assert!(again.stdout.contains("Nothing to undo"), "{}", again.stdout);
}

#[tokio::test]
async fn all_regions_skips_regions_not_enabled_and_other_partitions() {
    let acct = TestAccount::new().await;
    let out = acct.run(&[
        "plan",
        "--control",
        "5.1.1",
        "--regions",
        "all",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = plan_json(&out);
    let regions: Vec<&str> = doc["plan"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for r in ["eu-west-1", "us-east-1", "ap-southeast-2"] {
        assert!(regions.contains(&r), "{r} missing from {regions:?}");
    }
    // The emulator reports ap-east-1 as not opted in, and lists GovCloud and China.
    for r in ["ap-east-1", "me-south-1", "us-gov-west-1", "cn-north-1"] {
        assert!(!regions.contains(&r), "{r} should be skipped: {regions:?}");
    }
    assert_eq!(statuses(&doc).len(), regions.len(), "one item per region");
    // A region that is not enabled is refused by name.
    acct.run(&["plan", "--control", "5.1.1", "--regions", "ap-east-1"])
        .assert_one_line_error(1, "region 'ap-east-1' does not exist or is not enabled");
}

//! EC2 IMDSv2 only (v5.0 5.7): per instance, plus the region's account default for new
//! instances (which the emulator lacks: GetInstanceMetadataDefaults answers 500 there, so
//! that item is `unknown`; its logic is unit-tested with canned answers in the control).

use aws_sdk_ec2::types::{HttpTokensState, InstanceMetadataOptionsRequest, InstanceType};

use crate::harness::{plan_json, TestAccount, REGION};

async fn launch(acct: &TestAccount, tokens: HttpTokensState) -> String {
    let out = acct
        .ec2(REGION)
        .run_instances()
        .image_id("ami-12345678")
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .http_tokens(tokens)
                .build(),
        )
        .send()
        .await
        .expect("run_instances");
    out.instances()[0].instance_id().unwrap().to_string()
}

/// (HttpTokens, HttpEndpoint) as the emulator reports them now.
async fn metadata(acct: &TestAccount, id: &str) -> (String, String) {
    let out = acct
        .ec2(REGION)
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .expect("describe_instances");
    let mo = out.reservations()[0].instances()[0]
        .metadata_options()
        .expect("MetadataOptions")
        .clone();
    (
        mo.http_tokens().unwrap().as_str().to_string(),
        mo.http_endpoint().unwrap().as_str().to_string(),
    )
}

fn item<'a>(doc: &'a serde_json::Value, target: &str) -> &'a serde_json::Value {
    doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["target"] == target)
        .unwrap_or_else(|| panic!("no item for {target}: {doc:#}"))
}

#[tokio::test]
async fn requires_imdsv2_on_instances_and_undo_restores() {
    let acct = TestAccount::new().await;
    let open = launch(&acct, HttpTokensState::Optional).await;
    let locked = launch(&acct, HttpTokensState::Required).await;
    let sel = ["--control", "5.7", "--regions", REGION];

    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let doc = plan_json(&plan);
    let items = doc["plan"]["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        3,
        "two instances and the account default: {doc:#}"
    );
    assert!(items.iter().all(|i| i["control"] == "ec2-imdsv2"));

    let o = item(&doc, &format!("instance {open}"));
    assert_eq!(o["status"], "change", "{o:#}");
    assert_eq!(
        o["before"],
        serde_json::json!({ "HttpTokens": "optional", "HttpEndpoint": "enabled" })
    );
    assert_eq!(o["risk"], "medium");
    assert_eq!(o["calls"][0]["action"], "ec2:ModifyInstanceMetadataOptions");
    assert!(o["notes"].to_string().contains("role credentials"), "{o:#}");
    let l = item(&doc, &format!("instance {locked}"));
    assert_eq!(l["status"], "compliant", "{l:#}");
    // The emulator lacks GetInstanceMetadataDefaults (HTTP 500): unknown, not an error.
    let d = item(&doc, "account default for new instances");
    assert_eq!(d["status"], "unknown", "{d:#}");
    assert!(
        d["summary"]
            .as_str()
            .unwrap()
            .contains("could not read the account default"),
        "{d:#}"
    );

    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(metadata(&acct, &open).await.0, "required");
    assert_eq!(metadata(&acct, &locked).await.0, "required");

    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(
        metadata(&acct, &open).await,
        ("optional".to_string(), "enabled".to_string())
    );
    assert_eq!(
        metadata(&acct, &locked).await.0,
        "required",
        "untouched instance"
    );
}

#[tokio::test]
async fn metadata_endpoint_disabled_counts_as_compliant() {
    let acct = TestAccount::new().await;
    let id = launch(&acct, HttpTokensState::Optional).await;
    acct.ec2(REGION)
        .modify_instance_metadata_options()
        .instance_id(&id)
        .http_endpoint(aws_sdk_ec2::types::InstanceMetadataEndpointState::Disabled)
        .send()
        .await
        .expect("modify_instance_metadata_options");
    let plan = acct.run(&[
        "plan",
        "--control",
        "ec2-imdsv2",
        "--regions",
        REGION,
        "--format",
        "json",
    ]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let i = item(&doc, &format!("instance {id}"));
    assert_eq!(i["status"], "compliant", "{i:#}");
    assert!(i["summary"].as_str().unwrap().contains("disabled"), "{i:#}");
}

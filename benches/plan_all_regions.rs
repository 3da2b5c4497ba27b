//! Benchmark: plan every control of CIS 5.0 across every enabled region of a fresh emulated
//! account, and report wall time and the AWS calls made (total and per operation).
//!
//!     scripts/emulator.sh run cargo bench --bench plan_all_regions
//!
//! Not a timed test: it measures and prints, it does not assert a time. The first pass is
//! cold (the emulator sets up each region on first touch); the later passes are warm.

use std::collections::BTreeMap;
use std::time::Instant;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use cis_fix::aws::{AwsContext, AwsOptions, RegionSpec};
use cis_fix::catalog::{Benchmark, Catalog, Selection};
use cis_fix::engine::{build_plan, DEFAULT_CONCURRENCY};
use cis_fix::remediations::Params;

const PASSES: usize = 3;

#[tokio::main]
async fn main() {
    let Ok(endpoint) = std::env::var("CIS_FIX_TEST_ENDPOINT") else {
        eprintln!("CIS_FIX_TEST_ENDPOINT is not set: run `scripts/emulator.sh run cargo bench --bench plan_all_regions`");
        std::process::exit(1);
    };
    let region = "us-east-1";
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
        .load()
        .await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let account = format!("{:012}", 200_000_000_000u128 + nanos % 700_000_000_000);
    let c = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/bench"))
        .role_session_name("bench")
        .send()
        .await
        .expect("assume role")
        .credentials
        .expect("credentials");
    // The library reads credentials through the standard chain, as the binary does.
    std::env::set_var("AWS_ACCESS_KEY_ID", c.access_key_id());
    std::env::set_var("AWS_SECRET_ACCESS_KEY", c.secret_access_key());
    std::env::set_var("AWS_SESSION_TOKEN", c.session_token());
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_MAX_ATTEMPTS", "1");

    let cat = Catalog::embedded().expect("catalog");
    let entries = cat.resolve(&Selection::default()).expect("selection");
    let concurrency = std::env::var("CIS_FIX_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CONCURRENCY);
    println!(
        "plan_all_regions: CIS 5.0, {} controls, account {account}, concurrency {concurrency}",
        entries.len()
    );
    for pass in 1..=PASSES {
        let opts = AwsOptions {
            region: Some(region.into()),
            endpoint_url: Some(endpoint.clone()),
            ..Default::default()
        };
        let started = Instant::now();
        let aws = AwsContext::connect(&opts).await.expect("connect");
        let regions = aws
            .resolve_regions(&RegionSpec::All)
            .await
            .expect("regions");
        let plan = build_plan(
            &aws,
            Benchmark::V5_0,
            &entries,
            &regions,
            &Params::default(),
            concurrency,
            &cis_fix::engine::Progress::hidden(),
        )
        .await;
        let wall = started.elapsed();
        let mut per_op: BTreeMap<String, usize> = BTreeMap::new();
        for call in aws.call_log().calls() {
            *per_op.entry(call).or_default() += 1;
        }
        let c = plan.counts();
        println!(
            "pass {pass} ({}): {:>7.1} ms wall, {} regions, {} AWS calls in total ({} for the plan), {} items: {} change, {} compliant, {} error",
            if pass == 1 { "cold" } else { "warm" },
            wall.as_secs_f64() * 1000.0,
            regions.len(),
            aws.call_log().count(),
            plan.api_calls,
            plan.items.len(),
            c.change,
            c.compliant,
            c.error
        );
        if pass == 1 {
            for (op, n) in &per_op {
                println!("    {n:>4}  {op}");
            }
        }
    }
}

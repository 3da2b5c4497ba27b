//! The emulator floor for `scripts/bench`: the median latency of one AWS call, sent one at a
//! time through the same SDK stack cis-fix uses, against the account the benchmark just
//! measured. The floor of a run is its number of calls × this median: what the calls would
//! cost with no waiting and no concurrency. Not a timed test; run by `scripts/bench`.
//!
//! Needs CIS_FIX_TEST_ENDPOINT, AWS_ACCESS_KEY_ID/SECRET/SESSION_TOKEN and AWS_REGION.

use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};

const ROUNDS: usize = 25;

#[tokio::main]
async fn main() {
    let Ok(endpoint) = std::env::var("CIS_FIX_TEST_ENDPOINT") else {
        eprintln!("CIS_FIX_TEST_ENDPOINT is not set: run scripts/bench");
        std::process::exit(1);
    };
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region))
        .endpoint_url(&endpoint)
        .load()
        .await;
    let sts = aws_sdk_sts::Client::new(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let kms = aws_sdk_kms::Client::new(&sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let trail = aws_sdk_cloudtrail::Client::new(&sdk);
    // A mix of the light reads cis-fix makes, across the protocols it speaks (query, EC2,
    // JSON 1.1); one warm-up round first.
    let mut samples: Vec<Duration> = Vec::new();
    for round in 0..=ROUNDS {
        let mut time = |d: Duration| {
            if round > 0 {
                samples.push(d);
            }
        };
        let t = Instant::now();
        let _ = sts.get_caller_identity().send().await;
        time(t.elapsed());
        let t = Instant::now();
        let _ = iam.get_account_summary().send().await;
        time(t.elapsed());
        let t = Instant::now();
        let _ = ec2.get_ebs_encryption_by_default().send().await;
        time(t.elapsed());
        let t = Instant::now();
        let _ = kms.list_aliases().limit(1).send().await;
        time(t.elapsed());
        let t = Instant::now();
        let _ = logs.describe_metric_filters().limit(1).send().await;
        time(t.elapsed());
        let t = Instant::now();
        let _ = trail.get_trail_status().name("none").send().await;
        time(t.elapsed());
    }
    samples.sort();
    let median = samples[samples.len() / 2];
    println!(
        "{{\"median_ms\": {:.3}, \"samples\": {}}}",
        median.as_secs_f64() * 1000.0,
        samples.len()
    );
}

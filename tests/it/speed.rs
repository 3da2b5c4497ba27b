//! Speed at account scale, as far as a test can say it without timing anything (figures are
//! the benchmark's, scripts/bench): no request is sent twice for the same data in a run, and
//! throttling slows only the budget of the service and region that was throttled.

use std::collections::HashMap;

use crate::harness::{endpoint, TestAccount};
use crate::idempotency::seed_misconfigured;
use crate::proxy::{self, Fault, FaultRule};

/// Requests that repeat by design: the credential report is polled until IAM has made it.
const POLLED: &[&str] = &["GenerateCredentialReport"];

#[tokio::test]
async fn a_plan_of_every_control_never_sends_the_same_request_twice() {
    let acct = TestAccount::new().await;
    seed_misconfigured(&acct).await;
    let p = proxy::start(&endpoint());
    let out = acct.run_via(
        &p.url,
        &[
            "plan",
            "--regions",
            "eu-west-1,us-east-1",
            "--format",
            "json",
        ],
    );
    assert!(out.code == 0 || out.code == 2, "{}", out.stderr);
    let calls = p.calls_by(acct.creds.access_key_id());
    assert!(calls.len() > 50, "too few calls seen: {}", calls.len());
    let mut seen: HashMap<(String, String, String, String, String), usize> = HashMap::new();
    for c in &calls {
        if POLLED.contains(&c.operation.as_str()) {
            continue;
        }
        *seen
            .entry((
                c.service.clone(),
                c.region.clone(),
                c.operation.clone(),
                c.path.clone(),
                c.body.clone(),
            ))
            .or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:#?}");
}

#[tokio::test]
async fn throttling_in_one_region_backs_off_that_budget_and_the_plan_completes() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    // EC2 in eu-west-1 answers "RequestLimitExceeded" three times.
    p.inject(FaultRule::new(
        "DescribeSecurityGroups",
        Some("eu-west-1"),
        Fault::Throttle,
        Some(3),
    ));
    let out = acct.run_via(
        &p.url,
        &[
            "plan",
            "-v",
            "-c",
            "5.4",
            "--regions",
            "eu-west-1,us-east-1",
            "--max-attempts",
            "5",
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // `-v` names the budget that backed off, and only that one.
    assert!(
        out.stderr.contains("ec2/eu-west-1"),
        "no budget named in the log: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("ec2/us-east-1"), "{}", out.stderr);
}

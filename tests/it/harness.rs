//! Test harness: a fresh emulated AWS account per test, and a runner for the real binary.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

pub const REGION: &str = "eu-west-1";

/// The emulator's endpoint. Panics with instructions when the tests were started without it,
/// so a missing emulator can never look like a pass.
pub fn endpoint() -> String {
    std::env::var("CIS_FIX_TEST_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "CIS_FIX_TEST_ENDPOINT is not set: these tests need the moto emulator. \
             Run them with `scripts/test` (it starts moto and sets the variable)."
        )
    })
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A 12-digit account id that no other test (in this or an earlier run against the same
/// emulator) uses, and never moto's default 123456789012.
fn unique_account_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let mixed = (nanos / 1000)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(n.wrapping_mul(1442695040888963407))
        .wrapping_add(u64::from(std::process::id()) << 20);
    format!("{:012}", 100_000_000_000 + (mixed >> 8) % 800_000_000_000)
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The failure contract: exactly one line on stderr, starting with "error:", no panic.
    pub fn assert_one_line_error(&self, code: i32, contains: &str) {
        assert_eq!(
            self.code, code,
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one line on stderr, got:\n{}",
            self.stderr
        );
        assert!(lines[0].starts_with("error: "), "{}", lines[0]);
        assert!(
            lines[0].contains(contains),
            "expected {contains:?} in: {}",
            lines[0]
        );
    }
}

/// A fresh emulated account (sts:AssumeRole into a unique account id), with its own
/// credentials and its own journal directory.
pub struct TestAccount {
    pub id: String,
    pub creds: Credentials,
    pub sdk: SdkConfig,
    pub state: tempfile::TempDir,
}

impl TestAccount {
    pub async fn new() -> TestAccount {
        let ep = endpoint();
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&ep)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await;
        let id = unique_account_id();
        let c = aws_sdk_sts::Client::new(&base)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{id}:role/cis-fix-test"))
            .role_session_name("cis-fix-test")
            .send()
            .await
            .expect("assume role in the emulator")
            .credentials
            .expect("credentials");
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "moto-assumed",
        );
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&ep)
            .credentials_provider(creds.clone())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        TestAccount {
            id,
            creds,
            sdk,
            state: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk)
    }

    /// The account password policy, re-read; `None` when the account has none.
    pub async fn password_policy(&self) -> Option<aws_sdk_iam::types::PasswordPolicy> {
        match self.iam().get_account_password_policy().send().await {
            Ok(out) => out.password_policy,
            Err(e) => {
                let e = e.into_service_error();
                assert!(e.is_no_such_entity_exception(), "unexpected error: {e:?}");
                None
            }
        }
    }

    /// Whether EBS encryption by default is on in `region`, re-read.
    pub async fn ebs_default(&self, region: &str) -> bool {
        self.ec2(region)
            .get_ebs_encryption_by_default()
            .send()
            .await
            .unwrap()
            .ebs_encryption_by_default()
            .unwrap()
    }

    /// This account's SDK configuration with another region, for any service's
    /// `Client::new`.
    pub fn sdk_in(&self, region: &str) -> SdkConfig {
        self.sdk
            .to_builder()
            .region(Region::new(region.to_string()))
            .build()
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk_in(region))
    }

    /// S3 with path-style addressing: the emulator's endpoint has no per-bucket host names.
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.sdk_in(region))
                .force_path_style(true)
                .build(),
        )
    }

    pub fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        aws_sdk_cloudtrail::Client::new(&self.sdk_in(region))
    }

    pub fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.sdk_in(region))
    }

    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.sdk_in(region))
    }

    /// The CloudWatch Logs groups in `region` whose names start with `prefix`, re-read.
    pub async fn log_groups(
        &self,
        region: &str,
        prefix: &str,
    ) -> Vec<aws_sdk_cloudwatchlogs::types::LogGroup> {
        self.logs(region)
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .send()
            .await
            .unwrap()
            .log_groups
            .unwrap_or_default()
    }

    /// The bucket's Block Public Access settings, re-read.
    pub async fn public_access_block(
        &self,
        region: &str,
        bucket: &str,
    ) -> aws_sdk_s3::types::PublicAccessBlockConfiguration {
        self.s3(region)
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .unwrap()
            .public_access_block_configuration
            .unwrap()
    }

    /// Creates the bucket `{prefix}-{account id}` in `region` and returns its name. Bucket
    /// names are global across the emulator's accounts, hence the account id.
    pub async fn create_bucket(&self, region: &str, prefix: &str) -> String {
        let name = format!("{prefix}-{}", self.id);
        let mut req = self.s3(region).create_bucket().bucket(&name);
        // us-east-1 is the one region S3 refuses as a location constraint.
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        req.send().await.expect("create bucket");
        name
    }

    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// The binary with this account's credentials and nothing from the developer's own
    /// AWS configuration.
    pub fn command(&self, endpoint: &str) -> Command {
        let mut cmd = base_command();
        cmd.env("AWS_ACCESS_KEY_ID", self.creds.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", self.creds.secret_access_key())
            .env(
                "AWS_SESSION_TOKEN",
                self.creds.session_token().unwrap_or_default(),
            )
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("CIS_FIX_STATE_DIR", self.state_dir());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run(self.command(&endpoint()), args)
    }

    pub fn run_via(&self, endpoint: &str, args: &[&str]) -> Output {
        run(self.command(endpoint), args)
    }

    /// The binary run as an IAM user of this account, with that user's own access key (no
    /// session token), sharing this account's journal.
    pub fn run_as_user(&self, key_id: &str, secret: &str, args: &[&str]) -> Output {
        let mut cmd = base_command();
        cmd.env("AWS_ACCESS_KEY_ID", key_id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("CIS_FIX_STATE_DIR", self.state_dir());
        run(cmd, args)
    }
}

/// The binary with a clean environment: no credentials at all. `CIS_FIX_TEST_BIN` runs the
/// tests against another build (e.g. an older one, to show a new test failing there first).
pub fn base_command() -> Command {
    let bin = std::env::var_os("CIS_FIX_TEST_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_cis-fix").into());
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/nonexistent/cis-fix-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/cis-fix-test-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // moto answers unimplemented calls with 500s; don't spend seconds retrying them.
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("NO_COLOR", "1")
        // Away from the checkout, so a developer's own ./cis-fix.toml is never picked up.
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null());
    cmd
}

pub fn run(mut cmd: Command, args: &[&str]) -> Output {
    let out = cmd.args(args).output().expect("run cis-fix");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The plan JSON (`plan --format json`) of a run.
pub fn plan_json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("plan JSON: {e}\n{}\n{}", out.stdout, out.stderr))
}

/// (control, region, status) of every item in a plan JSON document.
pub fn statuses(doc: &serde_json::Value) -> Vec<(String, Option<String>, String)> {
    doc["plan"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["control"].as_str().unwrap().to_string(),
                i["region"].as_str().map(str::to_string),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The first plan item of `control`; panics naming the control when there is none.
pub fn plan_item<'a>(doc: &'a serde_json::Value, control: &str) -> &'a serde_json::Value {
    doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["control"] == control)
        .unwrap_or_else(|| panic!("no item for {control}: {doc}"))
}

/// The API actions a plan item would call, in order.
pub fn call_actions(item: &serde_json::Value) -> Vec<&str> {
    item["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect()
}

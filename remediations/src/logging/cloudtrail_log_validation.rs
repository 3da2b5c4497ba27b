//! CIS 5.0 3.2: CloudTrail log file validation is enabled, on every trail.
//!
//! One finding per trail (shadow copies of a multi-region trail are the same ARN, listed
//! once). UpdateTrail only works in the trail's home region. An organization trail seen from
//! a member account is reported, not changed: only its management account can.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding};
use crate::resources::landing_zone;
use crate::resources::trails::str_field;
use crate::resources::trails::{label, trails, unique_by_arn, TrailInfo};

pub struct CloudtrailLogValidation;

const DESCRIPTION: Description = Description {
    slug: "cloudtrail-log-validation",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:GetEventSelectors",
        ],
    write_actions: &["cloudtrail:UpdateTrail"],
    change_profile: "low; reversible: undo turns validation off again on the trails it turned it on for; digest files add a little S3 storage",
};

fn target(t: &TrailInfo) -> String {
    format!("log file validation of {}", label(t))
}

fn state(t: &TrailInfo) -> Value {
    json!({ "Trail": t.arn, "HomeRegion": t.home_region, "LogFileValidationEnabled": t.log_file_validation })
}

#[async_trait]
impl Control for CloudtrailLogValidation {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    /// Every trail is judged, single-region ones included: the run's regions are read.
    fn reads_regions(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let all = trails(cx).await?;
        let account = &cx.aws.account.id;
        if all.is_empty() {
            return Ok(vec![Finding::blocked(
                "log file validation of CloudTrail trails",
                "no trail: validation is turned on once the multi-region trail exists (3.1 creates it with validation on)",
                &["cloudtrail-multi-region"],
            )]);
        }
        Ok(unique_by_arn(&all)
            .into_iter()
            .map(|t| {
                if t.log_file_validation {
                    Finding::compliant(target(t), "log file validation is on", state(t))
                } else if let Some(owner) = t.owned_by(account) {
                    landing_zone::manual(
                        target(t),
                        "log file validation is off",
                        &format!("trail {}", t.name),
                        &owner,
                        state(t),
                    )
                } else {
                    let mut after = state(t);
                    after["LogFileValidationEnabled"] = json!(true);
                    Finding::change(
                        target(t),
                        "log file validation is off",
                        Action::Update,
                        state(t),
                        after,
                        vec![ApiCall::new(
                            "cloudtrail:UpdateTrail",
                            json!({ "Name": t.arn, "Region": t.home_region, "EnableLogFileValidation": true }),
                        )],
                    )
                    .with_note("CloudTrail writes an hourly digest file next to the logs (small S3 storage cost).")
                }
            })
            .collect())
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        set(cx, &f.before, true).await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        _target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let on = previous["LogFileValidationEnabled"]
            .as_bool()
            .ok_or_else(|| {
                AwsError::new(
                    ErrorKind::Service,
                    "internal",
                    "internal: recorded state has no LogFileValidationEnabled",
                )
            })?;
        set(cx, previous, on).await
    }
}

async fn set(cx: &Cx<'_>, recorded: &Value, on: bool) -> Result<(), AwsError> {
    let arn = str_field(recorded, "Trail")?;
    let home = str_field(recorded, "HomeRegion")?;
    cx.aws
        .cloudtrail(home)
        .update_trail()
        .name(arn)
        .enable_log_file_validation(on)
        .send()
        .await
        .map_err(aws_err("cloudtrail:UpdateTrail"))?;
    Ok(())
}

//! CIS 5.0 5.1.1: EBS encryption by default is on in every region.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError};
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding};

pub struct EbsDefaultEncryption;

const DESCRIPTION: Description = Description {
    slug: "ebs-default-encryption",
    scope: Scope::Regional,
    kind: Kind::Fix,
    read_actions: &["ec2:GetEbsEncryptionByDefault"],
    write_actions: &[
            "ec2:EnableEbsEncryptionByDefault",
            "ec2:DisableEbsEncryptionByDefault",
        ],
    change_profile: "low; reversible per region (undo turns the default off again); existing volumes are not touched",
};

const TARGET: &str = "EBS encryption by default";

#[async_trait]
impl Control for EbsDefaultEncryption {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        let on = cx.reads.ebs_encryption_by_default(cx.aws, region).await?;
        let before = json!({ "EbsEncryptionByDefault": on });
        Ok(vec![if on {
            Finding::compliant(TARGET, "new EBS volumes are encrypted by default", before)
        } else {
            Finding::change(
                TARGET,
                "new EBS volumes are not encrypted by default",
                Action::Update,
                before,
                json!({ "EbsEncryptionByDefault": true }),
                vec![ApiCall::new(
                    "ec2:EnableEbsEncryptionByDefault",
                    Value::Null,
                )],
            )
            .with_note("Applies to volumes created from now on; existing volumes stay as they are.")
        }])
    }

    async fn apply(&self, cx: &Cx<'_>, region: Option<&str>, _f: &Finding) -> Result<(), AwsError> {
        cx.aws
            .ec2(region_of(region)?)
            .enable_ebs_encryption_by_default()
            .send()
            .await
            .map_err(aws_err("ec2:EnableEbsEncryptionByDefault"))?;
        Ok(())
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        region: Option<&str>,
        _t: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        if previous["EbsEncryptionByDefault"] == json!(false) {
            cx.aws
                .ec2(region_of(region)?)
                .disable_ebs_encryption_by_default()
                .send()
                .await
                .map_err(aws_err("ec2:DisableEbsEncryptionByDefault"))?;
        }
        Ok(())
    }
}

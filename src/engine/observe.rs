//! Re-reading one target with fresh (unshared) reads.

use crate::aws::{AwsContext, AwsError, ErrorKind};
use crate::plan::Finding;
use crate::remediations::{Carried, Control, Cx, Params, Reads};

/// What `control` sees now for `target` in `region`. `Ok(None)`: the target is gone.
/// `carried`: the reads an apply or undo run keeps from one change to the next.
pub async fn observe(
    aws: &AwsContext,
    params: &Params,
    control: &dyn Control,
    region: Option<&str>,
    target: &str,
    carried: &Carried,
) -> Result<Option<Finding>, AwsError> {
    let reads = Reads::carrying(carried, Some(target));
    let cx = Cx {
        aws,
        reads: &reads,
        params,
    };
    let findings = control.plan(&cx, region).await?;
    Ok(findings.into_iter().find(|f| f.target == target))
}

pub fn unknown_control(slug: &str) -> AwsError {
    AwsError::new(
        ErrorKind::Service,
        slug,
        format!("this cis-fix does not know control '{slug}'"),
    )
}

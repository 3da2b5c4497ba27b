//! The account's CloudTrail trails, as every logging and monitoring control sees them: read
//! once per phase, with one DescribeTrails per region: in the run's home region with shadow
//! trails included (so multi-region and organization trails homed elsewhere show up), and in
//! every other region the run covers without them (the trails homed there: a single-region
//! trail is listed only in its own region, which is where Prowler, Security Hub and Steampipe
//! find it too). Logging status and event selectors are read in each trail's home region.

use aws_sdk_cloudtrail::types::{AdvancedEventSelector, EventSelector, ReadWriteType};

use crate::aws::{aws_err, AwsError};
use crate::control::Cx;
use crate::plan::Finding;
use crate::resources::lanes::per_region;

/// One trail and the state the CIS controls look at.
#[derive(Debug, Clone)]
pub struct TrailInfo {
    pub name: String,
    pub arn: String,
    pub home_region: String,
    pub multi_region: bool,
    pub organization: bool,
    /// `None` when the status could not be read (an organization trail seen from a member).
    pub logging: Option<bool>,
    pub log_file_validation: bool,
    pub include_global_events: bool,
    pub kms_key_id: Option<String>,
    pub s3_bucket: Option<String>,
    pub log_group_arn: Option<String>,
    pub log_role_arn: Option<String>,
    /// Basic selectors as read (`None`: could not be read).
    pub event_selectors: Option<Vec<EventSelector>>,
    pub advanced_event_selectors: Vec<AdvancedEventSelector>,
}

impl TrailInfo {
    /// Whether the trail records read and write management events. A trail with no
    /// selectors at all records them (the service default); selectors that cannot be read
    /// (organization trails from a member account) are taken as the organization set them.
    pub fn management_read_write(&self) -> bool {
        let Some(basic) = &self.event_selectors else {
            return true;
        };
        if !self.advanced_event_selectors.is_empty() {
            return self.advanced_event_selectors.iter().any(|s| {
                let fields = s.field_selectors();
                let management = fields.iter().any(|f| {
                    f.field() == "eventCategory" && f.equals().iter().any(|v| v == "Management")
                });
                let read_only_filter = fields.iter().any(|f| f.field() == "readOnly");
                management && !read_only_filter
            });
        }
        basic.is_empty()
            || basic.iter().any(|s| {
                s.include_management_events().unwrap_or(true)
                    && s.read_write_type().is_none_or(|t| *t == ReadWriteType::All)
            })
    }

    /// The account the trail belongs to (from its ARN).
    pub fn owner_account(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or("")
    }

    /// Homed in `account` and changeable from it: not another account's organization trail,
    /// not a trail a landing zone owns ([`crate::resources::landing_zone::trail`]).
    pub fn changeable_from(&self, account: &str) -> bool {
        self.owned_by(account).is_none()
    }

    /// Who owns the trail when it is not `account`'s to change (see
    /// [`crate::resources::landing_zone`]).
    pub fn owned_by(&self, account: &str) -> Option<crate::resources::landing_zone::Owner> {
        crate::resources::landing_zone::trail(self, account)
    }

    /// The KMS key the trail encrypts with; an empty id (left by removing it) is none.
    pub fn kms_key(&self) -> Option<&str> {
        self.kms_key_id.as_deref().filter(|k| !k.is_empty())
    }

    /// CIS 3.1: multi-region, logging, read and write management events.
    pub fn satisfies_multi_region(&self) -> bool {
        self.multi_region && self.logging == Some(true) && self.management_read_write()
    }

    /// The CloudWatch Logs group the trail delivers to: (region, name).
    pub fn log_group(&self) -> Option<(String, String)> {
        // arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*
        let arn = self.log_group_arn.as_deref()?;
        let parts: Vec<&str> = arn.splitn(7, ':').collect();
        if parts.len() < 7 || parts[5] != "log-group" {
            return None;
        }
        let name = parts[6].strip_suffix(":*").unwrap_or(parts[6]);
        Some((parts[3].to_string(), name.to_string()))
    }
}

/// Every trail that applies to the account, read once per phase. A phase that re-reads one
/// trail's target (apply's check and verification, undo) lists the trails of that trail's
/// region and of the home region only (where every multi-region trail shows, with the
/// shadow trails), and reads the status and selectors of that trail and of the multi-region
/// trails alone (those decide [`cis_trail`]): one trail's change then costs the same on an
/// account with fifty trails in seventeen regions as with one.
pub async fn trails(cx: &Cx<'_>) -> Result<Vec<TrailInfo>, AwsError> {
    let mut regions = trail_regions(cx);
    let Some((name, region)) = focused_trail(cx, &regions) else {
        return cx
            .reads
            .shared("cloudtrail:trails", || async {
                let listed = listed_trails(cx, &regions).await?;
                read_trails(cx, listed, None).await
            })
            .await;
    };
    regions.retain(|r| *r == cx.aws.home_region || *r == region);
    let label = label_of(name, region);
    cx.reads
        .shared(&format!("cloudtrail:trails-for:{label}"), || async {
            let listed = listed_trails(cx, &regions).await?;
            read_trails(cx, listed, Some(label.clone())).await
        })
        .await
}

/// How a control's target names a trail: `trail NAME (REGION)`. A trail's name has no
/// spaces, so a target that ends with a trail's label is about that trail.
pub fn label(t: &TrailInfo) -> String {
    label_of(&t.name, &t.home_region)
}

fn label_of(name: &str, home_region: &str) -> String {
    format!("trail {name} ({home_region})")
}

/// The trail the CIS logging and monitoring controls build on: multi-region, logging, with
/// management events; among several, one that delivers to CloudWatch Logs, then one homed in
/// this account (not an organization trail), then by name for a stable choice.
pub fn cis_trail(trails: &[TrailInfo]) -> Option<&TrailInfo> {
    trails
        .iter()
        .filter(|t| t.satisfies_multi_region())
        .min_by_key(|t| (t.log_group_arn.is_none(), t.organization, t.name.clone()))
}

/// [`cis_trail`], or else an organization trail seen from a member account whose logging
/// status cannot be read there: the organization's management account runs it, so the
/// logging controls take it as satisfying 3.1 (and can't change it from here).
pub fn cis_or_organization_trail(trails: &[TrailInfo]) -> Option<&TrailInfo> {
    cis_trail(trails).or_else(|| {
        trails
            .iter()
            .filter(|t| {
                t.organization && t.multi_region && t.logging.is_none() && t.management_read_write()
            })
            .min_by_key(|t| t.name.clone())
    })
}

/// The trail a control that builds on 3.1 works on ([`cis_or_organization_trail`]), or,
/// while there is none, the finding that the control waits for 3.1: `subject` is its target
/// and `why` its summary.
pub async fn trail_or_blocked(
    cx: &Cx<'_>,
    subject: &str,
    why: impl Into<String>,
) -> Result<Result<TrailInfo, Finding>, AwsError> {
    let all = trails(cx).await?;
    Ok(match cis_or_organization_trail(&all) {
        Some(t) => Ok(t.clone()),
        None => Err(Finding::blocked(subject, why, &["cloudtrail-multi-region"])),
    })
}

/// Trails listed once each (the read already lists each ARN once; this guards callers that
/// merge several reads).
pub fn unique_by_arn(trails: &[TrailInfo]) -> Vec<&TrailInfo> {
    let mut seen = std::collections::BTreeSet::new();
    trails
        .iter()
        .filter(|t| seen.insert(t.arn.clone()))
        .collect()
}

/// The regions trails are read in: the home region first, then every other region the run
/// covers.
pub fn trail_regions(cx: &Cx<'_>) -> Vec<String> {
    cx.run_regions()
}

/// DescribeTrails in one region, once per phase: with shadow trails in the home region, only
/// the trails homed there elsewhere.
async fn describe_trails(
    cx: &Cx<'_>,
    region: &str,
) -> Result<Vec<aws_sdk_cloudtrail::types::Trail>, AwsError> {
    let shadow = region == cx.aws.home_region;
    cx.reads
        .shared(&format!("cloudtrail:DescribeTrails:{region}"), || async {
            let out = cx
                .aws
                .cloudtrail(region)
                .describe_trails()
                .include_shadow_trails(shadow)
                .send()
                .await
                .map_err(aws_err("cloudtrail:DescribeTrails"))?;
            Ok(out.trail_list().to_vec())
        })
        .await
}

/// The trail (name, home region) a focused target names, when it ends with a trail's label
/// (`… trail NAME (REGION)`) and the run covers that region.
fn focused_trail<'a>(cx: &'a Cx<'_>, regions: &[String]) -> Option<(&'a str, &'a str)> {
    let (rest, region) = cx.reads.focus()?.strip_suffix(')')?.rsplit_once(" (")?;
    let name = rest.rsplit_once("trail ")?.1;
    (!name.is_empty() && !name.contains(' ') && regions.iter().any(|r| r == region))
        .then_some((name, region))
}

/// Every trail listed in `regions` once, with its home region.
async fn listed_trails(
    cx: &Cx<'_>,
    regions: &[String],
) -> Result<Vec<(String, aws_sdk_cloudtrail::types::Trail)>, AwsError> {
    let lists = futures::future::join_all(regions.iter().map(|r| describe_trails(cx, r))).await;
    let mut listed = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (region, list) in regions.iter().zip(lists) {
        for t in list? {
            // A trail listed in several regions (a multi-region trail homed outside the home
            // region, listed there too) is read once.
            if t.trail_arn().is_some_and(|a| seen.insert(a.to_string())) {
                let home = t.home_region().unwrap_or(region).to_string();
                listed.push((home, t));
            }
        }
    }
    Ok(listed)
}

/// The listed trails with their status and selectors: every one, or with a `focus` label
/// that trail and the multi-region ones.
async fn read_trails(
    cx: &Cx<'_>,
    listed: Vec<(String, aws_sdk_cloudtrail::types::Trail)>,
    focus: Option<String>,
) -> Result<Vec<TrailInfo>, AwsError> {
    let wanted = |(home, t): &(String, aws_sdk_cloudtrail::types::Trail)| match &focus {
        None => true,
        Some(l) => {
            t.is_multi_region_trail().unwrap_or(false)
                || *l == label_of(t.name().unwrap_or_default(), home)
        }
    };
    // Each trail's two reads depend on nothing but the listing: a few trails at once in each
    // trail's home region (where its reads go, paced by that region's CloudTrail budget).
    let reads: Vec<_> = listed
        .iter()
        .filter(|l| wanted(l))
        .map(|(home, t)| (home.as_str(), read_trail(cx, home, t)))
        .collect();
    let mut trails = Vec::new();
    for t in per_region(reads, TRAIL_READS_AT_ONCE).await {
        trails.extend(t?);
    }
    trails.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(trails)
}

/// Trails read at once in one region (two calls each, sent together).
const TRAIL_READS_AT_ONCE: usize = 8;

/// One listed trail, homed in `home_region`, with its status and event selectors (read
/// together, once per phase: [`trails`] and a focused re-read share them); `None` for a
/// listing entry without a name or ARN.
async fn read_trail(
    cx: &Cx<'_>,
    home_region: &str,
    t: &aws_sdk_cloudtrail::types::Trail,
) -> Result<Option<TrailInfo>, AwsError> {
    let (Some(name), Some(arn)) = (t.name(), t.trail_arn()) else {
        return Ok(None);
    };
    let organization = t.is_organization_trail().unwrap_or(false);
    let (logging, event_selectors, advanced_event_selectors) = cx
        .reads
        .shared(&format!("cloudtrail:trail-state:{arn}"), || {
            read_state(cx, home_region, arn, organization)
        })
        .await?;
    Ok(Some(TrailInfo {
        name: name.to_string(),
        arn: arn.to_string(),
        home_region: home_region.to_string(),
        multi_region: t.is_multi_region_trail().unwrap_or(false),
        organization,
        logging,
        log_file_validation: t.log_file_validation_enabled().unwrap_or(false),
        include_global_events: t.include_global_service_events().unwrap_or(false),
        kms_key_id: t.kms_key_id().map(str::to_string),
        s3_bucket: t.s3_bucket_name().map(str::to_string),
        log_group_arn: t.cloud_watch_logs_log_group_arn().map(str::to_string),
        log_role_arn: t.cloud_watch_logs_role_arn().map(str::to_string),
        event_selectors,
        advanced_event_selectors,
    }))
}

/// A trail's logging status and its basic and advanced selectors.
type TrailState = (
    Option<bool>,
    Option<Vec<EventSelector>>,
    Vec<AdvancedEventSelector>,
);

/// GetTrailStatus and GetEventSelectors of one trail, sent together. An organization
/// trail's are unreadable from a member account: `None`.
async fn read_state(
    cx: &Cx<'_>,
    home_region: &str,
    arn: &str,
    organization: bool,
) -> Result<TrailState, AwsError> {
    let ct = cx.aws.cloudtrail(home_region);
    let (status, selectors) = futures::join!(
        ct.get_trail_status().name(arn).send(),
        ct.get_event_selectors().trail_name(arn).send()
    );
    let logging = match status {
        Ok(s) => s.is_logging(),
        Err(e) if organization => {
            tracing::debug!(trail = arn, error = %AwsError::from_sdk("cloudtrail:GetTrailStatus", e), "organization trail status unreadable");
            None
        }
        Err(e) => return Err(AwsError::from_sdk("cloudtrail:GetTrailStatus", e)),
    };
    let (event_selectors, advanced_event_selectors) = match selectors {
        Ok(s) => (
            Some(s.event_selectors().to_vec()),
            s.advanced_event_selectors().to_vec(),
        ),
        Err(e) if organization => {
            tracing::debug!(trail = arn, error = %AwsError::from_sdk("cloudtrail:GetEventSelectors", e), "organization trail selectors unreadable");
            (None, Vec::new())
        }
        Err(e) => return Err(AwsError::from_sdk("cloudtrail:GetEventSelectors", e)),
    };
    Ok((logging, event_selectors, advanced_event_selectors))
}

/// A string field of a recorded trail state, or an internal error naming it.
pub fn str_field<'v>(v: &'v serde_json::Value, key: &str) -> Result<&'v str, AwsError> {
    v[key].as_str().ok_or_else(|| {
        AwsError::new(
            crate::aws::ErrorKind::Service,
            "internal",
            format!("internal: recorded state has no {key}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(name: &str) -> TrailInfo {
        TrailInfo {
            name: name.into(),
            arn: format!("arn:aws:cloudtrail:us-east-1:111122223333:trail/{name}"),
            home_region: "us-east-1".into(),
            multi_region: true,
            organization: false,
            logging: Some(true),
            log_file_validation: false,
            include_global_events: true,
            kms_key_id: None,
            s3_bucket: Some("b".into()),
            log_group_arn: None,
            log_role_arn: None,
            event_selectors: Some(vec![]),
            advanced_event_selectors: vec![],
        }
    }

    #[test]
    fn picks_a_logging_multi_region_trail_preferring_cloudwatch_delivery() {
        let mut a = trail("a");
        let mut b = trail("b");
        b.log_group_arn = Some("arn:aws:logs:eu-west-1:111122223333:log-group:ct:*".into());
        assert_eq!(cis_trail(&[a.clone(), b.clone()]).unwrap().name, "b");
        assert_eq!(
            b.log_group(),
            Some(("eu-west-1".to_string(), "ct".to_string()))
        );
        a.logging = Some(false);
        b.multi_region = false;
        assert!(cis_trail(&[a, b]).is_none());
    }

    #[test]
    fn an_organization_trail_seen_from_a_member_counts_for_3_1() {
        let mut org = trail("org");
        org.arn = "arn:aws:cloudtrail:us-east-1:999988887777:trail/org".into();
        org.organization = true;
        org.logging = None;
        org.event_selectors = None;
        assert!(cis_trail(std::slice::from_ref(&org)).is_none());
        let got = cis_or_organization_trail(std::slice::from_ref(&org)).unwrap();
        assert_eq!(got.name, "org");
        assert!(!got.changeable_from("111122223333"));
        let mut own = trail("own");
        own.kms_key_id = Some(String::new());
        assert!(own.kms_key().is_none(), "an emptied key id is no key");
        assert!(own.changeable_from("111122223333"));
        assert_eq!(
            cis_or_organization_trail(&[org, own]).unwrap().name,
            "own",
            "a trail whose logging can be read is preferred"
        );
        let dup = trail("a");
        assert_eq!(unique_by_arn(&[dup.clone(), dup]).len(), 1);
    }

    #[test]
    fn write_only_management_events_do_not_count() {
        let mut t = trail("t");
        t.event_selectors = Some(vec![EventSelector::builder()
            .read_write_type(ReadWriteType::WriteOnly)
            .include_management_events(true)
            .build()]);
        assert!(!t.satisfies_multi_region());
        t.event_selectors = Some(vec![EventSelector::builder()
            .read_write_type(ReadWriteType::All)
            .include_management_events(true)
            .build()]);
        assert!(t.satisfies_multi_region());
    }
}

//! CIS 5.0 3.8 and 3.9: object-level logging of S3 write and read events.
//!
//! Both controls merge one data-event selector into the selectors of the trail 3.1 relies
//! on, in its home region (PutEventSelectors only works there, and replaces every selector:
//! so the existing ones are read and written back exactly). They share one target, the
//! trail's selectors, with one `before` shape, so apply merges the second into what the
//! first left. Basic selectors stay basic unless the five-selector limit forces advanced
//! ones; that conversion is shown and marked destructive.

use async_trait::async_trait;
use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType,
};
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};
use crate::resources::trails::str_field;
use crate::resources::trails::{label, trail_or_blocked, TrailInfo};

/// The most basic selectors a trail may have.
const MAX_BASIC: usize = 5;

pub struct S3ObjectLogging {
    description: Description,
    /// true: read events (3.9); false: write events (3.8).
    read: bool,
}

/// What 3.8 and 3.9 share; each sets its slug.
const SELECTORS: Description = Description {
    slug: "",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:GetEventSelectors",
        ],
    write_actions: &["cloudtrail:PutEventSelectors"],
    change_profile: "medium; reversible: undo writes the trail's previous selectors back exactly; S3 data events are billed per event (about $0.10 per 100,000) and can be costly on busy buckets",
};

pub const WRITE: S3ObjectLogging = S3ObjectLogging {
    description: Description {
        slug: "s3-object-write-logging",
        ..SELECTORS
    },
    read: false,
};
pub const READ: S3ObjectLogging = S3ObjectLogging {
    description: Description {
        slug: "s3-object-read-logging",
        ..SELECTORS
    },
    read: true,
};

fn target(t: &TrailInfo) -> String {
    format!("event selectors of {}", label(t))
}

fn strings(v: &[String]) -> Value {
    json!(v)
}

pub fn basic_json(s: &EventSelector) -> Value {
    json!({
        "ReadWriteType": s.read_write_type().map(|t| t.as_str()).unwrap_or("All"),
        "IncludeManagementEvents": s.include_management_events().unwrap_or(true),
        "DataResources": s.data_resources().iter().map(|d| json!({
            "Type": d.r#type(),
            "Values": strings(d.values()),
        })).collect::<Vec<_>>(),
        "ExcludeManagementEventSources": strings(s.exclude_management_event_sources()),
    })
}

pub fn advanced_json(s: &AdvancedEventSelector) -> Value {
    json!({
        "Name": s.name(),
        "FieldSelectors": s.field_selectors().iter().map(|f| json!({
            "Field": f.field(),
            "Equals": strings(f.equals()),
            "StartsWith": strings(f.starts_with()),
            "EndsWith": strings(f.ends_with()),
            "NotEquals": strings(f.not_equals()),
            "NotStartsWith": strings(f.not_starts_with()),
            "NotEndsWith": strings(f.not_ends_with()),
        })).collect::<Vec<_>>(),
    })
}

/// The service's default when a trail has no selectors: all management events.
fn default_basic() -> Value {
    json!({
        "ReadWriteType": "All",
        "IncludeManagementEvents": true,
        "DataResources": [],
        "ExcludeManagementEventSources": [],
    })
}

/// The trail's selectors as recorded: basic or advanced; none at all is recorded as the
/// default selector it stands for, so undo can write it back and compare equal.
pub fn selectors_state(t: &TrailInfo, basic: &[EventSelector]) -> Value {
    let mut v = json!({ "Trail": t.arn, "HomeRegion": t.home_region });
    if !t.advanced_event_selectors.is_empty() {
        v["AdvancedEventSelectors"] = Value::Array(
            t.advanced_event_selectors
                .iter()
                .map(advanced_json)
                .collect(),
        );
    } else if basic.is_empty() {
        v["EventSelectors"] = json!([default_basic()]);
    } else {
        v["EventSelectors"] = Value::Array(basic.iter().map(basic_json).collect());
    }
    v
}

fn list(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether a basic selector (as JSON) records S3 object events of the kind for all buckets.
pub fn basic_covers(s: &Value, read: bool, part: &str) -> bool {
    let rwt = s["ReadWriteType"].as_str().unwrap_or("All");
    let kind_ok = rwt == "All" || rwt == if read { "ReadOnly" } else { "WriteOnly" };
    let all_buckets = [format!("arn:{part}:s3"), format!("arn:{part}:s3:::")];
    kind_ok
        && s["DataResources"].as_array().is_some_and(|d| {
            d.iter().any(|r| {
                r["Type"] == "AWS::S3::Object"
                    && list(&r["Values"])
                        .iter()
                        .any(|v| all_buckets.iter().any(|a| a == v))
            })
        })
}

/// Whether an advanced selector (as JSON) records S3 object events of the kind for all
/// buckets: data events of type AWS::S3::Object, no readOnly filter or the matching one,
/// and nothing else narrowing it.
pub fn advanced_covers(s: &Value, read: bool) -> bool {
    let Some(fields) = s["FieldSelectors"].as_array() else {
        return false;
    };
    let equals_only = |f: &Value, want: &str| {
        list(&f["Equals"]).contains(&want)
            && [
                "StartsWith",
                "EndsWith",
                "NotEquals",
                "NotStartsWith",
                "NotEndsWith",
            ]
            .iter()
            .all(|k| list(&f[*k]).is_empty())
    };
    let mut data = false;
    let mut s3 = false;
    for f in fields {
        match f["Field"].as_str().unwrap_or("") {
            "eventCategory" => data = equals_only(f, "Data"),
            "resources.type" => s3 = equals_only(f, "AWS::S3::Object"),
            "readOnly" => {
                if !equals_only(f, if read { "true" } else { "false" }) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    data && s3
}

fn covered(state: &Value, read: bool, part: &str) -> bool {
    if let Some(adv) = state["AdvancedEventSelectors"].as_array() {
        adv.iter().any(|s| advanced_covers(s, read))
    } else {
        state["EventSelectors"]
            .as_array()
            .is_some_and(|b| b.iter().any(|s| basic_covers(s, read, part)))
    }
}

fn field(name: &str, equals: &[&str]) -> Value {
    json!({
        "Field": name,
        "Equals": equals,
        "StartsWith": [], "EndsWith": [], "NotEquals": [], "NotStartsWith": [], "NotEndsWith": [],
    })
}

fn new_advanced(read: bool) -> Value {
    json!({
        "Name": if read { "cis-fix S3 object read events" } else { "cis-fix S3 object write events" },
        "FieldSelectors": [
            field("eventCategory", &["Data"]),
            field("resources.type", &["AWS::S3::Object"]),
            field("readOnly", &[if read { "true" } else { "false" }]),
        ],
    })
}

fn new_basic(read: bool, part: &str) -> Value {
    json!({
        "ReadWriteType": if read { "ReadOnly" } else { "WriteOnly" },
        "IncludeManagementEvents": false,
        "DataResources": [{ "Type": "AWS::S3::Object", "Values": [format!("arn:{part}:s3")] }],
        "ExcludeManagementEventSources": [],
    })
}

/// The other kind's word and ReadWriteType.
fn other_kind(read: bool) -> (&'static str, &'static str) {
    if read {
        ("write", "WriteOnly")
    } else {
        ("read", "ReadOnly")
    }
}

/// Widen, in place, a basic selector that records S3 object events of the other kind for all
/// buckets and nothing else (what cis-fix adds for 3.8 or 3.9) to `ReadWriteType: All`, so
/// 3.8 and 3.9 together leave one selector rather than a WriteOnly + ReadOnly pair. Whether
/// both are selected in one run or one after the other, the end state is the same. Returns
/// whether one was widened.
fn widen_basic(selectors: &mut [Value], read: bool, part: &str) -> bool {
    let (_, other) = other_kind(read);
    let all = format!("arn:{part}:s3");
    let widenable = |s: &Value| {
        s["ReadWriteType"] == other
            && s["IncludeManagementEvents"] == json!(false)
            && list(&s["ExcludeManagementEventSources"]).is_empty()
            && s["DataResources"].as_array().is_some_and(|d| {
                d.len() == 1
                    && d[0]["Type"] == "AWS::S3::Object"
                    && list(&d[0]["Values"]) == [all.as_str()]
            })
    };
    match selectors.iter_mut().find(|s| widenable(s)) {
        Some(s) => {
            s["ReadWriteType"] = json!("All");
            true
        }
        None => false,
    }
}

/// The advanced counterpart of [`widen_basic`]: cis-fix's own advanced selector of the other
/// kind loses its `readOnly` field (and its kind in the name).
fn widen_advanced(selectors: &mut [Value], read: bool) -> bool {
    let theirs = new_advanced(!read);
    match selectors.iter_mut().find(|s| **s == theirs) {
        Some(s) => {
            s["Name"] = json!("cis-fix S3 object events");
            if let Some(f) = s["FieldSelectors"].as_array_mut() {
                f.retain(|x| x["Field"] != "readOnly");
            }
            true
        }
        None => false,
    }
}

/// `state` with S3 object events of the kind (`read`) added for all buckets: cis-fix's
/// selector of the other kind widened, else one selector added (basic while fewer than five,
/// else every basic selector converted to advanced). Returns (state, converted, widened).
fn add_kind(state: &Value, read: bool, part: &str) -> (Value, bool, bool) {
    let mut after = state.clone();
    let mut converted = false;
    let mut widened = false;
    if let Some(adv) = after["AdvancedEventSelectors"].as_array_mut() {
        widened = widen_advanced(adv, read);
        if !widened {
            adv.push(new_advanced(read));
        }
    } else {
        let basic_now = after["EventSelectors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(b) = after["EventSelectors"].as_array_mut() {
            widened = widen_basic(b, read, part);
        }
        if widened {
            // The selector of the other kind now records both.
        } else if basic_now.len() < MAX_BASIC {
            if let Some(b) = after["EventSelectors"].as_array_mut() {
                b.push(new_basic(read, part));
            }
        } else {
            converted = true;
            let mut adv = to_advanced(&basic_now);
            adv.push(new_advanced(read));
            if let Some(obj) = after.as_object_mut() {
                obj.remove("EventSelectors");
                obj.insert("AdvancedEventSelectors".into(), Value::Array(adv));
            }
        }
    }
    (after, converted, widened)
}

/// Basic selectors rewritten as advanced ones recording the same events.
pub fn to_advanced(basic: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, s) in basic.iter().enumerate() {
        let read_only = match s["ReadWriteType"].as_str().unwrap_or("All") {
            "ReadOnly" => Some("true"),
            "WriteOnly" => Some("false"),
            _ => None,
        };
        let with_rw = |mut fields: Vec<Value>| {
            if let Some(r) = read_only {
                fields.push(field("readOnly", &[r]));
            }
            fields
        };
        if s["IncludeManagementEvents"] != json!(false) {
            let mut fields = with_rw(vec![field("eventCategory", &["Management"])]);
            let excluded = list(&s["ExcludeManagementEventSources"]);
            if !excluded.is_empty() {
                let mut f = field("eventSource", &[]);
                f["NotEquals"] = json!(excluded);
                fields.push(f);
            }
            out.push(json!({ "Name": format!("management events (basic selector {})", i + 1), "FieldSelectors": fields }));
        }
        for d in s["DataResources"].as_array().into_iter().flatten() {
            let ty = d["Type"].as_str().unwrap_or("");
            let mut fields = with_rw(vec![
                field("eventCategory", &["Data"]),
                field("resources.type", &[ty]),
            ]);
            // A bare service ARN ("arn:aws:s3") means every resource: no ARN filter.
            let values: Vec<&str> = list(&d["Values"])
                .into_iter()
                .filter(|v| v.matches(':').count() > 2 && !v.ends_with(":::"))
                .collect();
            if !values.is_empty() {
                let mut f = field("resources.ARN", &[]);
                f["StartsWith"] = json!(values);
                fields.push(f);
            }
            out.push(json!({ "Name": format!("{ty} data events (basic selector {})", i + 1), "FieldSelectors": fields }));
        }
    }
    out
}

fn build_err(op: &str) -> impl Fn(aws_sdk_cloudtrail::error::BuildError) -> AwsError + '_ {
    move |e| AwsError::new(ErrorKind::Service, op, e.to_string())
}

fn owned(v: &Value) -> Vec<String> {
    list(v).into_iter().map(str::to_string).collect()
}

/// Every member is written, empty lists as `[]`: the canonical shape GetEventSelectors
/// returns on AWS. A selector written without `DataResources` reads back without it from some
/// implementations, and at least one widely used checker (Prowler's
/// `cloudtrail_s3_dataevents_*_enabled`, docs/checkers.md) then fails on the missing key and
/// reports nothing. The recorded JSON ([`basic_json`]) has every member too, so undo's write
/// reads back equal to what was recorded.
fn basic_from_json(s: &Value) -> EventSelector {
    let data: Vec<DataResource> = s["DataResources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            DataResource::builder()
                .r#type(d["Type"].as_str().unwrap_or(""))
                .set_values(Some(owned(&d["Values"])))
                .build()
        })
        .collect();
    let excluded = owned(&s["ExcludeManagementEventSources"]);
    EventSelector::builder()
        .read_write_type(ReadWriteType::from(
            s["ReadWriteType"].as_str().unwrap_or("All"),
        ))
        .include_management_events(s["IncludeManagementEvents"].as_bool().unwrap_or(true))
        .set_data_resources(Some(data))
        .set_exclude_management_event_sources(Some(excluded))
        .build()
}

fn advanced_from_json(s: &Value) -> Result<AdvancedEventSelector, AwsError> {
    let op = "cloudtrail:PutEventSelectors";
    let mut fields = Vec::new();
    for f in s["FieldSelectors"].as_array().into_iter().flatten() {
        let nonempty = |k: &str| {
            let v = owned(&f[k]);
            (!v.is_empty()).then_some(v)
        };
        fields.push(
            AdvancedFieldSelector::builder()
                .field(f["Field"].as_str().unwrap_or(""))
                .set_equals(nonempty("Equals"))
                .set_starts_with(nonempty("StartsWith"))
                .set_ends_with(nonempty("EndsWith"))
                .set_not_equals(nonempty("NotEquals"))
                .set_not_starts_with(nonempty("NotStartsWith"))
                .set_not_ends_with(nonempty("NotEndsWith"))
                .build()
                .map_err(build_err(op))?,
        );
    }
    AdvancedEventSelector::builder()
        .set_name(s["Name"].as_str().map(str::to_string))
        .set_field_selectors(Some(fields))
        .build()
        .map_err(build_err(op))
}

/// Write the selectors of a recorded state (`after` of a plan, or `previous` for undo).
async fn put(cx: &Cx<'_>, state: &Value) -> Result<(), AwsError> {
    let arn = str_field(state, "Trail")?;
    let home = str_field(state, "HomeRegion")?;
    let mut req = cx
        .aws
        .cloudtrail(home)
        .put_event_selectors()
        .trail_name(arn);
    if let Some(adv) = state["AdvancedEventSelectors"].as_array() {
        let mut out = Vec::new();
        for s in adv {
            out.push(advanced_from_json(s)?);
        }
        req = req.set_advanced_event_selectors(Some(out));
    } else {
        let basic = state["EventSelectors"].as_array().ok_or_else(|| {
            AwsError::new(
                ErrorKind::Service,
                "internal",
                "internal: recorded state has no selectors",
            )
        })?;
        req = req.set_event_selectors(Some(basic.iter().map(basic_from_json).collect()));
    }
    req.send()
        .await
        .map_err(aws_err("cloudtrail:PutEventSelectors"))?;
    Ok(())
}

impl S3ObjectLogging {
    fn kind_word(&self) -> &'static str {
        if self.read {
            "read"
        } else {
            "write"
        }
    }
}

#[async_trait]
impl Control for S3ObjectLogging {
    fn description(&self) -> &Description {
        &self.description
    }

    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let part = &cx.aws.account.partition;
        let word = self.kind_word();
        let t = match trail_or_blocked(
            cx,
            "event selectors of the CloudTrail trail",
            format!("no multi-region trail yet to record S3 object {word} events"),
        )
        .await?
        {
            Ok(t) => t,
            Err(blocked) => return Ok(vec![blocked]),
        };
        let t = &t;
        let Some(basic) = &t.event_selectors else {
            return Ok(vec![Finding::manual(
                target(t),
                format!("the selectors of organization trail {} can't be read from this account", t.name),
                json!({ "Trail": t.arn, "HomeRegion": t.home_region }),
                &["In the organization's management account: add S3 object-level data events to the trail's selectors."],
            )]);
        };
        let before = selectors_state(t, basic);
        if covered(&before, self.read, part) {
            return Ok(vec![Finding::compliant(
                target(t),
                format!("the trail records S3 object-level {word} events for all buckets"),
                before,
            )]);
        }
        if let Some(owner) = t.owned_by(&cx.aws.account.id) {
            return Ok(vec![crate::resources::landing_zone::manual(
                target(t),
                &format!("the trail does not record S3 object-level {word} events"),
                &format!("trail {}", t.name),
                &owner,
                before,
            )]);
        }
        // With 3.8 in the plan too and not yet satisfied, apply writes 3.8's change first
        // (plan order) and this one onto what it left: plan it from there, so that the plan
        // shows the selectors apply will write (one ReadWriteType All selector, not two).
        let write_first =
            self.read && cx.params.plans(WRITE.description.slug) && !covered(&before, false, part);
        let (after, converted, widened) = if write_first {
            let (mid, first_converted, _) = add_kind(&before, false, part);
            let (after, converted, widened) = add_kind(&mid, true, part);
            (after, first_converted || converted, widened)
        } else {
            add_kind(&before, self.read, part)
        };
        let mut params = after.clone();
        params["TrailName"] = params["Trail"].take();
        params["Region"] = params["HomeRegion"].take();
        if let Some(o) = params.as_object_mut() {
            o.remove("Trail");
            o.remove("HomeRegion");
        }
        let mut f = Finding::change(
            target(t),
            if converted {
                format!("S3 object-level {word} events are not recorded; the trail's {MAX_BASIC} basic selectors are full, so they are REPLACED by equivalent advanced selectors plus one for S3 {word} events")
            } else if write_first && widened {
                "S3 object-level read events are not recorded: 3.8's change in this plan (applied first) adds a selector for S3 object write events for all buckets, and this one widens it to record both (ReadWriteType All): one selector".to_string()
            } else if widened {
                format!("S3 object-level {word} events are not recorded: the selector recording S3 object {} events for all buckets is widened to record both (ReadWriteType All)", other_kind(self.read).0)
            } else {
                format!("S3 object-level {word} events are not recorded: one selector is added, the existing ones are kept")
            },
            Action::Update,
            before,
            after,
            vec![ApiCall::new("cloudtrail:PutEventSelectors", params)],
        )
        .with_risk(Risk::Medium)
        .with_note("S3 data events are billed per event (about $0.10 per 100,000 events delivered); busy buckets can make this the largest CloudTrail cost.")
        .with_note("PutEventSelectors replaces all selectors: the call carries the existing ones unchanged; undo writes the previous set back exactly.");
        if converted {
            f.destructive = true;
        }
        if write_first {
            f.notes.push("The selectors shown are what this change writes after 3.8's; if 3.8's change is not applied (declined or excepted), this change writes them all the same, recording S3 write events too.".to_string());
        } else if !widened {
            let (other, _) = other_kind(self.read);
            f.notes.push(if !self.read && cx.params.plans(READ.description.slug) {
                "3.9's change in this plan (applied after this one) widens this selector to ReadWriteType All: one selector records both.".to_string()
            } else {
                format!("When S3 object-level {other} events are added too (same run or later), that change widens this selector to ReadWriteType All: one selector records both.")
            });
        }
        Ok(vec![f])
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        put(cx, &f.after).await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        _target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        put(cx, previous).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_of_basic_selectors() {
        let all_s3 = json!({ "ReadWriteType": "All", "DataResources": [{ "Type": "AWS::S3::Object", "Values": ["arn:aws:s3"] }] });
        assert!(basic_covers(&all_s3, true, "aws") && basic_covers(&all_s3, false, "aws"));
        let write = new_basic(false, "aws");
        assert!(basic_covers(&write, false, "aws"));
        assert!(!basic_covers(&write, true, "aws"));
        let one_bucket = json!({ "ReadWriteType": "All", "DataResources": [{ "Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::b/"] }] });
        assert!(!basic_covers(&one_bucket, false, "aws"));
        assert!(!basic_covers(&default_basic(), false, "aws"));
    }

    #[test]
    fn coverage_of_advanced_selectors() {
        assert!(advanced_covers(&new_advanced(true), true));
        assert!(!advanced_covers(&new_advanced(true), false));
        let mut both = new_advanced(true);
        both["FieldSelectors"].as_array_mut().unwrap().pop();
        assert!(advanced_covers(&both, false) && advanced_covers(&both, true));
        let mut narrowed = both.clone();
        let mut arn = field("resources.ARN", &[]);
        arn["StartsWith"] = json!(["arn:aws:s3:::b/"]);
        narrowed["FieldSelectors"].as_array_mut().unwrap().push(arn);
        assert!(!advanced_covers(&narrowed, false));
    }

    #[test]
    fn the_second_kind_widens_the_first_to_all() {
        let mut sel = vec![default_basic(), new_basic(false, "aws")];
        assert!(widen_basic(&mut sel, true, "aws"));
        assert_eq!(sel[1]["ReadWriteType"], "All");
        assert!(basic_covers(&sel[1], true, "aws") && basic_covers(&sel[1], false, "aws"));
        // The management selector and a narrower data selector are never widened.
        let mut mgmt = vec![
            json!({ "ReadWriteType": "WriteOnly", "IncludeManagementEvents": true,
            "DataResources": [{ "Type": "AWS::S3::Object", "Values": ["arn:aws:s3"] }],
            "ExcludeManagementEventSources": [] }),
        ];
        assert!(!widen_basic(&mut mgmt, true, "aws"));
        let mut one = vec![
            json!({ "ReadWriteType": "WriteOnly", "IncludeManagementEvents": false,
            "DataResources": [{ "Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::b/"] }],
            "ExcludeManagementEventSources": [] }),
        ];
        assert!(!widen_basic(&mut one, true, "aws"));
        // Same kind: nothing to widen.
        let mut same = vec![new_basic(true, "aws")];
        assert!(!widen_basic(&mut same, true, "aws"));
        let mut adv = vec![new_advanced(true)];
        assert!(widen_advanced(&mut adv, false));
        assert!(advanced_covers(&adv[0], true) && advanced_covers(&adv[0], false));
    }

    #[test]
    fn a_selector_is_written_with_every_member() {
        let sdk = basic_from_json(&default_basic());
        assert_eq!(sdk.data_resources, Some(vec![]));
        assert_eq!(sdk.exclude_management_event_sources, Some(vec![]));
    }

    #[test]
    fn conversion_keeps_management_and_data_events() {
        let basic = vec![
            default_basic(),
            json!({ "ReadWriteType": "WriteOnly", "IncludeManagementEvents": false,
                    "DataResources": [{ "Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::b/"] }],
                    "ExcludeManagementEventSources": [] }),
        ];
        let adv = to_advanced(&basic);
        assert_eq!(adv.len(), 2);
        assert_eq!(adv[0]["FieldSelectors"][0]["Equals"], json!(["Management"]));
        assert_eq!(adv[0]["FieldSelectors"].as_array().unwrap().len(), 1);
        let f = adv[1]["FieldSelectors"].as_array().unwrap();
        assert!(f
            .iter()
            .any(|x| x["Field"] == "readOnly" && x["Equals"] == json!(["false"])));
        assert!(f.iter().any(
            |x| x["Field"] == "resources.ARN" && x["StartsWith"] == json!(["arn:aws:s3:::b/"])
        ));
        // A JSON selector goes to the SDK type and back unchanged.
        let sdk = basic_from_json(&basic[1]);
        assert_eq!(basic_json(&sdk), basic[1]);
        let a = advanced_from_json(&adv[1]).unwrap();
        assert_eq!(advanced_json(&a), adv[1]);
    }
}

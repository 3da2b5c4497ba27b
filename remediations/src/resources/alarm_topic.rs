//! The SNS topic the fifteen CIS alarms (4.1–4.15) notify: a shared prerequisite, ensured
//! idempotently by each alarm's apply and kept out of every finding's `before`; its observed
//! state (ARN, existence, whether cis-fix created it) is the findings' `prerequisites`, so a
//! saved plan notices when it changed.
//!
//! `alarm_topic` is an ARN (used as is; it must exist, in the alarms' region) or a name (the
//! topic is created in the log group's region if missing, tagged so cis-fix knows it made
//! it). `alarm_email` adds an e-mail subscription. Undo removes the topic only when cis-fix
//! created it, no alarm uses it any more, and nothing but the e-mail cis-fix subscribed
//! subscribes to it.

use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::Cx;
use crate::plan::ApiCall;

/// Tag key on topics cis-fix created; its value is "cis-fix".
pub const CREATED_TAG: &str = "cis-fix:created-by";
/// Tag key recording the e-mail cis-fix subscribed to a topic it created.
pub const EMAIL_TAG: &str = "cis-fix:email";

/// What the plan knows about the alarm topic in one region.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicState {
    pub arn: String,
    /// `alarm_topic` was given as an ARN (never created by cis-fix).
    pub configured_arn: bool,
    pub exists: bool,
    /// Subscription endpoints (protocol:endpoint), sorted.
    pub subscriptions: Vec<String>,
    /// The e-mail to subscribe, when configured.
    pub email: Option<String>,
    /// The topic exists and carries cis-fix's creation tag.
    pub created_by_cis_fix: bool,
}

impl TopicState {
    fn email_subscribed(&self) -> bool {
        match &self.email {
            Some(e) => self.subscriptions.contains(&format!("email:{e}")),
            None => true,
        }
    }

    /// Why the alarms cannot use this topic, if they cannot.
    pub fn problem(&self, region: &str) -> Option<String> {
        if self.configured_arn && !self.exists {
            return Some(format!("the alarm topic {} does not exist", self.arn));
        }
        let topic_region = self.arn.split(':').nth(3).unwrap_or("");
        if topic_region != region {
            return Some(format!(
                "the alarm topic {} is in {topic_region}, but the alarms are in {region} \
                 (the log group's region) and can only notify a topic there",
                self.arn
            ));
        }
        None
    }

    /// The calls an apply makes to ensure the topic (none when it is ready).
    pub fn calls(&self) -> Vec<ApiCall> {
        let mut calls = Vec::new();
        let name = self.arn.rsplit(':').next().unwrap_or_default();
        if !self.exists {
            let mut tags = vec![json!({ "Key": CREATED_TAG, "Value": "cis-fix" })];
            if let Some(e) = &self.email {
                tags.push(json!({ "Key": EMAIL_TAG, "Value": e }));
            }
            calls.push(ApiCall::new(
                "sns:CreateTopic",
                json!({ "Name": name, "Tags": tags }),
            ));
        }
        if !self.email_subscribed() {
            calls.push(ApiCall::new(
                "sns:Subscribe",
                json!({
                    "TopicArn": self.arn,
                    "Protocol": "email",
                    "Endpoint": self.email,
                    "ReturnSubscriptionArn": true,
                }),
            ));
        }
        calls
    }

    /// The topic as `after` shows it.
    pub fn after(&self) -> Value {
        let mut subs = self.subscriptions.clone();
        if !self.email_subscribed() {
            if let Some(e) = &self.email {
                subs.push(format!("email:{e}"));
                subs.sort();
            }
        }
        json!({
            "TopicArn": self.arn,
            "CreatedByCisFix": !self.exists && !self.configured_arn,
            "Subscriptions": subs,
        })
    }

    /// The topic as a change that notifies it builds on it, for the finding's
    /// `prerequisites`: its ARN, whether it exists and whether cis-fix created it (the same
    /// account state gives the same value).
    pub fn prerequisites(&self) -> Value {
        json!({ "AlarmTopic": {
            "TopicArn": self.arn,
            "Exists": self.exists,
            "CreatedByCisFix": self.created_by_cis_fix,
        } })
    }

    /// Notes for the plan: who gets the alarm.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.exists {
            notes.push(format!(
                "Creates the SNS topic {} (shared by all CIS alarms; undo removes it once no alarm uses it).",
                self.arn
            ));
        }
        if self.email.is_none() && self.subscriptions.is_empty() {
            notes.push(format!(
                "Nobody subscribes to {} yet: set alarm_email (--alarm-email) or subscribe someone, or the alarm notifies no one.",
                self.arn
            ));
        } else if !self.email_subscribed() {
            notes.push(format!(
                "Subscribes {} by e-mail; AWS sends a confirmation message that must be accepted.",
                self.email.as_deref().unwrap_or_default()
            ));
        }
        notes
    }
}

fn topic_arn(cx: &Cx<'_>, region: &str) -> (String, bool) {
    let t = cx.params.alarm_topic();
    if t.starts_with("arn:") {
        (t, true)
    } else {
        (
            format!(
                "arn:{}:sns:{region}:{}:{t}",
                cx.aws.account.partition, cx.aws.account.id
            ),
            false,
        )
    }
}

/// The topic's state in `region`, read once per phase.
pub async fn state(cx: &Cx<'_>, region: &str) -> Result<TopicState, AwsError> {
    let (arn, configured_arn) = topic_arn(cx, region);
    let key = format!("sns:alarm-topic:{region}:{arn}");
    let email = cx.params.alarm_email.clone();
    cx.reads
        .shared(&key, || async {
            let sns = cx.aws.sns(arn.split(':').nth(3).unwrap_or(region));
            let exists = match sns.get_topic_attributes().topic_arn(&arn).send().await {
                Ok(_) => true,
                Err(e) => {
                    let e = AwsError::from_sdk("sns:GetTopicAttributes", e);
                    if !(e.is_code("NotFound") || e.is_code("NotFoundException")) {
                        return Err(e);
                    }
                    false
                }
            };
            let subscriptions = if exists {
                Some(subscribers(cx, &arn).await?.endpoints())
            } else {
                None
            };
            let created_by_cis_fix = if exists {
                created_tag(&sns, &arn).await?
            } else {
                false
            };
            Ok(TopicState {
                arn: arn.clone(),
                configured_arn,
                exists: subscriptions.is_some(),
                subscriptions: subscriptions.unwrap_or_default(),
                email,
                created_by_cis_fix,
            })
        })
        .await
}

/// Whether the topic carries cis-fix's creation tag.
async fn created_tag(sns: &aws_sdk_sns::Client, arn: &str) -> Result<bool, AwsError> {
    let out = sns
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws_err("sns:ListTagsForResource"))?;
    Ok(out
        .tags()
        .iter()
        .any(|t| t.key() == CREATED_TAG && t.value() == "cis-fix"))
}

/// Who a topic notifies: subscriptions (protocol:endpoint) that are confirmed, and those still
/// pending confirmation (SNS lists them with the ARN `PendingConfirmation`; an e-mail
/// subscription stays so until its recipient follows the link AWS sends).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscribers {
    pub confirmed: Vec<String>,
    pub pending: Vec<String>,
}

/// The ARN SNS lists for a subscription not yet confirmed.
const PENDING: &str = "PendingConfirmation";

impl Subscribers {
    /// Every endpoint, confirmed or not, sorted.
    pub fn endpoints(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .confirmed
            .iter()
            .chain(&self.pending)
            .cloned()
            .collect();
        all.sort();
        all
    }
}

/// The topic's subscribers, read once per phase.
pub async fn subscribers(cx: &Cx<'_>, arn: &str) -> Result<Subscribers, AwsError> {
    let region = arn
        .split(':')
        .nth(3)
        .unwrap_or(&cx.aws.home_region)
        .to_string();
    cx.reads
        .shared(&format!("sns:subscribers:{arn}"), || async {
            let sns = cx.aws.sns(&region);
            let mut out = Subscribers::default();
            let mut pages = sns
                .list_subscriptions_by_topic()
                .topic_arn(arn)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(aws_err("sns:ListSubscriptionsByTopic"))?;
                for s in page.subscriptions() {
                    let endpoint = format!(
                        "{}:{}",
                        s.protocol().unwrap_or_default(),
                        s.endpoint().unwrap_or_default()
                    );
                    if s.subscription_arn() == Some(PENDING) {
                        out.pending.push(endpoint);
                    } else {
                        out.confirmed.push(endpoint);
                    }
                }
            }
            out.confirmed.sort();
            out.pending.sort();
            Ok(out)
        })
        .await
}

/// The manual step when none of an alarm's SNS topics has a confirmed subscriber (CIS: "at
/// least one subscription with a valid ARN"), given each topic's subscribers. `None` when one
/// has, or when the alarm also acts on something other than SNS. Pure.
pub fn unconfirmed_step(topics: &[(String, Subscribers)], other_actions: bool) -> Option<String> {
    if other_actions || topics.is_empty() || topics.iter().any(|(_, s)| !s.confirmed.is_empty()) {
        return None;
    }
    let pending: Vec<&str> = topics
        .iter()
        .flat_map(|(_, s)| s.pending.iter().map(String::as_str))
        .collect();
    let names: Vec<&str> = topics.iter().map(|(t, _)| t.as_str()).collect();
    Some(if pending.is_empty() {
        format!(
            "Manual step: nobody subscribes to {}, so the alarm notifies no one. Subscribe someone (sns:Subscribe, or alarm_email).",
            names.join(", ")
        )
    } else {
        format!(
            "Manual step: the subscription of {} to {} is still pending confirmation, so the alarm notifies no one yet (CIS wants a confirmed subscriber). Confirm it from the message AWS sent.",
            pending.join(", "),
            names.join(", ")
        )
    })
}

/// The manual step for an alarm whose actions are `actions` ([`unconfirmed_step`]).
pub async fn alarm_step(cx: &Cx<'_>, actions: &[String]) -> Result<Option<String>, AwsError> {
    let mut topics = Vec::new();
    let mut other = false;
    for a in actions {
        if a.starts_with("arn:") && a.split(':').nth(2) == Some("sns") {
            match subscribers(cx, a).await {
                Ok(s) => topics.push((a.clone(), s)),
                // Another account's topic, or one deleted since: who it notifies can't be
                // read from here, so nothing is claimed about it.
                Err(e)
                    if e.is_code("AuthorizationError")
                        || e.is_code("AccessDenied")
                        || e.is_code("NotFound") =>
                {
                    other = true
                }
                Err(e) => return Err(e),
            }
        } else {
            other = true;
        }
    }
    Ok(unconfirmed_step(&topics, other))
}

async fn subscriptions(sns: &aws_sdk_sns::Client, arn: &str) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    let mut pages = sns
        .list_subscriptions_by_topic()
        .topic_arn(arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_err("sns:ListSubscriptionsByTopic"))?;
        for s in page.subscriptions() {
            out.push(format!(
                "{}:{}",
                s.protocol().unwrap_or_default(),
                s.endpoint().unwrap_or_default()
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// Make sure the topic exists (and the e-mail subscribes); returns its ARN. Idempotent.
pub async fn ensure(cx: &Cx<'_>, region: &str) -> Result<String, AwsError> {
    let st = state(cx, region).await?;
    if let Some(p) = st.problem(region) {
        return Err(AwsError::new(
            ErrorKind::Service,
            "sns:GetTopicAttributes",
            p,
        ));
    }
    let sns = cx.aws.sns(region);
    let mut subs = st.subscriptions.clone();
    if !st.exists {
        // A concurrent apply may have created it since the read: CreateTopic returns the
        // existing topic's ARN for the same name and tags.
        let name = st.arn.rsplit(':').next().unwrap_or_default();
        let mut req = sns
            .create_topic()
            .name(name)
            .tags(tag(CREATED_TAG, "cis-fix"));
        if let Some(e) = &st.email {
            req = req.tags(tag(EMAIL_TAG, e));
        }
        req.send().await.map_err(aws_err("sns:CreateTopic"))?;
        subs = subscriptions(&sns, &st.arn).await?;
    }
    if let Some(e) = &st.email {
        if !subs.contains(&format!("email:{e}")) {
            sns.subscribe()
                .topic_arn(&st.arn)
                .protocol("email")
                .endpoint(e)
                .return_subscription_arn(true)
                .send()
                .await
                .map_err(aws_err("sns:Subscribe"))?;
        }
    }
    Ok(st.arn)
}

fn tag(k: &str, v: &str) -> aws_sdk_sns::types::Tag {
    aws_sdk_sns::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
        .expect("key and value are set")
}

/// After alarms were removed by an undo: delete each of `topics` that cis-fix created, that
/// no alarm in `region` notifies any more, and that nothing but the e-mail cis-fix
/// subscribed subscribes to. Topics that do not qualify are left alone.
pub async fn remove_if_unused(
    cx: &Cx<'_>,
    region: &str,
    topics: &[String],
    alarms_in_use: &[String],
) -> Result<(), AwsError> {
    let sns = cx.aws.sns(region);
    for arn in topics {
        if alarms_in_use.contains(arn) || !arn.starts_with("arn:") {
            continue;
        }
        let tags = match sns.list_tags_for_resource().resource_arn(arn).send().await {
            Ok(t) => t.tags().to_vec(),
            Err(e) => {
                let e = AwsError::from_sdk("sns:ListTagsForResource", e);
                if e.is_code("ResourceNotFound") || e.is_code("NotFound") {
                    continue;
                }
                return Err(e);
            }
        };
        let tag_value = |k: &str| {
            tags.iter()
                .find(|t| t.key() == k)
                .map(|t| t.value().to_string())
        };
        if tag_value(CREATED_TAG).as_deref() != Some("cis-fix") {
            continue;
        }
        let ours = tag_value(EMAIL_TAG).map(|e| format!("email:{e}"));
        let subs = subscriptions(&sns, arn).await?;
        if subs.iter().any(|s| Some(s) != ours.as_ref()) {
            continue;
        }
        sns.delete_topic()
            .topic_arn(arn)
            .send()
            .await
            .map_err(aws_err("sns:DeleteTopic"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_without_a_confirmed_subscriber_is_a_manual_step() {
        let pending = Subscribers {
            confirmed: vec![],
            pending: vec!["email:sec@example.com".into()],
        };
        let t = "arn:aws:sns:us-east-1:111122223333:cis-fix-alarms".to_string();
        let step = unconfirmed_step(&[(t.clone(), pending.clone())], false).unwrap();
        assert!(
            step.contains("email:sec@example.com") && step.contains("pending confirmation"),
            "{step}"
        );
        let none = unconfirmed_step(&[(t.clone(), Subscribers::default())], false).unwrap();
        assert!(none.contains("nobody subscribes"), "{none}");
        let confirmed = Subscribers {
            confirmed: vec!["email:ops@example.com".into()],
            ..pending.clone()
        };
        assert_eq!(unconfirmed_step(&[(t.clone(), confirmed)], false), None);
        // An alarm that also acts on something else notifies that.
        assert_eq!(unconfirmed_step(&[(t, pending)], true), None);
    }

    fn st(exists: bool, subs: &[&str], email: Option<&str>) -> TopicState {
        TopicState {
            arn: "arn:aws:sns:us-east-1:111122223333:cis-fix-alarms".into(),
            configured_arn: false,
            exists,
            subscriptions: subs.iter().map(|s| s.to_string()).collect(),
            email: email.map(str::to_string),
            created_by_cis_fix: false,
        }
    }

    #[test]
    fn prerequisites_record_the_topic_and_who_made_it() {
        let mut s = st(true, &["email:a@example.com"], None);
        s.created_by_cis_fix = true;
        assert_eq!(
            s.prerequisites(),
            json!({ "AlarmTopic": {
                "TopicArn": "arn:aws:sns:us-east-1:111122223333:cis-fix-alarms",
                "Exists": true,
                "CreatedByCisFix": true,
            } })
        );
        assert_eq!(s.prerequisites(), s.clone().prerequisites());
        let missing = st(false, &[], None);
        assert_eq!(
            missing.prerequisites()["AlarmTopic"]["Exists"],
            json!(false)
        );
    }

    #[test]
    fn calls_create_and_subscribe_only_what_is_missing() {
        let s = st(false, &[], Some("sec@example.com"));
        let calls: Vec<_> = s.calls().into_iter().map(|c| c.action).collect();
        assert_eq!(calls, ["sns:CreateTopic", "sns:Subscribe"]);
        let s = st(true, &["email:sec@example.com"], Some("sec@example.com"));
        assert!(s.calls().is_empty());
        let s = st(true, &[], None);
        assert!(s.calls().is_empty());
        assert!(
            s.notes()[0].contains("Nobody subscribes"),
            "{:?}",
            s.notes()
        );
    }

    #[test]
    fn a_topic_elsewhere_or_missing_is_a_problem() {
        let mut s = st(true, &[], None);
        assert_eq!(s.problem("us-east-1"), None);
        assert!(s.problem("eu-west-1").unwrap().contains("is in us-east-1"));
        s.configured_arn = true;
        s.exists = false;
        assert!(s.problem("us-east-1").unwrap().contains("does not exist"));
    }
}

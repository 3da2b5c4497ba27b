//! CIS 5.0 3.6: automatic rotation is on for every enabled, customer-managed, symmetric KMS
//! key, in every selected region. Each key is its own target; undo turns rotation off again.

use async_trait::async_trait;
use aws_sdk_kms::types::{KeyManagerType, KeyMetadata, KeySpec, KeyState, MultiRegionKeyType};
use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use crate::aws::{aws_err, pages, read_each, AwsError, ErrorKind};
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Status};
use crate::resources::landing_zone;

pub struct KmsKeyRotation;

const DESCRIPTION: Description = Description {
    slug: "kms-key-rotation",
    scope: Scope::Regional,
    kind: Kind::Fix,
    read_actions: &[
        "kms:ListKeys",
        "kms:DescribeKey",
        "kms:GetKeyRotationStatus",
        "kms:ListAliases",
    ],
    write_actions: &["kms:EnableKeyRotation", "kms:DisableKeyRotation"],
    change_profile:
        "low; per key, reversible (undo turns rotation off again); old key material is kept, so \
         nothing encrypted before becomes unreadable",
};

const KEY_PREFIX: &str = "KMS key ";
/// The one finding of a region without a single customer-managed key.
const NO_KEYS_TARGET: &str = "customer-managed KMS keys";

fn key_target(id: &str) -> String {
    format!("{KEY_PREFIX}{id}")
}

fn key_id_of(target: &str) -> Result<&str, AwsError> {
    target.strip_prefix(KEY_PREFIX).ok_or_else(|| {
        AwsError::new(
            ErrorKind::Service,
            "kms",
            format!("internal: '{target}' is not a KMS key target"),
        )
    })
}

/// What the control makes of one key (pure: depends on the key's metadata only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyClass {
    /// AWS-managed (or otherwise not the customer's): AWS rotates these itself. Not reported.
    NotOurs,
    /// Customer-managed but automatic rotation does not apply; the reason.
    Skip(String),
    /// Enabled customer-managed symmetric key: rotation must be on.
    Target,
    /// The key's metadata or rotation status could not be read (a key policy that does not
    /// let this principal in): reported as an error for that key, the others go on.
    Unreadable(String),
}

pub(crate) fn classify(m: &KeyMetadata) -> KeyClass {
    if m.key_manager() != Some(&KeyManagerType::Customer) {
        return KeyClass::NotOurs;
    }
    if m.key_spec() != Some(&KeySpec::SymmetricDefault) {
        let spec = m.key_spec().map(|s| s.as_str()).unwrap_or("unknown");
        return KeyClass::Skip(format!(
            "key spec {spec}: automatic rotation only exists for symmetric encryption keys"
        ));
    }
    match m.key_state() {
        Some(KeyState::Enabled) => {}
        Some(KeyState::PendingDeletion) | Some(KeyState::PendingReplicaDeletion) => {
            return KeyClass::Skip("pending deletion".into())
        }
        other => {
            let s = other.map(|s| s.as_str()).unwrap_or("unknown");
            return KeyClass::Skip(format!(
                "key state {s}: rotation can only be turned on for enabled keys"
            ));
        }
    }
    let origin = m.origin().map(|o| o.as_str()).unwrap_or("AWS_KMS");
    if origin != "AWS_KMS" {
        return KeyClass::Skip(format!(
            "key material origin {origin}: AWS KMS cannot rotate imported or external key material"
        ));
    }
    if m.multi_region_configuration()
        .and_then(|c| c.multi_region_key_type())
        == Some(&MultiRegionKeyType::Replica)
    {
        return KeyClass::Skip(
            "multi-Region replica: rotation is set on its primary key and shared".into(),
        );
    }
    KeyClass::Target
}

/// One key as this control sees it. `rotation` is `None` when it was not read (an AWS-managed
/// key, a key that cannot rotate).
#[derive(Debug, Clone)]
pub(crate) struct KeyInfo {
    pub id: String,
    pub class: KeyClass,
    pub rotation: Option<bool>,
    /// The landing zone whose alias the key carries (`alias/accelerator/…`,
    /// `alias/aws-controltower…`).
    pub owner: Option<landing_zone::Owner>,
}

/// AWS names each of its managed keys `alias/aws/SERVICE`, a prefix no customer alias may use.
const AWS_MANAGED_ALIAS: &str = "alias/aws/";

/// What the region's aliases say of its keys.
#[derive(Debug, Default)]
struct Aliases {
    aws_managed: HashSet<String>,
    owner: HashMap<String, landing_zone::Owner>,
}

/// Every key of the region, at one call per key for a key whose rotation is on.
///
/// ListKeys, streamed: each page's keys are read as soon as it arrives, while the next page is
/// asked for. The first key listed asks for the aliases (ListAliases, all pages; a region
/// without keys asks nothing more): a key with an `alias/aws/…` alias is AWS-managed and is
/// never asked about. Every other key gets GetKeyRotationStatus; only a key whose rotation is
/// off (or that cannot answer) gets DescribeKey, which decides whether it is a target at all
/// (enabled, customer-managed, symmetric, its material from KMS, not a replica).
///
/// `focus`: the one key a focused re-read judges (apply's check and verification of its
/// change): only it is read.
pub(crate) async fn read_keys(
    kms: &aws_sdk_kms::Client,
    focus: Option<&str>,
) -> Result<Vec<KeyInfo>, AwsError> {
    let pages = pages(
        "kms:ListKeys",
        kms.list_keys().limit(1000).into_paginator().send(),
        |page| {
            page.keys()
                .iter()
                .filter_map(|k| k.key_id())
                .filter(|id| focus.is_none_or(|f| f == *id))
                .map(str::to_string)
                .collect()
        },
    );
    let aliases = tokio::sync::OnceCell::new();
    let aliases = &aliases;
    // Each key's reads depend on no other key's: a few keys at once, in listing order.
    let mut out: Vec<KeyInfo> = read_each(pages, KEY_READS_AT_ONCE, |id| async move {
        let aliases = aliases.get_or_try_init(|| read_aliases(kms)).await?;
        if aliases.aws_managed.contains(&id) {
            return Ok(None);
        }
        let mut key = read_key(kms, id).await?;
        if let Some(k) = &mut key {
            k.owner = aliases.owner.get(&k.id).cloned();
        }
        Ok(key)
    })
    .await?
    .into_iter()
    .flatten()
    .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

async fn read_aliases(kms: &aws_sdk_kms::Client) -> Result<Aliases, AwsError> {
    let mut out = Aliases::default();
    let mut pages = kms.list_aliases().limit(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_err("kms:ListAliases"))?;
        for a in page.aliases() {
            let (Some(name), Some(key)) = (a.alias_name(), a.target_key_id()) else {
                continue;
            };
            if name.starts_with(AWS_MANAGED_ALIAS) {
                out.aws_managed.insert(key.to_string());
            } else if let Some(o) = landing_zone::by_name(name) {
                out.owner.insert(key.to_string(), o);
            }
        }
    }
    Ok(out)
}

/// Keys read at once within a region (the region's KMS budget paces them).
const KEY_READS_AT_ONCE: usize = 16;

/// One key: GetKeyRotationStatus; DescribeKey only when rotation is off or cannot be read.
/// `None`: KMS described nothing.
async fn read_key(kms: &aws_sdk_kms::Client, id: String) -> Result<Option<KeyInfo>, AwsError> {
    let unreadable = |id: String, err: &AwsError| KeyInfo {
        id,
        class: KeyClass::Unreadable(err.to_string()),
        rotation: None,
        owner: None,
    };
    let status = match kms.get_key_rotation_status().key_id(&id).send().await {
        // Rotation on is compliant whatever else the key is: nothing to change or skip.
        Ok(o) if o.key_rotation_enabled() => {
            return Ok(Some(KeyInfo {
                id,
                class: KeyClass::Target,
                rotation: Some(true),
                owner: None,
            }))
        }
        Ok(_) => Ok(false),
        Err(e) => {
            let err = AwsError::from_sdk("kms:GetKeyRotationStatus", e);
            match err.kind {
                ErrorKind::AccessDenied => return Ok(Some(unreadable(id, &err))),
                // A key that cannot rotate (asymmetric, imported, pending deletion) says so
                // with an error; DescribeKey says why.
                ErrorKind::Service => Err(err),
                _ => return Err(err),
            }
        }
    };
    let meta = match kms.describe_key().key_id(&id).send().await {
        Ok(o) => o.key_metadata,
        Err(e) => {
            let err = AwsError::from_sdk("kms:DescribeKey", e);
            if err.kind != ErrorKind::AccessDenied {
                return Err(err);
            }
            return Ok(Some(unreadable(id, &err)));
        }
    };
    let Some(meta) = meta else { return Ok(None) };
    let class = classify(&meta);
    let rotation = match (&class, status) {
        (KeyClass::Target, Ok(on)) => Some(on),
        // A target whose status could not be read: the error stands.
        (KeyClass::Target, Err(err)) => return Err(err),
        _ => None,
    };
    Ok(Some(KeyInfo {
        id: meta.key_id().to_string(),
        class,
        rotation,
        owner: None,
    }))
}

/// The findings of one region's keys (pure).
pub(crate) fn findings(keys: &[KeyInfo]) -> Vec<Finding> {
    let mut out = Vec::new();
    for k in keys {
        let target = key_target(&k.id);
        match &k.class {
            KeyClass::NotOurs => {}
            KeyClass::Unreadable(why) => out.push(Finding::error(
                target,
                format!(
                    "could not read the key (its key policy may not allow this principal): {why}"
                ),
            )),
            KeyClass::Skip(why) => out.push(Finding {
                status: Status::Skipped,
                ..Finding::compliant(target, format!("not a rotation target: {why}"), Value::Null)
            }),
            KeyClass::Target => {
                let on = k.rotation.unwrap_or(false);
                let before = json!({ "KeyRotationEnabled": on });
                out.push(if on {
                    Finding::compliant(target, "automatic key rotation is on", before)
                } else if let Some(owner) = &k.owner {
                    landing_zone::manual(
                        target,
                        "automatic key rotation is off",
                        &format!("key {}", k.id),
                        owner,
                        before,
                    )
                } else {
                    Finding::change(
                        target,
                        "automatic key rotation is off",
                        Action::Update,
                        before,
                        json!({ "KeyRotationEnabled": true }),
                        vec![ApiCall::new(
                            "kms:EnableKeyRotation",
                            json!({ "KeyId": k.id }),
                        )],
                    )
                    .with_note(
                        "KMS creates new key material every year and keeps the old material, so \
                         data encrypted before stays readable; each rotation adds a monthly \
                         key-material charge (up to the second rotation).",
                    )
                });
            }
        }
    }
    if out.is_empty() {
        out.push(Finding::compliant(
            NO_KEYS_TARGET,
            "no customer-managed KMS keys in this region (AWS-managed keys are rotated by AWS)",
            json!({ "CustomerManagedKeys": 0 }),
        ));
    }
    out
}

#[async_trait]
impl Control for KmsKeyRotation {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        let focus = cx.reads.focus().and_then(|t| t.strip_prefix(KEY_PREFIX));
        let keys = cx
            .reads
            .shared(&format!("kms:keys-rotation:{region}"), || async {
                read_keys(&cx.aws.kms(region), focus).await
            })
            .await?;
        Ok(findings(&keys))
    }

    async fn apply(&self, cx: &Cx<'_>, region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        cx.aws
            .kms(region_of(region)?)
            .enable_key_rotation()
            .key_id(key_id_of(&f.target)?)
            .send()
            .await
            .map_err(aws_err("kms:EnableKeyRotation"))?;
        Ok(())
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        if previous["KeyRotationEnabled"] == json!(false) {
            cx.aws
                .kms(region_of(region)?)
                .disable_key_rotation()
                .key_id(key_id_of(target)?)
                .send()
                .await
                .map_err(aws_err("kms:DisableKeyRotation"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::config::retry::RetryConfig;
    use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_kms::types::OriginType;
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_runtime_api::http::{Request as HttpRequest, Response as HttpResponse};
    use aws_smithy_types::body::SdkBody;

    fn meta(manager: KeyManagerType, spec: KeySpec, state: KeyState) -> KeyMetadata {
        KeyMetadata::builder()
            .key_id("k1")
            .key_manager(manager)
            .key_spec(spec)
            .key_state(state)
            .origin(OriginType::AwsKms)
            .build()
            .unwrap()
    }

    #[test]
    fn only_enabled_customer_symmetric_keys_are_targets() {
        use KeyManagerType::*;
        assert_eq!(
            classify(&meta(
                Customer,
                KeySpec::SymmetricDefault,
                KeyState::Enabled
            )),
            KeyClass::Target
        );
        assert_eq!(
            classify(&meta(Aws, KeySpec::SymmetricDefault, KeyState::Enabled)),
            KeyClass::NotOurs
        );
        for (spec, state, want) in [
            (KeySpec::Rsa2048, KeyState::Enabled, "symmetric"),
            (KeySpec::Hmac256, KeyState::Enabled, "symmetric"),
            (KeySpec::SymmetricDefault, KeyState::Disabled, "Disabled"),
            (
                KeySpec::SymmetricDefault,
                KeyState::PendingDeletion,
                "pending deletion",
            ),
        ] {
            match classify(&meta(Customer, spec.clone(), state)) {
                KeyClass::Skip(why) => assert!(why.contains(want), "{spec:?}: {why}"),
                c => panic!("{spec:?}: {c:?}"),
            }
        }
        let imported = KeyMetadata::builder()
            .key_id("k2")
            .key_manager(Customer)
            .key_spec(KeySpec::SymmetricDefault)
            .key_state(KeyState::Enabled)
            .origin(OriginType::External)
            .build()
            .unwrap();
        assert!(matches!(classify(&imported), KeyClass::Skip(_)));
    }

    #[test]
    fn findings_per_key_and_none() {
        let f = findings(&[]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Compliant);
        assert_eq!(f[0].target, NO_KEYS_TARGET);

        let keys = vec![
            KeyInfo {
                id: "a".into(),
                class: KeyClass::Target,
                rotation: Some(false),
                owner: None,
            },
            KeyInfo {
                id: "b".into(),
                class: KeyClass::Target,
                rotation: Some(true),
                owner: None,
            },
            KeyInfo {
                id: "c".into(),
                class: KeyClass::NotOurs,
                rotation: None,
                owner: None,
            },
            KeyInfo {
                id: "d".into(),
                class: KeyClass::Skip("pending deletion".into()),
                rotation: None,
                owner: None,
            },
        ];
        let f = findings(&keys);
        assert_eq!(f.len(), 3, "AWS-managed key c is not reported");
        assert_eq!(f[0].target, "KMS key a");
        assert_eq!(f[0].status, Status::Change);
        assert_eq!(f[0].before, json!({ "KeyRotationEnabled": false }));
        assert_eq!(f[0].calls[0].params, json!({ "KeyId": "a" }));
        assert_eq!(f[1].status, Status::Compliant);
        assert_eq!(f[2].status, Status::Skipped);
        assert_eq!(key_id_of(&f[0].target).unwrap(), "a");
        assert!(key_id_of(NO_KEYS_TARGET).is_err());
    }

    fn event(body: &str) -> ReplayEvent {
        event_status(200, body)
    }

    fn event_status(status: u16, body: &str) -> ReplayEvent {
        let mut req = HttpRequest::new(SdkBody::empty());
        req.set_uri("https://kms.eu-west-1.amazonaws.com/").unwrap();
        let resp = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_string()));
        ReplayEvent::new(req, resp)
    }

    fn client(
        http: impl aws_smithy_runtime_api::client::http::HttpClient + 'static,
    ) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }

    /// A key whose key policy shuts this principal out is an error for that key only.
    #[tokio::test]
    async fn a_key_that_cannot_be_read_is_an_error_finding() {
        let http = StaticReplayClient::new(vec![
            event(r#"{"Keys":[{"KeyId":"locked"}],"Truncated":false}"#),
            event(r#"{"Aliases":[],"Truncated":false}"#),
            event_status(
                400,
                r#"{"__type":"AccessDeniedException","message":"not allowed by the key policy"}"#,
            ),
        ]);
        let keys = read_keys(&client(http.clone()), None).await.unwrap();
        let f = findings(&keys);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].target, "KMS key locked");
        assert_eq!(f[0].status, Status::Error);
        assert!(f[0].summary.contains("key policy"), "{}", f[0].summary);
    }

    fn targets(http: &StaticReplayClient) -> Vec<String> {
        http.actual_requests()
            .map(|r| {
                r.headers()
                    .get("x-amz-target")
                    .unwrap_or_default()
                    .trim_start_matches("TrentService.")
                    .to_string()
            })
            .collect()
    }

    /// The emulator cannot make an AWS-managed key (every key it creates is CUSTOMER), so
    /// this replays what KMS answers for one: its `alias/aws/…` alias marks it, and no call
    /// is made for it at all.
    #[tokio::test]
    async fn aws_managed_keys_are_known_by_their_alias_and_never_asked_about() {
        let http = StaticReplayClient::new(vec![
            event(
                r#"{"Keys":[{"KeyId":"aws-1","KeyArn":"arn:aws:kms:eu-west-1:111122223333:key/aws-1"}],"Truncated":false}"#,
            ),
            event(
                r#"{"Aliases":[{"AliasName":"alias/aws/ebs","TargetKeyId":"aws-1"}],"Truncated":false}"#,
            ),
        ]);
        let keys = read_keys(&client(http.clone()), None).await.unwrap();
        assert!(keys.is_empty(), "{keys:?}");
        assert_eq!(
            targets(&http),
            ["ListKeys", "ListAliases"],
            "no rotation read or write for an AWS-managed key"
        );
        let f = findings(&keys);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].target, NO_KEYS_TARGET);
    }

    /// One call for a key whose rotation is on; DescribeKey only for the one that is off.
    #[tokio::test]
    async fn a_rotating_key_costs_one_call_and_only_a_key_that_is_off_is_described() {
        let http = StaticReplayClient::new(vec![
            event(r#"{"Keys":[{"KeyId":"on"},{"KeyId":"off"}],"Truncated":false}"#),
            event(r#"{"Aliases":[],"Truncated":false}"#),
            event(r#"{"KeyRotationEnabled":true}"#),
            event(r#"{"KeyRotationEnabled":false}"#),
            event(
                r#"{"KeyMetadata":{"KeyId":"off","KeyManager":"CUSTOMER","KeySpec":"SYMMETRIC_DEFAULT","KeyState":"Enabled","Origin":"AWS_KMS","Enabled":true}}"#,
            ),
        ]);
        let keys = read_keys(&client(http.clone()), None).await.unwrap();
        assert_eq!(
            targets(&http),
            [
                "ListKeys",
                "ListAliases",
                "GetKeyRotationStatus",
                "GetKeyRotationStatus",
                "DescribeKey"
            ]
        );
        let f = findings(&keys);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].target, "KMS key off");
        assert_eq!(f[0].status, Status::Change);
        assert_eq!(f[1].target, "KMS key on");
        assert_eq!(f[1].status, Status::Compliant);
    }

    /// A key that cannot rotate answers GetKeyRotationStatus with an error; DescribeKey says
    /// why, and the key is skipped with that reason.
    #[tokio::test]
    async fn a_key_that_cannot_rotate_is_skipped_with_its_reason() {
        let http = StaticReplayClient::new(vec![
            event(r#"{"Keys":[{"KeyId":"rsa"}],"Truncated":false}"#),
            event(r#"{"Aliases":[],"Truncated":false}"#),
            event_status(
                400,
                r#"{"__type":"UnsupportedOperationException","message":"not supported for asymmetric keys"}"#,
            ),
            event(
                r#"{"KeyMetadata":{"KeyId":"rsa","KeyManager":"CUSTOMER","KeySpec":"RSA_2048","KeyState":"Enabled","Origin":"AWS_KMS","Enabled":true}}"#,
            ),
        ]);
        let keys = read_keys(&client(http.clone()), None).await.unwrap();
        let f = findings(&keys);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].status, Status::Skipped);
        assert!(f[0].summary.contains("symmetric"), "{}", f[0].summary);
    }

    /// What KMS answers by request, for [`a_key_is_read_before_the_next_page_of_keys`]: the
    /// second page of ListKeys is answered only once a key of the first page is being read.
    #[derive(Debug, Clone, Default)]
    struct PagedKms {
        rotation_asked: std::sync::Arc<tokio::sync::Notify>,
        log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl aws_smithy_runtime_api::client::http::HttpConnector for PagedKms {
        fn call(
            &self,
            request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
        ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
            let me = self.clone();
            let op = request
                .headers()
                .get("x-amz-target")
                .unwrap_or_default()
                .trim_start_matches("TrentService.")
                .to_string();
            let body = std::str::from_utf8(request.body().bytes().unwrap_or_default())
                .unwrap_or_default()
                .to_string();
            aws_smithy_runtime_api::client::http::HttpConnectorFuture::new(async move {
                let second_page = op == "ListKeys" && body.contains("\"Marker\"");
                if second_page {
                    me.rotation_asked.notified().await;
                }
                me.log.lock().unwrap().push(if second_page {
                    "ListKeys page 2".to_string()
                } else {
                    op.clone()
                });
                let answer = match op.as_str() {
                    "ListKeys" if second_page => {
                        r#"{"Keys":[{"KeyId":"k2"}],"Truncated":false}"#.to_string()
                    }
                    "ListKeys" => r#"{"Keys":[{"KeyId":"k1"}],"Truncated":true,"NextMarker":"m1"}"#
                        .to_string(),
                    "ListAliases" => r#"{"Aliases":[],"Truncated":false}"#.to_string(),
                    "GetKeyRotationStatus" => {
                        me.rotation_asked.notify_one();
                        r#"{"KeyRotationEnabled":true}"#.to_string()
                    }
                    other => panic!("unexpected {other}"),
                };
                Ok(HttpResponse::new(
                    200.try_into().unwrap(),
                    SdkBody::from(answer),
                ))
            })
        }
    }

    impl aws_smithy_runtime_api::client::http::HttpClient for PagedKms {
        fn http_connector(
            &self,
            _: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
            _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
            aws_smithy_runtime_api::client::http::SharedHttpConnector::new(self.clone())
        }
    }

    /// ListKeys is streamed: a key of the first page is read while the second page is still
    /// to come (moto 5.2.5 answers ListKeys in one page whatever Limit says, so this is KMS's
    /// paginated answer served by request; the second page waits for a rotation read, and a
    /// listing read to its end first would never finish).
    #[tokio::test]
    async fn a_key_is_read_before_the_next_page_of_keys() {
        let kms_http = PagedKms::default();
        let kms = client(kms_http.clone());
        let keys = tokio::time::timeout(std::time::Duration::from_secs(20), read_keys(&kms, None))
            .await
            .expect("a key of the first page must be read before the second page is in")
            .unwrap();
        let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, ["k1", "k2"]);
        assert!(keys.iter().all(|k| k.rotation == Some(true)));
        let log = kms_http.log.lock().unwrap().clone();
        assert_eq!(
            log,
            [
                "ListKeys",
                "ListAliases",
                "GetKeyRotationStatus",
                "ListKeys page 2",
                "GetKeyRotationStatus"
            ],
            "one aliases read, one rotation read per key"
        );
    }
}

//! CIS 5.0 1.2: security contact information is registered: the account's alternate
//! contact of type SECURITY (AWS Account API). The values come from the settings
//! (`security_contact = { name, title, email, phone }` in cis-fix.toml, `--set`, or the
//! guided session); when some are missing the plan says which and how to give them.
//!
//! Undo puts the previous contact back, or deletes the contact when there was none.

use async_trait::async_trait;
use aws_sdk_account::types::AlternateContactType;
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::params::Contact;
use crate::plan::{Action, ApiCall, Finding, Risk};

pub struct SecurityContact;

const DESCRIPTION: Description = Description {
    slug: "security-contact",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[GET],
    write_actions: &[PUT, DELETE],
    change_profile: "low (who AWS contacts about security issues); reversible: undo restores the previous contact, or deletes it if there was none",
};

const TARGET: &str = "security contact";
const GET: &str = "account:GetAlternateContact";
const PUT: &str = "account:PutAlternateContact";
const DELETE: &str = "account:DeleteAlternateContact";

fn to_value(c: &Contact) -> Value {
    json!({ "name": c.name, "title": c.title, "email": c.email, "phone": c.phone })
}

fn from_value(v: &Value) -> Option<Contact> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    v.is_object().then(|| Contact {
        name: s("name"),
        title: s("title"),
        email: s("email"),
        phone: s("phone"),
    })
}

/// The settings keys a contact lacks.
fn missing(c: Option<&Contact>) -> Vec<&'static str> {
    let empty = Contact::default();
    let c = c.unwrap_or(&empty);
    [
        ("name", &c.name),
        ("title", &c.title),
        ("email", &c.email),
        ("phone", &c.phone),
    ]
    .into_iter()
    .filter(|(_, v)| v.trim().is_empty())
    .map(|(k, _)| k)
    .collect()
}

const HOW: &str = "Give the values in cis-fix.toml: security_contact = { name = \"…\", title = \"…\", email = \"…\", phone = \"…\" } (or the same with --set 'security_contact={…}', or the guided session), then plan again.";

/// The finding from the current contact and the wanted one. Pure.
fn finding(current: Option<&Contact>, wanted: Option<&Contact>) -> Finding {
    let before = current.map(to_value).unwrap_or(Value::Null);
    let gaps = missing(wanted);
    let describe = |c: &Contact| format!("{} ({}) <{}>, {}", c.name, c.title, c.email, c.phone);
    match current {
        Some(cur) if gaps.is_empty() && Some(cur) != wanted => {
            let want = wanted.cloned().unwrap_or_default();
            let mut f = Finding::change(
                TARGET,
                format!(
                    "security contact is {}; replace it with {}",
                    describe(cur),
                    describe(&want)
                ),
                Action::Update,
                before,
                to_value(&want),
                vec![put_call(&want)],
            )
            .with_risk(Risk::Low)
            .with_note("Replaces the registered security contact (journaled; undo puts it back).");
            f.destructive = true;
            f
        }
        Some(cur) => {
            let mut f = Finding::compliant(
                TARGET,
                format!("security contact registered: {}", describe(cur)),
                before,
            );
            if wanted.is_some() && !gaps.is_empty() {
                f = f.with_note(format!(
                    "security_contact in the settings lacks {}; the registered contact is kept",
                    gaps.join(", ")
                ));
            }
            f
        }
        None if gaps.is_empty() => {
            let want = wanted.cloned().unwrap_or_default();
            Finding::change(
                TARGET,
                format!("no security contact registered: set {}", describe(&want)),
                Action::Create,
                before,
                to_value(&want),
                vec![put_call(&want)],
            )
            .with_risk(Risk::Low)
            .with_note("AWS sends security notifications to this contact as well as to the account's e-mail. Undo deletes it again.")
        }
        None => Finding::manual(
            TARGET,
            format!(
                "no security contact registered, and the settings lack its {}",
                gaps.join(", ")
            ),
            before,
            &[HOW],
        ),
    }
}

fn put_call(c: &Contact) -> ApiCall {
    ApiCall::new(
        PUT,
        json!({
            "AlternateContactType": "SECURITY",
            "Name": c.name,
            "Title": c.title,
            "EmailAddress": c.email,
            "PhoneNumber": c.phone,
        }),
    )
}

/// The registered contact; `Ok(Err(detail))` when the Account API is not available.
async fn current(
    client: &aws_sdk_account::Client,
) -> Result<Result<Option<Contact>, String>, AwsError> {
    match client
        .get_alternate_contact()
        .alternate_contact_type(AlternateContactType::Security)
        .send()
        .await
    {
        Ok(out) => Ok(Ok(out.alternate_contact().map(|c| Contact {
            name: c.name().unwrap_or_default().to_string(),
            title: c.title().unwrap_or_default().to_string(),
            email: c.email_address().unwrap_or_default().to_string(),
            phone: c.phone_number().unwrap_or_default().to_string(),
        }))),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let err = AwsError::from_sdk(GET, e);
            if err.is_code("ResourceNotFoundException") {
                return Ok(Ok(None));
            }
            if err.kind == ErrorKind::Service
                && err.code.is_none()
                && status.is_some_and(|s| s >= 500 || s == 404)
            {
                return Ok(Err(format!("{GET} answered HTTP {}", status.unwrap_or(0))));
            }
            Err(err)
        }
    }
}

async fn put(client: &aws_sdk_account::Client, c: &Contact) -> Result<(), AwsError> {
    client
        .put_alternate_contact()
        .alternate_contact_type(AlternateContactType::Security)
        .name(&c.name)
        .title(&c.title)
        .email_address(&c.email)
        .phone_number(&c.phone)
        .send()
        .await
        .map_err(aws_err(PUT))?;
    Ok(())
}

#[async_trait]
impl Control for SecurityContact {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        Ok(vec![match current(&cx.aws.account_api()).await? {
            Ok(cur) => finding(cur.as_ref(), cx.params.security_contact.as_ref()),
            Err(detail) => Finding::unknown(
                TARGET,
                format!("could not read the security contact ({detail}); the Account API is not available here"),
            ),
        }])
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        let want = from_value(&f.after).ok_or_else(|| {
            AwsError::new(
                ErrorKind::Service,
                PUT,
                "internal: no security contact to set",
            )
        })?;
        put(&cx.aws.account_api(), &want).await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        _target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let client = cx.aws.account_api();
        match from_value(previous) {
            Some(c) => put(&client, &c).await,
            None => match client
                .delete_alternate_contact()
                .alternate_contact_type(AlternateContactType::Security)
                .send()
                .await
                .map_err(aws_err(DELETE))
            {
                Err(e) if e.is_code("ResourceNotFoundException") => Ok(()),
                r => r.map(|_| ()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;

    fn contact(name: &str, email: &str) -> Contact {
        Contact {
            name: name.into(),
            title: "CISO".into(),
            email: email.into(),
            phone: "+1 555 0100".into(),
        }
    }

    #[test]
    fn findings() {
        let want = contact("Sec", "sec@example.com");
        let f = finding(None, Some(&want));
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.action, Some(Action::Create));
        assert_eq!(f.before, Value::Null);
        assert_eq!(f.calls[0].params["AlternateContactType"], "SECURITY");
        assert!(!f.destructive);

        let f = finding(Some(&want), Some(&want));
        assert_eq!(f.status, Status::Compliant);

        let other = contact("Old", "old@example.com");
        let f = finding(Some(&other), Some(&want));
        assert_eq!(f.status, Status::Change);
        assert!(f.destructive);
        assert_eq!(from_value(&f.before), Some(other.clone()));

        // Registered, nothing configured: compliant (CIS asks that one is registered).
        assert_eq!(finding(Some(&other), None).status, Status::Compliant);

        let f = finding(None, None);
        assert_eq!(f.status, Status::Manual);
        assert!(
            f.summary.contains("name, title, email, phone"),
            "{}",
            f.summary
        );
        assert!(f.manual_steps[0].contains("security_contact = {"));

        let partial = Contact {
            name: "Sec".into(),
            email: "sec@example.com".into(),
            ..Contact::default()
        };
        let f = finding(None, Some(&partial));
        assert_eq!(f.status, Status::Manual);
        assert!(
            f.summary.ends_with("lack its title, phone"),
            "{}",
            f.summary
        );
        let f = finding(Some(&other), Some(&partial));
        assert_eq!(f.status, Status::Compliant);
        assert!(f.notes[0].contains("title, phone"));
    }
}

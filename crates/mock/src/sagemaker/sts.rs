//! The mock's STS, on the same port as its SageMaker: the AWS Query protocol (a
//! form-encoded `POST /` with `Action=…`, XML answers), so aws-config's credential
//! providers, boto3 and `aws sts … --endpoint-url` work against it unchanged.
//! `GetCallerIdentity` and `AssumeRole`; any role may be assumed unless it is denied.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::fleet::{Fleet, Identity, Session};
use super::registry::ApiError;

/// The XML namespace of STS answers.
const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// What the mock's STS may be told at start and over `PUT /_mock/sts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StsSettings {
    /// Roles `AssumeRole` refuses with `AccessDenied`.
    pub denied_roles: BTreeSet<String>,
    /// How long the credentials `AssumeRole` issues last, in seconds (the request's
    /// `DurationSeconds` is not honoured, so tests can make them short).
    pub credential_lifetime_secs: u64,
}

impl Default for StsSettings {
    fn default() -> StsSettings {
        StsSettings {
            denied_roles: BTreeSet::new(),
            credential_lifetime_secs: Duration::from_secs(3600).as_secs(),
        }
    }
}

/// The form fields of an STS request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Form {
    action: Option<String>,
    role_arn: Option<String>,
    role_session_name: Option<String>,
}

/// An STS answer: HTTP status and XML body.
pub type Answer = (u16, String);

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The Query protocol's error document.
pub fn error(status: u16, code: &str, message: &str, request_id: &str) -> Answer {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    (
        status,
        format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>{kind}</Type><Code>{}</Code>\
             <Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            escape(code),
            escape(message)
        ),
    )
}

fn api_error(e: &ApiError, request_id: &str) -> Answer {
    // STS spells its codes without the `Exception` suffix.
    let code = e.code.trim_end_matches("Exception");
    let status = if code == "AccessDenied" {
        403
    } else {
        e.status
    };
    error(status, code, &e.message, request_id)
}

fn random_key(prefix: &str, len: usize) -> String {
    let alphabet: Vec<char> = ('A'..='Z').chain('0'..='9').collect();
    let mut key = prefix.to_string();
    key.extend((0..len).map(|_| alphabet[fastrand::usize(..alphabet.len())]));
    key
}

/// The operation an STS request names (for counters and faults), if any.
pub fn action(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Form>(body).ok()?.action
}

/// Serves one STS request from a caller already identified.
pub fn serve(
    fleet: &mut Fleet,
    settings: &StsSettings,
    caller: &Identity,
    body: &[u8],
    real_now: f64,
    request_id: &str,
) -> Answer {
    let form: Form = match serde_urlencoded::from_bytes(body) {
        Ok(form) => form,
        Err(e) => return error(400, "MalformedInput", &format!("{e}"), request_id),
    };
    match form.action.as_deref() {
        Some("GetCallerIdentity") => (
            200,
            format!(
                "<GetCallerIdentityResponse xmlns=\"{NAMESPACE}\"><GetCallerIdentityResult>\
                 <Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account></GetCallerIdentityResult>\
                 <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
                 </GetCallerIdentityResponse>",
                escape(&caller.arn),
                escape(&caller.user_id),
                caller.account
            ),
        ),
        Some("AssumeRole") => assume_role(fleet, settings, caller, &form, real_now, request_id),
        Some(other) => error(
            400,
            "InvalidAction",
            &format!("The mock STS does not implement {other}"),
            request_id,
        ),
        None => error(400, "MissingAction", "Action is required", request_id),
    }
}

fn assume_role(
    fleet: &mut Fleet,
    settings: &StsSettings,
    caller: &Identity,
    form: &Form,
    real_now: f64,
    request_id: &str,
) -> Answer {
    let (Some(role_arn), Some(session_name)) = (&form.role_arn, &form.role_session_name) else {
        return error(
            400,
            "ValidationError",
            "RoleArn and RoleSessionName are required",
            request_id,
        );
    };
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let account = match parts[..] {
        ["arn", _, "iam", "", account, resource]
            if account.len() == 12 && resource.starts_with("role/") =>
        {
            account.to_string()
        }
        _ => {
            return error(
                400,
                "ValidationError",
                &format!("{role_arn} is not a role ARN"),
                request_id,
            );
        }
    };
    if settings.denied_roles.contains(role_arn) {
        let denied = ApiError {
            status: 403,
            code: "AccessDenied",
            message: format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.arn
            ),
        };
        return api_error(&denied, request_id);
    }
    let expires = fleet.now(real_now) + settings.credential_lifetime_secs as f64;
    let access_key = random_key("ASIAMOCK", 12);
    fleet.add_session(
        access_key.clone(),
        Session {
            account,
            role_arn: role_arn.clone(),
            session_name: session_name.clone(),
            expires,
        },
    );
    let expiration = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + Duration::from_secs_f64(expires.max(0.0)),
    );
    let role_name = role_arn.rsplit('/').next().unwrap_or_default();
    (
        200,
        format!(
            "<AssumeRoleResponse xmlns=\"{NAMESPACE}\"><AssumeRoleResult><Credentials>\
             <AccessKeyId>{access_key}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey>\
             <SessionToken>{}</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
             <AssumedRoleUser><AssumedRoleId>AROAMOCK:{}</AssumedRoleId>\
             <Arn>arn:aws:sts::{}:assumed-role/{}/{}</Arn></AssumedRoleUser></AssumeRoleResult>\
             <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
             </AssumeRoleResponse>",
            random_key("", 40),
            random_key("MOCKSESSION", 60),
            escape(session_name),
            &role_arn.split(':').nth(4).unwrap_or_default(),
            escape(role_name),
            escape(session_name)
        ),
    )
}

/// The error answer for a request whose credentials were refused.
pub fn refused(e: &ApiError, request_id: &str) -> Answer {
    api_error(e, request_id)
}

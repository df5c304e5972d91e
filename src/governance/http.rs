//! What governance's HTTP answers mean: the one table from status to what govsync
//! does about it (for OpenPages and for the IBM Cloud IAM token endpoint), and the
//! readable text of an error.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use serde_json::Value;

use crate::remote::ErrorKind;

/// Which endpoint answered: IAM says "bad API key" with a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    /// The OpenPages REST API v2.
    OpenPages,
    /// The IBM Cloud IAM token endpoint.
    Iam,
}

/// What an HTTP status means to govsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Meaning {
    /// 2xx.
    Success,
    /// 429, 502, 503, 504: the server is busy or a proxy lost it; the same call is
    /// retried now (with backoff and `Retry-After`).
    RetryNow,
    /// 404.
    NotFound,
    /// 400, 409, 422 from OpenPages: the value was refused (e.g. the workflow does
    /// not allow that status); reported, not retried.
    Refused,
    /// Anything else that failed, with its kind (500 and other 5xx are worth the
    /// next cycle, not an immediate retry: the write may have happened).
    Failed(ErrorKind),
}

/// The table.
pub(super) fn meaning(endpoint: Endpoint, status: StatusCode) -> Meaning {
    match (endpoint, status.as_u16()) {
        (_, 200..=299) => Meaning::Success,
        (_, 429 | 502..=504) => Meaning::RetryNow,
        (Endpoint::Iam, 400) | (_, 401 | 403) => Meaning::Failed(ErrorKind::Auth),
        (Endpoint::OpenPages, 404) => Meaning::NotFound,
        (Endpoint::OpenPages, 400 | 409 | 422) => Meaning::Refused,
        (_, 500..=599) => Meaning::Failed(ErrorKind::Retryable),
        (_, 400..=499) => Meaning::Failed(ErrorKind::Rejected),
        _ => Meaning::Failed(ErrorKind::Other),
    }
}

impl Meaning {
    /// The error kind of a call that ended with this meaning.
    pub(super) fn kind(self) -> ErrorKind {
        match self {
            Meaning::RetryNow => ErrorKind::Retryable,
            Meaning::NotFound | Meaning::Refused => ErrorKind::Rejected,
            Meaning::Failed(kind) => kind,
            Meaning::Success => ErrorKind::Other,
        }
    }
}

/// A reqwest error, described by what failed and its innermost cause.
pub(super) fn describe_reqwest(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the connection failed while reading the answer"
    } else {
        "the request failed"
    };
    let mut source = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        what.to_string()
    } else {
        format!("{what} ({detail})")
    }
}

/// What to say of an HTML page where the REST API's JSON was expected: a login page
/// or a web console answers at a URL that is not the API's base.
pub(super) const HTML_INSTEAD_OF_JSON: &str = "an HTML page, not an answer of the OpenPages REST API (a login page or the web console?): governance.base_url must be the API's base, e.g. https://HOST/opgrc/api/v2 (on Cloud Pak for Data https://HOST/openpages-INSTANCE-opgrc/api/v2), reachable without a browser sign-in";

/// True when `body` is an HTML document rather than JSON.
pub(super) fn is_html(body: &[u8]) -> bool {
    let start: String = String::from_utf8_lossy(&body[..body.len().min(512)])
        .trim_start()
        .chars()
        .take(20)
        .collect::<String>()
        .to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html") || start.starts_with("<head")
}

/// An HTML page's title, when it has one (it names a login page).
fn html_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let title: String = text[open_end..close]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!title.is_empty()).then(|| title.chars().take(80).collect())
}

/// An HTML body described for a person: what it is (and its title), and what to fix.
pub(super) fn html_text(body: &[u8]) -> String {
    match html_title(body) {
        Some(title) => format!("{HTML_INSTEAD_OF_JSON} (page title \"{title}\")"),
        None => HTML_INSTEAD_OF_JSON.to_string(),
    }
}

/// The useful part of an error body: OpenPages' `message` (which may carry an
/// `OP-NNNNN` code), IAM's `errorMessage`, what an HTML page means, or the start of
/// the text.
pub(super) fn error_text(body: &[u8]) -> String {
    if is_html(body) {
        return html_text(body);
    }
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        ["message", "errorMessage", "error"]
            .iter()
            .find_map(|k| v.get(k).and_then(Value::as_str).map(str::to_string))
    });
    from_json.unwrap_or_else(|| {
        let text: String = String::from_utf8_lossy(body).chars().take(300).collect();
        if text.trim().is_empty() {
            "(no message)".into()
        } else {
            text
        }
    })
}

/// `Retry-After` as a wait from `now`: delay-seconds or an HTTP-date (RFC 9110).
pub(super) fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: SystemTime,
) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    #[test]
    fn the_status_table() {
        let op = |code: u16| {
            meaning(
                Endpoint::OpenPages,
                StatusCode::from_u16(code).expect("status"),
            )
        };
        let iam = |code: u16| meaning(Endpoint::Iam, StatusCode::from_u16(code).expect("status"));
        assert_eq!(op(200), Meaning::Success);
        assert_eq!(op(204), Meaning::Success);
        for code in [429, 502, 503, 504] {
            assert_eq!(op(code), Meaning::RetryNow, "{code}");
            assert_eq!(iam(code), Meaning::RetryNow, "{code}");
        }
        assert_eq!(op(500), Meaning::Failed(ErrorKind::Retryable));
        assert_eq!(op(501), Meaning::Failed(ErrorKind::Retryable));
        assert_eq!(op(401), Meaning::Failed(ErrorKind::Auth));
        assert_eq!(op(403), Meaning::Failed(ErrorKind::Auth));
        assert_eq!(op(404), Meaning::NotFound);
        assert_eq!(op(400), Meaning::Refused);
        assert_eq!(op(409), Meaning::Refused);
        assert_eq!(op(422), Meaning::Refused);
        assert_eq!(op(405), Meaning::Failed(ErrorKind::Rejected));
        assert_eq!(iam(400), Meaning::Failed(ErrorKind::Auth));
        assert_eq!(iam(404), Meaning::Failed(ErrorKind::Rejected));
        assert_eq!(op(302), Meaning::Failed(ErrorKind::Other));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(retry_after(&headers, now), None);
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:47 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(10)));
        // A date in the past: retry at once.
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:00 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn error_text_prefers_the_message() {
        assert_eq!(error_text(br#"{"message":"OP-00001 no"}"#), "OP-00001 no");
        assert_eq!(error_text(br#"{"errorMessage":"bad key"}"#), "bad key");
        assert_eq!(error_text(b"  "), "(no message)");
        assert_eq!(error_text(b"plain"), "plain");
        let login = b"<!DOCTYPE html>\n<html><head><title>\n  Log in - IBM Cloud Pak\n</title></head><body>...</body></html>";
        let text = error_text(login);
        assert!(
            text.contains("not an answer of the OpenPages REST API")
                && text.contains("governance.base_url")
                && text.contains("(page title \"Log in - IBM Cloud Pak\")"),
            "{text}"
        );
        assert!(!is_html(br#"{"message":"<html>"}"#));
    }
}

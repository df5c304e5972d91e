//! The HTTP side of governance calls: one call with its retries (backon,
//! `governance.max_retries` and its delays) on what `http::meaning` says to retry now
//! (429, 502/503/504) and on connection errors, honouring `Retry-After`; the one
//! renewal of an IAM token a 401 earns; and reading a reply's JSON or its error.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::client::OpenPagesClient;
use super::http::{
    Endpoint, Meaning, describe_reqwest, error_text, html_text, is_html, meaning, retry_after,
};
use crate::remote::{ErrorKind, RemoteError};

/// The longest `Retry-After` honoured; a server asking for more gets a failed call
/// (retried next cycle) rather than a stuck one.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A failed attempt: worth retrying (with the server's `Retry-After`) or final.
#[derive(Debug)]
enum Attempt {
    Transient {
        error: RemoteError,
        retry_after: Option<Duration>,
    },
    Final(RemoteError),
}

impl Attempt {
    fn into_error(self) -> RemoteError {
        match self {
            Attempt::Transient { error, .. } | Attempt::Final(error) => error,
        }
    }

    fn error(&self) -> &RemoteError {
        match self {
            Attempt::Transient { error, .. } | Attempt::Final(error) => error,
        }
    }
}

/// A response that reached govsync (any status), with its body.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) body: Vec<u8>,
}

impl OpenPagesClient {
    /// One attempt and no retry, for a call that is not idempotent (creating a
    /// model): an answer lost on the way back must not make a second model. The
    /// next full cycle sees whether it landed (a model linking the package).
    pub(super) async fn call_once(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<Value>,
        what: &str,
    ) -> Result<Reply, RemoteError> {
        self.attempt(operation, method, url, body.as_ref(), what)
            .await
            .map_err(Attempt::into_error)
    }

    /// One call with retries; `what` names it in errors (path and model ID, never a secret).
    pub(super) async fn call(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<Value>,
        what: &str,
    ) -> Result<Reply, RemoteError> {
        let attempt = || self.attempt(operation, method.clone(), url.clone(), body.as_ref(), what);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_retries)
            .with_jitter();
        attempt
            .retry(backoff)
            .when(|e| matches!(e, Attempt::Transient { .. }))
            .adjust(wait_before_retry)
            .notify(|e, delay| {
                tracing::warn!(operation, error = %e.error(), retry_in = ?delay, "governance call failed; retrying");
            })
            .await
            .map_err(Attempt::into_error)
    }

    async fn attempt(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Reply, Attempt> {
        let mut renewed = false;
        loop {
            let auth = self
                .auth
                .header(&self.http, false)
                .await
                .map_err(|e| match e.kind {
                    ErrorKind::Retryable => Attempt::Transient {
                        error: e,
                        retry_after: None,
                    },
                    _ => Attempt::Final(e),
                })?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header("authorization", auth)
                .header("accept", "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            let transient = |why: String, retry_after: Option<Duration>| Attempt::Transient {
                error: RemoteError {
                    kind: ErrorKind::Retryable,
                    message: format!("governance {what}: {why}"),
                },
                retry_after,
            };
            // A timeout is not retried here (it already took the whole request
            // timeout); other transport failures (refused, reset) are.
            let transport = |e: reqwest::Error| {
                if e.is_timeout() {
                    Attempt::Final(RemoteError {
                        kind: ErrorKind::Retryable,
                        message: format!("governance {what}: {}", describe_reqwest(&e)),
                    })
                } else {
                    transient(describe_reqwest(&e), None)
                }
            };
            let response = request.send().await.map_err(transport)?;
            let status = response.status();
            let after = retry_after(response.headers(), std::time::SystemTime::now());
            let bytes = response.bytes().await.map_err(transport)?;
            tracing::debug!(operation, %status, "governance call");
            match (status.as_u16(), meaning(Endpoint::OpenPages, status)) {
                (401, _) if !renewed && self.auth.can_renew() => {
                    tracing::info!(
                        operation,
                        "governance answered 401; renewing the IAM token once"
                    );
                    self.auth
                        .header(&self.http, true)
                        .await
                        .map_err(Attempt::Final)?;
                    renewed = true;
                    continue;
                }
                (_, Meaning::RetryNow) => {
                    let text = error_text(&bytes);
                    let after = after.filter(|a| *a <= MAX_RETRY_AFTER);
                    return Err(transient(format!("HTTP {status}: {text}"), after));
                }
                _ => {
                    return Ok(Reply {
                        status,
                        body: bytes.to_vec(),
                    });
                }
            }
        }
    }

    /// The JSON of a 2xx reply, or the error that the status means.
    pub(super) fn success(&self, reply: Reply, what: &str) -> Result<Value, RemoteError> {
        if !reply.status.is_success() {
            return Err(status_error(reply.status, &reply.body, what));
        }
        if is_html(&reply.body) {
            return Err(RemoteError {
                kind: ErrorKind::Other,
                message: format!("governance {what}: answered {}", html_text(&reply.body)),
            });
        }
        serde_json::from_slice(&reply.body).map_err(|e| RemoteError {
            kind: ErrorKind::Other,
            message: format!("governance {what}: the answer is not JSON: {e}"),
        })
    }
}

/// How long to wait before retrying after `attempt`, given the backoff's `delay`
/// (`None`: no retry left): at least what the server asked for with `Retry-After`.
fn wait_before_retry(attempt: &Attempt, delay: Option<Duration>) -> Option<Duration> {
    match (attempt, delay) {
        (
            Attempt::Transient {
                retry_after: Some(after),
                ..
            },
            Some(delay),
        ) => Some(delay.max(*after)),
        (_, delay) => delay,
    }
}

/// The error an unsuccessful reply means.
pub(super) fn status_error(status: StatusCode, body: &[u8], what: &str) -> RemoteError {
    RemoteError {
        kind: meaning(Endpoint::OpenPages, status).kind(),
        message: format!("governance {what}: HTTP {status}: {}", error_text(body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_waits_at_least_what_the_server_asks() {
        let error = RemoteError {
            kind: ErrorKind::Retryable,
            message: "429".into(),
        };
        let asked = |after: Option<Duration>| Attempt::Transient {
            error: error.clone(),
            retry_after: after,
        };
        let ms = Duration::from_millis;
        assert_eq!(
            wait_before_retry(&asked(Some(ms(1000))), Some(ms(20))),
            Some(ms(1000)),
            "Retry-After longer than the backoff wins"
        );
        assert_eq!(
            wait_before_retry(&asked(Some(ms(5))), Some(ms(20))),
            Some(ms(20)),
            "the backoff when it is longer"
        );
        assert_eq!(wait_before_retry(&asked(None), Some(ms(20))), Some(ms(20)));
        assert_eq!(
            wait_before_retry(&asked(Some(ms(1000))), None),
            None,
            "no retry left: none"
        );
        assert_eq!(
            wait_before_retry(&Attempt::Final(error.clone()), Some(ms(20))),
            Some(ms(20))
        );
    }
}

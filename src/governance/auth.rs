//! Authentication to OpenPages: Basic, IBM Cloud IAM bearer tokens (fetched with an
//! API key, cached, refreshed before they expire and once on a 401) and Cloud Pak
//! for Data's `ZenApiKey`. Header values are marked sensitive, and no secret is ever
//! put in an error or a log line.

use std::time::Duration;

use tokio::time::Instant;

use base64::Engine;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::http::{self, Endpoint, Meaning};
use crate::config::AuthConfig;
use crate::remote::{ErrorKind, RemoteError};

/// The IAM grant type for API keys.
const IAM_GRANT_TYPE: &str = "urn:ibm:params:oauth:grant-type:apikey";

/// A token is refreshed once this share of its lifetime has passed.
const REFRESH_AT: f64 = 0.8;

/// How requests are authenticated.
pub(super) enum Auth {
    /// A fixed `Authorization` header (Basic or ZenApiKey).
    Fixed(HeaderValue),
    /// IBM Cloud IAM bearer tokens.
    Iam(IamTokens),
}

/// IBM Cloud IAM: the API key, where to exchange it, and the cached token.
pub(super) struct IamTokens {
    token_url: String,
    api_key: SecretString,
    cached: tokio::sync::Mutex<Option<Token>>,
}

struct Token {
    header: HeaderValue,
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    expires_in: u64,
}

fn sensitive(value: &str) -> Result<HeaderValue, RemoteError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| RemoteError {
        kind: ErrorKind::Other,
        message: "the governance credential contains characters an HTTP header cannot hold".into(),
    })?;
    header.set_sensitive(true);
    Ok(header)
}

fn encoded(user: &str, secret: &SecretString) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", secret.expose_secret()))
}

impl Auth {
    /// The auth of `config`, with its secret already read.
    pub(super) fn new(config: &AuthConfig, secret: SecretString) -> Result<Auth, RemoteError> {
        Ok(match config {
            AuthConfig::Basic { username, .. } => {
                Auth::Fixed(sensitive(&format!("Basic {}", encoded(username, &secret)))?)
            }
            AuthConfig::Zen { username, .. } => Auth::Fixed(sensitive(&format!(
                "ZenApiKey {}",
                encoded(username, &secret)
            ))?),
            AuthConfig::Iam { token_url, .. } => Auth::Iam(IamTokens {
                token_url: token_url.clone(),
                api_key: secret,
                cached: tokio::sync::Mutex::new(None),
            }),
        })
    }

    /// The `Authorization` header for the next request; `renew` forces a new IAM
    /// token (after a 401).
    pub(super) async fn header(
        &self,
        http: &reqwest::Client,
        renew: bool,
    ) -> Result<HeaderValue, RemoteError> {
        match self {
            Auth::Fixed(header) => Ok(header.clone()),
            Auth::Iam(iam) => iam.header(http, renew).await,
        }
    }

    /// Whether a 401 can be cured by authenticating again.
    pub(super) fn can_renew(&self) -> bool {
        matches!(self, Auth::Iam(_))
    }
}

impl IamTokens {
    async fn header(
        &self,
        http: &reqwest::Client,
        renew: bool,
    ) -> Result<HeaderValue, RemoteError> {
        let mut cached = self.cached.lock().await;
        if !renew
            && let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.header.clone());
        }
        let token = self.fetch(http).await?;
        let header = token.header.clone();
        *cached = Some(token);
        Ok(header)
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<Token, RemoteError> {
        let fail = |kind: ErrorKind, why: String| RemoteError {
            kind,
            message: format!("IBM Cloud IAM token request to {}: {why}", self.token_url),
        };
        let started = Instant::now();
        let response = http
            .post(&self.token_url)
            .header("accept", "application/json")
            .form(&[
                ("grant_type", IAM_GRANT_TYPE),
                ("apikey", self.api_key.expose_secret()),
            ])
            .send()
            .await
            .map_err(|e| fail(ErrorKind::Retryable, http::describe_reqwest(&e)))?;
        let status = response.status();
        let meaning = http::meaning(Endpoint::Iam, status);
        if meaning != Meaning::Success {
            // IAM's error body names the problem (e.g. "Provided API key could not be
            // found") and never echoes the key.
            let body = response.bytes().await.unwrap_or_default();
            return Err(fail(
                meaning.kind(),
                format!("HTTP {status}: {}", http::error_text(&body)),
            ));
        }
        let body: TokenResponse = response.json().await.map_err(|e| {
            fail(
                ErrorKind::Other,
                format!("unreadable answer: {}", http::describe_reqwest(&e)),
            )
        })?;
        let lifetime = Duration::from_secs(body.expires_in);
        tracing::debug!(
            expires_in = body.expires_in,
            "fetched an IBM Cloud IAM token"
        );
        Ok(Token {
            header: sensitive(&format!("Bearer {}", body.access_token.expose_secret()))?,
            refresh_at: started + lifetime.mul_f64(REFRESH_AT),
        })
    }
}

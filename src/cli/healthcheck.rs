//! `govsync healthcheck`: asks a running daemon's /healthz (for images with no shell).

use std::io::Write;

use clap::Args;

use super::runtime;

/// Arguments of `govsync healthcheck`.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The endpoint to ask.
    #[arg(long, default_value = "http://127.0.0.1:9464/healthz")]
    pub url: String,
    /// Give up after this long.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

/// Runs `govsync healthcheck`.
pub(super) fn healthcheck(args: &HealthcheckArgs, out: &mut dyn Write) -> Result<(), String> {
    let body = runtime()?.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(args.timeout)
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        let response = client
            .get(&args.url)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", args.url))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{}: {status}: {}", args.url, body.trim()))
        }
    })?;
    out.write_all(body.as_bytes()).map_err(|e| e.to_string())
}

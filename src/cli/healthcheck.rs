//! `govsync healthcheck`: asks a running daemon's /healthz (for images with no shell).

use std::io::Write;

use clap::Args;

use super::runtime;

/// Arguments of `govsync healthcheck`.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The endpoint to ask [default: /healthz on the address GOVSYNC_SERVER_LISTEN
    /// names (0.0.0.0 and [::] asked on loopback), else http://127.0.0.1:9464/healthz].
    #[arg(long)]
    pub url: Option<String>,
    /// Give up after this long.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

/// Runs `govsync healthcheck`.
pub(super) fn healthcheck(
    args: &HealthcheckArgs,
    env: &[(String, String)],
    out: &mut dyn Write,
) -> Result<(), String> {
    let url = match &args.url {
        Some(url) => url.clone(),
        None => default_url(super::lookup(env, "GOVSYNC_SERVER_LISTEN"))?,
    };
    let body = runtime()?.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(args.timeout)
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        let response = client
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", url))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{}: {status}: {}", url, body.trim()))
        }
    })?;
    out.write_all(body.as_bytes()).map_err(|e| e.to_string())
}

/// /healthz on the address the daemon listens on (`GOVSYNC_SERVER_LISTEN`, as the
/// image sets it), asked on loopback when it listens on every address.
fn default_url(listen: Option<&str>) -> Result<String, String> {
    let Some(listen) = listen else {
        return Ok("http://127.0.0.1:9464/healthz".into());
    };
    let addr: std::net::SocketAddr = listen.parse().map_err(|e| {
        format!("GOVSYNC_SERVER_LISTEN={listen:?} is not an address and port ({e}); or give --url")
    })?;
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    Ok(format!(
        "http://{}/healthz",
        std::net::SocketAddr::new(ip, addr.port())
    ))
}

#[cfg(test)]
mod tests {
    use super::default_url;

    #[test]
    fn the_default_url_follows_the_listen_address() {
        assert_eq!(
            default_url(None).expect("the default"),
            "http://127.0.0.1:9464/healthz"
        );
        assert_eq!(
            default_url(Some("0.0.0.0:8080")).expect("0.0.0.0:8080"),
            "http://127.0.0.1:8080/healthz"
        );
        assert_eq!(
            default_url(Some("[::]:9464")).expect("[::]:9464"),
            "http://[::1]:9464/healthz"
        );
        assert_eq!(
            default_url(Some("10.0.0.5:9000")).expect("10.0.0.5:9000"),
            "http://10.0.0.5:9000/healthz"
        );
        let err = default_url(Some("localhost")).expect_err("not an address");
        assert!(
            err.contains("GOVSYNC_SERVER_LISTEN") && err.contains("--url"),
            "{err}"
        );
    }
}

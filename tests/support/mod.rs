//! Builders shared by the tests.
#![allow(dead_code)] // each test binary uses a different subset

pub mod moto;
pub mod postgres;
pub mod programs;
pub mod remote;
pub mod world;

/// A free loopback port: bound, read and let go (for a server another process
/// binds a moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `govsync run --config <config>` of the binary under test, with nothing of this
/// machine's environment: the mocks' governance password, static AWS test
/// credentials, and empty AWS config files (made in `dir`), no instance metadata.
pub fn govsync_run(config: &std::path::Path, dir: &std::path::Path) -> std::process::Command {
    govsync_command(&["run"], config, dir)
}

/// Starts `govsync run --config <config>` (as [`govsync_run`]) with human log lines
/// at `level` appended to `dir/govsync.log` (read it with `remote::tail`).
pub fn spawn_logged(
    config: &std::path::Path,
    dir: &std::path::Path,
    level: &str,
) -> std::process::Child {
    govsync_run(config, dir)
        .env("GOVSYNC_LOG", level)
        .env("GOVSYNC_LOG_FORMAT", "human")
        .stdout(std::process::Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("govsync.log"))
                .expect("log file"),
        )
        .spawn()
        .expect("spawn govsync")
}

/// `govsync <args> --config <config>` of the binary under test, with the
/// environment [`govsync_run`] gives it.
pub fn govsync_command(
    args: &[&str],
    config: &std::path::Path,
    dir: &std::path::Path,
) -> std::process::Command {
    let nowhere = dir.join("empty-aws-config");
    std::fs::write(&nowhere, "").expect("empty AWS config");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_govsync"));
    command
        .args(args)
        .arg("--config")
        .arg(config)
        .env_clear()
        .env("OPENPAGES_PASSWORD", "pw")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &nowhere)
        .env("AWS_SHARED_CREDENTIALS_FILE", &nowhere);
    command
}

/// The value of one sample line of an OpenMetrics exposition, e.g. for the series
/// `govsync_models{state="in-sync"}`.
pub fn metric_sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The operations `govsync_remote_calls_total` counted for `system` in an
/// OpenMetrics exposition.
pub fn called_operations(text: &str, system: &str) -> std::collections::BTreeSet<String> {
    let label = format!("system=\"{system}\",operation=\"");
    text.lines()
        .filter_map(|l| Some(l.split_once(&label)?.1.split('"').next()?.to_string()))
        .collect()
}

/// Fails if `text` holds `secret` in any form it could leak in: itself (for short
/// secrets, as a quoted or assigned value), standard or URL-safe base64 of itself or
/// of `user:secret` (a Basic or ZenApiKey header), or percent-encoded.
pub fn assert_no_secret(text: &str, user: &str, secret: &str, what: &str) {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let mut forms: Vec<String> = if secret.len() >= 6 {
        vec![secret.to_string()]
    } else {
        // Too short to look for on its own: look for it as a value.
        vec![
            format!("\"{secret}\""),
            format!("={secret}"),
            format!(": {secret}"),
            format!("'{secret}'"),
        ]
    };
    for plain in [secret.to_string(), format!("{user}:{secret}")] {
        forms.push(STANDARD_NO_PAD.encode(&plain));
        forms.push(URL_SAFE_NO_PAD.encode(&plain));
    }
    let encoded: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if encoded != secret {
        forms.push(encoded);
    }
    for form in forms {
        assert!(
            !text.contains(&form),
            "{what} holds the secret (as {form:?}):\n{text}"
        );
    }
}

/// The PromQL expressions of the alerting rules and the Grafana dashboard in
/// `deploy/monitoring/`, each with the legend that names its labels (rules: none).
pub fn monitoring_expressions() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/monitoring");
    let rules = std::fs::read_to_string(dir.join("prometheus-rules.yaml")).expect("rules");
    let mut out = Vec::new();
    let lines: Vec<&str> = rules.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some((indent, value)) = line.split_once("expr:") else {
            continue;
        };
        let value = value.trim();
        if value == "|" {
            let block: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| l.len() > indent.len() + 6 && l.starts_with(&format!("{indent}  ")))
                .map(|l| l.trim())
                .collect();
            out.push((block.join(" "), String::new()));
        } else {
            out.push((value.to_string(), String::new()));
        }
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("grafana-dashboard.json")).expect("dashboard"),
    )
    .expect("dashboard JSON");
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            out.push((
                target["expr"].as_str().expect("expr").to_string(),
                target["legendFormat"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ));
        }
    }
    out
}

/// Checks that every `govsync_…` metric an expression names is in the exposition
/// `text`, and that every label it selects, groups by or shows in its legend is on
/// a sample of one of those metrics (`le`, `instance` and `job` are Prometheus's).
pub fn assert_expression_metrics_exist(expression: &str, legend: &str, text: &str) {
    let names: Vec<String> = expression
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("govsync_"))
        .map(str::to_string)
        .collect();
    assert!(!names.is_empty(), "{expression} names no govsync metric");
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            names
                .iter()
                .any(|n| l.starts_with(&format!("{n}{{")) || l.starts_with(&format!("{n} ")))
        })
        .collect();
    for name in &names {
        assert!(
            samples
                .iter()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "{name} (in {expression}) has no sample in /metrics:\n{text}"
        );
    }
    let mut labels: Vec<String> = Vec::new();
    // Matchers: `{a="x",b=~"y"}`.
    for part in expression.split('{').skip(1) {
        let inside = part.split('}').next().unwrap_or_default();
        for matcher in inside.split(',') {
            let label = matcher.split(['=', '!']).next().unwrap_or_default().trim();
            if !label.is_empty() {
                labels.push(label.to_string());
            }
        }
    }
    // Grouping: `by (a, b)`, `without (a)`.
    for keyword in ["by (", "without ("] {
        for part in expression.split(keyword).skip(1) {
            let inside = part.split(')').next().unwrap_or_default();
            labels.extend(inside.split(',').map(|l| l.trim().to_string()));
        }
    }
    // Legends: `{{a}}`.
    for part in legend.split("{{").skip(1) {
        labels.push(
            part.split("}}")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string(),
        );
    }
    for label in labels {
        if ["le", "instance", "job", ""].contains(&label.as_str()) {
            continue;
        }
        assert!(
            samples.iter().any(|l| l.contains(&format!("{label}=\""))),
            "label {label:?} (in {expression} / {legend:?}) is on no sample of {names:?}:\n{text}"
        );
    }
}

//! The command line: clap definitions and what each command does with them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, DEFAULT_CONFIG_PATH};
use crate::logging::LogFormat;
use crate::mapping::{self, Direction, MappingTable};

/// Exit codes, as documented in `--help` and README.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Invalid configuration or mapping, or another start-up error.
    pub const CONFIG: u8 = 1;
    /// Some writes failed.
    pub const FAILED: u8 = 2;
    /// Drift or conflicts remain.
    pub const UNRESOLVED: u8 = 3;
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success (reconcile: every model in sync or its change applied)
  1  invalid configuration or mapping table, or another start-up error
     (reconcile: also when either system cannot be read; nothing is written then;
     healthcheck: the daemon is not healthy or does not answer)
  2  reconcile: some writes failed or were refused
  3  reconcile: drift or conflicts remain (or the safety valve held decommissions back)";

/// govsync keeps IBM watsonx.governance model statuses and Amazon SageMaker Model
/// Registry lifecycle stages in step, row by row of a mapping table, and
/// decommissions governance models whose SageMaker package is deleted or archived.
#[derive(Debug, Parser)]
#[command(name = "govsync", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log format: `auto` is human-readable on a terminal and JSON lines otherwise.
    /// Logs go to standard error; `GOVSYNC_LOG` sets the filter (e.g. `debug`).
    #[arg(long, global = true, value_enum, env = "GOVSYNC_LOG_FORMAT", default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the sync daemon: a cycle every `sync.interval` (±10% jitter), with /healthz,
    /// /readyz and /metrics on `server.listen`. SIGTERM or Ctrl-C stops it: no new write
    /// starts, writes in flight get `sync.shutdown_grace` to finish and are recorded,
    /// and it exits 0.
    Run(ConfigArg),
    /// Run one reconcile cycle and exit: for cron, CI and people at a terminal.
    /// Exit codes: 0 all applied or in sync, 1 config or start-up error (or a side
    /// could not be read), 2 some writes failed, 3 drift or conflicts remain.
    Reconcile(ReconcileArgs),
    /// Show the audit journal of every action govsync took.
    History(HistoryArgs),
    /// Check or print a mapping table.
    #[command(subcommand)]
    Mapping(MappingCommand),
    /// Check a configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Ask a running daemon's /healthz and exit 0 if it is healthy, 1 if not: the
    /// container health check of images with no shell or curl (ECS, Docker).
    Healthcheck(HealthcheckArgs),
    /// Run a mock SageMaker or governance server for tests and demos.
    #[command(subcommand)]
    Mock(MockCommand),
    /// Show govsync at work in under a minute, with nothing to set up: starts both mock
    /// servers on loopback, seeds 25 models, runs the daemon's loop against them and
    /// plays a short script of changes on either side, printing each transition.
    Demo(DemoArgs),
}

/// Arguments of `govsync demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Pause between the script's steps (e.g. 2s; 0s runs it straight through).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub pause: std::time::Duration,
}

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

/// `--config`, shared by the commands that read the configuration.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(long, short, env = "GOVSYNC_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
}

/// Arguments of `govsync reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Print the plan and write nothing anywhere (not even the state store).
    #[arg(long)]
    pub dry_run: bool,
    /// Only this governance model (its resource ID).
    #[arg(long)]
    pub model: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// Arguments of `govsync history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only this governance model (its resource ID).
    #[arg(long)]
    pub model: Option<String>,
    /// Only entries at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// `govsync mock …`.
#[derive(Debug, Subcommand)]
pub enum MockCommand {
    /// A mock SageMaker Model Registry speaking AWS JSON 1.1, usable by any AWS client
    /// (`aws --endpoint-url http://127.0.0.1:4566 sagemaker list-model-packages
    /// --model-package-type Versioned`). Runs until Ctrl-C or SIGTERM.
    Sagemaker(MockSageMakerArgs),
    /// A mock watsonx.governance speaking the OpenPages REST API v2 subset govsync uses
    /// (under /opgrc/api/v2), with a mock IBM Cloud IAM token endpoint (/identity/token).
    /// It accepts Basic and ZenApiKey for --username and the secret, and bearer tokens
    /// issued for the secret as API key. Runs until Ctrl-C or SIGTERM.
    Governance(MockGovernanceArgs),
}

/// Arguments of `govsync mock governance`.
#[derive(Debug, Args)]
pub struct MockGovernanceArgs {
    /// Address to listen on (plain HTTP).
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: String,
    /// The user for Basic and ZenApiKey auth.
    #[arg(long, default_value = "govsync")]
    pub username: String,
    /// The environment variable holding the password / API key the mock accepts.
    #[arg(long, default_value = "MOCK_GOVERNANCE_SECRET")]
    pub secret_env: String,
    /// Lifetime of the IAM tokens it issues (e.g. 30s, 1h).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub token_lifetime: std::time::Duration,
    /// The statuses the workflow allows, comma-separated (default: every status of the
    /// built-in mapping table, and Decommissioned).
    #[arg(long, value_delimiter = ',')]
    pub statuses: Vec<String>,
    /// Keep the models in this JSON file across restarts.
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Faults to inject from the start (throttling is a 429 with Retry-After in whole
    /// seconds, server errors are 503).
    #[command(flatten, next_help_heading = "Fault injection")]
    pub faults: FaultArgs,
}

/// Fault injection flags, shared by the mocks (changeable later over `/_mock/faults`).
#[derive(Debug, Args)]
pub struct FaultArgs {
    /// Share of requests (0–1) answered as throttled.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Share of requests (0–1) answered with a 5xx.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share of requests (0–1) whose connection is dropped mid-response.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Milliseconds added to every request.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Up to this many further random milliseconds per request.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Requests per second each operation accepts before throttling (0: no limit).
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit: f64,
    /// Retry-after hint sent with throttling, in milliseconds (0: none).
    #[arg(long, default_value_t = 0)]
    pub retry_after_ms: u64,
    /// Seed of the fault dice, for reproducible runs (0: random).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Every n-th request to each operation gets a 5xx, whatever the dice say (0: never).
    #[arg(long, default_value_t = 0)]
    pub error_every: u64,
}

impl FaultArgs {
    fn faults(&self) -> crate::mock::Faults {
        crate::mock::Faults {
            throttle_rate: self.throttle_rate,
            error_rate: self.error_rate,
            drop_rate: self.drop_rate,
            latency_ms: self.latency_ms,
            jitter_ms: self.jitter_ms,
            rate_limit: self.rate_limit,
            retry_after_ms: self.retry_after_ms,
            seed: self.seed,
            error_every: self.error_every,
        }
    }
}

/// Arguments of `govsync mock sagemaker`.
#[derive(Debug, Args)]
pub struct MockSageMakerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4566")]
    pub listen: String,
    /// Region of requests whose signature names none, and of the packages the admin
    /// endpoints make (requests are served in the region of their SigV4 scope).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Accounts: `ACCOUNT` is the account of credentials the mock was not told about
    /// (default 123456789012); `AKID=ACCOUNT` says which account an access key ID
    /// belongs to. Repeat for several accounts.
    #[arg(long = "account", value_name = "[AKID=]ACCOUNT")]
    pub accounts: Vec<String>,
    /// A role ARN its STS refuses to let anyone assume (AccessDenied). Repeatable.
    #[arg(long = "deny-role", value_name = "ROLE_ARN")]
    pub deny_roles: Vec<String>,
    /// How long credentials from its STS AssumeRole last.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub credential_lifetime: std::time::Duration,
    /// Keep the registry in this JSON file across restarts.
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Append every EventBridge-shaped event to this file as a JSON line.
    #[arg(long)]
    pub events_file: Option<PathBuf>,
    /// Faults to inject from the start.
    #[command(flatten, next_help_heading = "Fault injection")]
    pub faults: FaultArgs,
}

/// `govsync mapping …`.
#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Validate a mapping table and summarise it; exits 1 with the file, row and reason if invalid.
    Check {
        /// The mapping file (default: the built-in table).
        file: Option<PathBuf>,
    },
    /// Print a mapping table.
    Show {
        /// The mapping file (default: the built-in table).
        file: Option<PathBuf>,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
}

/// `govsync config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file (with GOVSYNC_… overrides applied), its mapping table and
    /// that its governance secret can be read; print the effective settings (never the secret).
    Check {
        /// The configuration file.
        #[arg(env = "GOVSYNC_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
        file: PathBuf,
    },
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// JSON for programs.
    Json,
}

mod mock;
mod sync;

pub use sync::build;

/// The value of an environment variable in `env`.
fn lookup<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Runs a parsed command line; `env` is the process environment.
pub fn run(cli: Cli, env: &[(String, String)]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let log_format = cli.log_format;
    let result = match cli.command {
        Command::Mapping(MappingCommand::Check { file }) => {
            mapping_check(file.as_deref(), &mut out)
        }
        Command::Mapping(MappingCommand::Show { file, output }) => {
            mapping_show(file.as_deref(), output, &mut out)
        }
        Command::Config(ConfigCommand::Check { file }) => config_check(&file, env, &mut out),
        Command::Mock(MockCommand::Sagemaker(args)) => mock::mock_sagemaker(args),
        Command::Mock(MockCommand::Governance(args)) => mock::mock_governance(args, env),
        Command::Reconcile(args) => return sync::reconcile(args, env, log_format, &mut out),
        Command::History(args) => sync::history(args, env, &mut out),
        Command::Run(args) => sync::run(args, env, log_format),
        Command::Demo(args) => crate::demo::run(args.pause, &mut out),
        Command::Healthcheck(args) => healthcheck(&args, &mut out),
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(exit::CONFIG)
        }
    }
}

/// A multi-threaded runtime for the commands that talk to the network.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Resolves when the process gets Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

fn healthcheck(args: &HealthcheckArgs, out: &mut dyn Write) -> Result<(), String> {
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

fn load_mapping(file: Option<&Path>) -> Result<(String, MappingTable), String> {
    match file {
        Some(file) => MappingTable::load(file)
            .map(|t| (file.display().to_string(), t))
            .map_err(|e| e.to_string()),
        None => Ok((mapping::BUILT_IN_NAME.to_string(), MappingTable::built_in())),
    }
}

fn mapping_check(file: Option<&Path>, out: &mut dyn Write) -> Result<(), String> {
    let (name, table) = load_mapping(file)?;
    let count = |d: Direction| table.rows().iter().filter(|r| r.direction == d).count();
    writeln!(
        out,
        "{name}: valid, {} rows ({} governance → SageMaker, {} SageMaker → governance, {} bidirectional)",
        table.rows().len(),
        count(Direction::GovernanceToSageMaker),
        count(Direction::SageMakerToGovernance),
        count(Direction::Bidirectional),
    )
    .map_err(|e| e.to_string())
}

fn mapping_show(file: Option<&Path>, output: Output, out: &mut dyn Write) -> Result<(), String> {
    let (_, table) = load_mapping(file)?;
    let text = match output {
        Output::Table => table.render_text(),
        Output::Json => {
            serde_json::to_string_pretty(table.rows()).expect("mapping rows serialise to JSON")
                + "\n"
        }
    };
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

fn config_check(file: &Path, env: &[(String, String)], out: &mut dyn Write) -> Result<(), String> {
    let config = Config::load(file, env).map_err(|e| e.to_string())?;
    config
        .governance_secret(&|name: &str| lookup(env, name).map(str::to_string))
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let g = &config.governance;
    let s = &config.sagemaker;
    let y = &config.sync;
    let or = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.to_string());
    let mut lines = vec![
        format!("{}: valid", file.display()),
        format!(
            "  governance       {} (auth: {})",
            g.base_url,
            g.auth.kind()
        ),
        format!(
            "  model type       {} (status field \"{}\", link field \"{}\", {} rows a page)",
            g.model_type, g.status_field, g.link_field, g.page_size
        ),
        format!(
            "  sagemaker        endpoint {}, STS endpoint {}",
            or(&s.endpoint_url, "AWS default"),
            or(&s.sts_endpoint_url, "AWS default"),
        ),
        format!(
            "  sync             every {}, conflict policy {}, decommission to \"{}\", archive stage \"{}\", \
             at most {} decommissions a cycle and {} a scope, {} writes at once, shutdown grace {}{}",
            humantime::format_duration(y.interval),
            y.policy.conflict.as_str(),
            y.policy.decommission_status,
            y.policy.archive_stage,
            y.policy.max_decommissions_per_cycle,
            y.policy.max_decommissions_per_scope,
            y.concurrency,
            humantime::format_duration(y.shutdown_grace),
            if y.read_model_cards {
                ", model cards read"
            } else {
                ""
            }
        ),
    ];
    if s.scopes.is_empty() {
        lines.push(format!(
            "  scope            the default credentials' own account (asked from STS at start-up) in region {}, groups {}",
            or(&s.region, "from the AWS default chain"),
            if s.model_package_groups.is_empty() {
                "all".to_string()
            } else {
                s.model_package_groups.join(", ")
            }
        ));
    }
    for c in &s.scopes {
        lines.push(format!(
            "  scope            {}, {}",
            c.scope,
            c.role.as_ref().map_or_else(
                || "default credentials (must belong to this account)".to_string(),
                |r| format!(
                    "role {} (session {}{})",
                    r.role_arn,
                    r.session_name,
                    r.external_id_env
                        .as_ref()
                        .map(|v| format!(", external ID from {v}"))
                        .unwrap_or_default()
                )
            )
        ));
    }
    lines.extend([
        format!(
            "  mapping          {} ({} rows)",
            config.mapping_source(),
            config.mapping.rows().len()
        ),
        format!("  state store      {}", config.state_path),
        format!("  http             {}", config.listen),
    ]);
    for o in &config.overrides {
        lines.push(format!("  override         {} from {}", o.key, o.var));
    }
    writeln!(out, "{}", lines.join("\n")).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn mapping_check_summarises_the_built_in_table() {
        let mut out = Vec::new();
        mapping_check(None, &mut out).expect("valid");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            text,
            "<built-in mapping.toml>: valid, 19 rows (16 governance → SageMaker, 1 SageMaker → governance, 2 bidirectional)\n"
        );
    }

    #[test]
    fn mapping_show_json_round_trips_the_rows() {
        let mut out = Vec::new();
        mapping_show(None, Output::Json, &mut out).expect("valid");
        let rows: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(rows.as_array().map(Vec::len), Some(19));
        assert_eq!(
            rows[12],
            serde_json::json!({"governance_status": "Deployed", "stage": "Deployment",
                               "stage_status": "Complete", "direction": "sagemaker-to-governance"})
        );
    }
}

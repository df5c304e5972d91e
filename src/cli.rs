//! The command line: clap definitions and what each command does with them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, DEFAULT_CONFIG_PATH};
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
     (reconcile: also when either system cannot be read; nothing is written then)
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
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the sync daemon: a reconcile cycle every interval, with health and metrics over HTTP.
    /// (Not available yet in this version.)
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
    /// Run a mock SageMaker or governance server for tests and demos.
    #[command(subcommand)]
    Mock(MockCommand),
    /// Run both mock servers and govsync against them with seeded models, and show the result.
    /// (Not available yet in this version.)
    Demo,
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
        }
    }
}

/// Arguments of `govsync mock sagemaker`.
#[derive(Debug, Args)]
pub struct MockSageMakerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4566")]
    pub listen: String,
    /// Region in the ARNs and events it makes.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Account ID in the ARNs and events it makes.
    #[arg(long, default_value = "123456789012")]
    pub account: String,
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

/// Runs a parsed command line; `env` is the process environment.
pub fn run(cli: Cli, env: &[(String, String)]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let result = match cli.command {
        Command::Mapping(MappingCommand::Check { file }) => {
            mapping_check(file.as_deref(), &mut out)
        }
        Command::Mapping(MappingCommand::Show { file, output }) => {
            mapping_show(file.as_deref(), output, &mut out)
        }
        Command::Config(ConfigCommand::Check { file }) => config_check(&file, env, &mut out),
        Command::Mock(MockCommand::Sagemaker(args)) => mock_sagemaker(args),
        Command::Mock(MockCommand::Governance(args)) => mock_governance(args, env),
        Command::Reconcile(args) => return reconcile(args, env, &mut out),
        Command::History(args) => history(args, env, &mut out),
        Command::Run(_) | Command::Demo => {
            Err("this command is not available yet in this version of govsync".to_string())
        }
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
fn runtime() -> Result<tokio::runtime::Runtime, String> {
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

fn mock_sagemaker(args: MockSageMakerArgs) -> Result<(), String> {
    use crate::mock::sagemaker::{MockSageMaker, Options};
    let mock = MockSageMaker::new(Options {
        region: args.region,
        account: args.account,
        faults: args.faults.faults(),
        state_file: args.state_file,
        events_file: args.events_file,
    })
    .map_err(|e| e.to_string())?;
    serve_mock(&mock, &args.listen, "")
}

fn mock_governance(args: MockGovernanceArgs, env: &[(String, String)]) -> Result<(), String> {
    use crate::mock::governance::{API_BASE, MockGovernance, Options, TOKEN_PATH};
    let secret = env
        .iter()
        .find(|(k, v)| *k == args.secret_env && !v.is_empty())
        .map(|(_, v)| secrecy::SecretString::from(v.clone()))
        .ok_or_else(|| {
            format!(
                "set {} to the password / API key the mock should accept (or name another variable with --secret-env)",
                args.secret_env
            )
        })?;
    let mut options = Options::new(&args.username, secret);
    if !args.statuses.is_empty() {
        options.schema.statuses = args.statuses;
    }
    options.token_lifetime = args.token_lifetime;
    options.faults = args.faults.faults();
    options.state_file = args.state_file;
    let mock = MockGovernance::new(options).map_err(|e| e.to_string())?;
    serve_mock(
        &mock,
        &args.listen,
        &format!("; API at {API_BASE}, IAM tokens at {TOKEN_PATH}"),
    )
}

/// Serves a mock's router until Ctrl-C or SIGTERM.
fn serve_mock<M: crate::mock::Admin>(mock: &M, listen: &str, note: &str) -> Result<(), String> {
    let name = M::NAME;
    runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let mut handle = mock.spawn(listener).map_err(|e| e.to_string())?;
        eprintln!(
            "{name} listening on {url}{note} (admin under {url}/_mock/); Ctrl-C to stop",
            url = handle.url()
        );
        shutdown_signal().await;
        handle.signal_stop();
        handle.wait().await.map_err(|e| e.to_string())
    })
}

/// The engine and store for a configuration (reads the governance secret, loads the
/// AWS configuration).
async fn build(
    config: &Config,
    env: &[(String, String)],
) -> Result<
    crate::engine::Engine<crate::governance::OpenPagesClient, crate::sagemaker::SageMakerRegistry>,
    String,
> {
    let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let secret = config
        .governance_secret(&lookup)
        .map_err(|e| format!("{}: {e}", config.file.display()))?;
    let governance = crate::governance::OpenPagesClient::new(&config.governance, secret)
        .map_err(|e| e.to_string())?;
    let sdk = crate::sagemaker::client::load_sdk_config(&config.sagemaker).await;
    let registry = crate::sagemaker::SageMakerRegistry::new(&sdk, &config.sagemaker);
    Ok(crate::engine::Engine {
        governance,
        registry,
        mapping: config.mapping.clone(),
        policy: config.sync.policy.clone(),
        concurrency: config.sync.concurrency,
        groups: config.sagemaker.model_package_groups.clone(),
    })
}

fn reconcile(args: ReconcileArgs, env: &[(String, String)], out: &mut dyn Write) -> ExitCode {
    let result = (|| -> Result<u8, String> {
        let config = Config::load(&args.config.config, env).map_err(|e| e.to_string())?;
        let mut store = crate::store::Store::open(&config.state_path).map_err(|e| e.to_string())?;
        let options = crate::engine::CycleOptions {
            dry_run: args.dry_run,
            model: args.model.map(crate::domain::ModelId::new),
        };
        let report = runtime()?.block_on(async {
            let engine = build(&config, env).await?;
            engine
                .cycle(Some(&mut store), &options)
                .await
                .map_err(|e| e.to_string())
        })?;
        let text = match args.output {
            Output::Table => crate::report::table(&report),
            Output::Json => crate::report::json(&report),
        };
        out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
        Ok(report.exit_code())
    })();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(exit::CONFIG)
        }
    }
}

fn history(args: HistoryArgs, env: &[(String, String)], out: &mut dyn Write) -> Result<(), String> {
    let config = Config::load(&args.config.config, env).map_err(|e| e.to_string())?;
    if let Some(since) = &args.since {
        humantime::parse_rfc3339_weak(since)
            .map_err(|e| format!("--since {since:?} is not an RFC 3339 time: {e}"))?;
    }
    let store = crate::store::Store::open(&config.state_path).map_err(|e| e.to_string())?;
    let entries = store
        .history(&crate::store::HistoryFilter {
            model: args.model,
            since: args.since,
        })
        .map_err(|e| e.to_string())?;
    let text = match args.output {
        Output::Json => {
            serde_json::to_string_pretty(&entries).expect("journal entries serialise") + "\n"
        }
        Output::Table => {
            let rows: Vec<[String; 8]> = entries
                .iter()
                .map(|e| {
                    [
                        e.at.clone(),
                        e.model_id.clone(),
                        e.model_name.clone(),
                        e.action.clone(),
                        e.from.clone().unwrap_or_default(),
                        e.to.clone().unwrap_or_default(),
                        e.outcome.clone(),
                        e.error.clone().unwrap_or_else(|| e.reason.clone()),
                    ]
                })
                .collect();
            crate::render::columns(
                &[
                    "TIME", "MODEL", "NAME", "ACTION", "FROM", "TO", "OUTCOME", "WHY",
                ],
                &rows,
            )
        }
    };
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())
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
    let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    config
        .governance_secret(&lookup)
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
            "  sagemaker        region {}, endpoint {}, groups {}",
            or(&s.region, "from the AWS default chain"),
            or(&s.endpoint_url, "AWS default"),
            if s.model_package_groups.is_empty() {
                "all".to_string()
            } else {
                s.model_package_groups.join(", ")
            }
        ),
        format!(
            "  sync             every {}, conflict policy {}, decommission to \"{}\", archive stage \"{}\", \
             at most {} decommissions a cycle, {} writes at once",
            humantime::format_duration(y.interval),
            y.policy.conflict.as_str(),
            y.policy.decommission_status,
            y.policy.archive_stage,
            y.policy.max_decommissions_per_cycle,
            y.concurrency
        ),
        format!(
            "  mapping          {} ({} rows)",
            config.mapping_source(),
            config.mapping.rows().len()
        ),
        format!("  state store      {}", config.state_path),
        format!("  http             {}", config.listen),
    ];
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

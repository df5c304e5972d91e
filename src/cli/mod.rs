//! The command line: clap definitions and what each command does with them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::DEFAULT_CONFIG_PATH;
use crate::logging::{self, LogFormat};

mod completions;
mod config;
#[cfg(feature = "mock")]
mod demo;
mod healthcheck;
mod history;
mod link;
mod mapping;
#[cfg(feature = "mock")]
mod mock;
mod reconcile;
mod run;
mod state;

pub use completions::{CompletionsArgs, Shell};
pub use config::ConfigCommand;
#[cfg(feature = "mock")]
pub use demo::DemoArgs;
pub use healthcheck::HealthcheckArgs;
pub use history::HistoryArgs;
pub use link::LinkArgs;
pub use mapping::MappingCommand;
#[cfg(feature = "mock")]
pub use mock::{MockCommand, MockGovernanceArgs, MockSageMakerArgs};
pub use reconcile::ReconcileArgs;
pub use state::{CopyArgs, StateCommand};

/// Exit codes, as documented in `--help` and docs/operating.md.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Invalid configuration or mapping, or another start-up error.
    pub const CONFIG: u8 = 1;
    /// Some writes failed.
    pub const FAILED: u8 = 2;
    /// Something is left unresolved: drift, conflicts, models not observed, values
    /// changed during the cycle, or decommissions the safety valve held back.
    pub const UNRESOLVED: u8 = 3;
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success (reconcile: every linked model in sync, or its change applied or,
     with --dry-run, planned)
  1  invalid configuration or mapping table, or another start-up error
     (reconcile: also when either system cannot be read, or the state store cannot
     be opened; nothing is written then; healthcheck: the daemon is not healthy or
     does not answer)
  2  reconcile: some writes failed or were refused
  3  reconcile: something is left for a person or a later cycle: drift, conflicts,
     models not observed (their scope or package could not be read), a value changed
     during the cycle, or decommissions the safety valve held back";

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
    /// Run the sync daemon: a cycle every `sync.interval` (±10% jitter), with the status
    /// page at /, and /healthz, /readyz and /metrics, on `server.listen`. With the state
    /// in PostgreSQL (`state.url`), several replicas run and one leads; the others
    /// stand by and take over. SIGTERM or Ctrl-C stops it: no new write starts, writes
    /// in flight get `sync.shutdown_grace` to finish and are recorded, and it exits 0.
    Run(ConfigArg),
    /// Run one reconcile cycle and exit: for cron, CI and people at a terminal.
    /// `--dry-run` prints the plan and writes nothing anywhere; it works before any
    /// state store exists. Exit codes: 0 all in sync or applied (or planned), 1
    /// config or start-up error (or a side could not be read), 2 some writes failed,
    /// 3 something is left unresolved (drift, conflict, not observed, safety valve).
    Reconcile(ReconcileArgs),
    /// Link one governance model to one model package by hand, through the journal:
    /// for a model no pipeline names, or to move governance to a new version of a
    /// model (it replaces what the model's link field holds); or, with
    /// --from-metadata, every link the packages' metadata asks for, now. Exit 0
    /// linked, 1 model or package not found, 2 a write failed.
    Link(LinkArgs),
    /// Show the audit journal of every action govsync took.
    History(HistoryArgs),
    /// Manage the state store (copy it to another, e.g. SQLite to PostgreSQL).
    #[command(subcommand)]
    State(StateCommand),
    /// Check or print a mapping table.
    #[command(subcommand)]
    Mapping(MappingCommand),
    /// Write a starting configuration (init) or check one (check).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Ask a running daemon's /healthz and exit 0 if it is healthy, 1 if not: the
    /// container health check of images with no shell or curl (ECS, Docker).
    Healthcheck(HealthcheckArgs),
    /// Print a shell completion script: `govsync completions bash >
    /// /etc/bash_completion.d/govsync`, `… zsh > "${fpath[1]}/_govsync"`,
    /// `… fish > ~/.config/fish/completions/govsync.fish`.
    Completions(CompletionsArgs),
    /// Print the man page (roff, every command): `govsync man > govsync.1; man ./govsync.1`.
    Man,
    /// Run a mock SageMaker or governance server for tests and demos.
    #[cfg(feature = "mock")]
    #[command(subcommand)]
    Mock(MockCommand),
    /// Show govsync at work in under a minute, with nothing to set up: starts both mock
    /// servers on loopback, seeds 25 models, runs the daemon's loop against them and
    /// plays a short script of changes on either side, printing each transition.
    #[cfg(feature = "mock")]
    Demo(DemoArgs),
}

/// `--config`, shared by the commands that read the configuration.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(long, short, env = "GOVSYNC_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// JSON for programs.
    Json,
}

/// The value of an environment variable in `env`.
fn lookup<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Runs a parsed command line; `env` is the process environment.
pub fn run(cli: Cli, env: &[(String, String)]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let log_format = cli.log_format;
    let result = match cli.command {
        Command::Mapping(command) => mapping::run(command, &mut out),
        Command::Config(command) => config::run(command, env, &mut out),
        #[cfg(feature = "mock")]
        Command::Mock(command) => mock::run(command, env),
        Command::Reconcile(args) => return reconcile::reconcile(args, env, log_format, &mut out),
        Command::History(args) => history::history(args, env, &mut out),
        Command::Link(args) => return link::link(args, env, log_format, &mut out),
        Command::State(command) => state::run(command, &mut out),
        Command::Run(args) => run::run(args, env, log_format),
        #[cfg(feature = "mock")]
        Command::Demo(args) => demo::run(&args, &mut out),
        Command::Healthcheck(args) => healthcheck::healthcheck(&args, env, &mut out),
        Command::Completions(args) => completions::completions(&args, &mut out),
        Command::Man => completions::man(&mut out),
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

/// Starts logging to standard error in `format`, filtered by `GOVSYNC_LOG` or `level`.
pub(super) fn init_logging(
    env: &[(String, String)],
    format: LogFormat,
    level: &str,
) -> Result<(), String> {
    let filter = logging::filter(lookup(env, logging::FILTER_VAR), level)?;
    logging::init(format, filter);
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}

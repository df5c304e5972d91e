//! `govsync mock sagemaker` and `govsync mock governance`: the mock servers as
//! standalone processes.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{lookup, runtime, shutdown_signal};

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
    /// The statuses the workflow allows, comma-separated (default: the statuses of
    /// watsonx.governance's Model Lifecycle workflow).
    #[arg(long, value_delimiter = ',')]
    pub statuses: Vec<String>,
    /// Make the status field a plain string field (no enum values, enum-shaped
    /// writes refused), as some customised installations have it.
    #[arg(long)]
    pub status_field_string: bool,
    /// Compare `[Last Modification Date]` only with date literals ('YYYY-MM-DD'), as
    /// some deployments do: a timestamp literal is answered 400 naming the value.
    #[arg(long)]
    pub date_literals_only: bool,
    /// Serve a workflow engine with these transitions: a JSON file holding a list of
    /// `{"from": STATUS, "action": NAME, "to": STATUS}`.
    #[arg(long, value_name = "FILE")]
    pub workflow: Option<PathBuf>,
    /// Refuse plain field writes of the status (only the workflow moves it), as a
    /// locked-down installation would.
    #[arg(long)]
    pub lock_status_field: bool,
    /// Keep the models in this JSON file across restarts.
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Faults to inject from the start (throttling is a 429 with Retry-After in whole
    /// seconds, server errors are 503).
    #[command(flatten, next_help_heading = "Fault injection")]
    pub faults: crate::mock::Faults,
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
    pub faults: crate::mock::Faults,
}

/// Runs `govsync mock …`.
pub(super) fn run(command: MockCommand, env: &[(String, String)]) -> Result<(), String> {
    match command {
        MockCommand::Sagemaker(args) => mock_sagemaker(args),
        MockCommand::Governance(args) => mock_governance(args, env),
    }
}

fn mock_sagemaker(args: MockSageMakerArgs) -> Result<(), String> {
    use crate::mock::sagemaker::{MockSageMaker, Options, StsSettings};
    let mut account = "123456789012".to_string();
    let mut accounts = std::collections::BTreeMap::new();
    for given in &args.accounts {
        let (key, id) = match given.split_once('=') {
            Some((key, id)) => (Some(key), id),
            None => (None, given.as_str()),
        };
        if !crate::arn::is_account_id(id) {
            return Err(format!(
                "--account {given}: \"{id}\" is not a 12-digit account ID"
            ));
        }
        match key {
            Some(key) if !key.is_empty() => {
                accounts.insert(key.to_string(), id.to_string());
            }
            Some(_) => return Err(format!("--account {given}: the access key ID is empty")),
            None => account = id.to_string(),
        }
    }
    let mock = MockSageMaker::new(Options {
        region: args.region,
        account,
        accounts,
        sts: StsSettings {
            denied_roles: args.deny_roles.into_iter().collect(),
            credential_lifetime_secs: args.credential_lifetime.as_secs().max(1),
        },
        faults: args.faults,
        state_file: args.state_file,
        events_file: args.events_file,
    })
    .map_err(|e| e.to_string())?;
    serve_mock(&mock, &args.listen, "")
}

fn mock_governance(args: MockGovernanceArgs, env: &[(String, String)]) -> Result<(), String> {
    use crate::mock::governance::{API_BASE, MockGovernance, Options, TOKEN_PATH};
    let secret = lookup(env, &args.secret_env)
        .filter(|v| !v.is_empty())
        .map(|v| secrecy::SecretString::from(v.to_string()))
        .ok_or_else(|| {
            format!(
                "set {} to the password / API key the mock should accept (or name another variable with --secret-env)",
                args.secret_env
            )
        })?;
    let mut options = Options::new(&args.username, secret);
    if !args.statuses.is_empty() {
        options.object_type.statuses = args.statuses;
    }
    options.object_type.status_is_string = args.status_field_string;
    options.object_type.date_literals_only = args.date_literals_only;
    if args.workflow.is_some() || args.lock_status_field {
        let transitions = match &args.workflow {
            Some(file) => {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| format!("--workflow {}: {e}", file.display()))?;
                serde_json::from_str(&text).map_err(|e| {
                    format!(
                        "--workflow {}: not a list of {{\"from\", \"action\", \"to\"}}: {e}",
                        file.display()
                    )
                })?
            }
            None => Vec::new(),
        };
        options.workflow = Some(crate::mock::governance::Workflow {
            transitions,
            lock_status_field: args.lock_status_field,
        });
    }
    options.token_lifetime = args.token_lifetime;
    options.faults = args.faults;
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

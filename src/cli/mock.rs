//! `govsync mock sagemaker` and `govsync mock governance`: the mock servers as
//! standalone processes.

use super::{MockGovernanceArgs, MockSageMakerArgs, lookup, runtime, shutdown_signal};

pub(super) fn mock_sagemaker(args: MockSageMakerArgs) -> Result<(), String> {
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
        faults: args.faults.faults(),
        state_file: args.state_file,
        events_file: args.events_file,
    })
    .map_err(|e| e.to_string())?;
    serve_mock(&mock, &args.listen, "")
}

pub(super) fn mock_governance(
    args: MockGovernanceArgs,
    env: &[(String, String)],
) -> Result<(), String> {
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

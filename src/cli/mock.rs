//! `govsync mock sagemaker` and `govsync mock governance`: the mock servers as
//! standalone processes.

use super::{MockGovernanceArgs, MockSageMakerArgs, lookup, runtime, shutdown_signal};

pub(super) fn mock_sagemaker(args: MockSageMakerArgs) -> Result<(), String> {
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

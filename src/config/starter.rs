//! A starting configuration, written by `govsync config init` from a few answers
//! given as flags: the text of a commented `govsync.toml` that holds them and leaves
//! every other setting at its default, with a comment saying where it is.

/// How governance is authenticated, with the names the file needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StarterAuth {
    /// HTTP Basic: a user, its password from `secret`.
    Basic {
        /// The user.
        username: String,
    },
    /// An IBM Cloud IAM API key from `secret`.
    Iam,
    /// Cloud Pak for Data: a user and its API key from `secret`.
    Zen {
        /// The user.
        username: String,
    },
}

/// Where a secret is read from: an environment variable or a mounted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StarterSecret {
    /// `…_env = "NAME"`.
    Env(String),
    /// `…_file = "PATH"`.
    File(String),
}

/// One `[[sagemaker.scopes]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarterScope {
    /// The 12-digit account ID.
    pub account_id: String,
    /// Its regions.
    pub regions: Vec<String>,
    /// A role of that account to assume, if the default credentials are another's.
    pub role_arn: Option<String>,
}

/// Which SageMaker accounts and regions are listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StarterSageMaker {
    /// The default credentials' own account in this region (`None`: the AWS default
    /// chain's region).
    Region(Option<String>),
    /// These scopes.
    Scopes(Vec<StarterScope>),
}

/// The answers a starting configuration is written from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Starter {
    /// `governance.base_url`.
    pub governance_url: String,
    /// `[governance.auth]`.
    pub auth: StarterAuth,
    /// Where the governance secret is read from.
    pub secret: StarterSecret,
    /// The accounts and regions.
    pub sagemaker: StarterSageMaker,
    /// Only these model package groups (empty: all).
    pub groups: Vec<String>,
    /// A SageMaker endpoint of one's own (a mock, LocalStack, a VPC endpoint).
    pub sagemaker_endpoint: Option<String>,
    /// The STS endpoint that goes with it.
    pub sts_endpoint: Option<String>,
    /// The state store: a SQLite path, or a `sqlite://` or `postgres://` URL.
    pub state: String,
    /// For a PostgreSQL store: the variable holding its password.
    pub state_password_env: Option<String>,
}

impl StarterAuth {
    /// The default variable for the secret of this kind.
    pub fn default_secret_env(&self) -> &'static str {
        match self {
            StarterAuth::Basic { .. } => "OPENPAGES_PASSWORD",
            StarterAuth::Iam => "IBM_API_KEY",
            StarterAuth::Zen { .. } => "CPD_API_KEY",
        }
    }
}

/// A TOML string literal (quoted and escaped).
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A TOML array of strings.
fn list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| quoted(i)).collect();
    format!("[{}]", items.join(", "))
}

/// The text of the starting configuration.
pub fn render(starter: &Starter) -> String {
    let mut out = String::new();
    let mut line = |text: &str| {
        out.push_str(text);
        out.push('\n');
    };
    line("# govsync configuration, written by `govsync config init`.");
    line("#");
    line("# Only what you answered is set; every other setting has its default. Every");
    line("# setting, with its default and meaning: docs/configuration.md, or the");
    line("# commented config/govsync.toml in govsync's repository. Any setting can also");
    line("# come from GOVSYNC_<SECTION>_<KEY> (e.g. GOVSYNC_SYNC_INTERVAL=30s).");
    line("#");
    line("# Next: govsync config check <this file>   (add --offline to skip governance)");
    line("#       govsync reconcile --dry-run --config <this file>   (writes nothing)");
    line("#       govsync run --config <this file>");
    line("");
    line("[governance]");
    line("# The OpenPages REST API v2 base URL of your watsonx.governance instance.");
    line(&format!("base_url = {}", quoted(&starter.governance_url)));
    line("# model_type = \"Model\"                        # the object type of models");
    line("# status_field = \"MRG-Model:Status\"           # the field holding the status");
    line("# link_field = \"Integration:External ID\"      # the field holding the package ARN");
    line("");
    line("[governance.auth]");
    let (secret_key, user) = match &starter.auth {
        StarterAuth::Basic { username } => {
            line("kind = \"basic\"                                # HTTP Basic");
            ("password", Some(username))
        }
        StarterAuth::Iam => {
            line("kind = \"iam\"                                  # IBM Cloud IAM API key");
            ("api_key", None)
        }
        StarterAuth::Zen { username } => {
            line("kind = \"zen\"                                  # Cloud Pak for Data ZenApiKey");
            ("api_key", Some(username))
        }
    };
    if let Some(user) = user {
        line(&format!("username = {}", quoted(user)));
    }
    line("# The secret is never written here: an environment variable or a mounted file.");
    match &starter.secret {
        StarterSecret::Env(var) => line(&format!("{secret_key}_env = {}", quoted(var))),
        StarterSecret::File(path) => line(&format!("{secret_key}_file = {}", quoted(path))),
    }
    line("");
    line("[sagemaker]");
    match &starter.sagemaker {
        StarterSageMaker::Region(Some(region)) => {
            line("# One scope: the account the default AWS credentials belong to, in this region.");
            line(&format!("region = {}", quoted(region)));
        }
        StarterSageMaker::Region(None) => {
            line("# One scope: the account the default AWS credentials belong to, in the");
            line("# region of the AWS default chain (AWS_REGION, the profile).");
            line("# region = \"us-east-1\"");
        }
        StarterSageMaker::Scopes(_) => {
            line("# The accounts and regions listed: the [[sagemaker.scopes]] below.");
        }
    }
    if !matches!(starter.sagemaker, StarterSageMaker::Scopes(_)) {
        if starter.groups.is_empty() {
            line(
                "# model_package_groups = [\"churn\"]            # only these groups (default: all)",
            );
        } else {
            line(&format!("model_package_groups = {}", list(&starter.groups)));
        }
    }
    match &starter.sagemaker_endpoint {
        Some(url) => line(&format!("endpoint_url = {}", quoted(url))),
        None => line(
            "# endpoint_url = \"http://127.0.0.1:4566\"      # a SageMaker endpoint of your own",
        ),
    }
    match &starter.sts_endpoint {
        Some(url) => line(&format!("sts_endpoint_url = {}", quoted(url))),
        None if starter.sagemaker_endpoint.is_some() => {
            line("# sts_endpoint_url = \"…\"   # the STS endpoint that goes with endpoint_url")
        }
        None => {}
    }
    if let StarterSageMaker::Scopes(scopes) = &starter.sagemaker {
        for scope in scopes {
            line("");
            line("[[sagemaker.scopes]]");
            line(&format!("account_id = {}", quoted(&scope.account_id)));
            line(&format!("regions = {}", list(&scope.regions)));
            match &scope.role_arn {
                Some(role) => line(&format!("role_arn = {}", quoted(role))),
                None => {
                    line("# listed with the default credentials, which must belong to this account")
                }
            }
            if !starter.groups.is_empty() {
                line(&format!("model_package_groups = {}", list(&starter.groups)));
            }
        }
    }
    line("");
    line("[sync]");
    line("# interval = \"10s\"              # between cycles of `govsync run`");
    line(
        "# full_interval = \"10m\"         # between full cycles (the only ones that conclude a deletion)",
    );
    line("# conflict_policy = \"governance-wins\"   # or sagemaker-wins, skip");
    line("# max_decommissions_per_cycle = 10     # the safety valve");
    line("");
    line("[state]");
    let state = starter.state.as_str();
    if state.starts_with("sqlite://") || state.starts_with("postgres") {
        line(&format!("url = {}", quoted(state)));
        if let Some(var) = &starter.state_password_env {
            line(&format!("password_env = {}", quoted(var)));
        }
    } else {
        line("# The SQLite file that keeps the baseline and the audit journal (relative to");
        line("# this file's folder); postgres://… in `url` instead, for several replicas.");
        line(&format!("path = {}", quoted(state)));
    }
    line("");
    line("[server]");
    line("# listen = \"127.0.0.1:9464\"     # the status page, /healthz, /readyz, /metrics");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starter() -> Starter {
        Starter {
            governance_url: "https://op.example.com/opgrc/api/v2".into(),
            auth: StarterAuth::Iam,
            secret: StarterSecret::Env("IBM_API_KEY".into()),
            sagemaker: StarterSageMaker::Scopes(vec![StarterScope {
                account_id: "111122223333".into(),
                regions: vec!["us-east-1".into(), "eu-west-1".into()],
                role_arn: Some("arn:aws:iam::111122223333:role/govsync".into()),
            }]),
            groups: vec!["churn \"q\"".into()],
            sagemaker_endpoint: None,
            sts_endpoint: None,
            state: "postgres://govsync@db:5432/govsync".into(),
            state_password_env: Some("DB_PASSWORD".into()),
        }
    }

    #[test]
    fn the_answers_are_written_as_toml_values_and_the_rest_as_comments() {
        let text = render(&starter());
        let table: toml::Table = text.parse().expect("TOML");
        assert_eq!(
            table["governance"]["base_url"].as_str(),
            Some("https://op.example.com/opgrc/api/v2")
        );
        assert_eq!(table["governance"]["auth"]["kind"].as_str(), Some("iam"));
        assert_eq!(
            table["governance"]["auth"]["api_key_env"].as_str(),
            Some("IBM_API_KEY")
        );
        let scope = &table["sagemaker"]["scopes"][0];
        assert_eq!(scope["regions"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            scope["model_package_groups"][0].as_str(),
            Some("churn \"q\""),
            "quotes are escaped"
        );
        assert_eq!(
            table["state"]["url"].as_str(),
            Some("postgres://govsync@db:5432/govsync")
        );
        assert!(
            table
                .get("sync")
                .and_then(|s| s.as_table())
                .is_some_and(toml::Table::is_empty)
        );
    }
}

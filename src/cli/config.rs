//! `govsync config init`: writes a starting configuration from flags;
//! `govsync config check`: validates one and prints its effective settings.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use super::lookup;
use crate::config::starter::{
    Starter, StarterAuth, StarterSageMaker, StarterScope, StarterSecret, render,
};
use crate::config::{Config, DEFAULT_CONFIG_PATH};
use crate::governance::OpenPagesClient;

/// `govsync config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a starting configuration from a few flags (no prompts, so scripts can
    /// use it): the governance URL and how to authenticate, the AWS region or
    /// accounts, and the state store. Every other setting keeps its default and is
    /// named in a comment. An existing file is never overwritten. The file passes
    /// `govsync config check --offline` once its secret's variable is set.
    Init(Box<InitArgs>),
    /// Validate a configuration file (with GOVSYNC_… overrides applied), its mapping table,
    /// that its governance secret can be read, and (unless --offline) that the governance
    /// model type has the status and link fields and every status govsync writes; print the
    /// effective settings (never the secret).
    Check {
        /// The configuration file.
        #[arg(env = "GOVSYNC_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
        file: PathBuf,
        /// Do not ask governance for the model type's definition (no network).
        #[arg(long)]
        offline: bool,
    },
}

/// Runs `govsync config …`.
pub(super) fn run(
    command: ConfigCommand,
    env: &[(String, String)],
    out: &mut dyn Write,
) -> Result<(), String> {
    match command {
        ConfigCommand::Check { file, offline } => config_check(&file, offline, env, out),
        ConfigCommand::Init(args) => config_init(*args, out),
    }
}

/// How governance is authenticated (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthKind {
    /// HTTP Basic: OpenPages on premises or on a VM (needs --username).
    Basic,
    /// An IBM Cloud IAM API key: watsonx.governance on IBM Cloud.
    Iam,
    /// ZenApiKey: Cloud Pak for Data (needs --username).
    Zen,
}

/// Arguments of `govsync config init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it (its folder is created if need be); never overwritten.
    #[arg(default_value = DEFAULT_CONFIG_PATH)]
    pub file: PathBuf,
    /// The OpenPages REST API v2 base URL, e.g. https://HOST/opgrc/api/v2.
    #[arg(long, value_name = "URL")]
    pub governance_url: String,
    /// How govsync signs in to governance.
    #[arg(long, value_enum)]
    pub auth: AuthKind,
    /// The governance user (basic and zen).
    #[arg(long)]
    pub username: Option<String>,
    /// The environment variable that will hold the password or API key (default:
    /// OPENPAGES_PASSWORD, IBM_API_KEY or CPD_API_KEY by --auth).
    #[arg(long, value_name = "VAR", conflicts_with = "secret_file")]
    pub secret_env: Option<String>,
    /// A mounted file that will hold the password or API key, instead of a variable.
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<String>,
    /// The AWS region of the one account the default credentials belong to
    /// (default: the AWS default chain's region).
    #[arg(long, conflicts_with = "scope")]
    pub region: Option<String>,
    /// An account and its regions, with the role to assume there if the default
    /// credentials belong to another account: ACCOUNT:REGION[,REGION…][:ROLE_ARN].
    /// Repeat for several accounts.
    #[arg(long, value_name = "ACCOUNT:REGIONS[:ROLE_ARN]")]
    pub scope: Vec<String>,
    /// Only these model package groups (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    pub groups: Vec<String>,
    /// A SageMaker endpoint of one's own (the mock, LocalStack, a VPC endpoint).
    #[arg(long, value_name = "URL")]
    pub sagemaker_endpoint: Option<String>,
    /// The STS endpoint that goes with --sagemaker-endpoint.
    #[arg(long, value_name = "URL")]
    pub sts_endpoint: Option<String>,
    /// The state store: a SQLite file (relative to the config's folder), or a
    /// sqlite:// or postgres://USER@HOST:PORT/DB URL (no password in it).
    #[arg(long, value_name = "PATH|URL", default_value = "govsync-state.db")]
    pub state: String,
    /// For a PostgreSQL store: the environment variable that will hold its password.
    #[arg(long, value_name = "VAR")]
    pub state_password_env: Option<String>,
}

impl InitArgs {
    /// The answers, or the flag that is wrong and why.
    fn starter(self) -> Result<Starter, String> {
        let user = |kind: &str| {
            self.username.clone().ok_or_else(|| {
                format!("--auth {kind} needs --username (the governance user govsync signs in as)")
            })
        };
        let auth = match self.auth {
            AuthKind::Basic => StarterAuth::Basic {
                username: user("basic")?,
            },
            AuthKind::Iam if self.username.is_some() => {
                return Err("--auth iam takes no --username (the API key names the user)".into());
            }
            AuthKind::Iam => StarterAuth::Iam,
            AuthKind::Zen => StarterAuth::Zen {
                username: user("zen")?,
            },
        };
        let secret = match (self.secret_file, self.secret_env) {
            (Some(path), _) => StarterSecret::File(path),
            (None, Some(var)) => StarterSecret::Env(var),
            (None, None) => StarterSecret::Env(auth.default_secret_env().to_string()),
        };
        let sagemaker = if self.scope.is_empty() {
            StarterSageMaker::Region(self.region)
        } else {
            StarterSageMaker::Scopes(
                self.scope
                    .iter()
                    .map(|s| scope_flag(s))
                    .collect::<Result<_, _>>()?,
            )
        };
        if self.state_password_env.is_some() && !self.state.starts_with("postgres") {
            return Err("--state-password-env is for a postgres:// --state".into());
        }
        Ok(Starter {
            governance_url: self.governance_url,
            auth,
            secret,
            sagemaker,
            groups: self.groups,
            sagemaker_endpoint: self.sagemaker_endpoint,
            sts_endpoint: self.sts_endpoint,
            state: self.state,
            state_password_env: self.state_password_env,
        })
    }
}

/// `ACCOUNT:REGION[,REGION…][:ROLE_ARN]` (a role ARN holds colons of its own).
fn scope_flag(text: &str) -> Result<StarterScope, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(account), Some(regions)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "--scope {text:?}: write ACCOUNT:REGION[,REGION…][:ROLE_ARN], e.g. 111122223333:us-east-1,eu-west-1:arn:aws:iam::111122223333:role/govsync"
        ));
    };
    Ok(StarterScope {
        account_id: account.to_string(),
        regions: regions.split(',').map(str::to_string).collect(),
        role_arn: parts.next().map(str::to_string),
    })
}

/// Writes the starting configuration, after checking it as `config check
/// --offline` would (without its secret, which need not be set yet).
fn config_init(args: InitArgs, out: &mut dyn Write) -> Result<(), String> {
    let file = args.file.clone();
    let text = render(&args.starter()?);
    // The file must load as written: a bad flag value (a URL, a region, an account
    // ID) is refused here, naming its key, before anything is written.
    Config::from_toml(&text, &file, &[])
        .map_err(|e| format!("not written: the configuration from these flags is refused: {e}"))?;
    if let Some(folder) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .map_err(|e| format!("cannot create the folder {}: {e}", folder.display()))?;
    }
    let mut written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "{} already exists: not overwritten (remove it, or give another path)",
                file.display()
            ),
            _ => format!("cannot create {}: {e}", file.display()),
        })?;
    written
        .write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    writeln!(
        out,
        "wrote {file}\nnext: set the secret's variable, then\n  govsync config check {file}\n  govsync reconcile --dry-run --config {file}",
        file = file.display()
    )
    .map_err(|e| e.to_string())
}

fn config_check(
    file: &Path,
    offline: bool,
    env: &[(String, String)],
    out: &mut dyn Write,
) -> Result<(), String> {
    let config = Config::load(file, env).map_err(|e| e.to_string())?;
    let secret = config
        .governance_secret(&|name: &str| lookup(env, name).map(str::to_string))
        .map_err(|e| format!("{}: {e}", file.display()))?;
    // The database password too, when the store is PostgreSQL (read, never shown).
    if let crate::config::StateConfig::Postgres(pg) = &config.state {
        crate::store::election(pg, &|name: &str| lookup(env, name).map(str::to_string))
            .map_err(|e| format!("{}: {e}", file.display()))?;
    }
    let discovered = if offline {
        "not asked (--offline)".to_string()
    } else {
        let mut client =
            OpenPagesClient::new(&config.governance, secret).map_err(|e| e.to_string())?;
        super::runtime()?
            .block_on(client.discover(&crate::governance::types::statuses_written(&config)))
            .map_err(|e| format!("{}: governance type discovery: {e}", file.display()))?
            .summary
    };
    let governance = &config.governance;
    let sagemaker = &config.sagemaker;
    let sync = &config.sync;
    let or = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.to_string());
    let mut lines = vec![
        format!("{}: valid", file.display()),
        format!(
            "  governance       {} (auth: {})",
            governance.base_url,
            governance.auth.kind()
        ),
        format!(
            "  model type       {} (status field \"{}\", link field \"{}\", {} rows a page)",
            governance.model_type,
            governance.status_field,
            governance.link_field,
            governance.page_size
        ),
        format!("  type discovery   {discovered}"),
        format!(
            "  status writes    {}{}",
            governance.write_mode.as_str(),
            match governance.write_mode {
                crate::config::WriteMode::Field => " (PUT of the status field)".to_string(),
                crate::config::WriteMode::Workflow => format!(
                    " (the rows' workflow actions: {} of {} rows name one; others {})",
                    config
                        .mapping
                        .rows()
                        .iter()
                        .filter(|r| r.governance_action.is_some())
                        .count(),
                    config.mapping.rows().len(),
                    if governance.field_write_fallback {
                        "written as a field"
                    } else {
                        "refused"
                    }
                ),
            }
        ),
        format!(
            "  sagemaker        endpoint {}, STS endpoint {}",
            or(&sagemaker.endpoint_url, "AWS default"),
            or(&sagemaker.sts_endpoint_url, "AWS default"),
        ),
        format!(
            "  sync             every {} (a full cycle every {}, incremental ones reaching back {} \
             once per overlap and 2s otherwise), conflict policy {}, decommission to \"{}\", archive stage \"{}\", \
             at most {} decommissions a cycle and {} a scope, {} writes at once, shutdown grace {}{}",
            humantime::format_duration(sync.interval),
            humantime::format_duration(sync.full_interval),
            humantime::format_duration(sync.overlap),
            sync.policy.conflict.as_str(),
            sync.policy.decommission_status,
            sync.policy.archive_stage,
            sync.policy.max_decommissions_per_cycle,
            sync.policy.max_decommissions_per_scope,
            sync.concurrency,
            humantime::format_duration(sync.shutdown_grace),
            if sync.read_model_cards {
                ", model cards read"
            } else {
                ""
            }
        ),
    ];
    if sagemaker.scopes.is_empty() {
        lines.push(format!(
            "  scope            the default credentials' own account (asked from STS at start-up) in region {}, groups {}",
            or(&sagemaker.region, "from the AWS default chain"),
            if sagemaker.model_package_groups.is_empty() {
                "all".to_string()
            } else {
                sagemaker.model_package_groups.join(", ")
            }
        ));
    }
    for c in &sagemaker.scopes {
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
        format!(
            "  linking          from the package side by CustomerMetadataProperties key \"{}\"; {}",
            sync.policy.link_metadata_key,
            match &governance.create {
                None => "no model is created for ungoverned packages".to_string(),
                Some(c) => format!(
                    "a model is created for each ungoverned package under {}, named \"{}\", status \"{}\" unless its lifecycle pulls one (at most {} a cycle)",
                    c.parent_id,
                    c.name,
                    c.status,
                    sync.policy.create.as_ref().map_or(0, |p| p.max_per_cycle)
                ),
            }
        ),
        format!("  state store      {}", config.state.describe()),
        format!("  http             {}", config.listen),
    ]);
    for o in &config.overrides {
        lines.push(format!("  override         {} from {}", o.key, o.var));
    }
    writeln!(out, "{}", lines.join("\n")).map_err(|e| e.to_string())
}

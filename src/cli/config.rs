//! `govsync config check`: validates a configuration and prints its effective settings.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::lookup;
use crate::config::{Config, DEFAULT_CONFIG_PATH};
use crate::governance::OpenPagesClient;

/// `govsync config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
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
    }
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
        crate::leader::election(pg, &|name: &str| lookup(env, name).map(str::to_string))
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
            "  sync             every {} (a full cycle every {}, incremental ones asking from {} \
             before their last question), conflict policy {}, decommission to \"{}\", archive stage \"{}\", \
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
        format!("  state store      {}", config.state.describe()),
        format!("  http             {}", config.listen),
    ]);
    for o in &config.overrides {
        lines.push(format!("  override         {} from {}", o.key, o.var));
    }
    writeln!(out, "{}", lines.join("\n")).map_err(|e| e.to_string())
}

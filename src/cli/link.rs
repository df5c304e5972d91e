//! `govsync link`: links one governance model to one model package by hand, through
//! the write-ahead journal — for a model no pipeline names, or to move governance to
//! a new version (the link conflict of a package that names a model linking an
//! older one).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::{ConfigArg, Output, exit, init_logging, lookup, runtime};
use crate::config::Config;
use crate::domain::{ModelId, PackageArn};
use crate::logging::LogFormat;
use crate::metrics::Metrics;

/// Arguments of `govsync link`.
#[derive(Debug, Args)]
pub struct LinkArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The governance model (its resource ID).
    #[arg(long, required_unless_present = "from_metadata", requires = "package")]
    pub model: Option<String>,
    /// The model package to link it to (its ARN); it replaces what the model's link
    /// field holds.
    #[arg(long, value_name = "ARN", requires = "model")]
    pub package: Option<String>,
    /// Instead of one link: every link the packages' metadata asks for, now (a full
    /// cycle that writes the links and nothing else; the same conflicts reported).
    #[arg(long, conflicts_with_all = ["model", "package"])]
    pub from_metadata: bool,
    /// Say what would be written, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// Runs `govsync link`: exit 0 when linked (or already), 2 when a write failed or
/// was refused, 1 when the model or package cannot be found or nothing could start.
pub(super) fn link(
    args: LinkArgs,
    env: &[(String, String)],
    log_format: LogFormat,
    out: &mut dyn Write,
) -> ExitCode {
    let result = (|| -> Result<u8, String> {
        init_logging(env, log_format, "warn")?;
        let config = Config::load(&args.config.config, env).map_err(|e| e.to_string())?;
        let one = match (&args.model, &args.package) {
            (Some(model), Some(package)) => Some((
                ModelId::new(model.trim()),
                PackageArn::parse(package.trim()).map_err(|e| format!("--package: {e}"))?,
            )),
            _ => None,
        };
        let report = runtime()?.block_on(async {
            let lookup = |name: &str| lookup(env, name).map(str::to_string);
            // Like reconcile: the store's lock (a daemon on the same SQLite file, or
            // the leader on PostgreSQL, is named and refused); a dry run needs none.
            let mut store = if args.dry_run {
                None
            } else {
                Some(crate::store::open(&config.state, &lookup, crate::store::Access::Write).await?)
            };
            let sdk = crate::sagemaker::client::load_sdk_config(&config.sagemaker).await;
            let engine = super::run::build(&config, env, &sdk, Arc::new(Metrics::new())).await?;
            match &one {
                Some((model, arn)) => engine.link(store.as_mut(), model, arn, args.dry_run).await,
                None => {
                    let options = crate::engine::CycleOptions {
                        dry_run: args.dry_run,
                        links_only: true,
                        ..crate::engine::CycleOptions::default()
                    };
                    engine.cycle(store.as_mut(), &options).await
                }
            }
            .map_err(|e| e.to_string())
        })?;
        let text = match args.output {
            Output::Table => crate::report::table(&report),
            Output::Json => crate::report::json(&report),
        };
        out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
        Ok(if report.failures() > 0 {
            exit::FAILED
        } else {
            exit::OK
        })
    })();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(exit::CONFIG)
        }
    }
}

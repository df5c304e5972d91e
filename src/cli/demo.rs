//! `govsync demo`: both mocks, 25 models and a short script of changes.

use std::io::Write;

use clap::Args;

/// Arguments of `govsync demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Pause between the script's steps (e.g. 2s; 0s runs it straight through).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub pause: std::time::Duration,
}

/// Runs `govsync demo`.
pub(super) fn run(args: &DemoArgs, out: &mut dyn Write) -> Result<(), String> {
    crate::demo::run(args.pause, out)
}

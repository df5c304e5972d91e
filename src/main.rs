//! The `govsync` binary: parses the command line and hands it to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = govsync::cli::Cli::parse();
    let env: Vec<(String, String)> = std::env::vars().collect();
    govsync::cli::run(cli, &env)
}

//! `govsync completions SHELL` and `govsync man`: generated from the clap
//! definitions, so they never disagree with `--help`.

use std::io::Write;

use clap::{Args, CommandFactory, ValueEnum};

use super::Cli;

/// The shells completions are generated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

/// Arguments of `govsync completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script for a shell.
pub(super) fn completions(args: &CompletionsArgs, out: &mut dyn Write) -> Result<(), String> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = Cli::command();
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut command, "govsync", &mut buffer);
    out.write_all(&buffer).map_err(|e| e.to_string())
}

/// Prints the man page (roff), with a section for each subcommand.
pub(super) fn man(out: &mut dyn Write) -> Result<(), String> {
    let command = Cli::command();
    let mut buffer = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut buffer)
        .map_err(|e| e.to_string())?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("govsync-{}", sub.get_name());
        let sub = sub.clone().name(name);
        clap_mangen::Man::new(sub)
            .render(&mut buffer)
            .map_err(|e| e.to_string())?;
    }
    out.write_all(&buffer).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(shell: Shell) -> String {
        let mut out = Vec::new();
        completions(&CompletionsArgs { shell }, &mut out).expect("generates");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn completions_know_the_subcommands_and_flags() {
        let bash = run(Shell::Bash);
        assert!(
            bash.contains("reconcile") && bash.contains("--dry-run"),
            "{bash}"
        );
        let zsh = run(Shell::Zsh);
        assert!(zsh.starts_with("#compdef govsync"), "{zsh}");
        let fish = run(Shell::Fish);
        assert!(fish.contains("complete -c govsync"), "{fish}");
        assert!(fish.contains("history"), "{fish}");
    }

    #[test]
    fn the_man_page_documents_each_command() {
        let mut out = Vec::new();
        man(&mut out).expect("renders");
        let page = String::from_utf8(out).expect("utf-8");
        assert!(page.contains(".TH govsync"), "{page}");
        for command in ["govsync\\-reconcile", "govsync\\-history", "govsync\\-run"] {
            assert!(page.contains(command), "{command} missing");
        }
        assert!(page.contains("\\-\\-dry\\-run"), "flags are listed");
    }
}

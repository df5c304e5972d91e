//! TOML files for people: positions in the text, and the one error for a file that
//! could not be read or parsed (shared by the mapping and config loaders).

use std::path::{Path, PathBuf};

/// A TOML file that could not be read, or is not valid TOML.
#[derive(Debug, thiserror::Error)]
pub enum TomlFileError {
    /// The file could not be read.
    #[error("{file}: cannot read {what}: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// What the file holds ("the mapping table", "the configuration").
        what: &'static str,
        /// The IO error.
        source: std::io::Error,
    },
    /// The text is not valid TOML (or the parser refused its shape).
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
}

impl TomlFileError {
    /// The parser's error, at its line and column in `text`.
    pub fn syntax(file: &Path, text: &str, error: &toml::de::Error) -> TomlFileError {
        let (line, column, message) = error_position(text, error);
        TomlFileError::Syntax {
            file: file.to_path_buf(),
            line,
            column,
            message,
        }
    }
}

/// The 1-based (line, column) where a TOML error starts, and its message.
pub fn error_position(text: &str, error: &toml::de::Error) -> (usize, usize, String) {
    let offset = error.span().map_or(0, |span| span.start);
    let (line, column) = line_column(text, offset);
    (line, column, error.message().trim_end().to_string())
}

/// 1-based (line, column) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

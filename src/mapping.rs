//! The mapping table ([`govsync_core::mapping`]), and reading it from a file.

use std::path::Path;

pub use govsync_core::mapping::*;
use govsync_core::toml_text::TomlFileError;

/// Reads and validates a mapping file.
pub fn load(file: &Path) -> Result<MappingTable, MappingError> {
    let text = std::fs::read_to_string(file).map_err(|source| TomlFileError::Read {
        file: file.to_path_buf(),
        what: "the mapping table",
        source,
    })?;
    MappingTable::parse(&text, file)
}

//! Positions in TOML text, shared by the mapping and config loaders.

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

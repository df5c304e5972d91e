//! The one place that lays values and rows out as text for people.

use std::fmt::Display;

/// A value, or `(none)` when there is none.
pub fn or_none<T: Display>(value: Option<&T>) -> String {
    value.map_or_else(|| "(none)".to_string(), ToString::to_string)
}

/// Renders a header and rows as left-aligned columns separated by two spaces,
/// with a dashed rule under the header. Widths count characters, not bytes.
pub fn columns<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let text: Vec<String> = cells
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    let rules: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut rules.iter().map(String::as_str));
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn aligns_by_characters() {
        let text = super::columns(
            &["a", "direction"],
            &[
                ["long cell".to_string(), "→".to_string()],
                ["x".to_string(), "y".to_string()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "a          direction");
        assert_eq!(lines[1], "---------  ---------");
        assert_eq!(lines[2], "long cell  →");
        assert_eq!(lines[3], "x          y");
    }
}

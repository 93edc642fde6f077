//! Output for people: aligned tables, `key  value` blocks, times in UTC, and values made
//! safe for a terminal (no control characters from the API's data reach it).

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A table: a header line and aligned rows. Columns with a width limit truncate longer
/// cells with `…`.
#[derive(Debug)]
pub struct Table {
    columns: Vec<(&'static str, Option<usize>)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table of `columns`: each a header and the widest cell kept whole (`None`: any).
    pub fn new(columns: &[(&'static str, Option<usize>)]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; cells are cleaned and truncated to their column's limit.
    pub fn row(&mut self, cells: Vec<String>) {
        let cells = cells
            .iter()
            .zip(&self.columns)
            .map(|(cell, (_, max))| {
                let cell = clean(cell);
                match max {
                    Some(max) => truncate(&cell, *max),
                    None => cell,
                }
            })
            .collect();
        self.rows.push(cells);
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// [`render`](Self::render), or the line `empty` when no row was added.
    pub fn render_or(&self, empty: &str) -> String {
        if self.is_empty() {
            format!("{empty}\n")
        } else {
            self.render()
        }
    }

    /// The table, one line per row, columns two spaces apart, no trailing spaces.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .map(|(h, _)| h.chars().count())
            .collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let headers: Vec<String> = self.columns.iter().map(|(h, _)| (*h).to_owned()).collect();
        let mut out = String::new();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let pad = width.saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key  value` lines, the values aligned; multi-line values are indented under their
/// first line.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (key, value) in pairs {
        let pad = " ".repeat(width - key.chars().count());
        let indent = format!("\n{}", " ".repeat(width + 2));
        let value = value.lines().map(clean).collect::<Vec<_>>().join(&indent);
        out.push_str(format!("{key}{pad}  {value}").trim_end());
        out.push('\n');
    }
    out
}

/// `text` cut to `max` characters, the last one `…`, when longer.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Control characters (newlines, terminal escapes) replaced by spaces: API data such as a
/// comment is shown, never interpreted by the terminal.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// [`clean`] line by line: the newlines of a message kept, nothing else.
pub fn clean_lines(text: &str) -> String {
    text.split('\n').map(clean).collect::<Vec<_>>().join("\n")
}

/// A member shown as text: a string as is, `null` or absent as `-`, anything else as
/// compact JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An RFC 3339 time of the API in UTC, to the second (`2026-01-31 08:00:05Z`); `null` as
/// `-`.
pub fn time(value: &Value) -> String {
    match value.as_str() {
        None => text(value),
        Some(raw) => match DateTime::parse_from_rfc3339(raw) {
            Ok(at) => at
                .with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M:%SZ")
                .to_string(),
            Err(_) => raw.to_owned(),
        },
    }
}

/// `yes` or `no`.
pub fn yes_no(value: &Value) -> String {
    if value.as_bool().unwrap_or(false) {
        "yes".to_owned()
    } else {
        "no".to_owned()
    }
}

/// `namespace/kind/name` from three members of `value`, `-` for a missing part; all
/// missing is `-`.
pub fn target(value: &Value, namespace: &str, kind: &str, name: &str) -> String {
    let parts: Vec<&str> = [namespace, kind, name]
        .iter()
        .map(|member| value[*member].as_str().unwrap_or("-"))
        .collect();
    if parts.iter().all(|p| *p == "-") {
        "-".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn columns_align_and_long_cells_are_truncated() {
        // Arrange
        let mut table = Table::new(&[("ID", None), ("NOTE", Some(6)), ("N", None)]);

        // Act
        table.row(vec!["a".into(), "short".into(), "1".into()]);
        table.row(vec!["bbbb".into(), "much too long".into(), "22".into()]);
        let text = table.render();

        // Assert
        assert_eq!(text, "ID    NOTE    N\na     short   1\nbbbb  much …  22\n");
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let mut table = Table::new(&[("C", None)]);
        table.row(vec!["a\nb\u{1b}[31m".into()]);
        assert_eq!(table.render(), "C\na b [31m\n");
        assert_eq!(fields(&[("k", "x\u{7}".into())]), "k  x\n");
    }

    #[test]
    fn fields_align_and_indent_continuation_lines() {
        let text = fields(&[("Status", "pending".into()), ("Id", "1\n2".into())]);
        assert_eq!(text, "Status  pending\nId      1\n        2\n");
    }

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(
            time(&json!("2026-01-31T09:00:05.123+01:00")),
            "2026-01-31 08:00:05Z"
        );
        assert_eq!(time(&Value::Null), "-");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abcd", 4), "abcd");
    }
}

//! Table sections: a header of column labels and one row per map, cells read by field name
//! or dotted path (`tags.owner`).

use serde_json::Value;

use super::escape;
use super::page::{SpecError, field};

/// One column: where its cells come from and what its header says.
struct Column {
    path: String,
    label: String,
}

/// A table's rows given beside the section, converted one at a time as they are written (so
/// that a large report is never held twice): how many, and the rows.
pub struct RowSource<'a> {
    /// How many rows `rows` yields.
    pub len: usize,
    /// The rows, in order.
    pub rows: Box<dyn Iterator<Item = Value> + 'a>,
}

/// Appends a table section's `<div class="table">` for `#{columns, rows}`, the rows taken
/// from `given` when the section was split from them.
pub fn table(
    out: &mut String,
    at: &str,
    section: &Value,
    given: Option<RowSource<'_>>,
) -> Result<(), SpecError> {
    let source = match given {
        Some(source) => source,
        None => {
            let rows = section
                .get("rows")
                .and_then(Value::as_array)
                .ok_or_else(|| field(at, "rows", "an array of maps"))?;
            RowSource {
                len: rows.len(),
                rows: Box::new(rows.iter().cloned()),
            }
        }
    };
    let len = source.len;
    let mut rows = source.rows.peekable();
    let columns = columns(at, section.get("columns"), rows.peek())?;
    out.push_str("<div class=\"table\"><p class=\"count\">");
    out.push_str(&format!("{len} row{}", if len == 1 { "" } else { "s" }));
    out.push_str("</p><table class=\"data\"><thead><tr>");
    for c in &columns {
        out.push_str("<th scope=\"col\">");
        escape::push(out, &c.label);
        out.push_str("</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for c in &columns {
            out.push_str("<td>");
            if let Some(v) = lookup(&row, &c.path) {
                escape::push(out, &cell_text(v));
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    Ok(())
}

/// Columns as given (names, or `#{key, label}`), or every field of the first row.
fn columns(
    at: &str,
    given: Option<&Value>,
    first: Option<&Value>,
) -> Result<Vec<Column>, SpecError> {
    let expected = "an array of field names or #{key, label}";
    let column = |path: &str, label: &str| Column {
        path: path.to_string(),
        label: label.to_string(),
    };
    match given {
        None | Some(Value::Null) => Ok(first
            .and_then(Value::as_object)
            .map(|m| m.keys().map(|k| column(k, k)).collect())
            .unwrap_or_default()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(name) => Ok(column(name, name)),
                Value::Object(m) => {
                    let path = m
                        .get("key")
                        .and_then(Value::as_str)
                        .ok_or_else(|| field(at, "columns", expected))?;
                    let label = m.get("label").and_then(Value::as_str).unwrap_or(path);
                    Ok(column(path, label))
                }
                _ => Err(field(at, "columns", expected)),
            })
            .collect(),
        Some(_) => Err(field(at, "columns", expected)),
    }
}

/// The value at a field or dotted path of a row; a field whose name holds dots wins.
fn lookup<'a>(row: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = row.get(path) {
        return Some(v);
    }
    let mut value = row;
    for part in path.split('.') {
        value = value.get(part)?;
    }
    Some(value)
}

/// A value as the text of a cell: nothing for null, arrays as `a, b`, maps as `k=v; k2=v2`.
pub fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().map(cell_text).collect::<Vec<_>>().join(", "),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", cell_text(v)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

//! Table sections: a header of column labels and one row per map, cells read by field name
//! or dotted path (`tags.owner`).

use serde_json::Value;

use super::escape;
use super::page::{SpecError, field};

/// One column: where its cells come from and what its header says.
struct Column<'a> {
    path: &'a str,
    label: &'a str,
}

/// Appends a table section's `<div class="table">` for `#{columns, rows}`.
pub fn table(out: &mut String, at: &str, section: &Value) -> Result<(), SpecError> {
    let rows = section
        .get("rows")
        .and_then(Value::as_array)
        .ok_or_else(|| field(at, "rows", "an array of maps"))?;
    let columns = columns(at, section.get("columns"), rows)?;
    out.push_str("<div class=\"table\"><p class=\"count\">");
    out.push_str(&format!(
        "{} row{}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    ));
    out.push_str("</p><table class=\"data\"><thead><tr>");
    for c in &columns {
        out.push_str("<th scope=\"col\">");
        escape::push(out, c.label);
        out.push_str("</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for c in &columns {
            out.push_str("<td>");
            if let Some(v) = lookup(row, c.path) {
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
fn columns<'a>(
    at: &str,
    given: Option<&'a Value>,
    rows: &'a [Value],
) -> Result<Vec<Column<'a>>, SpecError> {
    let expected = "an array of field names or #{key, label}";
    match given {
        None | Some(Value::Null) => Ok(rows
            .first()
            .and_then(Value::as_object)
            .map(|m| {
                m.keys()
                    .map(|k| Column {
                        path: k.as_str(),
                        label: k.as_str(),
                    })
                    .collect()
            })
            .unwrap_or_default()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(name) => Ok(Column {
                    path: name.as_str(),
                    label: name.as_str(),
                }),
                Value::Object(m) => {
                    let path = m
                        .get("key")
                        .and_then(Value::as_str)
                        .ok_or_else(|| field(at, "columns", expected))?;
                    let label = m.get("label").and_then(Value::as_str).unwrap_or(path);
                    Ok(Column { path, label })
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

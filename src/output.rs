//! Output: the az shapes of identities and groups, `-o json|jsonc|table|tsv|yaml|none`,
//! `--query` (JMESPath), and writing to stdout that ends quietly on a broken pipe.

use std::io::Write;

use serde_json::{Value, json};

use crate::model::{FederatedCredential, Identity, ResourceGroup, RoleAssignment};

/// `-o/--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Indented JSON with sorted keys, as az prints it.
    #[default]
    Json,
    /// JSON with colours.
    Jsonc,
    /// Aligned columns of the scalar fields.
    Table,
    /// Tab-separated scalar fields, one line per item.
    Tsv,
    /// YAML.
    Yaml,
    /// YAML with colours.
    Yamlc,
    /// Nothing.
    None,
}

/// Why output could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The --query expression is not JMESPath.
    #[error("invalid --query '{query}': {message}")]
    Query {
        /// The expression.
        query: String,
        /// The parser's complaint.
        message: String,
    },
    /// Serialising failed.
    #[error("could not render the output: {0}")]
    Render(String),
    /// Writing to stdout failed (other than a closed pipe).
    #[error("could not write the output: {0}")]
    Write(std::io::Error),
}

/// A progress bar on stderr for bulk runs, when stderr is a terminal: done/total, rate,
/// ETA and failures.
pub fn progress_bar() -> Option<std::sync::Arc<dyn crate::arm::bulk::Progress>> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(std::sync::Arc::new(Bar {
        bar: indicatif::ProgressBar::hidden(),
        failed: Default::default(),
    }))
}

struct Bar {
    bar: indicatif::ProgressBar,
    failed: std::sync::atomic::AtomicU64,
}

impl crate::arm::bulk::Progress for Bar {
    fn start(&self, total: u64) {
        self.bar
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        self.bar.set_length(total);
        let style = indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} {per_sec} ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        self.bar.set_style(style);
        self.bar.set_message("0 failed");
    }

    fn advance(&self, ok: bool) {
        if !ok {
            let failed = self
                .failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            self.bar.set_message(format!("{failed} failed"));
        }
        self.bar.inc(1);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// An identity in the flattened shape `az identity show` prints.
pub fn identity_json(identity: &Identity) -> Value {
    json!({
        "clientId": identity.properties.client_id,
        "id": identity.id,
        "isolationScope": identity.properties.isolation_scope,
        "location": identity.location,
        "name": identity.name,
        "principalId": identity.properties.principal_id,
        "resourceGroup": resource_group_of(&identity.id),
        "tags": identity.tags,
        "tenantId": identity.properties.tenant_id,
        "type": identity.kind,
    })
}

/// An item of a list over more than one subscription: the map with `subscriptionId` added.
pub fn with_subscription(mut value: Value, subscription: &str) -> Value {
    if let Value::Object(m) = &mut value {
        m.insert(
            "subscriptionId".into(),
            Value::String(subscription.to_string()),
        );
    }
    value
}

/// A credential in the flattened shape `az identity federated-credential show` prints.
pub fn credential_json(c: &FederatedCredential) -> Value {
    json!({
        "audiences": c.properties.audiences,
        "id": c.id,
        "issuer": c.properties.issuer,
        "name": c.name,
        "resourceGroup": resource_group_of(&c.id),
        "subject": c.properties.subject,
        "type": c.kind,
    })
}

/// A role assignment, flattened, with the built-in role's name when it is one.
pub fn assignment_json(a: &RoleAssignment) -> Value {
    let guid = a
        .properties
        .role_definition_id
        .rsplit('/')
        .next()
        .unwrap_or("");
    let role = crate::arm::roles::BUILT_IN_ROLES
        .iter()
        .find(|(_, g)| g.eq_ignore_ascii_case(guid))
        .map(|(n, _)| *n);
    json!({
        "id": a.id,
        "name": a.name,
        "principalId": a.properties.principal_id,
        "principalType": a.properties.principal_type,
        "role": role,
        "roleDefinitionId": a.properties.role_definition_id,
        "scope": a.properties.scope,
        "type": a.kind,
    })
}

/// A resource group as `az group show` prints it.
pub fn group_json(group: &ResourceGroup) -> Value {
    json!({
        "id": group.id,
        "location": group.location,
        "managedBy": group.managed_by,
        "name": group.name,
        "properties": { "provisioningState": group.properties.provisioning_state },
        "tags": group.tags,
        "type": group.kind,
    })
}

/// The resource group segment of a resource id.
pub fn resource_group_of(id: &str) -> Option<String> {
    let parts: Vec<&str> = id.split('/').collect();
    let i = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("resourcegroups"))?;
    parts.get(i + 1).map(|s| s.to_string())
}

/// Applies a JMESPath `--query`.
pub fn query(value: Value, expression: Option<&str>) -> Result<Value, OutputError> {
    let Some(expression) = expression else {
        return Ok(value);
    };
    let err = |e: jmespath::JmespathError| OutputError::Query {
        query: expression.to_string(),
        message: e.to_string(),
    };
    let compiled = jmespath::compile(expression).map_err(err)?;
    let data = jmespath::Variable::from_json(&value.to_string())
        .map_err(|e| OutputError::Render(e.to_string()))?;
    let result = compiled.search(data).map_err(err)?;
    serde_json::to_value(&*result).map_err(|e| OutputError::Render(e.to_string()))
}

/// Renders a value in a format (without the trailing newline handling of `emit`).
pub fn render(value: &Value, format: Format) -> Result<String, OutputError> {
    let render_err = |e: String| OutputError::Render(e);
    Ok(match format {
        Format::None => String::new(),
        Format::Json => {
            serde_json::to_string_pretty(value).map_err(|e| render_err(e.to_string()))? + "\n"
        }
        Format::Jsonc => {
            let mut out = String::new();
            colour(value, 0, &mut out);
            out + "\n"
        }
        Format::Yaml => serde_norway::to_string(value).map_err(|e| render_err(e.to_string()))?,
        Format::Yamlc => {
            colour_yaml(&serde_norway::to_string(value).map_err(|e| render_err(e.to_string()))?)
        }
        Format::Table => table(value),
        Format::Tsv => tsv(value),
    })
}

/// Writes rendered output to stdout; a closed pipe (`| head`) is not an error.
pub fn emit(value: &Value, format: Format, expression: Option<&str>) -> Result<(), OutputError> {
    let value = query(value.clone(), expression)?;
    let text = render(&value, format)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(OutputError::Write(e)),
        _ => Ok(()),
    }
}

fn rows(value: &Value) -> Vec<&serde_json::Map<String, Value>> {
    match value {
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        Value::Object(map) => vec![map],
        _ => Vec::new(),
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// az's table: scalar fields (without `id` and `type`), PascalCase headers, dashes under them.
fn table(value: &Value) -> String {
    table_with(value, None)
}

/// A table of the given columns (in that order), or of every scalar field but `id` and `type`.
pub fn table_with(value: &Value, only: Option<&[String]>) -> String {
    let rows = rows(value);
    if rows.is_empty() {
        return match scalar(value) {
            Some(s) if !value.is_null() => format!("Result\n--------\n{s}\n"),
            _ => String::new(),
        };
    }
    let mut columns: Vec<&String> = Vec::new();
    match only {
        Some(names) => columns.extend(names.iter()),
        None => {
            for row in &rows {
                for (k, v) in row.iter() {
                    if k != "id" && k != "type" && scalar(v).is_some() && !columns.contains(&k) {
                        columns.push(k);
                    }
                }
            }
        }
    }
    let headers: Vec<String> = columns.iter().map(|c| pascal(c)).collect();
    // A chosen column may hold a map or an array: it is shown as JSON.
    let cell = |v: Option<&Value>| match v {
        Some(v) => printable(&scalar(v).unwrap_or_else(|| v.to_string())).into_owned(),
        None => String::new(),
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|c| cell(r.get(*c))).collect())
        .collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |items: Vec<String>| -> String {
        let joined: Vec<String> = items
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        joined.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(headers);
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for row in cells {
        out.push_str(&line(row));
    }
    out
}

/// Text from a server made safe to print: control characters (escape sequences, carriage
/// returns, line breaks) are shown escaped, so a name or tag value cannot rewrite the screen.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Whether a value is an identity as `identity_json` shapes it.
pub fn is_identity(value: &Value) -> bool {
    value
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.ManagedIdentity/userAssignedIdentities"))
}

/// Identities as a table of name, resourceGroup, location and tags (`k=v;k=v`), cut to
/// fit `width` columns when one is given (the widest columns give way first, with `…`).
pub fn identity_table(items: &[Value], width: Option<usize>) -> String {
    // Items of more than one subscription name theirs.
    let subscriptions: std::collections::BTreeSet<&str> = items
        .iter()
        .filter_map(|i| i.get("subscriptionId").and_then(Value::as_str))
        .collect();
    let columns: &[&str] = if subscriptions.len() > 1 {
        &[
            "name",
            "resourceGroup",
            "subscriptionId",
            "location",
            "tags",
        ]
    } else {
        &["name", "resourceGroup", "location", "tags"]
    };
    let column_count = columns.len();
    let text = |item: &Value, column: &str| -> String {
        let raw = match item.get(column) {
            Some(Value::Object(tags)) => tags
                .iter()
                .map(|(k, v)| format!("{k}={}", scalar(v).unwrap_or_else(|| v.to_string())))
                .collect::<Vec<_>>()
                .join(";"),
            Some(v) => scalar(v).unwrap_or_else(|| v.to_string()),
            None => String::new(),
        };
        printable(&raw).into_owned()
    };
    let mut rows: Vec<Vec<String>> = vec![columns.iter().map(|c| c.to_string()).collect()];
    rows.extend(
        items
            .iter()
            .map(|i| columns.iter().map(|c| text(i, c)).collect()),
    );
    let mut widths: Vec<usize> = (0..column_count)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    if let Some(width) = width {
        let gaps = 2 * (column_count - 1);
        // Shrink the widest column one character at a time, down to 6 each.
        while widths.iter().sum::<usize>() + gaps > width {
            let Some((widest, w)) = widths.iter().enumerate().max_by_key(|(_, w)| **w) else {
                break;
            };
            if *w <= 6 {
                break;
            }
            widths[widest] -= 1;
        }
    }
    let cut = |s: &str, w: usize| -> String {
        if s.chars().count() <= w {
            format!("{s:<w$}")
        } else {
            let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
            t.push('…');
            t
        }
    };
    let line = |cells: &[String]| -> String {
        let joined: Vec<String> = cells.iter().zip(&widths).map(|(s, w)| cut(s, *w)).collect();
        joined.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(&rows[0]);
    out.push_str(&line(
        &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
    ));
    for row in &rows[1..] {
        out.push_str(&line(row));
    }
    out
}

/// az's tsv: the scalar values of each item in key order, tab-separated.
fn tsv(value: &Value) -> String {
    let rows = rows(value);
    if rows.is_empty() {
        return match value {
            Value::Array(items) => items.iter().filter_map(scalar).map(|s| s + "\n").collect(),
            other => scalar(other).map(|s| s + "\n").unwrap_or_default(),
        };
    }
    rows.iter()
        .map(|r| r.values().filter_map(scalar).collect::<Vec<_>>().join("\t") + "\n")
        .collect()
}

fn pascal(key: &str) -> String {
    let mut chars = key.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// YAML with its keys coloured as az's yamlc does; values stay plain.
fn colour_yaml(yaml: &str) -> String {
    const KEY: &str = "\x1b[94m";
    const RESET: &str = "\x1b[0m";
    let mut out = String::with_capacity(yaml.len() * 2);
    for line in yaml.lines() {
        let body = line.trim_start_matches([' ', '-']);
        let lead = &line[..line.len() - body.len()];
        match body.split_once(':') {
            Some((key, rest))
                if !key.is_empty()
                    && (rest.is_empty() || rest.starts_with(' '))
                    && !key.starts_with(['"', '\'', '|', '>']) =>
            {
                out.push_str(&format!("{lead}{KEY}{key}{RESET}:{rest}"));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

fn colour(value: &Value, indent: usize, out: &mut String) {
    const KEY: &str = "\x1b[94m";
    const STR: &str = "\x1b[32m";
    const LIT: &str = "\x1b[36m";
    const RESET: &str = "\x1b[0m";
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, v)) in map.iter().enumerate() {
                out.push_str(&format!("{pad}{KEY}{}{RESET}: ", Value::String(k.clone())));
                colour(v, indent + 1, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{end}}}"));
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                out.push_str(&pad);
                colour(v, indent + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{end}]"));
        }
        Value::String(_) => out.push_str(&format!("{STR}{value}{RESET}")),
        other => out.push_str(&format!("{LIT}{other}{RESET}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        json!([
            {"name": "a", "location": "eastus", "tags": {"x": "1"}, "id": "/x", "principalId": "p1"},
            {"name": "bb", "location": "westeurope", "tags": {}, "id": "/y", "principalId": "p2"}
        ])
    }

    #[test]
    fn json_sorts_keys_like_az() {
        let out = render(&json!({"b": 1, "a": 2}), Format::Json).unwrap();
        assert_eq!(out, "{\n  \"a\": 2,\n  \"b\": 1\n}\n");
    }

    #[test]
    fn identity_tables_name_the_subscription_only_when_there_are_several() {
        let item = |name: &str, sub: &str| json!({"name": name, "resourceGroup": "rg", "location": "eastus", "tags": {}, "subscriptionId": sub});
        let wide = identity_table(&[item("a", "s1"), item("b", "s2")], None);
        assert!(
            wide.starts_with("name  resourceGroup  subscriptionId"),
            "{wide}"
        );
        let one = identity_table(&[item("a", "s1"), item("b", "s1")], None);
        assert!(!one.contains("subscriptionId"), "{one}");
    }

    #[test]
    fn table_has_scalar_columns_and_underlines() {
        let out = render(&sample(), Format::Table).unwrap();
        assert_eq!(
            out,
            "Location    Name  PrincipalId\n----------  ----  -----------\neastus      a     p1\nwesteurope  bb    p2\n"
        );
    }

    #[test]
    fn tsv_lists_scalar_values() {
        assert_eq!(
            render(&sample(), Format::Tsv).unwrap(),
            "/x\teastus\ta\tp1\n/y\twesteurope\tbb\tp2\n"
        );
        assert_eq!(render(&json!(["a", "b"]), Format::Tsv).unwrap(), "a\nb\n");
    }

    #[test]
    fn query_selects_like_jmespath() {
        let names = query(sample(), Some("[].name")).unwrap();
        assert_eq!(names, json!(["a", "bb"]));
        let one = query(sample(), Some("[?location=='eastus'].principalId | [0]")).unwrap();
        assert_eq!(one, json!("p1"));
        assert!(matches!(
            query(sample(), Some("[?")),
            Err(OutputError::Query { .. })
        ));
    }

    #[test]
    fn yaml_and_none() {
        assert_eq!(render(&json!({"a": 1}), Format::Yaml).unwrap(), "a: 1\n");
        assert_eq!(
            render(&json!({"a": [{"b": "x: y"}]}), Format::Yamlc).unwrap(),
            "\x1b[94ma\x1b[0m:\n- \x1b[94mb\x1b[0m: 'x: y'\n"
        );
        assert_eq!(render(&json!({"a": 1}), Format::None).unwrap(), "");
    }

    #[test]
    fn resource_group_from_id() {
        assert_eq!(
            resource_group_of("/subscriptions/s/resourcegroups/RG/providers/x/y/z").as_deref(),
            Some("RG")
        );
        assert_eq!(resource_group_of("/subscriptions/s"), None);
    }
}

//! `azid graph query`: one page of a Resource Graph query, printed as `az graph query`
//! prints it: `{count, data, skip_token, total_records}` (`-o table` shows the rows).

use std::process::ExitCode;

use serde_json::{Value, json};

use super::Printer;
use crate::arm::graph::{GraphScope, PageRequest};
use crate::cli::GraphCommand;
use crate::error::Error;
use crate::output::Format;
use crate::session::Session;

/// Runs a `graph` subcommand.
pub async fn run(
    session: &Session,
    command: GraphCommand,
    out: &Printer,
) -> Result<ExitCode, Error> {
    let GraphCommand::Query {
        graph_query,
        first,
        skip,
        skip_token,
        subscriptions,
        management_groups,
        ..
    } = command;
    let scope = if !subscriptions.is_empty() {
        GraphScope::Subscriptions(subscriptions)
    } else if !management_groups.is_empty() {
        GraphScope::ManagementGroups(management_groups)
    } else {
        GraphScope::Tenant
    };
    let scope = scope.validated()?;
    if let GraphScope::Subscriptions(s) = &scope
        && s.len() > crate::arm::graph::MAX_SUBSCRIPTIONS
    {
        return Err(Error::Usage(format!(
            "--subscriptions names {} subscriptions; one query takes at most {} (graph_query() in a script batches them)",
            s.len(),
            crate::arm::graph::MAX_SUBSCRIPTIONS
        )));
    }
    let request = PageRequest {
        first: Some(first.unwrap_or(100)),
        skip,
        skip_token,
    };
    let page = session
        .client
        .graph_page(&graph_query, &scope, &request)
        .await?;
    let data: Vec<Value> = page.data.into_iter().map(Value::Object).collect();
    let shown = if out.format == Format::Table && out.query.is_none() {
        Value::Array(data)
    } else {
        json!({
            "count": page.count,
            "data": data,
            "skip_token": page.skip_token,
            "total_records": page.total_records,
        })
    };
    out.print(&shown)?;
    Ok(ExitCode::SUCCESS)
}

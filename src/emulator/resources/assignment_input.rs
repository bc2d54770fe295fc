//! The input of role assignments: the `properties` of a PUT (role definition id,
//! principal, principal type) and the `$filter` of a list, each refused with ARM's code when
//! malformed. Knows JSON and query text, not the store.

use serde_json::Value;

use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate;

/// Principal types Azure accepts.
const PRINCIPAL_TYPES: &[&str] = &[
    "User",
    "Group",
    "ServicePrincipal",
    "ForeignGroup",
    "Device",
];

/// The `properties` of a PUT.
pub(super) struct Input {
    /// The role definition's GUID.
    pub role_guid: String,
    /// The principal's object id.
    pub principal_id: String,
    /// `principalType`, when given.
    pub principal_type: Option<String>,
    /// `description`, when given.
    pub description: Option<String>,
    /// `condition`, when given.
    pub condition: Option<String>,
    /// `conditionVersion`, when given.
    pub condition_version: Option<String>,
}

impl Input {
    /// Reads and checks them.
    pub(super) fn read(body: &serde_json::Map<String, Value>) -> Result<Self, ApiError> {
        let Some(Value::Object(props)) = body.get("properties") else {
            return Err(ApiError::invalid_content(
                "a role assignment needs a 'properties' object",
            ));
        };
        let text = |key: &str| match props.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(ApiError::invalid_content(format!(
                "'properties.{key}' must be a string, found {}",
                validate::kind_of(other)
            ))),
        };
        let role = text("roleDefinitionId")?.unwrap_or_default();
        let role_guid = role_guid(&role).ok_or_else(|| {
            ApiError::bad_request(
                "InvalidRoleDefinitionId",
                format!(
                    "The role definition ID '{role}' is not valid. It must look like \
                     '/subscriptions/{{subscriptionId}}/providers/Microsoft.Authorization/roleDefinitions/{{guid}}' \
                     or '/providers/Microsoft.Authorization/roleDefinitions/{{guid}}'."
                ),
            )
        })?;
        let principal_id = text("principalId")?
            .filter(|p| validate::is_guid(p))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "InvalidPrincipalId",
                    "A valid principal ID must be provided for role assignment.",
                )
            })?;
        let principal_type = match text("principalType")? {
            None => None,
            Some(t) => Some(
                PRINCIPAL_TYPES
                    .iter()
                    .find(|p| p.eq_ignore_ascii_case(&t))
                    .map(|p| p.to_string())
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "InvalidPrincipalType",
                            format!(
                                "The principal type '{t}' is not valid. Allowed values are {}.",
                                PRINCIPAL_TYPES.join(", ")
                            ),
                        )
                    })?,
            ),
        };
        Ok(Self {
            role_guid,
            principal_id,
            principal_type,
            description: text("description")?,
            condition: text("condition")?,
            condition_version: text("conditionVersion")?,
        })
    }
}

/// The GUID of `/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}`
/// or `/providers/Microsoft.Authorization/roleDefinitions/{guid}`.
fn role_guid(id: &str) -> Option<String> {
    let s: Vec<&str> = id.strip_prefix('/')?.split('/').collect();
    let tail = match s.as_slice() {
        [sub_word, sub, rest @ ..] if sub_word.eq_ignore_ascii_case("subscriptions") => {
            validate::is_guid(sub).then_some(rest)?
        }
        rest => rest,
    };
    match tail {
        [p, ns, defs, guid]
            if p.eq_ignore_ascii_case("providers")
                && ns.eq_ignore_ascii_case("Microsoft.Authorization")
                && defs.eq_ignore_ascii_case("roleDefinitions")
                && validate::is_guid(guid) =>
        {
            Some(guid.to_string())
        }
        _ => None,
    }
}

/// A `$filter` of the list.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Filter {
    /// `atScope()`: at or above the scope, not below.
    pub at_scope: bool,
    /// `principalId eq '{id}'` or `assignedTo('{id}')`, lower case.
    pub principal: Option<String>,
}

impl Filter {
    /// Reads `$filter` (absent or empty: no filter).
    pub(super) fn parse(filter: Option<&str>) -> Result<Self, ApiError> {
        let mut out = Filter::default();
        let Some(filter) = filter.map(str::trim).filter(|f| !f.is_empty()) else {
            return Ok(out);
        };
        let unsupported = || {
            ApiError::bad_request(
                "InvalidFilter",
                format!(
                    "The filter '{filter}' is not supported. Use atScope(), principalId eq '{{id}}', \
                     assignedTo('{{id}}'), or an 'and' of atScope() and one of the others."
                ),
            )
        };
        let lower = filter.to_ascii_lowercase();
        let mut start = 0;
        let mut clauses = Vec::new();
        while let Some(at) = lower[start..].find(" and ") {
            clauses.push(&filter[start..start + at]);
            start += at + 5;
        }
        clauses.push(&filter[start..]);
        for clause in clauses.into_iter().map(str::trim) {
            let lower = clause.to_ascii_lowercase();
            if lower.replace(' ', "") == "atscope()" {
                out.at_scope = true;
                continue;
            }
            let value = if let Some(rest) = lower.strip_prefix("principalid eq ") {
                clause[clause.len() - rest.len()..].trim()
            } else if lower.starts_with("assignedto(") && lower.ends_with(')') {
                clause["assignedTo(".len()..clause.len() - 1].trim()
            } else {
                return Err(unsupported());
            };
            let id = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .filter(|v| !v.contains('\''))
                .ok_or_else(unsupported)?;
            if out.principal.replace(id.to_ascii_lowercase()).is_some() {
                return Err(unsupported());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_definition_ids() {
        let guid = "b24988ac-6180-42a0-ab88-20f7382dd24c";
        for ok in [
            format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
            format!(
                "/subscriptions/00000000-0000-0000-0000-000000000001/providers/microsoft.authorization/\
                 ROLEDEFINITIONS/{guid}"
            ),
        ] {
            assert_eq!(role_guid(&ok).as_deref(), Some(guid), "{ok}");
        }
        for bad in [
            "",
            guid,
            "/providers/Microsoft.Authorization/roleDefinitions/contributor",
            "/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c",
            "/providers/Microsoft.Compute/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c",
        ] {
            assert_eq!(role_guid(bad), None, "{bad}");
        }
    }

    #[test]
    fn filters() {
        let p = |f: &str| Filter::parse(Some(f));
        assert_eq!(p("").unwrap(), Filter::default());
        assert!(p("atScope()").unwrap().at_scope);
        assert_eq!(
            p("principalId eq 'ABC'").unwrap().principal.as_deref(),
            Some("abc")
        );
        let both = p("atScope() and assignedTo('x')").unwrap();
        assert!(both.at_scope);
        assert_eq!(both.principal.as_deref(), Some("x"));
        for bad in [
            "principalId eq abc",
            "roleDefinitionId eq 'x'",
            "principalId eq 'a' and principalId eq 'b'",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}

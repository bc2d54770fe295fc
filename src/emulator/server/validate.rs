//! The emulator's input rules: api-versions, names, locations and tags, each failing with
//! the code and message ARM gives. The client keeps its own copy of the name rules on
//! purpose: the two sides share only JSON shapes, so each can be checked against the other.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::emulator::server::error::ApiError;

/// Api-versions of Microsoft.ManagedIdentity the emulator serves. The two older
/// previews are there because `az identity list-resources` still sends 2022-01-31-preview.
pub const MSI_API_VERSIONS: &[&str] = &[
    "2018-11-30",
    "2021-09-30-preview",
    "2022-01-31-preview",
    "2023-01-31",
    "2023-07-31-preview",
    "2024-11-30",
    "2025-01-31-preview",
    "2025-05-31-preview",
    "2026-05-31",
];

/// Api-versions that define `userAssignedIdentities/revokeTokens`: the preview that
/// introduced it; the stable versions after it (2024-11-30, 2026-05-31) do not have it.
pub const REVOKE_TOKENS_API_VERSIONS: &[&str] = &["2023-07-31-preview"];

/// The first api-version whose operations list names `revokeTokens/action`.
pub const REVOKE_TOKENS_SINCE: &str = "2023-07-31-preview";

/// Api-versions of Microsoft.Resources (resource groups) the emulator serves.
pub const RESOURCES_API_VERSIONS: &[&str] = &[
    "2021-04-01",
    "2022-09-01",
    "2023-07-01",
    "2024-03-01",
    "2024-07-01",
    "2024-11-01",
    "2025-04-01",
];

/// Api-versions of the subscriptions API the emulator serves.
pub const SUBSCRIPTIONS_API_VERSIONS: &[&str] = &[
    "2016-06-01",
    "2019-06-01",
    "2019-11-01",
    "2020-01-01",
    "2021-01-01",
    "2022-12-01",
];

/// The most tags ARM allows on one resource.
pub const MAX_TAGS: usize = 50;
const MAX_TAG_NAME: usize = 512;
const MAX_TAG_VALUE: usize = 256;

/// Which shape of identity an api-version returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsiVersion {
    /// `properties.isolationScope` exists (2024-11-30 and later).
    pub isolation_scope: bool,
    /// `properties.assignmentRestrictions` exists (2025-05-31-preview and 2026-05-31).
    pub assignment_restrictions: bool,
}

/// Api-versions that define `userAssignedIdentities/listAssociatedResources`: only these two
/// previews; the stable versions do not have the action.
pub const LIST_ASSOCIATED_API_VERSIONS: &[&str] = &["2021-09-30-preview", "2022-01-31-preview"];

/// Checks the api-version of a Microsoft.ManagedIdentity request and says what it shows.
pub fn msi_version(api_version: Option<&str>, resource_type: &str) -> Result<MsiVersion, ApiError> {
    msi_version_of(api_version, resource_type, MSI_API_VERSIONS)
}

/// A POST action on an identity (`listAssociatedResources`, `revokeTokens`): refuses another
/// method, then checks the api-version against the action's own list.
pub fn post_action(
    method: &axum::http::Method,
    api_version: Option<&str>,
    resource_type: &str,
    supported: &[&str],
) -> Result<MsiVersion, ApiError> {
    if method != axum::http::Method::POST {
        return Err(ApiError::method_not_allowed(method.as_str()));
    }
    msi_version_of(api_version, resource_type, supported)
}

/// Like [`msi_version`], for an operation that only some api-versions define.
pub fn msi_version_of(
    api_version: Option<&str>,
    resource_type: &str,
    supported: &[&str],
) -> Result<MsiVersion, ApiError> {
    let version = api_version.ok_or_else(ApiError::missing_api_version)?;
    if !supported.contains(&version) {
        return Err(ApiError::bad_request(
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for location 'global' and API version '{version}' for type \
                 '{resource_type}'. The supported api-versions are '{}'.",
                supported.join(", ")
            ),
        ));
    }
    Ok(MsiVersion {
        isolation_scope: version >= "2024-11-30",
        assignment_restrictions: version == "2026-05-31" || version == "2025-05-31-preview",
    })
}

/// Checks an api-version against a fixed set, as ARM does for its own (non-provider) APIs.
pub fn api_version(api_version: Option<&str>, supported: &[&str]) -> Result<(), ApiError> {
    let version = api_version.ok_or_else(ApiError::missing_api_version)?;
    if supported.contains(&version) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "InvalidApiVersionParameter",
        format!(
            "The api-version '{version}' is invalid. The supported versions are '{}'.",
            supported.join(",")
        ),
    ))
}

/// Checks that a subscription id is a UUID (ARM's `InvalidSubscriptionId`).
pub fn subscription_id(sub: &str) -> Result<(), ApiError> {
    if uuid::Uuid::try_parse(sub).is_ok() && sub.len() == 36 {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "InvalidSubscriptionId",
        format!("The provided subscription identifier '{sub}' is malformed or invalid."),
    ))
}

/// 3 to `max` letters, digits, `-` and `_`, starting with a letter or digit: the shape of
/// identity and credential names.
fn name_shape(name: &str, max: usize) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    (3..=max).contains(&name.chars().count())
        && first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// User-assigned identity names: 3–128 of letters, digits, `-`, `_`, starting with a letter or digit.
pub fn identity_name(name: &str) -> Result<(), ApiError> {
    if name_shape(name, 128) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "InvalidResourceName",
        format!(
            "Resource name '{name}' is invalid. The name can be between 3 and 128 characters long, must start \
             with a letter or number, and may contain only letters, numbers, hyphens and underscores."
        ),
    ))
}

/// Resource group names: 1–90 of letters, digits, `-`, `_`, `.`, `(`, `)`, not ending in `.`.
pub fn group_name(name: &str) -> Result<(), ApiError> {
    let bad: String = name
        .chars()
        .filter(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')')))
        .collect();
    if !bad.is_empty() {
        return Err(ApiError::bad_request(
            "InvalidResourceGroup",
            format!(
                "The provided resource group name '{name}' has these invalid characters: '{bad}'. \
                 The name can only be a letter, digit, '-', '.', '(', ')' or '_'."
            ),
        ));
    }
    let len = name.chars().count();
    if len == 0 || len > 90 || name.ends_with('.') {
        return Err(ApiError::bad_request(
            "InvalidResourceGroup",
            format!(
                "The provided resource group name '{name}' is invalid. A name is 1 to 90 characters long and \
                 cannot end with a period."
            ),
        ));
    }
    Ok(())
}

/// Reads the request body as a JSON object; an empty body counts as `{}` only when `allow_empty`.
pub fn json_object(
    body: &[u8],
    allow_empty: bool,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        if allow_empty {
            return Ok(serde_json::Map::new());
        }
        return Err(ApiError::invalid_content("the request body is empty"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::invalid_content(format!(
            "expected a JSON object, found {}",
            kind_of(&other)
        ))),
        Err(e) => Err(ApiError::invalid_content(e)),
    }
}

/// Reads the `location` property: required, a non-empty string; returned in ARM's normal form.
pub fn location(body: &serde_json::Map<String, Value>) -> Result<String, ApiError> {
    match body.get("location") {
        None | Some(Value::Null) => Err(ApiError::location_required()),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(normalize_location(s)),
        Some(Value::String(_)) => Err(ApiError::location_required()),
        Some(other) => Err(ApiError::invalid_content(format!(
            "'location' must be a string, found {}",
            kind_of(other)
        ))),
    }
}

/// ARM's normal form of a location: lower case without spaces (`West US` -> `westus`).
pub fn normalize_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Reads `tags`: absent or null is `None`; otherwise at most 50 string pairs of bounded length.
pub fn tags(
    body: &serde_json::Map<String, Value>,
) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    let map = match body.get("tags") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(ApiError::invalid_content(format!(
                "'tags' must be an object, found {}",
                kind_of(other)
            )));
        }
    };
    if map.len() > MAX_TAGS {
        return Err(ApiError::bad_request(
            "InvalidTemplate",
            format!(
                "The number of tags ({}) exceeds the maximum of {MAX_TAGS} allowed per resource.",
                map.len()
            ),
        ));
    }
    let mut tags = BTreeMap::new();
    for (name, value) in map {
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => {
                return Err(ApiError::invalid_content(format!(
                    "the value of tag '{name}' must be a string, found {}",
                    kind_of(other)
                )));
            }
        };
        if name.is_empty() || name.chars().count() > MAX_TAG_NAME {
            return Err(ApiError::bad_request(
                "InvalidTagNameLength",
                format!("The tag name '{name}' must be 1 to {MAX_TAG_NAME} characters long."),
            ));
        }
        if let Some(c) = name
            .chars()
            .find(|c| matches!(c, '<' | '>' | '%' | '&' | '\\' | '?' | '/'))
        {
            return Err(ApiError::bad_request(
                "InvalidTagNameCharacters",
                format!("The tag name '{name}' has an invalid character '{c}'."),
            ));
        }
        if value.chars().count() > MAX_TAG_VALUE {
            return Err(ApiError::bad_request(
                "InvalidTagValueLength",
                format!(
                    "The value of tag '{name}' exceeds the maximum length of {MAX_TAG_VALUE} characters."
                ),
            ));
        }
        tags.insert(name.clone(), value);
    }
    Ok(Some(tags))
}

/// Names the JSON type of a value, for error messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Api-versions that define federated identity credentials: 2022-01-31-preview and later.
pub const FIC_API_VERSIONS: &[&str] = &[
    "2022-01-31-preview",
    "2023-01-31",
    "2023-07-31-preview",
    "2024-11-30",
    "2025-01-31-preview",
    "2025-05-31-preview",
    "2026-05-31",
];

/// Federated identity credential names (the spec's path pattern
/// `^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$`), with the message Azure documents.
pub fn fic_name(name: &str) -> Result<(), ApiError> {
    if name_shape(name, 120) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "InvalidResourceName",
        format!(
            "Federated Identity Credential name '{name}' is invalid. The name can be between 3 and 120 characters \
             long, must start with a letter or number, and may contain only letters, numbers, hyphens and \
             underscores."
        ),
    ))
}

/// Reads `$top`: absent, or a whole number from 1.
pub fn top(value: Option<&str>) -> Result<Option<usize>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(Some(n)),
        _ => Err(ApiError::bad_request(
            "InvalidQueryParameterValue",
            format!(
                "The value '{value}' of the query parameter '$top' is invalid. It must be a whole number from 1."
            ),
        )),
    }
}

/// Checks that a value is a GUID (role assignment names, principal ids).
pub fn is_guid(value: &str) -> bool {
    value.len() == 36 && uuid::Uuid::try_parse(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_names() {
        for ok in ["abc", "a-b", "A_1", "0ab", &"x".repeat(128)] {
            assert!(identity_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "-ab",
            "_ab",
            "a b",
            "a.b",
            "é12",
            &"x".repeat(129),
            "",
        ] {
            assert_eq!(
                identity_name(bad).unwrap_err().code,
                "InvalidResourceName",
                "{bad}"
            );
        }
    }

    #[test]
    fn group_names() {
        for ok in ["a", "rg-1", "rg_(x).y", "grüppe", &"r".repeat(90)] {
            assert!(group_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "rg.", "a b", "a/b", "a#b", &"r".repeat(91)] {
            assert_eq!(
                group_name(bad).unwrap_err().code,
                "InvalidResourceGroup",
                "{bad}"
            );
        }
    }

    #[test]
    fn msi_versions() {
        assert!(
            !msi_version(Some("2023-01-31"), "t")
                .unwrap()
                .isolation_scope
        );
        assert!(
            msi_version(Some("2024-11-30"), "t")
                .unwrap()
                .isolation_scope
        );
        assert!(
            msi_version(Some("2026-05-31"), "t")
                .unwrap()
                .assignment_restrictions
        );
        assert_eq!(
            msi_version(None, "t").unwrap_err().code,
            "MissingApiVersionParameter"
        );
        assert_eq!(
            msi_version(Some("2099-01-01"), "t").unwrap_err().code,
            "NoRegisteredProviderFound"
        );
    }

    #[test]
    fn tag_limits() {
        let body = |v: Value| v.as_object().cloned().unwrap();
        let many: serde_json::Map<String, Value> = (0..51)
            .map(|i| (format!("k{i}"), Value::from("v")))
            .collect();
        assert!(tags(&body(serde_json::json!({ "tags": many }))).is_err());
        assert!(
            tags(&body(
                serde_json::json!({ "tags": { "k": "v".repeat(257) } })
            ))
            .is_err()
        );
        assert!(
            tags(&body(
                serde_json::json!({ "tags": { "k".repeat(513): "v" } })
            ))
            .is_err()
        );
        assert!(tags(&body(serde_json::json!({ "tags": { "k": 1 } }))).is_err());
        assert_eq!(tags(&body(serde_json::json!({}))).unwrap(), None);
    }

    #[test]
    fn fic_names() {
        for ok in ["abc", "a-_", "0ab", &"x".repeat(120)] {
            assert!(fic_name(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "-ab", "_ab", "a.b", "a b", &"x".repeat(121), ""] {
            assert!(fic_name(bad).is_err(), "{bad}");
        }
        assert_eq!(top(Some("5")).unwrap(), Some(5));
        assert_eq!(top(None).unwrap(), None);
        for bad in ["0", "-1", "x", ""] {
            assert!(top(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn locations() {
        assert_eq!(normalize_location("West US 2"), "westus2");
    }
}

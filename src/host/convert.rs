//! Between the ARM client's types and Rhai values: identities and groups become maps shaped
//! like az's JSON, options maps become typed requests, and an `ArmError` becomes a Rhai
//! error that `catch` receives as `#{code, message, status}`.

use std::collections::BTreeMap;

use rhai::{Dynamic, EvalAltResult, Map, Position};
use serde_json::Value;

use crate::arm::ArmError;

/// A JSON value as a Rhai value (objects become maps, arrays arrays).
pub fn to_dynamic(value: &Value) -> Result<Dynamic, Box<EvalAltResult>> {
    rhai::serde::to_dynamic(value)
}

/// A Rhai value as JSON (for output, `to_json` and requests).
pub fn to_json(value: &Dynamic) -> Result<Value, Box<EvalAltResult>> {
    super::depth::check(value)?;
    rhai::serde::from_dynamic(value)
}

/// The map a failed ARM call raises: `#{code, message, status}` (`status` is `()` when
/// nothing was sent).
pub fn error_map(error: &ArmError) -> Map {
    let mut map = Map::new();
    map.insert("code".into(), error.code().into());
    map.insert("message".into(), error.message().into());
    map.insert(
        "status".into(),
        error
            .status()
            .map_or(Dynamic::UNIT, |s| Dynamic::from_int(i64::from(s))),
    );
    map
}

/// An ARM failure as a catchable Rhai error; the engine fills in the call site.
pub fn arm_error(error: ArmError) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(error_map(&error).into(), Position::NONE).into()
}

/// A script's own mistake in calling the API (wrong option type, unknown key, ...):
/// `#{code: "InvalidArgument", message, status: ()}`, the message as given.
pub fn usage_error(message: impl Into<String>) -> Box<EvalAltResult> {
    let mut map = Map::new();
    map.insert("code".into(), "InvalidArgument".into());
    map.insert("message".into(), message.into().into());
    map.insert("status".into(), Dynamic::UNIT);
    EvalAltResult::ErrorRuntime(map.into(), Position::NONE).into()
}

/// Options a create may take: `#{location, tags, isolationScope}`; anything else is refused.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CreateOptions {
    /// Region.
    pub location: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// `None` or `Regional`.
    pub isolation_scope: Option<String>,
}

/// Reads a create's options map.
pub fn create_options(opts: &Map) -> Result<CreateOptions, Box<EvalAltResult>> {
    let mut out = CreateOptions::default();
    for (key, value) in opts {
        match key.as_str() {
            "location" => out.location = Some(string(value, "location")?),
            "tags" => out.tags = tags(value)?,
            "isolationScope" => out.isolation_scope = Some(string(value, "isolationScope")?),
            other => {
                return Err(usage_error(format!(
                    "unknown option '{other}': a create takes #{{location, tags, isolationScope}}"
                )));
            }
        }
    }
    Ok(out)
}

/// Reads `#{tags: #{...}}` of an update; the tags are required.
pub fn update_tags(opts: &Map) -> Result<BTreeMap<String, String>, Box<EvalAltResult>> {
    if let Some(other) = opts.keys().find(|k| k.as_str() != "tags") {
        return Err(usage_error(format!(
            "unknown option '{other}': an update takes #{{tags}}"
        )));
    }
    match opts.get("tags") {
        Some(value) => tags(value),
        None => Err(usage_error("an update needs #{tags: #{...}}")),
    }
}

/// A tag map: string keys, string (or number/bool, stringified) values.
pub fn tags(value: &Dynamic) -> Result<BTreeMap<String, String>, Box<EvalAltResult>> {
    let Some(map) = value.read_lock::<Map>() else {
        return Err(usage_error(format!(
            "tags must be a map, not {}",
            value.type_name()
        )));
    };
    let mut out = BTreeMap::new();
    for (k, v) in map.iter() {
        let v = if v.is_string() || v.is_int() || v.is_bool() || v.is_float() {
            v.to_string()
        } else if v.is_unit() {
            String::new()
        } else {
            return Err(usage_error(format!(
                "the value of tag '{k}' must be a string, not {}",
                v.type_name()
            )));
        };
        out.insert(k.to_string(), v);
    }
    Ok(out)
}

fn string(value: &Dynamic, what: &str) -> Result<String, Box<EvalAltResult>> {
    value
        .clone()
        .into_immutable_string()
        .map(|s| s.to_string())
        .map_err(|t| usage_error(format!("{what} must be a string, not {t}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_typed_and_checked() {
        let mut opts = Map::new();
        opts.insert("location".into(), "westus".into());
        let mut tags = Map::new();
        tags.insert("n".into(), Dynamic::from_int(3));
        opts.insert("tags".into(), tags.into());
        let parsed = create_options(&opts).unwrap();
        assert_eq!(parsed.location.as_deref(), Some("westus"));
        assert_eq!(parsed.tags["n"], "3");
        opts.insert("colour".into(), "red".into());
        assert!(create_options(&opts).is_err());
    }

    #[test]
    fn arm_errors_become_maps() {
        let e = ArmError::Api {
            status: 404,
            code: "ResourceNotFound".into(),
            message: "gone".into(),
            request_id: None,
        };
        let map = error_map(&e);
        assert_eq!(
            map["code"].clone().into_string().unwrap(),
            "ResourceNotFound"
        );
        assert_eq!(map["status"].as_int().unwrap(), 404);
        let local = error_map(&ArmError::invalid("identity name", "ab", "rule"));
        assert!(local["status"].is_unit());
    }
}

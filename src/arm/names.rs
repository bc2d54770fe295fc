//! Local validation of everything a request names, with the rules the emulator (and Azure)
//! enforce, so that bad input fails before any request with an error naming value and rule.
//! Also parses resource ids. Deliberately separate from the emulator's copy of the rules.

use std::collections::BTreeMap;

use super::error::ArmError;

/// Most tags on one resource.
pub const MAX_TAGS: usize = 50;

/// Identity names: 3–128 letters, digits, `-`, `_`, starting with a letter or digit.
pub fn identity_name(name: &str) -> Result<(), ArmError> {
    let len = name.chars().count();
    let rule = "an identity name is 3 to 128 characters of letters, digits, '-' and '_', starting with a letter or digit";
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if (3..=128).contains(&len) && first_ok && rest_ok {
        Ok(())
    } else {
        Err(ArmError::invalid("identity name", name, rule))
    }
}

/// Resource group names: 1–90 letters, digits, `-`, `_`, `.`, `(`, `)`, not ending in `.`.
pub fn group_name(name: &str) -> Result<(), ArmError> {
    let rule = "a resource group name is 1 to 90 letters, digits, '-', '_', '.', '(' or ')', and does not end with '.'";
    let len = name.chars().count();
    let chars_ok = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'));
    if (1..=90).contains(&len) && chars_ok && !name.ends_with('.') {
        Ok(())
    } else {
        Err(ArmError::invalid("resource group name", name, rule))
    }
}

/// Subscription ids are UUIDs in their 36-character form.
pub fn subscription_id(id: &str) -> Result<(), ArmError> {
    if id.len() == 36 && uuid::Uuid::try_parse(id).is_ok() {
        Ok(())
    } else {
        Err(ArmError::invalid(
            "subscription id",
            id,
            "a subscription id is a UUID like 00000000-0000-0000-0000-000000000000",
        ))
    }
}

/// Locations: a non-empty region name such as `eastus` or `West Europe`.
pub fn location(location: &str) -> Result<(), ArmError> {
    if !location.trim().is_empty()
        && location
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ')
    {
        Ok(())
    } else {
        Err(ArmError::invalid(
            "location",
            location,
            "a location is a region name such as 'eastus' (letters, digits, spaces)",
        ))
    }
}

/// Tags: at most 50; names 1–512 characters without `<>%&\?/`; values at most 256 characters.
pub fn tags(tags: &BTreeMap<String, String>) -> Result<(), ArmError> {
    if tags.len() > MAX_TAGS {
        return Err(ArmError::invalid(
            "tags",
            format!("{} tags", tags.len()),
            format!("at most {MAX_TAGS} tags per resource"),
        ));
    }
    for (name, value) in tags {
        let len = name.chars().count();
        if len == 0
            || len > 512
            || name
                .chars()
                .any(|c| matches!(c, '<' | '>' | '%' | '&' | '\\' | '?' | '/'))
        {
            return Err(ArmError::invalid(
                "tag name",
                name.as_str(),
                "a tag name is 1 to 512 characters and has none of < > % & \\ ? /",
            ));
        }
        if value.chars().count() > 256 {
            return Err(ArmError::invalid(
                "tag value",
                value.as_str(),
                format!("the value of tag '{name}' is at most 256 characters"),
            ));
        }
    }
    Ok(())
}

/// Scopes and resource ids: every segment after the leading `/` is non-empty and is neither
/// `.` nor `..`, written plainly or percent-encoded (`%2e%2e`), and carries no `\\`, `?` or `#`,
/// so that a path cannot climb to another scope on the way to ARM.
pub fn resource_path(what: &'static str, path: &str) -> Result<(), ArmError> {
    let rule = "each segment between '/' is non-empty and is not '.' or '..' (nor their %2e forms), \
                and a path has no '\\', '?' or '#'";
    let Some(rest) = path.strip_prefix('/') else {
        return Err(ArmError::invalid(what, path, "it starts with '/'"));
    };
    if path.contains(['\\', '?', '#']) {
        return Err(ArmError::invalid(what, path, rule));
    }
    for segment in rest.split('/') {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if decoded.is_empty() || decoded == "." || decoded == ".." || decoded.contains(['/', '\\'])
        {
            return Err(ArmError::invalid(what, path, rule));
        }
    }
    Ok(())
}

/// The parts of a user-assigned identity's resource id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityId {
    /// Subscription id.
    pub subscription: String,
    /// Resource group name.
    pub resource_group: String,
    /// Identity name.
    pub name: String,
}

/// Parses `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}`
/// (case-insensitive segments) and validates each part.
pub fn identity_id(id: &str) -> Result<IdentityId, ArmError> {
    let rule = "an identity id looks like /subscriptions/{id}/resourceGroups/{group}/providers/\
                Microsoft.ManagedIdentity/userAssignedIdentities/{name}";
    resource_path("identity id", id.strip_suffix('/').unwrap_or(id))?;
    let parts: Vec<&str> = id.trim_end_matches('/').split('/').collect();
    let fixed = [
        (1, "subscriptions"),
        (3, "resourcegroups"),
        (5, "providers"),
        (6, "microsoft.managedidentity"),
        (7, "userassignedidentities"),
    ];
    let shape_ok = parts.len() == 9
        && parts[0].is_empty()
        && fixed
            .iter()
            .all(|(i, word)| parts[*i].eq_ignore_ascii_case(word));
    if !shape_ok {
        return Err(ArmError::invalid("identity id", id, rule));
    }
    subscription_id(parts[2])?;
    group_name(parts[4])?;
    identity_name(parts[8])?;
    Ok(IdentityId {
        subscription: parts[2].to_string(),
        resource_group: parts[4].to_string(),
        name: parts[8].to_string(),
    })
}

/// Parses `key[=value]` tag arguments as az does; a single empty argument clears all tags.
pub fn parse_tags<S: AsRef<str>>(args: &[S]) -> Result<BTreeMap<String, String>, ArmError> {
    let mut tags = BTreeMap::new();
    if args.len() == 1 && args[0].as_ref().is_empty() {
        return Ok(tags);
    }
    for arg in args {
        let arg = arg.as_ref();
        let (k, v) = arg.split_once('=').unwrap_or((arg, ""));
        if k.is_empty() {
            return Err(ArmError::invalid(
                "tag",
                arg,
                "tags are written key=value (or key alone for an empty value)",
            ));
        }
        tags.insert(k.to_string(), v.to_string());
    }
    self::tags(&tags)?;
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_emulator_rules() {
        for ok in ["abc", "A-b_c", "0ab", &"x".repeat(128)] {
            assert!(identity_name(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "-ab", "a b", "a.b", &"x".repeat(129)] {
            let e = identity_name(bad).unwrap_err();
            assert!(
                e.to_string().contains(bad) && e.to_string().contains("3 to 128"),
                "{e}"
            );
        }
        for ok in ["a", "rg.(x)_y-z", "grüppe"] {
            assert!(group_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "rg.", "a b", "a/b", &"r".repeat(91)] {
            assert!(group_name(bad).is_err(), "{bad}");
        }
        assert!(subscription_id("00000000-0000-0000-0000-000000000000").is_ok());
        assert!(subscription_id("0000").is_err());
        assert!(location("West Europe").is_ok());
        assert!(location("").is_err());
        assert!(location("east/us").is_err());
    }

    #[test]
    fn identity_ids() {
        let id = "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/RG/providers/\
                  Microsoft.ManagedIdentity/userAssignedIdentities/app-1";
        let parsed = identity_id(id).unwrap();
        assert_eq!(
            (parsed.resource_group.as_str(), parsed.name.as_str()),
            ("RG", "app-1")
        );
        for bad in [
            "/subscriptions/x/resourcegroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-1",
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/RG",
            "app-1",
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/RG/providers/Microsoft.Compute/vms/app-1",
        ] {
            assert!(identity_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_cannot_climb() {
        let sub = "/subscriptions/00000000-0000-0000-0000-000000000001";
        assert!(resource_path("scope", &format!("{sub}/resourceGroups/rg")).is_ok());
        for bad in [
            format!("{sub}/resourceGroups/rg/../.."),
            format!("{sub}/resourceGroups/rg/./x"),
            format!("{sub}/resourceGroups/rg/%2e%2e"),
            format!("{sub}/resourceGroups/rg/%2E."),
            format!("{sub}/resourceGroups/rg/%2f"),
            format!("{sub}//resourceGroups/rg"),
            format!("{sub}/resourceGroups/rg?x=1"),
            format!("{sub}/resourceGroups/rg/"),
            "subscriptions/x".to_string(),
        ] {
            let e = resource_path("scope", &bad).unwrap_err();
            assert!(e.to_string().contains(&bad), "{e}");
        }
    }

    #[test]
    fn tag_arguments() {
        let tags = parse_tags(&["a=1", "b", "c=x=y"]).unwrap();
        assert_eq!(tags["a"], "1");
        assert_eq!(tags["b"], "");
        assert_eq!(tags["c"], "x=y");
        assert!(parse_tags(&[""]).unwrap().is_empty());
        assert!(parse_tags(&["=v"]).is_err());
        let many: Vec<String> = (0..51).map(|i| format!("k{i}=v")).collect();
        assert!(parse_tags(&many).is_err());
        assert!(parse_tags(&[format!("k={}", "v".repeat(257))]).is_err());
    }
}

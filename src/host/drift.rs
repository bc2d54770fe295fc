//! The last check before a destructive step on an identity chosen from Resource Graph rows
//! (which may lag ARM): re-read it from ARM, and leave it alone, reported `Drifted` with
//! what changed, when it is gone, was recreated (another principal) or was attached to a
//! resource that the references did not show.

use std::collections::{HashMap, HashSet};

use tokio::task::JoinSet;

use crate::arm::{ArmClient, ArmError, IdentityRef};

/// The code of a per-item failure whose state changed since Resource Graph showed it.
pub const DRIFTED: &str = "Drifted";

fn drifted(id: &IdentityRef, what: String) -> ArmError {
    ArmError::Api {
        status: 409,
        code: DRIFTED.into(),
        message: format!(
            "identity '{}' changed since Resource Graph showed it: {what}; it was not touched (read it again to act on it)",
            id.id()
        ),
        request_id: None,
    }
}

/// The principals ARM holds now for the groups of these identities: one list per group,
/// sent together (lower-case id -> principal id).
pub async fn principals_now(
    client: &ArmClient,
    ids: &[&IdentityRef],
) -> Result<HashMap<String, String>, ArmError> {
    let groups: HashSet<(String, String)> = ids
        .iter()
        .map(|i| (i.subscription.clone(), i.resource_group.to_lowercase()))
        .collect();
    let mut tasks = JoinSet::new();
    for (sub, rg) in groups {
        let client = client.clone();
        tasks.spawn(async move { client.identity_list_group(&sub, &rg).await });
    }
    let mut out = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        let listed = match done.map_err(|e| ArmError::Decode {
            status: 0,
            message: format!("a list stopped: {e}"),
        })? {
            Ok(l) => l,
            // The group is gone, and its identities with it.
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e),
        };
        for identity in listed {
            out.insert(identity.id.to_lowercase(), identity.properties.principal_id);
        }
    }
    Ok(out)
}

/// Compares what Resource Graph showed (`shown` principal, `known` attachments) with ARM
/// (`now`: the principal listed, `attached`: the resources ARM says carry it).
pub fn compare(
    id: &IdentityRef,
    shown: &str,
    now: Option<&str>,
    known: &[String],
    attached: Option<&[String]>,
) -> Result<(), ArmError> {
    let Some(now) = now else {
        return Err(drifted(id, "it no longer exists".into()));
    };
    if !now.eq_ignore_ascii_case(shown) {
        return Err(drifted(
            id,
            format!("it was recreated (principalId {shown} is now {now})"),
        ));
    }
    let new: Vec<&String> = attached
        .unwrap_or_default()
        .iter()
        .filter(|r| !known.iter().any(|k| k.eq_ignore_ascii_case(r)))
        .collect();
    if !new.is_empty() {
        let list: Vec<&str> = new.iter().map(|s| s.as_str()).collect();
        return Err(drifted(
            id,
            format!("it is now attached to {}", list.join(", ")),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_recreated_and_newly_attached_identities_are_drifted() {
        let id = IdentityRef::new("00000000-0000-0000-0000-000000000001", "rg", "app-1").unwrap();
        let known = vec!["/x/vm1".to_string()];
        assert!(compare(&id, "p", Some("P"), &known, Some(&["/X/VM1".into()])).is_ok());
        let gone = compare(&id, "p", None, &known, None).unwrap_err();
        assert!(gone.code() == DRIFTED && gone.message().contains("no longer exists"));
        let recreated = compare(&id, "p", Some("q"), &known, None).unwrap_err();
        assert!(recreated.message().contains("recreated"));
        let attached = compare(&id, "p", Some("p"), &known, Some(&["/x/vm2".into()])).unwrap_err();
        assert!(attached.message().contains("/x/vm2"));
    }
}

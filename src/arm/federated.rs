//! Federated identity credentials of a user-assigned identity. ARM refuses two writes to
//! one identity's credentials at the same time (409), so this client serialises them per
//! identity: bulk scripts never see that conflict.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::Method;
use serde_json::json;

use super::error::ArmError;
use super::identity::IdentityRef;
use super::{ArmClient, decode, seg};
use crate::model::FederatedCredential;

/// The audience az uses when none is given.
pub const DEFAULT_AUDIENCE: &str = "api://AzureADTokenExchange";
/// Most credentials one identity may have (ARM's limit).
pub const MAX_PER_IDENTITY: usize = 20;

/// What a credential create or update sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSpec {
    /// Token issuer URL.
    pub issuer: String,
    /// Subject in the issuer's tokens.
    pub subject: String,
    /// Accepted audiences (az's default when empty).
    pub audiences: Vec<String>,
}

/// Per-identity write locks.
#[derive(Debug, Default)]
pub(crate) struct WriteLocks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl WriteLocks {
    fn of(&self, key: String) -> Arc<tokio::sync::Mutex<()>> {
        match self.0.lock() {
            Ok(mut map) => map.entry(key).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }
}

/// Credential names: 3–120 letters, digits, `-`, `_`, starting with a letter or digit.
pub fn credential_name(name: &str) -> Result<(), ArmError> {
    let len = name.chars().count();
    let first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let rest = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if (3..=120).contains(&len) && first && rest {
        Ok(())
    } else {
        Err(ArmError::invalid(
            "federated credential name",
            name,
            "a credential name is 3 to 120 letters, digits, '-' and '_', starting with a letter or digit",
        ))
    }
}

impl CredentialSpec {
    /// Checks the issuer, subject and audiences; fills in the default audience.
    pub fn validated(mut self) -> Result<Self, ArmError> {
        let issuer_ok = reqwest::Url::parse(&self.issuer)
            .is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
        if !issuer_ok {
            return Err(ArmError::invalid(
                "issuer",
                self.issuer,
                "the issuer is an https:// URL",
            ));
        }
        if self.subject.trim().is_empty() {
            return Err(ArmError::invalid(
                "subject",
                self.subject,
                "a subject is required",
            ));
        }
        if self.audiences.is_empty() {
            self.audiences.push(DEFAULT_AUDIENCE.to_string());
        }
        if let Some(bad) = self.audiences.iter().find(|a| a.trim().is_empty()) {
            return Err(ArmError::invalid(
                "audience",
                bad.as_str(),
                "audiences are non-empty strings",
            ));
        }
        Ok(self)
    }
}

impl ArmClient {
    fn credentials_url(&self, id: &IdentityRef, name: Option<&str>) -> reqwest::Url {
        let mut path = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}/federatedIdentityCredentials",
            seg(&id.subscription),
            seg(&id.resource_group),
            seg(&id.name)
        );
        if let Some(n) = name {
            path.push('/');
            path.push_str(&seg(n));
        }
        self.url(&path, &self.options().msi_api_version)
    }

    fn credential_lock(&self, id: &IdentityRef) -> Arc<tokio::sync::Mutex<()>> {
        self.inner.credential_writes.of(id.id().to_lowercase())
    }

    /// PUT a credential (201 created, 200 updated); says whether it was new.
    pub async fn credential_put(
        &self,
        id: &IdentityRef,
        name: &str,
        spec: CredentialSpec,
    ) -> Result<(FederatedCredential, bool), ArmError> {
        credential_name(name)?;
        let spec = spec.validated()?;
        let body = json!({ "properties": { "issuer": spec.issuer, "subject": spec.subject, "audiences": spec.audiences } });
        let lock = self.credential_lock(id);
        let _held = lock.lock().await;
        let reply = self
            .send(
                Method::PUT,
                self.credentials_url(id, Some(name)),
                Some(&body),
                &[200, 201],
            )
            .await?;
        Ok((decode(&reply)?, reply.status == 201))
    }

    /// Every credential of an identity.
    pub async fn credential_list(
        &self,
        id: &IdentityRef,
    ) -> Result<Vec<FederatedCredential>, ArmError> {
        self.list_all(self.credentials_url(id, None)).await
    }

    /// One credential; a missing one is a 404 `ArmError`.
    pub async fn credential_show(
        &self,
        id: &IdentityRef,
        name: &str,
    ) -> Result<FederatedCredential, ArmError> {
        credential_name(name)?;
        self.get_json(self.credentials_url(id, Some(name))).await
    }

    /// DELETE a credential: `true` when it was deleted, `false` when it did not exist.
    pub async fn credential_delete(&self, id: &IdentityRef, name: &str) -> Result<bool, ArmError> {
        credential_name(name)?;
        let lock = self.credential_lock(id);
        let _held = lock.lock().await;
        let reply = self
            .send(
                Method::DELETE,
                self.credentials_url(id, Some(name)),
                None,
                &[200, 204],
            )
            .await?;
        Ok(reply.status == 200)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_specs() {
        assert!(credential_name("gh-actions_main").is_ok());
        for bad in ["ab", "-ab", "a.b", &"x".repeat(121)] {
            assert!(credential_name(bad).is_err(), "{bad}");
        }
        let spec = CredentialSpec {
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: "repo:o/r:ref:refs/heads/main".into(),
            audiences: vec![],
        };
        assert_eq!(spec.validated().unwrap().audiences, [DEFAULT_AUDIENCE]);
        let bad_issuer = CredentialSpec {
            issuer: "not a url".into(),
            subject: "s".into(),
            audiences: vec![],
        };
        assert!(bad_issuer.validated().is_err());
        let no_subject = CredentialSpec {
            issuer: "https://x.example".into(),
            subject: " ".into(),
            audiences: vec![],
        };
        assert!(no_subject.validated().is_err());
    }
}

//! Where the bearer token comes from: the official azure_identity credentials (Azure CLI,
//! client secret from the environment, workload identity, managed identity) or a static
//! token (the emulator's). Tokens are cached until shortly before they expire. The token
//! never appears in `Debug` output or logs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use super::error::ArmError;

/// The scope of Azure Resource Manager tokens.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// The instance metadata service's token endpoint, asked when no other endpoint is set.
const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
/// How long a token request may take to connect.
const TOKEN_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one token request may take in all; with two retries, under 30 s.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(8);
/// A cached token is renewed this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// How credentials reach their token endpoint: which scope and authority (the cloud's),
/// and which extra CA certificates (PEM) to trust.
#[derive(Debug, Clone)]
pub struct CredentialOptions {
    /// Extra trusted CA certificates, PEM.
    pub extra_roots: Vec<Vec<u8>>,
    /// The token scope for ARM.
    pub scope: String,
    /// The Entra ID authority host; empty for the SDK's default.
    pub authority: String,
}

impl Default for CredentialOptions {
    fn default() -> Self {
        Self {
            extra_roots: Vec::new(),
            scope: ARM_SCOPE.to_string(),
            authority: String::new(),
        }
    }
}

/// Which credential to use (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// Environment, then workload identity, then managed identity (where its endpoint is set), then the Azure CLI.
    Auto,
    /// The Azure CLI's login (`az account get-access-token`).
    Cli,
    /// A service principal's secret: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET.
    Env,
    /// Workload identity: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE.
    Workload,
    /// Managed identity (App Service IDENTITY_ENDPOINT/IDENTITY_HEADER, or the VM's IMDS).
    ManagedIdentity,
    /// A static bearer token from AZID_TOKEN (for a standalone emulator).
    Token,
}

/// A source of bearer tokens, with a cache.
pub struct Credential {
    name: &'static str,
    source: Source,
    cache: Mutex<Option<(String, OffsetDateTime)>>,
    /// Added to a failure's message: where the token was asked for and how that is set.
    hint: String,
    /// The token scope.
    scope: String,
}

enum Source {
    Static(String),
    Azure(Arc<dyn TokenCredential>),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// A fixed token that never expires (the emulator's).
    pub fn static_token(token: impl Into<String>) -> Self {
        Self {
            name: "static token",
            source: Source::Static(token.into()),
            cache: Mutex::new(None),
            hint: String::new(),
            scope: ARM_SCOPE.to_string(),
        }
    }

    /// Picks the credential for `mode`, reading the environment through `var`.
    pub fn select(mode: AuthMode, var: &dyn Fn(&str) -> Option<String>) -> Result<Self, ArmError> {
        Self::select_with(mode, var, &CredentialOptions::default())
    }

    /// As `select`, for a cloud's scope and authority, trusting extra CA certificates.
    pub fn select_with(
        mode: AuthMode,
        var: &dyn Fn(&str) -> Option<String>,
        with: &CredentialOptions,
    ) -> Result<Self, ArmError> {
        // AZURE_AUTHORITY_HOST, when set, wins over the cloud's authority (as in the SDK).
        let authority = Some(with.authority.as_str())
            .filter(|a| !a.is_empty() && var("AZURE_AUTHORITY_HOST").is_none_or(|h| h.is_empty()));
        let client_options = || token_client_options(&with.extra_roots, authority);
        let has = |k: &str| var(k).is_some_and(|v| !v.is_empty());
        let mode = match mode {
            AuthMode::Auto
                if has("AZURE_TENANT_ID")
                    && has("AZURE_CLIENT_ID")
                    && has("AZURE_CLIENT_SECRET") =>
            {
                AuthMode::Env
            }
            AuthMode::Auto
                if has("AZURE_TENANT_ID")
                    && has("AZURE_CLIENT_ID")
                    && has("AZURE_FEDERATED_TOKEN_FILE") =>
            {
                AuthMode::Workload
            }
            AuthMode::Auto
                if (has("IDENTITY_ENDPOINT") && has("IDENTITY_HEADER")) || has("MSI_ENDPOINT") =>
            {
                AuthMode::ManagedIdentity
            }
            AuthMode::Auto => AuthMode::Cli,
            other => other,
        };
        let fail = |name: &str, e: azure_core::Error| ArmError::Credential {
            source_name: name.into(),
            message: chain(&e),
        };
        let mut hint = String::new();
        let (name, credential): (&'static str, Arc<dyn TokenCredential>) = match mode {
            AuthMode::Token => {
                let token = var("AZID_TOKEN").filter(|t| !t.is_empty()).ok_or_else(|| {
                    ArmError::Credential {
                        source_name: "token".into(),
                        message: "--auth token needs the bearer token in AZID_TOKEN".into(),
                    }
                })?;
                tracing::debug!("credential: static token from AZID_TOKEN");
                return Ok(Self {
                    name: "token",
                    source: Source::Static(token),
                    cache: Mutex::new(None),
                    hint: String::new(),
                    scope: with.scope.clone(),
                });
            }
            AuthMode::Env => {
                let need = |k: &str| {
                    var(k).filter(|v| !v.is_empty()).ok_or_else(|| ArmError::Credential {
                        source_name: "environment".into(),
                        message: format!(
                            "{k} is not set (--auth env needs AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET)"
                        ),
                    })
                };
                let (tenant, client, secret) = (
                    need("AZURE_TENANT_ID")?,
                    need("AZURE_CLIENT_ID")?,
                    need("AZURE_CLIENT_SECRET")?,
                );
                let options = azure_identity::ClientSecretCredentialOptions {
                    client_options: client_options()?,
                };
                let c = azure_identity::ClientSecretCredential::new(
                    &tenant,
                    client,
                    secret.into(),
                    Some(options),
                )
                .map_err(|e| fail("environment", e))?;
                ("environment", c)
            }
            AuthMode::Workload => {
                let options = azure_identity::WorkloadIdentityCredentialOptions {
                    tenant_id: var("AZURE_TENANT_ID"),
                    client_id: var("AZURE_CLIENT_ID"),
                    token_file_path: var("AZURE_FEDERATED_TOKEN_FILE").map(Into::into),
                    credential_options: azure_identity::ClientAssertionCredentialOptions {
                        client_options: client_options()?,
                    },
                };
                let c = azure_identity::WorkloadIdentityCredential::new(Some(options))
                    .map_err(|e| fail("workload identity", e))?;
                ("workload identity", c)
            }
            AuthMode::ManagedIdentity => {
                let options = azure_identity::ManagedIdentityCredentialOptions {
                    client_options: client_options()?,
                    ..Default::default()
                };
                let c = azure_identity::ManagedIdentityCredential::new(Some(options))
                    .map_err(|e| fail("managed identity", e))?;
                let endpoint = var("IDENTITY_ENDPOINT")
                    .or_else(|| var("MSI_ENDPOINT"))
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| IMDS_ENDPOINT.to_string());
                hint = format!(
                    " (managed identity endpoint {endpoint}; one is configured with IDENTITY_ENDPOINT and \
                     IDENTITY_HEADER on App Service and Functions, MSI_ENDPOINT in Cloud Shell, or is the \
                     instance metadata service on an Azure VM)"
                );
                ("managed identity", c)
            }
            AuthMode::Cli | AuthMode::Auto => {
                let c = azure_identity::AzureCliCredential::new(None)
                    .map_err(|e| fail("Azure CLI", e))?;
                ("Azure CLI", c)
            }
        };
        tracing::debug!("credential: {name}");
        Ok(Self {
            name,
            source: Source::Azure(credential),
            cache: Mutex::new(None),
            hint,
            scope: with.scope.clone(),
        })
    }

    /// Which credential this is, for messages.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A bearer token for ARM, from the cache while it is fresh.
    pub async fn token(&self) -> Result<String, ArmError> {
        let credential = match &self.source {
            Source::Static(token) => return Ok(token.clone()),
            Source::Azure(c) => c,
        };
        let mut cache = self.cache.lock().await;
        if let Some((token, _)) = cache
            .as_ref()
            .filter(|(_, expires)| *expires - RENEW_BEFORE > OffsetDateTime::now_utc())
        {
            return Ok(token.clone());
        }
        let fresh = credential
            .get_token(&[self.scope.as_str()], None)
            .await
            .map_err(|e| ArmError::Credential {
                source_name: self.name.into(),
                message: format!("{}{}", chain(&e), self.hint),
            })?;
        let token = fresh.token.secret().to_string();
        *cache = Some((token.clone(), fresh.expires_on));
        Ok(token)
    }
}

/// An error and every cause under it, so that "retry policy expired" says what failed.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// Token endpoints get two quick retries: a credential that cannot work should say so in
/// about a second, not after the SDK's default of eight retries. Token requests go through
/// a reqwest client of azid's own: it trusts `extra_roots` (--ca-bundle) as ARM requests do,
/// gives up connecting after a few seconds, and on an endpoint that accepts but never
/// answers after `TOKEN_TIMEOUT` per attempt.
fn token_client_options(
    extra_roots: &[Vec<u8>],
    authority: Option<&str>,
) -> Result<azure_core::http::ClientOptions, ArmError> {
    let retry = azure_core::http::ExponentialRetryOptions {
        initial_delay: azure_core::time::Duration::milliseconds(200),
        max_retries: 2,
        ..Default::default()
    };
    let mut builder = reqwest::Client::builder()
        .connect_timeout(TOKEN_CONNECT_TIMEOUT)
        .timeout(TOKEN_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if !extra_roots.is_empty() {
        let mut roots = Vec::new();
        for pem in extra_roots {
            roots.push(
                reqwest::Certificate::from_pem(pem)
                    .map_err(|e| ArmError::invalid("CA certificate", "PEM", e.to_string()))?,
            );
        }
        builder = builder.tls_certs_merge(roots);
    }
    let http = builder.build().map_err(|e| ArmError::Credential {
        source_name: "HTTP client".into(),
        message: e.to_string(),
    })?;
    let cloud = authority.map(|host| {
        let mut custom = azure_core::cloud::CustomConfiguration::default();
        custom.authority_host = host.to_string();
        Arc::new(azure_core::cloud::CloudConfiguration::Custom(custom))
    });
    Ok(azure_core::http::ClientOptions {
        retry: azure_core::http::RetryOptions::exponential(retry),
        transport: Some(azure_core::http::Transport::new(Arc::new(http))),
        cloud,
        ..Default::default()
    })
}

/// A string claim of a JWT's payload, read without checking the signature (for display only).
pub fn jwt_claim(token: &str, claim: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get(claim)?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn auto_picks_in_the_documented_order() {
        let sp = [
            ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ];
        assert_eq!(
            Credential::select(AuthMode::Auto, &env(&sp))
                .unwrap()
                .name(),
            "environment"
        );
        let token_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(token_file.path(), "a.b.c").unwrap();
        let wi = [
            ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ("AZURE_CLIENT_ID", "c"),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                token_file.path().to_str().unwrap(),
            ),
        ];
        assert_eq!(
            Credential::select(AuthMode::Auto, &env(&wi))
                .unwrap()
                .name(),
            "workload identity"
        );
        let mi = [
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"),
            ("IDENTITY_HEADER", "h"),
        ];
        assert_eq!(
            Credential::select(AuthMode::Auto, &env(&mi))
                .unwrap()
                .name(),
            "managed identity"
        );
        assert_eq!(
            Credential::select(AuthMode::Auto, &env(&[]))
                .unwrap()
                .name(),
            "Azure CLI"
        );
    }

    #[test]
    fn explicit_modes_say_what_is_missing() {
        let e = Credential::select(AuthMode::Token, &env(&[])).unwrap_err();
        assert!(e.to_string().contains("AZID_TOKEN"), "{e}");
        let e = Credential::select(AuthMode::Env, &env(&[("AZURE_TENANT_ID", "t")])).unwrap_err();
        assert!(e.to_string().contains("AZURE_CLIENT_ID"), "{e}");
        assert_eq!(
            Credential::select(AuthMode::Token, &env(&[("AZID_TOKEN", "x")]))
                .unwrap()
                .name(),
            "token"
        );
    }

    #[test]
    fn debug_output_hides_the_token() {
        let c = Credential::static_token("super-secret-token");
        assert!(!format!("{c:?}").contains("super-secret"));
    }
}

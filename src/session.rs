//! A connected session: an ARM client, the subscription it works in, and — under
//! `--local` — the emulator it started in this process (stopped when the session ends).

use std::time::Duration;

use crate::arm::{ArmClient, ClientOptions, Credential, CredentialOptions, RetryPolicy};
use crate::config::{Config, ConfigError, Target, az_config_dir, cloud, resolve_subscription};
use crate::emulator::{Emulator, EmulatorOptions};
use crate::error::Error;

/// What every command works with.
pub struct Session {
    /// The ARM client.
    pub client: ArmClient,
    /// The subscription commands act in.
    pub subscription: String,
    /// The in-process emulator under `--local`.
    emulator: Option<Emulator>,
}

impl Session {
    /// Connects as `config` says, reading the environment through `var`; a missing
    /// subscription is an error unless `lazy` (scripts), where it is empty until set.
    pub async fn connect(
        config: &Config,
        var: &dyn Fn(&str) -> Option<String>,
        lazy: bool,
    ) -> Result<Self, Error> {
        let mut options = ClientOptions {
            retry: RetryPolicy {
                max_attempts: config.max_retries + 1,
                ..RetryPolicy::default()
            },
            ..ClientOptions::default()
        };
        match &config.target {
            Target::Local { dir } => {
                std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                    context: "could not create the --local folder",
                    source,
                })?;
                let emulator = Emulator::start(EmulatorOptions {
                    data: Some(dir.join("emulator.db")),
                    subscriptions: config.subscription.iter().cloned().collect(),
                    group_delete_delay: Duration::from_millis(200),
                    request_log: var("AZID_EMULATOR_REQUEST_LOG").map(Into::into),
                    ..EmulatorOptions::default()
                })
                .await?;
                tracing::debug!(
                    "--local: emulator at {} with its state in {}",
                    emulator.url(),
                    dir.display()
                );
                let client = ArmClient::new(
                    emulator.url(),
                    Credential::static_token(emulator.token()),
                    options,
                )?;
                let subscription = emulator.subscriptions()[0].clone();
                Ok(Self {
                    client,
                    subscription,
                    emulator: Some(emulator),
                })
            }
            Target::Remote {
                endpoint,
                cloud,
                auth,
                ca_bundle,
            } => {
                let cloud = cloud::resolve(cloud.as_deref(), az_config_dir(var).as_deref())?;
                let endpoint = endpoint.as_deref().unwrap_or(&cloud.resource_manager);
                if let Some(path) = ca_bundle {
                    let pem = std::fs::read(path).map_err(|source| Error::Io {
                        context: "could not read --ca-bundle",
                        source,
                    })?;
                    options.extra_roots.push(pem);
                }
                let subscription = match resolve_subscription(config.subscription.as_deref(), var) {
                    Ok(sub) => sub,
                    // Scripts may set one later (use_subscription), or need none at all.
                    Err(ConfigError::NoSubscription) if lazy => String::new(),
                    Err(e) => return Err(e.into()),
                };
                let credential = Credential::select_with(
                    *auth,
                    var,
                    &CredentialOptions {
                        extra_roots: options.extra_roots.clone(),
                        scope: cloud.scope.clone(),
                        authority: cloud.authority.clone(),
                    },
                )?;
                let client = ArmClient::new(endpoint, credential, options)?;
                Ok(Self {
                    client,
                    subscription,
                    emulator: None,
                })
            }
        }
    }

    /// The in-process emulator, under `--local`.
    pub fn emulator(&self) -> Option<&Emulator> {
        self.emulator.as_ref()
    }
}

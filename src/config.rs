//! Resolved settings: where ARM is (Azure, a given endpoint, or an in-process emulator),
//! which credential, which subscription, and how to print. The "high" counterpart of the
//! "low" `cli::Common`: everything here is checked, and resolving may read files.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::arm::{ArmError, AuthMode, names};
use crate::cli::Common;
use crate::output::Format;

pub mod cloud;

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An ARM endpoint reached with a real credential.
    Remote {
        /// `--endpoint`; without it, the cloud's ARM endpoint.
        endpoint: Option<String>,
        /// `--cloud`; without it, az's active cloud.
        cloud: Option<String>,
        /// Credential choice.
        auth: AuthMode,
        /// Extra trusted CA certificates (PEM).
        ca_bundle: Option<PathBuf>,
    },
    /// An emulator started in this process, with its state in this folder.
    Local {
        /// State folder.
        dir: PathBuf,
    },
}

/// Everything a command needs to know before it starts.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where requests go.
    pub target: Target,
    /// `--subscription`, already validated (resolution from the environment happens later,
    /// because `--local` takes the emulator's).
    pub subscription: Option<String>,
    /// Output format.
    pub output: Format,
    /// JMESPath query.
    pub query: Option<String>,
    /// 0 quiet, 1 `-v`, 2 `--debug`.
    pub verbosity: u8,
    /// Retries of idempotent requests.
    pub max_retries: u32,
}

/// Why settings could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value broke a rule.
    #[error(transparent)]
    Invalid(#[from] ArmError),
    /// Two options that exclude each other.
    #[error("{0}")]
    Conflict(String),
    /// No subscription could be found.
    #[error(
        "no subscription is set: pass --subscription ID, set AZURE_SUBSCRIPTION_ID, or choose a default with `az account set`"
    )]
    NoSubscription,
    /// The Azure CLI's profile could not be read.
    #[error("could not read the Azure CLI profile {path}: {message}")]
    Profile {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The --query expression is not JMESPath.
    #[error("invalid --query '{query}': {message}")]
    Query {
        /// The expression.
        query: String,
        /// The parser's complaint.
        message: String,
    },
    /// No data directory for `--local`.
    #[error("could not find a data directory for --local; pass --local=DIR")]
    NoDataDir,
}

impl Config {
    /// Resolves the options (the environment was read by clap, or is read later).
    pub fn resolve(common: &Common) -> Result<Self, ConfigError> {
        if let Some(sub) = &common.subscription {
            names::subscription_id(sub)?;
        }
        if let Some(query) = &common.query {
            jmespath::compile(query).map_err(|e| ConfigError::Query {
                query: query.clone(),
                message: e.to_string(),
            })?;
        }
        let target = match &common.local {
            Some(dir) => {
                if common.endpoint.is_some() {
                    return Err(ConfigError::Conflict(
                        "--local and --endpoint exclude each other".into(),
                    ));
                }
                if common.cloud.is_some() {
                    return Err(ConfigError::Conflict(
                        "--local and --cloud exclude each other".into(),
                    ));
                }
                // The in-process emulator's own token is used; another credential would be ignored.
                if common.auth.is_some() {
                    return Err(ConfigError::Conflict(
                        "--local and --auth exclude each other (--local uses the emulator's token)"
                            .into(),
                    ));
                }
                let dir = if dir.as_os_str().is_empty() {
                    default_local_dir()?
                } else {
                    dir.clone()
                };
                Target::Local { dir }
            }
            None => Target::Remote {
                endpoint: common.endpoint.as_deref().map(endpoint).transpose()?,
                cloud: common.cloud.clone(),
                auth: common.auth.unwrap_or(AuthMode::Auto),
                ca_bundle: common.ca_bundle.clone(),
            },
        };
        Ok(Self {
            target,
            subscription: common.subscription.clone(),
            output: common.output.unwrap_or_default(),
            query: common.query.clone(),
            verbosity: if common.debug {
                2
            } else {
                u8::from(common.verbose)
            },
            max_retries: common.max_retries.unwrap_or(4),
        })
    }
}

/// Checks `--endpoint`: an http(s) URL of a host, without credentials in it, and without a
/// path, query or fragment (requests go to ARM's own paths from the host, so one would be cut).
pub fn endpoint(value: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| ConfigError::Invalid(ArmError::invalid("endpoint", value, why));
    let url = reqwest::Url::parse(value)
        .map_err(|_| bad("an endpoint is an http(s) URL such as https://management.azure.com"))?;
    if !url.username().is_empty() || url.password().is_some() {
        // The value is shown without its user name and password.
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        return Err(ConfigError::Invalid(ArmError::invalid(
            "endpoint",
            shown.to_string(),
            "an endpoint carries no user name or password (the credential is chosen with --auth)",
        )));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "an endpoint is a scheme, host and port only, without a path, query or fragment",
        ));
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// `--local` state lives here unless a folder is given.
pub fn default_local_dir() -> Result<PathBuf, ConfigError> {
    dirs::data_dir()
        .map(|d| d.join("azid").join("local"))
        .ok_or(ConfigError::NoDataDir)
}

/// The subscription for a remote target: `--subscription`, then AZURE_SUBSCRIPTION_ID, then the
/// Azure CLI's default account (azureProfile.json under AZURE_CONFIG_DIR or ~/.azure).
pub fn resolve_subscription(
    flag: Option<&str>,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    if let Some(sub) = flag {
        names::subscription_id(sub)?;
        return Ok(sub.to_string());
    }
    if let Some(sub) = var("AZURE_SUBSCRIPTION_ID").filter(|s| !s.is_empty()) {
        names::subscription_id(&sub)?;
        return Ok(sub);
    }
    let Some(dir) = az_config_dir(var) else {
        return Err(ConfigError::NoSubscription);
    };
    match default_account(&dir.join("azureProfile.json"))? {
        Some(sub) => Ok(sub),
        None => Err(ConfigError::NoSubscription),
    }
}

/// The Azure CLI's folder: AZURE_CONFIG_DIR, or ~/.azure.
pub fn az_config_dir(var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    var("AZURE_CONFIG_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| Path::new(&h).join(".azure")))
}

/// The default resource group, as az finds it: AZURE_DEFAULTS_GROUP, then `group` under
/// `[defaults]` in az's `config` file.
pub fn default_group(var: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    if let Some(group) = var("AZURE_DEFAULTS_GROUP").filter(|g| !g.is_empty()) {
        return Ok(Some(group));
    }
    let Some(dir) = az_config_dir(var) else {
        return Ok(None);
    };
    Ok(read_ini(&dir.join("config"))?
        .and_then(|text| ini_value(&text, "defaults", "group"))
        .filter(|g| !g.is_empty()))
}

/// An INI file's text; `None` when it does not exist.
pub fn read_ini(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::Profile {
            path: path.display().to_string(),
            message: e.to_string(),
        }),
    }
}

/// `key` of `[section]` in INI text as Python's configparser (which az uses) reads it:
/// `key = value` or `key: value`, `#`/`;` comment lines, section names case-sensitive.
pub fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_string());
            continue;
        }
        if current.as_deref() != Some(section) {
            continue;
        }
        let split = line.find(['=', ':']).map(|i| (&line[..i], &line[i + 1..]));
        if let Some((k, v)) = split
            && k.trim().eq_ignore_ascii_case(key)
        {
            return Some(v.trim().to_string());
        }
    }
    None
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    subscriptions: Vec<Account>,
}

#[derive(Deserialize)]
struct Account {
    id: String,
    #[serde(rename = "isDefault", default)]
    is_default: bool,
}

/// The default account of an Azure CLI profile; `None` when the file or a default is missing.
fn default_account(path: &Path) -> Result<Option<String>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ConfigError::Profile {
                path: path.display().to_string(),
                message: e.to_string(),
            });
        }
    };
    // The Azure CLI writes this file with a UTF-8 byte order mark.
    let profile: Profile =
        serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
            ConfigError::Profile {
                path: path.display().to_string(),
                message: e.to_string(),
            }
        })?;
    Ok(profile
        .subscriptions
        .into_iter()
        .find(|a| a.is_default)
        .map(|a| a.id))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const A: &str = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";
    const B: &str = "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb";
    const C: &str = "cccccccc-cccc-cccc-cccc-cccccccccccc";

    fn env(pairs: Vec<(&str, String)>) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn subscription_resolution_order() {
        let dir = tempfile::tempdir().unwrap();
        let profile = format!(
            "\u{feff}{{\"subscriptions\":[{{\"id\":\"{B}\",\"isDefault\":false}},{{\"id\":\"{C}\",\"isDefault\":true}}]}}"
        );
        std::fs::write(dir.path().join("azureProfile.json"), profile).unwrap();
        let cfg = dir.path().to_str().unwrap().to_string();
        let all = env(vec![
            ("AZURE_SUBSCRIPTION_ID", A.into()),
            ("AZURE_CONFIG_DIR", cfg.clone()),
        ]);
        assert_eq!(
            resolve_subscription(Some(B), &all).unwrap(),
            B,
            "the flag first"
        );
        assert_eq!(
            resolve_subscription(None, &all).unwrap(),
            A,
            "then the environment"
        );
        let profile_only = env(vec![("AZURE_CONFIG_DIR", cfg)]);
        assert_eq!(
            resolve_subscription(None, &profile_only).unwrap(),
            C,
            "then the CLI's default account"
        );
        let nothing = env(vec![(
            "HOME",
            dir.path().join("nohome").to_str().unwrap().into(),
        )]);
        let e = resolve_subscription(None, &nothing).unwrap_err();
        assert!(e.to_string().contains("--subscription"), "{e}");
        assert!(resolve_subscription(Some("nope"), &nothing).is_err());
    }

    #[test]
    fn default_group_from_env_then_az_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config"),
            "[core]\noutput = json\n# group = no\n[defaults]\nlocation = eastus\ngroup = rg-cfg\n",
        )
        .unwrap();
        let cfg = dir.path().to_str().unwrap().to_string();
        let both = env(vec![
            ("AZURE_DEFAULTS_GROUP", "rg-env".into()),
            ("AZURE_CONFIG_DIR", cfg.clone()),
        ]);
        assert_eq!(default_group(&both).unwrap().as_deref(), Some("rg-env"));
        let file = env(vec![("AZURE_CONFIG_DIR", cfg)]);
        assert_eq!(default_group(&file).unwrap().as_deref(), Some("rg-cfg"));
        let none = env(vec![(
            "HOME",
            dir.path().join("x").to_str().unwrap().into(),
        )]);
        assert_eq!(default_group(&none).unwrap(), None);
    }

    #[test]
    fn endpoints_with_credentials_or_paths_are_refused() {
        for bad in [
            "http://user:pass@127.0.0.1:1",
            "http://user@127.0.0.1:1",
            "http://127.0.0.1:1/arm",
            "http://127.0.0.1:1/?a=b",
        ] {
            let e = endpoint(bad).unwrap_err();
            assert!(matches!(e, ConfigError::Invalid(_)), "{bad}: {e}");
        }
        assert_eq!(
            endpoint("http://127.0.0.1:1/").unwrap(),
            "http://127.0.0.1:1"
        );
    }

    #[test]
    fn local_and_endpoint_conflict() {
        let common = Common {
            local: Some(PathBuf::from("x")),
            endpoint: Some("http://127.0.0.1:1".into()),
            ..Common::default()
        };
        assert!(matches!(
            Config::resolve(&common),
            Err(ConfigError::Conflict(_))
        ));
        for common in [
            Common {
                local: Some(PathBuf::from("x")),
                auth: Some(AuthMode::Cli),
                ..Common::default()
            },
            Common {
                local: Some(PathBuf::from("x")),
                cloud: Some("AzureCloud".into()),
                ..Common::default()
            },
        ] {
            assert!(matches!(
                Config::resolve(&common),
                Err(ConfigError::Conflict(_))
            ));
        }
    }
}

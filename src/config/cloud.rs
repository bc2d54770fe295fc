//! The Azure cloud as az knows it: the active cloud (`[cloud] name` in az's `config`,
//! default AzureCloud, or `--cloud`), its endpoints from the built-in table, overlaid by
//! its section in `clouds.config` (az writes `endpoint_resource_manager`,
//! `endpoint_active_directory`, `endpoint_active_directory_resource_id`, ... per cloud).

use std::path::Path;

use super::{ConfigError, ini_value, read_ini};
use crate::arm::ArmError;

/// Where one cloud's ARM and Entra ID are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cloud {
    /// The cloud's name, as az spells it.
    pub name: String,
    /// The ARM endpoint, without a trailing slash.
    pub resource_manager: String,
    /// The token scope for ARM: the cloud's ARM audience + `/.default`.
    pub scope: String,
    /// The Entra ID authority host.
    pub authority: String,
}

/// The clouds az has built in: name, ARM endpoint, ARM token audience
/// (active_directory_resource_id), authority host.
const BUILT_IN: [(&str, &str, &str, &str); 3] = [
    (
        "AzureCloud",
        "https://management.azure.com/",
        "https://management.core.windows.net/",
        "https://login.microsoftonline.com",
    ),
    (
        "AzureUSGovernment",
        "https://management.usgovcloudapi.net/",
        "https://management.core.usgovcloudapi.net/",
        "https://login.microsoftonline.us",
    ),
    (
        "AzureChinaCloud",
        "https://management.chinacloudapi.cn/",
        "https://management.core.chinacloudapi.cn/",
        "https://login.chinacloudapi.cn",
    ),
];

/// The cloud named by `flag`, else az's active cloud, read from az's folder `dir`.
pub fn resolve(flag: Option<&str>, dir: Option<&Path>) -> Result<Cloud, ConfigError> {
    let config = match dir {
        Some(d) => read_ini(&d.join("config"))?,
        None => None,
    };
    let name = match flag {
        Some(n) => n.to_string(),
        None => config
            .as_deref()
            .and_then(|t| ini_value(t, "cloud", "name"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "AzureCloud".to_string()),
    };
    let registered = match dir {
        Some(d) => read_ini(&d.join("clouds.config"))?,
        None => None,
    };
    let key = |k: &str| {
        registered
            .as_deref()
            .and_then(|t| ini_value(t, &name, k))
            .filter(|v| !v.is_empty())
    };
    let built_in = BUILT_IN.iter().find(|c| c.0.eq_ignore_ascii_case(&name));
    let resource_manager = key("endpoint_resource_manager").or(built_in.map(|c| c.1.to_string()));
    let Some(resource_manager) = resource_manager else {
        return Err(ConfigError::Invalid(ArmError::invalid(
            "cloud",
            name,
            "a cloud is AzureCloud, AzureUSGovernment, AzureChinaCloud, or one registered with `az cloud register` (clouds.config)",
        )));
    };
    let audience = key("endpoint_active_directory_resource_id")
        .or(built_in.map(|c| c.2.to_string()))
        .unwrap_or_else(|| resource_manager.clone());
    let authority = key("endpoint_active_directory")
        .or(built_in.map(|c| c.3.to_string()))
        .unwrap_or_else(|| BUILT_IN[0].3.to_string());
    Ok(Cloud {
        name: built_in.map_or(name.clone(), |c| c.0.to_string()),
        resource_manager: resource_manager.trim_end_matches('/').to_string(),
        scope: format!("{}/.default", audience.trim_end_matches('/')),
        authority: authority.trim_end_matches('/').to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_clouds_and_the_active_one() {
        let dir = tempfile::tempdir().unwrap();
        let public = resolve(None, Some(dir.path())).unwrap();
        assert_eq!(public.resource_manager, "https://management.azure.com");
        assert_eq!(public.scope, "https://management.core.windows.net/.default");
        std::fs::write(
            dir.path().join("config"),
            "[cloud]\nname = AzureUSGovernment\n",
        )
        .unwrap();
        let gov = resolve(None, Some(dir.path())).unwrap();
        assert_eq!(gov.resource_manager, "https://management.usgovcloudapi.net");
        assert_eq!(gov.authority, "https://login.microsoftonline.us");
        assert_eq!(
            gov.scope,
            "https://management.core.usgovcloudapi.net/.default"
        );
        let china = resolve(Some("AzureChinaCloud"), Some(dir.path())).unwrap();
        assert_eq!(
            china.resource_manager,
            "https://management.chinacloudapi.cn"
        );
        assert!(resolve(Some("Nowhere"), Some(dir.path())).is_err());
    }

    #[test]
    fn registered_clouds_come_from_clouds_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config"), "[cloud]\nname = Stack\n").unwrap();
        std::fs::write(
            dir.path().join("clouds.config"),
            "[AzureCloud]\nprofile = latest\n\n[Stack]\nprofile = 2020-09-01-hybrid\n\
             endpoint_resource_manager = https://management.local.azurestack.external/\n\
             endpoint_active_directory = https://login.stack.example\n\
             endpoint_active_directory_resource_id = https://management.stack.example/abc\n",
        )
        .unwrap();
        let stack = resolve(None, Some(dir.path())).unwrap();
        assert_eq!(stack.name, "Stack");
        assert_eq!(
            stack.resource_manager,
            "https://management.local.azurestack.external"
        );
        assert_eq!(stack.scope, "https://management.stack.example/abc/.default");
        assert_eq!(stack.authority, "https://login.stack.example");
        // A built-in cloud keeps its endpoints when clouds.config only has its profile.
        let public = resolve(Some("AzureCloud"), Some(dir.path())).unwrap();
        assert_eq!(public.resource_manager, "https://management.azure.com");
    }
}

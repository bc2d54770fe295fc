//! The regions the emulator knows: `GET /subscriptions/{s}/locations`
//! (Subscriptions_ListLocations) serves them, and a create names one of them or is refused
//! as ARM refuses it (`LocationNotAvailableForResourceType` for identities,
//! `LocationNotAvailableForResourceGroup` for groups).

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate::{self, SUBSCRIPTIONS_API_VERSIONS};
use crate::emulator::state::{AppState, Ctx, json};

/// Azure's public regions: name, display name, geography group.
const REGIONS: &[(&str, &str, &str)] = &[
    ("eastus", "East US", "US"),
    ("eastus2", "East US 2", "US"),
    ("southcentralus", "South Central US", "US"),
    ("westus2", "West US 2", "US"),
    ("westus3", "West US 3", "US"),
    ("australiaeast", "Australia East", "Asia Pacific"),
    ("southeastasia", "Southeast Asia", "Asia Pacific"),
    ("northeurope", "North Europe", "Europe"),
    ("swedencentral", "Sweden Central", "Europe"),
    ("uksouth", "UK South", "Europe"),
    ("westeurope", "West Europe", "Europe"),
    ("centralus", "Central US", "US"),
    ("southafricanorth", "South Africa North", "Africa"),
    ("centralindia", "Central India", "Asia Pacific"),
    ("eastasia", "East Asia", "Asia Pacific"),
    ("japaneast", "Japan East", "Asia Pacific"),
    ("koreacentral", "Korea Central", "Asia Pacific"),
    ("newzealandnorth", "New Zealand North", "Asia Pacific"),
    ("canadacentral", "Canada Central", "Canada"),
    ("francecentral", "France Central", "Europe"),
    ("germanywestcentral", "Germany West Central", "Europe"),
    ("italynorth", "Italy North", "Europe"),
    ("norwayeast", "Norway East", "Europe"),
    ("polandcentral", "Poland Central", "Europe"),
    ("spaincentral", "Spain Central", "Europe"),
    ("switzerlandnorth", "Switzerland North", "Europe"),
    ("mexicocentral", "Mexico Central", "Mexico"),
    ("uaenorth", "UAE North", "Middle East"),
    ("brazilsouth", "Brazil South", "South America"),
    ("israelcentral", "Israel Central", "Middle East"),
    ("qatarcentral", "Qatar Central", "Middle East"),
    ("northcentralus", "North Central US", "US"),
    ("westus", "West US", "US"),
    ("westcentralus", "West Central US", "US"),
    ("japanwest", "Japan West", "Asia Pacific"),
    ("koreasouth", "Korea South", "Asia Pacific"),
    ("southindia", "South India", "Asia Pacific"),
    ("westindia", "West India", "Asia Pacific"),
    ("canadaeast", "Canada East", "Canada"),
    ("ukwest", "UK West", "Europe"),
    ("francesouth", "France South", "Europe"),
    ("germanynorth", "Germany North", "Europe"),
    ("norwaywest", "Norway West", "Europe"),
    ("switzerlandwest", "Switzerland West", "Europe"),
    ("swedensouth", "Sweden South", "Europe"),
    ("uaecentral", "UAE Central", "Middle East"),
    ("brazilsoutheast", "Brazil Southeast", "South America"),
    ("australiacentral", "Australia Central", "Asia Pacific"),
    ("australiacentral2", "Australia Central 2", "Asia Pacific"),
    ("australiasoutheast", "Australia Southeast", "Asia Pacific"),
    ("southafricawest", "South Africa West", "Africa"),
];

/// Whether a normalised location (`westus2`) is one of the known regions.
fn known(location: &str) -> bool {
    REGIONS.iter().any(|(name, _, _)| *name == location)
}

fn names() -> String {
    REGIONS
        .iter()
        .map(|(name, _, _)| *name)
        .collect::<Vec<_>>()
        .join(",")
}

/// A resource of `resource_type` may be created in this normalised location.
pub fn for_resource_type(location: &str, resource_type: &str) -> Result<(), ApiError> {
    if known(location) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "LocationNotAvailableForResourceType",
        format!(
            "The provided location '{location}' is not available for resource type '{resource_type}'. \
             List of available regions for the resource type is '{}'.",
            names()
        ),
    ))
}

/// A resource group may be created in this normalised location.
pub fn for_group(location: &str) -> Result<(), ApiError> {
    if known(location) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "LocationNotAvailableForResourceGroup",
        format!(
            "The provided location '{location}' is not available for resource group. List of available \
             regions is '{}'.",
            names()
        ),
    ))
}

/// `GET /subscriptions/{s}/locations`.
pub fn list(state: &Arc<AppState>, ctx: &Ctx, sub: &str) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    validate::api_version(ctx.api_version(), SUBSCRIPTIONS_API_VERSIONS)?;
    let key = state.subscription(sub)?;
    let sub = state.subscription_display(&key);
    let value: Vec<Value> = REGIONS
        .iter()
        .map(|(name, display, geography)| {
            json!({
                "id": format!("/subscriptions/{sub}/locations/{name}"),
                "name": name,
                "type": "Region",
                "displayName": display,
                "regionalDisplayName": format!("({geography}) {display}"),
                "metadata": {
                    "regionType": "Physical",
                    "geographyGroup": geography,
                },
            })
        })
        .collect();
    json(StatusCode::OK, &json!({ "value": value }))
}

//! An entry of `GET /subscriptions`.

use serde::{Deserialize, Serialize};

/// A subscription as `GET /subscriptions/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// `/subscriptions/{id}`.
    pub id: String,
    /// The bare subscription id (a UUID).
    pub subscription_id: String,
    /// Home tenant.
    pub tenant_id: String,
    /// Display name.
    pub display_name: String,
    /// `Enabled` for every subscription the emulator knows.
    pub state: String,
    /// How access is granted; `RoleBased` as in Azure.
    pub authorization_source: String,
    /// Tenants that manage this subscription (none here).
    #[serde(default)]
    pub managed_by_tenants: Vec<serde_json::Value>,
    /// Quota and spending policies.
    pub subscription_policies: SubscriptionPolicies,
}

/// `subscriptionPolicies` of a subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPolicies {
    /// Location placement id.
    pub location_placement_id: String,
    /// Quota id.
    pub quota_id: String,
    /// Spending limit.
    pub spending_limit: String,
}

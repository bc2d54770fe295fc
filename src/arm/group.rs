//! Resource group operations (Microsoft.Resources): create, show, list, and the
//! asynchronous delete — 202, then the Location URL is polled, honouring Retry-After,
//! until it answers 200/204.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::error::ArmError;
use super::{ArmClient, check_origin, decode, names, seg};
use crate::model::ResourceGroup;

/// What a group create sends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupCreate {
    /// Region.
    pub location: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// How a delete ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupDeleted {
    /// The group and everything in it are gone.
    Done,
    /// Accepted and still running (`--no-wait`); poll this URL.
    Started {
        /// The operation's Location.
        location: Option<String>,
    },
}

/// Wait between polls when the server names none.
const DEFAULT_POLL: Duration = Duration::from_secs(5);
/// Polls no faster than this, whatever Retry-After says.
const MIN_POLL: Duration = Duration::from_millis(100);
/// The api-version of the subscriptions API.
const SUBSCRIPTIONS_API_VERSION: &str = "2022-12-01";
/// Polls at least this often, whatever Retry-After says (asking early is harmless).
const MAX_POLL: Duration = Duration::from_secs(60);
/// Give up polling after this long.
const POLL_LIMIT: Duration = Duration::from_secs(3600);

impl ArmClient {
    fn group_url(&self, subscription: &str, name: &str) -> Result<reqwest::Url, ArmError> {
        names::subscription_id(subscription)?;
        names::group_name(name)?;
        let path = format!(
            "/subscriptions/{}/resourcegroups/{}",
            seg(subscription),
            seg(name)
        );
        Ok(self.url(&path, &self.options().resources_api_version))
    }

    /// PUT a resource group (201 created, 200 updated).
    pub async fn group_create(
        &self,
        subscription: &str,
        name: &str,
        create: &GroupCreate,
    ) -> Result<ResourceGroup, ArmError> {
        let url = self.group_url(subscription, name)?;
        names::location(&create.location)?;
        names::tags(&create.tags)?;
        let mut body = json!({ "location": create.location });
        if !create.tags.is_empty() {
            body["tags"] = json!(create.tags);
        }
        let reply = self
            .send(Method::PUT, url, Some(&body), &[200, 201])
            .await?;
        decode(&reply)
    }

    /// GET a resource group.
    pub async fn group_show(
        &self,
        subscription: &str,
        name: &str,
    ) -> Result<ResourceGroup, ArmError> {
        self.get_json(self.group_url(subscription, name)?).await
    }

    /// GET a subscription: fails (404, 403) when the credentials cannot reach it.
    pub async fn subscription_show(
        &self,
        subscription: &str,
    ) -> Result<serde_json::Value, ArmError> {
        names::subscription_id(subscription)?;
        let path = format!("/subscriptions/{}", seg(subscription));
        self.get_json(self.url(&path, SUBSCRIPTIONS_API_VERSION))
            .await
    }

    /// Every resource group of the subscription.
    pub async fn group_list(&self, subscription: &str) -> Result<Vec<ResourceGroup>, ArmError> {
        self.group_list_within(subscription, None).await
    }

    /// As [`ArmClient::group_list`], each page's request taking a place of `gate`.
    pub async fn group_list_within(
        &self,
        subscription: &str,
        gate: Option<&tokio::sync::Semaphore>,
    ) -> Result<Vec<ResourceGroup>, ArmError> {
        names::subscription_id(subscription)?;
        let path = format!("/subscriptions/{}/resourcegroups", seg(subscription));
        self.list_all_within(self.url(&path, &self.options().resources_api_version), gate)
            .await
    }

    /// DELETE a resource group and, unless `no_wait`, poll until it is gone.
    pub async fn group_delete(
        &self,
        subscription: &str,
        name: &str,
        no_wait: bool,
    ) -> Result<GroupDeleted, ArmError> {
        let url = self.group_url(subscription, name)?;
        let reply = self
            .send(Method::DELETE, url, None, &[200, 202, 204])
            .await?;
        if reply.status != 202 {
            return Ok(GroupDeleted::Done);
        }
        let location = reply
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if no_wait {
            return Ok(GroupDeleted::Started { location });
        }
        let Some(location) = location else {
            return Err(ArmError::Decode {
                status: 202,
                message: "the delete was accepted without a Location to poll".into(),
            });
        };
        let poll = check_origin(&location, self.endpoint())?;
        let mut wait = poll_interval(&reply.headers);
        let started = std::time::Instant::now();
        loop {
            self.pause(wait, &poll).await?;
            let reply = self
                .send(Method::GET, poll.clone(), None, &[200, 202, 204])
                .await?;
            if reply.status != 202 {
                return Ok(GroupDeleted::Done);
            }
            wait = poll_interval(&reply.headers);
            if started.elapsed() > POLL_LIMIT {
                return Err(ArmError::Decode {
                    status: 202,
                    message: format!(
                        "resource group '{name}' was still being deleted after an hour"
                    ),
                });
            }
        }
    }
}

/// The wait before the next poll: the server's Retry-After, kept within bounds.
fn poll_interval(headers: &reqwest::header::HeaderMap) -> Duration {
    super::retry::retry_after(headers)
        .unwrap_or(DEFAULT_POLL)
        .clamp(MIN_POLL, MAX_POLL)
}

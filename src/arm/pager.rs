//! nextLink paging: follow links until none is left, but only to the configured endpoint —
//! a link elsewhere is refused, so the bearer token is never sent to another host — and
//! never in a circle: a link already followed, or more than `MAX_PAGES` pages, ends the list
//! with an error.

use std::collections::HashSet;

use reqwest::Url;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::ArmClient;
use super::error::ArmError;
use crate::model::Page;

/// Refuses a link whose scheme, host or port differs from the endpoint's, or that carries
/// credentials of its own (`user:pass@`).
pub fn check_origin(link: &str, endpoint: &Url) -> Result<Url, ArmError> {
    let foreign = || ArmError::ForeignLink {
        link: link.to_string(),
        endpoint: endpoint.as_str().to_string(),
    };
    let url = Url::parse(link).map_err(|_| foreign())?;
    let same = url.scheme() == endpoint.scheme()
        && url.host_str().map(str::to_ascii_lowercase)
            == endpoint.host_str().map(str::to_ascii_lowercase)
        && url.port_or_known_default() == endpoint.port_or_known_default()
        && url.username() == endpoint.username()
        && url.password() == endpoint.password();
    if same { Ok(url) } else { Err(foreign()) }
}

/// The most pages one list follows (ARM pages hold 100 to 1,000 items).
pub const MAX_PAGES: usize = 10_000;

impl ArmClient {
    /// GETs `first` and every page after it; returns all items in order.
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        first: Url,
    ) -> Result<Vec<T>, ArmError> {
        self.list_all_within(first, None).await
    }

    /// As [`ArmClient::list_all`], each page's request first taking a place of `gate`, and
    /// giving it back once the page is read: lists that share a gate take turns page by page,
    /// so that none holds a place while its next page is not yet asked for.
    pub(crate) async fn list_all_within<T: DeserializeOwned>(
        &self,
        first: Url,
        gate: Option<&Semaphore>,
    ) -> Result<Vec<T>, ArmError> {
        let mut items = Vec::new();
        self.pages_within(first, gate, |page| items.extend(page))
            .await?;
        Ok(items)
    }

    /// As [`ArmClient::list_all_within`], handing each page's items to `each` as it is read.
    pub(crate) async fn pages_within<T: DeserializeOwned>(
        &self,
        first: Url,
        gate: Option<&Semaphore>,
        mut each: impl FnMut(Vec<T>),
    ) -> Result<(), ArmError> {
        let mut seen = HashSet::new();
        let mut next = Some(first);
        while let Some(url) = next {
            if seen.len() >= MAX_PAGES {
                return Err(ArmError::Decode {
                    status: 200,
                    message: format!("the list did not end after {MAX_PAGES} pages"),
                });
            }
            if !seen.insert(url.to_string()) {
                return Err(ArmError::Decode {
                    status: 200,
                    message: format!("the nextLink {url} repeats a page already read"),
                });
            }
            // A gate is never closed, so a place is always given in the end.
            let place = match gate {
                Some(gate) => gate.acquire().await.ok(),
                None => None,
            };
            let page: Page<T> = self.get_json(url).await?;
            drop(place);
            each(page.value);
            next = match page.next_link.filter(|l| !l.is_empty()) {
                Some(link) => Some(check_origin(&link, self.endpoint())?),
                None => None,
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_endpoint_is_followed() {
        let endpoint = Url::parse("http://127.0.0.1:7443").unwrap();
        assert!(
            check_origin(
                "http://127.0.0.1:7443/subscriptions/x?$skiptoken=a",
                &endpoint
            )
            .is_ok()
        );
        for bad in [
            "https://127.0.0.1:7443/x",
            "http://127.0.0.1:7444/x",
            "http://evil.example/x",
            "http://localhost:7443/x",
            "http://user:pass@127.0.0.1:7443/x",
            "nonsense",
        ] {
            assert!(
                matches!(
                    check_origin(bad, &endpoint),
                    Err(ArmError::ForeignLink { .. })
                ),
                "{bad}"
            );
        }
        let azure = Url::parse("https://management.azure.com").unwrap();
        assert!(check_origin("https://management.azure.com:443/subscriptions", &azure).is_ok());
    }
}

//! ARM lists across subscriptions and groups: a subscription's identities read by listing
//! its resource groups once and then paging through the groups concurrently (within the
//! read bucket the pacer keeps), instead of one nextLink after another.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::ArmClient;
use super::error::ArmError;
use crate::model::Identity;

fn stopped(e: tokio::task::JoinError) -> ArmError {
    ArmError::Decode {
        status: 0,
        message: format!("a list stopped: {e}"),
    }
}

impl ArmClient {
    /// The identities of each subscription, in the order given; each subscription's groups
    /// are listed once and paged concurrently, at most `width` lists in flight in all.
    pub async fn identity_list_fanned(
        &self,
        subscriptions: &[String],
        width: usize,
    ) -> Result<Vec<(String, Vec<Identity>)>, ArmError> {
        let gate = Arc::new(Semaphore::new(width.max(1)));
        let mut groups = JoinSet::new();
        for (index, sub) in subscriptions.iter().enumerate() {
            let (client, sub, gate) = (self.clone(), sub.clone(), gate.clone());
            groups.spawn(async move {
                let _permit = gate.acquire_owned().await;
                client.group_list(&sub).await.map(|g| (index, sub, g))
            });
        }
        let mut lists = JoinSet::new();
        while let Some(done) = groups.join_next().await {
            let (index, sub, found) = done.map_err(stopped)??;
            for (position, group) in found.into_iter().enumerate() {
                let (client, sub, gate) = (self.clone(), sub.clone(), gate.clone());
                lists.spawn(async move {
                    let _permit = gate.acquire_owned().await;
                    client
                        .identity_list_group(&sub, &group.name)
                        .await
                        .map(|l| (index, position, l))
                });
            }
        }
        let mut parts: Vec<(usize, usize, Vec<Identity>)> = Vec::new();
        while let Some(done) = lists.join_next().await {
            match done.map_err(stopped)? {
                Ok(part) => parts.push(part),
                // A group deleted between the two lists holds no identities any more.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        parts.sort_by_key(|(index, position, _)| (*index, *position));
        let mut out: Vec<(String, Vec<Identity>)> = subscriptions
            .iter()
            .map(|s| (s.clone(), Vec::new()))
            .collect();
        for (index, _, list) in parts {
            if let Some((_, all)) = out.get_mut(index) {
                all.extend(list);
            }
        }
        Ok(out)
    }
}

//! What still uses an identity, and the safe delete built on it: detach it from every
//! resource that carries it, remove its role assignments, then delete it. For many
//! identities the references are gathered once per batch, tenant-wide
//! (`tenant_references`), and checked locally, as DESIGN.md asks.

use crate::arm::{ArmClient, ArmError, IdentityRef};
use crate::model::RoleAssignment;

/// How a delete treats references.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Detach the identity from resources first.
    pub detach: bool,
    /// Remove its role assignments first.
    pub remove_role_assignments: bool,
    /// Delete even if it is still used (Azure leaves the references dangling).
    pub force: bool,
}

/// The references to one identity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Uses {
    /// Ids of resources whose identity block names it.
    pub resources: Vec<String>,
    /// Role assignments of its principal.
    pub assignments: Vec<RoleAssignment>,
}

/// One step of a safe delete, for the plan and the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Remove the identity from this resource.
    Detach {
        /// The resource id.
        resource: String,
    },
    /// Delete this role assignment.
    Unassign {
        /// The assignment id.
        assignment: String,
    },
    /// Delete the identity.
    Delete,
}

pub use super::tenant_references::References;

impl Uses {
    /// Adds what `other` found that this does not hold yet.
    pub fn merge(&mut self, other: Uses) {
        for r in other.resources {
            if !self.resources.iter().any(|x| x.eq_ignore_ascii_case(&r)) {
                self.resources.push(r);
            }
        }
        for a in other.assignments {
            if !self
                .assignments
                .iter()
                .any(|x| x.id.eq_ignore_ascii_case(&a.id))
            {
                self.assignments.push(a);
            }
        }
    }

    /// Reads the references of one identity with identity-specific calls.
    pub async fn of(
        client: &ArmClient,
        id: &IdentityRef,
        principal_id: &str,
    ) -> Result<Self, ArmError> {
        let (resources, assignments) = tokio::try_join!(
            client.identity_resources(id),
            client.role_assignments_of(&id.subscription, principal_id)
        )?;
        Ok(Self {
            resources: resources.into_iter().map(|r| r.id).collect(),
            assignments,
        })
    }

    /// The steps a delete takes with `options`, or the error naming what still uses it.
    pub fn steps(&self, id: &IdentityRef, options: DeleteOptions) -> Result<Vec<Step>, ArmError> {
        let blocking_resources = !options.detach && !self.resources.is_empty();
        let blocking_roles = !options.remove_role_assignments && !self.assignments.is_empty();
        if (blocking_resources || blocking_roles) && !options.force {
            let mut what = Vec::new();
            if blocking_resources {
                what.push(format!("attached to {}", self.resources.join(", ")));
            }
            if blocking_roles {
                let scopes: Vec<String> = self
                    .assignments
                    .iter()
                    .map(|a| a.properties.scope.clone().unwrap_or_else(|| a.id.clone()))
                    .collect();
                what.push(format!("assigned roles at {}", scopes.join(", ")));
            }
            return Err(ArmError::Api {
                status: 409,
                code: "IdentityInUse".into(),
                message: format!(
                    "identity '{}' is still {}; pass #{{detach: true, remove_role_assignments: true}} to remove those \
                     first, or #{{force: true}} to leave them dangling",
                    id.name,
                    what.join(" and ")
                ),
                request_id: None,
            });
        }
        let mut steps = Vec::new();
        if options.detach {
            steps.extend(self.resources.iter().map(|r| Step::Detach {
                resource: r.clone(),
            }));
        }
        if options.remove_role_assignments {
            steps.extend(self.assignments.iter().map(|a| Step::Unassign {
                assignment: a.id.clone(),
            }));
        }
        steps.push(Step::Delete);
        Ok(steps)
    }
}

/// Carries out the steps; returns whether the identity itself was deleted (false: absent).
pub async fn apply(client: &ArmClient, id: &IdentityRef, steps: &[Step]) -> Result<bool, ArmError> {
    let identity_id = id.id();
    let mut deleted = false;
    for step in steps {
        match step {
            Step::Detach { resource } => {
                let version = client.resource_api_version(resource).await?;
                client
                    .resource_detach(resource, &identity_id, &version)
                    .await?;
            }
            Step::Unassign { assignment } => {
                client.role_assignment_delete(assignment).await?;
            }
            Step::Delete => deleted = client.identity_delete(id).await?,
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RoleAssignmentProperties;

    fn id() -> IdentityRef {
        IdentityRef::new("00000000-0000-0000-0000-000000000001", "rg", "app-1").unwrap()
    }

    fn uses() -> Uses {
        Uses {
            resources: vec![
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/web".into(),
            ],
            assignments: vec![RoleAssignment {
                id: "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/a".into(),
                name: "a".into(),
                kind: "Microsoft.Authorization/roleAssignments".into(),
                properties: RoleAssignmentProperties {
                    role_definition_id: "r".into(),
                    principal_id: "p".into(),
                    principal_type: None,
                    scope: Some("/subscriptions/s".into()),
                    ..RoleAssignmentProperties::default()
                },
            }],
        }
    }

    #[test]
    fn a_used_identity_is_refused_naming_what_uses_it() {
        let e = uses().steps(&id(), DeleteOptions::default()).unwrap_err();
        assert_eq!(e.code(), "IdentityInUse");
        assert!(
            e.message().contains("Microsoft.Web/sites/web")
                && e.message().contains("/subscriptions/s"),
            "{e}"
        );
        let only_detach = uses()
            .steps(
                &id(),
                DeleteOptions {
                    detach: true,
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(
            only_detach.message().contains("assigned roles")
                && !only_detach.message().contains("attached")
        );
    }

    #[test]
    fn safe_delete_detaches_then_unassigns_then_deletes() {
        let all = DeleteOptions {
            detach: true,
            remove_role_assignments: true,
            force: false,
        };
        let steps = uses().steps(&id(), all).unwrap();
        assert!(matches!(steps[0], Step::Detach { .. }));
        assert!(matches!(steps[1], Step::Unassign { .. }));
        assert_eq!(steps[2], Step::Delete);
        let forced = uses()
            .steps(
                &id(),
                DeleteOptions {
                    force: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(forced, [Step::Delete]);
        assert_eq!(
            Uses::default()
                .steps(&id(), DeleteOptions::default())
                .unwrap(),
            [Step::Delete]
        );
    }
}

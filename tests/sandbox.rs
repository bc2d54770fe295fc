//! What a script cannot do however it tries: climb to another scope through `.` or `..`
//! segments, overflow the stack with deep values, crash a registered function with wrong
//! arguments, or reach files outside its allowed paths (also under a race).

use serde_json::Value;

use crate::harness::{Azid, Env};

/// The code of the error a call raised, caught in the script, or "none".
fn catching(call: &str) -> String {
    format!("let c = \"none\"; try {{ {call}; }} catch (err) {{ c = err.code; }} c")
}

#[tokio::test]
async fn scopes_that_climb_are_refused_before_sending() {
    let env = Env::start().await;
    env.group("rg").await;
    let identity = env.identity("rg", "app-1").await;
    let principal = identity["properties"]["principalId"]
        .as_str()
        .expect("principal")
        .to_string();
    let sub = format!("/subscriptions/{}", env.sub);
    for scope in [
        format!("{sub}/resourceGroups/rg/../.."),
        format!("{sub}/resourceGroups/rg/.."),
        format!("{sub}/resourceGroups/rg/./x"),
        format!("{sub}/resourceGroups/rg/%2e%2e/%2E%2E"),
        format!("{sub}/resourceGroups/rg/.%2e"),
        format!("{sub}/resourceGroups/rg//x"),
    ] {
        let assign = catching(&format!(
            r#"role_assign(identity_show("rg", "app-1"), "Reader", "{scope}")"#
        ));
        let can = catching(&format!(r#"can("Microsoft.Resources/x/read", "{scope}")"#));
        for script in [assign, can] {
            let run = Azid::at(&env, &["eval", &script]).run().await.ok();
            assert_eq!(
                run.json(),
                Value::from("InvalidArgument"),
                "{scope}: {run:?}"
            );
        }
    }
    let path = format!(
        "{sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20'{principal}'"
    );
    let (assignments, _) = env.list_all(&path).await;
    assert!(assignments.is_empty(), "{assignments:?}");
}

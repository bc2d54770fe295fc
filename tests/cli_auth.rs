//! Credentials from the command line: token requests trust --ca-bundle like ARM requests,
//! and a managed identity that cannot answer fails with the endpoint named. Every token
//! endpoint here is on 127.0.0.1.

use azid::emulator::EmulatorOptions;

use crate::harness::{Azid, Env};

/// `azid identity list --auth managed-identity` with the App Service variables set to `endpoint`.
fn managed_identity(env: &Env, endpoint: &str, header: &str) -> Azid {
    Azid::new(&[
        "identity",
        "list",
        "--endpoint",
        env.emu.url(),
        "--auth",
        "managed-identity",
        "--subscription",
        &env.sub,
    ])
    .env("IDENTITY_ENDPOINT", endpoint)
    .env("IDENTITY_HEADER", header)
}

#[tokio::test]
async fn token_requests_trust_the_ca_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = Env::with(EmulatorOptions {
        tls: true,
        data: Some(dir.path().join("tls.db")),
        ..crate::harness::quick()
    })
    .await;
    let ca = env
        .emu
        .ca_bundle()
        .expect("CA written")
        .to_str()
        .unwrap()
        .to_string();
    for setup in [
        &["group", "create", "-n", "rg", "-l", "eastus"][..],
        &["identity", "create", "-g", "rg", "-n", "seen"],
    ] {
        let mut args = vec![
            "--ca-bundle",
            &ca,
            "--endpoint",
            env.emu.url(),
            "--auth",
            "token",
            "--subscription",
            &env.sub,
        ];
        args.extend_from_slice(setup);
        Azid::new(&args)
            .env("AZID_TOKEN", env.emu.token())
            .run()
            .await
            .ok();
    }
    let endpoint = env.emu.identity_endpoint();
    assert!(endpoint.starts_with("https://127.0.0.1"), "{endpoint}");
    // Without the bundle the token request itself is refused, and says why underneath.
    let untrusted = managed_identity(&env, &endpoint, env.emu.identity_header())
        .run()
        .await
        .fails(1);
    assert!(untrusted.stderr.contains(&endpoint), "{untrusted:?}");
    let run = managed_identity(&env, &endpoint, env.emu.identity_header())
        .env("AZID_CA_BUNDLE", &ca)
        .run()
        .await
        .ok();
    assert_eq!(run.json()[0]["name"], "seen");
}

#[tokio::test]
async fn a_managed_identity_endpoint_that_refuses_is_named() {
    let env = Env::start().await;
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let endpoint = format!("http://127.0.0.1:{port}/msi/token");
    let run = managed_identity(&env, &endpoint, "h").run().await.fails(1);
    assert!(run.stderr.contains(&endpoint), "{run:?}");
    assert!(run.stderr.contains("IDENTITY_ENDPOINT"), "{run:?}");
    assert!(
        !run.stderr.contains("169.254.169.254/metadata")
            || run.stderr.contains("instance metadata")
    );
}

#[tokio::test]
async fn a_managed_identity_endpoint_that_never_answers_gives_up() {
    let env = Env::start().await;
    // Accepts connections and reads them, but never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let endpoint = format!("http://{addr}/msi/token");
    let run = managed_identity(&env, &endpoint, "h").run().await.fails(1);
    held.abort();
    assert!(run.stderr.contains(&endpoint), "{run:?}");
    assert!(
        run.stderr.contains("timed out") || run.stderr.contains("timeout"),
        "{run:?}"
    );
}

#[tokio::test]
async fn the_cloud_comes_from_az_config_or_cloud() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "seen").await;
    // A cloud registered with az, whose ARM is the emulator, made active in az's config.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config"), "[cloud]\nname = Loopback\n").unwrap();
    std::fs::write(
        dir.path().join("clouds.config"),
        format!(
            "[Loopback]\nprofile = latest\nendpoint_resource_manager = {}/\nendpoint_active_directory_resource_id = https://management.loopback.example/\n",
            env.emu.url()
        ),
    )
    .unwrap();
    let cfg = dir.path().to_str().unwrap();
    let run = Azid::new(&[
        "identity",
        "list",
        "--auth",
        "token",
        "--subscription",
        &env.sub,
    ])
    .env("AZURE_CONFIG_DIR", cfg)
    .env("AZID_TOKEN", env.emu.token())
    .run()
    .await
    .ok();
    assert_eq!(run.json()[0]["name"], "seen");
    // --cloud overrides it: an unknown one is a usage error before any request.
    let bad = Azid::new(&[
        "identity",
        "list",
        "--auth",
        "token",
        "--subscription",
        &env.sub,
        "--cloud",
        "Nowhere",
    ])
    .env("AZURE_CONFIG_DIR", cfg)
    .env("AZID_TOKEN", env.emu.token())
    .run()
    .await
    .fails(2);
    assert!(bad.stderr.contains("Nowhere"), "{bad:?}");
    let local = Azid::new(&["--local", "--cloud", "AzureCloud", "group", "list"])
        .run()
        .await
        .fails(2);
    assert!(local.stderr.contains("--cloud"), "{local:?}");
}

//! The command-line surface, clap derive only: the doc comments are the help text.
//! Nothing here does I/O; `run.rs` resolves and dispatches.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::emulator::{DEFAULT_LISTEN, DEFAULT_PAGE_SIZE};

/// azid: create, list, audit and clean up Azure user-assigned managed identities.
#[derive(Debug, Parser)]
#[command(name = "azid", version, arg_required_else_help = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the ARM-compatible emulator until interrupted.
    ///
    /// Prints, one per line starting with the first line of stdout: URL=, SUBSCRIPTION= (one
    /// line each), TOKEN=, TENANT=, IDENTITY_ENDPOINT=, IDENTITY_HEADER= and, with --tls, CA_BUNDLE=.
    Emulator(EmulatorArgs),
}

/// Options of `azid emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on: HOST:PORT, :PORT or PORT (port 0 picks a free one).
    #[arg(long, default_value = DEFAULT_LISTEN, value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// SQLite file holding the state (created if missing); without it, state is in memory.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Bearer token to accept (Owner of every subscription); random when not given.
    #[arg(long, env = "AZID_EMULATOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A subscription id the emulator knows (repeatable); default: one id kept in the data file.
    #[arg(long = "subscription", value_name = "ID")]
    pub subscriptions: Vec<String>,
    /// Serve HTTPS with a certificate for 127.0.0.1 and localhost, made at start.
    #[arg(long)]
    pub tls: bool,
    /// Where to write the CA certificate under --tls (default: beside the data file, or in the temp dir).
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca_file: Option<PathBuf>,
    /// Most items per list page.
    #[arg(long, default_value_t = DEFAULT_PAGE_SIZE, value_parser = parse_page_size)]
    pub page_size: usize,
    /// How long, in milliseconds, an accepted resource-group delete runs before the group is gone.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub group_delete_delay: u64,
    /// Secret expected in X-IDENTITY-HEADER by the token endpoint (default: the bearer token).
    #[arg(long, hide_env_values = true)]
    pub identity_header: Option<String>,
}

/// Parses a page size: 1 to 10,000.
pub fn parse_page_size(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(format!("'{value}' is not a page size from 1 to 10000")),
    }
}

/// Parses `HOST:PORT`, `:PORT` or `PORT`; a bare port binds 127.0.0.1.
pub fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    if let Some(port) = value
        .strip_prefix(':')
        .or(Some(value).filter(|v| v.chars().all(|c| c.is_ascii_digit())))
    {
        return port
            .parse::<u16>()
            .map(|p| SocketAddr::new(loopback, p))
            .map_err(|_| format!("'{value}' is not a port number (0-65535)"));
    }
    if let Some(port) = value.strip_prefix("localhost:") {
        return parse_listen(&format!(":{port}"));
    }
    value
        .parse::<SocketAddr>()
        .map_err(|_| format!("'{value}' is not an address of the form HOST:PORT, :PORT or PORT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_forms() {
        assert_eq!(parse_listen(":0").unwrap(), "127.0.0.1:0".parse().unwrap());
        assert_eq!(
            parse_listen("8080").unwrap(),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert_eq!(
            parse_listen("localhost:9").unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert_eq!(
            parse_listen("0.0.0.0:1").unwrap(),
            "0.0.0.0:1".parse().unwrap()
        );
        assert!(parse_listen(":99999").is_err());
        assert!(parse_listen("nohost").is_err());
    }
}

//! The command-line surface, clap derive only: the doc comments are the help text.
//! Nothing here does I/O; `run.rs` resolves and dispatches.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::arm::AuthMode;
use crate::emulator::{
    Caller, DEFAULT_GRAPH_SUBSCRIPTION_LIMIT, DEFAULT_LISTEN, DEFAULT_PAGE_SIZE, GroupSpec,
    Latency, QuotaSpec, SubscriptionSpec, ThrottleProfile,
};
use crate::output::Format;

/// azid: create, list, audit and clean up Azure user-assigned managed identities.
#[derive(Debug, Parser)]
///
/// With no command, azid starts a REPL on a terminal, or runs its standard input as a script.
#[command(name = "azid", version)]
pub struct Cli {
    /// Options shared by the Azure commands (they may also follow the subcommand).
    #[command(flatten)]
    pub common: Common,
    /// Options of scripts (the REPL, standard input, `run` and `eval`).
    #[command(flatten)]
    pub script: ScriptOptions,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options of everything that runs Rhai.
#[derive(Debug, Clone, Default, Args)]
pub struct ScriptOptions {
    /// Send reads, record writes instead of sending them, and print the plan at the end.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: also write the plan to FILE as JSON, for `azid plan show` and `azid apply`.
    #[arg(long, value_name = "FILE")]
    pub plan_out: Option<PathBuf>,
    /// Answer yes to every confirm() in the script.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Most requests in flight for the array forms (identity_create(rg, [names]), identity_delete([...])).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: Option<u32>,
    /// Let scripts read files inside PATH (a file or a folder; repeatable). Without it they read nothing.
    #[arg(long, value_name = "PATH")]
    pub allow_read: Vec<PathBuf>,
    /// Let scripts create and replace files inside PATH (a file or a folder; repeatable). Without it they write nothing.
    #[arg(long, value_name = "PATH")]
    pub allow_write: Vec<PathBuf>,
    /// Script limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Which subscriptions scope-following calls read.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// The scope of lists and audits: one subscription (the default), a list, a management
/// group, or every subscription the caller can read.
#[derive(Debug, Clone, Default, Args)]
pub struct ScopeArgs {
    /// Act on these subscriptions (comma-separated ids); reads at more than one go through Resource Graph.
    #[arg(long, value_name = "ID,ID", value_delimiter = ',', conflicts_with_all = ["management_group", "all_subscriptions"])]
    pub subscriptions: Vec<String>,
    /// Act on the subscriptions of this management group and the groups below it.
    #[arg(long, value_name = "NAME", conflicts_with = "all_subscriptions")]
    pub management_group: Option<String>,
    /// Act on every subscription the caller can read.
    #[arg(long)]
    pub all_subscriptions: bool,
}

impl ScopeArgs {
    /// Whether any of the options was given.
    pub fn given(&self) -> bool {
        !self.subscriptions.is_empty() || self.management_group.is_some() || self.all_subscriptions
    }

    /// These options, or `later`'s when any of those was given.
    pub fn merge(self, later: ScopeArgs) -> ScopeArgs {
        if later.given() { later } else { self }
    }

    /// The scope they name (checked), the current subscription when none was given.
    pub fn scope(&self) -> Result<crate::arm::scope::Scope, crate::arm::ArmError> {
        use crate::arm::scope::Scope;
        let scope = if !self.subscriptions.is_empty() {
            Scope::Subscriptions(self.subscriptions.clone())
        } else if let Some(group) = &self.management_group {
            Scope::ManagementGroup(group.clone())
        } else if self.all_subscriptions {
            Scope::Tenant
        } else {
            Scope::One
        };
        scope.validated()
    }
}

/// Overrides of the script limits (defaults in `host::Limits`).
#[derive(Debug, Clone, Default, Args)]
pub struct LimitArgs {
    /// Most operations a script may run before it is stopped [default: 500000000].
    #[arg(long, value_name = "N")]
    pub max_operations: Option<u64>,
    /// Deepest nesting of function calls [default: 64].
    #[arg(long, value_name = "N")]
    pub max_call_depth: Option<usize>,
    /// Longest string, in bytes [default: 67108864].
    #[arg(long, value_name = "BYTES")]
    pub max_string_size: Option<usize>,
    /// Most items in one value, counted over nested arrays [default: 5000000].
    #[arg(long, value_name = "N")]
    pub max_array_size: Option<usize>,
    /// Most map entries in one value, counted over nested maps [default: 5000000].
    #[arg(long, value_name = "N")]
    pub max_map_size: Option<usize>,
}

impl ScriptOptions {
    /// These options, with `later` (given after the subcommand) taking precedence.
    /// The allowed paths of both are kept.
    pub fn merge(self, later: ScriptOptions) -> ScriptOptions {
        let (a, b) = (self.limits, later.limits);
        ScriptOptions {
            dry_run: later.dry_run || self.dry_run,
            plan_out: later.plan_out.or(self.plan_out),
            yes: later.yes || self.yes,
            concurrency: later.concurrency.or(self.concurrency),
            allow_read: [self.allow_read, later.allow_read].concat(),
            allow_write: [self.allow_write, later.allow_write].concat(),
            scope: self.scope.merge(later.scope),
            limits: LimitArgs {
                max_operations: b.max_operations.or(a.max_operations),
                max_call_depth: b.max_call_depth.or(a.max_call_depth),
                max_string_size: b.max_string_size.or(a.max_string_size),
                max_array_size: b.max_array_size.or(a.max_array_size),
                max_map_size: b.max_map_size.or(a.max_map_size),
            },
        }
    }
}

/// Options of every command that talks to ARM; accepted before or after the subcommand.
#[derive(Debug, Clone, Default, Args)]
pub struct Common {
    /// Subscription id (default: AZURE_SUBSCRIPTION_ID, then the Azure CLI's default account).
    #[arg(long, value_name = "ID")]
    pub subscription: Option<String>,
    /// ARM endpoint (default: the cloud's, https://management.azure.com for AzureCloud).
    #[arg(long, value_name = "URL", env = "AZID_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Azure cloud: AzureCloud, AzureUSGovernment, AzureChinaCloud or one registered with
    /// `az cloud register` (default: az's active cloud).
    #[arg(long, value_name = "NAME")]
    pub cloud: Option<String>,
    /// Also trust the CA certificates in this PEM file (e.g. an emulator's CA_BUNDLE under --tls).
    #[arg(long, value_name = "FILE", env = "AZID_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
    /// Run against an emulator started inside this process, with its state in DIR
    /// (default: azid's folder in the user's data directory).
    // A bare `--local` arrives as "" (the default folder): clap's own PathBuf parser refuses
    // empty values, which made a bare `--local` a usage error.
    #[arg(
        long,
        value_name = "DIR",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        value_parser = parse_local_dir
    )]
    pub local: Option<PathBuf>,
    /// Where the token comes from.
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub auth: Option<AuthMode>,
    /// Output format.
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<Format>,
    /// JMESPath query applied to the output, as in az.
    #[arg(long, value_name = "JMESPATH")]
    pub query: Option<String>,
    /// Log every request and response (method, URL, status, request id, duration, retries) to stderr.
    #[arg(long)]
    pub debug: bool,
    /// Log one line per request to stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Retries of a failed idempotent request (429, 5xx, dropped connections).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=20))]
    pub max_retries: Option<u32>,
    /// Print errors only, no warnings (az-style commands).
    #[arg(long)]
    pub only_show_errors: bool,
}

impl Common {
    /// These options, with `later` (given after the subcommand) taking precedence.
    pub fn merge(self, later: Common) -> Common {
        Common {
            subscription: later.subscription.or(self.subscription),
            endpoint: later.endpoint.or(self.endpoint),
            cloud: later.cloud.or(self.cloud),
            ca_bundle: later.ca_bundle.or(self.ca_bundle),
            local: later.local.or(self.local),
            auth: later.auth.or(self.auth),
            output: later.output.or(self.output),
            query: later.query.or(self.query),
            debug: later.debug || self.debug,
            verbose: later.verbose || self.verbose,
            max_retries: later.max_retries.or(self.max_retries),
            only_show_errors: later.only_show_errors || self.only_show_errors,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage user-assigned managed identities (as `az identity`).
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Manage resource groups (as `az group`).
    #[command(subcommand)]
    Group(GroupCommand),
    /// Read management locks (as `az lock list`).
    #[command(subcommand)]
    Lock(LockCommand),
    /// Query Azure Resource Graph (as `az graph`).
    #[command(subcommand)]
    Graph(GraphCommand),
    /// Run a Rhai script; ARGS (after --) are in the script's ARGS array.
    Run {
        /// The script.
        file: PathBuf,
        /// Arguments for the script.
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        script: ScriptOptions,
    },
    /// Evaluate a Rhai expression and print its value as JSON (or a table with -o table).
    Eval {
        /// The expression (or statements; the last value is printed).
        expression: String,
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        script: ScriptOptions,
    },
    /// Read a plan file written by --plan-out.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Carry out exactly the steps of a plan file, re-checking each target first.
    ///
    /// Each step's outcome is appended to FILE.journal; run it again after an interruption
    /// and it continues where it stopped.
    Apply(ApplyArgs),
    /// Run the ARM-compatible emulator until interrupted.
    ///
    /// Prints, one per line starting with the first line of stdout: URL=, SUBSCRIPTION= (one
    /// line each), TOKEN=, TENANT=, IDENTITY_ENDPOINT=, IDENTITY_HEADER= and, with --tls, CA_BUNDLE=.
    Emulator(EmulatorArgs),
}

impl Command {
    /// Takes the common options given after the leaf subcommand (empty for `emulator`).
    pub fn take_common(&mut self) -> Common {
        let slot = match self {
            Command::Identity(
                IdentityCommand::Create { common, .. }
                | IdentityCommand::List { common, .. }
                | IdentityCommand::Show { common, .. }
                | IdentityCommand::Update { common, .. }
                | IdentityCommand::Delete { common, .. }
                | IdentityCommand::Revoke { common, .. }
                | IdentityCommand::ListResources { common, .. }
                | IdentityCommand::ListOperations { common }
                | IdentityCommand::FederatedCredential(
                    CredentialCommand::Create { common, .. }
                    | CredentialCommand::Update { common, .. }
                    | CredentialCommand::Show { common, .. }
                    | CredentialCommand::Delete { common, .. }
                    | CredentialCommand::List { common, .. },
                ),
            ) => common,
            Command::Group(
                GroupCommand::Create { common, .. }
                | GroupCommand::List { common }
                | GroupCommand::Show { common, .. }
                | GroupCommand::Delete { common, .. },
            ) => common,
            Command::Lock(LockCommand::List { common, .. }) => common,
            Command::Graph(GraphCommand::Query { common, .. }) => common,
            Command::Run { common, .. } | Command::Eval { common, .. } => common,
            Command::Apply(args) => &mut args.common,
            Command::Emulator(_) | Command::Plan(_) => return Common::default(),
        };
        std::mem::take(slot)
    }

    /// Fills in `group` where an identity command names no resource group (az's default group).
    pub fn default_group(&mut self, group: &str) {
        let slot = match self {
            Command::Identity(
                IdentityCommand::Create { resource_group, .. }
                | IdentityCommand::List { resource_group, .. }
                | IdentityCommand::FederatedCredential(CredentialCommand::List {
                    resource_group,
                    ..
                }),
            ) => resource_group,
            Command::Identity(
                IdentityCommand::Show { target, .. }
                | IdentityCommand::Update { target, .. }
                | IdentityCommand::Delete { target, .. }
                | IdentityCommand::ListResources { target, .. },
            ) if target.ids.is_empty() => &mut target.resource_group,
            Command::Identity(IdentityCommand::FederatedCredential(
                CredentialCommand::Create { credential, .. }
                | CredentialCommand::Update { credential, .. }
                | CredentialCommand::Show { credential, .. }
                | CredentialCommand::Delete { credential, .. },
            )) => &mut credential.resource_group,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(group.to_string());
        }
    }

    /// Takes the script options given after `run` or `eval` (empty for other commands).
    pub fn take_script(&mut self) -> ScriptOptions {
        match self {
            Command::Run { script, .. } | Command::Eval { script, .. } => std::mem::take(script),
            _ => ScriptOptions::default(),
        }
    }
}

/// `azid plan ...`
#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Print a plan: its `+ / ~ / -` lines, counts and would-fail marks (checks its digest).
    Show {
        /// The plan file.
        file: PathBuf,
        /// Output format: text (default), json (the file itself) or table.
        #[arg(short, long, value_enum, value_name = "FORMAT")]
        output: Option<Format>,
        /// JMESPath query applied to the json or table output.
        #[arg(long, value_name = "JMESPATH")]
        query: Option<String>,
    },
}

/// Options of `azid apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan file.
    pub file: PathBuf,
    /// Apply without asking (required when there is no terminal to ask on).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Print the progress recorded in the journal and send nothing.
    #[arg(long, conflicts_with = "yes")]
    pub status: bool,
    /// Most requests in flight [default: 16].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: Option<u32>,
    #[command(flatten)]
    pub common: Common,
}

/// `azid identity ...`
#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Create an identity (or update the one of that name).
    Create {
        /// Resource group (default: AZURE_DEFAULTS_GROUP, then az's configured default group).
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        /// Identity name.
        #[arg(short, long, visible_alias = "resource-name")]
        name: String,
        /// Location (default: the resource group's).
        #[arg(short, long)]
        location: Option<String>,
        /// Space-separated tags: key[=value] ..., or a JSON object.
        #[arg(long, num_args = 1.., value_name = "KEY[=VALUE]")]
        tags: Vec<String>,
        /// Isolation scope.
        #[arg(long, value_parser = ["None", "Regional"])]
        isolation_scope: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// List identities of a resource group, or of the whole subscription (or of the scope
    /// --subscriptions, --management-group or --all-subscriptions names).
    List {
        /// Resource group (default: the whole subscription).
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Show an identity.
    Show {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        common: Common,
    },
    /// Replace an identity's tags, or change its isolation scope.
    Update {
        #[command(flatten)]
        target: Target,
        /// Space-separated tags: key[=value] ..., or a JSON object ("" clears them).
        #[arg(long, num_args = 1.., value_name = "KEY[=VALUE]", required_unless_present = "isolation_scope")]
        tags: Vec<String>,
        /// Isolation scope.
        #[arg(long, value_parser = ["None", "Regional"])]
        isolation_scope: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// List the operations of the Microsoft.ManagedIdentity provider.
    ListOperations {
        #[command(flatten)]
        common: Common,
    },
    /// Revoke the tokens issued to identities (api-version 2023-07-31-preview).
    Revoke {
        #[command(flatten)]
        target: Target,
        /// Check that each identity exists and print the plan; revoke nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        common: Common,
    },
    /// List the resources an identity is attached to.
    ListResources {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        common: Common,
    },
    /// Manage the federated identity credentials of an identity.
    #[command(subcommand)]
    FederatedCredential(CredentialCommand),
    /// Delete identities.
    Delete {
        #[command(flatten)]
        target: Target,
        /// Do not prompt for confirmation (accepted for az compatibility; identity deletes never prompt).
        #[arg(short, long)]
        yes: bool,
        /// Most deletes in flight with --ids [default: 16].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
        concurrency: Option<u32>,
        /// Detach each identity from the resources that carry it before deleting it.
        #[arg(long)]
        detach: bool,
        /// Remove each identity's role assignments before deleting it.
        #[arg(long)]
        remove_role_assignments: bool,
        /// Delete nothing (exit 1) when any of the identities is still in use.
        #[arg(long, conflicts_with_all = ["detach", "remove_role_assignments"])]
        if_unused: bool,
        #[command(flatten)]
        common: Common,
    },
}

/// `azid identity federated-credential ...`
#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Create a federated credential.
    Create {
        #[command(flatten)]
        credential: CredentialArgs,
        #[command(flatten)]
        spec: CredentialSpecArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Replace a federated credential's issuer, subject and audiences.
    Update {
        #[command(flatten)]
        credential: CredentialArgs,
        #[command(flatten)]
        spec: CredentialSpecArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Show a federated credential.
    Show {
        #[command(flatten)]
        credential: CredentialArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Delete a federated credential.
    Delete {
        #[command(flatten)]
        credential: CredentialArgs,
        /// Accepted for az compatibility.
        #[arg(short, long)]
        yes: bool,
        #[command(flatten)]
        common: Common,
    },
    /// List an identity's federated credentials.
    List {
        /// The identity.
        #[arg(long)]
        identity_name: String,
        /// Resource group (default: AZURE_DEFAULTS_GROUP, then az's configured default group).
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[command(flatten)]
        common: Common,
    },
}

/// Which credential: `--identity-name ID -g RG -n NAME`.
#[derive(Debug, Clone, Args)]
pub struct CredentialArgs {
    /// The identity.
    #[arg(long)]
    pub identity_name: String,
    /// Resource group (default: AZURE_DEFAULTS_GROUP, then az's configured default group).
    #[arg(short = 'g', long)]
    pub resource_group: Option<String>,
    /// Credential name.
    #[arg(short, long)]
    pub name: String,
}

/// What a credential says.
#[derive(Debug, Clone, Args)]
pub struct CredentialSpecArgs {
    /// Token issuer URL, e.g. https://token.actions.githubusercontent.com.
    #[arg(long)]
    pub issuer: String,
    /// Subject of the issuer's tokens, e.g. repo:org/app:ref:refs/heads/main.
    #[arg(long)]
    pub subject: String,
    /// Accepted audiences (default api://AzureADTokenExchange).
    #[arg(long, num_args = 1..)]
    pub audiences: Vec<String>,
}

/// Which identities a command acts on: `-g RG -n NAME`, or `--ids ID...`.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Resource group (default: AZURE_DEFAULTS_GROUP, then az's configured default group).
    #[arg(short = 'g', long, requires = "name")]
    pub resource_group: Option<String>,
    /// Identity name.
    #[arg(
        short,
        long,
        visible_alias = "resource-name",
        required_unless_present = "ids"
    )]
    pub name: Option<String>,
    /// One or more full resource ids.
    #[arg(long, num_args = 1.., conflicts_with_all = ["resource_group", "name"])]
    pub ids: Vec<String>,
}

/// `azid lock ...`
#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// List the management locks of the subscription, of a resource group, or of a resource
    /// (those above, at and below it).
    List {
        /// Only the locks that apply in this resource group (and those inside it).
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        /// Only the locks that apply to this resource (its full id) and those below it.
        #[arg(long, value_name = "ID", conflicts_with = "resource_group")]
        resource: Option<String>,
        #[command(flatten)]
        common: Common,
    },
}

/// `azid graph ...`
#[derive(Debug, Subcommand)]
pub enum GraphCommand {
    /// Run a Resource Graph query and print one page as az does: {count, data, skip_token, total_records}.
    Query {
        /// The KQL query.
        #[arg(
            short = 'q',
            long = "graph-query",
            visible_alias = "query-text",
            value_name = "KQL"
        )]
        graph_query: String,
        /// Rows to return (1 to 1000) [default: 100].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
        first: Option<u64>,
        /// Rows to skip from the start of the result.
        #[arg(long, value_name = "N")]
        skip: Option<u64>,
        /// The skip_token of an earlier page, to read the next one.
        #[arg(long, value_name = "TOKEN")]
        skip_token: Option<String>,
        /// Subscriptions to query (space- or comma-separated; default: the tenant).
        #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "ID", conflicts_with = "management_groups")]
        subscriptions: Vec<String>,
        /// Management groups to query (space- or comma-separated).
        #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "NAME")]
        management_groups: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
}

/// `azid group ...`
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a resource group.
    Create {
        /// Name.
        #[arg(short, long, visible_alias = "resource-group", short_alias = 'g')]
        name: String,
        /// Location.
        #[arg(short, long)]
        location: String,
        /// Space-separated tags: key[=value] ..., or a JSON object.
        #[arg(long, num_args = 1.., value_name = "KEY[=VALUE]")]
        tags: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// List resource groups.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Show a resource group.
    Show {
        /// Name.
        #[arg(short, long, visible_alias = "resource-group", short_alias = 'g')]
        name: String,
        #[command(flatten)]
        common: Common,
    },
    /// Delete a resource group and everything in it.
    Delete {
        /// Name.
        #[arg(short, long, visible_alias = "resource-group", short_alias = 'g')]
        name: String,
        /// Return once ARM has accepted the delete, without waiting for it to finish.
        #[arg(long)]
        no_wait: bool,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
        #[command(flatten)]
        common: Common,
    },
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
    /// A subscription id the emulator knows (repeatable), in management group GROUP (a
    /// --management-group) or, without @GROUP, in the tenant's root group; default: one id
    /// kept in the data file.
    #[arg(long = "subscription", value_name = "ID[@GROUP]")]
    pub subscriptions: Vec<SubscriptionSpec>,
    /// A management group (repeatable) below PARENT (another --management-group) or, without
    /// :PARENT, below the tenant's root group (named by the tenant id). Kept in the data file.
    #[arg(long = "management-group", value_name = "NAME[:PARENT]")]
    pub management_groups: Vec<GroupSpec>,
    /// Most subscriptions a Resource Graph query at tenant or management-group scope covers;
    /// past it the query fails, or with options.allowPartialScopes covers the first ones.
    #[arg(long, default_value_t = DEFAULT_GRAPH_SUBSCRIPTION_LIMIT, value_name = "N", value_parser = parse_subscription_limit)]
    pub graph_subscription_limit: usize,
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
    /// How long, in milliseconds, a write to an identity's federated credentials is processed;
    /// a second write to the same identity meanwhile gets 409, as in Azure.
    #[arg(long, default_value_t = 30, value_name = "MS")]
    pub fic_write_delay: u64,
    /// How long, in milliseconds, a new identity's principal is unknown to role assignments
    /// (400 PrincipalNotFound), as Azure's directory replication makes it; 0 for none.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub replication_delay: u64,
    /// Secret expected in X-IDENTITY-HEADER by the token endpoint (default: the bearer token).
    #[arg(long, hide_env_values = true)]
    pub identity_header: Option<String>,
    /// Make every request's round trip MS milliseconds, or a uniform random MS..MS: it is
    /// handled halfway through and answered at the end, or when handled if that takes longer.
    #[arg(long, value_name = "MS[..MS]")]
    pub latency: Option<Latency>,
    /// ARM-style throttling per subscription: off, arm (reads=250/25,writes=200/10,deletes=200/10),
    /// or any of reads=B/R,writes=B/R,deletes=B/R (bucket size B, refill R tokens per second).
    #[arg(long, default_value = "off", value_name = "PROFILE")]
    pub throttle: ThrottleProfile,
    /// Share (0 to 1) of ARM requests that fail at random: 500, 503 or a dropped connection.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = crate::emulator::parse_fault_rate)]
    pub fault_rate: f64,
    /// Seed of --latency and --fault-rate, to replay a run (default: random, printed on stderr).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Give a bearer token (or, when TOKEN is a UUID, a managed identity's client id) a role:
    /// owner, contributor, reader, managed-identity-contributor, managed-identity-operator or
    /// user-access-administrator, at SCOPE (/subscriptions/ID, /subscriptions/ID/resourceGroups/NAME,
    /// or /providers/Microsoft.Management/managementGroups/NAME for every subscription below the
    /// group; default: every subscription). Repeatable. Requests outside the role get 403
    /// AuthorizationFailed.
    #[arg(long = "caller", value_name = "TOKEN=ROLE[@SCOPE]")]
    pub callers: Vec<Caller>,
    /// Resource Graph quota of each caller: N queries per window of SECONDS seconds; a query
    /// past it gets 429 with Retry-After.
    #[arg(long, default_value = "15/5", value_name = "N/SECONDS")]
    pub graph_quota: QuotaSpec,
    /// How long, in milliseconds, after ARM makes a change Resource Graph queries show it.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub graph_lag: u64,
    /// Fill an empty store with a generated tenant for scale tests: SUBS subscriptions holding
    /// IDENTITIES identities in all, as many resources, role assignments and federated
    /// credentials, by the rules the README states; refused on a data file that holds state.
    #[arg(long, value_name = "SUBS:IDENTITIES")]
    pub seed_tenant: Option<crate::emulator::seed::TenantSeed>,
    /// Append one JSON line per request answered to FILE: time, method, path, status, caller.
    #[arg(long, value_name = "FILE")]
    pub request_log: Option<PathBuf>,
}

/// Reads `--local`'s folder; empty (a bare `--local`) stands for the default one.
pub fn parse_local_dir(value: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(value))
}

/// Parses a subscription limit: at least 1.
pub fn parse_subscription_limit(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "'{value}' is not a number of subscriptions (1 or more)"
        )),
    }
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

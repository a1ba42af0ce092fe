// SPDX-License-Identifier: GPL-2.0

//! The command line: global options, commands and the `ip(8)`-style
//! `KEY VALUE` words of `config set`.

use std::{
    ffi::OsString,
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6},
};

use baton_proto::{
    config::{self, ConfigUpdate, TimeoutRange},
    flow::{Phase, Role},
    rules::{self, HostName, PathPrefix},
    service::Scheduler,
    uapi::dispatch,
};
use clap::{error::ErrorKind, CommandFactory, Parser, Subcommand};

/// Name of the control-port setting, on the command line and in the output.
pub const CTRL_PORT: &str = "ctrl-port";
/// Name of the node-id setting, on the command line and in the output.
pub const NODE_ID: &str = "node-id";
/// Name of the `request-timeout-ms` setting.
pub const REQUEST_TIMEOUT: &str = "request-timeout-ms";
/// Name of the `handoff-timeout-ms` setting.
pub const HANDOFF_TIMEOUT: &str = "handoff-timeout-ms";
/// Name of the `idle-timeout-ms` setting.
pub const IDLE_TIMEOUT: &str = "idle-timeout-ms";
/// Name of the `heartbeat-timeout-ms` setting.
pub const HEARTBEAT_TIMEOUT: &str = "heartbeat-timeout-ms";
/// Name of the `copies` setting.
pub const COPIES: &str = "copies";
/// `copies all`: every other member of a largest group.
pub const ALL: &str = "all";
/// Name of the control-channel key setting (hex on the command line).
pub const KEY: &str = "key";
/// Name of the setting that reads the control-channel key from a file.
pub const KEY_FILE: &str = "key-file";
/// Every `config set` key (a prefix picks the first that it starts).
const SETTINGS: [&str; 9] = [
    CTRL_PORT,
    NODE_ID,
    REQUEST_TIMEOUT,
    HANDOFF_TIMEOUT,
    IDLE_TIMEOUT,
    HEARTBEAT_TIMEOUT,
    COPIES,
    KEY,
    KEY_FILE,
];
/// Shortest and longest control-channel key, in bytes.
pub const KEY_LEN: std::ops::RangeInclusive<usize> = 16..=64;

/// `batonctl [OPTIONS] COMMAND`.
#[derive(Debug, Parser)]
#[command(
    name = "batonctl",
    version,
    about = "Show and change the state of the baton kernel module",
    long_about = "Show and change the state of the baton kernel module in the \
                  current network namespace, over generic netlink.",
    after_help = "Commands and settings may be abbreviated when that is unambiguous \
                  (batonctl st, batonctl config sh).",
    infer_subcommands = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
struct Cli {
    /// Print JSON instead of text
    #[arg(short, long, global = true)]
    json: bool,

    /// Print indented JSON (implies --json)
    #[arg(short, long, global = true)]
    pretty: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the module version and the packet counters of the netfilter hooks
    #[command(alias = "st")]
    Status,
    /// Show or change the configuration of this network namespace
    #[command(subcommand_required = false, alias = "c")]
    Config {
        #[command(subcommand)]
        command: Option<ConfigCommand>,
    },
    /// Add, delete and list services (VIP:PORT)
    Service {
        #[command(subcommand)]
        command: ServiceCommand,
    },
    /// Add, change and delete the back-ends of a service
    Backend {
        #[command(subcommand)]
        command: BackendCommand,
    },
    /// Add, delete and list the peers of this node's control channel
    Peer {
        #[command(subcommand)]
        command: PeerCommand,
    },
    /// Add, delete and show the members of this node's front-end group
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Add, delete and list the content rules of a service
    Rule {
        #[command(subcommand)]
        command: RuleCommand,
    },
    /// List the handed-off connections this node takes part in
    Conn {
        #[command(subcommand)]
        command: ConnCommand,
    },
    /// Print events as they happen: handoffs, connection ends, peers up and
    /// down, configuration changes (-j: a JSON object a line)
    Monitor,
    /// Show the handoff and forwarding counters
    Stats {
        /// Print the counters, services, peers and front-end group in the
        /// Prometheus text format (for node_exporter's textfile collector)
        #[arg(long)]
        prometheus: bool,
    },
    /// Print the configuration as batonctl commands that restore rebuilds
    Save,
    /// Replay commands printed by save (standard input, or -f FILE); a
    /// command the kernel refuses undoes those before it
    Restore {
        /// Read the commands from FILE instead of standard input
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<std::path::PathBuf>,
        /// Only check that every line is a command save prints; apply nothing
        #[arg(long)]
        check: bool,
    },
    /// Print the manual page (roff) on standard output
    #[command(hide = true)]
    Man,
    /// Print the completion script of SHELL on standard output
    #[command(hide = true)]
    Completions {
        /// bash, zsh or fish
        shell: CompletionShell,
    },
}

#[derive(Debug, Subcommand)]
enum RuleCommand {
    /// Add a rule: VIP:PORT [host NAME | host *.DOMAIN | domain DOMAIN] [path PREFIX]
    /// to ADDR:PORT [index N]
    Add {
        /// The service: 198.18.1.10:80 or [2001:db8::10]:80
        #[arg(value_name = "VIP:PORT", value_parser = parse_vip)]
        vip: SocketAddr,
        /// host NAME (exact) or domain NAME / host *.NAME (itself and below), path PREFIX,
        /// to ADDR:PORT (a back-end of the service), index N (default: last)
        // A host name may start with '-' (the kernel takes it, save prints
        // it): the words are values, never options.
        #[arg(value_name = "KEY VALUE", required = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Delete the rule at INDEX (from 0) of a service
    Del {
        /// The service
        #[arg(value_name = "VIP:PORT", value_parser = parse_vip)]
        vip: SocketAddr,
        /// The rule's position, 0 first
        #[arg(value_name = "INDEX")]
        index: u32,
    },
    /// List the rules of every service, or of one, in order
    #[command(visible_alias = "show")]
    List {
        /// Only this service
        #[arg(value_name = "VIP:PORT", value_parser = parse_vip)]
        vip: Option<SocketAddr>,
    },
}

#[derive(Debug, Subcommand)]
enum ConnCommand {
    /// List the connections (like ipvsadm -Lc): [service VIP:PORT] [backend ADDR:PORT]
    /// [peer NODE-ID|local] [state STATE] [role front|back] [client ADDR[:PORT]]
    #[command(visible_alias = "show")]
    List {
        /// Only those of: service VIP:PORT, backend ADDR:PORT, peer NODE-ID (local or 0: this
        /// node), state handoff|forwarding|replaying|established, role front|back, client
        /// ADDR[:PORT]
        #[arg(value_name = "KEY VALUE")]
        filters: Vec<String>,
    },
}

/// Which connections `conn list` shows: those whose fields equal each one
/// given (the kernel filters them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnFilter {
    /// The service (VIP and port).
    pub service: Option<SocketAddr>,
    /// The back-end server.
    pub backend: Option<SocketAddr>,
    /// The other node (0: this node).
    pub peer: Option<u32>,
    /// The state.
    pub state: Option<Phase>,
    /// The role.
    pub role: Option<Role>,
    /// The client's address, and port if given.
    pub client: Option<(IpAddr, Option<u16>)>,
}

impl ConnFilter {
    /// Whether it selects every connection.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn conn_filter(words: &[String]) -> Result<ConnFilter, String> {
    let mut f = ConnFilter::default();
    let keys = ["service", "backend", "peer", "state", "role", "client"];
    for (k, v) in parse_options(words, &keys)? {
        let bad = |e: String| format!("{k} '{v}': {e}");
        match k {
            "service" => f.service = Some(parse_vip(v).map_err(bad)?),
            "backend" => f.backend = Some(parse_backend(v).map_err(bad)?),
            "client" => f.client = Some(parse_client(v).map_err(bad)?),
            "peer" => {
                f.peer = Some(match v {
                    "local" => 0,
                    _ => parse_decimal(v).ok_or_else(|| {
                        bad("expected a node id (0 to 4294967295) or local".into())
                    })?,
                })
            }
            "state" => {
                f.state = Some(
                    Phase::ALL
                        .into_iter()
                        .find(|p| p.name() == v)
                        .ok_or_else(|| {
                            bad("expected handoff, forwarding, replaying or established".into())
                        })?,
                )
            }
            _ => {
                f.role = Some(match v {
                    "front" => Role::Front,
                    "back" => Role::Back,
                    _ => return Err(bad("expected front or back".into())),
                })
            }
        }
    }
    // A connection's client, service and back-end are of one family: a
    // filter that mixes them would select nothing.
    let client = f.client.map(|(addr, port)| match port {
        Some(p) => (addr, SocketAddr::new(addr, p).to_string()),
        None => (addr, addr.to_string()),
    });
    let given: Vec<(&str, IpAddr, String)> = [
        ("service", f.service.map(|s| (s.ip(), s.to_string()))),
        ("backend", f.backend.map(|b| (b.ip(), b.to_string()))),
        ("client", client),
    ]
    .into_iter()
    .filter_map(|(k, a)| a.map(|(addr, text)| (k, addr, text)))
    .collect();
    if let Some((first, rest)) = given.split_first() {
        if let Some(other) = rest.iter().find(|o| o.1.is_ipv4() != first.1.is_ipv4()) {
            return Err(format!(
                "{} {} is {}, {} {} is {}: a connection's addresses are of one family",
                other.0,
                other.2,
                family(other.1),
                first.0,
                first.2,
                family(first.1)
            ));
        }
    }
    Ok(f)
}

#[derive(Debug, Subcommand)]
enum PeerCommand {
    /// Add a peer: its node id and control address (port: this node's ctrl-port)
    Add {
        /// The peer's node id, 1 to 4294967295
        #[arg(value_name = "NODE-ID", value_parser = clap::value_parser!(u32).range(1..))]
        node_id: u32,
        /// The peer's control address: IPv4 ADDR or ADDR:PORT, IPv6 ADDR, [ADDR] or [ADDR]:PORT
        #[arg(value_name = "ADDR[:PORT]", value_parser = parse_peer_addr)]
        addr: (IpAddr, Option<u16>),
    },
    /// Delete a peer and close its channel
    Del {
        /// The peer's node id
        #[arg(value_name = "NODE-ID", value_parser = clap::value_parser!(u32).range(1..))]
        node_id: u32,
    },
    /// List the peers and the state of their channels
    #[command(visible_alias = "show")]
    List,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Add a member to the front-end group: a peer that serves the same VIPs
    Add {
        /// The member's node id (a peer's), 1 to 4294967295
        #[arg(value_name = "NODE-ID", value_parser = clap::value_parser!(u32).range(1..))]
        node_id: u32,
    },
    /// Delete a member of the front-end group
    Del {
        /// The member's node id
        #[arg(value_name = "NODE-ID", value_parser = clap::value_parser!(u32).range(1..))]
        node_id: u32,
    },
    /// Show the group: this node's view, its members and their state
    #[command(visible_alias = "show")]
    List,
    /// Rank the members of this node's view for a connection, best first:
    /// the first holds it (owner or first copy)
    Rank {
        /// The connection's client, e.g. 198.18.0.2:40000 or [2001:db8::2]:40000
        #[arg(value_name = "CLIENT:PORT", value_parser = parse_client_port)]
        client: SocketAddr,
        /// The service it connects to
        #[arg(value_name = "VIP:PORT", value_parser = parse_vip)]
        vip: SocketAddr,
    },
}

#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Add a service: VIP:PORT [scheduler rr|wrr|lc|sh] (default lc) [max-conns N]
    /// [dispatch connection|request] (default request)
    Add {
        /// Virtual address and port, e.g. 198.18.1.10:80 or [2001:db8::10]:80
        #[arg(value_name = "VIP:PORT", value_parser = parse_vip)]
        vip: SocketAddr,
        /// Options: scheduler rr|wrr|lc|sh, max-conns N (0: no limit of its own),
        /// dispatch connection|request (what the content rules decide on a
        /// kept-alive connection: its first request, or each request)
        #[arg(value_name = "KEY VALUE")]
        options: Vec<String>,
    },
    /// Delete a service and its back-ends
    Del {
        /// Virtual address and port
        #[arg(value_name = "VIP:PORT", value_parser = parse_vip)]
        vip: SocketAddr,
    },
    /// List the services and their back-ends
    #[command(visible_alias = "show")]
    List,
}

#[derive(Debug, Subcommand)]
enum BackendCommand {
    /// Add a back-end: VIP:PORT ADDR:PORT [weight N] [peer NODE-ID]
    Add {
        /// The service
        #[arg(value_name = "VIP:PORT", value_parser = parse_vip)]
        vip: SocketAddr,
        /// The server's own address and port, of the service's family
        #[arg(value_name = "ADDR:PORT", value_parser = parse_backend)]
        addr: SocketAddr,
        /// Options: weight 0-65535 (default 1), peer NODE-ID (default 0: this node)
        #[arg(value_name = "KEY VALUE")]
        options: Vec<String>,
    },
    /// Change a back-end's weight or drain: VIP:PORT ADDR:PORT [weight N] [drain on|off]
    Set {
        /// The service
        #[arg(value_name = "VIP:PORT", value_parser = parse_vip)]
        vip: SocketAddr,
        /// The back-end
        #[arg(value_name = "ADDR:PORT", value_parser = parse_backend)]
        addr: SocketAddr,
        /// weight 0-65535 (0: no new connections; those it has go on), drain on|off (on: weight
        /// 0, and its kept-alive connections move to the others; off: ends it)
        #[arg(value_name = "KEY VALUE")]
        options: Vec<String>,
    },
    /// Drain a back-end (weight 0, its kept-alive connections moving to the others):
    /// VIP:PORT ADDR:PORT [timeout S]
    Drain {
        /// The service
        #[arg(value_name = "VIP:PORT", value_parser = parse_vip)]
        vip: SocketAddr,
        /// The back-end
        #[arg(value_name = "ADDR:PORT", value_parser = parse_backend)]
        addr: SocketAddr,
        /// timeout S: wait up to S seconds (1-86400) for its connections to leave; exit 1 if
        /// some are left
        #[arg(value_name = "KEY VALUE")]
        options: Vec<String>,
    },
    /// Delete a back-end of a service
    Del {
        /// The service
        #[arg(value_name = "VIP:PORT", value_parser = parse_vip)]
        vip: SocketAddr,
        /// The back-end
        #[arg(value_name = "ADDR:PORT", value_parser = parse_backend)]
        addr: SocketAddr,
    },
}

/// The address and port of a `what` (service, back-end): IPv4
/// `ADDR:PORT` or IPv6 `[ADDR]:PORT` ([`parse_ip_port`]), port 1 to 65535,
/// an IPv6 address held to the kernel's rules ([`check_addr6`]).
fn parse_endpoint(s: &str, what: &str) -> Result<SocketAddr, String> {
    let (addr, port) = parse_ip_port(s)?;
    let Some(port) = port else {
        return Err(match addr {
            IpAddr::V4(_) => format!("'{s}' needs a port (ADDR:PORT)"),
            IpAddr::V6(_) => format!("'{s}' needs a port ([ADDR]:PORT)"),
        });
    };
    if let IpAddr::V6(a) = addr {
        check_addr6(a, what).map_err(|why| format!("'{a}' {why}"))?;
    }
    Ok(SocketAddr::new(addr, port))
}

/// A service's `VIP:PORT` ([`parse_endpoint`]).
fn parse_vip(s: &str) -> Result<SocketAddr, String> {
    parse_endpoint(s, "service")
}

/// A client's `ADDR:PORT` ([`parse_endpoint`]).
fn parse_client_port(s: &str) -> Result<SocketAddr, String> {
    parse_endpoint(s, "client")
}

/// A back-end's `ADDR:PORT` ([`parse_endpoint`]).
fn parse_backend(s: &str) -> Result<SocketAddr, String> {
    parse_endpoint(s, "back-end")
}

/// The name of `addr`'s family.
fn family(addr: IpAddr) -> &'static str {
    match addr {
        IpAddr::V4(_) => "IPv4",
        IpAddr::V6(_) => "IPv6",
    }
}

/// A service's back-ends, and its rules' targets, are of its own family.
pub fn same_family(vip: SocketAddr, backend: SocketAddr) -> Result<(), String> {
    if vip.is_ipv4() == backend.is_ipv4() {
        return Ok(());
    }
    Err(format!(
        "backend {backend} is {}, service {vip} is {}",
        family(backend.ip()),
        family(vip.ip())
    ))
}

/// `KEY VALUE` words with keys from `keys`, each at most once.
fn parse_options<'a>(
    words: &'a [String],
    keys: &[&'static str],
) -> Result<Vec<(&'static str, &'a str)>, String> {
    let mut out: Vec<(&'static str, &'a str)> = Vec::new();
    let mut it = words.iter();
    while let Some(k) = it.next() {
        let key = keys
            .iter()
            .copied()
            .find(|key| *key == k.as_str())
            .ok_or_else(|| format!("unknown option '{k}' (expected {})", keys.join(" or ")))?;
        let value = it
            .next()
            .ok_or_else(|| format!("missing value for '{key}'"))?;
        if out.iter().any(|(k, _)| *k == key) {
            return Err(format!("'{key}' is given more than once"));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// A service to add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Virtual address and port.
    pub vip: SocketAddr,
    /// Scheduler (`scheduler` enum value); `None`: the kernel's default.
    pub scheduler: Option<Scheduler>,
    /// Most connections handed off at once; `None`: no limit of its own.
    pub max_conns: Option<u32>,
    /// How a kept-alive connection's later requests are dispatched;
    /// `None`: the kernel's default (request), and no attribute sent.
    pub dispatch: Option<Dispatch>,
}

/// How a service dispatches the requests of a kept-alive connection (the
/// `dispatch` enum of the spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// The first request's back-end serves the whole connection.
    Connection,
    /// Each request is matched against the content rules again, and moves
    /// the connection to another back-end if its rule names one (the
    /// default).
    Request,
}

impl Dispatch {
    /// Every value, in the spec's order.
    pub const ALL: [Dispatch; 2] = [Dispatch::Connection, Dispatch::Request];

    /// The name used in the spec, the CLI, the text and the JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Dispatch::Connection => "connection",
            Dispatch::Request => "request",
        }
    }

    /// The value of the `dispatch` attribute.
    pub const fn uapi(self) -> u8 {
        match self {
            Dispatch::Connection => dispatch::CONNECTION,
            Dispatch::Request => dispatch::REQUEST,
        }
    }

    /// The dispatch of `dispatch` attribute value `v`; `None` for one this
    /// version does not know.
    pub fn from_uapi(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.uapi() == v)
    }
}

/// A content rule to add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    /// Its service.
    pub vip: SocketAddr,
    /// Host condition; `true`: a domain (suffix).
    pub host: Option<(HostName, bool)>,
    /// Path prefix condition.
    pub path: Option<PathPrefix>,
    /// The back-end, of the service's family.
    pub backend: SocketAddr,
    /// Position; `None`: last.
    pub index: Option<u32>,
}

fn rule_spec(vip: SocketAddr, words: &[String]) -> Result<RuleSpec, String> {
    let mut host = None;
    let mut path = None;
    let mut backend = None;
    let mut index = None;
    for (k, v) in parse_options(words, &["host", "domain", "path", "to", "index"])? {
        match k {
            "host" | "domain" => {
                if host.is_some() {
                    return Err("give one of 'host' and 'domain'".into());
                }
                // `host *.example.com` is `domain example.com`.
                let h = if k == "domain" {
                    rules::host_name(v.as_bytes()).map(|name| (name, true))
                } else {
                    rules::host_spec(v.as_bytes())
                };
                host =
                    Some(h.map_err(|e| format!("{k} '{v}': {}", e.message().to_string_lossy()))?);
            }
            "path" => {
                path = Some(
                    rules::path_prefix(v.as_bytes())
                        .map_err(|e| format!("path '{v}': {}", e.message().to_string_lossy()))?,
                );
            }
            "to" => {
                let to = parse_backend(v).map_err(|e| format!("to '{v}': {e}"))?;
                same_family(vip, to)?;
                backend = Some(to);
            }
            _ => {
                index = Some(
                    parse_decimal(v).ok_or_else(|| format!("index '{v}': expected a number"))?,
                );
            }
        }
    }
    if host.is_none() && path.is_none() {
        return Err("a rule needs 'host', 'domain' or 'path'".into());
    }
    let backend = backend.ok_or("a rule needs 'to ADDR:PORT'")?;
    Ok(RuleSpec {
        vip,
        host,
        path,
        backend,
        index,
    })
}

/// A back-end to add, change or delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendSpec {
    /// Its service.
    pub vip: SocketAddr,
    /// The server, of the service's family.
    pub addr: SocketAddr,
    /// Weight, if given.
    pub weight: Option<u32>,
    /// Serving peer, if given.
    pub peer: Option<u32>,
    /// `backend set`: drain it (`true`) or end its drain, if given.
    pub drain: Option<bool>,
}

impl BackendSpec {
    /// The back-end `addr` of service `vip`, nothing else given.
    pub fn new(vip: SocketAddr, addr: SocketAddr) -> Self {
        Self {
            vip,
            addr,
            weight: None,
            peer: None,
            drain: None,
        }
    }

    /// What `conn list` selects to count the connections a drain moves:
    /// this node's front-end ones of the service to the back-end.
    pub fn front_conns(&self) -> ConnFilter {
        ConnFilter {
            service: Some(self.vip),
            backend: Some(self.addr),
            role: Some(Role::Front),
            ..ConnFilter::default()
        }
    }
}

/// Longest `timeout` of `backend drain`, in seconds: a day.
pub const DRAIN_TIMEOUT_MAX: u32 = 86_400;

fn service_spec(vip: SocketAddr, options: &[String]) -> Result<ServiceSpec, String> {
    let mut scheduler = None;
    let mut max_conns = None;
    let mut dispatch = None;
    for (k, v) in parse_options(options, &["scheduler", "max-conns", "dispatch"])? {
        match k {
            "max-conns" => {
                max_conns = Some(v.parse::<u32>().map_err(|_| {
                    format!("invalid value '{v}' for 'max-conns': expected 0 to 4294967295")
                })?);
            }
            "dispatch" => {
                dispatch = Some(
                    Dispatch::ALL
                        .into_iter()
                        .find(|d| d.name() == v)
                        .ok_or_else(|| {
                            format!("unknown dispatch '{v}' (expected connection or request)")
                        })?,
                );
            }
            _ => {
                scheduler = Some(
                    Scheduler::ALL
                        .into_iter()
                        .find(|s| s.name() == v)
                        .ok_or_else(|| {
                            format!("unknown scheduler '{v}' (expected rr, wrr, lc or sh)")
                        })?,
                );
            }
        }
    }
    Ok(ServiceSpec {
        vip,
        scheduler,
        max_conns,
        dispatch,
    })
}

/// The back-end of `backend add` (`keys`: weight and peer) or `backend set`
/// (weight and drain).
fn backend_spec(
    vip: SocketAddr,
    addr: SocketAddr,
    options: &[String],
    keys: &[&'static str],
) -> Result<BackendSpec, String> {
    same_family(vip, addr)?;
    let mut spec = BackendSpec::new(vip, addr);
    for (k, v) in parse_options(options, keys)? {
        if k == "drain" {
            spec.drain = Some(match v {
                "on" => true,
                "off" => false,
                _ => {
                    return Err(format!(
                        "invalid value '{v}' for 'drain': expected on or off"
                    ))
                }
            });
            continue;
        }
        let n: u32 = v
            .parse()
            .map_err(|_| format!("invalid value '{v}' for '{k}': expected an integer"))?;
        match k {
            "weight" if n > 65535 => {
                return Err(format!(
                    "invalid value '{v}' for 'weight': expected 0 to 65535"
                ))
            }
            "weight" => spec.weight = Some(n),
            _ => spec.peer = Some(n),
        }
    }
    Ok(spec)
}

/// Whether `options` (`KEY VALUE` words) give `key`: looked for before
/// they are read, so that a key a command refuses gets the reason rather
/// than "unknown option".
fn gives(options: &[String], key: &str) -> bool {
    options.iter().step_by(2).any(|k| k == key)
}

/// The back-end of `backend add`: weight and peer, never a drain (the
/// kernel's is for a back-end's connections).
fn backend_add_spec(
    vip: SocketAddr,
    addr: SocketAddr,
    options: &[String],
) -> Result<BackendSpec, String> {
    if gives(options, "drain") {
        return Err(format!(
            "drain applies to a backend's connections: batonctl backend add {vip} {addr} \
             weight 0, then batonctl backend drain {vip} {addr}"
        ));
    }
    backend_spec(vip, addr, options, &["weight", "peer"])
}

/// The back-end of `backend set`: its weight or drain, at least one.
fn backend_set_spec(
    vip: SocketAddr,
    addr: SocketAddr,
    options: &[String],
) -> Result<BackendSpec, String> {
    if gives(options, "peer") {
        return Err(format!(
            "a backend's peer cannot change: batonctl backend del {vip} {addr}, then \
             batonctl backend add {vip} {addr} peer NODE-ID"
        ));
    }
    let spec = backend_spec(vip, addr, options, &["weight", "drain"])?;
    match (spec.weight, spec.drain) {
        (None, None) => Err("backend set needs 'weight N' (0 to 65535) or 'drain on|off'".into()),
        // As the kernel refuses it: a drain is weight 0.
        (Some(w), Some(true)) if w > 0 => Err(format!(
            "a draining backend's weight is 0: 'drain on' with 'weight {w}'"
        )),
        _ => Ok(spec),
    }
}

/// `backend drain`: the back-end to drain, and how long to wait for its
/// connections to leave (`timeout S`, seconds), if at all.
fn backend_drain_spec(
    vip: SocketAddr,
    addr: SocketAddr,
    options: &[String],
) -> Result<(BackendSpec, Option<u32>), String> {
    same_family(vip, addr)?;
    let mut timeout = None;
    for (_, v) in parse_options(options, &["timeout"])? {
        timeout = Some(
            parse_decimal::<u32>(v)
                .filter(|s| (1..=DRAIN_TIMEOUT_MAX).contains(s))
                .ok_or_else(|| {
                    format!(
                        "invalid value '{v}' for 'timeout': expected 1 to {DRAIN_TIMEOUT_MAX} \
                         seconds"
                    )
                })?,
        );
    }
    let spec = BackendSpec {
        drain: Some(true),
        ..BackendSpec::new(vip, addr)
    };
    Ok((spec, timeout))
}

fn option_error(cmd: &str, sub: &str, msg: String) -> clap::Error {
    let mut c = Cli::command();
    c.build();
    match c
        .find_subcommand_mut(cmd)
        .and_then(|c| c.find_subcommand_mut(sub))
    {
        Some(s) => s.error(ErrorKind::ValueValidation, msg),
        None => c.error(ErrorKind::ValueValidation, msg),
    }
}

/// IPv4 `ADDR` or `ADDR:PORT`, port 1 to 65535; `family` is what the error
/// says the address should have been.
fn parse_v4_port(s: &str, family: &str) -> Result<(Ipv4Addr, Option<u16>), String> {
    match s.rsplit_once(':') {
        None => s
            .parse()
            .map(|a| (a, None))
            .map_err(|_| format!("'{s}' is not {family}")),
        Some((addr, port)) => {
            let addr = addr
                .parse()
                .map_err(|_| format!("'{addr}' is not {family}"))?;
            Ok((addr, Some(parse_port(port)?)))
        }
    }
}

fn parse_port(port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(port_error(port)),
    }
}

fn port_error(port: &str) -> String {
    format!("'{port}' is not a port from 1 to 65535")
}

/// An address with an optional port as `ip` and curl write them: IPv4
/// `ADDR` or `ADDR:PORT`; IPv6 `ADDR`, `[ADDR]` or `[ADDR]:PORT` (a bare
/// IPv6 address has no port: `2001:db8::2:7000` is an address).
fn parse_ip_port(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    // std takes a numeric zone id in "[fe80::1%2]:80"; a zone names an
    // interface, which baton's addresses never need.
    if let Some(at) = s.find('%') {
        let zone = s[at..].split(']').next().unwrap_or_default();
        return Err(format!(
            "'{s}' has a zone id ({zone}): give an address without one"
        ));
    }
    if let Ok(a) = s.parse::<Ipv6Addr>() {
        return Ok((a.into(), None));
    }
    if let Ok(sa) = s.parse::<SocketAddrV6>() {
        return match sa.port() {
            0 => Err(port_error("0")),
            p => Ok(((*sa.ip()).into(), Some(p))),
        };
    }
    let bracketed = s.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
    if let Some(a) = bracketed.and_then(|a| a.parse::<Ipv6Addr>().ok()) {
        return Ok((a.into(), None));
    }
    if s.contains(['[', ']']) {
        return Err(bracket_error(s));
    }
    if s.matches(':').count() > 1 {
        // An address, a colon and a decimal number: a port meant.
        let ported = s.rsplit_once(':').is_some_and(|(a, p)| {
            !a.ends_with(':') && parse_decimal::<u32>(p).is_some() && a.parse::<Ipv6Addr>().is_ok()
        });
        return Err(if ported {
            format!(
                "'{s}' is not an IPv4 or IPv6 address (an IPv6 address with a port is [ADDR]:PORT)"
            )
        } else {
            format!("'{s}' is not an IPv4 or IPv6 address")
        });
    }
    parse_v4_port(s, "an IPv4 or IPv6 address").map(|(a, p)| (a.into(), p))
}

/// Why `s`, with a bracket, is not `[ADDR]` or `[ADDR]:PORT`.
fn bracket_error(s: &str) -> String {
    let Some((inner, rest)) = s.strip_prefix('[').and_then(|r| r.split_once(']')) else {
        return format!("'{s}': unbalanced bracket (an IPv6 address with a port is [ADDR]:PORT)");
    };
    if inner.parse::<Ipv6Addr>().is_err() {
        return format!("'{inner}' is not an IPv6 address (brackets are for IPv6 only)");
    }
    match rest.strip_prefix(':') {
        Some(port) => parse_port(port).err(),
        None => None,
    }
    .unwrap_or_else(|| format!("'{s}' is not [ADDR] or [ADDR]:PORT"))
}

/// A peer's control address ([`parse_ip_port`]). An IPv6 one is held to
/// the kernel's rules here too, so that the reason shows even with a kernel
/// that predates IPv6 peers; IPv4 ones are left to the kernel, as before.
fn parse_peer_addr(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    let (addr, port) = parse_ip_port(s)?;
    if let IpAddr::V6(a) = addr {
        check_addr6(a, "peer").map_err(|why| format!("'{a}' {why}"))?;
    }
    Ok((addr, port))
}

/// The kernel's rules for the IPv6 address of a `what` (a peer's in
/// `peer-add`, a service's or a back-end's), in its order.
fn check_addr6(a: Ipv6Addr, what: &str) -> Result<(), String> {
    if let Some(v4) = a.to_ipv4_mapped() {
        return Err(format!(
            "is an IPv4-mapped address: give the IPv4 address {v4}"
        ));
    }
    if a.is_unicast_link_local() {
        return Err(format!(
            "is link-local: a link-local {what} address needs an interface, not supported"
        ));
    }
    let kind = if a.is_unspecified() {
        "the unspecified address"
    } else if a.is_loopback() {
        "the loopback address"
    } else if a.is_multicast() {
        "a multicast address"
    } else {
        return Ok(());
    };
    Err(format!("is {kind}: a {what} needs a unicast IPv6 address"))
}

/// The `client` of `conn list`: an address of either family with an
/// optional port ([`parse_ip_port`]). Not an IPv4-mapped one: a client
/// that connected over IPv4 is listed with its IPv4 address.
fn parse_client(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    let (addr, port) = parse_ip_port(s)?;
    if let Some(v4) = match addr {
        IpAddr::V6(a) => a.to_ipv4_mapped(),
        IpAddr::V4(_) => None,
    } {
        return Err(format!(
            "'{addr}' is an IPv4-mapped address: give the IPv4 address {v4}"
        ));
    }
    Ok((addr, port))
}

/// A peer to add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerSpec {
    /// Node id.
    pub node_id: u32,
    /// Control address.
    pub addr: IpAddr,
    /// Control port, if given.
    pub port: Option<u16>,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Show the configuration (the default)
    Show,
    /// Change the configuration; settings not given keep their value
    #[command(
        after_help = "Settings:\n  ctrl-port PORT  TCP port of the control channel, 1 to 65535\n  \
                      node-id ID      this node's id, 0 to 4294967295 (0: not set)\n  \
                      request-timeout-ms MS, handoff-timeout-ms MS, idle-timeout-ms MS\n  \
                      heartbeat-timeout-ms MS  silence before a peer is down, 2000 to 60000\n  \
                      copies N|all    group members that keep a copy of each connection, 1 to 63\n  \
                      key HEX|none    control-channel key, 32 to 128 hex digits (none: remove)\n  \
                      key-file FILE   the key, as hex, from FILE (keeps it out of argv)"
    )]
    Set {
        /// Settings to change: ctrl-port PORT, node-id ID, key HEX...
        #[arg(
            value_name = "KEY VALUE",
            required = true,
            num_args = 1..,
            allow_negative_numbers = true
        )]
        settings: Vec<String>,
    },
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// JSON on one line.
    Json,
    /// Indented JSON.
    JsonPretty,
}

/// What to do.
#[expect(
    clippy::large_enum_variant,
    reason = "one value per run; RuleSpec holds its names inline"
)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `status`.
    Status,
    /// `config show`.
    ConfigShow,
    /// `config set ...`, validated.
    ConfigSet(Settings),
    /// `service add`.
    ServiceAdd(ServiceSpec),
    /// `service del`.
    ServiceDel(SocketAddr),
    /// `service list`.
    ServiceList,
    /// `backend add`.
    BackendAdd(BackendSpec),
    /// `backend set`: a weight or drain, never a peer.
    BackendSet(BackendSpec),
    /// `backend drain`: a `backend set` with drain on, and how many
    /// seconds to wait for the back-end's connections to leave, if at all.
    BackendDrain(BackendSpec, Option<u32>),
    /// `backend del`.
    BackendDel(BackendSpec),
    /// `peer add`.
    PeerAdd(PeerSpec),
    /// `peer del`.
    PeerDel(u32),
    /// `peer list`.
    PeerList,
    /// `cluster add`.
    ClusterAdd(u32),
    /// `cluster del`.
    ClusterDel(u32),
    /// `cluster show`.
    ClusterList,
    /// `cluster rank CLIENT VIP`: of one family.
    ClusterRank(SocketAddr, SocketAddr),
    /// `conn list [KEY VALUE...]`.
    ConnList(ConnFilter),
    /// `rule add`.
    RuleAdd(RuleSpec),
    /// `rule del`.
    RuleDel(SocketAddr, u32),
    /// `rule list [VIP:PORT]`: every service's rules, or one's.
    RuleList(Option<SocketAddr>),
    /// `monitor`.
    Monitor,
    /// `stats`.
    Stats,
    /// `stats --prometheus`.
    Metrics,
    /// `save`.
    Save,
    /// `restore [-f FILE]`; `None`: standard input.
    Restore {
        /// Where the commands are; `None`: standard input.
        file: Option<std::path::PathBuf>,
        /// Check them only (`--check`).
        check: bool,
    },
    /// `man`: print the manual page.
    Man,
    /// `completions SHELL`: print its completion script.
    Completions(CompletionShell),
}

/// A shell `completions` writes a script for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    /// GNU bash (bash-completion).
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// Output format.
    pub format: Format,
    /// Command.
    pub action: Action,
}

/// Parses a command line, the program name first. Usage errors, `--help` and
/// `--version` come back as a [`clap::Error`], whose `exit` prints them and
/// exits (with 2 for usage errors).
pub fn parse<I, T>(args: I) -> Result<Invocation, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let format = match (cli.json, cli.pretty) {
        (_, true) => Format::JsonPretty,
        (true, false) => Format::Json,
        (false, false) => Format::Text,
    };
    let action = match cli.command {
        Command::Status => Action::Status,
        Command::Config {
            command: None | Some(ConfigCommand::Show),
        } => Action::ConfigShow,
        Command::Config {
            command: Some(ConfigCommand::Set { settings }),
        } => Action::ConfigSet(parse_settings(&settings).map_err(set_usage_error)?),
        Command::Service { command } => match command {
            ServiceCommand::Add { vip, options } => Action::ServiceAdd(
                service_spec(vip, &options).map_err(|m| option_error("service", "add", m))?,
            ),
            ServiceCommand::Del { vip } => Action::ServiceDel(vip),
            ServiceCommand::List => Action::ServiceList,
        },
        Command::Backend { command } => match command {
            BackendCommand::Add { vip, addr, options } => Action::BackendAdd(
                backend_add_spec(vip, addr, &options)
                    .map_err(|m| option_error("backend", "add", m))?,
            ),
            BackendCommand::Set { vip, addr, options } => Action::BackendSet(
                backend_set_spec(vip, addr, &options)
                    .map_err(|m| option_error("backend", "set", m))?,
            ),
            BackendCommand::Drain { vip, addr, options } => {
                let (spec, timeout) = backend_drain_spec(vip, addr, &options)
                    .map_err(|m| option_error("backend", "drain", m))?;
                Action::BackendDrain(spec, timeout)
            }
            BackendCommand::Del { vip, addr } => {
                same_family(vip, addr).map_err(|m| option_error("backend", "del", m))?;
                Action::BackendDel(BackendSpec::new(vip, addr))
            }
        },
        Command::Peer { command } => match command {
            PeerCommand::Add {
                node_id,
                addr: (addr, port),
            } => Action::PeerAdd(PeerSpec {
                node_id,
                addr,
                port,
            }),
            PeerCommand::Del { node_id } => Action::PeerDel(node_id),
            PeerCommand::List => Action::PeerList,
        },
        Command::Cluster { command } => match command {
            ClusterCommand::Add { node_id } => Action::ClusterAdd(node_id),
            ClusterCommand::Del { node_id } => Action::ClusterDel(node_id),
            ClusterCommand::List => Action::ClusterList,
            ClusterCommand::Rank { client, vip } => {
                if client.is_ipv4() != vip.is_ipv4() {
                    let why = format!(
                        "client {client} is {}, service {vip} is {}",
                        family(client.ip()),
                        family(vip.ip())
                    );
                    return Err(option_error("cluster", "rank", why));
                }
                Action::ClusterRank(client, vip)
            }
        },
        Command::Conn {
            command: ConnCommand::List { filters },
        } => Action::ConnList(conn_filter(&filters).map_err(|m| option_error("conn", "list", m))?),
        Command::Rule { command } => match command {
            RuleCommand::Add { vip, words } => {
                Action::RuleAdd(rule_spec(vip, &words).map_err(|m| option_error("rule", "add", m))?)
            }
            RuleCommand::Del { vip, index } => Action::RuleDel(vip, index),
            RuleCommand::List { vip } => Action::RuleList(vip),
        },
        Command::Monitor => Action::Monitor,
        Command::Stats { prometheus: false } => Action::Stats,
        Command::Stats { prometheus: true } if format == Format::Text => Action::Metrics,
        Command::Stats { prometheus: true } => {
            let mut c = Cli::command();
            c.build();
            let msg = "--prometheus prints the Prometheus text format: leave out -j and -p";
            return Err(match c.find_subcommand_mut("stats") {
                Some(s) => s.error(ErrorKind::ArgumentConflict, msg),
                None => c.error(ErrorKind::ArgumentConflict, msg),
            });
        }
        Command::Save => Action::Save,
        Command::Restore { file, check } => Action::Restore { file, check },
        Command::Man => Action::Man,
        Command::Completions { shell } => Action::Completions(shell),
    };
    Ok(Invocation { format, action })
}

/// The clap description of the command line (for the manual page).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Turns a bad `config set` word into a usage error of `batonctl config set`.
fn set_usage_error(e: SettingError) -> clap::Error {
    let mut cmd = Cli::command();
    cmd.build();
    let kind = match e {
        SettingError::UnknownKey(_) => ErrorKind::InvalidValue,
        SettingError::MissingValue(_) => ErrorKind::TooFewValues,
        SettingError::Duplicate(_) => ErrorKind::ArgumentConflict,
        SettingError::InvalidValue { .. } | SettingError::InvalidKey => ErrorKind::ValueValidation,
    };
    match cmd
        .find_subcommand_mut("config")
        .and_then(|c| c.find_subcommand_mut("set"))
    {
        Some(set) => set.error(kind, e),
        None => cmd.error(kind, e),
    }
}

/// A `config set` word that is not a valid `KEY VALUE` pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingError {
    /// The key is not a setting.
    UnknownKey(String),
    /// The last key has no value.
    MissingValue(&'static str),
    /// The key was given twice.
    Duplicate(&'static str),
    /// The value is out of range or not a number.
    InvalidValue {
        /// The setting.
        key: &'static str,
        /// The value as given.
        value: String,
        /// The values the setting takes.
        range: &'static str,
    },
    /// A key that is not 16 to 64 bytes of hex (the value is not shown).
    InvalidKey,
}

/// What `config set` changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// The scalar settings.
    pub update: ConfigUpdate,
    /// The control-channel key, if it changes.
    pub key: Option<KeySetting>,
}

/// A new control-channel key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySetting {
    /// These bytes (16 to 64).
    Bytes(Vec<u8>),
    /// Hex read from this file when the command runs.
    File(std::path::PathBuf),
    /// No key: the control channel is not authenticated.
    Remove,
}

/// Parses a key given as hex digits (an optional `0x`, whitespace around it
/// ignored): 16 to 64 bytes.
pub fn parse_key(text: &str) -> Result<Vec<u8>, SettingError> {
    let text = text.trim();
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if !digits.len().is_multiple_of(2) || !KEY_LEN.contains(&(digits.len() / 2)) {
        return Err(SettingError::InvalidKey);
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or(SettingError::InvalidKey)
        })
        .collect()
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingError::UnknownKey(key) => write!(
                f,
                "unknown setting '{key}' (expected one of {})",
                SETTINGS.join(", ")
            ),
            SettingError::MissingValue(key) => write!(f, "missing value for '{key}'"),
            SettingError::Duplicate(key) => write!(f, "'{key}' is given more than once"),
            SettingError::InvalidValue { key, value, range } => write!(
                f,
                "invalid value '{value}' for '{key}': expected an integer from {range}"
            ),
            SettingError::InvalidKey => write!(
                f,
                "invalid value for '{KEY}': expected 32 to 128 hex digits (16 to 64 bytes), or none"
            ),
        }
    }
}

impl std::error::Error for SettingError {}

/// Parses the `KEY VALUE` words of `config set`: each setting at most once,
/// `ctrl-port` 1 to 65535, `node-id` any `u32`. Keys may be abbreviated to
/// any unambiguous prefix, as in `ip(8)`.
pub fn parse_settings<S: AsRef<str>>(words: &[S]) -> Result<Settings, SettingError> {
    let mut update = ConfigUpdate::default();
    let mut key_setting = None;
    let mut words = words.iter().map(AsRef::as_ref);
    while let Some(word) = words.next() {
        let key = SETTINGS
            .into_iter()
            .find(|k| !word.is_empty() && k.starts_with(word))
            .ok_or_else(|| SettingError::UnknownKey(word.to_owned()))?;
        let value = words.next().ok_or(SettingError::MissingValue(key))?;
        let invalid = |range| SettingError::InvalidValue {
            key,
            value: value.to_owned(),
            range,
        };
        let timeout = |slot: &mut Option<u32>, r: TimeoutRange, range| {
            if slot.is_some() {
                return Err(SettingError::Duplicate(key));
            }
            *slot = Some(
                parse_decimal::<u32>(value)
                    .filter(|&ms| r.contains(ms))
                    .ok_or_else(|| invalid(range))?,
            );
            Ok(())
        };
        match key {
            CTRL_PORT => {
                if update.ctrl_port.is_some() {
                    return Err(SettingError::Duplicate(key));
                }
                let port = parse_decimal::<u16>(value)
                    .filter(|&p| p != 0)
                    .ok_or_else(|| invalid("1 to 65535"))?;
                update.ctrl_port = Some(port);
            }
            NODE_ID => {
                if update.node_id.is_some() {
                    return Err(SettingError::Duplicate(key));
                }
                let id = parse_decimal::<u32>(value).ok_or_else(|| invalid("0 to 4294967295"))?;
                update.node_id = Some(id);
            }
            REQUEST_TIMEOUT => timeout(
                &mut update.request_timeout_ms,
                config::REQUEST_TIMEOUT,
                "100 to 60000",
            )?,
            HANDOFF_TIMEOUT => timeout(
                &mut update.handoff_timeout_ms,
                config::HANDOFF_TIMEOUT,
                "100 to 30000",
            )?,
            IDLE_TIMEOUT => timeout(
                &mut update.idle_timeout_ms,
                config::IDLE_TIMEOUT,
                "1000 to 86400000",
            )?,
            HEARTBEAT_TIMEOUT => timeout(
                &mut update.heartbeat_timeout_ms,
                config::HEARTBEAT_TIMEOUT,
                "2000 to 60000",
            )?,
            COPIES if value == ALL => {
                if update.copies.is_some() {
                    return Err(SettingError::Duplicate(key));
                }
                update.copies = Some(config::COPIES.max);
            }
            COPIES => timeout(&mut update.copies, config::COPIES, "1 to 63 or all")?,
            _ => {
                if key_setting.is_some() {
                    return Err(SettingError::Duplicate(KEY));
                }
                key_setting = Some(match (key, value) {
                    (KEY, "none") => KeySetting::Remove,
                    (KEY, hex) => KeySetting::Bytes(parse_key(hex)?),
                    (_, path) => KeySetting::File(path.into()),
                });
            }
        }
    }
    Ok(Settings {
        update,
        key: key_setting,
    })
}

/// Parses plain decimal digits (no sign, no spaces).
fn parse_decimal<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Invocation {
        let mut argv = vec!["batonctl"];
        argv.extend_from_slice(args);
        parse(argv).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn service_and_backend_commands() {
        let vip: SocketAddr = "198.18.1.10:80".parse().unwrap();
        let be: SocketAddr = "198.18.2.2:8080".parse().unwrap();
        assert_eq!(
            parse_ok(&["service", "add", "198.18.1.10:80", "scheduler", "wrr"]).action,
            Action::ServiceAdd(ServiceSpec {
                vip,
                scheduler: Some(Scheduler::Wrr),
                max_conns: None,
                dispatch: None,
            })
        );
        assert_eq!(
            parse_ok(&["service", "add", "198.18.1.10:80"]).action,
            Action::ServiceAdd(ServiceSpec {
                vip,
                scheduler: None,
                max_conns: None,
                dispatch: None,
            })
        );
        assert_eq!(
            parse_ok(&["service", "add", "198.18.1.10:80", "max-conns", "500"]).action,
            Action::ServiceAdd(ServiceSpec {
                vip,
                scheduler: None,
                max_conns: Some(500),
                dispatch: None,
            })
        );
        assert_eq!(
            parse_ok(&["service", "del", "198.18.1.10:80"]).action,
            Action::ServiceDel(vip)
        );
        assert_eq!(
            parse_ok(&["-j", "service", "list"]).action,
            Action::ServiceList
        );
        assert_eq!(
            parse_ok(&[
                "backend",
                "add",
                "198.18.1.10:80",
                "198.18.2.2:8080",
                "weight",
                "3",
                "peer",
                "2"
            ])
            .action,
            Action::BackendAdd(BackendSpec {
                vip,
                addr: be,
                weight: Some(3),
                peer: Some(2),
                drain: None
            })
        );
        for bad in [
            &["service", "add", "198.18.1.10"][..],
            &["service", "add", "198.18.1.10:80", "scheduler", "fast"],
            &["service", "add", "198.18.1.10:80", "sched"],
            &[
                "backend",
                "add",
                "198.18.1.10:80",
                "198.18.2.2:8080",
                "weight",
                "70000",
            ],
            &[
                "backend",
                "add",
                "198.18.1.10:80",
                "198.18.2.2:8080",
                "weight",
                "1",
                "weight",
                "2",
            ],
            &[
                "backend",
                "add",
                "198.18.1.10:80",
                "198.18.2.2:8080",
                "color",
                "red",
            ],
            &[
                "backend",
                "add",
                "198.18.1.10:80",
                "198.18.2.2:8080",
                "peer",
            ],
        ] {
            assert_eq!(parse_err(bad).kind(), ErrorKind::ValueValidation, "{bad:?}");
        }
    }

    #[test]
    fn service_dispatch() {
        let spec = |vip: &str, scheduler, max_conns, dispatch| {
            Action::ServiceAdd(ServiceSpec {
                vip: vip.parse().unwrap(),
                scheduler,
                max_conns,
                dispatch,
            })
        };
        assert_eq!(
            parse_ok(&["service", "add", "198.18.1.10:80", "dispatch", "connection"]).action,
            spec("198.18.1.10:80", None, None, Some(Dispatch::Connection))
        );
        assert_eq!(
            parse_ok(&["service", "add", "198.18.1.10:80", "dispatch", "request"]).action,
            spec("198.18.1.10:80", None, None, Some(Dispatch::Request))
        );
        // With the other options, in any order; IPv6 as the others.
        assert_eq!(
            parse_ok(&[
                "service",
                "add",
                "[2001:db8::10]:80",
                "dispatch",
                "connection",
                "scheduler",
                "wrr",
                "max-conns",
                "100"
            ])
            .action,
            spec(
                "[2001:db8::10]:80",
                Some(Scheduler::Wrr),
                Some(100),
                Some(Dispatch::Connection)
            )
        );
        assert_eq!(
            parse_ok(&[
                "service",
                "add",
                "198.18.1.10:80",
                "scheduler",
                "rr",
                "max-conns",
                "3",
                "dispatch",
                "request"
            ])
            .action,
            spec(
                "198.18.1.10:80",
                Some(Scheduler::Rr),
                Some(3),
                Some(Dispatch::Request)
            )
        );
        for (bad, why) in [
            (
                &["dispatch", "each"][..],
                "unknown dispatch 'each' (expected connection or request)",
            ),
            (
                &["dispatch", "Request"],
                "unknown dispatch 'Request' (expected connection or request)",
            ),
            (&["dispatch"], "missing value for 'dispatch'"),
            (
                &["dispatch", "request", "dispatch", "connection"],
                "'dispatch' is given more than once",
            ),
            (
                &["dispatching", "request"],
                "unknown option 'dispatching' (expected scheduler or max-conns or dispatch)",
            ),
        ] {
            let mut argv = vec!["service", "add", "198.18.1.10:80"];
            argv.extend_from_slice(bad);
            let e = parse_err(&argv);
            assert_eq!(e.kind(), ErrorKind::ValueValidation, "{bad:?}");
            assert_eq!(e.exit_code(), 2, "{bad:?}");
            assert!(e.to_string().contains(why), "{bad:?}: {e}");
        }
        // The names and numbers of the spec's enum, both ways.
        for (d, name, v) in [
            (Dispatch::Connection, "connection", dispatch::CONNECTION),
            (Dispatch::Request, "request", dispatch::REQUEST),
        ] {
            assert_eq!((d.name(), d.uapi()), (name, v));
            assert_eq!(Dispatch::from_uapi(v), Some(d));
        }
        assert_eq!(Dispatch::from_uapi(2), None);
    }

    #[test]
    fn backend_set_takes_a_weight_only() {
        let vip: SocketAddr = "198.18.1.10:80".parse().unwrap();
        let be: SocketAddr = "198.18.2.2:8080".parse().unwrap();
        let set = |weight| {
            Action::BackendSet(BackendSpec {
                vip,
                addr: be,
                weight: Some(weight),
                peer: None,
                drain: None,
            })
        };
        for (w, text) in [(0, "0"), (3, "3"), (65535, "65535")] {
            assert_eq!(
                parse_ok(&[
                    "backend",
                    "set",
                    "198.18.1.10:80",
                    "198.18.2.2:8080",
                    "weight",
                    text
                ])
                .action,
                set(w)
            );
        }
        // Abbreviated, as the other commands.
        assert_eq!(
            parse_ok(&["b", "s", "198.18.1.10:80", "198.18.2.2:8080", "weight", "0"]).action,
            set(0)
        );
        let err = |words: &[&str]| {
            let mut argv = vec!["backend", "set"];
            argv.extend_from_slice(words);
            let e = parse_err(&argv);
            assert_eq!(e.exit_code(), 2, "{words:?}");
            assert!(e.use_stderr(), "{words:?}");
            e.to_string()
        };
        let ends = ["198.18.1.10:80", "198.18.2.2:8080"];
        let with = |words: &[&'static str]| [&ends[..], words].concat();
        for (words, want) in [
            (
                with(&[]),
                "backend set needs 'weight N' (0 to 65535) or 'drain on|off'",
            ),
            (
                with(&["weight", "65536"]),
                "invalid value '65536' for 'weight': expected 0 to 65535",
            ),
            (
                with(&["weight", "x"]),
                "invalid value 'x' for 'weight': expected an integer",
            ),
            (with(&["weight"]), "missing value for 'weight'"),
            (
                with(&["weight", "1", "weight", "2"]),
                "'weight' is given more than once",
            ),
            (
                with(&["scheduler", "rr"]),
                "unknown option 'scheduler' (expected weight or drain)",
            ),
            (
                with(&["weight", "1", "peer", "2"]),
                "a backend's peer cannot change: batonctl backend del 198.18.1.10:80 \
                 198.18.2.2:8080, then batonctl backend add 198.18.1.10:80 198.18.2.2:8080 \
                 peer NODE-ID",
            ),
            (with(&["peer", "2"]), "a backend's peer cannot change"),
            (with(&["peer"]), "a backend's peer cannot change"),
        ] {
            let text = err(&words);
            assert!(text.contains(want), "{words:?}: {text}");
            // The usage of the command follows, as for backend add.
            assert!(text.contains("batonctl backend set"), "{words:?}: {text}");
        }
        // The addresses are read as backend add reads them.
        for (words, want) in [
            (
                vec!["198.18.1.10", "198.18.2.2:8080", "weight", "1"],
                "'198.18.1.10' needs a port (ADDR:PORT)",
            ),
            (
                vec!["198.18.1.10:80", "[2001:db8::2]:8080", "weight", "1"],
                "backend [2001:db8::2]:8080 is IPv6, service 198.18.1.10:80 is IPv4",
            ),
            (
                vec!["[2001:db8::10]:80", "[ff02::2]:8080", "weight", "1"],
                "'ff02::2' is a multicast address: a back-end needs a unicast IPv6 address",
            ),
        ] {
            let text = err(&words);
            assert!(text.contains(want), "{words:?}: {text}");
        }
        assert_eq!(
            parse_err(&["backend", "set", "198.18.1.10:80"]).kind(),
            ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn backend_set_drains_and_ends_a_drain() {
        let set = |words: &[&str]| {
            let mut argv = vec!["backend", "set", "198.18.1.10:80", "198.18.2.2:8080"];
            argv.extend_from_slice(words);
            match parse_ok(&argv).action {
                Action::BackendSet(b) => (b.weight, b.drain, b.peer),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(set(&["drain", "on"]), (None, Some(true), None));
        assert_eq!(set(&["drain", "off"]), (None, Some(false), None));
        // A weight with it, in either order: ending a drain at a weight,
        // or a drain at the weight it has (0).
        assert_eq!(
            set(&["drain", "off", "weight", "3"]),
            (Some(3), Some(false), None)
        );
        assert_eq!(
            set(&["weight", "0", "drain", "on"]),
            (Some(0), Some(true), None)
        );
        let err = |words: &[&str]| {
            let mut argv = vec!["backend", "set", "198.18.1.10:80", "198.18.2.2:8080"];
            argv.extend_from_slice(words);
            let e = parse_err(&argv);
            assert_eq!(e.exit_code(), 2, "{words:?}");
            let text = e.to_string();
            assert!(text.contains("batonctl backend set"), "{words:?}: {text}");
            text
        };
        for (words, want) in [
            (
                &["drain", "on", "weight", "2"][..],
                "a draining backend's weight is 0: 'drain on' with 'weight 2'",
            ),
            (
                &["drain", "yes"],
                "invalid value 'yes' for 'drain': expected on or off",
            ),
            (&["drain"], "missing value for 'drain'"),
            (
                &["drain", "on", "drain", "off"],
                "'drain' is given more than once",
            ),
        ] {
            let text = err(words);
            assert!(text.contains(want), "{words:?}: {text}");
        }
        // backend add takes no drain: the kernel's is for connections.
        let e = parse_err(&[
            "backend",
            "add",
            "198.18.1.10:80",
            "198.18.2.2:8080",
            "drain",
            "on",
        ])
        .to_string();
        assert!(
            e.contains(
                "drain applies to a backend's connections: batonctl backend add 198.18.1.10:80 \
                 198.18.2.2:8080 weight 0, then batonctl backend drain 198.18.1.10:80 \
                 198.18.2.2:8080"
            ),
            "{e}"
        );
    }

    #[test]
    fn backend_drain_with_and_without_a_timeout() {
        let drain = |words: &[&str]| {
            let mut argv = vec!["backend", "drain"];
            argv.extend_from_slice(words);
            match parse_ok(&argv).action {
                Action::BackendDrain(b, timeout) => (b, timeout),
                other => panic!("{other:?}"),
            }
        };
        let (b, timeout) = drain(&["198.18.1.10:80", "198.18.2.2:8080"]);
        assert_eq!(
            b,
            BackendSpec {
                drain: Some(true),
                ..BackendSpec::new(
                    "198.18.1.10:80".parse().unwrap(),
                    "198.18.2.2:8080".parse().unwrap()
                )
            }
        );
        assert_eq!(timeout, None);
        // What it counts: the front-end connections of the service to it.
        assert_eq!(
            b.front_conns(),
            ConnFilter {
                service: Some(b.vip),
                backend: Some(b.addr),
                role: Some(Role::Front),
                ..ConnFilter::default()
            }
        );
        for (s, want) in [("1", 1), ("30", 30), ("86400", DRAIN_TIMEOUT_MAX)] {
            let (_, timeout) = drain(&["198.18.1.10:80", "198.18.2.2:8080", "timeout", s]);
            assert_eq!(timeout, Some(want), "{s}");
        }
        let (b, timeout) = drain(&["[2001:db8::10]:80", "[2001:db8::2:2]:8080", "timeout", "5"]);
        assert_eq!(
            (b.addr, timeout),
            ("[2001:db8::2:2]:8080".parse().unwrap(), Some(5))
        );
        // Abbreviated, as the other commands.
        assert!(matches!(
            parse_ok(&["b", "dr", "198.18.1.10:80", "198.18.2.2:8080"]).action,
            Action::BackendDrain(_, None)
        ));
        for (words, want) in [
            (
                &["timeout", "0"][..],
                "invalid value '0' for 'timeout': expected 1 to 86400 seconds",
            ),
            (
                &["timeout", "86401"],
                "invalid value '86401' for 'timeout': expected 1 to 86400 seconds",
            ),
            (&["timeout", "-1"], "unexpected argument '-1'"),
            (
                &["timeout", "1.5"],
                "invalid value '1.5' for 'timeout': expected 1 to 86400 seconds",
            ),
            (&["timeout"], "missing value for 'timeout'"),
            (
                &["timeout", "1", "timeout", "2"],
                "'timeout' is given more than once",
            ),
            (
                &["weight", "0"],
                "unknown option 'weight' (expected timeout)",
            ),
        ] {
            let mut argv = vec!["backend", "drain", "198.18.1.10:80", "198.18.2.2:8080"];
            argv.extend_from_slice(words);
            let e = parse_err(&argv);
            assert_eq!(e.exit_code(), 2, "{words:?}");
            let text = e.to_string();
            assert!(text.contains(want), "{words:?}: {text}");
            assert!(text.contains("batonctl backend drain"), "{words:?}: {text}");
        }
        let e = parse_err(&["backend", "drain", "[2001:db8::10]:80", "198.18.2.2:8080"]);
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .contains("backend 198.18.2.2:8080 is IPv4, service [2001:db8::10]:80 is IPv6"),
            "{e}"
        );
    }

    #[test]
    fn host_wildcard_is_a_domain() {
        let host = |words: &[&str]| {
            let mut argv = vec!["rule", "add", "198.18.1.10:80"];
            argv.extend_from_slice(words);
            argv.extend_from_slice(&["to", "198.18.2.2:80"]);
            match parse_ok(&argv).action {
                Action::RuleAdd(r) => r.host.map(|(h, d)| (h.as_bytes().to_vec(), d)),
                other => panic!("{other:?}"),
            }
        };
        let domain = Some((b"example.com".to_vec(), true));
        assert_eq!(host(&["host", "*.example.com"]), domain);
        assert_eq!(host(&["domain", "example.com"]), domain);
        assert_eq!(
            host(&["host", "www.example.com"]),
            Some((b"www.example.com".to_vec(), false))
        );
        for bad in [
            &["host", "*."][..],
            &["host", "a.*.example.com"],
            &["domain", "*.example.com"],
            &["host", "*.a", "domain", "a"],
        ] {
            let mut argv = vec!["rule", "add", "198.18.1.10:80"];
            argv.extend_from_slice(bad);
            argv.extend_from_slice(&["to", "198.18.2.2:80"]);
            let e = parse_err(&argv);
            assert_eq!(e.exit_code(), 2, "{bad:?}");
            assert!(e.to_string().contains(bad[0]), "{bad:?}: {e}");
        }
    }

    #[test]
    fn rule_words_may_start_with_a_dash() {
        let Action::RuleAdd(r) = parse_ok(&[
            "rule",
            "add",
            "198.18.1.10:80",
            "host",
            "-a.example",
            "to",
            "198.18.2.2:80",
        ])
        .action
        else {
            panic!("not a rule add");
        };
        assert_eq!(
            r.host.map(|(h, d)| (h.as_bytes().to_vec(), d)),
            Some((b"-a.example".to_vec(), false))
        );
    }

    #[test]
    fn peer_commands() {
        assert_eq!(
            parse_ok(&["peer", "add", "2", "198.18.0.2:7400"]).action,
            Action::PeerAdd(PeerSpec {
                node_id: 2,
                addr: Ipv4Addr::new(198, 18, 0, 2).into(),
                port: Some(7400)
            })
        );
        assert_eq!(
            parse_ok(&["peer", "add", "2", "198.18.0.2"]).action,
            Action::PeerAdd(PeerSpec {
                node_id: 2,
                addr: Ipv4Addr::new(198, 18, 0, 2).into(),
                port: None
            })
        );
        assert_eq!(
            parse_ok(&["peer", "add", "3", "[2001:db8::3]:7400"]).action,
            Action::PeerAdd(PeerSpec {
                node_id: 3,
                addr: "2001:db8::3".parse().unwrap(),
                port: Some(7400)
            })
        );
        assert_eq!(parse_ok(&["peer", "del", "2"]).action, Action::PeerDel(2));
        assert_eq!(parse_ok(&["-j", "peer", "list"]).action, Action::PeerList);
        assert_eq!(parse_ok(&["peer", "show"]).action, Action::PeerList);
        let all = Action::ConnList(ConnFilter::default());
        assert_eq!(parse_ok(&["conn", "list"]).action, all);
        assert_eq!(parse_ok(&["-j", "conn", "show"]).action, all);
        assert_eq!(parse_ok(&["stats"]).action, Action::Stats);
        assert_eq!(parse_ok(&["monitor"]).action, Action::Monitor);
        assert_eq!(parse_ok(&["stats", "--prometheus"]).action, Action::Metrics);
        for json in ["-j", "-p"] {
            let e = parse(["batonctl", json, "stats", "--prometheus"]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ArgumentConflict);
            assert!(e.to_string().contains("leave out -j"), "{e}");
        }
        assert_eq!(parse_ok(&["rule", "list"]).action, Action::RuleList(None));
        assert_eq!(
            parse_ok(&["-j", "rule", "show", "198.18.1.10:80"]).action,
            Action::RuleList(Some("198.18.1.10:80".parse().unwrap()))
        );
        assert_eq!(
            parse_ok(&["rule", "del", "198.18.1.10:80", "2"]).action,
            Action::RuleDel("198.18.1.10:80".parse().unwrap(), 2)
        );
        let Action::RuleAdd(r) = parse_ok(&[
            "rule",
            "add",
            "198.18.1.10:80",
            "domain",
            "example.com",
            "path",
            "/b/",
            "to",
            "198.18.2.2:8080",
            "index",
            "0",
        ])
        .action
        else {
            panic!("not a rule add");
        };
        assert_eq!(
            r.host.map(|(h, d)| (h.as_bytes().to_vec(), d)),
            Some((b"example.com".to_vec(), true))
        );
        assert_eq!(r.path.map(|p| p.as_bytes().to_vec()), Some(b"/b/".to_vec()));
        assert_eq!(r.backend, "198.18.2.2:8080".parse().unwrap());
        assert_eq!(r.index, Some(0));
        for bad in [
            &["rule", "add", "198.18.1.10:80", "to", "198.18.2.2:80"][..],
            &["rule", "add", "198.18.1.10:80", "host", "a.example"],
            &[
                "rule",
                "add",
                "198.18.1.10:80",
                "path",
                "b/",
                "to",
                "198.18.2.2:80",
            ],
            &[
                "rule",
                "add",
                "198.18.1.10:80",
                "host",
                "a b",
                "to",
                "198.18.2.2:80",
            ],
            &[
                "rule",
                "add",
                "198.18.1.10:80",
                "host",
                "a",
                "domain",
                "b",
                "to",
                "1.2.3.4:80",
            ],
        ] {
            let mut argv = vec!["batonctl"];
            argv.extend_from_slice(bad);
            let e = parse(argv).expect_err("refused");
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
        for bad in [
            &["peer", "add", "0", "198.18.0.2"][..],
            &["peer", "add", "2", "198.18.0"],
            &["peer", "add", "2", "198.18.0.2:0"],
            &["peer", "add", "2", "198.18.0.2:70000"],
            &["peer", "add", "2", "fe80::1"],
            &["peer", "add", "2", "[2001:db8::2:7000"],
            &["peer", "del", "x"],
        ] {
            assert_eq!(parse_err(bad).kind(), ErrorKind::ValueValidation, "{bad:?}");
        }
        let e = parse_err(&["peer", "add", "2", "ff02::1"]).to_string();
        assert!(
            e.contains("'ff02::1' is a multicast address: a peer needs a unicast IPv6 address"),
            "{e}"
        );
        assert_eq!(
            parse_err(&["peer", "add", "2"]).kind(),
            ErrorKind::MissingRequiredArgument
        );
    }

    /// Every form of a peer's address that `ip` and curl write.
    #[test]
    fn peer_addresses_ipv4_and_ipv6() {
        let v6 = |s: &str| IpAddr::V6(s.parse().unwrap());
        let v4 = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
        for (text, want) in [
            ("198.18.0.2", (v4, None)),
            ("198.18.0.2:7000", (v4, Some(7000))),
            ("198.18.0.2:65535", (v4, Some(65535))),
            ("2001:db8::2", (v6("2001:db8::2"), None)),
            ("[2001:db8::2]", (v6("2001:db8::2"), None)),
            ("[2001:db8::2]:7000", (v6("2001:db8::2"), Some(7000))),
            ("[2001:db8::2]:1", (v6("2001:db8::2"), Some(1))),
            ("2001:DB8:0:0:0:0:0:2", (v6("2001:db8::2"), None)),
            // Without brackets the last group is the address's, as ip
            // and curl read it.
            ("2001:db8::2:7000", (v6("2001:db8::2:7000"), None)),
            // Unique local, and an IPv4-compatible one (deprecated, not
            // mapped): unicast, the kernel's to judge.
            ("[fd00::2]:7000", (v6("fd00::2"), Some(7000))),
            ("::198.18.0.2", (v6("::c612:2"), None)),
        ] {
            assert_eq!(parse_peer_addr(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn peer_address_errors_say_what_is_wrong() {
        for (text, want) in [
            ("198.18.0", "'198.18.0' is not an IPv4 or IPv6 address"),
            ("x:7000", "'x' is not an IPv4 or IPv6 address"),
            ("", "'' is not an IPv4 or IPv6 address"),
            ("198.18.0.2:0", "'0' is not a port from 1 to 65535"),
            ("198.18.0.2:65536", "'65536' is not a port from 1 to 65535"),
            ("198.18.0.2:", "'' is not a port from 1 to 65535"),
            ("[2001:db8::2]:0", "'0' is not a port from 1 to 65535"),
            (
                "[2001:db8::2]:65536",
                "'65536' is not a port from 1 to 65535",
            ),
            ("[2001:db8::2]:http", "'http' is not a port from 1 to 65535"),
            (
                "[2001:db8::2:7000",
                "'[2001:db8::2:7000': unbalanced bracket (an IPv6 address with a port is \
                 [ADDR]:PORT)",
            ),
            (
                "2001:db8::2]:7000",
                "'2001:db8::2]:7000': unbalanced bracket (an IPv6 address with a port is \
                 [ADDR]:PORT)",
            ),
            (
                "[198.18.0.2]:7000",
                "'198.18.0.2' is not an IPv6 address (brackets are for IPv6 only)",
            ),
            (
                "[2001:db8::2]7000",
                "'[2001:db8::2]7000' is not [ADDR] or [ADDR]:PORT",
            ),
            (
                "[[2001:db8::2]]",
                "'[2001:db8::2' is not an IPv6 address (brackets are for IPv6 only)",
            ),
            (
                "2001:db8::2:70000",
                "'2001:db8::2:70000' is not an IPv4 or IPv6 address (an IPv6 address with a \
                 port is [ADDR]:PORT)",
            ),
            (
                "2001:db8:::2",
                "'2001:db8:::2' is not an IPv4 or IPv6 address",
            ),
            (
                "fe80::1%eth0",
                "'fe80::1%eth0' has a zone id (%eth0): give an address without one",
            ),
            (
                "[fe80::1%2]:7000",
                "'[fe80::1%2]:7000' has a zone id (%2): give an address without one",
            ),
            (
                "2001:db8::2%0",
                "'2001:db8::2%0' has a zone id (%0): give an address without one",
            ),
            // The kernel's rules for addr6.
            (
                "::",
                "'::' is the unspecified address: a peer needs a unicast IPv6 address",
            ),
            (
                "[::1]:7000",
                "'::1' is the loopback address: a peer needs a unicast IPv6 address",
            ),
            (
                "ff02::1",
                "'ff02::1' is a multicast address: a peer needs a unicast IPv6 address",
            ),
            (
                "[ff0e::2]:7000",
                "'ff0e::2' is a multicast address: a peer needs a unicast IPv6 address",
            ),
            (
                "fe80::1",
                "'fe80::1' is link-local: a link-local peer address needs an interface, not \
                 supported",
            ),
            (
                "[febf::1]:7000",
                "'febf::1' is link-local: a link-local peer address needs an interface, not \
                 supported",
            ),
            (
                "::ffff:198.18.0.2",
                "'::ffff:198.18.0.2' is an IPv4-mapped address: give the IPv4 address \
                 198.18.0.2",
            ),
            (
                "[::ffff:198.18.0.2]:7000",
                "'::ffff:198.18.0.2' is an IPv4-mapped address: give the IPv4 address \
                 198.18.0.2",
            ),
        ] {
            assert_eq!(parse_peer_addr(text), Err(want.to_string()), "{text}");
        }
        // Just outside fe80::/10 and ff00::/8: global unicast as far as
        // the rules go.
        for ok in ["fec0::1", "fe7f::1", "feff::1"] {
            assert!(parse_peer_addr(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn service_and_backend_addresses_of_either_family() {
        let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
        for (text, want) in [
            ("198.18.1.10:80", sa("198.18.1.10:80")),
            ("[2001:db8::10]:80", sa("[2001:db8::10]:80")),
            ("[2001:DB8:0:0:0:0:0:10]:65535", sa("[2001:db8::10]:65535")),
            ("[2001:db8:ffff::10]:1", sa("[2001:db8:ffff::10]:1")),
        ] {
            assert_eq!(parse_vip(text), Ok(want), "{text}");
            assert_eq!(parse_backend(text), Ok(want), "{text}");
        }
        for (text, want) in [
            ("x:80", "'x' is not an IPv4 or IPv6 address"),
            ("198.18.1.10", "'198.18.1.10' needs a port (ADDR:PORT)"),
            ("2001:db8::10", "'2001:db8::10' needs a port ([ADDR]:PORT)"),
            (
                "[2001:db8::10]",
                "'[2001:db8::10]' needs a port ([ADDR]:PORT)",
            ),
            // The last group is the address's, as for peers.
            (
                "2001:db8::10:80",
                "'2001:db8::10:80' needs a port ([ADDR]:PORT)",
            ),
            ("[2001:db8::10]:0", "'0' is not a port from 1 to 65535"),
            (
                "[2001:db8::10:80",
                "'[2001:db8::10:80': unbalanced bracket (an IPv6 address with a port is \
                 [ADDR]:PORT)",
            ),
            (
                "[fe80::10%2]:80",
                "'[fe80::10%2]:80' has a zone id (%2): give an address without one",
            ),
            // The kernel's rules for addr6.
            (
                "[::]:80",
                "'::' is the unspecified address: a service needs a unicast IPv6 address",
            ),
            (
                "[::1]:80",
                "'::1' is the loopback address: a service needs a unicast IPv6 address",
            ),
            (
                "[ff02::10]:80",
                "'ff02::10' is a multicast address: a service needs a unicast IPv6 address",
            ),
            (
                "[fe80::10]:80",
                "'fe80::10' is link-local: a link-local service address needs an interface, \
                 not supported",
            ),
            (
                "[::ffff:198.18.1.10]:80",
                "'::ffff:198.18.1.10' is an IPv4-mapped address: give the IPv4 address \
                 198.18.1.10",
            ),
        ] {
            assert_eq!(parse_vip(text), Err(want.to_string()), "{text}");
        }
        assert_eq!(
            parse_backend("[ff02::2]:8080"),
            Err("'ff02::2' is a multicast address: a back-end needs a unicast IPv6 address".into())
        );
        assert_eq!(
            parse_backend("[fe80::2]:8080"),
            Err(
                "'fe80::2' is link-local: a link-local back-end address needs an interface, \
                 not supported"
                    .into()
            )
        );
    }

    #[test]
    fn ipv6_services_backends_and_rules() {
        let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
        let vip = sa("[2001:db8::10]:80");
        let be = sa("[2001:db8::2:2]:8080");
        assert_eq!(
            parse_ok(&["service", "add", "[2001:db8::10]:80", "scheduler", "sh"]).action,
            Action::ServiceAdd(ServiceSpec {
                vip,
                scheduler: Some(Scheduler::Sh),
                max_conns: None,
                dispatch: None,
            })
        );
        assert_eq!(
            parse_ok(&["service", "del", "[2001:db8::10]:80"]).action,
            Action::ServiceDel(vip)
        );
        let spec = |weight, peer| BackendSpec {
            vip,
            addr: be,
            weight,
            peer,
            drain: None,
        };
        assert_eq!(
            parse_ok(&[
                "backend",
                "add",
                "[2001:db8::10]:80",
                "[2001:db8::2:2]:8080",
                "weight",
                "2",
                "peer",
                "3"
            ])
            .action,
            Action::BackendAdd(spec(Some(2), Some(3)))
        );
        assert_eq!(
            parse_ok(&[
                "backend",
                "set",
                "[2001:db8::10]:80",
                "[2001:db8::2:2]:8080",
                "weight",
                "0"
            ])
            .action,
            Action::BackendSet(spec(Some(0), None))
        );
        assert_eq!(
            parse_ok(&[
                "backend",
                "del",
                "[2001:db8::10]:80",
                "[2001:db8::2:2]:8080"
            ])
            .action,
            Action::BackendDel(spec(None, None))
        );
        let Action::RuleAdd(r) = parse_ok(&[
            "rule",
            "add",
            "[2001:db8::10]:80",
            "path",
            "/v6/",
            "to",
            "[2001:db8::2:2]:8080",
        ])
        .action
        else {
            panic!("not a rule add");
        };
        assert_eq!((r.vip, r.backend, r.index), (vip, be, None));
        assert_eq!(
            parse_ok(&["rule", "del", "[2001:db8::10]:80", "1"]).action,
            Action::RuleDel(vip, 1)
        );
        assert_eq!(
            parse_ok(&["rule", "list", "[2001:db8::10]:80"]).action,
            Action::RuleList(Some(vip))
        );
    }

    #[test]
    fn a_backend_of_the_other_family_is_refused() {
        let v4 = "198.18.1.10:80";
        let v6 = "[2001:db8::10]:80";
        for (argv, want) in [
            (
                vec!["backend", "add", v6, "198.18.2.1:80"],
                "backend 198.18.2.1:80 is IPv4, service [2001:db8::10]:80 is IPv6",
            ),
            (
                vec!["backend", "add", v4, "[2001:db8::2]:80", "weight", "1"],
                "backend [2001:db8::2]:80 is IPv6, service 198.18.1.10:80 is IPv4",
            ),
            (
                vec!["backend", "set", v6, "198.18.2.1:80", "weight", "0"],
                "backend 198.18.2.1:80 is IPv4, service [2001:db8::10]:80 is IPv6",
            ),
            (
                vec!["backend", "del", v6, "198.18.2.1:80"],
                "backend 198.18.2.1:80 is IPv4, service [2001:db8::10]:80 is IPv6",
            ),
            (
                vec!["rule", "add", v6, "path", "/", "to", "198.18.2.1:80"],
                "backend 198.18.2.1:80 is IPv4, service [2001:db8::10]:80 is IPv6",
            ),
        ] {
            let e = parse_err(&argv);
            assert_eq!(e.exit_code(), 2, "{argv:?}");
            let text = e.to_string();
            assert!(text.contains(want), "{argv:?}: {text}");
            // The usage of the command follows.
            let usage = format!("batonctl {} {}", argv[0], argv[1]);
            assert!(text.contains(&usage), "{argv:?}: {text}");
        }
    }

    #[test]
    fn cluster_commands() {
        assert_eq!(
            parse_ok(&["cluster", "add", "2"]).action,
            Action::ClusterAdd(2)
        );
        assert_eq!(
            parse_ok(&["cluster", "add", "4294967295"]).action,
            Action::ClusterAdd(u32::MAX)
        );
        assert_eq!(
            parse_ok(&["cluster", "del", "3"]).action,
            Action::ClusterDel(3)
        );
        assert_eq!(parse_ok(&["cluster", "show"]).action, Action::ClusterList);
        assert_eq!(parse_ok(&["cluster", "list"]).action, Action::ClusterList);
        assert_eq!(
            parse_ok(&["-j", "cluster", "show"]),
            Invocation {
                format: Format::Json,
                action: Action::ClusterList
            }
        );
        // Abbreviated, as the other commands.
        assert_eq!(parse_ok(&["cl", "sh"]).action, Action::ClusterList);
        let (client, vip) = (
            "198.18.0.2:40000".parse().unwrap(),
            "198.18.1.10:80".parse().unwrap(),
        );
        assert_eq!(
            parse_ok(&["cluster", "rank", "198.18.0.2:40000", "198.18.1.10:80"]).action,
            Action::ClusterRank(client, vip)
        );
        let (client, vip) = (
            "[2001:db8::2]:40000".parse().unwrap(),
            "[2001:db8::10]:80".parse().unwrap(),
        );
        assert_eq!(
            parse_ok(&["cl", "r", "[2001:db8::2]:40000", "[2001:db8::10]:80"]).action,
            Action::ClusterRank(client, vip)
        );
        for args in [
            &["cluster", "rank", "198.18.0.2:40000", "[2001:db8::10]:80"][..],
            &["cluster", "rank", "198.18.0.2", "198.18.1.10:80"],
            &["cluster", "rank", "198.18.0.2:40000"],
        ] {
            parse_err(args);
        }
        let e = parse_err(&["cluster", "rank", "[2001:db8::2]:1", "198.18.1.10:80"]).to_string();
        assert!(
            e.contains("client [2001:db8::2]:1 is IPv6, service 198.18.1.10:80 is IPv4"),
            "{e}"
        );
        assert_eq!(parse_ok(&["cl", "a", "2"]).action, Action::ClusterAdd(2));
    }

    #[test]
    fn cluster_node_id_zero_is_a_usage_error() {
        for bad in [
            &["cluster", "add", "0"][..],
            &["cluster", "del", "0"],
            &["cluster", "add", "-1"],
            &["cluster", "add", "x"],
            &["cluster", "add", "4294967296"],
        ] {
            let e = parse_err(bad);
            assert_eq!(e.exit_code(), 2, "{bad:?}");
            assert!(e.use_stderr(), "{bad:?}");
            assert!(e.to_string().contains("NODE-ID"), "{bad:?}: {e}");
        }
        for bad in [
            &["cluster", "add"][..],
            &["cluster", "del"],
            &["cluster", "add", "2", "3"],
            &["cluster", "show", "2"],
            &["cluster"],
        ] {
            assert_eq!(parse_err(bad).exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn conn_list_filters() {
        let f = |words: &[&str]| {
            let mut argv = vec!["conn", "list"];
            argv.extend_from_slice(words);
            match parse_ok(&argv).action {
                Action::ConnList(f) => f,
                other => panic!("{other:?}"),
            }
        };
        assert!(f(&[]).is_empty());
        let all = f(&[
            "service",
            "198.18.1.100:80",
            "backend",
            "198.18.1.3:8080",
            "peer",
            "2",
            "state",
            "established",
            "role",
            "back",
            "client",
            "198.18.1.1",
        ]);
        assert_eq!(
            all,
            ConnFilter {
                service: Some("198.18.1.100:80".parse().unwrap()),
                backend: Some("198.18.1.3:8080".parse().unwrap()),
                peer: Some(2),
                state: Some(Phase::Established),
                role: Some(Role::Back),
                client: Some((Ipv4Addr::new(198, 18, 1, 1).into(), None)),
            }
        );
        assert!(!all.is_empty());
        assert_eq!(f(&["peer", "local"]).peer, Some(0));
        assert_eq!(f(&["peer", "0"]).peer, Some(0));
        assert_eq!(f(&["state", "handoff"]).state, Some(Phase::Frozen));
        assert_eq!(
            f(&["client", "198.18.1.1:4000"]).client,
            Some((Ipv4Addr::new(198, 18, 1, 1).into(), Some(4000)))
        );
        // Connections of either family.
        let v6 = |s: &str| IpAddr::V6(s.parse().unwrap());
        for (text, want) in [
            ("2001:db8::1", (v6("2001:db8::1"), None)),
            ("[2001:db8::1]", (v6("2001:db8::1"), None)),
            ("[2001:db8::1]:4000", (v6("2001:db8::1"), Some(4000))),
        ] {
            assert_eq!(parse_client(text), Ok(want), "{text}");
        }
        assert_eq!(
            parse_client("x"),
            Err("'x' is not an IPv4 or IPv6 address".into())
        );
        assert_eq!(
            parse_client("[::ffff:198.18.1.1]:4000"),
            Err(
                "'::ffff:198.18.1.1' is an IPv4-mapped address: give the IPv4 address 198.18.1.1"
                    .into()
            )
        );
        let ipv6 = f(&[
            "service",
            "[2001:db8::10]:80",
            "backend",
            "[2001:db8::3]:8080",
            "client",
            "[2001:db8::1]:4000",
        ]);
        assert_eq!(
            (ipv6.service, ipv6.backend, ipv6.client),
            (
                Some("[2001:db8::10]:80".parse().unwrap()),
                Some("[2001:db8::3]:8080".parse().unwrap()),
                Some((v6("2001:db8::1"), Some(4000)))
            )
        );
        // One family in a filter: a connection's addresses are.
        let e = parse_err(&[
            "conn",
            "list",
            "client",
            "2001:db8::1",
            "service",
            "198.18.1.100:80",
        ])
        .to_string();
        assert!(
            e.contains(
                "client 2001:db8::1 is IPv6, service 198.18.1.100:80 is IPv4: a connection's \
                 addresses are of one family"
            ),
            "{e}"
        );
        for bad in [
            &["service", "198.18.1.100"][..],
            &["service", "2001:db8::10"],
            &["service", "[ff02::1]:80"],
            &["backend", "x:80"],
            &["backend", "[fe80::3]:8080"],
            &["peer", "-1"],
            &["peer", "remote"],
            &["state", "closed"],
            &["role", "middle"],
            &["client", "198.18.1.1:0"],
            &["client", "[2001:db8::1]:0"],
            &["client", "::ffff:198.18.1.1"],
            &["service", "[2001:db8::10]:80", "backend", "198.18.1.3:8080"],
            &["vip", "198.18.1.100:80"],
            &["state"],
            &["state", "handoff", "state", "handoff"],
        ] {
            let mut argv = vec!["conn", "list"];
            argv.extend_from_slice(bad);
            let e = parse_err(&argv);
            assert_eq!(e.exit_code(), 2, "{bad:?}");
            assert!(e.to_string().contains("batonctl conn list"), "{bad:?}: {e}");
        }
    }

    fn parse_err(args: &[&str]) -> clap::Error {
        let mut argv = vec!["batonctl"];
        argv.extend_from_slice(args);
        match parse(argv) {
            Ok(inv) => panic!("{args:?} parsed as {inv:?}"),
            Err(e) => e,
        }
    }

    fn set(ctrl_port: Option<u16>, node_id: Option<u32>) -> Action {
        Action::ConfigSet(Settings {
            update: ConfigUpdate {
                ctrl_port,
                node_id,
                ..ConfigUpdate::default()
            },
            key: None,
        })
    }

    #[test]
    fn key_settings() {
        let key = |words: &[&str]| parse_settings(words).map(|s| s.key);
        let hex = "00112233445566778899aabbccddeeff";
        let bytes: Vec<u8> = (0..16).map(|i| i * 0x11).collect();
        assert_eq!(
            key(&["key", hex]),
            Ok(Some(KeySetting::Bytes(bytes.clone())))
        );
        assert_eq!(
            key(&["key", &format!("0x{}", hex.to_uppercase())]),
            Ok(Some(KeySetting::Bytes(bytes)))
        );
        assert_eq!(key(&["key", "none"]), Ok(Some(KeySetting::Remove)));
        assert_eq!(
            key(&["key-file", "/x/k"]),
            Ok(Some(KeySetting::File("/x/k".into())))
        );
        assert_eq!(parse_key(&"ab".repeat(64)).map(|k| k.len()), Ok(64));
        for bad in [
            "",
            "abc",
            &"ab".repeat(15),
            &"ab".repeat(65),
            &"zz".repeat(16),
        ] {
            assert_eq!(key(&["key", bad]), Err(SettingError::InvalidKey), "{bad}");
        }
        assert_eq!(
            key(&["key", "none", "key-file", "f"]),
            Err(SettingError::Duplicate(KEY))
        );
        // The error never shows the key.
        let e = parse_settings(&["key", "0123456789abcdef0123"])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("0123456789"), "{e}");
        // A key with other settings.
        let s = parse_settings(&["node-id", "3", "key", hex]).unwrap();
        assert_eq!(s.update.node_id, Some(3));
    }

    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn commands() {
        let text = |action| Invocation {
            format: Format::Text,
            action,
        };
        assert_eq!(parse_ok(&["status"]), text(Action::Status));
        assert_eq!(parse_ok(&["config", "show"]), text(Action::ConfigShow));
        assert_eq!(parse_ok(&["config"]), text(Action::ConfigShow));
        assert_eq!(parse_ok(&["man"]), text(Action::Man));
        assert_eq!(
            parse_ok(&["completions", "zsh"]),
            text(Action::Completions(CompletionShell::Zsh))
        );
        assert!(parse(["batonctl", "completions", "tcsh"]).is_err());
    }

    #[test]
    fn abbreviations() {
        assert_eq!(parse_ok(&["st"]).action, Action::Status);
        assert_eq!(parse_ok(&["conf", "sh"]).action, Action::ConfigShow);
        assert_eq!(
            parse_ok(&["c", "se", "ctrl", "7301", "n", "4"]).action,
            set(Some(7301), Some(4))
        );
    }

    #[test]
    fn formats() {
        assert_eq!(parse_ok(&["-j", "status"]).format, Format::Json);
        assert_eq!(parse_ok(&["--json", "status"]).format, Format::Json);
        assert_eq!(parse_ok(&["status", "-j"]).format, Format::Json);
        assert_eq!(parse_ok(&["-j", "-p", "status"]).format, Format::JsonPretty);
        assert_eq!(parse_ok(&["-jp", "config"]).format, Format::JsonPretty);
        assert_eq!(parse_ok(&["--pretty", "status"]).format, Format::JsonPretty);
    }

    #[test]
    fn config_set_pairs() {
        assert_eq!(
            parse_ok(&["config", "set", "ctrl-port", "7301"]).action,
            set(Some(7301), None)
        );
        assert_eq!(
            parse_ok(&["config", "set", "node-id", "42"]).action,
            set(None, Some(42))
        );
        assert_eq!(
            parse_ok(&[
                "config",
                "set",
                "node-id",
                "4294967295",
                "ctrl-port",
                "65535"
            ])
            .action,
            set(Some(65535), Some(u32::MAX))
        );
        assert_eq!(
            parse_ok(&["-j", "config", "set", "ctrl-port", "1", "node-id", "0"]).action,
            set(Some(1), Some(0))
        );
    }

    #[test]
    fn copies_setting() {
        let copies = |words: &[&str]| parse_settings(words).map(|s| s.update.copies).ok();
        assert_eq!(copies(&["copies", "1"]), Some(Some(1)));
        assert_eq!(copies(&["copies", "63"]), Some(Some(63)));
        assert_eq!(copies(&["copies", "all"]), Some(Some(63)));
        assert_eq!(copies(&["co", "2"]), Some(Some(2)));
        assert_eq!(copies(&["copies", "0"]), None);
    }

    #[test]
    fn config_set_errors_are_usage_errors() {
        for args in [
            &["config", "set"][..],
            &["config", "set", "ctrl-port"],
            &["config", "set", "ctrl-port", "0"],
            &["config", "set", "ctrl-port", "65536"],
            &["config", "set", "ctrl-port", "-1"],
            &["config", "set", "ctrl-port", "+5"],
            &["config", "set", "ctrl-port", "0x10"],
            &["config", "set", "node-id", "4294967296"],
            &["config", "set", "node-id", "-1"],
            &["config", "set", "node-id", ""],
            &["config", "set", "port", "1"],
            &["config", "set", "ctrl-port", "1", "ctrl-port", "2"],
            &["config", "set", "node-id", "1", "ctrl-port"],
            &["config", "set", "copies", "0"],
            &["config", "set", "copies", "64"],
            &["config", "set", "copies", "every"],
            &["config", "set", "copies", "all", "copies", "2"],
        ] {
            let e = parse_err(args);
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
            assert!(e.use_stderr(), "{args:?}");
        }
    }

    #[test]
    fn setting_errors_name_the_field() {
        let msg = |words: &[&str]| parse_settings(words).unwrap_err().to_string();
        assert_eq!(
            msg(&["ctrl-port", "0"]),
            "invalid value '0' for 'ctrl-port': expected an integer from 1 to 65535"
        );
        assert_eq!(
            msg(&["ctrl-port", "70000"]),
            "invalid value '70000' for 'ctrl-port': expected an integer from 1 to 65535"
        );
        assert_eq!(
            msg(&["node-id", "x"]),
            "invalid value 'x' for 'node-id': expected an integer from 0 to 4294967295"
        );
        assert_eq!(msg(&["node-id"]), "missing value for 'node-id'");
        assert_eq!(
            msg(&["node-id", "1", "node-id", "2"]),
            "'node-id' is given more than once"
        );
        assert_eq!(
            msg(&["mtu", "1"]),
            "unknown setting 'mtu' (expected one of ctrl-port, node-id, request-timeout-ms, handoff-timeout-ms, idle-timeout-ms, heartbeat-timeout-ms, copies, key, key-file)"
        );
    }

    #[test]
    fn usage_error_shows_the_config_set_usage() {
        let e = parse_err(&["config", "set", "ctrl-port", "0"]).to_string();
        assert!(e.contains("'ctrl-port'"), "{e}");
        assert!(e.contains("batonctl config set"), "{e}");
    }

    #[test]
    fn other_usage_errors() {
        for args in [
            &[][..],
            &["bogus"],
            &["status", "extra"],
            &["config", "bogus"],
            &["--bogus", "status"],
        ] {
            assert_eq!(parse_err(args).exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn help_and_version_are_not_errors() {
        for args in [&["help"][..], &["--help"], &["help", "config"], &["-V"]] {
            let e = parse_err(args);
            assert_eq!(e.exit_code(), 0, "{args:?}");
            assert!(!e.use_stderr(), "{args:?}");
        }
    }
}

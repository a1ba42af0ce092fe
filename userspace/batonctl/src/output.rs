// SPDX-License-Identifier: GPL-2.0

//! What the commands print: text for people, JSON for scripts.

use std::{
    fmt::Write,
    net::{IpAddr, SocketAddr},
};

use baton_proto::{
    cluster::{self, FlowId},
    packet::Family,
    service::Endpoint,
    uapi::{member_state, Hook},
};
use serde::{ser::SerializeMap, Serialize, Serializer};

use crate::{
    cli::{
        Dispatch, Format, COPIES, CTRL_PORT, HANDOFF_TIMEOUT, HEARTBEAT_TIMEOUT, IDLE_TIMEOUT,
        NODE_ID, REQUEST_TIMEOUT,
    },
    msg::ConfigReply,
};

/// The reply to `status-get`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// Version of the loaded module.
    pub version: String,
    /// IPv4 packets seen by each hook, indexed by [`Hook::index`].
    pub hooks: [u64; Hook::ALL.len()],
    /// IPv6 packets seen by each hook; `None` from a module that counts
    /// IPv4's only.
    pub hooks6: Option<[u64; Hook::ALL.len()]>,
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("version", &self.version)?;
        map.serialize_entry("hooks", &HookCounters(&self.hooks))?;
        if let Some(hooks6) = &self.hooks6 {
            map.serialize_entry("hooks6", &HookCounters(hooks6))?;
        }
        map.end()
    }
}

/// The hook counters as a JSON object in hook order (not sorted by name).
struct HookCounters<'a>(&'a [u64; Hook::ALL.len()]);

impl Serialize for HookCounters<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Hook::ALL.len()))?;
        for hook in Hook::ALL {
            map.serialize_entry(hook.name(), &self.0[hook.index()])?;
        }
        map.end()
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A service and its back-ends (`service-get`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Virtual address, IPv4 or IPv6 (`"addr"` a string in JSON).
    pub addr: IpAddr,
    /// Virtual port.
    pub port: u16,
    /// Scheduler name.
    pub scheduler: &'static str,
    /// Most connections handed off at once; 0 (not shown): no limit of its
    /// own.
    #[serde(rename = "max-conns", skip_serializing_if = "is_zero")]
    pub max_conns: u32,
    /// How a kept-alive connection's later requests are dispatched:
    /// `connection` or `request` (`unknown`: a value this version does not
    /// know); `None` (not shown): a module that predates it, which
    /// dispatches the first request alone. The text shows it when not the
    /// default, `request`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatch: Option<&'static str>,
    /// Back-ends, in the order added.
    pub backends: Vec<Backend>,
    /// Content rules, in order.
    pub rules: Vec<Rule>,
}

impl Service {
    /// Its virtual address and port: `198.18.1.10:80`,
    /// `[2001:db8::10]:80` as text.
    pub fn vip(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }
}

/// A content rule of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Position, 0 first.
    pub index: u32,
    /// Host name or domain.
    pub host: Option<String>,
    /// `host` is a domain (matches itself and below).
    pub domain: bool,
    /// Path prefix.
    pub path: Option<String>,
    /// Where matching requests go (`"[2001:db8::2]:8080"` in JSON for an
    /// IPv6 one).
    pub backend: SocketAddr,
}

/// The output of `rule list`: per service, its rules in order; JSON: an
/// array of `{"service":"VIP:PORT","rules":[...]}`.
pub fn rules(services: &[Service], format: Format) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        service: String,
        rules: &'a [Rule],
    }
    let out: Vec<Out<'_>> = services
        .iter()
        .map(|s| Out {
            service: s.vip().to_string(),
            rules: &s.rules,
        })
        .collect();
    match format {
        Format::Json => json(&out, false),
        Format::JsonPretty => json(&out, true),
        Format::Text => {
            let mut text = String::new();
            for o in &out {
                let _ = writeln!(text, "{}", o.service);
                for r in o.rules {
                    let mut cond = Vec::new();
                    if let Some(h) = &r.host {
                        cond.push(format!("{} {h}", if r.domain { "domain" } else { "host" }));
                    }
                    if let Some(p) = &r.path {
                        cond.push(format!("path {p}"));
                    }
                    let _ = writeln!(
                        text,
                        "  {:<3} {:<40} -> {}",
                        r.index,
                        cond.join(" "),
                        r.backend
                    );
                }
            }
            text
        }
    }
}

/// A back-end of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Backend {
    /// The server's address, of its service's family.
    pub addr: IpAddr,
    /// The server's port.
    pub port: u16,
    /// Weight.
    pub weight: u32,
    /// Serving peer's node id; 0: this node.
    pub peer: u32,
    /// Connections this front-end forwards to it; `None` (not shown):
    /// a module that does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<u32>,
    /// Whether it drains (`backend drain`: weight 0, its kept-alive
    /// connections moving to the others); `None` (not shown): a module
    /// that does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draining: Option<bool>,
}

impl Backend {
    /// The server's address and port.
    pub fn endpoint(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }
}

/// The output of `service list`: like `ipvsadm -Ln`, or a JSON array.
pub fn services(services: &[Service], format: Format) -> String {
    match format {
        Format::Json => json(&services, false),
        Format::JsonPretty => json(&services, true),
        Format::Text => {
            // Wide enough for any IPv4 back-end; wider only for an IPv6
            // one that needs it, so that the columns stay aligned.
            let w = services
                .iter()
                .flat_map(|s| &s.backends)
                .filter(|b| b.addr.is_ipv6())
                .map(|b| b.endpoint().to_string().len())
                .fold(28, usize::max);
            // A draining back-end's weight reads `0 draining`: the column
            // widens for it only when one drains.
            let weight = |b: &Backend| match b.draining {
                Some(true) => format!("{} draining", b.weight),
                _ => b.weight.to_string(),
            };
            let ww = services
                .iter()
                .flat_map(|s| &s.backends)
                .filter(|b| b.draining == Some(true))
                .map(|b| weight(b).len())
                .fold(6, usize::max);
            let mut out = format!(
                "Prot LocalAddress:Port Scheduler\n  -> {:<w$} {:<ww$} {:<6} {}\n",
                "RemoteAddress:Port", "Weight", "Peer", "ActiveConn"
            );
            for s in services {
                let _ = write!(out, "TCP  {} {}", s.vip(), s.scheduler);
                if s.max_conns != 0 {
                    let _ = write!(out, " max-conns {}", s.max_conns);
                }
                if let Some(d) = s.dispatch.filter(|&d| d != Dispatch::Request.name()) {
                    let _ = write!(out, " dispatch {d}");
                }
                out.push('\n');
                for b in &s.backends {
                    let peer = if b.peer == 0 {
                        "local".to_string()
                    } else {
                        b.peer.to_string()
                    };
                    let active = b.active.map_or("-".to_string(), |n| n.to_string());
                    let _ = writeln!(
                        out,
                        "  -> {:<w$} {:<ww$} {:<6} {}",
                        b.endpoint(),
                        weight(b),
                        peer,
                        active
                    );
                }
            }
            out
        }
    }
}

/// A peer and the state of its control channel (`peer-get`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Peer {
    /// The peer's node id.
    pub node_id: u32,
    /// Its control address (`"addr"` a string in JSON, either family).
    pub addr: std::net::IpAddr,
    /// Its control port.
    pub port: u16,
    /// Whether the channel is up (`"state":"up"` in JSON).
    #[serde(rename = "state", serialize_with = "up_down")]
    pub up: bool,
    /// Milliseconds since the last frame from the peer; `null` if none yet.
    pub last_rx_ms: Option<u64>,
    /// Frames received.
    pub msgs_in: u64,
    /// Frames sent.
    pub msgs_out: u64,
    /// Socket writes that carried them (fewer when frames went together).
    pub writes_out: u64,
    /// Channels established so far.
    pub connects: u32,
}

fn up_down<S: Serializer>(up: &bool, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if *up { "up" } else { "down" })
}

/// The output of `peer list`: a table like `ipvsadm -L`, or a JSON array.
pub fn peers(peers: &[Peer], format: Format) -> String {
    match format {
        Format::Json => json(&peers, false),
        Format::JsonPretty => json(&peers, true),
        Format::Text => {
            // IPv6 as in a URL: [2001:db8::2]:7300.
            let addrs: Vec<String> = peers
                .iter()
                .map(|p| SocketAddr::new(p.addr, p.port).to_string())
                .collect();
            // Wide enough for any IPv4 address; wider only for an IPv6
            // one that needs it, so that the columns stay aligned.
            let w = addrs.iter().map(String::len).fold(21, usize::max);
            let mut out = format!(
                "{:<10} {:<w$} {:<5} {:>10} {:>10} {:>10} {:>10} {:>8}\n",
                "NODE-ID",
                "ADDRESS",
                "STATE",
                "LAST-RX",
                "MSGS-IN",
                "MSGS-OUT",
                "WRITES-OUT",
                "CONNECTS"
            );
            for (p, addr) in peers.iter().zip(addrs) {
                let last = p.last_rx_ms.map_or("-".to_string(), |ms| format!("{ms}ms"));
                // Writing to a String cannot fail.
                let _ = writeln!(
                    out,
                    "{:<10} {:<w$} {:<5} {:>10} {:>10} {:>10} {:>10} {:>8}",
                    p.node_id,
                    addr,
                    if p.up { "up" } else { "down" },
                    last,
                    p.msgs_in,
                    p.msgs_out,
                    p.writes_out,
                    p.connects
                );
            }
            out
        }
    }
}

/// How this node sees a member of its front-end group (`member-state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    /// No control channel to it: not in this node's view.
    Down,
    /// Its channel is up: in this node's view.
    Up,
    /// This node.
    Me,
    /// A value this version does not know.
    Unknown,
}

impl MemberState {
    /// The state of the `member-state` value `v`.
    pub fn from_uapi(v: u8) -> Self {
        match v {
            member_state::DOWN => MemberState::Down,
            member_state::UP => MemberState::Up,
            member_state::SELF => MemberState::Me,
            _ => MemberState::Unknown,
        }
    }

    /// Its name, in the text and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Down => "down",
            MemberState::Up => "up",
            MemberState::Me => "self",
            MemberState::Unknown => "unknown",
        }
    }

    /// Whether the member is in this node's view (this node, or up).
    pub fn is_live(self) -> bool {
        matches!(self, MemberState::Me | MemberState::Up)
    }
}

impl Serialize for MemberState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A member of the front-end group and what it last announced
/// (`cluster-get`); `None`: not announced (JSON `null`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Member {
    /// Its node id.
    pub node_id: u32,
    /// Whether it is this node, up or down.
    pub state: MemberState,
    /// The epoch of the view it last announced.
    pub epoch: Option<u64>,
    /// Whether that view is this node's (same epoch, same members).
    pub agrees: Option<bool>,
    /// Members in its view.
    pub live: Option<u32>,
    /// Connections in its active table.
    pub active: Option<u32>,
    /// Copies it keeps for other members (its common table).
    pub common: Option<u32>,
    /// Whether it sent this node every copy this node keeps for it (this
    /// node: whether every other live member did); `None` from a module
    /// that does not say.
    pub synced: Option<bool>,
}

/// The reply to `cluster-get`: this node's view and the members, this
/// node included; no epoch and no members without a group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cluster {
    /// The epoch of this node's view.
    pub epoch: Option<u64>,
    /// The members, this node included.
    pub members: Vec<Member>,
}

impl Cluster {
    /// The node ids of the members other than this node, in order: what
    /// `cluster add` adds.
    pub fn others(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .members
            .iter()
            .filter(|m| m.state != MemberState::Me)
            .map(|m| m.node_id)
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// What `cluster show` prints without a group.
pub const NO_GROUP: &str = "no front-end group (add members with: batonctl cluster add NODE-ID)\n";

/// The output of `cluster show`: a header with this node's view, then a
/// table of the members sorted by node id (`-` for what a member has not
/// announced); JSON: `{"epoch":N,"members":[...]}`, absent values `null`.
pub fn cluster(c: &Cluster, format: Format) -> String {
    let mut sorted = c.clone();
    sorted.members.sort_by_key(|m| m.node_id);
    match format {
        Format::Json => json(&sorted, false),
        Format::JsonPretty => json(&sorted, true),
        Format::Text if sorted.members.is_empty() => NO_GROUP.to_string(),
        Format::Text => {
            fn opt<T: ToString>(v: Option<T>) -> String {
                v.map_or_else(|| "-".to_string(), |v| v.to_string())
            }
            let me = sorted
                .members
                .iter()
                .find(|m| m.state == MemberState::Me)
                .map(|m| m.node_id);
            let up = sorted.members.iter().filter(|m| m.state.is_live()).count();
            let mut out = format!(
                "Front-end group: node {}, epoch {}, {up} of {} members up\n",
                opt(me),
                opt(c.epoch),
                sorted.members.len()
            );
            let header = [
                "NODE", "STATE", "EPOCH", "AGREES", "LIVE", "ACTIVE", "COMMON", "SYNCED",
            ];
            let yes_no = |v: Option<bool>| opt(v.map(|a| if a { "yes" } else { "no" }));
            let rows: Vec<[String; 8]> = sorted
                .members
                .iter()
                .map(|m| {
                    [
                        m.node_id.to_string(),
                        m.state.name().to_string(),
                        opt(m.epoch),
                        yes_no(m.agrees),
                        opt(m.live),
                        opt(m.active),
                        opt(m.common),
                        yes_no(m.synced),
                    ]
                })
                .collect();
            // Each column as wide as its widest cell, two spaces apart.
            let widths: Vec<usize> = (0..header.len())
                .map(|i| {
                    rows.iter()
                        .map(|r| r[i].len())
                        .chain([header[i].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let mut line = |cells: &[&str]| {
                let mut l = String::from(" ");
                for (cell, w) in cells.iter().zip(&widths) {
                    let _ = write!(l, " {cell:<w$} ");
                }
                out.push_str(l.trim_end());
                out.push('\n');
            };
            line(&header);
            for r in &rows {
                line(&r.each_ref().map(String::as_str));
            }
            out
        }
    }
}

/// The members of this node's view (itself included) ranked for the
/// connection from `client` to `vip` (of one family), as every member
/// ranks them: the first holds the connection, as its owner or with its
/// first copy ([`cluster::pass_to`]); empty without a group.
pub fn ranking(c: &Cluster, client: SocketAddr, vip: SocketAddr) -> Vec<u32> {
    let live: Vec<u32> = c
        .members
        .iter()
        .filter(|m| m.state.is_live())
        .map(|m| m.node_id)
        .collect();
    fn hash<A: Family>(client: (A, u16), vip: (A, u16)) -> u64 {
        FlowId {
            client: Endpoint {
                addr: client.0,
                port: client.1,
            },
            vip: Endpoint {
                addr: vip.0,
                port: vip.1,
            },
        }
        .hash()
    }
    let k = match (client, vip) {
        (SocketAddr::V4(c), SocketAddr::V4(v)) => {
            hash((c.ip().octets(), c.port()), (v.ip().octets(), v.port()))
        }
        (SocketAddr::V6(c), SocketAddr::V6(v)) => {
            hash((c.ip().octets(), c.port()), (v.ip().octets(), v.port()))
        }
        _ => return Vec::new(),
    };
    let mut out = [0u32; cluster::MAX_MEMBERS];
    // Node id 0 is never a member: nobody is left out.
    let n = cluster::backups(&live, 0, k, out.len(), &mut out);
    out[..n].to_vec()
}

/// The output of `cluster rank`: the member ids, best first; JSON
/// `{"client":..,"vip":..,"ranking":[...]}`.
pub fn rank(c: &Cluster, client: SocketAddr, vip: SocketAddr, format: Format) -> String {
    #[derive(Serialize)]
    struct Rank {
        client: SocketAddr,
        vip: SocketAddr,
        ranking: Vec<u32>,
    }
    let ranking = ranking(c, client, vip);
    match format {
        Format::Json => json(
            &Rank {
                client,
                vip,
                ranking,
            },
            false,
        ),
        Format::JsonPretty => json(
            &Rank {
                client,
                vip,
                ranking,
            },
            true,
        ),
        Format::Text if ranking.is_empty() => NO_GROUP.to_string(),
        Format::Text => {
            let ids: Vec<String> = ranking.iter().map(u32::to_string).collect();
            format!("{}\n", ids.join(" "))
        }
    }
}

/// One handed-off connection (`conn-get`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Conn {
    /// Handoff id.
    pub id: u64,
    /// `front` or `back`.
    pub role: &'static str,
    /// `handoff`, `forwarding`, `replaying` or `established`.
    pub state: &'static str,
    /// The client (`"[2001:db8::1]:40000"` in JSON for an IPv6 one).
    pub client: SocketAddr,
    /// The service.
    pub vip: SocketAddr,
    /// The server.
    pub backend: SocketAddr,
    /// The other node (0: this node).
    pub peer: u32,
    /// Milliseconds since the handoff.
    pub age_ms: u64,
    /// Milliseconds since the last packet.
    pub idle_ms: u64,
    /// Packets this node handled for it.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// A front-end connection whose back-end drains: it moves to another
    /// at its next request.
    pub draining: bool,
}

/// A front-end connection of client 198.18.1.1:`port` to 198.18.1.100:80,
/// served by 198.18.1.3:8080 on peer 2, for the tests.
#[cfg(test)]
pub fn test_conn(port: u16, draining: bool) -> Conn {
    Conn {
        id: 7,
        role: "front",
        state: "forwarding",
        client: SocketAddr::new([198, 18, 1, 1].into(), port),
        vip: "198.18.1.100:80".parse().unwrap(),
        backend: "198.18.1.3:8080".parse().unwrap(),
        peer: 2,
        age_ms: 1500,
        idle_ms: 20,
        packets: 10,
        bytes: 1000,
        draining,
    }
}

/// The answer to `conn-get`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conns {
    /// Connections listed; from a module without the dump, those in the
    /// table (its one reply may carry fewer).
    pub total: u32,
    /// The connections.
    pub list: Vec<Conn>,
    /// The table changed in a way that may have listed a connection twice
    /// or missed one, in every dump tried (`NLM_F_DUMP_INTR`).
    pub interrupted: bool,
}

/// The counters of `stats-get`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Stats {
    /// Handoffs a back-end took.
    pub handoffs_ok: u64,
    /// Handoffs refused.
    pub handoffs_refused: u64,
    /// Handoffs failed.
    pub handoffs_failed: u64,
    /// Connections taken as a back-end.
    pub taken: u64,
    /// Client packets forwarded.
    pub forwarded: u64,
    /// Server packets rewritten to the client.
    pub returned: u64,
    /// Packets dropped by connections.
    pub dropped: u64,
    /// Connections in the table.
    pub active: u32,
    /// Connections whose request is still arriving.
    pub waiting: u32,
    /// Connections handed off early because a waiting list was full.
    pub hurried: u64,
    /// Bytes of connection state and waiting requests.
    pub memory: u64,
    /// Malformed client packets dropped.
    pub malformed: u64,
    /// Client packets held during their handoff.
    pub held: u64,
    /// Client packets to be held dropped, the holding area (or its share) full.
    pub held_dropped: u64,
    /// ICMP errors passed on to a connection's back-end.
    pub icmp_forwarded: u64,
    /// Malformed ICMP errors passed untouched.
    pub icmp_malformed: u64,
    /// Copies in the common table: other members' connections, kept by
    /// this node as their backup.
    pub common: u32,
    /// Bytes the common table takes.
    pub common_memory: u64,
    /// Client packets forwarded with a copy's translation.
    pub forwarded_common: u64,
    /// Copies that became this node's connections, their owner gone.
    pub promoted: u64,
    /// Copies of this node's connections sent to their backups.
    pub replicated: u64,
    /// Copies in the common table of handoffs still under way on their
    /// owner.
    pub pending: u32,
    /// Handoffs asked of a back-end before every backup confirmed its copy.
    pub unconfirmed: u64,
    /// Handoffs under way taken over from a failed member's copy.
    pub resumed: u64,
    /// Acknowledgements of requests not handed off yet that the hooks
    /// dropped.
    pub acks_withheld: u64,
    /// Connections whose request acknowledgements were released before the
    /// copies (a request in more than one flight).
    pub acks_released: u64,
    /// Packets of connections this node has no state for, passed to the
    /// group member that holds them.
    pub relayed: u64,
    /// Such packets that could not be passed, dropped.
    pub relay_failed: u64,
    /// Such packets whose first member was silent: passed to the next, or
    /// dropped when that is this node.
    pub relay_skipped: u64,
    /// Client packets in the holding areas now.
    pub held_now: u32,
    /// Of them, packets of unknown connections awaiting a group's copy.
    pub held_awaiting: u32,
    /// Packets passed to a member that then proved silent, passed again.
    pub relayed_again: u64,
    /// Connections moved to another back-end at a request boundary.
    pub moved: u64,
    /// Moves the serving back-end refused, the connection not idle: it
    /// stayed there.
    pub moves_refused: u64,
    /// Moves whose new back-end refused or did not answer: the connection
    /// went back, or was reset.
    pub moves_failed: u64,
    /// Connections this node's servers gave up, idle, for a move.
    pub released: u64,
}

/// The output of `conn list`: like `ipvsadm -Lc`, or JSON
/// `{"total":N,"conns":[...]}` (and `"interrupted":true` if so).
pub fn conns(c: &Conns, format: Format) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        total: u32,
        conns: &'a [Conn],
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        interrupted: bool,
    }
    let out = Out {
        total: c.total,
        conns: &c.list,
        interrupted: c.interrupted,
    };
    match format {
        Format::Json => json(&out, false),
        Format::JsonPretty => json(&out, true),
        Format::Text => {
            // Each address column wide enough for any IPv4 endpoint, wider
            // only for an IPv6 one that needs it (measured for those
            // alone: an IPv4 listing costs nothing more).
            let width = |ep: fn(&Conn) -> SocketAddr| {
                c.list
                    .iter()
                    .map(ep)
                    .filter(SocketAddr::is_ipv6)
                    .map(|a| a.to_string().len())
                    .fold(21, usize::max)
            };
            let (cw, vw, bw) = (width(|k| k.client), width(|k| k.vip), width(|k| k.backend));
            // A draining connection's state reads `forwarding,draining`:
            // the column widens for it only when one is listed.
            const DRAINING: &str = ",draining";
            let state_len = |k: &Conn| k.state.len() + if k.draining { DRAINING.len() } else { 0 };
            let sw = c.list.iter().map(state_len).fold(12, usize::max);
            // A listing may have 100 000 lines: one allocation for all of
            // them (about 130 bytes a line), integers only, none a line.
            let line = 57 + sw + cw + vw + bw;
            let mut s = String::with_capacity(line * (c.list.len() + 2));
            let _ = writeln!(
                s,
                "{:<6} {:<sw$} {:<cw$} {:<vw$} {:<bw$} {:>5} {:>9} {:>9} {:>12}",
                "ROLE", "STATE", "CLIENT", "VIP", "BACKEND", "PEER", "AGE", "IDLE", "BYTES"
            );
            // Writing to a String cannot fail.
            for k in &c.list {
                let _ = write!(s, "{:<6} {}", k.role, k.state);
                if k.draining {
                    s.push_str(DRAINING);
                }
                let pad = sw - state_len(k);
                let _ = write!(
                    s,
                    "{:pad$} {:<cw$} {:<vw$} {:<bw$} ",
                    "", k.client, k.vip, k.backend
                );
                let _ = match k.peer {
                    0 => write!(s, "{:>5}", "local"),
                    p => write!(s, "{p:>5}"),
                };
                // Seconds to a tenth, rounded.
                for tenths in [k.age_ms, k.idle_ms].map(|ms| ms.saturating_add(50) / 100) {
                    let _ = write!(s, " {:>6}.{}s", tenths / 10, tenths % 10);
                }
                let _ = writeln!(s, " {:>12}", k.bytes);
            }
            if c.list.len() < c.total as usize {
                let _ = writeln!(s, "({} of {} connections shown)", c.list.len(), c.total);
            }
            s
        }
    }
}

/// What `backend drain` found: the connections of the service that this
/// front-end still forwards to the back-end when it last looked, and how
/// long it waited for them to leave. JSON: the fields but `timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Drain {
    /// The service (`"[2001:db8::10]:80"` in JSON for an IPv6 one).
    pub service: SocketAddr,
    /// The back-end.
    pub backend: SocketAddr,
    /// Connections left.
    pub left: usize,
    /// Milliseconds waited (0 without a timeout).
    pub waited_ms: u64,
    /// Whether none is left.
    pub drained: bool,
    /// The seconds it could wait, if given (`timeout S`).
    #[serde(skip)]
    pub timeout: Option<u32>,
}

impl Drain {
    /// The drain of `backend` of `service` with `left` connections after
    /// `waited_ms` of at most `timeout` seconds.
    pub fn new(
        service: SocketAddr,
        backend: SocketAddr,
        left: usize,
        waited_ms: u64,
        timeout: Option<u32>,
    ) -> Self {
        Self {
            service,
            backend,
            left,
            waited_ms,
            drained: left == 0,
            timeout,
        }
    }

    /// Whether the command fails: it waited, and connections are left.
    pub fn failed(&self) -> bool {
        self.timeout.is_some() && !self.drained
    }

    /// `N connections left` (`1 connection`).
    fn left_text(&self) -> String {
        match self.left {
            1 => "1 connection left".into(),
            n => format!("{n} connections left"),
        }
    }
}

/// The output of `backend drain`: without a timeout, how many connections
/// are left (`draining VIP:PORT -> ADDR:PORT: N connections left`); with
/// one, how long they took to leave, and nothing if some stayed (the error
/// says it, [`drain_left`]). JSON: the object [`Drain`], in every case.
pub fn drain(d: &Drain, format: Format) -> String {
    match format {
        Format::Json => json(d, false),
        Format::JsonPretty => json(d, true),
        Format::Text if d.timeout.is_none() => {
            format!(
                "draining {} -> {}: {}\n",
                d.service,
                d.backend,
                d.left_text()
            )
        }
        Format::Text if d.drained => {
            // Seconds to a tenth, rounded.
            let tenths = d.waited_ms.saturating_add(50) / 100;
            format!(
                "drained {} -> {} in {}.{} s\n",
                d.service,
                d.backend,
                tenths / 10,
                tenths % 10
            )
        }
        Format::Text => String::new(),
    }
}

/// Why `backend drain ... timeout S` failed: how many connections are
/// left after it, then `left`, the connections, as `conn list` shows them.
pub fn drain_left(d: &Drain, left: &Conns) -> String {
    let mut s = format!(
        "{} -> {}: {} after {} s\n",
        d.service,
        d.backend,
        d.left_text(),
        d.timeout.unwrap_or_default()
    );
    s.push_str(&conns(left, Format::Text));
    s
}

/// An event of `monitor`: a notification of the `events` group, or the
/// overrun of the reader's socket. JSON: one object a line, with the
/// fields the event has.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Event {
    /// `handoff`, `conn-end`, `peer`, `config` or `overrun`.
    pub event: &'static str,
    /// The connection's handoff id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<SocketAddr>,
    /// The service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip: Option<SocketAddr>,
    /// The back-end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<SocketAddr>,
    /// The peer (0: this node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<u32>,
    /// How a handoff ended: `ok`, `refused`, `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    /// A reason code's name (`no-listener`, `closed`, `idle`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// This node's role in the connection that ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// A peer's channel: `up` or `down`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    /// The command that changed the configuration (`service-add`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<&'static str>,
    /// Events the socket had no room for (`overrun`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,
}

impl Event {
    /// An event of kind `event`, its fields to fill.
    pub fn new(event: &'static str) -> Self {
        Self {
            event,
            ..Default::default()
        }
    }
}

/// One line of `monitor`, like `ip monitor`'s, or a JSON object.
pub fn event(e: &Event, format: Format) -> String {
    match format {
        Format::Json => json(e, false),
        Format::JsonPretty => json(e, true),
        Format::Text => {
            let mut s = String::from(e.event);
            let mut opt = |name: &str, v: Option<String>| {
                if let Some(v) = v {
                    if !name.is_empty() {
                        s.push(' ');
                        s.push_str(name);
                    }
                    s.push(' ');
                    s.push_str(&v);
                }
            };
            let str = |v: Option<&str>| v.map(str::to_string);
            opt("", str(e.result));
            opt("", str(e.role));
            if let (Some(c), Some(v)) = (e.client, e.vip) {
                opt("", Some(format!("{c} -> {v}")));
            }
            opt("backend", e.backend.map(|b| b.to_string()));
            // A peer's event is about the peer: "peer 3 up".
            let label = if e.event == "peer" { "" } else { "peer" };
            opt(label, e.peer.map(|p| p.to_string()));
            opt("", str(e.state));
            opt("by", str(e.command));
            opt("id", e.id.map(|i| i.to_string()));
            if e.result != Some("ok") {
                opt("reason", str(e.reason));
            }
            if let Some(n) = e.lost {
                s.push_str(&format!(
                    ": {n} events lost (the socket was full: read faster, or raise net.core.rmem_max)"
                ));
            }
            s.push('\n');
            s
        }
    }
}

/// The output of `stats`: `name value` lines, or a JSON object.
pub fn stats(st: &Stats, format: Format) -> String {
    match format {
        Format::Json => json(st, false),
        Format::JsonPretty => json(st, true),
        Format::Text => format!(
            "handoffs: ok {} refused {} failed {}\ntaken {}\npackets: forwarded {} returned {} dropped {} (malformed {})\n\
             held during handoffs {} (dropped, area full {}) holding now {} (awaiting copies {})\nicmp errors: forwarded {} malformed {}\n\
             active connections {}\nwaiting requests {} hurried {}\nmemory {} bytes\n\
             common table: copies {} (of handoffs under way {}) memory {} bytes\n\
             copies: replicated {} promoted {} packets forwarded {}\n\
             handoff copies: unconfirmed {} resumed {}\n\
             request acks: withheld {} released {}\n\
             packets of other members' connections: passed on {} failed {} past a silent member {} again {}\n\
             moves at request boundaries: moved {} refused {} failed {}\n\
             released for moves {}\n",
            st.handoffs_ok,
            st.handoffs_refused,
            st.handoffs_failed,
            st.taken,
            st.forwarded,
            st.returned,
            st.dropped,
            st.malformed,
            st.held,
            st.held_dropped,
            st.held_now,
            st.held_awaiting,
            st.icmp_forwarded,
            st.icmp_malformed,
            st.active,
            st.waiting,
            st.hurried,
            st.memory,
            st.common,
            st.pending,
            st.common_memory,
            st.replicated,
            st.promoted,
            st.forwarded_common,
            st.unconfirmed,
            st.resumed,
            st.acks_withheld,
            st.acks_released,
            st.relayed,
            st.relay_failed,
            st.relay_skipped,
            st.relayed_again,
            st.moved,
            st.moves_refused,
            st.moves_failed,
            st.released
        ),
    }
}

/// A configuration as JSON: `{"ctrl-port":N,"node-id":N,...,"auth":B}`.
struct ConfigJson<'a>(&'a ConfigReply);

impl Serialize for ConfigJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = &self.0.config;
        let mut map = serializer.serialize_map(Some(8))?;
        map.serialize_entry(CTRL_PORT, &c.ctrl_port)?;
        map.serialize_entry(NODE_ID, &c.node_id)?;
        map.serialize_entry(REQUEST_TIMEOUT, &c.request_timeout_ms)?;
        map.serialize_entry(HANDOFF_TIMEOUT, &c.handoff_timeout_ms)?;
        map.serialize_entry(IDLE_TIMEOUT, &c.idle_timeout_ms)?;
        map.serialize_entry(HEARTBEAT_TIMEOUT, &c.heartbeat_timeout_ms)?;
        map.serialize_entry(COPIES, &c.copies)?;
        map.serialize_entry(AUTH, &self.0.auth)?;
        map.end()
    }
}

/// Renders `value` as JSON followed by a newline.
fn json<T: Serialize>(value: &T, pretty: bool) -> String {
    let mut out = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    // Maps with string keys and integers always serialize.
    .unwrap_or_default();
    out.push('\n');
    out
}

/// The output of `status`.
pub fn status(status: &Status, format: Format) -> String {
    match format {
        Format::Json => json(status, false),
        Format::JsonPretty => json(status, true),
        Format::Text => {
            let mut out = format!("baton {}\n", status.version);
            let families = [
                ("hooks", Some(&status.hooks)),
                ("hooks6", status.hooks6.as_ref()),
            ];
            for (name, counters) in families {
                let Some(counters) = counters else { continue };
                out.push_str(name);
                out.push(':');
                for hook in Hook::ALL {
                    // Writing to a String cannot fail.
                    let _ = write!(out, " {} {}", hook.name(), counters[hook.index()]);
                }
                out.push('\n');
            }
            out
        }
    }
}

/// The output of `config show`.
pub fn config(reply: &ConfigReply, format: Format) -> String {
    let config = &reply.config;
    match format {
        Format::Json => json(&ConfigJson(reply), false),
        Format::JsonPretty => json(&ConfigJson(reply), true),
        Format::Text => format!(
            "{CTRL_PORT} {} {NODE_ID} {} {REQUEST_TIMEOUT} {} {HANDOFF_TIMEOUT} {} {IDLE_TIMEOUT} {} \
             {HEARTBEAT_TIMEOUT} {} {COPIES} {} {AUTH} {}\n",
            config.ctrl_port,
            config.node_id,
            config.request_timeout_ms,
            config.handoff_timeout_ms,
            config.idle_timeout_ms,
            config.heartbeat_timeout_ms,
            config.copies,
            if reply.auth { "on" } else { "off" }
        ),
    }
}

/// Name of the authentication state in `config show`.
const AUTH: &str = "auth";

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> Peer {
        Peer {
            node_id: 2,
            addr: [198, 18, 0, 2].into(),
            port: 7300,
            up: true,
            last_rx_ms: Some(120),
            msgs_in: 15,
            msgs_out: 16,
            writes_out: 9,
            connects: 1,
        }
    }

    #[test]
    fn conns_json_and_text() {
        let mut c = Conns {
            total: 2,
            interrupted: false,
            list: vec![test_conn(40000, false)],
        };
        assert_eq!(
            conns(&c, Format::Json),
            "{\"total\":2,\"conns\":[{\"id\":7,\"role\":\"front\",\"state\":\"forwarding\",\
             \"client\":\"198.18.1.1:40000\",\"vip\":\"198.18.1.100:80\",\
             \"backend\":\"198.18.1.3:8080\",\"peer\":2,\"age-ms\":1500,\"idle-ms\":20,\
             \"packets\":10,\"bytes\":1000,\"draining\":false}]}\n"
        );
        let text = conns(&c, Format::Text);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ROLE   STATE"));
        assert!(lines[1].starts_with("front  forwarding   198.18.1.1:40000"));
        assert!(lines[1].contains(" 2 "));
        assert!(lines[1].contains("1.5s"));
        assert_eq!(lines[2], "(1 of 2 connections shown)");
        // A dump lists them all; one that stayed interrupted says so.
        c.total = 1;
        c.interrupted = true;
        let v: serde_json::Value = serde_json::from_str(&conns(&c, Format::Json)).unwrap();
        assert_eq!(v["interrupted"], true);
        assert_eq!(conns(&c, Format::Text).lines().count(), 2);
    }

    #[test]
    fn stats_json_and_text() {
        let st = Stats {
            handoffs_ok: 5,
            handoffs_refused: 1,
            handoffs_failed: 2,
            taken: 3,
            forwarded: 100,
            returned: 200,
            dropped: 4,
            active: 6,
            waiting: 7,
            hurried: 8,
            memory: 9,
            malformed: 10,
            held: 11,
            held_dropped: 12,
            icmp_forwarded: 13,
            icmp_malformed: 14,
            common: 15,
            common_memory: 16,
            forwarded_common: 17,
            promoted: 18,
            replicated: 19,
            pending: 20,
            unconfirmed: 21,
            resumed: 22,
            acks_withheld: 23,
            acks_released: 24,
            relayed: 25,
            relay_failed: 26,
            relay_skipped: 31,
            held_now: 32,
            held_awaiting: 33,
            relayed_again: 34,
            moved: 27,
            moves_refused: 28,
            moves_failed: 29,
            released: 30,
        };
        assert_eq!(
            stats(&st, Format::Json),
            "{\"handoffs-ok\":5,\"handoffs-refused\":1,\"handoffs-failed\":2,\"taken\":3,\
             \"forwarded\":100,\"returned\":200,\"dropped\":4,\"active\":6,\"waiting\":7,\
             \"hurried\":8,\"memory\":9,\"malformed\":10,\"held\":11,\"held-dropped\":12,\
             \"icmp-forwarded\":13,\"icmp-malformed\":14,\"common\":15,\"common-memory\":16,\
             \"forwarded-common\":17,\"promoted\":18,\"replicated\":19,\"pending\":20,\
             \"unconfirmed\":21,\"resumed\":22,\"acks-withheld\":23,\"acks-released\":24,\
             \"relayed\":25,\"relay-failed\":26,\"relay-skipped\":31,\"held-now\":32,\"held-awaiting\":33,\
             \"relayed-again\":34,\"moved\":27,\"moves-refused\":28,\"moves-failed\":29,\"released\":30}\n"
        );
        let text = stats(&st, Format::Text);
        assert!(text.contains("handoffs: ok 5 refused 1 failed 2\n"));
        assert!(text.contains(
            "\nheld during handoffs 11 (dropped, area full 12) holding now 32 (awaiting copies 33)\n"
        ));
        assert!(text.contains("\nicmp errors: forwarded 13 malformed 14\n"));
        assert_eq!(
            text,
            "handoffs: ok 5 refused 1 failed 2\ntaken 3\n\
             packets: forwarded 100 returned 200 dropped 4 (malformed 10)\n\
             held during handoffs 11 (dropped, area full 12) holding now 32 (awaiting copies 33)\n\
             icmp errors: forwarded 13 malformed 14\nactive connections 6\n\
             waiting requests 7 hurried 8\nmemory 9 bytes\n\
             common table: copies 15 (of handoffs under way 20) memory 16 bytes\n\
             copies: replicated 19 promoted 18 packets forwarded 17\n\
             handoff copies: unconfirmed 21 resumed 22\n\
             request acks: withheld 23 released 24\n\
             packets of other members' connections: passed on 25 failed 26 past a silent member 31 again 34\n\
             moves at request boundaries: moved 27 refused 28 failed 29\n\
             released for moves 30\n"
        );
        // A module that predates the common table: its counters read 0.
        let old = Stats {
            common: 0,
            common_memory: 0,
            forwarded_common: 0,
            promoted: 0,
            replicated: 0,
            pending: 0,
            unconfirmed: 0,
            resumed: 0,
            acks_withheld: 0,
            acks_released: 0,
            relayed: 0,
            relay_failed: 0,
            relay_skipped: 0,
            held_now: 0,
            held_awaiting: 0,
            relayed_again: 0,
            moved: 0,
            moves_refused: 0,
            moves_failed: 0,
            released: 0,
            ..st
        };
        let text = stats(&old, Format::Text);
        assert!(text.ends_with(
            "memory 9 bytes\ncommon table: copies 0 (of handoffs under way 0) memory 0 bytes\n\
             copies: replicated 0 promoted 0 packets forwarded 0\n\
             handoff copies: unconfirmed 0 resumed 0\n\
             request acks: withheld 0 released 0\n\
             packets of other members' connections: passed on 0 failed 0 past a silent member 0 again 0\n\
             moves at request boundaries: moved 0 refused 0 failed 0\n\
             released for moves 0\n"
        ));
        let v: serde_json::Value = serde_json::from_str(&stats(&old, Format::Json)).unwrap();
        assert_eq!(
            [
                "common",
                "common-memory",
                "forwarded-common",
                "promoted",
                "replicated"
            ]
            .map(|k| v[k].as_u64()),
            [Some(0); 5]
        );
        assert_eq!(
            ["moved", "moves-refused", "moves-failed", "released"].map(|k| v[k].as_u64()),
            [Some(0); 4]
        );
    }

    #[test]
    fn services_json_and_text() {
        let svc = Service {
            addr: [198, 18, 1, 10].into(),
            port: 80,
            scheduler: "lc",
            max_conns: 0,
            dispatch: Some("request"),
            backends: vec![Backend {
                addr: [198, 18, 2, 2].into(),
                port: 8080,
                weight: 1,
                peer: 2,
                active: Some(4),
                draining: None,
            }],
            rules: vec![Rule {
                index: 0,
                host: Some("a.example".into()),
                domain: false,
                path: Some("/b/".into()),
                backend: "198.18.2.2:8080".parse().unwrap(),
            }],
        };
        assert_eq!(
            services(std::slice::from_ref(&svc), Format::Json),
            concat!(
                r#"[{"addr":"198.18.1.10","port":80,"scheduler":"lc","dispatch":"request","#,
                r#""backends":"#,
                r#"[{"addr":"198.18.2.2","port":8080,"weight":1,"peer":2,"active":4}],"#,
                r#""rules":[{"index":0,"host":"a.example","domain":false,"path":"/b/","#,
                r#""backend":"198.18.2.2:8080"}]}]"#,
                "\n"
            )
        );
        assert_eq!(
            rules(std::slice::from_ref(&svc), Format::Text),
            format!(
                "198.18.1.10:80\n  0   {:<40} -> 198.18.2.2:8080\n",
                "host a.example path /b/"
            )
        );
        let text = services(std::slice::from_ref(&svc), Format::Text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], "TCP  198.18.1.10:80 lc");
        assert_eq!(
            lines[3].split_whitespace().collect::<Vec<_>>(),
            ["->", "198.18.2.2:8080", "1", "2", "4"]
        );
    }

    #[test]
    fn services_dispatch_json_and_text() {
        let svc = |max_conns, dispatch| Service {
            addr: [198, 18, 1, 10].into(),
            port: 81,
            scheduler: "rr",
            max_conns,
            dispatch,
            backends: Vec::new(),
            rules: Vec::new(),
        };
        let first_line = |s: Service| {
            services(&[s], Format::Text)
                .lines()
                .nth(2)
                .unwrap()
                .to_owned()
        };
        let json = |s: Service| -> serde_json::Value {
            serde_json::from_str(&services(&[s], Format::Json)).unwrap()
        };
        // The default is not shown in the text, as max-conns 0 is not;
        // the JSON always says.
        assert_eq!(
            first_line(svc(0, Some("request"))),
            "TCP  198.18.1.10:81 rr"
        );
        assert_eq!(json(svc(0, Some("request")))[0]["dispatch"], "request");
        assert_eq!(
            first_line(svc(0, Some("connection"))),
            "TCP  198.18.1.10:81 rr dispatch connection"
        );
        assert_eq!(
            first_line(svc(3, Some("connection"))),
            "TCP  198.18.1.10:81 rr max-conns 3 dispatch connection"
        );
        assert_eq!(
            services(&[svc(3, Some("connection"))], Format::Json),
            concat!(
                r#"[{"addr":"198.18.1.10","port":81,"scheduler":"rr","max-conns":3,"#,
                r#""dispatch":"connection","backends":[],"rules":[]}]"#,
                "\n"
            )
        );
        assert_eq!(json(svc(0, Some("unknown")))[0]["dispatch"], "unknown");
        assert_eq!(
            first_line(svc(0, Some("unknown"))),
            "TCP  198.18.1.10:81 rr dispatch unknown"
        );
        // A module that predates it: in neither.
        assert_eq!(first_line(svc(0, None)), "TCP  198.18.1.10:81 rr");
        let v = json(svc(0, None));
        assert!(v[0].get("dispatch").is_none(), "{v}");
    }

    /// An IPv4 and an IPv6 service, each with a back-end and a rule.
    fn mixed_services() -> Vec<Service> {
        let svc = |addr: &str, be: &str, rule_to: &str| Service {
            addr: addr.parse().unwrap(),
            port: 80,
            scheduler: "lc",
            max_conns: 0,
            dispatch: Some("request"),
            backends: vec![Backend {
                addr: be.parse().unwrap(),
                port: 8080,
                weight: 1,
                peer: 0,
                active: Some(2),
                draining: None,
            }],
            rules: vec![Rule {
                index: 0,
                host: None,
                domain: false,
                path: Some("/".into()),
                backend: rule_to.parse().unwrap(),
            }],
        };
        vec![
            svc("198.18.1.10", "198.18.2.2", "198.18.2.2:8080"),
            svc("2001:db8::10", "2001:db8::2:2", "[2001:db8::2:2]:8080"),
        ]
    }

    #[test]
    fn ipv6_services_json_and_text() {
        let all = mixed_services();
        let v: serde_json::Value = serde_json::from_str(&services(&all, Format::Json)).unwrap();
        // The same shape for both families: addresses as strings.
        assert_eq!(v[1]["addr"], "2001:db8::10");
        assert_eq!(v[1]["port"], 80);
        assert_eq!(v[1]["backends"][0]["addr"], "2001:db8::2:2");
        assert_eq!(v[1]["rules"][0]["backend"], "[2001:db8::2:2]:8080");
        assert_eq!(v[0]["addr"], "198.18.1.10");
        let text = services(&all, Format::Text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[4], "TCP  [2001:db8::10]:80 lc");
        assert_eq!(
            lines[5].split_whitespace().collect::<Vec<_>>(),
            ["->", "[2001:db8::2:2]:8080", "1", "local", "2"]
        );
        // Short enough: the IPv4 layout, byte for byte.
        assert_eq!(
            lines[..2],
            [
                "Prot LocalAddress:Port Scheduler",
                "  -> RemoteAddress:Port           Weight Peer   ActiveConn"
            ]
        );
        assert_eq!(
            lines[3],
            format!("  -> {:<28} 1      local  2", "198.18.2.2:8080")
        );
        // A long one widens the column, the header's too.
        let mut long = all.clone();
        long[1].backends[0].addr = "2001:db8:1111:2222:3333:4444:5555:6666".parse().unwrap();
        let text = services(&long, Format::Text);
        let lines: Vec<&str> = text.lines().collect();
        let weight_at = lines[1].find("Weight").unwrap();
        assert!(weight_at > 5 + 28, "{text}");
        for line in [lines[3], lines[5]] {
            assert_eq!(line.find(" 1 ").map(|i| i + 1), Some(weight_at), "{text}");
        }
        assert_eq!(
            rules(&all, Format::Text),
            format!(
                "198.18.1.10:80\n  0   {:<40} -> 198.18.2.2:8080\n\
                 [2001:db8::10]:80\n  0   {:<40} -> [2001:db8::2:2]:8080\n",
                "path /", "path /"
            )
        );
        assert_eq!(
            rules(&all[1..], Format::Json),
            "[{\"service\":\"[2001:db8::10]:80\",\"rules\":[{\"index\":0,\"host\":null,\
             \"domain\":false,\"path\":\"/\",\"backend\":\"[2001:db8::2:2]:8080\"}]}]\n"
        );
    }

    #[test]
    fn ipv6_conns_json_and_text() {
        let conn = |client: &str, vip: &str, backend: &str| Conn {
            id: 7,
            role: "front",
            state: "forwarding",
            client: client.parse().unwrap(),
            vip: vip.parse().unwrap(),
            backend: backend.parse().unwrap(),
            peer: 0,
            age_ms: 1500,
            idle_ms: 20,
            packets: 10,
            bytes: 1000,
            draining: false,
        };
        let v4 = conn("198.18.1.1:40000", "198.18.1.100:80", "198.18.1.3:8080");
        let v6 = conn(
            "[2001:db8:1111:2222:3333:4444:5555:1]:40000",
            "[2001:db8::10]:80",
            "[2001:db8::3]:8080",
        );
        let c = Conns {
            total: 2,
            interrupted: false,
            list: vec![v4.clone(), v6],
        };
        let v: serde_json::Value = serde_json::from_str(&conns(&c, Format::Json)).unwrap();
        assert_eq!(
            v["conns"][1]["client"],
            "[2001:db8:1111:2222:3333:4444:5555:1]:40000"
        );
        assert_eq!(v["conns"][1]["vip"], "[2001:db8::10]:80");
        assert_eq!(v["conns"][0]["vip"], "198.18.1.100:80");
        // The client column widens for the long IPv6 client; the others,
        // whose IPv6 endpoints fit, keep their width; columns aligned.
        let text = conns(&c, Format::Text);
        let lines: Vec<&str> = text.lines().collect();
        let vip_at = lines[0].find("VIP").unwrap();
        assert_eq!(vip_at, 20 + 44);
        assert_eq!(lines[1].find("198.18.1.100:80"), Some(vip_at));
        assert_eq!(lines[2].find("[2001:db8::10]:80"), Some(vip_at));
        let backend_at = lines[0].find("BACKEND").unwrap();
        assert_eq!(backend_at, vip_at + 22);
        assert_eq!(lines[2].find("[2001:db8::3]:8080"), Some(backend_at));
        assert_eq!(lines[1].len(), lines[2].len());
        // An IPv4 listing: the columns of 21 as ever.
        let only_v4 = Conns {
            total: 1,
            interrupted: false,
            list: vec![v4],
        };
        assert_eq!(
            conns(&only_v4, Format::Text),
            "ROLE   STATE        CLIENT                VIP                   BACKEND                \
             PEER       AGE      IDLE        BYTES\n\
             front  forwarding   198.18.1.1:40000      198.18.1.100:80       198.18.1.3:8080       \
             local      1.5s      0.0s         1000\n"
        );
    }

    #[test]
    fn draining_conns_json_and_text() {
        let c = Conns {
            total: 2,
            interrupted: false,
            list: vec![test_conn(40000, true), test_conn(40001, false)],
        };
        let v: serde_json::Value = serde_json::from_str(&conns(&c, Format::Json)).unwrap();
        assert_eq!(v["conns"][0]["draining"], true);
        assert_eq!(v["conns"][1]["draining"], false);
        assert_eq!(v["conns"][0]["state"], "forwarding");
        // The state column widens for it, the others follow, aligned.
        assert_eq!(
            conns(&c, Format::Text),
            "ROLE   STATE               CLIENT                VIP                   BACKEND                \
             PEER       AGE      IDLE        BYTES\n\
             front  forwarding,draining 198.18.1.1:40000      198.18.1.100:80       198.18.1.3:8080       \
             \x20   2      1.5s      0.0s         1000\n\
             front  forwarding          198.18.1.1:40001      198.18.1.100:80       198.18.1.3:8080       \
             \x20   2      1.5s      0.0s         1000\n"
        );
    }

    #[test]
    fn draining_backends_json_and_text() {
        let backend = |last, weight, draining| Backend {
            addr: [198, 18, 2, last].into(),
            port: 8080,
            weight,
            peer: 0,
            active: Some(3),
            draining,
        };
        let svc = |backends| Service {
            addr: [198, 18, 1, 10].into(),
            port: 80,
            scheduler: "lc",
            max_conns: 0,
            dispatch: Some("request"),
            backends,
            rules: Vec::new(),
        };
        let all = [svc(vec![
            backend(1, 0, Some(true)),
            backend(2, 3, Some(false)),
            backend(3, 1, None),
        ])];
        let v: serde_json::Value = serde_json::from_str(&services(&all, Format::Json)).unwrap();
        let b = &v[0]["backends"];
        assert_eq!(
            (&b[0]["draining"], &b[0]["weight"]),
            (&true.into(), &0.into())
        );
        assert_eq!(b[1]["draining"], false);
        // A module that does not say: not shown, as active.
        assert!(b[2].get("draining").is_none(), "{b}");
        // `0 draining` in the weight column, which widens for it.
        assert_eq!(
            services(&all, Format::Text),
            "Prot LocalAddress:Port Scheduler\n  \
             -> RemoteAddress:Port           Weight     Peer   ActiveConn\n\
             TCP  198.18.1.10:80 lc\n  \
             -> 198.18.2.1:8080              0 draining local  3\n  \
             -> 198.18.2.2:8080              3          local  3\n  \
             -> 198.18.2.3:8080              1          local  3\n"
        );
        // None drains: the columns as ever.
        let text = services(&[svc(vec![backend(2, 0, Some(false))])], Format::Text);
        assert_eq!(
            text.lines().nth(3),
            Some("  -> 198.18.2.2:8080              0      local  3")
        );
    }

    #[test]
    fn drain_reports() {
        let d = |left, waited_ms, timeout| {
            Drain::new(
                "198.18.1.100:80".parse().unwrap(),
                "198.18.1.3:8080".parse().unwrap(),
                left,
                waited_ms,
                timeout,
            )
        };
        assert_eq!(
            drain(&d(12, 0, None), Format::Text),
            "draining 198.18.1.100:80 -> 198.18.1.3:8080: 12 connections left\n"
        );
        assert_eq!(
            drain(&d(1, 0, None), Format::Text),
            "draining 198.18.1.100:80 -> 198.18.1.3:8080: 1 connection left\n"
        );
        assert_eq!(
            drain(&d(0, 0, None), Format::Text),
            "draining 198.18.1.100:80 -> 198.18.1.3:8080: 0 connections left\n"
        );
        assert_eq!(
            drain(&d(0, 1449, Some(30)), Format::Text),
            "drained 198.18.1.100:80 -> 198.18.1.3:8080 in 1.4 s\n"
        );
        assert_eq!(
            drain(&d(0, 0, Some(30)), Format::Text),
            "drained 198.18.1.100:80 -> 198.18.1.3:8080 in 0.0 s\n"
        );
        // Connections left after the timeout: the error says it.
        assert_eq!(drain(&d(3, 30_000, Some(30)), Format::Text), "");
        assert_eq!(
            drain(&d(3, 30_012, Some(30)), Format::Json),
            "{\"service\":\"198.18.1.100:80\",\"backend\":\"198.18.1.3:8080\",\"left\":3,\
             \"waited-ms\":30012,\"drained\":false}\n"
        );
        assert_eq!(
            drain(&d(0, 0, None), Format::Json),
            "{\"service\":\"198.18.1.100:80\",\"backend\":\"198.18.1.3:8080\",\"left\":0,\
             \"waited-ms\":0,\"drained\":true}\n"
        );
        let v6 = Drain::new(
            "[2001:db8::10]:80".parse().unwrap(),
            "[2001:db8::2:1]:8080".parse().unwrap(),
            2,
            0,
            None,
        );
        let v: serde_json::Value = serde_json::from_str(&drain(&v6, Format::JsonPretty)).unwrap();
        assert_eq!(v["service"], "[2001:db8::10]:80");
        assert_eq!(v["backend"], "[2001:db8::2:1]:8080");
        assert_eq!(
            (v["left"].as_u64(), v["drained"].as_bool()),
            (Some(2), Some(false))
        );
        assert_eq!(
            drain(&v6, Format::Text),
            "draining [2001:db8::10]:80 -> [2001:db8::2:1]:8080: 2 connections left\n"
        );
    }

    #[test]
    fn ipv6_events_as_lines() {
        let ep = |s: &str| s.parse::<SocketAddr>().ok();
        let mut h = Event::new("handoff");
        h.id = Some(7);
        h.client = ep("[2001:db8::1]:40000");
        h.vip = ep("[2001:db8::10]:80");
        h.backend = ep("[2001:db8::2:1]:8080");
        h.peer = Some(2);
        h.result = Some("ok");
        assert_eq!(
            event(&h, Format::Text),
            "handoff ok [2001:db8::1]:40000 -> [2001:db8::10]:80 backend [2001:db8::2:1]:8080 \
             peer 2 id 7\n"
        );
        assert_eq!(
            event(&h, Format::Json),
            "{\"event\":\"handoff\",\"id\":7,\"client\":\"[2001:db8::1]:40000\",\
             \"vip\":\"[2001:db8::10]:80\",\"backend\":\"[2001:db8::2:1]:8080\",\"peer\":2,\
             \"result\":\"ok\"}\n"
        );
    }

    #[test]
    fn events_as_lines() {
        let ep = |s: &str| s.parse::<SocketAddr>().ok();
        let mut h = Event::new("handoff");
        h.id = Some(7);
        h.client = ep("198.18.1.1:40000");
        h.vip = ep("198.18.1.100:80");
        h.backend = ep("198.18.2.1:8080");
        h.peer = Some(2);
        h.result = Some("ok");
        h.reason = Some("other");
        assert_eq!(
            event(&h, Format::Text),
            "handoff ok 198.18.1.1:40000 -> 198.18.1.100:80 backend 198.18.2.1:8080 peer 2 id 7\n"
        );
        h.result = Some("refused");
        h.reason = Some("no-listener");
        assert!(event(&h, Format::Text).ends_with(" id 7 reason no-listener\n"));
        assert_eq!(
            event(&h, Format::Json),
            "{\"event\":\"handoff\",\"id\":7,\"client\":\"198.18.1.1:40000\",\
             \"vip\":\"198.18.1.100:80\",\"backend\":\"198.18.2.1:8080\",\"peer\":2,\
             \"result\":\"refused\",\"reason\":\"no-listener\"}\n"
        );
        let mut p = Event::new("peer");
        p.peer = Some(3);
        p.state = Some("down");
        assert_eq!(event(&p, Format::Text), "peer 3 down\n");
        let mut c = Event::new("config");
        c.command = Some("service-add");
        assert_eq!(
            event(&c, Format::Json),
            "{\"event\":\"config\",\"command\":\"service-add\"}\n"
        );
        let mut o = Event::new("overrun");
        o.lost = Some(12);
        assert!(event(&o, Format::Text).starts_with("overrun: 12 events lost"));
        assert_eq!(
            event(&o, Format::Json),
            "{\"event\":\"overrun\",\"lost\":12}\n"
        );
    }

    #[test]
    fn peers_json_shape() {
        let mut down = peer();
        down.node_id = 3;
        down.up = false;
        down.last_rx_ms = None;
        assert_eq!(
            peers(&[peer(), down], Format::Json),
            concat!(
                r#"[{"node-id":2,"addr":"198.18.0.2","port":7300,"state":"up","last-rx-ms":120,"#,
                r#""msgs-in":15,"msgs-out":16,"writes-out":9,"connects":1},"#,
                r#"{"node-id":3,"addr":"198.18.0.2","port":7300,"state":"down","last-rx-ms":null,"#,
                r#""msgs-in":15,"msgs-out":16,"writes-out":9,"connects":1}]"#,
                "\n"
            )
        );
        assert_eq!(peers(&[], Format::Json), "[]\n");
    }

    #[test]
    fn peers_ipv6_json_and_text() {
        let mut v6 = peer();
        v6.node_id = 3;
        v6.addr = "2001:db8::3".parse().unwrap();
        v6.port = 7000;
        assert_eq!(
            peers(&[v6.clone()], Format::Json),
            concat!(
                r#"[{"node-id":3,"addr":"2001:db8::3","port":7000,"state":"up","last-rx-ms":120,"#,
                r#""msgs-in":15,"msgs-out":16,"writes-out":9,"connects":1}]"#,
                "\n"
            )
        );
        // The address column widens for a long one, and only then.
        let long = Peer {
            node_id: 4,
            addr: "2001:db8:1111:2222:3333:4444:5555:6666".parse().unwrap(),
            ..v6.clone()
        };
        for list in [vec![peer(), v6], vec![peer(), long]] {
            let text = peers(&list, Format::Text);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 3, "{text}");
            let state_at = lines[0].find("STATE").unwrap();
            for line in &lines[1..] {
                assert_eq!(line.find(" up ").map(|i| i + 1), Some(state_at), "{text}");
            }
            let fields: Vec<&str> = lines[2].split_whitespace().collect();
            assert_eq!(fields[1], format!("[{}]:7000", list[1].addr));
        }
        assert_eq!(
            peers(&[peer()], Format::Text).lines().next().unwrap(),
            "NODE-ID    ADDRESS               STATE    LAST-RX    MSGS-IN   MSGS-OUT WRITES-OUT CONNECTS"
        );
    }

    #[test]
    fn peers_text_table() {
        let text = peers(&[peer()], Format::Text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("NODE-ID"));
        let fields: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            fields,
            ["2", "198.18.0.2:7300", "up", "120ms", "15", "16", "9", "1"]
        );
    }

    /// Node 1's view of a group of three, out of order as a kernel may
    /// send it: 3 down (never announced), 1 itself, 2 up.
    fn group() -> Cluster {
        let heard = |node_id, state, active| Member {
            node_id,
            state,
            epoch: Some(7),
            agrees: Some(true),
            live: Some(2),
            active: Some(active),
            common: Some(0),
            synced: Some(true),
        };
        Cluster {
            epoch: Some(7),
            members: vec![
                Member {
                    node_id: 3,
                    state: MemberState::Down,
                    epoch: None,
                    agrees: None,
                    live: None,
                    active: None,
                    common: None,
                    synced: Some(false),
                },
                heard(1, MemberState::Me, 12),
                heard(2, MemberState::Up, 10),
            ],
        }
    }

    #[test]
    fn cluster_text_table() {
        assert_eq!(
            cluster(&group(), Format::Text),
            "Front-end group: node 1, epoch 7, 2 of 3 members up\n\
             \x20 NODE  STATE  EPOCH  AGREES  LIVE  ACTIVE  COMMON  SYNCED\n\
             \x20 1     self   7      yes     2     12      0       yes\n\
             \x20 2     up     7      yes     2     10      0       yes\n\
             \x20 3     down   -      -       -     -       -       no\n"
        );
        // Wide values widen their column; a member that disagrees says no.
        let mut g = group();
        g.epoch = Some(123_456_789);
        g.members[2].epoch = Some(123_456_789);
        g.members[2].agrees = Some(false);
        let text = cluster(&g, Format::Text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Front-end group: node 1, epoch 123456789, 2 of 3 members up"
        );
        assert_eq!(
            lines[1],
            "  NODE  STATE  EPOCH      AGREES  LIVE  ACTIVE  COMMON  SYNCED"
        );
        assert_eq!(
            lines[3],
            "  2     up     123456789  no      2     10      0       yes"
        );
    }

    #[test]
    fn cluster_json_shape() {
        assert_eq!(
            cluster(&group(), Format::Json),
            concat!(
                r#"{"epoch":7,"members":["#,
                r#"{"node-id":1,"state":"self","epoch":7,"agrees":true,"live":2,"active":12,"common":0,"synced":true},"#,
                r#"{"node-id":2,"state":"up","epoch":7,"agrees":true,"live":2,"active":10,"common":0,"synced":true},"#,
                r#"{"node-id":3,"state":"down","epoch":null,"agrees":null,"live":null,"active":null,"common":null,"synced":false}]}"#,
                "\n"
            )
        );
        let pretty: serde_json::Value =
            serde_json::from_str(&cluster(&group(), Format::JsonPretty)).unwrap();
        assert_eq!(pretty["members"][0]["state"], "self");
        assert_eq!(
            pretty["epoch"].as_u64(),
            Some(7),
            "the epoch is an exact integer"
        );
    }

    /// The live members ranked as the kernel's relay ranks them: the first
    /// is where a member without state passes the connection's packets.
    #[test]
    fn cluster_rank() {
        use baton_proto::cluster::{owners, pass_to, Pass};
        let mut g = group();
        g.members[0].state = MemberState::Up;
        let vip: SocketAddr = "198.18.1.10:80".parse().unwrap();
        let mut firsts = [0usize; 4];
        for port in 40000..40200u16 {
            let client = SocketAddr::from(([198, 18, 0, 2], port));
            let r = ranking(&g, client, vip);
            let mut sorted = r.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [1, 2, 3]);
            let k = FlowId {
                client: Endpoint {
                    addr: [198, 18, 0, 2],
                    port,
                },
                vip: Endpoint {
                    addr: [198, 18, 1, 10],
                    port: 80,
                },
            }
            .hash();
            let o = owners(&[3, 1, 2], k).unwrap();
            assert_eq!((r[0], Some(r[1])), (o.owner, o.backup));
            assert_eq!(pass_to(&[1, 2, 3], 9, k, |_| false), Some(Pass::To(r[0])));
            firsts[r[0] as usize] += 1;
            // A member down is not ranked.
            assert_eq!(
                ranking(&group(), client, vip),
                r.iter().copied().filter(|&m| m != 3).collect::<Vec<_>>()
            );
        }
        assert!(firsts[1..].iter().all(|&n| n > 30), "{firsts:?}");
        let client: SocketAddr = "198.18.0.2:40000".parse().unwrap();
        let r = ranking(&g, client, vip);
        let text = rank(&g, client, vip, Format::Text);
        assert_eq!(text, format!("{} {} {}\n", r[0], r[1], r[2]));
        assert_eq!(
            rank(&g, client, vip, Format::Json),
            format!(
                "{{\"client\":\"198.18.0.2:40000\",\"vip\":\"198.18.1.10:80\",\"ranking\":[{},{},{}]}}\n",
                r[0], r[1], r[2]
            )
        );
        // IPv6: its own hash, the same members.
        let (c6, v6) = (
            "[2001:db8::2]:40000".parse().unwrap(),
            "[2001:db8::10]:80".parse().unwrap(),
        );
        assert_eq!(ranking(&g, c6, v6).len(), 3);
        // Families mixed, or no group: nothing to rank.
        assert!(ranking(&g, client, v6).is_empty());
        assert_eq!(
            rank(&Cluster::default(), client, vip, Format::Text),
            NO_GROUP
        );
        assert_eq!(
            rank(&Cluster::default(), client, vip, Format::Json),
            "{\"client\":\"198.18.0.2:40000\",\"vip\":\"198.18.1.10:80\",\"ranking\":[]}\n"
        );
    }

    #[test]
    fn cluster_without_a_group() {
        let none = Cluster::default();
        assert_eq!(
            cluster(&none, Format::Text),
            "no front-end group (add members with: batonctl cluster add NODE-ID)\n"
        );
        assert_eq!(
            cluster(&none, Format::Json),
            "{\"epoch\":null,\"members\":[]}\n"
        );
        assert!(none.others().is_empty());
        assert_eq!(group().others(), [2, 3]);
    }

    fn sample() -> Status {
        Status {
            version: "0.1.0".into(),
            hooks: [12, 10, 8, 8],
            hooks6: Some([3, 2, 1, 0]),
        }
    }

    #[test]
    fn status_text() {
        assert_eq!(
            status(&sample(), Format::Text),
            "baton 0.1.0\nhooks: pre-routing 12 local-in 10 local-out 8 post-routing 8\n\
             hooks6: pre-routing 3 local-in 2 local-out 1 post-routing 0\n"
        );
        let older = Status {
            hooks6: None,
            ..sample()
        };
        assert_eq!(
            status(&older, Format::Text),
            "baton 0.1.0\nhooks: pre-routing 12 local-in 10 local-out 8 post-routing 8\n"
        );
    }

    #[test]
    fn status_json_shape() {
        assert_eq!(
            status(&sample(), Format::Json),
            "{\"version\":\"0.1.0\",\"hooks\":{\"pre-routing\":12,\"local-in\":10,\
             \"local-out\":8,\"post-routing\":8},\"hooks6\":{\"pre-routing\":3,\
             \"local-in\":2,\"local-out\":1,\"post-routing\":0}}\n"
        );
        let older = Status {
            hooks6: None,
            ..sample()
        };
        assert!(!status(&older, Format::Json).contains("hooks6"));
    }

    #[test]
    fn status_json_counts_are_exact_u64() {
        let s = Status {
            version: "0.1.0".into(),
            hooks: [u64::MAX, 0, 1, 2],
            hooks6: None,
        };
        let out = status(&s, Format::Json);
        assert!(
            out.contains("\"pre-routing\":18446744073709551615"),
            "{out}"
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["hooks"]["pre-routing"].as_u64(), Some(u64::MAX));
    }

    #[test]
    fn status_pretty_json_is_the_same_value() {
        let pretty = status(&sample(), Format::JsonPretty);
        assert!(pretty.contains("\n  \"hooks\": {\n    \"pre-routing\": 12,"));
        let a: serde_json::Value = serde_json::from_str(&pretty).unwrap();
        let b: serde_json::Value = serde_json::from_str(&status(&sample(), Format::Json)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn version_is_escaped() {
        let s = Status {
            version: "0.1.0 \"x\"".into(),
            hooks: [0; 4],
            hooks6: None,
        };
        let v: serde_json::Value = serde_json::from_str(&status(&s, Format::Json)).unwrap();
        assert_eq!(v["version"], "0.1.0 \"x\"");
    }

    fn reply(ctrl_port: u16, node_id: u32, auth: bool) -> ConfigReply {
        ConfigReply {
            config: baton_proto::config::Config {
                ctrl_port,
                node_id,
                ..baton_proto::config::Config::new(1)
            },
            auth,
        }
    }

    #[test]
    fn config_text() {
        assert_eq!(config(&reply(7300, 0, false), Format::Text), "ctrl-port 7300 node-id 0 request-timeout-ms 3000 handoff-timeout-ms 2500 idle-timeout-ms 300000 heartbeat-timeout-ms 3000 copies 1 auth off\n");
        assert!(config(&reply(7300, 0, true), Format::Text).ends_with(" auth on\n"));
    }

    #[test]
    fn config_json_shape() {
        assert_eq!(
            config(&reply(7300, 0, false), Format::Json),
            "{\"ctrl-port\":7300,\"node-id\":0,\"request-timeout-ms\":3000,\"handoff-timeout-ms\":2500,\"idle-timeout-ms\":300000,\"heartbeat-timeout-ms\":3000,\"copies\":1,\"auth\":false}\n"
        );
        let c = reply(65535, u32::MAX, true);
        assert_eq!(
            config(&c, Format::Json),
            "{\"ctrl-port\":65535,\"node-id\":4294967295,\"request-timeout-ms\":3000,\"handoff-timeout-ms\":2500,\"idle-timeout-ms\":300000,\"heartbeat-timeout-ms\":3000,\"copies\":1,\"auth\":true}\n"
        );
        assert_eq!(
            config(&c, Format::JsonPretty),
            "{\n  \"ctrl-port\": 65535,\n  \"node-id\": 4294967295,\n  \"request-timeout-ms\": 3000,\n  \
             \"handoff-timeout-ms\": 2500,\n  \"idle-timeout-ms\": 300000,\n  \"heartbeat-timeout-ms\": 3000,\n  \"copies\": 1,\n  \"auth\": true\n}\n"
        );
    }
}

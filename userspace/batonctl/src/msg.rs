// SPDX-License-Identifier: GPL-2.0

//! The generic netlink messages of `Documentation/netlink/specs/baton.yaml`
//! (and the nlctrl lookup of the family), built and decoded without a socket.
//!
//! Every number comes from [`baton_proto::uapi`]; integers are in host byte
//! order, as netlink wants them.

use std::{
    ffi::CStr,
    net::{IpAddr, SocketAddr},
};

use baton_proto::{
    config::{decode_u16, decode_u32, Config, ConfigUpdate},
    flow::{Phase, Role},
    service::Scheduler,
    uapi::{
        attr, backend_attr, cmd, conn_attr, event_attr, handoff_result, member_attr, peer_attr,
        peer_state, rule_attr, service_attr, stats_attr, Hook, FAMILY_VERSION,
    },
};
use neli::{
    consts::{
        genl::{CtrlAttr, CtrlAttrMcastGrp, CtrlCmd},
        nl::{NlmF, NlmsgerrAttr},
    },
    genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, NlattrBuilder},
    nl::{NlPayload, Nlmsghdr, NlmsghdrBuilder},
    types::{Buffer, GenlBuffer},
};

use crate::{
    cli::{
        BackendSpec, ConnFilter, Dispatch, PeerSpec, RuleSpec, ServiceSpec, COPIES, CTRL_PORT,
        HANDOFF_TIMEOUT, HEARTBEAT_TIMEOUT, IDLE_TIMEOUT, NODE_ID, REQUEST_TIMEOUT,
    },
    error::Error,
    output::{
        Backend, Cluster, Conn, Conns, Event, Member, MemberState, Peer, Rule, Service, Stats,
        Status,
    },
};

/// `NLA_F_NESTED`: or'ed into an [`Attr`] type, makes it a nested attribute.
pub const NESTED: u16 = 0x8000;

/// A generic netlink message: header and attributes, numbers as integers.
pub type Genl = Genlmsghdr<u8, u16>;

/// A netlink message carrying a [`Genl`], with `nlmsg_type` as an integer.
pub type Message = Nlmsghdr<u16, Genl>;

/// One attribute: its type and its payload (without header or padding).
pub type Attr = (u16, Vec<u8>);

/// Version of the nlctrl family that the requests to it carry.
const CTRL_VERSION: u8 = 2;

/// Builds a generic netlink header `cmd`/`version` followed by `attrs`.
pub fn genl(cmd: u8, version: u8, attrs: Vec<Attr>) -> Result<Genl, Error> {
    let attrs = attrs
        .into_iter()
        .map(|(ty, payload)| {
            let ty = AttrTypeBuilder::default()
                .nla_type(ty & !NESTED)
                .nla_nested(ty & NESTED != 0)
                .build()
                .map_err(build_error)?;
            NlattrBuilder::default()
                .nla_type(ty)
                .nla_payload(payload)
                .build()
                .map_err(build_error)
        })
        .collect::<Result<GenlBuffer<u16, Buffer>, Error>>()?;
    GenlmsghdrBuilder::default()
        .cmd(cmd)
        .version(version)
        .attrs(attrs)
        .build()
        .map_err(build_error)
}

fn build_error(e: impl std::fmt::Display) -> Error {
    Error::Socket(format!("cannot build a message: {e}"))
}

/// nlctrl `CTRL_CMD_GETFAMILY` for the family called `name`.
pub fn get_family(name: &CStr) -> Result<Genl, Error> {
    genl(
        CtrlCmd::Getfamily.into(),
        CTRL_VERSION,
        vec![(
            CtrlAttr::FamilyName.into(),
            name.to_bytes_with_nul().to_vec(),
        )],
    )
}

/// `status-get`.
pub fn status_get() -> Result<Genl, Error> {
    genl(cmd::STATUS_GET, FAMILY_VERSION, Vec::new())
}

/// `config-get`.
pub fn config_get() -> Result<Genl, Error> {
    genl(cmd::CONFIG_GET, FAMILY_VERSION, Vec::new())
}

/// The attributes of `config-set` for `update`: `ctrl-port` (`u16`) and
/// `node-id` (`u32`), each only if it changes, and the timeouts (`u32`).
pub fn config_set_attrs(update: &ConfigUpdate) -> Vec<Attr> {
    let mut attrs = Vec::new();
    if let Some(port) = update.ctrl_port {
        attrs.push((attr::CTRL_PORT, port.to_ne_bytes().to_vec()));
    }
    if let Some(id) = update.node_id {
        attrs.push((attr::NODE_ID, id.to_ne_bytes().to_vec()));
    }
    for (ty, v) in [
        (attr::REQUEST_TIMEOUT_MS, update.request_timeout_ms),
        (attr::HANDOFF_TIMEOUT_MS, update.handoff_timeout_ms),
        (attr::IDLE_TIMEOUT_MS, update.idle_timeout_ms),
        (attr::HEARTBEAT_TIMEOUT_MS, update.heartbeat_timeout_ms),
        (attr::COPIES, update.copies),
    ] {
        if let Some(ms) = v {
            attrs.push((ty, ms.to_ne_bytes().to_vec()));
        }
    }
    attrs
}

/// `config-set` with the attributes of [`config_set_attrs`], and `key`
/// (`binary`; empty removes the key) if it changes.
pub fn config_set(update: &ConfigUpdate, key: Option<&[u8]>) -> Result<Genl, Error> {
    let mut attrs = config_set_attrs(update);
    if let Some(key) = key {
        attrs.push((attr::KEY, key.to_vec()));
    }
    genl(cmd::CONFIG_SET, FAMILY_VERSION, attrs)
}

/// What `config-get` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigReply {
    /// The settings.
    pub config: Config,
    /// Whether a control-channel key is set.
    pub auth: bool,
}

/// The bytes of attributes nested in another: each header, payload and
/// padding to 4 bytes, as `nla_put` lays them out.
pub fn nest(attrs: &[Attr]) -> Vec<u8> {
    let mut out = Vec::new();
    for (ty, payload) in attrs {
        // Payloads here are a few bytes: the length always fits.
        let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(payload);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}

/// The attribute of `addr` in network order: `v4` (4 bytes) for an IPv4
/// address, `v6` (16 bytes) for an IPv6 one (`addr` or `addr6` of a set).
fn addr_attr(addr: IpAddr, v4: u16, v6: u16) -> Attr {
    match addr {
        IpAddr::V4(a) => (v4, a.octets().to_vec()),
        IpAddr::V6(a) => (v6, a.octets().to_vec()),
    }
}

/// The `peer` nest of `peer-add`: node id, address (network order: `addr`
/// for IPv4, `addr6` for IPv6) and the port if given.
pub fn peer_add_attrs(peer: &PeerSpec) -> Vec<Attr> {
    let mut inner = vec![
        (peer_attr::NODE_ID, peer.node_id.to_ne_bytes().to_vec()),
        addr_attr(peer.addr, peer_attr::ADDR, peer_attr::ADDR6),
    ];
    if let Some(port) = peer.port {
        inner.push((peer_attr::PORT, port.to_ne_bytes().to_vec()));
    }
    vec![(attr::PEER | NESTED, nest(&inner))]
}

/// `peer-add`.
pub fn peer_add(peer: &PeerSpec) -> Result<Genl, Error> {
    genl(cmd::PEER_ADD, FAMILY_VERSION, peer_add_attrs(peer))
}

/// `peer-del` of node `node_id`.
pub fn peer_del(node_id: u32) -> Result<Genl, Error> {
    let inner = nest(&[(peer_attr::NODE_ID, node_id.to_ne_bytes().to_vec())]);
    genl(
        cmd::PEER_DEL,
        FAMILY_VERSION,
        vec![(attr::PEER | NESTED, inner)],
    )
}

/// The `member` nest of `cluster-add` and `cluster-del`: the node id.
pub fn member_attrs(node_id: u32) -> Vec<Attr> {
    let inner = nest(&[(member_attr::NODE_ID, node_id.to_ne_bytes().to_vec())]);
    vec![(attr::MEMBER | NESTED, inner)]
}

/// `cluster-add` of node `node_id`.
pub fn cluster_add(node_id: u32) -> Result<Genl, Error> {
    genl(cmd::CLUSTER_ADD, FAMILY_VERSION, member_attrs(node_id))
}

/// `cluster-del` of node `node_id`.
pub fn cluster_del(node_id: u32) -> Result<Genl, Error> {
    genl(cmd::CLUSTER_DEL, FAMILY_VERSION, member_attrs(node_id))
}

/// `cluster-get`.
pub fn cluster_get() -> Result<Genl, Error> {
    genl(cmd::CLUSTER_GET, FAMILY_VERSION, Vec::new())
}

/// This node's view and the members in the reply to `cluster-get`, in the
/// kernel's order. What a member has not announced is `None`.
pub fn parse_cluster(reply: &Genl) -> Result<Cluster, Error> {
    let top = attrs(reply);
    let epoch = match find(&top, attr::EPOCH) {
        Some(p) => Some(decode_u64(p).ok_or_else(|| bad_length("epoch", p))?),
        None => None,
    };
    let mut members = Vec::new();
    for (_, payload) in top.iter().filter(|&&(t, _)| t == attr::MEMBER) {
        let a = parse_attrs(payload)?;
        let opt_u32 = |ty, name| match find(&a, ty) {
            Some(p) => decode_u32(p).ok_or_else(|| bad_length(name, p)).map(Some),
            None => Ok(None),
        };
        let state = match require(&a, member_attr::STATE, "member state")? {
            [s] => MemberState::from_uapi(*s),
            p => return Err(bad_length("member state", p)),
        };
        members.push(Member {
            node_id: u32_of(&a, member_attr::NODE_ID, "member node-id")?,
            state,
            epoch: match find(&a, member_attr::EPOCH) {
                Some(p) => Some(decode_u64(p).ok_or_else(|| bad_length("member epoch", p))?),
                None => None,
            },
            agrees: match find(&a, member_attr::AGREES) {
                Some([v]) => Some(*v != 0),
                Some(p) => return Err(bad_length("agrees", p)),
                None => None,
            },
            live: opt_u32(member_attr::LIVE, "live")?,
            active: opt_u32(member_attr::ACTIVE, "active")?,
            common: opt_u32(member_attr::COMMON, "common")?,
            synced: match find(&a, member_attr::SYNCED) {
                Some([v]) => Some(*v != 0),
                Some(p) => return Err(bad_length("synced", p)),
                None => None,
            },
        });
    }
    Ok(Cluster { epoch, members })
}

/// The address (`addr` or `addr6`, by family) and `port` of a `service`
/// nest.
fn service_attrs(vip: SocketAddr) -> Vec<Attr> {
    vec![
        addr_attr(vip.ip(), service_attr::ADDR, service_attr::ADDR6),
        (service_attr::PORT, vip.port().to_ne_bytes().to_vec()),
    ]
}

/// The address (`addr` or `addr6`, by family) and `port` of a `backend`
/// nest.
fn backend_attrs(addr: SocketAddr) -> Vec<Attr> {
    vec![
        addr_attr(addr.ip(), backend_attr::ADDR, backend_attr::ADDR6),
        (backend_attr::PORT, addr.port().to_ne_bytes().to_vec()),
    ]
}

/// `service-add`.
pub fn service_add(spec: &ServiceSpec) -> Result<Genl, Error> {
    let mut inner = service_attrs(spec.vip);
    if let Some(s) = spec.scheduler {
        inner.push((service_attr::SCHEDULER, vec![s as u8]));
    }
    if let Some(n) = spec.max_conns {
        inner.push((service_attr::MAX_CONNS, n.to_ne_bytes().to_vec()));
    }
    // Only when given: a module that predates it refuses the attribute.
    if let Some(d) = spec.dispatch {
        inner.push((service_attr::DISPATCH, vec![d.uapi()]));
    }
    genl(
        cmd::SERVICE_ADD,
        FAMILY_VERSION,
        vec![(attr::SERVICE | NESTED, nest(&inner))],
    )
}

/// `service-del`.
pub fn service_del(vip: SocketAddr) -> Result<Genl, Error> {
    let inner = nest(&service_attrs(vip));
    genl(
        cmd::SERVICE_DEL,
        FAMILY_VERSION,
        vec![(attr::SERVICE | NESTED, inner)],
    )
}

/// `service-get`.
pub fn service_get() -> Result<Genl, Error> {
    genl(cmd::SERVICE_GET, FAMILY_VERSION, Vec::new())
}

/// `backend-add` (`add`) or `backend-del`.
pub fn backend(spec: &BackendSpec, add: bool) -> Result<Genl, Error> {
    let command = if add {
        cmd::BACKEND_ADD
    } else {
        cmd::BACKEND_DEL
    };
    backend_request(command, spec)
}

/// `backend-set`: the back-end's new weight, or its drain, or both (`spec`
/// has no peer).
pub fn backend_set(spec: &BackendSpec) -> Result<Genl, Error> {
    backend_request(cmd::BACKEND_SET, spec)
}

/// `command` with the `service` and `backend` nests of `spec`.
fn backend_request(command: u8, spec: &BackendSpec) -> Result<Genl, Error> {
    let mut inner = backend_attrs(spec.addr);
    if let Some(w) = spec.weight {
        inner.push((backend_attr::WEIGHT, w.to_ne_bytes().to_vec()));
    }
    if let Some(p) = spec.peer {
        inner.push((backend_attr::PEER, p.to_ne_bytes().to_vec()));
    }
    // Only when given: a module that predates it refuses the attribute.
    if let Some(d) = spec.drain {
        inner.push((backend_attr::DRAIN, vec![u8::from(d)]));
    }
    genl(
        command,
        FAMILY_VERSION,
        vec![
            (attr::SERVICE | NESTED, nest(&service_attrs(spec.vip))),
            (attr::BACKEND | NESTED, nest(&inner)),
        ],
    )
}

/// `rule-add`.
pub fn rule_add(spec: &RuleSpec) -> Result<Genl, Error> {
    let mut inner = Vec::new();
    if let Some(i) = spec.index {
        inner.push((rule_attr::INDEX, i.to_ne_bytes().to_vec()));
    }
    if let Some((h, domain)) = &spec.host {
        inner.push((rule_attr::HOST, h.as_bytes().to_vec()));
        inner.push((rule_attr::HOST_SUFFIX, vec![u8::from(*domain)]));
    }
    if let Some(p) = &spec.path {
        inner.push((rule_attr::PATH, p.as_bytes().to_vec()));
    }
    inner.push(addr_attr(
        spec.backend.ip(),
        rule_attr::BACKEND_ADDR,
        rule_attr::BACKEND_ADDR6,
    ));
    inner.push((
        rule_attr::BACKEND_PORT,
        spec.backend.port().to_ne_bytes().to_vec(),
    ));
    genl(
        cmd::RULE_ADD,
        FAMILY_VERSION,
        vec![
            (attr::SERVICE | NESTED, nest(&service_attrs(spec.vip))),
            (attr::RULE | NESTED, nest(&inner)),
        ],
    )
}

/// `rule-del`.
pub fn rule_del(vip: SocketAddr, index: u32) -> Result<Genl, Error> {
    genl(
        cmd::RULE_DEL,
        FAMILY_VERSION,
        vec![
            (attr::SERVICE | NESTED, nest(&service_attrs(vip))),
            (
                attr::RULE | NESTED,
                nest(&[(rule_attr::INDEX, index.to_ne_bytes().to_vec())]),
            ),
        ],
    )
}

/// An address of a reply given as attribute `v4` (4 bytes) or `v6` (16
/// bytes), named `names` in errors; `None` if neither is there, malformed
/// if both are or one has another length.
fn opt_addr(
    a: &[(u16, &[u8])],
    (v4, v6): (u16, u16),
    names: (&str, &str),
) -> Result<Option<IpAddr>, Error> {
    match (find(a, v4), find(a, v6)) {
        (None, None) => Ok(None),
        (Some(p), None) => {
            let b: [u8; 4] = p.try_into().map_err(|_| bad_length(names.0, p))?;
            Ok(Some(b.into()))
        }
        (None, Some(p)) => {
            let b: [u8; 16] = p.try_into().map_err(|_| bad_length(names.1, p))?;
            Ok(Some(b.into()))
        }
        (Some(_), Some(_)) => Err(Error::Malformed(format!(
            "both {} and {} attributes",
            names.0, names.1
        ))),
    }
}

/// An address the reply must have: exactly one of `v4` and `v6`
/// ([`opt_addr`]).
fn addr_of(a: &[(u16, &[u8])], types: (u16, u16), names: (&str, &str)) -> Result<IpAddr, Error> {
    opt_addr(a, types, names)?
        .ok_or_else(|| Error::Malformed(format!("no {} or {} attribute", names.0, names.1)))
}

/// An address (exactly one of the attributes `types`, [`addr_of`]) and
/// the port in attribute `port`.
fn endpoint_of(
    a: &[(u16, &[u8])],
    types: (u16, u16),
    port: u16,
    names: (&str, &str, &str),
) -> Result<SocketAddr, Error> {
    let addr = addr_of(a, types, (names.0, names.1))?;
    Ok(SocketAddr::new(addr, u16_of(a, port, names.2)?))
}

fn u16_of(a: &[(u16, &[u8])], ty: u16, name: &str) -> Result<u16, Error> {
    let p = require(a, ty, name)?;
    decode_u16(p).ok_or_else(|| bad_length(name, p))
}

fn u32_of(a: &[(u16, &[u8])], ty: u16, name: &str) -> Result<u32, Error> {
    let p = require(a, ty, name)?;
    decode_u32(p).ok_or_else(|| bad_length(name, p))
}

/// The services in the reply to `service-get`.
pub fn parse_services(reply: &Genl) -> Result<Vec<Service>, Error> {
    let mut out = Vec::new();
    for (_, payload) in attrs(reply)
        .into_iter()
        .filter(|&(t, _)| t == attr::SERVICE)
    {
        let a = parse_attrs(payload)?;
        let sched = require(&a, service_attr::SCHEDULER, "scheduler")?;
        let scheduler = sched
            .first()
            .copied()
            .and_then(Scheduler::from_u8)
            .ok_or_else(|| Error::Malformed(format!("scheduler {sched:?}")))?;
        let mut backends = Vec::new();
        for (_, b) in a.iter().filter(|&&(t, _)| t == service_attr::BACKEND) {
            let b = parse_attrs(b)?;
            backends.push(Backend {
                addr: addr_of(
                    &b,
                    (backend_attr::ADDR, backend_attr::ADDR6),
                    ("backend addr", "backend addr6"),
                )?,
                port: u16_of(&b, backend_attr::PORT, "backend port")?,
                weight: u32_of(&b, backend_attr::WEIGHT, "weight")?,
                peer: u32_of(&b, backend_attr::PEER, "peer")?,
                // Not sent by a module from before it.
                active: match find(&b, backend_attr::ACTIVE) {
                    Some(_) => Some(u32_of(&b, backend_attr::ACTIVE, "active")?),
                    None => None,
                },
                draining: match find(&b, backend_attr::DRAIN) {
                    Some([v]) => Some(*v != 0),
                    Some(p) => return Err(bad_length("drain", p)),
                    None => None,
                },
            });
        }
        let mut rules = Vec::new();
        for (_, r) in a.iter().filter(|&&(t, _)| t == service_attr::RULE) {
            let r = parse_attrs(r)?;
            // NUL-terminated strings (NLA_STRING).
            let text = |ty| {
                find(&r, ty).map(|p| {
                    String::from_utf8_lossy(p.strip_suffix(&[0]).unwrap_or(p)).into_owned()
                })
            };
            rules.push(Rule {
                index: u32_of(&r, rule_attr::INDEX, "rule index")?,
                host: text(rule_attr::HOST),
                domain: find(&r, rule_attr::HOST_SUFFIX) == Some(&[1][..]),
                path: text(rule_attr::PATH),
                backend: endpoint_of(
                    &r,
                    (rule_attr::BACKEND_ADDR, rule_attr::BACKEND_ADDR6),
                    rule_attr::BACKEND_PORT,
                    (
                        "rule backend-addr",
                        "rule backend-addr6",
                        "rule backend-port",
                    ),
                )?,
            });
        }
        out.push(Service {
            rules,
            addr: addr_of(
                &a,
                (service_attr::ADDR, service_attr::ADDR6),
                ("addr", "addr6"),
            )?,
            port: u16_of(&a, service_attr::PORT, "port")?,
            scheduler: scheduler.name(),
            // Absent from modules that predate it.
            max_conns: match find(&a, service_attr::MAX_CONNS) {
                Some(p) => decode_u32(p).ok_or_else(|| bad_length("max-conns", p))?,
                None => 0,
            },
            // Absent from modules that predate it (which dispatch the first
            // request alone); a value this version does not know is shown
            // as such.
            dispatch: match find(&a, service_attr::DISPATCH) {
                Some([v]) => Some(Dispatch::from_uapi(*v).map_or("unknown", Dispatch::name)),
                Some(p) => return Err(bad_length("dispatch", p)),
                None => None,
            },
            backends,
        });
    }
    Ok(out)
}

/// The counters in the reply to `stats-get`.
pub fn parse_stats(reply: &Genl) -> Result<Stats, Error> {
    let top = attrs(reply);
    let a = parse_attrs(require(&top, attr::STATS, "stats")?)?;
    let u64_of = |ty, name| {
        let p = require(&a, ty, name)?;
        decode_u64(p).ok_or_else(|| bad_length(name, p))
    };
    let active = require(&a, stats_attr::ACTIVE, "active")?;
    // Absent from modules that predate them.
    let opt_u64 = |ty, name| match find(&a, ty) {
        Some(p) => decode_u64(p).ok_or_else(|| bad_length(name, p)),
        None => Ok(0),
    };
    let opt_u32 = |ty, name| match find(&a, ty) {
        Some(p) => decode_u32(p).ok_or_else(|| bad_length(name, p)),
        None => Ok(0),
    };
    Ok(Stats {
        handoffs_ok: u64_of(stats_attr::HANDOFFS_OK, "handoffs-ok")?,
        handoffs_refused: u64_of(stats_attr::HANDOFFS_REFUSED, "handoffs-refused")?,
        handoffs_failed: u64_of(stats_attr::HANDOFFS_FAILED, "handoffs-failed")?,
        taken: u64_of(stats_attr::TAKEN, "taken")?,
        forwarded: u64_of(stats_attr::FORWARDED, "forwarded")?,
        returned: u64_of(stats_attr::RETURNED, "returned")?,
        dropped: u64_of(stats_attr::DROPPED, "dropped")?,
        active: decode_u32(active).ok_or_else(|| bad_length("active", active))?,
        waiting: opt_u32(stats_attr::WAITING, "waiting")?,
        hurried: opt_u64(stats_attr::HURRIED, "hurried")?,
        memory: opt_u64(stats_attr::MEMORY, "memory")?,
        malformed: opt_u64(stats_attr::MALFORMED, "malformed")?,
        held: opt_u64(stats_attr::HELD, "held")?,
        held_dropped: opt_u64(stats_attr::HELD_DROPPED, "held-dropped")?,
        icmp_forwarded: opt_u64(stats_attr::ICMP_FORWARDED, "icmp-forwarded")?,
        icmp_malformed: opt_u64(stats_attr::ICMP_MALFORMED, "icmp-malformed")?,
        common: opt_u32(stats_attr::COMMON, "common")?,
        common_memory: opt_u64(stats_attr::COMMON_MEMORY, "common-memory")?,
        forwarded_common: opt_u64(stats_attr::FORWARDED_COMMON, "forwarded-common")?,
        promoted: opt_u64(stats_attr::PROMOTED, "promoted")?,
        replicated: opt_u64(stats_attr::REPLICATED, "replicated")?,
        pending: opt_u32(stats_attr::PENDING, "pending")?,
        unconfirmed: opt_u64(stats_attr::UNCONFIRMED, "unconfirmed")?,
        resumed: opt_u64(stats_attr::RESUMED, "resumed")?,
        acks_withheld: opt_u64(stats_attr::ACKS_WITHHELD, "acks-withheld")?,
        acks_released: opt_u64(stats_attr::ACKS_RELEASED, "acks-released")?,
        relayed: opt_u64(stats_attr::RELAYED, "relayed")?,
        relay_failed: opt_u64(stats_attr::RELAY_FAILED, "relay-failed")?,
        relay_skipped: opt_u64(stats_attr::RELAY_SKIPPED, "relay-skipped")?,
        held_now: opt_u32(stats_attr::HELD_NOW, "held-now")?,
        held_awaiting: opt_u32(stats_attr::HELD_AWAITING, "held-awaiting")?,
        relayed_again: opt_u64(stats_attr::RELAYED_AGAIN, "relayed-again")?,
        moved: opt_u64(stats_attr::MOVED, "moved")?,
        moves_refused: opt_u64(stats_attr::MOVES_REFUSED, "moves-refused")?,
        moves_failed: opt_u64(stats_attr::MOVES_FAILED, "moves-failed")?,
        released: opt_u64(stats_attr::RELEASED, "released")?,
    })
}

/// The attributes of a `conn-get` request for `filter`: a `conn` nest
/// with the fields it gives, none for every connection.
pub fn conn_filter_attrs(filter: &ConnFilter) -> Vec<Attr> {
    let mut inner = Vec::new();
    if let Some(role) = filter.role {
        inner.push((conn_attr::ROLE, vec![role.uapi()]));
    }
    if let Some(state) = filter.state {
        inner.push((conn_attr::STATE, vec![state.uapi()]));
    }
    // The address as `*-addr` (IPv4) or `*-addr6` (IPv6), then the port.
    let mut endpoint = |(addr, port): (IpAddr, Option<u16>), (v4, v6), p| {
        inner.push(addr_attr(addr, v4, v6));
        if let Some(port) = port {
            inner.push((p, port.to_ne_bytes().to_vec()));
        }
    };
    if let Some(c) = filter.client {
        endpoint(
            c,
            (conn_attr::CLIENT_ADDR, conn_attr::CLIENT_ADDR6),
            conn_attr::CLIENT_PORT,
        );
    }
    if let Some(s) = filter.service {
        endpoint(
            (s.ip(), Some(s.port())),
            (conn_attr::VIP_ADDR, conn_attr::VIP_ADDR6),
            conn_attr::VIP_PORT,
        );
    }
    if let Some(b) = filter.backend {
        endpoint(
            (b.ip(), Some(b.port())),
            (conn_attr::BACKEND_ADDR, conn_attr::BACKEND_ADDR6),
            conn_attr::BACKEND_PORT,
        );
    }
    if let Some(peer) = filter.peer {
        inner.push((conn_attr::PEER, peer.to_ne_bytes().to_vec()));
    }
    if inner.is_empty() {
        return Vec::new();
    }
    vec![(attr::CONN | NESTED, nest(&inner))]
}

/// `conn-get` for the connections `filter` selects (a dump, or a plain
/// request to a module without the dump).
pub fn conn_get(filter: &ConnFilter) -> Result<Genl, Error> {
    genl(cmd::CONN_GET, FAMILY_VERSION, conn_filter_attrs(filter))
}

/// The connections of a `conn-get` answer: the `conn` nests of one
/// message (one in each message of a dump, many in a plain reply).
pub fn parse_conn_message(reply: &Genl) -> Result<Vec<Conn>, Error> {
    attrs(reply)
        .into_iter()
        .filter(|&(t, _)| t == attr::CONN)
        .map(|(_, payload)| parse_conn(payload))
        .collect()
}

/// The reply to a plain `conn-get` request: its connections, and how many
/// the table holds.
pub fn parse_conns(reply: &Genl) -> Result<Conns, Error> {
    let top = attrs(reply);
    let total = require(&top, attr::CONN_TOTAL, "conn-total")?;
    let total = decode_u32(total).ok_or_else(|| bad_length("conn-total", total))?;
    Ok(Conns {
        total,
        list: parse_conn_message(reply)?,
        interrupted: false,
    })
}

/// One `conn` nest.
fn parse_conn(payload: &[u8]) -> Result<Conn, Error> {
    let a = parse_attrs(payload)?;
    let u64_of = |ty, name| {
        let p = require(&a, ty, name)?;
        decode_u64(p).ok_or_else(|| bad_length(name, p))
    };
    let role = require(&a, conn_attr::ROLE, "role")?;
    let state = require(&a, conn_attr::STATE, "state")?;
    let peer = require(&a, conn_attr::PEER, "peer")?;
    Ok(Conn {
        id: u64_of(conn_attr::ID, "id")?,
        role: match role {
            [r] => match Role::from_uapi(*r) {
                Some(Role::Front) => "front",
                Some(Role::Back) => "back",
                None => "unknown",
            },
            _ => "unknown",
        },
        state: match state {
            [s] => Phase::from_uapi(*s).map_or("unknown", Phase::name),
            _ => "unknown",
        },
        client: endpoint_of(
            &a,
            (conn_attr::CLIENT_ADDR, conn_attr::CLIENT_ADDR6),
            conn_attr::CLIENT_PORT,
            ("client-addr", "client-addr6", "client-port"),
        )?,
        vip: endpoint_of(
            &a,
            (conn_attr::VIP_ADDR, conn_attr::VIP_ADDR6),
            conn_attr::VIP_PORT,
            ("vip-addr", "vip-addr6", "vip-port"),
        )?,
        backend: endpoint_of(
            &a,
            (conn_attr::BACKEND_ADDR, conn_attr::BACKEND_ADDR6),
            conn_attr::BACKEND_PORT,
            ("backend-addr", "backend-addr6", "backend-port"),
        )?,
        peer: decode_u32(peer).ok_or_else(|| bad_length("peer", peer))?,
        age_ms: u64_of(conn_attr::AGE_MS, "age-ms")?,
        idle_ms: u64_of(conn_attr::IDLE_MS, "idle-ms")?,
        packets: u64_of(conn_attr::PACKETS, "packets")?,
        bytes: u64_of(conn_attr::BYTES, "bytes")?,
        // Sent only for a connection whose back-end drains.
        draining: find(&a, conn_attr::DRAINING).is_some(),
    })
}

/// `peer-get`.
pub fn peer_get() -> Result<Genl, Error> {
    genl(cmd::PEER_GET, FAMILY_VERSION, Vec::new())
}

/// The peers in the reply to `peer-get`, in the kernel's order.
pub fn parse_peers(reply: &Genl) -> Result<Vec<Peer>, Error> {
    let mut peers = Vec::new();
    for (_, payload) in attrs(reply).into_iter().filter(|&(t, _)| t == attr::PEER) {
        let a = parse_attrs(payload)?;
        let u32_of = |ty, name| {
            let p = require(&a, ty, name)?;
            decode_u32(p).ok_or_else(|| bad_length(name, p))
        };
        let u64_of = |ty, name| {
            let p = require(&a, ty, name)?;
            decode_u64(p).ok_or_else(|| bad_length(name, p))
        };
        let port = require(&a, peer_attr::PORT, "port")?;
        let state = require(&a, peer_attr::STATE, "state")?;
        peers.push(Peer {
            node_id: u32_of(peer_attr::NODE_ID, NODE_ID)?,
            addr: addr_of(&a, (peer_attr::ADDR, peer_attr::ADDR6), ("addr", "addr6"))?,
            port: decode_u16(port).ok_or_else(|| bad_length("port", port))?,
            up: state == [peer_state::UP],
            last_rx_ms: find(&a, peer_attr::LAST_RX_MS).and_then(decode_u64),
            msgs_in: u64_of(peer_attr::MSGS_IN, "msgs-in")?,
            msgs_out: u64_of(peer_attr::MSGS_OUT, "msgs-out")?,
            writes_out: u64_of(peer_attr::WRITES_OUT, "writes-out")?,
            connects: u32_of(peer_attr::CONNECTS, "connects")?,
        });
    }
    Ok(peers)
}

/// The netlink message that sends `genl` to the family `family`:
/// `NLM_F_REQUEST` and `flags`, sequence number `seq`, from port `pid`.
pub fn request(family: u16, flags: NlmF, seq: u32, pid: u32, genl: Genl) -> Result<Message, Error> {
    NlmsghdrBuilder::default()
        .nl_type(family)
        .nl_flags(NlmF::REQUEST | flags)
        .nl_seq(seq)
        .nl_pid(pid)
        .nl_payload(NlPayload::Payload(genl))
        .build()
        .map_err(build_error)
}

/// The attributes of `genl` as (type, payload) pairs, in order, with the
/// nested and byte-order flags cleared from the types.
pub fn attrs(genl: &Genl) -> Vec<(u16, &[u8])> {
    genl.attrs()
        .iter()
        .map(|a| (*a.nla_type().nla_type(), a.nla_payload().as_ref()))
        .collect()
}

/// Splits `payload` into attributes (type, payload), as the kernel's
/// `nla_for_each_attr` does: aligned to 4 bytes, a trailing remnant too
/// short for an attribute ignored, a malformed length an error.
pub fn parse_attrs(payload: &[u8]) -> Result<Vec<(u16, &[u8])>, Error> {
    let mut attrs = Vec::new();
    let mut rest = payload;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        // NLA_TYPE_MASK: without NLA_F_NESTED and NLA_F_NET_BYTEORDER.
        let ty = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return Err(Error::Malformed(format!(
                "attribute {ty} has length {len} of {} bytes left",
                rest.len()
            )));
        }
        attrs.push((ty, &rest[4..len]));
        rest = &rest[((len + 3) & !3).min(rest.len())..];
    }
    Ok(attrs)
}

/// The payload of the first attribute of type `ty` in `attrs`.
fn find<'a>(attrs: &[(u16, &'a [u8])], ty: u16) -> Option<&'a [u8]> {
    attrs.iter().find(|&&(t, _)| t == ty).map(|&(_, p)| p)
}

/// The payload of attribute `ty`, which the reply must have.
fn require<'a>(attrs: &[(u16, &'a [u8])], ty: u16, name: &str) -> Result<&'a [u8], Error> {
    find(attrs, ty).ok_or_else(|| Error::Malformed(format!("no {name} attribute")))
}

fn bad_length(name: &str, payload: &[u8]) -> Error {
    Error::Malformed(format!("{name} attribute of {} bytes", payload.len()))
}

/// A NUL-terminated string payload (`NLA_NUL_STRING`/`NLA_STRING`), up to its
/// first NUL.
fn decode_string(payload: &[u8]) -> String {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    String::from_utf8_lossy(&payload[..end]).into_owned()
}

fn decode_u64(payload: &[u8]) -> Option<u64> {
    payload.try_into().ok().map(u64::from_ne_bytes)
}

/// The family id in nlctrl's reply to [`get_family`].
pub fn parse_family_id(reply: &Genl) -> Result<u16, Error> {
    let attrs = attrs(reply);
    let id = require(&attrs, CtrlAttr::FamilyId.into(), "nlctrl family-id")?;
    decode_u16(id).ok_or_else(|| bad_length("nlctrl family-id", id))
}

/// The id of multicast group `name` in nlctrl's reply about a family;
/// `None` if the family has no such group (a module from before it).
pub fn parse_mcast_group(reply: &Genl, name: &CStr) -> Result<Option<u32>, Error> {
    let attrs = attrs(reply);
    let Some(groups) = find(&attrs, CtrlAttr::McastGroups.into()) else {
        return Ok(None);
    };
    for (_, group) in parse_attrs(groups)? {
        let group = parse_attrs(group)?;
        let n = require(&group, CtrlAttrMcastGrp::Name.into(), "nlctrl group name")?;
        if decode_string(n).as_bytes() == name.to_bytes() {
            return u32_of(&group, CtrlAttrMcastGrp::Id.into(), "nlctrl group id").map(Some);
        }
    }
    Ok(None)
}

/// The event of a notification of the `events` group; `None` for a
/// command this version does not know.
pub fn parse_event(genl: &Genl) -> Result<Option<Event>, Error> {
    let kind = match *genl.cmd() {
        cmd::HANDOFF_NTF => "handoff",
        cmd::CONN_END_NTF => "conn-end",
        cmd::PEER_NTF => "peer",
        cmd::CONFIG_NTF => "config",
        _ => return Ok(None),
    };
    let top = attrs(genl);
    let a = parse_attrs(require(&top, attr::EVENT, "event")?)?;
    // An endpoint the event has: its address (`*-addr` or `*-addr6`,
    // not both) and port.
    let endpoint = |types, port, names: (&str, &str, &str)| -> Result<_, Error> {
        match opt_addr(&a, types, (names.0, names.1))? {
            None => Ok(None),
            Some(addr) => Ok(Some(SocketAddr::new(addr, u16_of(&a, port, names.2)?))),
        }
    };
    let byte = |ty, name| -> Result<Option<u8>, Error> {
        match find(&a, ty) {
            None => Ok(None),
            Some([v]) => Ok(Some(*v)),
            Some(p) => Err(bad_length(name, p)),
        }
    };
    let mut e = Event::new(kind);
    e.id = match find(&a, event_attr::ID) {
        Some(p) => Some(decode_u64(p).ok_or_else(|| bad_length("id", p))?),
        None => None,
    };
    e.client = endpoint(
        (event_attr::CLIENT_ADDR, event_attr::CLIENT_ADDR6),
        event_attr::CLIENT_PORT,
        ("client-addr", "client-addr6", "client-port"),
    )?;
    e.vip = endpoint(
        (event_attr::VIP_ADDR, event_attr::VIP_ADDR6),
        event_attr::VIP_PORT,
        ("vip-addr", "vip-addr6", "vip-port"),
    )?;
    e.backend = endpoint(
        (event_attr::BACKEND_ADDR, event_attr::BACKEND_ADDR6),
        event_attr::BACKEND_PORT,
        ("backend-addr", "backend-addr6", "backend-port"),
    )?;
    e.peer = match find(&a, event_attr::PEER) {
        Some(_) => Some(u32_of(&a, event_attr::PEER, "peer")?),
        None => None,
    };
    e.result = byte(event_attr::RESULT, "result")?.map(|r| match r {
        handoff_result::OK => "ok",
        handoff_result::REFUSED => "refused",
        handoff_result::FAILED => "failed",
        _ => "unknown",
    });
    e.reason = byte(event_attr::REASON, "reason")?.map(reason_name);
    e.role = byte(event_attr::ROLE, "role")?.map(|r| match Role::from_uapi(r) {
        Some(Role::Front) => "front",
        Some(Role::Back) => "back",
        None => "unknown",
    });
    e.state = byte(event_attr::STATE, "state")?.map(|s| match s {
        peer_state::UP => "up",
        peer_state::DOWN => "down",
        _ => "unknown",
    });
    e.command = byte(event_attr::CMD, "cmd")?.map(command_name);
    Ok(Some(e))
}

/// The name of a reason code of the control protocol.
fn reason_name(r: u8) -> &'static str {
    use baton_proto::ctrl::reason;
    match r {
        reason::OTHER => "other",
        reason::NO_LISTENER => "no-listener",
        reason::TIMEOUT => "timeout",
        reason::OVERLOAD => "overload",
        reason::INVALID => "invalid",
        reason::CLOSED => "closed",
        reason::IDLE => "idle",
        reason::BUSY => "busy",
        _ => "unknown",
    }
}

/// The spec's name of a command that changes the configuration.
fn command_name(c: u8) -> &'static str {
    match c {
        cmd::CONFIG_SET => "config-set",
        cmd::PEER_ADD => "peer-add",
        cmd::PEER_DEL => "peer-del",
        cmd::SERVICE_ADD => "service-add",
        cmd::SERVICE_DEL => "service-del",
        cmd::BACKEND_ADD => "backend-add",
        cmd::BACKEND_DEL => "backend-del",
        cmd::BACKEND_SET => "backend-set",
        cmd::RULE_ADD => "rule-add",
        cmd::RULE_DEL => "rule-del",
        cmd::CLUSTER_ADD => "cluster-add",
        cmd::CLUSTER_DEL => "cluster-del",
        _ => "unknown",
    }
}

/// The module version and hook counters in the reply to `status-get`.
/// Padding and attributes this version does not know are skipped; the
/// IPv6 counters are absent from modules that count IPv4's only.
pub fn parse_status(reply: &Genl) -> Result<Status, Error> {
    let attrs = attrs(reply);
    let version = decode_string(require(&attrs, attr::VERSION, "version")?);
    let hooks = hook_counters(require(&attrs, attr::HOOKS, "hooks")?)?;
    let hooks6 = find(&attrs, attr::HOOKS6).map(hook_counters).transpose()?;
    Ok(Status {
        version,
        hooks,
        hooks6,
    })
}

/// The four counters of a `hooks` or `hooks6` nest.
fn hook_counters(nest: &[u8]) -> Result<[u64; Hook::ALL.len()], Error> {
    let hooks = parse_attrs(nest)?;
    let mut counters = [0; Hook::ALL.len()];
    for hook in Hook::ALL {
        let name = hook.name();
        let payload = require(&hooks, hook.attr(), name)?;
        counters[hook.index()] = decode_u64(payload).ok_or_else(|| bad_length(name, payload))?;
    }
    Ok(counters)
}

/// The configuration in the reply to `config-get`.
pub fn parse_config(reply: &Genl) -> Result<ConfigReply, Error> {
    let attrs = attrs(reply);
    let port = require(&attrs, attr::CTRL_PORT, CTRL_PORT)?;
    let id = require(&attrs, attr::NODE_ID, NODE_ID)?;
    let defaults = Config::new(0);
    // Absent from modules that predate them: their values were the defaults.
    let ms = |ty, name, default| -> Result<u32, Error> {
        match find(&attrs, ty) {
            Some(p) => decode_u32(p).ok_or_else(|| bad_length(name, p)),
            None => Ok(default),
        }
    };
    let auth = match find(&attrs, attr::AUTH) {
        Some([v]) => *v != 0,
        Some(p) => return Err(bad_length("auth", p)),
        None => false,
    };
    let config = Config {
        ctrl_port: decode_u16(port).ok_or_else(|| bad_length(CTRL_PORT, port))?,
        node_id: decode_u32(id).ok_or_else(|| bad_length(NODE_ID, id))?,
        request_timeout_ms: ms(
            attr::REQUEST_TIMEOUT_MS,
            REQUEST_TIMEOUT,
            defaults.request_timeout_ms,
        )?,
        handoff_timeout_ms: ms(
            attr::HANDOFF_TIMEOUT_MS,
            HANDOFF_TIMEOUT,
            defaults.handoff_timeout_ms,
        )?,
        idle_timeout_ms: ms(
            attr::IDLE_TIMEOUT_MS,
            IDLE_TIMEOUT,
            defaults.idle_timeout_ms,
        )?,
        heartbeat_timeout_ms: ms(
            attr::HEARTBEAT_TIMEOUT_MS,
            HEARTBEAT_TIMEOUT,
            defaults.heartbeat_timeout_ms,
        )?,
        copies: ms(attr::COPIES, COPIES, defaults.copies)?,
    };
    Ok(ConfigReply { config, auth })
}

/// The message of an extended ACK (`NLMSGERR_ATTR_MSG`), if it has one.
pub fn ext_ack_message(ext_ack: &GenlBuffer<NlmsgerrAttr, Buffer>) -> Option<String> {
    ext_ack
        .iter()
        .find(|a| *a.nla_type().nla_type() == NlmsgerrAttr::Msg)
        .map(|a| decode_string(a.nla_payload().as_ref()))
        .filter(|m| !m.is_empty())
}

/// The error in an `NLMSG_ERROR` message with the (negative) `code` and the
/// extended ACK attributes `ext_ack`.
pub fn kernel_error(code: i32, ext_ack: &GenlBuffer<NlmsgerrAttr, Buffer>) -> Error {
    Error::from_kernel(code.saturating_neg(), ext_ack_message(ext_ack))
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use baton_proto::uapi::{hook_attr, member_state, FAMILY_NAME};
    use neli::{FromBytes, ToBytes};

    use super::*;
    use crate::cli::Action;

    /// The bytes of `msg` as they go on the wire.
    fn bytes(msg: &Message) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        msg.to_bytes(&mut buf).unwrap();
        buf.into_inner()
    }

    /// One attribute on the wire, padded to 4 bytes.
    fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(4 + payload.len() as u16).to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(payload);
        out.resize(out.len().next_multiple_of(4), 0);
        out
    }

    /// A netlink message header followed by `payload`.
    fn nlmsg(ty: u16, flags: u16, seq: u32, pid: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(16 + payload.len() as u32).to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&pid.to_ne_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// A generic netlink header followed by `attrs`.
    fn genlmsg(cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![cmd, FAMILY_VERSION, 0, 0];
        for a in attrs {
            out.extend_from_slice(a);
        }
        out
    }

    /// Parses one message as `batonctl` receives it.
    fn parse(wire: &[u8]) -> Message {
        Message::from_bytes(&mut Cursor::new(wire)).unwrap()
    }

    fn payload(msg: &Message) -> &Genl {
        msg.get_payload().expect("a generic netlink payload")
    }

    const FAMILY: u16 = 0x1c;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_ACK: u16 = 0x4;
    const NLMSG_ERROR: u16 = 2;
    const NLM_F_ACK_TLVS: u16 = 0x200;
    const NLM_F_MULTI: u16 = 0x2;
    const NLM_F_DUMP: u16 = 0x300;
    const NLM_F_DUMP_INTR: u16 = 0x10;
    const NLMSG_DONE: u16 = 3;

    #[test]
    fn config_set_attribute_list() {
        let both = ConfigUpdate {
            ctrl_port: Some(7301),
            node_id: Some(42),
            ..ConfigUpdate::default()
        };
        assert_eq!(
            config_set_attrs(&both),
            vec![
                (attr::CTRL_PORT, 7301u16.to_ne_bytes().to_vec()),
                (attr::NODE_ID, 42u32.to_ne_bytes().to_vec()),
            ]
        );
        let port = ConfigUpdate {
            ctrl_port: Some(1),
            node_id: None,
            ..ConfigUpdate::default()
        };
        assert_eq!(
            config_set_attrs(&port),
            vec![(attr::CTRL_PORT, 1u16.to_ne_bytes().to_vec())]
        );
        let id = ConfigUpdate {
            ctrl_port: None,
            node_id: Some(0),
            ..ConfigUpdate::default()
        };
        assert_eq!(
            config_set_attrs(&id),
            vec![(attr::NODE_ID, 0u32.to_ne_bytes().to_vec())]
        );
    }

    #[test]
    fn config_set_bytes() {
        let update = ConfigUpdate {
            ctrl_port: Some(7301),
            node_id: Some(0x0102_0304),
            ..ConfigUpdate::default()
        };
        let msg = request(
            FAMILY,
            NlmF::ACK,
            7,
            4242,
            config_set(&update, None).unwrap(),
        )
        .unwrap();
        let expected = nlmsg(
            FAMILY,
            NLM_F_REQUEST | NLM_F_ACK,
            7,
            4242,
            &genlmsg(
                cmd::CONFIG_SET,
                &[
                    nla(attr::CTRL_PORT, &7301u16.to_ne_bytes()),
                    nla(attr::NODE_ID, &0x0102_0304u32.to_ne_bytes()),
                ],
            ),
        );
        assert_eq!(expected.len(), 16 + 4 + 8 + 8);
        assert_eq!(bytes(&msg), expected);
    }

    /// The `peer-add` request of `peer` is one `peer` nest of `inner`.
    fn assert_peer_add_bytes(peer: &PeerSpec, inner: &[u8]) {
        let msg = request(FAMILY, NlmF::ACK, 3, 0, peer_add(peer).unwrap()).unwrap();
        let expected = nlmsg(
            FAMILY,
            NLM_F_REQUEST | NLM_F_ACK,
            3,
            0,
            &genlmsg(cmd::PEER_ADD, &[nla(attr::PEER | NESTED, inner)]),
        );
        assert_eq!(bytes(&msg), expected);
    }

    #[test]
    fn peer_add_bytes() {
        let peer = PeerSpec {
            node_id: 2,
            addr: [198, 18, 0, 2].into(),
            port: Some(7400),
        };
        let inner = [
            nla(peer_attr::NODE_ID, &2u32.to_ne_bytes()),
            nla(peer_attr::ADDR, &[198, 18, 0, 2]),
            nla(peer_attr::PORT, &7400u16.to_ne_bytes()),
        ]
        .concat();
        assert_peer_add_bytes(&peer, &inner);
        // Without a port the kernel uses its ctrl-port: no PORT attribute.
        let attrs = peer_add_attrs(&PeerSpec { port: None, ..peer });
        assert_eq!(parse_attrs(&attrs[0].1).unwrap().len(), 2);
    }

    #[test]
    fn peer_add_ipv6_bytes() {
        let peer = PeerSpec {
            node_id: 3,
            addr: "2001:db8::a:2".parse().unwrap(),
            port: Some(7400),
        };
        // addr6 (10): 16 bytes, network order; no addr.
        let addr6 = [
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0x02,
        ];
        let inner = [
            nla(peer_attr::NODE_ID, &3u32.to_ne_bytes()),
            nla(10, &addr6),
            nla(peer_attr::PORT, &7400u16.to_ne_bytes()),
        ]
        .concat();
        // Its header: length 20, type 10.
        assert_eq!(
            inner[8..12],
            [20u16.to_ne_bytes(), 10u16.to_ne_bytes()].concat()
        );
        assert_peer_add_bytes(&peer, &inner);
        let attrs = peer_add_attrs(&PeerSpec { port: None, ..peer });
        let a = parse_attrs(&attrs[0].1).unwrap();
        assert_eq!(find(&a, peer_attr::ADDR), None);
        assert_eq!(find(&a, peer_attr::ADDR6), Some(&addr6[..]));
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn cluster_add_and_del_bytes() {
        let inner = nla(member_attr::NODE_ID, &3u32.to_ne_bytes());
        for (genl, command) in [
            (cluster_add(3).unwrap(), cmd::CLUSTER_ADD),
            (cluster_del(3).unwrap(), cmd::CLUSTER_DEL),
        ] {
            let msg = request(FAMILY, NlmF::ACK, 2, 0, genl).unwrap();
            let expected = nlmsg(
                FAMILY,
                NLM_F_REQUEST | NLM_F_ACK,
                2,
                0,
                &genlmsg(command, &[nla(attr::MEMBER | NESTED, &inner)]),
            );
            assert_eq!(bytes(&msg), expected);
        }
        let msg = request(FAMILY, NlmF::empty(), 4, 0, cluster_get().unwrap()).unwrap();
        assert_eq!(
            bytes(&msg),
            nlmsg(FAMILY, NLM_F_REQUEST, 4, 0, &genlmsg(cmd::CLUSTER_GET, &[]))
        );
    }

    /// A `member` nest as the kernel puts it: the announced values, after
    /// a pad before the epoch, only if `heard`.
    fn member_nest(id: u32, state: u8, heard: Option<(u64, u8, u32, u32, u32)>) -> Vec<u8> {
        let mut inner = vec![
            nla(member_attr::NODE_ID, &id.to_ne_bytes()),
            nla(member_attr::STATE, &[state]),
            nla(member_attr::SYNCED, &[u8::from(heard.is_some())]),
        ];
        if let Some((epoch, agrees, live, active, common)) = heard {
            inner.push(nla(member_attr::PAD, &[]));
            inner.push(nla(member_attr::EPOCH, &epoch.to_ne_bytes()));
            inner.push(nla(member_attr::AGREES, &[agrees]));
            inner.push(nla(member_attr::LIVE, &live.to_ne_bytes()));
            inner.push(nla(member_attr::ACTIVE, &active.to_ne_bytes()));
            inner.push(nla(member_attr::COMMON, &common.to_ne_bytes()));
        }
        nla(attr::MEMBER | NESTED, &inner.concat())
    }

    #[test]
    fn cluster_get_reply_decodes() {
        let wire = genlmsg(
            cmd::CLUSTER_GET,
            &[
                nla(attr::PAD, &[]),
                nla(attr::EPOCH, &7u64.to_ne_bytes()),
                member_nest(2, member_state::UP, Some((7, 1, 2, 10, 0))),
                member_nest(1, member_state::SELF, Some((7, 1, 2, 12, 0))),
                member_nest(3, member_state::DOWN, None),
                member_nest(4, 9, Some((6, 0, 1, 0, 0))),
            ],
        );
        let reply = parse(&nlmsg(FAMILY, 0, 1, 0, &wire));
        let c = parse_cluster(payload(&reply)).unwrap();
        assert_eq!(c.epoch, Some(7));
        assert_eq!(
            c.members[0],
            Member {
                node_id: 2,
                state: MemberState::Up,
                epoch: Some(7),
                agrees: Some(true),
                live: Some(2),
                active: Some(10),
                common: Some(0),
                synced: Some(true),
            }
        );
        assert_eq!(c.members[1].state, MemberState::Me);
        assert_eq!(
            c.members[2],
            Member {
                node_id: 3,
                state: MemberState::Down,
                epoch: None,
                agrees: None,
                live: None,
                active: None,
                common: None,
                synced: Some(false),
            }
        );
        assert_eq!(
            (c.members[3].state, c.members[3].agrees),
            (MemberState::Unknown, Some(false))
        );
        assert_eq!(c.others(), [2, 3, 4]);
        // No group: no epoch, no member.
        let empty = parse(&nlmsg(FAMILY, 0, 1, 0, &genlmsg(cmd::CLUSTER_GET, &[])));
        assert_eq!(parse_cluster(payload(&empty)).unwrap(), Cluster::default());
        // A short epoch is malformed.
        let bad = genlmsg(cmd::CLUSTER_GET, &[nla(attr::EPOCH, &[1, 2, 3, 4])]);
        assert!(matches!(
            parse_cluster(payload(&parse(&nlmsg(FAMILY, 0, 1, 0, &bad)))),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn cluster_add_refusal_shows_the_extack_message() {
        let add = bytes(&request(FAMILY, NlmF::ACK, 9, 4242, cluster_add(5).unwrap()).unwrap());
        let wire = error_reply(
            2, // ENOENT
            &add,
            &[nla(1, b"no peer with this node-id: add the peer first\0")],
        );
        let e = received_error(&wire);
        assert!(matches!(e, Error::Kernel { errno: 2, .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "no peer with this node-id: add the peer first"
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn backend_add_bytes() {
        let spec = BackendSpec {
            vip: "198.18.1.10:80".parse().unwrap(),
            addr: "198.18.2.2:8080".parse().unwrap(),
            weight: Some(3),
            peer: None,
            drain: None,
        };
        let msg = request(FAMILY, NlmF::ACK, 1, 0, backend(&spec, true).unwrap()).unwrap();
        let service = [nla(1, &[198, 18, 1, 10]), nla(2, &80u16.to_ne_bytes())].concat();
        let be = [
            nla(1, &[198, 18, 2, 2]),
            nla(2, &8080u16.to_ne_bytes()),
            nla(3, &3u32.to_ne_bytes()),
        ]
        .concat();
        let expected = nlmsg(
            FAMILY,
            NLM_F_REQUEST | NLM_F_ACK,
            1,
            0,
            &genlmsg(
                cmd::BACKEND_ADD,
                &[
                    nla(attr::SERVICE | NESTED, &service),
                    nla(attr::BACKEND | NESTED, &be),
                ],
            ),
        );
        assert_eq!(bytes(&msg), expected);
    }

    #[test]
    fn backend_set_bytes() {
        let spec = BackendSpec {
            vip: "198.18.1.10:80".parse().unwrap(),
            addr: "198.18.2.2:8080".parse().unwrap(),
            weight: Some(0),
            peer: None,
            drain: None,
        };
        let msg = request(FAMILY, NlmF::ACK, 5, 0, backend_set(&spec).unwrap()).unwrap();
        let service = [nla(1, &[198, 18, 1, 10]), nla(2, &80u16.to_ne_bytes())].concat();
        // weight 0 is sent: it is the request's point (drain).
        let be = [
            nla(1, &[198, 18, 2, 2]),
            nla(2, &8080u16.to_ne_bytes()),
            nla(3, &0u32.to_ne_bytes()),
        ]
        .concat();
        let expected = nlmsg(
            FAMILY,
            NLM_F_REQUEST | NLM_F_ACK,
            5,
            0,
            &genlmsg(
                23,
                &[
                    nla(attr::SERVICE | NESTED, &service),
                    nla(attr::BACKEND | NESTED, &be),
                ],
            ),
        );
        assert_eq!(bytes(&msg), expected);
        // The command byte follows the 16-byte netlink header.
        assert_eq!(expected[16], 23);
    }

    #[test]
    fn backend_set_drain_bytes() {
        let vip = "198.18.1.10:80".parse().unwrap();
        let be = "198.18.2.2:8080".parse().unwrap();
        let service = [nla(1, &[198, 18, 1, 10]), nla(2, &80u16.to_ne_bytes())].concat();
        let endpoint = [nla(1, &[198, 18, 2, 2]), nla(2, &8080u16.to_ne_bytes())].concat();
        // drain (7): a u8 after the weight, if any; 1 drains, 0 ends it.
        for (weight, drain, tail) in [
            (None, true, nla(7, &[1])),
            (None, false, nla(7, &[0])),
            (
                Some(4),
                false,
                [nla(3, &4u32.to_ne_bytes()), nla(7, &[0])].concat(),
            ),
        ] {
            let spec = BackendSpec {
                weight,
                drain: Some(drain),
                ..BackendSpec::new(vip, be)
            };
            let be_nest = [&endpoint[..], &tail].concat();
            assert_eq!(
                acked(backend_set(&spec).unwrap()),
                acked_wire(
                    cmd::BACKEND_SET,
                    &[
                        nla(attr::SERVICE | NESTED, &service),
                        nla(attr::BACKEND | NESTED, &be_nest),
                    ]
                ),
                "{spec:?}"
            );
        }
        // Its header: length 5, type 7, then 3 bytes of padding.
        assert_eq!(
            nla(backend_attr::DRAIN, &[1]),
            [&5u16.to_ne_bytes()[..], &7u16.to_ne_bytes(), &[1, 0, 0, 0]].concat()
        );
        // backend drain sends the same request as backend set drain on.
        let (Action::BackendDrain(drain, _), Action::BackendSet(set)) = (
            crate::cli::parse([
                "batonctl",
                "backend",
                "drain",
                "198.18.1.10:80",
                "198.18.2.2:8080",
            ])
            .unwrap()
            .action,
            crate::cli::parse([
                "batonctl",
                "backend",
                "set",
                "198.18.1.10:80",
                "198.18.2.2:8080",
                "drain",
                "on",
            ])
            .unwrap()
            .action,
        ) else {
            panic!("not a drain and a set");
        };
        assert_eq!(
            acked(backend_set(&drain).unwrap()),
            acked(backend_set(&set).unwrap())
        );
    }

    /// 2001:db8::10 (a service) in network order.
    const VIP6: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    /// 2001:db8::2:2 (a back-end) in network order.
    const BE6: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0x02,
    ];

    /// The request `genl` as it goes on the wire, ACK asked, sequence 1.
    fn acked(genl: Genl) -> Vec<u8> {
        bytes(&request(FAMILY, NlmF::ACK, 1, 0, genl).unwrap())
    }

    /// A message of `command` with `attrs`, as `acked` sends it.
    fn acked_wire(command: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
        nlmsg(
            FAMILY,
            NLM_F_REQUEST | NLM_F_ACK,
            1,
            0,
            &genlmsg(command, attrs),
        )
    }

    #[test]
    fn ipv6_service_requests_bytes() {
        let vip: SocketAddr = "[2001:db8::10]:80".parse().unwrap();
        // The service nest: addr6 (7), 16 bytes, then port; no addr.
        let service = [nla(7, &VIP6), nla(2, &80u16.to_ne_bytes())].concat();
        assert_eq!(
            service[..4],
            [20u16.to_ne_bytes(), 7u16.to_ne_bytes()].concat(),
            "addr6: length 20, type 7"
        );
        assert_eq!(service.len(), 20 + 8);
        let add = ServiceSpec {
            vip,
            scheduler: Some(Scheduler::Sh),
            max_conns: Some(100),
            dispatch: None,
        };
        let with_options = [
            &service[..],
            &nla(service_attr::SCHEDULER, &[3]),
            &nla(service_attr::MAX_CONNS, &100u32.to_ne_bytes()),
        ]
        .concat();
        assert_eq!(
            acked(service_add(&add).unwrap()),
            acked_wire(
                cmd::SERVICE_ADD,
                &[nla(attr::SERVICE | NESTED, &with_options)]
            )
        );
        assert_eq!(
            acked(service_del(vip).unwrap()),
            acked_wire(cmd::SERVICE_DEL, &[nla(attr::SERVICE | NESTED, &service)])
        );
        assert_eq!(
            acked(rule_del(vip, 2).unwrap()),
            acked_wire(
                cmd::RULE_DEL,
                &[
                    nla(attr::SERVICE | NESTED, &service),
                    nla(
                        attr::RULE | NESTED,
                        &nla(rule_attr::INDEX, &2u32.to_ne_bytes())
                    ),
                ]
            )
        );
    }

    #[test]
    fn service_add_dispatch_bytes() {
        let vip: SocketAddr = "198.18.1.10:80".parse().unwrap();
        let service = [nla(1, &[198, 18, 1, 10]), nla(2, &80u16.to_ne_bytes())].concat();
        let add = |scheduler, max_conns, dispatch| ServiceSpec {
            vip,
            scheduler,
            max_conns,
            dispatch,
        };
        // Not given: no attribute, the kernel's default (request).
        assert_eq!(
            acked(service_add(&add(None, None, None)).unwrap()),
            acked_wire(cmd::SERVICE_ADD, &[nla(attr::SERVICE | NESTED, &service)])
        );
        // dispatch (8): a u8 of the `dispatch` enum, after the other
        // options; one byte padded to four.
        let d = nla(service_attr::DISPATCH, &[0]);
        assert_eq!(
            d,
            [5u16.to_ne_bytes(), 8u16.to_ne_bytes()]
                .concat()
                .into_iter()
                .chain([0, 0, 0, 0])
                .collect::<Vec<u8>>(),
            "dispatch: length 5, type 8, value 0, padding"
        );
        for (dispatch, v) in [(Dispatch::Connection, 0), (Dispatch::Request, 1)] {
            assert_eq!(
                acked(service_add(&add(None, None, Some(dispatch))).unwrap()),
                acked_wire(
                    cmd::SERVICE_ADD,
                    &[nla(
                        attr::SERVICE | NESTED,
                        &[&service[..], &nla(service_attr::DISPATCH, &[v])].concat()
                    )]
                ),
                "{dispatch:?}"
            );
        }
        let all = [
            &service[..],
            &nla(service_attr::SCHEDULER, &[0]),
            &nla(service_attr::MAX_CONNS, &3u32.to_ne_bytes()),
            &nla(service_attr::DISPATCH, &[0]),
        ]
        .concat();
        assert_eq!(
            acked(
                service_add(&add(
                    Some(Scheduler::Rr),
                    Some(3),
                    Some(Dispatch::Connection)
                ))
                .unwrap()
            ),
            acked_wire(cmd::SERVICE_ADD, &[nla(attr::SERVICE | NESTED, &all)])
        );
    }

    #[test]
    fn ipv6_backend_and_rule_requests_bytes() {
        let vip: SocketAddr = "[2001:db8::10]:80".parse().unwrap();
        let be: SocketAddr = "[2001:db8::2:2]:8080".parse().unwrap();
        let service = [nla(7, &VIP6), nla(2, &80u16.to_ne_bytes())].concat();
        // The backend nest: addr6 (6), port, weight, peer.
        let backend6 = [nla(6, &BE6), nla(2, &8080u16.to_ne_bytes())].concat();
        assert_eq!(
            backend6[..4],
            [20u16.to_ne_bytes(), 6u16.to_ne_bytes()].concat()
        );
        let spec = BackendSpec {
            vip,
            addr: be,
            weight: Some(3),
            peer: Some(2),
            drain: None,
        };
        let add = [
            &backend6[..],
            &nla(3, &3u32.to_ne_bytes()),
            &nla(4, &2u32.to_ne_bytes()),
        ]
        .concat();
        assert_eq!(
            acked(backend(&spec, true).unwrap()),
            acked_wire(
                cmd::BACKEND_ADD,
                &[
                    nla(attr::SERVICE | NESTED, &service),
                    nla(attr::BACKEND | NESTED, &add),
                ]
            )
        );
        let del = BackendSpec {
            weight: None,
            peer: None,
            ..spec
        };
        assert_eq!(
            acked(backend(&del, false).unwrap()),
            acked_wire(
                cmd::BACKEND_DEL,
                &[
                    nla(attr::SERVICE | NESTED, &service),
                    nla(attr::BACKEND | NESTED, &backend6),
                ]
            )
        );
        let set = BackendSpec {
            weight: Some(0),
            peer: None,
            ..spec
        };
        let weight0 = [&backend6[..], &nla(3, &0u32.to_ne_bytes())].concat();
        assert_eq!(
            acked(backend_set(&set).unwrap()),
            acked_wire(
                cmd::BACKEND_SET,
                &[
                    nla(attr::SERVICE | NESTED, &service),
                    nla(attr::BACKEND | NESTED, &weight0),
                ]
            )
        );
        // The rule nest: backend-addr6 (7), backend-port (6).
        let Action::RuleAdd(rule) = crate::cli::parse([
            "batonctl",
            "rule",
            "add",
            "[2001:db8::10]:80",
            "path",
            "/v6/",
            "to",
            "[2001:db8::2:2]:8080",
        ])
        .unwrap()
        .action
        else {
            panic!("not a rule add");
        };
        let r = [
            nla(rule_attr::PATH, b"/v6/"),
            nla(7, &BE6),
            nla(6, &8080u16.to_ne_bytes()),
        ]
        .concat();
        assert_eq!(
            acked(rule_add(&rule).unwrap()),
            acked_wire(
                cmd::RULE_ADD,
                &[
                    nla(attr::SERVICE | NESTED, &service),
                    nla(attr::RULE | NESTED, &r),
                ]
            )
        );
    }

    #[test]
    fn ipv6_conn_filter_bytes() {
        let filter = ConnFilter {
            service: Some("[2001:db8::10]:80".parse().unwrap()),
            backend: Some("[2001:db8::2:2]:8080".parse().unwrap()),
            client: Some(("2001:db8::1".parse().unwrap(), Some(40000))),
            ..ConnFilter::default()
        };
        let mut client6 = [0u8; 16];
        client6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        client6[15] = 1;
        // client-addr6 (16), vip-addr6 (17), backend-addr6 (18), each
        // followed by its port; no IPv4 address.
        let inner = [
            nla(16, &client6),
            nla(conn_attr::CLIENT_PORT, &40000u16.to_ne_bytes()),
            nla(17, &VIP6),
            nla(conn_attr::VIP_PORT, &80u16.to_ne_bytes()),
            nla(18, &BE6),
            nla(conn_attr::BACKEND_PORT, &8080u16.to_ne_bytes()),
        ]
        .concat();
        let msg = request(FAMILY, NlmF::DUMP, 4, 0, conn_get(&filter).unwrap()).unwrap();
        assert_eq!(
            bytes(&msg),
            nlmsg(
                FAMILY,
                NLM_F_REQUEST | NLM_F_DUMP,
                4,
                0,
                &genlmsg(cmd::CONN_GET, &[nla(attr::CONN | NESTED, &inner)]),
            )
        );
        // A client address alone, without a port.
        let attrs = conn_filter_attrs(&ConnFilter {
            client: Some(("2001:db8::1".parse().unwrap(), None)),
            ..ConnFilter::default()
        });
        assert_eq!(
            parse_attrs(&attrs[0].1).unwrap(),
            vec![(conn_attr::CLIENT_ADDR6, &client6[..])]
        );
    }

    #[test]
    fn backend_set_refusal_shows_the_extack_message() {
        let spec = BackendSpec {
            vip: "198.18.1.10:80".parse().unwrap(),
            addr: "198.18.2.7:8080".parse().unwrap(),
            weight: Some(0),
            peer: None,
            drain: None,
        };
        let set = bytes(&request(FAMILY, NlmF::ACK, 6, 4242, backend_set(&spec).unwrap()).unwrap());
        let wire = error_reply(
            2, // ENOENT
            &set,
            &[nla(1, b"backend not found in this service\0")],
        );
        let e = received_error(&wire);
        assert!(matches!(e, Error::Kernel { errno: 2, .. }), "{e:?}");
        assert_eq!(e.to_string(), "backend not found in this service");
    }

    #[test]
    fn events_decode() {
        let ev = [
            nla(event_attr::ID, &9u64.to_ne_bytes()),
            nla(event_attr::CLIENT_ADDR, &[198, 18, 1, 1]),
            nla(event_attr::CLIENT_PORT, &40000u16.to_ne_bytes()),
            nla(event_attr::VIP_ADDR, &[198, 18, 1, 100]),
            nla(event_attr::VIP_PORT, &80u16.to_ne_bytes()),
            nla(event_attr::BACKEND_ADDR, &[198, 18, 2, 1]),
            nla(event_attr::BACKEND_PORT, &8080u16.to_ne_bytes()),
            nla(event_attr::PEER, &2u32.to_ne_bytes()),
            nla(event_attr::RESULT, &[handoff_result::REFUSED]),
            nla(event_attr::REASON, &[1]),
        ]
        .concat();
        let wire = genlmsg(cmd::HANDOFF_NTF, &[nla(attr::EVENT | NESTED, &ev)]);
        let reply = parse(&nlmsg(FAMILY, 0, 0, 0, &wire));
        let e = parse_event(payload(&reply)).unwrap().unwrap();
        assert_eq!(
            (e.event, e.id, e.peer, e.result, e.reason),
            (
                "handoff",
                Some(9),
                Some(2),
                Some("refused"),
                Some("no-listener")
            )
        );
        assert_eq!(e.client, Some("198.18.1.1:40000".parse().unwrap()));
        assert_eq!(e.backend, Some("198.18.2.1:8080".parse().unwrap()));
        let cfg = genlmsg(
            cmd::CONFIG_NTF,
            &[nla(
                attr::EVENT | NESTED,
                &nla(event_attr::CMD, &[cmd::SERVICE_ADD]),
            )],
        );
        let e = parse_event(payload(&parse(&nlmsg(FAMILY, 0, 0, 0, &cfg))))
            .unwrap()
            .unwrap();
        assert_eq!(
            (e.event, e.command, e.id),
            ("config", Some("service-add"), None)
        );
        // backend-set is numbered after the notifications; named all the same.
        let set = genlmsg(
            cmd::CONFIG_NTF,
            &[nla(attr::EVENT | NESTED, &nla(event_attr::CMD, &[23]))],
        );
        let e = parse_event(payload(&parse(&nlmsg(FAMILY, 0, 0, 0, &set))))
            .unwrap()
            .unwrap();
        assert_eq!((e.event, e.command), ("config", Some("backend-set")));
        // A notification this version does not know is skipped; a short
        // attribute is an error.
        let other = genlmsg(99, &[]);
        assert_eq!(
            parse_event(payload(&parse(&nlmsg(FAMILY, 0, 0, 0, &other)))).unwrap(),
            None
        );
        let bad = genlmsg(
            cmd::PEER_NTF,
            &[nla(attr::EVENT | NESTED, &nla(event_attr::PEER, &[1, 2]))],
        );
        assert!(parse_event(payload(&parse(&nlmsg(FAMILY, 0, 0, 0, &bad)))).is_err());
    }

    #[test]
    fn service_get_reply_decodes() {
        let be = [
            nla(1, &[198, 18, 2, 2]),
            nla(2, &8080u16.to_ne_bytes()),
            nla(3, &3u32.to_ne_bytes()),
            nla(4, &2u32.to_ne_bytes()),
            nla(5, &7u32.to_ne_bytes()),
        ]
        .concat();
        let svc = [
            nla(1, &[198, 18, 1, 10]),
            nla(2, &80u16.to_ne_bytes()),
            nla(3, &[1]),
            nla(service_attr::BACKEND | NESTED, &be),
        ]
        .concat();
        let wire = genlmsg(cmd::SERVICE_GET, &[nla(attr::SERVICE | NESTED, &svc)]);
        let reply = parse(&nlmsg(FAMILY, 0, 1, 0, &wire));
        let services = parse_services(payload(&reply)).unwrap();
        assert_eq!(services.len(), 1);
        let s = &services[0];
        assert_eq!(
            (s.vip().to_string(), s.scheduler),
            ("198.18.1.10:80".into(), "wrr")
        );
        // A module that predates dispatch does not send it.
        assert_eq!(s.dispatch, None);
        assert_eq!(s.backends.len(), 1);
        let b = &s.backends[0];
        assert_eq!(
            (b.endpoint().to_string(), b.weight, b.peer, b.active),
            ("198.18.2.2:8080".into(), 3, 2, Some(7))
        );
    }

    #[test]
    fn service_get_reply_drain() {
        let with = |drain: Option<&[u8]>| {
            let mut be = vec![
                nla(backend_attr::ADDR, &[198, 18, 2, 2]),
                nla(backend_attr::PORT, &8080u16.to_ne_bytes()),
                nla(backend_attr::WEIGHT, &0u32.to_ne_bytes()),
                nla(backend_attr::PEER, &0u32.to_ne_bytes()),
            ];
            if let Some(d) = drain {
                be.push(nla(backend_attr::DRAIN, d));
            }
            be.push(nla(backend_attr::ACTIVE, &3u32.to_ne_bytes()));
            let svc = [
                nla(service_attr::ADDR, &[198, 18, 1, 10]),
                nla(service_attr::PORT, &80u16.to_ne_bytes()),
                nla(service_attr::SCHEDULER, &[2]),
                nla(service_attr::BACKEND | NESTED, &be.concat()),
            ]
            .concat();
            let wire = genlmsg(cmd::SERVICE_GET, &[nla(attr::SERVICE | NESTED, &svc)]);
            parse_services(payload(&parse(&nlmsg(FAMILY, 0, 1, 0, &wire))))
                .map(|s| s[0].backends[0].draining)
        };
        assert_eq!(with(Some(&[1])).unwrap(), Some(true));
        assert_eq!(with(Some(&[0])).unwrap(), Some(false));
        // A module that predates it does not say.
        assert_eq!(with(None).unwrap(), None);
        assert_eq!(
            with(Some(&[1, 0])).unwrap_err().to_string(),
            "malformed reply from the kernel: drain attribute of 2 bytes"
        );
    }

    #[test]
    fn service_get_reply_dispatch() {
        let with = |dispatch: &[u8]| {
            let svc = [
                nla(service_attr::ADDR, &[198, 18, 1, 10]),
                nla(service_attr::PORT, &80u16.to_ne_bytes()),
                nla(service_attr::SCHEDULER, &[2]),
                nla(service_attr::MAX_CONNS, &0u32.to_ne_bytes()),
                nla(service_attr::DISPATCH, dispatch),
            ]
            .concat();
            let wire = genlmsg(cmd::SERVICE_GET, &[nla(attr::SERVICE | NESTED, &svc)]);
            parse_services(payload(&parse(&nlmsg(FAMILY, 0, 1, 0, &wire))))
        };
        assert_eq!(with(&[0]).unwrap()[0].dispatch, Some("connection"));
        assert_eq!(with(&[1]).unwrap()[0].dispatch, Some("request"));
        // A value of a newer module: shown as unknown, not refused.
        assert_eq!(with(&[2]).unwrap()[0].dispatch, Some("unknown"));
        assert_eq!(
            with(&[1, 0]).unwrap_err().to_string(),
            "malformed reply from the kernel: dispatch attribute of 2 bytes"
        );
        assert_eq!(
            with(&[]).unwrap_err().to_string(),
            "malformed reply from the kernel: dispatch attribute of 0 bytes"
        );
    }

    /// A `service-get` reply of one service with `addrs` for its
    /// address, a back-end with `be_addrs` and a rule with `rule_addrs`.
    fn service_reply(addrs: &[Vec<u8>], be_addrs: &[Vec<u8>], rule_addrs: &[Vec<u8>]) -> Genl {
        let be = [
            be_addrs.concat(),
            nla(backend_attr::PORT, &8080u16.to_ne_bytes()),
            nla(backend_attr::WEIGHT, &1u32.to_ne_bytes()),
            nla(backend_attr::PEER, &0u32.to_ne_bytes()),
            nla(backend_attr::ACTIVE, &4u32.to_ne_bytes()),
        ]
        .concat();
        let rule = [
            nla(rule_attr::INDEX, &0u32.to_ne_bytes()),
            nla(rule_attr::PATH, b"/v6/\0"),
            rule_addrs.concat(),
            nla(rule_attr::BACKEND_PORT, &8080u16.to_ne_bytes()),
        ]
        .concat();
        let svc = [
            addrs.concat(),
            nla(service_attr::PORT, &80u16.to_ne_bytes()),
            nla(service_attr::SCHEDULER, &[2]),
            nla(service_attr::BACKEND | NESTED, &be),
            nla(service_attr::RULE | NESTED, &rule),
        ]
        .concat();
        let wire = genlmsg(cmd::SERVICE_GET, &[nla(attr::SERVICE | NESTED, &svc)]);
        payload(&parse(&nlmsg(FAMILY, 0, 1, 0, &wire))).clone()
    }

    #[test]
    fn service_get_reply_decodes_ipv6() {
        let services = parse_services(&service_reply(
            &[nla(service_attr::ADDR6, &VIP6)],
            &[nla(backend_attr::ADDR6, &BE6)],
            &[nla(rule_attr::BACKEND_ADDR6, &BE6)],
        ))
        .unwrap();
        assert_eq!(services.len(), 1);
        let s = &services[0];
        assert_eq!(s.addr, "2001:db8::10".parse::<IpAddr>().unwrap());
        assert_eq!(
            (s.vip().to_string(), s.scheduler),
            ("[2001:db8::10]:80".into(), "lc")
        );
        assert_eq!(
            (s.backends[0].endpoint().to_string(), s.backends[0].active),
            ("[2001:db8::2:2]:8080".into(), Some(4))
        );
        assert_eq!(s.rules[0].backend.to_string(), "[2001:db8::2:2]:8080");
        assert_eq!(s.rules[0].path.as_deref(), Some("/v6/"));
        // Exactly one address for each: else, or another length, malformed.
        let v4 = |ty| nla(ty, &[198, 18, 1, 10]);
        let ok_svc = || vec![nla(service_attr::ADDR6, &VIP6)];
        let ok_be = || vec![nla(backend_attr::ADDR6, &BE6)];
        let ok_rule = || vec![nla(rule_attr::BACKEND_ADDR6, &BE6)];
        for (svc, be, rule, want) in [
            (vec![], ok_be(), ok_rule(), "no addr or addr6 attribute"),
            (
                vec![v4(service_attr::ADDR), nla(service_attr::ADDR6, &VIP6)],
                ok_be(),
                ok_rule(),
                "both addr and addr6 attributes",
            ),
            (
                vec![nla(service_attr::ADDR6, &VIP6[..15])],
                ok_be(),
                ok_rule(),
                "addr6 attribute of 15 bytes",
            ),
            (
                ok_svc(),
                vec![],
                ok_rule(),
                "no backend addr or backend addr6 attribute",
            ),
            (
                ok_svc(),
                vec![v4(backend_attr::ADDR), nla(backend_attr::ADDR6, &BE6)],
                ok_rule(),
                "both backend addr and backend addr6 attributes",
            ),
            (
                ok_svc(),
                vec![nla(backend_attr::ADDR6, &[0; 17])],
                ok_rule(),
                "backend addr6 attribute of 17 bytes",
            ),
            (
                ok_svc(),
                ok_be(),
                vec![],
                "no rule backend-addr or rule backend-addr6 attribute",
            ),
            (
                ok_svc(),
                ok_be(),
                vec![
                    v4(rule_attr::BACKEND_ADDR),
                    nla(rule_attr::BACKEND_ADDR6, &BE6),
                ],
                "both rule backend-addr and rule backend-addr6 attributes",
            ),
            (
                ok_svc(),
                ok_be(),
                vec![nla(rule_attr::BACKEND_ADDR6, &BE6[..4])],
                "rule backend-addr6 attribute of 4 bytes",
            ),
        ] {
            match parse_services(&service_reply(&svc, &be, &rule)) {
                Err(Error::Malformed(m)) => assert_eq!(m, want),
                other => panic!("{want}: {other:?}"),
            }
        }
    }

    #[test]
    fn peer_get_reply_decodes() {
        let peer = |id: u32, state: u8, last: Option<u64>| {
            let mut inner = vec![
                nla(peer_attr::NODE_ID, &id.to_ne_bytes()),
                nla(peer_attr::ADDR, &[198, 18, 0, 9]),
                nla(peer_attr::PORT, &7300u16.to_ne_bytes()),
                nla(peer_attr::STATE, &[state]),
            ];
            if let Some(ms) = last {
                inner.push(nla(peer_attr::LAST_RX_MS, &ms.to_ne_bytes()));
            }
            inner.push(nla(peer_attr::MSGS_IN, &5u64.to_ne_bytes()));
            inner.push(nla(peer_attr::MSGS_OUT, &6u64.to_ne_bytes()));
            inner.push(nla(peer_attr::WRITES_OUT, &4u64.to_ne_bytes()));
            inner.push(nla(peer_attr::CONNECTS, &1u32.to_ne_bytes()));
            nla(attr::PEER | NESTED, &inner.concat())
        };
        let wire = genlmsg(
            cmd::PEER_GET,
            &[
                peer(2, peer_state::UP, Some(40)),
                peer(3, peer_state::DOWN, None),
            ],
        );
        let reply = parse(&nlmsg(FAMILY, 0, 1, 0, &wire));
        let peers = parse_peers(payload(&reply)).unwrap();
        assert_eq!(peers.len(), 2);
        assert_eq!(
            (peers[0].node_id, peers[0].up, peers[0].last_rx_ms),
            (2, true, Some(40))
        );
        assert_eq!(
            (peers[1].node_id, peers[1].up, peers[1].last_rx_ms),
            (3, false, None)
        );
        assert_eq!(peers[1].addr, std::net::Ipv4Addr::new(198, 18, 0, 9));
        assert_eq!(
            (
                peers[1].msgs_in,
                peers[1].msgs_out,
                peers[1].writes_out,
                peers[1].connects
            ),
            (5, 6, 4, 1)
        );
    }

    /// A `peer` nest of a `peer-get` reply with `addrs` for its address.
    fn peer_reply(addrs: &[Vec<u8>]) -> Genl {
        let mut inner = vec![nla(peer_attr::NODE_ID, &4u32.to_ne_bytes())];
        inner.extend_from_slice(addrs);
        inner.extend([
            nla(peer_attr::PORT, &7300u16.to_ne_bytes()),
            nla(peer_attr::STATE, &[peer_state::UP]),
            nla(peer_attr::MSGS_IN, &1u64.to_ne_bytes()),
            nla(peer_attr::MSGS_OUT, &2u64.to_ne_bytes()),
            nla(peer_attr::WRITES_OUT, &2u64.to_ne_bytes()),
            nla(peer_attr::CONNECTS, &1u32.to_ne_bytes()),
        ]);
        let wire = genlmsg(cmd::PEER_GET, &[nla(attr::PEER | NESTED, &inner.concat())]);
        payload(&parse(&nlmsg(FAMILY, 0, 1, 0, &wire))).clone()
    }

    #[test]
    fn peer_get_reply_decodes_ipv6() {
        let mut addr6 = [0u8; 16];
        addr6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        addr6[15] = 4;
        let peers = parse_peers(&peer_reply(&[nla(peer_attr::ADDR6, &addr6)])).unwrap();
        assert_eq!(peers.len(), 1);
        assert_eq!(
            peers[0].addr,
            "2001:db8::4".parse::<std::net::IpAddr>().unwrap()
        );
        assert_eq!(
            (peers[0].node_id, peers[0].port, peers[0].up),
            (4, 7300, true)
        );
        // An unknown attribute beside it is skipped, as everywhere.
        let peers = parse_peers(&peer_reply(&[
            nla(peer_attr::ADDR6, &addr6),
            nla(99, &[1, 2, 3]),
        ]))
        .unwrap();
        assert_eq!(peers[0].addr.to_string(), "2001:db8::4");
        // Short or long, neither or both: malformed.
        for (addrs, want) in [
            (
                vec![nla(peer_attr::ADDR6, &addr6[..4])],
                "addr6 attribute of 4 bytes",
            ),
            (
                vec![nla(peer_attr::ADDR6, &[0; 17])],
                "addr6 attribute of 17 bytes",
            ),
            (
                vec![nla(peer_attr::ADDR, &addr6)],
                "addr attribute of 16 bytes",
            ),
            (vec![], "no addr or addr6 attribute"),
            (
                vec![
                    nla(peer_attr::ADDR, &[198, 18, 0, 4]),
                    nla(peer_attr::ADDR6, &addr6),
                ],
                "both addr and addr6 attributes",
            ),
        ] {
            match parse_peers(&peer_reply(&addrs)) {
                Err(Error::Malformed(m)) => assert_eq!(m, want),
                other => panic!("{want}: {other:?}"),
            }
        }
    }

    #[test]
    fn config_set_bytes_decode_as_the_kernel_does() {
        let update = ConfigUpdate {
            ctrl_port: None,
            node_id: Some(77),
            ..ConfigUpdate::default()
        };
        let wire =
            bytes(&request(FAMILY, NlmF::ACK, 1, 0, config_set(&update, None).unwrap()).unwrap());
        let attrs = parse_attrs(&wire[20..]).unwrap();
        assert_eq!(attrs.len(), 1);
        assert_eq!(find(&attrs, attr::CTRL_PORT), None);
        assert_eq!(decode_u32(find(&attrs, attr::NODE_ID).unwrap()), Some(77));
    }

    #[test]
    fn get_requests_have_no_attributes() {
        for (genl, cmd) in [
            (status_get().unwrap(), cmd::STATUS_GET),
            (config_get().unwrap(), cmd::CONFIG_GET),
        ] {
            let msg = request(FAMILY, NlmF::empty(), 3, 0, genl).unwrap();
            assert_eq!(
                bytes(&msg),
                nlmsg(FAMILY, NLM_F_REQUEST, 3, 0, &genlmsg(cmd, &[]))
            );
        }
    }

    #[test]
    fn get_family_bytes() {
        let msg = request(0x10, NlmF::empty(), 1, 0, get_family(FAMILY_NAME).unwrap()).unwrap();
        let expected = nlmsg(
            0x10, // GENL_ID_CTRL
            NLM_F_REQUEST,
            1,
            0,
            &[
                &[3u8, CTRL_VERSION, 0, 0][..], // CTRL_CMD_GETFAMILY
                &nla(2, b"baton\0"),            // CTRL_ATTR_FAMILY_NAME
            ]
            .concat(),
        );
        assert_eq!(bytes(&msg), expected);
    }

    #[test]
    fn family_id_from_nlctrl_reply() {
        let reply = nlmsg(
            0x10,
            0,
            1,
            99,
            &[
                &[1u8, 2, 0, 0][..],                  // CTRL_CMD_NEWFAMILY
                &nla(2, b"baton\0"),                  // CTRL_ATTR_FAMILY_NAME
                &nla(1, &FAMILY.to_ne_bytes()),       // CTRL_ATTR_FAMILY_ID
                &nla(3, &1u32.to_ne_bytes()),         // CTRL_ATTR_VERSION
                &nla(6 | 0x8000, &nla(1, &[0u8; 8])), // CTRL_ATTR_OPS, nested
            ]
            .concat(),
        );
        assert_eq!(parse_family_id(payload(&parse(&reply))).unwrap(), FAMILY);
    }

    /// A `status-get` reply carrying `attrs`.
    fn status_msg(attrs: &[Vec<u8>]) -> Vec<u8> {
        nlmsg(FAMILY, 0, 5, 99, &genlmsg(cmd::STATUS_GET, attrs))
    }

    #[test]
    fn status_reply() {
        // As the kernel builds it: nla_put_u64_64bit may put a pad attribute
        // before each counter to align it.
        let hooks = [
            nla(hook_attr::PAD, &[]),
            nla(hook_attr::PRE_ROUTING, &12u64.to_ne_bytes()),
            nla(hook_attr::PAD, &[]),
            nla(hook_attr::LOCAL_IN, &10u64.to_ne_bytes()),
            nla(hook_attr::LOCAL_OUT, &8u64.to_ne_bytes()),
            nla(hook_attr::POST_ROUTING, &u64::MAX.to_ne_bytes()),
        ]
        .concat();
        let reply = status_msg(&[
            nla(attr::VERSION, b"0.1.0\0"),
            nla(attr::HOOKS | 0x8000, &hooks),
            nla(42, b"from a later version"),
        ]);
        let status = parse_status(payload(&parse(&reply))).unwrap();
        assert_eq!(
            status,
            Status {
                version: "0.1.0".into(),
                hooks: [12, 10, 8, u64::MAX],
                hooks6: None,
            }
        );
    }

    #[test]
    fn status_reply_with_ipv6_counters() {
        let counters = |base: u64| {
            [
                hook_attr::PRE_ROUTING,
                hook_attr::LOCAL_IN,
                hook_attr::LOCAL_OUT,
                hook_attr::POST_ROUTING,
            ]
            .iter()
            .enumerate()
            .map(|(i, &a)| nla(a, &(base + i as u64).to_ne_bytes()))
            .collect::<Vec<_>>()
            .concat()
        };
        let reply = status_msg(&[
            nla(attr::VERSION, b"0.1.0\0"),
            nla(attr::HOOKS | 0x8000, &counters(10)),
            nla(attr::HOOKS6 | 0x8000, &counters(20)),
        ]);
        let status = parse_status(payload(&parse(&reply))).unwrap();
        assert_eq!(status.hooks, [10, 11, 12, 13]);
        assert_eq!(status.hooks6, Some([20, 21, 22, 23]));
        // A hooks6 nest without one of its counters is as malformed as a
        // hooks one.
        let short = status_msg(&[
            nla(attr::VERSION, b"0.1.0\0"),
            nla(attr::HOOKS, &counters(10)),
            nla(attr::HOOKS6, &counters(20)[..36]),
        ]);
        assert!(parse_status(payload(&parse(&short))).is_err());
    }

    #[test]
    fn status_reply_without_a_counter_is_malformed() {
        let hooks = [
            nla(hook_attr::PRE_ROUTING, &1u64.to_ne_bytes()),
            nla(hook_attr::LOCAL_IN, &1u64.to_ne_bytes()),
            nla(hook_attr::POST_ROUTING, &1u64.to_ne_bytes()),
        ]
        .concat();
        let reply = status_msg(&[nla(attr::VERSION, b"0.1.0\0"), nla(attr::HOOKS, &hooks)]);
        let e = parse_status(payload(&parse(&reply))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "malformed reply from the kernel: no local-out attribute"
        );
    }

    /// A `stats-get` reply whose counters hold their attribute numbers
    /// (`active` 8, `waiting` 10, `common` 18), from a module whose newest
    /// counter is `newest`: the counters after `malformed`, which older
    /// modules do not send, only up to it.
    fn stats_reply(newest: u16) -> Vec<u8> {
        let u64s = [
            stats_attr::HANDOFFS_OK,
            stats_attr::HANDOFFS_REFUSED,
            stats_attr::HANDOFFS_FAILED,
            stats_attr::TAKEN,
            stats_attr::FORWARDED,
            stats_attr::RETURNED,
            stats_attr::DROPPED,
            stats_attr::HURRIED,
            stats_attr::MEMORY,
            stats_attr::MALFORMED,
            stats_attr::ICMP_FORWARDED,
            stats_attr::ICMP_MALFORMED,
            stats_attr::COMMON_MEMORY,
            stats_attr::FORWARDED_COMMON,
            stats_attr::PROMOTED,
            stats_attr::REPLICATED,
            stats_attr::UNCONFIRMED,
            stats_attr::RESUMED,
            stats_attr::ACKS_WITHHELD,
            stats_attr::ACKS_RELEASED,
            stats_attr::RELAYED,
            stats_attr::RELAY_FAILED,
            stats_attr::MOVED,
            stats_attr::MOVES_REFUSED,
            stats_attr::MOVES_FAILED,
            stats_attr::RELEASED,
            stats_attr::RELAY_SKIPPED,
            stats_attr::RELAYED_AGAIN,
        ];
        let mut counters: Vec<u8> = u64s
            .iter()
            .filter(|&&ty| ty <= stats_attr::MALFORMED || ty <= newest)
            .map(|&ty| nla(ty, &u64::from(ty).to_ne_bytes()))
            .collect::<Vec<_>>()
            .concat();
        counters.extend(nla(stats_attr::ACTIVE, &8u32.to_ne_bytes()));
        counters.extend(nla(stats_attr::WAITING, &10u32.to_ne_bytes()));
        if stats_attr::COMMON <= newest {
            counters.extend(nla(stats_attr::COMMON, &18u32.to_ne_bytes()));
        }
        if stats_attr::PENDING <= newest {
            counters.extend(nla(stats_attr::PENDING, &23u32.to_ne_bytes()));
        }
        if stats_attr::HELD_AWAITING <= newest {
            counters.extend(nla(stats_attr::HELD_NOW, &35u32.to_ne_bytes()));
            counters.extend(nla(stats_attr::HELD_AWAITING, &36u32.to_ne_bytes()));
        }
        nlmsg(
            FAMILY,
            0,
            5,
            99,
            &genlmsg(cmd::STATS_GET, &[nla(attr::STATS | 0x8000, &counters)]),
        )
    }

    #[test]
    fn stats_reply_with_icmp_counters() {
        let st = parse_stats(payload(&parse(&stats_reply(stats_attr::ICMP_MALFORMED)))).unwrap();
        assert_eq!((st.handoffs_ok, st.malformed, st.active), (1, 13, 8));
        assert_eq!((st.icmp_forwarded, st.icmp_malformed), (16, 17));
        // A module that predates them: 0.
        let st = parse_stats(payload(&parse(&stats_reply(stats_attr::MALFORMED)))).unwrap();
        assert_eq!((st.icmp_forwarded, st.icmp_malformed), (0, 0));
        assert_eq!(st.malformed, 13);
    }

    #[test]
    fn stats_reply_with_common_table_counters() {
        let st = parse_stats(payload(&parse(&stats_reply(stats_attr::MAX)))).unwrap();
        assert_eq!(
            (
                st.common,
                st.common_memory,
                st.forwarded_common,
                st.promoted,
                st.replicated
            ),
            (18, 19, 20, 21, 22)
        );
        assert_eq!((st.icmp_forwarded, st.waiting, st.active), (16, 10, 8));
        assert_eq!((st.pending, st.unconfirmed, st.resumed), (23, 24, 25));
        assert_eq!((st.acks_withheld, st.acks_released), (26, 27));
        assert_eq!((st.relayed, st.relay_failed), (28, 29));
        // A module that predates the copies of handoffs: 0.
        let st = parse_stats(payload(&parse(&stats_reply(stats_attr::REPLICATED)))).unwrap();
        assert_eq!((st.pending, st.unconfirmed, st.resumed), (0, 0, 0));
        assert_eq!((st.acks_withheld, st.acks_released), (0, 0));
        assert_eq!((st.relayed, st.relay_failed), (0, 0));
        assert_eq!((st.promoted, st.replicated), (21, 22));
        // A module that predates them (the ICMP counters its newest): 0,
        // the others as sent.
        let st = parse_stats(payload(&parse(&stats_reply(stats_attr::ICMP_MALFORMED)))).unwrap();
        assert_eq!(
            (
                st.common,
                st.common_memory,
                st.forwarded_common,
                st.promoted,
                st.replicated
            ),
            (0, 0, 0, 0, 0)
        );
        assert_eq!((st.icmp_malformed, st.memory), (17, 12));
    }

    #[test]
    fn stats_reply_with_move_counters() {
        let st = parse_stats(payload(&parse(&stats_reply(stats_attr::MAX)))).unwrap();
        assert_eq!(
            (st.moved, st.moves_refused, st.moves_failed, st.released),
            (30, 31, 32, 33)
        );
        assert_eq!((st.relayed, st.relay_failed, st.active), (28, 29, 8));
        assert_eq!(st.relay_skipped, 34);
        assert_eq!(
            (st.held_now, st.held_awaiting, st.relayed_again),
            (35, 36, 37)
        );
        // A module that predates them: 0, the others as sent.
        let st = parse_stats(payload(&parse(&stats_reply(stats_attr::RELAY_FAILED)))).unwrap();
        assert_eq!(
            (st.moved, st.moves_refused, st.moves_failed, st.released),
            (0, 0, 0, 0)
        );
        assert_eq!((st.relayed, st.relay_failed, st.relay_skipped), (28, 29, 0));
        assert_eq!((st.held_now, st.held_awaiting, st.relayed_again), (0, 0, 0));
        // Each a u64: 4 bytes of one are a malformed reply.
        let mut counters = Vec::new();
        for ty in [
            stats_attr::HANDOFFS_OK,
            stats_attr::HANDOFFS_REFUSED,
            stats_attr::HANDOFFS_FAILED,
            stats_attr::TAKEN,
            stats_attr::FORWARDED,
            stats_attr::RETURNED,
            stats_attr::DROPPED,
            stats_attr::MOVED,
        ] {
            counters.extend(nla(ty, &0u64.to_ne_bytes()));
        }
        counters.extend(nla(stats_attr::ACTIVE, &0u32.to_ne_bytes()));
        counters.extend(nla(stats_attr::MOVES_FAILED, &32u32.to_ne_bytes()));
        let reply = nlmsg(
            FAMILY,
            0,
            5,
            99,
            &genlmsg(cmd::STATS_GET, &[nla(attr::STATS | 0x8000, &counters)]),
        );
        let e = parse_stats(payload(&parse(&reply))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "malformed reply from the kernel: moves-failed attribute of 4 bytes"
        );
    }

    #[test]
    fn stats_reply_common_of_the_wrong_size() {
        // `common` is a u32: 8 bytes of it are a malformed reply, as for
        // `active`.
        let mut counters = nla(stats_attr::HANDOFFS_OK, &1u64.to_ne_bytes());
        for ty in [
            stats_attr::HANDOFFS_REFUSED,
            stats_attr::HANDOFFS_FAILED,
            stats_attr::TAKEN,
            stats_attr::FORWARDED,
            stats_attr::RETURNED,
            stats_attr::DROPPED,
        ] {
            counters.extend(nla(ty, &0u64.to_ne_bytes()));
        }
        counters.extend(nla(stats_attr::ACTIVE, &0u32.to_ne_bytes()));
        counters.extend(nla(stats_attr::COMMON, &18u64.to_ne_bytes()));
        let reply = nlmsg(
            FAMILY,
            0,
            5,
            99,
            &genlmsg(cmd::STATS_GET, &[nla(attr::STATS | 0x8000, &counters)]),
        );
        let e = parse_stats(payload(&parse(&reply))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "malformed reply from the kernel: common attribute of 8 bytes"
        );
    }

    #[test]
    fn config_reply() {
        let reply = nlmsg(
            FAMILY,
            0,
            6,
            99,
            &genlmsg(
                cmd::CONFIG_GET,
                &[
                    nla(attr::CTRL_PORT, &7300u16.to_ne_bytes()),
                    nla(attr::NODE_ID, &9u32.to_ne_bytes()),
                ],
            ),
        );
        assert_eq!(
            parse_config(payload(&parse(&reply))).unwrap(),
            ConfigReply {
                config: Config {
                    ctrl_port: 7300,
                    node_id: 9,
                    ..Config::new(1)
                },
                auth: false,
            }
        );
    }

    #[test]
    fn config_reply_with_a_short_port_is_malformed() {
        let reply = nlmsg(
            FAMILY,
            0,
            6,
            99,
            &genlmsg(
                cmd::CONFIG_GET,
                &[
                    nla(attr::CTRL_PORT, &[1]),
                    nla(attr::NODE_ID, &9u32.to_ne_bytes()),
                ],
            ),
        );
        assert!(matches!(
            parse_config(payload(&parse(&reply))),
            Err(Error::Malformed(_))
        ));
    }

    /// The NLMSG_ERROR the kernel sends for a refused request with
    /// NETLINK_EXT_ACK on: errno, the whole request, then the TLVs.
    fn error_reply(errno: i32, request: &[u8], tlvs: &[Vec<u8>]) -> Vec<u8> {
        let mut payload = (-errno).to_ne_bytes().to_vec();
        payload.extend_from_slice(request);
        for tlv in tlvs {
            payload.extend_from_slice(tlv);
        }
        let flags = if tlvs.is_empty() { 0 } else { NLM_F_ACK_TLVS };
        nlmsg(NLMSG_ERROR, flags, 9, 4242, &payload)
    }

    fn received_error(wire: &[u8]) -> Error {
        let mut msg = parse(wire);
        assert_eq!(*msg.nl_seq(), 9);
        let err = msg.get_err().expect("an error message");
        kernel_error(*err.error(), err.ext_ack())
    }

    fn config_set_request() -> Vec<u8> {
        let update = ConfigUpdate {
            ctrl_port: Some(7301),
            node_id: None,
            ..ConfigUpdate::default()
        };
        bytes(
            &request(
                FAMILY,
                NlmF::ACK,
                9,
                4242,
                config_set(&update, None).unwrap(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn error_with_extack_message() {
        let wire = error_reply(
            22, // EINVAL
            &config_set_request(),
            &[
                nla(1, b"no configuration attribute given\0"), // NLMSGERR_ATTR_MSG
                nla(2, &20u32.to_ne_bytes()),                  // NLMSGERR_ATTR_OFFS
            ],
        );
        let e = received_error(&wire);
        assert!(matches!(e, Error::Kernel { errno: 22, .. }), "{e:?}");
        assert_eq!(e.to_string(), "no configuration attribute given");
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn error_without_extack_uses_strerror() {
        let wire = error_reply(95, &config_set_request(), &[]); // EOPNOTSUPP
        let e = received_error(&wire);
        assert_eq!(e.to_string(), "Operation not supported");
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn eperm_is_permission_denied() {
        let wire = error_reply(1, &config_set_request(), &[]);
        let e = received_error(&wire);
        assert!(matches!(e, Error::PermissionDenied));
        assert_eq!(e.exit_code(), 4);
    }

    #[test]
    fn ack_is_not_an_error() {
        // Success: errno 0 and only the request header (NLM_F_CAPPED).
        let request = config_set_request();
        let mut payload = 0i32.to_ne_bytes().to_vec();
        payload.extend_from_slice(&request[..16]);
        let wire = nlmsg(NLMSG_ERROR, 0x100, 9, 4242, &payload);
        let msg = parse(&wire);
        assert!(matches!(msg.nl_payload(), NlPayload::Ack(_)));
    }

    #[test]
    fn conn_get_dump_request_bytes() {
        let filter = ConnFilter {
            service: Some("198.18.1.100:80".parse().unwrap()),
            state: Some(Phase::Forwarding),
            peer: Some(0),
            ..ConnFilter::default()
        };
        let msg = request(FAMILY, NlmF::DUMP, 4, 0, conn_get(&filter).unwrap()).unwrap();
        let inner = [
            nla(conn_attr::STATE, &[1]),
            nla(conn_attr::VIP_ADDR, &[198, 18, 1, 100]),
            nla(conn_attr::VIP_PORT, &80u16.to_ne_bytes()),
            nla(conn_attr::PEER, &0u32.to_ne_bytes()),
        ]
        .concat();
        let expected = nlmsg(
            FAMILY,
            NLM_F_REQUEST | NLM_F_DUMP,
            4,
            0,
            &genlmsg(cmd::CONN_GET, &[nla(attr::CONN | NESTED, &inner)]),
        );
        assert_eq!(bytes(&msg), expected);
        // No filter: no attribute at all.
        let all = request(
            FAMILY,
            NlmF::DUMP,
            5,
            0,
            conn_get(&ConnFilter::default()).unwrap(),
        );
        assert_eq!(
            bytes(&all.unwrap()),
            nlmsg(
                FAMILY,
                NLM_F_REQUEST | NLM_F_DUMP,
                5,
                0,
                &genlmsg(cmd::CONN_GET, &[])
            )
        );
        // A client address alone, and a role.
        let client = ConnFilter {
            client: Some(([198, 18, 1, 1].into(), None)),
            role: Some(Role::Back),
            ..ConnFilter::default()
        };
        let attrs = conn_filter_attrs(&client);
        assert_eq!(
            parse_attrs(&attrs[0].1).unwrap(),
            vec![
                (conn_attr::ROLE, &[1][..]),
                (conn_attr::CLIENT_ADDR, &[198, 18, 1, 1][..])
            ]
        );
    }

    /// A `conn` nest as the kernel puts it.
    fn conn_nest(port: u16, state: u8) -> Vec<u8> {
        let inner = [
            nla(conn_attr::PAD, &[]),
            nla(conn_attr::ID, &7u64.to_ne_bytes()),
            nla(conn_attr::ROLE, &[0]),
            nla(conn_attr::STATE, &[state]),
            nla(conn_attr::CLIENT_ADDR, &[198, 18, 1, 1]),
            nla(conn_attr::CLIENT_PORT, &port.to_ne_bytes()),
            nla(conn_attr::VIP_ADDR, &[198, 18, 1, 100]),
            nla(conn_attr::VIP_PORT, &80u16.to_ne_bytes()),
            nla(conn_attr::BACKEND_ADDR, &[198, 18, 1, 3]),
            nla(conn_attr::BACKEND_PORT, &8080u16.to_ne_bytes()),
            nla(conn_attr::PEER, &2u32.to_ne_bytes()),
            nla(conn_attr::AGE_MS, &1500u64.to_ne_bytes()),
            nla(conn_attr::IDLE_MS, &20u64.to_ne_bytes()),
            nla(conn_attr::PACKETS, &10u64.to_ne_bytes()),
            nla(conn_attr::BYTES, &1000u64.to_ne_bytes()),
        ]
        .concat();
        nla(attr::CONN | NESTED, &inner)
    }

    #[test]
    fn conn_dump_messages_decode() {
        // One connection a message, NLM_F_MULTI, then NLMSG_DONE with 0
        // and NLM_F_DUMP_INTR: what Conn::dump reads.
        let wire = [
            nlmsg(
                FAMILY,
                NLM_F_MULTI,
                4,
                99,
                &genlmsg(cmd::CONN_GET, &[conn_nest(40000, 1)]),
            ),
            nlmsg(
                FAMILY,
                NLM_F_MULTI | NLM_F_DUMP_INTR,
                4,
                99,
                &genlmsg(cmd::CONN_GET, &[conn_nest(40001, 3)]),
            ),
            nlmsg(NLMSG_DONE, NLM_F_MULTI, 4, 99, &0i32.to_ne_bytes()),
        ]
        .concat();
        let mut at = Cursor::new(&wire[..]);
        let mut conns = Vec::new();
        let mut flags = Vec::new();
        for _ in 0..3 {
            let m = Message::from_bytes(&mut at).unwrap();
            flags.push(m.nl_flags().contains(NlmF::DUMP_INTR));
            match m.nl_payload() {
                NlPayload::Payload(genl) => conns.extend(parse_conn_message(genl).unwrap()),
                NlPayload::DumpExtAck(done) => assert_eq!(*done.error(), 0),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(flags, [false, true, false]);
        assert_eq!(conns.len(), 2);
        assert_eq!(
            (conns[0].client.port(), conns[0].state, conns[0].role),
            (40000, "forwarding", "front")
        );
        assert_eq!(
            (conns[1].state, conns[1].vip.to_string(), conns[1].peer),
            ("established", "198.18.1.100:80".into(), 2)
        );
        assert_eq!((conns[1].age_ms, conns[1].bytes), (1500, 1000));
        assert!(!conns[0].draining && !conns[1].draining);
        // A front-end connection whose back-end drains carries draining.
        let mut nest = conn_nest(40002, 1);
        let draining = nla(conn_attr::DRAINING, &[1]);
        nest.extend_from_slice(&draining);
        let len = u16::try_from(nest.len()).unwrap();
        nest[..2].copy_from_slice(&len.to_ne_bytes());
        let wire = genlmsg(cmd::CONN_GET, &[nest]);
        let c =
            parse_conn_message(payload(&parse(&nlmsg(FAMILY, NLM_F_MULTI, 4, 99, &wire)))).unwrap();
        assert_eq!((c[0].client.port(), c[0].draining), (40002, true));
    }

    /// A `conn` nest of an IPv6 connection, `drop` left out and `add`
    /// put in.
    fn conn6_nest(drop: u16, add: &[Vec<u8>]) -> Vec<u8> {
        let mut client6 = VIP6;
        client6[15] = 1;
        let mut inner: Vec<Vec<u8>> = [
            (conn_attr::ID, 8u64.to_ne_bytes().to_vec()),
            (conn_attr::ROLE, vec![0]),
            (conn_attr::STATE, vec![1]),
            (conn_attr::CLIENT_ADDR6, client6.to_vec()),
            (conn_attr::CLIENT_PORT, 40000u16.to_ne_bytes().to_vec()),
            (conn_attr::VIP_ADDR6, VIP6.to_vec()),
            (conn_attr::VIP_PORT, 80u16.to_ne_bytes().to_vec()),
            (conn_attr::BACKEND_ADDR6, BE6.to_vec()),
            (conn_attr::BACKEND_PORT, 8080u16.to_ne_bytes().to_vec()),
            (conn_attr::PEER, 0u32.to_ne_bytes().to_vec()),
            (conn_attr::AGE_MS, 100u64.to_ne_bytes().to_vec()),
            (conn_attr::IDLE_MS, 10u64.to_ne_bytes().to_vec()),
            (conn_attr::PACKETS, 3u64.to_ne_bytes().to_vec()),
            (conn_attr::BYTES, 300u64.to_ne_bytes().to_vec()),
        ]
        .iter()
        .filter(|(ty, _)| *ty != drop)
        .map(|(ty, p)| nla(*ty, p))
        .collect();
        inner.extend_from_slice(add);
        nla(attr::CONN | NESTED, &inner.concat())
    }

    #[test]
    fn ipv6_conns_decode() {
        let one = |nest: Vec<u8>| {
            let wire = genlmsg(cmd::CONN_GET, &[nest]);
            parse_conn_message(payload(&parse(&nlmsg(FAMILY, NLM_F_MULTI, 4, 0, &wire))))
        };
        let c = one(conn6_nest(0, &[])).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            [c[0].client, c[0].vip, c[0].backend].map(|a| a.to_string()),
            [
                "[2001:db8::1]:40000",
                "[2001:db8::10]:80",
                "[2001:db8::2:2]:8080"
            ]
        );
        assert_eq!((c[0].id, c[0].state, c[0].bytes), (8, "forwarding", 300));
        // Exactly one address an endpoint, of its length.
        for (drop, add, want) in [
            (
                conn_attr::CLIENT_ADDR6,
                vec![],
                "no client-addr or client-addr6 attribute",
            ),
            (
                0,
                vec![nla(conn_attr::VIP_ADDR, &[198, 18, 1, 100])],
                "both vip-addr and vip-addr6 attributes",
            ),
            (
                conn_attr::BACKEND_ADDR6,
                vec![nla(conn_attr::BACKEND_ADDR6, &BE6[..15])],
                "backend-addr6 attribute of 15 bytes",
            ),
            (
                conn_attr::BACKEND_ADDR6,
                vec![nla(conn_attr::BACKEND_ADDR, &BE6)],
                "backend-addr attribute of 16 bytes",
            ),
            (conn_attr::VIP_PORT, vec![], "no vip-port attribute"),
        ] {
            match one(conn6_nest(drop, &add)) {
                Err(Error::Malformed(m)) => assert_eq!(m, want),
                other => panic!("{want}: {other:?}"),
            }
        }
    }

    #[test]
    fn ipv6_events_decode() {
        let mut client6 = VIP6;
        client6[15] = 1;
        let event = |cmd, attrs: &[Vec<u8>]| {
            let wire = genlmsg(cmd, &[nla(attr::EVENT | NESTED, &attrs.concat())]);
            parse_event(payload(&parse(&nlmsg(FAMILY, 0, 0, 0, &wire))))
        };
        let ends = [
            nla(event_attr::ID, &9u64.to_ne_bytes()),
            nla(15, &client6),
            nla(event_attr::CLIENT_PORT, &40000u16.to_ne_bytes()),
            nla(16, &VIP6),
            nla(event_attr::VIP_PORT, &80u16.to_ne_bytes()),
            nla(17, &BE6),
            nla(event_attr::BACKEND_PORT, &8080u16.to_ne_bytes()),
        ];
        let mut handoff = ends.to_vec();
        handoff.push(nla(event_attr::PEER, &2u32.to_ne_bytes()));
        handoff.push(nla(event_attr::RESULT, &[handoff_result::OK]));
        let e = event(cmd::HANDOFF_NTF, &handoff).unwrap().unwrap();
        assert_eq!(
            [e.client, e.vip, e.backend].map(|a| a.map(|a| a.to_string())),
            [
                Some("[2001:db8::1]:40000".into()),
                Some("[2001:db8::10]:80".into()),
                Some("[2001:db8::2:2]:8080".into())
            ]
        );
        let mut end = ends.to_vec();
        end.push(nla(event_attr::ROLE, &[1]));
        end.push(nla(event_attr::REASON, &[6]));
        let e = event(cmd::CONN_END_NTF, &end).unwrap().unwrap();
        assert_eq!(
            (e.event, e.role, e.reason),
            ("conn-end", Some("back"), Some("idle"))
        );
        assert_eq!(
            e.vip.map(|a| a.to_string()),
            Some("[2001:db8::10]:80".into())
        );
        // Both addresses of an endpoint, a short one, or one without its
        // port: malformed.
        for (attrs, want) in [
            (
                vec![
                    nla(event_attr::VIP_ADDR, &[198, 18, 1, 100]),
                    nla(16, &VIP6),
                    nla(event_attr::VIP_PORT, &80u16.to_ne_bytes()),
                ],
                "both vip-addr and vip-addr6 attributes",
            ),
            (
                vec![
                    nla(15, &client6[..8]),
                    nla(event_attr::CLIENT_PORT, &1u16.to_ne_bytes()),
                ],
                "client-addr6 attribute of 8 bytes",
            ),
            (vec![nla(17, &BE6)], "no backend-port attribute"),
        ] {
            match event(cmd::HANDOFF_NTF, &attrs) {
                Err(Error::Malformed(m)) => assert_eq!(m, want),
                other => panic!("{want}: {other:?}"),
            }
        }
    }

    #[test]
    fn parse_attrs_checks_lengths() {
        assert!(parse_attrs(&[]).unwrap().is_empty());
        let two = [nla(1, &[7]), nla(2, &[1, 2, 3, 4])].concat();
        assert_eq!(
            parse_attrs(&two).unwrap(),
            vec![(1, &[7][..]), (2, &[1, 2, 3, 4][..])]
        );
        // Length beyond the buffer, or shorter than the header.
        assert!(parse_attrs(&[9, 0, 1, 0, 0]).is_err());
        assert!(parse_attrs(&[2, 0, 1, 0]).is_err());
        // A last attribute without padding is fine.
        assert_eq!(parse_attrs(&[5, 0, 3, 0, 1]).unwrap(), vec![(3, &[1][..])]);
    }
}

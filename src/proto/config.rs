// SPDX-License-Identifier: GPL-2.0

//! Per-namespace configuration and the validation of changes to it.

use super::service::{check_unicast, AddrError, Ip};
use core::ffi::CStr;

/// The configuration of one network namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// TCP port of the control channel between peers (never 0).
    pub ctrl_port: u16,
    /// This node's id in the cluster; 0 when unset.
    pub node_id: u32,
    /// How long a front-end waits for a client's first request (ms).
    pub request_timeout_ms: u32,
    /// How long a front-end waits for a back-end's answer to a handoff (ms).
    pub handoff_timeout_ms: u32,
    /// Idle time after which a connection's state is dropped (ms).
    pub idle_timeout_ms: u32,
    /// Silence after which a peer's control channel is down (ms).
    pub heartbeat_timeout_ms: u32,
    /// How many members of the front-end group keep a copy of each of
    /// this node's forwarding connections ([`COPIES`]).
    pub copies: u32,
}

/// A numeric setting (a timeout, in milliseconds, but for `copies`):
/// default and accepted range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutRange {
    /// Default.
    pub default: u32,
    /// Smallest accepted.
    pub min: u32,
    /// Largest accepted.
    pub max: u32,
}

impl TimeoutRange {
    /// Whether `ms` is accepted.
    pub const fn contains(&self, ms: u32) -> bool {
        ms >= self.min && ms <= self.max
    }
}

/// `request-timeout-ms`.
pub const REQUEST_TIMEOUT: TimeoutRange = TimeoutRange {
    default: 3000,
    min: 100,
    max: 60_000,
};
/// `handoff-timeout-ms`.
pub const HANDOFF_TIMEOUT: TimeoutRange = TimeoutRange {
    default: 2500,
    min: 100,
    max: 30_000,
};
/// `idle-timeout-ms`.
pub const IDLE_TIMEOUT: TimeoutRange = TimeoutRange {
    default: 300_000,
    min: 1000,
    max: 86_400_000,
};

/// `heartbeat-timeout-ms`: at least two heartbeat intervals (1 s), so that
/// one late heartbeat never takes a channel down.
pub const HEARTBEAT_TIMEOUT: TimeoutRange = TimeoutRange {
    default: 3000,
    min: 2000,
    max: 60_000,
};

/// `copies`: the HRW backup alone by default (the member that takes a
/// connection over); up to every other member of a largest group, for an
/// upstream that may send a connection's packets to any member.
pub const COPIES: TimeoutRange = TimeoutRange {
    default: 1,
    min: 1,
    max: super::cluster::MAX_MEMBERS as u32 - 1,
};

impl Config {
    /// The configuration of a new namespace.
    pub const fn new(ctrl_port: u16) -> Self {
        Self {
            ctrl_port,
            node_id: 0,
            request_timeout_ms: REQUEST_TIMEOUT.default,
            handoff_timeout_ms: HANDOFF_TIMEOUT.default,
            idle_timeout_ms: IDLE_TIMEOUT.default,
            heartbeat_timeout_ms: HEARTBEAT_TIMEOUT.default,
            copies: COPIES.default,
        }
    }
}

/// Why a configuration change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The request changes nothing.
    Empty,
    /// Port 0 is not a port one can listen on.
    ZeroCtrlPort,
    /// `request-timeout-ms` out of range.
    RequestTimeout,
    /// `handoff-timeout-ms` out of range.
    HandoffTimeout,
    /// `idle-timeout-ms` out of range.
    IdleTimeout,
    /// `heartbeat-timeout-ms` out of range.
    HeartbeatTimeout,
    /// `copies` out of range.
    Copies,
}

impl ConfigError {
    /// The message returned to the user (netlink extack).
    pub const fn message(self) -> &'static CStr {
        match self {
            ConfigError::Empty => c"no configuration attribute given",
            ConfigError::ZeroCtrlPort => c"ctrl-port must be between 1 and 65535",
            ConfigError::RequestTimeout => c"request-timeout-ms must be between 100 and 60000",
            ConfigError::HandoffTimeout => c"handoff-timeout-ms must be between 100 and 30000",
            ConfigError::IdleTimeout => c"idle-timeout-ms must be between 1000 and 86400000",
            ConfigError::HeartbeatTimeout => c"heartbeat-timeout-ms must be between 2000 and 60000",
            ConfigError::Copies => c"copies must be between 1 and 63",
        }
    }
}

/// A change to a [`Config`]: the fields that are `Some` are set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConfigUpdate {
    /// New control port.
    pub ctrl_port: Option<u16>,
    /// New node id.
    pub node_id: Option<u32>,
    /// New `request-timeout-ms`.
    pub request_timeout_ms: Option<u32>,
    /// New `handoff-timeout-ms`.
    pub handoff_timeout_ms: Option<u32>,
    /// New `idle-timeout-ms`.
    pub idle_timeout_ms: Option<u32>,
    /// New `heartbeat-timeout-ms`.
    pub heartbeat_timeout_ms: Option<u32>,
    /// New `copies`.
    pub copies: Option<u32>,
}

impl ConfigUpdate {
    /// Checks the change on its own, before anything is applied.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if *self == Self::default() {
            return Err(ConfigError::Empty);
        }
        if self.ctrl_port == Some(0) {
            return Err(ConfigError::ZeroCtrlPort);
        }
        let bad = |v: Option<u32>, r: TimeoutRange| v.is_some_and(|ms| !r.contains(ms));
        if bad(self.request_timeout_ms, REQUEST_TIMEOUT) {
            return Err(ConfigError::RequestTimeout);
        }
        if bad(self.handoff_timeout_ms, HANDOFF_TIMEOUT) {
            return Err(ConfigError::HandoffTimeout);
        }
        if bad(self.idle_timeout_ms, IDLE_TIMEOUT) {
            return Err(ConfigError::IdleTimeout);
        }
        if bad(self.heartbeat_timeout_ms, HEARTBEAT_TIMEOUT) {
            return Err(ConfigError::HeartbeatTimeout);
        }
        if bad(self.copies, COPIES) {
            return Err(ConfigError::Copies);
        }
        Ok(())
    }

    /// Validates the change and applies it to `config` as a whole, or leaves
    /// `config` untouched.
    pub fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        self.validate()?;
        if let Some(port) = self.ctrl_port {
            config.ctrl_port = port;
        }
        if let Some(id) = self.node_id {
            config.node_id = id;
        }
        if let Some(ms) = self.request_timeout_ms {
            config.request_timeout_ms = ms;
        }
        if let Some(ms) = self.handoff_timeout_ms {
            config.handoff_timeout_ms = ms;
        }
        if let Some(ms) = self.idle_timeout_ms {
            config.idle_timeout_ms = ms;
        }
        if let Some(ms) = self.heartbeat_timeout_ms {
            config.heartbeat_timeout_ms = ms;
        }
        if let Some(n) = self.copies {
            config.copies = n;
        }
        Ok(())
    }
}

/// Decodes a `u16` netlink attribute payload (host byte order).
pub fn decode_u16(payload: &[u8]) -> Option<u16> {
    payload.try_into().ok().map(u16::from_ne_bytes)
}

/// Decodes a `u32` netlink attribute payload (host byte order).
pub fn decode_u32(payload: &[u8]) -> Option<u32> {
    payload.try_into().ok().map(u32::from_ne_bytes)
}

/// Largest number of peers of one namespace.
pub const MAX_PEERS: usize = 64;

/// A peer node: where its control channel listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerConf {
    /// The peer's node id (never 0).
    pub node_id: u32,
    /// Its address, in wire order (`a.b.c.d` is `[a, b, c, d]`).
    pub addr: Ip,
    /// Its control port.
    pub port: u16,
}

/// Why a peer change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerError {
    /// A peer needs its node id.
    Missing,
    /// Node id 0 means "unset".
    ZeroId,
    /// This node cannot be its own peer.
    OwnId,
    /// Not a unicast address a peer can have.
    BadAddr,
    /// Not a unicast IPv6 address a peer can have.
    BadAddr6,
    /// Link-local: it would need an interface.
    LinkLocal,
    /// IPv4-mapped: the IPv4 address is the peer's.
    Mapped,
    /// Both an IPv4 and an IPv6 address.
    TwoAddrs,
    /// Port 0.
    ZeroPort,
    /// A peer with this node id exists.
    Exists,
    /// No peer with this node id.
    NotFound,
    /// [`MAX_PEERS`] reached.
    TooMany,
}

impl PeerError {
    /// The message returned to the user (netlink extack).
    pub const fn message(self) -> &'static CStr {
        match self {
            PeerError::Missing => c"peer needs node-id and addr",
            PeerError::ZeroId => c"peer node-id must not be 0",
            PeerError::OwnId => c"peer node-id is this node's own node-id",
            PeerError::BadAddr => c"peer addr must be a unicast IPv4 address",
            PeerError::BadAddr6 => c"peer addr6 must be a unicast IPv6 address",
            PeerError::LinkLocal => c"a link-local peer address needs an interface, not supported",
            PeerError::Mapped => c"an IPv4-mapped peer address: give the IPv4 address as addr",
            PeerError::TwoAddrs => c"peer needs one address: addr or addr6",
            PeerError::ZeroPort => c"peer port must be between 1 and 65535",
            PeerError::Exists => c"a peer with this node-id exists",
            PeerError::NotFound => c"no peer with this node-id",
            PeerError::TooMany => c"too many peers (64 at most)",
        }
    }
}

/// Checks that a peer can have `addr`.
fn check_peer_addr(addr: Ip) -> Result<(), PeerError> {
    check_unicast(addr).map_err(|e| match e {
        AddrError::V4 => PeerError::BadAddr,
        AddrError::V6 => PeerError::BadAddr6,
        AddrError::LinkLocal => PeerError::LinkLocal,
        AddrError::Mapped => PeerError::Mapped,
    })
}

/// Checks that `new` can join `peers` of a node whose id is `me`.
pub fn check_peer_add(peers: &[PeerConf], me: u32, new: &PeerConf) -> Result<(), PeerError> {
    if new.node_id == 0 {
        return Err(PeerError::ZeroId);
    }
    if new.node_id == me {
        return Err(PeerError::OwnId);
    }
    check_peer_addr(new.addr)?;
    if new.port == 0 {
        return Err(PeerError::ZeroPort);
    }
    if peers.iter().any(|p| p.node_id == new.node_id) {
        return Err(PeerError::Exists);
    }
    if peers.len() >= MAX_PEERS {
        return Err(PeerError::TooMany);
    }
    Ok(())
}

/// Checks a change of this node's id against its peers.
pub fn check_node_id(peers: &[PeerConf], me: u32) -> Result<(), PeerError> {
    if me != 0 && peers.iter().any(|p| p.node_id == me) {
        return Err(PeerError::OwnId);
    }
    Ok(())
}

/// Why a change of the front-end group was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberError {
    /// A member needs its node id.
    Missing,
    /// Node id 0 means "unset".
    ZeroId,
    /// This node is always a member of its own group.
    OwnId,
    /// Members are peers: the group's views travel on the control channel.
    NotPeer,
    /// The peer has no IPv4 address: client packets are passed to members
    /// over IPv4.
    NotV4,
    /// Already a member.
    Exists,
    /// Not a member.
    NotFound,
    /// The group would have more than [`super::cluster::MAX_MEMBERS`]
    /// members, this node included.
    TooMany,
}

impl MemberError {
    /// The message returned to the user (netlink extack).
    pub const fn message(self) -> &'static CStr {
        match self {
            MemberError::Missing => c"member needs node-id",
            MemberError::ZeroId => c"member node-id must not be 0",
            MemberError::OwnId => {
                c"member node-id is this node's own node-id (a node is always in its group)"
            }
            MemberError::NotPeer => c"no peer with this node-id: add the peer first",
            MemberError::NotV4 => {
                c"a front-end group member needs an IPv4 peer address: client packets are passed to members over IPv4"
            }
            MemberError::Exists => c"already a member of the front-end group",
            MemberError::NotFound => c"not a member of the front-end group",
            MemberError::TooMany => c"too many members (63 besides this node at most)",
        }
    }
}

/// Checks that peer `id` can join the front-end group `members` (this
/// node's other members) of a node whose id is `me` and whose peers are
/// `peers`.
pub fn check_member_add(
    peers: &[PeerConf],
    me: u32,
    members: &[u32],
    id: u32,
) -> Result<(), MemberError> {
    if id == 0 {
        return Err(MemberError::ZeroId);
    }
    if id == me {
        return Err(MemberError::OwnId);
    }
    let peer = peers
        .iter()
        .find(|p| p.node_id == id)
        .ok_or(MemberError::NotPeer)?;
    if peer.addr.v4().is_none() {
        return Err(MemberError::NotV4);
    }
    if members.contains(&id) {
        return Err(MemberError::Exists);
    }
    if members.len() + 1 >= super::cluster::MAX_MEMBERS {
        return Err(MemberError::TooMany);
    }
    Ok(())
}

/// Iterates over the attributes in a netlink attribute stream (e.g. the
/// payload of a nested attribute): yields `(type, payload)`, the type
/// without the NLA_F_NESTED/NLA_F_NET_BYTEORDER flags. Stops at the first
/// malformed header.
pub fn nla_iter(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    core::iter::from_fn(move || {
        let len = u16::from_ne_bytes(buf.get(..2)?.try_into().ok()?) as usize;
        let ty = u16::from_ne_bytes(buf.get(2..4)?.try_into().ok()?) & 0x3fff;
        let payload = buf.get(4..len)?;
        let aligned = (len + 3) & !3;
        buf = buf.get(aligned..).unwrap_or_default();
        Some((ty, payload))
    })
}

// SPDX-License-Identifier: GPL-2.0

//! The generic netlink interface of baton, as described in
//! `Documentation/netlink/specs/baton.yaml`.
//!
//! Numbers follow the YNL rules for `genetlink`: commands and attributes are
//! numbered from 1 in the order the spec lists them; 0 is unused.

use core::ffi::CStr;

/// Name of the generic netlink family.
pub const FAMILY_NAME: &CStr = c"baton";
/// Version of the generic netlink family.
pub const FAMILY_VERSION: u8 = 1;
/// Control port of a new namespace when the module parameter is not given.
pub const DEFAULT_CTRL_PORT: u16 = 7300;

/// Commands (`operations` in the spec).
pub mod cmd {
    /// Module version and hook counters.
    pub const STATUS_GET: u8 = 1;
    /// Read the namespace's configuration.
    pub const CONFIG_GET: u8 = 2;
    /// Change the namespace's configuration (CAP_NET_ADMIN).
    pub const CONFIG_SET: u8 = 3;
    /// Add a peer (CAP_NET_ADMIN).
    pub const PEER_ADD: u8 = 4;
    /// Delete a peer (CAP_NET_ADMIN).
    pub const PEER_DEL: u8 = 5;
    /// All peers with their control-channel state.
    pub const PEER_GET: u8 = 6;
    /// Add a service (CAP_NET_ADMIN).
    pub const SERVICE_ADD: u8 = 7;
    /// Delete a service with its back-ends (CAP_NET_ADMIN).
    pub const SERVICE_DEL: u8 = 8;
    /// All services with their back-ends.
    pub const SERVICE_GET: u8 = 9;
    /// Add a back-end to a service (CAP_NET_ADMIN).
    pub const BACKEND_ADD: u8 = 10;
    /// Delete a back-end of a service (CAP_NET_ADMIN).
    pub const BACKEND_DEL: u8 = 11;
    /// Handoff and forwarding counters, and the number of connections.
    pub const STATS_GET: u8 = 12;
    /// The connections this node takes part in.
    pub const CONN_GET: u8 = 13;
    /// Add a content rule to a service (CAP_NET_ADMIN).
    pub const RULE_ADD: u8 = 14;
    /// Delete a content rule of a service (CAP_NET_ADMIN).
    pub const RULE_DEL: u8 = 15;
    /// Add a member to this node's front-end group (CAP_NET_ADMIN).
    pub const CLUSTER_ADD: u8 = 16;
    /// Delete a member of this node's front-end group (CAP_NET_ADMIN).
    pub const CLUSTER_DEL: u8 = 17;
    /// The front-end group: its view, members and their state.
    pub const CLUSTER_GET: u8 = 18;
    /// Highest command number of the first run of requests (1 to `MAX`);
    /// [`BACKEND_SET`] is a request too.
    pub const MAX: u8 = CLUSTER_GET;
    /// Notification (group [`super::MCGRP_EVENTS`]): a handoff this
    /// front-end made ended, in forwarding or not.
    pub const HANDOFF_NTF: u8 = 19;
    /// Notification: a connection this node took part in ended.
    pub const CONN_END_NTF: u8 = 20;
    /// Notification: a peer's control channel came up or went down.
    pub const PEER_NTF: u8 = 21;
    /// Notification: a command changed the configuration.
    pub const CONFIG_NTF: u8 = 22;
    /// Change a back-end's weight (CAP_NET_ADMIN); weight 0 drains it.
    /// Numbered after the notifications, which keep their numbers.
    pub const BACKEND_SET: u8 = 23;
}

/// The multicast group of the notifications (`batonctl monitor`).
pub const MCGRP_EVENTS: &CStr = c"events";

/// Attributes of the `baton` set.
pub mod attr {
    /// `string`: module version.
    pub const VERSION: u16 = 1;
    /// `u16`, at least 1: control-channel TCP port.
    pub const CTRL_PORT: u16 = 2;
    /// `u32`: node id, 0 when unset.
    pub const NODE_ID: u16 = 3;
    /// `nest` of [`super::hook_attr`]: per-hook packet counters.
    pub const HOOKS: u16 = 4;
    /// Padding for 64-bit attributes.
    pub const PAD: u16 = 5;
    /// `nest` of [`super::peer_attr`], repeated in `peer-get` replies.
    pub const PEER: u16 = 6;
    /// `nest` of [`super::service_attr`], repeated in `service-get` replies.
    pub const SERVICE: u16 = 7;
    /// `nest` of [`super::backend_attr`].
    pub const BACKEND: u16 = 8;
    /// `nest` of [`super::stats_attr`], reply only.
    pub const STATS: u16 = 9;
    /// `nest` of [`super::conn_attr`], one per connection, reply only.
    pub const CONN: u16 = 10;
    /// `u32`: connections in the table (a reply may carry fewer).
    pub const CONN_TOTAL: u16 = 11;
    /// `nest` of [`super::rule_attr`], in rule-add and rule-del requests.
    pub const RULE: u16 = 12;
    /// `u32`: how long a front-end waits for the first request (ms).
    pub const REQUEST_TIMEOUT_MS: u16 = 13;
    /// `u32`: how long a front-end waits for a handoff's answer (ms).
    pub const HANDOFF_TIMEOUT_MS: u16 = 14;
    /// `u32`: idle time after which a connection's state goes (ms).
    pub const IDLE_TIMEOUT_MS: u16 = 15;
    /// `binary`, 16 to 64 bytes, or empty to remove it: the key that
    /// authenticates the control channel. Request only: never in a reply.
    pub const KEY: u16 = 16;
    /// `u8`, reply only: 1 if a key is set.
    pub const AUTH: u16 = 17;
    /// `u32`: silence after which a peer's control channel is down (ms).
    pub const HEARTBEAT_TIMEOUT_MS: u16 = 18;
    /// `nest` of [`super::member_attr`]: a member of the front-end group,
    /// repeated in `cluster-get` replies.
    pub const MEMBER: u16 = 19;
    /// `u64`, reply only: the epoch of this node's membership view.
    pub const EPOCH: u16 = 20;
    /// `u32`, 1 to 63: members that keep a copy of each of this node's
    /// forwarding connections.
    pub const COPIES: u16 = 21;
    /// `nest` of [`super::event_attr`]: what a notification is about,
    /// notifications only.
    pub const EVENT: u16 = 22;
    /// `nest` of [`super::hook_attr`], reply only: per-hook counters of
    /// IPv6 packets ([`HOOKS`] counts IPv4's).
    pub const HOOKS6: u16 = 23;
    /// Highest attribute number.
    pub const MAX: u16 = HOOKS6;
}

/// Attributes of the `event` set (in notifications only).
pub mod event_attr {
    /// `u64`: the handoff id of the connection.
    pub const ID: u16 = 1;
    /// `u32`, big-endian: the client's address.
    pub const CLIENT_ADDR: u16 = 2;
    /// `u16`: the client's port.
    pub const CLIENT_PORT: u16 = 3;
    /// `u32`, big-endian: the service's address.
    pub const VIP_ADDR: u16 = 4;
    /// `u16`: the service's port.
    pub const VIP_PORT: u16 = 5;
    /// `u32`, big-endian: the back-end's address.
    pub const BACKEND_ADDR: u16 = 6;
    /// `u16`: the back-end's port.
    pub const BACKEND_PORT: u16 = 7;
    /// `u32`: the peer (0: this node).
    pub const PEER: u16 = 8;
    /// `u8` ([`super::handoff_result`]): how a handoff ended.
    pub const RESULT: u16 = 9;
    /// `u8`: why (a NACK reason of the control protocol for a handoff, an
    /// end reason for a connection).
    pub const REASON: u16 = 10;
    /// `u8` ([`super::conn_role`]): the node's role in the connection.
    pub const ROLE: u16 = 11;
    /// `u8` ([`super::peer_state`]): the channel's new state.
    pub const STATE: u16 = 12;
    /// `u8`: the command that changed the configuration.
    pub const CMD: u16 = 13;
    /// Padding for 64-bit attributes.
    pub const PAD: u16 = 14;
    /// 16 bytes: the client's IPv6 address (an IPv6 connection's
    /// endpoints are in the `*_ADDR6` attributes, an IPv4 one's in
    /// `*_ADDR`).
    pub const CLIENT_ADDR6: u16 = 15;
    /// 16 bytes: the service's IPv6 address.
    pub const VIP_ADDR6: u16 = 16;
    /// 16 bytes: the back-end's IPv6 address.
    pub const BACKEND_ADDR6: u16 = 17;
    /// Highest attribute number.
    pub const MAX: u16 = BACKEND_ADDR6;
}

/// Values of [`event_attr::RESULT`] (`handoff-result` enum).
pub mod handoff_result {
    /// A back-end took the connection: it forwards.
    pub const OK: u8 = 0;
    /// A back-end refused it (NACK), and no local back-end took it.
    pub const REFUSED: u8 = 1;
    /// No answer in time, the peer down, no back-end.
    pub const FAILED: u8 = 2;
}

/// Attributes of a `stats` nest (`u64` counters; `active` is `u32`).
pub mod stats_attr {
    /// `handoffs-ok`.
    pub const HANDOFFS_OK: u16 = 1;
    /// `handoffs-refused`.
    pub const HANDOFFS_REFUSED: u16 = 2;
    /// `handoffs-failed`.
    pub const HANDOFFS_FAILED: u16 = 3;
    /// `taken`.
    pub const TAKEN: u16 = 4;
    /// `forwarded`.
    pub const FORWARDED: u16 = 5;
    /// `returned`.
    pub const RETURNED: u16 = 6;
    /// `dropped`.
    pub const DROPPED: u16 = 7;
    /// `active`.
    pub const ACTIVE: u16 = 8;
    /// `pad`.
    pub const PAD: u16 = 9;
    /// `waiting` (`u32`): connections whose request is still arriving.
    pub const WAITING: u16 = 10;
    /// `hurried`: connections handed off before their request was complete
    /// because their worker's waiting list was full.
    pub const HURRIED: u16 = 11;
    /// `memory`: bytes of connection state and waiting requests.
    pub const MEMORY: u16 = 12;
    /// `malformed`: packets of flows' clients that do not parse, dropped.
    pub const MALFORMED: u16 = 13;
    /// `held`: client packets held while their handoff was under way.
    pub const HELD: u16 = 14;
    /// `held-dropped`: client packets to be held dropped, the holding area
    /// full (or its share for packets awaiting a front-end group's copy).
    pub const HELD_DROPPED: u16 = 15;
    /// `icmp-forwarded`: ICMP errors about a connection passed on to its
    /// back-end.
    pub const ICMP_FORWARDED: u16 = 16;
    /// `icmp-malformed`: ICMP errors that do not parse, passed untouched.
    pub const ICMP_MALFORMED: u16 = 17;
    /// `common` (`u32`): copies in the common table, of connections other
    /// members of the front-end group forward.
    pub const COMMON: u16 = 18;
    /// `common-memory`: bytes the common table takes.
    pub const COMMON_MEMORY: u16 = 19;
    /// `forwarded-common`: client packets forwarded with a copy's
    /// translation (the upstream sent them here, not to their owner).
    pub const FORWARDED_COMMON: u16 = 20;
    /// `promoted`: copies that became this node's connections when their
    /// owner left the group's view.
    pub const PROMOTED: u16 = 21;
    /// `replicated`: copies sent to backups (REPLICA frames).
    pub const REPLICATED: u16 = 22;
    /// `pending` (`u32`): copies in the common table of handoffs still under
    /// way on their owner (HANDOFF_COPY).
    pub const PENDING: u16 = 23;
    /// `unconfirmed`: handoffs asked of a back-end before every backup
    /// confirmed its copy.
    pub const UNCONFIRMED: u16 = 24;
    /// `resumed`: handoffs under way that this node took over from a
    /// failed member's copy and asked the back-end for (RESUME).
    pub const RESUMED: u16 = 25;
    /// `acks-withheld`: acknowledgements of requests not handed off yet
    /// that the front-end's sockets sent and the hooks dropped (a front-end
    /// group member: the back-end acknowledges the request, after the
    /// copies).
    pub const ACKS_WITHHELD: u16 = 26;
    /// `acks-released`: connections whose request came in more than one
    /// flight, whose acknowledgements were released before the copies.
    pub const ACKS_RELEASED: u16 = 27;
    /// `relayed`: client packets and ICMP errors of connections this node
    /// has no state for, passed to the group member that holds them.
    pub const RELAYED: u16 = 28;
    /// `relay-failed`: such packets that could not be passed (no directly
    /// connected route to the member, TTL spent), dropped.
    pub const RELAY_FAILED: u16 = 29;
    /// `moved`: connections moved to another back-end at a request
    /// boundary (front-end side).
    pub const MOVED: u16 = 30;
    /// `moves-refused`: moves the serving back-end refused (the connection
    /// was not idle): the connection stayed and was served there.
    pub const MOVES_REFUSED: u16 = 31;
    /// `moves-failed`: moves whose new back-end refused or did not answer:
    /// the connection went back to its back-end, or was reset.
    pub const MOVES_FAILED: u16 = 32;
    /// `released`: connections this node's servers gave up, idle, for a
    /// move (back-end side).
    pub const RELEASED: u16 = 33;
    /// `relay-skipped`: packets of connections this node has no state for
    /// whose first member was silent: passed to the next, or dropped when
    /// that is this node.
    pub const RELAY_SKIPPED: u16 = 34;
    /// `held-now` (`u32`): client packets in the holding areas now.
    pub const HELD_NOW: u16 = 35;
    /// `held-awaiting` (`u32`): of them, packets of connections this node
    /// has nothing of, awaiting a front-end group's copy.
    pub const HELD_AWAITING: u16 = 36;
    /// `relayed-again`: packets passed to a member that may have failed,
    /// passed again to the next of the ranking once it proved silent.
    pub const RELAYED_AGAIN: u16 = 37;
    /// Highest attribute number.
    pub const MAX: u16 = RELAYED_AGAIN;
}

/// Attributes of a `conn` nest.
pub mod conn_attr {
    /// `id`.
    pub const ID: u16 = 1;
    /// `role`.
    pub const ROLE: u16 = 2;
    /// `state`.
    pub const STATE: u16 = 3;
    /// `client-addr`.
    pub const CLIENT_ADDR: u16 = 4;
    /// `client-port`.
    pub const CLIENT_PORT: u16 = 5;
    /// `vip-addr`.
    pub const VIP_ADDR: u16 = 6;
    /// `vip-port`.
    pub const VIP_PORT: u16 = 7;
    /// `backend-addr`.
    pub const BACKEND_ADDR: u16 = 8;
    /// `backend-port`.
    pub const BACKEND_PORT: u16 = 9;
    /// `peer`.
    pub const PEER: u16 = 10;
    /// `age-ms`.
    pub const AGE_MS: u16 = 11;
    /// `idle-ms`.
    pub const IDLE_MS: u16 = 12;
    /// `packets`.
    pub const PACKETS: u16 = 13;
    /// `bytes`.
    pub const BYTES: u16 = 14;
    /// `pad`.
    pub const PAD: u16 = 15;
    /// 16 bytes: the client's IPv6 address (an IPv6 connection's
    /// endpoints are in the `*_ADDR6` attributes, an IPv4 one's in
    /// `*_ADDR`; also in a filter).
    pub const CLIENT_ADDR6: u16 = 16;
    /// 16 bytes: the service's IPv6 address.
    pub const VIP_ADDR6: u16 = 17;
    /// 16 bytes: the back-end's IPv6 address.
    pub const BACKEND_ADDR6: u16 = 18;
    /// `u8` 1, replies only: a front-end connection whose back-end drains,
    /// to move at its next request boundary.
    pub const DRAINING: u16 = 19;
    /// Highest attribute number.
    pub const MAX: u16 = DRAINING;
}

/// Values of the `conn-role` enum.
pub mod conn_role {
    /// `front`.
    pub const FRONT: u8 = 0;
    /// `back`.
    pub const BACK: u8 = 1;
}

/// Values of the `conn-state` enum.
pub mod conn_state {
    /// `handoff`.
    pub const HANDOFF: u8 = 0;
    /// `forwarding`.
    pub const FORWARDING: u8 = 1;
    /// `replaying`.
    pub const REPLAYING: u8 = 2;
    /// `established`.
    pub const ESTABLISHED: u8 = 3;
}

/// Attributes of the `service` set.
pub mod service_attr {
    /// `u32`, big-endian: the virtual IPv4 address.
    pub const ADDR: u16 = 1;
    /// `u16`, at least 1: the virtual port.
    pub const PORT: u16 = 2;
    /// `u8` `scheduler` enum (default `lc`).
    pub const SCHEDULER: u16 = 3;
    /// `nest` of [`super::backend_attr`], repeated, reply only.
    pub const BACKEND: u16 = 4;
    /// `nest` of [`super::rule_attr`], repeated in order, reply only.
    pub const RULE: u16 = 5;
    /// `u32`: most connections handed off at once (0: no limit of its own).
    pub const MAX_CONNS: u16 = 6;
    /// 16 bytes: the virtual IPv6 address (a service has this or `ADDR`).
    pub const ADDR6: u16 = 7;
    /// `u8` [`super::dispatch`] enum (default `request`).
    pub const DISPATCH: u16 = 8;
    /// Highest attribute number.
    pub const MAX: u16 = DISPATCH;
}

/// Values of the service's `dispatch` attribute: what the content rules
/// decide on a kept-alive connection.
pub mod dispatch {
    /// The first request's back-end serves the whole connection.
    pub const CONNECTION: u8 = 0;
    /// Every request is matched again; one whose rule names another
    /// back-end moves the connection there (once the previous response was
    /// acknowledged).
    pub const REQUEST: u8 = 1;
}

/// Attributes of a `rule` nest.
pub mod rule_attr {
    /// `u32`: position in the service's list (0 first).
    pub const INDEX: u16 = 1;
    /// `string`: host name, or domain with `host-suffix`.
    pub const HOST: u16 = 2;
    /// `u8` 0/1: `host` is a domain suffix.
    pub const HOST_SUFFIX: u16 = 3;
    /// `string`: path prefix.
    pub const PATH: u16 = 4;
    /// `u32` big-endian: the back-end's address.
    pub const BACKEND_ADDR: u16 = 5;
    /// `u16`: the back-end's port.
    pub const BACKEND_PORT: u16 = 6;
    /// 16 bytes: the back-end's IPv6 address (or `BACKEND_ADDR`).
    pub const BACKEND_ADDR6: u16 = 7;
    /// Highest attribute number.
    pub const MAX: u16 = BACKEND_ADDR6;
}

/// Attributes of the `backend` set.
pub mod backend_attr {
    /// `u32`, big-endian: the server's IPv4 address.
    pub const ADDR: u16 = 1;
    /// `u16`, at least 1: the server's port.
    pub const PORT: u16 = 2;
    /// `u32`, 0 to 65535 (default 1): relative capacity, 0 = drained.
    pub const WEIGHT: u16 = 3;
    /// `u32`: node id of the peer that serves it, 0 (default) = this node.
    pub const PEER: u16 = 4;
    /// `u32`, replies only: the connections this front-end forwards to it
    /// (handoffs under way included), as IPVS's ActiveConn.
    pub const ACTIVE: u16 = 5;
    /// 16 bytes: the server's IPv6 address (a back-end has this or
    /// `ADDR`, of its service's family).
    pub const ADDR6: u16 = 6;
    /// `u8`, 0 or 1: in `backend-set`, 1 drains the back-end (weight 0, and
    /// its kept-alive connections move to the others at their next request
    /// boundary), 0 ends a drain; in replies, 1 while it drains.
    pub const DRAIN: u16 = 7;
    /// Highest attribute number.
    pub const MAX: u16 = DRAIN;
}

/// Attributes of the `peer` set.
pub mod peer_attr {
    /// `u32`, not 0: the peer's node id.
    pub const NODE_ID: u16 = 1;
    /// `u32`, big-endian: the peer's IPv4 address (or `ADDR6`).
    pub const ADDR: u16 = 2;
    /// `u16`: the peer's control port (default: this node's ctrl-port).
    pub const PORT: u16 = 3;
    /// `u8` [`super::peer_state`], reply only.
    pub const STATE: u16 = 4;
    /// `u64`, reply only: milliseconds since the last frame from the peer.
    pub const LAST_RX_MS: u16 = 5;
    /// `u64`, reply only: frames received.
    pub const MSGS_IN: u16 = 6;
    /// `u64`, reply only: frames sent.
    pub const MSGS_OUT: u16 = 7;
    /// `u32`, reply only: channels established so far.
    pub const CONNECTS: u16 = 8;
    /// Padding for 64-bit attributes.
    pub const PAD: u16 = 9;
    /// 16 bytes: the peer's IPv6 address (a peer has this or `ADDR`).
    pub const ADDR6: u16 = 10;
    /// `u64`, reply only: socket writes that carried the frames sent
    /// (fewer than `MSGS_OUT` when frames went together).
    pub const WRITES_OUT: u16 = 11;
    /// Highest attribute number.
    pub const MAX: u16 = WRITES_OUT;
}

/// Attributes of the `member` set.
pub mod member_attr {
    /// `u32`, not 0: the member's node id (a peer, or this node in
    /// replies).
    pub const NODE_ID: u16 = 1;
    /// `u8` [`super::member_state`], reply only.
    pub const STATE: u16 = 2;
    /// `u64`, reply only: the epoch of the member's view, as it last
    /// announced it (this node's own for itself); absent if none yet.
    pub const EPOCH: u16 = 3;
    /// `u8`, reply only: 1 if the member's last announced view is this
    /// node's (same epoch, same members).
    pub const AGREES: u16 = 4;
    /// `u32`, reply only: members in the member's view.
    pub const LIVE: u16 = 5;
    /// `u32`, reply only: connections in the member's active table.
    pub const ACTIVE: u16 = 6;
    /// `u32`, reply only: copies in the member's common table.
    pub const COMMON: u16 = 7;
    /// Padding for 64-bit attributes.
    pub const PAD: u16 = 8;
    /// `u8`, reply only: 1 if the member sent this node every copy this
    /// node keeps for it in this node's view (SYNCED); for this node
    /// itself, if every other live member did.
    pub const SYNCED: u16 = 9;
    /// Highest attribute number.
    pub const MAX: u16 = SYNCED;
}

/// Values of [`member_attr::STATE`] (`member-state` enum).
pub mod member_state {
    /// No channel to the member: not in this node's view.
    pub const DOWN: u8 = 0;
    /// Its channel is up: in this node's view.
    pub const UP: u8 = 1;
    /// This node.
    pub const SELF: u8 = 2;
}

/// Values of [`peer_attr::STATE`] (`peer-state` enum).
pub mod peer_state {
    /// No channel.
    pub const DOWN: u8 = 0;
    /// Channel established, heartbeats on time.
    pub const UP: u8 = 1;
}

/// Attributes of the `hook-stats` set: one `u64` packet counter per hook.
pub mod hook_attr {
    /// Packets seen at NF_INET_PRE_ROUTING.
    pub const PRE_ROUTING: u16 = 1;
    /// Packets seen at NF_INET_LOCAL_IN.
    pub const LOCAL_IN: u16 = 2;
    /// Packets seen at NF_INET_LOCAL_OUT.
    pub const LOCAL_OUT: u16 = 3;
    /// Packets seen at NF_INET_POST_ROUTING.
    pub const POST_ROUTING: u16 = 4;
    /// Padding for 64-bit attributes.
    pub const PAD: u16 = 5;
    /// Highest attribute number.
    pub const MAX: u16 = PAD;
}

/// The netfilter hooks baton registers, in the order of [`hook_attr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// Before routing, every packet that arrives.
    PreRouting,
    /// Packets for this host, after routing.
    LocalIn,
    /// Packets this host sends, before routing.
    LocalOut,
    /// Every packet that leaves, after routing.
    PostRouting,
}

impl Hook {
    /// All hooks, in attribute order.
    pub const ALL: [Hook; 4] = [
        Hook::PreRouting,
        Hook::LocalIn,
        Hook::LocalOut,
        Hook::PostRouting,
    ];

    /// The `hook-stats` attribute that carries this hook's counter.
    pub const fn attr(self) -> u16 {
        match self {
            Hook::PreRouting => hook_attr::PRE_ROUTING,
            Hook::LocalIn => hook_attr::LOCAL_IN,
            Hook::LocalOut => hook_attr::LOCAL_OUT,
            Hook::PostRouting => hook_attr::POST_ROUTING,
        }
    }

    /// Index of the hook in [`Hook::ALL`].
    pub const fn index(self) -> usize {
        self.attr() as usize - 1
    }

    /// The name used in the spec, the CLI and JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            Hook::PreRouting => "pre-routing",
            Hook::LocalIn => "local-in",
            Hook::LocalOut => "local-out",
            Hook::PostRouting => "post-routing",
        }
    }
}

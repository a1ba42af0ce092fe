// SPDX-License-Identifier: GPL-2.0

//! The per-connection state of a handoff and what each packet does to it
//! (the BTCP decisions of the design, without the kernel around them).
//!
//! A node keeps one [`Flow`] per handed-off connection it takes part in:
//!
//! ```text
//!  front-end (role Front, key client <-> VIP)
//!     Frozen      handoff under way: the client's packets are dropped
//!                 (TCP retransmits them later, to the back-end), and so is
//!                 everything the front-end's own socket still sends
//!     Forwarding  client packets go to the back-end, rewritten
//!                 (dst, ack, SACK, TSecr); the front-end's socket is gone
//!  back-end (role Back, key client <-> back-end server)
//!     Replaying   the client's SYN was injected: the stack's SYN/ACK is
//!                 captured and dropped (the client must never see it)
//!     Established the server's packets go to the client, rewritten
//!                 (src = VIP, seq, TSval, window)
//! ```
//!
//! A front-end that serves a connection itself (a local back-end) has both
//! flows, with different keys.

use super::{
    config::{decode_u16, decode_u32, nla_iter},
    ctrl::{replica_flags, Endpoint, Replica},
    icmp::{Icmp, IcmpPacket},
    packet::{flags, Addresses, Family, TcpHeader, TcpPacket, V4, V6},
    seq::Translation,
    service::Ip,
    uapi::{conn_attr, conn_role, conn_state},
};

/// The key of a flow: the client and this node's end of the connection
/// (the VIP on the front-end, the server's address on the back-end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Key<A: Family = V4> {
    /// The client.
    pub client: Endpoint<A>,
    /// This node's end.
    pub local: Endpoint<A>,
}

impl<A: Family> Key<A> {
    /// The key of a packet from the client.
    pub fn inbound(h: &TcpHeader<A>) -> Self {
        Self::inbound_addresses(&h.addresses())
    }

    /// The key of a packet from the client, from its addresses (also for
    /// one that [`super::packet::parse`] refuses).
    pub fn inbound_addresses(a: &Addresses<A>) -> Self {
        Self {
            client: Endpoint {
                addr: a.saddr,
                port: a.sport,
            },
            local: Endpoint {
                addr: a.daddr,
                port: a.dport,
            },
        }
    }

    /// The key of a packet to the client, from its addresses.
    pub fn outbound_addresses(a: &Addresses<A>) -> Self {
        Self {
            client: Endpoint {
                addr: a.daddr,
                port: a.dport,
            },
            local: Endpoint {
                addr: a.saddr,
                port: a.sport,
            },
        }
    }

    /// The key of a packet to the client.
    pub fn outbound(h: &TcpHeader<A>) -> Self {
        Self::outbound_addresses(&h.addresses())
    }

    /// A hash of the key, seeded, for bucket selection: Bob Jenkins's
    /// lookup3 over its 32-bit words (3 for IPv4, 9 for IPv6), as the
    /// kernel's `jhash2`. Every packet's lookups hash its key, so it works
    /// a word at a time, not a byte.
    pub fn hash(&self, seed: u32) -> u32 {
        let (c, l) = (self.client.addr.as_ref(), self.local.addr.as_ref());
        // 1 word an IPv4 address, 4 an IPv6 one: constants once `A` is
        // known, so the loop unrolls and the indexes need no checks.
        let n = c.len().min(l.len()).min(16) / 4;
        let mut w = [0u32; 9];
        for i in 0..n {
            w[i] = word(c, i);
            w[n + i] = word(l, i);
        }
        w[2 * n] = (u32::from(self.client.port) << 16) | u32::from(self.local.port);
        jhash_words(&w[..=2 * n], seed)
    }
}

/// The `i`th 32-bit word of `b`, in native byte order (a hash input).
#[inline]
fn word(b: &[u8], i: usize) -> u32 {
    match b.get(4 * i..4 * i + 4) {
        Some(&[x0, x1, x2, x3]) => u32::from_ne_bytes([x0, x1, x2, x3]),
        _ => 0,
    }
}

/// lookup3's `hashword`: `words` mixed three at a time, then the final
/// mix of the last (up to) three.
#[inline]
fn jhash_words(words: &[u32], seed: u32) -> u32 {
    // At most 9 words: the length fits.
    let init = 0xdead_beef_u32
        .wrapping_add((words.len() as u32) << 2)
        .wrapping_add(seed);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut rest = words;
    while rest.len() > 3 {
        a = a.wrapping_add(rest[0]);
        b = b.wrapping_add(rest[1]);
        c = c.wrapping_add(rest[2]);
        (a, b, c) = mix(a, b, c);
        rest = &rest[3..];
    }
    // By pattern, not by an iterator over [a, b, c]: core's iterator
    // length is an out-of-line call in the module, four per hash.
    match *rest {
        [x] => final_mix(a.wrapping_add(x), b, c),
        [x, y] => final_mix(a.wrapping_add(x), b.wrapping_add(y), c),
        [x, y, z] => final_mix(a.wrapping_add(x), b.wrapping_add(y), c.wrapping_add(z)),
        _ => c,
    }
}

/// lookup3's `mix`.
#[inline]
fn mix(mut a: u32, mut b: u32, mut c: u32) -> (u32, u32, u32) {
    a = a.wrapping_sub(c) ^ c.rotate_left(4);
    c = c.wrapping_add(b);
    b = b.wrapping_sub(a) ^ a.rotate_left(6);
    a = a.wrapping_add(c);
    c = c.wrapping_sub(b) ^ b.rotate_left(8);
    b = b.wrapping_add(a);
    a = a.wrapping_sub(c) ^ c.rotate_left(16);
    c = c.wrapping_add(b);
    b = b.wrapping_sub(a) ^ a.rotate_left(19);
    a = a.wrapping_add(c);
    c = c.wrapping_sub(b) ^ b.rotate_left(4);
    b = b.wrapping_add(a);
    (a, b, c)
}

/// lookup3's `final`.
#[inline]
fn final_mix(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c = (c ^ b).wrapping_sub(b.rotate_left(14));
    a = (a ^ c).wrapping_sub(c.rotate_left(11));
    b = (b ^ a).wrapping_sub(a.rotate_left(25));
    c = (c ^ b).wrapping_sub(b.rotate_left(16));
    a = (a ^ c).wrapping_sub(c.rotate_left(4));
    b = (b ^ a).wrapping_sub(a.rotate_left(14));
    (c ^ b).wrapping_sub(b.rotate_left(24))
}

/// Which end of a handoff a flow is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The node the client connected to.
    Front,
    /// The node whose server took the connection.
    Back,
}

/// Where a flow is in its life (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Front-end, handoff under way.
    Frozen,
    /// Front-end, forwarding.
    Forwarding,
    /// Back-end, replaying the handshake.
    Replaying,
    /// Back-end, serving.
    Established,
}

impl Role {
    /// The `conn-role` value of the netlink interface.
    pub const fn uapi(self) -> u8 {
        match self {
            Role::Front => conn_role::FRONT,
            Role::Back => conn_role::BACK,
        }
    }

    /// The role of a `conn-role` value.
    pub const fn from_uapi(v: u8) -> Option<Self> {
        match v {
            conn_role::FRONT => Some(Role::Front),
            conn_role::BACK => Some(Role::Back),
            _ => None,
        }
    }
}

impl Phase {
    /// Every phase, in `conn-state` order.
    pub const ALL: [Phase; 4] = [
        Phase::Frozen,
        Phase::Forwarding,
        Phase::Replaying,
        Phase::Established,
    ];

    /// A short name for `batonctl conn list`.
    pub const fn name(self) -> &'static str {
        match self {
            Phase::Frozen => "handoff",
            Phase::Forwarding => "forwarding",
            Phase::Replaying => "replaying",
            Phase::Established => "established",
        }
    }

    /// The `conn-state` value of the netlink interface.
    pub const fn uapi(self) -> u8 {
        match self {
            Phase::Frozen => conn_state::HANDOFF,
            Phase::Forwarding => conn_state::FORWARDING,
            Phase::Replaying => conn_state::REPLAYING,
            Phase::Established => conn_state::ESTABLISHED,
        }
    }

    /// The phase of a `conn-state` value.
    pub const fn from_uapi(v: u8) -> Option<Self> {
        match v {
            conn_state::HANDOFF => Some(Phase::Frozen),
            conn_state::FORWARDING => Some(Phase::Forwarding),
            conn_state::REPLAYING => Some(Phase::Replaying),
            conn_state::ESTABLISHED => Some(Phase::Established),
            _ => None,
        }
    }
}

/// Which connections a `conn-get` request asks for: the fields of its
/// `conn` nest (any of role, state, client, VIP, back-end, peer; an address
/// of either family or a port alone matches either half of an endpoint).
/// No field: all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Which of the fields below are given, `1 << conn_attr::X` (an IPv6
    /// address as its IPv4 attribute's bit).
    given: u16,
    role: u8,
    state: u8,
    client: Endpoint<Ip>,
    vip: Endpoint<Ip>,
    backend: Endpoint<Ip>,
    peer: u32,
}

/// Why a `conn` nest is not a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterError {
    /// An attribute of the wrong size.
    Malformed,
    /// A role or state outside its enum.
    BadValue,
    /// An attribute that only replies carry (id, age, counters).
    NotAFilter,
}

impl FilterError {
    /// The extack message.
    pub const fn message(self) -> &'static core::ffi::CStr {
        match self {
            FilterError::Malformed => c"malformed conn filter attribute",
            FilterError::BadValue => c"conn filter role or state out of range",
            FilterError::NotAFilter => {
                c"conn filter: only role, state, client, vip, backend and peer"
            }
        }
    }
}

impl Filter {
    /// The filter of a `conn` nest's payload.
    pub fn parse(nest: &[u8]) -> Result<Self, FilterError> {
        let mut f = Self::default();
        for (ty, p) in nla_iter(nest) {
            let addr = || -> Result<Ip, FilterError> {
                let a: V4 = p.try_into().map_err(|_| FilterError::Malformed)?;
                Ok(Ip::V4(a))
            };
            let addr6 = || -> Result<Ip, FilterError> {
                let a: V6 = p.try_into().map_err(|_| FilterError::Malformed)?;
                Ok(Ip::V6(a))
            };
            let port = || decode_u16(p).ok_or(FilterError::Malformed);
            let byte = || match p {
                [b] => Ok(*b),
                _ => Err(FilterError::Malformed),
            };
            match ty {
                conn_attr::ROLE => {
                    f.role = byte()?;
                    Role::from_uapi(f.role).ok_or(FilterError::BadValue)?;
                }
                conn_attr::STATE => {
                    f.state = byte()?;
                    Phase::from_uapi(f.state).ok_or(FilterError::BadValue)?;
                }
                conn_attr::CLIENT_ADDR => f.client.addr = addr()?,
                conn_attr::CLIENT_PORT => f.client.port = port()?,
                conn_attr::VIP_ADDR => f.vip.addr = addr()?,
                conn_attr::VIP_PORT => f.vip.port = port()?,
                conn_attr::BACKEND_ADDR => f.backend.addr = addr()?,
                conn_attr::BACKEND_PORT => f.backend.port = port()?,
                conn_attr::PEER => f.peer = decode_u32(p).ok_or(FilterError::Malformed)?,
                conn_attr::CLIENT_ADDR6 => f.client.addr = addr6()?,
                conn_attr::VIP_ADDR6 => f.vip.addr = addr6()?,
                conn_attr::BACKEND_ADDR6 => f.backend.addr = addr6()?,
                _ => return Err(FilterError::NotAFilter),
            }
            let bit = match ty {
                conn_attr::CLIENT_ADDR6 => conn_attr::CLIENT_ADDR,
                conn_attr::VIP_ADDR6 => conn_attr::VIP_ADDR,
                conn_attr::BACKEND_ADDR6 => conn_attr::BACKEND_ADDR,
                t => t,
            };
            f.given |= 1 << bit;
        }
        Ok(f)
    }

    /// Whether the filter selects every connection.
    pub fn is_empty(&self) -> bool {
        self.given == 0
    }

    fn has(&self, ty: u16) -> bool {
        self.given & (1 << ty) != 0
    }

    /// Whether `flow` is one of those asked for (an address of the other
    /// family never matches).
    pub fn matches<A: Family + Into<Ip>>(&self, flow: &Flow<A>) -> bool {
        let eq = |ty, a: bool| !self.has(ty) || a;
        let is = |a: A, want: Ip| a.into() == want;
        eq(conn_attr::ROLE, flow.role.uapi() == self.role)
            && eq(conn_attr::STATE, flow.phase.uapi() == self.state)
            && eq(
                conn_attr::CLIENT_ADDR,
                is(flow.client.addr, self.client.addr),
            )
            && eq(conn_attr::CLIENT_PORT, flow.client.port == self.client.port)
            && eq(conn_attr::VIP_ADDR, is(flow.vip.addr, self.vip.addr))
            && eq(conn_attr::VIP_PORT, flow.vip.port == self.vip.port)
            && eq(
                conn_attr::BACKEND_ADDR,
                is(flow.backend.addr, self.backend.addr),
            )
            && eq(
                conn_attr::BACKEND_PORT,
                flow.backend.port == self.backend.port,
            )
            && eq(conn_attr::PEER, flow.peer == self.peer)
    }
}

/// What the back-end's stack answered to a replayed SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A SYN/ACK: its ISN, TSval and window scale shift.
    SynAck {
        /// The back-end's initial sequence number.
        isn: u32,
        /// TSval, if the SYN/ACK had timestamps.
        tsval: Option<u32>,
        /// Window scale shift, if the SYN/ACK had one.
        wscale: Option<u8>,
    },
    /// A reset: nothing listens there.
    Reset,
}

/// Bits of [`Flow`]'s answer: a replaying back-end flow keeps what its
/// stack answered in a byte and the translation's fields, so that a flow
/// stays within its 128-byte table node.
mod answer {
    pub(super) const SYN_ACK: u8 = 1;
    pub(super) const RESET: u8 = 2;
    pub(super) const TSVAL: u8 = 4;
    pub(super) const WSCALE: u8 = 8;
}

/// What to do with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let it go on unchanged.
    Pass,
    /// Let it go on; its headers were rewritten.
    Rewritten,
    /// Drop it.
    Drop,
    /// Keep it untouched until the flow forwards, then let it go on (as
    /// if it came then): a client packet that meets its handoff under way.
    Hold,
    /// Untouched, for the caller to decide: the first segment of new client
    /// data on a forwarding flow that dispatches each request
    /// ([`Flow::per_request`]), which may start a request for another
    /// back-end. The caller forwards it ([`Flow::forward`]) or moves the
    /// connection ([`Flow::begin_move`]).
    Boundary,
}

/// Linger after a close was seen, so that the last ACKs and
/// retransmissions of the closing handshake still find the flow.
pub const CLOSE_LINGER_MS: u64 = 2000;

/// Quiet time after the client's FIN after which a front-end flow ends
/// without the back-end's CONN_END.
pub const FRONT_FIN_IDLE_MS: u64 = 10_000;

/// One handed-off connection on one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow<A: Family = V4> {
    /// Handoff id (the front-end's).
    pub id: u64,
    /// Front-end: the peer serving it (0: this node); back-end: the
    /// front-end's node id (0: this node).
    pub peer: u32,
    /// Which end.
    pub role: Role,
    /// Where it is.
    pub phase: Phase,
    /// The client.
    pub client: Endpoint<A>,
    /// The service.
    pub vip: Endpoint<A>,
    /// The server.
    pub backend: Endpoint<A>,
    /// Translation (valid from `Forwarding` / `Established`).
    pub xlate: Translation,
    /// Back-end, `Replaying`: what the stack answered ([`Flow::answer`]),
    /// the SYN/ACK's fields kept in `xlate` until the translation is made.
    answer: u8,
    /// A FIN from the client was seen.
    pub fin_client: bool,
    /// A FIN from the server was seen.
    pub fin_server: bool,
    /// An RST from the server's stack was seen: the connection is over.
    pub reset: bool,
    /// An RST from the client was seen. Only the server's stack knows
    /// whether it ends the connection (RFC 5961: an RST whose sequence
    /// number is not the expected one is answered with a challenge ACK), so
    /// it does not close the flow; the back-end's GC asks its stack.
    pub client_rst: bool,
    /// When the flow was made ([`stamp`] of the monotonic ms clock).
    pub created_ms: u32,
    /// Last packet ([`stamp`]).
    pub last_ms: u32,
    /// Front-end: when the flow last froze ([`stamp`]), its handoff or a
    /// move under way since; a kept-alive connection moves long after it
    /// was made.
    pub frozen_ms: u32,
    /// When the flow started to close ([`stamp`]); meaningful once
    /// [`Flow::closing`] (see [`Flow::closed_at`]).
    pub closed_ms: u32,
    /// Packets this node rewrote or passed for the flow (stops at
    /// `u32::MAX`: a flow stays small).
    pub packets: u32,
    /// Bytes of those packets (IP total length).
    pub bytes: u64,
    /// Front-end: the client's sequence number of its next new byte (the
    /// end of the data forwarded so far), where a request may start.
    /// Back-end: see [`Flow::read_at_answer`] (a flow stays small).
    pub client_nxt: u32,
    /// Front-end: its service dispatches each request, and may move the
    /// connection to another back-end at a request boundary.
    pub per_request: bool,
    /// Back-end: the server sent new bytes since its replay
    /// ([`Flow::answered_having_read`]); [`Flow::client_nxt`] then holds
    /// how far it had read the client's bytes when it last did.
    pub answered: bool,
    /// Front-end: a move was refused at [`Flow::client_nxt`], or the flow
    /// was taken over from a copy, which does not know where the client
    /// is: the next packet forwarded sets [`Flow::client_nxt`] and clears
    /// it, and meanwhile no segment is a boundary.
    pub stay: bool,
    /// Front-end: its back-end drains: the connection moves to another at
    /// its next request boundary, whatever its service's `dispatch`.
    pub draining: bool,
}

impl<A: Family> Flow<A> {
    /// A new flow.
    pub fn new(
        id: u64,
        peer: u32,
        role: Role,
        client: Endpoint<A>,
        vip: Endpoint<A>,
        backend: Endpoint<A>,
        now_ms: u64,
    ) -> Self {
        Self {
            id,
            peer,
            role,
            phase: match role {
                Role::Front => Phase::Frozen,
                Role::Back => Phase::Replaying,
            },
            client,
            vip,
            backend,
            xlate: Translation::default(),
            answer: 0,
            fin_client: false,
            fin_server: false,
            reset: false,
            client_rst: false,
            created_ms: stamp(now_ms),
            last_ms: stamp(now_ms),
            frozen_ms: stamp(now_ms),
            closed_ms: 0,
            packets: 0,
            bytes: 0,
            client_nxt: 0,
            per_request: false,
            answered: false,
            stay: false,
            draining: false,
        }
    }

    /// This node's key of the flow.
    pub fn key(&self) -> Key<A> {
        Key {
            client: self.client,
            local: match self.role {
                Role::Front => self.vip,
                Role::Back => self.backend,
            },
        }
    }

    fn account(&mut self, h: &TcpHeader<A>, from_client: bool, now_ms: u64) {
        let was_closing = self.closing();
        self.last_ms = stamp(now_ms);
        self.packets = self.packets.saturating_add(1);
        self.bytes += (h.ip_header_len + h.tcp_header_len + h.payload_len) as u64;
        if h.has_flags(flags::RST) {
            if from_client {
                self.client_rst = true;
            } else {
                self.reset = true;
            }
        }
        if h.has_flags(flags::FIN) {
            if from_client {
                self.fin_client = true;
            } else {
                self.fin_server = true;
            }
        }
        if !was_closing && self.closing() {
            self.closed_ms = stamp(now_ms);
        }
    }

    /// A packet from the client to this node's end (pre-routing).
    pub fn on_client_packet(&mut self, pkt: &mut TcpPacket<'_, A>, now_ms: u64) -> Verdict {
        let h = pkt.header();
        match (self.role, self.phase) {
            // The front-end's socket must not see it (it would acknowledge
            // bytes that never reach the back-end), the back-end not yet.
            (Role::Front, Phase::Frozen) => Verdict::Hold,
            // A new connection of the same tuple (the client reused its
            // port once its side had closed): the stack's listener takes
            // it, and its handoff replaces this flow ([`Flow::superseded`]).
            (Role::Front, _) if self.superseded_by(h) => Verdict::Pass,
            (Role::Front, _) if self.at_boundary(h) => Verdict::Boundary,
            (Role::Front, _) => self.forward(pkt, now_ms),
            (Role::Back, _) => {
                if self.phase == Phase::Established {
                    self.account(h, true, now_ms);
                }
                Verdict::Pass
            }
        }
    }

    /// Whether client segment `h` of a front flow starts new data where a
    /// request may start: the flow forwards, dispatches each request (or
    /// its back-end drains), and
    /// `h` carries the byte at [`Flow::client_nxt`] (not a retransmission of
    /// forwarded data) and no SYN, FIN or RST, and no move was refused
    /// there ([`Flow::stay`]).
    fn at_boundary(&self, h: &TcpHeader<A>) -> bool {
        (self.per_request || self.draining)
            && !self.stay
            && self.phase == Phase::Forwarding
            && h.payload_len > 0
            && h.seq == self.client_nxt
            && h.flags & (flags::SYN | flags::FIN | flags::RST) == 0
    }

    /// Forwards a client packet of a front flow that is not frozen: to the
    /// back-end, rewritten.
    pub fn forward(&mut self, pkt: &mut TcpPacket<'_, A>, now_ms: u64) -> Verdict {
        let h = pkt.header();
        self.account(h, true, now_ms);
        let end = h.seq.wrapping_add(h.payload_len as u32);
        // Sequence space compares as TCP's `after()` does.
        if self.stay || (end.wrapping_sub(self.client_nxt) as i32) > 0 {
            self.client_nxt = end;
            self.stay = false;
        }
        pkt.set_daddr(self.backend.addr);
        pkt.set_dport(self.backend.port);
        self.xlate.packet_to_backend(pkt);
        Verdict::Rewritten
    }

    /// Back-end: its server sent new bytes, having read the client's up
    /// to `read` (its socket's read position then): seen on the way out,
    /// where only the socket knows how far its owner read.
    pub fn answered_having_read(&mut self, read: u32) {
        if self.role == Role::Back && self.phase == Phase::Established {
            self.answered = true;
            self.client_nxt = read;
        }
    }

    /// Back-end: how far the server had read the client's bytes when it
    /// last sent new ones; `None` before its first. A server that has read
    /// no further since owes the client nothing: the bytes after that
    /// point, if it has not read them, may go with the connection to
    /// another server.
    pub fn read_at_answer(&self) -> Option<u32> {
        (self.role == Role::Back && self.answered).then_some(self.client_nxt)
    }

    /// Freezes a forwarding front flow for a move whose request starts at
    /// the client's `seq`: `false` (and nothing changes) unless the flow
    /// still forwards and `seq` is still its next new byte (another CPU
    /// may have forwarded that segment's twin meanwhile). Frozen, the
    /// client's packets are held until the move ends.
    pub fn begin_move(&mut self, seq: u32, now_ms: u64) -> bool {
        if self.role != Role::Front || self.phase != Phase::Forwarding || self.client_nxt != seq {
            return false;
        }
        self.phase = Phase::Frozen;
        self.frozen_ms = stamp(now_ms);
        true
    }

    /// A packet from this node's end to the client (post-routing).
    pub fn on_server_packet(&mut self, pkt: &mut TcpPacket<'_, A>, now_ms: u64) -> Verdict {
        let h = pkt.header();
        match (self.role, self.phase) {
            // The front-end's own socket must stay silent: no ACK, no RST,
            // no FIN once the handoff began.
            (Role::Front, _) => Verdict::Drop,
            (Role::Back, Phase::Replaying) => {
                if self.answer != 0 {
                    // The first answer counts.
                } else if h.has_flags(flags::RST) {
                    self.answer = answer::RESET;
                } else if h.has_flags(flags::SYN | flags::ACK) {
                    self.answer = answer::SYN_ACK;
                    self.xlate.seq_delta = h.seq;
                    if let Some((tsval, _)) = h.options.timestamps {
                        self.answer |= answer::TSVAL;
                        self.xlate.ts_delta = tsval;
                    }
                    if let Some(ws) = h.options.wscale {
                        self.answer |= answer::WSCALE;
                        self.xlate.backend_wscale = ws;
                    }
                }
                Verdict::Drop
            }
            (Role::Back, Phase::Established) => {
                if h.has_flags(flags::SYN) {
                    // A retransmitted SYN/ACK of the replay.
                    return Verdict::Drop;
                }
                self.account(h, false, now_ms);
                pkt.set_saddr(self.vip.addr);
                pkt.set_sport(self.vip.port);
                self.xlate.packet_to_client(pkt);
                Verdict::Rewritten
            }
            (Role::Back, _) => Verdict::Pass,
        }
    }

    /// Back-end, `Replaying`: what the stack answered to the replayed SYN,
    /// if it did.
    pub fn answer(&self) -> Option<Answer> {
        if self.answer & answer::RESET != 0 {
            return Some(Answer::Reset);
        }
        (self.answer & answer::SYN_ACK != 0).then_some(Answer::SynAck {
            isn: self.xlate.seq_delta,
            tsval: (self.answer & answer::TSVAL != 0).then_some(self.xlate.ts_delta),
            wscale: (self.answer & answer::WSCALE != 0).then_some(self.xlate.backend_wscale),
        })
    }

    /// Whether the flow is over at `now_ms`: closed and lingered, or idle
    /// longer than `idle_ms`.
    pub fn expired(&self, now_ms: u64, idle_ms: u64) -> Option<u8> {
        if self
            .closed_at()
            .is_some_and(|c| since(now_ms, c) >= CLOSE_LINGER_MS)
        {
            return Some(super::ctrl::reason::CLOSED);
        }
        // The front-end never sees the server's FIN (responses go straight
        // to the client) and learns the end from the back-end's CONN_END;
        // should that be lost (channel down), a client that sent its FIN and
        // went quiet ends the flow.
        if self.role == Role::Front && self.fin_client && self.idle_ms(now_ms) >= FRONT_FIN_IDLE_MS
        {
            return Some(super::ctrl::reason::CLOSED);
        }
        if self.idle_ms(now_ms) >= idle_ms {
            return Some(super::ctrl::reason::IDLE);
        }
        None
    }

    /// Whether client segment `h` opens a new connection of this front-end
    /// flow's tuple: a SYN without ACK once the client had sent its FIN or
    /// an RST (its stack let the port go; a retransmission of the first
    /// SYN cannot come after those).
    fn superseded_by(&self, h: &TcpHeader<A>) -> bool {
        h.has_flags(flags::SYN) && !h.has_flags(flags::ACK) && self.superseded()
    }

    /// Whether a new connection of this flow's tuple may take its place:
    /// a front-end flow whose client sent its FIN or an RST, or a back-end
    /// flow that is closing or whose client sent an RST. (A connection whose
    /// client has not closed keeps its flow: a handoff of the same tuple is
    /// refused.)
    pub fn superseded(&self) -> bool {
        match self.role {
            Role::Front => self.phase == Phase::Forwarding && (self.fin_client || self.client_rst),
            Role::Back => self.phase == Phase::Established && (self.closing() || self.client_rst),
        }
    }

    /// Whether the connection is closing: FIN both ways, or an RST from the
    /// server's stack.
    pub fn closing(&self) -> bool {
        self.reset || self.fin_client && self.fin_server
    }

    /// When the flow started to close, if it is closing.
    pub fn closed_at(&self) -> Option<u32> {
        self.closing().then_some(self.closed_ms)
    }

    /// A front-end flow whose client sent an RST and then stayed quiet for
    /// [`FRONT_FIN_IDLE_MS`]. Over if no CONN_END can come any more (the
    /// serving peer's channel is down: the caller knows); while the channel
    /// is up the back-end decides, since only its stack can tell a valid
    /// RST from a forged one (RFC 5961).
    pub fn reset_and_quiet(&self, now_ms: u64) -> bool {
        self.role == Role::Front && self.client_rst && self.idle_ms(now_ms) >= FRONT_FIN_IDLE_MS
    }

    /// Milliseconds since the flow was made (see [`since`]).
    pub fn age_ms(&self, now_ms: u64) -> u64 {
        since(now_ms, self.created_ms)
    }

    /// Milliseconds since the flow's last packet (see [`since`]).
    pub fn idle_ms(&self, now_ms: u64) -> u64 {
        since(now_ms, self.last_ms)
    }

    /// Whether a front flow has been frozen for more than `max_ms`: its
    /// handoff or move should have ended by then.
    pub fn frozen_longer_than(&self, now_ms: u64, max_ms: u64) -> bool {
        self.role == Role::Front
            && self.phase == Phase::Frozen
            && since(now_ms, self.frozen_ms) > max_ms
    }
}

/// What the control protocol carries (REPLICA, REPLICA6).
impl<A: Family> Flow<A> {
    /// What another front-end needs to forward this flow's client packets
    /// as this node does: `Some` for a front flow forwarding to a peer (a
    /// connection served by this node itself dies with it).
    pub fn replica(&self) -> Option<Replica<A>> {
        let forwarding = self.role == Role::Front && self.phase == Phase::Forwarding;
        (forwarding && self.peer != 0).then_some(Replica {
            id: self.id,
            client: self.client,
            vip: self.vip,
            backend: self.backend,
            backend_node: self.peer,
            xlate: self.xlate,
            flags: if self.fin_client {
                replica_flags::FIN_CLIENT
            } else {
                0
            },
        })
    }

    /// The forwarding front flow that `r` describes, made at `now_ms`.
    pub fn from_replica(r: &Replica<A>, now_ms: u64) -> Self {
        let mut f = Self::new(
            r.id,
            r.backend_node,
            Role::Front,
            r.client,
            r.vip,
            r.backend,
            now_ms,
        );
        f.phase = Phase::Forwarding;
        f.xlate = r.xlate;
        f.fin_client = r.flags & replica_flags::FIN_CLIENT != 0;
        f
    }
}

impl<A: Icmp> Flow<A> {
    /// An ICMP error (pre-routing) whose quoted segment went from this
    /// node's end to the client, as [`super::icmp::IcmpError::key`] names
    /// the flow.
    ///
    /// A forwarding front-end flow passes it to its back-end, rewritten
    /// into the back-end's view (destination, the quoted segment's source
    /// and sequence number), so that the back-end's stack takes it as an
    /// error about its own segment (a path MTU to lower, a destination
    /// unreachable). Anything else is left to this node's stack: a frozen
    /// front flow still has the front-end's socket, and on a back-end the
    /// error already names the server's socket. An error not addressed to
    /// the quoted segment's source (the VIP) passes too: it is on its way
    /// to someone else. The flow's counters and times do not change: an
    /// error is not traffic of the connection.
    pub fn on_icmp_error(&self, pkt: &mut IcmpPacket<'_, A>) -> Verdict {
        let h = *pkt.header();
        if self.role != Role::Front || self.phase != Phase::Forwarding || h.daddr != self.vip.addr {
            return Verdict::Pass;
        }
        pkt.set_daddr(self.backend.addr);
        pkt.set_inner_source(self.backend);
        pkt.set_inner_seq(self.xlate.seq_to_backend(h.seq));
        Verdict::Rewritten
    }
}

/// A time as a flow keeps it: the low 32 bits of the monotonic ms clock,
/// as conntrack keeps its timeouts in 32-bit jiffies, so that a flow stays
/// small. Differences are signed, as the kernel's `time_after` takes them:
/// good for 24 days, far beyond any interval the garbage collector (which
/// looks at every flow each second) or `conn list` needs.
pub const fn stamp(now_ms: u64) -> u32 {
    now_ms as u32
}

/// Milliseconds from `then` (a [`stamp`]) to `now_ms`, across a wrap; 0 if
/// `then` is later (a packet stamped while the caller's clock was read).
pub const fn since(now_ms: u64, then: u32) -> u64 {
    let d = stamp(now_ms).wrapping_sub(then) as i32;
    if d < 0 {
        0
    } else {
        d as u64
    }
}

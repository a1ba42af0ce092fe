// SPDX-License-Identifier: GPL-2.0

//! The control-channel protocol between peers: framing, messages and the
//! layout of their authentication.
//!
//! Every frame is a fixed 16-byte header followed by `len` payload bytes
//! and, when the `MAC` flag is set, a 32-byte HMAC-SHA256 tag; all integers
//! are big-endian:
//!
//! ```text
//!  0       4       5       6               8               12              16
//!  +-------+-------+-------+-------+-------+-------+-------+-------+-------+
//!  | magic "BATN"  |version| type  |     flags     |  payload len  |  seq  |
//!  +---------------+-------+-------+---------------+---------------+-------+
//!  | payload (len bytes) ...                       | tag (32, with MAC)    |
//! ```
//!
//! * `version` is [`VERSION`]; a frame of another version closes the channel.
//! * `flags` is 0 or [`flag::MAC`].
//! * `len` is at most [`MAX_PAYLOAD`] and must match the type's layout
//!   exactly.
//! * `seq` counts the frames of one direction of one channel from 0 (the
//!   HELLO); a gap or repeat closes the channel ([`SeqCheck`]).
//!
//! Messages (payload layouts):
//!
//! ```text
//!  HELLO      (1)  node_id u32 | capabilities u32 | nonce 16         24 bytes
//!  HEARTBEAT  (2)  sent_ms u64 (sender's monotonic clock)          8 bytes
//!  HANDOFF_REQ (3) id u64 | client addr 4, port u16 | vip addr 4,
//!                  port u16 | backend addr 4, port u16 | client_isn u32 |
//!                  frontend_isn u32 | client_tsval u32 |
//!                  frontend_tsval u32 | client_window u16 | mss u16 |
//!                  client_wscale u8 | frontend_wscale u8 | options u8 |
//!                  reserved 7 (0) | data_len u32 | data       60 + data_len
//!  HANDOFF_ACK (4) id u64 | backend_isn u32 | backend_tsval u32 |
//!                  backend_wscale u8 | reserved 3 (0)           20 bytes
//!  HANDOFF_NACK (5) id u64 | reason u8 | reserved 3 (0)          12 bytes
//!  CONN_END    (6) id u64 | reason u8 | reserved 3 (0)           12 bytes
//!  AUTH        (7) (empty)                                        0 bytes
//!  VIEW        (8) epoch u64 | active u32 | common u32 | count u32 |
//!                  members u32 x count (1 to 64, increasing) 20 + 4 count
//!  REPLICA     (9) id u64 | client addr 4, port u16 | vip addr 4,
//!                  port u16 | backend addr 4, port u16 | backend_node u32 |
//!                  seq_delta u32 | ts_delta u32 | frontend_wscale u8 |
//!                  backend_wscale u8 | flags u8 | reserved 3 (0)  44 bytes
//!  REPLICA_END (10) id u64 | client addr 4, port u16 | vip addr 4,
//!                  port u16 | reason u8 | reserved 3 (0)            24 bytes
//!  TAKEOVER   (11) old_id u64 | new_id u64 | client addr 4, port u16 |
//!                  backend addr 4, port u16 | reserved 4 (0)        32 bytes
//!  SYNCED     (12) epoch u64                                      8 bytes
//!  HANDOFF_COPY (13) as HANDOFF_REQ, its reserved 7 bytes: reserved 3 (0) |
//!                  backend_node u32 (not 0)                60 + data_len
//!  COPY_ACK   (14) id u64                                         8 bytes
//!  HANDOFF_REQ6 (15), HANDOFF_COPY6 (16), REPLICA6 (17), REPLICA_END6 (18),
//!  TAKEOVER6 (19): the same for IPv6 connections, every address 16
//!                  bytes (so every endpoint 18): 96 + data_len, 96 +
//!                  data_len, 80, 48 and 56 bytes
//! ```
//!
//! The IPv6 types go only to a peer whose HELLO announced [`cap::IPV6`];
//! a node that does not know them closes the channel on the first one
//! (an unknown type), so a peer of an older version never sees them. The
//! layouts are the IPv4 ones with longer endpoints: the fixed fields after
//! the endpoints keep their order.
//!
//! `id` names a handoff: the front-end chooses it, and it is unique among
//! the front-end's live connections. `options` bits: [`opt_bits::SACK`],
//! [`opt_bits::TIMESTAMPS`], [`opt_bits::WSCALE`], [`opt_bits::FIN`],
//! [`opt_bits::RESUME`] (HANDOFF_REQ only); a shift above 14 or an unknown
//! bit is refused. `data` (the bytes the front-end received from the
//! client) is at most [`MAX_DATA`] bytes.
//!
//! Authentication, when the peers share a key: each side's HELLO carries
//! [`cap::AUTH`] and a fresh random nonce and has no tag; both sides then
//! derive the channel's session key
//! `HMAC-SHA256(key, `[`session_info`]`(initiator HELLO, acceptor HELLO))`,
//! and every later frame, starting with AUTH, carries the tag
//! `HMAC-SHA256(session key, direction byte ‖ header ‖ payload)` (the
//! direction byte is [`dir::FROM_INITIATOR`] or [`dir::FROM_ACCEPTOR`]). The
//! AUTH exchange is the challenge's response: a side that does not know the
//! key cannot produce it for the other side's nonce. The tag covers `seq`,
//! so a replayed, reordered or dropped frame of the same channel fails the
//! sequence check, and the nonces make a frame of another channel fail the
//! tag. Without a key both sides announce no capability, send AUTH and all
//! other frames without a tag, and a side with a key refuses a side without.
//!
//! Decoding never panics and borrows nothing beyond the input; every error
//! is a reason to close the channel, with [`DecodeError::describe`] as the
//! log line.

/// Frame magic.
pub const MAGIC: [u8; 4] = *b"BATN";
/// Protocol version.
pub const VERSION: u8 = 1;
/// Length of the frame header.
pub const HEADER_LEN: usize = 16;
/// Largest payload accepted.
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// Length of an authentication tag (HMAC-SHA256).
pub const MAC_LEN: usize = 32;
/// Length of a HELLO nonce.
pub const NONCE_LEN: usize = 16;
/// Length of a HELLO payload without a boot id.
pub const HELLO_LEN: usize = 8 + NONCE_LEN;
/// Length of a HELLO payload with a boot id ([`cap::BOOT`]).
pub const HELLO_BOOT_LEN: usize = HELLO_LEN + 8;
/// Fixed part of a HANDOFF_REQ payload.
pub const HANDOFF_REQ_FIXED: usize = handoff_req_fixed::<V4>();
/// Most client bytes a HANDOFF_REQ carries.
pub const MAX_DATA: usize = MAX_PAYLOAD - HANDOFF_REQ_FIXED;

/// Bits of the header's `flags` field.
pub mod flag {
    /// A [`super::MAC_LEN`]-byte tag follows the payload.
    pub const MAC: u16 = 1;
}

/// HELLO `capabilities` bits.
pub mod cap {
    /// The sender has a key: every frame after HELLO carries a tag.
    pub const AUTH: u32 = 1;
    /// The HELLO ends with the sender's boot id (8 bytes, never 0).
    pub const BOOT: u32 = 2;
    /// The sender takes the IPv6 message types (HANDOFF_REQ6 and the
    /// others).
    pub const IPV6: u32 = 4;
    /// The sender takes MOVE_REQ (MOVE_REQ6): its servers give up an idle
    /// connection for a move to another back-end.
    pub const MOVE: u32 = 8;
    /// The sender takes a MOVE_ACK that carries data: the bytes the old
    /// server had received but not read.
    pub const MOVE_DATA: u32 = 16;
    /// The sender keeps copies of a front-end group's IPv6 connections
    /// (HANDOFF_COPY6, REPLICA6, REPLICA_END6, TAKEOVER6).
    pub const GROUP6: u32 = 32;
    /// All defined bits.
    pub const ALL: u32 = AUTH | BOOT | IPV6 | MOVE | MOVE_DATA | GROUP6;
}

/// The direction byte that starts the input of a frame's tag.
pub mod dir {
    /// Frames sent by the side that connected.
    pub const FROM_INITIATOR: u8 = 1;
    /// Frames sent by the side that accepted.
    pub const FROM_ACCEPTOR: u8 = 2;
}

/// Bits of the HANDOFF_REQ `options` field: what the client's SYN had.
pub mod opt_bits {
    /// SACK permitted.
    pub const SACK: u8 = 1;
    /// Timestamps.
    pub const TIMESTAMPS: u8 = 2;
    /// Window scaling (`client_wscale` is meaningful).
    pub const WSCALE: u8 = 4;
    /// The client has closed its side: a FIN follows `data` (at
    /// `client_isn + 1 + data_len`).
    pub const FIN: u8 = 8;
    /// HANDOFF_REQ only: the sender took the connection over from the copy
    /// of a failed member's handoff (HANDOFF_COPY), which may have reached
    /// the back-end already. A back-end that has the connection answers
    /// with what it answered then, and the connection answers to the
    /// sender from now on; one that has not replays it.
    pub const RESUME: u8 = 16;
    /// All defined bits.
    pub const ALL: u8 = SACK | TIMESTAMPS | WSCALE | FIN | RESUME;
}

/// Why a back-end refused a handoff or a connection ended
/// (HANDOFF_NACK and CONN_END `reason`).
pub mod reason {
    /// Unspecified.
    pub const OTHER: u8 = 0;
    /// Nothing listens on the back-end address (the stack answered RST).
    pub const NO_LISTENER: u8 = 1;
    /// The back-end's stack did not answer the replayed SYN in time.
    pub const TIMEOUT: u8 = 2;
    /// The back-end has no room for another connection.
    pub const OVERLOAD: u8 = 3;
    /// The request is not acceptable (e.g. a tuple already in use).
    pub const INVALID: u8 = 4;
    /// CONN_END: the connection closed (FIN both ways or RST).
    pub const CLOSED: u8 = 5;
    /// CONN_END: idle timeout.
    pub const IDLE: u8 = 6;
    /// MOVE_NACK: the connection is not idle (a response not acknowledged
    /// yet, bytes its server read since it last answered, more unread
    /// bytes than a MOVE_ACK carries).
    pub const BUSY: u8 = 7;
    /// Largest known reason.
    pub const MAX: u8 = BUSY;
}

/// Frame types.
pub mod msg_type {
    /// [`super::Hello`].
    pub const HELLO: u8 = 1;
    /// [`super::Heartbeat`].
    pub const HEARTBEAT: u8 = 2;
    /// [`super::HandoffReq`].
    pub const HANDOFF_REQ: u8 = 3;
    /// [`super::HandoffAck`].
    pub const HANDOFF_ACK: u8 = 4;
    /// [`super::Message::HandoffNack`].
    pub const HANDOFF_NACK: u8 = 5;
    /// [`super::Message::ConnEnd`].
    pub const CONN_END: u8 = 6;
    /// [`super::Message::Auth`].
    pub const AUTH: u8 = 7;
    /// [`super::GroupView`].
    pub const VIEW: u8 = 8;
    /// [`super::Replica`].
    pub const REPLICA: u8 = 9;
    /// [`super::ReplicaEnd`].
    pub const REPLICA_END: u8 = 10;
    /// [`super::Takeover`].
    pub const TAKEOVER: u8 = 11;
    /// [`super::Message::Synced`].
    pub const SYNCED: u8 = 12;
    /// [`super::HandoffCopy`].
    pub const HANDOFF_COPY: u8 = 13;
    /// [`super::Message::CopyAck`].
    pub const COPY_ACK: u8 = 14;
    /// [`super::Message::HandoffReq6`].
    pub const HANDOFF_REQ6: u8 = 15;
    /// [`super::Message::HandoffCopy6`].
    pub const HANDOFF_COPY6: u8 = 16;
    /// [`super::Message::Replica6`].
    pub const REPLICA6: u8 = 17;
    /// [`super::Message::ReplicaEnd6`].
    pub const REPLICA_END6: u8 = 18;
    /// [`super::Message::Takeover6`].
    pub const TAKEOVER6: u8 = 19;
    /// Front-end to back-end: give up a connection that is idle, for a move.
    pub const MOVE_REQ: u8 = 20;
    /// MOVE_REQ of an IPv6 connection.
    pub const MOVE_REQ6: u8 = 21;
    /// Back-end to front-end: the connection is given up.
    pub const MOVE_ACK: u8 = 22;
    /// Back-end to front-end: the connection stays (not idle, unknown).
    pub const MOVE_NACK: u8 = 23;
    /// Highest type.
    pub const MAX: u8 = MOVE_NACK;
}

/// First frame on a channel, in both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The sender's node id (never 0).
    pub node_id: u32,
    /// Capability bits of the sender ([`cap`]).
    pub capabilities: u32,
    /// Fresh random bytes of the sender, for the session key.
    pub nonce: [u8; NONCE_LEN],
    /// The sender's boot id: random, drawn when its state for the namespace
    /// was made (module load, namespace creation), so that a peer sees it
    /// restarted. 0 if the HELLO has none (without [`cap::BOOT`]).
    pub boot_id: u64,
}

impl Hello {
    const fn payload_len(&self) -> usize {
        if self.capabilities & cap::BOOT != 0 {
            HELLO_BOOT_LEN
        } else {
            HELLO_LEN
        }
    }
}

/// Liveness, sent every heartbeat interval by both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The sender's monotonic clock in milliseconds.
    pub sent_ms: u64,
}

pub use super::service::Endpoint;
use super::{
    cluster::{View, MAX_MEMBERS},
    packet::{Family, V4, V6},
    seq::{Translation, MAX_WSCALE},
};

/// An IP version as the control protocol carries its endpoints.
pub trait Wire: Family {
    /// Whether `addr` can be a host's end of a connection: not
    /// unspecified, loopback or multicast (IPv4 also not 0/8 or reserved
    /// class E; IPv6 also not an IPv4-mapped address, which is IPv4's).
    fn is_host(addr: &Self) -> bool;

    /// The HANDOFF_REQ message of this version carrying `req`.
    fn handoff_req(req: HandoffReq<'_, Self>) -> Message<'_>;

    /// The MOVE_REQ message of this version carrying `m`.
    fn move_req(m: MoveReq<Self>) -> Message<'static>;

    /// The HANDOFF_COPY message of this version carrying `c`.
    fn handoff_copy(c: HandoffCopy<'_, Self>) -> Message<'_>;

    /// The REPLICA message of this version carrying `r`.
    fn replica(r: Replica<Self>) -> Message<'static>;

    /// The REPLICA_END message of this version carrying `e`.
    fn replica_end(e: ReplicaEnd<Self>) -> Message<'static>;

    /// The TAKEOVER message of this version carrying `t`.
    fn takeover(t: Takeover<Self>) -> Message<'static>;
}

impl Wire for V4 {
    fn is_host(addr: &V4) -> bool {
        let [a, ..] = *addr;
        a != 0 && a != 127 && a < 224
    }

    fn handoff_req(req: HandoffReq<'_>) -> Message<'_> {
        Message::HandoffReq(req)
    }

    fn move_req(m: MoveReq) -> Message<'static> {
        Message::MoveReq(m)
    }

    fn handoff_copy(c: HandoffCopy<'_>) -> Message<'_> {
        Message::HandoffCopy(c)
    }

    fn replica(r: Replica) -> Message<'static> {
        Message::Replica(r)
    }

    fn replica_end(e: ReplicaEnd) -> Message<'static> {
        Message::ReplicaEnd(e)
    }

    fn takeover(t: Takeover) -> Message<'static> {
        Message::Takeover(t)
    }
}

impl Wire for V6 {
    fn is_host(addr: &V6) -> bool {
        let unspecified = *addr == [0; 16];
        let loopback = addr[..15] == [0; 15] && addr[15] == 1;
        let multicast = addr[0] == 0xff;
        let mapped = addr[..10] == [0; 10] && addr[10..12] == [0xff, 0xff];
        !unspecified && !loopback && !multicast && !mapped
    }

    fn handoff_req(req: HandoffReq<'_, V6>) -> Message<'_> {
        Message::HandoffReq6(req)
    }

    fn move_req(m: MoveReq<V6>) -> Message<'static> {
        Message::MoveReq6(m)
    }

    fn handoff_copy(c: HandoffCopy<'_, V6>) -> Message<'_> {
        Message::HandoffCopy6(c)
    }

    fn replica(r: Replica<V6>) -> Message<'static> {
        Message::Replica6(r)
    }

    fn replica_end(e: ReplicaEnd<V6>) -> Message<'static> {
        Message::ReplicaEnd6(e)
    }

    fn takeover(t: Takeover<V6>) -> Message<'static> {
        Message::Takeover6(t)
    }
}

/// Bytes of an endpoint of version `A` on the wire: address and port.
const fn endpoint_len<A: Family>() -> usize {
    core::mem::size_of::<A>() + 2
}

/// Length of the fixed part of a HANDOFF_REQ (HANDOFF_REQ6) payload.
pub const fn handoff_req_fixed<A: Family>() -> usize {
    8 + 3 * endpoint_len::<A>() + 34
}

/// Length of a REPLICA (REPLICA6) payload.
pub const fn replica_len<A: Family>() -> usize {
    8 + 3 * endpoint_len::<A>() + 18
}

/// Length of a REPLICA_END (REPLICA_END6) payload.
pub const fn replica_end_len<A: Family>() -> usize {
    8 + 2 * endpoint_len::<A>() + 4
}

/// Length of a TAKEOVER (TAKEOVER6) payload.
pub const fn takeover_len<A: Family>() -> usize {
    16 + 2 * endpoint_len::<A>() + 4
}

/// Length of a MOVE_REQ (MOVE_REQ6) payload.
pub const fn move_req_len<A: Family>() -> usize {
    8 + 2 * endpoint_len::<A>() + 8
}

/// Length of a MOVE_ACK payload without data.
pub const MOVE_ACK_LEN: usize = 16;
/// Most unread bytes a MOVE_ACK carries: a server that left more unread
/// keeps its connection (the move is refused).
pub const MOVE_DATA_MAX: usize = 16 * 1024;

/// MOVE_REQ: the front-end asks the back-end serving a connection to give
/// it up for a move to another back-end, at a request boundary: the
/// client's next request (from `seq`) is held at the front-end, and the
/// client has acknowledged the server's bytes up to `ack`. The back-end
/// gives it up only if its server has read every byte before `seq`,
/// answered the last of them, and has nothing unacknowledged beyond `ack`;
/// it then closes the server's socket without a packet to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoveReq<A: Family = V4> {
    /// The connection's handoff id (the front-end's, as the back-end's
    /// flow knows it).
    pub id: u64,
    /// The client.
    pub client: Endpoint<A>,
    /// The server serving it.
    pub backend: Endpoint<A>,
    /// The client's sequence number of its next request's first byte.
    pub seq: u32,
    /// The client's acknowledgment, in the client's view of the server's
    /// sequence numbers.
    pub ack: u32,
}

/// MOVE_ACK: the back-end gave the connection up; what its stack knew of
/// the client's handshake, which the new back-end's replay repeats. The
/// message ([`Message::MoveAck`]) also carries the bytes its server had
/// received but not read, which go with the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoveAck {
    /// The connection's handoff id.
    pub id: u64,
    /// The client's MSS.
    pub mss: u16,
    /// The client's window scale shift (with [`opt_bits::WSCALE`]).
    pub client_wscale: u8,
    /// [`opt_bits`] of the handshake: `SACK`, `TIMESTAMPS`, `WSCALE`.
    pub options: u8,
}

/// VIEW: a front-end group member's membership view and the size of its
/// tables, sent to the other members with every heartbeat and when the
/// view changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupView {
    /// The sender's view: its epoch and live members.
    pub view: View,
    /// Connections in the sender's active table.
    pub active: u32,
    /// Copies in the sender's common table.
    pub common: u32,
}

/// TAKEOVER: the sender, a member of the front-end group of the
/// connection's front-end, forwards the connection now (it took it over
/// from its copy); the back-end's flow answers to it from now on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Takeover<A: Family = V4> {
    /// The handoff id the back-end's flow has (the old front-end's).
    pub old_id: u64,
    /// The sender's id for the connection from now on.
    pub new_id: u64,
    /// The client.
    pub client: Endpoint<A>,
    /// The server that took the connection.
    pub backend: Endpoint<A>,
}

/// Length of a TAKEOVER payload.
pub const TAKEOVER_LEN: usize = takeover_len::<V4>();

/// Fixed part of a VIEW payload, before the members.
pub const VIEW_FIXED: usize = 20;

/// REPLICA: a front-end group member sends its backup what the member's
/// forwarding flow of one connection needs on another front-end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replica<A: Family = V4> {
    /// The sender's handoff id.
    pub id: u64,
    /// The client.
    pub client: Endpoint<A>,
    /// The service.
    pub vip: Endpoint<A>,
    /// The server that took the connection.
    pub backend: Endpoint<A>,
    /// The back-end's node id (never 0: a connection the sender serves
    /// itself dies with it and has no replica).
    pub backend_node: u32,
    /// The translation learnt from the back-end's HANDOFF_ACK.
    pub xlate: Translation,
    /// [`replica_flags`].
    pub flags: u8,
}

/// Bits of the REPLICA `flags` field.
pub mod replica_flags {
    /// The client's FIN was seen.
    pub const FIN_CLIENT: u8 = 1;
    /// All defined bits.
    pub const ALL: u8 = FIN_CLIENT;
}

/// REPLICA_END: the sender's flow of a connection ended; copies of it go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaEnd<A: Family = V4> {
    /// The sender's handoff id.
    pub id: u64,
    /// The client.
    pub client: Endpoint<A>,
    /// The service.
    pub vip: Endpoint<A>,
    /// [`reason`]: `CLOSED` or `IDLE`.
    pub reason: u8,
}

/// HANDOFF_REQ: the front-end asks a back-end to take a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandoffReq<'a, A: Family = V4> {
    /// Handoff id, chosen by the front-end.
    pub id: u64,
    /// The client.
    pub client: Endpoint<A>,
    /// The service the client connected to.
    pub vip: Endpoint<A>,
    /// The back-end server that is to take the connection.
    pub backend: Endpoint<A>,
    /// The client's initial sequence number.
    pub client_isn: u32,
    /// The front-end's initial sequence number.
    pub frontend_isn: u32,
    /// The client's latest TSval (0 without timestamps).
    pub client_tsval: u32,
    /// The front-end's TSval at the handoff (0 without timestamps).
    pub frontend_tsval: u32,
    /// The client's window field (unscaled).
    pub client_window: u16,
    /// The client's MSS.
    pub mss: u16,
    /// The client's window scale shift (with [`opt_bits::WSCALE`]).
    pub client_wscale: u8,
    /// The shift the front-end announced.
    pub frontend_wscale: u8,
    /// [`opt_bits`].
    pub options: u8,
    /// The bytes received from the client so far, from `client_isn + 1`.
    pub data: &'a [u8],
}

/// HANDOFF_COPY: a front-end group member sends its backups the handoff it
/// is about to ask a back-end for, before it asks: should the member fail
/// before the connection forwards, a backup asks the back-end itself
/// ([`opt_bits::RESUME`]). Confirmed by COPY_ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandoffCopy<'a, A: Family = V4> {
    /// The back-end's node id (not 0: a connection the sender serves
    /// itself dies with it).
    pub backend_node: u32,
    /// The handoff, as the sender sends it to the back-end (never with
    /// [`opt_bits::RESUME`]).
    pub req: HandoffReq<'a, A>,
}

/// HANDOFF_ACK: the back-end took the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandoffAck {
    /// Handoff id.
    pub id: u64,
    /// The back-end's initial sequence number.
    pub backend_isn: u32,
    /// The back-end's TSval in its SYN/ACK.
    pub backend_tsval: u32,
    /// The back-end's window scale shift.
    pub backend_wscale: u8,
}

/// HANDOFF_NACK or CONN_END: an id and a [`reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdReason {
    /// Handoff id.
    pub id: u64,
    /// [`reason`].
    pub reason: u8,
}

/// A decoded message.
// VIEW carries its up to 64 members inline (288 bytes in all): the codec
// allocates nothing, and a message lives on one thread's stack for one
// frame.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// HELLO.
    Hello(Hello),
    /// HEARTBEAT.
    Heartbeat(Heartbeat),
    /// HANDOFF_REQ.
    HandoffReq(HandoffReq<'a>),
    /// HANDOFF_ACK.
    HandoffAck(HandoffAck),
    /// HANDOFF_NACK.
    HandoffNack(IdReason),
    /// CONN_END.
    ConnEnd(IdReason),
    /// AUTH: the first frame after HELLO, with the first tag.
    Auth,
    /// VIEW.
    View(GroupView),
    /// REPLICA.
    Replica(Replica),
    /// REPLICA_END.
    ReplicaEnd(ReplicaEnd),
    /// TAKEOVER.
    Takeover(Takeover),
    /// SYNCED: the sender, a member of the front-end group, has sent the
    /// receiver every copy the receiver keeps for it in the view of this
    /// epoch (the frames before this one on the channel).
    Synced(u64),
    /// HANDOFF_COPY.
    HandoffCopy(HandoffCopy<'a>),
    /// COPY_ACK: the sender, a backup, keeps the copy of handoff `id` that
    /// the receiver sent it.
    CopyAck(u64),
    /// HANDOFF_REQ6: a HANDOFF_REQ of an IPv6 connection.
    HandoffReq6(HandoffReq<'a, V6>),
    /// HANDOFF_COPY6.
    HandoffCopy6(HandoffCopy<'a, V6>),
    /// REPLICA6.
    Replica6(Replica<V6>),
    /// REPLICA_END6.
    ReplicaEnd6(ReplicaEnd<V6>),
    /// TAKEOVER6.
    Takeover6(Takeover<V6>),
    /// MOVE_REQ.
    MoveReq(MoveReq),
    /// MOVE_REQ6.
    MoveReq6(MoveReq<V6>),
    /// MOVE_ACK, and the bytes before the held request that the old
    /// server had not read (at most [`MOVE_DATA_MAX`]; only to a peer that
    /// announced [`cap::MOVE_DATA`]).
    MoveAck(MoveAck, &'a [u8]),
    /// MOVE_NACK: the connection stays where it is, with a [`reason`].
    MoveNack(IdReason),
}

impl Message<'_> {
    /// The frame type of this message.
    pub const fn msg_type(&self) -> u8 {
        match self {
            Message::Hello(_) => msg_type::HELLO,
            Message::Heartbeat(_) => msg_type::HEARTBEAT,
            Message::HandoffReq(_) => msg_type::HANDOFF_REQ,
            Message::HandoffAck(_) => msg_type::HANDOFF_ACK,
            Message::HandoffNack(_) => msg_type::HANDOFF_NACK,
            Message::ConnEnd(_) => msg_type::CONN_END,
            Message::Auth => msg_type::AUTH,
            Message::View(_) => msg_type::VIEW,
            Message::Replica(_) => msg_type::REPLICA,
            Message::ReplicaEnd(_) => msg_type::REPLICA_END,
            Message::Takeover(_) => msg_type::TAKEOVER,
            Message::Synced(_) => msg_type::SYNCED,
            Message::HandoffCopy(_) => msg_type::HANDOFF_COPY,
            Message::CopyAck(_) => msg_type::COPY_ACK,
            Message::HandoffReq6(_) => msg_type::HANDOFF_REQ6,
            Message::HandoffCopy6(_) => msg_type::HANDOFF_COPY6,
            Message::Replica6(_) => msg_type::REPLICA6,
            Message::ReplicaEnd6(_) => msg_type::REPLICA_END6,
            Message::Takeover6(_) => msg_type::TAKEOVER6,
            Message::MoveReq(_) => msg_type::MOVE_REQ,
            Message::MoveReq6(_) => msg_type::MOVE_REQ6,
            Message::MoveAck(..) => msg_type::MOVE_ACK,
            Message::MoveNack(_) => msg_type::MOVE_NACK,
        }
    }

    /// Whether this is one of the IPv6 types, for a peer that announced
    /// [`cap::IPV6`] only.
    pub const fn is_ipv6(&self) -> bool {
        matches!(
            self,
            Message::HandoffReq6(_)
                | Message::HandoffCopy6(_)
                | Message::Replica6(_)
                | Message::ReplicaEnd6(_)
                | Message::Takeover6(_)
                | Message::MoveReq6(_)
        )
    }

    /// The [`cap`] bits a peer must have announced to take this message.
    pub const fn required_caps(&self) -> u32 {
        let v6 = if self.is_ipv6() { cap::IPV6 } else { 0 };
        match self {
            Message::MoveReq(_) | Message::MoveReq6(_) => v6 | cap::MOVE,
            Message::MoveAck(_, data) if !data.is_empty() => cap::MOVE_DATA,
            _ => v6,
        }
    }

    const fn payload_len(&self) -> usize {
        match self {
            Message::Hello(h) => h.payload_len(),
            Message::Heartbeat(_) | Message::Synced(_) | Message::CopyAck(_) => 8,
            Message::Auth => 0,
            Message::HandoffReq(r) | Message::HandoffCopy(HandoffCopy { req: r, .. }) => {
                HANDOFF_REQ_FIXED + r.data.len()
            }
            Message::HandoffAck(_) => 20,
            Message::HandoffNack(_) | Message::ConnEnd(_) | Message::MoveNack(_) => 12,
            Message::View(v) => VIEW_FIXED + 4 * v.view.size(),
            Message::Replica(_) => REPLICA_LEN,
            Message::ReplicaEnd(_) => REPLICA_END_LEN,
            Message::Takeover(_) => TAKEOVER_LEN,
            Message::HandoffReq6(r) | Message::HandoffCopy6(HandoffCopy { req: r, .. }) => {
                handoff_req_fixed::<V6>() + r.data.len()
            }
            Message::Replica6(_) => replica_len::<V6>(),
            Message::ReplicaEnd6(_) => replica_end_len::<V6>(),
            Message::Takeover6(_) => takeover_len::<V6>(),
            Message::MoveReq(_) => move_req_len::<V4>(),
            Message::MoveReq6(_) => move_req_len::<V6>(),
            Message::MoveAck(_, data) => MOVE_ACK_LEN + data.len(),
        }
    }
}

/// A validated frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    msg_type: u8,
    len: u32,
    seq: u32,
    mac: bool,
}

impl Header {
    /// The frame type.
    pub const fn msg_type(&self) -> u8 {
        self.msg_type
    }

    /// Number of payload bytes that follow the header.
    pub const fn payload_len(&self) -> usize {
        self.len as usize
    }

    /// The frame's sequence number.
    pub const fn seq(&self) -> u32 {
        self.seq
    }

    /// Whether a tag follows the payload.
    pub const fn has_mac(&self) -> bool {
        self.mac
    }

    /// The whole frame's length: header, payload and tag.
    pub const fn frame_len(&self) -> usize {
        HEADER_LEN + self.len as usize + if self.mac { MAC_LEN } else { 0 }
    }
}

/// Why a frame was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than a header.
    Short,
    /// Not a baton frame.
    BadMagic,
    /// A protocol version this node does not speak.
    BadVersion(u8),
    /// A type this node does not know.
    UnknownType(u8),
    /// Flags that are not 0.
    BadFlags,
    /// Payload longer than [`MAX_PAYLOAD`].
    TooLong,
    /// Payload length does not match the type's layout.
    BadLength,
    /// A field out of its range (e.g. node id 0).
    BadField,
    /// Sequence number not the expected one.
    OutOfOrder,
    /// A frame without a tag on an authenticated channel.
    MissingMac,
    /// A tag that does not verify.
    BadMac,
    /// A tag where none is expected (HELLO, or a channel without a key).
    UnexpectedMac,
}

impl DecodeError {
    /// A short description for log lines.
    pub const fn describe(self) -> &'static str {
        match self {
            DecodeError::Short => "truncated frame",
            DecodeError::BadMagic => "bad frame magic",
            DecodeError::BadVersion(_) => "unknown protocol version",
            DecodeError::UnknownType(_) => "unknown message type",
            DecodeError::BadFlags => "nonzero frame flags",
            DecodeError::TooLong => "frame too long",
            DecodeError::BadLength => "payload length does not match the message type",
            DecodeError::BadField => "field out of range",
            DecodeError::OutOfOrder => {
                "sequence number out of order (lost, replayed or reordered frame)"
            }
            DecodeError::MissingMac => "frame without a MAC on an authenticated channel",
            DecodeError::BadMac => "bad MAC (wrong key, or a forged or replayed frame)",
            DecodeError::UnexpectedMac => "frame with a MAC where none is expected",
        }
    }
}

/// Why a message could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The buffer is too small.
    NoSpace,
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    let bytes = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

fn endpoint<A: Family>(b: &[u8], at: usize) -> Option<Endpoint<A>> {
    Some(Endpoint {
        addr: A::addr(b, at)?,
        port: be_u16(b, at + core::mem::size_of::<A>())?,
    })
}

fn put_endpoint<A: Family>(p: &mut [u8], at: usize, e: &Endpoint<A>) {
    let n = core::mem::size_of::<A>();
    p[at..at + n].copy_from_slice(e.addr.as_ref());
    p[at + n..at + n + 2].copy_from_slice(&e.port.to_be_bytes());
}

/// An endpoint a connection between hosts can have: a host address
/// ([`Wire::is_host`]), a port other than 0.
fn valid_endpoint<A: Wire>(e: &Endpoint<A>) -> bool {
    e.port != 0 && A::is_host(&e.addr)
}

fn decode_id_reason(payload: &[u8]) -> Result<IdReason, DecodeError> {
    if payload.len() != 12 {
        return Err(DecodeError::BadLength);
    }
    let id = be_u64(payload, 0).ok_or(DecodeError::BadLength)?;
    let reason = payload.get(8).copied().ok_or(DecodeError::BadLength)?;
    if reason > reason::MAX || payload.get(9..12) != Some(&[0, 0, 0][..]) {
        return Err(DecodeError::BadField);
    }
    Ok(IdReason { id, reason })
}

/// A HANDOFF_REQ (`copy` false) or HANDOFF_COPY payload (or their IPv6
/// types): the request and the copy's back-end node (0 for a request).
fn decode_handoff_req<A: Wire>(
    p: &[u8],
    copy: bool,
) -> Result<(HandoffReq<'_, A>, u32), DecodeError> {
    let short = DecodeError::BadLength;
    let fixed_len = handoff_req_fixed::<A>();
    let fixed = p.get(..fixed_len).ok_or(short)?;
    // The fields after the endpoints.
    let r = fixed_len - 34;
    let data_len = be_u32(fixed, r + 30).ok_or(short)? as usize;
    if data_len > MAX_PAYLOAD - fixed_len || p.len() != fixed_len + data_len {
        return Err(short);
    }
    let e = endpoint_len::<A>();
    let req = HandoffReq {
        id: be_u64(fixed, 0).ok_or(short)?,
        client: endpoint(fixed, 8).ok_or(short)?,
        vip: endpoint(fixed, 8 + e).ok_or(short)?,
        backend: endpoint(fixed, 8 + 2 * e).ok_or(short)?,
        client_isn: be_u32(fixed, r).ok_or(short)?,
        frontend_isn: be_u32(fixed, r + 4).ok_or(short)?,
        client_tsval: be_u32(fixed, r + 8).ok_or(short)?,
        frontend_tsval: be_u32(fixed, r + 12).ok_or(short)?,
        client_window: be_u16(fixed, r + 16).ok_or(short)?,
        mss: be_u16(fixed, r + 18).ok_or(short)?,
        client_wscale: fixed.get(r + 20).copied().ok_or(short)?,
        frontend_wscale: fixed.get(r + 21).copied().ok_or(short)?,
        options: fixed.get(r + 22).copied().ok_or(short)?,
        data: p.get(fixed_len..).ok_or(short)?,
    };
    let backend_node = be_u32(fixed, r + 26).ok_or(short)?;
    let options = if copy {
        opt_bits::ALL & !opt_bits::RESUME
    } else {
        opt_bits::ALL
    };
    let bad = !valid_endpoint(&req.client)
        || !valid_endpoint(&req.vip)
        || !valid_endpoint(&req.backend)
        || req.options & !options != 0
        || req.client_wscale > 14
        || req.frontend_wscale > 14
        || req.mss < 64
        || fixed.get(r + 23..r + 26) != Some(&[0; 3][..])
        || (backend_node != 0) != copy;
    if bad {
        return Err(DecodeError::BadField);
    }
    Ok((req, backend_node))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    let bytes = b.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

fn decode_view(p: &[u8]) -> Result<GroupView, DecodeError> {
    let epoch = be_u64(p, 0).ok_or(DecodeError::BadLength)?;
    let active = be_u32(p, 8).ok_or(DecodeError::BadLength)?;
    let common = be_u32(p, 12).ok_or(DecodeError::BadLength)?;
    let count = be_u32(p, 16).ok_or(DecodeError::BadLength)? as usize;
    if count > MAX_MEMBERS || p.len() != VIEW_FIXED + 4 * count {
        return Err(DecodeError::BadLength);
    }
    let members = p[VIEW_FIXED..]
        .chunks_exact(4)
        .map(|m| u32::from_be_bytes([m[0], m[1], m[2], m[3]]));
    let view = View::announced(epoch, members).ok_or(DecodeError::BadField)?;
    Ok(GroupView {
        view,
        active,
        common,
    })
}

/// Length of a REPLICA payload.
pub const REPLICA_LEN: usize = replica_len::<V4>();
/// Length of a REPLICA_END payload.
pub const REPLICA_END_LEN: usize = replica_end_len::<V4>();

fn decode_replica<A: Wire>(p: &[u8]) -> Result<Replica<A>, DecodeError> {
    if p.len() != replica_len::<A>() {
        return Err(DecodeError::BadLength);
    }
    let bad = DecodeError::BadLength;
    let e = endpoint_len::<A>();
    let f = 8 + 3 * e;
    let r = Replica {
        id: be_u64(p, 0).ok_or(bad)?,
        client: endpoint(p, 8).ok_or(bad)?,
        vip: endpoint(p, 8 + e).ok_or(bad)?,
        backend: endpoint(p, 8 + 2 * e).ok_or(bad)?,
        backend_node: be_u32(p, f).ok_or(bad)?,
        xlate: Translation {
            seq_delta: be_u32(p, f + 4).ok_or(bad)?,
            ts_delta: be_u32(p, f + 8).ok_or(bad)?,
            frontend_wscale: p[f + 12],
            backend_wscale: p[f + 13],
        },
        flags: p[f + 14],
    };
    let valid = valid_endpoint(&r.client)
        && valid_endpoint(&r.vip)
        && valid_endpoint(&r.backend)
        && r.backend_node != 0
        && r.xlate.frontend_wscale <= MAX_WSCALE
        && r.xlate.backend_wscale <= MAX_WSCALE
        && r.flags & !replica_flags::ALL == 0
        && p[f + 15..f + 18] == [0, 0, 0];
    if !valid {
        return Err(DecodeError::BadField);
    }
    Ok(r)
}

fn decode_replica_end<A: Wire>(p: &[u8]) -> Result<ReplicaEnd<A>, DecodeError> {
    if p.len() != replica_end_len::<A>() {
        return Err(DecodeError::BadLength);
    }
    let bad = DecodeError::BadLength;
    let n = endpoint_len::<A>();
    let f = 8 + 2 * n;
    let e = ReplicaEnd {
        id: be_u64(p, 0).ok_or(bad)?,
        client: endpoint(p, 8).ok_or(bad)?,
        vip: endpoint(p, 8 + n).ok_or(bad)?,
        reason: p[f],
    };
    let valid = valid_endpoint(&e.client)
        && valid_endpoint(&e.vip)
        && (e.reason == reason::CLOSED || e.reason == reason::IDLE)
        && p[f + 1..f + 4] == [0, 0, 0];
    if !valid {
        return Err(DecodeError::BadField);
    }
    Ok(e)
}

fn decode_takeover<A: Wire>(p: &[u8]) -> Result<Takeover<A>, DecodeError> {
    if p.len() != takeover_len::<A>() {
        return Err(DecodeError::BadLength);
    }
    let bad = DecodeError::BadLength;
    let n = endpoint_len::<A>();
    let f = 16 + 2 * n;
    let t = Takeover {
        old_id: be_u64(p, 0).ok_or(bad)?,
        new_id: be_u64(p, 8).ok_or(bad)?,
        client: endpoint(p, 16).ok_or(bad)?,
        backend: endpoint(p, 16 + n).ok_or(bad)?,
    };
    if !valid_endpoint(&t.client) || !valid_endpoint(&t.backend) || p[f..f + 4] != [0; 4] {
        return Err(DecodeError::BadField);
    }
    Ok(t)
}

fn decode_move_req<A: Wire>(p: &[u8]) -> Result<MoveReq<A>, DecodeError> {
    if p.len() != move_req_len::<A>() {
        return Err(DecodeError::BadLength);
    }
    let bad = DecodeError::BadLength;
    let n = endpoint_len::<A>();
    let f = 8 + 2 * n;
    let m = MoveReq {
        id: be_u64(p, 0).ok_or(bad)?,
        client: endpoint(p, 8).ok_or(bad)?,
        backend: endpoint(p, 8 + n).ok_or(bad)?,
        seq: be_u32(p, f).ok_or(bad)?,
        ack: be_u32(p, f + 4).ok_or(bad)?,
    };
    if !valid_endpoint(&m.client) || !valid_endpoint(&m.backend) {
        return Err(DecodeError::BadField);
    }
    Ok(m)
}

fn decode_move_ack(p: &[u8]) -> Result<(MoveAck, &[u8]), DecodeError> {
    let bad = DecodeError::BadLength;
    let data_len = be_u32(p, 12).ok_or(bad)? as usize;
    if p.len() != MOVE_ACK_LEN.saturating_add(data_len) {
        return Err(bad);
    }
    let a = MoveAck {
        id: be_u64(p, 0).ok_or(bad)?,
        mss: be_u16(p, 8).ok_or(bad)?,
        client_wscale: p[10],
        options: p[11],
    };
    let handshake = opt_bits::SACK | opt_bits::TIMESTAMPS | opt_bits::WSCALE;
    if a.mss < 64
        || a.client_wscale > MAX_WSCALE
        || a.options & !handshake != 0
        || data_len > MOVE_DATA_MAX
    {
        return Err(DecodeError::BadField);
    }
    Ok((a, &p[MOVE_ACK_LEN..]))
}

/// Validates the header at the start of `buf`.
pub fn decode_header(buf: &[u8]) -> Result<Header, DecodeError> {
    let h = buf.get(..HEADER_LEN).ok_or(DecodeError::Short)?;
    if h.get(..4) != Some(&MAGIC[..]) {
        return Err(DecodeError::BadMagic);
    }
    let version = h.get(4).copied().ok_or(DecodeError::Short)?;
    if version != VERSION {
        return Err(DecodeError::BadVersion(version));
    }
    let msg_type = h.get(5).copied().ok_or(DecodeError::Short)?;
    if !(msg_type::HELLO..=msg_type::MAX).contains(&msg_type) {
        return Err(DecodeError::UnknownType(msg_type));
    }
    let flags = be_u16(h, 6).ok_or(DecodeError::Short)?;
    if flags & !flag::MAC != 0 {
        return Err(DecodeError::BadFlags);
    }
    let len = be_u32(h, 8).ok_or(DecodeError::Short)?;
    if len as usize > MAX_PAYLOAD {
        return Err(DecodeError::TooLong);
    }
    let seq = be_u32(h, 12).ok_or(DecodeError::Short)?;
    Ok(Header {
        msg_type,
        len,
        seq,
        mac: flags & flag::MAC != 0,
    })
}

/// Decodes the payload of a frame whose header is `header`.
pub fn decode<'a>(header: &Header, payload: &'a [u8]) -> Result<Message<'a>, DecodeError> {
    if payload.len() != header.payload_len() {
        return Err(DecodeError::BadLength);
    }
    match header.msg_type {
        msg_type::HELLO => {
            let node_id = be_u32(payload, 0).ok_or(DecodeError::BadLength)?;
            let capabilities = be_u32(payload, 4).ok_or(DecodeError::BadLength)?;
            let with_boot = capabilities & cap::BOOT != 0;
            let want = if with_boot { HELLO_BOOT_LEN } else { HELLO_LEN };
            if payload.len() != want {
                return Err(DecodeError::BadLength);
            }
            let nonce = payload
                .get(8..HELLO_LEN)
                .and_then(|n| n.try_into().ok())
                .ok_or(DecodeError::BadLength)?;
            let boot_id = if with_boot {
                be_u64(payload, HELLO_LEN).ok_or(DecodeError::BadLength)?
            } else {
                0
            };
            // Bits this version does not know are a later one's: what it
            // takes, this node never sends. Ignored, so that nodes of two
            // versions keep their channel.
            if node_id == 0 || with_boot && boot_id == 0 {
                return Err(DecodeError::BadField);
            }
            if header.mac {
                return Err(DecodeError::UnexpectedMac);
            }
            Ok(Message::Hello(Hello {
                node_id,
                capabilities,
                nonce,
                boot_id,
            }))
        }
        msg_type::HEARTBEAT => {
            if payload.len() != 8 {
                return Err(DecodeError::BadLength);
            }
            let sent_ms = be_u64(payload, 0).ok_or(DecodeError::BadLength)?;
            Ok(Message::Heartbeat(Heartbeat { sent_ms }))
        }
        msg_type::HANDOFF_REQ => Ok(Message::HandoffReq(decode_handoff_req(payload, false)?.0)),
        msg_type::HANDOFF_REQ6 => Ok(Message::HandoffReq6(decode_handoff_req(payload, false)?.0)),
        msg_type::HANDOFF_COPY6 => {
            let (req, backend_node) = decode_handoff_req(payload, true)?;
            Ok(Message::HandoffCopy6(HandoffCopy { backend_node, req }))
        }
        msg_type::REPLICA6 => Ok(Message::Replica6(decode_replica(payload)?)),
        msg_type::REPLICA_END6 => Ok(Message::ReplicaEnd6(decode_replica_end(payload)?)),
        msg_type::TAKEOVER6 => Ok(Message::Takeover6(decode_takeover(payload)?)),
        msg_type::MOVE_REQ => Ok(Message::MoveReq(decode_move_req(payload)?)),
        msg_type::MOVE_REQ6 => Ok(Message::MoveReq6(decode_move_req(payload)?)),
        msg_type::MOVE_ACK => {
            let (a, data) = decode_move_ack(payload)?;
            Ok(Message::MoveAck(a, data))
        }
        msg_type::MOVE_NACK => Ok(Message::MoveNack(decode_id_reason(payload)?)),
        msg_type::HANDOFF_COPY => {
            let (req, backend_node) = decode_handoff_req(payload, true)?;
            Ok(Message::HandoffCopy(HandoffCopy { backend_node, req }))
        }
        msg_type::COPY_ACK => {
            if payload.len() != 8 {
                return Err(DecodeError::BadLength);
            }
            Ok(Message::CopyAck(
                be_u64(payload, 0).ok_or(DecodeError::BadLength)?,
            ))
        }
        msg_type::HANDOFF_ACK => {
            if payload.len() != 20 {
                return Err(DecodeError::BadLength);
            }
            let ack = HandoffAck {
                id: be_u64(payload, 0).ok_or(DecodeError::BadLength)?,
                backend_isn: be_u32(payload, 8).ok_or(DecodeError::BadLength)?,
                backend_tsval: be_u32(payload, 12).ok_or(DecodeError::BadLength)?,
                backend_wscale: payload.get(16).copied().ok_or(DecodeError::BadLength)?,
            };
            if ack.backend_wscale > 14 || payload.get(17..20) != Some(&[0, 0, 0][..]) {
                return Err(DecodeError::BadField);
            }
            Ok(Message::HandoffAck(ack))
        }
        msg_type::HANDOFF_NACK => Ok(Message::HandoffNack(decode_id_reason(payload)?)),
        msg_type::CONN_END => Ok(Message::ConnEnd(decode_id_reason(payload)?)),
        msg_type::AUTH => {
            if !payload.is_empty() {
                return Err(DecodeError::BadLength);
            }
            Ok(Message::Auth)
        }
        msg_type::VIEW => Ok(Message::View(decode_view(payload)?)),
        msg_type::REPLICA => Ok(Message::Replica(decode_replica(payload)?)),
        msg_type::REPLICA_END => Ok(Message::ReplicaEnd(decode_replica_end(payload)?)),
        msg_type::TAKEOVER => Ok(Message::Takeover(decode_takeover(payload)?)),
        msg_type::SYNCED => {
            if payload.len() != 8 {
                return Err(DecodeError::BadLength);
            }
            // Epochs start at 1.
            match be_u64(payload, 0).ok_or(DecodeError::BadLength)? {
                0 => Err(DecodeError::BadField),
                epoch => Ok(Message::Synced(epoch)),
            }
        }
        t => Err(DecodeError::UnknownType(t)),
    }
}

/// Writes `msg` as a frame with sequence number `seq` into `buf`; returns
/// the frame's length.
pub fn encode(msg: &Message<'_>, seq: u32, buf: &mut [u8]) -> Result<usize, EncodeError> {
    let len = msg.payload_len();
    if len > MAX_PAYLOAD {
        return Err(EncodeError::NoSpace);
    }
    let frame = buf
        .get_mut(..HEADER_LEN + len)
        .ok_or(EncodeError::NoSpace)?;
    let (hdr, payload) = frame.split_at_mut(HEADER_LEN);
    hdr[..4].copy_from_slice(&MAGIC);
    hdr[4] = VERSION;
    hdr[5] = msg.msg_type();
    hdr[6..8].copy_from_slice(&[0, 0]);
    hdr[8..12].copy_from_slice(&(len as u32).to_be_bytes());
    hdr[12..16].copy_from_slice(&seq.to_be_bytes());
    match msg {
        Message::Hello(h) => {
            payload[..4].copy_from_slice(&h.node_id.to_be_bytes());
            payload[4..8].copy_from_slice(&h.capabilities.to_be_bytes());
            payload[8..HELLO_LEN].copy_from_slice(&h.nonce);
            if h.capabilities & cap::BOOT != 0 {
                payload[HELLO_LEN..HELLO_BOOT_LEN].copy_from_slice(&h.boot_id.to_be_bytes());
            }
        }
        Message::Auth => {}
        Message::Heartbeat(h) => payload[..8].copy_from_slice(&h.sent_ms.to_be_bytes()),
        Message::HandoffReq(r) => put_handoff_req(payload, r, 0),
        Message::HandoffCopy(c) => put_handoff_req(payload, &c.req, c.backend_node),
        Message::CopyAck(id) => payload[..8].copy_from_slice(&id.to_be_bytes()),
        Message::HandoffAck(a) => {
            payload[..8].copy_from_slice(&a.id.to_be_bytes());
            payload[8..12].copy_from_slice(&a.backend_isn.to_be_bytes());
            payload[12..16].copy_from_slice(&a.backend_tsval.to_be_bytes());
            payload[16] = a.backend_wscale;
            payload[17..20].fill(0);
        }
        Message::HandoffNack(m) | Message::ConnEnd(m) | Message::MoveNack(m) => {
            payload[..8].copy_from_slice(&m.id.to_be_bytes());
            payload[8] = m.reason;
            payload[9..12].fill(0);
        }
        Message::Replica(r) => put_replica(payload, r),
        Message::Replica6(r) => put_replica(payload, r),
        Message::ReplicaEnd(e) => put_replica_end(payload, e),
        Message::ReplicaEnd6(e) => put_replica_end(payload, e),
        Message::Synced(epoch) => payload[..8].copy_from_slice(&epoch.to_be_bytes()),
        Message::Takeover(t) => put_takeover(payload, t),
        Message::Takeover6(t) => put_takeover(payload, t),
        Message::MoveReq(m) => put_move_req(payload, m),
        Message::MoveReq6(m) => put_move_req(payload, m),
        Message::MoveAck(a, data) => {
            payload[..8].copy_from_slice(&a.id.to_be_bytes());
            payload[8..10].copy_from_slice(&a.mss.to_be_bytes());
            payload[10] = a.client_wscale;
            payload[11] = a.options;
            payload[12..16].copy_from_slice(&(data.len() as u32).to_be_bytes());
            payload[MOVE_ACK_LEN..].copy_from_slice(data);
        }
        Message::HandoffReq6(r) => put_handoff_req(payload, r, 0),
        Message::HandoffCopy6(c) => put_handoff_req(payload, &c.req, c.backend_node),
        Message::View(v) => {
            let members = v.view.members();
            payload[..8].copy_from_slice(&v.view.epoch().to_be_bytes());
            payload[8..12].copy_from_slice(&v.active.to_be_bytes());
            payload[12..16].copy_from_slice(&v.common.to_be_bytes());
            payload[16..20].copy_from_slice(&(members.len() as u32).to_be_bytes());
            for (i, m) in members.iter().enumerate() {
                let at = VIEW_FIXED + 4 * i;
                payload[at..at + 4].copy_from_slice(&m.to_be_bytes());
            }
        }
    }
    Ok(HEADER_LEN + len)
}

/// Writes a HANDOFF_REQ payload (`backend_node` 0) or a HANDOFF_COPY one
/// (or their IPv6 types).
fn put_handoff_req<A: Family>(payload: &mut [u8], r: &HandoffReq<'_, A>, backend_node: u32) {
    let f = put_id_endpoints(payload, r.id, &[r.client, r.vip, r.backend]);
    payload[f..f + 4].copy_from_slice(&r.client_isn.to_be_bytes());
    payload[f + 4..f + 8].copy_from_slice(&r.frontend_isn.to_be_bytes());
    payload[f + 8..f + 12].copy_from_slice(&r.client_tsval.to_be_bytes());
    payload[f + 12..f + 16].copy_from_slice(&r.frontend_tsval.to_be_bytes());
    payload[f + 16..f + 18].copy_from_slice(&r.client_window.to_be_bytes());
    payload[f + 18..f + 20].copy_from_slice(&r.mss.to_be_bytes());
    payload[f + 20] = r.client_wscale;
    payload[f + 21] = r.frontend_wscale;
    payload[f + 22] = r.options;
    payload[f + 23..f + 26].fill(0);
    payload[f + 26..f + 30].copy_from_slice(&backend_node.to_be_bytes());
    payload[f + 30..f + 34].copy_from_slice(&(r.data.len() as u32).to_be_bytes());
    payload[f + 34..].copy_from_slice(r.data);
}

/// Writes `id` and then `endpoints` at the start of `payload`; returns the
/// offset after them.
fn put_id_endpoints<A: Family>(payload: &mut [u8], id: u64, endpoints: &[Endpoint<A>]) -> usize {
    payload[..8].copy_from_slice(&id.to_be_bytes());
    let mut at = 8;
    for e in endpoints {
        put_endpoint(payload, at, e);
        at += endpoint_len::<A>();
    }
    at
}

/// Writes a REPLICA (REPLICA6) payload.
fn put_replica<A: Family>(payload: &mut [u8], r: &Replica<A>) {
    let f = put_id_endpoints(payload, r.id, &[r.client, r.vip, r.backend]);
    payload[f..f + 4].copy_from_slice(&r.backend_node.to_be_bytes());
    payload[f + 4..f + 8].copy_from_slice(&r.xlate.seq_delta.to_be_bytes());
    payload[f + 8..f + 12].copy_from_slice(&r.xlate.ts_delta.to_be_bytes());
    payload[f + 12] = r.xlate.frontend_wscale;
    payload[f + 13] = r.xlate.backend_wscale;
    payload[f + 14] = r.flags;
    payload[f + 15..f + 18].fill(0);
}

/// Writes a REPLICA_END (REPLICA_END6) payload.
fn put_replica_end<A: Family>(payload: &mut [u8], r: &ReplicaEnd<A>) {
    let f = put_id_endpoints(payload, r.id, &[r.client, r.vip]);
    payload[f] = r.reason;
    payload[f + 1..f + 4].fill(0);
}

/// Writes a TAKEOVER (TAKEOVER6) payload.
fn put_takeover<A: Family>(payload: &mut [u8], t: &Takeover<A>) {
    let e = endpoint_len::<A>();
    let f = 16 + 2 * e;
    payload[..8].copy_from_slice(&t.old_id.to_be_bytes());
    payload[8..16].copy_from_slice(&t.new_id.to_be_bytes());
    put_endpoint(payload, 16, &t.client);
    put_endpoint(payload, 16 + e, &t.backend);
    payload[f..f + 4].fill(0);
}

/// Writes a MOVE_REQ (MOVE_REQ6) payload.
fn put_move_req<A: Family>(payload: &mut [u8], m: &MoveReq<A>) {
    let f = put_id_endpoints(payload, m.id, &[m.client, m.backend]);
    payload[f..f + 4].copy_from_slice(&m.seq.to_be_bytes());
    payload[f + 4..f + 8].copy_from_slice(&m.ack.to_be_bytes());
}

/// Makes room for a tag after the frame of `len` bytes that [`encode`] wrote
/// at the start of `buf`: sets [`flag::MAC`] and returns the frame's new
/// length. The caller computes the tag over the direction byte and
/// `buf[..len]` (header with the flag, and payload) and writes it into
/// `buf[len..len + MAC_LEN]`.
pub fn add_mac_room(buf: &mut [u8], len: usize) -> Result<usize, EncodeError> {
    let total = len.checked_add(MAC_LEN).ok_or(EncodeError::NoSpace)?;
    if len < HEADER_LEN || total > buf.len() {
        return Err(EncodeError::NoSpace);
    }
    let flags = u16::from_be_bytes([buf[6], buf[7]]) | flag::MAC;
    buf[6..8].copy_from_slice(&flags.to_be_bytes());
    buf[len..total].fill(0);
    Ok(total)
}

/// Label that starts the session-key derivation input.
pub const SESSION_LABEL: [u8; 13] = *b"baton-ctrl-v1";
/// Length of [`session_info`].
pub const SESSION_INFO_LEN: usize = SESSION_LABEL.len() + 2 * NONCE_LEN + 8;

/// The input of the session-key derivation of a channel: the label, the
/// initiator's nonce, the acceptor's nonce, the initiator's node id and the
/// acceptor's node id; [`session_boot_info`] follows it.
pub fn session_info(initiator: &Hello, acceptor: &Hello) -> [u8; SESSION_INFO_LEN] {
    let mut out = [0; SESSION_INFO_LEN];
    let (label, rest) = out.split_at_mut(SESSION_LABEL.len());
    label.copy_from_slice(&SESSION_LABEL);
    let (n_i, rest) = rest.split_at_mut(NONCE_LEN);
    n_i.copy_from_slice(&initiator.nonce);
    let (n_a, rest) = rest.split_at_mut(NONCE_LEN);
    n_a.copy_from_slice(&acceptor.nonce);
    let (id_i, id_a) = rest.split_at_mut(4);
    id_i.copy_from_slice(&initiator.node_id.to_be_bytes());
    id_a.copy_from_slice(&acceptor.node_id.to_be_bytes());
    out
}

/// What follows [`session_info`] in the session-key derivation: when both
/// HELLOs carry a boot id ([`cap::BOOT`]), the initiator's and the
/// acceptor's (so that the tags prove them too: a peer acts on a boot id
/// only on an authenticated channel); else nothing (the empty slice of
/// the pair's length 0).
pub fn session_boot_info(initiator: &Hello, acceptor: &Hello) -> ([u8; 16], usize) {
    let mut out = [0; 16];
    if initiator.capabilities & acceptor.capabilities & cap::BOOT == 0 {
        return (out, 0);
    }
    let (i, a) = out.split_at_mut(8);
    i.copy_from_slice(&initiator.boot_id.to_be_bytes());
    a.copy_from_slice(&acceptor.boot_id.to_be_bytes());
    (out, 16)
}

/// Checks that the frames of one direction arrive numbered 0, 1, 2, ...
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqCheck {
    next: u32,
}

impl SeqCheck {
    /// Expects 0 first.
    pub const fn new() -> Self {
        Self { next: 0 }
    }

    /// Accepts `seq` if it is the next one.
    pub fn check(&mut self, seq: u32) -> Result<(), DecodeError> {
        if seq != self.next {
            return Err(DecodeError::OutOfOrder);
        }
        self.next = self.next.wrapping_add(1);
        Ok(())
    }
}

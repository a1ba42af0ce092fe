// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `ctrl`: the control-channel codec of `src/proto/ctrl.rs`.
//!
//! The input is used twice:
//!
//! 1. As a received byte stream, cut into frames the way the module's
//!    channel without a key does (`decode_header` on the first 16 bytes,
//!    wait for `frame_len` bytes, refuse a tag, `decode`). Asserts: no panic; the header
//!    decoder's verdict (and error kind) is the one of an independent
//!    reference written from the documented layout, and depends on the 16
//!    header bytes only; every accepted frame re-encodes to exactly the same
//!    bytes and those decode to the same message; every accepted message
//!    obeys the documented field rules; every proper prefix of an accepted
//!    frame is incomplete (too short for a header, or a header that asks for
//!    more bytes) and its payload given short or long is `BadLength`, never
//!    another message.
//! 2. As the fields of a message to encode (any values, valid or not).
//!    Asserts: `encode` writes exactly `16 + payload` bytes when the buffer
//!    is large enough and nothing at all (`NoSpace`) otherwise; decoding the
//!    frame gives the message back when the reference says its fields are
//!    valid and `BadField` when not.

#![no_main]

use baton_proto::cluster::View;
use baton_proto::ctrl::{
    add_mac_room, decode, decode_header, encode, flag, msg_type, opt_bits, reason, DecodeError,
    EncodeError, Endpoint, GroupView, HandoffAck, HandoffCopy, HandoffReq, Header, Heartbeat,
    Hello, IdReason, Message, MoveAck, MoveReq, Replica, ReplicaEnd, Takeover, HANDOFF_REQ_FIXED,
    HEADER_LEN, MAC_LEN, MAGIC, MAX_PAYLOAD, NONCE_LEN, VERSION,
};
use baton_proto::packet::{Family, V6};
use baton_proto::seq::Translation;
use libfuzzer_sys::arbitrary::{self, Unstructured};
use libfuzzer_sys::fuzz_target;

/// The reference header check, in the documented order: length, magic,
/// version, type, flags, payload length; gives type, length, seq and
/// whether a tag follows.
fn ref_header(buf: &[u8]) -> Result<(u8, usize, u32, bool), DecodeError> {
    if buf.len() < HEADER_LEN {
        return Err(DecodeError::Short);
    }
    if buf[..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if buf[4] != VERSION {
        return Err(DecodeError::BadVersion(buf[4]));
    }
    if !(1..=23).contains(&buf[5]) {
        return Err(DecodeError::UnknownType(buf[5]));
    }
    if buf[6] != 0 || buf[7] & !1 != 0 {
        return Err(DecodeError::BadFlags);
    }
    let len = u32::from_be_bytes(buf[8..12].try_into().unwrap()) as usize;
    if len > MAX_PAYLOAD {
        return Err(DecodeError::TooLong);
    }
    Ok((
        buf[5],
        len,
        u32::from_be_bytes(buf[12..16].try_into().unwrap()),
        buf[7] & 1 != 0,
    ))
}

/// A host endpoint as the documentation defines it, in either IP version.
trait RefEndpoint: Family {
    /// Bytes of the fixed part of a HANDOFF_REQ of this version.
    const REQ_FIXED: usize;
    fn host(&self) -> bool;
}

impl RefEndpoint for [u8; 4] {
    const REQ_FIXED: usize = HANDOFF_REQ_FIXED;
    /// Unicast, not 0/8 or 127/8.
    fn host(&self) -> bool {
        let a = self[0];
        a != 0 && a != 127 && a < 224
    }
}

impl RefEndpoint for V6 {
    const REQ_FIXED: usize = 96;
    /// Not ::, ::1, ff00::/8 or ::ffff:0:0/96.
    fn host(&self) -> bool {
        let mut loopback = [0u8; 16];
        loopback[15] = 1;
        let mut mapped = [0u8; 12];
        mapped[10] = 0xff;
        mapped[11] = 0xff;
        *self != [0; 16] && *self != loopback && self[0] != 0xff && self[..12] != mapped
    }
}

/// Port not 0, a host address.
fn ref_endpoint_ok<A: RefEndpoint>(e: &Endpoint<A>) -> bool {
    e.port != 0 && e.addr.host()
}

/// Whether the fields of a HANDOFF_REQ are in their documented ranges.
fn ref_req_valid<A: RefEndpoint>(r: &HandoffReq<'_, A>) -> bool {
    ref_endpoint_ok(&r.client)
        && ref_endpoint_ok(&r.vip)
        && ref_endpoint_ok(&r.backend)
        && r.options & !opt_bits::ALL == 0
        && r.client_wscale <= 14
        && r.frontend_wscale <= 14
        && r.mss >= 64
        && r.data.len() <= MAX_PAYLOAD - A::REQ_FIXED
}

/// Whether a HANDOFF_COPY's fields are: a request's, a back-end node, and
/// never RESUME (16).
fn ref_copy_valid<A: RefEndpoint>(c: &HandoffCopy<'_, A>) -> bool {
    ref_req_valid(&c.req) && c.backend_node != 0 && c.req.options & 16 == 0
}

fn ref_replica_valid<A: RefEndpoint>(r: &Replica<A>) -> bool {
    ref_endpoint_ok(&r.client)
        && ref_endpoint_ok(&r.vip)
        && ref_endpoint_ok(&r.backend)
        && r.backend_node != 0
        && r.xlate.frontend_wscale <= 14
        && r.xlate.backend_wscale <= 14
        && r.flags & !1 == 0
}

/// CLOSED (5) or IDLE (6).
fn ref_end_valid<A: RefEndpoint>(e: &ReplicaEnd<A>) -> bool {
    ref_endpoint_ok(&e.client) && ref_endpoint_ok(&e.vip) && (e.reason == 5 || e.reason == 6)
}

/// Whether the fields of `m` are in their documented ranges.
fn ref_valid(m: &Message<'_>) -> bool {
    match m {
        // Capability 2: a boot id, which is never 0.
        Message::Hello(h) => h.node_id != 0 && (h.capabilities & 2 == 0 || h.boot_id != 0),
        Message::Auth => true,
        Message::Heartbeat(_) => true,
        Message::HandoffReq(r) => ref_req_valid(r),
        Message::HandoffReq6(r) => ref_req_valid(r),
        Message::HandoffCopy(c) => ref_copy_valid(c),
        Message::HandoffCopy6(c) => ref_copy_valid(c),
        Message::CopyAck(_) => true,
        Message::HandoffAck(a) => a.backend_wscale <= 14,
        Message::HandoffNack(m) | Message::ConnEnd(m) | Message::MoveNack(m) => {
            m.reason <= reason::MAX
        }
        Message::MoveReq(m) => ref_endpoint_ok(&m.client) && ref_endpoint_ok(&m.backend),
        Message::MoveReq6(m) => ref_endpoint_ok(&m.client) && ref_endpoint_ok(&m.backend),
        // SACK, timestamps and window scaling only (1 | 2 | 4).
        // At most 16 KiB of unread bytes.
        Message::MoveAck(a, data) => {
            a.mss >= 64 && a.client_wscale <= 14 && a.options & !7 == 0 && data.len() <= 16384
        }
        // 1 to 64 members, not 0, strictly increasing; epoch at least 1.
        Message::View(v) => {
            let m = v.view.members();
            v.view.epoch() >= 1
                && (1..=64).contains(&m.len())
                && m[0] != 0
                && m.windows(2).all(|w| w[0] < w[1])
        }
        Message::Replica(r) => ref_replica_valid(r),
        Message::Replica6(r) => ref_replica_valid(r),
        Message::Takeover(t) => ref_endpoint_ok(&t.client) && ref_endpoint_ok(&t.backend),
        Message::Takeover6(t) => ref_endpoint_ok(&t.client) && ref_endpoint_ok(&t.backend),
        // Epochs start at 1.
        Message::Synced(epoch) => *epoch >= 1,
        Message::ReplicaEnd(e) => ref_end_valid(e),
        Message::ReplicaEnd6(e) => ref_end_valid(e),
    }
}

/// The payload length of `m` from the documented layouts.
fn ref_payload_len(m: &Message<'_>) -> usize {
    match m {
        Message::Hello(h) if h.capabilities & 2 != 0 => 32,
        Message::Hello(_) => 24,
        Message::Heartbeat(_) | Message::Synced(_) => 8,
        Message::Auth => 0,
        Message::HandoffReq(r) | Message::HandoffCopy(HandoffCopy { req: r, .. }) => {
            HANDOFF_REQ_FIXED + r.data.len()
        }
        Message::CopyAck(_) => 8,
        Message::HandoffAck(_) => 20,
        Message::HandoffNack(_) | Message::ConnEnd(_) | Message::MoveNack(_) => 12,
        Message::MoveReq(_) => 28,
        Message::MoveReq6(_) => 52,
        Message::MoveAck(_, data) => 16 + data.len(),
        Message::View(v) => 20 + 4 * v.view.members().len(),
        Message::Replica(_) => 44,
        Message::ReplicaEnd(_) => 24,
        Message::Takeover(_) => 32,
        // The same with 18-byte endpoints.
        Message::HandoffReq6(r) | Message::HandoffCopy6(HandoffCopy { req: r, .. }) => {
            96 + r.data.len()
        }
        Message::Replica6(_) => 80,
        Message::ReplicaEnd6(_) => 48,
        Message::Takeover6(_) => 56,
    }
}

fn encoded(m: &Message<'_>, seq: u32) -> Vec<u8> {
    let mut buf = vec![0; HEADER_LEN + ref_payload_len(m)];
    let n = encode(m, seq, &mut buf).expect("room for the frame");
    assert_eq!(n, buf.len());
    buf
}

/// What the channel makes of the start of a stream.
enum Next<'a> {
    /// Wait for more bytes.
    Incomplete,
    /// A frame of `len` bytes.
    Frame(Header, Box<Message<'a>>, usize),
    /// The channel closes.
    Closed(DecodeError),
}

/// The module's receive loop (`Channel::recv` in `src/ctrl.rs`) on `buf`,
/// without the sequence check.
fn next(buf: &[u8]) -> Next<'_> {
    if buf.len() < HEADER_LEN {
        return Next::Incomplete;
    }
    let hdr = match decode_header(&buf[..HEADER_LEN]) {
        Ok(h) => h,
        Err(e) => return Next::Closed(e),
    };
    let total = hdr.frame_len();
    if buf.len() < total {
        return Next::Incomplete;
    }
    // A channel without a key refuses a tag once the frame is complete.
    if hdr.has_mac() {
        return Next::Closed(DecodeError::UnexpectedMac);
    }
    match decode(&hdr, &buf[HEADER_LEN..total]) {
        Ok(m) => Next::Frame(hdr, Box::new(m), total),
        Err(e) => Next::Closed(e),
    }
}

/// Checks one accepted frame `frame` that decoded to `msg`.
fn check_frame(frame: &[u8], hdr: &Header, msg: &Message<'_>) {
    assert!(ref_valid(msg), "accepted out-of-range fields: {msg:?}");
    assert_eq!(hdr.msg_type(), msg.msg_type());
    assert_eq!(hdr.payload_len(), ref_payload_len(msg));
    assert_eq!(
        encoded(msg, hdr.seq()),
        frame,
        "re-encodes to the same bytes"
    );
    let again = decode(hdr, &frame[HEADER_LEN..]);
    assert_eq!(again.as_ref(), Ok(msg));

    // Proper prefixes are incomplete, never another frame. Checking every
    // cut is linear per cut; a few are enough past the header.
    let cuts = (0..frame.len().min(HEADER_LEN + 64))
        .chain((HEADER_LEN + 64..frame.len()).step_by(61))
        .chain(frame.len().checked_sub(1));
    for k in cuts.filter(|&k| k < frame.len()) {
        let prefix = &frame[..k];
        if k < HEADER_LEN {
            assert_eq!(decode_header(prefix), Err(DecodeError::Short));
            assert!(matches!(next(prefix), Next::Incomplete));
        } else {
            assert_eq!(decode_header(prefix).as_ref(), Ok(hdr));
            assert!(matches!(next(prefix), Next::Incomplete));
            let short = decode(hdr, &frame[HEADER_LEN..k]);
            assert_eq!(short, Err(DecodeError::BadLength), "cut at {k}");
        }
    }
    // A payload with a byte too many is not this frame either.
    let mut long = frame[HEADER_LEN..].to_vec();
    long.push(0);
    assert_eq!(decode(hdr, &long), Err(DecodeError::BadLength));
}

/// Part 1: `data` as a received stream.
fn stream(data: &[u8]) {
    let mut rest = data;
    loop {
        if rest.len() >= HEADER_LEN {
            // The header verdict depends on the 16 header bytes only.
            let want = ref_header(rest);
            let got =
                decode_header(rest).map(|h| (h.msg_type(), h.payload_len(), h.seq(), h.has_mac()));
            assert_eq!(got, want, "header verdict");
            assert_eq!(decode_header(&rest[..HEADER_LEN]), decode_header(rest));
        }
        match next(rest) {
            Next::Incomplete => return,
            Next::Closed(e) => {
                // Past a good header only the payload can be refused.
                if let Ok((.., mac)) = ref_header(rest) {
                    if mac {
                        assert_eq!(e, DecodeError::UnexpectedMac);
                    } else {
                        assert!(matches!(e, DecodeError::BadLength | DecodeError::BadField));
                    }
                }
                return;
            }
            Next::Frame(hdr, msg, len) => {
                check_frame(&rest[..len], &hdr, &msg);
                rest = &rest[len..];
            }
        }
    }
}

fn endpoint<'a, A: arbitrary::Arbitrary<'a> + Family>(
    u: &mut Unstructured<'a>,
) -> arbitrary::Result<Endpoint<A>> {
    Ok(Endpoint {
        addr: u.arbitrary()?,
        port: u.arbitrary()?,
    })
}

/// Part 2: a message made of the bytes of `data`.
fn message<'a>(u: &mut Unstructured<'a>) -> arbitrary::Result<(Message<'a>, u32, usize)> {
    let seq = u.arbitrary()?;
    let room = u.arbitrary::<u16>()?;
    let id = u.arbitrary()?;
    let m = match u.int_in_range(msg_type::HELLO..=msg_type::MAX)? {
        msg_type::HELLO => {
            let capabilities: u32 = u.arbitrary()?;
            let node_id = u.arbitrary()?;
            let nonce = u.arbitrary::<[u8; NONCE_LEN]>()?;
            let boot: u64 = u.arbitrary()?;
            Message::Hello(Hello {
                node_id,
                capabilities,
                nonce,
                // Only a HELLO with the capability carries one.
                boot_id: if capabilities & 2 != 0 { boot } else { 0 },
            })
        }
        msg_type::AUTH => Message::Auth,
        msg_type::HEARTBEAT => Message::Heartbeat(Heartbeat {
            sent_ms: u.arbitrary()?,
        }),
        msg_type::HANDOFF_REQ => Message::HandoffReq(handoff_req(u, id)?),
        msg_type::HANDOFF_COPY => Message::HandoffCopy(HandoffCopy {
            backend_node: u.arbitrary()?,
            req: handoff_req(u, id)?,
        }),
        msg_type::COPY_ACK => Message::CopyAck(id),
        msg_type::HANDOFF_ACK => Message::HandoffAck(HandoffAck {
            id,
            backend_isn: u.arbitrary()?,
            backend_tsval: u.arbitrary()?,
            backend_wscale: u.arbitrary()?,
        }),
        msg_type::HANDOFF_NACK => Message::HandoffNack(IdReason {
            id,
            reason: u.arbitrary()?,
        }),
        msg_type::CONN_END => Message::ConnEnd(IdReason {
            id,
            reason: u.arbitrary()?,
        }),
        msg_type::VIEW => {
            // Any set the codec could be given: the view is built by the
            // same rules as a received one, so an invalid set is skipped.
            let epoch = u.arbitrary()?;
            let n = u.int_in_range(1..=64)?;
            let mut members = Vec::with_capacity(n);
            for _ in 0..n {
                members.push(u.arbitrary::<u32>()?);
            }
            members.sort_unstable();
            let Some(view) = View::announced(epoch, members) else {
                return Err(arbitrary::Error::IncorrectFormat);
            };
            Message::View(GroupView {
                view,
                active: u.arbitrary()?,
                common: u.arbitrary()?,
            })
        }
        msg_type::REPLICA => Message::Replica(replica(u, id)?),
        msg_type::TAKEOVER => Message::Takeover(Takeover {
            old_id: id,
            new_id: u.arbitrary()?,
            client: endpoint(u)?,
            backend: endpoint(u)?,
        }),
        msg_type::SYNCED => Message::Synced(u.arbitrary()?),
        msg_type::REPLICA_END => Message::ReplicaEnd(replica_end(u, id)?),
        msg_type::HANDOFF_REQ6 => Message::HandoffReq6(handoff_req(u, id)?),
        msg_type::HANDOFF_COPY6 => Message::HandoffCopy6(HandoffCopy {
            backend_node: u.arbitrary()?,
            req: handoff_req(u, id)?,
        }),
        msg_type::REPLICA6 => Message::Replica6(replica(u, id)?),
        msg_type::REPLICA_END6 => Message::ReplicaEnd6(replica_end(u, id)?),
        msg_type::TAKEOVER6 => Message::Takeover6(Takeover {
            old_id: id,
            new_id: u.arbitrary()?,
            client: endpoint(u)?,
            backend: endpoint(u)?,
        }),
        msg_type::MOVE_REQ => Message::MoveReq(move_req(u, id)?),
        msg_type::MOVE_REQ6 => Message::MoveReq6(move_req(u, id)?),
        msg_type::MOVE_ACK => Message::MoveAck(
            MoveAck {
                id,
                mss: u.arbitrary()?,
                client_wscale: u.arbitrary()?,
                options: u.arbitrary()?,
            },
            u.bytes(u.len())?,
        ),
        msg_type::MOVE_NACK => Message::MoveNack(IdReason {
            id,
            reason: u.arbitrary()?,
        }),
        t => unreachable!("type {t} out of the range asked for"),
    };
    Ok((m, seq, usize::from(room)))
}

fn move_req<'a, A: arbitrary::Arbitrary<'a> + Family>(
    u: &mut Unstructured<'a>,
    id: u64,
) -> arbitrary::Result<MoveReq<A>> {
    Ok(MoveReq {
        id,
        client: endpoint(u)?,
        backend: endpoint(u)?,
        seq: u.arbitrary()?,
        ack: u.arbitrary()?,
    })
}

fn replica_end<'a, A: arbitrary::Arbitrary<'a> + Family>(
    u: &mut Unstructured<'a>,
    id: u64,
) -> arbitrary::Result<ReplicaEnd<A>> {
    Ok(ReplicaEnd {
        id,
        client: endpoint(u)?,
        vip: endpoint(u)?,
        reason: u.arbitrary()?,
    })
}

fn replica<'a, A: arbitrary::Arbitrary<'a> + Family>(
    u: &mut Unstructured<'a>,
    id: u64,
) -> arbitrary::Result<Replica<A>> {
    Ok(Replica {
        id,
        client: endpoint(u)?,
        vip: endpoint(u)?,
        backend: endpoint(u)?,
        backend_node: u.arbitrary()?,
        xlate: Translation {
            seq_delta: u.arbitrary()?,
            ts_delta: u.arbitrary()?,
            frontend_wscale: u.arbitrary()?,
            backend_wscale: u.arbitrary()?,
        },
        flags: u.arbitrary()?,
    })
}

fn handoff_req<'a, A: arbitrary::Arbitrary<'a> + Family>(
    u: &mut Unstructured<'a>,
    id: u64,
) -> arbitrary::Result<HandoffReq<'a, A>> {
    Ok(HandoffReq {
        id,
        client: endpoint(u)?,
        vip: endpoint(u)?,
        backend: endpoint(u)?,
        client_isn: u.arbitrary()?,
        frontend_isn: u.arbitrary()?,
        client_tsval: u.arbitrary()?,
        frontend_tsval: u.arbitrary()?,
        client_window: u.arbitrary()?,
        mss: u.arbitrary()?,
        client_wscale: u.arbitrary()?,
        frontend_wscale: u.arbitrary()?,
        options: u.arbitrary()?,
        data: u.bytes(u.len())?,
    })
}

fn roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((msg, seq, room)) = message(&mut u) else {
        return;
    };
    let need = HEADER_LEN + ref_payload_len(&msg);
    // A buffer of any size up to a little more than the frame, filled with
    // a pattern that must survive past the frame.
    let size = room % (need + 8);
    let mut buf = vec![0xa5; size];
    match encode(&msg, seq, &mut buf) {
        Ok(n) => {
            assert!(size >= need);
            assert_eq!(n, need);
            assert!(buf[n..].iter().all(|&b| b == 0xa5), "wrote past the frame");
        }
        Err(EncodeError::NoSpace) => {
            assert!(size < need);
            assert!(buf.iter().all(|&b| b == 0xa5), "wrote into a short buffer");
            return;
        }
    }
    // Room for a tag: the flag set, nothing else touched, the tag zeroed,
    // and the header tells the new length.
    let mut tagged = buf[..need].to_vec();
    tagged.resize(need + MAC_LEN, 0x5a);
    assert_eq!(add_mac_room(&mut tagged, need), Ok(need + MAC_LEN));
    assert_eq!(tagged[7], buf[7] | flag::MAC as u8);
    assert_eq!((&tagged[..7], &tagged[8..need]), (&buf[..7], &buf[8..need]));
    assert!(tagged[need..].iter().all(|&b| b == 0));
    let th = decode_header(&tagged).expect("tagged header");
    assert!(th.has_mac());
    assert_eq!(th.frame_len(), need + MAC_LEN);
    assert_eq!(
        add_mac_room(&mut tagged[..need + MAC_LEN - 1], need),
        Err(EncodeError::NoSpace)
    );

    let frame = &buf[..need];
    let hdr = decode_header(frame).expect("own header");
    assert_eq!(hdr.seq(), seq);
    assert!(!hdr.has_mac());
    assert_eq!(hdr.payload_len(), need - HEADER_LEN);
    match decode(&hdr, &frame[HEADER_LEN..]) {
        Ok(back) => {
            assert!(ref_valid(&msg), "decoded invalid {msg:?}");
            assert_eq!(back, msg);
        }
        Err(e) => {
            assert!(!ref_valid(&msg), "refused valid {msg:?}: {e:?}");
            assert_eq!(e, DecodeError::BadField);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    stream(data);
    roundtrip(data);
});

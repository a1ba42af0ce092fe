// SPDX-License-Identifier: GPL-2.0

//! The control-channel codec (`src/proto/ctrl.rs`) and the peer checks of
//! `src/proto/config.rs`.

use baton_proto::seq::Translation;
use baton_proto::{
    cluster::{View, MAX_MEMBERS},
    config::{check_node_id, check_peer_add, nla_iter, PeerConf, PeerError, MAX_PEERS},
    ctrl::{
        add_mac_room, cap, decode, decode_header, encode, flag, handoff_req_fixed, msg_type,
        opt_bits, reason, replica_end_len, replica_len, session_boot_info, session_info,
        takeover_len, DecodeError, Endpoint, GroupView, HandoffAck, HandoffCopy, HandoffReq,
        Heartbeat, Hello, IdReason, Message, MoveAck, MoveReq, Replica, ReplicaEnd, SeqCheck,
        Takeover, Wire, HANDOFF_REQ_FIXED, HEADER_LEN, HELLO_BOOT_LEN, HELLO_LEN, MAC_LEN,
        MAX_PAYLOAD, MOVE_DATA_MAX, NONCE_LEN, REPLICA_END_LEN, REPLICA_LEN, SESSION_INFO_LEN,
        SESSION_LABEL, TAKEOVER_LEN, VIEW_FIXED,
    },
    packet::V6,
    service::Ip,
};
use proptest::prelude::*;

fn frame(msg: &Message<'_>, seq: u32) -> Vec<u8> {
    let mut buf = vec![0; HEADER_LEN + MAX_PAYLOAD];
    let n = encode(msg, seq, &mut buf).expect("fits");
    buf.truncate(n);
    buf
}

/// Decodes a frame as a channel without a key does: a tag is refused.
fn roundtrip(bytes: &[u8]) -> Result<(Message<'_>, u32), DecodeError> {
    let h = decode_header(bytes)?;
    if h.has_mac() {
        return Err(DecodeError::UnexpectedMac);
    }
    let payload = bytes
        .get(HEADER_LEN..HEADER_LEN + h.payload_len())
        .ok_or(DecodeError::Short)?;
    Ok((decode(&h, payload)?, h.seq()))
}

#[test]
fn hello_wire_format() {
    let bytes = frame(
        &Message::Hello(Hello {
            node_id: 0x0102_0304,
            capabilities: cap::AUTH,
            nonce: [0xa5; NONCE_LEN],
            boot_id: 0,
        }),
        7,
    );
    let mut want = vec![
        b'B', b'A', b'T', b'N', 1, 1, 0, 0, 0, 0, 0, 24, 0, 0, 0, 7, // header
        1, 2, 3, 4, 0, 0, 0, 1, // node id, capabilities
    ];
    want.extend_from_slice(&[0xa5; NONCE_LEN]);
    assert_eq!(bytes, want);
}

#[test]
fn heartbeat_wire_format() {
    let bytes = frame(&Message::Heartbeat(Heartbeat { sent_ms: 0x1122 }), 0);
    assert_eq!(&bytes[4..8], &[1, 2, 0, 0]);
    assert_eq!(&bytes[16..], &[0, 0, 0, 0, 0, 0, 0x11, 0x22]);
}

#[test]
fn refusals() {
    let good = frame(&Message::Heartbeat(Heartbeat { sent_ms: 1 }), 0);
    let with = |i: usize, v: u8| {
        let mut b = good.clone();
        b[i] = v;
        roundtrip(&b).unwrap_err()
    };
    assert_eq!(roundtrip(&good[..10]).unwrap_err(), DecodeError::Short);
    assert_eq!(with(0, b'X'), DecodeError::BadMagic);
    assert_eq!(with(4, 2), DecodeError::BadVersion(2));
    // A HANDOFF_REQ header with a heartbeat's 8-byte payload.
    assert_eq!(with(5, 3), DecodeError::BadLength);
    assert_eq!(with(5, 15), DecodeError::BadLength, "HANDOFF_REQ6");
    assert_eq!(with(5, 24), DecodeError::UnknownType(24));
    assert_eq!(with(5, 0), DecodeError::UnknownType(0));
    assert_eq!(with(7, 2), DecodeError::BadFlags);
    assert_eq!(with(6, 0x80), DecodeError::BadFlags);
    assert_eq!(with(7, 1), DecodeError::UnexpectedMac, "a tag is flagged");
    assert_eq!(with(9, 1), DecodeError::TooLong);
    assert_eq!(with(11, 9), DecodeError::Short);
    // A length that is in bounds but wrong for the type.
    let mut b = good.clone();
    b[11] = 4;
    let h = decode_header(&b).unwrap();
    assert_eq!(decode(&h, &b[16..20]).unwrap_err(), DecodeError::BadLength);
    // HELLO from node 0.
    let mut hello = frame(
        &Message::Hello(Hello {
            node_id: 1,
            capabilities: 0,
            nonce: [7; NONCE_LEN],
            boot_id: 0,
        }),
        0,
    );
    hello[19] = 0;
    assert_eq!(roundtrip(&hello).unwrap_err(), DecodeError::BadField);
    // Capability bits this version does not know (a later one's): kept,
    // and nothing else of them.
    hello[19] = 1;
    hello[20] = 0x80;
    hello[23] = 0x40;
    match roundtrip(&hello) {
        Ok((Message::Hello(h), 0)) => {
            assert_eq!(h.capabilities, 0x8000_0040);
            assert_eq!(h.capabilities & cap::ALL, 0);
        }
        other => panic!("{other:?}"),
    }
    // A HELLO never carries a tag: the session key needs both HELLOs.
    hello[20] = 0;
    hello[23] = 0;
    let mut tagged = hello_buf(&hello);
    assert_eq!(
        add_mac_room(&mut tagged, hello.len()),
        Ok(hello.len() + MAC_LEN)
    );
    let h = decode_header(&tagged).unwrap();
    assert!(h.has_mac());
    assert_eq!(h.frame_len(), hello.len() + MAC_LEN);
    assert_eq!(
        decode(&h, &tagged[HEADER_LEN..hello.len()]).unwrap_err(),
        DecodeError::UnexpectedMac
    );
    // AUTH is empty.
    let mut auth = frame(&Message::Auth, 1);
    assert_eq!(auth.len(), HEADER_LEN);
    auth.push(0);
    auth[11] = 1;
    assert_eq!(roundtrip(&auth).unwrap_err(), DecodeError::BadLength);
}

/// `frame` with room for a tag.
fn hello_buf(frame: &[u8]) -> Vec<u8> {
    let mut b = frame.to_vec();
    b.resize(frame.len() + MAC_LEN, 0xee);
    b
}

#[test]
fn mac_room_sets_the_flag_and_clears_the_tag() {
    let mut buf = frame(&Message::Heartbeat(Heartbeat { sent_ms: 9 }), 3);
    let body = buf.len();
    assert_eq!(
        add_mac_room(&mut buf, body),
        Err(baton_proto::ctrl::EncodeError::NoSpace)
    );
    buf.resize(body + MAC_LEN, 0xff);
    assert_eq!(add_mac_room(&mut buf, body), Ok(body + MAC_LEN));
    assert_eq!(u16::from_be_bytes([buf[6], buf[7]]), flag::MAC);
    assert_eq!(&buf[body..], &[0; MAC_LEN]);
    let h = decode_header(&buf).unwrap();
    assert_eq!((h.has_mac(), h.frame_len(), h.seq()), (true, buf.len(), 3));
    assert_eq!(
        decode(&h, &buf[HEADER_LEN..body]),
        Ok(Message::Heartbeat(Heartbeat { sent_ms: 9 }))
    );
}

#[test]
fn hello_with_boot_id() {
    let hello = Hello {
        node_id: 9,
        capabilities: cap::AUTH | cap::BOOT,
        nonce: [3; NONCE_LEN],
        boot_id: 0x1122_3344_5566_7788,
    };
    let mut buf = [0u8; 64];
    let n = encode(&Message::Hello(hello), 0, &mut buf).unwrap();
    assert_eq!(n, HEADER_LEN + HELLO_BOOT_LEN);
    assert_eq!(
        &buf[HEADER_LEN + HELLO_LEN..n],
        &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
    );
    let hdr = decode_header(&buf[..n]).unwrap();
    assert_eq!(decode(&hdr, &buf[HEADER_LEN..n]), Ok(Message::Hello(hello)));
    // The capability without the 8 bytes, the bytes without the
    // capability, and a boot id of 0 are refused.
    let short = Hello {
        capabilities: cap::AUTH,
        boot_id: 0,
        ..hello
    };
    let m = encode(&Message::Hello(short), 0, &mut buf).unwrap();
    assert_eq!(m, HEADER_LEN + HELLO_LEN);
    buf[HEADER_LEN + 7] |= cap::BOOT as u8;
    let hdr = decode_header(&buf[..m]).unwrap();
    assert_eq!(
        decode(&hdr, &buf[HEADER_LEN..m]),
        Err(DecodeError::BadLength)
    );
    let zero = Hello {
        boot_id: 0,
        ..hello
    };
    let n = encode(&Message::Hello(zero), 0, &mut buf).unwrap();
    let hdr = decode_header(&buf[..n]).unwrap();
    assert_eq!(
        decode(&hdr, &buf[HEADER_LEN..n]),
        Err(DecodeError::BadField)
    );
}

#[test]
fn session_boot_info_only_when_both_have_one() {
    let i = Hello {
        node_id: 1,
        capabilities: cap::AUTH | cap::BOOT,
        nonce: [1; NONCE_LEN],
        boot_id: 0x0101_0101_0101_0101,
    };
    let a = Hello {
        node_id: 2,
        capabilities: cap::AUTH | cap::BOOT,
        nonce: [2; NONCE_LEN],
        boot_id: 0x0202_0202_0202_0202,
    };
    let (both, len) = session_boot_info(&i, &a);
    assert_eq!(len, 16);
    assert_eq!(&both[..8], &[1; 8]);
    assert_eq!(&both[8..], &[2; 8]);
    let old = Hello {
        capabilities: cap::AUTH,
        boot_id: 0,
        ..a
    };
    assert_eq!(session_boot_info(&i, &old).1, 0, "a peer without boot ids");
    assert_eq!(session_boot_info(&old, &i).1, 0);
}

#[test]
fn session_info_layout() {
    let i = Hello {
        node_id: 1,
        capabilities: cap::AUTH,
        nonce: [1; NONCE_LEN],
        boot_id: 0,
    };
    let a = Hello {
        node_id: 0x0203_0405,
        capabilities: cap::AUTH,
        nonce: [2; NONCE_LEN],
        boot_id: 0,
    };
    let info = session_info(&i, &a);
    assert_eq!(info.len(), SESSION_INFO_LEN);
    assert_eq!(&info[..13], b"baton-ctrl-v1");
    assert_eq!(&info[..13], &SESSION_LABEL);
    assert_eq!(&info[13..29], &[1; NONCE_LEN]);
    assert_eq!(&info[29..45], &[2; NONCE_LEN]);
    assert_eq!(&info[45..], &[0, 0, 0, 1, 2, 3, 4, 5]);
    assert_ne!(info, session_info(&a, &i), "roles are not interchangeable");
}

#[test]
fn sequence_numbers() {
    let mut check = SeqCheck::new();
    assert_eq!(check.check(0), Ok(()));
    assert_eq!(check.check(1), Ok(()));
    assert_eq!(check.check(1), Err(DecodeError::OutOfOrder), "replay");
    assert_eq!(check.check(3), Err(DecodeError::OutOfOrder), "gap");
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    (
        (1u8..224).prop_filter("not loopback", |a| *a != 127),
        any::<[u8; 3]>(),
        1u16..,
    )
        .prop_map(|(a, [b, c, d], port)| Endpoint {
            addr: [a, b, c, d],
            port,
        })
}

fn handoff_req() -> impl Strategy<Value = Message<'static>> {
    (
        (any::<u64>(), endpoint(), endpoint(), endpoint()),
        any::<[u32; 4]>(),
        (
            any::<u16>(),
            64u16..,
            0u8..=14,
            0u8..=14,
            0u8..=opt_bits::ALL,
        ),
        proptest::collection::vec(any::<u8>(), 0..2000),
    )
        .prop_map(
            |((id, client, vip, backend), isn_ts, (win, mss, cws, fws, options), data)| {
                Message::HandoffReq(HandoffReq {
                    id,
                    client,
                    vip,
                    backend,
                    client_isn: isn_ts[0],
                    frontend_isn: isn_ts[1],
                    client_tsval: isn_ts[2],
                    frontend_tsval: isn_ts[3],
                    client_window: win,
                    mss,
                    client_wscale: cws,
                    frontend_wscale: fws,
                    options,
                    data: Box::leak(data.into_boxed_slice()),
                })
            },
        )
}

fn message() -> impl Strategy<Value = Message<'static>> {
    prop_oneof![
        handoff_req(),
        (handoff_req(), 1u32..).prop_map(|(m, backend_node)| match m {
            Message::HandoffReq(req) => Message::HandoffCopy(HandoffCopy {
                backend_node,
                req: HandoffReq {
                    options: req.options & !opt_bits::RESUME,
                    ..req
                },
            }),
            other => other,
        }),
        any::<u64>().prop_map(Message::CopyAck),
        (any::<u64>(), any::<u32>(), any::<u32>(), 0u8..=14).prop_map(|(id, isn, ts, ws)| {
            Message::HandoffAck(HandoffAck {
                id,
                backend_isn: isn,
                backend_tsval: ts,
                backend_wscale: ws,
            })
        }),
        (any::<u64>(), 0u8..=reason::MAX)
            .prop_map(|(id, reason)| Message::HandoffNack(IdReason { id, reason })),
        (any::<u64>(), 0u8..=reason::MAX)
            .prop_map(|(id, reason)| Message::ConnEnd(IdReason { id, reason })),
        (1u32.., 0..=cap::ALL, any::<[u8; NONCE_LEN]>(), 1u64..).prop_map(
            |(node_id, capabilities, nonce, boot)| Message::Hello(Hello {
                node_id,
                capabilities,
                nonce,
                boot_id: if capabilities & cap::BOOT != 0 {
                    boot
                } else {
                    0
                },
            })
        ),
        Just(Message::Auth),
        any::<u64>().prop_map(|sent_ms| Message::Heartbeat(Heartbeat { sent_ms })),
        (
            1u64..,
            proptest::collection::btree_set(1u32.., 1..=MAX_MEMBERS),
            any::<u32>(),
            any::<u32>()
        )
            .prop_map(|(epoch, members, active, common)| Message::View(GroupView {
                view: View::announced(epoch, members).expect("a valid view"),
                active,
                common,
            })),
        (
            any::<u64>(),
            (endpoint(), endpoint(), endpoint()),
            1u32..,
            (any::<u32>(), any::<u32>(), 0u8..=14, 0u8..=14),
            0u8..=1
        )
            .prop_map(|(id, (client, vip, backend), backend_node, x, flags)| {
                Message::Replica(Replica {
                    id,
                    client,
                    vip,
                    backend,
                    backend_node,
                    xlate: Translation {
                        seq_delta: x.0,
                        ts_delta: x.1,
                        frontend_wscale: x.2,
                        backend_wscale: x.3,
                    },
                    flags,
                })
            }),
        (
            any::<u64>(),
            endpoint(),
            endpoint(),
            prop_oneof![Just(reason::CLOSED), Just(reason::IDLE)]
        )
            .prop_map(|(id, client, vip, reason)| Message::ReplicaEnd(ReplicaEnd {
                id,
                client,
                vip,
                reason,
            })),
        message6(),
        moves(),
    ]
}

/// MOVE_REQ (either family), MOVE_ACK and MOVE_NACK.
fn moves() -> impl Strategy<Value = Message<'static>> {
    let handshake = opt_bits::SACK | opt_bits::TIMESTAMPS | opt_bits::WSCALE;
    prop_oneof![
        (
            any::<u64>(),
            endpoint(),
            endpoint(),
            any::<u32>(),
            any::<u32>()
        )
            .prop_map(|(id, client, backend, seq, ack)| Message::MoveReq(MoveReq {
                id,
                client,
                backend,
                seq,
                ack,
            })),
        (
            any::<u64>(),
            endpoint6(),
            endpoint6(),
            any::<u32>(),
            any::<u32>()
        )
            .prop_map(
                |(id, client, backend, seq, ack)| Message::MoveReq6(MoveReq {
                    id,
                    client,
                    backend,
                    seq,
                    ack,
                })
            ),
        (
            any::<u64>(),
            64u16..,
            0u8..=14,
            0..=handshake,
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(move |(id, mss, client_wscale, options, data)| {
                Message::MoveAck(
                    MoveAck {
                        id,
                        mss,
                        client_wscale,
                        options: options & handshake,
                    },
                    Vec::leak(data),
                )
            }),
        (any::<u64>(), 0u8..=reason::MAX)
            .prop_map(|(id, reason)| Message::MoveNack(IdReason { id, reason })),
    ]
}

/// MOVE_REQ, MOVE_ACK and MOVE_NACK as control.rst lays them out, and what
/// their decoders refuse.
#[test]
fn move_layouts_and_refusals() {
    let client = Endpoint {
        addr: [198, 18, 0, 1],
        port: 40000,
    };
    let backend = Endpoint {
        addr: [198, 18, 1, 2],
        port: 8080,
    };
    let m = MoveReq {
        id: 7,
        client,
        backend,
        seq: 0x0102_0304,
        ack: 0x0a0b_0c0d,
    };
    let f = frame(&Message::MoveReq(m), 0);
    let p = &f[HEADER_LEN..];
    assert_eq!(f[5], msg_type::MOVE_REQ);
    assert_eq!(p.len(), 28);
    assert_eq!(&p[..8], &7u64.to_be_bytes());
    assert_eq!(&p[8..14], &[198, 18, 0, 1, 0x9c, 0x40]);
    assert_eq!(&p[14..20], &[198, 18, 1, 2, 0x1f, 0x90]);
    assert_eq!(&p[20..28], &[1, 2, 3, 4, 10, 11, 12, 13]);
    assert_eq!(roundtrip(&f), Ok((Message::MoveReq(m), 0)));
    // A port 0 is no connection's.
    let mut bad = f.clone();
    bad[HEADER_LEN + 18..HEADER_LEN + 20].fill(0);
    assert_eq!(roundtrip(&bad), Err(DecodeError::BadField));
    // One byte short of the layout.
    let short = typed_frame(msg_type::MOVE_REQ, &p[..27]);
    assert_eq!(roundtrip(&short), Err(DecodeError::BadLength));
    // The IPv6 type: 18-byte endpoints.
    let m6 = MoveReq {
        id: 7,
        client: Endpoint {
            addr: [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            port: 40000,
        },
        backend: Endpoint {
            addr: [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            port: 8080,
        },
        seq: 1,
        ack: 2,
    };
    let f6 = frame(&Message::MoveReq6(m6), 3);
    assert_eq!(f6.len(), HEADER_LEN + 52);
    assert_eq!(roundtrip(&f6), Ok((Message::MoveReq6(m6), 3)));
    assert!(Message::MoveReq6(m6).is_ipv6() && !Message::MoveReq(m).is_ipv6());

    let a = MoveAck {
        id: 9,
        mss: 1460,
        client_wscale: 7,
        options: opt_bits::SACK | opt_bits::TIMESTAMPS | opt_bits::WSCALE,
    };
    let f = frame(&Message::MoveAck(a, &[]), 1);
    let p = f[HEADER_LEN..].to_vec();
    assert_eq!(p, [0, 0, 0, 0, 0, 0, 0, 9, 0x05, 0xb4, 7, 7, 0, 0, 0, 0]);
    assert_eq!(roundtrip(&f), Ok((Message::MoveAck(a, &[]), 1)));
    assert_eq!(Message::MoveAck(a, &[]).required_caps(), 0);
    // With the old server's unread bytes: their length, then them; only
    // for a peer that takes them.
    let f = frame(&Message::MoveAck(a, b"GET / HTTP/1.1\r\n\r\n"), 4);
    assert_eq!(f.len(), HEADER_LEN + 16 + 18);
    assert_eq!(f[HEADER_LEN + 12..HEADER_LEN + 16], [0, 0, 0, 18]);
    assert_eq!(
        roundtrip(&f),
        Ok((Message::MoveAck(a, b"GET / HTTP/1.1\r\n\r\n"), 4))
    );
    assert_eq!(Message::MoveAck(a, b"x").required_caps(), cap::MOVE_DATA);
    // A length that is not the payload's, or above the most.
    let mut q = f[HEADER_LEN..].to_vec();
    q[15] = 17;
    assert_eq!(
        roundtrip(&typed_frame(msg_type::MOVE_ACK, &q)),
        Err(DecodeError::BadLength)
    );
    let mut q = p.clone();
    q[12..16].copy_from_slice(&(MOVE_DATA_MAX as u32 + 1).to_be_bytes());
    q.resize(16 + MOVE_DATA_MAX + 1, b'x');
    assert_eq!(
        roundtrip(&typed_frame(msg_type::MOVE_ACK, &q)),
        Err(DecodeError::BadField)
    );
    let mut q = p.clone();
    q[12..16].copy_from_slice(&(MOVE_DATA_MAX as u32).to_be_bytes());
    q.resize(16 + MOVE_DATA_MAX, b'x');
    assert!(roundtrip(&typed_frame(msg_type::MOVE_ACK, &q)).is_ok());
    let refused = |at: usize, v: u8| {
        let mut q = p.clone();
        q[at] = v;
        if at == 9 {
            q[8] = 0;
        }
        roundtrip(&typed_frame(msg_type::MOVE_ACK, &q)).err()
    };
    // An MSS below 64, a shift above 14, FIN or RESUME among the options,
    // a data length without its data.
    assert_eq!(refused(9, 64), None);
    assert_eq!(refused(9, 63), Some(DecodeError::BadField));
    assert_eq!(refused(10, 15), Some(DecodeError::BadField));
    assert_eq!(refused(11, opt_bits::FIN), Some(DecodeError::BadField));
    assert_eq!(refused(11, opt_bits::RESUME), Some(DecodeError::BadField));
    assert_eq!(refused(15, 1), Some(DecodeError::BadLength));

    let n = IdReason {
        id: 9,
        reason: reason::BUSY,
    };
    let f = frame(&Message::MoveNack(n), 2);
    assert_eq!(f[5], msg_type::MOVE_NACK);
    assert_eq!(roundtrip(&f), Ok((Message::MoveNack(n), 2)));
    let mut q = f[HEADER_LEN..].to_vec();
    q[8] = reason::MAX + 1;
    assert_eq!(
        roundtrip(&typed_frame(msg_type::MOVE_NACK, &q)),
        Err(DecodeError::BadField)
    );
}

/// An IPv6 host endpoint: a global unicast address (2000::/3), any port
/// but 0.
fn endpoint6() -> impl Strategy<Value = Endpoint<V6>> {
    (any::<[u8; 16]>(), 1u16..).prop_map(|(mut addr, port)| {
        addr[0] = 0x20 | (addr[0] & 0x1f);
        Endpoint { addr, port }
    })
}

/// The IPv6 types, made from IPv4 messages of the same fields with IPv6
/// endpoints.
fn message6() -> impl Strategy<Value = Message<'static>> {
    (
        handoff_req(),
        (endpoint6(), endpoint6(), endpoint6()),
        1u32..,
        0usize..5,
    )
        .prop_map(|(m, (client, vip, backend), node, kind)| {
            let Message::HandoffReq(r) = m else {
                unreachable!()
            };
            let req = HandoffReq {
                id: r.id,
                client,
                vip,
                backend,
                client_isn: r.client_isn,
                frontend_isn: r.frontend_isn,
                client_tsval: r.client_tsval,
                frontend_tsval: r.frontend_tsval,
                client_window: r.client_window,
                mss: r.mss,
                client_wscale: r.client_wscale,
                frontend_wscale: r.frontend_wscale,
                options: r.options,
                data: r.data,
            };
            let xlate = Translation {
                seq_delta: r.client_isn,
                ts_delta: r.frontend_isn,
                frontend_wscale: r.client_wscale,
                backend_wscale: r.frontend_wscale,
            };
            match kind {
                0 => Message::HandoffReq6(req),
                1 => Message::HandoffCopy6(HandoffCopy {
                    backend_node: node,
                    req: HandoffReq {
                        options: req.options & !opt_bits::RESUME,
                        ..req
                    },
                }),
                2 => Message::Replica6(Replica {
                    id: r.id,
                    client,
                    vip,
                    backend,
                    backend_node: node,
                    xlate,
                    flags: r.options & 1,
                }),
                3 => Message::ReplicaEnd6(ReplicaEnd {
                    id: r.id,
                    client,
                    vip,
                    reason: reason::IDLE,
                }),
                _ => Message::Takeover6(Takeover {
                    old_id: r.id,
                    new_id: r.id ^ 1,
                    client,
                    backend,
                }),
            }
        })
}

/// The messages [`Wire`] makes for a family, and their frame types.
fn wire_types<A: Wire>(e: Endpoint<A>) -> [u8; 6] {
    let req = HandoffReq {
        id: 7,
        client: e,
        vip: e,
        backend: e,
        client_isn: 1,
        frontend_isn: 2,
        client_tsval: 0,
        frontend_tsval: 0,
        client_window: 1000,
        mss: 1400,
        client_wscale: 7,
        frontend_wscale: 7,
        options: 0,
        data: b"",
    };
    let m = MoveReq {
        id: 7,
        client: e,
        backend: e,
        seq: 1,
        ack: 2,
    };
    let xlate = Translation {
        seq_delta: 1,
        ts_delta: 0,
        frontend_wscale: 7,
        backend_wscale: 7,
    };
    [
        A::handoff_req(req).msg_type(),
        A::move_req(m).msg_type(),
        A::handoff_copy(HandoffCopy {
            backend_node: 3,
            req,
        })
        .msg_type(),
        A::replica(Replica {
            id: 7,
            client: e,
            vip: e,
            backend: e,
            backend_node: 3,
            xlate,
            flags: 0,
        })
        .msg_type(),
        A::replica_end(ReplicaEnd {
            id: 7,
            client: e,
            vip: e,
            reason: reason::CLOSED,
        })
        .msg_type(),
        A::takeover(Takeover {
            old_id: 7,
            new_id: 8,
            client: e,
            backend: e,
        })
        .msg_type(),
    ]
}

/// A sender generic over the family (the kernel's replica.rs) gets each
/// family's own types: an IPv6 copy never goes out in an IPv4 frame.
#[test]
fn wire_makes_each_familys_types() {
    let v4 = Endpoint {
        addr: [198, 18, 0, 1],
        port: 80,
    };
    let v6 = Endpoint {
        addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        port: 80,
    };
    assert_eq!(
        wire_types(v4),
        [
            msg_type::HANDOFF_REQ,
            msg_type::MOVE_REQ,
            msg_type::HANDOFF_COPY,
            msg_type::REPLICA,
            msg_type::REPLICA_END,
            msg_type::TAKEOVER
        ]
    );
    assert_eq!(
        wire_types(v6),
        [
            msg_type::HANDOFF_REQ6,
            msg_type::MOVE_REQ6,
            msg_type::HANDOFF_COPY6,
            msg_type::REPLICA6,
            msg_type::REPLICA_END6,
            msg_type::TAKEOVER6
        ]
    );
}

/// The IPv6 types' layouts: the IPv4 ones with 18-byte endpoints.
#[test]
fn ipv6_layouts() {
    assert_eq!(
        (
            HANDOFF_REQ_FIXED,
            REPLICA_LEN,
            REPLICA_END_LEN,
            TAKEOVER_LEN
        ),
        (60, 44, 24, 32)
    );
    assert_eq!(
        (
            handoff_req_fixed::<V6>(),
            replica_len::<V6>(),
            replica_end_len::<V6>(),
            takeover_len::<V6>()
        ),
        (96, 80, 48, 56)
    );
    let a6 = |last: u8| {
        let mut a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        a[15] = last;
        a
    };
    let ep = |last, port| Endpoint {
        addr: a6(last),
        port,
    };
    let req = HandoffReq {
        id: 0x0102_0304_0506_0708,
        client: ep(1, 40_000),
        vip: ep(2, 80),
        backend: ep(3, 8080),
        client_isn: 0x1111_1111,
        frontend_isn: 0x2222_2222,
        client_tsval: 0x3333_3333,
        frontend_tsval: 0x4444_4444,
        client_window: 0x5555,
        mss: 1440,
        client_wscale: 7,
        frontend_wscale: 9,
        options: opt_bits::SACK | opt_bits::TIMESTAMPS,
        data: b"GET /",
    };
    let bytes = frame(&Message::HandoffReq6(req), 3);
    assert_eq!(bytes[5], msg_type::HANDOFF_REQ6);
    let p = &bytes[HEADER_LEN..];
    assert_eq!(p.len(), 96 + 5);
    assert_eq!(p[8..24], a6(1));
    assert_eq!(p[24..26], 40_000u16.to_be_bytes());
    assert_eq!(p[26..42], a6(2));
    assert_eq!(p[44..60], a6(3));
    assert_eq!(p[60..62], 8080u16.to_be_bytes());
    assert_eq!(p[62..66], [0x11; 4]);
    assert_eq!(p[78..80], 0x5555u16.to_be_bytes());
    assert_eq!(p[80..82], 1440u16.to_be_bytes());
    assert_eq!((p[82], p[83], p[84]), (7, 9, 3));
    assert_eq!(p[85..92], [0; 7], "reserved, backend_node 0");
    assert_eq!(p[92..96], 5u32.to_be_bytes());
    assert_eq!(&p[96..], b"GET /");
    assert_eq!(roundtrip(&bytes), Ok((Message::HandoffReq6(req), 3)));
    assert!(Message::HandoffReq6(req).is_ipv6());
    assert!(!Message::HandoffReq(sample_req(1, 0, b"")).is_ipv6());
}

/// Addresses no host has are refused in the IPv6 types: unspecified,
/// loopback, multicast, IPv4-mapped; and port 0.
#[test]
fn ipv6_endpoints_are_checked() {
    let good = Endpoint {
        addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9],
        port: 80,
    };
    let end = |client: Endpoint<V6>| {
        Message::ReplicaEnd6(ReplicaEnd {
            id: 1,
            client,
            vip: good,
            reason: reason::CLOSED,
        })
    };
    assert!(roundtrip(&frame(&end(good), 0)).is_ok());
    let mut mapped = [0u8; 16];
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    mapped[12..].copy_from_slice(&[198, 18, 0, 1]);
    let mut loopback = [0u8; 16];
    loopback[15] = 1;
    let mut multicast = good.addr;
    multicast[0] = 0xff;
    for addr in [[0; 16], loopback, multicast, mapped] {
        let bad = Endpoint { addr, port: 80 };
        assert_eq!(
            roundtrip(&frame(&end(bad), 0)).unwrap_err(),
            DecodeError::BadField,
            "{addr:?}"
        );
    }
    let port0 = Endpoint { port: 0, ..good };
    assert_eq!(
        roundtrip(&frame(&end(port0), 0)).unwrap_err(),
        DecodeError::BadField
    );
}

proptest! {
    #[test]
    fn encode_decode_roundtrip(msg in message(), seq in any::<u32>()) {
        let bytes = frame(&msg, seq);
        prop_assert_eq!(roundtrip(&bytes), Ok((msg, seq)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = roundtrip(&bytes);
    }

    #[test]
    fn corrupted_frames_are_refused_or_valid(
        msg in message(), seq in any::<u32>(), at in 0usize..24, bits in 1u8..,
    ) {
        let mut bytes = frame(&msg, seq);
        let at = at % bytes.len();
        bytes[at] ^= bits;
        if let Ok((m, s)) = roundtrip(&bytes) {
            // Only payload or seq bytes can change without a refusal, or
            // the type byte when it lands on a type of the same layout
            // (HANDOFF_NACK and CONN_END); what decodes re-encodes to the
            // same bytes.
            prop_assert!(at >= 12 || (at == 5 && m.msg_type() != msg.msg_type()));
            prop_assert_eq!(frame(&m, s), bytes);
        }
    }

    #[test]
    fn nla_iter_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        for (_, payload) in nla_iter(&bytes) {
            prop_assert!(payload.len() <= bytes.len());
        }
    }
}

#[test]
fn nla_iter_walks_aligned_attributes() {
    // Attribute 1: u16 (len 6, padded to 8); attribute 2: u32.
    let bytes = [6, 0, 1, 0, 0x34, 0x12, 0, 0, 8, 0, 2, 0, 1, 0, 0, 0];
    let got: Vec<(u16, &[u8])> = nla_iter(&bytes).collect();
    assert_eq!(got, [(1, &[0x34, 0x12][..]), (2, &[1, 0, 0, 0][..])]);
    // A header claiming more than there is ends the walk.
    assert_eq!(nla_iter(&[9, 0, 1, 0, 0]).count(), 0);
}

fn peer(node_id: u32, addr: impl Into<Ip>) -> PeerConf {
    PeerConf {
        node_id,
        addr: addr.into(),
        port: 7300,
    }
}

/// `2001:db8::` followed by `tail` in the last bytes.
fn v6(tail: &[u8]) -> Ip {
    let mut a = [0u8; 16];
    a[0..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    a[16 - tail.len()..].copy_from_slice(tail);
    Ip::V6(a)
}

#[test]
fn peer_checks() {
    let a = [198, 18, 0, 2];
    let peers = [peer(2, a)];
    assert_eq!(check_peer_add(&[], 1, &peer(2, a)), Ok(()));
    assert_eq!(check_peer_add(&[], 1, &peer(0, a)), Err(PeerError::ZeroId));
    assert_eq!(check_peer_add(&[], 1, &peer(1, a)), Err(PeerError::OwnId));
    assert_eq!(
        check_peer_add(&peers, 1, &peer(2, a)),
        Err(PeerError::Exists)
    );
    for bad in [[0, 0, 0, 0], [127, 0, 0, 1], [224, 0, 0, 1], [255; 4]] {
        assert_eq!(
            check_peer_add(&[], 1, &peer(3, bad)),
            Err(PeerError::BadAddr)
        );
    }
    // IPv6: unicast, global or unique-local, not mapped or link-local.
    assert_eq!(check_peer_add(&peers, 1, &peer(3, v6(&[2]))), Ok(()));
    let mut ula = [0u8; 16];
    ula[..2].copy_from_slice(&[0xfd, 0x00]);
    ula[15] = 1;
    assert_eq!(check_peer_add(&[], 1, &peer(3, Ip::V6(ula))), Ok(()));
    let bad6 = |a: [u8; 16], e| assert_eq!(check_peer_add(&[], 1, &peer(3, Ip::V6(a))), Err(e));
    let mut ll = [0u8; 16];
    ll[..2].copy_from_slice(&[0xfe, 0x80]);
    ll[15] = 1;
    bad6(ll, PeerError::LinkLocal);
    ll[1] = 0xbf;
    bad6(ll, PeerError::LinkLocal);
    let mut mapped = [0u8; 16];
    mapped[10..].copy_from_slice(&[0xff, 0xff, 198, 18, 0, 2]);
    bad6(mapped, PeerError::Mapped);
    let mut one = [0u8; 16];
    bad6(one, PeerError::BadAddr6);
    one[15] = 1;
    bad6(one, PeerError::BadAddr6);
    let mut mcast = [0u8; 16];
    mcast[..2].copy_from_slice(&[0xff, 0x02]);
    mcast[15] = 1;
    bad6(mcast, PeerError::BadAddr6);
    // fec0::/10 (the old site-local) is not link-local.
    ll[1] = 0xc0;
    assert_eq!(check_peer_add(&[], 1, &peer(3, Ip::V6(ll))), Ok(()));
    let mut p = peer(3, a);
    p.port = 0;
    assert_eq!(check_peer_add(&[], 1, &p), Err(PeerError::ZeroPort));
    let many: Vec<PeerConf> = (10..10 + MAX_PEERS as u32).map(|i| peer(i, a)).collect();
    assert_eq!(
        check_peer_add(&many, 1, &peer(3, a)),
        Err(PeerError::TooMany)
    );
    assert_eq!(check_node_id(&peers, 2), Err(PeerError::OwnId));
    assert_eq!(check_node_id(&peers, 0), Ok(()));
}

/// A HANDOFF_REQ with every field set to a distinct value.
fn sample_req(id: u64, options: u8, data: &[u8]) -> HandoffReq<'_> {
    HandoffReq {
        id,
        client: Endpoint {
            addr: [198, 18, 0, 1],
            port: 40000,
        },
        vip: Endpoint {
            addr: [198, 18, 1, 10],
            port: 80,
        },
        backend: Endpoint {
            addr: [198, 18, 0, 3],
            port: 8080,
        },
        client_isn: 1,
        frontend_isn: 2,
        client_tsval: 3,
        frontend_tsval: 4,
        client_window: 5,
        mss: 1460,
        client_wscale: 7,
        frontend_wscale: 7,
        options,
        data,
    }
}

#[test]
fn handoff_fields_are_checked() {
    let data = [7u8; 10];
    let good = sample_req(1, opt_bits::ALL, &data);
    let bytes = frame(&Message::HandoffReq(good), 0);
    assert_eq!(roundtrip(&bytes), Ok((Message::HandoffReq(good), 0)));
    let refused = |at: usize, v: u8| {
        let mut b = bytes.clone();
        b[HEADER_LEN + at] = v;
        roundtrip(&b).unwrap_err()
    };
    // Client address 0.x, multicast VIP, back-end port 0, wscale 15,
    // unknown option bit, MSS below 64, reserved byte, data_len too long.
    assert_eq!(refused(8, 0), DecodeError::BadField);
    assert_eq!(refused(14, 224), DecodeError::BadField);
    let mut b = bytes.clone();
    b[HEADER_LEN + 24..HEADER_LEN + 26].copy_from_slice(&[0, 0]);
    assert_eq!(roundtrip(&b).unwrap_err(), DecodeError::BadField);
    assert_eq!(refused(46, 15), DecodeError::BadField);
    assert_eq!(refused(48, 32), DecodeError::BadField);
    let mut b = bytes.clone();
    b[HEADER_LEN + 44..HEADER_LEN + 46].copy_from_slice(&[0, 63]);
    assert_eq!(roundtrip(&b).unwrap_err(), DecodeError::BadField);
    assert_eq!(refused(49, 1), DecodeError::BadField);
    // A request names no back-end node: that is a copy's field.
    assert_eq!(refused(55, 1), DecodeError::BadField);
    assert_eq!(refused(59, 11), DecodeError::BadLength);
    // ACK with a shift above 14, NACK with an unknown reason.
    let ack = frame(
        &Message::HandoffAck(HandoffAck {
            id: 9,
            backend_isn: 1,
            backend_tsval: 2,
            backend_wscale: 15,
        }),
        0,
    );
    assert_eq!(roundtrip(&ack).unwrap_err(), DecodeError::BadField);
    let nack = frame(
        &Message::HandoffNack(IdReason {
            id: 9,
            reason: reason::MAX + 1,
        }),
        0,
    );
    assert_eq!(roundtrip(&nack).unwrap_err(), DecodeError::BadField);
}

/// A VIEW frame's payload bytes: epoch 7, active 3, common 2, `members`.
fn view_payload(members: &[u32]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&7u64.to_be_bytes());
    p.extend_from_slice(&3u32.to_be_bytes());
    p.extend_from_slice(&2u32.to_be_bytes());
    p.extend_from_slice(&(members.len() as u32).to_be_bytes());
    for m in members {
        p.extend_from_slice(&m.to_be_bytes());
    }
    p
}

/// A frame of type VIEW (8) around `payload`, sequence 0, no tag.
fn view_frame(payload: &[u8]) -> Vec<u8> {
    typed_frame(8, payload)
}

/// A frame of type `ty` with `payload` as it is, sequence 0, no tag.
fn typed_frame(ty: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(b"BATN");
    f.extend_from_slice(&[1, ty, 0, 0]);
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(&0u32.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[test]
fn view_layout() {
    let members = [1, 2, 5];
    let view = View::announced(7, members).unwrap();
    let msg = Message::View(GroupView {
        view,
        active: 3,
        common: 2,
    });
    let bytes = frame(&msg, 0);
    assert_eq!(bytes, view_frame(&view_payload(&members)));
    assert_eq!(bytes.len(), HEADER_LEN + VIEW_FIXED + 12);
    assert_eq!(roundtrip(&bytes), Ok((msg, 0)));
}

#[test]
fn view_refuses_what_is_not_one_set() {
    let refused = |members: &[u32]| roundtrip(&view_frame(&view_payload(members))).unwrap_err();
    // Unsorted, repeated, member 0, empty.
    assert_eq!(refused(&[2, 1]), DecodeError::BadField);
    assert_eq!(refused(&[1, 1]), DecodeError::BadField);
    assert_eq!(refused(&[0, 1]), DecodeError::BadField);
    assert_eq!(refused(&[]), DecodeError::BadField);
    // 65 members.
    let many: Vec<u32> = (1..=65).collect();
    assert_eq!(refused(&many), DecodeError::BadLength);
    // Epoch 0.
    let mut p = view_payload(&[1]);
    p[..8].fill(0);
    assert_eq!(
        roundtrip(&view_frame(&p)).unwrap_err(),
        DecodeError::BadField
    );
    // The count disagrees with the length, both ways; a truncated payload.
    let mut p = view_payload(&[1, 2]);
    p[16..20].copy_from_slice(&3u32.to_be_bytes());
    assert_eq!(
        roundtrip(&view_frame(&p)).unwrap_err(),
        DecodeError::BadLength
    );
    p[16..20].copy_from_slice(&1u32.to_be_bytes());
    assert_eq!(
        roundtrip(&view_frame(&p)).unwrap_err(),
        DecodeError::BadLength
    );
    let p = view_payload(&[1]);
    assert_eq!(
        roundtrip(&view_frame(&p[..VIEW_FIXED - 1])).unwrap_err(),
        DecodeError::BadLength
    );
    // A count so large that 4 x count would overflow 32 bits.
    let mut p = view_payload(&[1]);
    p[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        roundtrip(&view_frame(&p)).unwrap_err(),
        DecodeError::BadLength
    );
}

fn replica() -> Replica {
    Replica {
        id: 0x0102_0304_0506_0708,
        client: Endpoint {
            addr: [198, 18, 0, 1],
            port: 40000,
        },
        vip: Endpoint {
            addr: [198, 18, 1, 100],
            port: 80,
        },
        backend: Endpoint {
            addr: [198, 18, 1, 5],
            port: 8080,
        },
        backend_node: 4,
        xlate: Translation {
            seq_delta: 0x1111_2222,
            ts_delta: 0x3333_4444,
            frontend_wscale: 7,
            backend_wscale: 9,
        },
        flags: 1,
    }
}

#[test]
fn replica_layout() {
    let bytes = frame(&Message::Replica(replica()), 5);
    assert_eq!(bytes.len(), HEADER_LEN + 44);
    let p = &bytes[HEADER_LEN..];
    assert_eq!(&p[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&p[8..14], &[198, 18, 0, 1, 0x9c, 0x40]);
    assert_eq!(&p[14..20], &[198, 18, 1, 100, 0, 80]);
    assert_eq!(&p[20..26], &[198, 18, 1, 5, 0x1f, 0x90]);
    assert_eq!(&p[26..30], &[0, 0, 0, 4]);
    assert_eq!(
        &p[30..38],
        &[0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44]
    );
    assert_eq!(&p[38..44], &[7, 9, 1, 0, 0, 0]);
    assert_eq!(roundtrip(&bytes), Ok((Message::Replica(replica()), 5)));
}

#[test]
fn replica_refusals() {
    let good = frame(&Message::Replica(replica()), 0);
    let refused = |at: usize, v: u8| {
        let mut b = good.clone();
        b[HEADER_LEN + at] = v;
        roundtrip(&b).unwrap_err()
    };
    // Client address 0/8, back-end node 0, shifts above 14, unknown flag,
    // reserved bytes.
    assert_eq!(refused(8, 0), DecodeError::BadField);
    let mut b = good.clone();
    b[HEADER_LEN + 26..HEADER_LEN + 30].fill(0);
    assert_eq!(roundtrip(&b).unwrap_err(), DecodeError::BadField);
    assert_eq!(refused(38, 15), DecodeError::BadField);
    assert_eq!(refused(39, 15), DecodeError::BadField);
    assert_eq!(refused(40, 2), DecodeError::BadField);
    assert_eq!(refused(43, 1), DecodeError::BadField);
    // One byte short: the header's length is the payload's.
    let mut short = good[..good.len() - 1].to_vec();
    short[8..12].copy_from_slice(&43u32.to_be_bytes());
    assert_eq!(roundtrip(&short).unwrap_err(), DecodeError::BadLength);

    let end = ReplicaEnd {
        id: 9,
        client: replica().client,
        vip: replica().vip,
        reason: reason::CLOSED,
    };
    let good = frame(&Message::ReplicaEnd(end), 0);
    assert_eq!(good.len(), HEADER_LEN + 24);
    assert_eq!(roundtrip(&good), Ok((Message::ReplicaEnd(end), 0)));
    for (at, v) in [(20, reason::TIMEOUT), (21, 1), (14, 127)] {
        let mut b = good.clone();
        b[HEADER_LEN + at] = v;
        assert_eq!(
            roundtrip(&b).unwrap_err(),
            DecodeError::BadField,
            "byte {at}"
        );
    }
}

#[test]
fn takeover_layout_and_refusals() {
    let t = Takeover {
        old_id: 0x0102_0304_0506_0708,
        new_id: 0x1112_1314_1516_1718,
        client: replica().client,
        backend: replica().backend,
    };
    let bytes = frame(&Message::Takeover(t), 3);
    assert_eq!(bytes.len(), HEADER_LEN + 32);
    let p = &bytes[HEADER_LEN..];
    assert_eq!(&p[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&p[8..16], &[0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]);
    assert_eq!(&p[16..22], &[198, 18, 0, 1, 0x9c, 0x40]);
    assert_eq!(&p[22..28], &[198, 18, 1, 5, 0x1f, 0x90]);
    assert_eq!(&p[28..], &[0, 0, 0, 0]);
    assert_eq!(roundtrip(&bytes), Ok((Message::Takeover(t), 3)));
    for (at, v) in [(16, 0), (22, 224), (27, 0), (31, 1)] {
        let mut b = bytes.clone();
        b[HEADER_LEN + at] = v;
        if at == 27 {
            // Back-end port 0.
            b[HEADER_LEN + 26] = 0;
        }
        assert_eq!(
            roundtrip(&b).unwrap_err(),
            DecodeError::BadField,
            "byte {at}"
        );
    }
}

#[test]
fn synced_layout_and_refusals() {
    let bytes = frame(&Message::Synced(0x0102_0304_0506_0708), 9);
    assert_eq!(bytes.len(), HEADER_LEN + 8);
    assert_eq!(bytes[5], 12);
    assert_eq!(&bytes[HEADER_LEN..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        roundtrip(&bytes),
        Ok((Message::Synced(0x0102_0304_0506_0708), 9))
    );
    // Epoch 0 is no epoch; a payload of any other length is refused.
    assert_eq!(
        roundtrip(&typed_frame(12, &[0; 8])).unwrap_err(),
        DecodeError::BadField
    );
    for len in [0, 7, 9, 16] {
        assert_eq!(
            roundtrip(&typed_frame(12, &vec![1; len])).unwrap_err(),
            DecodeError::BadLength,
            "{len} bytes"
        );
    }
}

#[test]
fn handoff_copy_layout_and_refusals() {
    let data = [9u8; 5];
    let req = sample_req(
        0x0a0b_0c0d_0e0f_1011,
        opt_bits::SACK | opt_bits::TIMESTAMPS,
        &data,
    );
    let copy = HandoffCopy {
        backend_node: 0x0102_0304,
        req,
    };
    let bytes = frame(&Message::HandoffCopy(copy), 3);
    // A request's layout, with the back-end node in its last reserved word.
    let as_req = frame(&Message::HandoffReq(req), 3);
    assert_eq!(bytes[5], 13);
    assert_eq!(bytes.len(), as_req.len());
    assert_eq!(&bytes[HEADER_LEN + 52..HEADER_LEN + 56], &[1, 2, 3, 4]);
    assert_eq!(&bytes[6..HEADER_LEN + 52], &as_req[6..HEADER_LEN + 52]);
    assert_eq!(&bytes[HEADER_LEN + 56..], &as_req[HEADER_LEN + 56..]);
    assert_eq!(roundtrip(&bytes), Ok((Message::HandoffCopy(copy), 3)));
    let refused = |at: usize, v: u8| {
        let mut b = bytes.clone();
        b[HEADER_LEN + at] = v;
        roundtrip(&b).unwrap_err()
    };
    // A copy names its back-end node; it never resumes; reserved bytes
    // are 0; a request's own checks hold.
    let mut b = bytes.clone();
    b[HEADER_LEN + 52..HEADER_LEN + 56].fill(0);
    assert_eq!(roundtrip(&b).unwrap_err(), DecodeError::BadField);
    assert_eq!(
        refused(48, opt_bits::SACK | opt_bits::RESUME),
        DecodeError::BadField
    );
    assert_eq!(refused(50, 1), DecodeError::BadField);
    assert_eq!(refused(8, 0), DecodeError::BadField);
    assert_eq!(refused(59, 6), DecodeError::BadLength);
    // A request may resume.
    let resume = HandoffReq {
        options: opt_bits::RESUME,
        ..req
    };
    let bytes = frame(&Message::HandoffReq(resume), 0);
    assert_eq!(roundtrip(&bytes), Ok((Message::HandoffReq(resume), 0)));
}

#[test]
fn copy_ack_layout_and_refusals() {
    let bytes = frame(&Message::CopyAck(0x0102_0304_0506_0708), 4);
    assert_eq!(bytes.len(), HEADER_LEN + 8);
    assert_eq!(bytes[5], 14);
    assert_eq!(&bytes[HEADER_LEN..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        roundtrip(&bytes),
        Ok((Message::CopyAck(0x0102_0304_0506_0708), 4))
    );
    for len in [0, 7, 9, 12] {
        assert_eq!(
            roundtrip(&typed_frame(14, &vec![1; len])).unwrap_err(),
            DecodeError::BadLength,
            "{len} bytes"
        );
    }
}

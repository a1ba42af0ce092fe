// SPDX-License-Identifier: GPL-2.0

//! The per-connection state machine of a handoff (`baton_proto::flow`):
//! keys, verdicts, rewrites of real packets (built with `packet::build`,
//! rewritten through `TcpPacket::parse(.., CsumMode::Full)`), accounting and
//! expiry.

use baton_proto::csum;
use baton_proto::ctrl::{reason, Endpoint};
use baton_proto::flow::{
    stamp, Answer, Filter, FilterError, Flow, Key, Phase, Role, Verdict, CLOSE_LINGER_MS,
    FRONT_FIN_IDLE_MS,
};
use baton_proto::packet::{
    addresses, build, flags, opt, parse, parse_in, tcp_checksum, tcp_checksum_in, BuildOptions,
    CsumMode, Family, Segment, TcpPacket, IPPROTO_TCP, V6,
};
use baton_proto::seq::Translation;
use baton_proto::uapi::{conn_attr, conn_role, conn_state};
use proptest::{collection::vec, option, prelude::*};

mod common;
use common::{be16, v6};

// ---------------------------------------------------------------------------
// Fixtures.

const CLIENT: Endpoint = Endpoint {
    addr: [198, 51, 100, 7],
    port: 40_123,
};
const VIP: Endpoint = Endpoint {
    addr: [192, 0, 2, 10],
    port: 80,
};
const BACKEND: Endpoint = Endpoint {
    addr: [10, 1, 2, 3],
    port: 8080,
};

const T0: u64 = 1_000_000;
const IDLE_MS: u64 = 300_000;

/// Translation with ISNs and TSvals on both sides of 2^32:
/// seq_delta = 0x100 - 0xffff_ff00 = 0x200, ts_delta = 0x10 - 0xffff_fff0
/// = 0x20; front-end shift 7, back-end shift 2.
fn xlate() -> Translation {
    let t = Translation::new(0xffff_ff00, 0x0000_0100, 0x0000_0010, 0xffff_fff0, 7, 2);
    assert_eq!(t.seq_delta, 0x200);
    assert_eq!(t.ts_delta, 0x20);
    t
}

fn front(phase: Phase) -> Flow {
    let mut f = Flow::new(42, 3, Role::Front, CLIENT, VIP, BACKEND, T0);
    f.phase = phase;
    if phase == Phase::Forwarding {
        f.xlate = xlate();
    }
    f
}

fn back(phase: Phase) -> Flow {
    let mut f = Flow::new(42, 1, Role::Back, CLIENT, VIP, BACKEND, T0);
    f.phase = phase;
    if phase == Phase::Established {
        f.xlate = xlate();
    }
    f
}

/// A bare RST from `from` to `to` (seq 1), as bytes.
fn rst_bytes(from: Endpoint, to: Endpoint) -> Vec<u8> {
    bytes_of(&seg(
        from,
        to,
        flags::RST,
        1,
        0,
        BuildOptions::default(),
        b"",
    ))
}

fn seg<'a, A: Family>(
    from: Endpoint<A>,
    to: Endpoint<A>,
    flags: u8,
    seq: u32,
    ack: u32,
    options: BuildOptions,
    payload: &'a [u8],
) -> Segment<'a, A> {
    Segment {
        saddr: from.addr,
        daddr: to.addr,
        sport: from.port,
        dport: to.port,
        seq,
        ack,
        flags,
        window: 0x1234,
        options,
        payload,
    }
}

fn ts(tsval: u32, tsecr: u32) -> BuildOptions {
    BuildOptions {
        timestamps: Some((tsval, tsecr)),
        ..BuildOptions::default()
    }
}

fn bytes_of<A: Family>(s: &Segment<'_, A>) -> Vec<u8> {
    let mut buf = vec![0u8; 80 + s.payload.len()];
    let n = build(s, &mut buf).expect("room enough");
    buf.truncate(n);
    buf
}

fn client_packet<A: Family>(flow: &mut Flow<A>, buf: &mut [u8], now: u64) -> Verdict {
    let mut p = TcpPacket::<A>::parse_in(buf, CsumMode::Full).expect("parses");
    flow.on_client_packet(&mut p, now)
}

fn server_packet<A: Family>(flow: &mut Flow<A>, buf: &mut [u8], now: u64) -> Verdict {
    let mut p = TcpPacket::<A>::parse_in(buf, CsumMode::Full).expect("parses");
    flow.on_server_packet(&mut p, now)
}

/// Both checksums of `buf` equal a recomputation from scratch.
#[track_caller]
fn assert_checksums(buf: &[u8]) {
    let h = parse(buf).expect("parses");
    let ihl = h.ip_header_len;
    let thl = h.tcp_header_len;
    let mut ip = buf[..ihl].to_vec();
    ip[10] = 0;
    ip[11] = 0;
    assert_eq!(be16(buf, 10), csum::checksum(&ip), "IPv4 header checksum");
    let mut tcp = buf[ihl..ihl + thl].to_vec();
    tcp[16] = 0;
    tcp[17] = 0;
    let want = tcp_checksum(&h.saddr, &h.daddr, &tcp, &buf[ihl + thl..]);
    assert_eq!(be16(buf, ihl + 16), want, "TCP checksum");
    // And the whole segment verifies.
    assert_eq!(
        tcp_checksum(&h.saddr, &h.daddr, &buf[ihl..ihl + thl], &buf[ihl + thl..]),
        0
    );
}

/// The counters and state a packet may change.
fn state(f: &Flow) -> (u32, u64, u32, bool, bool, bool, Option<u32>, Option<Answer>) {
    (
        f.packets,
        f.bytes,
        f.last_ms,
        f.fin_client,
        f.fin_server,
        f.reset,
        f.closed_at(),
        f.answer(),
    )
}

// ---------------------------------------------------------------------------
// Keys.

#[test]
fn key_of_packet_and_reply_are_equal() {
    let req = bytes_of(&seg(CLIENT, VIP, flags::ACK, 1, 2, ts(3, 4), b"GET"));
    let rep = bytes_of(&seg(VIP, CLIENT, flags::ACK, 2, 4, ts(5, 3), b"200"));
    let kin = Key::inbound(&parse(&req).unwrap());
    let kout = Key::outbound(&parse(&rep).unwrap());
    assert_eq!(kin, kout);
    assert_eq!(
        kin,
        Key {
            client: CLIENT,
            local: VIP
        }
    );
    // The other way round is a different key (client and local swapped).
    let swapped = Key::outbound(&parse(&req).unwrap());
    assert_eq!(swapped.client, VIP);
    assert_eq!(swapped.local, CLIENT);
    assert_ne!(swapped, kin);
}

#[test]
fn flow_key_front_is_client_vip_back_is_client_backend() {
    let f = front(Phase::Frozen);
    assert_eq!(
        f.key(),
        Key {
            client: CLIENT,
            local: VIP
        }
    );
    let b = back(Phase::Replaying);
    assert_eq!(
        b.key(),
        Key {
            client: CLIENT,
            local: BACKEND
        }
    );
    // The packets each node sees map to its flow's key.
    let to_vip = bytes_of(&seg(CLIENT, VIP, flags::ACK, 1, 2, ts(3, 4), b""));
    assert_eq!(Key::inbound(&parse(&to_vip).unwrap()), f.key());
    let to_backend = bytes_of(&seg(CLIENT, BACKEND, flags::ACK, 1, 2, ts(3, 4), b""));
    assert_eq!(Key::inbound(&parse(&to_backend).unwrap()), b.key());
    let from_backend = bytes_of(&seg(BACKEND, CLIENT, flags::ACK, 2, 1, ts(4, 3), b"x"));
    assert_eq!(Key::outbound(&parse(&from_backend).unwrap()), b.key());
    assert_ne!(f.key(), b.key());
    // The phase does not change the key.
    let mut g = f;
    g.phase = Phase::Forwarding;
    assert_eq!(g.key(), f.key());
}

proptest! {
    #[test]
    fn key_inbound_of_packet_equals_outbound_of_reply(
        a in any::<[u8; 4]>(), b in any::<[u8; 4]>(),
        pa in any::<u16>(), pb in any::<u16>(),
        seq in any::<u32>(), ack in any::<u32>(), fl in any::<u8>(),
    ) {
        let x = Endpoint { addr: a, port: pa };
        let y = Endpoint { addr: b, port: pb };
        let req = bytes_of(&seg(x, y, fl, seq, ack, BuildOptions::default(), b""));
        let rep = bytes_of(&seg(y, x, fl, ack, seq, BuildOptions::default(), b"r"));
        let kin = Key::inbound(&parse(&req).unwrap());
        prop_assert_eq!(kin, Key::outbound(&parse(&rep).unwrap()));
        prop_assert_eq!(kin, Key { client: x, local: y });
        prop_assert_eq!(kin.hash(7), Key::outbound(&parse(&rep).unwrap()).hash(7));
        // The hooks find a flow from the addresses and ports alone.
        prop_assert_eq!(kin, Key::inbound_addresses(&addresses(&req).unwrap()));
        prop_assert_eq!(kin, Key::outbound_addresses(&addresses(&rep).unwrap()));
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn key(&mut self) -> Key {
        let a = self.next();
        let b = self.next();
        Key {
            client: Endpoint {
                addr: (a as u32).to_be_bytes(),
                port: (a >> 32) as u16,
            },
            local: Endpoint {
                addr: (b as u32).to_be_bytes(),
                port: (b >> 32) as u16,
            },
        }
    }
}

#[test]
fn hash_is_deterministic_and_seeded() {
    let k = Key {
        client: CLIENT,
        local: VIP,
    };
    assert_eq!(k.hash(5), k.hash(5));
    assert_eq!(k.hash(5), { k }.hash(5));
    let mut rng = Rng(99);
    let mut same = 0;
    for _ in 0..1000 {
        let k = rng.key();
        assert_eq!(k.hash(0x55aa), k.hash(0x55aa));
        if k.hash(1) == k.hash(2) {
            same += 1;
        }
    }
    assert!(same <= 2, "{same} keys hash the same under seeds 1 and 2");
    // Every seed of a range gives a different value for one key.
    let mut hs: Vec<u32> = (0..1000).map(|s| k.hash(s)).collect();
    hs.sort_unstable();
    hs.dedup();
    assert!(hs.len() >= 998, "{} distinct", hs.len());
}

/// The key's words, as `jhash2` takes them: the addresses' bytes as
/// native words, then both ports in one.
fn words_v6(w: [u32; 4]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, v) in out.chunks_exact_mut(4).zip(w) {
        o.copy_from_slice(&v.to_ne_bytes());
    }
    out
}

#[test]
fn hash_is_the_kernels_jhash2_of_the_keys_words() {
    // Expected values from the kernel's own jhash2() (tools/include/linux/
    // jhash.h) over the same words.
    let k = Key {
        client: Endpoint {
            addr: 0x0a00_0001u32.to_ne_bytes(),
            port: 1234,
        },
        local: Endpoint {
            addr: 0x0a00_0064u32.to_ne_bytes(),
            port: 80,
        },
    };
    assert_eq!(k.hash(0), 576_965_027);
    assert_eq!(k.hash(0x1234_5678), 1_563_585_426);
    let k6: Key<V6> = Key {
        client: Endpoint {
            addr: words_v6([1, 2, 3, 4]),
            port: 40_000,
        },
        local: Endpoint {
            addr: words_v6([5, 6, 7, 8]),
            port: 443,
        },
    };
    assert_eq!(k6.hash(42), 422_101_544);
}

#[test]
fn hash_spreads_random_keys_over_buckets() {
    for seed in [0u32, 0x9e37_79b9] {
        let mut rng = Rng(0xfeed_f00d ^ u64::from(seed));
        let mut used = [false; 1024];
        let mut all = Vec::new();
        for _ in 0..1000 {
            let h = rng.key().hash(seed);
            used[(h & 1023) as usize] = true;
            all.push(h);
        }
        let buckets = used.iter().filter(|&&u| u).count();
        assert!(buckets > 500, "seed {seed:#x}: {buckets} buckets of 1024");
        all.sort_unstable();
        all.dedup();
        assert!(all.len() >= 995, "{} distinct hashes of 1000", all.len());
    }
}

#[test]
fn hash_spreads_keys_differing_only_in_client_port() {
    // The realistic case: one client host, one VIP, many source ports.
    let mut used = [false; 1024];
    for port in 30_000u16..31_000 {
        let k = Key {
            client: Endpoint {
                addr: CLIENT.addr,
                port,
            },
            local: VIP,
        };
        used[(k.hash(0x1357_9bdf) & 1023) as usize] = true;
    }
    let buckets = used.iter().filter(|&&u| u).count();
    assert!(buckets > 500, "{buckets} buckets of 1024");
}

// ---------------------------------------------------------------------------
// Front-end, Frozen.

#[test]
fn front_frozen_holds_client_packets_untouched() {
    for fl in [
        flags::ACK,
        flags::ACK | flags::PSH,
        flags::ACK | flags::FIN,
        flags::RST,
        flags::SYN,
    ] {
        let mut f = front(Phase::Frozen);
        let before = state(&f);
        let orig = bytes_of(&seg(
            CLIENT,
            VIP,
            fl,
            0xffff_fff0,
            0xffff_ff80,
            ts(77, 0xffff_fff5),
            b"hello",
        ));
        let mut buf = orig.clone();
        assert_eq!(client_packet(&mut f, &mut buf, T0 + 50), Verdict::Hold);
        assert_eq!(buf, orig, "flags {fl:#x}");
        assert_eq!(state(&f), before, "flags {fl:#x}");
        assert_eq!(f.phase, Phase::Frozen);
    }
}

#[test]
fn front_drops_own_socket_packets_in_every_phase() {
    let all_flags = [
        flags::ACK,
        flags::ACK | flags::PSH,
        flags::RST,
        flags::RST | flags::ACK,
        flags::FIN | flags::ACK,
        flags::SYN | flags::ACK,
        0,
        0xff,
    ];
    for phase in [
        Phase::Frozen,
        Phase::Forwarding,
        Phase::Replaying,
        Phase::Established,
    ] {
        for fl in all_flags {
            let mut f = front(phase);
            let before = state(&f);
            let orig = bytes_of(&seg(VIP, CLIENT, fl, 5, 6, ts(1, 2), b"bye"));
            let mut buf = orig.clone();
            assert_eq!(
                server_packet(&mut f, &mut buf, T0 + 10),
                Verdict::Drop,
                "{phase:?} {fl:#x}"
            );
            assert_eq!(buf, orig, "{phase:?} {fl:#x}");
            assert_eq!(state(&f), before, "{phase:?} {fl:#x}");
        }
    }
}

// ---------------------------------------------------------------------------
// Front-end, Forwarding.

#[test]
fn front_forwarding_rewrites_client_data() {
    let mut f = front(Phase::Forwarding);
    let t = f.xlate;
    let payload = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    // ack + 0x200 wraps; TSecr - 0x20 wraps.
    let s = seg(
        CLIENT,
        VIP,
        flags::ACK | flags::PSH,
        0xffff_fffe,
        0xffff_ff80,
        ts(0xffff_fff0, 0x0000_0010),
        payload,
    );
    let mut buf = bytes_of(&s);
    let len = buf.len() as u64;
    assert_eq!(client_packet(&mut f, &mut buf, T0 + 7), Verdict::Rewritten);

    let h = parse(&buf).unwrap();
    assert_eq!(h.saddr, CLIENT.addr);
    assert_eq!(h.sport, CLIENT.port);
    assert_eq!(h.daddr, BACKEND.addr);
    assert_eq!(h.dport, BACKEND.port);
    assert_eq!(h.seq, 0xffff_fffe, "client seq untouched");
    assert_eq!(h.ack, 0x0000_0180, "ack + seq_delta, wrapped");
    assert_eq!(h.ack, t.ack_to_backend(0xffff_ff80));
    assert_eq!(
        h.options.timestamps,
        Some((0xffff_fff0, 0xffff_fff0)),
        "TSval untouched, TSecr - ts_delta wrapped"
    );
    assert_eq!(h.window, 0x1234, "client window untouched");
    assert_eq!(h.flags, flags::ACK | flags::PSH);
    assert_eq!(&buf[buf.len() - payload.len()..], payload);
    assert_checksums(&buf);
    // The whole packet is what build() makes of the expected segment.
    let want = Segment {
        daddr: BACKEND.addr,
        dport: BACKEND.port,
        ack: 0x180,
        options: ts(0xffff_fff0, 0xffff_fff0),
        ..s
    };
    assert_eq!(buf, bytes_of(&want));

    assert_eq!(f.packets, 1);
    assert_eq!(f.bytes, len);
    assert_eq!(f.last_ms, stamp(T0 + 7));
    assert!(!f.fin_client && !f.fin_server && !f.reset);
    assert_eq!(f.closed_at(), None);

    // A second packet adds to the counters.
    let mut buf2 = bytes_of(&seg(
        CLIENT,
        VIP,
        flags::ACK,
        0x1d,
        0xffff_ff90,
        ts(0xffff_fff8, 0x11),
        b"",
    ));
    let len2 = buf2.len() as u64;
    assert_eq!(client_packet(&mut f, &mut buf2, T0 + 9), Verdict::Rewritten);
    assert_checksums(&buf2);
    assert_eq!(parse(&buf2).unwrap().ack, 0x190);
    assert_eq!(f.packets, 2);
    assert_eq!(f.bytes, len + len2);
    assert_eq!(f.last_ms, stamp(T0 + 9));
}

#[test]
fn front_forwarding_leaves_ack_alone_without_ack_flag() {
    let mut f = front(Phase::Forwarding);
    // A (retransmitted) SYN with garbage in the ack field; and a bare RST.
    for fl in [flags::SYN, flags::RST, 0] {
        let opts = BuildOptions {
            mss: Some(1460),
            wscale: Some(7),
            sack_permitted: true,
            timestamps: Some((1000, 0xffff_ffff)),
        };
        let s = seg(CLIENT, VIP, fl, 0xabcd_0000, 0xffff_ff80, opts, b"");
        let mut buf = bytes_of(&s);
        assert_eq!(client_packet(&mut f, &mut buf, T0 + 1), Verdict::Rewritten);
        let h = parse(&buf).unwrap();
        assert_eq!(h.ack, 0xffff_ff80, "flags {fl:#x}: ack untouched");
        assert_eq!(h.seq, 0xabcd_0000);
        assert_eq!(h.options.timestamps, Some((1000, 0xffff_ffdf)));
        assert_eq!(h.options.mss, Some(1460));
        assert_eq!(h.options.wscale, Some(7));
        assert!(h.options.sack_permitted);
        assert_eq!((h.daddr, h.dport), (BACKEND.addr, BACKEND.port));
        assert_checksums(&buf);
        let want = Segment {
            daddr: BACKEND.addr,
            dport: BACKEND.port,
            options: BuildOptions {
                timestamps: Some((1000, 0xffff_ffdf)),
                ..opts
            },
            ..s
        };
        assert_eq!(buf, bytes_of(&want));
    }
}

#[test]
fn front_forwarding_without_timestamps() {
    let mut f = front(Phase::Forwarding);
    let s = seg(
        CLIENT,
        VIP,
        flags::ACK,
        7,
        0xffff_fe00,
        BuildOptions::default(),
        b"abc",
    );
    let mut buf = bytes_of(&s);
    assert_eq!(client_packet(&mut f, &mut buf, T0 + 1), Verdict::Rewritten);
    let want = Segment {
        daddr: BACKEND.addr,
        dport: BACKEND.port,
        ack: 0,
        ..s
    };
    assert_eq!(buf, bytes_of(&want));
    assert_checksums(&buf);
}

/// A client packet with SACK blocks (build() makes none): from scratch with
/// the crate's checksum functions.
fn encode_with_sack(
    from: Endpoint,
    to: Endpoint,
    seq: u32,
    ack: u32,
    tsopt: (u32, u32),
    sack: &[(u32, u32)],
) -> Vec<u8> {
    let mut o = vec![opt::NOP, opt::NOP, opt::TIMESTAMP, 10];
    o.extend_from_slice(&tsopt.0.to_be_bytes());
    o.extend_from_slice(&tsopt.1.to_be_bytes());
    o.extend_from_slice(&[opt::NOP, opt::NOP, opt::SACK, (2 + 8 * sack.len()) as u8]);
    for (s, e) in sack {
        o.extend_from_slice(&s.to_be_bytes());
        o.extend_from_slice(&e.to_be_bytes());
    }
    assert_eq!(o.len() % 4, 0);
    let thl = 20 + o.len();
    let mut b = vec![0u8; 20 + thl];
    b[0] = 0x45;
    b[2..4].copy_from_slice(&((20 + thl) as u16).to_be_bytes());
    b[6] = 0x40;
    b[8] = 64;
    b[9] = IPPROTO_TCP;
    b[12..16].copy_from_slice(&from.addr);
    b[16..20].copy_from_slice(&to.addr);
    let c = csum::checksum(&b[..20]);
    b[10..12].copy_from_slice(&c.to_be_bytes());
    b[20..22].copy_from_slice(&from.port.to_be_bytes());
    b[22..24].copy_from_slice(&to.port.to_be_bytes());
    b[24..28].copy_from_slice(&seq.to_be_bytes());
    b[28..32].copy_from_slice(&ack.to_be_bytes());
    b[32] = ((thl / 4) as u8) << 4;
    b[33] = flags::ACK;
    b[34..36].copy_from_slice(&1000u16.to_be_bytes());
    b[40..].copy_from_slice(&o);
    let c = tcp_checksum(&from.addr, &to.addr, &b[20..], &[]);
    b[36..38].copy_from_slice(&c.to_be_bytes());
    b
}

#[test]
fn front_forwarding_moves_sack_edges() {
    let mut f = front(Phase::Forwarding);
    let sack = [(0xffff_fe00, 0xffff_ff00), (0xffff_ffff, 0x0000_0100)];
    let mut buf = encode_with_sack(CLIENT, VIP, 5, 0xffff_fd00, (9, 0x40), &sack);
    assert_eq!(client_packet(&mut f, &mut buf, T0 + 1), Verdict::Rewritten);
    let moved = [(0x0000_0000, 0x0000_0100), (0x0000_01ff, 0x0000_0300)];
    let want = encode_with_sack(CLIENT, BACKEND, 5, 0xffff_ff00, (9, 0x20), &moved);
    assert_eq!(buf, want);
    assert_checksums(&buf);
}

#[test]
fn front_forwarding_client_fin_sets_fin_client_only() {
    let mut f = front(Phase::Forwarding);
    let mut buf = bytes_of(&seg(
        CLIENT,
        VIP,
        flags::FIN | flags::ACK,
        100,
        200,
        ts(1, 2),
        b"",
    ));
    assert_eq!(client_packet(&mut f, &mut buf, T0 + 3), Verdict::Rewritten);
    assert!(f.fin_client);
    assert!(!f.fin_server);
    assert!(!f.reset);
    assert_eq!(f.closed_at(), None, "a FIN one way does not close");
    assert_eq!(f.packets, 1);
    assert_eq!(parse(&buf).unwrap().flags, flags::FIN | flags::ACK);
    assert_checksums(&buf);
}

#[test]
fn front_forwarding_client_rst_is_forwarded_and_does_not_close() {
    let mut f = front(Phase::Forwarding);
    let mut buf = bytes_of(&seg(
        CLIENT,
        VIP,
        flags::RST | flags::ACK,
        100,
        0xffff_ffff,
        BuildOptions::default(),
        b"",
    ));
    let len = buf.len() as u64;
    assert_eq!(client_packet(&mut f, &mut buf, T0 + 11), Verdict::Rewritten);
    // Only the server's stack knows whether the RST is the one it expects
    // (RFC 5961): the flow notes it and stays open.
    assert!(f.client_rst);
    assert!(!f.reset);
    assert!(!f.fin_client);
    assert_eq!(f.closed_at(), None);
    assert_eq!(f.expired(T0 + 11 + CLOSE_LINGER_MS, IDLE_MS), None);
    assert_eq!((f.packets, f.bytes), (1, len));
    let h = parse(&buf).unwrap();
    assert_eq!(h.ack, 0x1ff);
    assert_eq!((h.daddr, h.dport), (BACKEND.addr, BACKEND.port));
    assert_checksums(&buf);
    // A later packet does not move the close time.
    let mut again = bytes_of(&seg(
        CLIENT,
        VIP,
        flags::RST,
        100,
        0,
        BuildOptions::default(),
        b"",
    ));
    assert_eq!(
        client_packet(&mut f, &mut again, T0 + 500),
        Verdict::Rewritten
    );
    assert_eq!(f.closed_at(), None);
    assert_eq!(f.packets, 2);
}

/// A client's SYN opening a connection from `CLIENT` to `VIP`, as bytes.
fn syn_bytes(seq: u32) -> Vec<u8> {
    bytes_of(&seg(CLIENT, VIP, flags::SYN, seq, 0, ts(9, 0), b""))
}

#[test]
fn front_forwarding_syn_after_client_close_is_a_new_connection() {
    // The client closed (FIN, or RST) and reused its port: the SYN goes to
    // this node's listener untouched, and a handoff may replace the flow.
    for closing in [flags::FIN | flags::ACK, flags::RST] {
        let mut f = front(Phase::Forwarding);
        assert!(!f.superseded(), "an open connection keeps its flow");
        let mut end = bytes_of(&seg(CLIENT, VIP, closing, 100, 200, ts(1, 2), b""));
        assert_eq!(client_packet(&mut f, &mut end, T0 + 1), Verdict::Rewritten);
        assert!(f.superseded());
        let mut syn = syn_bytes(0x1234_5678);
        let before = syn.clone();
        assert_eq!(client_packet(&mut f, &mut syn, T0 + 2), Verdict::Pass);
        assert_eq!(syn, before, "passed untouched");
        assert_eq!(f.packets, 1, "not counted in the old connection");
    }
}

#[test]
fn front_forwarding_syn_of_an_open_connection_is_forwarded() {
    // Without the client's FIN or RST a SYN belongs to the connection (a
    // retransmission): it goes to the back-end like any segment.
    let mut f = front(Phase::Forwarding);
    let mut syn = syn_bytes(0x1234_5678);
    assert_eq!(client_packet(&mut f, &mut syn, T0 + 2), Verdict::Rewritten);
    assert_eq!(parse(&syn).unwrap().daddr, BACKEND.addr);
    // Nor does a SYN/ACK or ACK after the client's FIN open a new one.
    let mut fin = bytes_of(&seg(
        CLIENT,
        VIP,
        flags::FIN | flags::ACK,
        100,
        200,
        ts(1, 2),
        b"",
    ));
    client_packet(&mut f, &mut fin, T0 + 3);
    let mut ack = bytes_of(&seg(CLIENT, VIP, flags::ACK, 101, 200, ts(1, 2), b""));
    assert_eq!(client_packet(&mut f, &mut ack, T0 + 4), Verdict::Rewritten);
    let mut synack = bytes_of(&seg(
        CLIENT,
        VIP,
        flags::SYN | flags::ACK,
        7,
        8,
        ts(1, 2),
        b"",
    ));
    assert_eq!(
        client_packet(&mut f, &mut synack, T0 + 5),
        Verdict::Rewritten
    );
    // A frozen flow is never superseded: its handoff is under way.
    let mut frozen = front(Phase::Frozen);
    frozen.fin_client = true;
    assert!(!frozen.superseded());
}

#[test]
fn back_superseded_only_once_closing_or_reset_by_the_client() {
    let mut f = back(Phase::Established);
    assert!(!f.superseded());
    f.fin_client = true;
    assert!(!f.superseded(), "the server may still send");
    f.fin_server = true;
    assert!(f.superseded(), "FIN both ways");
    let mut f = back(Phase::Established);
    f.client_rst = true;
    assert!(f.superseded());
    let mut f = back(Phase::Established);
    f.reset = true;
    assert!(f.superseded());
    let mut replaying = back(Phase::Replaying);
    replaying.reset = true;
    assert!(
        !replaying.superseded(),
        "a replay under way is never replaced"
    );
}

// ---------------------------------------------------------------------------
// Back-end, Replaying.

fn synack_opts() -> BuildOptions {
    BuildOptions {
        mss: Some(1448),
        wscale: Some(9),
        sack_permitted: true,
        timestamps: Some((0xffff_fff0, 0x1234_5678)),
    }
}

#[test]
fn back_replaying_captures_syn_ack() {
    let mut b = back(Phase::Replaying);
    let before = state(&b);
    let orig = bytes_of(&seg(
        BACKEND,
        CLIENT,
        flags::SYN | flags::ACK,
        0xdead_beef,
        0x1000_0001,
        synack_opts(),
        b"",
    ));
    let mut buf = orig.clone();
    assert_eq!(server_packet(&mut b, &mut buf, T0 + 2), Verdict::Drop);
    assert_eq!(buf, orig, "a dropped packet is not rewritten");
    assert_eq!(
        b.answer(),
        Some(Answer::SynAck {
            isn: 0xdead_beef,
            tsval: Some(0xffff_fff0),
            wscale: Some(9),
        })
    );
    // Nothing else changed.
    assert_eq!(
        (b.packets, b.bytes, b.last_ms, b.closed_at()),
        (before.0, before.1, before.2, before.6)
    );
    assert_eq!(b.phase, Phase::Replaying);

    // A second (retransmitted or different) SYN/ACK does not replace it.
    let mut second = bytes_of(&seg(
        BACKEND,
        CLIENT,
        flags::SYN | flags::ACK,
        0x0102_0304,
        0x1000_0001,
        BuildOptions::default(),
        b"",
    ));
    assert_eq!(server_packet(&mut b, &mut second, T0 + 3), Verdict::Drop);
    // Nor does a later RST.
    let mut rst = bytes_of(&seg(
        BACKEND,
        CLIENT,
        flags::RST | flags::ACK,
        0,
        0x1000_0001,
        BuildOptions::default(),
        b"",
    ));
    assert_eq!(server_packet(&mut b, &mut rst, T0 + 4), Verdict::Drop);
    assert_eq!(
        b.answer(),
        Some(Answer::SynAck {
            isn: 0xdead_beef,
            tsval: Some(0xffff_fff0),
            wscale: Some(9),
        })
    );
    assert!(!b.reset, "the replay's RST is not the connection's");
}

#[test]
fn back_replaying_syn_ack_without_options() {
    let mut b = back(Phase::Replaying);
    let mut buf = bytes_of(&seg(
        BACKEND,
        CLIENT,
        flags::SYN | flags::ACK | flags::ECE,
        7,
        8,
        BuildOptions {
            mss: Some(536),
            ..BuildOptions::default()
        },
        b"",
    ));
    assert_eq!(server_packet(&mut b, &mut buf, T0), Verdict::Drop);
    assert_eq!(
        b.answer(),
        Some(Answer::SynAck {
            isn: 7,
            tsval: None,
            wscale: None,
        })
    );
}

#[test]
fn back_replaying_rst_first_is_reset() {
    for fl in [flags::RST, flags::RST | flags::ACK] {
        let mut b = back(Phase::Replaying);
        let mut buf = bytes_of(&seg(
            BACKEND,
            CLIENT,
            fl,
            0,
            0x1000_0001,
            BuildOptions::default(),
            b"",
        ));
        assert_eq!(server_packet(&mut b, &mut buf, T0 + 1), Verdict::Drop);
        assert_eq!(b.answer(), Some(Answer::Reset), "flags {fl:#x}");
        // A SYN/ACK afterwards does not replace the reset.
        let mut sa = bytes_of(&seg(
            BACKEND,
            CLIENT,
            flags::SYN | flags::ACK,
            99,
            0x1000_0001,
            synack_opts(),
            b"",
        ));
        assert_eq!(server_packet(&mut b, &mut sa, T0 + 2), Verdict::Drop);
        assert_eq!(b.answer(), Some(Answer::Reset));
    }
}

#[test]
fn back_replaying_other_server_packets_are_dropped_without_answer() {
    for fl in [flags::ACK, flags::SYN, flags::FIN | flags::ACK, 0] {
        let mut b = back(Phase::Replaying);
        let mut buf = bytes_of(&seg(BACKEND, CLIENT, fl, 1, 2, ts(3, 4), b""));
        assert_eq!(server_packet(&mut b, &mut buf, T0 + 1), Verdict::Drop);
        assert_eq!(b.answer(), None, "flags {fl:#x}");
        assert!(!b.fin_server);
    }
}

#[test]
fn back_replaying_passes_client_packets_without_accounting() {
    for fl in [
        flags::SYN,
        flags::ACK,
        flags::ACK | flags::FIN,
        flags::RST,
        flags::ACK | flags::PSH,
    ] {
        let mut b = back(Phase::Replaying);
        let before = state(&b);
        let orig = bytes_of(&seg(
            CLIENT,
            BACKEND,
            fl,
            0x1000_0000,
            0x55,
            ts(1, 2),
            b"data",
        ));
        let mut buf = orig.clone();
        assert_eq!(client_packet(&mut b, &mut buf, T0 + 5), Verdict::Pass);
        assert_eq!(buf, orig);
        assert_eq!(state(&b), before, "flags {fl:#x}");
    }
}

// ---------------------------------------------------------------------------
// Back-end, Established.

#[test]
fn back_established_rewrites_server_data() {
    let mut b = back(Phase::Established);
    let t = b.xlate;
    let payload = b"HTTP/1.1 200 OK\r\n\r\n";
    let s = Segment {
        window: 0x3000,
        ..seg(
            BACKEND,
            CLIENT,
            flags::ACK | flags::PSH,
            0x0000_0150,
            0x1000_0020,
            ts(0xffff_fff0, 0x0bad_cafe),
            payload,
        )
    };
    let mut buf = bytes_of(&s);
    let len = buf.len() as u64;
    assert_eq!(server_packet(&mut b, &mut buf, T0 + 20), Verdict::Rewritten);
    let h = parse(&buf).unwrap();
    assert_eq!(h.saddr, VIP.addr);
    assert_eq!(h.sport, VIP.port);
    assert_eq!(h.daddr, CLIENT.addr);
    assert_eq!(h.dport, CLIENT.port);
    assert_eq!(h.seq, 0xffff_ff50, "seq - seq_delta, wrapped");
    assert_eq!(h.ack, 0x1000_0020, "ack names client data: untouched");
    assert_eq!(
        h.options.timestamps,
        Some((0x0000_0010, 0x0bad_cafe)),
        "TSval + ts_delta wrapped, TSecr untouched"
    );
    // 0x3000 << 2 >> 7 = 0x180.
    assert_eq!(h.window, 0x180);
    assert_eq!(h.window, t.window_to_client(0x3000));
    assert_eq!(&buf[buf.len() - payload.len()..], payload);
    assert_checksums(&buf);
    let want = Segment {
        saddr: VIP.addr,
        sport: VIP.port,
        seq: 0xffff_ff50,
        window: 0x180,
        options: ts(0x10, 0x0bad_cafe),
        ..s
    };
    assert_eq!(buf, bytes_of(&want));
    assert_eq!((b.packets, b.bytes, b.last_ms), (1, len, stamp(T0 + 20)));
    assert!(!b.fin_server && !b.fin_client && !b.reset);
}

#[test]
fn back_established_window_clamps_to_u16() {
    let mut b = back(Phase::Established);
    b.xlate = Translation::new(1, 1, 0, 0, 0, 4);
    for (win, want) in [(0x2000u16, 0xffffu16), (0x0fff, 0xfff0), (0, 0), (1, 16)] {
        let s = Segment {
            window: win,
            ..seg(
                BACKEND,
                CLIENT,
                flags::ACK,
                10,
                20,
                BuildOptions::default(),
                b"",
            )
        };
        let mut buf = bytes_of(&s);
        assert_eq!(server_packet(&mut b, &mut buf, T0 + 1), Verdict::Rewritten);
        assert_eq!(parse(&buf).unwrap().window, want, "window {win:#x}");
        assert_checksums(&buf);
    }
}

#[test]
fn back_established_drops_retransmitted_syn_ack() {
    let mut b = back(Phase::Established);
    let before = state(&b);
    let orig = bytes_of(&seg(
        BACKEND,
        CLIENT,
        flags::SYN | flags::ACK,
        0x100,
        0x1000_0001,
        synack_opts(),
        b"",
    ));
    let mut buf = orig.clone();
    assert_eq!(server_packet(&mut b, &mut buf, T0 + 100), Verdict::Drop);
    assert_eq!(buf, orig);
    assert_eq!(state(&b), before);
}

#[test]
fn back_established_passes_and_accounts_client_packets() {
    let mut b = back(Phase::Established);
    let orig = bytes_of(&seg(
        CLIENT,
        BACKEND,
        flags::ACK | flags::PSH,
        0x1000_0001,
        0x101,
        ts(5, 6),
        b"more",
    ));
    let mut buf = orig.clone();
    assert_eq!(client_packet(&mut b, &mut buf, T0 + 4), Verdict::Pass);
    assert_eq!(buf, orig, "the front-end rewrote it already");
    assert_eq!(
        (b.packets, b.bytes, b.last_ms),
        (1, orig.len() as u64, stamp(T0 + 4))
    );
}

#[test]
fn back_established_fin_both_ways_closes() {
    // Server first, then client.
    let mut b = back(Phase::Established);
    let mut sfin = bytes_of(&seg(
        BACKEND,
        CLIENT,
        flags::FIN | flags::ACK,
        0x500,
        0x1000_0005,
        ts(100, 200),
        b"",
    ));
    assert_eq!(
        server_packet(&mut b, &mut sfin, T0 + 10),
        Verdict::Rewritten
    );
    assert!(b.fin_server);
    assert!(!b.fin_client);
    assert_eq!(b.closed_at(), None);
    let h = parse(&sfin).unwrap();
    assert_eq!(h.flags, flags::FIN | flags::ACK);
    assert_eq!(h.seq, 0x300);
    assert_eq!(h.saddr, VIP.addr);
    assert_checksums(&sfin);
    let mut cfin = bytes_of(&seg(
        CLIENT,
        BACKEND,
        flags::FIN | flags::ACK,
        0x1000_0005,
        0x501,
        ts(300, 120),
        b"",
    ));
    assert_eq!(client_packet(&mut b, &mut cfin, T0 + 30), Verdict::Pass);
    assert!(b.fin_client);
    assert_eq!(b.closed_at(), Some(stamp(T0 + 30)));
    assert!(!b.reset);
    assert_eq!(b.packets, 2);
    // The last ACK does not move the close time.
    let mut last = bytes_of(&seg(
        BACKEND,
        CLIENT,
        flags::ACK,
        0x501,
        0x1000_0006,
        ts(101, 300),
        b"",
    ));
    assert_eq!(
        server_packet(&mut b, &mut last, T0 + 31),
        Verdict::Rewritten
    );
    assert_eq!(b.closed_at(), Some(stamp(T0 + 30)));

    // Client first, then server.
    let mut b = back(Phase::Established);
    let mut cfin = bytes_of(&seg(
        CLIENT,
        BACKEND,
        flags::FIN | flags::ACK,
        9,
        9,
        BuildOptions::default(),
        b"",
    ));
    assert_eq!(client_packet(&mut b, &mut cfin, T0 + 1), Verdict::Pass);
    assert!(b.fin_client && !b.fin_server);
    assert_eq!(b.closed_at(), None);
    let mut sfin = bytes_of(&seg(
        BACKEND,
        CLIENT,
        flags::FIN | flags::ACK,
        9,
        10,
        BuildOptions::default(),
        b"",
    ));
    assert_eq!(server_packet(&mut b, &mut sfin, T0 + 2), Verdict::Rewritten);
    assert!(b.fin_server);
    assert_eq!(b.closed_at(), Some(stamp(T0 + 2)));
}

#[test]
fn back_established_server_rst_closes() {
    let mut b = back(Phase::Established);
    let mut rst = bytes_of(&seg(
        BACKEND,
        CLIENT,
        flags::RST,
        0x250,
        0,
        BuildOptions::default(),
        b"",
    ));
    assert_eq!(server_packet(&mut b, &mut rst, T0 + 8), Verdict::Rewritten);
    assert!(b.reset);
    assert_eq!(b.closed_at(), Some(stamp(T0 + 8)));
    let h = parse(&rst).unwrap();
    assert_eq!(h.seq, 0x50);
    assert_eq!((h.saddr, h.sport), (VIP.addr, VIP.port));
    assert_checksums(&rst);
}

// ---------------------------------------------------------------------------
// Expiry.

#[test]
fn expired_none_while_open_and_active() {
    for f in [
        front(Phase::Frozen),
        front(Phase::Forwarding),
        back(Phase::Replaying),
        back(Phase::Established),
    ] {
        assert_eq!(f.expired(T0, IDLE_MS), None);
        assert_eq!(f.expired(T0 + IDLE_MS - 1, IDLE_MS), None);
        // A clock behind the last packet is not idleness.
        assert_eq!(f.expired(0, IDLE_MS), None);
        assert_eq!(f.expired(T0 + IDLE_MS, IDLE_MS), Some(reason::IDLE));
    }
}

#[test]
fn expired_idle_counts_from_last_packet() {
    let mut f = front(Phase::Forwarding);
    let mut buf = bytes_of(&seg(CLIENT, VIP, flags::ACK, 1, 2, ts(3, 4), b"x"));
    client_packet(&mut f, &mut buf, T0 + 50_000);
    assert_eq!(f.expired(T0 + IDLE_MS, IDLE_MS), None);
    assert_eq!(f.expired(T0 + 50_000 + IDLE_MS - 1, IDLE_MS), None);
    assert_eq!(
        f.expired(T0 + 50_000 + IDLE_MS, IDLE_MS),
        Some(reason::IDLE)
    );
}

#[test]
fn times_across_the_32_bit_wrap() {
    // The clock's low 32 bits wrap every 49 days: a flow made just before
    // the wrap ages, idles and lingers across it.
    let t = (1u64 << 33) - 1_000;
    let mut f = Flow::new(42, 3, Role::Front, CLIENT, VIP, BACKEND, t);
    f.phase = Phase::Forwarding;
    f.xlate = xlate();
    assert_eq!(f.age_ms(t + 3_000), 3_000);
    assert_eq!(f.expired(t + IDLE_MS - 1, IDLE_MS), None);
    assert_eq!(f.expired(t + IDLE_MS, IDLE_MS), Some(reason::IDLE));
    let mut buf = bytes_of(&seg(CLIENT, VIP, flags::ACK, 1, 2, ts(3, 4), b"x"));
    client_packet(&mut f, &mut buf, t + 2_000);
    assert_eq!(f.idle_ms(t + 2_500), 500);
    assert_eq!(f.age_ms(t + 2_500), 2_500);
    assert_eq!(f.expired(t + 2_000 + IDLE_MS - 1, IDLE_MS), None);

    let mut b = back(Phase::Established);
    b.created_ms = stamp(t);
    let mut rst = rst_bytes(BACKEND, CLIENT);
    server_packet(&mut b, &mut rst, t + 999);
    assert_eq!(b.closed_at(), Some(stamp(t + 999)));
    assert_eq!(b.expired(t + 999 + CLOSE_LINGER_MS - 1, u64::MAX), None);
    assert_eq!(
        b.expired(t + 999 + CLOSE_LINGER_MS, u64::MAX),
        Some(reason::CLOSED)
    );
}

/// The flow table's node (`src/sys/rcuhash.rs`, `src/conn.rs`): the hlist
/// link (16 bytes), then `FlowCell`, the key (12) beside the flow's lock,
/// which is a `spinlock_t` (4, without lock debugging) padded to the
/// flow's alignment and then the flow. One 128-byte kmalloc object only
/// while the flow takes at most 88 bytes (the 2026-12-02 benchmark
/// measured a 96-byte flow in a 136-byte node, kmalloc-192).
#[test]
fn flow_fits_a_128_byte_table_node() {
    let round = |n: usize, a: usize| n.div_ceil(a) * a;
    let align = core::mem::align_of::<Flow>();
    let lock = round(4, align) + core::mem::size_of::<Flow>();
    let cell = round(core::mem::size_of::<Key>(), align) + lock;
    let node = 16 + cell;
    assert!(
        node <= 128,
        "node {node} bytes, flow {}",
        core::mem::size_of::<Flow>()
    );
}

#[test]
fn expired_closed_after_linger() {
    let mut b = back(Phase::Established);
    // A client's RST leaves the flow open: the server's stack decides.
    let mut rst = rst_bytes(CLIENT, BACKEND);
    assert_eq!(client_packet(&mut b, &mut rst, T0 + 50), Verdict::Pass);
    assert!(b.client_rst && !b.reset);
    assert_eq!(b.closed_at(), None);
    // The server's RST closes it.
    let mut rst = rst_bytes(BACKEND, CLIENT);
    assert_eq!(
        server_packet(&mut b, &mut rst, T0 + 100),
        Verdict::Rewritten
    );
    assert!(b.reset);
    assert_eq!(b.closed_at(), Some(stamp(T0 + 100)));
    assert_eq!(b.expired(T0 + 100, IDLE_MS), None);
    assert_eq!(b.expired(T0 + 100 + CLOSE_LINGER_MS - 1, IDLE_MS), None);
    assert_eq!(
        b.expired(T0 + 100 + CLOSE_LINGER_MS, IDLE_MS),
        Some(reason::CLOSED)
    );
    // Closed wins over idle.
    assert_eq!(
        b.expired(T0 + 100 + IDLE_MS * 2, IDLE_MS),
        Some(reason::CLOSED)
    );

    // A front-end flow stays after its client's RST (the back-end's stack
    // decides, and its CONN_END ends the flow), until it idles out.
    let mut f = front(Phase::Forwarding);
    let mut rst = rst_bytes(CLIENT, VIP);
    client_packet(&mut f, &mut rst, T0 + 5);
    assert_eq!(f.expired(T0 + 5 + CLOSE_LINGER_MS, IDLE_MS), None);
    assert_eq!(f.expired(T0 + 5 + IDLE_MS, IDLE_MS), Some(reason::IDLE));
}

#[test]
fn reset_and_quiet_front_only_after_silence() {
    let mut f = front(Phase::Forwarding);
    assert!(!f.reset_and_quiet(T0 + FRONT_FIN_IDLE_MS));
    let mut rst = rst_bytes(CLIENT, VIP);
    assert_eq!(client_packet(&mut f, &mut rst, T0 + 10), Verdict::Rewritten);
    assert!(f.client_rst);
    // Not over by itself: the back-end's CONN_END decides while it can.
    assert_eq!(f.expired(T0 + 10 + FRONT_FIN_IDLE_MS, IDLE_MS), None);
    assert!(!f.reset_and_quiet(T0 + 10 + FRONT_FIN_IDLE_MS - 1));
    assert!(f.reset_and_quiet(T0 + 10 + FRONT_FIN_IDLE_MS));
    // A later packet from the client (the RST was refused) restarts it.
    let mut ack = bytes_of(&seg(CLIENT, VIP, flags::ACK, 2, 3, ts(5, 6), b""));
    client_packet(&mut f, &mut ack, T0 + 5_000);
    assert!(!f.reset_and_quiet(T0 + 10 + FRONT_FIN_IDLE_MS));
    assert!(f.reset_and_quiet(T0 + 5_000 + FRONT_FIN_IDLE_MS));
    // Never a back-end flow: its GC asks its stack.
    let mut b = back(Phase::Established);
    let mut rst = rst_bytes(CLIENT, BACKEND);
    client_packet(&mut b, &mut rst, T0 + 10);
    assert!(b.client_rst && !b.reset_and_quiet(T0 + 10 + IDLE_MS));
}

#[test]
fn expired_front_after_client_fin_and_silence() {
    let mut f = front(Phase::Forwarding);
    let mut fin = bytes_of(&seg(
        CLIENT,
        VIP,
        flags::FIN | flags::ACK,
        1,
        2,
        ts(3, 4),
        b"",
    ));
    client_packet(&mut f, &mut fin, T0 + 10);
    assert!(f.fin_client);
    assert_eq!(f.closed_at(), None);
    assert_eq!(f.expired(T0 + 10 + FRONT_FIN_IDLE_MS - 1, IDLE_MS), None);
    assert_eq!(
        f.expired(T0 + 10 + FRONT_FIN_IDLE_MS, IDLE_MS),
        Some(reason::CLOSED)
    );
    // A later packet from the client restarts the quiet time.
    let mut ack = bytes_of(&seg(CLIENT, VIP, flags::ACK, 2, 3, ts(5, 6), b""));
    client_packet(&mut f, &mut ack, T0 + 5_000);
    assert_eq!(f.expired(T0 + 10 + FRONT_FIN_IDLE_MS, IDLE_MS), None);
    assert_eq!(
        f.expired(T0 + 5_000 + FRONT_FIN_IDLE_MS, IDLE_MS),
        Some(reason::CLOSED)
    );
}

#[test]
fn expired_back_with_client_fin_waits_for_idle() {
    let mut b = back(Phase::Established);
    let mut fin = bytes_of(&seg(
        CLIENT,
        BACKEND,
        flags::FIN | flags::ACK,
        1,
        2,
        ts(3, 4),
        b"",
    ));
    assert_eq!(client_packet(&mut b, &mut fin, T0 + 10), Verdict::Pass);
    assert!(b.fin_client && !b.fin_server);
    assert_eq!(b.expired(T0 + 10 + FRONT_FIN_IDLE_MS, IDLE_MS), None);
    assert_eq!(b.expired(T0 + 10 + FRONT_FIN_IDLE_MS * 5, IDLE_MS), None);
    assert_eq!(b.expired(T0 + 10 + IDLE_MS - 1, IDLE_MS), None);
    assert_eq!(b.expired(T0 + 10 + IDLE_MS, IDLE_MS), Some(reason::IDLE));
}

#[test]
fn expired_front_server_fin_alone_is_not_a_close() {
    // Only the client's FIN counts for the front-end shortcut.
    let mut f = front(Phase::Forwarding);
    f.fin_server = true;
    assert_eq!(f.expired(T0 + FRONT_FIN_IDLE_MS * 2, IDLE_MS), None);
}

// ---------------------------------------------------------------------------
// Properties.

fn wrapping_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        (u32::MAX - 2000)..=u32::MAX,
        0u32..2000,
        0x7fff_f000u32..=0x8000_1000,
    ]
}

fn translation() -> impl Strategy<Value = Translation> {
    (
        wrapping_u32(),
        wrapping_u32(),
        wrapping_u32(),
        wrapping_u32(),
        0u8..=20,
        0u8..=20,
    )
        .prop_map(|(fi, bi, ft, bt, fw, bw)| Translation::new(fi, bi, ft, bt, fw, bw))
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    (any::<[u8; 4]>(), any::<u16>()).prop_map(|(addr, port)| Endpoint { addr, port })
}

fn build_options() -> impl Strategy<Value = BuildOptions> {
    (
        option::of(any::<u16>()),
        option::of(any::<u8>()),
        any::<bool>(),
        option::of((wrapping_u32(), wrapping_u32())),
    )
        .prop_map(|(mss, wscale, sack_permitted, timestamps)| BuildOptions {
            mss,
            wscale,
            sack_permitted,
            timestamps,
        })
}

fn tcp_flags() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(flags::ACK),
        Just(flags::ACK | flags::PSH),
        Just(flags::ACK | flags::FIN),
        Just(flags::RST),
        Just(flags::SYN),
        any::<u8>(),
    ]
}

/// Undoes a front-end rewrite: ack - seq_delta (with ACK), SACK edges -
/// seq_delta, TSecr + ts_delta, daddr and dport back.
fn undo_front(buf: &mut [u8], t: &Translation, vip: Endpoint) {
    let mut p = TcpPacket::parse(buf, CsumMode::Full).expect("parses");
    let h = *p.header();
    if h.has_flags(flags::ACK) {
        p.set_ack(h.ack.wrapping_sub(t.seq_delta));
    }
    p.add_sack_delta(t.seq_delta.wrapping_neg());
    if let Some((_, tsecr)) = h.options.timestamps {
        p.set_tsecr(tsecr.wrapping_add(t.ts_delta));
    }
    p.set_daddr(vip.addr);
    p.set_dport(vip.port);
}

proptest! {
    #[test]
    fn front_rewrite_then_inverse_is_identity(
        t in translation(),
        client in endpoint(),
        vip in endpoint(),
        backend in endpoint(),
        seq in wrapping_u32(),
        ack in wrapping_u32(),
        fl in tcp_flags(),
        window in any::<u16>(),
        options in build_options(),
        payload in vec(any::<u8>(), 0..300),
        now in 1u64..u64::MAX / 2,
    ) {
        let mut f = Flow::new(1, 2, Role::Front, client, vip, backend, 1);
        f.phase = Phase::Forwarding;
        f.xlate = t;
        let s = Segment {
            saddr: client.addr,
            daddr: vip.addr,
            sport: client.port,
            dport: vip.port,
            seq,
            ack,
            flags: fl,
            window,
            options,
            payload: &payload,
        };
        let orig = bytes_of(&s);
        let mut buf = orig.clone();
        prop_assert_eq!(client_packet(&mut f, &mut buf, now), Verdict::Rewritten);

        // Forward: exactly what build() makes of the translated segment.
        let want = Segment {
            daddr: backend.addr,
            dport: backend.port,
            ack: if fl & flags::ACK != 0 { ack.wrapping_add(t.seq_delta) } else { ack },
            options: BuildOptions {
                timestamps: options
                    .timestamps
                    .map(|(v, e)| (v, e.wrapping_sub(t.ts_delta))),
                ..options
            },
            ..s
        };
        prop_assert_eq!(&buf, &bytes_of(&want));
        prop_assert_eq!((f.packets, f.bytes, f.last_ms), (1, orig.len() as u64, stamp(now)));
        prop_assert_eq!(f.fin_client, fl & flags::FIN != 0);
        prop_assert_eq!(f.client_rst, fl & flags::RST != 0);
        prop_assert!(!f.reset);
        prop_assert_eq!(f.closed_at(), None);

        // Inverse: the original bytes, checksums included.
        undo_front(&mut buf, &t, vip);
        prop_assert_eq!(buf, orig);
    }

    #[test]
    fn front_rewrite_with_sack_then_inverse_is_identity(
        t in translation(),
        seq in wrapping_u32(),
        ack in wrapping_u32(),
        tsopt in (wrapping_u32(), wrapping_u32()),
        sack in vec((wrapping_u32(), wrapping_u32()), 1..=3),
    ) {
        let mut f = front(Phase::Forwarding);
        f.xlate = t;
        let orig = encode_with_sack(CLIENT, VIP, seq, ack, tsopt, &sack);
        let mut buf = orig.clone();
        prop_assert_eq!(client_packet(&mut f, &mut buf, T0 + 1), Verdict::Rewritten);
        let moved: Vec<(u32, u32)> = sack
            .iter()
            .map(|&(s, e)| (s.wrapping_add(t.seq_delta), e.wrapping_add(t.seq_delta)))
            .collect();
        let want = encode_with_sack(
            CLIENT,
            BACKEND,
            seq,
            ack.wrapping_add(t.seq_delta),
            (tsopt.0, tsopt.1.wrapping_sub(t.ts_delta)),
            &moved,
        );
        prop_assert_eq!(&buf, &want);
        undo_front(&mut buf, &t, VIP);
        prop_assert_eq!(buf, orig);
    }

    #[test]
    fn back_rewrite_matches_translation(
        t in translation(),
        seq in wrapping_u32(),
        ack in wrapping_u32(),
        fl in tcp_flags().prop_filter("not a SYN", |f| f & flags::SYN == 0),
        window in any::<u16>(),
        tsopt in option::of((wrapping_u32(), wrapping_u32())),
        payload in vec(any::<u8>(), 0..300),
    ) {
        let mut b = back(Phase::Established);
        b.xlate = t;
        let s = Segment {
            saddr: BACKEND.addr,
            daddr: CLIENT.addr,
            sport: BACKEND.port,
            dport: CLIENT.port,
            seq,
            ack,
            flags: fl,
            window,
            options: BuildOptions { timestamps: tsopt, ..BuildOptions::default() },
            payload: &payload,
        };
        let mut buf = bytes_of(&s);
        prop_assert_eq!(server_packet(&mut b, &mut buf, T0 + 1), Verdict::Rewritten);
        let bytes = u64::from(window) << t.backend_wscale.min(14) >> t.frontend_wscale.min(14);
        let want = Segment {
            saddr: VIP.addr,
            sport: VIP.port,
            seq: seq.wrapping_sub(t.seq_delta),
            window: u16::try_from(bytes).unwrap_or(u16::MAX),
            options: BuildOptions {
                timestamps: tsopt.map(|(v, e)| (v.wrapping_add(t.ts_delta), e)),
                ..BuildOptions::default()
            },
            ..s
        };
        prop_assert_eq!(&buf, &bytes_of(&want));
        prop_assert_eq!(b.fin_server, fl & flags::FIN != 0);
        prop_assert!(!b.fin_client);
    }
}

// ---------------------------------------------------------------------------
// The conn-get filter.

/// A `conn` nest's payload: attributes as `nla_put` lays them out.
fn nest(attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (ty, p) in attrs {
        out.extend_from_slice(&(4 + p.len() as u16).to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(p);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}

fn filter(attrs: &[(u16, &[u8])]) -> Filter {
    Filter::parse(&nest(attrs)).unwrap()
}

#[test]
fn empty_filter_selects_everything() {
    let f = filter(&[]);
    assert!(f.is_empty());
    assert!(f.matches(&front(Phase::Forwarding)));
    assert!(f.matches(&back(Phase::Established)));
}

#[test]
fn filter_fields_and_together() {
    let fwd = front(Phase::Forwarding);
    let est = back(Phase::Established);
    let port = VIP.port.to_ne_bytes();
    let be_port = BACKEND.port.to_ne_bytes();
    let service = filter(&[
        (conn_attr::VIP_ADDR, &VIP.addr),
        (conn_attr::VIP_PORT, &port),
    ]);
    assert!(!service.is_empty());
    assert!(service.matches(&fwd) && service.matches(&est));
    let other_port = (VIP.port + 1).to_ne_bytes();
    let other = filter(&[
        (conn_attr::VIP_ADDR, &VIP.addr),
        (conn_attr::VIP_PORT, &other_port),
    ]);
    assert!(!other.matches(&fwd));
    // An address alone matches any port.
    assert!(filter(&[(conn_attr::VIP_ADDR, &VIP.addr)]).matches(&fwd));
    assert!(!filter(&[(conn_attr::VIP_ADDR, &[192, 0, 2, 11])]).matches(&fwd));
    let backend = filter(&[
        (conn_attr::BACKEND_ADDR, &BACKEND.addr),
        (conn_attr::BACKEND_PORT, &be_port),
    ]);
    assert!(backend.matches(&fwd));
    let client = filter(&[(conn_attr::CLIENT_PORT, &CLIENT.port.to_ne_bytes())]);
    assert!(client.matches(&fwd));
    let state = filter(&[(conn_attr::STATE, &[conn_state::FORWARDING])]);
    assert!(state.matches(&fwd) && !state.matches(&est));
    let role = filter(&[(conn_attr::ROLE, &[conn_role::BACK])]);
    assert!(!role.matches(&fwd) && role.matches(&est));
    let peer = |p: u32| filter(&[(conn_attr::PEER, &p.to_ne_bytes())]);
    assert!(peer(fwd.peer).matches(&fwd));
    assert!(!peer(fwd.peer + 1).matches(&fwd));
    // Every field must hold.
    let both = filter(&[
        (conn_attr::STATE, &[conn_state::FORWARDING]),
        (conn_attr::ROLE, &[conn_role::BACK]),
    ]);
    assert!(!both.matches(&fwd) && !both.matches(&est));
}

#[test]
fn filter_errors() {
    let err = |attrs: &[(u16, &[u8])]| Filter::parse(&nest(attrs)).unwrap_err();
    assert_eq!(
        err(&[(conn_attr::VIP_ADDR, &[1, 2, 3])]),
        FilterError::Malformed
    );
    assert_eq!(err(&[(conn_attr::VIP_PORT, &[1])]), FilterError::Malformed);
    assert_eq!(err(&[(conn_attr::STATE, &[4])]), FilterError::BadValue);
    assert_eq!(err(&[(conn_attr::ROLE, &[2])]), FilterError::BadValue);
    for ty in [
        conn_attr::ID,
        conn_attr::AGE_MS,
        conn_attr::IDLE_MS,
        conn_attr::PACKETS,
        conn_attr::BYTES,
        conn_attr::PAD,
        0,
        99,
    ] {
        assert_eq!(err(&[(ty, &[0; 8])]), FilterError::NotAFilter, "{ty}");
    }
    assert!(!FilterError::NotAFilter.message().is_empty());
    // An IPv6 address is 16 bytes.
    for ty in [
        conn_attr::CLIENT_ADDR6,
        conn_attr::VIP_ADDR6,
        conn_attr::BACKEND_ADDR6,
    ] {
        assert_eq!(err(&[(ty, &[0; 4])]), FilterError::Malformed, "{ty}");
    }
}

#[test]
fn filters_by_ipv6_address() {
    let v6 = |last: u8| {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[15] = last;
        a
    };
    let ep = |last, port| Endpoint {
        addr: v6(last),
        port,
    };
    let f6 = Flow::<V6>::new(7, 2, Role::Front, ep(1, 40000), ep(10, 80), ep(3, 8080), 0);
    let f4 = front(Phase::Forwarding);
    let by_vip = filter(&[(conn_attr::VIP_ADDR6, &v6(10))]);
    assert!(!by_vip.is_empty());
    assert!(by_vip.matches(&f6));
    assert!(
        !by_vip.matches(&f4),
        "an IPv4 connection never matches an IPv6 address"
    );
    assert!(!filter(&[(conn_attr::VIP_ADDR6, &v6(11))]).matches(&f6));
    let all = filter(&[
        (conn_attr::CLIENT_ADDR6, &v6(1)),
        (conn_attr::CLIENT_PORT, &40000u16.to_ne_bytes()),
        (conn_attr::BACKEND_ADDR6, &v6(3)),
        (conn_attr::BACKEND_PORT, &8080u16.to_ne_bytes()),
        (conn_attr::PEER, &2u32.to_ne_bytes()),
    ]);
    assert!(all.matches(&f6));
    assert!(!filter(&[(conn_attr::CLIENT_ADDR6, &v6(2))]).matches(&f6));
    // An IPv4 address never matches an IPv6 connection.
    assert!(!filter(&[(conn_attr::VIP_ADDR, &VIP.addr)]).matches(&f6));
    assert!(filter(&[(conn_attr::VIP_ADDR, &VIP.addr)]).matches(&f4));
}

#[test]
fn phase_and_role_numbers_round_trip() {
    for p in Phase::ALL {
        assert_eq!(Phase::from_uapi(p.uapi()), Some(p));
    }
    for r in [Role::Front, Role::Back] {
        assert_eq!(Role::from_uapi(r.uapi()), Some(r));
    }
    assert_eq!(Phase::from_uapi(4), None);
    assert_eq!(Role::from_uapi(2), None);
}

// ---------------------------------------------------------------------------
// Replicas (front-end groups).

/// A client segment from `client` to `vip` comes out of `copy` byte for
/// byte as out of the original flow `f`, both rewriting it.
fn rewrites_as_original<A: Family>(
    f: &mut Flow<A>,
    copy: &mut Flow<A>,
    client: Endpoint<A>,
    vip: Endpoint<A>,
) {
    let s = seg(
        client,
        vip,
        flags::ACK | flags::PSH,
        0xffff_fffe,
        0xffff_ff80,
        ts(0xffff_fff0, 0x0000_0010),
        b"more",
    );
    let (mut a, mut b) = (bytes_of(&s), bytes_of(&s));
    assert_eq!(client_packet(f, &mut a, T0 + 7), Verdict::Rewritten);
    assert_eq!(client_packet(copy, &mut b, T0 + 7), Verdict::Rewritten);
    assert_eq!(a, b, "the same bytes, checksums included");
}

#[test]
fn a_replica_forwards_as_the_original() {
    let mut f = front(Phase::Forwarding);
    f.fin_client = true;
    let r = f
        .replica()
        .expect("a forwarding flow to a peer has a replica");
    assert_eq!((r.id, r.backend_node, r.xlate), (42, 3, f.xlate));
    let mut copy = Flow::from_replica(&r, T0 + 5);
    assert_eq!(copy.key(), f.key());
    assert_eq!(
        (
            copy.role,
            copy.phase,
            copy.peer,
            copy.backend,
            copy.fin_client
        ),
        (Role::Front, Phase::Forwarding, 3, BACKEND, true)
    );
    rewrites_as_original(&mut f, &mut copy, CLIENT, VIP);
}

#[test]
fn only_forwarding_flows_to_peers_have_replicas() {
    assert_eq!(front(Phase::Frozen).replica(), None);
    assert_eq!(back(Phase::Established).replica(), None);
    let mut local = front(Phase::Forwarding);
    local.peer = 0;
    assert_eq!(local.replica(), None);
}

// ---------------------------------------------------------------------------
// IPv6 flows: the same decisions and rewrites as IPv4's.

const CLIENT6: Endpoint<V6> = Endpoint {
    addr: v6(0x07),
    port: 40_123,
};
const VIP6: Endpoint<V6> = Endpoint {
    addr: v6(0x10),
    port: 80,
};
const BACKEND6: Endpoint<V6> = Endpoint {
    addr: v6(0x0203),
    port: 8080,
};

/// The TCP header and payload of an IPv4 or IPv6 packet, its check field
/// zeroed: what must be equal between the versions.
fn tcp_bytes_of<A: Family>(buf: &[u8]) -> Vec<u8> {
    let h = parse_in::<A>(buf).expect("parses");
    let mut t = buf[h.ip_header_len..].to_vec();
    t[16] = 0;
    t[17] = 0;
    t
}

/// The flow table's node for an IPv6 flow, as for IPv4's
/// (`flow_fits_a_128_byte_table_node`): one 192-byte kmalloc object, the
/// size Documentation/architecture.rst gives.
#[test]
fn flow6_fits_a_192_byte_table_node() {
    let round = |n: usize, a: usize| n.div_ceil(a) * a;
    let align = core::mem::align_of::<Flow<V6>>();
    let lock = round(4, align) + core::mem::size_of::<Flow<V6>>();
    let cell = round(core::mem::size_of::<Key<V6>>(), align) + lock;
    let node = 16 + cell;
    assert!(
        node <= 192,
        "node {node} bytes, flow {}",
        core::mem::size_of::<Flow<V6>>()
    );
    assert_eq!(core::mem::size_of::<Key<V6>>(), 36);
}

#[test]
fn key6_of_packet_and_reply_are_equal() {
    let s = seg(
        CLIENT6,
        VIP6,
        flags::ACK,
        1,
        2,
        BuildOptions::default(),
        b"",
    );
    let h = parse_in::<V6>(&bytes_of(&s)).unwrap();
    let r = seg(
        VIP6,
        CLIENT6,
        flags::ACK,
        2,
        1,
        BuildOptions::default(),
        b"",
    );
    let hr = parse_in::<V6>(&bytes_of(&r)).unwrap();
    assert_eq!(Key::inbound(&h), Key::outbound(&hr));
    assert_eq!(
        Key::inbound(&h),
        Key {
            client: CLIENT6,
            local: VIP6
        }
    );
    let f = Flow::new(1, 2, Role::Front, CLIENT6, VIP6, BACKEND6, T0);
    assert_eq!(f.key(), Key::inbound(&h));
    // Keys that differ only in an address byte past the first four hash
    // apart (the whole address is hashed).
    let mut other = Key::inbound(&h);
    other.client.addr[15] ^= 1;
    assert_ne!(other.hash(7), Key::inbound(&h).hash(7));
}

proptest! {
    /// A front flow rewrites an IPv6 client packet exactly as it rewrites
    /// the IPv4 one (the TCP bytes equal), its destination the back-end's
    /// IPv6 address, and a back flow the server's; the checksums verify
    /// over the IPv6 pseudo-header and the counters move alike.
    #[test]
    fn flows6_rewrite_as_flows4(
        fl in any::<u8>(),
        seq in any::<u32>(),
        ack in any::<u32>(),
        opts in option::of(any::<(u32, u32)>()),
        payload in vec(any::<u8>(), 0..200),
    ) {
        let opts = BuildOptions { timestamps: opts, ..BuildOptions::default() };
        // The client's side.
        let mut f4 = front(Phase::Forwarding);
        let mut f6 = Flow::new(42, 3, Role::Front, CLIENT6, VIP6, BACKEND6, T0);
        f6.phase = Phase::Forwarding;
        f6.xlate = xlate();
        let mut b4 = bytes_of(&seg(CLIENT, VIP, fl, seq, ack, opts, &payload));
        let mut b6 = bytes_of(&seg(CLIENT6, VIP6, fl, seq, ack, opts, &payload));
        let v4 = client_packet(&mut f4, &mut b4, T0 + 5);
        prop_assert_eq!(client_packet(&mut f6, &mut b6, T0 + 5), v4);
        prop_assert_eq!(tcp_bytes_of::<V6>(&b6), tcp_bytes_of::<[u8; 4]>(&b4));
        let h = parse_in::<V6>(&b6).unwrap();
        if v4 == Verdict::Rewritten {
            prop_assert_eq!((h.daddr, h.dport), (BACKEND6.addr, BACKEND6.port));
        }
        prop_assert_eq!((h.saddr, h.sport), (CLIENT6.addr, CLIENT6.port));
        let thl = h.tcp_header_len;
        prop_assert_eq!(
            tcp_checksum_in::<V6>(&h.saddr, &h.daddr, &b6[40..40 + thl], &b6[40 + thl..]),
            0
        );
        prop_assert_eq!((f6.packets, f6.fin_client, f6.reset), (f4.packets, f4.fin_client, f4.reset));
        prop_assert_eq!(f6.bytes, f4.bytes + 20, "the IPv6 header is 20 bytes longer");

        // The server's side.
        let mut g4 = back(Phase::Established);
        let mut g6 = Flow::new(42, 1, Role::Back, CLIENT6, VIP6, BACKEND6, T0);
        g6.phase = Phase::Established;
        g6.xlate = xlate();
        let mut b4 = bytes_of(&seg(BACKEND, CLIENT, fl, seq, ack, opts, &payload));
        let mut b6 = bytes_of(&seg(BACKEND6, CLIENT6, fl, seq, ack, opts, &payload));
        let v4 = server_packet(&mut g4, &mut b4, T0 + 6);
        prop_assert_eq!(server_packet(&mut g6, &mut b6, T0 + 6), v4);
        prop_assert_eq!(tcp_bytes_of::<V6>(&b6), tcp_bytes_of::<[u8; 4]>(&b4));
        let h = parse_in::<V6>(&b6).unwrap();
        if v4 == Verdict::Rewritten {
            prop_assert_eq!((h.saddr, h.sport), (VIP6.addr, VIP6.port));
        }
        let thl = h.tcp_header_len;
        prop_assert_eq!(
            tcp_checksum_in::<V6>(&h.saddr, &h.daddr, &b6[40..40 + thl], &b6[40 + thl..]),
            0
        );
        prop_assert_eq!((g6.packets, g6.fin_server, g6.reset), (g4.packets, g4.fin_server, g4.reset));
    }
}

/// An IPv6 forwarding flow's replica (REPLICA6) makes a copy that
/// rewrites the client's packets byte for byte as the original does.
#[test]
fn a_replica6_forwards_as_the_original() {
    let mut f = Flow::new(42, 3, Role::Front, CLIENT6, VIP6, BACKEND6, T0);
    f.phase = Phase::Forwarding;
    f.xlate = xlate();
    f.fin_client = true;
    let r = f
        .replica()
        .expect("a forwarding flow to a peer has a replica");
    assert_eq!(
        (r.id, r.backend_node, r.client, r.vip, r.backend),
        (42, 3, CLIENT6, VIP6, BACKEND6)
    );
    let mut copy = Flow::from_replica(&r, T0 + 5);
    assert_eq!(copy.key(), f.key());
    assert_eq!(
        (copy.role, copy.phase, copy.xlate, copy.fin_client),
        (Role::Front, Phase::Forwarding, f.xlate, true)
    );
    rewrites_as_original(&mut f, &mut copy, CLIENT6, VIP6);
    let mut local = f;
    local.peer = 0;
    assert_eq!(local.replica(), None);
}

// ---------------------------------------------------------------------------
// Request boundaries (per-request dispatch).

/// A forwarding front flow that dispatches each request, its next new
/// client byte at 1000.
fn per_request() -> Flow {
    let mut f = front(Phase::Forwarding);
    f.per_request = true;
    f.client_nxt = 1000;
    f
}

/// A client's request head at sequence number 1000, as bytes.
fn request_at_1000() -> Vec<u8> {
    bytes_of(&seg(
        CLIENT,
        VIP,
        flags::ACK | flags::PSH,
        1000,
        5,
        ts(9, 8),
        b"GET / HTTP/1.1\r\n\r\n",
    ))
}

#[test]
fn new_client_data_at_its_next_byte_is_a_boundary() {
    let mut f = per_request();
    let mut buf = request_at_1000();
    let before = buf.clone();
    assert_eq!(client_packet(&mut f, &mut buf, T0 + 1), Verdict::Boundary);
    // Untouched, and nothing counted: the caller decides.
    assert_eq!(buf, before);
    assert_eq!(
        (f.packets, f.client_nxt, f.phase),
        (0, 1000, Phase::Forwarding)
    );

    // Forwarded as any packet; the next new byte follows it.
    let mut p = TcpPacket::<[u8; 4]>::parse_in(&mut buf, CsumMode::Full).expect("parses");
    assert_eq!(f.forward(&mut p, T0 + 1), Verdict::Rewritten);
    let h = parse(&buf).expect("parses");
    assert_eq!(
        (h.daddr, h.dport, h.ack),
        (BACKEND.addr, BACKEND.port, 5 + 0x200)
    );
    assert_checksums(&buf);
    assert_eq!((f.packets, f.client_nxt), (1, 1018));
}

/// A connection whose back-end drains watches its request boundaries
/// whatever its service's `dispatch`; one that neither drains nor
/// dispatches each request forwards its new data at once.
#[test]
fn a_draining_flow_watches_its_boundaries() {
    let mut f = front(Phase::Forwarding);
    f.client_nxt = 1000;
    let mut buf = request_at_1000();
    assert_eq!(client_packet(&mut f, &mut buf, T0 + 1), Verdict::Rewritten);
    let mut f = front(Phase::Forwarding);
    f.client_nxt = 1000;
    f.draining = true;
    let mut buf = request_at_1000();
    assert_eq!(client_packet(&mut f, &mut buf, T0 + 1), Verdict::Boundary);
    f.stay = true;
    assert_eq!(
        client_packet(&mut f, &mut buf, T0 + 1),
        Verdict::Rewritten,
        "a refused move is not retried at the same byte"
    );
}

#[test]
fn what_is_not_a_boundary_is_forwarded() {
    let cases: [(u8, u32, &[u8], &str); 6] = [
        (flags::ACK, 1000, b"", "a pure ACK"),
        (
            flags::ACK,
            990,
            b"GET / HTTP/1.1\r\n\r\n",
            "a retransmission",
        ),
        (
            flags::ACK,
            1001,
            b"GET / HTTP/1.1\r\n\r\n",
            "a segment after a hole",
        ),
        (
            flags::ACK | flags::FIN,
            1000,
            b"GET / HTTP/1.1\r\n\r\n",
            "data with FIN",
        ),
        (flags::ACK | flags::RST, 1000, b"x", "an RST"),
        (
            flags::ACK | flags::PSH,
            1000 + 0x7fff_ffff,
            b"x",
            "far ahead",
        ),
    ];
    for (fl, seq, payload, what) in cases {
        let mut f = per_request();
        let mut buf = bytes_of(&seg(
            CLIENT,
            VIP,
            fl,
            seq,
            5,
            BuildOptions::default(),
            payload,
        ));
        assert_eq!(
            client_packet(&mut f, &mut buf, T0 + 1),
            Verdict::Rewritten,
            "{what}"
        );
    }
    // Retransmitted data does not move the next byte back.
    let mut f = per_request();
    let mut buf = bytes_of(&seg(
        CLIENT,
        VIP,
        flags::ACK,
        990,
        5,
        BuildOptions::default(),
        b"abc",
    ));
    client_packet(&mut f, &mut buf, T0 + 1);
    assert_eq!(f.client_nxt, 1000);
    // Nor does a flow that dispatches per connection, or is frozen, see one.
    let mut f = per_request();
    f.per_request = false;
    let mut buf = bytes_of(&seg(
        CLIENT,
        VIP,
        flags::ACK,
        1000,
        5,
        BuildOptions::default(),
        b"abc",
    ));
    assert_eq!(client_packet(&mut f, &mut buf, T0 + 1), Verdict::Rewritten);
    assert_eq!(f.client_nxt, 1003, "tracked all the same");
    let mut f = per_request();
    f.phase = Phase::Frozen;
    assert_eq!(client_packet(&mut f, &mut buf, T0 + 1), Verdict::Hold);
}

#[test]
fn a_move_freezes_only_a_forwarding_flow_at_its_boundary() {
    let mut f = per_request();
    assert!(!f.begin_move(999, T0), "not the next byte");
    assert_eq!(f.phase, Phase::Forwarding);
    assert!(f.begin_move(1000, T0));
    assert_eq!(f.phase, Phase::Frozen);
    assert!(!f.begin_move(1000, T0), "already frozen");
    let mut b = back(Phase::Established);
    assert!(!b.begin_move(0, T0), "a back-end flow");
}

/// A kept-alive connection moves long after its flow was made: how long it
/// has been frozen counts from the move, not from its handoff (the
/// collector removed such flows mid-move, resetting their clients).
#[test]
fn a_move_is_frozen_from_its_start_not_the_flows() {
    let mut f = per_request();
    let later = T0 + 60_000;
    assert!(!f.frozen_longer_than(later, 7_500), "forwarding");
    assert!(f.begin_move(1000, later));
    assert!(!f.frozen_longer_than(later + 7_500, 7_500));
    assert!(f.frozen_longer_than(later + 7_501, 7_500));
    let mut h = Flow::new(1, 2, Role::Front, CLIENT, VIP, BACKEND, T0);
    assert!(
        h.frozen_longer_than(T0 + 7_501, 7_500),
        "a handoff from its flow's birth"
    );
    h.phase = Phase::Forwarding;
    assert!(!h.frozen_longer_than(T0 + 7_501, 7_500));
    let b = back(Phase::Established);
    assert!(!b.frozen_longer_than(T0 + 60_000, 0), "a back-end flow");
}

#[test]
fn a_back_end_flow_keeps_how_far_its_server_had_read_when_it_answered() {
    let mut b = back(Phase::Established);
    assert_eq!(b.read_at_answer(), None);
    let mut resp = bytes_of(&seg(
        BACKEND,
        CLIENT,
        flags::ACK,
        7,
        1,
        BuildOptions::default(),
        b"HTTP/1.1 200 OK\r\n",
    ));
    // The packets say nothing of it: the caller asks the socket.
    server_packet(&mut b, &mut resp, T0 + 1);
    assert_eq!(b.read_at_answer(), None);
    b.answered_having_read(30);
    assert_eq!(b.read_at_answer(), Some(30));
    // The client's next request changes nothing: the server has not read
    // it (its socket will say), and it may go with the connection.
    let mut req = bytes_of(&seg(
        CLIENT,
        BACKEND,
        flags::ACK,
        30,
        24,
        BuildOptions::default(),
        b"GET",
    ));
    client_packet(&mut b, &mut req, T0 + 3);
    assert_eq!(b.read_at_answer(), Some(30));
    b.answered_having_read(33);
    assert_eq!(b.read_at_answer(), Some(33));
    // Not while its replay is under way, nor on a front-end flow.
    let mut r = back(Phase::Replaying);
    r.answered_having_read(5);
    assert_eq!(r.read_at_answer(), None);
    let mut f = Flow::new(1, 2, Role::Front, CLIENT, VIP, BACKEND, T0);
    f.phase = Phase::Forwarding;
    f.answered_having_read(5);
    assert_eq!(f.read_at_answer(), None);
}

#[test]
fn a_refused_move_forwards_its_segment_and_watches_the_next() {
    let mut f = per_request();
    f.stay = true;
    let mut buf = bytes_of(&seg(
        CLIENT,
        VIP,
        flags::ACK,
        1000,
        5,
        BuildOptions::default(),
        b"GET / HTTP/1.1\r\n\r\n",
    ));
    assert_eq!(client_packet(&mut f, &mut buf, T0 + 1), Verdict::Rewritten);
    assert!(!f.stay);
    assert_eq!(f.client_nxt, 1018);
    let mut buf = bytes_of(&seg(
        CLIENT,
        VIP,
        flags::ACK,
        1018,
        5,
        BuildOptions::default(),
        b"GET / HTTP/1.1\r\n\r\n",
    ));
    assert_eq!(client_packet(&mut f, &mut buf, T0 + 2), Verdict::Boundary);
}

/// A flow taken over from a copy does not know where the client is in its
/// stream (`client_nxt` of the copy, stale or 0, may even lie "after" the
/// client's numbers): the next packet forwarded tells, a pure ACK too.
#[test]
fn a_flow_taken_over_learns_where_the_client_is_from_its_next_packet() {
    let from_client = |seq: u32, payload: &[u8]| {
        bytes_of(&seg(
            CLIENT,
            VIP,
            flags::ACK,
            seq,
            5,
            BuildOptions::default(),
            payload,
        ))
    };
    let request = b"GET / HTTP/1.1\r\n\r\n";
    for (stale, first) in [(0u32, 0x9000_0000u32), (2000, 1500), (0x8000_0100, 0x100)] {
        let taken = || {
            let mut f = per_request();
            f.client_nxt = stale;
            f.stay = true;
            f
        };
        // A pure ACK: where the client's next byte is.
        let mut f = taken();
        let mut ack = from_client(first, b"");
        assert_eq!(client_packet(&mut f, &mut ack, T0 + 1), Verdict::Rewritten);
        assert_eq!((f.client_nxt, f.stay), (first, false));
        let mut req = from_client(first, request);
        assert_eq!(client_packet(&mut f, &mut req, T0 + 2), Verdict::Boundary);
        // Without the ACK, the first request is forwarded (not a
        // boundary) and teaches the position of the next.
        let mut g = taken();
        let mut req = from_client(first, request);
        assert_eq!(client_packet(&mut g, &mut req, T0 + 1), Verdict::Rewritten);
        assert_eq!((g.client_nxt, g.stay), (first.wrapping_add(18), false));
    }
}

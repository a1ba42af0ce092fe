// SPDX-License-Identifier: GPL-2.0

//! ICMP errors about handed-off connections (`baton_proto::icmp` and
//! `Flow::on_icmp_error`): what the parser accepts and refuses, and the
//! front-end's rewrite of a router's "fragmentation needed" into the
//! back-end's view, checked against the segment the back-end really sent
//! (built with `packet::build`, rewritten by its back flow as the module
//! does) and against checksums computed from scratch.

use baton_proto::ctrl::Endpoint;
use baton_proto::flow::{Flow, Key, Phase, Role, Verdict};
use baton_proto::icmp::{
    self, IcmpPacket, ParseError, DEST_UNREACH, FRAG_NEEDED, HEADERS_MAX, HEADERS_MAX_V6,
    IPPROTO_ICMPV6, TIME_EXCEEDED, V6_DEST_UNREACH, V6_PACKET_TOO_BIG, V6_TIME_EXCEEDED,
};
use baton_proto::packet::{
    self, build, flags, parse_in, tcp_checksum_in, BuildOptions, CsumMode, Family, Segment,
    TcpPacket, V6,
};
use baton_proto::seq::Translation;
use proptest::prelude::*;

mod common;
use common::{
    be16, be32, icmp_error, icmp_verifies, ip_verifies, ref_fold_sum, ref_tcp_check, v6,
    with_ip_options, ICMP_ERROR_MAX,
};

// ---------------------------------------------------------------------------
// Fixtures.

const CLIENT: Endpoint = Endpoint {
    addr: [198, 19, 1, 2],
    port: 40_123,
};
const VIP: Endpoint = Endpoint {
    addr: [198, 18, 0, 100],
    port: 80,
};
const BACKEND: Endpoint = Endpoint {
    addr: [198, 18, 0, 3],
    port: 8080,
};
const ROUTER: [u8; 4] = [198, 18, 0, 254];
const MTU: u32 = 1280;

/// seq_delta = 0x100 - 0xffff_ff00 = 0x200 (across the wrap), ts_delta
/// 0x20, shifts 7 and 2.
fn xlate() -> Translation {
    Translation::new(0xffff_ff00, 0x0000_0100, 0x0000_0010, 0xffff_fff0, 7, 2)
}

fn front(phase: Phase, x: Translation) -> Flow {
    let mut f = Flow::new(42, 3, Role::Front, CLIENT, VIP, BACKEND, 0);
    f.phase = phase;
    f.xlate = x;
    f
}

fn back(x: Translation) -> Flow {
    let mut f = Flow::new(42, 1, Role::Back, CLIENT, VIP, BACKEND, 0);
    f.phase = Phase::Established;
    f.xlate = x;
    f
}

/// A full-sized data segment of the back-end's server (`seq` in its own
/// space, timestamps on) as it leaves the back-end: rewritten by its back
/// flow to come from the VIP in the front-end's sequence space. Returns
/// the segment before and after that rewrite.
fn server_segment(x: Translation, seq: u32, payload: &[u8]) -> (Vec<u8>, Vec<u8>) {
    server_segment_in(x, seq, payload, [CLIENT, VIP, BACKEND])
}

/// [`server_segment`] between `client`, `vip` and `backend`, either IP
/// version.
fn server_segment_in<A: Family>(
    x: Translation,
    seq: u32,
    payload: &[u8],
    [client, vip, backend]: [Endpoint<A>; 3],
) -> (Vec<u8>, Vec<u8>) {
    let seg = Segment {
        saddr: backend.addr,
        daddr: client.addr,
        sport: backend.port,
        dport: client.port,
        seq,
        ack: 0x0101_0101,
        flags: flags::ACK | flags::PSH,
        window: 501,
        options: BuildOptions {
            timestamps: Some((0x7fff_0000, 0x1234_5678)),
            ..BuildOptions::default()
        },
        payload,
    };
    let mut buf = vec![0u8; 80 + payload.len()];
    let n = build(&seg, &mut buf).expect("room enough");
    buf.truncate(n);
    let sent = buf.clone();
    let mut back = Flow::new(42, 1, Role::Back, client, vip, backend, 0);
    back.phase = Phase::Established;
    back.xlate = x;
    let mut p = TcpPacket::<A>::parse_in(&mut buf, CsumMode::Full).expect("parses");
    assert_eq!(back.on_server_packet(&mut p, 0), Verdict::Rewritten);
    (sent, buf)
}

/// A router's "fragmentation needed" (next-hop MTU 1280) about `wire`,
/// quoting `quote` bytes of it.
fn frag_needed(wire: &[u8], quote: usize) -> Vec<u8> {
    icmp_error(ROUTER, DEST_UNREACH, FRAG_NEEDED, MTU, wire, quote, 0)
}

/// Runs the front flow `f` on the ICMP error `buf` as the module does.
fn front_icmp(f: &Flow, buf: &mut [u8], mode: CsumMode) -> Verdict {
    let mut p = IcmpPacket::parse(buf, mode).expect("parses");
    f.on_icmp_error(&mut p)
}

/// `wire` as the back-end would see it quoted: source address and port
/// back to the server's, the sequence number back in its space, the TCP
/// checksum made right (the rest, TSval and window, stays as on the wire).
fn backend_view(wire: &[u8], seq: u32) -> Vec<u8> {
    let mut b = wire.to_vec();
    let mut p = TcpPacket::parse(&mut b, CsumMode::Full).expect("parses");
    p.set_saddr(BACKEND.addr);
    p.set_sport(BACKEND.port);
    p.set_seq(seq);
    b
}

/// Checks the ICMP error `icmp`, rewritten for the back-end, against the
/// quoted segment `wire` and the server's sequence number `seq`.
#[track_caller]
fn assert_backend_view(icmp: &[u8], before: &[u8], wire: &[u8], seq: u32) {
    let ihl = common::ihl_of(icmp);
    let inner = ihl + 8;
    let tcp = inner + common::ihl_of(&icmp[inner..]);
    let total = usize::from(be16(icmp, 2));
    // Outer header: to the back-end, from the router, checksum right.
    assert_eq!(icmp[16..20], BACKEND.addr);
    assert_eq!(icmp[12..16], ROUTER);
    assert!(ip_verifies(icmp), "outer IPv4 checksum");
    // The ICMP header's type, code and MTU pass as they were.
    assert_eq!(icmp[ihl..ihl + 2], before[ihl..ihl + 2]);
    assert_eq!(icmp[ihl + 4..ihl + 8], before[ihl + 4..ihl + 8]);
    assert!(icmp_verifies(icmp), "ICMP checksum");
    // The quoted segment is what the back-end sent, as far as it goes,
    // except TSval and window, which nobody reads back; its checksum is
    // the one of that whole segment.
    let want = backend_view(wire, seq);
    let quoted = &icmp[inner..total];
    assert!(ip_verifies(quoted), "embedded IPv4 checksum");
    assert_eq!(quoted[12..16], BACKEND.addr);
    assert_eq!(be16(icmp, tcp), BACKEND.port);
    assert_eq!(be16(icmp, tcp + 2), CLIENT.port);
    assert_eq!(be32(icmp, tcp + 4), seq);
    let n = quoted.len();
    if tcp - inner + 18 <= n {
        assert_eq!(quoted, &want[..n], "quoted bytes");
        let at = common::ihl_of(&want) + 16;
        assert_eq!(be16(&want, at), ref_tcp_check(&want), "reference");
    } else {
        // No whole TCP checksum quoted: a first byte of it stays as it
        // was, the rest is the back-end's.
        let mut want = want[..n].to_vec();
        let check = tcp - inner + 16;
        if check < n {
            want[check..].copy_from_slice(&wire[check..n]);
        }
        assert_eq!(quoted, want, "quoted bytes");
    }
}

// ---------------------------------------------------------------------------
// The rewrite.

#[test]
fn frag_needed_goes_to_the_backend_in_its_view() {
    let x = xlate();
    let seq_b = 0x0000_0150; // past the back-end's ISN, across the wrap
    let (sent, wire) = server_segment(x, seq_b, &[0x5a; 1448]);
    // The client sees the front-end's sequence space.
    assert_eq!(be32(&wire, 24), x.seq_to_client(seq_b));
    assert_eq!(be32(&wire, 24), 0xffff_ff50);
    let before = frag_needed(&wire, ICMP_ERROR_MAX);
    assert_eq!(before.len(), ICMP_ERROR_MAX);
    let h = icmp::parse(&before).expect("parses");
    assert_eq!(
        (h.kind, h.code, h.daddr, h.saddr),
        (DEST_UNREACH, FRAG_NEEDED, VIP.addr, ROUTER)
    );
    assert_eq!(
        h.key(),
        Key {
            client: CLIENT,
            local: VIP
        }
    );
    assert_eq!(h.key(), front(Phase::Forwarding, x).key());
    assert!(h.tcp_check);
    let mut icmp = before.clone();
    let f = front(Phase::Forwarding, x);
    assert_eq!(
        front_icmp(&f, &mut icmp, CsumMode::Full),
        Verdict::Rewritten
    );
    assert_backend_view(&icmp, &before, &wire, seq_b);
    // What the back-end's stack checks: its own socket's tuple and a
    // sequence number it sent.
    assert_eq!(icmp[28 + 12..28 + 16], sent[12..16]);
    assert_eq!(icmp[48..56], sent[20..28]);
    // The flow itself is not changed by an error.
    assert_eq!(f, front(Phase::Forwarding, x));
    // The bytes past what the module makes linear are not touched.
    assert_eq!(icmp[HEADERS_MAX..], before[HEADERS_MAX..]);
}

#[test]
fn time_exceeded_and_every_unreachable_code_are_passed_on() {
    let x = xlate();
    let (_, wire) = server_segment(x, 7, b"abc");
    for (kind, code) in [(TIME_EXCEEDED, 0), (TIME_EXCEEDED, 1)]
        .into_iter()
        .chain((0..16).map(|c| (DEST_UNREACH, c)))
    {
        let before = icmp_error(ROUTER, kind, code, 0, &wire, ICMP_ERROR_MAX, 0);
        let mut icmp = before.clone();
        let f = front(Phase::Forwarding, x);
        assert_eq!(
            front_icmp(&f, &mut icmp, CsumMode::Full),
            Verdict::Rewritten
        );
        assert_backend_view(&icmp, &before, &wire, 7);
    }
}

#[test]
fn only_a_forwarding_front_flow_rewrites() {
    let x = xlate();
    let (_, wire) = server_segment(x, 7, &[1; 100]);
    let before = frag_needed(&wire, ICMP_ERROR_MAX);
    // The front-end's socket still exists during the handoff; a back-end's
    // stack has the socket the error names.
    for f in [front(Phase::Frozen, x), back(x)] {
        let mut icmp = before.clone();
        assert_eq!(front_icmp(&f, &mut icmp, CsumMode::Full), Verdict::Pass);
        assert_eq!(icmp, before);
    }
    // An error on its way to another address than the VIP.
    let mut other = before.clone();
    other[16..20].copy_from_slice(&[198, 18, 0, 9]);
    let check = common::ref_ip_check(&other);
    other[10..12].copy_from_slice(&check.to_be_bytes());
    let mut icmp = other.clone();
    let f = front(Phase::Forwarding, x);
    assert_eq!(front_icmp(&f, &mut icmp, CsumMode::Full), Verdict::Pass);
    assert_eq!(icmp, other);
}

#[test]
fn only_eight_bytes_of_tcp_are_enough() {
    let x = xlate();
    let (_, wire) = server_segment(x, 0x9000, &[2; 600]);
    // 8 to 17 bytes: no TCP checksum to keep; 18 on: kept.
    for tcp_bytes in 8..=20 {
        let before = frag_needed(&wire, 20 + tcp_bytes);
        let h = icmp::parse(&before).expect("parses");
        assert_eq!(h.tcp_check, tcp_bytes >= 18, "{tcp_bytes} bytes");
        assert_eq!(h.len, before.len());
        let mut icmp = before.clone();
        let f = front(Phase::Forwarding, x);
        assert_eq!(
            front_icmp(&f, &mut icmp, CsumMode::Full),
            Verdict::Rewritten
        );
        assert_backend_view(&icmp, &before, &wire, 0x9000);
    }
    // Seven bytes do not hold the sequence number.
    let short = frag_needed(&wire, 27);
    assert_eq!(icmp::parse(&short), Err(ParseError::Truncated));
    assert!(ParseError::Truncated.malformed());
}

#[test]
fn options_in_both_ipv4_headers() {
    let x = xlate();
    let (_, wire) = server_segment(x, 0x4242, &[3; 1000]);
    let wire = with_ip_options(&wire, 10);
    let before = icmp_error(ROUTER, DEST_UNREACH, FRAG_NEEDED, MTU, &wire, 500, 10);
    let h = icmp::parse(&before).expect("parses");
    assert_eq!((h.ip_header_len, h.inner_header_len), (60, 60));
    let mut icmp = before.clone();
    let f = front(Phase::Forwarding, x);
    assert_eq!(
        front_icmp(&f, &mut icmp, CsumMode::Full),
        Verdict::Rewritten
    );
    assert_backend_view(&icmp, &before, &wire, 0x4242);
    // Everything the rewrite touches lies within HEADERS_MAX.
    assert_eq!(icmp[HEADERS_MAX..], before[HEADERS_MAX..]);
    assert_eq!(HEADERS_MAX, 60 + 8 + 60 + 20);
}

#[test]
fn a_local_backend_on_the_vip_address() {
    // A server on the VIP's own address, another port: only the quoted
    // port and sequence number change.
    let x = xlate();
    let local = Endpoint {
        addr: VIP.addr,
        port: 8080,
    };
    let mut f = front(Phase::Forwarding, x);
    f.backend = local;
    let (_, wire) = server_segment(x, 99, &[4; 300]);
    let before = frag_needed(&wire, ICMP_ERROR_MAX);
    let mut icmp = before.clone();
    assert_eq!(
        front_icmp(&f, &mut icmp, CsumMode::Full),
        Verdict::Rewritten
    );
    assert_eq!(icmp[..20], before[..20]);
    assert_eq!(be16(&icmp, 48), 8080);
    assert_eq!(be32(&icmp, 52), 99);
    assert!(ip_verifies(&icmp) && icmp_verifies(&icmp) && ip_verifies(&icmp[28..]));
}

#[test]
fn partial_icmp_checksum_is_left_to_the_device() {
    let x = xlate();
    let (_, wire) = server_segment(x, 5, &[6; 700]);
    let before = frag_needed(&wire, ICMP_ERROR_MAX);
    let mut icmp = before.clone();
    let f = front(Phase::Forwarding, x);
    assert_eq!(
        front_icmp(&f, &mut icmp, CsumMode::Partial),
        Verdict::Rewritten
    );
    assert_eq!(be16(&icmp, 22), be16(&before, 22), "ICMP check field");
    // The others are complete checksums in both modes.
    let mut full = before.clone();
    assert_eq!(
        front_icmp(&f, &mut full, CsumMode::Full),
        Verdict::Rewritten
    );
    full[22..24].copy_from_slice(&before[22..24]);
    assert_eq!(icmp, full);
}

#[test]
fn bytes_past_the_total_length_are_never_read_or_written() {
    let x = xlate();
    let (_, wire) = server_segment(x, 5, &[7; 200]);
    let msg = frag_needed(&wire, 40);
    for tail in [0x00, 0xff] {
        let mut before = msg.clone();
        before.extend_from_slice(&[tail; 64]);
        let h = icmp::parse(&before).expect("parses");
        assert_eq!(h, icmp::parse(&msg).unwrap());
        let mut icmp = before.clone();
        let f = front(Phase::Forwarding, x);
        assert_eq!(
            front_icmp(&f, &mut icmp, CsumMode::Full),
            Verdict::Rewritten
        );
        assert_eq!(icmp[msg.len()..], before[msg.len()..]);
    }
    // A total length that ends in the quoted TCP header makes it short.
    let mut cut = msg.clone();
    cut[2..4].copy_from_slice(&55u16.to_be_bytes());
    assert_eq!(icmp::parse(&cut), Err(ParseError::Truncated));
}

// ---------------------------------------------------------------------------
// What does not parse.

/// `icmp` with the byte at `at` set to `v`.
fn with(icmp: &[u8], at: usize, v: u8) -> Vec<u8> {
    let mut b = icmp.to_vec();
    b[at] = v;
    b
}

#[test]
fn refusals_and_which_are_malformed() {
    let x = xlate();
    let (_, wire) = server_segment(x, 5, &[8; 100]);
    let good = frag_needed(&wire, ICMP_ERROR_MAX);
    let udp = with(&wire, 9, 17);
    let cases: Vec<(&str, Vec<u8>, ParseError)> = vec![
        ("empty", vec![], ParseError::Truncated),
        ("IPv6", with(&good, 0, 0x60), ParseError::NotIcmp),
        ("IHL 4", with(&good, 0, 0x44), ParseError::BadHeader),
        ("TCP", wire.clone(), ParseError::NotIcmp),
        ("UDP outer", with(&good, 9, 17), ParseError::NotIcmp),
        ("MF", with(&good, 6, 0x20), ParseError::Fragment),
        ("offset", with(&good, 7, 1), ParseError::Fragment),
        ("echo request", with(&good, 20, 8), ParseError::NotError),
        ("echo reply", with(&good, 20, 0), ParseError::NotError),
        ("redirect", with(&good, 20, 5), ParseError::NotError),
        (
            "parameter problem",
            with(&good, 20, 12),
            ParseError::NotError,
        ),
        ("source quench", with(&good, 20, 4), ParseError::NotError),
        (
            "only the outer header",
            good[..20].to_vec(),
            ParseError::Truncated,
        ),
        (
            "ICMP header cut",
            good[..27].to_vec(),
            ParseError::Truncated,
        ),
        ("nothing quoted", good[..28].to_vec(), ParseError::Truncated),
        (
            "inner IPv6",
            with(&good, 28, 0x60),
            ParseError::BadInnerHeader,
        ),
        (
            "inner IHL 4",
            with(&good, 28, 0x44),
            ParseError::BadInnerHeader,
        ),
        (
            "inner header cut",
            good[..47].to_vec(),
            ParseError::Truncated,
        ),
        (
            "inner IHL past the end",
            with(&good[..60], 28, 0x4f),
            ParseError::Truncated,
        ),
        (
            "UDP inner",
            frag_needed(&udp, ICMP_ERROR_MAX),
            ParseError::NotTcp,
        ),
        ("later fragment", with(&good, 28 + 7, 1), ParseError::NotTcp),
        ("7 bytes of TCP", good[..55].to_vec(), ParseError::Truncated),
    ];
    for (name, buf, want) in cases {
        assert_eq!(icmp::parse(&buf), Err(want), "{name}");
        let mut b = buf.clone();
        assert_eq!(
            IcmpPacket::parse(&mut b, CsumMode::Full).err(),
            Some(want),
            "{name}"
        );
        assert_eq!(b, buf, "{name}: untouched");
    }
    // The first inner fragment (MF set) has the TCP header: taken.
    assert!(icmp::parse(&with(&good, 28 + 6, 0x20)).is_ok());
    // Broken ones are counted, other kinds of message are not.
    for e in [
        ParseError::NotIcmp,
        ParseError::Fragment,
        ParseError::NotError,
        ParseError::NotTcp,
    ] {
        assert!(!e.malformed(), "{e}");
    }
    for e in [
        ParseError::BadHeader,
        ParseError::Truncated,
        ParseError::BadInnerHeader,
    ] {
        assert!(e.malformed(), "{e}");
    }
}

// ---------------------------------------------------------------------------
// Properties.

fn xlate_strategy() -> impl Strategy<Value = Translation> {
    (any::<u32>(), any::<u32>(), 0u8..=14, 0u8..=14)
        .prop_map(|(isn_f, isn_b, wf, wb)| Translation::new(isn_f, isn_b, 0x1000, 0x2000, wf, wb))
}

proptest! {
    /// Any translation, back-end, sequence number, IPv4 options and quote
    /// length: every checksum right after the rewrite, the quoted segment
    /// the back-end's, and the rewrite undone by its inverse exactly.
    #[test]
    fn rewrite_is_exact_and_invertible(
        x in xlate_strategy(),
        backend in (any::<[u8; 4]>(), 1u16..),
        seq in any::<u32>(),
        len in 0usize..1500,
        outer_opts in 0usize..=10,
        inner_opts in 0usize..=10,
        quote in 28usize..700,
        kind in prop_oneof![Just(DEST_UNREACH), Just(TIME_EXCEEDED)],
        code in 0u8..16,
    ) {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let (_, wire) = server_segment(x, seq, &payload);
        let wire = with_ip_options(&wire, inner_opts);
        let quote = quote.max(4 * inner_opts + 28).min(ICMP_ERROR_MAX - 28 - 4 * outer_opts);
        let before = icmp_error(ROUTER, kind, code, MTU, &wire, quote, outer_opts);
        let backend = Endpoint { addr: backend.0, port: backend.1 };
        let mut f = front(Phase::Forwarding, x);
        f.backend = backend;
        let mut icmp = before.clone();
        prop_assert_eq!(front_icmp(&f, &mut icmp, CsumMode::Full), Verdict::Rewritten);
        prop_assert!(ip_verifies(&icmp));
        prop_assert!(icmp_verifies(&icmp));
        let h = icmp::parse(&icmp).expect("parses");
        prop_assert_eq!(h.daddr, backend.addr);
        prop_assert_eq!(h.inner.saddr, backend.addr);
        prop_assert_eq!(h.inner.sport, backend.port);
        prop_assert_eq!(h.seq, seq);
        let inner = &icmp[28 + 4 * outer_opts..];
        prop_assert!(ip_verifies(inner));
        if h.tcp_check {
            // The quoted TCP checksum is the one of the whole segment with
            // the back-end's address, port and sequence number.
            let mut want = wire.clone();
            let mut p = TcpPacket::parse(&mut want, CsumMode::Full).unwrap();
            p.set_saddr(backend.addr);
            p.set_sport(backend.port);
            p.set_seq(seq);
            let at = h.inner_header_len + 16;
            prop_assert_eq!(be16(inner, at), ref_tcp_check(&want));
        }
        // Rewritten back (to the VIP and the client's sequence space), the
        // message is the router's again, byte for byte.
        let mut undo = icmp.clone();
        let mut p = IcmpPacket::parse(&mut undo, CsumMode::Full).unwrap();
        p.set_daddr(VIP.addr);
        p.set_inner_source(VIP);
        p.set_inner_seq(x.seq_to_client(seq));
        prop_assert_eq!(undo, before);
    }

    /// Any bytes: parsing never panics; a rewrite changes only the fields
    /// it sets and the check fields, and keeps every checksum's error as it
    /// was (the ones' complement sums over what each covers, unchanged).
    #[test]
    fn any_bytes_keep_their_sums(
        mut buf in proptest::collection::vec(any::<u8>(), 0..200),
        fix in any::<bool>(),
        backend in (any::<[u8; 4]>(), any::<u16>()),
        seq in any::<u32>(),
    ) {
        // Make most inputs parse: IPv4 ICMP error quoting IPv4 TCP.
        if fix && buf.len() >= 56 {
            buf[0] = 0x45;
            let total = buf.len() as u16;
            buf[2..4].copy_from_slice(&total.to_be_bytes());
            buf[6] &= 0x40;
            buf[7] = 0;
            buf[9] = 1;
            buf[20] = DEST_UNREACH;
            buf[28] = 0x45;
            buf[28 + 9] = 6;
            buf[28 + 7] = 0;
            buf[28 + 6] &= 0xe0;
        }
        let parsed = icmp::parse(&buf);
        let mut out = buf.clone();
        let Ok(h) = parsed else {
            prop_assert!(IcmpPacket::parse(&mut out, CsumMode::Full).is_err());
            prop_assert_eq!(out, buf);
            return Ok(());
        };
        let mut p = IcmpPacket::parse(&mut out, CsumMode::Full).unwrap();
        p.set_daddr(backend.0);
        p.set_inner_source(Endpoint { addr: backend.0, port: backend.1 });
        p.set_inner_seq(seq);
        let after = *p.header();
        prop_assert_eq!(icmp::parse(&out), Ok(after));
        let ihl = h.ip_header_len;
        let inner = ihl + 8;
        let tcp = inner + h.inner_header_len;
        let oc = |v: u16| u32::from(v) % 0xffff;
        prop_assert_eq!(oc(ref_fold_sum(&buf[..ihl])), oc(ref_fold_sum(&out[..ihl])));
        prop_assert_eq!(oc(ref_fold_sum(&buf[ihl..h.len])), oc(ref_fold_sum(&out[ihl..h.len])));
        prop_assert_eq!(oc(ref_fold_sum(&buf[inner..tcp])), oc(ref_fold_sum(&out[inner..tcp])));
        if h.tcp_check {
            let sum = |b: &[u8]| {
                let mut d = b[inner + 12..inner + 16].to_vec();
                d.extend_from_slice(&b[tcp..h.len]);
                oc(ref_fold_sum(&d))
            };
            prop_assert_eq!(sum(&buf), sum(&out));
        }
        let mut want = buf.clone();
        want[16..20].copy_from_slice(&backend.0);
        want[inner + 12..inner + 16].copy_from_slice(&backend.0);
        want[tcp..tcp + 2].copy_from_slice(&backend.1.to_be_bytes());
        want[tcp + 4..tcp + 8].copy_from_slice(&seq.to_be_bytes());
        let mut checks = vec![10, ihl + 2, inner + 10];
        if h.tcp_check {
            checks.push(tcp + 16);
        }
        for at in checks {
            want[at..at + 2].copy_from_slice(&out[at..at + 2]);
        }
        prop_assert_eq!(out, want);
    }
}

#[test]
fn packet_parser_does_not_take_icmp() {
    let (_, wire) = server_segment(xlate(), 5, b"x");
    let icmp = frag_needed(&wire, ICMP_ERROR_MAX);
    assert_eq!(packet::parse(&icmp), Err(packet::ParseError::NotTcp));
}

// ---------------------------------------------------------------------------
// ICMPv6: "packet too big" and the other errors about an IPv6 flow.

const CLIENT6: Endpoint<V6> = Endpoint {
    addr: v6(0x0102),
    port: 40_123,
};
const VIP6: Endpoint<V6> = Endpoint {
    addr: v6(0x0064),
    port: 80,
};
const BACKEND6: Endpoint<V6> = Endpoint {
    addr: v6(0x0003),
    port: 8080,
};
const ROUTER6: [u8; 16] = v6(0x00fe);
/// The most bytes of an ICMPv6 error (RFC 4443: the minimum MTU).
const ICMP6_ERROR_MAX: usize = 1280;

fn front6(x: Translation) -> Flow<V6> {
    let mut f = Flow::new(42, 3, Role::Front, CLIENT6, VIP6, BACKEND6, 0);
    f.phase = Phase::Forwarding;
    f.xlate = x;
    f
}

/// [`server_segment`] in IPv6: before and after the back flow's rewrite.
fn server_segment6(x: Translation, seq: u32, payload: &[u8]) -> (Vec<u8>, Vec<u8>) {
    server_segment_in(x, seq, payload, [CLIENT6, VIP6, BACKEND6])
}

/// The ICMPv6 checksum of `msg` (from its IPv6 header; the ICMPv6 header
/// at `at`) computed from scratch over the pseudo-header: full, or the
/// `CHECKSUM_PARTIAL` pseudo-header sum.
fn ref_icmp6_check(msg: &[u8], at: usize, mode: CsumMode) -> u16 {
    let mut d = msg[8..40].to_vec();
    d.extend_from_slice(&((msg.len() - at) as u32).to_be_bytes());
    d.extend_from_slice(&[0, 0, 0, IPPROTO_ICMPV6]);
    if mode == CsumMode::Partial {
        return ref_fold_sum(&d);
    }
    let mut body = msg[at..].to_vec();
    body[2] = 0;
    body[3] = 0;
    d.extend_from_slice(&body);
    !ref_fold_sum(&d)
}

/// A router's ICMPv6 error of type `kind` about the IPv6 packet `pkt` to
/// its source, quoting `quote` bytes of it at most and no more than fit in
/// 1280, behind `hop` 8-byte hop-by-hop headers; the checksum right in
/// `mode`.
fn icmp6_error(
    kind: u8,
    code: u8,
    rest: u32,
    pkt: &[u8],
    quote: usize,
    hop: usize,
    mode: CsumMode,
) -> Vec<u8> {
    let at = 40 + 8 * hop;
    let quoted = &pkt[..quote.min(pkt.len()).min(ICMP6_ERROR_MAX - at - 8)];
    let mut b = vec![0u8; at + 8 + quoted.len()];
    b[0] = 0x60;
    let plen = (b.len() - 40) as u16;
    b[4..6].copy_from_slice(&plen.to_be_bytes());
    b[6] = if hop > 0 { 0 } else { IPPROTO_ICMPV6 };
    b[7] = 64;
    b[8..24].copy_from_slice(&ROUTER6);
    b[24..40].copy_from_slice(&pkt[8..24]);
    for i in 0..hop {
        let h = 40 + 8 * i;
        b[h] = if i + 1 < hop { 0 } else { IPPROTO_ICMPV6 };
        b[h + 2] = 1; // PadN, 4 bytes
        b[h + 3] = 4;
    }
    b[at] = kind;
    b[at + 1] = code;
    b[at + 4..at + 8].copy_from_slice(&rest.to_be_bytes());
    b[at + 8..].copy_from_slice(quoted);
    let check = ref_icmp6_check(&b, at, mode);
    b[at + 2..at + 4].copy_from_slice(&check.to_be_bytes());
    b
}

fn front_icmp6(f: &Flow<V6>, buf: &mut [u8], mode: CsumMode) -> Verdict {
    let mut p = IcmpPacket::<V6>::parse_in(buf, mode).expect("parses");
    f.on_icmp_error(&mut p)
}

/// Checks the ICMPv6 error `icmp` rewritten for the back-end against the
/// router's `before` and the segment the back-end `sent`.
#[track_caller]
fn assert_backend_view6(icmp: &[u8], before: &[u8], sent: &[u8], seq: u32, at: usize) {
    assert_eq!(icmp.len(), before.len());
    assert_eq!(
        icmp[..8],
        before[..8],
        "version, class, flow label, lengths"
    );
    assert_eq!(icmp[8..24], ROUTER6);
    assert_eq!(icmp[24..40], BACKEND6.addr);
    assert_eq!(icmp[40..at], before[40..at], "extension headers");
    assert_eq!(icmp[at..at + 2], before[at..at + 2], "type and code");
    assert_eq!(icmp[at + 4..at + 8], before[at + 4..at + 8], "MTU");
    assert_eq!(
        be16(icmp, at + 2),
        ref_icmp6_check(icmp, at, CsumMode::Full)
    );
    let quoted = &icmp[at + 8..];
    let h = icmp::parse_in::<V6>(icmp).expect("parses");
    assert_eq!(
        (h.inner.saddr, h.inner.sport),
        (BACKEND6.addr, BACKEND6.port)
    );
    assert_eq!(h.seq, seq);
    // What the back-end sent, as far as it is quoted, but for TSval and
    // window (nobody reads them back) and the TCP checksum, which is the
    // one of that whole segment with them.
    let mut want = sent.to_vec();
    let wire = parse_in::<V6>(&before[at + 8..]).ok();
    if let Some(w) = wire {
        let mut p = TcpPacket::<V6>::parse_in(&mut want, CsumMode::Full).unwrap();
        p.set_tsval(w.options.timestamps.unwrap().0);
        p.set_window(w.window);
    }
    let n = quoted.len();
    if wire.is_some() && n >= 40 + 18 {
        assert_eq!(quoted, &want[..n], "quoted bytes");
        let thl = parse_in::<V6>(&want).unwrap().tcp_header_len;
        assert_eq!(
            tcp_checksum_in::<V6>(
                &BACKEND6.addr,
                &CLIENT6.addr,
                &want[40..40 + thl],
                &want[40 + thl..]
            ),
            0
        );
    }
}

#[test]
fn packet_too_big_goes_to_the_backend_in_its_view() {
    let x = xlate();
    let seq_b = 0x0000_0150;
    let (sent, wire) = server_segment6(x, seq_b, &[0x5a; 1428]);
    assert_eq!(be32(&wire, 44), x.seq_to_client(seq_b));
    for hop in [0, 2] {
        let before = icmp6_error(V6_PACKET_TOO_BIG, 0, MTU, &wire, 1280, hop, CsumMode::Full);
        assert_eq!(before.len(), ICMP6_ERROR_MAX);
        let h = icmp::parse_in::<V6>(&before).expect("parses");
        assert_eq!(
            (h.kind, h.code, h.daddr, h.saddr),
            (V6_PACKET_TOO_BIG, 0, VIP6.addr, ROUTER6)
        );
        assert_eq!(h.ip_header_len, 40 + 8 * hop);
        assert_eq!(h.inner_header_len, 40);
        assert_eq!(h.key(), front6(x).key());
        assert!(h.tcp_check);
        let mut icmp = before.clone();
        assert_eq!(
            front_icmp6(&front6(x), &mut icmp, CsumMode::Full),
            Verdict::Rewritten
        );
        assert_backend_view6(&icmp, &before, &sent, seq_b, 40 + 8 * hop);
        // Past what the module makes linear nothing changes.
        assert_eq!(icmp[HEADERS_MAX_V6..], before[HEADERS_MAX_V6..]);
    }
    // IPv4's parser takes none of it, nor IPv6's an IPv4 error.
    let before = icmp6_error(V6_PACKET_TOO_BIG, 0, MTU, &wire, 1280, 0, CsumMode::Full);
    assert_eq!(icmp::parse(&before), Err(ParseError::NotIcmp));
    let (_, wire4) = server_segment(x, 5, b"x");
    assert_eq!(
        icmp::parse_in::<V6>(&frag_needed(&wire4, 100)),
        Err(ParseError::NotIcmp)
    );
}

#[test]
fn icmp6_partial_check_follows_the_outer_addresses() {
    let x = xlate();
    let (_, wire) = server_segment6(x, 9, &[1; 600]);
    let before = icmp6_error(V6_DEST_UNREACH, 3, 0, &wire, 1280, 0, CsumMode::Partial);
    let mut icmp = before.clone();
    assert_eq!(
        front_icmp6(&front6(x), &mut icmp, CsumMode::Partial),
        Verdict::Rewritten
    );
    assert_eq!(
        be16(&icmp, 42),
        ref_icmp6_check(&icmp, 40, CsumMode::Partial)
    );
    assert_ne!(be16(&icmp, 42), be16(&before, 42));
}

#[test]
fn icmp6_refusals_and_which_are_malformed() {
    let x = xlate();
    let (_, wire) = server_segment6(x, 9, &[1; 100]);
    let good = icmp6_error(V6_TIME_EXCEEDED, 0, 0, &wire, 1280, 0, CsumMode::Full);
    assert!(icmp::parse_in::<V6>(&good).is_ok());
    let with = |at: usize, v: u8| {
        let mut b = good.clone();
        b[at] = v;
        b
    };
    let cases: Vec<(Vec<u8>, ParseError)> = vec![
        (with(40, 128), ParseError::NotError), // echo request
        (with(40, 4), ParseError::NotError),   // parameter problem
        (with(6, 17), ParseError::NotIcmp),
        (with(0, 0x40), ParseError::NotIcmp),
        (with(48, 0x45), ParseError::BadInnerHeader),
        (with(48 + 6, 17), ParseError::NotTcp),
        (with(48 + 6, 58), ParseError::NotTcp),
        (good[..40 + 8 + 40 + 7].to_vec(), ParseError::Truncated),
        (good[..39].to_vec(), ParseError::Truncated),
    ];
    for (b, want) in cases {
        assert_eq!(icmp::parse_in::<V6>(&b).err(), Some(want), "{want:?}");
        let mut w = b.clone();
        assert!(IcmpPacket::<V6>::parse_in(&mut w, CsumMode::Full).is_err());
        assert_eq!(w, b, "never written");
    }
    // Payload length 0: no ICMPv6 error is a jumbogram.
    let mut b = good.clone();
    b[4..6].copy_from_slice(&[0, 0]);
    assert_eq!(icmp::parse_in::<V6>(&b), Err(ParseError::BadHeader));
    assert!(ParseError::BadHeader.malformed());
    // A payload length shorter than the buffer ends the message there.
    let mut b = good.clone();
    b[4..6].copy_from_slice(&((8 + 40 + 8) as u16).to_be_bytes());
    let h = icmp::parse_in::<V6>(&b).expect("8 bytes of TCP are enough");
    assert_eq!((h.len, h.tcp_check), (40 + 8 + 40 + 8, false));
    // A fragment header before the ICMPv6 one.
    let mut b = good.clone();
    b.splice(40..40, [IPPROTO_ICMPV6, 0, 0, 1, 0, 0, 0, 9]);
    b[6] = 44;
    let plen = (b.len() - 40) as u16;
    b[4..6].copy_from_slice(&plen.to_be_bytes());
    assert_eq!(icmp::parse_in::<V6>(&b), Err(ParseError::Fragment));
    // ... with offset 0 and M clear, it is skipped.
    b[43] = 0;
    assert_eq!(icmp::parse_in::<V6>(&b).map(|h| h.ip_header_len), Ok(48));
}

proptest! {
    /// Any translation, back-end, sequence number, extension headers and
    /// quote length: the ICMPv6 checksum right over its pseudo-header, the
    /// quoted segment the back-end's, and the inverse rewrite gives the
    /// router's message back byte for byte.
    #[test]
    fn icmp6_rewrite_is_exact_and_invertible(
        x in xlate_strategy(),
        backend in (any::<[u8; 16]>(), 1u16..),
        seq in any::<u32>(),
        len in 0usize..1500,
        hop in 0usize..=3,
        quote in 48usize..1300,
        kind in prop_oneof![Just(V6_DEST_UNREACH), Just(V6_PACKET_TOO_BIG), Just(V6_TIME_EXCEEDED)],
        code in 0u8..8,
        mode in prop_oneof![Just(CsumMode::Full), Just(CsumMode::Partial)],
    ) {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let (_, wire) = server_segment6(x, seq, &payload);
        let before = icmp6_error(kind, code, MTU, &wire, quote, hop, mode);
        let at = 40 + 8 * hop;
        let backend = Endpoint { addr: backend.0, port: backend.1 };
        let mut f = front6(x);
        f.backend = backend;
        let mut icmp = before.clone();
        prop_assert_eq!(front_icmp6(&f, &mut icmp, mode), Verdict::Rewritten);
        prop_assert_eq!(be16(&icmp, at + 2), ref_icmp6_check(&icmp, at, mode));
        let h = icmp::parse_in::<V6>(&icmp).expect("parses");
        prop_assert_eq!((h.daddr, h.inner.saddr, h.inner.sport, h.seq), (backend.addr, backend.addr, backend.port, seq));
        if h.tcp_check && h.len == icmp.len() && icmp.len() - at - 8 >= wire.len() {
            let q = &icmp[at + 8..];
            let thl = h.inner_header_len;
            let d = &q[24..40];
            prop_assert_eq!(
                tcp_checksum_in::<V6>(&backend.addr, d.try_into().unwrap(), &q[thl..thl + 32], &q[thl + 32..]),
                0
            );
        }
        let mut undo = icmp.clone();
        let mut p = IcmpPacket::<V6>::parse_in(&mut undo, mode).unwrap();
        p.set_daddr(VIP6.addr);
        p.set_inner_source(VIP6);
        p.set_inner_seq(x.seq_to_client(seq));
        prop_assert_eq!(undo, before);
    }

    /// Any bytes behind an IPv6 ICMPv6 header: no panic, and a buffer that
    /// does not parse is never written.
    #[test]
    fn icmp6_any_bytes(mut buf in proptest::collection::vec(any::<u8>(), 0..200), fix in any::<bool>()) {
        if fix && buf.len() >= 96 {
            buf[0] = 0x60;
            let plen = (buf.len() - 40) as u16;
            buf[4..6].copy_from_slice(&plen.to_be_bytes());
            buf[6] = IPPROTO_ICMPV6;
            buf[40] = V6_PACKET_TOO_BIG;
            buf[48] = 0x60;
            buf[48 + 6] = 6;
        }
        let mut out = buf.clone();
        match IcmpPacket::<V6>::parse_in(&mut out, CsumMode::Full) {
            Ok(mut p) => {
                p.set_daddr(v6(1));
                p.set_inner_source(BACKEND6);
                p.set_inner_seq(7);
                let after = *p.header();
                prop_assert_eq!(icmp::parse_in::<V6>(&out), Ok(after));
            }
            Err(e) => {
                prop_assert_eq!(icmp::parse_in::<V6>(&buf), Err(e));
                prop_assert_eq!(out, buf);
            }
        }
    }
}

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
    self, IcmpPacket, ParseError, DEST_UNREACH, FRAG_NEEDED, HEADERS_MAX, TIME_EXCEEDED,
};
use baton_proto::packet::{self, build, flags, BuildOptions, CsumMode, Segment, TcpPacket};
use baton_proto::seq::Translation;
use proptest::prelude::*;

mod common;
use common::{
    be16, be32, icmp_error, icmp_verifies, ip_verifies, ref_fold_sum, ref_tcp_check,
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
    let seg = Segment {
        saddr: BACKEND.addr,
        daddr: CLIENT.addr,
        sport: BACKEND.port,
        dport: CLIENT.port,
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
    let mut buf = vec![0u8; 64 + payload.len()];
    let n = build(&seg, &mut buf).expect("room enough");
    buf.truncate(n);
    let sent = buf.clone();
    let mut p = TcpPacket::parse(&mut buf, CsumMode::Full).expect("parses");
    assert_eq!(back(x).on_server_packet(&mut p, 0), Verdict::Rewritten);
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

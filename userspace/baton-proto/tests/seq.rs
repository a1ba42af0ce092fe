// SPDX-License-Identifier: GPL-2.0

//! Sequence, timestamp and window translation of a handed-off connection
//! (`baton_proto::seq`), on numbers and on real packets.

use baton_proto::packet::{
    build, flags, opt, parse, BuildOptions, CsumMode, SackBlock, Segment, TcpPacket, IPPROTO_TCP,
};
use baton_proto::seq::{Translation, MAX_WSCALE};
use proptest::{collection::vec, prelude::*};

mod common;
use common::{be16, ref_ip_check, ref_partial_check, ref_tcp_check};

/// A u32 anywhere, often near the wrap-around.
fn wrapping_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        (u32::MAX - 2000)..=u32::MAX,
        0u32..2000,
        (0x7fff_f000u32..=0x8000_1000),
    ]
}

fn shift() -> impl Strategy<Value = u8> {
    prop_oneof![0u8..=14, any::<u8>()]
}

fn translation() -> impl Strategy<Value = Translation> {
    (
        wrapping_u32(),
        wrapping_u32(),
        wrapping_u32(),
        wrapping_u32(),
        shift(),
        shift(),
    )
        .prop_map(|(fi, bi, ft, bt, fw, bw)| Translation::new(fi, bi, ft, bt, fw, bw))
}

/// A client/back-end segment: fields, timestamps, SACK blocks placed after
/// `lead` NOPs (odd or even offsets), payload.
#[derive(Clone, Debug)]
struct Pkt {
    saddr: [u8; 4],
    daddr: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    lead: u8,
    ts: Option<(u32, u32)>,
    sack: Vec<(u32, u32)>,
    payload: Vec<u8>,
}

impl Pkt {
    /// The packet with a full TCP checksum (from scratch, reference).
    fn encode(&self) -> Vec<u8> {
        let mut opts = vec![opt::NOP; usize::from(self.lead)];
        if let Some((v, e)) = self.ts {
            opts.extend_from_slice(&[opt::TIMESTAMP, 10]);
            opts.extend_from_slice(&v.to_be_bytes());
            opts.extend_from_slice(&e.to_be_bytes());
        }
        if !self.sack.is_empty() {
            opts.extend_from_slice(&[opt::NOP, opt::SACK, (2 + 8 * self.sack.len()) as u8]);
            for (s, e) in &self.sack {
                opts.extend_from_slice(&s.to_be_bytes());
                opts.extend_from_slice(&e.to_be_bytes());
            }
        }
        while !opts.len().is_multiple_of(4) {
            opts.push(opt::EOL);
        }
        assert!(opts.len() <= 40);
        let thl = 20 + opts.len();
        let total = 20 + thl + self.payload.len();
        let mut b = vec![0u8; 20];
        b[0] = 0x45;
        b[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        b[6] = 0x40;
        b[8] = 64;
        b[9] = IPPROTO_TCP;
        b[12..16].copy_from_slice(&self.saddr);
        b[16..20].copy_from_slice(&self.daddr);
        b.extend_from_slice(&self.sport.to_be_bytes());
        b.extend_from_slice(&self.dport.to_be_bytes());
        b.extend_from_slice(&self.seq.to_be_bytes());
        b.extend_from_slice(&self.ack.to_be_bytes());
        b.push(((thl / 4) as u8) << 4);
        b.push(self.flags);
        b.extend_from_slice(&self.window.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(&opts);
        b.extend_from_slice(&self.payload);
        let ip = ref_ip_check(&b);
        b[10..12].copy_from_slice(&ip.to_be_bytes());
        let tcp = ref_tcp_check(&b);
        b[36..38].copy_from_slice(&tcp.to_be_bytes());
        b
    }

    fn sack_blocks(&self) -> Vec<SackBlock> {
        self.sack
            .iter()
            .map(|&(start, end)| SackBlock { start, end })
            .collect()
    }
}

fn pkt() -> impl Strategy<Value = Pkt> {
    (
        (
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            any::<u16>(),
            any::<u16>(),
            wrapping_u32(),
            wrapping_u32(),
            prop_oneof![
                Just(flags::ACK),
                Just(flags::ACK | flags::PSH),
                Just(flags::ACK | flags::FIN),
                Just(flags::SYN),
                Just(flags::SYN | flags::ACK),
                Just(0u8),
                Just(flags::RST),
                any::<u8>(),
            ],
            any::<u16>(),
        ),
        0u8..=3,
        proptest::option::of((wrapping_u32(), wrapping_u32())),
        vec((wrapping_u32(), wrapping_u32()), 0..=3),
        vec(any::<u8>(), 0..200),
    )
        .prop_map(
            |((saddr, daddr, sport, dport, seq, ack, flags, window), lead, ts, sack, payload)| {
                // Options: lead + 10 + 3 + 8 n <= 3 + 10 + 3 + 24 = 40 bytes.
                Pkt {
                    saddr,
                    daddr,
                    sport,
                    dport,
                    seq,
                    ack,
                    flags,
                    window,
                    lead,
                    ts,
                    sack,
                    payload,
                }
            },
        )
}

// ---------------------------------------------------------------------------
// Numbers.

#[test]
fn new_takes_deltas_and_clamps_shifts() {
    let t = Translation::new(1000, 500, 10, 4_000_000_000, 7, 9);
    assert_eq!(t.seq_delta, 500u32.wrapping_sub(1000));
    assert_eq!(t.ts_delta, 10u32.wrapping_sub(4_000_000_000));
    assert_eq!((t.frontend_wscale, t.backend_wscale), (7, 9));
    let t = Translation::new(0, 0, 0, 0, 15, 255);
    assert_eq!((t.frontend_wscale, t.backend_wscale), (14, 14));
    assert_eq!(MAX_WSCALE, 14);
    let t = Translation::default();
    assert_eq!(t.seq_to_client(123), 123);
    assert_eq!(t.ack_to_backend(123), 123);
    assert_eq!(t.tsval_to_client(123), 123);
    assert_eq!(t.tsecr_to_backend(123), 123);
    assert_eq!(t.window_to_client(123), 123);
}

#[test]
fn known_values_across_the_wrap() {
    // Front-end ISN near the top, back-end's near the bottom.
    let t = Translation::new(0xffff_fff0, 0x10, 0xffff_ff00, 5, 0, 0);
    assert_eq!(t.seq_delta, 0x20);
    assert_eq!(t.seq_to_client(0x10), 0xffff_fff0);
    assert_eq!(t.seq_to_client(0x11), 0xffff_fff1);
    assert_eq!(t.seq_to_client(0x30), 0x10);
    assert_eq!(t.ack_to_backend(0xffff_fff1), 0x11);
    assert_eq!(t.ack_to_backend(0x5), 0x25);
    assert_eq!(t.seq_to_backend(0xffff_fff0), 0x10);
    assert_eq!(t.tsval_to_client(5), 0xffff_ff00);
    assert_eq!(t.tsval_to_client(0x105), 0);
    assert_eq!(t.tsecr_to_backend(0xffff_ff00), 5);
    assert_eq!(t.tsecr_to_backend(0), 0x105);
}

#[test]
fn window_known_values() {
    let t = Translation::new(0, 0, 0, 0, 7, 9);
    // 100 << 9 = 51200 bytes = 400 << 7.
    assert_eq!(t.window_to_client(100), 400);
    // 65535 << 9 >> 7 = 262140: capped.
    assert_eq!(t.window_to_client(0xffff), 0xffff);
    let t = Translation::new(0, 0, 0, 0, 9, 7);
    // 3 << 7 = 384 bytes = 0.75 << 9: rounded down.
    assert_eq!(t.window_to_client(3), 0);
    assert_eq!(t.window_to_client(4), 1);
    assert_eq!(t.window_to_client(7), 1);
    let t = Translation::new(0, 0, 0, 0, 0, 14);
    assert_eq!(t.window_to_client(1), 0x4000);
    assert_eq!(t.window_to_client(4), 0xffff);
    let t = Translation::new(0, 0, 0, 0, 14, 0);
    assert_eq!(t.window_to_client(0x3fff), 0);
    assert_eq!(t.window_to_client(0x4000), 1);
}

/// Translation's fields are public, so a value can be made without the
/// clamping of `new`; a shift of 64 or more must not panic (the kernel builds
/// with overflow checks, where a panic is a BUG()).
#[test]
fn window_to_client_with_unclamped_shifts() {
    let t = Translation {
        frontend_wscale: 200,
        backend_wscale: 200,
        ..Translation::default()
    };
    let got = std::panic::catch_unwind(|| t.window_to_client(1));
    // Both shifts act as 14: one unit in, one unit out.
    assert_eq!(got.ok(), Some(1), "window_to_client on shift 200");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// The handshake anchors: the back-end's ISN is the front-end's for the
    /// client, the client's ack of the front-end ISN is the back-end's, and
    /// the same for the timestamp clocks.
    #[test]
    fn anchors(
        fi in wrapping_u32(), bi in wrapping_u32(),
        ft in wrapping_u32(), bt in wrapping_u32(),
        fw in shift(), bw in shift(),
    ) {
        let t = Translation::new(fi, bi, ft, bt, fw, bw);
        prop_assert_eq!(t.seq_to_client(bi), fi);
        prop_assert_eq!(t.seq_to_client(bi.wrapping_add(1)), fi.wrapping_add(1));
        prop_assert_eq!(t.ack_to_backend(fi.wrapping_add(1)), bi.wrapping_add(1));
        prop_assert_eq!(t.tsval_to_client(bt), ft);
        prop_assert_eq!(t.tsecr_to_backend(ft), bt);
        prop_assert_eq!(t.frontend_wscale, fw.min(14));
        prop_assert_eq!(t.backend_wscale, bw.min(14));
    }

    /// A back-end seq s is s' for the client; the client's ack s' + n is
    /// s + n for the back-end, for every n, across the wrap.
    #[test]
    fn halves_make_the_whole(
        fe_isn in wrapping_u32(),
        be_isn in wrapping_u32(),
        fe_ts in wrapping_u32(),
        be_ts in wrapping_u32(),
        fe_ws in any::<u8>(),
        be_ws in any::<u8>(),
    ) {
        // The front-end knows its half at the handoff, the back-end's
        // answer completes it (src/front.rs, reply).
        prop_assert_eq!(
            Translation::frontend_half(fe_isn, fe_ts, fe_ws).with_backend(be_isn, be_ts, be_ws),
            Translation::new(fe_isn, be_isn, fe_ts, be_ts, fe_ws, be_ws)
        );
    }

    /// A back-end answers a member that took a connection over with the
    /// ISN and TSval it first answered: from the front-end's half they
    /// make the same translation (src/back.rs, resume).
    #[test]
    fn backend_answer_inverts_the_translation(
        fe_isn in wrapping_u32(),
        be_isn in wrapping_u32(),
        fe_ts in wrapping_u32(),
        be_ts in wrapping_u32(),
        fe_ws in 0u8..=MAX_WSCALE,
        be_ws in 0u8..=MAX_WSCALE,
    ) {
        let t = Translation::new(fe_isn, be_isn, fe_ts, be_ts, fe_ws, be_ws);
        prop_assert_eq!(t.backend_answer(fe_isn, fe_ts), (be_isn, be_ts));
        let (isn, ts) = t.backend_answer(fe_isn, fe_ts);
        prop_assert_eq!(
            Translation::frontend_half(fe_isn, fe_ts, fe_ws).with_backend(isn, ts, t.backend_wscale),
            t
        );
    }

    #[test]
    fn seq_ack_round_trip(t in translation(), s in wrapping_u32(), n in wrapping_u32()) {
        let client = t.seq_to_client(s);
        prop_assert_eq!(t.ack_to_backend(client.wrapping_add(n)), s.wrapping_add(n));
        prop_assert_eq!(t.seq_to_client(t.ack_to_backend(s)), s);
        // A sequence number quoted in an ICMP error goes back exactly.
        prop_assert_eq!(t.seq_to_backend(client), s);
        prop_assert_eq!(t.seq_to_client(t.seq_to_backend(s)), s);
        // Distances (and so sequence order, before/after) are kept.
        let other = s.wrapping_add(n);
        prop_assert_eq!(
            t.seq_to_client(other).wrapping_sub(t.seq_to_client(s)),
            n
        );
        prop_assert_eq!(
            (t.ack_to_backend(other).wrapping_sub(t.ack_to_backend(s)) as i32) < 0,
            (n as i32) < 0
        );
    }

    /// Timestamps: the client's echo of a translated TSval is the back-end's
    /// TSval again; distances are kept.
    #[test]
    fn ts_round_trip(t in translation(), v in wrapping_u32(), n in wrapping_u32()) {
        prop_assert_eq!(t.tsecr_to_backend(t.tsval_to_client(v)), v);
        prop_assert_eq!(t.tsval_to_client(t.tsecr_to_backend(v)), v);
        prop_assert_eq!(
            t.tsval_to_client(v.wrapping_add(n)).wrapping_sub(t.tsval_to_client(v)),
            n
        );
    }

    /// window_to_client is min(65535, (w << be) >> fe).
    #[test]
    fn window_formula(t in translation(), w in any::<u16>()) {
        let be = u32::from(t.backend_wscale);
        let fe = u32::from(t.frontend_wscale);
        let expected = ((u64::from(w) << be) >> fe).min(65535) as u16;
        prop_assert_eq!(t.window_to_client(w), expected);
    }

    /// The client is never offered more bytes than the back-end offers, and
    /// no less than one front-end unit below it (unless capped at 65535).
    #[test]
    fn window_never_exceeds_backend(t in translation(), w in any::<u16>()) {
        let be = u32::from(t.backend_wscale);
        let fe = u32::from(t.frontend_wscale);
        let backend_bytes = u64::from(w) << be;
        let field = t.window_to_client(w);
        let client_bytes = u64::from(field) << fe;
        prop_assert!(
            client_bytes <= backend_bytes,
            "client {} > backend {}", client_bytes, backend_bytes
        );
        if field < u16::MAX {
            prop_assert!(client_bytes + (1u64 << fe) > backend_bytes);
        }
        // Monotonic in w.
        if w > 0 {
            prop_assert!(t.window_to_client(w - 1) <= field);
        }
    }
}

// ---------------------------------------------------------------------------
// Packets.

/// Applies `f` to `p`'s packet parsed in `mode`; returns the bytes.
fn rewrite(p: &Pkt, mode: CsumMode, f: impl FnOnce(&mut TcpPacket<'_>)) -> Vec<u8> {
    let mut buf = p.encode();
    let mut pkt = TcpPacket::parse(&mut buf, mode).unwrap();
    f(&mut pkt);
    let hdr = *pkt.header();
    assert_eq!(parse(&buf), Ok(hdr), "header out of step with the bytes");
    buf
}

#[test]
fn to_backend_known_packet() {
    let t = Translation::new(1000, 50_000, 700, 100, 7, 7);
    let p = Pkt {
        saddr: [203, 0, 113, 5],
        daddr: [192, 0, 2, 10],
        sport: 51000,
        dport: 80,
        seq: 77,
        ack: 1001 + 300,
        flags: flags::ACK,
        window: 500,
        lead: 1,
        ts: Some((12345, 705)),
        sack: vec![(1001 + 400, 1001 + 500)],
        payload: b"GET / HTTP/1.1\r\n\r\n".to_vec(),
    };
    let buf = rewrite(&p, CsumMode::Full, |k| t.packet_to_backend(k));
    let h = parse(&buf).unwrap();
    assert_eq!(h.seq, 77);
    assert_eq!(h.ack, 50_001 + 300);
    assert_eq!(h.window, 500);
    assert_eq!(h.options.timestamps, Some((12345, 105)));
    assert_eq!(
        h.options.sack_blocks(),
        &[SackBlock {
            start: 50_001 + 400,
            end: 50_001 + 500
        }]
    );
    let expected = Pkt {
        ack: 50_001 + 300,
        ts: Some((12345, 105)),
        sack: vec![(50_001 + 400, 50_001 + 500)],
        ..p
    };
    assert_eq!(buf, expected.encode());
}

#[test]
fn to_client_known_packet() {
    let t = Translation::new(1000, 50_000, 700, 100, 7, 9);
    let p = Pkt {
        saddr: [192, 0, 2, 10],
        daddr: [203, 0, 113, 5],
        sport: 80,
        dport: 51000,
        seq: 50_001 + 1234,
        ack: 78,
        flags: flags::ACK | flags::PSH,
        window: 1000,
        lead: 0,
        ts: Some((150, 12345)),
        sack: vec![(90, 100)],
        payload: b"HTTP/1.1 200 OK\r\n\r\n".to_vec(),
    };
    let buf = rewrite(&p, CsumMode::Full, |k| t.packet_to_client(k));
    let expected = Pkt {
        seq: 1001 + 1234,
        ts: Some((750, 12345)),
        window: 4000,
        ..p.clone()
    };
    assert_eq!(buf, expected.encode());
    // A SYN-ACK keeps its window.
    let syn = Pkt {
        flags: flags::SYN | flags::ACK,
        seq: 50_000,
        ..p
    };
    let buf = rewrite(&syn, CsumMode::Full, |k| t.packet_to_client(k));
    let expected = Pkt {
        seq: 1000,
        ts: Some((750, 12345)),
        ..syn
    };
    assert_eq!(buf, expected.encode());
}

/// Whether `buf`'s checksums equal the recomputation from scratch.
fn checksums_from_scratch(buf: &[u8]) -> Result<(), TestCaseError> {
    prop_assert_eq!(be16(buf, 10), ref_ip_check(buf));
    prop_assert_eq!(be16(buf, 36), ref_tcp_check(buf));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Client -> back-end: ack (with ACK), SACK edges and TSecr translated,
    /// the client's own seq and TSval untouched; the bytes equal the packet
    /// built from scratch with those values.
    #[test]
    fn packet_to_backend_full(t in translation(), p in pkt()) {
        let buf = rewrite(&p, CsumMode::Full, |k| t.packet_to_backend(k));
        let h = parse(&buf).unwrap();
        let ack = if p.flags & flags::ACK != 0 { t.ack_to_backend(p.ack) } else { p.ack };
        prop_assert_eq!(h.seq, p.seq);
        prop_assert_eq!(h.ack, ack);
        prop_assert_eq!(h.window, p.window);
        prop_assert_eq!(h.flags, p.flags);
        prop_assert_eq!((h.sport, h.dport), (p.sport, p.dport));
        prop_assert_eq!((h.saddr, h.daddr), (p.saddr, p.daddr));
        let ts = p.ts.map(|(v, e)| (v, t.tsecr_to_backend(e)));
        prop_assert_eq!(h.options.timestamps, ts);
        let sack: Vec<(u32, u32)> = p
            .sack
            .iter()
            .map(|&(s, e)| (s.wrapping_add(t.seq_delta), e.wrapping_add(t.seq_delta)))
            .collect();
        let expected = Pkt { ack, ts, sack, ..p.clone() };
        prop_assert_eq!(h.options.sack_blocks(), &expected.sack_blocks()[..]);
        checksums_from_scratch(&buf)?;
        prop_assert_eq!(&buf, &expected.encode());
    }

    /// Back-end -> client: seq and TSval translated, window rescaled except
    /// on a SYN; ack, TSecr and the SACK blocks (client data) untouched.
    #[test]
    fn packet_to_client_full(t in translation(), p in pkt()) {
        let buf = rewrite(&p, CsumMode::Full, |k| t.packet_to_client(k));
        let h = parse(&buf).unwrap();
        let seq = t.seq_to_client(p.seq);
        let window = if p.flags & flags::SYN != 0 {
            p.window
        } else {
            let be = u32::from(t.backend_wscale);
            let fe = u32::from(t.frontend_wscale);
            ((u64::from(p.window) << be) >> fe).min(65535) as u16
        };
        prop_assert_eq!(h.seq, seq);
        prop_assert_eq!(h.ack, p.ack);
        prop_assert_eq!(h.window, window);
        prop_assert_eq!(h.flags, p.flags);
        let ts = p.ts.map(|(v, e)| (t.tsval_to_client(v), e));
        prop_assert_eq!(h.options.timestamps, ts);
        prop_assert_eq!(h.options.sack_blocks(), &p.sack_blocks()[..]);
        checksums_from_scratch(&buf)?;
        let expected = Pkt { seq, window, ts, ..p.clone() };
        prop_assert_eq!(&buf, &expected.encode());
    }

    /// A round trip through both directions: what the back-end sends, once
    /// translated for the client and acknowledged, comes back as an ack of
    /// the back-end's own numbers, TSecr echoing its own clock.
    #[test]
    fn conversation_round_trip(
        t in translation(),
        p in pkt(),
        n in 0u32..100_000,
        client_ts in wrapping_u32(),
    ) {
        // Back-end -> client.
        let data = Pkt { flags: flags::ACK, ..p.clone() };
        let out = rewrite(&data, CsumMode::Full, |k| t.packet_to_client(k));
        let seen = parse(&out).unwrap();
        // Client acks seq + n and echoes the TSval it saw.
        let ack = Pkt {
            saddr: p.daddr,
            daddr: p.saddr,
            sport: p.dport,
            dport: p.sport,
            seq: p.ack,
            ack: seen.seq.wrapping_add(n),
            flags: flags::ACK,
            ts: seen.options.timestamps.map(|(v, _)| (client_ts, v)),
            sack: vec![(seen.seq.wrapping_add(n).wrapping_add(10), seen.seq.wrapping_add(n).wrapping_add(20))],
            ..p.clone()
        };
        let back = rewrite(&ack, CsumMode::Full, |k| t.packet_to_backend(k));
        let h = parse(&back).unwrap();
        prop_assert_eq!(h.ack, p.seq.wrapping_add(n));
        prop_assert_eq!(
            h.options.sack_blocks(),
            &[SackBlock { start: p.seq.wrapping_add(n + 10), end: p.seq.wrapping_add(n + 20) }]
        );
        if let Some((backend_tsval, _)) = p.ts {
            prop_assert_eq!(h.options.timestamps, Some((client_ts, backend_tsval)));
        }
        checksums_from_scratch(&back)?;
    }

    /// Partial mode: the translation changes no address, so the check field
    /// (the pseudo-header sum) stays as it was, and so does the IPv4 header.
    #[test]
    fn translation_partial_mode(t in translation(), p in pkt(), to_backend in any::<bool>()) {
        let mut buf = p.encode();
        let ihl = 20;
        // CHECKSUM_PARTIAL convention: the folded pseudo-header sum.
        let partial = ref_partial_check(&buf);
        buf[ihl + 16..ihl + 18].copy_from_slice(&partial.to_be_bytes());
        let ip_before = buf[..20].to_vec();
        let mut k = TcpPacket::parse(&mut buf, CsumMode::Partial).unwrap();
        if to_backend {
            t.packet_to_backend(&mut k);
        } else {
            t.packet_to_client(&mut k);
        }
        let hdr = *k.header();
        prop_assert_eq!(be16(&buf, 36), partial);
        prop_assert_eq!(&buf[..20], &ip_before[..]);
        prop_assert_eq!(parse(&buf), Ok(hdr));
        // The same values as Full mode.
        let full = rewrite(&p, CsumMode::Full, |k| {
            if to_backend { t.packet_to_backend(k) } else { t.packet_to_client(k) }
        });
        prop_assert_eq!(&buf[..36], &full[..36]);
        prop_assert_eq!(&buf[38..], &full[38..]);
    }

    /// On packets made by build(): the same as on the reference encoder's.
    #[test]
    fn translation_on_built_packets(
        t in translation(),
        seq in wrapping_u32(),
        ack in wrapping_u32(),
        window in any::<u16>(),
        ts in proptest::option::of((wrapping_u32(), wrapping_u32())),
        payload in vec(any::<u8>(), 0..1500),
        syn in any::<bool>(),
    ) {
        let seg = Segment {
            saddr: [10, 1, 2, 3],
            daddr: [10, 3, 2, 1],
            sport: 80,
            dport: 33333,
            seq,
            ack,
            flags: if syn { flags::SYN | flags::ACK } else { flags::ACK },
            window,
            options: BuildOptions {
                mss: syn.then_some(1460),
                wscale: syn.then_some(7),
                sack_permitted: syn,
                timestamps: ts,
            },
            payload: &payload,
        };
        let mut buf = vec![0; 2000];
        let n = build(&seg, &mut buf).unwrap();
        buf.truncate(n);
        let mut to_client = buf.clone();
        let mut k = TcpPacket::parse(&mut to_client, CsumMode::Full).unwrap();
        t.packet_to_client(&mut k);
        let h = parse(&to_client).unwrap();
        prop_assert_eq!(h.seq, t.seq_to_client(seq));
        prop_assert_eq!(h.ack, ack);
        prop_assert_eq!(h.window, if syn { window } else { t.window_to_client(window) });
        prop_assert_eq!(h.options.timestamps, ts.map(|(v, e)| (t.tsval_to_client(v), e)));
        prop_assert_eq!(h.options.mss, seg.options.mss);
        checksums_from_scratch(&to_client)?;
        let mut to_backend = buf.clone();
        let mut k = TcpPacket::parse(&mut to_backend, CsumMode::Full).unwrap();
        t.packet_to_backend(&mut k);
        let h = parse(&to_backend).unwrap();
        prop_assert_eq!(h.seq, seq);
        prop_assert_eq!(h.ack, t.ack_to_backend(ack));
        prop_assert_eq!(h.window, window);
        prop_assert_eq!(h.options.timestamps, ts.map(|(v, e)| (v, t.tsecr_to_backend(e))));
        checksums_from_scratch(&to_backend)?;
        // Payload untouched in both.
        prop_assert_eq!(&to_client[n - payload.len()..], &payload[..]);
        prop_assert_eq!(&to_backend[n - payload.len()..], &payload[..]);
    }
}

// SPDX-License-Identifier: GPL-2.0

//! IPv4/TCP and IPv6/TCP parsing, in-place rewriting and segment building
//! of `src/proto/packet.rs` (`baton_proto::packet`).
//!
//! Packets are made in two independent ways: by `build()` (the code under
//! test) and by a reference encoder written here from a model ([`Spec`]) that
//! puts any mix of options (SACK blocks, timestamps, MSS, window scale,
//! unknown kinds) at any offset, odd ones included, behind IPv4 options of
//! any length. Its checksums come from a reference implementation of the
//! Internet checksum written here as well, so that a rewritten packet can be
//! compared byte for byte with the packet the model describes after the same
//! changes. IPv6 packets carry the model's TCP segment, byte for byte,
//! behind an IPv6 header and a chain of extension headers ([`Spec6`]).

use baton_proto::packet::{
    addresses, addresses_in, build, decrement_ttl, flags, is_pure_ack, is_pure_ack_in, opt, parse,
    parse_in, tcp_checksum, tcp_checksum_in, Addresses, BuildOptions, CsumMode, Family, ParseError,
    SackBlock, Segment, TcpHeader, TcpPacket, IPPROTO_TCP, MAX_EXTENSION_HEADERS, V6,
};
use proptest::{collection::vec, option, prelude::*, sample::Index};

mod common;
use common::*;

// ---------------------------------------------------------------------------
// The model of a packet and its reference encoder.

/// A TCP option of the model.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Mss(u16),
    Ws(u8),
    SackPerm,
    Sack(Vec<(u32, u32)>),
    Ts(u32, u32),
    /// A kind `parse` does not know, with its body.
    Unknown(u8, Vec<u8>),
}

impl Item {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Item::Mss(mss) => {
                out.extend_from_slice(&[opt::MSS, 4]);
                out.extend_from_slice(&mss.to_be_bytes());
            }
            Item::Ws(ws) => out.extend_from_slice(&[opt::WSCALE, 3, *ws]),
            Item::SackPerm => out.extend_from_slice(&[opt::SACK_PERM, 2]),
            Item::Sack(blocks) => {
                out.extend_from_slice(&[opt::SACK, (2 + 8 * blocks.len()) as u8]);
                for (s, e) in blocks {
                    out.extend_from_slice(&s.to_be_bytes());
                    out.extend_from_slice(&e.to_be_bytes());
                }
            }
            Item::Ts(val, ecr) => {
                out.extend_from_slice(&[opt::TIMESTAMP, 10]);
                out.extend_from_slice(&val.to_be_bytes());
                out.extend_from_slice(&ecr.to_be_bytes());
            }
            Item::Unknown(kind, body) => {
                out.extend_from_slice(&[*kind, (2 + body.len()) as u8]);
                out.extend_from_slice(body);
            }
        }
    }
}

/// An IPv4 TCP packet: every field the encoder writes.
#[derive(Clone, Debug)]
struct Spec {
    /// IPv4 options (a multiple of 4 bytes, at most 40; never looked at).
    ip_opts: Vec<u8>,
    tos: u8,
    id: u16,
    df: bool,
    ttl: u8,
    saddr: [u8; 4],
    daddr: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    urg: u16,
    /// TCP options, each behind that many NOPs.
    items: Vec<(u8, Item)>,
    /// Pad the options with NOPs (else with EOL and zeros).
    pad_nop: bool,
    payload: Vec<u8>,
}

impl Spec {
    fn raw_options(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (nops, item) in &self.items {
            out.extend(std::iter::repeat_n(opt::NOP, usize::from(*nops)));
            item.encode(&mut out);
        }
        out
    }

    fn options(&self) -> Vec<u8> {
        let mut out = self.raw_options();
        if !out.len().is_multiple_of(4) {
            let pad = if self.pad_nop { opt::NOP } else { opt::EOL };
            out.push(pad);
            while !out.len().is_multiple_of(4) {
                out.push(if self.pad_nop { opt::NOP } else { 0 });
            }
        }
        out
    }

    fn ip_header_len(&self) -> usize {
        20 + self.ip_opts.len()
    }

    fn tcp_header_len(&self) -> usize {
        20 + self.options().len()
    }

    /// The packet, with the TCP check field a full checksum or the
    /// `CHECKSUM_PARTIAL` pseudo-header sum.
    fn encode(&self, mode: CsumMode) -> Vec<u8> {
        let ihl = self.ip_header_len();
        let opts = self.options();
        let thl = 20 + opts.len();
        let total = ihl + thl + self.payload.len();
        let mut b = Vec::with_capacity(total);
        b.push(0x40 | (ihl / 4) as u8);
        b.push(self.tos);
        b.extend_from_slice(&(total as u16).to_be_bytes());
        b.extend_from_slice(&self.id.to_be_bytes());
        b.extend_from_slice(&(if self.df { 0x4000u16 } else { 0 }).to_be_bytes());
        b.push(self.ttl);
        b.push(IPPROTO_TCP);
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&self.saddr);
        b.extend_from_slice(&self.daddr);
        b.extend_from_slice(&self.ip_opts);
        b.extend_from_slice(&self.sport.to_be_bytes());
        b.extend_from_slice(&self.dport.to_be_bytes());
        b.extend_from_slice(&self.seq.to_be_bytes());
        b.extend_from_slice(&self.ack.to_be_bytes());
        b.push(((thl / 4) as u8) << 4);
        b.push(self.flags);
        b.extend_from_slice(&self.window.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&self.urg.to_be_bytes());
        b.extend_from_slice(&opts);
        b.extend_from_slice(&self.payload);
        assert_eq!(b.len(), total);
        let ip = ref_ip_check(&b);
        b[10..12].copy_from_slice(&ip.to_be_bytes());
        let tcp = match mode {
            CsumMode::Full => ref_tcp_check(&b),
            CsumMode::Partial => ref_partial_check(&b),
        };
        b[ihl + 16..ihl + 18].copy_from_slice(&tcp.to_be_bytes());
        b
    }

    fn mss(&self) -> Option<u16> {
        self.items.iter().find_map(|(_, i)| match i {
            Item::Mss(m) => Some(*m),
            _ => None,
        })
    }

    fn ws(&self) -> Option<u8> {
        self.items.iter().find_map(|(_, i)| match i {
            Item::Ws(w) => Some(*w),
            _ => None,
        })
    }

    fn sack_perm(&self) -> bool {
        self.items.iter().any(|(_, i)| *i == Item::SackPerm)
    }

    fn ts(&self) -> Option<(u32, u32)> {
        self.items.iter().find_map(|(_, i)| match i {
            Item::Ts(v, e) => Some((*v, *e)),
            _ => None,
        })
    }

    fn ts_mut(&mut self) -> Option<(&mut u32, &mut u32)> {
        self.items.iter_mut().find_map(|(_, i)| match i {
            Item::Ts(v, e) => Some((v, e)),
            _ => None,
        })
    }

    fn sack(&self) -> Vec<SackBlock> {
        self.items
            .iter()
            .find_map(|(_, i)| match i {
                Item::Sack(b) => Some(
                    b.iter()
                        .map(|&(start, end)| SackBlock { start, end })
                        .collect(),
                ),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Offset of TSval from the start of the IPv4 header, if any.
    fn ts_offset(&self) -> Option<usize> {
        let mut at = self.ip_header_len() + 20;
        for (nops, item) in &self.items {
            at += usize::from(*nops);
            if let Item::Ts(..) = item {
                return Some(at + 2);
            }
            let mut tmp = Vec::new();
            item.encode(&mut tmp);
            at += tmp.len();
        }
        None
    }

    /// Offset of the first SACK block, if any.
    fn sack_offset(&self) -> Option<usize> {
        let mut at = self.ip_header_len() + 20;
        for (nops, item) in &self.items {
            at += usize::from(*nops);
            if let Item::Sack(..) = item {
                return Some(at + 2);
            }
            let mut tmp = Vec::new();
            item.encode(&mut tmp);
            at += tmp.len();
        }
        None
    }
}

/// Checks the parsed header `h` against the model.
fn check_header(h: &TcpHeader, s: &Spec) -> Result<(), TestCaseError> {
    prop_assert_eq!(h.saddr, s.saddr);
    prop_assert_eq!(h.daddr, s.daddr);
    prop_assert_eq!(h.ip_header_len, s.ip_header_len());
    check_tcp(h, s)
}

/// Checks the TCP fields of the parsed header `h` (either IP version)
/// against the model.
fn check_tcp<F: Family>(h: &TcpHeader<F>, s: &Spec) -> Result<(), TestCaseError> {
    prop_assert_eq!(h.sport, s.sport);
    prop_assert_eq!(h.dport, s.dport);
    prop_assert_eq!(h.seq, s.seq);
    prop_assert_eq!(h.ack, s.ack);
    prop_assert_eq!(h.flags, s.flags);
    prop_assert_eq!(h.window, s.window);
    prop_assert_eq!(h.tcp_header_len, s.tcp_header_len());
    prop_assert_eq!(h.payload_len, s.payload.len());
    prop_assert_eq!(h.options.mss, s.mss());
    prop_assert_eq!(h.options.wscale, s.ws());
    prop_assert_eq!(h.options.sack_permitted, s.sack_perm());
    prop_assert_eq!(h.options.timestamps, s.ts());
    prop_assert_eq!(h.options.sack_blocks(), &s.sack()[..]);
    Ok(())
}

/// Option kinds `parse` skips.
fn unknown_kind() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(6u8),
        Just(7),
        Just(19),
        Just(28),
        Just(30),
        Just(34),
        Just(253),
        Just(254)
    ]
}

fn items() -> impl Strategy<Value = Vec<(u8, Item)>> {
    (
        option::of(any::<u16>()),
        option::of(any::<u8>()),
        any::<bool>(),
        option::of(vec((any::<u32>(), any::<u32>()), 1..=4)),
        option::of((any::<u32>(), any::<u32>())),
        option::of((unknown_kind(), vec(any::<u8>(), 0..=6))),
        vec(0u8..=3, 6),
    )
        .prop_map(|(mss, ws, sp, sack, ts, unknown, nops)| {
            let mut v = Vec::new();
            if let Some(m) = mss {
                v.push((nops[0], Item::Mss(m)));
            }
            if let Some(w) = ws {
                v.push((nops[1], Item::Ws(w)));
            }
            if sp {
                v.push((nops[2], Item::SackPerm));
            }
            if let Some(b) = sack {
                v.push((nops[3], Item::Sack(b)));
            }
            if let Some((val, ecr)) = ts {
                v.push((nops[4], Item::Ts(val, ecr)));
            }
            if let Some((k, body)) = unknown {
                v.push((nops[5], Item::Unknown(k, body)));
            }
            v
        })
        .prop_shuffle()
}

/// Items that fit in 40 option bytes: the others are dropped first, then
/// the NOPs, then SACK blocks.
fn fitting_items() -> impl Strategy<Value = Vec<(u8, Item)>> {
    items().prop_map(|mut v| {
        let len = |v: &[(u8, Item)]| -> usize {
            v.iter()
                .map(|(n, i)| {
                    let mut t = Vec::new();
                    i.encode(&mut t);
                    usize::from(*n) + t.len()
                })
                .sum()
        };
        while len(&v) > 40 {
            if let Some(pos) = v
                .iter()
                .position(|(_, i)| !matches!(i, Item::Sack(_) | Item::Ts(..)))
            {
                v.remove(pos);
            } else if let Some(e) = v.iter_mut().find(|(n, _)| *n > 0) {
                e.0 = 0;
            } else if let Some((_, Item::Sack(b))) = v
                .iter_mut()
                .find(|(_, i)| matches!(i, Item::Sack(b) if b.len() > 1))
            {
                b.pop();
            } else {
                v.pop();
            }
        }
        v
    })
}

fn base_spec() -> Spec {
    Spec {
        ip_opts: Vec::new(),
        tos: 0,
        id: 0x1234,
        df: true,
        ttl: 64,
        saddr: [10, 0, 0, 1],
        daddr: [10, 0, 0, 2],
        sport: 40000,
        dport: 80,
        seq: 1000,
        ack: 2000,
        flags: flags::ACK,
        window: 512,
        urg: 0,
        items: vec![
            (2, Item::Sack(vec![(100, 200), (300, 400)])),
            (2, Item::Ts(7, 9)),
        ],
        pad_nop: true,
        payload: b"hello".to_vec(),
    }
}

fn spec_with(payload: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Spec> {
    (
        (
            (0usize..=10).prop_flat_map(|w| vec(any::<u8>(), 4 * w)),
            any::<u8>(),
            any::<u16>(),
            any::<bool>(),
            any::<u8>(),
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
        ),
        (
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
            any::<u16>(),
            any::<u16>(),
        ),
        fitting_items(),
        any::<bool>(),
        payload,
    )
        .prop_map(
            |(
                (ip_opts, tos, id, df, ttl, saddr, daddr),
                (sport, dport, seq, ack, flags, window, urg),
                items,
                pad_nop,
                payload,
            )| Spec {
                ip_opts,
                tos,
                id,
                df,
                ttl,
                saddr,
                daddr,
                sport,
                dport,
                seq,
                ack,
                flags,
                window,
                urg,
                items,
                pad_nop,
                payload,
            },
        )
}

fn spec() -> impl Strategy<Value = Spec> {
    spec_with(prop_oneof![
        vec(any::<u8>(), 0..64),
        vec(any::<u8>(), 0..1500)
    ])
}

/// A spec that certainly has SACK blocks and a timestamp option, each at
/// any offset.
fn spec_with_sack_and_ts() -> impl Strategy<Value = Spec> {
    (
        spec(),
        0u8..=7,
        0u8..=3,
        vec((any::<u32>(), any::<u32>()), 1..=3),
        any::<(u32, u32)>(),
        any::<bool>(),
    )
        .prop_map(|(mut s, lead, gap, blocks, (val, ecr), ts_first)| {
            // 40 bytes: lead + 2 + 8 n + gap + 10 <= 7 + 26 + 3 + 10 = 46;
            // trim the blocks to fit.
            let mut blocks = blocks;
            while usize::from(lead) + 2 + 8 * blocks.len() + usize::from(gap) + 10 > 40 {
                blocks.pop();
            }
            let sack = Item::Sack(blocks);
            let ts = Item::Ts(val, ecr);
            s.items = if ts_first {
                vec![(lead, ts), (gap, sack)]
            } else {
                vec![(lead, sack), (gap, ts)]
            };
            s
        })
}

// ---------------------------------------------------------------------------
// The setters.

#[derive(Clone, Debug)]
enum Op<A = [u8; 4]> {
    Saddr(A),
    Daddr(A),
    Sport(u16),
    Dport(u16),
    Seq(u32),
    Ack(u32),
    Window(u16),
    Tsval(u32),
    Tsecr(u32),
    SackDelta(u32),
}

impl<A: Family> Op<A> {
    fn touches_addr(&self) -> bool {
        matches!(self, Op::Saddr(_) | Op::Daddr(_))
    }

    /// The same operation for the other IP version; `None` for an address.
    fn tcp_only<B>(&self) -> Option<Op<B>> {
        Some(match *self {
            Op::Saddr(_) | Op::Daddr(_) => return None,
            Op::Sport(v) => Op::Sport(v),
            Op::Dport(v) => Op::Dport(v),
            Op::Seq(v) => Op::Seq(v),
            Op::Ack(v) => Op::Ack(v),
            Op::Window(v) => Op::Window(v),
            Op::Tsval(v) => Op::Tsval(v),
            Op::Tsecr(v) => Op::Tsecr(v),
            Op::SackDelta(v) => Op::SackDelta(v),
        })
    }

    /// Applies the operation to the packet and returns what the setter
    /// returned (for those that return something).
    fn apply(&self, p: &mut TcpPacket<'_, A>) -> Option<usize> {
        match *self {
            Op::Saddr(a) => p.set_saddr(a),
            Op::Daddr(a) => p.set_daddr(a),
            Op::Sport(v) => p.set_sport(v),
            Op::Dport(v) => p.set_dport(v),
            Op::Seq(v) => p.set_seq(v),
            Op::Ack(v) => p.set_ack(v),
            Op::Window(v) => p.set_window(v),
            Op::Tsval(v) => return Some(usize::from(p.set_tsval(v))),
            Op::Tsecr(v) => return Some(usize::from(p.set_tsecr(v))),
            Op::SackDelta(d) => return Some(p.add_sack_delta(d)),
        }
        None
    }
}

impl Op {
    /// Applies the operation to the model; returns what the setter should
    /// return.
    fn model(&self, s: &mut Spec) -> Option<usize> {
        match *self {
            Op::Saddr(a) => s.saddr = a,
            Op::Daddr(a) => s.daddr = a,
            Op::Sport(v) => s.sport = v,
            Op::Dport(v) => s.dport = v,
            Op::Seq(v) => s.seq = v,
            Op::Ack(v) => s.ack = v,
            Op::Window(v) => s.window = v,
            Op::Tsval(v) => {
                return Some(match s.ts_mut() {
                    Some((val, _)) => {
                        *val = v;
                        1
                    }
                    None => 0,
                })
            }
            Op::Tsecr(v) => {
                return Some(match s.ts_mut() {
                    Some((_, ecr)) => {
                        *ecr = v;
                        1
                    }
                    None => 0,
                })
            }
            Op::SackDelta(d) => {
                for (_, item) in &mut s.items {
                    if let Item::Sack(blocks) = item {
                        for (a, b) in blocks.iter_mut() {
                            *a = a.wrapping_add(d);
                            *b = b.wrapping_add(d);
                        }
                        return Some(blocks.len());
                    }
                }
                return Some(0);
            }
        }
        None
    }
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(Op::Saddr),
        any::<[u8; 4]>().prop_map(Op::Daddr),
        any::<u16>().prop_map(Op::Sport),
        any::<u16>().prop_map(Op::Dport),
        any::<u32>().prop_map(Op::Seq),
        any::<u32>().prop_map(Op::Ack),
        any::<u16>().prop_map(Op::Window),
        any::<u32>().prop_map(Op::Tsval),
        any::<u32>().prop_map(Op::Tsecr),
        any::<u32>().prop_map(Op::SackDelta),
        // Values close to the edges of the checksum arithmetic.
        prop_oneof![Just(0u32), Just(u32::MAX), Just(0xffff), Just(0xffff_0000)].prop_map(Op::Seq),
        prop_oneof![Just(0u32), Just(u32::MAX), Just(1)].prop_map(Op::SackDelta),
        Just(Op::Saddr([0, 0, 0, 0])),
        Just(Op::Daddr([255, 255, 255, 255])),
    ]
}

/// Every setter once, with arbitrary values, in a random order.
fn every_setter() -> impl Strategy<Value = Vec<Op>> {
    (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(sa, da, sp, dp, seq, ack, win, val, ecr, d)| {
            vec![
                Op::Saddr(sa),
                Op::Daddr(da),
                Op::Sport(sp),
                Op::Dport(dp),
                Op::Seq(seq),
                Op::Ack(ack),
                Op::Window(win),
                Op::Tsval(val),
                Op::Tsecr(ecr),
                Op::SackDelta(d),
            ]
        })
        .prop_shuffle()
}

/// Applies `ops` one at a time, each through a fresh [`TcpPacket`], and
/// compares the buffer after each with the model's encoding.
fn run_ops_one_by_one(spec: &Spec, ops: &[Op], mode: CsumMode) -> Result<(), TestCaseError> {
    let mut model = spec.clone();
    let mut buf = model.encode(mode);
    for op in ops {
        let before = buf.clone();
        let expect_ret = op.model(&mut model);
        let mut p = TcpPacket::parse(&mut buf, mode).unwrap();
        prop_assert_eq!(p.mode(), mode);
        let got_ret = op.apply(&mut p);
        prop_assert_eq!(got_ret, expect_ret, "return value of {:?}", op);
        check_header(p.header(), &model)?;
        let hdr = *p.header();
        let expected = model.encode(mode);
        prop_assert_eq!(&buf, &expected, "after {:?}", op);
        prop_assert_eq!(parse(&buf), Ok(hdr));
        prop_assert!(ip_verifies(&buf));
        prop_assert_eq!(ip_check_field(&buf), ref_ip_check(&buf));
        match mode {
            CsumMode::Full => {
                prop_assert!(tcp_verifies(&buf));
                prop_assert_eq!(tcp_check_field(&buf), ref_tcp_check(&buf));
            }
            CsumMode::Partial => {
                prop_assert_eq!(tcp_check_field(&buf), ref_partial_check(&buf));
                if !op.touches_addr() {
                    prop_assert_eq!(tcp_check_field(&buf), tcp_check_field(&before));
                    prop_assert_eq!(ip_check_field(&buf), ip_check_field(&before));
                }
            }
        }
    }
    Ok(())
}

/// Applies all `ops` through one [`TcpPacket`] and compares at the end.
fn run_ops_chained(spec: &Spec, ops: &[Op], mode: CsumMode) -> Result<(), TestCaseError> {
    let mut model = spec.clone();
    let mut buf = model.encode(mode);
    let hdr = {
        let mut p = TcpPacket::parse(&mut buf, mode).unwrap();
        for op in ops {
            let expect_ret = op.model(&mut model);
            prop_assert_eq!(op.apply(&mut p), expect_ret, "return value of {:?}", op);
        }
        check_header(p.header(), &model)?;
        *p.header()
    };
    prop_assert_eq!(&buf, &model.encode(mode));
    prop_assert_eq!(parse(&buf), Ok(hdr));
    check_header(&parse(&buf).unwrap(), &model)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// build()

/// Segment fields and a payload, owned.
#[derive(Clone, Debug)]
struct Seg {
    saddr: [u8; 4],
    daddr: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: BuildOptions,
    payload: Vec<u8>,
}

impl Seg {
    fn segment(&self) -> Segment<'_> {
        self.segment_from(self.saddr, self.daddr)
    }

    /// The segment between other addresses (IPv6 ones).
    fn segment_from<A: Family>(&self, saddr: A, daddr: A) -> Segment<'_, A> {
        Segment {
            saddr,
            daddr,
            sport: self.sport,
            dport: self.dport,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            options: self.options,
            payload: &self.payload,
        }
    }

    /// The expected option length, from the layout `build` documents.
    fn options_len(&self) -> usize {
        let o = &self.options;
        let mut len = 0;
        if o.mss.is_some() {
            len += 4;
        }
        if o.timestamps.is_some() {
            len += 12;
        } else if o.sack_permitted {
            len += 4;
        }
        if o.wscale.is_some() {
            len += 4;
        }
        len
    }

    fn build(&self) -> Vec<u8> {
        let mut buf = vec![0xa5; 20 + 40 + self.payload.len() + 7];
        let n = build(&self.segment(), &mut buf).expect("room enough");
        assert_eq!(n, 40 + self.options_len() + self.payload.len());
        // Nothing past the packet is written.
        assert!(buf[n..].iter().all(|&b| b == 0xa5));
        buf.truncate(n);
        buf
    }
}

fn build_options() -> impl Strategy<Value = BuildOptions> {
    (
        option::of(any::<u16>()),
        option::of(any::<u8>()),
        any::<bool>(),
        option::of(any::<(u32, u32)>()),
    )
        .prop_map(|(mss, wscale, sack_permitted, timestamps)| BuildOptions {
            mss,
            wscale,
            sack_permitted,
            timestamps,
        })
}

fn seg() -> impl Strategy<Value = Seg> {
    (
        (
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
            any::<u16>(),
        ),
        build_options(),
        vec(any::<u8>(), 0..1500),
    )
        .prop_map(
            |((saddr, daddr, sport, dport, seq, ack, flags, window), options, payload)| Seg {
                saddr,
                daddr,
                sport,
                dport,
                seq,
                ack,
                flags,
                window,
                options,
                payload,
            },
        )
}

fn check_built(s: &Seg, buf: &[u8]) -> Result<(), TestCaseError> {
    let h = parse(buf).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert_eq!(h.saddr, s.saddr);
    prop_assert_eq!(h.daddr, s.daddr);
    prop_assert_eq!(h.sport, s.sport);
    prop_assert_eq!(h.dport, s.dport);
    prop_assert_eq!(h.seq, s.seq);
    prop_assert_eq!(h.ack, s.ack);
    prop_assert_eq!(h.flags, s.flags);
    prop_assert_eq!(h.window, s.window);
    prop_assert_eq!(h.ip_header_len, 20);
    prop_assert_eq!(h.tcp_header_len, 20 + s.options_len());
    prop_assert_eq!(h.payload_len, s.payload.len());
    prop_assert_eq!(h.options.mss, s.options.mss);
    prop_assert_eq!(h.options.wscale, s.options.wscale);
    prop_assert_eq!(h.options.sack_permitted, s.options.sack_permitted);
    prop_assert_eq!(h.options.timestamps, s.options.timestamps);
    prop_assert!(h.options.sack_blocks().is_empty());
    // IPv4 header: 4.5, DF, TTL 64, TCP, length.
    prop_assert_eq!(buf[0], 0x45);
    prop_assert_eq!(be16(buf, 2) as usize, buf.len());
    prop_assert_eq!(be16(buf, 6), 0x4000);
    prop_assert_eq!(buf[8], 64);
    prop_assert_eq!(buf[9], IPPROTO_TCP);
    prop_assert_eq!(&buf[buf.len() - s.payload.len()..], &s.payload[..]);
    // Checksums verify and equal the recomputation.
    prop_assert!(ip_verifies(buf));
    prop_assert_eq!(ref_fold_sum(&buf[..20]), 0xffff);
    prop_assert_eq!(ip_check_field(buf), ref_ip_check(buf));
    prop_assert!(tcp_verifies(buf));
    prop_assert_eq!(tcp_check_field(buf), ref_tcp_check(buf));
    // tcp_checksum over the segment with its check field included is 0.
    let thl = h.tcp_header_len;
    prop_assert_eq!(
        tcp_checksum(&s.saddr, &s.daddr, &buf[20..20 + thl], &buf[20 + thl..]),
        0
    );
    Ok(())
}

#[test]
fn addresses_of_packets_parse_refuses() {
    let s = Seg {
        saddr: [198, 18, 1, 2],
        daddr: [198, 18, 1, 100],
        sport: 40000,
        dport: 80,
        seq: 1,
        ack: 2,
        flags: flags::ACK,
        window: 100,
        options: BuildOptions::default(),
        payload: b"data".to_vec(),
    };
    let want = Some(Addresses {
        saddr: s.saddr,
        daddr: s.daddr,
        sport: 40000,
        dport: 80,
    });
    let good = s.build();
    assert_eq!(addresses(&good), want);
    // A data offset below 5 or past the packet, a malformed option: parse
    // refuses, the addresses are still known.
    for doff in [0u8, 4, 15] {
        let mut b = good.clone();
        b[32] = doff << 4;
        assert!(parse(&b).is_err(), "doff {doff}");
        assert_eq!(addresses(&b), want, "doff {doff}");
    }
    // The first fragment of a segment (more fragments, offset 0).
    let mut b = good.clone();
    b[6] = 0x20;
    assert_eq!(parse(&b), Err(ParseError::Fragment));
    assert_eq!(addresses(&b), want);
    // A later fragment carries no TCP header; other protocols, versions,
    // header lengths and short buffers are not TCP packets.
    let mut b = good.clone();
    b[7] = 1;
    assert_eq!(addresses(&b), None);
    let mut b = good.clone();
    b[9] = 17;
    assert_eq!(addresses(&b), None);
    let mut b = good.clone();
    b[0] = 0x44;
    assert_eq!(addresses(&b), None);
    let mut b = good.clone();
    b[0] = 0x65;
    assert_eq!(addresses(&b), None);
    assert_eq!(addresses(&good[..23]), None);
    assert_eq!(addresses(&good[..24]), want);
    // IP options move the ports.
    let mut b = good[..20].to_vec();
    b[0] = 0x46;
    b.extend_from_slice(&[1, 1, 1, 0]);
    b.extend_from_slice(&good[20..]);
    assert_eq!(addresses(&b), want);
}

proptest! {
    #[test]
    fn addresses_agree_with_parse(bytes in vec(any::<u8>(), 0..80)) {
        if let Ok(h) = parse(&bytes) {
            prop_assert_eq!(
                addresses(&bytes),
                Some(Addresses { saddr: h.saddr, daddr: h.daddr, sport: h.sport, dport: h.dport })
            );
        }
    }
}

#[test]
fn build_known_layout() {
    // All options: Linux's SYN layout MSS, SACK-perm+TS, NOP WS.
    let s = Seg {
        saddr: [192, 168, 1, 2],
        daddr: [192, 168, 1, 3],
        sport: 0xabcd,
        dport: 443,
        seq: 0x0102_0304,
        ack: 0,
        flags: flags::SYN,
        window: 64240,
        options: BuildOptions {
            mss: Some(1460),
            wscale: Some(7),
            sack_permitted: true,
            timestamps: Some((0x1111_2222, 0)),
        },
        payload: Vec::new(),
    };
    let buf = s.build();
    assert_eq!(buf.len(), 60);
    assert_eq!(buf[32], 0xa0); // doff 10
    assert_eq!(
        &buf[40..60],
        &[2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x11, 0x11, 0x22, 0x22, 0, 0, 0, 0, 1, 3, 3, 7]
    );
    // Timestamps without SACK-perm: NOP NOP TS; SACK-perm alone: NOP NOP SP.
    let mut t = s.clone();
    t.options = BuildOptions {
        timestamps: Some((5, 6)),
        ..Default::default()
    };
    let buf = t.build();
    assert_eq!(&buf[40..52], &[1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6]);
    t.options = BuildOptions {
        sack_permitted: true,
        ..Default::default()
    };
    let buf = t.build();
    assert_eq!(&buf[40..44], &[1, 1, 4, 2]);
    t.options = BuildOptions::default();
    let buf = t.build();
    assert_eq!(buf.len(), 40);
    assert_eq!(buf[32], 0x50);
}

#[test]
fn build_every_option_combination() {
    for bits in 0..16u8 {
        for payload_len in [0usize, 1, 2, 3, 1460] {
            let s = Seg {
                saddr: [1, 2, 3, 4],
                daddr: [5, 6, 7, 8],
                sport: 1,
                dport: 2,
                seq: u32::MAX,
                ack: 0x8000_0000,
                flags: flags::SYN | flags::ACK,
                window: 0xffff,
                options: BuildOptions {
                    mss: (bits & 1 != 0).then_some(536),
                    wscale: (bits & 2 != 0).then_some(14),
                    sack_permitted: bits & 4 != 0,
                    timestamps: (bits & 8 != 0).then_some((u32::MAX, 1)),
                },
                payload: (0..payload_len).map(|i| i as u8).collect(),
            };
            let buf = s.build();
            check_built(&s, &buf).unwrap();
        }
    }
}

#[test]
fn build_refuses_small_buffers_and_huge_packets() {
    let payload = vec![0u8; 100];
    let seg = Segment {
        saddr: [1, 1, 1, 1],
        daddr: [2, 2, 2, 2],
        sport: 1,
        dport: 2,
        seq: 3,
        ack: 4,
        flags: flags::ACK,
        window: 5,
        options: BuildOptions {
            timestamps: Some((1, 2)),
            ..Default::default()
        },
        payload: &payload,
    };
    let need = 20 + 32 + 100;
    let mut buf = vec![0xee; need - 1];
    assert_eq!(build(&seg, &mut buf), None);
    assert!(buf.iter().all(|&b| b == 0xee), "written although too small");
    let mut buf = vec![0; need];
    assert_eq!(build(&seg, &mut buf), Some(need));

    // 65535 bytes is the most an IPv4 packet can hold.
    let big = vec![0u8; 65535 - 40];
    let mut buf = vec![0; 70000];
    let seg = Segment {
        payload: &big,
        options: BuildOptions::default(),
        ..seg
    };
    assert_eq!(build(&seg, &mut buf), Some(65535));
    let big = vec![0u8; 65535 - 40 + 1];
    let seg = Segment {
        payload: &big,
        ..seg
    };
    assert_eq!(build(&seg, &mut buf), None);
}

// ---------------------------------------------------------------------------
// Rewriting: known cases.

#[test]
fn rewrite_fixed_packet_full() {
    let s = base_spec();
    let ops = [
        Op::Saddr([192, 0, 2, 1]),
        Op::Daddr([198, 51, 100, 7]),
        Op::Sport(1),
        Op::Dport(65535),
        Op::Seq(0xdead_beef),
        Op::Ack(0),
        Op::Window(0),
        Op::Tsval(0xffff_ffff),
        Op::Tsecr(0x8000_0000),
        Op::SackDelta(0x7fff_ffff),
    ];
    run_ops_one_by_one(&s, &ops, CsumMode::Full).unwrap();
    run_ops_chained(&s, &ops, CsumMode::Full).unwrap();
    run_ops_one_by_one(&s, &ops, CsumMode::Partial).unwrap();
}

/// NOP, NOP, timestamps: the layout the parser takes without its loop.
#[test]
fn aligned_timestamps() {
    for (tsval, tsecr) in [(0x0102_0304, 0xa0b0_c0d0), (0, u32::MAX)] {
        let mut s = base_spec();
        s.items = vec![(2, Item::Ts(tsval, tsecr))];
        let ts_at = s.ts_offset().unwrap();
        let mut buf = s.encode(CsumMode::Full);
        let p = TcpPacket::parse(&mut buf, CsumMode::Full).unwrap();
        let o = p.header().options;
        assert_eq!(o.timestamps, Some((tsval, tsecr)));
        assert_eq!((o.mss, o.wscale, o.sack_permitted), (None, None, false));
        assert!(o.sack_blocks().is_empty());
        let ops = [Op::Tsval(0xfffe_fdfc), Op::Tsecr(7), Op::Ack(1)];
        run_ops_one_by_one(&s, &ops, CsumMode::Full).unwrap();
        run_ops_chained(&s, &ops, CsumMode::Partial).unwrap();
        let mut p = TcpPacket::parse(&mut buf, CsumMode::Full).unwrap();
        assert!(p.set_tsval(0x5566_7788));
        assert_eq!(be32(&buf, ts_at), 0x5566_7788);
        assert_eq!(be32(&buf, ts_at + 4), tsecr);
    }
}

#[test]
fn rewrite_at_odd_offsets() {
    // One NOP in front: SACK blocks and TSval at odd offsets.
    for lead in 0..=3u8 {
        let mut s = base_spec();
        s.items = vec![
            (lead, Item::Sack(vec![(0xffff_fff0, 0x10), (1, 2)])),
            (1, Item::Ts(0x0102_0304, 0xa0b0_c0d0)),
        ];
        let sack_at = s.sack_offset().unwrap();
        let ts_at = s.ts_offset().unwrap();
        assert_eq!(sack_at % 2, usize::from(lead % 2));
        assert_eq!(ts_at % 2, usize::from((lead + 1) % 2));
        let ops = [
            Op::Tsval(0xfffe_fdfc),
            Op::Tsecr(7),
            Op::SackDelta(0x10),
            Op::SackDelta(0xffff_ffff),
        ];
        run_ops_one_by_one(&s, &ops, CsumMode::Full).unwrap();
        run_ops_chained(&s, &ops, CsumMode::Full).unwrap();
        // The bytes landed where the option is.
        let mut buf = s.encode(CsumMode::Full);
        let mut p = TcpPacket::parse(&mut buf, CsumMode::Full).unwrap();
        assert!(p.set_tsval(0x5566_7788));
        assert_eq!(p.add_sack_delta(1), 2);
        assert_eq!(be32(&buf, ts_at), 0x5566_7788);
        assert_eq!(be32(&buf, ts_at + 4), 0xa0b0_c0d0);
        assert_eq!(be32(&buf, sack_at), 0xffff_fff1);
        assert_eq!(be32(&buf, sack_at + 4), 0x11);
        assert_eq!(be32(&buf, sack_at + 8), 2);
        assert_eq!(be32(&buf, sack_at + 12), 3);
    }
}

#[test]
fn setters_without_options_change_nothing() {
    let mut s = base_spec();
    s.items.clear();
    let orig = s.encode(CsumMode::Full);
    let mut buf = orig.clone();
    let mut p = TcpPacket::parse(&mut buf, CsumMode::Full).unwrap();
    assert!(!p.set_tsval(1));
    assert!(!p.set_tsecr(2));
    assert_eq!(p.add_sack_delta(3), 0);
    assert_eq!(p.header().options.timestamps, None);
    assert_eq!(buf, orig);
}

#[test]
fn free_function_setters() {
    use baton_proto::packet as pk;
    let s = base_spec();
    for mode in [CsumMode::Full, CsumMode::Partial] {
        let mut model = s.clone();
        let mut buf = model.encode(mode);
        pk::set_saddr(&mut buf, [9, 9, 9, 9], mode).unwrap();
        pk::set_daddr(&mut buf, [8, 8, 8, 8], mode).unwrap();
        pk::set_seq(&mut buf, 11, mode).unwrap();
        pk::set_ack(&mut buf, 12, mode).unwrap();
        pk::set_window(&mut buf, 13, mode).unwrap();
        assert_eq!(pk::set_tsval(&mut buf, 14, mode), Ok(true));
        assert_eq!(pk::set_tsecr(&mut buf, 15, mode), Ok(true));
        assert_eq!(pk::add_sack_delta(&mut buf, 16, mode), Ok(2));
        for op in [
            Op::Saddr([9, 9, 9, 9]),
            Op::Daddr([8, 8, 8, 8]),
            Op::Seq(11),
            Op::Ack(12),
            Op::Window(13),
            Op::Tsval(14),
            Op::Tsecr(15),
            Op::SackDelta(16),
        ] {
            op.model(&mut model);
        }
        assert_eq!(buf, model.encode(mode));
        // Invalid buffers: an error and no change.
        let mut bad = buf.clone();
        bad[9] = 17;
        let copy = bad.clone();
        assert_eq!(
            pk::set_seq(&mut bad, 1, mode),
            Err(ParseError::NotTcp),
            "{mode:?}"
        );
        assert_eq!(pk::set_tsval(&mut bad, 1, mode), Err(ParseError::NotTcp));
        assert_eq!(
            pk::add_sack_delta(&mut bad, 1, mode),
            Err(ParseError::NotTcp)
        );
        assert_eq!(bad, copy);
    }
}

#[test]
fn partial_mode_known_value() {
    // 10.0.0.1 -> 10.0.0.2, segment of 20 + 32 + 5 bytes (base_spec: NOP NOP
    // SACK(2) NOP NOP TS = 2 + 18 + 2 + 10 = 32 bytes of options).
    let s = base_spec();
    let buf = s.encode(CsumMode::Partial);
    let len = (buf.len() - 20) as u32;
    let sum = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + len;
    assert_eq!(tcp_check_field(&buf), sum as u16);
    let mut b = buf.clone();
    let mut p = TcpPacket::parse(&mut b, CsumMode::Partial).unwrap();
    p.set_saddr([10, 0, 1, 1]);
    assert_eq!(tcp_check_field(&b), (sum + 0x100) as u16);
}

// ---------------------------------------------------------------------------
// Parse errors.

fn valid() -> Vec<u8> {
    base_spec().encode(CsumMode::Full)
}

#[test]
fn parse_valid_base() {
    let buf = valid();
    let h = parse(&buf).unwrap();
    check_header(&h, &base_spec())
        .map_err(|e| e.to_string())
        .unwrap();
    assert!(h.has_flags(flags::ACK));
    assert!(!h.has_flags(flags::ACK | flags::SYN));
}

#[test]
fn parse_fragments() {
    for frag in [0x2000u16, 0x0001, 0x1fff, 0x2001, 0x6000, 0x4001, 0x0100] {
        let mut b = valid();
        b[6..8].copy_from_slice(&frag.to_be_bytes());
        assert_eq!(parse(&b), Err(ParseError::Fragment), "frag {frag:#06x}");
    }
    // DF and the reserved bit alone are not fragments.
    for frag in [0x0000u16, 0x4000, 0x8000, 0xc000] {
        let mut b = valid();
        b[6..8].copy_from_slice(&frag.to_be_bytes());
        assert!(parse(&b).is_ok(), "frag {frag:#06x}");
    }
}

#[test]
fn parse_bad_ihl() {
    for ihl in 0..5u8 {
        let mut b = valid();
        b[0] = 0x40 | ihl;
        assert_eq!(parse(&b), Err(ParseError::BadIhl), "ihl {ihl}");
    }
}

#[test]
fn parse_not_ipv4() {
    for v in [0u8, 1, 5, 6, 15] {
        let mut b = valid();
        b[0] = (v << 4) | 5;
        assert_eq!(parse(&b), Err(ParseError::NotIpv4), "version {v}");
    }
}

#[test]
fn parse_not_tcp() {
    for proto in [0u8, 1, 17, 41, 132, 255] {
        let mut b = valid();
        b[9] = proto;
        assert_eq!(parse(&b), Err(ParseError::NotTcp), "proto {proto}");
    }
}

#[test]
fn parse_bad_data_offset() {
    for doff in 0..5u8 {
        let mut b = valid();
        b[20 + 12] = (doff << 4) | (b[32] & 0x0f);
        assert_eq!(parse(&b), Err(ParseError::BadDataOffset), "doff {doff}");
    }
}

#[test]
fn parse_data_offset_past_buffer() {
    let mut s = base_spec();
    s.payload.clear();
    let mut b = s.encode(CsumMode::Full);
    // doff 15 (60 bytes) but only 52 bytes of TCP header are there.
    b[32] = 0xf0;
    assert_eq!(parse(&b), Err(ParseError::Truncated));
}

#[test]
fn parse_bad_total_length() {
    let b = valid();
    let headers = 20 + base_spec().tcp_header_len();
    for total in 0..headers {
        let mut b = b.clone();
        b[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        assert_eq!(parse(&b), Err(ParseError::BadTotalLength), "total {total}");
    }
    // Exactly the headers: no payload.
    let mut b = b.clone();
    b[2..4].copy_from_slice(&(headers as u16).to_be_bytes());
    assert_eq!(parse(&b).unwrap().payload_len, 0);
}

#[test]
fn parse_truncated() {
    let s = base_spec();
    let b = valid();
    let headers = 20 + s.tcp_header_len();
    for len in 0..headers {
        assert_eq!(parse(&b[..len]), Err(ParseError::Truncated), "len {len}");
    }
    // The payload need not be there: its length comes from the IPv4 header.
    for len in headers..=b.len() {
        let h = parse(&b[..len]).unwrap();
        assert_eq!(h.payload_len, s.payload.len());
    }
}

#[test]
fn parse_truncated_with_ip_options() {
    let mut s = base_spec();
    s.ip_opts = vec![1; 12];
    let b = s.encode(CsumMode::Full);
    for len in 0..32 + s.tcp_header_len() {
        assert_eq!(parse(&b[..len]), Err(ParseError::Truncated), "len {len}");
    }
    assert!(parse(&b[..32 + s.tcp_header_len()]).is_ok());
}

/// A valid packet (no payload) with `opts` (a multiple of 4 bytes) as TCP
/// options.
fn with_options(opts: &[u8]) -> Vec<u8> {
    assert_eq!(opts.len() % 4, 0);
    let mut s = base_spec();
    s.items.clear();
    s.payload.clear();
    let mut b = s.encode(CsumMode::Full);
    b.extend_from_slice(opts);
    b[32] = (((20 + opts.len()) / 4) as u8) << 4;
    let total = b.len() as u16;
    b[2..4].copy_from_slice(&total.to_be_bytes());
    b
}

#[test]
fn parse_bad_options() {
    let bad: &[&[u8]] = &[
        // Length 0 and 1.
        &[30, 0, 1, 1],
        &[30, 1, 1, 1],
        &[1, 1, 30, 0],
        &[opt::MSS, 0, 0, 0],
        &[opt::TIMESTAMP, 1, 0, 0],
        // Running past the header.
        &[30, 5, 0, 0],
        &[1, 1, 1, 30],
        &[1, 1, 30, 3],
        &[opt::TIMESTAMP, 10, 0, 0, 0, 0, 0, 0],
        &[opt::SACK, 10, 0, 0, 0, 0, 0, 0],
        // Known kinds with wrong lengths.
        &[opt::MSS, 3, 0, 1],
        &[opt::MSS, 5, 0, 0, 0, 1, 1, 1],
        &[opt::WSCALE, 2, 1, 1],
        &[opt::WSCALE, 4, 7, 0],
        &[opt::SACK_PERM, 3, 0, 1],
        &[opt::SACK, 2, 1, 1],
        &[opt::SACK, 6, 0, 0, 0, 0, 1, 1],
        &[opt::SACK, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        &[opt::TIMESTAMP, 8, 0, 0, 0, 0, 0, 0],
        &[opt::TIMESTAMP, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        // Twice.
        &[
            1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,
        ],
        &[
            1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2,
        ],
    ];
    for opts in bad {
        let b = with_options(opts);
        let copy = b.clone();
        assert_eq!(parse(&b), Err(ParseError::BadOption), "options {opts:?}");
        let mut m = b.clone();
        assert_eq!(
            TcpPacket::parse(&mut m, CsumMode::Full).err(),
            Some(ParseError::BadOption)
        );
        assert_eq!(m, copy);
    }
    // SACK with 5 blocks would need 42 bytes: cannot be built in 40, but
    // a length byte claiming it runs past the header.
    let mut o = vec![opt::SACK, 42];
    o.resize(40, 0);
    assert_eq!(
        parse(&with_options(&o)),
        Err(ParseError::BadOption),
        "SACK 5 blocks"
    );
}

#[test]
fn parse_good_options() {
    // Anything after EOL is ignored, as Linux does.
    let b = with_options(&[opt::EOL, 30, 0, 0, opt::SACK, 0, 0, 0]);
    let h = parse(&b).unwrap();
    assert_eq!(h.options.timestamps, None);
    assert!(h.options.sack_blocks().is_empty());
    // Unknown options are skipped; MSS twice keeps the last one.
    let b = with_options(&[
        30,
        4,
        0xff,
        0xff,
        opt::MSS,
        4,
        1,
        0,
        opt::MSS,
        4,
        2,
        0,
        1,
        opt::WSCALE,
        3,
        15,
    ]);
    let h = parse(&b).unwrap();
    assert_eq!(h.options.mss, Some(0x200));
    assert_eq!(h.options.wscale, Some(15));
    // Four SACK blocks fill 34 bytes.
    let mut o = vec![opt::SACK, 34];
    for i in 0..8u32 {
        o.extend_from_slice(&(i * 0x0101_0101).to_be_bytes());
    }
    o.resize(40, opt::NOP);
    let b = with_options(&o);
    let h = parse(&b).unwrap();
    let blocks: Vec<_> = (0..4u32)
        .map(|i| SackBlock {
            start: 2 * i * 0x0101_0101,
            end: (2 * i + 1) * 0x0101_0101,
        })
        .collect();
    assert_eq!(h.options.sack_blocks(), &blocks[..]);
    assert_eq!(h.tcp_header_len, 60);
}

#[test]
fn describe_errors() {
    let all = [
        ParseError::Truncated,
        ParseError::NotIpv4,
        ParseError::BadIhl,
        ParseError::BadTotalLength,
        ParseError::NotTcp,
        ParseError::Fragment,
        ParseError::BadDataOffset,
        ParseError::BadOption,
    ];
    let texts: Vec<String> = all.iter().map(|e| e.to_string()).collect();
    for (e, t) in all.iter().zip(&texts) {
        assert_eq!(t, e.describe());
        assert!(!t.is_empty());
    }
    let mut dedup = texts.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), all.len());
}

/// Applies every setter to `p` with values derived from `seed`.
fn poke(p: &mut TcpPacket<'_>, seed: u32) {
    p.set_saddr(seed.to_be_bytes());
    p.set_daddr(seed.rotate_left(8).to_be_bytes());
    p.set_sport(seed as u16);
    p.set_dport((seed >> 16) as u16);
    p.set_seq(!seed);
    p.set_ack(seed.wrapping_mul(3));
    p.set_window(seed as u16 ^ 0x5a5a);
    p.set_tsval(seed ^ 0xffff);
    p.set_tsecr(seed.wrapping_add(1));
    p.add_sack_delta(seed);
}

/// The ones' complement sum of the IPv4 header and of the TCP segment with
/// its pseudo-header, each modulo 0xffff (0 for a correct checksum).
fn residues(buf: &[u8]) -> (u32, u32) {
    let ihl = ihl_of(buf);
    let ip = u32::from(ref_fold_sum(&buf[..ihl])) % 0xffff;
    let mut data = pseudo(addr(buf, 12), addr(buf, 16), buf.len() - ihl);
    data.extend_from_slice(&buf[ihl..]);
    let tcp = u32::from(ref_fold_sum(&data)) % 0xffff;
    (ip, tcp)
}

/// A mostly valid header: IPv4, TCP, not a fragment, anything else random.
fn plausible_bytes() -> impl Strategy<Value = Vec<u8>> {
    (vec(any::<u8>(), 0..200), 5u8..=15, 0u8..=15).prop_map(|(mut b, ihl, doff)| {
        if !b.is_empty() {
            b[0] = 0x40 | ihl;
        }
        if b.len() > 9 {
            b[6] &= 0x40;
            b[7] = 0;
            b[9] = IPPROTO_TCP;
        }
        let at = usize::from(ihl) * 4 + 12;
        if b.len() > at {
            b[at] = (doff << 4) | (b[at] & 0x0f);
        }
        b
    })
}

// ---------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// build() output parses back to the same fields, with checksums that
    /// verify.
    #[test]
    fn build_parses_back(s in seg()) {
        let buf = s.build();
        check_built(&s, &buf)?;
    }

    /// The reference encoder agrees with build() on what build() can make
    /// (so that the rewrite tests compare with a trustworthy reference).
    #[test]
    fn reference_encoder_matches_build(s in seg()) {
        let buf = s.build();
        let o = s.options;
        let mut items = Vec::new();
        if let Some(m) = o.mss {
            items.push((0, Item::Mss(m)));
        }
        match (o.timestamps, o.sack_permitted) {
            (Some((v, e)), true) => {
                items.push((0, Item::SackPerm));
                items.push((0, Item::Ts(v, e)));
            }
            (Some((v, e)), false) => items.push((2, Item::Ts(v, e))),
            (None, true) => items.push((2, Item::SackPerm)),
            (None, false) => {}
        }
        if let Some(w) = o.wscale {
            items.push((1, Item::Ws(w)));
        }
        let spec = Spec {
            ip_opts: Vec::new(),
            tos: 0,
            id: 0,
            df: true,
            ttl: 64,
            saddr: s.saddr,
            daddr: s.daddr,
            sport: s.sport,
            dport: s.dport,
            seq: s.seq,
            ack: s.ack,
            flags: s.flags,
            window: s.window,
            urg: 0,
            items,
            pad_nop: true,
            payload: s.payload.clone(),
        };
        prop_assert_eq!(spec.encode(CsumMode::Full), buf);
    }

    /// tcp_checksum agrees with the reference, check field zero or included.
    #[test]
    fn tcp_checksum_matches_reference(spec in spec()) {
        let buf = spec.encode(CsumMode::Full);
        let ihl = spec.ip_header_len();
        let thl = spec.tcp_header_len();
        let (h, p) = buf[ihl..].split_at(thl);
        prop_assert_eq!(tcp_checksum(&spec.saddr, &spec.daddr, h, p), 0);
        let mut zeroed = h.to_vec();
        zeroed[16] = 0;
        zeroed[17] = 0;
        prop_assert_eq!(
            tcp_checksum(&spec.saddr, &spec.daddr, &zeroed, p),
            tcp_check_field(&buf)
        );
    }

    /// Any packet of the model (IPv4 options, options anywhere) parses to
    /// its fields.
    #[test]
    fn parse_model_packets(spec in spec()) {
        let buf = spec.encode(CsumMode::Full);
        let h = parse(&buf).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        check_header(&h, &spec)?;
        prop_assert!(ip_verifies(&buf));
        prop_assert!(tcp_verifies(&buf));
    }

    /// Full mode: any sequence of setters, one at a time, gives the packet
    /// built from scratch with the new values.
    #[test]
    fn full_mode_setters_match_rebuild(
        spec in spec_with_sack_and_ts(),
        ops in vec(any_op(), 1..12),
    ) {
        run_ops_one_by_one(&spec, &ops, CsumMode::Full)?;
    }

    /// Full mode: every setter once, arbitrary values, random order, on any
    /// option layout.
    #[test]
    fn full_mode_every_setter(spec in spec(), ops in every_setter()) {
        run_ops_one_by_one(&spec, &ops, CsumMode::Full)?;
        run_ops_chained(&spec, &ops, CsumMode::Full)?;
    }

    /// Full mode, the setters chained on one TcpPacket.
    #[test]
    fn full_mode_chained_setters(
        spec in spec_with_sack_and_ts(),
        ops in vec(any_op(), 1..24),
    ) {
        run_ops_chained(&spec, &ops, CsumMode::Full)?;
    }

    /// Partial mode: the check field follows the pseudo-header through
    /// address changes and nothing else; the IPv4 header checksum verifies.
    #[test]
    fn partial_mode_setters(
        spec in spec_with_sack_and_ts(),
        ops in vec(any_op(), 1..12),
    ) {
        run_ops_one_by_one(&spec, &ops, CsumMode::Partial)?;
        run_ops_chained(&spec, &ops, CsumMode::Partial)?;
    }

    /// Partial mode with every setter.
    #[test]
    fn partial_mode_every_setter(spec in spec(), ops in every_setter()) {
        run_ops_one_by_one(&spec, &ops, CsumMode::Partial)?;
    }

    /// Partial mode check field by hand: after a change of addresses it is
    /// the folded pseudo-header sum of the new addresses.
    #[test]
    fn partial_mode_address_change(
        spec in spec(),
        saddr in any::<[u8; 4]>(),
        daddr in any::<[u8; 4]>(),
        seq in any::<u32>(),
    ) {
        let mut buf = spec.encode(CsumMode::Partial);
        let seg_len = buf.len() - spec.ip_header_len();
        let before = tcp_check_field(&buf);
        prop_assert_eq!(before, ref_fold_sum(&pseudo(spec.saddr, spec.daddr, seg_len)));
        let mut p = TcpPacket::parse(&mut buf, CsumMode::Partial).unwrap();
        p.set_seq(seq);
        prop_assert_eq!(tcp_check_field(&buf), before);
        let mut p = TcpPacket::parse(&mut buf, CsumMode::Partial).unwrap();
        p.set_saddr(saddr);
        p.set_daddr(daddr);
        prop_assert_eq!(tcp_check_field(&buf), ref_fold_sum(&pseudo(saddr, daddr, seg_len)));
        prop_assert!(ip_verifies(&buf));
        prop_assert_eq!(be32(&buf, spec.ip_header_len() + 4), seq);
    }

    /// parse never panics on arbitrary bytes; TcpPacket::parse leaves an
    /// invalid buffer untouched and setters on a valid one do not panic
    /// and keep the header in step with the bytes.
    #[test]
    fn parse_arbitrary_bytes(
        bytes in prop_oneof![vec(any::<u8>(), 0..200), plausible_bytes()],
        seed in any::<u32>(),
    ) {
        let parsed = parse(&bytes);
        for mode in [CsumMode::Full, CsumMode::Partial] {
            let mut buf = bytes.clone();
            match TcpPacket::parse(&mut buf, mode) {
                Err(e) => {
                    prop_assert_eq!(Err(e), parsed);
                    prop_assert_eq!(&buf, &bytes);
                }
                Ok(mut p) => {
                    let h = parsed.unwrap();
                    prop_assert_eq!(*p.header(), h);
                    prop_assert!(h.ip_header_len >= 20);
                    prop_assert!(h.tcp_header_len >= 20);
                    prop_assert!(h.ip_header_len + h.tcp_header_len <= bytes.len());
                    poke(&mut p, seed);
                    let after = *p.header();
                    prop_assert_eq!(parse(&buf), Ok(after));
                }
            }
        }
    }

    /// Mutations of a valid packet: no panic; if it still parses, setters
    /// keep the header in step, and in Full mode keep the checksums exactly
    /// as wrong as they were (incremental updates preserve the sum).
    #[test]
    fn parse_mutated_packets(
        spec in spec_with_sack_and_ts(),
        flips in vec((any::<Index>(), 1u8..=255), 1..6),
        seed in any::<u32>(),
    ) {
        let mut bytes = spec.encode(CsumMode::Full);
        let headers = spec.ip_header_len() + spec.tcp_header_len();
        for (i, x) in &flips {
            // Mostly in the headers, where it matters.
            let at = i.index(if i.index(4) == 0 { bytes.len() } else { headers });
            bytes[at] ^= x;
        }
        let parsed = parse(&bytes);
        let mut buf = bytes.clone();
        match TcpPacket::parse(&mut buf, CsumMode::Full) {
            Err(e) => {
                prop_assert_eq!(Err(e), parsed);
                prop_assert_eq!(&buf, &bytes);
            }
            Ok(mut p) => {
                let before = residues(&bytes);
                poke(&mut p, seed);
                let after = *p.header();
                prop_assert_eq!(parse(&buf), Ok(after));
                prop_assert_eq!(residues(&buf), before);
            }
        }
    }

    /// IPv4 options shift the TCP header; rewriting after them still gives
    /// the checksums from scratch.
    #[test]
    fn ip_options_rewrite(
        mut spec in spec_with_sack_and_ts(),
        words in 1usize..=10,
        fill in any::<u8>(),
        ops in every_setter(),
    ) {
        spec.ip_opts = vec![fill; 4 * words];
        let h = parse(&spec.encode(CsumMode::Full)).unwrap();
        prop_assert_eq!(h.ip_header_len, 20 + 4 * words);
        run_ops_one_by_one(&spec, &ops, CsumMode::Full)?;
        run_ops_one_by_one(&spec, &ops, CsumMode::Partial)?;
    }
}

proptest! {
    /// The segments a front-end withholds (src/conn.rs, unflowed_out): ACK
    /// set, no SYN, FIN or RST, no payload; the hook sees the headers only,
    /// and a truncated buffer is never read past its end.
    #[test]
    fn pure_ack_is_an_empty_ack(
        mut s in spec(),
        f in any::<u8>(),
        empty in any::<bool>(),
        cut in any::<Index>(),
    ) {
        s.flags = f;
        if empty {
            s.payload.clear();
        }
        let bytes = s.encode(CsumMode::Full);
        let want = f & flags::ACK != 0
            && f & (flags::SYN | flags::FIN | flags::RST) == 0
            && s.payload.is_empty();
        prop_assert_eq!(is_pure_ack(&bytes), want);
        let headers = s.ip_header_len() + s.tcp_header_len();
        prop_assert_eq!(is_pure_ack(&bytes[..headers]), want);
        let _ = is_pure_ack(&bytes[..cut.index(bytes.len())]);
    }
}

#[test]
fn pure_ack_refuses_what_is_not_tcp() {
    let mut s = base_spec();
    s.payload.clear();
    let mut bytes = s.encode(CsumMode::Full);
    assert!(is_pure_ack(&bytes));
    bytes[9] = 17;
    assert!(!is_pure_ack(&bytes), "UDP");
    bytes[9] = IPPROTO_TCP;
    bytes[0] = 0x65;
    assert!(!is_pure_ack(&bytes), "version 6");
    assert!(!is_pure_ack(&[]));
}

proptest! {
    /// A packet passed to another member loses one hop of TTL, as through a
    /// router: the header checksum stays right, nothing else changes, and
    /// a TTL of 0 or 1 (or bytes that are no IPv4 header) are left alone.
    #[test]
    fn ttl_decrement(spec in spec(), ttl in any::<u8>()) {
        let mut buf = spec.encode(CsumMode::Full);
        buf[8] = ttl;
        buf[10] = 0;
        buf[11] = 0;
        let check = ref_ip_check(&buf);
        buf[10..12].copy_from_slice(&check.to_be_bytes());
        let before = buf.clone();
        let done = decrement_ttl(&mut buf);
        prop_assert_eq!(done, ttl > 1);
        if done {
            prop_assert_eq!(buf[8], ttl - 1);
            prop_assert_eq!(be16(&buf, 10), ref_ip_check(&buf));
            prop_assert_eq!(&buf[..8], &before[..8]);
            prop_assert_eq!(&buf[12..], &before[12..]);
        } else {
            prop_assert_eq!(&buf, &before);
        }
    }

    #[test]
    fn ttl_decrement_refuses_what_is_not_ipv4(mut bytes in vec(any::<u8>(), 0..40)) {
        let before = bytes.clone();
        let ihl = bytes.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
        let ipv4 = bytes.first().is_some_and(|b| b >> 4 == 4) && ihl >= 20 && bytes.len() >= ihl;
        if !decrement_ttl(&mut bytes) {
            prop_assert!(!ipv4 || before[8] <= 1);
            prop_assert_eq!(bytes, before);
        } else {
            prop_assert!(ipv4);
        }
    }
}

// ---------------------------------------------------------------------------
// IPv6: the model's TCP segment behind an IPv6 header and extension headers.

/// An IPv6 extension header of the model.
#[derive(Clone, Debug)]
enum Ext {
    /// Hop-by-hop options, routing header, destination options: the next
    /// header (written by the encoder), a length in 8-byte units less one,
    /// then this body (6 + 8 k bytes, never looked at).
    Hop(Vec<u8>),
    Routing(Vec<u8>),
    Dest(Vec<u8>),
    /// A fragment header of an unfragmented packet (offset 0, M clear):
    /// the reserved bits and the identification.
    AtomicFragment(u8, u32),
}

impl Ext {
    fn kind(&self) -> u8 {
        match self {
            Ext::Hop(_) => 0,
            Ext::Routing(_) => 43,
            Ext::Dest(_) => 60,
            Ext::AtomicFragment(..) => 44,
        }
    }

    fn encode(&self, next: u8, out: &mut Vec<u8>) {
        match self {
            Ext::Hop(body) | Ext::Routing(body) | Ext::Dest(body) => {
                out.push(next);
                out.push(((body.len() + 2) / 8 - 1) as u8);
                out.extend_from_slice(body);
            }
            Ext::AtomicFragment(reserved, id) => {
                out.extend_from_slice(&[next, 0, 0, reserved & 0x06]);
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
}

/// An IPv6 TCP packet: the TCP segment of `tcp` (its IPv4 fields unused).
#[derive(Clone, Debug)]
struct Spec6 {
    tcp: Spec,
    /// Traffic class and flow label (28 bits), left alone by the rewrites.
    tc_flow: u32,
    hops: u8,
    saddr: [u8; 16],
    daddr: [u8; 16],
    exts: Vec<Ext>,
}

/// The IPv6 pseudo-header for a TCP segment of `len` bytes.
fn pseudo6(saddr: &[u8], daddr: &[u8], len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    p.extend_from_slice(saddr);
    p.extend_from_slice(daddr);
    p.extend_from_slice(&(len as u32).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, IPPROTO_TCP]);
    p
}

/// The TCP check field of the IPv6 packet `buf` whose TCP header is at
/// `l4`, computed from scratch: the full checksum, or the
/// `CHECKSUM_PARTIAL` pseudo-header sum.
fn ref_tcp6_check(buf: &[u8], l4: usize, mode: CsumMode) -> u16 {
    let mut data = pseudo6(&buf[8..24], &buf[24..40], buf.len() - l4);
    if mode == CsumMode::Partial {
        return ref_fold_sum(&data);
    }
    data.extend_from_slice(&buf[l4..]);
    let at = 40 + 16;
    data[at] = 0;
    data[at + 1] = 0;
    !ref_fold_sum(&data)
}

/// Pseudo-header, TCP header and payload of the IPv6 packet `buf`, check
/// field included, sum to -0.
fn tcp6_verifies(buf: &[u8], l4: usize) -> bool {
    let mut data = pseudo6(&buf[8..24], &buf[24..40], buf.len() - l4);
    data.extend_from_slice(&buf[l4..]);
    ref_fold_sum(&data) == 0xffff
}

impl Spec6 {
    fn l4(&self) -> usize {
        40 + self
            .exts
            .iter()
            .map(|e| match e {
                Ext::Hop(b) | Ext::Routing(b) | Ext::Dest(b) => b.len() + 2,
                Ext::AtomicFragment(..) => 8,
            })
            .sum::<usize>()
    }

    fn encode(&self, mode: CsumMode) -> Vec<u8> {
        let v4 = self.tcp.encode(CsumMode::Full);
        let seg = &v4[self.tcp.ip_header_len()..];
        let mut b = Vec::new();
        b.extend_from_slice(&((6u32 << 28) | (self.tc_flow & 0x0fff_ffff)).to_be_bytes());
        b.extend_from_slice(&((self.l4() - 40 + seg.len()) as u16).to_be_bytes());
        b.push(self.exts.first().map_or(IPPROTO_TCP, Ext::kind));
        b.push(self.hops);
        b.extend_from_slice(&self.saddr);
        b.extend_from_slice(&self.daddr);
        for (i, e) in self.exts.iter().enumerate() {
            e.encode(self.exts.get(i + 1).map_or(IPPROTO_TCP, Ext::kind), &mut b);
        }
        let l4 = b.len();
        assert_eq!(l4, self.l4());
        b.extend_from_slice(seg);
        let check = ref_tcp6_check(&b, l4, mode);
        b[l4 + 16..l4 + 18].copy_from_slice(&check.to_be_bytes());
        b
    }
}

/// Checks the parsed header `h` against the model.
fn check_header6(h: &TcpHeader<V6>, s: &Spec6) -> Result<(), TestCaseError> {
    prop_assert_eq!(h.saddr, s.saddr);
    prop_assert_eq!(h.daddr, s.daddr);
    prop_assert_eq!(h.ip_header_len, s.l4());
    check_tcp(h, &s.tcp)
}

fn ext() -> impl Strategy<Value = Ext> {
    let body = (0usize..3).prop_flat_map(|k| vec(any::<u8>(), 6 + 8 * k));
    prop_oneof![
        body.clone().prop_map(Ext::Hop),
        body.clone().prop_map(Ext::Routing),
        body.prop_map(Ext::Dest),
        (any::<u8>(), any::<u32>()).prop_map(|(r, id)| Ext::AtomicFragment(r, id)),
    ]
}

fn spec6_with(tcp: impl Strategy<Value = Spec>) -> impl Strategy<Value = Spec6> {
    (
        tcp,
        any::<u32>(),
        any::<u8>(),
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        vec(ext(), 0..=MAX_EXTENSION_HEADERS),
    )
        .prop_map(|(tcp, tc_flow, hops, saddr, daddr, exts)| Spec6 {
            tcp,
            tc_flow,
            hops,
            saddr,
            daddr,
            exts,
        })
}

fn any_op6() -> impl Strategy<Value = Op<[u8; 16]>> {
    prop_oneof![
        any::<[u8; 16]>().prop_map(Op::Saddr),
        any::<[u8; 16]>().prop_map(Op::Daddr),
        Just(Op::Saddr([0; 16])),
        Just(Op::Daddr([0xff; 16])),
        any_op().prop_filter_map("an IPv4 address", |op| op.tcp_only()),
        any_op().prop_filter_map("an IPv4 address", |op| op.tcp_only()),
    ]
}

impl Op<[u8; 16]> {
    /// [`Op::model`] for the IPv6 model.
    fn model6(&self, s: &mut Spec6) -> Option<usize> {
        match *self {
            Op::Saddr(a) => s.saddr = a,
            Op::Daddr(a) => s.daddr = a,
            _ => {
                return self
                    .tcp_only::<[u8; 4]>()
                    .and_then(|op| op.model(&mut s.tcp))
            }
        }
        None
    }
}

/// Applies `ops` to the IPv6 packet of `spec`, one at a time through a
/// fresh [`TcpPacket`], then all through one, comparing the buffer with
/// the model's encoding.
fn run_ops6(spec: &Spec6, ops: &[Op<[u8; 16]>], mode: CsumMode) -> Result<(), TestCaseError> {
    let mut model = spec.clone();
    let mut buf = model.encode(mode);
    let l4 = spec.l4();
    for op in ops {
        let before = buf.clone();
        let expect_ret = op.model6(&mut model);
        let mut p = TcpPacket::<V6>::parse_in(&mut buf, mode).unwrap();
        prop_assert_eq!(op.apply(&mut p), expect_ret, "return value of {:?}", op);
        check_header6(p.header(), &model)?;
        let hdr = *p.header();
        prop_assert_eq!(&buf, &model.encode(mode), "after {:?}", op);
        prop_assert_eq!(parse_in::<V6>(&buf), Ok(hdr));
        match mode {
            CsumMode::Full => prop_assert!(tcp6_verifies(&buf, l4)),
            CsumMode::Partial if !op.touches_addr() => {
                prop_assert_eq!(&buf[l4 + 16..l4 + 18], &before[l4 + 16..l4 + 18]);
            }
            CsumMode::Partial => {}
        }
    }
    let mut model = spec.clone();
    let mut buf = model.encode(mode);
    {
        let mut p = TcpPacket::<V6>::parse_in(&mut buf, mode).unwrap();
        for op in ops {
            let expect_ret = op.model6(&mut model);
            prop_assert_eq!(op.apply(&mut p), expect_ret, "return value of {:?}", op);
        }
        check_header6(p.header(), &model)?;
    }
    prop_assert_eq!(&buf, &model.encode(mode));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any IPv6 packet of the model (extension headers, options anywhere)
    /// parses to its fields, and not as the other version; its first
    /// fragment's ports are found too.
    #[test]
    fn parse_model_packets6(spec in spec6_with(spec())) {
        let buf = spec.encode(CsumMode::Full);
        let h = parse_in::<V6>(&buf).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        check_header6(&h, &spec)?;
        prop_assert!(tcp6_verifies(&buf, spec.l4()));
        prop_assert_eq!(parse(&buf), Err(ParseError::NotIpv4));
        prop_assert_eq!(
            parse_in::<V6>(&spec.tcp.encode(CsumMode::Full)),
            Err(ParseError::NotIpv6)
        );
        prop_assert_eq!(addresses_in::<V6>(&buf), Some(h.addresses()));
        // The headers alone are what the module makes linear.
        let headers = spec.l4() + spec.tcp.tcp_header_len();
        prop_assert_eq!(parse_in::<V6>(&buf[..headers]), Ok(h));
        // A cut inside the headers is refused, never read past.
        for cut in 0..headers {
            prop_assert!(parse_in::<V6>(&buf[..cut]).is_err());
        }
    }

    /// Every setter, one at a time and chained, in both checksum modes:
    /// the packet the model gives with the new values, checksums right.
    #[test]
    fn setters6_match_rebuild(
        spec in spec6_with(spec_with_sack_and_ts()),
        ops in vec(any_op6(), 1..12),
    ) {
        run_ops6(&spec, &ops, CsumMode::Full)?;
        run_ops6(&spec, &ops, CsumMode::Partial)?;
    }

    /// What the back-end's hook does to a server's packet (saddr, sport,
    /// `packet_to_client`) and the front-end's to a client's (daddr, dport,
    /// `packet_to_backend`), on IPv6: every check right after both.
    #[test]
    fn translation6(
        spec in spec6_with(spec()),
        xlate in (any::<u32>(), any::<u32>(), 0u8..=14, 0u8..=14),
        vip in any::<[u8; 16]>(),
        mode in prop_oneof![Just(CsumMode::Full), Just(CsumMode::Partial)],
    ) {
        let (seq_delta, ts_delta, frontend_wscale, backend_wscale) = xlate;
        let x = baton_proto::seq::Translation { seq_delta, ts_delta, frontend_wscale, backend_wscale };
        let mut buf = spec.encode(mode);
        let l4 = spec.l4();
        {
            let mut p = TcpPacket::<V6>::parse_in(&mut buf, mode).unwrap();
            p.set_saddr(vip);
            p.set_sport(80);
            x.packet_to_client(&mut p);
            p.set_daddr(vip);
            p.set_dport(8080);
            x.packet_to_backend(&mut p);
        }
        let want = ref_tcp6_check(&buf, l4, mode);
        prop_assert_eq!(be16(&buf, l4 + 16), want);
        // Nothing before the addresses changes (version, class, flow label,
        // lengths, hop limit), nor the extension headers.
        let orig = spec.encode(mode);
        prop_assert_eq!(&buf[..8], &orig[..8]);
        prop_assert_eq!(&buf[40..l4], &orig[40..l4]);
    }

    /// Built IPv6 segments parse back and their checksum verifies.
    #[test]
    fn build6_parses_back(
        s in seg(),
        saddr in any::<[u8; 16]>(),
        daddr in any::<[u8; 16]>(),
    ) {
        let seg6 = s.segment_from(saddr, daddr);
        let mut buf = vec![0xa5; 40 + 40 + s.payload.len() + 7];
        let n = build(&seg6, &mut buf).expect("room enough");
        prop_assert_eq!(n, 40 + 20 + s.options_len() + s.payload.len());
        prop_assert!(buf[n..].iter().all(|&b| b == 0xa5));
        buf.truncate(n);
        prop_assert_eq!(&buf[..8], &[0x60, 0, 0, 0, ((n - 40) >> 8) as u8, (n - 40) as u8, IPPROTO_TCP, 64][..]);
        prop_assert!(tcp6_verifies(&buf, 40));
        let h = parse_in::<V6>(&buf).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!((h.saddr, h.daddr, h.sport, h.dport), (saddr, daddr, s.sport, s.dport));
        prop_assert_eq!((h.seq, h.ack, h.flags, h.window), (s.seq, s.ack, s.flags, s.window));
        prop_assert_eq!(h.options.timestamps, s.options.timestamps);
        prop_assert_eq!(h.payload_len, s.payload.len());
        let thl = h.tcp_header_len;
        prop_assert_eq!(tcp_checksum_in::<V6>(&saddr, &daddr, &buf[40..40 + thl], &buf[40 + thl..]), 0);
        // The IPv4 segment's TCP bytes are the same.
        let v4 = s.build();
        prop_assert_eq!(&v4[20..36], &buf[40..56]);
        prop_assert_eq!(&v4[38..], &buf[58..]);
    }

    /// Arbitrary bytes behind an IPv6 version nibble: no panic, and the
    /// entry points agree with each other.
    #[test]
    fn arbitrary_bytes6(mut b in vec(any::<u8>(), 0..160), next in prop_oneof![Just(0u8), Just(6), Just(43), Just(44), Just(60), any::<u8>()]) {
        if let Some(first) = b.first_mut() {
            *first = 0x60 | (*first & 0x0f);
        }
        if b.len() > 6 {
            b[6] = next;
        }
        let parsed = parse_in::<V6>(&b);
        if let Ok(h) = parsed {
            prop_assert_eq!(addresses_in::<V6>(&b), Some(h.addresses()));
            let pure = h.has_flags(flags::ACK)
                && h.flags & (flags::SYN | flags::FIN | flags::RST) == 0
                && h.payload_len == 0;
            prop_assert_eq!(is_pure_ack_in::<V6>(&b), pure);
            let mut w = b.clone();
            TcpPacket::<V6>::parse_in(&mut w, CsumMode::Full).unwrap().set_seq(h.seq ^ 1);
            prop_assert_eq!(parse_in::<V6>(&w).map(|h| h.seq), Ok(h.seq ^ 1));
        } else {
            prop_assert!(!is_pure_ack_in::<V6>(&b));
            let mut w = b.clone();
            prop_assert_eq!(TcpPacket::<V6>::parse_in(&mut w, CsumMode::Full).err(), parsed.err());
            prop_assert_eq!(w, b);
        }
    }
}

/// A small valid IPv6 packet of the model with `exts`.
fn spec6(exts: Vec<Ext>) -> Spec6 {
    let mut tcp = base_spec();
    tcp.payload = b"GET / HTTP/1.1\r\n".to_vec();
    Spec6 {
        tcp,
        tc_flow: 0x0abc_def1,
        hops: 64,
        saddr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        daddr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        exts,
    }
}

#[test]
fn ipv6_extension_header_chain() {
    let hop = || Ext::Hop(vec![1, 4, 0, 0, 0, 0]);
    // At most MAX_EXTENSION_HEADERS are skipped.
    let s = spec6(vec![hop(); MAX_EXTENSION_HEADERS]);
    assert_eq!(
        parse_in::<V6>(&s.encode(CsumMode::Full)).map(|h| h.ip_header_len),
        Ok(s.l4())
    );
    let s = spec6(vec![hop(); MAX_EXTENSION_HEADERS + 1]);
    assert_eq!(
        parse_in::<V6>(&s.encode(CsumMode::Full)),
        Err(ParseError::BadExtension)
    );
    assert_eq!(addresses_in::<V6>(&s.encode(CsumMode::Full)), None);
    // Headers baton does not skip: AH, ESP, no next header, ICMPv6, UDP.
    for next in [51u8, 50, 59, 58, 17] {
        let mut b = spec6(vec![]).encode(CsumMode::Full);
        b[6] = next;
        assert_eq!(
            parse_in::<V6>(&b),
            Err(ParseError::NotTcp),
            "next header {next}"
        );
    }
    // An extension header that ends past the payload length.
    let mut b = spec6(vec![Ext::Dest(vec![0; 6])]).encode(CsumMode::Full);
    b[41] = 200;
    assert_eq!(parse_in::<V6>(&b), Err(ParseError::BadExtension));
    // Payload length shorter than the extension header itself.
    let mut b = spec6(vec![Ext::Dest(vec![0; 6])]).encode(CsumMode::Full);
    b[4..6].copy_from_slice(&4u16.to_be_bytes());
    assert_eq!(parse_in::<V6>(&b), Err(ParseError::BadExtension));
    // Payload length covering the extension header but not the TCP header.
    b[4..6].copy_from_slice(&20u16.to_be_bytes());
    assert_eq!(parse_in::<V6>(&b), Err(ParseError::BadTotalLength));
}

#[test]
fn ipv6_fragments_and_jumbograms() {
    let frag = |offset: u16, more: bool| {
        let s = spec6(vec![Ext::AtomicFragment(0, 7)]);
        let mut b = s.encode(CsumMode::Full);
        b[42..44].copy_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
        b
    };
    let whole = frag(0, false);
    assert!(parse_in::<V6>(&whole).is_ok());
    // The first fragment: not rewritten, but its flow is found.
    assert_eq!(parse_in::<V6>(&frag(0, true)), Err(ParseError::Fragment));
    assert_eq!(
        addresses_in::<V6>(&frag(0, true)),
        addresses_in::<V6>(&whole)
    );
    assert!(addresses_in::<V6>(&whole).is_some());
    // A later fragment has no TCP header.
    for (o, m) in [(1, true), (1, false), (185, false)] {
        assert_eq!(parse_in::<V6>(&frag(o, m)), Err(ParseError::Fragment));
        assert_eq!(addresses_in::<V6>(&frag(o, m)), None);
    }
    // Payload length 0: a jumbogram (RFC 2675) or a BIG TCP packet.
    let mut b = spec6(vec![]).encode(CsumMode::Full);
    b[4] = 0;
    b[5] = 0;
    assert_eq!(parse_in::<V6>(&b), Err(ParseError::Jumbogram));
    assert_eq!(addresses_in::<V6>(&b), None);
    assert!(!is_pure_ack_in::<V6>(&b));
}

#[test]
fn ipv6_hop_limit() {
    let mut b = spec6(vec![]).encode(CsumMode::Full);
    let orig = b.clone();
    assert!(<V6 as Family>::decrement_ttl(&mut b));
    assert_eq!(b[7], 63);
    assert_eq!(b[..7], orig[..7]);
    assert_eq!(b[8..], orig[8..]);
    for hops in [0u8, 1] {
        b[7] = hops;
        let before = b.clone();
        assert!(!<V6 as Family>::decrement_ttl(&mut b));
        assert_eq!(b, before);
    }
    // Not IPv6, or shorter than its header.
    let mut v4 = base_spec().encode(CsumMode::Full);
    let before = v4.clone();
    assert!(!<V6 as Family>::decrement_ttl(&mut v4));
    assert_eq!(v4, before);
    assert!(!<V6 as Family>::decrement_ttl(&mut orig.clone()[..39]));
}

#[test]
fn ipv6_errors_describe_themselves() {
    for (e, text) in [
        (ParseError::NotIpv6, "not IPv6"),
        (ParseError::Jumbogram, "IPv6 jumbogram"),
        (ParseError::BadExtension, "bad IPv6 extension headers"),
    ] {
        assert_eq!(e.describe(), text);
        assert_eq!(e.to_string(), text);
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `icmp`: the ICMP error parser and rewriter of
//! `src/proto/icmp.rs`, alone and through `Flow::on_icmp_error` as the
//! front-end's pre-routing hook uses them.
//!
//! Input: [`PARAMS`] bytes of rewrite parameters, then the packet (from its
//! outer IPv4 header).
//!
//! Asserts:
//!
//! * `icmp::parse` accepts exactly what an independent reference parser
//!   written from the documented rules accepts, with the same error kind
//!   otherwise, and on success every field equals the bytes at its offset;
//!   `malformed` is true exactly for the broken kinds.
//! * Nothing past the message (the outer total length, or the outer IPv4
//!   header if that is longer) is read: other bytes there give the same
//!   answer. The first `HEADERS_MAX` bytes, what the
//!   module makes linear, give the same answer too.
//! * A buffer that does not parse is left byte-identical by
//!   `IcmpPacket::parse`, which reports the parser's error.
//! * On one that parses, in both checksum modes, with the checksums first
//!   made right or left as they came, on the whole buffer or its first
//!   `HEADERS_MAX` bytes: the rewrite (the setters, or a forwarding front
//!   flow) changes exactly the outer destination, the quoted source address
//!   and port and the quoted sequence number, to the values given (the
//!   flow's back-end and its translation), and no other byte but the check
//!   fields; nothing past the message; the rewritten buffer parses to the
//!   header the packet reports. The outer IPv4, embedded IPv4 and ICMP
//!   (`CsumMode::Full`) checks equal the ones computed from scratch when
//!   they were right before, and otherwise keep their error; the quoted TCP
//!   checksum keeps its relation to the segment (the ones' complement sum
//!   over its pseudo-header source and the quoted TCP bytes is unchanged);
//!   with `CsumMode::Partial` the ICMP check field is not touched.
//! * A flow that is not a forwarding front flow, or an error not addressed
//!   to the flow's VIP, changes nothing.
//! * Setting the values the message has changes nothing.

#![no_main]

use baton_proto::ctrl::Endpoint;
use baton_proto::flow::{Flow, Phase, Role, Verdict};
use baton_proto::icmp::{self, IcmpError, IcmpPacket, ParseError, HEADERS_MAX};
use baton_proto::packet::CsumMode;
use baton_proto::seq::Translation;
use libfuzzer_sys::fuzz_target;

#[path = "../../baton-proto/tests/common/mod.rs"]
mod common;
use common::{be16, be32, ref_fold_sum, ref_ip_check};

/// Bytes of rewrite parameters before the packet.
const PARAMS: usize = 12;

// Bits of the first parameter byte.
/// Make the outer IPv4, ICMP and embedded IPv4 checks right first.
const P_FIX_CHECKS: u8 = 1;
/// Rewrite the first `HEADERS_MAX` bytes only (the module's linear part).
const P_HEADERS_ONLY: u8 = 2;
/// Rewrite through a forwarding front flow rather than the setters.
const P_FLOW: u8 = 4;

/// The rewrite parameters taken from the start of the input.
struct Params {
    bits: u8,
    seq_delta: u32,
    backend: Endpoint,
}

impl Params {
    fn new(p: &[u8; PARAMS]) -> Self {
        Self {
            bits: p[0],
            seq_delta: be32(p, 1),
            backend: Endpoint {
                addr: [p[5], p[6], p[7], p[8]],
                port: be16(p, 9),
            },
        }
    }
}

/// Where the reference parser found things.
struct RefIcmp {
    ihl: usize,
    inner_ihl: usize,
    /// The message's end in the buffer.
    len: usize,
    tcp_check: bool,
}

impl RefIcmp {
    fn inner(&self) -> usize {
        self.ihl + 8
    }

    fn tcp(&self) -> usize {
        self.inner() + self.inner_ihl
    }
}

/// Reference parser, written from the rules in the documentation of
/// `icmp::parse`, checking them in the order given there.
fn ref_parse(buf: &[u8]) -> Result<RefIcmp, ParseError> {
    use ParseError::*;
    if buf.is_empty() {
        return Err(Truncated);
    }
    if buf[0] >> 4 != 4 {
        return Err(NotIcmp);
    }
    let ihl = usize::from(buf[0] & 15) * 4;
    if ihl < 20 {
        return Err(BadHeader);
    }
    if buf.len() < ihl {
        return Err(Truncated);
    }
    if buf[9] != 1 {
        return Err(NotIcmp);
    }
    if be16(buf, 6) & 0x3fff != 0 {
        return Err(Fragment);
    }
    let len = usize::from(be16(buf, 2)).min(buf.len());
    if len <= ihl {
        return Err(Truncated);
    }
    if buf[ihl] != 3 && buf[ihl] != 11 {
        return Err(NotError);
    }
    let inner = ihl + 8;
    if len <= inner {
        return Err(Truncated);
    }
    let inner_ihl = usize::from(buf[inner] & 15) * 4;
    if buf[inner] >> 4 != 4 || inner_ihl < 20 {
        return Err(BadInnerHeader);
    }
    let tcp = inner + inner_ihl;
    if len < tcp {
        return Err(Truncated);
    }
    if buf[inner + 9] != 6 || be16(buf, inner + 6) & 0x1fff != 0 {
        return Err(NotTcp);
    }
    if len < tcp + 8 {
        return Err(Truncated);
    }
    Ok(RefIcmp {
        ihl,
        inner_ihl,
        len,
        tcp_check: len >= tcp + 18,
    })
}

/// Checks that `h` is what the reference found in `buf`.
fn check_fields(buf: &[u8], h: &IcmpError, r: &RefIcmp) {
    assert_eq!(h.ip_header_len, r.ihl);
    assert_eq!(h.inner_header_len, r.inner_ihl);
    assert_eq!(h.len, r.len);
    assert_eq!(h.tcp_check, r.tcp_check);
    assert_eq!(h.saddr[..], buf[12..16]);
    assert_eq!(h.daddr[..], buf[16..20]);
    assert_eq!(h.kind, buf[r.ihl]);
    assert_eq!(h.code, buf[r.ihl + 1]);
    let inner = r.inner();
    assert_eq!(h.inner.saddr[..], buf[inner + 12..inner + 16]);
    assert_eq!(h.inner.daddr[..], buf[inner + 16..inner + 20]);
    let tcp = r.tcp();
    assert_eq!(h.inner.sport, be16(buf, tcp));
    assert_eq!(h.inner.dport, be16(buf, tcp + 2));
    assert_eq!(h.seq, be32(buf, tcp + 4));
    let key = h.key();
    assert_eq!(
        (key.local.addr, key.local.port),
        (h.inner.saddr, h.inner.sport)
    );
    assert_eq!(
        (key.client.addr, key.client.port),
        (h.inner.daddr, h.inner.dport)
    );
}

fn put16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// A ones' complement value modulo 0xffff (0x0000 and 0xffff are both
/// zero).
fn oc(v: u16) -> u32 {
    u32::from(v) % 0xffff
}

/// The sum the quoted TCP checksum keeps: the pseudo-header's source
/// address (the only part of it a rewrite changes) and the quoted TCP
/// bytes.
fn tcp_sum(buf: &[u8], r: &RefIcmp) -> u32 {
    let inner = r.inner();
    let mut data = buf[inner + 12..inner + 16].to_vec();
    data.extend_from_slice(&buf[r.tcp()..r.len]);
    oc(ref_fold_sum(&data))
}

/// Makes the outer IPv4, ICMP and embedded IPv4 checks of `buf` right.
fn fix_checks(buf: &mut [u8], r: &RefIcmp) {
    let check = ref_ip_check(buf);
    put16(buf, 10, check);
    let inner = r.inner();
    let check = ref_ip_check(&buf[inner..]);
    put16(buf, inner + 10, check);
    put16(buf, r.ihl + 2, 0);
    let check = !ref_fold_sum(&buf[r.ihl..r.len]);
    put16(buf, r.ihl + 2, check);
}

/// Runs the rewrite of `p` on `input` in mode `mode` and checks the result.
fn rewrite(input: &[u8], r: &RefIcmp, p: &Params, mode: CsumMode) {
    let mut buf = input.to_vec();
    let fixed = p.bits & P_FIX_CHECKS != 0;
    if fixed {
        fix_checks(&mut buf, r);
    }
    let before = buf.clone();
    let end = if p.bits & P_HEADERS_ONLY != 0 {
        HEADERS_MAX.min(buf.len())
    } else {
        buf.len()
    };
    let h = icmp::parse(&before).expect("parses");
    let seq = h.seq.wrapping_add(p.seq_delta);
    let mut reported = {
        let mut pkt = IcmpPacket::parse(&mut buf[..end], mode).expect("parses as before");
        assert_eq!(pkt.mode(), mode);
        if p.bits & P_FLOW != 0 {
            let mut f = flow(&h, Role::Front, Phase::Forwarding, h.daddr, p.backend);
            f.xlate = Translation {
                seq_delta: p.seq_delta,
                ..Translation::default()
            };
            let was = f;
            assert_eq!(f.on_icmp_error(&mut pkt), Verdict::Rewritten);
            assert_eq!(f, was, "an error does not change the flow");
        } else {
            pkt.set_daddr(p.backend.addr);
            pkt.set_inner_source(p.backend);
            pkt.set_inner_seq(seq);
        }
        *pkt.header()
    };
    // A cut buffer holds less of the message.
    assert_eq!(reported.len, r.len.min(end));
    reported.len = r.len;
    assert_eq!(icmp::parse(&buf), Ok(reported), "header() is the packet");
    assert_eq!(reported.daddr, p.backend.addr);
    assert_eq!(reported.inner.saddr, p.backend.addr);
    assert_eq!(reported.inner.sport, p.backend.port);
    assert_eq!(reported.seq, seq);

    // Exactly the intended fields changed, check fields compared below.
    let (inner, tcp) = (r.inner(), r.tcp());
    let mut want = before.clone();
    want[16..20].copy_from_slice(&p.backend.addr);
    want[inner + 12..inner + 16].copy_from_slice(&p.backend.addr);
    put16(&mut want, tcp, p.backend.port);
    want[tcp + 4..tcp + 8].copy_from_slice(&seq.to_be_bytes());
    let icmp_check = r.ihl + 2;
    let mut checks = vec![10, inner + 10];
    if mode == CsumMode::Full {
        checks.push(icmp_check);
    }
    if r.tcp_check {
        checks.push(tcp + 16);
    }
    for at in checks {
        want[at..at + 2].copy_from_slice(&buf[at..at + 2]);
    }
    assert_eq!(buf, want, "only the rewritten fields change");

    if fixed {
        assert_eq!(be16(&buf, 10), ref_ip_check(&buf), "outer IPv4 check");
        assert_eq!(
            be16(&buf, inner + 10),
            ref_ip_check(&buf[inner..]),
            "embedded IPv4 check"
        );
    } else {
        let sum = |b: &[u8], from: usize, to: usize| oc(ref_fold_sum(&b[from..to]));
        assert_eq!(
            sum(&before, 0, r.ihl),
            sum(&buf, 0, r.ihl),
            "outer IPv4 check keeps its error"
        );
        assert_eq!(
            sum(&before, inner, tcp),
            sum(&buf, inner, tcp),
            "embedded IPv4 check keeps its error"
        );
    }
    match mode {
        CsumMode::Full if fixed => {
            let mut m = buf[r.ihl..r.len].to_vec();
            put16(&mut m, 2, 0);
            assert_eq!(be16(&buf, icmp_check), !ref_fold_sum(&m), "ICMP check");
        }
        CsumMode::Full => assert_eq!(
            oc(ref_fold_sum(&before[r.ihl..r.len])),
            oc(ref_fold_sum(&buf[r.ihl..r.len])),
            "ICMP check keeps its error"
        ),
        CsumMode::Partial => assert_eq!(
            be16(&buf, icmp_check),
            be16(&before, icmp_check),
            "partial ICMP check"
        ),
    }
    if r.tcp_check {
        assert_eq!(tcp_sum(&before, r), tcp_sum(&buf, r), "quoted TCP check");
    }
}

/// A flow of the quoted segment's connection (client its destination, the
/// VIP `vip` with its source port) in `role` and `phase`.
fn flow(h: &IcmpError, role: Role, phase: Phase, vip: [u8; 4], backend: Endpoint) -> Flow {
    let client = Endpoint {
        addr: h.inner.daddr,
        port: h.inner.dport,
    };
    let vip = Endpoint {
        addr: vip,
        port: h.inner.sport,
    };
    let mut f = Flow::new(1, 2, role, client, vip, backend, 0);
    f.phase = phase;
    f
}

/// The flows that must leave an error alone, and an error not addressed
/// to the flow's VIP.
fn passed_untouched(input: &[u8], h: &IcmpError, p: &Params) {
    let mut other_vip = h.daddr;
    other_vip[3] ^= 1;
    let flows = [
        (Role::Front, Phase::Frozen, h.daddr),
        (Role::Back, Phase::Replaying, h.daddr),
        (Role::Back, Phase::Established, h.daddr),
        (Role::Front, Phase::Forwarding, other_vip),
    ];
    for (role, phase, vip) in flows {
        let f = flow(h, role, phase, vip, p.backend);
        for mode in [CsumMode::Full, CsumMode::Partial] {
            let mut buf = input.to_vec();
            let mut pkt = IcmpPacket::parse(&mut buf, mode).expect("parses");
            assert_eq!(f.on_icmp_error(&mut pkt), Verdict::Pass);
            assert_eq!(buf, input, "{role:?} {phase:?} leaves it alone");
        }
    }
}

/// Setting the values the message has is no change at all.
fn same_values(input: &[u8], h: &IcmpError) {
    for mode in [CsumMode::Full, CsumMode::Partial] {
        let mut buf = input.to_vec();
        let mut pkt = IcmpPacket::parse(&mut buf, mode).expect("parses");
        pkt.set_daddr(h.daddr);
        pkt.set_inner_source(Endpoint {
            addr: h.inner.saddr,
            port: h.inner.sport,
        });
        pkt.set_inner_seq(h.seq);
        assert_eq!(buf, input, "writing the same values changes nothing");
    }
}

/// The answer does not depend on bytes past the message (its outer IPv4
/// header, read whatever the total length says, and the total length),
/// and the module's linear part gives the same.
fn bounded(input: &[u8], parsed: Result<IcmpError, ParseError>) {
    if input.len() >= 20 {
        let ihl = usize::from(input[0] & 15) * 4;
        let end = usize::from(be16(input, 2)).max(ihl).max(20);
        if end < input.len() {
            let mut other = input.to_vec();
            for b in &mut other[end..] {
                *b ^= 0xa5;
            }
            assert_eq!(icmp::parse(&other), parsed, "bytes past the message");
        }
    }
    let cut = &input[..HEADERS_MAX.min(input.len())];
    let mut again = icmp::parse(cut);
    if let (Ok(a), Ok(h)) = (&mut again, &parsed) {
        assert!(a.len <= h.len);
        a.len = h.len;
    }
    assert_eq!(again, parsed, "the first HEADERS_MAX bytes");
}

fuzz_target!(|data: &[u8]| {
    let Some((params, input)) = data.split_first_chunk::<PARAMS>() else {
        return;
    };
    let p = Params::new(params);
    let parsed = icmp::parse(input);
    bounded(input, parsed);
    match (ref_parse(input), parsed) {
        (Ok(r), Ok(h)) => {
            check_fields(input, &h, &r);
            same_values(input, &h);
            passed_untouched(input, &h, &p);
            for mode in [CsumMode::Full, CsumMode::Partial] {
                rewrite(input, &r, &p, mode);
            }
        }
        (Err(want), got) => {
            assert_eq!(got, Err(want), "reference parser refuses");
            assert_eq!(
                want.malformed(),
                matches!(
                    want,
                    ParseError::BadHeader | ParseError::Truncated | ParseError::BadInnerHeader
                )
            );
            let mut buf = input.to_vec();
            assert_eq!(
                IcmpPacket::parse(&mut buf, CsumMode::Full).err(),
                Some(want)
            );
            assert_eq!(buf, input, "an error that does not parse is never written");
        }
        (Ok(_), Err(e)) => panic!("reference parser accepts, parse says {e:?}"),
    }
});

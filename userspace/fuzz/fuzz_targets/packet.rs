// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `packet`: the IPv4/TCP parser and the in-place rewriter of
//! `src/proto/packet.rs`, driven by the translation of `src/proto/seq.rs`
//! as the module's flows use them.
//!
//! Input: [`PARAMS`] bytes of rewrite parameters, then the packet.
//!
//! Asserts:
//!
//! * `packet::parse` accepts exactly what an independent reference parser
//!   written from the documented rules accepts, with the same error kind
//!   otherwise, and on success every field equals the bytes at its offset
//!   (lengths inside the buffer, data offset, the option walk: MSS, window
//!   scale, SACK-permitted, timestamps, SACK blocks).
//! * A buffer that does not parse is left byte-identical by every rewriting
//!   entry point (`TcpPacket::parse` and the `set_*` helpers), in both
//!   checksum modes, and they report the parser's error.
//! * On a packet that parses, in both checksum modes, with the checksums
//!   first made right or left as they came, on the whole buffer or on its
//!   headers only (what the module's skb accessor gives): the front-end
//!   rewrite (daddr, dport, `Translation::packet_to_backend`) and the
//!   back-end rewrite (saddr, sport, `Translation::packet_to_client`) change
//!   exactly the intended fields, to the values the documented formulas
//!   give, and no other byte but the check fields; the rewritten packet
//!   parses to the header the rewriter reports; the IPv4 and TCP (full, or
//!   `CHECKSUM_PARTIAL` pseudo-header) checks equal the ones computed from
//!   scratch when they were right before, and otherwise keep their error
//!   (the ones' complement sum over the covered bytes is unchanged).
//! * Setting a field to the value it has changes nothing.

#![no_main]

use baton_proto::packet::{self, CsumMode, ParseError, TcpHeader, TcpPacket};
use baton_proto::seq::Translation;
use libfuzzer_sys::fuzz_target;

#[path = "../../baton-proto/tests/common/mod.rs"]
mod common;
use common::{
    be16, be32, check_tcp_fields, expected_tcp, oc, put16, ref_fold_sum, ref_ip_check,
    ref_partial_check, ref_tcp, ref_tcp_check, RefPacket,
};

/// Bytes of rewrite parameters before the packet.
const PARAMS: usize = 28;

// Bits of the first parameter byte.
/// Make the IPv4 and TCP checks right before rewriting.
const P_FIX_CHECKS: u8 = 1;
/// Rewrite the headers only (the buffer cut after the TCP options).
const P_HEADERS_ONLY: u8 = 2;
/// Apply the front-end rewrite (client -> back-end).
const P_FRONT: u8 = 4;
/// Apply the back-end rewrite (back-end -> client).
const P_BACK: u8 = 8;

/// The rewrite parameters taken from the start of the input.
struct Params {
    bits: u8,
    xlate: Translation,
    vip: [u8; 4],
    vport: u16,
    backend: [u8; 4],
    bport: u16,
}

impl Params {
    fn new(p: &[u8; PARAMS]) -> Self {
        Self {
            bits: p[0],
            xlate: Translation {
                seq_delta: be32(p, 1),
                ts_delta: be32(p, 5),
                // Any shift, also above 14: the fields are public.
                frontend_wscale: p[9],
                backend_wscale: p[10],
            },
            vip: [p[11], p[12], p[13], p[14]],
            vport: be16(p, 15),
            backend: [p[17], p[18], p[19], p[20]],
            bport: be16(p, 21),
        }
    }
}

/// Reference parser, written from the rules in the documentation of
/// `packet::parse`, checking them in the order the parser does.
fn ref_parse(buf: &[u8]) -> Result<RefPacket, ParseError> {
    use ParseError::*;
    let Some(&first) = buf.first() else {
        return Err(Truncated);
    };
    if first >> 4 != 4 {
        return Err(NotIpv4);
    }
    let ihl = usize::from(first & 15) * 4;
    if ihl < 20 {
        return Err(BadIhl);
    }
    if buf.len() < ihl {
        return Err(Truncated);
    }
    if buf[9] != 6 {
        return Err(NotTcp);
    }
    if be16(buf, 6) & 0x3fff != 0 {
        return Err(Fragment);
    }
    ref_tcp(buf, ihl, usize::from(be16(buf, 2)))
}

/// Checks that `h` is what the reference found in `buf`.
fn check_fields(buf: &[u8], h: &TcpHeader, r: &RefPacket) {
    assert_eq!(h.saddr[..], buf[12..16]);
    assert_eq!(h.daddr[..], buf[16..20]);
    check_tcp_fields(buf, h, r);
}

/// The packet as the checksums see it: the buffer up to the IPv4 total
/// length, a payload the buffer does not hold taken as zeros.
fn whole(buf: &[u8], total: usize) -> Vec<u8> {
    let mut p = buf[..total.min(buf.len())].to_vec();
    p.resize(total, 0);
    p
}

/// The buffer `before` with the fields the rewrites of `p` set written
/// directly, check fields untouched.
fn expected(before: &[u8], r: &RefPacket, p: &Params) -> Vec<u8> {
    let mut e = before.to_vec();
    let (front, back) = (p.bits & P_FRONT != 0, p.bits & P_BACK != 0);
    if front {
        e[16..20].copy_from_slice(&p.backend);
    }
    if back {
        e[12..16].copy_from_slice(&p.vip);
    }
    let (bport, vport) = (front.then_some(p.bport), back.then_some(p.vport));
    expected_tcp(&mut e, before, r, &p.xlate, bport, vport);
    e
}

/// The ones' complement sum of the covered TCP bytes: pseudo-header, TCP
/// header with its check field, payload.
fn tcp_sum(pkt: &[u8]) -> u16 {
    let ihl = common::ihl_of(pkt);
    let mut data = common::pseudo(
        common::addr(pkt, 12),
        common::addr(pkt, 16),
        pkt.len() - ihl,
    );
    data.extend_from_slice(&pkt[ihl..]);
    ref_fold_sum(&data)
}

/// Runs the rewrites of `p` on `input` in checksum mode `mode` and checks
/// the result.
fn rewrite(input: &[u8], hdr: &TcpHeader, r: &RefPacket, p: &Params, mode: CsumMode) {
    let ihl = r.ihl;
    let ip_check = 10;
    let tcp_check = ihl + 16;
    let mut buf = input.to_vec();
    let fixed = p.bits & P_FIX_CHECKS != 0;
    if fixed {
        let pkt = whole(&buf, r.total);
        put16(&mut buf, ip_check, ref_ip_check(&pkt));
        let check = match mode {
            CsumMode::Full => ref_tcp_check(&pkt),
            CsumMode::Partial => ref_partial_check(&pkt),
        };
        put16(&mut buf, tcp_check, check);
    }
    let before = buf.clone();
    let end = if p.bits & P_HEADERS_ONLY != 0 {
        ihl + r.doff
    } else {
        buf.len()
    };
    let reported = {
        let mut pkt = TcpPacket::parse(&mut buf[..end], mode).expect("parses as before");
        assert_eq!(pkt.mode(), mode);
        let mut h = *hdr;
        // parse does not read the check fields.
        assert_eq!(*pkt.header(), h);
        if p.bits & P_FRONT != 0 {
            pkt.set_daddr(p.backend);
            pkt.set_dport(p.bport);
            p.xlate.packet_to_backend(&mut pkt);
            h = *pkt.header();
        }
        if p.bits & P_BACK != 0 {
            pkt.set_saddr(p.vip);
            pkt.set_sport(p.vport);
            p.xlate.packet_to_client(&mut pkt);
            h = *pkt.header();
        }
        assert_eq!(*pkt.header(), h);
        h
    };
    assert_eq!(packet::parse(&buf), Ok(reported), "header() is the packet");

    // Exactly the intended fields changed (check fields compared below).
    let mut want = expected(&before, r, p);
    for at in [ip_check, tcp_check] {
        want[at..at + 2].copy_from_slice(&buf[at..at + 2]);
    }
    assert_eq!(buf, want, "only the rewritten fields change");

    let (old, new) = (whole(&before, r.total), whole(&buf, r.total));
    let addrs_changed = old[12..20] != new[12..20];
    // IPv4 header check: only addresses change in the IPv4 header.
    if fixed {
        assert_eq!(be16(&new, ip_check), ref_ip_check(&new), "IPv4 check");
    } else {
        assert_eq!(
            oc(ref_fold_sum(&old[..ihl])),
            oc(ref_fold_sum(&new[..ihl])),
            "IPv4 check keeps its error"
        );
    }
    match mode {
        CsumMode::Full if fixed => {
            assert_eq!(be16(&new, tcp_check), ref_tcp_check(&new), "TCP check");
        }
        CsumMode::Full => {
            assert_eq!(
                oc(tcp_sum(&old)),
                oc(tcp_sum(&new)),
                "TCP check keeps its error"
            );
        }
        CsumMode::Partial if !addrs_changed => {
            assert_eq!(
                be16(&new, tcp_check),
                be16(&old, tcp_check),
                "partial check"
            );
        }
        CsumMode::Partial if fixed => {
            assert_eq!(
                be16(&new, tcp_check),
                ref_partial_check(&new),
                "partial check"
            );
        }
        CsumMode::Partial => {
            // check - pseudo-header sum is kept.
            let off = |pkt: &[u8]| {
                (oc(be16(pkt, tcp_check)) + 0xffff - oc(ref_partial_check(pkt))) % 0xffff
            };
            assert_eq!(off(&old), off(&new), "partial check keeps its offset");
        }
    }
}

/// Every rewriting entry point on a buffer that does not parse.
fn untouched(input: &[u8], p: &Params, err: ParseError) {
    for mode in [CsumMode::Full, CsumMode::Partial] {
        let mut buf = input.to_vec();
        assert_eq!(TcpPacket::parse(&mut buf, mode).err(), Some(err));
        let x = &p.xlate;
        assert_eq!(packet::set_saddr(&mut buf, p.vip, mode), Err(err));
        assert_eq!(packet::set_daddr(&mut buf, p.backend, mode), Err(err));
        assert_eq!(packet::set_seq(&mut buf, x.seq_delta, mode), Err(err));
        assert_eq!(packet::set_ack(&mut buf, x.seq_delta, mode), Err(err));
        assert_eq!(packet::set_window(&mut buf, p.vport, mode), Err(err));
        assert_eq!(packet::set_tsval(&mut buf, x.ts_delta, mode), Err(err));
        assert_eq!(packet::set_tsecr(&mut buf, x.ts_delta, mode), Err(err));
        assert_eq!(
            packet::add_sack_delta(&mut buf, x.seq_delta, mode),
            Err(err)
        );
        assert_eq!(buf, input, "a packet that does not parse is never written");
    }
}

/// Setting every field to the value it has is no change at all.
fn same_values(input: &[u8], h: &TcpHeader) {
    for mode in [CsumMode::Full, CsumMode::Partial] {
        let mut buf = input.to_vec();
        assert_eq!(packet::set_saddr(&mut buf, h.saddr, mode), Ok(()));
        assert_eq!(packet::set_daddr(&mut buf, h.daddr, mode), Ok(()));
        assert_eq!(packet::set_seq(&mut buf, h.seq, mode), Ok(()));
        assert_eq!(packet::set_ack(&mut buf, h.ack, mode), Ok(()));
        assert_eq!(packet::set_window(&mut buf, h.window, mode), Ok(()));
        let ts = h.options.timestamps;
        let (tsval, tsecr) = ts.unwrap_or_default();
        assert_eq!(packet::set_tsval(&mut buf, tsval, mode), Ok(ts.is_some()));
        assert_eq!(packet::set_tsecr(&mut buf, tsecr, mode), Ok(ts.is_some()));
        let n = h.options.sack_blocks().len();
        assert_eq!(packet::add_sack_delta(&mut buf, 0, mode), Ok(n));
        assert_eq!(buf, input, "writing the same values changes nothing");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((params, input)) = data.split_first_chunk::<PARAMS>() else {
        return;
    };
    let p = Params::new(params);
    let parsed = packet::parse(input);
    match (ref_parse(input), parsed) {
        (Ok(r), Ok(h)) => {
            check_fields(input, &h, &r);
            same_values(input, &h);
            for mode in [CsumMode::Full, CsumMode::Partial] {
                rewrite(input, &h, &r, &p, mode);
            }
        }
        (Err(want), got) => {
            assert_eq!(got, Err(want), "reference parser refuses");
            untouched(input, &p, want);
        }
        (Ok(_), Err(e)) => panic!("reference parser accepts, parse says {e:?}"),
    }
});

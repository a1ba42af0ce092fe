// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `packet6`: the IPv6/TCP parser and the in-place rewriter of
//! `src/proto/packet.rs` (`parse_in::<V6>`, `TcpPacket<V6>`), driven by the
//! translation of `src/proto/seq.rs` as the module's flows use it.
//!
//! Input: [`PARAMS`] bytes of rewrite parameters, then the packet (from its
//! IPv6 header).
//!
//! Asserts:
//!
//! * `parse_in::<V6>` accepts exactly what an independent reference parser
//!   written from the documented rules accepts (the extension header walk
//!   here, the TCP header and options as the `packet` target checks them),
//!   with the same error kind otherwise; on success every field equals the
//!   bytes at its offset. `addresses_in::<V6>` finds the same addresses and
//!   ports; `is_pure_ack_in::<V6>` agrees with a reference from its rules.
//! * Nothing past the headers decides: the headers alone (what the module
//!   makes linear) parse the same.
//! * A buffer that does not parse is left byte-identical by
//!   `TcpPacket::parse_in`, which reports the parser's error.
//! * On one that parses, in both checksum modes, with the TCP check first
//!   made right or left as it came: the front-end rewrite (daddr, dport,
//!   `packet_to_backend`) and the back-end rewrite (saddr, sport,
//!   `packet_to_client`) change exactly the intended fields and the TCP
//!   check field, nothing in the IPv6 header but the addresses (the flow
//!   label stays), nothing in the extension headers; the TCP check equals
//!   the one computed from scratch over the IPv6 pseudo-header when it was
//!   right before, and otherwise keeps its error.

#![no_main]

use baton_proto::packet::{
    addresses_in, flags, is_pure_ack_in, parse_in, CsumMode, ParseError, TcpHeader, TcpPacket, V6,
};
use baton_proto::seq::Translation;
use libfuzzer_sys::fuzz_target;

#[path = "../../baton-proto/tests/common/mod.rs"]
mod common;
use common::{
    be16, be32, check_tcp_fields, expected_tcp, oc, put16, ref_fold_sum, ref_skip_extensions,
    ref_tcp, RefPacket,
};

/// Bytes of rewrite parameters before the packet.
const PARAMS: usize = 48;

// Bits of the first parameter byte.
/// Make the TCP check right before rewriting.
const P_FIX_CHECK: u8 = 1;
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
    vip: [u8; 16],
    vport: u16,
    backend: [u8; 16],
    bport: u16,
}

impl Params {
    fn new(p: &[u8; PARAMS]) -> Self {
        let addr = |at: usize| -> [u8; 16] { p[at..at + 16].try_into().unwrap() };
        Self {
            bits: p[0],
            xlate: Translation {
                seq_delta: be32(p, 1),
                ts_delta: be32(p, 5),
                frontend_wscale: p[9],
                backend_wscale: p[10],
            },
            vip: addr(11),
            vport: be16(p, 27),
            backend: addr(29),
            bport: be16(p, 45),
        }
    }
}

/// Reference parser of the IPv6 headers, from the rules in the
/// documentation of `packet::parse_in`, in the order the parser checks
/// them: the offset of the TCP header and the packet's length.
fn ref_network(buf: &[u8]) -> Result<(usize, usize), ParseError> {
    use ParseError::*;
    let Some(&first) = buf.first() else {
        return Err(Truncated);
    };
    if first >> 4 != 6 {
        return Err(NotIpv6);
    }
    if buf.len() < 40 {
        return Err(Truncated);
    }
    let plen = usize::from(be16(buf, 4));
    let next = buf[6];
    if plen == 0 && next != 59 {
        return Err(Jumbogram);
    }
    let total = 40 + plen;
    match ref_skip_extensions(buf, next, 40, total, false)? {
        (6, at) => Ok((at, total)),
        _ => Err(NotTcp),
    }
}

/// The whole reference parser: the IPv6 headers, then the TCP header as
/// for IPv4.
fn ref_parse(buf: &[u8]) -> Result<RefPacket, ParseError> {
    let (l4, total) = ref_network(buf)?;
    ref_tcp(buf, l4, total)
}

/// `is_pure_ack_in` from its documentation: the IPv6 headers valid, a data
/// offset of 5 words or more that ends the packet, ACK and no SYN, FIN or
/// RST; the options are not looked at.
fn ref_pure_ack(buf: &[u8]) -> bool {
    let Ok((l4, total)) = ref_network(buf) else {
        return false;
    };
    let (Some(&doff), Some(&f)) = (buf.get(l4 + 12), buf.get(l4 + 13)) else {
        return false;
    };
    let doff = usize::from(doff >> 4) * 4;
    doff >= 20
        && total == l4 + doff
        && f & flags::ACK != 0
        && f & (flags::SYN | flags::FIN | flags::RST) == 0
}

/// The IPv6 packet as the checksum sees it: up to the payload length, a
/// payload the buffer does not hold taken as zeros.
fn whole(buf: &[u8], total: usize) -> Vec<u8> {
    let mut p = buf[..total.min(buf.len())].to_vec();
    p.resize(total, 0);
    p
}

/// The ones' complement sum of the covered TCP bytes of `pkt` (whole):
/// the IPv6 pseudo-header, the TCP header with its check field, the
/// payload.
fn tcp_sum(pkt: &[u8], l4: usize) -> u16 {
    let mut data = pkt[8..40].to_vec();
    data.extend_from_slice(&((pkt.len() - l4) as u32).to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, 6]);
    data.extend_from_slice(&pkt[l4..]);
    ref_fold_sum(&data)
}

/// The pseudo-header sum alone (the `CHECKSUM_PARTIAL` check field).
fn pseudo_sum(pkt: &[u8], l4: usize) -> u16 {
    let mut data = pkt[8..40].to_vec();
    data.extend_from_slice(&((pkt.len() - l4) as u32).to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, 6]);
    ref_fold_sum(&data)
}

/// Runs the rewrites of `p` on `input` in checksum mode `mode` and checks
/// the result.
fn rewrite(input: &[u8], hdr: &TcpHeader<V6>, r: &RefPacket, p: &Params, mode: CsumMode) {
    let l4 = r.ihl;
    let tcp_check = l4 + 16;
    let mut buf = input.to_vec();
    let fixed = p.bits & P_FIX_CHECK != 0;
    if fixed {
        let mut pkt = whole(&buf, r.total);
        put16(&mut pkt, tcp_check, 0);
        let check = match mode {
            CsumMode::Full => !tcp_sum(&pkt, l4),
            CsumMode::Partial => pseudo_sum(&pkt, l4),
        };
        put16(&mut buf, tcp_check, check);
    }
    let before = buf.clone();
    let end = if p.bits & P_HEADERS_ONLY != 0 {
        l4 + r.doff
    } else {
        buf.len()
    };
    let reported = {
        let mut pkt = TcpPacket::<V6>::parse_in(&mut buf[..end], mode).expect("parses as before");
        assert_eq!(*pkt.header(), *hdr);
        if p.bits & P_FRONT != 0 {
            pkt.set_daddr(p.backend);
            pkt.set_dport(p.bport);
            p.xlate.packet_to_backend(&mut pkt);
        }
        if p.bits & P_BACK != 0 {
            pkt.set_saddr(p.vip);
            pkt.set_sport(p.vport);
            p.xlate.packet_to_client(&mut pkt);
        }
        *pkt.header()
    };
    assert_eq!(parse_in::<V6>(&buf), Ok(reported), "header() is the packet");

    let (front, back) = (p.bits & P_FRONT != 0, p.bits & P_BACK != 0);
    let mut want = before.clone();
    if front {
        want[24..40].copy_from_slice(&p.backend);
    }
    if back {
        want[8..24].copy_from_slice(&p.vip);
    }
    let (bport, vport) = (front.then_some(p.bport), back.then_some(p.vport));
    expected_tcp(&mut want, &before, r, &p.xlate, bport, vport);
    want[tcp_check..tcp_check + 2].copy_from_slice(&buf[tcp_check..tcp_check + 2]);
    assert_eq!(buf, want, "only the rewritten fields change");

    let (old, new) = (whole(&before, r.total), whole(&buf, r.total));
    let addrs_changed = old[8..40] != new[8..40];
    let check = |pkt: &[u8]| be16(pkt, tcp_check);
    let zeroed = |pkt: &[u8]| {
        let mut z = pkt.to_vec();
        put16(&mut z, tcp_check, 0);
        z
    };
    match mode {
        CsumMode::Full if fixed => {
            assert_eq!(check(&new), !tcp_sum(&zeroed(&new), l4), "TCP check");
        }
        CsumMode::Full => {
            assert_eq!(
                oc(tcp_sum(&old, l4)),
                oc(tcp_sum(&new, l4)),
                "TCP check keeps its error"
            );
        }
        CsumMode::Partial if !addrs_changed => {
            assert_eq!(check(&new), check(&old), "partial check");
        }
        CsumMode::Partial if fixed => {
            assert_eq!(check(&new), pseudo_sum(&new, l4), "partial check");
        }
        CsumMode::Partial => {
            let off = |pkt: &[u8]| (oc(check(pkt)) + 0xffff - oc(pseudo_sum(pkt, l4))) % 0xffff;
            assert_eq!(off(&old), off(&new), "partial check keeps its offset");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((params, input)) = data.split_first_chunk::<PARAMS>() else {
        return;
    };
    let p = Params::new(params);
    let parsed = parse_in::<V6>(input);
    assert_eq!(is_pure_ack_in::<V6>(input), ref_pure_ack(input));
    match (ref_parse(input), parsed) {
        (Ok(r), Ok(h)) => {
            assert_eq!(h.saddr[..], input[8..24]);
            assert_eq!(h.daddr[..], input[24..40]);
            check_tcp_fields(input, &h, &r);
            assert_eq!(parse_in::<V6>(&input[..r.ihl + r.doff]), Ok(h));
            assert_eq!(addresses_in::<V6>(input), Some(h.addresses()));
            for mode in [CsumMode::Full, CsumMode::Partial] {
                rewrite(input, &h, &r, &p, mode);
            }
        }
        (Err(want), got) => {
            assert_eq!(got, Err(want), "reference parser refuses");
            for mode in [CsumMode::Full, CsumMode::Partial] {
                let mut buf = input.to_vec();
                assert_eq!(TcpPacket::<V6>::parse_in(&mut buf, mode).err(), Some(want));
                assert_eq!(buf, input, "a packet that does not parse is never written");
            }
        }
        (Ok(_), Err(e)) => panic!("reference parser accepts, parse says {e:?}"),
    }
});

// SPDX-License-Identifier: GPL-2.0

//! `baton-nlfuzz`: sends random and mutated generic netlink requests to the
//! `baton` family, from a seeded generator, and checks that the kernel
//! answers every one (an error, or an acknowledged reply) within a time
//! limit. Used by the `nl-fuzz` VM scenario, which then checks the kernel
//! log and that the configuration is still consistent.
//!
//! Requests are of three kinds, mixed:
//! * well-formed commands with random attribute values (ranges, boundaries,
//!   garbage strings, addresses of either family), so that handlers run and
//!   change state;
//! * structurally random attribute trees: wrong types, lengths, nesting,
//!   unknown attribute numbers, random commands and versions;
//! * byte mutations of well-formed requests (the netlink header stays
//!   consistent, so that the kernel must answer).
//!
//! Every request carries `NLM_F_ACK`; some also carry `NLM_F_DUMP`: a dump
//! ends with `NLMSG_DONE` (its error code is the answer), or is refused
//! with an error (commands without a dump, a bad filter). A well-formed
//! request that the kernel must refuse whatever its state (a back-end's
//! `drain` of 2, or any in `backend-add`) must be answered with an error.

use std::{
    collections::BTreeMap,
    process::ExitCode,
    time::{Duration, Instant},
};

use baton_proto::uapi::{
    attr, backend_attr, cmd, conn_attr, member_attr, peer_attr, rule_attr, service_attr,
};
use clap::Parser;
use neli::{
    consts::{nl::NlmF, socket::NlFamily},
    router::synchronous::NlRouter,
    socket::NlSocket,
    utils::Groups,
};
use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

/// Command line.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Seed of the generator (the same seed sends the same requests).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of requests.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Every mutating command with well-formed headers must be refused with
    /// EPERM (run unprivileged).
    #[arg(long)]
    expect_eperm: bool,
}

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLA_F_NESTED: u16 = 1 << 15;
const EPERM: i32 = 1;
/// Commands that need CAP_NET_ADMIN.
const MUTATING: [u8; 12] = [
    cmd::CONFIG_SET,
    cmd::PEER_ADD,
    cmd::PEER_DEL,
    cmd::SERVICE_ADD,
    cmd::SERVICE_DEL,
    cmd::BACKEND_ADD,
    cmd::BACKEND_DEL,
    cmd::RULE_ADD,
    cmd::RULE_DEL,
    cmd::CLUSTER_ADD,
    cmd::CLUSTER_DEL,
    cmd::BACKEND_SET,
];

struct Gen {
    rng: XorShiftRng,
}

impl Gen {
    fn below(&mut self, n: u32) -> u32 {
        self.rng.next_u32() % n.max(1)
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }

    fn bytes(&mut self, max: u32) -> Vec<u8> {
        let n = self.below(max + 1) as usize;
        let mut v = vec![0; n];
        self.rng.fill_bytes(&mut v);
        v
    }

    /// A `u32` that is often a boundary.
    fn u32(&mut self) -> u32 {
        match self.below(6) {
            0 => 0,
            1 => 1,
            2 => u32::MAX,
            3 => self.below(100),
            4 => 0x10000 + self.below(10),
            _ => self.rng.next_u32(),
        }
    }

    fn u16(&mut self) -> u16 {
        match self.below(4) {
            0 => 0,
            1 => u16::MAX,
            2 => self.below(100) as u16,
            _ => self.rng.next_u32() as u16,
        }
    }

    /// An IPv4 address in 198.18.0.0/15 or a special one.
    fn addr(&mut self) -> [u8; 4] {
        match self.below(5) {
            0 => [0, 0, 0, 0],
            1 => [224, 0, 0, 1],
            2 => [127, 0, 0, 1],
            _ => [
                198,
                18 + self.below(2) as u8,
                self.below(4) as u8,
                self.below(8) as u8 + 1,
            ],
        }
    }

    /// An IPv6 address: in 2001:db8::/32, or one that a peer, service or
    /// back-end cannot have (unspecified, loopback, multicast, link-local,
    /// IPv4-mapped), or a length other than 16.
    fn addr6(&mut self) -> Vec<u8> {
        let mut a = vec![0u8; 16];
        match self.below(10) {
            0 => {}
            1 => a[15] = 1,
            2 | 3 => {
                let prefix = if self.chance(50) {
                    [0xff, 0x02]
                } else {
                    [0xfe, 0x80]
                };
                a[..2].copy_from_slice(&prefix);
                a[15] = 1;
            }
            4 => {
                a[10..12].copy_from_slice(&[0xff, 0xff]);
                let v4 = self.addr();
                a[12..].copy_from_slice(&v4);
            }
            5 => a.resize(if self.chance(50) { 15 } else { 17 }, 0),
            _ => {
                a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                a[15] = self.below(8) as u8 + 1;
            }
        }
        a
    }

    /// A string attribute payload: a plausible name, garbage, or too long.
    fn text(&mut self) -> Vec<u8> {
        match self.below(5) {
            0 => b"a.example".to_vec(),
            1 => b"/b/".to_vec(),
            2 => vec![b'x'; 300],
            3 => {
                let mut v = self.bytes(20);
                v.push(0);
                v
            }
            _ => self.bytes(30),
        }
    }
}

/// An attribute: type and payload (nested attributes already encoded).
fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut v = Vec::with_capacity(len + 3);
    v.extend_from_slice(&(len as u16).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(payload);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

fn nest(ty: u16, inner: &[Vec<u8>]) -> Vec<u8> {
    nla(ty | NLA_F_NESTED, &inner.concat())
}

/// An address as the kernel wants it, one attribute: `v4` with an IPv4
/// address, or `v6` with an IPv6 one (`ipv6`, [`Gen::addr6`]: valid,
/// refused, or of another length); sometimes both or neither.
fn addr_attrs(g: &mut Gen, ipv6: bool, v4: u16, v6: u16) -> Vec<Vec<u8>> {
    match g.below(20) {
        0 => Vec::new(),
        1 => vec![nla(v4, &g.addr()), nla(v6, &g.addr6())],
        _ if ipv6 => vec![nla(v6, &g.addr6())],
        _ => vec![nla(v4, &g.addr())],
    }
}

/// A service / back-end endpoint nest body: its address (`addr`, or the
/// set's `addr6` if `ipv6`) and port.
fn endpoint(g: &mut Gen, ipv6: bool, addr6: u16) -> Vec<Vec<u8>> {
    // `addr` and `port` are 1 and 2 in both sets.
    let mut v = addr_attrs(g, ipv6, service_attr::ADDR, addr6);
    if g.chance(95) {
        let port = if g.chance(80) {
            80 + g.below(3) as u16
        } else {
            g.u16()
        };
        v.push(nla(service_attr::PORT, &port.to_ne_bytes()));
    }
    v
}

/// A back-end's `drain` (`u8`, 0 or 1) in `b`, sometimes: 0, 1, or 2,
/// which the policy refuses. Returns the value put, if any.
fn drain(g: &mut Gen, b: &mut Vec<Vec<u8>>, percent: u32) -> Option<u8> {
    if !g.chance(percent) {
        return None;
    }
    let v = g.below(3) as u8;
    b.push(nla(backend_attr::DRAIN, &[v]));
    Some(v)
}

/// A well-formed request for command `c`, with random values, and whether
/// the kernel must refuse it whatever its state.
fn valid(g: &mut Gen, c: u8) -> (Vec<u8>, bool) {
    let mut attrs = Vec::new();
    let mut refused = false;
    match c {
        cmd::CONFIG_SET => {
            if g.chance(50) {
                attrs.push(nla(attr::CTRL_PORT, &g.u16().to_ne_bytes()));
            }
            if g.chance(50) {
                attrs.push(nla(attr::NODE_ID, &g.u32().to_ne_bytes()));
            }
            for a in [
                attr::REQUEST_TIMEOUT_MS,
                attr::HANDOFF_TIMEOUT_MS,
                attr::IDLE_TIMEOUT_MS,
                attr::HEARTBEAT_TIMEOUT_MS,
            ] {
                if g.chance(30) {
                    attrs.push(nla(a, &g.u32().to_ne_bytes()));
                }
            }
            if g.chance(30) {
                attrs.push(nla(attr::COPIES, &g.below(70).to_ne_bytes()));
            }
        }
        cmd::PEER_ADD | cmd::PEER_DEL => {
            let mut p = vec![nla(peer_attr::NODE_ID, &(g.below(70)).to_ne_bytes())];
            if c == cmd::PEER_ADD {
                // Mostly one address as the kernel wants it; sometimes
                // both or neither.
                match g.below(10) {
                    0..=5 => p.push(nla(peer_attr::ADDR, &g.addr())),
                    6..=8 => p.push(nla(peer_attr::ADDR6, &g.addr6())),
                    _ if g.chance(50) => {
                        p.push(nla(peer_attr::ADDR, &g.addr()));
                        p.push(nla(peer_attr::ADDR6, &g.addr6()));
                    }
                    _ => {}
                }
                if g.chance(50) {
                    p.push(nla(peer_attr::PORT, &g.u16().to_ne_bytes()));
                }
            }
            attrs.push(nest(attr::PEER, &p));
        }
        cmd::CLUSTER_ADD | cmd::CLUSTER_DEL => {
            let m = [nla(member_attr::NODE_ID, &(g.below(70)).to_ne_bytes())];
            attrs.push(nest(attr::MEMBER, &m));
        }
        cmd::SERVICE_ADD | cmd::SERVICE_DEL => {
            let ipv6 = g.chance(35);
            let mut s = endpoint(g, ipv6, service_attr::ADDR6);
            if g.chance(50) {
                s.push(nla(service_attr::SCHEDULER, &[g.below(6) as u8]));
            }
            // connection, request, or out of the policy's range.
            if g.chance(30) {
                s.push(nla(service_attr::DISPATCH, &[g.below(3) as u8]));
            }
            attrs.push(nest(attr::SERVICE, &s));
        }
        cmd::BACKEND_ADD | cmd::BACKEND_DEL => {
            // Mostly of the service's family; sometimes of the other.
            let ipv6 = g.chance(35);
            attrs.push(nest(attr::SERVICE, &endpoint(g, ipv6, service_attr::ADDR6)));
            let be6 = ipv6 != g.chance(10);
            let mut b = endpoint(g, be6, backend_attr::ADDR6);
            if g.chance(50) {
                b.push(nla(backend_attr::WEIGHT, &g.u32().to_ne_bytes()));
            }
            if g.chance(30) {
                b.push(nla(backend_attr::PEER, &g.below(70).to_ne_bytes()));
            }
            // A drain is for a back-end's connections: added with one, it
            // is refused, whatever its value.
            refused = c == cmd::BACKEND_ADD && drain(g, &mut b, 10).is_some();
            attrs.push(nest(attr::BACKEND, &b));
        }
        cmd::BACKEND_SET => {
            let ipv6 = g.chance(35);
            attrs.push(nest(attr::SERVICE, &endpoint(g, ipv6, service_attr::ADDR6)));
            let be6 = ipv6 != g.chance(10);
            let mut b = endpoint(g, be6, backend_attr::ADDR6);
            // Mostly a weight, often 0 or at the limit; sometimes none,
            // or a peer, which the kernel refuses; often a drain, which
            // with a weight above 0 it refuses too.
            let mut weight = None;
            if g.chance(90) {
                let w = match g.below(4) {
                    0 => 0,
                    1 => 65535 + g.below(2),
                    _ => g.u32(),
                };
                b.push(nla(backend_attr::WEIGHT, &w.to_ne_bytes()));
                weight = Some(w);
            }
            if g.chance(10) {
                b.push(nla(backend_attr::PEER, &g.below(70).to_ne_bytes()));
            }
            refused = match drain(g, &mut b, 40) {
                Some(2) => true,
                Some(1) => weight.is_some_and(|w| w > 0),
                _ => false,
            };
            attrs.push(nest(attr::BACKEND, &b));
        }
        cmd::RULE_ADD | cmd::RULE_DEL => {
            let ipv6 = g.chance(35);
            attrs.push(nest(attr::SERVICE, &endpoint(g, ipv6, service_attr::ADDR6)));
            let mut r = Vec::new();
            if g.chance(50) {
                r.push(nla(rule_attr::INDEX, &g.below(70).to_ne_bytes()));
            }
            if g.chance(60) {
                let t = g.text();
                r.push(nla(rule_attr::HOST, &t));
            }
            if g.chance(20) {
                r.push(nla(rule_attr::HOST_SUFFIX, &[g.below(3) as u8]));
            }
            if g.chance(50) {
                let t = g.text();
                r.push(nla(rule_attr::PATH, &t));
            }
            if g.chance(90) {
                let be6 = ipv6 != g.chance(10);
                r.extend(addr_attrs(
                    g,
                    be6,
                    rule_attr::BACKEND_ADDR,
                    rule_attr::BACKEND_ADDR6,
                ));
                r.push(nla(
                    rule_attr::BACKEND_PORT,
                    &(80 + g.below(3) as u16).to_ne_bytes(),
                ));
            }
            attrs.push(nest(attr::RULE, &r));
        }
        cmd::CONN_GET if g.chance(50) => {
            // A filter: any of its fields (an endpoint's address of
            // either family, sometimes both), sometimes a reply-only one
            // or an out-of-range role or state.
            let mut f = Vec::new();
            for _ in 0..g.below(4) {
                let ty = 1 + g.below(u32::from(conn_attr::MAX)) as u16;
                let payload = match ty {
                    conn_attr::ROLE | conn_attr::STATE => vec![g.below(5) as u8],
                    conn_attr::CLIENT_ADDR | conn_attr::VIP_ADDR | conn_attr::BACKEND_ADDR => {
                        g.addr().to_vec()
                    }
                    conn_attr::CLIENT_ADDR6 | conn_attr::VIP_ADDR6 | conn_attr::BACKEND_ADDR6 => {
                        g.addr6()
                    }
                    conn_attr::CLIENT_PORT | conn_attr::VIP_PORT | conn_attr::BACKEND_PORT => {
                        g.u16().to_ne_bytes().to_vec()
                    }
                    conn_attr::PEER => g.below(4).to_ne_bytes().to_vec(),
                    _ => g.bytes(8),
                };
                f.push(nla(ty, &payload));
            }
            attrs.push(nest(attr::CONN, &f));
        }
        _ => {}
    }
    (attrs.concat(), refused)
}

/// A structurally random attribute tree.
fn random_attrs(g: &mut Gen, depth: u32) -> Vec<u8> {
    let n = g.below(6);
    let mut out = Vec::new();
    for _ in 0..n {
        let ty = if g.chance(80) {
            g.below(20) as u16
        } else {
            g.u16() & 0x3fff
        };
        if depth < 3 && g.chance(30) {
            let inner = random_attrs(g, depth + 1);
            out.extend(nla(ty | NLA_F_NESTED, &inner));
        } else {
            let payload = match g.below(4) {
                0 => g.bytes(2),
                1 => g.u32().to_ne_bytes().to_vec(),
                2 => g.u16().to_ne_bytes().to_vec(),
                _ => g.bytes(40),
            };
            out.extend(nla(ty, &payload));
        }
    }
    if g.chance(10) {
        // A truncated attribute header or length past the end.
        out.extend(g.bytes(7));
    }
    out
}

/// One request: netlink header, genl header, attributes. Returns the
/// command, whether the headers are well-formed (no dump flag, reserved
/// field 0: the generic netlink core checks those before permissions),
/// whether the kernel must refuse it (a well-formed body it refuses
/// whatever its state, unmutated) and the bytes.
fn request(g: &mut Gen, family: u16, seq: u32) -> (u8, bool, bool, Vec<u8>) {
    let c = if g.chance(90) {
        // A request: 1 to MAX, or BACKEND_SET, numbered after the
        // notifications.
        match g.below(u32::from(cmd::MAX) + 1) as u8 {
            0 => cmd::BACKEND_SET,
            n => n,
        }
    } else {
        g.below(256) as u8
    };
    let version = if g.chance(90) { 1 } else { g.below(256) as u8 };
    let reserved: u16 = if g.chance(95) { 0 } else { g.u16() };
    let (mut body, refused) = match g.below(10) {
        0..=5 => valid(g, c),
        6..=7 => (random_attrs(g, 0), false),
        8 => (g.bytes(64), false),
        _ => {
            let (mut v, _) = valid(g, c);
            for _ in 0..=g.below(4) {
                if !v.is_empty() {
                    let i = g.below(v.len() as u32) as usize;
                    v[i] ^= 1 << g.below(8);
                }
            }
            (v, false)
        }
    };
    if body.len() > 60_000 {
        body.truncate(60_000);
    }
    let mut flags = NlmF::REQUEST | NlmF::ACK;
    let dump = g.chance(3);
    if dump {
        flags |= NlmF::DUMP;
    }
    let len = 16 + 4 + body.len();
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&(len as u32).to_ne_bytes());
    msg.extend_from_slice(&family.to_ne_bytes());
    msg.extend_from_slice(&u16::from(flags).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.push(c);
    msg.push(version);
    msg.extend_from_slice(&reserved.to_ne_bytes());
    msg.extend_from_slice(&body);
    (c, !dump && reserved == 0, refused, msg)
}

/// Reads until the answer to `seq` (an NLMSG_ERROR, 0 for an ACK, or the
/// NLMSG_DONE that ends a dump with its error code) or the deadline. A
/// reply before it must be a baton message.
fn answer(sock: &NlSocket, seq: u32, family: u16, buf: &mut [u8]) -> Result<i32, String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = match sock.recv(&mut *buf, neli::consts::socket::Msg::DONTWAIT) {
            Ok((n, _)) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err(format!("no answer to request {seq} within 5 s"));
                }
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            Err(e) => return Err(format!("recv: {e}")),
        };
        let mut at = 0;
        while at + 16 <= n {
            let h = &buf[at..n];
            let len = u32::from_ne_bytes(h[0..4].try_into().unwrap()) as usize;
            let ty = u16::from_ne_bytes(h[4..6].try_into().unwrap());
            let rseq = u32::from_ne_bytes(h[8..12].try_into().unwrap());
            if len < 16 || at + len > n {
                return Err(format!("bad netlink message length {len}"));
            }
            if rseq == seq {
                match ty {
                    NLMSG_ERROR | NLMSG_DONE if len >= 20 => {
                        return Ok(i32::from_ne_bytes(h[16..20].try_into().unwrap()));
                    }
                    t if t == family => {}
                    t => return Err(format!("request {seq}: unexpected message type {t}")),
                }
            }
            at += (len + 3) & !3;
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let family = match NlRouter::connect(NlFamily::Generic, None, Groups::empty())
        .map_err(|e| e.to_string())
        .and_then(|(router, _)| {
            router
                .resolve_genl_family("baton")
                .map_err(|e| e.to_string())
        }) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("baton-nlfuzz: cannot resolve the baton family: {e}");
            return ExitCode::from(3);
        }
    };
    let sock = match NlSocket::connect(NlFamily::Generic, None, Groups::empty()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("baton-nlfuzz: socket: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut g = Gen {
        rng: XorShiftRng::seed_from_u64(args.seed),
    };
    let mut buf = vec![0u8; 65536];
    let mut outcomes: BTreeMap<i32, u64> = BTreeMap::new();
    let mut failures = 0u64;
    let start = Instant::now();
    for i in 0..args.count {
        let seq = (i as u32).wrapping_add(1);
        let (c, well_formed, refused, msg) = request(&mut g, family, seq);
        if let Err(e) = sock.send(&msg[..], neli::consts::socket::Msg::empty()) {
            eprintln!("baton-nlfuzz: send {seq}: {e}");
            failures += 1;
            continue;
        }
        match answer(&sock, seq, family, &mut buf) {
            Ok(code) => {
                *outcomes.entry(code).or_default() += 1;
                if args.expect_eperm && well_formed && MUTATING.contains(&c) && code != -EPERM {
                    eprintln!("baton-nlfuzz: request {seq} (command {c}) unprivileged: {code}, want -EPERM");
                    failures += 1;
                }
                if refused && code >= 0 {
                    eprintln!(
                        "baton-nlfuzz: request {seq} (command {c}) accepted: {code}, want an error"
                    );
                    failures += 1;
                }
            }
            Err(e) => {
                eprintln!("baton-nlfuzz: {e}");
                failures += 1;
            }
        }
    }
    let summary: Vec<String> = outcomes
        .iter()
        .map(|(code, n)| format!("{code}:{n}"))
        .collect();
    println!(
        "baton-nlfuzz: seed {} sent {} requests in {:.1}s, answers by code {}, failures {}",
        args.seed,
        args.count,
        start.elapsed().as_secs_f64(),
        summary.join(" "),
        failures
    );
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

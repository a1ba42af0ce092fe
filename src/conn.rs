// SPDX-License-Identifier: GPL-2.0

//! The connection table of a namespace and the packet path (the BTCP hooks
//! of the design, the role of IPVS's `ip_vs_conn.c` and `ip_vs_core.c`).
//!
//! Flows ([`crate::proto::flow`]) live in an RCU hash table
//! ([`crate::sys::rcuhash`]): the hooks look a packet's flow up without a
//! table-wide lock and take only that flow's lock; threads insert and
//! remove under the table's writer lock, and a removed flow is freed after
//! an RCU grace period. A packet that does not parse as IPv4 + TCP, or
//! belongs to no flow, passes untouched; so does an ICMP packet, except an
//! error about a forwarding front flow's segment, which goes on to its
//! back-end (as IPVS's `ip_vs_in_icmp` does).

use crate::{
    common::Common,
    hold::{Hold, Kept, Why},
    proto::{
        cluster::{self, FlowId},
        ctrl::{cap, Endpoint, HandoffReq, Wire},
        dump,
        flow::{Flow, Key, Phase, Role, Verdict as FlowVerdict},
        icmp::{self, Icmp, IcmpPacket},
        mem,
        packet::{self, flags, CsumMode, Family, TcpHeader, TcpPacket, V4, V6},
        service::Ip,
    },
    relay::{Relay, Target},
    sys::{
        bhlock::{new_bh_spinlock, BhSpinLock},
        kthread,
        netfilter::{SkBuff, Verdict},
        netns::Net,
        percpu::Counters,
        rcuhash::{Keyed, RcuHash, Removal},
        route::Route,
        skb::{Csum, TcpHeadersLen},
        socket::{self, Demux},
    },
};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// Front-end flows of one service to one of its back-ends: what the `lc`
/// scheduler and `max-conns` count (IPVS keeps `activeconns` in its
/// destination).
struct Dest {
    vip: Endpoint<Ip>,
    backend: Endpoint<Ip>,
    flows: u32,
}

/// A flow in the table: its key (fixed) and its state, under a lock of its
/// own that the hooks take in softirq context and threads with bottom
/// halves disabled.
#[pin_data]
pub(crate) struct FlowCell<F: Family = V4> {
    key: Key<F>,
    #[pin]
    flow: BhSpinLock<Flow<F>>,
}

impl<F: Family> FlowCell<F> {
    fn new(flow: Flow<F>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            key: flow.key(),
            flow <- new_bh_spinlock!(flow, "baton_flow"),
        }? Error)
    }

    fn get(&self) -> Flow<F> {
        *self.flow.lock()
    }
}

impl<F: Family> Keyed for FlowCell<F> {
    type Key = Key<F>;

    fn key(&self) -> &Key<F> {
        &self.key
    }
}

/// The flows of one IP family: a table of their own, as a flow's size
/// follows its addresses' (an IPv4 flow keeps its 128-byte node), and the
/// packets held for them.
#[pin_data]
pub(crate) struct Table<F: Family = V4> {
    flows: RcuHash<FlowCell<F>>,
    len: AtomicUsize,
    /// Where [`Conns::gc_sweep`] goes on.
    sweep: AtomicUsize,
    /// Client packets of frozen flows.
    #[pin]
    hold: Hold<F>,
    /// Copies of other front-ends' flows of this family.
    common: Common<F>,
}

impl<F: Family> Table<F> {
    /// `2^bits` buckets for the flows, a quarter for the copies (most
    /// members keep one copy per connection of another's), at most `max`
    /// of each; the copies' hash has its own seed, derived from `seed`, so
    /// that the two tables' buckets fill independently.
    fn new(bits: u32, seed: u32, max: usize) -> impl PinInit<Self, Error> {
        let flows = RcuHash::new(1usize << bits.min(24));
        let common = Common::new(seed.rotate_left(16), bits.saturating_sub(2).max(8), max);
        try_pin_init!(Self {
            flows: flows?,
            len: AtomicUsize::new(0),
            sweep: AtomicUsize::new(0),
            hold <- Hold::new(),
            common: common?,
        }? Error)
    }
}

/// An IP family whose flows a namespace keeps: which of its tables they
/// are in.
pub(crate) trait Fam: Wire + Icmp + Into<Ip> {
    /// The capability a member announces when it keeps copies of this
    /// family's connections (0: every member does).
    const GROUP_CAP: u32;

    /// Whether a packet passed on to another member must fit the link as
    /// it is: an IPv6 one goes to the link's device in one frame (or GSO
    /// segments); an IPv4 one goes through the IPv4 output path, which
    /// fragments it.
    const RELAY_WHOLE: bool;

    /// The table of this family's flows.
    fn table(conns: &Conns) -> &Table<Self>;

    /// The address of this family that `ip` is, if it is one.
    fn from_ip(ip: Ip) -> Option<Self>;

    /// `req` as an IPv4 request, if this is IPv4.
    fn v4_req<'a, 'b>(req: &'b HandoffReq<'a, Self>) -> Option<&'b HandoffReq<'a, V4>>;

    /// `req` as an IPv6 request, if this is IPv6.
    fn v6_req<'a, 'b>(req: &'b HandoffReq<'a, Self>) -> Option<&'b HandoffReq<'a, V6>>;

    /// Whether none of this family's packets can concern the node.
    fn idle(conns: &Conns) -> bool;

    /// An arriving TCP packet of no flow of the node ([`Conns::unflowed_in`]).
    fn unflowed_in(
        conns: &Conns,
        net: &Net,
        skb: &mut SkBuff,
        key: &Key<Self>,
        now_ms: u64,
    ) -> Verdict;

    /// A leaving TCP packet of no flow ([`Conns::unflowed_out`]).
    fn unflowed_out(conns: &Conns, skb: &mut SkBuff) -> Verdict;

    /// An ICMP error about connection `key` that no flow here takes
    /// ([`Conns::icmp_copy`]); `None`: no copy either.
    fn icmp_copy(conns: &Conns, skb: &mut SkBuff, key: &Key<Self>) -> Option<Option<FlowVerdict>>;
}

/// IPv4.
impl Fam for V4 {
    const GROUP_CAP: u32 = 0;
    const RELAY_WHOLE: bool = false;

    fn table(conns: &Conns) -> &Table<Self> {
        &conns.v4
    }

    fn from_ip(ip: Ip) -> Option<Self> {
        ip.v4()
    }

    fn v4_req<'a, 'b>(req: &'b HandoffReq<'a>) -> Option<&'b HandoffReq<'a>> {
        Some(req)
    }

    fn v6_req<'a, 'b>(_: &'b HandoffReq<'a>) -> Option<&'b HandoffReq<'a, V6>> {
        None
    }

    fn idle(conns: &Conns) -> bool {
        conns.idle_v4()
    }

    fn unflowed_in(conns: &Conns, net: &Net, skb: &mut SkBuff, key: &Key, now_ms: u64) -> Verdict {
        conns.common_packet(net, skb, key, now_ms)
    }

    fn unflowed_out(conns: &Conns, skb: &mut SkBuff) -> Verdict {
        conns.unflowed_out(skb)
    }

    fn icmp_copy(conns: &Conns, skb: &mut SkBuff, key: &Key) -> Option<Option<FlowVerdict>> {
        conns.icmp_copy(skb, key)
    }
}

impl Fam for V6 {
    const GROUP_CAP: u32 = cap::GROUP6;
    const RELAY_WHOLE: bool = true;

    fn table(conns: &Conns) -> &Table<Self> {
        &conns.v6
    }

    fn from_ip(ip: Ip) -> Option<Self> {
        match ip {
            Ip::V6(a) => Some(a),
            Ip::V4(_) => None,
        }
    }

    fn v4_req<'a, 'b>(_: &'b HandoffReq<'a, V6>) -> Option<&'b HandoffReq<'a>> {
        None
    }

    fn v6_req<'a, 'b>(req: &'b HandoffReq<'a, V6>) -> Option<&'b HandoffReq<'a, V6>> {
        Some(req)
    }

    fn idle(conns: &Conns) -> bool {
        conns.v6.len.load(Ordering::Relaxed) == 0
            && conns.v6.common.len() == 0
            && !conns.withholding()
    }

    fn unflowed_in(
        conns: &Conns,
        net: &Net,
        skb: &mut SkBuff,
        key: &Key<V6>,
        now_ms: u64,
    ) -> Verdict {
        conns.common_packet(net, skb, key, now_ms)
    }

    fn unflowed_out(conns: &Conns, skb: &mut SkBuff) -> Verdict {
        conns.unflowed_out(skb)
    }

    fn icmp_copy(conns: &Conns, skb: &mut SkBuff, key: &Key<V6>) -> Option<Option<FlowVerdict>> {
        conns.icmp_copy(skb, key)
    }
}

/// Rewrites the ICMP error in `skb` about a segment of `flow` into its
/// back-end's view; `None` if it does not parse.
fn rewrite_icmp<F: Fam>(skb: &mut SkBuff, flow: &Flow<F>) -> Option<FlowVerdict> {
    let (buf, csum) = skb.icmp_headers_mut(F::HEADERS_MAX)?;
    let mut pkt = IcmpPacket::<F>::parse_in(buf, mode(csum)).ok()?;
    Some(flow.on_icmp_error(&mut pkt))
}

/// `e` in either family's form.
pub(crate) fn ip<F: Fam>(e: Endpoint<F>) -> Endpoint<Ip> {
    Endpoint {
        addr: e.addr.into(),
        port: e.port,
    }
}

/// A counter of `batonctl stats` (see [`Stats`]).
#[derive(Clone, Copy)]
pub(crate) enum Stat {
    /// Handoffs that completed (front-end side).
    HandoffsOk,
    /// Handoffs a back-end refused (NACK).
    HandoffsRefused,
    /// Handoffs that failed otherwise (timeout, peer down, local error).
    HandoffsFailed,
    /// Connections taken as a back-end.
    Taken,
    /// Packets rewritten client -> back-end.
    Forwarded,
    /// Packets rewritten back-end -> client.
    Returned,
    /// Packets dropped by a flow (front-end socket, frozen, replay).
    Dropped,
    /// Connections handed off before their request was complete because
    /// their worker's waiting list was full.
    Hurried,
    /// Packets of flows' clients that do not parse: dropped, or passed
    /// untouched when only the parser refuses them (an IPv6 chain of more
    /// extension headers than it walks).
    Malformed,
    /// Client packets held while their flow's handoff was under way.
    Held,
    /// Client packets that were to be held dropped: the holding area was
    /// full, or its share for packets awaiting a copy.
    HeldDropped,
    /// ICMP errors about a flow's segments passed on to its back-end.
    IcmpForwarded,
    /// ICMP errors that do not parse (truncated, bad headers), passed
    /// untouched.
    IcmpMalformed,
    /// Client packets forwarded with a common-table copy's translation.
    ForwardedCommon,
    /// Copies that became this node's flows (their owner left).
    Promoted,
    /// Copies of this node's flows sent to their backups.
    Replicated,
    /// Handoffs asked of a back-end before every backup confirmed their
    /// copy (HANDOFF_COPY unanswered in time, or refused for room).
    Unconfirmed,
    /// Copies of other members' handoffs under way that this node took
    /// over and asked the back-end for itself (RESUME).
    Resumed,
    /// Acknowledgements of requests that this front-end's sockets sent and
    /// the hook dropped (their back-ends acknowledge the requests).
    AcksWithheld,
    /// Connections whose request came in more than one flight: their
    /// acknowledgements were released before the handoff's copies.
    AcksReleased,
    /// Client packets and ICMP errors of connections this node has no
    /// state for, passed to the member that holds them.
    Relayed,
    /// Such packets that could not be passed (no directly connected route
    /// to the member, TTL spent, no memory), dropped.
    RelayFailed,
    /// Connections moved to another back-end at a request boundary.
    Moved,
    /// Moves the serving back-end refused (not idle): the connection stayed.
    MovesRefused,
    /// Moves the new back-end refused or did not answer.
    MovesFailed,
    /// Connections this node's servers gave up for a move.
    Released,
    /// Packets of connections this node has no state for whose first
    /// member was silent: passed to the next, or dropped.
    RelaySkipped,
    /// Packets passed to a suspect member that proved silent, passed again
    /// to the next of the ranking.
    RelayedAgain,
}

impl Stat {
    /// Number of counters.
    const COUNT: usize = Stat::RelayedAgain as usize + 1;
}

/// The mark of the packets of the services' listeners and the connections
/// they accept (`SO_MARK`, inherited), by which the hooks know a
/// front-end's own socket before its connection has a flow.
pub(crate) const LISTENER_MARK: u32 = 0x6261_746e;

/// Counters of `batonctl stats`: per CPU ([`Counters`]), since the packet
/// path bumps them on every CPU that handles a flow's packets, with no
/// lock or cache line shared between CPUs; a read sums the CPUs' copies.
pub(crate) struct Stats {
    counters: Counters<{ Stat::COUNT }>,
    /// Connections on the service workers' waiting lists now, and the
    /// bytes they hold (their request buffers): gauges changed by threads
    /// only, so shared atomics.
    waiting: AtomicU32,
    waiting_bytes: AtomicUsize,
}

impl Stats {
    /// All at 0: `ENOMEM` if per-CPU memory runs out.
    fn new() -> Result<Self> {
        Ok(Self {
            counters: Counters::new()?,
            waiting: AtomicU32::new(0),
            waiting_bytes: AtomicUsize::new(0),
        })
    }

    /// Adds 1 to `s`. Any context.
    pub(crate) fn inc(&self, s: Stat) {
        self.counters.inc(s as usize);
    }

    /// Adds `n` to `s`. Any context.
    pub(crate) fn add(&self, s: Stat, n: u64) {
        self.counters.add(s as usize, n);
    }

    /// `n` more connections on the waiting lists, holding `bytes`.
    pub(crate) fn wait_more(&self, n: u32, bytes: usize) {
        self.waiting.fetch_add(n, Ordering::Relaxed);
        self.waiting_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// `n` fewer connections on the waiting lists, which held `bytes`.
    pub(crate) fn wait_less(&self, n: u32, bytes: usize) {
        self.waiting.fetch_sub(n, Ordering::Relaxed);
        self.waiting_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Connections on the waiting lists now.
    pub(crate) fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Bytes the connections on the waiting lists hold now.
    pub(crate) fn waiting_bytes(&self) -> usize {
        self.waiting_bytes.load(Ordering::Relaxed)
    }

    /// The value of `s`, summed over the CPUs.
    pub(crate) fn get(&self, s: Stat) -> u64 {
        self.counters.sum(s as usize)
    }
}

/// The flows of a namespace.
///
/// A front-end flow's handoff id carries the flow's hash in its low 32
/// bits (and a counter above them), so that a peer's answer or CONN_END,
/// which names the id, finds the flow in one bucket.
#[pin_data]
pub(crate) struct Conns {
    /// The IPv4 flows.
    #[pin]
    v4: Table<V4>,
    /// The IPv6 flows: a smaller bucket array, most services being IPv4.
    #[pin]
    v6: Table<V6>,
    seed: u32,
    /// Most flows (the `conn_max` parameter when the namespace came).
    max: usize,
    next_id: AtomicU64,
    /// Front-end flows per service and back-end, changed with the table
    /// (see [`Dest`]).
    #[pin]
    dests: Mutex<KVec<Dest>>,
    /// Set when the namespace goes away: no flow is added any more.
    closing: AtomicBool,
    /// The front-end's sockets' acknowledgements of requests are withheld
    /// (see [`Conns::withhold`]).
    withhold: AtomicBool,
    /// Where the packets of connections this node has no state for go.
    #[pin]
    relay: Relay,
    /// Counters.
    stats: Stats,
}

impl Conns {
    /// Client packets held for frozen flows of family `F`.
    pub(crate) fn held<F: Fam>(&self) -> &Hold<F> {
        &F::table(self).hold
    }

    /// How many client packets the holding areas of both families hold,
    /// and how many of them await a copy ([`Why::AwaitingCopy`]).
    pub(crate) fn held_now(&self) -> (usize, usize) {
        let (n4, a4) = self.v4.hold.occupancy();
        let (n6, a6) = self.v6.hold.occupancy();
        (n4 + n6, a4 + a6)
    }

    /// Frees the held packets older than any handoff lasts, and with `all`
    /// every one (the namespace goes away). Process context.
    pub(crate) fn expire_held(&self, now_ms: u64, all: bool) {
        self.v4.hold.expire(now_ms, all);
        self.v6.hold.expire(now_ms, all);
    }

    /// The copies of other front-ends' flows of family `F`.
    pub(crate) fn common<F: Fam>(&self) -> &Common<F> {
        &F::table(self).common
    }

    /// The copies of other front-ends' flows held, the bytes they take
    /// ([`Common::memory`]) and how many are of handoffs under way, both
    /// families.
    pub(crate) fn common_size(&self) -> (usize, u64, usize) {
        let (c4, c6) = (&self.v4.common, &self.v6.common);
        (
            c4.len() + c6.len(),
            c4.memory() + c6.memory(),
            c4.pending() + c6.pending(),
        )
    }

    /// Where the packets of connections this node has no state for go.
    pub(crate) fn relay(&self) -> &Relay {
        &self.relay
    }

    /// The counters of `batonctl stats`.
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// An empty table of `2^bits` buckets and at most `max` flows, whose
    /// hash is seeded with `seed` and whose handoff ids count from
    /// `first_id`.
    pub(crate) fn new(
        seed: u32,
        first_id: u64,
        bits: u32,
        max: usize,
    ) -> impl PinInit<Self, Error> {
        let bits6 = bits.saturating_sub(2).max(8);
        try_pin_init!(Self {
            v4 <- Table::new(bits, seed, max),
            v6 <- Table::new(bits6, seed, max),
            seed,
            max,
            next_id: AtomicU64::new(first_id),
            dests <- new_mutex!(KVec::new(), "baton_dests"),
            closing: AtomicBool::new(false),
            withhold: AtomicBool::new(false),
            relay <- Relay::new(),
            stats: Stats::new()?,
        }? Error)
    }

    /// Whether the acknowledgements that this front-end's sockets send of
    /// requests not yet handed off are dropped (`on`: this node has
    /// backups, which get a copy of each handoff before the back-end
    /// hears of it): the back-end's stack acknowledges the request when
    /// it takes the connection, so that no acknowledged request exists on
    /// this node alone. Only packets with [`LISTENER_MARK`] and no flow,
    /// pure ACKs, are dropped; a request that comes in more than one
    /// flight has its acknowledgements released by its reader.
    pub(crate) fn withhold(&self, on: bool) {
        self.withhold.store(on, Ordering::Relaxed);
    }

    /// See [`Conns::withhold`].
    pub(crate) fn withholding(&self) -> bool {
        self.withhold.load(Ordering::Relaxed)
    }

    /// A new handoff id for a front-end flow of key `key`: a counter in
    /// the high 32 bits, the key's hash in the low ones.
    pub(crate) fn next_id<F: Fam>(&self, key: &Key<F>) -> u64 {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        (n << 32) | u64::from(self.hash(key))
    }

    /// Number of buckets of the IPv4 table.
    pub(crate) fn buckets(&self) -> usize {
        self.v4.flows.buckets()
    }

    /// Number of buckets of family `F`'s table.
    pub(crate) fn buckets_of<F: Fam>(&self) -> usize {
        F::table(self).flows.buckets()
    }

    /// Most flows the table keeps.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// The number of flows and the bytes of memory the tables and the
    /// waiting requests take, from one reading of each table's count, so
    /// that a reply's count and memory agree: entries (as the kmalloc
    /// caches that hold them), buckets, and what the waiting requests hold
    /// ([`Stats::waiting_bytes`]).
    pub(crate) fn usage(&self) -> (usize, u64) {
        fn of<F: Fam>(t: &Table<F>) -> (usize, usize) {
            let len = t.len.load(Ordering::Relaxed);
            let entry = mem::kmalloc_size(RcuHash::<FlowCell<F>>::NODE_SIZE);
            let buckets = t.flows.buckets() * RcuHash::<FlowCell<F>>::BUCKET_SIZE;
            (len, len * entry + buckets)
        }
        let ((n4, m4), (n6, m6)) = (of(&self.v4), of(&self.v6));
        (n4 + n6, (m4 + m6 + self.stats.waiting_bytes()) as u64)
    }

    /// Number of flows.
    pub(crate) fn len(&self) -> usize {
        self.v4.len.load(Ordering::Relaxed) + self.v6.len.load(Ordering::Relaxed)
    }

    /// Number of flows of family `F`.
    pub(crate) fn len_of<F: Fam>(&self) -> usize {
        F::table(self).len.load(Ordering::Relaxed)
    }

    fn hash<F: Family>(&self, key: &Key<F>) -> u32 {
        key.hash(self.seed)
    }

    /// From now on no flow is added (the namespace goes away).
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    /// Adds `flow`: `EEXIST` if its key is taken, `ENOSPC` when full,
    /// `EBUSY` once [`Conns::close`]d. Process context.
    pub(crate) fn insert<F: Fam>(&self, flow: Flow<F>) -> Result {
        if self.closing.load(Ordering::SeqCst) {
            return Err(EBUSY);
        }
        let t = F::table(self);
        let key = flow.key();
        // Counted first, so that a removal, which uncounts, never meets a
        // flow not counted yet.
        let mut dests = self.dests.lock();
        let (vip, backend) = (ip(flow.vip), ip(flow.backend));
        if flow.role == Role::Front {
            count(&mut dests, vip, backend, 1)?;
        }
        if let Err(e) = t
            .flows
            .insert(self.hash(&key), FlowCell::new(flow), self.max)
        {
            if flow.role == Role::Front {
                let _ = count(&mut dests, vip, backend, -1);
            }
            return Err(e);
        }
        t.len.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Gives the front-end flow of `key` another back-end and peer.
    pub(crate) fn retarget<F: Fam>(&self, key: &Key<F>, backend: Endpoint<F>, peer: u32) {
        let mut dests = self.dests.lock();
        let old = self.with(key, |f| {
            let old = (f.vip, f.backend);
            f.backend = backend;
            f.peer = peer;
            old
        });
        if let Some((vip, was)) = old {
            let _ = count(&mut dests, ip(vip), ip(was), -1);
            // Out of memory for a new destination, the flow goes uncounted
            // (`lc` and `max-conns` see one flow fewer until it ends).
            let _ = count(&mut dests, ip(vip), ip(backend), 1);
        }
    }

    /// Marks the front-end flows of service `vip` to `backend` as draining
    /// (`on`) or not: a draining flow moves to another back-end at its next
    /// request boundary ([`Flow::draining`]).
    pub(crate) fn mark_draining(&self, vip: Endpoint<Ip>, backend: Endpoint<Ip>, on: bool) {
        fn mark<F: Fam>(t: &Table<F>, vip: Endpoint<Ip>, backend: Endpoint<Ip>, on: bool) {
            t.flows.for_each(|c| {
                let mut f = c.flow.lock();
                if f.role == Role::Front && ip(f.vip) == vip && ip(f.backend) == backend {
                    f.draining = on;
                }
            });
        }
        mark(&self.v4, vip, backend, on);
        mark(&self.v6, vip, backend, on);
    }

    /// Runs `f` on the flow of `key` (under its lock: `f` must not sleep).
    pub(crate) fn with<F: Fam, R>(
        &self,
        key: &Key<F>,
        f: impl FnOnce(&mut Flow<F>) -> R,
    ) -> Option<R> {
        F::table(self)
            .flows
            .lookup(self.hash(key), key, |c| f(&mut c.flow.lock()))
    }

    fn remove_where<F: Fam>(
        &self,
        buckets: core::ops::Range<usize>,
        pick: impl FnMut(&FlowCell<F>) -> bool,
        limit: usize,
        mut out: impl FnMut(&FlowCell<F>),
    ) -> Removal {
        let t = F::table(self);
        let r = t.flows.remove_where(buckets, pick, limit, |c| {
            let f = c.get();
            if f.role == Role::Front {
                let _ = count(&mut self.dests.lock(), ip(f.vip), ip(f.backend), -1);
            }
            out(c)
        });
        t.len.fetch_sub(r.removed, Ordering::Relaxed);
        r
    }

    /// The bucket range of `hash` alone in family `F`'s table.
    fn bucket_of<F: Fam>(&self, hash: u32) -> core::ops::Range<usize> {
        let b = F::table(self).flows.bucket(hash);
        b..b + 1
    }

    /// Removes the flow of `key`. Process context.
    pub(crate) fn remove<F: Fam>(&self, key: &Key<F>) -> Option<Flow<F>> {
        let mut out = None;
        let buckets = self.bucket_of::<F>(self.hash(key));
        self.remove_where(buckets, |c| c.key == *key, 1, |c| out = Some(c.get()));
        out
    }

    /// Removes the flow of `key` if `stale` says it is over (a new
    /// connection of the same tuple takes its place). Process context.
    pub(crate) fn remove_stale<F: Fam>(
        &self,
        key: &Key<F>,
        stale: impl Fn(&Flow<F>) -> bool,
    ) -> Option<Flow<F>> {
        let mut out = None;
        let buckets = self.bucket_of::<F>(self.hash(key));
        self.remove_where(
            buckets,
            |c| c.key == *key && stale(&c.flow.lock()),
            1,
            |c| out = Some(c.get()),
        );
        out
    }

    /// Runs `f` on the front-end flow with handoff id `id` and peer `peer`
    /// (under its lock: `f` must not sleep). One bucket: the id carries the
    /// hash.
    pub(crate) fn with_front_id<F: Fam, R>(
        &self,
        id: u64,
        peer: u32,
        f: impl FnOnce(&mut Flow<F>) -> R,
    ) -> Option<R> {
        F::table(self).flows.lookup_where(
            id as u32,
            |c| {
                let f = c.flow.lock();
                f.role == Role::Front && f.id == id && f.peer == peer
            },
            |c| f(&mut c.flow.lock()),
        )
    }

    /// Whether a front-end flow with handoff id `id` is frozen (its
    /// handoff under way).
    pub(crate) fn front_frozen(&self, id: u64) -> bool {
        fn frozen<F: Fam>(t: &Table<F>, id: u64) -> bool {
            t.flows
                .lookup_where(
                    id as u32,
                    |c| {
                        let f = c.flow.lock();
                        f.role == Role::Front && f.id == id && f.phase == Phase::Frozen
                    },
                    |_| (),
                )
                .is_some()
        }
        frozen(&self.v4, id) || frozen(&self.v6, id)
    }

    /// Removes the front-end flow with handoff id `id` whose peer is
    /// `peer`. Process context.
    pub(crate) fn remove_front_id<F: Fam>(&self, id: u64, peer: u32) -> Option<Flow<F>> {
        let mut out = None;
        self.remove_where(
            self.bucket_of::<F>(id as u32),
            |c| {
                let f = c.flow.lock();
                f.role == Role::Front && f.id == id && f.peer == peer
            },
            1,
            |c| out = Some(c.get()),
        );
        out
    }

    /// Removes the flows that `expired` picks, as many as fit `out`'s
    /// capacity, into `out` with the reason. Process context.
    pub(crate) fn drain<F: Fam>(
        &self,
        out: &mut KVec<(Flow<F>, u8)>,
        expired: impl Fn(&Flow<F>) -> Option<u8>,
    ) {
        let _ = self.drain_in(0..usize::MAX, out, expired);
    }

    /// [`Conns::drain`] for the next part of the table: a call walks up to
    /// `1 / parts` of the buckets, so that `parts` calls go over all of
    /// them. A call that fills `out` stops there, and the next one goes on
    /// from that bucket.
    pub(crate) fn gc_sweep<F: Fam>(
        &self,
        parts: usize,
        out: &mut KVec<(Flow<F>, u8)>,
        expired: impl Fn(&Flow<F>) -> Option<u8>,
    ) {
        let t = F::table(self);
        let n = t.flows.buckets().max(1);
        let step = n.div_ceil(parts.max(1));
        let from = t.sweep.load(Ordering::Relaxed) % n;
        let to = (from + step).min(n);
        let next = self.drain_in(from..to, out, expired);
        // Only the garbage collector sweeps: a plain store is enough.
        t.sweep.store(next % n, Ordering::Relaxed);
    }

    /// [`Conns::drain`] over the buckets of `buckets`; returns the first
    /// bucket it did not finish.
    fn drain_in<F: Fam>(
        &self,
        buckets: core::ops::Range<usize>,
        out: &mut KVec<(Flow<F>, u8)>,
        expired: impl Fn(&Flow<F>) -> Option<u8>,
    ) -> usize {
        let room = out.capacity().saturating_sub(out.len());
        self.remove_where(
            buckets,
            |c| expired(&c.flow.lock()).is_some(),
            room,
            |c| {
                let f = c.get();
                let why = expired(&f).unwrap_or(crate::proto::ctrl::reason::OTHER);
                // Capacity reserved: cannot fail.
                let _ = out.push((f, why), GFP_KERNEL);
            },
        )
        .next
    }

    /// Copies of the flows that `pick` selects, as many as fit `out`'s
    /// capacity.
    pub(crate) fn snapshot_where<F: Fam>(
        &self,
        out: &mut KVec<Flow<F>>,
        pick: impl Fn(&Flow<F>) -> bool,
    ) {
        F::table(self).flows.for_each(|c| {
            let f = c.get();
            if out.len() < out.capacity() && pick(&f) {
                // Capacity checked: no allocation.
                let _ = out.push(f, GFP_ATOMIC);
            }
        });
    }

    /// Adds the flows of bucket `b` of family `F`'s table that `pick`
    /// selects to `out`, as many as fit its capacity.
    pub(crate) fn snapshot_bucket<F: Fam>(
        &self,
        b: usize,
        out: &mut KVec<Flow<F>>,
        pick: impl Fn(&Flow<F>) -> bool,
    ) {
        F::table(self).flows.walk_bucket(b, |c| {
            let f = c.get();
            if out.len() < out.capacity() && pick(&f) {
                // Capacity checked: no allocation.
                let _ = out.push(f, GFP_ATOMIC);
            }
            true
        });
    }

    /// The front-end flows of service `vip`.
    pub(crate) fn front_of(&self, vip: impl Into<Endpoint<Ip>>) -> u32 {
        let vip = vip.into();
        self.dests
            .lock()
            .iter()
            .filter(|d| d.vip == vip)
            .fold(0u32, |n, d| n.saturating_add(d.flows))
    }

    /// All front-end flows: the connections this node forwards.
    pub(crate) fn fronts(&self) -> u32 {
        self.dests
            .lock()
            .iter()
            .fold(0u32, |n, d| n.saturating_add(d.flows))
    }

    /// The front-end flows to `backend` of service `vip`.
    pub(crate) fn active(
        &self,
        vip: impl Into<Endpoint<Ip>>,
        backend: impl Into<Endpoint<Ip>>,
    ) -> u32 {
        let (vip, backend) = (vip.into(), backend.into());
        self.dests
            .lock()
            .iter()
            .find(|d| d.vip == vip && d.backend == backend)
            .map_or(0, |d| d.flows)
    }

    /// Whether no IPv4 packet can concern this node: no flow, no copy, no
    /// acknowledgement withheld, nowhere to pass packets to.
    fn idle_v4(&self) -> bool {
        self.v4.len.load(Ordering::Relaxed) == 0
            && self.v4.common.len() == 0
            && !self.withholding()
            && !self.relay.active()
    }

    /// Runs the flow of the packet in `skb`, of family `F` (if any), on it.
    /// The flow is found from the addresses and ports alone; only a flow's
    /// packets are parsed whole, once, and made writable. A client segment
    /// at a request boundary is shown to `decide`, under the flow's lock:
    /// `None`, it is forwarded at once; `Some(t)`, it is left to the
    /// caller with `t` (`Err`).
    fn on_packet<F: Fam, T>(
        &self,
        net: &Net,
        skb: &mut SkBuff,
        now_ms: u64,
        outbound: bool,
        decide: impl FnOnce(&SkBuff, &Boundary<F>) -> Option<T>,
    ) -> core::result::Result<Verdict, (Boundary<F>, T)> {
        if F::idle(self) {
            return Ok(Verdict::Accept);
        }
        let ports = skb
            .tcp_ports()
            .map(|(b, len)| (packet::addresses_in::<F>(b), len));
        let (a, headers) = match ports {
            Some((Some(a), len)) => (a, len),
            // TCP by the kernel's walk of its headers, not by the parser's
            // (an IPv6 chain of more extension headers than it takes):
            // passed untouched, counted.
            Some((None, _)) => {
                self.stats.inc(Stat::Malformed);
                return Ok(Verdict::Accept);
            }
            None => {
                if !outbound {
                    if let Some(verdict) = self.icmp_error::<F>(net, skb) {
                        return Ok(verdict);
                    }
                }
                return Ok(Verdict::Accept);
            }
        };
        let key = if outbound {
            Key::outbound_addresses(&a)
        } else {
            Key::inbound_addresses(&a)
        };
        let t = F::table(self);
        let done = t.flows.lookup(self.hash(&key), &key, |cell| {
            let mut flow = cell.flow.lock();
            let Some(mut pkt) = parse_at::<F>(skb, headers) else {
                return Err(None);
            };
            // The server's own numbers, before a rewrite (only these: the
            // header is some hundred bytes).
            let sent = (pkt.header().seq, pkt.header().payload_len);
            let verdict = if outbound {
                flow.on_server_packet(&mut pkt, now_ms)
            } else {
                match flow.on_client_packet(&mut pkt, now_ms) {
                    FlowVerdict::Boundary => {
                        let b = Boundary::of(&flow, pkt.header());
                        // The request is read from the packet, whose
                        // headers are parsed again after (not rewritten
                        // yet): the decision and the forwarding take one
                        // lookup and one lock, the common case of a
                        // kept-alive connection whose request stays.
                        if let Some(t) = decide(skb, &b) {
                            return Err(Some((b, t)));
                        }
                        let Some(again) = parse_at::<F>(skb, headers) else {
                            return Err(None);
                        };
                        pkt = again;
                        flow.forward(&mut pkt, now_ms)
                    }
                    v => v,
                }
            };
            if verdict == FlowVerdict::Hold {
                // Held under the flow's lock: the release that follows
                // its switch to forwarding finds it.
                self.hold(skb, &key, now_ms, Why::Handoff);
                return Ok((verdict, None));
            }
            // A front-end flow whose back-end is this node: the rewritten
            // packet goes to the local server without passing this hook
            // again, so its back-end flow sees it below.
            let local =
                (!outbound && flow.role == Role::Front && verdict == FlowVerdict::Rewritten)
                    .then(|| Key::inbound(pkt.header()));
            if outbound && flow.role == Role::Back && sent.1 > 0 {
                let end = sent.0.wrapping_add(sent.1 as u32);
                if let Some(read) = socket::read_position(skb, end) {
                    flow.answered_having_read(read);
                }
            }
            Ok((verdict, local))
        });
        let (verdict, local) = match done {
            None if outbound => return Ok(F::unflowed_out(self, skb)),
            None => return Ok(F::unflowed_in(self, net, skb, &key, now_ms)),
            Some(Ok(v)) => v,
            Some(Err(None)) => return Ok(self.unparsed(outbound)),
            Some(Err(Some(b))) => return Err(b),
        };
        if let Some(local) = local {
            t.flows.lookup(self.hash(&local), &local, |cell| {
                let mut back = cell.flow.lock();
                if back.role == Role::Back {
                    if let Some((buf, csum)) = headers.and_then(|len| skb.tcp_headers_at(len)) {
                        if let Ok(mut pkt) = TcpPacket::<F>::parse_in(buf, mode(csum)) {
                            back.on_client_packet(&mut pkt, now_ms);
                        }
                    }
                }
            });
        }
        Ok(match verdict {
            FlowVerdict::Pass => Verdict::Accept,
            FlowVerdict::Rewritten => {
                skb.headers_changed();
                let c = if outbound {
                    Stat::Returned
                } else {
                    Stat::Forwarded
                };
                self.stats.inc(c);
                Verdict::Accept
            }
            FlowVerdict::Drop => {
                self.stats.inc(Stat::Dropped);
                Verdict::Drop
            }
            // The original goes; its copy is received again once the flow
            // forwards.
            FlowVerdict::Hold => Verdict::Drop,
            // Decided above.
            FlowVerdict::Boundary => Verdict::Accept,
        })
    }

    /// A packet to a client that no flow of this node takes: a pure ACK of
    /// a front-end's own socket whose request is not handed off yet is
    /// dropped while this node withholds them ([`Conns::withhold`]); the
    /// rest passes.
    fn unflowed_out(&self, skb: &mut SkBuff) -> Verdict {
        if !self.withholding() || skb.mark() != LISTENER_MARK {
            return Verdict::Accept;
        }
        if !skb.tcp_headers().is_some_and(packet::is_pure_ack) {
            return Verdict::Accept;
        }
        self.stats.inc(Stat::AcksWithheld);
        Verdict::Drop
    }

    /// A client packet that no flow of this node takes, of a connection
    /// another front-end forwards: with its copy in the common table, it
    /// goes to the back-end rewritten with the copy's translation (on a
    /// copy of the copy: counters and times are the owner's). Else it
    /// may be another member's ([`Conns::relay_packet`]).
    fn common_packet<F: Fam>(
        &self,
        net: &Net,
        skb: &mut SkBuff,
        key: &Key<F>,
        now_ms: u64,
    ) -> Verdict {
        let common = &F::table(self).common;
        let done = common.with(key, |r| {
            let mut flow = r.flow;
            let (buf, csum) = skb.tcp_headers_mut()?;
            let mut pkt = TcpPacket::<F>::parse_in(buf, mode(csum)).ok()?;
            let verdict = flow.on_client_packet(&mut pkt, now_ms);
            // The upstream sends the connection here now: this node takes
            // it over (crate::replica::take_over_used).
            if verdict == FlowVerdict::Rewritten {
                common.mark_used(r);
            }
            Some(verdict)
        });
        match done {
            None => self.relay_packet(net, skb, key, now_ms),
            Some(None) => self.unparsed(false),
            // A copy of a handoff under way: held for the flow this node
            // makes of it should the owner fail, or sent on once the
            // owner's copy of the forwarding flow replaces it.
            Some(Some(FlowVerdict::Hold)) => {
                self.hold(skb, key, now_ms, Why::Handoff);
                Verdict::Drop
            }
            Some(Some(FlowVerdict::Rewritten)) => {
                skb.headers_changed();
                self.stats.inc(Stat::Forwarded);
                self.stats.inc(Stat::ForwardedCommon);
                Verdict::Accept
            }
            Some(Some(FlowVerdict::Drop)) => {
                self.stats.inc(Stat::Dropped);
                Verdict::Drop
            }
            Some(Some(_)) => Verdict::Accept,
        }
    }

    /// An ICMP packet arriving (pre-routing): an error about a segment that
    /// a forwarding front flow's back-end sent with the VIP as source goes
    /// on to that back-end (from this node's flow, or from the copy it
    /// keeps of another member's), rewritten into its view
    /// ([`Flow::on_icmp_error`]); the kernel then routes it there (or
    /// delivers it, for a local back-end). Every other ICMP packet passes
    /// untouched: no flow's (the back-end's own hooks see the rewritten
    /// error as their back flow's and let it be), not an error, or not
    /// about TCP. One that is truncated or malformed is never read past
    /// its end and passes too, for the stack to drop, counted. `None`: not
    /// ICMP.
    fn icmp_error<F: Fam>(&self, net: &Net, skb: &mut SkBuff) -> Option<Verdict> {
        let err = match icmp::parse_in::<F>(skb.icmp_headers(F::HEADERS_MAX)?) {
            Ok(err) => err,
            Err(e) => {
                if e.malformed() {
                    self.stats.inc(Stat::IcmpMalformed);
                }
                return Some(Verdict::Accept);
            }
        };
        let key = err.key();
        let done = match F::table(self).flows.lookup(self.hash(&key), &key, |cell| {
            rewrite_icmp(skb, &cell.flow.lock())
        }) {
            None => F::icmp_copy(self, skb, &key),
            found => found,
        };
        if done == Some(Some(FlowVerdict::Rewritten)) {
            skb.headers_changed();
            self.stats.inc(Stat::IcmpForwarded);
        }
        if done.is_none() {
            return Some(self.icmp_relay(net, skb, &key));
        }
        Some(Verdict::Accept)
    }

    /// An ICMP error about connection `key`, of no flow of this node: with
    /// a copy of another member's flow, rewritten from it (a router may
    /// send it to any front-end with the VIP).
    fn icmp_copy<F: Fam>(&self, skb: &mut SkBuff, key: &Key<F>) -> Option<Option<FlowVerdict>> {
        F::table(self)
            .common
            .with(key, |r| rewrite_icmp(skb, &r.flow))
    }

    /// An ICMP error about connection `key`, of neither a flow nor a copy
    /// here: the member that holds the connection gets it, as its client's
    /// packets do.
    fn icmp_relay<F: Fam>(&self, net: &Net, skb: &mut SkBuff, key: &Key<F>) -> Verdict {
        if !self.relay.active() {
            return Verdict::Accept;
        }
        match self.relay_target(net, skb, key) {
            Some(Target::Member(_, to)) => self.pass_on::<F>(net, skb, to, |skb| {
                skb.icmp_headers_mut(F::HEADERS_MAX).map(|(b, _)| b)
            }),
            Some(Target::Hold) => Verdict::Drop,
            Some(Target::First) | None => Verdict::Accept,
        }
    }

    /// A client packet of no flow and no copy here. With a front-end
    /// group, one of a service's connection (the service's listener would
    /// take it) for which this node has no socket either is another
    /// member's: the upstream moved the connection here. It goes to the
    /// member that holds it ([`Relay`]) instead of this node's stack,
    /// which would reset the connection, or waits here for the copy when
    /// that member is this node ([`Conns::await_copy`]). A SYN starts a
    /// connection here; everything else passes untouched.
    fn relay_packet<F: Fam>(
        &self,
        net: &Net,
        skb: &mut SkBuff,
        key: &Key<F>,
        now_ms: u64,
    ) -> Verdict {
        if !self.relay.active() {
            return Verdict::Accept;
        }
        let Some(h) = skb
            .tcp_headers()
            .and_then(|b| packet::parse_in::<F>(b).ok())
        else {
            return Verdict::Accept;
        };
        if h.has_flags(flags::SYN) {
            return Verdict::Accept;
        }
        match self.relay_target(net, skb, key) {
            Some(Target::Member(id, to)) => {
                self.keep_if_suspect(skb, key, id, now_ms);
                self.pass_on::<F>(net, skb, to, |skb| skb.tcp_headers_mut().map(|(b, _)| b))
            }
            Some(Target::Hold) => Verdict::Drop,
            Some(Target::First) => self.await_copy(skb, key, now_ms),
            None => Verdict::Accept,
        }
    }

    /// Keeps a copy of a packet about to be passed to member `id` if that
    /// member is suspect ([`cluster::SUSPECT_MS`]): should it prove silent,
    /// the copy goes to the next of the ranking ([`Conns::relay_again`]),
    /// so that a failed member does not swallow its connections' packets
    /// (a client's ACKs above all) until its silence shows. Taken before
    /// the packet's TTL is lowered; not kept beyond the share.
    fn keep_if_suspect<F: Fam>(&self, skb: &mut SkBuff, key: &Key<F>, id: u32, now_ms: u64) {
        if self
            .relay
            .heard_at(id)
            .is_some_and(|h| cluster::suspect(h, now_ms))
        {
            F::table(self)
                .hold
                .keep(*key, now_ms, Why::Relayed(id), || skb.hold_copy());
        }
    }

    /// Passes again the packets kept as passed to a suspect member that
    /// proved silent or left the view, and frees those of a member heard
    /// from since ([`cluster::relayed_fate`]); counted (`relayed-again`).
    /// Process context.
    pub(crate) fn relay_again(&self, now_ms: u64) {
        // No view now (none, or one being published): nothing can be
        // decided, and a packet received again would meet no member.
        if !self.relay.active() {
            return;
        }
        let fate = |id, at| cluster::relayed_fate(self.relay.heard_at(id), at, now_ms);
        let n = self.v4.hold.again(fate) + self.v6.hold.again(fate);
        self.stats.add(Stat::RelayedAgain, n as u64);
    }

    /// A client packet of a connection this node ranks first for and has
    /// nothing of: with copies, its owner may still be handing it off, the
    /// copy on its way here, its request not acknowledged (the upstream
    /// moved a retransmission). Held for the copy, as the packets of a
    /// copy that came are ([`Hold::release`] when it forwards); once the
    /// connection's first held packet has waited `COPY_WAIT_MS`
    /// ([`crate::proto::cluster::awaits_copy`]), no member is handing it
    /// off, and its packets go to this node's stack (a reset) as before.
    /// Such packets have a share of the holding area of their own
    /// (`AWAITING_MAX`): beyond it they are dropped.
    fn await_copy<F: Fam>(&self, skb: &mut SkBuff, key: &Key<F>, now_ms: u64) -> Verdict {
        if !self.withholding() || self.hold(skb, key, now_ms, Why::AwaitingCopy) == Kept::Over {
            return Verdict::Accept;
        }
        Verdict::Drop
    }

    /// Holds a copy of the packet in `skb` for the connection of `key`,
    /// counted (`held`; or, beyond the holding area's bounds or without
    /// memory, `held-dropped` and `dropped`: the client sends it again);
    /// unless the wait is over ([`Kept::Over`]), the caller drops the
    /// original.
    fn hold<F: Fam>(&self, skb: &mut SkBuff, key: &Key<F>, now_ms: u64, why: Why) -> Kept {
        let kept = F::table(self)
            .hold
            .keep(*key, now_ms, why, || skb.hold_copy());
        match kept {
            Kept::Yes => self.stats.inc(Stat::Held),
            Kept::Full => {
                self.stats.inc(Stat::HeldDropped);
                self.stats.inc(Stat::Dropped);
            }
            Kept::Over => {}
        }
        kept
    }

    /// Where a packet of the connection `key` goes if this node has no
    /// state for it: the member ranked first for it (the next, or nowhere,
    /// when that one is silent: counted), if that is not this node and
    /// the packet is of a service's connection that no socket here takes.
    fn relay_target<F: Fam>(&self, net: &Net, skb: &SkBuff, key: &Key<F>) -> Option<Target> {
        // The lookup first: most packets that get here are of this node's
        // own sockets (its control channel's among them).
        if socket::demux(net, skb, ip(key.local), ip(key.client), LISTENER_MARK) != Demux::Marked {
            return None;
        }
        let (to, skipped) = self.relay.target(&FlowId {
            client: key.client,
            vip: key.local,
        })?;
        if skipped {
            self.stats.inc(Stat::RelaySkipped);
        }
        Some(to)
    }

    /// Sends `skb` on to the member at `to`, on a directly connected link,
    /// its TTL (hop limit) lowered in the header `ip` gives (writable, from
    /// the IP header on). An IPv6 packet goes to the link-layer address of
    /// the member's IPv4 address on that link ([`Verdict::Relay`]). A
    /// packet that cannot go is dropped, not answered: the member may hold
    /// its connection.
    fn pass_on<F: Fam>(
        &self,
        net: &Net,
        skb: &mut SkBuff,
        to: [u8; 4],
        ip: impl FnOnce(&mut SkBuff) -> Option<&mut [u8]>,
    ) -> Verdict {
        let Some(route) = Route::direct(net, to) else {
            if kthread::net_ratelimit() {
                pr_warn!(
                    "member at {} is not a neighbour on a directly connected link: its connections' packets that reach this node are dropped\n",
                    Ip::V4(to)
                );
            }
            self.stats.inc(Stat::RelayFailed);
            return Verdict::Drop;
        };
        if F::RELAY_WHOLE && !skb.fits(&route) {
            self.stats.inc(Stat::RelayFailed);
            return Verdict::Drop;
        }
        if !ip(skb).is_some_and(<F as Family>::decrement_ttl) {
            self.stats.inc(Stat::RelayFailed);
            return Verdict::Drop;
        }
        self.stats.inc(Stat::Relayed);
        Verdict::Relay(route)
    }

    /// A packet of a flow that [`packet::parse`] refuses (a malformed TCP
    /// header or options, a first fragment), or whose head cannot be made
    /// writable (no memory to unshare it), is never rewritten. It passes
    /// untouched, unless it comes from the flow's client: this node has no
    /// socket for it (the front-end dropped its own), so its stack would
    /// answer with a reset that kills the client's connection. Dropped
    /// then, as the stack drops a malformed TCP header.
    fn unparsed(&self, outbound: bool) -> Verdict {
        if outbound {
            return Verdict::Accept;
        }
        self.stats.inc(Stat::Dropped);
        self.stats.inc(Stat::Malformed);
        Verdict::Drop
    }

    /// Pre-routing: packets of family `F` from clients. `Err`: a segment
    /// at a request boundary of a flow that dispatches each request, for
    /// which `decide` (called under the flow's lock: it must not sleep)
    /// chose a move, left to the caller ([`Conns::begin_move`], or
    /// [`Conns::forward_boundary`] if the move cannot begin).
    pub(crate) fn pre_routing<F: Fam, T>(
        &self,
        net: &Net,
        skb: &mut SkBuff,
        now_ms: u64,
        decide: impl FnOnce(&SkBuff, &Boundary<F>) -> Option<T>,
    ) -> core::result::Result<Verdict, (Boundary<F>, T)> {
        self.on_packet::<F, T>(net, skb, now_ms, false, decide)
    }

    /// Forwards a segment that [`Conns::pre_routing`] left at a request
    /// boundary, as any other of its flow (held if the flow froze
    /// meanwhile).
    pub(crate) fn forward_boundary<F: Fam>(
        &self,
        net: &Net,
        skb: &mut SkBuff,
        now_ms: u64,
    ) -> Verdict {
        self.on_packet::<F, ()>(net, skb, now_ms, false, |_, _| None)
            .unwrap_or(Verdict::Accept)
    }

    /// Freezes the flow of `b` for a move of its connection and holds the
    /// segment that starts the request: whether it did (the flow still
    /// forwarded, the segment was still its next, and the holding area had
    /// room). Else nothing changed.
    pub(crate) fn begin_move<F: Fam>(
        &self,
        skb: &mut SkBuff,
        b: &Boundary<F>,
        now_ms: u64,
    ) -> bool {
        let t = F::table(self);
        let done = t.flows.lookup(self.hash(&b.key), &b.key, |cell| {
            let mut flow = cell.flow.lock();
            if !flow.begin_move(b.seq, now_ms) {
                return false;
            }
            // Held under the flow's lock, as a frozen flow's packets are.
            let kept = t.hold.keep(b.key, now_ms, Why::Handoff, || skb.hold_copy());
            if kept != Kept::Yes {
                flow.phase = Phase::Forwarding;
                return false;
            }
            self.stats.inc(Stat::Held);
            true
        });
        done == Some(true)
    }

    /// Post-routing: packets to clients. Only this node's own sockets send
    /// a flow's packets (a server's, a front-end's socket's): one that
    /// this node forwards, such as a client's packet rewritten to its
    /// back-end, is nobody's here and is not looked up.
    pub(crate) fn post_routing<F: Fam>(&self, net: &Net, skb: &mut SkBuff) -> Verdict {
        if F::idle(self) || skb.forwarded() {
            return Verdict::Accept;
        }
        self.on_packet::<F, ()>(net, skb, kthread::now_ms(), true, |_, _| None)
            .unwrap_or(Verdict::Accept)
    }
}

/// The writable headers of `skb`, of the length [`SkBuff::tcp_ports`]
/// found, parsed (inlined: see [`packet::parse_in`]).
#[inline(always)]
fn parse_at<F: Fam>(skb: &mut SkBuff, len: Option<TcpHeadersLen>) -> Option<TcpPacket<'_, F>> {
    let (buf, csum) = skb.tcp_headers_at(len?)?;
    TcpPacket::<F>::parse_in(buf, mode(csum)).ok()
}

/// A client segment at a request boundary ([`FlowVerdict::Boundary`]), what
/// the caller needs to decide on a move: the flow, and the segment's
/// fields.
#[derive(Clone, Copy)]
pub(crate) struct Boundary<F: Family> {
    /// The flow's key.
    pub(crate) key: Key<F>,
    /// The flow's service and back-end.
    pub(crate) vip: Endpoint<F>,
    pub(crate) backend: Endpoint<F>,
    /// The segment's sequence and acknowledgment numbers (the client's).
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    /// Its timestamps, if any.
    pub(crate) timestamps: Option<(u32, u32)>,
    /// Its window field.
    pub(crate) window: u16,
    /// Where its payload starts (from the IP header) and how long it is.
    pub(crate) payload_at: usize,
    pub(crate) payload_len: usize,
}

impl<F: Family> Boundary<F> {
    fn of(flow: &Flow<F>, h: &TcpHeader<F>) -> Self {
        Self {
            key: flow.key(),
            vip: flow.vip,
            backend: flow.backend,
            seq: h.seq,
            ack: h.ack,
            timestamps: h.options.timestamps,
            window: h.window,
            payload_at: h.ip_header_len + h.tcp_header_len,
            payload_len: h.payload_len,
        }
    }
}

/// What `conn-get`'s dump walks: copies of the flows, bucket by bucket.
/// A flow of either family, as a dump goes over both tables.
pub(crate) enum AnyFlow {
    /// IPv4.
    V4(Flow),
    /// IPv6.
    V6(Flow<V6>),
}

/// The IPv4 table's buckets, then the IPv6 table's.
impl dump::Table for Conns {
    type Item = AnyFlow;

    fn buckets(&self) -> usize {
        self.v4.flows.buckets() + self.v6.flows.buckets()
    }

    fn generation(&self) -> u32 {
        // Each change moves one of them by one: their sum moves with it.
        let g = self
            .v4
            .flows
            .generation()
            .wrapping_add(self.v6.flows.generation());
        g.max(1)
    }

    fn walk(&self, bucket: usize, f: &mut dyn FnMut(&AnyFlow) -> bool) {
        let n4 = self.v4.flows.buckets();
        if bucket < n4 {
            self.v4
                .flows
                .walk_bucket(bucket, |c| f(&AnyFlow::V4(c.get())));
        } else {
            self.v6
                .flows
                .walk_bucket(bucket - n4, |c| f(&AnyFlow::V6(c.get())));
        }
    }

    fn next_occupied(&self, bucket: usize) -> usize {
        let n4 = self.v4.flows.buckets();
        let n6 = self.v6.flows.buckets();
        if bucket < n4 {
            let b = self.v4.flows.next_occupied(bucket, n4);
            if b < n4 {
                return b;
            }
        }
        n4 + self.v6.flows.next_occupied(bucket.saturating_sub(n4), n6)
    }
}

/// Adds `delta` (1 or -1) to the flows of `vip` to `backend`; a count that
/// falls to 0 is dropped, so the list holds only destinations in use.
fn count(dests: &mut KVec<Dest>, vip: Endpoint<Ip>, backend: Endpoint<Ip>, delta: i32) -> Result {
    if let Some(i) = dests
        .iter()
        .position(|d| d.vip == vip && d.backend == backend)
    {
        let left = dests.get_mut(i).map(|d| {
            d.flows = d.flows.saturating_add_signed(delta);
            d.flows
        });
        if left == Some(0) {
            let _ = crate::sys::vec::swap_remove(dests, i);
        }
        return Ok(());
    }
    if delta > 0 {
        dests.push(
            Dest {
                vip,
                backend,
                flows: delta as u32,
            },
            GFP_KERNEL,
        )?;
    }
    Ok(())
}

fn mode(csum: Csum) -> CsumMode {
    match csum {
        Csum::Full => CsumMode::Full,
        Csum::Partial => CsumMode::Partial,
    }
}

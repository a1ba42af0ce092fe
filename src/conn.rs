// SPDX-License-Identifier: GPL-2.0

//! The connection table of a namespace and the packet path (the BTCP hooks
//! of the design, the role of IPVS's `ip_vs_conn.c` and `ip_vs_core.c`).
//!
//! Flows ([`crate::proto::flow`]) live in an RCU hash table
//! ([`crate::sys::rcuhash`]): the hooks look a packet's flow up without a
//! table-wide lock and take only that flow's lock; threads insert and
//! remove under the table's writer lock, and a removed flow is freed after
//! an RCU grace period. A packet that does not parse as IPv4 + TCP, or
//! belongs to no flow, passes untouched.

use crate::{
    handoff::Arrival,
    proto::{
        flow::{Flow, Key, Role, Verdict as FlowVerdict},
        mem,
        packet::{self, CsumMode, TcpPacket},
    },
    sys::{
        bhlock::{new_bh_spinlock, BhSpinLock},
        netfilter::{SkBuff, Verdict},
        rcuhash::{Keyed, RcuHash},
        skb::Csum,
    },
};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use kernel::prelude::*;

/// Hash buckets.
const BUCKETS: usize = 4096;
/// Most flows a namespace keeps.
pub(crate) const MAX_FLOWS: usize = 65536;

/// A flow in the table: its key (fixed) and its state, under a lock of its
/// own that the hooks take in softirq context and threads with bottom
/// halves disabled.
#[pin_data]
pub(crate) struct FlowCell {
    key: Key,
    #[pin]
    flow: BhSpinLock<Flow>,
}

impl FlowCell {
    fn new(flow: Flow) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            key: flow.key(),
            flow <- new_bh_spinlock!(flow, "baton_flow"),
        }? Error)
    }

    fn get(&self) -> Flow {
        *self.flow.lock()
    }
}

impl Keyed for FlowCell {
    type Key = Key;

    fn key(&self) -> &Key {
        &self.key
    }
}

/// Counters of `batonctl stats`.
#[derive(Default)]
pub(crate) struct Stats {
    /// Handoffs that completed (front-end side).
    pub(crate) handoffs_ok: AtomicU64,
    /// Handoffs a back-end refused (NACK).
    pub(crate) handoffs_refused: AtomicU64,
    /// Handoffs that failed otherwise (timeout, peer down, local error).
    pub(crate) handoffs_failed: AtomicU64,
    /// Connections taken as a back-end.
    pub(crate) taken: AtomicU64,
    /// Packets rewritten client -> back-end.
    pub(crate) forwarded: AtomicU64,
    /// Packets rewritten back-end -> client.
    pub(crate) returned: AtomicU64,
    /// Packets dropped by a flow (front-end socket, frozen, replay).
    pub(crate) dropped: AtomicU64,
    /// Connections handed off before their request was complete because
    /// their worker's waiting list was full.
    pub(crate) hurried: AtomicU64,
    /// Packets of flows' clients that do not parse, dropped.
    pub(crate) malformed: AtomicU64,
    /// Connections on the service workers' waiting lists now.
    pub(crate) waiting: AtomicU32,
}

/// The flows of a namespace.
#[pin_data]
pub(crate) struct Conns {
    table: RcuHash<FlowCell>,
    seed: u32,
    len: AtomicUsize,
    next_id: AtomicU64,
    /// Set when the namespace goes away: no flow is added any more.
    closing: AtomicBool,
    /// Counters.
    pub(crate) stats: Stats,
}

impl Conns {
    /// An empty table whose hash is seeded with `seed` and whose handoff
    /// ids start at `first_id`.
    pub(crate) fn new(seed: u32, first_id: u64) -> impl PinInit<Self, Error> {
        let table = RcuHash::new(BUCKETS);
        try_pin_init!(Self {
            table: table?,
            seed,
            len: AtomicUsize::new(0),
            next_id: AtomicU64::new(first_id),
            closing: AtomicBool::new(false),
            stats: Stats::default(),
        }? Error)
    }

    /// A new handoff id.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Number of flows.
    /// Bytes of memory the table and the waiting requests take: entries
    /// (as the kmalloc caches that hold them), buckets and request buffers.
    pub(crate) fn memory(&self) -> u64 {
        let entry = mem::kmalloc_size(RcuHash::<FlowCell>::NODE_SIZE);
        let waiting = self.stats.waiting.load(Ordering::Relaxed) as usize;
        (self.len() * entry
            + BUCKETS * RcuHash::<FlowCell>::BUCKET_SIZE
            + waiting * mem::kmalloc_size(Arrival::BYTES)) as u64
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn hash(&self, key: &Key) -> u32 {
        key.hash(self.seed)
    }

    /// From now on no flow is added (the namespace goes away).
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    /// Adds `flow`: `EEXIST` if its key is taken, `ENOSPC` when full,
    /// `EBUSY` once [`Conns::close`]d. Process context.
    pub(crate) fn insert(&self, flow: Flow) -> Result {
        if self.closing.load(Ordering::SeqCst) {
            return Err(EBUSY);
        }
        let key = flow.key();
        self.table
            .insert(self.hash(&key), FlowCell::new(flow), MAX_FLOWS)?;
        self.len.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Runs `f` on the flow of `key` (under its lock: `f` must not sleep).
    pub(crate) fn with<R>(&self, key: &Key, f: impl FnOnce(&mut Flow) -> R) -> Option<R> {
        self.table
            .lookup(self.hash(key), key, |c| f(&mut c.flow.lock()))
    }

    fn remove_where(
        &self,
        pick: impl FnMut(&FlowCell) -> bool,
        limit: usize,
        mut out: impl FnMut(&FlowCell),
    ) -> usize {
        let n = self.table.remove_where(pick, limit, |c| out(c));
        self.len.fetch_sub(n, Ordering::Relaxed);
        n
    }

    /// Removes the flow of `key`. Process context.
    pub(crate) fn remove(&self, key: &Key) -> Option<Flow> {
        let mut out = None;
        self.remove_where(|c| c.key == *key, 1, |c| out = Some(c.get()));
        out
    }

    /// Removes the flow of role `role` with handoff id `id` whose peer is
    /// `peer`. Process context.
    pub(crate) fn remove_id(&self, role: Role, id: u64, peer: u32) -> Option<Flow> {
        let mut out = None;
        self.remove_where(
            |c| {
                let f = c.flow.lock();
                f.role == role && f.id == id && f.peer == peer
            },
            1,
            |c| out = Some(c.get()),
        );
        out
    }

    /// Removes the flows that `expired` picks, as many as fit `out`'s
    /// capacity, into `out` with the reason. Process context.
    pub(crate) fn drain(&self, out: &mut KVec<(Flow, u8)>, expired: impl Fn(&Flow) -> Option<u8>) {
        let room = out.capacity().saturating_sub(out.len());
        self.remove_where(
            |c| expired(&c.flow.lock()).is_some(),
            room,
            |c| {
                let f = c.get();
                let why = expired(&f).unwrap_or(crate::proto::ctrl::reason::OTHER);
                // Capacity reserved: cannot fail.
                let _ = out.push((f, why), GFP_KERNEL);
            },
        );
    }

    /// Copies of the flows that `pick` selects, as many as fit `out`'s
    /// capacity.
    pub(crate) fn snapshot_where(&self, out: &mut KVec<Flow>, pick: impl Fn(&Flow) -> bool) {
        self.table.for_each(|c| {
            let f = c.get();
            if out.len() < out.capacity() && pick(&f) {
                // Capacity checked: no allocation.
                let _ = out.push(f, GFP_ATOMIC);
            }
        });
    }

    /// Counts the front-end flows of service `vip`.
    pub(crate) fn front_of(&self, vip: &crate::proto::ctrl::Endpoint) -> u32 {
        let mut n = 0;
        self.table.for_each(|c| {
            let f = c.flow.lock();
            if f.role == Role::Front && f.vip == *vip {
                n += 1;
            }
        });
        n
    }

    /// Counts the front-end flows to `backend` of service `vip`.
    pub(crate) fn active(
        &self,
        vip: &crate::proto::ctrl::Endpoint,
        backend: &crate::proto::ctrl::Endpoint,
    ) -> u32 {
        let mut n = 0;
        self.table.for_each(|c| {
            let f = c.flow.lock();
            if f.role == Role::Front && f.vip == *vip && f.backend == *backend {
                n += 1;
            }
        });
        n
    }

    /// Runs the flow of the packet in `skb` (if any) on it.
    fn on_packet(&self, skb: &mut SkBuff, now_ms: u64, outbound: bool) -> Verdict {
        if self.len() == 0 {
            return Verdict::Accept;
        }
        let Some(hdr) = skb.tcp_headers().and_then(|b| packet::parse(b).ok()) else {
            return self.unparsed(skb, outbound);
        };
        let key = if outbound {
            Key::outbound(&hdr)
        } else {
            Key::inbound(&hdr)
        };
        let done = self.table.lookup(self.hash(&key), &key, |cell| {
            let mut flow = cell.flow.lock();
            let (buf, csum) = skb.tcp_headers_mut()?;
            let mut pkt = TcpPacket::parse(buf, mode(csum)).ok()?;
            let verdict = if outbound {
                flow.on_server_packet(&mut pkt, now_ms)
            } else {
                flow.on_client_packet(&mut pkt, now_ms)
            };
            // A front-end flow whose back-end is this node: the rewritten
            // packet goes to the local server without passing this hook
            // again, so its back-end flow sees it below.
            let local =
                (!outbound && flow.role == Role::Front && verdict == FlowVerdict::Rewritten)
                    .then(|| Key::inbound(pkt.header()));
            Some((verdict, local))
        });
        let Some(Some((verdict, local))) = done else {
            return Verdict::Accept;
        };
        if let Some(local) = local {
            self.table.lookup(self.hash(&local), &local, |cell| {
                let mut back = cell.flow.lock();
                if back.role == Role::Back {
                    if let Some((buf, csum)) = skb.tcp_headers_mut() {
                        if let Ok(mut pkt) = TcpPacket::parse(buf, mode(csum)) {
                            back.on_client_packet(&mut pkt, now_ms);
                        }
                    }
                }
            });
        }
        match verdict {
            FlowVerdict::Pass => Verdict::Accept,
            FlowVerdict::Rewritten => {
                skb.headers_changed();
                let c = if outbound {
                    &self.stats.returned
                } else {
                    &self.stats.forwarded
                };
                c.fetch_add(1, Ordering::Relaxed);
                Verdict::Accept
            }
            FlowVerdict::Drop => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                Verdict::Drop
            }
        }
    }

    /// A packet that [`packet::parse`] refuses (a malformed TCP header or
    /// options, a first fragment) is never rewritten. It passes untouched,
    /// unless it comes from the client of a flow: this node has no socket
    /// for it (the front-end dropped its own), so its stack would answer
    /// with a reset that kills the client's connection. Dropped then, as the
    /// stack drops a malformed TCP header.
    fn unparsed(&self, skb: &mut SkBuff, outbound: bool) -> Verdict {
        if outbound {
            return Verdict::Accept;
        }
        let Some(a) = skb.tcp_ports().and_then(packet::addresses) else {
            return Verdict::Accept;
        };
        let key = Key::inbound_addresses(&a);
        if self.table.lookup(self.hash(&key), &key, |_| ()).is_none() {
            return Verdict::Accept;
        }
        self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        self.stats.malformed.fetch_add(1, Ordering::Relaxed);
        Verdict::Drop
    }

    /// Pre-routing: packets from clients.
    pub(crate) fn pre_routing(&self, skb: &mut SkBuff, now_ms: u64) -> Verdict {
        self.on_packet(skb, now_ms, false)
    }

    /// Post-routing: packets to clients.
    pub(crate) fn post_routing(&self, skb: &mut SkBuff, now_ms: u64) -> Verdict {
        self.on_packet(skb, now_ms, true)
    }
}

fn mode(csum: Csum) -> CsumMode {
    match csum {
        Csum::Full => CsumMode::Full,
        Csum::Partial => CsumMode::Partial,
    }
}

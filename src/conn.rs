// SPDX-License-Identifier: GPL-2.0

//! The connection table of a namespace and the packet path (the BTCP hooks
//! of the design, the role of IPVS's `ip_vs_conn.c` and `ip_vs_core.c`).
//!
//! Flows ([`crate::proto::flow`]) live in a hash table under one spinlock
//! that also disables bottom halves, since the hooks run in softirq
//! context and threads change flows too. A packet that does not parse as
//! IPv4 + TCP, or belongs to no flow, passes untouched.

use crate::{
    proto::{
        flow::{Flow, Key, Role, Verdict as FlowVerdict},
        packet::{self, CsumMode, TcpPacket},
    },
    sys::{
        bhlock::{new_bh_spinlock, BhSpinLock},
        netfilter::{SkBuff, Verdict},
        skb::Csum,
        vec,
    },
};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use kernel::prelude::*;

/// Hash buckets.
const BUCKETS: usize = 1024;
/// Most flows a namespace keeps.
pub(crate) const MAX_FLOWS: usize = 65536;

struct Table {
    buckets: KVec<KVec<Flow>>,
    seed: u32,
}

impl Table {
    fn bucket(&self, key: &Key) -> usize {
        key.hash(self.seed) as usize % BUCKETS
    }

    fn find_mut(&mut self, key: &Key) -> Option<&mut Flow> {
        let b = self.bucket(key);
        self.buckets
            .get_mut(b)?
            .iter_mut()
            .find(|f| f.key() == *key)
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
}

/// The flows of a namespace.
#[pin_data]
pub(crate) struct Conns {
    #[pin]
    table: BhSpinLock<Table>,
    len: AtomicUsize,
    next_id: AtomicU64,
    /// Counters.
    pub(crate) stats: Stats,
}

impl Conns {
    /// An empty table.
    pub(crate) fn new(seed: u32) -> impl PinInit<Self, Error> {
        let mut buckets = KVec::with_capacity(BUCKETS, GFP_KERNEL);
        if let Ok(b) = &mut buckets {
            for _ in 0..BUCKETS {
                // Capacity reserved above: cannot fail.
                let _ = b.push(KVec::new(), GFP_KERNEL);
            }
        }
        try_pin_init!(Self {
            table <- new_bh_spinlock!(Table { buckets: buckets?, seed }, "baton_conns"),
            len: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            stats: Stats::default(),
        }? Error)
    }

    /// A new handoff id.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Number of flows.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Adds `flow`: `EEXIST` if its key is taken, `ENOSPC` when full.
    pub(crate) fn insert(&self, flow: Flow) -> Result {
        let key = flow.key();
        let mut t = self.table.lock();
        if t.find_mut(&key).is_some() {
            return Err(EEXIST);
        }
        if self.len() >= MAX_FLOWS {
            return Err(ENOSPC);
        }
        let b = t.bucket(&key);
        t.buckets.get_mut(b).ok_or(EINVAL)?.push(flow, GFP_ATOMIC)?;
        self.len.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Runs `f` on the flow of `key`.
    pub(crate) fn with<R>(&self, key: &Key, f: impl FnOnce(&mut Flow) -> R) -> Option<R> {
        self.table.lock().find_mut(key).map(f)
    }

    /// Removes the flow of `key`.
    pub(crate) fn remove(&self, key: &Key) -> Option<Flow> {
        let mut t = self.table.lock();
        let b = t.bucket(key);
        let bucket = t.buckets.get_mut(b)?;
        let i = bucket.iter().position(|f| f.key() == *key)?;
        self.len.fetch_sub(1, Ordering::Relaxed);
        vec::swap_remove(bucket, i)
    }

    /// Removes the flow of role `role` with handoff id `id` whose peer is
    /// `peer`.
    pub(crate) fn remove_id(&self, role: Role, id: u64, peer: u32) -> Option<Flow> {
        let mut t = self.table.lock();
        for bucket in t.buckets.iter_mut() {
            if let Some(i) = bucket
                .iter()
                .position(|f| f.role == role && f.id == id && f.peer == peer)
            {
                self.len.fetch_sub(1, Ordering::Relaxed);
                return vec::swap_remove(bucket, i);
            }
        }
        None
    }

    /// Moves the flows that `expired` picks (or all, with `all`) into
    /// `out`, as many as fit its capacity.
    pub(crate) fn drain(&self, out: &mut KVec<(Flow, u8)>, expired: impl Fn(&Flow) -> Option<u8>) {
        let mut t = self.table.lock();
        for bucket in t.buckets.iter_mut() {
            let mut i = 0;
            while i < bucket.len() {
                if out.len() == out.capacity() {
                    return;
                }
                match expired(&bucket[i]) {
                    Some(reason) => {
                        let Some(f) = vec::swap_remove(bucket, i) else {
                            return;
                        };
                        self.len.fetch_sub(1, Ordering::Relaxed);
                        // Capacity checked above.
                        let _ = out.push((f, reason), GFP_ATOMIC);
                    }
                    None => i += 1,
                }
            }
        }
    }

    /// Copies of the flows that `pick` selects, as many as fit `out`'s
    /// capacity.
    pub(crate) fn snapshot_where(&self, out: &mut KVec<Flow>, pick: impl Fn(&Flow) -> bool) {
        let t = self.table.lock();
        for f in t.buckets.iter().flat_map(|b| b.iter()).filter(|f| pick(f)) {
            if out.len() == out.capacity() {
                return;
            }
            let _ = out.push(*f, GFP_ATOMIC);
        }
    }

    /// Counts the front-end flows to `backend` of service `vip`.
    pub(crate) fn active(
        &self,
        vip: &crate::proto::ctrl::Endpoint,
        backend: &crate::proto::ctrl::Endpoint,
    ) -> u32 {
        let t = self.table.lock();
        t.buckets
            .iter()
            .flat_map(|b| b.iter())
            .filter(|f| f.role == Role::Front && f.vip == *vip && f.backend == *backend)
            .count() as u32
    }

    fn on_packet(&self, skb: &mut SkBuff, now_ms: u64, outbound: bool) -> Verdict {
        if self.len() == 0 {
            return Verdict::Accept;
        }
        let Some(hdr) = skb.tcp_headers().and_then(|b| packet::parse(b).ok()) else {
            return Verdict::Accept;
        };
        let key = if outbound {
            Key::outbound(&hdr)
        } else {
            Key::inbound(&hdr)
        };
        let mut t = self.table.lock();
        let Some(flow) = t.find_mut(&key) else {
            return Verdict::Accept;
        };
        let Some((buf, csum)) = skb.tcp_headers_mut() else {
            return Verdict::Accept;
        };
        let mode = match csum {
            Csum::Full => CsumMode::Full,
            Csum::Partial => CsumMode::Partial,
        };
        let Ok(mut pkt) = TcpPacket::parse(buf, mode) else {
            return Verdict::Accept;
        };
        let verdict = if outbound {
            flow.on_server_packet(&mut pkt, now_ms)
        } else {
            flow.on_client_packet(&mut pkt, now_ms)
        };
        // A front-end flow whose back-end is this node: the rewritten
        // packet goes to the local server without passing this hook
        // again, so its back-end flow sees it now.
        if !outbound && flow.role == Role::Front && verdict == FlowVerdict::Rewritten {
            let local = Key::inbound(pkt.header());
            if let Some(back) = t.find_mut(&local).filter(|f| f.role == Role::Back) {
                back.on_client_packet(&mut pkt, now_ms);
            }
        }
        drop(t);
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

    /// Pre-routing: packets from clients.
    pub(crate) fn pre_routing(&self, skb: &mut SkBuff, now_ms: u64) -> Verdict {
        self.on_packet(skb, now_ms, false)
    }

    /// Post-routing: packets to clients.
    pub(crate) fn post_routing(&self, skb: &mut SkBuff, now_ms: u64) -> Verdict {
        self.on_packet(skb, now_ms, true)
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The garbage collector of a namespace: a thread that removes the flows
//! that closed, idled out or lost their server, tells their front-ends,
//! and frees held packets no handoff will take.

use crate::{
    conn::{ip, Fam},
    node::Node,
    proto::{
        config::MAX_PEERS,
        ctrl::reason,
        flow::{Flow, Phase, Role},
        packet::{V4, V6},
    },
    replica,
    sys::{
        kthread::{self, Stop},
        netns::Net,
        socket, vec,
    },
    teardown,
};
use kernel::prelude::*;

/// Most flows one garbage-collection pass removes.
const GC_BATCH: usize = 256;

/// A garbage-collection pass (every 250 ms) walks this part of a table of
/// more than [`GC_SMALL`] flows: the whole table once a second, a bounded
/// time with the writer lock. A smaller table is walked whole every pass.
const GC_PARTS: usize = 4;

/// See [`GC_PARTS`].
const GC_SMALL: usize = 4096;

/// Most buckets a pass walks: a large table (`conn_tab_bits` 17: 131072
/// buckets) is walked in parts whatever it holds (every 2 s in all).
const GC_PASS_BUCKETS: usize = 16384;

/// Passes between two looks for abandoned back-end flows (a walk of the
/// whole table while a front-end is silent): once a second.
const ABANDONED_EVERY: u32 = 4;

/// Heartbeat timeouts (this node's) a front-end is silent, and its
/// back-end flows idle, before they are abandoned: its group's members
/// notice it gone after their own timeout and take its connections over
/// (TAKEOVER) at once, so theirs may be longer than this node's.
const ABANDONED_TIMEOUTS: u64 = 5;

/// How long a silent peer's idle flows are kept: [`ABANDONED_TIMEOUTS`] of
/// this node's heartbeat timeouts.
fn abandon_grace_ms(node: &Node) -> u64 {
    ABANDONED_TIMEOUTS * u64::from(node.published().base.heartbeat_timeout_ms)
}

/// Ends the back-end flows of front-ends that went silent
/// ([`teardown::abandoned`]).
fn abandoned(node: &Node) {
    let grace = abandon_grace_ms(node);
    let Ok(mut silent) = KVec::with_capacity(MAX_PEERS, GFP_KERNEL) else {
        return;
    };
    node.ctrl().silent_peers(grace, &mut silent);
    if !silent.is_empty() {
        teardown::abandoned(node, &silent, grace);
    }
}

/// How much longer than `handoff-timeout-ms` a front flow may stay frozen:
/// a worker gives up on its handoff after that timeout (and the copies'
/// wait), so a flow frozen this long has none.
const STUCK_MARGIN_MS: u64 = 5000;

/// Most batches of [`GC_BATCH`] one pass removes (8192 flows a second).
const GC_ROUNDS: usize = 8;

/// The garbage collector of a namespace: every second, removes flows that
/// closed or idled out, and tells the front-end of each back-end flow.
/// A back-end flow whose client sent an RST is over once the server's
/// stack took the RST: no socket is left for the connection. (An RST the
/// stack refused, its sequence number not the expected one, leaves the
/// socket and the flow as they were, as RFC 5961 wants.)
fn server_gone<F: Fam>(net: &Net, f: &Flow<F>) -> Option<u8> {
    let gone = f.role == Role::Back
        && f.phase == Phase::Established
        && f.client_rst
        && !socket::tcp_exists(net, ip(f.backend), ip(f.client));
    gone.then_some(reason::CLOSED)
}

/// What one pass of the collector decides by, the same for both families.
struct Pass {
    now: u64,
    /// `idle-timeout-ms`.
    idle: u64,
    /// How long a front flow may stay frozen.
    stuck_ms: u64,
    /// The peers whose channels are up (`None`: no memory to ask).
    up: Option<KVec<u32>>,
    /// How long a front flow of a peer that is down may idle.
    grace: u64,
    /// Into how many parts the table's buckets are swept.
    parts: usize,
}

/// One pass over the flows of family `F`; none over an empty table (an
/// IPv4-only node has an IPv6 one).
fn sweep<F: Fam>(node: &Node, p: &Pass) {
    if node.conns().len_of::<F>() == 0 {
        return;
    }
    let now = p.now;
    // A handoff taken over from a copy has no worker to give up on it:
    // unanswered for longer than any handoff lasts, its flow goes.
    let stuck = |f: &Flow<F>| {
        f.frozen_longer_than(now, p.stuck_ms)
            .then_some(reason::TIMEOUT)
    };
    // A front flow whose back-end can no longer send CONN_END (its
    // channel is down: the node died, or only the link): over once its
    // client reset it, or once it idled as long as the back-end waits
    // before it ends a silent front-end's idle connections
    // ([`abandoned`]), which this side cannot see.
    let orphan = |f: &Flow<F>| {
        let down = f.role == Role::Front
            && f.peer != 0
            && p.up.as_ref().is_some_and(|up| !up.contains(&f.peer));
        if !down {
            None
        } else if f.reset_and_quiet(now) {
            Some(reason::CLOSED)
        } else if f.phase == Phase::Forwarding && f.idle_ms(now) >= p.grace {
            Some(reason::IDLE)
        } else {
            None
        }
    };
    let Ok(mut done) = KVec::with_capacity(GC_BATCH, GFP_KERNEL) else {
        return;
    };
    let net = node.net();
    // Many connections may end at once: a full batch is sent on and the
    // sweep goes on where it stopped, up to GC_ROUNDS batches.
    for _ in 0..GC_ROUNDS {
        vec::clear(&mut done);
        node.conns().gc_sweep::<F>(p.parts, &mut done, |f| {
            f.expired(now, p.idle)
                .or_else(|| server_gone(net, f))
                .or_else(|| orphan(f))
                .or_else(|| stuck(f))
        });
        teardown::ended(node, &done);
        if done.len() < GC_BATCH {
            break;
        }
    }
}

pub(crate) fn gc_main(node: &Node, stop: &Stop) {
    let mut pass = 0u32;
    while !stop.requested() {
        kthread::sleep_ms(250);
        pass = pass.wrapping_add(1);
        let now = kthread::now_ms();
        node.conns().expire_held(now, false);
        node.conns().relay_again(now);
        replica::take_over_used(node);
        if pass % ABANDONED_EVERY == 0 {
            replica::expire_pending(node);
        }
        if node.conns().len() == 0 {
            continue;
        }
        if pass % ABANDONED_EVERY == 0 {
            abandoned(node);
        }
        let up = KVec::with_capacity(MAX_PEERS, GFP_KERNEL)
            .ok()
            .map(|mut v| {
                node.ctrl().up_peers(&mut v);
                v
            });
        let parts =
            (node.conns().buckets() / GC_PASS_BUCKETS).max(if node.conns().len() > GC_SMALL {
                GC_PARTS
            } else {
                1
            });
        let base = node.published().base;
        let p = Pass {
            now,
            idle: u64::from(base.idle_timeout_ms),
            stuck_ms: u64::from(base.handoff_timeout_ms) + STUCK_MARGIN_MS,
            up,
            grace: abandon_grace_ms(node),
            parts,
        };
        sweep::<V4>(node, &p);
        sweep::<V6>(node, &p);
    }
}

// SPDX-License-Identifier: GPL-2.0

//! How flows end other than by expiry: a new connection of the same tuple
//! replacing an old one's flows, a restarted peer's connections, and the
//! namespace going away (module unload, namespace deleted); and how the
//! front-end of a back-end flow hears of its end (CONN_END).

use crate::{
    conn::{ip, Fam},
    events,
    node::Node,
    proto::{
        ctrl::{reason, IdReason, Message},
        flow::{Flow, Phase, Role},
        packet::{V4, V6},
    },
    replica,
    sys::{kthread, socket},
};
use kernel::prelude::*;

/// Inserts `flow`; a flow of the same tuple that a new connection
/// supersedes ([`Flow::superseded`]: the client reused its port, through
/// the same or another VIP, while the old connection's flow lingered) is
/// removed first, and its end told as the collector would. On a back-end
/// the old server socket, if it is still there past TIME_WAIT (closing,
/// or waiting for the client's last ACK), is aborted while no flow
/// rewrites its RST: its reset goes nowhere, and the replayed SYN meets a
/// free tuple.
pub(crate) fn insert_replacing<F: Fam>(node: &Node, flow: Flow<F>) -> Result {
    match node.conns().insert(flow) {
        Err(e) if e == EEXIST => {}
        other => return other,
    }
    let Some(old) = node
        .conns()
        .remove_stale(&flow.key(), |f| f.role == flow.role && f.superseded())
    else {
        return Err(EEXIST);
    };
    if old.role == Role::Back {
        let _ = socket::abort_tcp(node.net(), ip(old.backend), ip(old.client));
    }
    ended(node, &[(old, reason::CLOSED)]);
    node.conns().insert(flow)
}

/// Peer `peer` came back with another boot id: every connection this node
/// shared with it is over there (its stack lost them), so its flows end
/// here at once rather than when they idle out: a back-end's server
/// sockets of that front-end's clients are aborted (they would otherwise
/// send until TCP gives up, some 15 minutes), a front-end's flows to that
/// back-end freed. The aborts go first, through the flows: a client still
/// waiting for its answer has sent nothing the restarted stack could have
/// reset, and gets the server's RST from the VIP. Runs on the new
/// channel's thread, which `keepalive` lets send its heartbeats.
pub(crate) fn peer_restarted(node: &Node, peer: u32, keepalive: &dyn Fn()) {
    let (r4, f4) = peer_restarted_in::<V4>(node, peer, keepalive);
    let (r6, f6) = peer_restarted_in::<V6>(node, peer, keepalive);
    let (reset, freed) = (r4 + r6, f4 + f6);
    pr_info!(
        "peer {} restarted: the connections shared with it ended ({} servers reset, {} flows freed)\n",
        peer,
        reset,
        freed
    );
}

/// [`peer_restarted`] for the flows of family `F`: servers reset, flows
/// freed.
fn peer_restarted_in<F: Fam>(node: &Node, peer: u32, keepalive: &dyn Fn()) -> (usize, usize) {
    let reset = abort_servers::<F>(node, |f| f.peer == peer, false, keepalive);
    // The collector may have freed some of the reset ones meanwhile.
    let freed = drain_all::<F>(
        node,
        |f| (f.peer == peer).then_some(reason::CLOSED),
        |_| keepalive(),
    );
    (reset, freed)
}

/// The back-end flows of front-ends in `silent` (channels down, silent for
/// `grace_ms`) that were idle as long: no front-end forwards them any
/// more (a crashed one lost its state, and a member of its group that
/// took one over would have said so: TAKEOVER moves the flow to it). Their
/// servers are aborted, the RST reaching the client from the VIP should it
/// still wait, and the flows freed. Runs on the collector's thread.
pub(crate) fn abandoned(node: &Node, silent: &[u32], grace_ms: u64) {
    let (r4, f4) = abandoned_in::<V4>(node, silent, grace_ms);
    let (r6, f6) = abandoned_in::<V6>(node, silent, grace_ms);
    let (reset, freed) = (r4 + r6, f4 + f6);
    if reset + freed > 0 {
        pr_info!(
            "connections of front-ends silent for {} ms ended: {} servers reset, {} flows freed\n",
            grace_ms,
            reset,
            freed
        );
    }
}

/// [`abandoned`] for the flows of family `F`: servers reset, flows freed.
fn abandoned_in<F: Fam>(node: &Node, silent: &[u32], grace_ms: u64) -> (usize, usize) {
    let now = kthread::now_ms();
    let theirs = |f: &Flow<F>| f.role == Role::Back && f.peer != 0 && silent.contains(&f.peer);
    let reset = abort_servers::<F>(
        node,
        |f| theirs(f) && f.idle_ms(now) >= grace_ms,
        false,
        &|| (),
    );
    // The RSTs just went through the flows, which are no longer idle.
    let freed = drain_all::<F>(
        node,
        |f| (theirs(f) && (f.reset || f.idle_ms(now) >= grace_ms)).then_some(reason::IDLE),
        |_| (),
    );
    (reset, freed)
}

/// Flows [`abort_servers`] looks at in one pass.
const ABORT_BATCH: usize = 1024;

/// [`abort_servers`] sleeps a moment after this many aborts.
const ABORT_YIELD_EVERY: usize = 32;

/// How long [`abort_servers`] keeps the flows after the aborts, so that a
/// client's challenge ACK (the RST's sequence number was not exactly the
/// one it expected: data in flight) gets the stack's exact RST through them.
const ABORT_GRACE_MS: u32 = 200;

/// Aborts the server sockets of the established back-end flows that
/// `which` selects while the flows still rewrite their RSTs, so that their
/// clients are reset; returns how many. With `tell`, each flow's front-end
/// hears first (CONN_END). `keepalive` is called after each abort. Used when the namespace goes away with its
/// hooks still running (see [`going_away`]): without it a client would wait
/// forever for the rest of its answer, the server's later packets leaving
/// unrewritten, from an address the client does not know.
fn abort_servers<F: Fam>(
    node: &Node,
    which: impl Fn(&Flow<F>) -> bool,
    tell: bool,
    keepalive: &dyn Fn(),
) -> usize {
    let mut aborted = 0usize;
    // Each pass marks what it saw as reset: at most max / ABORT_BATCH
    // passes.
    for _ in 0..=node.conns().max() / ABORT_BATCH {
        let Ok(mut live) = KVec::with_capacity(ABORT_BATCH, GFP_KERNEL) else {
            break;
        };
        node.conns().snapshot_where(&mut live, |f| {
            f.role == Role::Back && f.phase == Phase::Established && !f.reset && which(f)
        });
        if live.is_empty() {
            break;
        }
        for (i, f) in live.iter().enumerate() {
            // The front-end first, while the channel is surely up: it
            // frees its flow (a client's later packet then meets its
            // stack, which resets it too).
            if tell && f.peer != 0 {
                let _ = node.ctrl().send(
                    f.peer,
                    &Message::ConnEnd(IdReason {
                        id: f.id,
                        reason: reason::CLOSED,
                    }),
                );
            }
            if socket::abort_tcp(node.net(), ip(f.backend), ip(f.client)).is_ok() {
                aborted += 1;
            }
            // Its RST marked it already if it went out; also when there is
            // no socket any more.
            node.conns().with(&f.key(), |f| f.reset = true);
            keepalive();
            // Let the other threads (the channels' heartbeats) run: this
            // loop may take long with many connections on a slow machine.
            if i % ABORT_YIELD_EVERY == ABORT_YIELD_EVERY - 1 {
                kthread::sleep_ms(1);
            }
        }
    }
    if aborted > 0 {
        // A client's challenge ACK gets the exact RST through the flows.
        kthread::sleep_ms(ABORT_GRACE_MS);
    }
    aborted
}

/// The namespace goes away: after [`abort_servers`] (which already told
/// the front-ends of the established connections), every flow is removed
/// now, and each front-end whose connection this node served hears of it
/// (CONN_END) while the channel is still up, instead of keeping its flow
/// until it idles out. The connections this node forwards as a front-end
/// are not over: the members of its group that keep their copies take
/// them over when its channels close (a graceful leave), so they hear
/// nothing of their end.
pub(crate) fn going_away(node: &Node) {
    // No new handoff from now on, either way: a peer's HANDOFF_REQ is
    // refused (NACK, it may serve the client elsewhere), a new client of
    // this node's services is reset. An insert that passed this check
    // before is over long before abort_servers' grace period ends.
    node.conns().close();
    node.conns().expire_held(0, true);
    let aborted = abort_servers::<V4>(node, |_| true, true, &|| {})
        + abort_servers::<V6>(node, |_| true, true, &|| {});
    if aborted > 0 && kthread::net_ratelimit() {
        pr_info!(
            "{} handed-off connections reset: their node is going away\n",
            aborted
        );
    }
    drain_going::<V4>(node);
    drain_going::<V6>(node);
}

/// [`going_away`]'s removal of the flows of family `F`.
fn drain_going<F: Fam>(node: &Node) {
    drain_all::<F>(
        node,
        |_| Some(reason::CLOSED),
        |done| {
            for (f, why) in done.iter() {
                if f.role == Role::Back || f.peer == 0 {
                    ended(node, &[(*f, *why)]);
                }
            }
        },
    );
}

/// Removes every flow `pick` gives a reason, [`ABORT_BATCH`] at a time,
/// showing each batch to `each`; returns how many it removed.
fn drain_all<F: Fam>(
    node: &Node,
    pick: impl Fn(&Flow<F>) -> Option<u8>,
    mut each: impl FnMut(&[(Flow<F>, u8)]),
) -> usize {
    let mut removed = 0;
    for _ in 0..=node.conns().max() / ABORT_BATCH {
        let Ok(mut done) = KVec::with_capacity(ABORT_BATCH, GFP_KERNEL) else {
            break;
        };
        node.conns().drain(&mut done, &pick);
        if done.is_empty() {
            break;
        }
        removed += done.len();
        each(&done);
    }
    removed
}

/// Flows just removed: the front-end of each back-end flow hears of it,
/// a peer by CONN_END, this node (peer 0) by removing its front flow; the
/// members that keep a copy of a front flow drop it.
pub(crate) fn ended<F: Fam>(node: &Node, done: &[(Flow<F>, u8)]) {
    for (f, why) in done.iter() {
        notify_end(node, f, *why);
        if f.role == Role::Front && f.phase == Phase::Frozen {
            // A handoff taken over from a copy, never answered.
            replica::forget_handoff(node, f);
            node.replies().forget_all(f.id);
            node.conns().held().discard(&f.key());
        } else if f.role == Role::Front {
            replica::forget(node, f, *why);
        } else if f.peer != 0 {
            let msg = Message::ConnEnd(IdReason {
                id: f.id,
                reason: *why,
            });
            let _ = node.ctrl().send(f.peer, &msg);
        } else {
            node.conns().remove_front_id::<F>(f.id, 0);
        }
    }
}

/// Tells the `events` group that flow `f` ended, for reason `why`.
pub(crate) fn notify_end<F: Fam>(node: &Node, f: &Flow<F>, why: u8) {
    let c = events::Conn {
        id: f.id,
        client: ip(f.client),
        vip: ip(f.vip),
        backend: ip(f.backend),
        peer: f.peer,
    };
    events::conn_end(node.net(), &c, f.role.uapi(), why);
}

// SPDX-License-Identifier: GPL-2.0

//! What the handoff layer of a namespace works on: its flows, its control
//! channel and front-end group, the configuration as last published, and the answers the
//! front-end's workers wait for. `state.rs` builds it and changes what it
//! publishes; the front-end and back-end sides, the replay pool, the
//! collector and the service listeners use it and nothing above it.

use crate::{
    conn::Conns,
    ctrl::Ctrl,
    group::Group,
    proto::cluster::MAX_MEMBERS,
    proto::ctrl::{reason, HandoffAck, MoveAck},
    sched::{Published, View},
    sys::{
        kthread::{self, Stop},
        netns::{Net, NetPtr},
        vec,
    },
};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    task::Task,
    time,
    types::ARef,
};

/// One namespace's handoff machinery.
#[pin_data]
pub(crate) struct Node {
    net: NetPtr,
    #[pin]
    conns: Conns,
    #[pin]
    ctrl: Ctrl,
    #[pin]
    group: Group,
    #[pin]
    view: View,
    #[pin]
    replies: Replies,
}

impl Node {
    /// The machinery of namespace `net`: no flow, no channel, the
    /// settings' defaults (`ctrl_port` the module parameter's), a flow
    /// table of `2^bits` buckets for at most `max` flows. `boot_id`
    /// (random, never 0) goes in the channel's HELLO, so that peers see
    /// when this node's state was made anew.
    pub(crate) fn new(
        net: NetPtr,
        boot_id: u64,
        ctrl_port: u16,
        bits: u32,
        max: usize,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            net,
            // Handoff ids start at random: a peer's CONN_END for a
            // connection of this node's previous life (before rmmod or a
            // namespace of the same addresses) must not name a new one.
            conns <- Conns::new(
                kthread::random_u32(),
                u64::from(kthread::random_u32()),
                bits,
                max
            ),
            ctrl <- Ctrl::new(*net, boot_id),
            group <- Group::new(),
            view <- View::new(ctrl_port),
            replies <- Replies::new(),
        }? Error)
    }

    /// The namespace.
    pub(crate) fn net(&self) -> &Net {
        self.net.get()
    }

    /// The flows.
    pub(crate) fn conns(&self) -> &Conns {
        &self.conns
    }

    /// The control channel.
    pub(crate) fn ctrl(&self) -> &Ctrl {
        &self.ctrl
    }

    /// The front-end group.
    pub(crate) fn group(&self) -> &Group {
        &self.group
    }

    /// The sizes of the front-end group's tables on this node: the
    /// connections it forwards (active) and the copies it keeps for other
    /// members (common).
    pub(crate) fn tables(&self) -> (u32, u32) {
        let common = u32::try_from(self.conns.common_size().0).unwrap_or(u32::MAX);
        (self.conns.fronts(), common)
    }

    /// Makes the packets of connections this node has no state for follow
    /// the group's view: to the live members, by the addresses the
    /// control channel knows them by ([`crate::relay`]).
    pub(crate) fn relay_follow_view(&self) {
        self.conns.relay().set(|| {
            let me = self.group.me();
            let mut live = [(0, [0; 4]); MAX_MEMBERS];
            let mut n = 0;
            let view = self.group.view();
            for &id in view.as_ref().map_or(&[][..], |v| v.members()) {
                let addr = if id == me {
                    Some([0; 4])
                } else {
                    self.ctrl.peer_addr(id)
                };
                if let Some(addr) = addr {
                    live[n] = (id, addr);
                    n += 1;
                }
            }
            (me, (live, n))
        });
    }

    /// The configuration as last published: what a connection's path
    /// reads, without the configuration mutex.
    pub(crate) fn published(&self) -> Arc<Published> {
        self.view.get()
    }

    /// Runs `f` on the configuration as last published, under RCU (`f`
    /// must not sleep): what the hooks read, without a lock or a
    /// reference.
    pub(crate) fn with_published<R>(&self, f: impl FnOnce(&Published) -> R) -> R {
        self.view.with(f)
    }

    /// Publishes a new copy of the configuration.
    pub(crate) fn publish(&self, p: Arc<Published>) {
        self.view.set(p)
    }

    /// The answers to this node's pending handoffs.
    pub(crate) fn replies(&self) -> &Replies {
        &self.replies
    }
}

/// The answer to a handoff request, or to the copies of it sent before.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reply {
    /// Taken.
    Ack(HandoffAck),
    /// Refused, with a [`reason`].
    Nack(u8),
    /// This many backups confirmed their copy (COPY_ACK) since the worker
    /// last looked.
    Copied(u32),
    /// The serving back-end gave the connection up for a move (MOVE_ACK).
    Released(MoveAck),
}

/// Most time [`Replies::wait`] sleeps between looks (it is woken when a
/// reply comes; this bounds a stop request's wait).
const REPLY_WAIT_SLICE_MS: u64 = 100;

/// Which exchange about a connection an answer ends. Both carry the
/// connection's handoff id, and they overlap: the client's next request
/// can start a move (MOVE_REQ) as soon as the HANDOFF_ACK of the last one
/// made its flow forward, before that move's worker has taken the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Asked {
    /// HANDOFF_REQ (and its copies): HANDOFF_ACK, HANDOFF_NACK, COPY_ACK.
    Handoff,
    /// MOVE_REQ: MOVE_ACK, MOVE_NACK.
    Move,
}

/// A pending exchange's slot in [`Replies`]: its answer once it came, and
/// the worker waiting for it once it waits.
struct Slot {
    id: u64,
    asked: Asked,
    reply: Option<Reply>,
    waiter: Option<ARef<Task>>,
    /// No worker waits for it: the handoff of a copy taken over, which its
    /// answer completes ([`Replies::post`] says so and forgets the slot).
    detached: bool,
}

/// Answers to pending handoffs and moves, by handoff id and exchange,
/// until their workers take them. An answer wakes its own worker only: a service's workers all
/// wait here, and waking each of them for every answer cost the front-end
/// as many context switches per handoff.
#[pin_data]
pub(crate) struct Replies {
    #[pin]
    list: Mutex<KVec<Slot>>,
    /// The wait queue the workers sleep on; woken one by one
    /// ([`Task::wake_up`]), never as a whole.
    #[pin]
    added: CondVar,
}

impl Replies {
    fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            list <- new_mutex!(KVec::new(), "baton_replies"),
            added <- new_condvar!("baton_replied"),
        })
    }

    /// Waits for the answer to exchange `asked` of handoff `id`, at most
    /// `timeout_ms` (or until a stop is requested): NACK `TIMEOUT` then.
    pub(crate) fn wait(&self, id: u64, asked: Asked, timeout_ms: u32, stop: &Stop) -> Reply {
        let deadline = kthread::now_ms() + u64::from(timeout_ms);
        let mut waiting = false;
        let mut list = self.list.lock();
        loop {
            let slot = list.iter().position(|s| s.id == id && s.asked == asked);
            if let Some(i) = slot {
                if list.get(i).is_some_and(|s| s.reply.is_some()) {
                    if let Some(Slot { reply: Some(r), .. }) = vec::swap_remove(&mut list, i) {
                        return r;
                    }
                }
            }
            let now = kthread::now_ms();
            if now > deadline || stop.requested() {
                if let Some(i) = slot {
                    let _ = vec::swap_remove(&mut list, i);
                }
                return Reply::Nack(reason::TIMEOUT);
            }
            if !waiting {
                let me = Slot {
                    id,
                    asked,
                    reply: None,
                    waiter: Some(kthread::current_task()),
                    detached: false,
                };
                // Without a slot the worker still sees its answer, at the
                // next slice.
                waiting = list.push(me, GFP_KERNEL).is_ok();
            }
            let slice = (deadline - now).clamp(1, REPLY_WAIT_SLICE_MS) as u32;
            let _ = self
                .added
                .wait_interruptible_timeout(&mut list, time::msecs_to_jiffies(slice));
        }
    }

    /// Gives `r` to the worker of exchange `asked` of handoff `id`
    /// (waiting or not yet) and wakes it. Confirmed copies add up, and
    /// never replace the handoff's answer. `Err` for a detached handoff,
    /// whose slot goes.
    fn give(
        list: &mut KVec<Slot>,
        id: u64,
        asked: Asked,
        r: Reply,
    ) -> core::result::Result<Option<ARef<Task>>, ()> {
        let Some(i) = list.iter().position(|s| s.id == id && s.asked == asked) else {
            let slot = Slot {
                id,
                asked,
                reply: Some(r),
                waiter: None,
                detached: false,
            };
            let _ = list.push(slot, GFP_KERNEL);
            return Ok(None);
        };
        let s = &mut list[i];
        if s.detached {
            let _ = vec::swap_remove(list, i);
            return Err(());
        }
        s.reply = match (s.reply, r) {
            (None, r) => Some(r),
            (Some(Reply::Copied(a)), Reply::Copied(b)) => Some(Reply::Copied(a.saturating_add(b))),
            (Some(old), Reply::Copied(_)) => Some(old),
            (Some(_), r) => Some(r),
        };
        Ok(s.waiter.clone())
    }

    /// Gives `r` to the worker waiting for exchange `asked` of handoff
    /// `id`; `false` if no worker will (a detached handoff's: the caller
    /// finishes it).
    pub(crate) fn post(&self, id: u64, asked: Asked, r: Reply) -> bool {
        match Self::give(&mut self.list.lock(), id, asked, r) {
            Ok(waiter) => {
                if let Some(t) = waiter {
                    t.wake_up();
                }
                true
            }
            Err(()) => false,
        }
    }

    /// Marks handoff `id` as one no worker waits for (see [`Slot`]).
    pub(crate) fn detach(&self, id: u64) -> Result {
        let slot = Slot {
            id,
            asked: Asked::Handoff,
            reply: None,
            waiter: None,
            detached: true,
        };
        self.list.lock().push(slot, GFP_KERNEL)?;
        Ok(())
    }

    /// Gives `r` to the workers of the handoffs and moves `ids` that have
    /// no answer yet (their peer is gone). A handoff sent but not yet
    /// waited for finds it when it waits; a move in that state waits out
    /// its timeout, with the same outcome.
    pub(crate) fn post_unanswered(&self, ids: impl Iterator<Item = u64>, r: Reply) {
        let mut list = self.list.lock();
        for id in ids {
            let mut seen = false;
            for s in list.iter_mut().filter(|s| s.id == id) {
                seen = true;
                // A detached handoff's flow is left to the collector.
                if s.detached || !matches!(s.reply, None | Some(Reply::Copied(_))) {
                    continue;
                }
                s.reply = Some(r);
                if let Some(t) = &s.waiter {
                    // Under the lock: the worker wakes to wait for it,
                    // briefly.
                    t.wake_up();
                }
            }
            if !seen {
                let _ = Self::give(&mut list, id, Asked::Handoff, r);
            }
        }
    }

    /// Forgets any answer to exchange `asked` of handoff `id` (e.g. one
    /// posted for a request that was then never sent).
    pub(crate) fn forget(&self, id: u64, asked: Asked) {
        let mut list = self.list.lock();
        while let Some(i) = list.iter().position(|s| s.id == id && s.asked == asked) {
            let _ = vec::swap_remove(&mut list, i);
        }
    }

    /// Forgets any answer to handoff `id` and to its moves (its flow
    /// went).
    pub(crate) fn forget_all(&self, id: u64) {
        let mut list = self.list.lock();
        while let Some(i) = list.iter().position(|s| s.id == id) {
            let _ = vec::swap_remove(&mut list, i);
        }
    }

    /// Forgets every answer (the namespace goes away).
    pub(crate) fn clear(&self) {
        vec::clear(&mut self.list.lock());
    }
}

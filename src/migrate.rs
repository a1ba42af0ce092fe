// SPDX-License-Identifier: GPL-2.0

//! Moving a kept-alive connection to another back-end at a request
//! boundary (seed 001), for services that dispatch each request.
//!
//! ```text
//!  client            front-end                 old back-end   new back-end
//!    |--request 2---->| rules: another back-end
//!    |                | freeze, hold request 2
//!    |                |--MOVE_REQ (seq, ack)--->| idle? take the unread
//!    |                |                         | bytes U, close the
//!    |                |                         | server's socket, silent
//!    |                |<--MOVE_ACK (SYN opts, U)|
//!    |                |--HANDOFF_REQ (ISNs = seq-1-|U|, ack-1, data U)->|
//!    |                |                                     replay     |
//!    |                |<--HANDOFF_ACK----------------------------------|
//!    |                | forward; request 2 released, rewritten ------->|
//!    |<-------------------------------------------response, direct----|
//! ```
//!
//! The hook sees the client segment that starts new data on such a flow
//! ([`crate::conn::Boundary`]) and matches the request head it carries
//! against the service's rules; only a rule naming another back-end starts
//! a move, or, if the flow's back-end drains, any request (the scheduler
//! then chooses), which the move threads carry out (they wait for the
//! peers).
//! The old back-end gives the connection up only if its server owes the
//! client nothing (`back::release`): the bytes it received and has not
//! read go with the connection (seed 001's unconsumed data), and the new
//! back-end's replay delivers them before the held request. Else the
//! request goes on to it, served there. A new
//! back-end that refuses sends the connection back to the old one the same
//! way; a new back-end that does not answer, or an old one that does not,
//! ends it with a reset from the front-end's stack (the client's next
//! packet meets no flow): a connection never has two servers.

use crate::{
    back::{self, Released},
    conn::{ip, Boundary, Fam, Stat},
    events, front,
    node::{Asked, Node, Reply},
    proto::{
        ctrl::{opt_bits, reason, HandoffReq, Message, MoveAck, MoveReq},
        flow::{Key, Phase},
        http,
        packet::{V4, V6},
        rules,
        seq::Translation,
        service::{Endpoint, Ip},
        uapi::handoff_result,
    },
    sched,
    sys::{
        bhlock::{new_bh_spinlock, BhSpinLock},
        kthread::{self, Stop, Thread},
        netfilter::{SkBuff, Verdict},
        vec,
    },
};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
};

/// Move threads per namespace: a move waits for two peers in turn, and a
/// few in parallel keep one slow back-end from holding up the others.
const WORKERS: usize = 4;
/// Moves waiting for a thread, at most: room reserved up front, since the
/// hook queues them in softirq context. A request that finds it full stays
/// on its back-end.
const QUEUE_MAX: usize = 256;
/// Bytes of a request head the hook reads to match the rules: a head
/// longer than this, or not whole in its first segment, stays where it is.
const HEAD_MAX: usize = 2048;
/// How long an idle move thread waits before it looks at its stop token
/// again (a stop request also wakes it).
const IDLE_WAIT_MS: u32 = 1000;

/// Where a connection's next request goes.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// The back-end a rule names, and its peer (0: this node).
    Backend(Endpoint<Ip>, u32),
    /// Its back-end drains and no rule decides: the service's scheduler
    /// chooses, in the move thread (it counts connections under a mutex).
    Scheduler,
}

/// A move the hook decided on: the connection, where its next request
/// goes, and the fields of the segment that starts it.
#[derive(Clone, Copy)]
struct Job {
    client: Endpoint<Ip>,
    vip: Endpoint<Ip>,
    target: Target,
    /// The held request's sequence number, the client's acknowledgment,
    /// timestamps and window field.
    seq: u32,
    ack: u32,
    timestamps: Option<(u32, u32)>,
    window: u16,
}

struct Queue {
    jobs: KVec<Job>,
    /// No more moves are taken (the namespace goes away).
    closed: bool,
}

/// What the move threads and the hooks share.
#[pin_data]
struct Pool {
    node: Arc<Node>,
    #[pin]
    queue: BhSpinLock<Queue>,
    /// Signalled when a job is queued.
    #[pin]
    queued: CondVar,
    /// Where the hook copies a request head that is not in its packet's
    /// linear part (one CPU at a time, as conntrack's FTP helper does with
    /// its buffer).
    #[pin]
    head: BhSpinLock<KBox<[u8; HEAD_MAX]>>,
    /// The bytes each MOVE_ACK brought (its old server had not read
    /// them), by handoff id, until the move thread that waits for it takes
    /// them.
    #[pin]
    carried: Mutex<KVec<(u64, KVec<u8>)>>,
}

/// The moves of a namespace.
#[pin_data]
pub(crate) struct Moves {
    pool: Arc<Pool>,
    /// Hold the threads: [`Moves::stop`] ends them.
    #[pin]
    workers: Mutex<KVec<Thread<Pool>>>,
}

impl Moves {
    /// No move yet; [`Moves::start`] starts the threads.
    pub(crate) fn new(node: Arc<Node>) -> impl PinInit<Self, Error> {
        let pool = (|| -> Result<Arc<Pool>> {
            let jobs = KVec::with_capacity(QUEUE_MAX, GFP_KERNEL)?;
            let head = KBox::new([0u8; HEAD_MAX], GFP_KERNEL)?;
            Arc::pin_init(
                pin_init!(Pool {
                    node,
                    queue <- new_bh_spinlock!(Queue { jobs, closed: false }, "baton_move_queue"),
                    queued <- new_condvar!("baton_move_queued"),
                    head <- new_bh_spinlock!(head, "baton_move_head"),
                    carried <- new_mutex!(KVec::new(), "baton_move_carried"),
                }),
                GFP_KERNEL,
            )
        })();
        try_pin_init!(Self {
            pool: pool?,
            workers <- new_mutex!(KVec::new(), "baton_move_workers"),
        }? Error)
    }

    /// Starts the move threads. Process context.
    pub(crate) fn start(&self) -> Result {
        let mut workers = self.workers.lock();
        workers.reserve(WORKERS, GFP_KERNEL)?;
        while workers.len() < WORKERS {
            let t = Thread::spawn(c"baton-move", self.pool.clone(), worker_main)?;
            workers.push(t, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// Takes no more moves and stops the threads (each finishes or
    /// abandons the move it is in). The moves left unfreeze: their
    /// connections stay where they are.
    pub(crate) fn stop(&self) {
        self.pool.queue.lock().closed = true;
        let workers = core::mem::take(&mut *self.workers.lock());
        // Joined outside the lock.
        drop(workers);
        let left = core::mem::take(&mut self.pool.queue.lock().jobs);
        for job in left.iter() {
            match (job.client.addr, job.vip.addr) {
                (Ip::V4(_), Ip::V4(_)) => stays::<V4>(&self.pool.node, job),
                _ => stays::<V6>(&self.pool.node, job),
            }
        }
    }

    /// A segment at a request boundary whose request goes to `target`
    /// ([`Moves::target`], [`crate::conn::Conns::pre_routing`]): held for
    /// a move, else (no room, or the flow changed meanwhile) forwarded.
    /// Softirq context.
    pub(crate) fn boundary<F: Fam>(
        &self,
        skb: &mut SkBuff,
        b: Boundary<F>,
        target: Target,
        now_ms: u64,
    ) -> Verdict {
        let node = &self.pool.node;
        let mut q = self.pool.queue.lock();
        if !q.closed && q.jobs.len() < QUEUE_MAX && node.conns().begin_move(skb, &b, now_ms) {
            let job = Job {
                client: ip(b.key.client),
                vip: ip(b.vip),
                target,
                seq: b.seq,
                ack: b.ack,
                timestamps: b.timestamps,
                window: b.window,
            };
            // Within the capacity reserved: cannot fail or allocate.
            let _ = q.jobs.push(job, GFP_ATOMIC);
            drop(q);
            self.pool.queued.notify_one();
            return Verdict::Drop;
        }
        drop(q);
        node.conns().forward_boundary::<F>(node.net(), skb, now_ms)
    }

    /// MOVE_ACK or MOVE_NACK from peer `from`: given to the move thread
    /// that waits for it, if the connection is still frozen for its move
    /// and served by that peer. Process context (the channel's thread).
    pub(crate) fn reply(&self, from: u32, msg: &Message<'_>) {
        let node = &self.pool.node;
        let (id, r) = match msg {
            Message::MoveAck(a, _) => (a.id, Reply::Released(*a)),
            Message::MoveNack(n) => (n.id, Reply::Nack(n.reason)),
            _ => return,
        };
        let conns = node.conns();
        let frozen = conns
            .with_front_id::<V4, _>(id, from, |f| f.phase == Phase::Frozen)
            .or_else(|| conns.with_front_id::<V6, _>(id, from, |f| f.phase == Phase::Frozen));
        if frozen != Some(true) {
            return;
        }
        if let Message::MoveAck(_, data) = msg {
            if !data.is_empty() && self.pool.carry(id, data).is_err() {
                // The old server gave them up: without them the connection
                // cannot go on. As if no answer came: it ends.
                node.replies()
                    .post(id, Asked::Move, Reply::Nack(reason::TIMEOUT));
                return;
            }
        }
        node.replies().post(id, Asked::Move, r);
    }

    /// Where the request starting in `skb` goes, if not to the flow's
    /// back-end: the back-end its service's rules name (a service that
    /// dispatches each request), else, if the flow's back-end drains, the
    /// scheduler's choice. Only a segment that starts an HTTP request
    /// moves a connection (an upload's next segment is no boundary).
    pub(crate) fn target<F: Fam>(&self, skb: &SkBuff, b: &Boundary<F>) -> Option<Target> {
        // Read under RCU: the hook takes no lock and no reference that
        // every CPU's would share.
        self.pool.node.with_published(|config| {
            let service = config.service(&ip(b.vip))?;
            let draining = service.draining(&ip(b.backend));
            // Without rules no request is matched: none need be parsed.
            let by_rules = service.per_request() && !service.rules.is_empty();
            if !by_rules && !draining {
                return None;
            }
            let me = config.base.node_id;
            let len = b.payload_len.min(HEAD_MAX);
            // A request in the packet's linear part or in one of its page
            // fragments (nearly all are) is parsed where it lies, without
            // the lock all CPUs share; one that straddles two is copied.
            if let Some(bytes) = skb.linear_from_ip(b.payload_at, len) {
                return target_of(service, me, b, by_rules, draining, bytes);
            }
            let mut head = self.pool.head.lock();
            let n = skb.copy_from_ip(b.payload_at, head.get_mut(..len)?);
            target_of(service, me, b, by_rules, draining, head.get(..n)?)
        })
    }
}

/// [`Moves::target`] for the request head at the start of `bytes`, on
/// node `me`: by the service's rules if `by_rules`, by its scheduler if
/// none matches and the flow's back-end is `draining`.
fn target_of<F: Fam>(
    service: &sched::ServiceView,
    me: u32,
    b: &Boundary<F>,
    by_rules: bool,
    draining: bool,
    bytes: &[u8],
) -> Option<Target> {
    let req = http::parse_request(bytes).ok()?;
    let rules = service.rules.iter().map(|r| (r.rule(), r.backend));
    match by_rules.then(|| rules::first_match(rules, &req)).flatten() {
        // The flow's own back-end (a drained one's rules are not
        // published).
        Some(target) if target == ip(b.backend) => None,
        Some(target) => {
            // A rule's back-end is one of the service's, with a weight.
            let be = service.backends.iter().find(|x| x.addr == target)?;
            Some(Target::Backend(
                be.addr,
                if be.peer == me { 0 } else { be.peer },
            ))
        }
        None => draining.then_some(Target::Scheduler),
    }
}

/// Answers kept for move threads at most: a thread waits for one at a
/// time, and one that gave up forgets its own.
const CARRIED_MAX: usize = 2 * WORKERS;

impl Pool {
    /// Keeps the bytes MOVE_ACK `id` brought for its move thread.
    fn carry(&self, id: u64, data: &[u8]) -> Result {
        let mut copy = KVec::with_capacity(data.len(), GFP_KERNEL)?;
        copy.extend_from_slice(data, GFP_KERNEL)?;
        let mut carried = self.carried.lock();
        if carried.len() >= CARRIED_MAX {
            // Stale: its thread is gone.
            let _ = vec::swap_remove(&mut carried, 0);
        }
        carried.push((id, copy), GFP_KERNEL)?;
        Ok(())
    }

    /// The bytes MOVE_ACK `id` brought, if any (forgotten here).
    fn carried(&self, id: u64) -> KVec<u8> {
        let mut carried = self.carried.lock();
        match carried.iter().position(|(i, _)| *i == id) {
            Some(at) => vec::swap_remove(&mut carried, at).map_or_else(KVec::new, |(_, d)| d),
            None => KVec::new(),
        }
    }
}

fn worker_main(pool: &Pool, stop: &Stop) {
    loop {
        let job = {
            let mut q = pool.queue.lock();
            loop {
                if stop.requested() {
                    return;
                }
                // Each job is another connection's: their order is free.
                if let Some(job) = vec::swap_remove(&mut q.jobs, 0) {
                    break job;
                }
                let _ = pool
                    .queued
                    .wait_interruptible_timeout(&mut q, msecs_to_jiffies(IDLE_WAIT_MS));
            }
        };
        match (job.client.addr, job.vip.addr) {
            (Ip::V4(_), Ip::V4(_)) => run::<V4>(pool, &job, stop),
            _ => run::<V6>(pool, &job, stop),
        }
    }
}

/// The flow key of `job`'s connection, in family `F`.
fn key_of<F: Fam>(job: &Job) -> Option<Key<F>> {
    Some(Key {
        client: Endpoint {
            addr: F::from_ip(job.client.addr)?,
            port: job.client.port,
        },
        local: Endpoint {
            addr: F::from_ip(job.vip.addr)?,
            port: job.vip.port,
        },
    })
}

/// The move of `job` does not happen: the connection forwards to its
/// back-end again, and the request held goes on there, forwarded without
/// another decision.
fn stays<F: Fam>(node: &Node, job: &Job) {
    let Some(key) = key_of::<F>(job) else {
        return;
    };
    node.conns().with(&key, |f| {
        if f.phase == Phase::Frozen {
            f.phase = Phase::Forwarding;
            f.stay = true;
        }
    });
    node.conns().held().release(&key);
}

/// The move failed past the point of return: the flow goes, and the
/// client's next packet meets the front-end's stack, which resets it.
fn ends<F: Fam>(node: &Node, key: &Key<F>, why: &str) {
    node.conns().remove(key);
    node.conns().held().discard(key);
    node.conns().stats().inc(Stat::MovesFailed);
    if kthread::net_ratelimit() {
        pr_info!(
            "a connection's move failed ({}), resetting the client\n",
            why
        );
    }
}

/// Asks the serving back-end (peer `peer`, 0: this node) to give up the
/// connection of `m`: its handshake's options and the bytes its server had
/// not read, or why not ([`reason::TIMEOUT`]: no answer).
fn release<F: Fam>(
    pool: &Pool,
    peer: u32,
    m: MoveReq<F>,
    timeout_ms: u32,
    stop: &Stop,
) -> Released {
    let node = &pool.node;
    if peer == 0 {
        return back::release(node, 0, &m);
    }
    // A stale answer of an earlier move of this connection.
    drop(pool.carried(m.id));
    if node.ctrl().send(peer, &F::move_req(m)).is_err() {
        // Not sent (channel down, a peer that takes no moves): nothing
        // changed there.
        node.replies().forget(m.id, Asked::Move);
        return Err(reason::OTHER);
    }
    match node.replies().wait(m.id, Asked::Move, timeout_ms, stop) {
        Reply::Released(a) => Ok((a, pool.carried(m.id))),
        Reply::Nack(r) => Err(r),
        _ => Err(reason::OTHER),
    }
}

/// The back-end (and its peer, 0: this node) that `job` moves its
/// connection to, away from `current`: `None` if there is none (no other
/// back-end with a weight, or the rule's back-end no longer takes
/// connections and `current` does not drain): the connection stays.
fn resolve(node: &Node, job: &Job, current: Endpoint<Ip>) -> Option<(Endpoint<Ip>, u32)> {
    let config = node.published();
    let service = config.service(&job.vip)?;
    match job.target {
        // The hook chose it when the request came, maybe seconds ago on a
        // loaded node: a back-end drained, weighted 0 or removed since is
        // no target any more (its rules are gone), and the connection goes
        // where the hook would send it now: nowhere, unless its own
        // back-end drains.
        Target::Backend(be, peer)
            if service
                .backends
                .iter()
                .any(|b| b.addr == be && b.weight > 0 && !b.draining) =>
        {
            Some((be, peer))
        }
        Target::Backend(..) if !service.draining(&current) => None,
        _ => {
            let me = config.base.node_id;
            // No request bytes: the rules were applied by the hook.
            sched::choose(node.conns(), me, service, &job.client, &[])
                .filter(|(be, _)| *be != current)
        }
    }
}

/// Carries out the move of `job`, its flow frozen by the hook.
fn run<F: Fam>(pool: &Pool, job: &Job, stop: &Stop) {
    let node = &pool.node;
    let Some(key) = key_of::<F>(job) else {
        return;
    };
    let Some(old) = node.conns().with(&key, |f| *f) else {
        // Gone meanwhile (the connection ended): its held packets expire.
        return;
    };
    if old.phase != Phase::Frozen {
        return;
    }
    let Some((target, target_peer)) = resolve(node, job, ip(old.backend)) else {
        return stays::<F>(node, job);
    };
    let Some(addr) = F::from_ip(target.addr) else {
        return stays::<F>(node, job);
    };
    let target = Endpoint {
        addr,
        port: target.port,
    };
    let timeout = node.published().base.handoff_timeout_ms;
    let m = MoveReq {
        id: old.id,
        client: key.client,
        backend: old.backend,
        seq: job.seq,
        ack: job.ack,
    };
    let (syn, unread) = match release(pool, old.peer, m, timeout, stop) {
        Ok(given) => given,
        Err(reason::TIMEOUT) => {
            // It may have given the connection up after all: the client
            // would meet a server that is gone.
            return ends(node, &key, "no answer from its back-end");
        }
        _ => {
            node.conns().stats().inc(Stat::MovesRefused);
            return stays::<F>(node, job);
        }
    };
    // The old server is gone: the connection goes to the new back-end as a
    // handoff whose handshake ends where the client is now, or back to
    // the old one the same way should the new one refuse, with the bytes
    // the old server had not read.
    for (attempt, (backend, peer)) in [(target, target_peer), (old.backend, old.peer)]
        .into_iter()
        .enumerate()
    {
        let id = node.conns().next_id(&key);
        let req = handoff(
            job,
            (&syn, &unread),
            id,
            key.client,
            old.vip,
            backend,
            old.xlate,
        );
        let half =
            Translation::frontend_half(req.frontend_isn, req.frontend_tsval, req.frontend_wscale);
        // Counted under its new back-end (`active`, `lc`, `max-conns`).
        node.conns().retarget(&key, backend, peer);
        let present = node.conns().with(&key, |f| {
            f.id = id;
            f.xlate = half;
            // Back on a draining back-end, its next request tries again.
            f.draining = attempt == 1 && old.draining;
        });
        if present.is_none() {
            return;
        }
        let asked = kthread::now_ms();
        let reply = front::ask(node, peer, &req, timeout, stop);
        let conn = events::Conn {
            id,
            client: ip(key.client),
            vip: ip(old.vip),
            backend: ip(backend),
            peer,
        };
        match reply {
            Reply::Ack(a) => {
                if peer == 0 {
                    // A peer's ACK made the flow forward as it came
                    // (`front::reply`); this node's own replay, here.
                    let xlate = half.with_backend(a.backend_isn, a.backend_tsval, a.backend_wscale);
                    node.conns().with(&key, |f| {
                        f.xlate = xlate;
                        f.phase = Phase::Forwarding;
                    });
                    node.conns().held().release(&key);
                }
                events::handoff(node.net(), &conn, handoff_result::OK, 0);
                let c = if attempt == 0 {
                    Stat::Moved
                } else {
                    Stat::MovesFailed
                };
                node.conns().stats().inc(c);
                return;
            }
            Reply::Nack(r) => {
                events::handoff(node.net(), &conn, handoff_result::FAILED, r);
                // A timeout is the peer's answer, or this node's wait
                // running out: which one tells a slow replay there from a
                // lost request or answer.
                if kthread::net_ratelimit() {
                    let waited = kthread::now_ms().saturating_sub(asked);
                    if r == reason::TIMEOUT && waited >= u64::from(timeout) {
                        pr_info!(
                            "move {}: back-end peer {} did not answer within {} ms\n",
                            id,
                            peer,
                            timeout
                        );
                    } else {
                        pr_info!(
                            "move {}: back-end peer {} refused the connection (reason {}) after {} ms\n",
                            id,
                            peer,
                            r,
                            waited
                        );
                    }
                }
                if r == reason::TIMEOUT {
                    // It may still take it: never two servers.
                    break;
                }
            }
            _ => break,
        }
    }
    ends(node, &key, "no back-end took it");
}

/// The HANDOFF_REQ that replays `job`'s connection on `backend` as handoff
/// `id`: a handshake whose ISNs end where the client and the old server
/// are (the first byte the old server had not read, the client's
/// acknowledgment), the client's options as the old server's stack had
/// them, the front-end's window scale as the client knows it, and as data
/// the bytes the old server had not read (`unread`, which end where the
/// held request starts; it follows, forwarded).
fn handoff<'a, F: Fam>(
    job: &Job,
    (syn, unread): (&MoveAck, &'a [u8]),
    id: u64,
    client: Endpoint<F>,
    vip: Endpoint<F>,
    backend: Endpoint<F>,
    old: Translation,
) -> HandoffReq<'a, F> {
    let ts = syn.options & opt_bits::TIMESTAMPS != 0;
    let (tsval, tsecr) = job.timestamps.filter(|_| ts).unwrap_or((0, 0));
    HandoffReq {
        id,
        client,
        vip,
        backend,
        client_isn: job.seq.wrapping_sub(1 + unread.len() as u32),
        frontend_isn: job.ack.wrapping_sub(1),
        client_tsval: tsval,
        frontend_tsval: tsecr,
        client_window: job.window,
        mss: syn.mss,
        client_wscale: syn.client_wscale,
        frontend_wscale: old.frontend_wscale,
        options: syn.options,
        data: unread,
    }
}

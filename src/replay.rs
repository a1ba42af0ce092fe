// SPDX-License-Identifier: GPL-2.0

//! The back-end's replay pool. A peer's HANDOFF_REQ is replayed here
//! ([`crate::back::take`]), not on the peer's channel thread, which only
//! reads and writes frames: heartbeats, CONN_ENDs, answers and the other
//! handoffs of that channel never wait behind a replay (up to 1.5 s when
//! the server's stack is slow to answer its SYN).
//!
//! A bounded queue per namespace ([`QUEUE_MAX`] requests and
//! [`QUEUE_BYTES`] of request data) feeds at most [`WORKERS`] threads,
//! started as the queue needs them; a request that finds the queue full is
//! refused at once with NACK `OVERLOAD`, and the front-end serves the client
//! elsewhere or resets it. The answer goes back on the channel of the peer
//! that asked.

use crate::{
    back,
    conn::Fam,
    node::Node,
    proto::{
        ctrl::{reason, HandoffReq, IdReason, Message},
        packet::V6,
    },
    sys::{
        kthread::{Stop, Thread},
        vec,
    },
};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
};

/// Replay threads per namespace: replays wait mostly for the server's
/// stack, and a few in parallel keep one slow server from holding up the
/// others' handoffs.
const WORKERS: usize = 8;
/// Requests waiting for a replay thread, at most.
const QUEUE_MAX: usize = 256;
/// Request data waiting for a replay thread, at most (a request carries up
/// to `ctrl::MAX_DATA`, 64 KiB, mostly far less).
const QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// How long an idle replay thread waits before it looks at its stop token
/// again (a stop request also wakes it).
const IDLE_WAIT_MS: u32 = 1000;

/// A request of either family, its data elsewhere.
#[derive(Clone, Copy)]
enum Req {
    V4(HandoffReq<'static>),
    V6(HandoffReq<'static, V6>),
}

impl Req {
    fn id(&self) -> u64 {
        match self {
            Req::V4(r) => r.id,
            Req::V6(r) => r.id,
        }
    }
}

/// A request waiting for a replay thread.
struct Job {
    /// The peer that asked.
    from: u32,
    /// Order of arrival.
    seq: u64,
    /// The request, its data in `data`.
    req: Req,
    data: KVec<u8>,
}

struct Queue {
    jobs: KVec<Job>,
    /// Bytes of request data in `jobs`.
    bytes: usize,
    next_seq: u64,
    /// Threads waiting for a job.
    idle: usize,
    /// No more requests are taken (the namespace goes away).
    closed: bool,
}

/// What the replay threads share.
#[pin_data]
struct Pool {
    node: Arc<Node>,
    #[pin]
    queue: Mutex<Queue>,
    /// Signalled when a job is queued.
    #[pin]
    queued: CondVar,
}

/// The replay pool of a namespace.
#[pin_data]
pub(crate) struct Replays {
    pool: Arc<Pool>,
    /// Hold the pool: [`Replays::stop`] ends them.
    #[pin]
    workers: Mutex<KVec<Thread<Pool>>>,
}

impl Replays {
    /// An empty pool for `node`'s peers, no thread yet.
    pub(crate) fn new(node: Arc<Node>) -> impl PinInit<Self, Error> {
        let pool = Arc::pin_init(
            pin_init!(Pool {
                node,
                queue <- new_mutex!(
                Queue {
                    jobs: KVec::new(),
                    bytes: 0,
                    next_seq: 0,
                    idle: 0,
                    closed: false,
                },
                "baton_replay_queue"
            ),
                queued <- new_condvar!("baton_replay_queued"),
            }),
            GFP_KERNEL,
        );
        try_pin_init!(Self {
            pool: pool?,
            workers <- new_mutex!(KVec::new(), "baton_replay_workers"),
        }? Error)
    }

    /// Queues `req` from peer `from` for a replay thread; the refusal's
    /// [`reason`] if the queue is full, closed or out of memory.
    pub(crate) fn submit<F: Fam>(
        &self,
        from: u32,
        req: &HandoffReq<'_, F>,
    ) -> core::result::Result<(), u8> {
        let stripped = match (F::v4_req(req), F::v6_req(req)) {
            (Some(r), _) => Req::V4(HandoffReq { data: &[], ..*r }),
            (None, Some(r)) => Req::V6(HandoffReq { data: &[], ..*r }),
            (None, None) => return Err(reason::OTHER),
        };
        let data = vec::copied(req.data, GFP_KERNEL).map_err(|_| reason::OVERLOAD)?;
        let spawn = {
            let mut q = self.pool.queue.lock();
            if q.closed || q.jobs.len() >= QUEUE_MAX || q.bytes + data.len() > QUEUE_BYTES {
                return Err(reason::OVERLOAD);
            }
            q.jobs
                .reserve(1, GFP_KERNEL)
                .map_err(|_| reason::OVERLOAD)?;
            let seq = q.next_seq;
            q.next_seq += 1;
            q.bytes += data.len();
            let job = Job {
                from,
                seq,
                req: stripped,
                data,
            };
            // Within the capacity reserved: cannot fail.
            let _ = q.jobs.push(job, GFP_KERNEL);
            // Every thread is busy (or none runs yet): one more, while
            // fewer than WORKERS run.
            q.idle == 0
        };
        self.pool.queued.notify_one();
        if spawn {
            self.grow();
        }
        Ok(())
    }

    /// Starts one more replay thread if fewer than [`WORKERS`] run. A
    /// failure leaves the job to the threads there are (with none, it is
    /// answered when the namespace goes, or times out at the front-end).
    fn grow(&self) {
        let mut workers = self.workers.lock();
        if workers.len() >= WORKERS
            || self.pool.queue.lock().closed
            || workers.reserve(1, GFP_KERNEL).is_err()
        {
            return;
        }
        match Thread::spawn(c"baton-replay", self.pool.clone(), worker_main) {
            // Within the capacity reserved: cannot fail.
            Ok(t) => {
                let _ = workers.push(t, GFP_KERNEL);
            }
            Err(e) => pr_err!("cannot start a replay thread: {:?}\n", e),
        }
    }

    /// Takes no more requests and stops the threads (each finishes or
    /// abandons the replay it is in: its stop token says so). The requests
    /// left get NACK `OVERLOAD` on their channels, if still up.
    pub(crate) fn stop(&self) {
        self.pool.queue.lock().closed = true;
        let workers = core::mem::take(&mut *self.workers.lock());
        // Joined outside the lock.
        drop(workers);
        let left = core::mem::take(&mut self.pool.queue.lock().jobs);
        for job in left.iter() {
            refuse(&self.pool.node, job, reason::OVERLOAD);
        }
    }

    /// The oldest job, if any.
    fn next(q: &mut Queue) -> Option<Job> {
        let i = (0..q.jobs.len()).min_by_key(|&i| q.jobs[i].seq)?;
        let job = vec::swap_remove(&mut q.jobs, i)?;
        q.bytes -= job.data.len();
        Some(job)
    }
}

fn refuse(node: &Node, job: &Job, why: u8) {
    let nack = Message::HandoffNack(IdReason {
        id: job.req.id(),
        reason: why,
    });
    let _ = node.ctrl().send(job.from, &nack);
}

fn worker_main(pool: &Pool, stop: &Stop) {
    loop {
        let job = {
            let mut q = pool.queue.lock();
            loop {
                if stop.requested() {
                    return;
                }
                if let Some(job) = Replays::next(&mut q) {
                    break job;
                }
                q.idle += 1;
                let _ = pool
                    .queued
                    .wait_interruptible_timeout(&mut q, msecs_to_jiffies(IDLE_WAIT_MS));
                q.idle -= 1;
            }
        };
        let reply = match job.req {
            Req::V4(r) => {
                let req = HandoffReq {
                    data: &job.data,
                    ..r
                };
                back::take(&pool.node, job.from, &req, stop)
            }
            Req::V6(r) => {
                let req = HandoffReq {
                    data: &job.data,
                    ..r
                };
                back::take(&pool.node, job.from, &req, stop)
            }
        };
        // The channel may be gone meanwhile: the front-end then gave up
        // on the handoff (peer down) and reset its client.
        let _ = pool.node.ctrl().send(job.from, &reply);
    }
}

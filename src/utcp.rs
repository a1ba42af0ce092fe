// SPDX-License-Identifier: GPL-2.0

//! UTCP: the front-end's kernel listeners, one per service, on the VIP
//! and port. A few worker threads per service accept connections, read
//! their first requests and run the handoff ([`crate::front::serve`]).
//!
//! A worker waits [`FIRST_WAIT_MS`] for a new connection's request, which
//! on a LAN has arrived by then; a connection whose request is not complete
//! joins the worker's waiting list, polled without blocking between
//! accepts, so slow or idle clients (slowloris) hold memory, not threads.
//! A worker about to hand a connection off (which holds it until the
//! back-end answers) leaves its list to the service's other workers
//! ([`Lists::orphans`]): a request that completes meanwhile is handed off
//! by one of them, not after that answer. Idle workers wake every
//! [`IDLE_ACCEPT_MS`] to take such a list.
//! A service's lists hold at most [`WAITING_MAX`] connections: when they
//! are full, the worker hands off the longest waiting connection of its
//! list (or the new one) at once with what it sent, as when its
//! `request-timeout-ms` expires. A worker hands off a connection whose
//! request came before one whose time is up (or that closed half-way), and
//! at most [`LATE_MAX`] of a service's workers hand off such late ones at
//! a time.
//!
//! The listeners' receive buffer is small: a client can send only a few
//! kilobytes before the handoff, all of which travel in the HANDOFF_REQ.

use crate::{
    arrival::Arrival,
    conn::{Stat, LISTENER_MARK},
    front,
    node::Node,
    proto::service::{Endpoint, Ip},
    sys::{
        kthread::{self, Stop, Thread},
        socket::Socket,
        vec,
    },
};
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// Worker threads per service. A handoff holds its worker until the
/// back-end answers, mostly asleep (`make bench`: with 4, a front-end
/// topped out near 120 handoffs/s at 7% CPU; with 16, 260/s).
const WORKERS: usize = 16;
/// How long a worker waits for a new connection's request before it lets
/// the connection wait on its list.
const FIRST_WAIT_MS: u32 = 20;
/// Connections waiting for their request, per service.
const WAITING_MAX: usize = 512;
/// Workers of a service that hand off late connections (their request
/// timeout passed, or they closed half-way) at the same time. A peer's
/// back-end takes its handoffs one at a time: when slow clients all time
/// out together, the other workers' handoffs, of requests that came, wait
/// behind these few, not behind one per worker.
const LATE_MAX: usize = 4;
/// Pause between polls of the waiting list when nothing happened, doubled
/// after each idle poll up to [`POLL_MAX_MS`]: a worker whose list only
/// holds idle clients polls a few dozen times a second, not 500.
const POLL_MS: u32 = 2;
/// The longest pause between polls (and so the most a new connection
/// waits for a worker with a waiting list to accept it).
const POLL_MAX_MS: u32 = 32;
/// Send timeout of the accepted connections; pause after a failed accept.
const TICK_MS: u32 = 250;
/// How long an idle worker blocks in accept before it looks for a list
/// another worker left ([`Lists::orphans`]).
const IDLE_ACCEPT_MS: u32 = 1000;
/// Receive buffer of the listeners (the kernel doubles it).
const RCVBUF: i32 = 8 * 1024;
/// Listen backlog (the kernel caps it at `net.core.somaxconn`): a burst of
/// a thousand clients waits here for the workers instead of retransmitting
/// SYNs a second later (nginx's is 511).
const BACKLOG: i32 = 1024;

/// What a worker works with.
struct Worker {
    node: Arc<Node>,
    vip: Endpoint<Ip>,
    listener: Arc<Socket>,
    lists: Arc<Lists>,
}

/// What a service's workers count together.
#[pin_data]
struct Lists {
    /// Connections on the waiting lists of the service's workers.
    waiting: AtomicUsize,
    /// Workers handing off a late connection, at most [`LATE_MAX`].
    late: AtomicUsize,
    /// Waiting connections a worker left when it started a handoff, for
    /// the next worker that is free (still counted in `waiting`).
    #[pin]
    orphans: Mutex<KVec<Arrival>>,
    /// How many connections `orphans` holds, read without its lock.
    orphaned: AtomicUsize,
}

struct Listening {
    vip: Endpoint<Ip>,
    listener: Arc<Socket>,
    /// Joined when dropped, after the listener is shut down.
    workers: KVec<Thread<Worker>>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        // Wakes the workers blocked in `accept` (it fails from now on);
        // then the fields drop, which joins them.
        self.listener.shutdown();
    }
}

/// Listeners a [`Utcp::reconcile`] stopped: shut down, their workers
/// joined when this is dropped, which the caller does once it holds no
/// lock a worker may wait for.
#[derive(Default)]
pub(crate) struct Stopped(KVec<Listening>);

/// The listeners of a namespace.
#[pin_data]
pub(crate) struct Utcp {
    #[pin]
    running: Mutex<KVec<Listening>>,
}

impl Utcp {
    /// No listener.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            running <- new_mutex!(KVec::new(), "baton_utcp"),
        })
    }

    /// Listens on every VIP:port of `vips`, and on no other; the
    /// listeners that stop go to `stopped`.
    pub(crate) fn reconcile(
        &self,
        node: &Arc<Node>,
        vips: impl Iterator<Item = Endpoint<Ip>> + Clone,
        stopped: &mut Stopped,
    ) -> Result {
        {
            let mut run = self.running.lock();
            // Room first: a listener is never dropped (joined) here.
            let mut keep = KVec::with_capacity(run.len(), GFP_KERNEL)?;
            stopped.0.reserve(run.len(), GFP_KERNEL)?;
            for l in core::mem::take(&mut *run) {
                let list = if vips.clone().any(|vip| vip == l.vip) {
                    &mut keep
                } else {
                    // Wakes its workers now; they are joined later.
                    l.listener.shutdown();
                    &mut stopped.0
                };
                // Within the capacity reserved: cannot fail.
                let _ = list.push(l, GFP_KERNEL);
            }
            *run = keep;
            run.reserve(vips.clone().count(), GFP_KERNEL)?;
            for vip in vips {
                if run.iter().any(|l| l.vip == vip) {
                    continue;
                }
                match start(node, vip) {
                    // Within the capacity reserved.
                    Ok(l) => run.push(l, GFP_KERNEL)?,
                    Err(e) => pr_err!("cannot listen on {}: {:?}\n", vip, e),
                }
            }
        }
        Ok(())
    }
}

fn start(node: &Arc<Node>, vip: Endpoint<Ip>) -> Result<Listening> {
    // Idle workers block in accept until a client comes, the listener is
    // shut down or [`IDLE_ACCEPT_MS`] pass: an idle service costs one
    // wake-up per worker and second.
    let sock = Socket::tcp_for(node.net(), vip.addr, IDLE_ACCEPT_MS, TICK_MS)?;
    sock.set_rcvbuf(RCVBUF);
    sock.set_freebind();
    // Its connections' packets carry the mark, by which the hooks know the
    // acknowledgements to withhold.
    sock.set_mark(LISTENER_MARK);
    sock.listen(vip, BACKLOG)?;
    // Built first, so that a failure half-way stops the workers started.
    let mut l = Listening {
        vip,
        listener: Arc::new(sock, GFP_KERNEL)?,
        workers: KVec::with_capacity(WORKERS, GFP_KERNEL)?,
    };
    let lists = Arc::pin_init(
        pin_init!(Lists {
            waiting: AtomicUsize::new(0),
            late: AtomicUsize::new(0),
            orphans <- new_mutex!(KVec::new(), "baton_utcp_orphans"),
            orphaned: AtomicUsize::new(0),
        }),
        GFP_KERNEL,
    )?;
    for _ in 0..WORKERS {
        let w = Arc::new(
            Worker {
                node: node.clone(),
                vip,
                listener: l.listener.clone(),
                lists: lists.clone(),
            },
            GFP_KERNEL,
        )?;
        l.workers
            .push(Thread::spawn(c"baton-utcp", w, worker_main)?, GFP_KERNEL)?;
    }
    Ok(l)
}

/// A worker's connections waiting for their requests.
struct Waiting<'a> {
    w: &'a Worker,
    stop: &'a Stop,
    list: KVec<Arrival>,
}

impl Waiting<'_> {
    fn stats(&self) -> &crate::conn::Stats {
        self.w.node.conns().stats()
    }

    /// Adds `a`. If the service's lists are full, the longest waiting
    /// connection of this list is handed off instead, or `a` itself if this
    /// list is empty.
    fn push(&mut self, a: Arrival) {
        let room = self
            .w
            .lists
            .waiting
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < WAITING_MAX).then_some(n + 1)
            })
            .is_ok();
        if !room {
            self.stats().inc(Stat::Hurried);
            let oldest = (0..self.list.len()).min_by_key(|&i| self.list[i].deadline());
            let out = match oldest {
                Some(i) => core::mem::replace(&mut self.list[i], a),
                None => a,
            };
            return self.serve(out);
        }
        let bytes = a.bytes();
        if self.list.push(a, GFP_KERNEL).is_ok() {
            self.stats().wait_more(1, bytes);
        } else {
            self.w.lists.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Hands `a` off. Its list goes to the service's other workers first:
    /// the handoff holds this worker until the back-end answers.
    fn serve(&mut self, a: Arrival) {
        if !self.list.is_empty() {
            let mut orphans = self.w.lists.orphans.lock();
            if orphans.reserve(self.list.len(), GFP_KERNEL).is_ok() {
                let n = self.list.len();
                while let Some(o) = vec::swap_remove(&mut self.list, 0) {
                    // Within the capacity reserved: cannot fail.
                    let _ = orphans.push(o, GFP_KERNEL);
                }
                self.w.lists.orphaned.fetch_add(n, Ordering::Relaxed);
            }
        }
        front::serve(&self.w.node, self.w.vip, a, self.stop);
    }

    /// Takes the lists other workers left, if any.
    fn adopt(&mut self) {
        if self.w.lists.orphaned.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut orphans = self.w.lists.orphans.lock();
        if self.list.reserve(orphans.len(), GFP_KERNEL).is_err() {
            return;
        }
        let n = orphans.len();
        while let Some(o) = vec::swap_remove(&mut orphans, 0) {
            // Within the capacity reserved: cannot fail.
            let _ = self.list.push(o, GFP_KERNEL);
        }
        self.w.lists.orphaned.fetch_sub(n, Ordering::Relaxed);
    }

    fn take(&mut self, i: usize) -> Option<Arrival> {
        let a = vec::swap_remove(&mut self.list, i)?;
        self.w.lists.waiting.fetch_sub(1, Ordering::Relaxed);
        self.stats().wait_less(1, a.bytes());
        Some(a)
    }

    /// Reads from the waiting connections that have news (data, a FIN,
    /// their deadline passed) and hands off one that is ready; whether
    /// one was handed off or gone. One whose request came goes first; a
    /// late one (see [`LATE_MAX`]) only if none came and fewer than
    /// [`LATE_MAX`] workers of the service hand off late ones. At most one
    /// handoff per call: a handoff waits for the peer's answer, and a list
    /// whose connections all time out together (slowloris) would otherwise
    /// keep the worker from accepting new clients for as many round trips.
    fn poll(&mut self) -> bool {
        let mut progress = false;
        let now = kthread::now_ms();
        let mut late = None;
        let mut i = 0;
        while i < self.list.len() {
            let a = &mut self.list[i];
            // Without news, reading changes nothing: skipped, as are late
            // ones with nothing new once the pass has one to hand off.
            if !a.readable() && (now <= a.deadline() || late.is_some()) {
                i += 1;
                continue;
            }
            let before = a.bytes();
            let read = a.read(false, self.w.node.conns().withholding());
            if a.released() {
                self.w.node.conns().stats().inc(Stat::AcksReleased);
            }
            // Its buffer may have grown.
            let after = a.bytes();
            if after != before {
                self.w.node.conns().stats().wait_more(0, after - before);
            }
            match read {
                Ok(false) => i += 1,
                Ok(true) if !a.complete() => {
                    late.get_or_insert(i);
                    i += 1;
                }
                ready => {
                    progress = true;
                    if let (Some(a), Ok(_)) = (self.take(i), ready) {
                        self.serve(a);
                        return true;
                    }
                    // Gone without a byte: dropped, the pass goes on. The
                    // last connection took its place, so `late` (before
                    // `i`) still names the same one.
                }
            }
        }
        let Some(i) = late else {
            return progress;
        };
        let gate = &self.w.lists.late;
        if gate
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < LATE_MAX).then_some(n + 1)
            })
            .is_err()
        {
            return progress;
        }
        if let Some(a) = self.take(i) {
            self.serve(a);
        }
        gate.fetch_sub(1, Ordering::Relaxed);
        true
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let n = self.list.len();
        let bytes = self.list.iter().map(Arrival::bytes).sum();
        self.w.lists.waiting.fetch_sub(n, Ordering::Relaxed);
        self.stats().wait_less(n as u32, bytes);
    }
}

fn worker_main(w: &Worker, stop: &Stop) {
    let mut waiting = Waiting {
        w,
        stop,
        list: KVec::new(),
    };
    let mut pause = POLL_MS;
    while !stop.requested() {
        waiting.adopt();
        // Block in accept only when no connection waits.
        let accepted = if waiting.list.is_empty() {
            w.listener.accept(FIRST_WAIT_MS, TICK_MS)
        } else {
            w.listener.accept_nowait(FIRST_WAIT_MS, TICK_MS)
        };
        let mut progress = accepted.is_ok();
        match accepted {
            Ok(sock) => {
                let timeout = w.node.published().base.request_timeout_ms;
                if let Some(mut a) = Arrival::new(sock, timeout) {
                    let read = a.read(true, w.node.conns().withholding());
                    if a.released() {
                        w.node.conns().stats().inc(Stat::AcksReleased);
                    }
                    match read {
                        Ok(true) => waiting.serve(a),
                        Ok(false) => waiting.push(a),
                        // Gone before sending anything: nothing to hand.
                        Err(_) => {}
                    }
                }
            }
            Err(e) if e == EAGAIN || e == EINTR || e == ERESTARTSYS => {}
            Err(_) => kthread::sleep_ms(TICK_MS),
        }
        progress |= waiting.poll();
        if progress {
            pause = POLL_MS;
        } else if !waiting.list.is_empty() {
            kthread::sleep_ms(pause);
            pause = (pause * 2).min(POLL_MAX_MS);
        }
    }
    // What others left goes with this list (its drop counts them out):
    // every worker takes them once it can leave none any more.
    waiting.adopt();
}

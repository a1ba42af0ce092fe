// SPDX-License-Identifier: GPL-2.0

//! UTCP: the front-end's kernel listeners, one per service, on the VIP
//! and port. A few worker threads per service accept connections and run
//! the handoff ([`crate::handoff::serve`]), so that one slow client holds
//! one worker, not the service.
//!
//! The listeners' receive buffer is small: a client can send only a few
//! kilobytes before the handoff, all of which travel in the HANDOFF_REQ.

use crate::{
    handoff,
    proto::ctrl::Endpoint,
    state::{Runtime, Service},
    sys::{
        kthread::{self, Thread},
        socket::{SockAddr, Socket},
    },
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// Worker threads per service. A handoff holds its worker until the
/// back-end answers, mostly asleep (`make bench`: with 4, a front-end
/// topped out near 120 handoffs/s at 7% CPU; with 16, 260/s).
const WORKERS: usize = 16;
/// Socket timeout of blocking calls: the latency of stop requests.
const TICK_MS: u32 = 250;
/// Receive buffer of the listeners (the kernel doubles it).
const RCVBUF: i32 = 8 * 1024;
/// Listen backlog.
const BACKLOG: i32 = 128;

/// What a worker works with.
struct Worker {
    rt: Arc<Runtime>,
    vip: Endpoint,
    listener: Arc<Socket>,
}

struct Listening {
    vip: Endpoint,
    listener: Arc<Socket>,
    /// Joined when dropped.
    _workers: KVec<Thread<Worker>>,
}

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

    /// Listens on every service of `services`, and on no other.
    pub(crate) fn reconcile(&self, rt: &Arc<Runtime>, services: &[Service]) -> Result {
        let mut stopped = KVec::new();
        {
            let mut run = self.running.lock();
            let mut keep = KVec::new();
            for l in core::mem::take(&mut *run) {
                if services.iter().any(|s| s.conf.vip == l.vip) {
                    keep.push(l, GFP_KERNEL)?;
                } else {
                    l.listener.shutdown();
                    stopped.push(l, GFP_KERNEL)?;
                }
            }
            *run = keep;
            for s in services {
                let vip = s.conf.vip;
                if run.iter().any(|l| l.vip == vip) {
                    continue;
                }
                match start(rt, vip) {
                    Ok(l) => run.push(l, GFP_KERNEL)?,
                    Err(e) => {
                        let [a, b, c, d] = vip.addr;
                        pr_err!(
                            "cannot listen on {}.{}.{}.{}:{}: {:?}\n",
                            a,
                            b,
                            c,
                            d,
                            vip.port,
                            e
                        );
                    }
                }
            }
        }
        // Joins the workers outside the lock.
        drop(stopped);
        Ok(())
    }
}

fn start(rt: &Arc<Runtime>, vip: Endpoint) -> Result<Listening> {
    let sock = Socket::tcp(rt.net.get(), TICK_MS, TICK_MS)?;
    sock.set_rcvbuf(RCVBUF);
    sock.set_freebind();
    sock.listen(
        SockAddr {
            addr: vip.addr,
            port: vip.port,
        },
        BACKLOG,
    )?;
    let listener = Arc::new(sock, GFP_KERNEL)?;
    let mut workers = KVec::with_capacity(WORKERS, GFP_KERNEL)?;
    for _ in 0..WORKERS {
        let w = Arc::new(
            Worker {
                rt: rt.clone(),
                vip,
                listener: listener.clone(),
            },
            GFP_KERNEL,
        )?;
        workers.push(Thread::spawn(c"baton-utcp", w, worker_main)?, GFP_KERNEL)?;
    }
    Ok(Listening {
        vip,
        listener,
        _workers: workers,
    })
}

fn worker_main(w: &Worker) {
    while !kthread::should_stop() {
        match w.listener.accept(TICK_MS, TICK_MS) {
            Ok(sock) => handoff::serve(&w.rt, w.vip, sock),
            Err(e) if e == EAGAIN || e == EINTR || e == ERESTARTSYS => {}
            Err(_) => kthread::sleep_ms(TICK_MS),
        }
    }
}

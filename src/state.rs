// SPDX-License-Identifier: GPL-2.0

//! Per-network-namespace state: configuration, the control channel and the
//! packet counters of the netfilter hooks (the BTCP hooks of the design,
//! which only count for now).

use crate::{
    conn::Conns,
    ctrl::{self, Ctrl},
    front, gc,
    proto::{
        config::{Config, PeerConf},
        rules::RuleConf,
        service::{BackendConf, Endpoint, ServiceConf},
        uapi::Hook,
    },
    replay::Replays,
    sys::{
        crypto::Hmac,
        kthread::{self, Thread},
        netfilter::{self, HookSpec, InetHook, SkBuff, Verdict},
        netns::{self, NetId, NetPtr},
        param, vec,
    },
    teardown,
    utcp::{self, Utcp},
};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    new_condvar, new_mutex, new_spinlock,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        Arc, CondVar, Mutex, SpinLock,
    },
};

/// Hook priority: after conntrack defragmentation and before NAT, as IPVS
/// sits (`NF_IP_PRI_NAT_DST - 1`).
const PRIORITY: i32 = -101;

static NET_ID: NetId = NetId::new();

/// The configuration of a namespace, changed only under its lock.
pub(crate) struct NetConfig {
    /// Scalar settings (`config-set`).
    pub(crate) base: Config,
    /// Peers (`peer-add`, `peer-del`), at most `MAX_PEERS`.
    pub(crate) peers: KVec<PeerConf>,
    /// Services (`service-add`, ...), at most `MAX_SERVICES`.
    pub(crate) services: KVec<Service>,
    /// The key that authenticates the control channel (`config-set key`),
    /// as an HMAC transform: the key bytes themselves are not kept.
    pub(crate) key: Option<Arc<Hmac>>,
}

/// A service and its back-ends, as configured.
pub(crate) struct Service {
    /// Its configuration.
    pub(crate) conf: ServiceConf,
    /// Its back-ends, at most `MAX_BACKENDS`, in the order added.
    pub(crate) backends: KVec<BackendConf>,
    /// Content rules, in order, at most `MAX_RULES`.
    pub(crate) rules: KVec<RuleConf>,
}

/// What the per-connection path (service workers, replays, the collector)
/// reads of the configuration: a copy published whole after every change
/// ([`NetConfig::commit`]) and read without the configuration mutex, which
/// is held while threads start. Readers take a reference under a spinlock
/// held for a reference count's increment; the mutex's holder never waits
/// for them.
pub(crate) struct Published {
    /// Scalar settings.
    pub(crate) base: Config,
    /// The services.
    pub(crate) services: KVec<Arc<ServiceView>>,
}

impl Published {
    fn empty(ctrl_port: u16) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                base: Config::new(ctrl_port),
                services: KVec::new(),
            },
            GFP_KERNEL,
        )?)
    }

    /// The service of `vip`.
    pub(crate) fn service(&self, vip: &Endpoint) -> Option<&ServiceView> {
        self.services
            .iter()
            .find(|s| s.conf.vip == *vip)
            .map(|s| &**s)
    }
}

/// A published service: its configuration and its scheduler's state.
#[pin_data]
pub(crate) struct ServiceView {
    /// Its configuration.
    pub(crate) conf: ServiceConf,
    /// Its back-ends, in the order added.
    pub(crate) backends: KVec<BackendConf>,
    /// Content rules, in order.
    pub(crate) rules: KVec<RuleConf>,
    /// What the round-robin schedulers remember between connections.
    #[pin]
    pub(crate) sched: SpinLock<SchedState>,
}

/// See [`ServiceView::sched`].
pub(crate) struct SchedState {
    /// Round-robin position.
    pub(crate) rr_cursor: usize,
    /// Smooth weighted round-robin state, one entry per back-end.
    pub(crate) wrr_current: KVec<i64>,
}

impl ServiceView {
    /// A copy of `s`; the scheduler goes on from `prev`, the service's
    /// previous version (its weighted state only if the back-ends are
    /// the same).
    fn new(s: &Service, prev: Option<&ServiceView>) -> Result<Arc<Self>> {
        let mut backends = KVec::with_capacity(s.backends.len(), GFP_KERNEL)?;
        backends.extend_from_slice(&s.backends, GFP_KERNEL)?;
        let mut rules = KVec::with_capacity(s.rules.len(), GFP_KERNEL)?;
        rules.extend_from_slice(&s.rules, GFP_KERNEL)?;
        let mut wrr_current = KVec::from_elem(0i64, s.backends.len(), GFP_KERNEL)?;
        let mut rr_cursor = 0;
        if let Some(p) = prev {
            let st = p.sched.lock();
            rr_cursor = st.rr_cursor;
            if p.backends[..] == s.backends[..] && st.wrr_current.len() == wrr_current.len() {
                for (to, from) in wrr_current.iter_mut().zip(st.wrr_current.iter()) {
                    *to = *from;
                }
            }
        }
        Arc::pin_init(
            try_pin_init!(Self {
                conf: s.conf,
                backends,
                rules,
                sched <- new_spinlock!(
                    SchedState {
                        rr_cursor,
                        wrr_current,
                    },
                    "baton_sched"
                ),
            }? Error),
            GFP_KERNEL,
        )
    }
}

impl NetConfig {
    /// Ends a change: publishes the configuration to the per-connection
    /// path, makes the threads follow it (the control channel and the
    /// service listeners) while the lock keeps concurrent changes in order,
    /// then releases the lock and only then joins the threads that stopped.
    /// A stopping thread may be finishing a connection, and nothing a
    /// thread waits for is held while it is joined.
    pub(crate) fn commit(this: Guard<'_, NetConfig, MutexBackend>, rt: &Arc<Runtime>) -> Result {
        let mut stopped_ctrl = ctrl::Stopped::default();
        let mut stopped_utcp = utcp::Stopped::default();
        let res = this.publish(rt).and_then(|()| {
            rt.ctrl.reconcile(
                rt,
                this.base.node_id,
                this.base.ctrl_port,
                &this.peers,
                this.key.as_ref(),
                &mut stopped_ctrl,
            )?;
            rt.utcp.reconcile(rt, &this.services, &mut stopped_utcp)
        });
        drop(this);
        drop(stopped_ctrl);
        drop(stopped_utcp);
        res
    }

    fn publish(&self, rt: &Runtime) -> Result {
        let old = rt.published();
        let mut services = KVec::with_capacity(self.services.len(), GFP_KERNEL)?;
        for s in self.services.iter() {
            services.push(ServiceView::new(s, old.service(&s.conf.vip))?, GFP_KERNEL)?;
        }
        let new = Arc::new(
            Published {
                base: self.base,
                services,
            },
            GFP_KERNEL,
        )?;
        // The old copy is freed outside the spinlock, by its last reader.
        let old = core::mem::replace(&mut *rt.published.lock(), new);
        drop(old);
        Ok(())
    }
}

/// What the threads and hooks of a namespace share: configuration, control
/// channel, service listeners and connection table.
///
/// The threads hold references to it; [`Runtime::shutdown`] stops them.
#[pin_data]
pub(crate) struct Runtime {
    /// The namespace.
    pub(crate) net: NetPtr,
    /// This namespace state's boot id (random, never 0): sent in HELLO, so
    /// that peers see when this node's state was made anew.
    pub(crate) boot_id: u64,
    #[pin]
    config: Mutex<NetConfig>,
    /// What the per-connection path reads of `config`.
    #[pin]
    published: SpinLock<Arc<Published>>,
    /// The control channel.
    #[pin]
    pub(crate) ctrl: Ctrl,
    /// The service listeners.
    #[pin]
    pub(crate) utcp: Utcp,
    /// The connections.
    #[pin]
    pub(crate) conns: Conns,
    /// The back-end's replays of peers' handoffs.
    #[pin]
    pub(crate) replays: Replays,
    /// Replies to this node's pending handoffs.
    #[pin]
    pub(crate) replies: Mutex<KVec<(u64, front::Reply)>>,
    /// Notified when a reply is added to `replies`.
    #[pin]
    pub(crate) replied: CondVar,
    #[pin]
    gc: Mutex<Option<Thread<Runtime>>>,
}

impl Runtime {
    /// The configuration as last published: what a connection's path
    /// reads, without the configuration mutex.
    pub(crate) fn published(&self) -> Arc<Published> {
        self.published.lock().clone()
    }

    fn start(self: &Arc<Self>) -> Result {
        let t = Thread::spawn(c"baton-gc", self.clone(), gc::gc_main)?;
        *self.gc.lock() = Some(t);
        Ok(())
    }

    /// Stops every thread (which drops their references) and forgets the
    /// connections.
    fn shutdown(self: &Arc<Self>) {
        let gc = self.gc.lock().take();
        drop(gc);
        let mut stopped = utcp::Stopped::default();
        if let Err(e) = self.utcp.reconcile(self, &[], &mut stopped) {
            pr_err!("stopping the service listeners: {:?}\n", e);
        }
        drop(stopped);
        // Before the channels: the requests it refuses get their NACKs.
        self.replays.stop(self);
        let mut stopped = ctrl::Stopped::default();
        if let Err(e) = self.ctrl.reconcile(self, 0, 0, &[], None, &mut stopped) {
            pr_err!("stopping the control channel: {:?}\n", e);
        }
        drop(stopped);
        vec::clear(&mut self.replies.lock());
    }
}

/// What baton keeps in each network namespace.
#[pin_data(PinnedDrop)]
pub(crate) struct NetState {
    rt: Arc<Runtime>,
    packets: [AtomicU64; Hook::ALL.len()],
}

impl NetState {
    /// The namespace's configuration.
    pub(crate) fn config(&self) -> &Mutex<NetConfig> {
        &self.rt.config
    }

    /// The namespace's control channel.
    pub(crate) fn ctrl(&self) -> &Ctrl {
        &self.rt.ctrl
    }

    /// The namespace's runtime.
    pub(crate) fn rt(&self) -> &Arc<Runtime> {
        &self.rt
    }

    /// Packets seen at `hook` since the namespace (or the module) started.
    pub(crate) fn packets(&self, hook: Hook) -> u64 {
        self.packets[hook.index()].load(Ordering::Relaxed)
    }
}

#[pinned_drop]
impl PinnedDrop for NetState {
    fn drop(self: Pin<&mut Self>) {
        self.rt.shutdown();
    }
}

impl netns::NetState for NetState {
    fn id() -> &'static NetId {
        &NET_ID
    }

    fn pre_exit(&self) {
        teardown::going_away(&self.rt);
    }

    fn init(net: NetPtr) -> impl PinInit<Self, Error> {
        let rt = Arc::pin_init(
            try_pin_init!(Runtime {
                net,
                boot_id: boot_id(),
                config <- new_mutex!(
                    NetConfig {
                        base: Config::new(param::ctrl_port()),
                        peers: KVec::new(),
                        services: KVec::new(),
                        key: None,
                    },
                    "baton_config"
                ),
                published <- new_spinlock!(
                    Published::empty(param::ctrl_port())?,
                    "baton_published"
                ),
                ctrl <- Ctrl::new(*net),
                utcp <- Utcp::new(),
                // Handoff ids start at random: a peer's CONN_END for a
                // connection of this node's previous life (before rmmod or
                // a namespace of the same addresses) must not name a new one.
                conns <- Conns::new(
                    kthread::random_u32(),
                    u64::from(kthread::random_u32()),
                    param::conn_tab_bits(),
                    param::conn_max() as usize
                ),
                replays <- Replays::new(),
                replies <- new_mutex!(KVec::new(), "baton_replies"),
                replied <- new_condvar!("baton_replied"),
                gc <- new_mutex!(None, "baton_gc"),
            }? Error),
            GFP_KERNEL,
        )
        .and_then(|rt| {
            rt.start()?;
            Ok(rt)
        });
        try_pin_init!(Self {
            rt: rt?,
            packets: Default::default(),
        }? Error)
    }
}

/// A random boot id, never 0.
fn boot_id() -> u64 {
    let id = (u64::from(kthread::random_u32()) << 32) | u64::from(kthread::random_u32());
    id.max(1)
}

fn to_hook(hook: InetHook) -> Option<Hook> {
    match hook {
        InetHook::PreRouting => Some(Hook::PreRouting),
        InetHook::LocalIn => Some(Hook::LocalIn),
        InetHook::LocalOut => Some(Hook::LocalOut),
        InetHook::PostRouting => Some(Hook::PostRouting),
        InetHook::Forward => None,
    }
}

impl netfilter::Hook for NetState {
    const HOOKS: &'static [HookSpec] = &[
        HookSpec {
            hook: InetHook::PreRouting,
            priority: PRIORITY,
        },
        HookSpec {
            hook: InetHook::LocalIn,
            priority: PRIORITY,
        },
        HookSpec {
            hook: InetHook::LocalOut,
            priority: PRIORITY,
        },
        HookSpec {
            hook: InetHook::PostRouting,
            priority: PRIORITY,
        },
    ];

    fn hook(&self, hook: InetHook, skb: &mut SkBuff) -> Verdict {
        if let Some(h) = to_hook(hook) {
            self.packets[h.index()].fetch_add(1, Ordering::Relaxed);
        }
        match hook {
            InetHook::PreRouting => self.rt.conns.pre_routing(skb, kthread::now_ms()),
            InetHook::PostRouting => self.rt.conns.post_routing(skb, kthread::now_ms()),
            _ => Verdict::Accept,
        }
    }
}

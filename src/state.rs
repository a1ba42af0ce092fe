// SPDX-License-Identifier: GPL-2.0

//! Per-network-namespace state: configuration, the control channel and the
//! packet counters of the netfilter hooks (the BTCP hooks of the design,
//! which only count for now).

use crate::{
    conn::Conns,
    ctrl::Ctrl,
    handoff,
    proto::{
        config::{Config, PeerConf},
        rules::RuleConf,
        service::{BackendConf, ServiceConf},
        uapi::Hook,
    },
    sys::{
        crypto::Hmac,
        kthread::{self, Thread},
        netfilter::{self, HookSpec, InetHook, SkBuff, Verdict},
        netns::{self, NetId, NetPtr},
        param, vec,
    },
    utcp::Utcp,
};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
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

/// A service and its back-ends.
pub(crate) struct Service {
    /// Its configuration.
    pub(crate) conf: ServiceConf,
    /// Its back-ends, at most `MAX_BACKENDS`, in the order added.
    pub(crate) backends: KVec<BackendConf>,
    /// Round-robin position.
    pub(crate) rr_cursor: usize,
    /// Smooth weighted round-robin state, one entry per back-end.
    pub(crate) wrr_current: KVec<i64>,
    /// Content rules, in order, at most `MAX_RULES`.
    pub(crate) rules: KVec<RuleConf>,
}

impl NetConfig {
    /// Makes the running threads follow this configuration: the control
    /// channel and the service listeners. Called with the lock held, so that
    /// concurrent changes reach them in order.
    pub(crate) fn apply_to(&self, rt: &Arc<Runtime>) -> Result {
        rt.ctrl.reconcile(
            rt,
            self.base.node_id,
            self.base.ctrl_port,
            &self.peers,
            self.key.as_ref(),
        )?;
        rt.utcp.reconcile(rt, &self.services)
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
    #[pin]
    config: Mutex<NetConfig>,
    /// The control channel.
    #[pin]
    pub(crate) ctrl: Ctrl,
    /// The service listeners.
    #[pin]
    pub(crate) utcp: Utcp,
    /// The connections.
    #[pin]
    pub(crate) conns: Conns,
    /// Replies to this node's pending handoffs.
    #[pin]
    pub(crate) replies: Mutex<KVec<(u64, handoff::Reply)>>,
    /// Notified when a reply is added to `replies`.
    #[pin]
    pub(crate) replied: CondVar,
    #[pin]
    gc: Mutex<Option<Thread<Runtime>>>,
}

impl Runtime {
    /// The namespace's configuration.
    pub(crate) fn config(&self) -> &Mutex<NetConfig> {
        &self.config
    }

    fn start(self: &Arc<Self>) -> Result {
        let t = Thread::spawn(c"baton-gc", self.clone(), handoff::gc_main)?;
        *self.gc.lock() = Some(t);
        Ok(())
    }

    /// Stops every thread (which drops their references) and forgets the
    /// connections.
    fn shutdown(self: &Arc<Self>) {
        let gc = self.gc.lock().take();
        drop(gc);
        if let Err(e) = self.utcp.reconcile(self, &[]) {
            pr_err!("stopping the service listeners: {:?}\n", e);
        }
        if let Err(e) = self.ctrl.reconcile(self, 0, 0, &[], None) {
            pr_err!("stopping the control channel: {:?}\n", e);
        }
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
        handoff::going_away(&self.rt);
    }

    fn init(net: NetPtr) -> impl PinInit<Self, Error> {
        let rt = Arc::pin_init(
            try_pin_init!(Runtime {
                net,
                config <- new_mutex!(
                    NetConfig {
                        base: Config::new(param::ctrl_port()),
                        peers: KVec::new(),
                        services: KVec::new(),
                        key: None,
                    },
                    "baton_config"
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

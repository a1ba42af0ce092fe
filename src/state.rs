// SPDX-License-Identifier: GPL-2.0

//! Per-network-namespace state: configuration, the control channel and the
//! packet counters of the netfilter hooks (the BTCP hooks of the design,
//! which only count for now).

use crate::{
    ctrl::Ctrl,
    proto::{
        config::{Config, PeerConf},
        service::{BackendConf, ServiceConf},
        uapi::Hook,
    },
    sys::{
        netfilter::{self, HookSpec, InetHook, SkBuff, Verdict},
        netns::{self, NetId, NetPtr},
        param,
    },
};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{new_mutex, prelude::*, sync::Mutex};

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
}

/// A service and its back-ends.
pub(crate) struct Service {
    /// Its configuration.
    pub(crate) conf: ServiceConf,
    /// Its back-ends, at most `MAX_BACKENDS`, in the order added.
    pub(crate) backends: KVec<BackendConf>,
}

impl NetConfig {
    /// Makes the control channel follow this configuration. Called with the
    /// lock held, so that concurrent changes reach it in order.
    pub(crate) fn apply_to(&self, ctrl: &Ctrl) -> Result {
        ctrl.reconcile(self.base.node_id, self.base.ctrl_port, &self.peers)
    }
}

/// What baton keeps in each network namespace.
#[pin_data]
pub(crate) struct NetState {
    #[pin]
    config: Mutex<NetConfig>,
    /// Dropped after `config`: stops the control-channel threads.
    #[pin]
    ctrl: Ctrl,
    packets: [AtomicU64; Hook::ALL.len()],
}

impl NetState {
    /// The namespace's configuration.
    pub(crate) fn config(&self) -> &Mutex<NetConfig> {
        &self.config
    }

    /// The namespace's control channel.
    pub(crate) fn ctrl(&self) -> &Ctrl {
        &self.ctrl
    }

    /// Packets seen at `hook` since the namespace (or the module) started.
    pub(crate) fn packets(&self, hook: Hook) -> u64 {
        self.packets[hook.index()].load(Ordering::Relaxed)
    }
}

impl netns::NetState for NetState {
    fn id() -> &'static NetId {
        &NET_ID
    }

    fn init(net: NetPtr) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            config <- new_mutex!(
                NetConfig {
                    base: Config::new(param::ctrl_port()),
                    peers: KVec::new(),
                    services: KVec::new(),
                },
                "baton_config"
            ),
            ctrl <- Ctrl::new(net),
            packets: Default::default(),
        })
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

    fn hook(&self, hook: InetHook, _skb: &SkBuff) -> Verdict {
        if let Some(hook) = to_hook(hook) {
            self.packets[hook.index()].fetch_add(1, Ordering::Relaxed);
        }
        Verdict::Accept
    }
}

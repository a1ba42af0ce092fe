// SPDX-License-Identifier: GPL-2.0

//! Per-network-namespace state: configuration and the packet counters of the
//! netfilter hooks (the BTCP hooks of the design, which only count for now).

use crate::{
    proto::{config::Config, uapi::Hook},
    sys::{
        netfilter::{self, HookSpec, InetHook, SkBuff, Verdict},
        netns::{self, Net, NetId},
        param,
    },
};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// Hook priority: after conntrack defragmentation and before NAT, as IPVS
/// sits (`NF_IP_PRI_NAT_DST - 1`).
const PRIORITY: i32 = -101;

static NET_ID: NetId = NetId::new();

/// What baton keeps in each network namespace.
#[pin_data]
pub(crate) struct NetState {
    #[pin]
    config: Mutex<Config>,
    packets: [AtomicU64; Hook::ALL.len()],
}

impl NetState {
    /// The namespace's configuration.
    pub(crate) fn config(&self) -> &Mutex<Config> {
        &self.config
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

    fn init(_net: &Net) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            config <- new_mutex!(Config::new(param::ctrl_port()), "baton_config"),
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

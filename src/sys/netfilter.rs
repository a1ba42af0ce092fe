// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks.
//!
//! C header: [`include/linux/netfilter.h`].
//!
//! A [`Hook`] sees the IPv4 and IPv6 packets of one network namespace at
//! the hook points it asks for, told which family each is. Hooks are not registered on their own: the pernet
//! layer ([`super::netns`]) registers a namespace's hooks right after its
//! state is initialised and unregisters them before the state is dropped, so
//! a hook never outlives the data it is called with nor the namespace.
//!
//! [`include/linux/netfilter.h`]: srctree/include/linux/netfilter.h

use super::{bindings, netns::Net, route::Route};
use core::ffi::{c_uint, c_void};
use kernel::{prelude::*, types::Opaque};

/// The IP family of a hooked packet (`NFPROTO_IPV4`, `NFPROTO_IPV6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IpFamily {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl IpFamily {
    const ALL: [IpFamily; 2] = [IpFamily::V4, IpFamily::V6];

    fn to_raw(self) -> u8 {
        match self {
            IpFamily::V4 => bindings::NFPROTO_IPV4 as u8,
            IpFamily::V6 => bindings::NFPROTO_IPV6 as u8,
        }
    }

    fn from_raw(raw: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.to_raw() == raw)
    }
}

/// Netfilter hook points of both IP families (`enum nf_inet_hooks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InetHook {
    /// `NF_INET_PRE_ROUTING`: every packet that arrives, before routing.
    PreRouting,
    /// `NF_INET_LOCAL_IN`: packets for this host.
    LocalIn,
    /// `NF_INET_FORWARD`: packets routed through this host.
    Forward,
    /// `NF_INET_LOCAL_OUT`: packets this host sends.
    LocalOut,
    /// `NF_INET_POST_ROUTING`: every packet that leaves, after routing.
    PostRouting,
}

impl InetHook {
    fn to_raw(self) -> c_uint {
        match self {
            Self::PreRouting => bindings::nf_inet_hooks_NF_INET_PRE_ROUTING,
            Self::LocalIn => bindings::nf_inet_hooks_NF_INET_LOCAL_IN,
            Self::Forward => bindings::nf_inet_hooks_NF_INET_FORWARD,
            Self::LocalOut => bindings::nf_inet_hooks_NF_INET_LOCAL_OUT,
            Self::PostRouting => bindings::nf_inet_hooks_NF_INET_POST_ROUTING,
        }
    }

    fn from_raw(raw: c_uint) -> Option<Self> {
        [
            Self::PreRouting,
            Self::LocalIn,
            Self::Forward,
            Self::LocalOut,
            Self::PostRouting,
        ]
        .into_iter()
        .find(|h| h.to_raw() == raw)
    }
}

/// Where a hook runs: the hook point and its priority among other hooks
/// there (lower runs first; see `enum nf_ip_hook_priorities`, whose values
/// IPv6's `nf_ip6_hook_priorities` share). Registered for both families.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HookSpec {
    /// The hook point.
    pub(crate) hook: InetHook,
    /// The priority.
    pub(crate) priority: i32,
}

/// What to do with a packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let it go on (`NF_ACCEPT`).
    Accept,
    /// Drop it (`NF_DROP`).
    Drop,
    /// Send it, addresses unchanged, to the route's neighbour
    /// (`NF_STOLEN`): an IPv4 packet through the route, an IPv6 one to the
    /// neighbour's link-layer address on the route's link (it must fit:
    /// [`Route::fits`]). Only for a packet that arrived (the pre-routing
    /// hook): the hook has made its header ready (its TTL or hop limit
    /// lowered).
    Relay(Route),
}

/// A socket buffer, borrowed for the duration of a hook call.
///
/// # Invariants
///
/// The wrapped `struct sk_buff` is valid for as long as the reference is.
#[repr(transparent)]
pub(crate) struct SkBuff(Opaque<bindings::sk_buff>);

impl SkBuff {
    /// # Safety
    ///
    /// `ptr` must point to a valid `sk_buff` that outlives `'a` and that
    /// nothing else uses meanwhile (a hook owns the packet during its call).
    unsafe fn from_raw<'a>(ptr: *mut bindings::sk_buff) -> &'a mut SkBuff {
        // SAFETY: `repr(transparent)` over `Opaque<sk_buff>`; the caller
        // guarantees validity and exclusive use for `'a`.
        unsafe { &mut *ptr.cast::<SkBuff>() }
    }

    pub(super) fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.0.get()
    }
}

/// A packet handler, called in softirq or process context with RCU read
/// lock held; it must not sleep.
pub(crate) trait Hook: Send + Sync + Sized + 'static {
    /// The hook points to attach to.
    const HOOKS: &'static [HookSpec];

    /// Decides what happens to `skb`, a packet of `family` seen at `hook`.
    fn hook(&self, hook: InetHook, family: IpFamily, skb: &mut SkBuff) -> Verdict;
}

/// The hooks of one namespace, registered.
///
/// # Invariants
///
/// `ops` holds `2 * T::HOOKS.len()` entries (each hook point for each
/// family) registered with
/// `nf_register_net_hooks` in one namespace, whose `priv` is a `*const T`.
pub(super) struct NetHooks {
    ops: KVec<bindings::nf_hook_ops>,
}

impl NetHooks {
    /// Registers `T::HOOKS` in `net`, each called with `data`.
    ///
    /// # Safety
    ///
    /// `data` must stay valid, and `net` alive, until [`NetHooks::unregister`]
    /// is called with the same `net`; the result must not be dropped without
    /// that call.
    pub(super) unsafe fn register<T: Hook>(net: &Net, data: *const T) -> Result<Self> {
        let mut ops = KVec::with_capacity(2 * T::HOOKS.len(), GFP_KERNEL)?;
        for family in IpFamily::ALL {
            for spec in T::HOOKS {
                ops.push(
                    bindings::nf_hook_ops {
                        hook: Some(hook_callback::<T>),
                        priv_: data.cast_mut().cast::<c_void>(),
                        pf: family.to_raw(),
                        hooknum: spec.hook.to_raw(),
                        priority: spec.priority,
                        ..Default::default()
                    },
                    GFP_KERNEL,
                )?;
            }
        }
        // SAFETY: `net` is alive; `ops` is an array of `ops.len()` valid hook
        // ops whose memory stays put (never pushed to again) until
        // `unregister`; the caller keeps `data` valid until then.
        kernel::error::to_result(unsafe {
            bindings::nf_register_net_hooks(net.as_ptr(), ops.as_ptr(), ops.len() as c_uint)
        })?;
        // INVARIANT: registered above.
        Ok(Self { ops })
    }

    /// Unregisters the hooks; when this returns no hook call is running.
    ///
    /// # Safety
    ///
    /// `net` must be the namespace given to [`NetHooks::register`].
    pub(super) unsafe fn unregister(self, net: &Net) {
        // SAFETY: the type invariant says `ops` is registered in `net`.
        // `nf_unregister_net_hooks` waits for running hook calls (RCU).
        unsafe {
            bindings::nf_unregister_net_hooks(
                net.as_ptr(),
                self.ops.as_ptr(),
                self.ops.len() as c_uint,
            )
        };
    }
}

/// The netfilter hook function of every [`Hook`].
///
/// # Safety
///
/// Called only by netfilter, for hooks registered by [`NetHooks::register`].
unsafe extern "C" fn hook_callback<T: Hook>(
    priv_: *mut c_void,
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> c_uint {
    // SAFETY: `priv_` is the `*const T` given to `NetHooks::register`, valid
    // while the hook is registered (its safety contract).
    let data = unsafe { &*priv_.cast_const().cast::<T>() };
    // SAFETY: netfilter calls a hook with a valid skb that it owns for the
    // duration of the call, and a valid hook state.
    let (raw, hooknum, pf, net) = unsafe { (skb, (*state).hook, (*state).pf, (*state).net) };
    // SAFETY: as above; the reference ends with `data.hook`'s call, before
    // the packet is sent on below.
    let skb = unsafe { SkBuff::from_raw(raw) };
    let (Some(hook), Some(family)) = (
        InetHook::from_raw(c_uint::from(hooknum)),
        IpFamily::from_raw(pf),
    ) else {
        return bindings::NF_ACCEPT;
    };
    match data.hook(hook, family, skb) {
        Verdict::Accept => bindings::NF_ACCEPT,
        Verdict::Drop => bindings::NF_DROP,
        Verdict::Relay(route) => {
            let via = u32::from_ne_bytes(route.via());
            // SAFETY: the hook owns `raw` (no reference to it is left) and
            // gives it away: `NF_STOLEN` tells netfilter so. `net` is the
            // hook's namespace, alive during the call; the route's
            // reference goes with the packet. The packet is of the hook's
            // family.
            unsafe {
                match family {
                    IpFamily::V4 => bindings::baton_skb_send_via(net, raw, route.into_raw()),
                    IpFamily::V6 => bindings::baton_skb_send6_via(raw, route.into_raw(), via),
                }
            };
            bindings::NF_STOLEN
        }
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Network namespaces and per-namespace state.
//!
//! C headers: [`include/net/net_namespace.h`], [`include/net/netns/generic.h`].
//!
//! A type that implements [`NetState`] gets one instance in every network
//! namespace while its [`Registration`] lives: the pernet core allocates a
//! slot for each namespace (`pernet_operations.size`), the `init` trampoline
//! pin-initialises a `T` in it and then registers the namespace's netfilter
//! hooks with that `T` as their data; `exit` unregisters the hooks, then
//! drops the `T`.
//!
//! [`include/net/net_namespace.h`]: srctree/include/net/net_namespace.h
//! [`include/net/netns/generic.h`]: srctree/include/net/netns/generic.h

use super::{
    bindings,
    netfilter::{Hook, NetHooks},
};
use core::{
    ffi::c_int,
    marker::PhantomData,
    mem::{align_of, size_of},
    ptr::{addr_of_mut, NonNull},
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{error::from_result, prelude::*, types::Opaque};

/// A network namespace (`struct net`).
///
/// # Invariants
///
/// The wrapped `struct net` is alive for as long as the reference to this
/// [`Net`] is.
#[repr(transparent)]
pub(crate) struct Net(Opaque<bindings::net>);

impl Net {
    /// Wraps a raw `struct net` pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a `struct net` that stays alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::net) -> &'a Net {
        // SAFETY: `Net` is `repr(transparent)` over `Opaque<net>`, which has
        // the layout of `net`; the caller guarantees it lives for `'a`.
        unsafe { &*ptr.cast::<Net>() }
    }

    /// The raw `struct net` pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::net {
        self.0.get()
    }
}

/// The slot id the pernet core gives a [`NetState`] type.
///
/// One `static` per state type; [`register_pernet_subsys`] writes it.
///
/// [`register_pernet_subsys`]: srctree/net/core/net_namespace.c
pub(crate) struct NetId(AtomicU32);

impl NetId {
    /// An id slot that no registration has filled yet.
    pub(crate) const fn new() -> Self {
        Self(AtomicU32::new(0))
    }

    fn get(&self) -> u32 {
        self.0.load(Ordering::Acquire)
    }
}

/// State kept in every network namespace; it is also the data of the
/// namespace's netfilter hooks.
pub(crate) trait NetState: Hook {
    /// The id slot of this type.
    fn id() -> &'static NetId;

    /// Initialises the state of namespace `net`, which is being created (or
    /// exists when the registration is made). The state may keep `net` (see
    /// [`NetPtr`]'s invariants).
    fn init(net: NetPtr) -> impl PinInit<Self, Error>;

    /// The namespace is about to exit (or the type to be unregistered):
    /// its hooks still run. Called once, before the state is dropped.
    fn pre_exit(&self) {}
}

/// What the pernet core allocates per namespace.
struct Slot<T> {
    state: T,
    hooks: Option<NetHooks>,
}

/// Registers a [`NetState`] type with the pernet core.
///
/// # Invariants
///
/// `ops` is registered with `register_pernet_subsys` from creation until
/// `Drop`, so every live network namespace holds a [`Slot<T>`] with an
/// initialised `T` in its generic slot `T::id()`.
pub(crate) struct Registration<T: NetState> {
    ops: KBox<Opaque<bindings::pernet_operations>>,
    _t: PhantomData<T>,
}

// SAFETY: the registration only holds the pernet operations, which the kernel
// may use from any thread; `T` is `Send + Sync`.
unsafe impl<T: NetState> Send for Registration<T> {}
// SAFETY: as above; `&Registration` only gives out `&T`, and `T: Sync`.
unsafe impl<T: NetState> Sync for Registration<T> {}

impl<T: NetState> Registration<T> {
    /// Registers `T`, initialising it in every existing namespace.
    pub(crate) fn new() -> Result<Self> {
        const {
            // The pernet core allocates the state with kzalloc, whose
            // alignment is at least that of a u64 on every architecture.
            assert!(align_of::<Slot<T>>() <= align_of::<u64>());
        };
        let ops = KBox::new(
            Opaque::new(bindings::pernet_operations {
                init: Some(init_callback::<T>),
                pre_exit: Some(pre_exit_callback::<T>),
                exit: Some(exit_callback::<T>),
                id: T::id().0.as_ptr(),
                size: size_of::<Slot<T>>(),
                ..Default::default()
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: `ops` is a valid `pernet_operations` in memory that stays
        // where it is (boxed) until `Drop` unregisters it.
        kernel::error::to_result(unsafe { bindings::register_pernet_subsys(ops.get()) })?;
        // INVARIANT: registered above, unregistered in `Drop`.
        Ok(Self {
            ops,
            _t: PhantomData,
        })
    }

    /// The state of namespace `net`.
    pub(crate) fn get<'a>(&'a self, net: &'a Net) -> &'a T {
        // SAFETY: `net` is alive (type invariant of `Net`). By the type
        // invariant of `Registration`, `T` is registered, so the generic slot
        // `T::id()` of every namespace that can be referenced (its setup has
        // finished, it is not yet torn down) holds an initialised `T`, which
        // lives until the namespace exits or `self` is dropped.
        unsafe {
            let slot = bindings::baton_net_generic(net.as_ptr(), T::id().get()).cast::<Slot<T>>();
            &(*slot).state
        }
    }
}

impl<T: NetState> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: `ops` was registered in `new` (type invariant); this drops
        // `T` in every namespace through `exit_callback`.
        unsafe { bindings::unregister_pernet_subsys(self.ops.get()) };
    }
}

/// `pernet_operations.init`: builds the state and registers the hooks.
///
/// # Safety
///
/// Called only by the pernet core, for a [`Registration<T>`].
unsafe extern "C" fn init_callback<T: NetState>(net: *mut bindings::net) -> c_int {
    from_result(|| {
        // SAFETY: the pernet core calls `init` with a namespace that is alive
        // until the matching `exit`.
        let net = unsafe { Net::from_raw(net) };
        // SAFETY: `net` is alive; the core has allocated the slot of
        // `T::id()` (`size_of::<Slot<T>>()` zeroed bytes, aligned as checked
        // in `Registration::new`) before calling `init`.
        let slot =
            unsafe { bindings::baton_net_generic(net.as_ptr(), T::id().get()) }.cast::<Slot<T>>();
        // SAFETY: `slot` is valid for writes and is never moved; on error
        // `__pinned_init` leaves nothing to drop.
        let state = unsafe {
            let state = addr_of_mut!((*slot).state);
            T::init(NetPtr::new(net)).__pinned_init(state)?;
            state
        };
        // SAFETY: `state` and `net` stay valid until `exit_callback`
        // unregisters the hooks, before it drops `state`.
        match unsafe { NetHooks::register::<T>(net, state) } {
            Ok(hooks) => {
                // SAFETY: `slot` is valid for writes; `hooks` was zeroed memory.
                unsafe { addr_of_mut!((*slot).hooks).write(Some(hooks)) };
                Ok(0)
            }
            Err(e) => {
                // SAFETY: `state` was initialised above and is not used again.
                unsafe { core::ptr::drop_in_place(state) };
                Err(e)
            }
        }
    })
}

/// `pernet_operations.pre_exit`: tells the state, whose hooks still run.
///
/// # Safety
///
/// Called only by the pernet core, for a [`Registration<T>`].
unsafe extern "C" fn pre_exit_callback<T: NetState>(net: *mut bindings::net) {
    // SAFETY: the core calls `pre_exit` before `exit`, for a namespace whose
    // `init` succeeded, so `net` is alive and the slot holds a `Slot<T>`
    // whose `state` is initialised when `hooks` is set (`init_callback`
    // sets it last). The state is only shared (`&T`) here.
    unsafe {
        let net = Net::from_raw(net);
        let slot = bindings::baton_net_generic(net.as_ptr(), T::id().get()).cast::<Slot<T>>();
        if (*slot).hooks.is_some() {
            (*slot).state.pre_exit();
        }
    }
}

/// `pernet_operations.exit`: unregisters the hooks and drops the state.
///
/// # Safety
///
/// Called only by the pernet core, for a [`Registration<T>`].
unsafe extern "C" fn exit_callback<T: NetState>(net: *mut bindings::net) {
    // SAFETY: the core calls `exit` once for a namespace whose `init`
    // succeeded, before it frees the slot, so `net` is alive and the slot
    // holds an initialised `Slot<T>`. After the hooks are unregistered no
    // hook call runs, and the namespace has no other users of the state.
    unsafe {
        let net = Net::from_raw(net);
        let slot = bindings::baton_net_generic(net.as_ptr(), T::id().get()).cast::<Slot<T>>();
        if let Some(hooks) = (*slot).hooks.take() {
            hooks.unregister(net);
        }
        core::ptr::drop_in_place(addr_of_mut!((*slot).state));
    }
}

/// A network namespace pointer kept by objects that the namespace's
/// [`NetState`] owns, such as kernel threads that create sockets in it.
///
/// # Invariants
///
/// The namespace is alive while the [`NetState`] it was taken from exists.
/// Every holder of a `NetPtr` is owned, directly or through threads that the
/// state stops in its `Drop`, by that [`NetState`], so no `NetPtr` is used
/// after the namespace's `exit`.
#[derive(Clone, Copy)]
pub(crate) struct NetPtr(NonNull<bindings::net>);

// SAFETY: a `struct net` may be used from any thread while it is alive.
unsafe impl Send for NetPtr {}
// SAFETY: as above.
unsafe impl Sync for NetPtr {}

impl NetPtr {
    /// Only the pernet layer makes these, for the state it initialises.
    fn new(net: &Net) -> Self {
        Self(NonNull::from(net).cast::<bindings::net>())
    }

    /// The namespace.
    pub(crate) fn get(&self) -> &Net {
        // SAFETY: alive by the type invariant.
        unsafe { Net::from_raw(self.0.as_ptr()) }
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Generic netlink families.
//!
//! C header: [`include/net/genetlink.h`].
//!
//! A [`Family`] describes a genl family once, as constants: name, version,
//! attribute policy and operations. Each operation is a [`Command`] whose
//! `doit` gets the family's data and the request ([`Info`]) and answers with
//! a [`Reply`] or an error that carries an extack message. The kernel
//! validates every request against the policy (strictly: unknown attributes
//! are rejected) before `doit` runs, and checks the [`Perm`] of the command.
//!
//! An operation may also answer dump requests (`NLM_F_DUMP`) with a [`Dump`]
//! handler, in the kernel's shape: `start` reads the request once, then each
//! `dumpit` call fills one message buffer ([`DumpSkb`]) with multipart
//! messages and keeps its place in a cursor that lives in the callback's
//! `ctx` until `done` drops it.
//!
//! A family may have multicast groups ([`Family::MCGRPS`]): an [`Event`]
//! built anywhere, in atomic context too, goes to a group's listeners in
//! one network namespace, and is not built when nobody listens
//! ([`listened`]). One family per module has them.
//!
//! [`include/net/genetlink.h`]: srctree/include/net/genetlink.h

use super::{bindings, netns::Net};
use crate::proto::service::Ip;
use core::{
    ffi::{c_int, c_void, CStr},
    marker::PhantomData,
    ptr::NonNull,
};
use kernel::{error::from_result, prelude::*, types::Opaque};

/// One entry of an attribute policy (`struct nla_policy`).
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct AttrPolicy(bindings::nla_policy);

// SAFETY: policies are immutable `static` tables; the only pointers they hold
// (reject messages, nested policies) refer to `'static` immutable data.
unsafe impl Sync for AttrPolicy {}

/// The policy table of an attribute set whose highest number is `N - 1`,
/// from `(number, policy)` pairs (the uapi constants, not positions). Every
/// number from 1 to `N - 1` must have exactly one entry: evaluated in a
/// `static`, a missing, repeated or out-of-range number fails the build.
pub(crate) const fn policy_table<const N: usize>(entries: &[(u16, AttrPolicy)]) -> [AttrPolicy; N] {
    let mut table = [AttrPolicy::UNUSED; N];
    let mut given = [false; N];
    let mut i = 0;
    while i < entries.len() {
        let (number, policy) = entries[i];
        let at = number as usize;
        assert!(
            at != 0 && at < N,
            "attribute number out of the policy table"
        );
        assert!(!given[at], "attribute number given twice");
        given[at] = true;
        table[at] = policy;
        i += 1;
    }
    let mut at = 1;
    while at < N {
        assert!(given[at], "attribute number without a policy");
        at += 1;
    }
    table
}

impl AttrPolicy {
    const fn raw(type_: u32) -> bindings::nla_policy {
        bindings::nla_policy {
            type_: type_ as u8,
            validation_type: bindings::nla_policy_validation_NLA_VALIDATE_NONE as u8,
            len: 0,
            __bindgen_anon_1: bindings::nla_policy__bindgen_ty_1 {
                strict_start_type: 0,
            },
        }
    }

    /// Attribute number not used (attribute 0, or a gap): rejected.
    pub(crate) const UNUSED: Self = Self(Self::raw(bindings::NLA_UNSPEC));

    /// A `u16` of at least `min`.
    pub(crate) const fn u16_min(min: i16) -> Self {
        let mut p = Self::raw(bindings::NLA_U16);
        p.validation_type = bindings::nla_policy_validation_NLA_VALIDATE_MIN as u8;
        p.__bindgen_anon_1 = bindings::nla_policy__bindgen_ty_1 {
            __bindgen_anon_1: bindings::nla_policy__bindgen_ty_1__bindgen_ty_1 { min, max: 0 },
        };
        Self(p)
    }

    /// A `u8` of at most `max`.
    pub(crate) const fn u8_max(max: i16) -> Self {
        let mut p = Self::raw(bindings::NLA_U8);
        p.validation_type = bindings::nla_policy_validation_NLA_VALIDATE_MAX as u8;
        p.__bindgen_anon_1 = bindings::nla_policy__bindgen_ty_1 {
            __bindgen_anon_1: bindings::nla_policy__bindgen_ty_1__bindgen_ty_1 { min: 0, max },
        };
        Self(p)
    }

    /// Any `u32`.
    pub(crate) const fn u32() -> Self {
        Self(Self::raw(bindings::NLA_U32))
    }

    /// A string of at most `max` bytes (a terminating NUL is allowed).
    pub(crate) const fn string(max: u16) -> Self {
        let mut p = Self::raw(bindings::NLA_STRING);
        p.len = max;
        Self(p)
    }

    /// Binary data of at most `max` bytes.
    pub(crate) const fn binary(max: u16) -> Self {
        let mut p = Self::raw(bindings::NLA_BINARY);
        p.len = max;
        Self(p)
    }

    /// Binary data of exactly `len` bytes (an IPv6 address: 16).
    pub(crate) const fn exact_len(len: i16) -> Self {
        let mut p = Self::raw(bindings::NLA_BINARY);
        p.validation_type = bindings::nla_policy_validation_NLA_VALIDATE_RANGE as u8;
        p.__bindgen_anon_1 = bindings::nla_policy__bindgen_ty_1 {
            __bindgen_anon_1: bindings::nla_policy__bindgen_ty_1__bindgen_ty_1 {
                min: len,
                max: len,
            },
        };
        Self(p)
    }

    /// A big-endian `u32` (an IPv4 address).
    pub(crate) const fn be32() -> Self {
        Self(Self::raw(bindings::NLA_BE32))
    }

    /// A nested attribute whose contents follow `policy` (strictly).
    pub(crate) const fn nested(policy: &'static [AttrPolicy]) -> Self {
        let mut p = Self::raw(bindings::NLA_NESTED);
        // `len` is the highest attribute number of the nested policy.
        p.len = (policy.len() - 1) as u16;
        p.__bindgen_anon_1 = bindings::nla_policy__bindgen_ty_1 {
            nested_policy: policy.as_ptr().cast::<bindings::nla_policy>(),
        };
        Self(p)
    }

    /// An attribute that requests must not carry (a reply-only one); the
    /// request is refused with `msg` as its extack message.
    pub(crate) const fn reject(msg: &'static CStr) -> Self {
        let mut p = Self::raw(bindings::NLA_REJECT);
        p.__bindgen_anon_1 = bindings::nla_policy__bindgen_ty_1 {
            reject_message: msg.as_ptr(),
        };
        Self(p)
    }
}

/// Who may run a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Perm {
    /// Anyone who can open a netlink socket.
    Any,
    /// CAP_NET_ADMIN (`GENL_ADMIN_PERM`).
    NetAdmin,
}

/// A genl family, described by constants.
pub(crate) trait Family: Send + Sync + Sized + 'static {
    /// Family name (at most 15 bytes).
    const NAME: &'static CStr;
    /// Family version.
    const VERSION: u8;
    /// Attribute policy, indexed by attribute number (entry 0 is unused).
    const POLICY: &'static [AttrPolicy];
    /// Operations.
    const OPS: &'static [Op<Self>];
    /// Names of the multicast groups (at most 15 bytes each); an [`Event`]
    /// names a group by its index here.
    const MCGRPS: &'static [&'static CStr] = &[];
}

/// A command handler of family `F`.
pub(crate) trait Command<F: Family> {
    /// Handles one request. Errors are returned to the sender as the ack's
    /// error code, with the message set by [`Info::set_err_msg`] if any.
    fn doit(family: &F, info: &Info<'_>) -> Result;
}

/// A dump handler of family `F`: answers a request with `NLM_F_DUMP` with
/// as many messages as the receiver reads, one buffer per call.
pub(crate) trait Dump<F: Family> {
    /// Where the dump is between two calls. Kept in the netlink callback's
    /// `ctx` (48 bytes, checked when the operation is built) from `start`
    /// to `done`, which drops it.
    type Cursor: Send;

    /// Reads the request (validated by the policy) and returns the first
    /// cursor. An error is the answer to the request, with the extack
    /// message set by [`Info::set_err_msg`].
    fn start(family: &F, info: &Info<'_>) -> Result<Self::Cursor>;

    /// Puts the next messages into `dump`, and says whether any are left.
    fn dumpit(
        family: &F,
        info: &Info<'_>,
        cursor: &mut Self::Cursor,
        dump: &mut DumpSkb<'_>,
    ) -> Result<Dumped>;
}

/// What a [`Dump::dumpit`] call left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dumped {
    /// The buffer is full; the next call goes on.
    More,
    /// Nothing is left (the buffer may hold the last messages).
    Done,
}

/// An operation (`struct genl_ops`) of family `F`.
#[repr(transparent)]
pub(crate) struct Op<F: Family>(bindings::genl_ops, PhantomData<F>);

// SAFETY: `genl_ops` only holds function pointers, integers and a pointer to
// a `'static` immutable policy.
unsafe impl<F: Family> Sync for Op<F> {}

/// The netlink callback's `ctx`, where a dump keeps its cursor.
type CbCtx = bindings::netlink_callback__bindgen_ty_1;

impl<F: Family> Op<F> {
    /// Command `cmd`, handled by `C`, allowed to callers with `perm`.
    pub(crate) const fn new<C: Command<F>>(cmd: u8, perm: Perm) -> Self {
        Self(
            bindings::genl_ops {
                doit: Some(doit_callback::<F, C>),
                start: None,
                dumpit: None,
                done: None,
                // The family's.
                policy: core::ptr::null(),
                maxattr: 0,
                cmd,
                internal_flags: 0,
                flags: match perm {
                    Perm::Any => 0,
                    Perm::NetAdmin => bindings::GENL_ADMIN_PERM as u8,
                },
                validate: 0,
            },
            PhantomData,
        )
    }

    /// The operation, with `D` answering its dump requests.
    pub(crate) const fn dump<D: Dump<F>>(mut self) -> Self {
        const {
            assert!(core::mem::size_of::<D::Cursor>() <= core::mem::size_of::<CbCtx>());
            assert!(core::mem::align_of::<D::Cursor>() <= core::mem::align_of::<CbCtx>());
        }
        self.0.start = Some(start_callback::<F, D>);
        self.0.dumpit = Some(dumpit_callback::<F, D>);
        self.0.done = Some(done_callback::<F, D>);
        self
    }

    /// The operation, with a policy of its own instead of the family's
    /// (indexed by the same attribute numbers: [`Info::attr`] bounds them
    /// by the family's).
    pub(crate) const fn policy(mut self, policy: &'static [AttrPolicy]) -> Self {
        assert!(policy.len() == F::POLICY.len());
        self.0.policy = policy.as_ptr().cast::<bindings::nla_policy>();
        self.0.maxattr = (policy.len() - 1) as u32;
        self
    }
}

/// A netlink attribute of a request, validated by the family's policy.
///
/// # Invariants
///
/// Points to a `struct nlattr` whose header and `nla_len` bytes are valid for
/// `'a`.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a>(NonNull<bindings::nlattr>, PhantomData<&'a ()>);

impl<'a> Attr<'a> {
    /// The attribute's payload.
    pub(crate) fn payload(&self) -> &'a [u8] {
        // SAFETY: by the type invariant the attribute and its payload are
        // valid for `'a`; `nla_len` is the payload length (without header),
        // never negative for an attribute the netlink core parsed.
        unsafe {
            let len = bindings::baton_nla_len(self.0.as_ptr());
            let data = bindings::baton_nla_data(self.0.as_ptr());
            core::slice::from_raw_parts(data.cast::<u8>(), len.max(0) as usize)
        }
    }
}

/// A request being handled (`struct genl_info`).
///
/// # Invariants
///
/// `raw` points to a `genl_info` valid for `'a`, of a family registered by a
/// [`Registration`], whose `attrs` array (if not null) has `maxattr + 1`
/// entries.
pub(crate) struct Info<'a> {
    raw: NonNull<bindings::genl_info>,
    _p: PhantomData<&'a ()>,
}

impl<'a> Info<'a> {
    /// The attribute `id` of the request, if present.
    pub(crate) fn attr(&self, id: u16) -> Option<Attr<'a>> {
        // SAFETY: by the type invariant `raw` is valid and `family` points to
        // the registered family, whose `maxattr` bounds `attrs`.
        unsafe {
            let info = self.raw.as_ref();
            if info.attrs.is_null() || u32::from(id) > (*info.family).maxattr {
                return None;
            }
            NonNull::new(*info.attrs.add(usize::from(id))).map(|a| Attr(a, PhantomData))
        }
    }

    /// The network namespace of the sender's socket.
    pub(crate) fn net(&self) -> &'a Net {
        // SAFETY: `raw` is valid; the sender's socket holds a reference on its
        // namespace for the duration of the request.
        unsafe { Net::from_raw(bindings::baton_genl_info_net(self.raw.as_ptr())) }
    }

    /// Sets the extack message of the answer (and the offending attribute).
    pub(crate) fn set_err_msg(&self, msg: &'static CStr, attr: Option<Attr<'_>>) {
        let attr = attr.map_or(core::ptr::null(), |a| a.0.as_ptr().cast_const());
        // SAFETY: `raw` is valid; `extack` is null or valid for the request;
        // `msg` is `'static` as the extack keeps the pointer.
        unsafe { bindings::baton_extack_set((*self.raw.as_ptr()).extack, msg.as_ptr(), attr) };
    }
}

/// `EMSGSIZE`: a message does not fit (6.12's kernel crate has no constant
/// for it).
pub(crate) fn emsgsize() -> Error {
    Error::from_errno(-(bindings::EMSGSIZE as c_int))
}

/// The attributes of a message being built.
///
/// # Invariants
///
/// `skb` is a valid netlink message buffer with a message open at its end,
/// which nobody else changes while the `Attrs` exists.
pub(crate) struct Attrs {
    skb: NonNull<bindings::sk_buff>,
}

impl Attrs {
    fn put(&mut self, id: u16, data: &[u8]) -> Result {
        // SAFETY: `skb` is a valid message buffer (type invariant); `data` is
        // valid for reads.
        let ret = unsafe {
            bindings::nla_put(
                self.skb.as_ptr(),
                c_int::from(id),
                data.len() as c_int,
                data.as_ptr().cast(),
            )
        };
        if ret < 0 {
            return Err(emsgsize());
        }
        Ok(())
    }

    /// Adds a `u8` attribute.
    pub(crate) fn put_u8(&mut self, id: u16, value: u8) -> Result {
        self.put(id, &[value])
    }

    /// Adds a `u32` attribute in network byte order (`addr` as on the wire).
    pub(crate) fn put_u32_be(&mut self, id: u16, addr: [u8; 4]) -> Result {
        self.put(id, &addr)
    }

    /// Adds address `addr` as attribute `v4` (a big-endian `u32`) if it is
    /// IPv4, `v6` (16 bytes) if IPv6.
    pub(crate) fn put_ip(&mut self, v4: u16, v6: u16, addr: Ip) -> Result {
        match addr {
            Ip::V4(a) => self.put_u32_be(v4, a),
            Ip::V6(a) => self.put(v6, &a),
        }
    }

    /// Adds a `u16` attribute.
    pub(crate) fn put_u16(&mut self, id: u16, value: u16) -> Result {
        self.put(id, &value.to_ne_bytes())
    }

    /// Adds a `u32` attribute.
    pub(crate) fn put_u32(&mut self, id: u16, value: u32) -> Result {
        self.put(id, &value.to_ne_bytes())
    }

    /// Adds a `u64` attribute, aligned with a `pad` attribute if needed.
    pub(crate) fn put_u64(&mut self, id: u16, value: u64, pad: u16) -> Result {
        let data = value.to_ne_bytes();
        // SAFETY: as in `put`.
        let ret = unsafe {
            bindings::nla_put_64bit(
                self.skb.as_ptr(),
                c_int::from(id),
                data.len() as c_int,
                data.as_ptr().cast(),
                c_int::from(pad),
            )
        };
        if ret < 0 {
            return Err(emsgsize());
        }
        Ok(())
    }

    /// Adds a string attribute from `value` (without NUL), NUL-terminated
    /// as `NLA_STRING` replies are (`nla_put_string`).
    pub(crate) fn put_string(&mut self, id: u16, value: &[u8]) -> Result {
        let len = value.len().checked_add(1).ok_or_else(emsgsize)?;
        let len = c_int::try_from(len).map_err(|_| emsgsize())?;
        // SAFETY: `skb` is a valid message buffer; `nla_reserve` returns
        // room for `len` payload bytes, which we fill completely.
        let nla = unsafe { bindings::nla_reserve(self.skb.as_ptr(), c_int::from(id), len) };
        if nla.is_null() {
            return Err(emsgsize());
        }
        // SAFETY: `nla` has `len` = `value.len() + 1` payload bytes.
        unsafe {
            let data = bindings::baton_nla_data(nla).cast::<u8>();
            core::ptr::copy_nonoverlapping(value.as_ptr(), data, value.len());
            *data.add(value.len()) = 0;
        }
        Ok(())
    }

    /// Adds a NUL-terminated string attribute.
    pub(crate) fn put_str(&mut self, id: u16, value: &CStr) -> Result {
        self.put(id, value.to_bytes_with_nul())
    }

    /// Adds a nested attribute whose contents `f` puts.
    pub(crate) fn nest(&mut self, id: u16, f: impl FnOnce(&mut Self) -> Result) -> Result {
        // SAFETY: `skb` is a valid message buffer.
        let start = unsafe { bindings::baton_nla_nest_start(self.skb.as_ptr(), c_int::from(id)) };
        if start.is_null() {
            return Err(emsgsize());
        }
        let res = f(self);
        // SAFETY: `start` was returned by `nla_nest_start` on this skb and
        // nothing before it was removed.
        unsafe {
            match res {
                Ok(()) => bindings::baton_nla_nest_end(self.skb.as_ptr(), start),
                Err(_) => bindings::baton_nla_nest_cancel(self.skb.as_ptr(), start),
            }
        }
        res
    }
}

/// A reply message being built; its attributes are put through
/// [`Attrs`] (`Deref`).
///
/// # Invariants
///
/// `attrs.skb` is an skb allocated by `genlmsg_new` and owned by this
/// value, with a genl header at `hdr`.
pub(crate) struct Reply {
    attrs: Attrs,
    hdr: NonNull<c_void>,
}

impl Reply {
    /// Starts a reply to `info` with command `cmd`, of up to a page.
    pub(crate) fn new(info: &Info<'_>, cmd: u8) -> Result<Self> {
        Self::start(info, cmd, None)
    }

    /// Starts a reply of up to `payload` bytes (the receiver's buffer must
    /// hold it: 32 KiB is what libraries such as neli read by default).
    pub(crate) fn with_size(info: &Info<'_>, cmd: u8, payload: usize) -> Result<Self> {
        Self::start(info, cmd, Some(payload))
    }

    fn start(info: &Info<'_>, cmd: u8, payload: Option<usize>) -> Result<Self> {
        // SAFETY: plain allocations.
        let skb = NonNull::new(unsafe {
            match payload {
                None => bindings::baton_genlmsg_new(),
                Some(n) => bindings::baton_genlmsg_new_size(n),
            }
        })
        .ok_or(ENOMEM)?;
        // SAFETY: `skb` is a fresh message; `info` and its family are valid.
        let hdr = unsafe {
            let raw = info.raw.as_ptr();
            bindings::baton_genlmsg_put_reply(skb.as_ptr(), raw, (*raw).family, cmd)
        };
        match NonNull::new(hdr) {
            // INVARIANT: `skb` from genlmsg_new, header put; the message is
            // open at its end.
            Some(hdr) => Ok(Self {
                attrs: Attrs { skb },
                hdr,
            }),
            None => {
                // SAFETY: `skb` is ours and not used again.
                unsafe { bindings::baton_nlmsg_free(skb.as_ptr()) };
                Err(emsgsize())
            }
        }
    }

    /// Sends the reply to the requester.
    pub(crate) fn send(self, info: &Info<'_>) -> Result {
        let this = core::mem::ManuallyDrop::new(self);
        let skb = this.attrs.skb.as_ptr();
        // SAFETY: we own `skb` (consumed here: `genlmsg_reply` frees it on
        // every path) and `hdr` is its genl header; `info` is valid.
        let ret = unsafe {
            bindings::baton_genlmsg_end(skb, this.hdr.as_ptr());
            bindings::baton_genlmsg_reply(skb, info.raw.as_ptr())
        };
        kernel::error::to_result(ret)
    }
}

impl core::ops::Deref for Reply {
    type Target = Attrs;

    fn deref(&self) -> &Attrs {
        &self.attrs
    }
}

impl core::ops::DerefMut for Reply {
    fn deref_mut(&mut self) -> &mut Attrs {
        &mut self.attrs
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        // SAFETY: we own `skb` (type invariant) and it was not sent.
        unsafe { bindings::baton_nlmsg_free(self.attrs.skb.as_ptr()) };
    }
}

/// The message buffer of one [`Dump::dumpit`] call: each message is a
/// multipart one (`NLM_F_MULTI`) answering the dump request.
///
/// # Invariants
///
/// `skb` and `cb` are the buffer and the callback that genetlink passed to
/// the running `dumpit` call of an operation with a [`Dump`], valid for
/// `'a`; `cb->data` is genetlink's `genl_dumpit_info`.
pub(crate) struct DumpSkb<'a> {
    skb: NonNull<bindings::sk_buff>,
    cb: NonNull<bindings::netlink_callback>,
    flags: c_int,
    _p: PhantomData<&'a mut ()>,
}

/// A place in a [`DumpSkb`] to go back to with [`DumpSkb::trim`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct DumpMark {
    len: u32,
    prev_seq: u32,
}

impl DumpMark {
    /// Whether the mark is at the start of the buffer (nothing before it).
    pub(crate) fn is_start(&self) -> bool {
        self.len == 0
    }
}

impl DumpSkb<'_> {
    /// The generation of what the messages show (never 0). A message put
    /// after it changed, or the final `NLMSG_DONE`, carries
    /// `NLM_F_DUMP_INTR` (`nl_dump_check_consistent` with `cb->seq`): the
    /// receiver knows the dump may be inconsistent.
    pub(crate) fn set_generation(&mut self, generation: u32) {
        // SAFETY: `cb` is valid and ours during the call (type invariant).
        unsafe { (*self.cb.as_ptr()).seq = generation };
    }

    /// The messages also carry `NLM_F_DUMP_FILTERED`: the request's filter
    /// was applied.
    pub(crate) fn set_filtered(&mut self) {
        self.flags |= bindings::NLM_F_DUMP_FILTERED as c_int;
    }

    /// Adds a message of command `cmd` whose attributes `f` puts; if they
    /// do not fit, nothing is added and the error is `EMSGSIZE`.
    pub(crate) fn message(&mut self, cmd: u8, f: impl FnOnce(&mut Attrs) -> Result) -> Result {
        let (skb, cb) = (self.skb.as_ptr(), self.cb.as_ptr());
        // SAFETY: `skb` and `cb` are valid (type invariant); genetlink set
        // up the dump info that the helper reads.
        let hdr = unsafe { bindings::baton_genlmsg_put_dump(skb, cb, self.flags, cmd) };
        if hdr.is_null() {
            return Err(emsgsize());
        }
        // INVARIANT: the message just put is open at the end of `skb`.
        let mut attrs = Attrs { skb: self.skb };
        let res = f(&mut attrs);
        // SAFETY: `hdr` is the header of the last message of `skb`.
        unsafe {
            match res {
                Ok(()) => {
                    // Checked once the message stays, so that a cancelled
                    // one cannot take the flag with it.
                    bindings::baton_genl_dump_check_consistent(cb, hdr);
                    bindings::baton_genlmsg_end(skb, hdr);
                }
                Err(_) => bindings::baton_genlmsg_cancel(skb, hdr),
            }
        }
        res
    }

    /// Where the buffer is now.
    pub(crate) fn mark(&self) -> DumpMark {
        // SAFETY: `skb` and `cb` are valid (type invariant).
        unsafe {
            DumpMark {
                len: (*self.skb.as_ptr()).len,
                prev_seq: (*self.cb.as_ptr()).prev_seq,
            }
        }
    }

    /// Removes the messages added after `mark` (a mark of this call), and
    /// what their consistency check noted.
    pub(crate) fn trim(&mut self, mark: DumpMark) {
        // SAFETY: `skb` and `cb` are valid; messages are whole from `mark`
        // on, so trimming there leaves whole messages.
        unsafe {
            bindings::skb_trim(self.skb.as_ptr(), mark.len);
            (*self.cb.as_ptr()).prev_seq = mark.prev_seq;
        }
    }
}

#[repr(C)]
struct Inner<F> {
    // First, so that a `*const genl_family` of ours is a `*const Inner<F>`.
    family: Opaque<bindings::genl_family>,
    data: F,
    /// The family's `mcgrps`.
    groups: KVec<bindings::genl_multicast_group>,
}

/// A registered family; its data `F` is what the commands get.
///
/// # Invariants
///
/// `inner.family` is registered with `genl_register_family` from creation
/// until `Drop`, with the ops of `F::OPS`, the policy `F::POLICY` and the
/// groups of `inner.groups`; with groups, it is the family that [`Event`]s
/// go to during that time.
pub(crate) struct Registration<F: Family> {
    inner: KBox<Inner<F>>,
}

// SAFETY: the kernel may use the registered family from any thread; after
// registration we only read it. `F` is `Send + Sync`.
unsafe impl<F: Family> Send for Registration<F> {}
// SAFETY: `&Registration` only gives out `&F`, and `F: Sync`.
unsafe impl<F: Family> Sync for Registration<F> {}

impl<F: Family> Registration<F> {
    /// Registers the family, with `data` for its commands.
    pub(crate) fn new(data: F, module: &'static ThisModule) -> Result<Self> {
        let name = F::NAME.to_bytes_with_nul();
        let mut raw = bindings::genl_family {
            version: u32::from(F::VERSION),
            maxattr: F::POLICY.len().checked_sub(1).ok_or(EINVAL)? as u32,
            policy: F::POLICY.as_ptr().cast(),
            ops: F::OPS.as_ptr().cast(),
            n_ops: u8::try_from(F::OPS.len()).map_err(|_| EINVAL)?,
            module: module.as_ptr().cast(),
            ..Default::default()
        };
        if name.len() > raw.name.len() {
            return Err(EINVAL);
        }
        for (d, s) in raw.name.iter_mut().zip(name) {
            *d = *s as _;
        }
        raw.set_netnsok(1);
        raw.set_parallel_ops(1);
        let mut groups = KVec::with_capacity(F::MCGRPS.len(), GFP_KERNEL)?;
        for g in F::MCGRPS {
            let mut group = bindings::genl_multicast_group::default();
            let name = g.to_bytes_with_nul();
            if name.len() > group.name.len() {
                return Err(EINVAL);
            }
            for (d, s) in group.name.iter_mut().zip(name) {
                *d = *s as _;
            }
            groups.push(group, GFP_KERNEL)?;
        }
        raw.n_mcgrps = u8::try_from(groups.len()).map_err(|_| EINVAL)?;
        if !groups.is_empty() {
            // The vector's buffer stays where it is when the vector moves.
            raw.mcgrps = groups.as_ptr();
        }
        let inner = KBox::new(
            Inner {
                family: Opaque::new(raw),
                data,
                groups,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: the family is valid and boxed (stays put) until `Drop`
        // unregisters it; policy and ops are `'static`, the groups' buffer
        // lives as long as the box.
        kernel::error::to_result(unsafe { bindings::genl_register_family(inner.family.get()) })?;
        if !inner.groups.is_empty() {
            // SAFETY: registered, and unpublished in `Drop` before it is
            // unregistered.
            unsafe { bindings::baton_events_publish(inner.family.get()) };
        }
        // INVARIANT: registered above.
        Ok(Self { inner })
    }
}

impl<F: Family> Drop for Registration<F> {
    fn drop(&mut self) {
        if !self.inner.groups.is_empty() {
            // SAFETY: waits for every sender of an event (RCU) before the
            // family goes.
            unsafe { bindings::baton_events_publish(core::ptr::null()) };
        }
        // SAFETY: registered in `new` (type invariant). When this returns no
        // command of the family is running.
        unsafe { bindings::genl_unregister_family(self.inner.family.get()) };
    }
}

/// Whether multicast group `group` (an index of [`Family::MCGRPS`]) has
/// listeners in `net`: an [`Event`] nobody reads is not worth building.
pub(crate) fn listened(net: &Net, group: u32) -> bool {
    // SAFETY: `net` is valid; the helper reads the published family under
    // RCU.
    unsafe { bindings::baton_events_listened(net.as_ptr(), group) }
}

/// A notification being built (`genlmsg_new` and `genlmsg_put`, atomic),
/// for [`Event::send`]; its attributes through `Deref` to [`Attrs`].
///
/// # Invariants
///
/// `attrs.skb` is ours, with a genl header at `hdr` of the family that
/// [`Registration`] published; the message is open at its end.
pub(crate) struct Event {
    attrs: Attrs,
    hdr: NonNull<c_void>,
}

impl Event {
    /// Starts a notification of command `cmd` of up to `payload` bytes;
    /// `None` without memory or without a family with groups.
    pub(crate) fn new(cmd: u8, payload: usize) -> Option<Self> {
        let mut hdr = core::ptr::null_mut();
        // SAFETY: `hdr` is a valid out pointer; the helper allocates
        // atomically and reads the published family under RCU.
        let skb = NonNull::new(unsafe { bindings::baton_event_new(payload, cmd, &mut hdr) })?;
        let Some(hdr) = NonNull::new(hdr) else {
            // SAFETY: a message of ours, not used again.
            unsafe { bindings::baton_nlmsg_free(skb.as_ptr()) };
            return None;
        };
        // INVARIANT: a fresh message with its header put.
        Some(Self {
            attrs: Attrs { skb },
            hdr,
        })
    }

    /// Sends it to the listeners of group `group` in `net`; a listener
    /// whose socket is full loses it (netlink counts it there), and this
    /// never waits.
    pub(crate) fn send(self, net: &Net, group: u32) -> Result {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `skb` is ours and consumed here on every path, `hdr` its
        // header (type invariant); `net` is valid.
        let ret = unsafe {
            bindings::baton_event_send(
                this.attrs.skb.as_ptr(),
                this.hdr.as_ptr(),
                net.as_ptr(),
                group,
            )
        };
        kernel::error::to_result(ret)
    }
}

impl core::ops::Deref for Event {
    type Target = Attrs;
    fn deref(&self) -> &Attrs {
        &self.attrs
    }
}

impl core::ops::DerefMut for Event {
    fn deref_mut(&mut self) -> &mut Attrs {
        &mut self.attrs
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: we own `skb` (type invariant) and it was not sent.
        unsafe { bindings::baton_nlmsg_free(self.attrs.skb.as_ptr()) };
    }
}

/// `doit` of every operation: finds the family's data and runs `C`.
///
/// # Safety
///
/// Called only by genetlink, for a family registered by [`Registration<F>`].
unsafe extern "C" fn doit_callback<F: Family, C: Command<F>>(
    _skb: *mut bindings::sk_buff,
    info: *mut bindings::genl_info,
) -> c_int {
    from_result(|| {
        // SAFETY: genetlink calls `doit` with a valid `info` for the duration
        // of the call, for a family registered by `Registration<F>`, so
        // `info->family` is the first field of an `Inner<F>` that outlives
        // the call (unregistering waits for running commands); the core
        // parsed the attributes into `attrs` with `maxattr` entries.
        let (family, info) = unsafe {
            let inner = (*info).family.cast::<Inner<F>>();
            let info = Info {
                raw: NonNull::new_unchecked(info),
                _p: PhantomData,
            };
            (&(*inner).data, info)
        };
        C::doit(family, &info)?;
        Ok(0)
    })
}

/// The family data and the request of a dump's callback.
///
/// # Safety
///
/// `cb` is a callback that genetlink passes to `start`, `dumpit` or `done`
/// of an operation of a family registered by [`Registration<F>`], after its
/// own start set up `cb->data`; the results are used only during the call.
unsafe fn dump_parts<'a, F: Family>(cb: *mut bindings::netlink_callback) -> (&'a F, Info<'a>) {
    // SAFETY: `cb->data` is genetlink's dump info (the caller's contract),
    // whose `info` stays valid until `done`; its family is the first field
    // of an `Inner<F>`, registered as long as the module is loaded, which
    // a running dump holds (netlink takes a reference on `cb->module`).
    unsafe {
        let info = bindings::baton_genl_info_dump(cb).cast_mut();
        let inner = (*info).family.cast::<Inner<F>>();
        (
            &(*inner).data,
            Info {
                raw: NonNull::new_unchecked(info),
                _p: PhantomData,
            },
        )
    }
}

/// Where a dump's cursor lives: the callback's `ctx`.
///
/// # Safety
///
/// `cb` is a valid netlink callback.
unsafe fn cursor_ptr<C>(cb: *mut bindings::netlink_callback) -> *mut C {
    // SAFETY: `cb` is valid; the address of a field, no read.
    unsafe { core::ptr::addr_of_mut!((*cb).__bindgen_anon_1).cast::<C>() }
}

/// `start` of an operation with a [`Dump`]: makes the cursor.
///
/// # Safety
///
/// Called only by genetlink, for a family registered by [`Registration<F>`]
/// with `D` as the dump of the operation.
unsafe extern "C" fn start_callback<F: Family, D: Dump<F>>(
    cb: *mut bindings::netlink_callback,
) -> c_int {
    from_result(|| {
        // SAFETY: genetlink's start ran before ours (the callback contract).
        let (family, info) = unsafe { dump_parts::<F>(cb) };
        let cursor = D::start(family, &info)?;
        // SAFETY: `ctx` is ours from now until `done`, which genetlink calls
        // once a start succeeded; `Op::dump` checked that the cursor fits it
        // and its alignment. Nothing was there to drop (the core zeroes it).
        unsafe { cursor_ptr::<D::Cursor>(cb).write(cursor) };
        Ok(0)
    })
}

/// `dumpit` of an operation with a [`Dump`]: one buffer.
///
/// # Safety
///
/// As for [`start_callback`], after it succeeded and before `done`.
unsafe extern "C" fn dumpit_callback<F: Family, D: Dump<F>>(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
) -> c_int {
    from_result(|| {
        // SAFETY: as in `start_callback`.
        let (family, info) = unsafe { dump_parts::<F>(cb) };
        // SAFETY: written by `start_callback`; only this call uses it (the
        // core runs one call of a dump at a time, under its mutex).
        let cursor = unsafe { &mut *cursor_ptr::<D::Cursor>(cb) };
        let mut dump = DumpSkb {
            // SAFETY: the core passes a valid buffer. INVARIANT: `skb` and
            // `cb` of this call.
            skb: unsafe { NonNull::new_unchecked(skb) },
            // SAFETY: as above.
            cb: unsafe { NonNull::new_unchecked(cb) },
            flags: bindings::NLM_F_MULTI as c_int,
            _p: PhantomData,
        };
        match D::dumpit(family, &info, cursor, &mut dump)? {
            Dumped::Done => Ok(0),
            Dumped::More => {
                let len = dump.mark().len;
                // More to come but not one message fits an empty buffer:
                // an error, or the dump would end here.
                if len == 0 {
                    return Err(emsgsize());
                }
                Ok(c_int::try_from(len).unwrap_or(c_int::MAX))
            }
        }
    })
}

/// `done` of an operation with a [`Dump`]: drops the cursor.
///
/// # Safety
///
/// As for [`dumpit_callback`]; called once, and no dump call follows.
unsafe extern "C" fn done_callback<F: Family, D: Dump<F>>(
    cb: *mut bindings::netlink_callback,
) -> c_int {
    // SAFETY: `start_callback` wrote the cursor (the core calls `done` only
    // after a successful start) and nothing uses it after this.
    unsafe { core::ptr::drop_in_place(cursor_ptr::<D::Cursor>(cb)) };
    0
}

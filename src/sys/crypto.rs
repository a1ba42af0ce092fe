// SPDX-License-Identifier: GPL-2.0

//! HMAC-SHA256 through the kernel's crypto API (`crypto_shash`), and the
//! secrets it keys.
//!
//! C header: [`include/crypto/hash.h`].
//!
//! The control channel authenticates its peers with it: one transform keyed
//! with the shared key derives each channel's session key, and one transform
//! per channel keyed with that session key tags its frames. A transform's key
//! is set once, when it is created, so several threads may digest with it at
//! the same time (each digest has its own descriptor, on the C stack).
//!
//! [`include/crypto/hash.h`]: srctree/include/crypto/hash.h

use super::bindings;
use core::{ffi::c_void, ptr::NonNull};
use kernel::prelude::*;

/// Length of an HMAC-SHA256 tag.
pub(crate) const TAG_LEN: usize = 32;

/// Longest key accepted (a key longer than SHA-256's block is hashed first by
/// HMAC, which adds nothing).
pub(crate) const KEY_MAX: usize = 64;

/// Most buffers one tag covers.
pub(crate) const MAX_PARTS: usize = 4;

/// Bytes that are cleared (`memzero_explicit`) when they are dropped: keys,
/// derived keys.
pub(crate) struct Secret<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> Drop for Secret<N> {
    fn drop(&mut self) {
        // SAFETY: the pointer and length describe `self.0`, which is valid
        // for writes.
        unsafe { bindings::baton_memzero_explicit(self.0.as_mut_ptr().cast::<c_void>(), N) };
    }
}

/// An HMAC-SHA256 transform and its key.
///
/// # Invariants
///
/// `tfm` is an `hmac(sha256)` transform returned by `crypto_alloc_shash`,
/// whose key was set before the value was made and is never set again; it
/// is owned by this value and freed exactly once, in `Drop`.
pub(crate) struct Hmac {
    tfm: NonNull<bindings::crypto_shash>,
}

// SAFETY: the transform is not tied to a thread; with its key set once
// (type invariant), concurrent digests only read it.
unsafe impl Send for Hmac {}
// SAFETY: as for `Send`; `&Hmac` only allows digests.
unsafe impl Sync for Hmac {}

impl Hmac {
    /// A transform keyed with `key` (1 to [`KEY_MAX`] bytes).
    pub(crate) fn new(key: &[u8]) -> Result<Self> {
        if key.is_empty() || key.len() > KEY_MAX {
            return Err(EINVAL);
        }
        let mut tfm = core::ptr::null_mut();
        // SAFETY: `key` is valid for `key.len()` bytes and `tfm` for a
        // write; the helper allocates, keys and stores the transform, or
        // frees it and returns an error.
        let err =
            unsafe { bindings::baton_hmac_sha256_new(key.as_ptr(), key.len() as u32, &mut tfm) };
        if err != 0 {
            return Err(Error::from_errno(err));
        }
        let tfm = NonNull::new(tfm).ok_or(ENOMEM)?;
        // INVARIANT: allocated and keyed just now, owned by the new value.
        Ok(Self { tfm })
    }

    /// The tag of the concatenation of `parts` (at most [`MAX_PARTS`]).
    pub(crate) fn tag(&self, parts: &[&[u8]]) -> Result<Secret<TAG_LEN>> {
        let mut iov = [bindings::kvec::default(); MAX_PARTS];
        let iov = iov.get_mut(..parts.len()).ok_or(EINVAL)?;
        for (v, p) in iov.iter_mut().zip(parts) {
            *v = bindings::kvec {
                iov_base: p.as_ptr().cast_mut().cast::<c_void>(),
                iov_len: p.len(),
            };
        }
        let mut out = Secret([0; TAG_LEN]);
        // SAFETY: `tfm` is a keyed transform (type invariant); `iov` holds
        // `iov.len()` buffers that stay borrowed for the call and are only
        // read; `out` has room for the 32-byte digest.
        let err = unsafe {
            bindings::baton_hmac_digest(
                self.tfm.as_ptr(),
                iov.as_ptr(),
                iov.len() as u32,
                out.0.as_mut_ptr(),
            )
        };
        if err != 0 {
            return Err(Error::from_errno(err));
        }
        Ok(out)
    }

    /// Whether `tag` is the tag of `parts`, compared in constant time.
    pub(crate) fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> Result<bool> {
        let want = self.tag(parts)?;
        if tag.len() != TAG_LEN {
            return Ok(false);
        }
        // SAFETY: both buffers are valid for `TAG_LEN` bytes.
        let differ = unsafe {
            bindings::baton_crypto_memneq(
                want.0.as_ptr().cast::<c_void>(),
                tag.as_ptr().cast::<c_void>(),
                TAG_LEN,
            )
        };
        Ok(!differ)
    }
}

impl Drop for Hmac {
    fn drop(&mut self) {
        // SAFETY: `tfm` is owned by this value and freed only here (type
        // invariant).
        unsafe { bindings::baton_crypto_free_shash(self.tfm.as_ptr()) };
    }
}

/// Fills `buf` with random bytes (`get_random_bytes`), e.g. a nonce.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of its length; the RNG is up long
    // before a module can be loaded.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast::<c_void>(), buf.len()) };
}

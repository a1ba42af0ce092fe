// SPDX-License-Identifier: GPL-2.0

//! Content rules: which back-end a request goes to, by Host and path.
//!
//! A rule matches on the host (any, exact, or a domain suffix) and/or a
//! path prefix; a service's rules are tried in order and the first that
//! matches wins ([`first_match`]); no match leaves the choice to the
//! service's scheduler. Host names compare case-insensitively, paths
//! byte for byte.
//!
//! Suffix rules name a domain: `example.com` (or `.example.com`) matches
//! `example.com` itself and every name below it (`a.example.com`,
//! `b.a.example.com`), never `badexample.com`.
//!
//! [`HostName`] and [`PathPrefix`] are the owned, validated forms the kernel
//! stores (fixed capacity, no allocation); their errors carry the message
//! netlink returns.

use crate::proto::{
    http::Request,
    service::{Endpoint, Ip},
};
use core::ffi::CStr;

/// How a rule matches the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostMatch<'a> {
    /// Any host, or none.
    Any,
    /// This host exactly.
    Exact(&'a [u8]),
    /// This domain and every name below it.
    Suffix(&'a [u8]),
}

/// One content rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule<'a> {
    /// Host condition.
    pub host: HostMatch<'a>,
    /// Path condition: the path starts with this, if set.
    pub path_prefix: Option<&'a [u8]>,
}

fn host_matches(m: HostMatch<'_>, host: Option<&[u8]>) -> bool {
    match m {
        HostMatch::Any => true,
        HostMatch::Exact(want) => host.is_some_and(|h| h.eq_ignore_ascii_case(want)),
        HostMatch::Suffix(domain) => {
            let domain = domain.strip_prefix(b".").unwrap_or(domain);
            host.is_some_and(|h| {
                if h.eq_ignore_ascii_case(domain) {
                    return true;
                }
                h.len() > domain.len()
                    && h.get(h.len() - domain.len() - 1) == Some(&b'.')
                    && h.get(h.len() - domain.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(domain))
            })
        }
    }
}

impl Rule<'_> {
    /// Whether `req` satisfies every condition of the rule.
    pub fn matches(&self, req: &Request<'_>) -> bool {
        host_matches(self.host, req.host)
            && match self.path_prefix {
                Some(p) => req.path().starts_with(p),
                None => true,
            }
    }
}

/// The target of the first rule that matches `req`.
pub fn first_match<'a, T>(
    rules: impl IntoIterator<Item = (Rule<'a>, T)>,
    req: &Request<'_>,
) -> Option<T> {
    rules
        .into_iter()
        .find(|(rule, _)| rule.matches(req))
        .map(|(_, target)| target)
}

/// Why a host name or path prefix was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    /// Empty.
    Empty,
    /// Longer than the capacity.
    TooLong,
    /// A character that a host name (letters, digits, `-`, `.`, `_`) or a
    /// path (visible ASCII) cannot have.
    BadChar,
    /// A path prefix must start with `/`.
    NotAbsolute,
}

impl NameError {
    /// The message returned to the user (netlink extack).
    pub const fn message(self) -> &'static CStr {
        match self {
            NameError::Empty => c"empty host or path",
            NameError::TooLong => c"host (253) or path (255) too long",
            NameError::BadChar => c"invalid character in host or path",
            NameError::NotAbsolute => c"path prefix must start with /",
        }
    }
}

/// A validated byte string of at most `N` bytes, stored inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixed<const N: usize> {
    len: u16,
    bytes: [u8; N],
}

impl<const N: usize> Fixed<N> {
    fn new(s: &[u8], ok: impl Fn(u8) -> bool) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > N {
            return Err(NameError::TooLong);
        }
        if !s.iter().all(|&b| ok(b)) {
            return Err(NameError::BadChar);
        }
        let mut bytes = [0; N];
        bytes
            .get_mut(..s.len())
            .ok_or(NameError::TooLong)?
            .copy_from_slice(s);
        Ok(Self {
            len: s.len() as u16,
            bytes,
        })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// A host name or domain of a rule (at most 253 bytes).
pub type HostName = Fixed<253>;
/// A path prefix of a rule (at most 255 bytes).
pub type PathPrefix = Fixed<255>;

/// Validates a host name (or `.domain` suffix) for a rule.
pub fn host_name(s: &[u8]) -> Result<HostName, NameError> {
    Fixed::new(s, |b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// How a domain (suffix) rule may be written on the command line:
/// `*.example.com` stands for the domain `example.com`.
pub const WILDCARD: &[u8] = b"*.";

/// Validates a host condition as a user writes it: `*.example.com` is the
/// domain `example.com` (`true`: a suffix match), anything else an exact
/// name (`false`).
pub fn host_spec(s: &[u8]) -> Result<(HostName, bool), NameError> {
    match s.strip_prefix(WILDCARD) {
        Some(domain) => host_name(domain).map(|h| (h, true)),
        None => host_name(s).map(|h| (h, false)),
    }
}

/// Validates a path prefix for a rule.
pub fn path_prefix(s: &[u8]) -> Result<PathPrefix, NameError> {
    if !s.is_empty() && s.first() != Some(&b'/') {
        return Err(NameError::NotAbsolute);
    }
    Fixed::new(s, |b| (0x21..=0x7e).contains(&b))
}

/// Most rules a service has.
pub const MAX_RULES: usize = 64;

/// A rule as configured: conditions and the back-end it sends to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleConf {
    /// Host condition: the name, and whether it is a domain suffix.
    pub host: Option<(HostName, bool)>,
    /// Path prefix condition.
    pub path: Option<PathPrefix>,
    /// The back-end (address and port of one of the service's back-ends).
    pub backend: Endpoint<Ip>,
}

impl RuleConf {
    /// The matching part of the rule.
    pub fn rule(&self) -> Rule<'_> {
        Rule {
            host: match &self.host {
                None => HostMatch::Any,
                Some((h, false)) => HostMatch::Exact(h.as_bytes()),
                Some((h, true)) => HostMatch::Suffix(h.as_bytes()),
            },
            path_prefix: self.path.as_ref().map(|p| p.as_bytes()),
        }
    }
}

/// Why a rule change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    /// Neither a host nor a path.
    NoCondition,
    /// No backend address and port.
    NoBackend,
    /// The backend is not one of the service's.
    UnknownBackend,
    /// A 65th rule.
    TooMany,
    /// Index past the end of the list.
    BadIndex,
    /// A host name or path that does not validate.
    Name(NameError),
}

impl RuleError {
    /// The message returned to the user (netlink extack).
    pub const fn message(self) -> &'static CStr {
        match self {
            RuleError::NoCondition => c"rule needs a host or a path",
            RuleError::NoBackend => c"rule needs backend-addr and backend-port",
            RuleError::UnknownBackend => c"rule backend is not a backend of this service",
            RuleError::TooMany => c"too many rules in this service (64 at most)",
            RuleError::BadIndex => c"rule index out of range",
            RuleError::Name(e) => e.message(),
        }
    }
}

/// Checks a rule to be inserted at `index` (`None`: appended) into a list
/// of `count` rules whose service has the back-ends `backends`.
pub fn check_rule_add<'a>(
    rule: &RuleConf,
    index: Option<usize>,
    count: usize,
    mut backends: impl Iterator<Item = &'a Endpoint<Ip>>,
) -> Result<(), RuleError> {
    if rule.host.is_none() && rule.path.is_none() {
        return Err(RuleError::NoCondition);
    }
    if count >= MAX_RULES {
        return Err(RuleError::TooMany);
    }
    if index.is_some_and(|i| i > count) {
        return Err(RuleError::BadIndex);
    }
    if !backends.any(|b| *b == rule.backend) {
        return Err(RuleError::UnknownBackend);
    }
    Ok(())
}

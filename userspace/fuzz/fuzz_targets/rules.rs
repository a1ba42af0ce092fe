// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `rules`: the content rules of `src/proto/rules.rs`.
//!
//! The input is cut at NUL bytes: the request's host (empty: none), its
//! target, then one part per rule: a byte whose bits say whether the rule
//! has a host condition (1) and a path condition (2), then the host spec
//! and the path prefix as a user writes them, separated by a 0x01 byte.
//!
//! Asserts: `host_spec` and `path_prefix` accept exactly what a reference
//! written from their documentation accepts (same error kind otherwise) and
//! keep the bytes (`*.` taken off a domain); `first_match` over the
//! accepted rules picks the first rule that an independent reference
//! matcher (ASCII case-insensitive host, exact or domain suffix at a label
//! boundary, byte-wise path prefix) says matches, and `Rule::matches`
//! agrees with the reference on every rule.

#![no_main]

use baton_proto::http::Request;
use baton_proto::rules::{
    first_match, host_spec, path_prefix, HostName, NameError, PathPrefix, RuleConf,
};
use baton_proto::service::{Endpoint, Ip};
use libfuzzer_sys::fuzz_target;

/// Reference `host_name`: non-empty, at most 253 bytes of letters, digits,
/// `-`, `.`, `_`.
fn ref_host_name(s: &[u8]) -> Result<&[u8], NameError> {
    if s.is_empty() {
        Err(NameError::Empty)
    } else if s.len() > 253 {
        Err(NameError::TooLong)
    } else if !s
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        Err(NameError::BadChar)
    } else {
        Ok(s)
    }
}

/// Reference `host_spec`: `*.domain` is a suffix rule for `domain`.
fn ref_host_spec(s: &[u8]) -> Result<(&[u8], bool), NameError> {
    match s.strip_prefix(b"*.") {
        Some(domain) => ref_host_name(domain).map(|d| (d, true)),
        None => ref_host_name(s).map(|h| (h, false)),
    }
}

/// Reference `path_prefix`: starts with `/`, at most 255 visible ASCII
/// bytes.
fn ref_path_prefix(s: &[u8]) -> Result<&[u8], NameError> {
    if s.is_empty() {
        Err(NameError::Empty)
    } else if s[0] != b'/' {
        Err(NameError::NotAbsolute)
    } else if s.len() > 255 {
        Err(NameError::TooLong)
    } else if !s.iter().all(|&b| b.is_ascii_graphic()) {
        Err(NameError::BadChar)
    } else {
        Ok(s)
    }
}

/// A rule as the reference sees it.
struct RefRule {
    host: Option<(Vec<u8>, bool)>,
    path: Option<Vec<u8>>,
}

impl RefRule {
    fn matches(&self, host: Option<&[u8]>, path: &[u8]) -> bool {
        let host_ok = match &self.host {
            None => true,
            Some((name, suffix)) => host.is_some_and(|h| {
                let h = h.to_ascii_lowercase();
                let name = name.to_ascii_lowercase();
                if *suffix {
                    // `.example.com` and `example.com` name the same domain.
                    let domain = name.strip_prefix(b".").unwrap_or(&name);
                    h == domain || h.ends_with(&[b".", domain].concat())
                } else {
                    h == name
                }
            }),
        };
        host_ok && self.path.as_ref().is_none_or(|p| path.starts_with(p))
    }
}

/// Parses one rule part; `None` if the rule is refused (checked against
/// the reference on the way).
fn rule(part: &[u8]) -> Option<(RuleConf, RefRule)> {
    let (&bits, rest) = part.split_first()?;
    let mut fields = rest.splitn(2, |&b| b == 1);
    let host = fields.next().unwrap_or_default();
    let path = fields.next().unwrap_or_default();
    let mut conf = RuleConf {
        host: None,
        path: None,
        backend: Endpoint {
            addr: Ip::V4([198, 18, 0, 2]),
            port: 80,
        },
    };
    let mut reference = RefRule {
        host: None,
        path: None,
    };
    if bits & 1 != 0 {
        let got = host_spec(host);
        let want = ref_host_spec(host);
        match (got, want) {
            (Ok((h, suffix)), Ok((name, want_suffix))) => {
                let h: HostName = h;
                assert_eq!(h.as_bytes(), name, "host kept");
                assert_eq!(suffix, want_suffix);
                conf.host = Some((h, suffix));
                reference.host = Some((name.to_vec(), suffix));
            }
            (Err(e), Err(w)) => {
                assert_eq!(e, w, "host spec error");
                return None;
            }
            (got, want) => panic!("host_spec {host:?}: {got:?}, reference {want:?}"),
        }
    }
    if bits & 2 != 0 {
        match (path_prefix(path), ref_path_prefix(path)) {
            (Ok(p), Ok(want)) => {
                let p: PathPrefix = p;
                assert_eq!(p.as_bytes(), want, "path kept");
                conf.path = Some(p);
                reference.path = Some(want.to_vec());
            }
            (Err(e), Err(w)) => {
                assert_eq!(e, w, "path prefix error");
                return None;
            }
            (got, want) => panic!("path_prefix {path:?}: {got:?}, reference {want:?}"),
        }
    }
    Some((conf, reference))
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let host = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let req = Request {
        method: b"GET",
        target,
        host: (!host.is_empty()).then_some(host),
        header_len: 0,
    };
    let path = req.path();
    let rules: Vec<(RuleConf, RefRule)> = parts.filter_map(rule).collect();
    for (conf, reference) in &rules {
        assert_eq!(
            conf.rule().matches(&req),
            reference.matches(req.host, path),
            "{:?} on host {:?} path {path:?}",
            conf.rule(),
            req.host
        );
    }
    let got = first_match(
        rules.iter().enumerate().map(|(i, (c, _))| (c.rule(), i)),
        &req,
    );
    let want = rules.iter().position(|(_, r)| r.matches(req.host, path));
    assert_eq!(got, want, "first match");
});

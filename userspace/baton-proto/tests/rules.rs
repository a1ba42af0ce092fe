// SPDX-License-Identifier: GPL-2.0

//! Content rules of `src/proto/rules.rs`.

use baton_proto::{
    http::parse_request,
    rules::{first_match, host_name, host_spec, path_prefix, HostMatch, NameError, Rule, WILDCARD},
};
use proptest::prelude::*;

fn req(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

const A: Rule<'static> = Rule {
    host: HostMatch::Exact(b"a.example"),
    path_prefix: None,
};
const B: Rule<'static> = Rule {
    host: HostMatch::Any,
    path_prefix: Some(b"/b/"),
};
const SUFFIX: Rule<'static> = Rule {
    host: HostMatch::Suffix(b".example.com"),
    path_prefix: None,
};

#[test]
fn the_issue_rules() {
    let rules = [(A, 1), (B, 2)];
    let pick = |h: &str, p: &str| {
        let raw = req(h, p);
        first_match(rules, &parse_request(&raw).unwrap())
    };
    assert_eq!(pick("a.example", "/b/x"), Some(1), "first match wins");
    assert_eq!(
        pick("A.EXAMPLE", "/"),
        Some(1),
        "hosts compare without case"
    );
    assert_eq!(pick("c.example", "/b/x?q"), Some(2));
    assert_eq!(pick("c.example", "/bx"), None);
}

#[test]
fn suffix_is_a_domain() {
    let m = |h: &str| {
        let raw = req(h, "/");
        SUFFIX.matches(&parse_request(&raw).unwrap())
    };
    assert!(m("example.com"));
    assert!(m("a.example.com"));
    assert!(m("b.a.EXAMPLE.com"));
    assert!(!m("badexample.com"));
    assert!(!m("example.org"));
    let no_host = parse_request(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert!(!SUFFIX.matches(&no_host));
    assert!(B.matches(&parse_request(b"GET /b/ HTTP/1.0\r\n\r\n").unwrap()));
}

#[test]
fn names() {
    assert_eq!(host_name(b"a.example").unwrap().as_bytes(), b"a.example");
    assert_eq!(host_name(b""), Err(NameError::Empty));
    assert_eq!(host_name(b"a b"), Err(NameError::BadChar));
    assert_eq!(host_name(&[b'a'; 254]), Err(NameError::TooLong));
    assert_eq!(path_prefix(b"/b/").unwrap().as_bytes(), b"/b/");
    assert_eq!(path_prefix(b"b/"), Err(NameError::NotAbsolute));
    assert_eq!(path_prefix(b"/a b"), Err(NameError::BadChar));
}

proptest! {
    /// first_match is "the first rule in order that matches", against a
    /// reference built from `matches` alone.
    #[test]
    fn first_match_is_the_first(
        hosts in proptest::collection::vec("[ab]\\.ex", 1..6),
        prefixes in proptest::collection::vec(proptest::option::of("/[ab]{0,2}"), 1..6),
        host in "[ab]\\.ex",
        path in "/[ab]{0,3}",
    ) {
        let rules: Vec<(Rule<'_>, usize)> = hosts
            .iter()
            .zip(&prefixes)
            .enumerate()
            .map(|(i, (h, p))| (Rule {
                host: if i % 2 == 0 { HostMatch::Exact(h.as_bytes()) } else { HostMatch::Any },
                path_prefix: p.as_deref().map(str::as_bytes),
            }, i))
            .collect();
        let raw = req(&host, &path);
        let r = parse_request(&raw).unwrap();
        let reference = rules.iter().position(|(rule, _)| {
            let host_ok = match rule.host {
                HostMatch::Exact(h) => h == host.as_bytes(),
                _ => true,
            };
            host_ok && rule.path_prefix.is_none_or(|p| path.as_bytes().starts_with(p))
        });
        prop_assert_eq!(first_match(rules.iter().copied(), &r), reference);
    }
}

#[test]
fn rule_conf_checks_and_matching() {
    use baton_proto::{
        http::parse_request,
        rules::{check_rule_add, host_name, path_prefix, RuleConf, RuleError, MAX_RULES},
        service::{Endpoint, Ip},
    };
    let be1: Endpoint<Ip> = Endpoint {
        addr: [198, 18, 1, 3],
        port: 8080,
    }
    .into();
    let be2: Endpoint<Ip> = Endpoint {
        addr: [198, 18, 1, 4],
        port: 8080,
    }
    .into();
    let backends = [be1, be2];
    let host_rule = RuleConf {
        host: Some((host_name(b"a.example").unwrap(), false)),
        path: None,
        backend: be1,
    };
    let path_rule = RuleConf {
        host: None,
        path: Some(path_prefix(b"/b/").unwrap()),
        backend: be2,
    };
    assert_eq!(check_rule_add(&host_rule, None, 0, backends.iter()), Ok(()));
    assert_eq!(
        check_rule_add(&path_rule, Some(1), 1, backends.iter()),
        Ok(())
    );
    let none = RuleConf {
        host: None,
        path: None,
        backend: be1,
    };
    assert_eq!(
        check_rule_add(&none, None, 0, backends.iter()),
        Err(RuleError::NoCondition)
    );
    let elsewhere = RuleConf {
        backend: Endpoint {
            addr: [198, 18, 1, 9],
            port: 80,
        }
        .into(),
        ..host_rule
    };
    assert_eq!(
        check_rule_add(&elsewhere, None, 0, backends.iter()),
        Err(RuleError::UnknownBackend)
    );
    assert_eq!(
        check_rule_add(&host_rule, Some(3), 2, backends.iter()),
        Err(RuleError::BadIndex)
    );
    assert_eq!(
        check_rule_add(&host_rule, None, MAX_RULES, backends.iter()),
        Err(RuleError::TooMany)
    );
    // First match wins, in order; nothing matches → no target.
    let rules = [host_rule, path_rule];
    let pick = |raw: &[u8]| {
        let req = parse_request(raw).unwrap();
        baton_proto::rules::first_match(rules.iter().map(|r| (r.rule(), r.backend)), &req)
    };
    assert_eq!(
        pick(b"GET /b/x HTTP/1.1\r\nHost: A.example\r\n\r\n"),
        Some(be1)
    );
    assert_eq!(
        pick(b"GET /b/x HTTP/1.1\r\nHost: c.example\r\n\r\n"),
        Some(be2)
    );
    assert_eq!(pick(b"GET /c HTTP/1.1\r\nHost: c.example\r\n\r\n"), None);
    let domain = RuleConf {
        host: Some((host_name(b"example.com").unwrap(), true)),
        ..host_rule
    };
    let req = parse_request(b"GET / HTTP/1.1\r\nHost: x.example.com\r\n\r\n").unwrap();
    assert!(domain.rule().matches(&req));
    let req = parse_request(b"GET / HTTP/1.1\r\nHost: badexample.com\r\n\r\n").unwrap();
    assert!(!domain.rule().matches(&req));
}

#[test]
fn host_specs() {
    let spec = |s: &str| host_spec(s.as_bytes()).map(|(h, d)| (h.as_bytes().to_vec(), d));
    assert_eq!(
        spec("www.example.com"),
        Ok((b"www.example.com".to_vec(), false))
    );
    assert_eq!(spec("*.example.com"), Ok((b"example.com".to_vec(), true)));
    assert_eq!(spec("*."), Err(NameError::Empty));
    assert_eq!(spec(""), Err(NameError::Empty));
    assert_eq!(spec("*"), Err(NameError::BadChar));
    assert_eq!(spec("*.*.example.com"), Err(NameError::BadChar));
    assert_eq!(spec("a.*.example.com"), Err(NameError::BadChar));
    assert_eq!(spec("ex ample.com"), Err(NameError::BadChar));
    assert_eq!(spec(&"a".repeat(254)), Err(NameError::TooLong));
    assert_eq!(
        spec(&format!("*.{}", "a".repeat(253))).map(|(_, d)| d),
        Ok(true)
    );
}

proptest! {
    /// `*.` before a domain, then the domain: what was parsed.
    #[test]
    fn host_spec_round_trips(name in "[a-zA-Z0-9_.-]{1,60}", domain in any::<bool>()) {
        let written = if domain { format!("*.{name}") } else { name.clone() };
        let (h, d) = host_spec(written.as_bytes()).unwrap();
        prop_assert_eq!(d, domain);
        prop_assert_eq!(h.as_bytes(), name.as_bytes());
        let mut again = if d { WILDCARD.to_vec() } else { Vec::new() };
        again.extend_from_slice(h.as_bytes());
        prop_assert_eq!(again, written.into_bytes());
    }

    /// Only host characters are accepted, after an optional `*.`.
    #[test]
    fn host_spec_accepts_only_host_characters(s in "\\PC{0,40}") {
        let body = s.strip_prefix("*.").unwrap_or(&s);
        let ok = !body.is_empty()
            && body.len() <= 253
            && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        prop_assert_eq!(host_spec(s.as_bytes()).is_ok(), ok);
    }
}

// SPDX-License-Identifier: GPL-2.0

//! What to do about a refusal: the kernel's message says what is wrong in
//! general ("peer serves a backend"); the hint that follows it names the
//! objects of this command and the command that clears the way.

use std::net::SocketAddr;

use crate::{
    cli::{self, Action},
    output::Service,
};

/// `ADDR:PORT`, `[ADDR]:PORT` for IPv6.
fn ep(addr: SocketAddr) -> String {
    addr.to_string()
}

/// The service of `action`, if it names one in a `service` nest.
fn service_of(action: &Action) -> Option<SocketAddr> {
    match action {
        Action::ServiceAdd(s) => Some(s.vip),
        Action::ServiceDel(vip) | Action::RuleDel(vip, _) => Some(*vip),
        Action::BackendAdd(b)
        | Action::BackendDel(b)
        | Action::BackendSet(b)
        | Action::BackendDrain(b, _) => Some(b.vip),
        Action::RuleAdd(r) => Some(r.vip),
        _ => None,
    }
}

/// The first IPv6 address `action` sends (as an `addr6` attribute).
fn ipv6_of(action: &Action) -> Option<String> {
    let v6 = |a: SocketAddr| a.is_ipv6().then(|| ep(a));
    match action {
        Action::BackendAdd(b)
        | Action::BackendDel(b)
        | Action::BackendSet(b)
        | Action::BackendDrain(b, _) => v6(b.vip).or_else(|| v6(b.addr)),
        Action::RuleAdd(r) => v6(r.vip).or_else(|| v6(r.backend)),
        Action::ConnList(f) => f
            .service
            .and_then(v6)
            .or_else(|| f.backend.and_then(v6))
            .or_else(|| f.client.filter(|c| c.0.is_ipv6()).map(|c| c.0.to_string())),
        a => service_of(a).and_then(v6),
    }
}

/// Whether answering `action`'s refusal `message` needs the services.
pub fn needs_services(action: &Action, message: &str) -> bool {
    match action {
        Action::PeerDel(_) => message.starts_with("peer serves a backend"),
        Action::BackendDel(_) => message.starts_with("backend is the target of a rule"),
        Action::RuleAdd(_) | Action::RuleDel(..) => message == "rule index out of range",
        _ => false,
    }
}

/// The hint for the kernel's refusal `message` of `action`; `services`:
/// the services as they are, when [`needs_services`] said so.
pub fn hint(action: &Action, message: &str, services: Option<&[Service]>) -> Option<String> {
    let service = |vip: SocketAddr| services.and_then(|all| all.iter().find(|s| s.vip() == vip));
    let no_service = |vip| {
        format!(
            "no service {} here: batonctl service list shows them, batonctl service add {} adds it",
            ep(vip),
            ep(vip)
        )
    };
    Some(match (action, message) {
        (Action::ServiceAdd(s), "service exists") => {
            let vip = ep(s.vip);
            format!("{vip} is a service already: batonctl service del {vip} first, or use another address or port")
        }
        (Action::ServiceDel(vip), "service not found") => no_service(*vip),
        (Action::BackendAdd(b), "service not found") => no_service(b.vip),
        (Action::BackendDel(b), "service not found") => no_service(b.vip),
        (Action::BackendSet(b) | Action::BackendDrain(b, _), "service not found") => {
            no_service(b.vip)
        }
        (Action::RuleAdd(r), "service not found") => no_service(r.vip),
        (Action::RuleDel(vip, _), "service not found") => no_service(*vip),
        (Action::BackendAdd(b), "backend exists in this service") => {
            let (vip, be) = (ep(b.vip), ep(b.addr));
            let weight = b.weight.map_or("N".to_string(), |w| w.to_string());
            format!(
                "{be} is a back-end of {vip} already; to change its weight: batonctl backend set \
                 {vip} {be} weight {weight}; its peer: batonctl backend del {vip} {be}, then add \
                 it again"
            )
        }
        (
            Action::BackendDel(b) | Action::BackendSet(b) | Action::BackendDrain(b, _),
            "backend not found in this service",
        ) => {
            format!(
                "{} is not a back-end of {}: batonctl service list shows its back-ends",
                ep(b.addr),
                ep(b.vip)
            )
        }
        (Action::BackendAdd(b), "backend peer is not a configured peer") => {
            let peer = b.peer.unwrap_or_default();
            format!("no peer {peer}: batonctl peer add {peer} ADDR[:PORT] first")
        }
        (Action::BackendDel(b), m) if m.starts_with("backend is the target of a rule") => {
            let rules: Vec<String> = service(b.vip)?
                .rules
                .iter()
                .filter(|r| r.backend == b.addr)
                .map(|r| format!("batonctl rule del {} {}", ep(b.vip), r.index))
                .collect();
            // Deleting the first moves the next ones down: last first.
            let rev: Vec<String> = rules.into_iter().rev().collect();
            format!(
                "rules of {} send to {}: {} first",
                ep(b.vip),
                ep(b.addr),
                rev.join(", then ")
            )
        }
        (Action::RuleAdd(r), "rule backend is not a backend of this service") => format!(
            "{} is not a back-end of {}: batonctl backend add {} {} first",
            ep(r.backend),
            ep(r.vip),
            ep(r.vip),
            ep(r.backend)
        ),
        (Action::RuleAdd(r), "rule index out of range") => {
            let n = service(r.vip)?.rules.len();
            format!(
                "{} has {n} rules: an index from 0 to {n} inserts one",
                ep(r.vip)
            )
        }
        (Action::RuleDel(vip, _), "rule index out of range") => match service(*vip)?.rules.len() {
            0 => format!("{} has no rule", ep(*vip)),
            n => format!("{} has {n} rules, indexes 0 to {}", ep(*vip), n - 1),
        },
        (Action::PeerAdd(p), "a peer with this node-id exists") => format!(
            "peer {} exists; to change its address: batonctl peer del {}, then add it again",
            p.node_id, p.node_id
        ),
        (Action::PeerDel(id), "no peer with this node-id") => {
            format!("no peer {id}: batonctl peer list shows them")
        }
        (Action::PeerDel(id), m) if m.starts_with("peer serves a backend") => {
            let used: Vec<String> = services?
                .iter()
                .flat_map(|s| {
                    s.backends
                        .iter()
                        .filter(|b| b.peer == *id)
                        .map(move |b| (ep(s.vip()), ep(b.endpoint())))
                })
                .map(|(vip, b)| format!("batonctl backend del {vip} {b}"))
                .collect();
            format!("peer {id} serves back-ends: {} first", used.join(", "))
        }
        (Action::PeerDel(id), m) if m.starts_with("peer is a member of the front-end group") => {
            format!("batonctl cluster del {id} first")
        }
        (Action::ClusterAdd(id), m) if m.starts_with("no peer with this node-id") => {
            format!("batonctl peer add {id} ADDR[:PORT] first")
        }
        (Action::ClusterAdd(id), m)
            if m.starts_with("a front-end group member needs an IPv4 peer address") =>
        {
            format!(
                "peer {id} has an IPv6 address: to make it a member, batonctl peer del {id}, \
                 then batonctl peer add {id} with its IPv4 address"
            )
        }
        (Action::PeerAdd(p), "peer node-id is this node's own node-id") => format!(
            "this node is node {}: a peer has a node id of its own (batonctl config show)",
            p.node_id
        ),
        (Action::ClusterAdd(id), "already a member of the front-end group") => {
            format!("{id} is a member already: batonctl cluster show lists them")
        }
        (Action::ClusterAdd(id), m)
            if m.starts_with("member node-id is this node's own node-id") =>
        {
            format!("this node is node {id}, in its group always: add the other front-ends")
        }
        (Action::ClusterDel(id), "not a member of the front-end group") => {
            format!("{id} is not a member: batonctl cluster show lists them")
        }
        (
            Action::BackendAdd(b)
            | Action::BackendDel(b)
            | Action::BackendSet(b)
            | Action::BackendDrain(b, _),
            "backend must be of the service's address family",
        ) => family_mismatch(b.vip, b.addr)?,
        (Action::RuleAdd(r), "backend must be of the service's address family") => {
            family_mismatch(r.vip, r.backend)?
        }
        // batonctl sends one address: the module reads another attribute
        // set than this batonctl's. ("service needs one address: addr or
        // addr6", "service and backend need ...": the end is the same.)
        (a, m) if m.ends_with("one address: addr or addr6") => {
            let vip = service_of(a)?;
            let sent = if vip.is_ipv4() { "addr" } else { "addr6" };
            format!(
                "batonctl sent {} as {sent} alone: the module and batonctl disagree on the \
                 service attributes (batonctl --version, batonctl status show their versions)",
                ep(vip)
            )
        }
        // A module from before per-request dispatch refuses its attribute
        // as unknown (an IPv6 VIP's addr6 may be what it does not know).
        (Action::ServiceAdd(s), "Unknown attribute type") if s.dispatch.is_some() => {
            let d = s.dispatch?.name();
            let addr6 = if s.vip.is_ipv6() {
                format!(", and {} as an IPv6 address (addr6)", ep(s.vip))
            } else {
                String::new()
            };
            format!(
                "dispatch {d} is sent as the dispatch attribute{addr6}, which the loaded module \
                 may predate: batonctl status shows its version"
            )
        }
        // A module from before drains refuses the attribute as unknown
        // (an IPv6 back-end's addr6 may be what it does not know).
        (Action::BackendSet(b) | Action::BackendDrain(b, _), "Unknown attribute type")
            if b.drain.is_some() =>
        {
            let addr6 = ipv6_of(action).map_or_else(String::new, |a| {
                format!(", and {a} as an IPv6 address (addr6)")
            });
            format!(
                "a drain is sent as the backend's drain attribute{addr6}, which the loaded \
                 module may predate: batonctl status shows its version; batonctl backend set \
                 {} {} weight 0 stops new connections without moving the others",
                ep(b.vip),
                ep(b.addr)
            )
        }
        // A module from before IPv6 services refuses addr6 as unknown.
        (a, "Unknown attribute type") => format!(
            "{} is sent as an IPv6 address (addr6), which the loaded module may predate: \
             batonctl status shows its version",
            ipv6_of(a)?
        ),
        _ => return None,
    })
}

/// The hint for a back-end `be` of another family than its service
/// `vip`; `None` if they are of one.
fn family_mismatch(vip: SocketAddr, be: SocketAddr) -> Option<String> {
    let why = cli::same_family(vip, be).err()?;
    Some(format!(
        "{why}: a service's back-ends, and its rules' targets, are of its own address family \
         (batonctl service list shows the services)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        cli,
        output::{Backend, Rule},
    };

    fn action(line: &str) -> Action {
        let mut argv = vec!["batonctl"];
        argv.extend(line.split_whitespace());
        cli::parse(argv).unwrap().action
    }

    fn services() -> Vec<Service> {
        let backend = |last, peer| Backend {
            addr: [198, 18, 2, last].into(),
            port: 8080,
            weight: 1,
            peer,
            active: None,
            draining: None,
        };
        let rule = |index, path: &str, last| Rule {
            index,
            host: None,
            domain: false,
            path: Some(path.into()),
            backend: SocketAddr::new([198, 18, 2, last].into(), 8080),
        };
        vec![Service {
            addr: [198, 18, 1, 10].into(),
            port: 80,
            scheduler: "rr",
            max_conns: 0,
            dispatch: Some("request"),
            backends: vec![backend(1, 0), backend(2, 2), backend(3, 2)],
            rules: vec![rule(0, "/a", 2), rule(1, "/b", 1), rule(2, "/c", 2)],
        }]
    }

    fn hint_of(line: &str, message: &str) -> Option<String> {
        let a = action(line);
        let s = services();
        hint(&a, message, needs_services(&a, message).then_some(&s[..]))
    }

    #[test]
    fn refusals_name_their_objects_and_the_way_out() {
        let cases = [
            (
                "peer del 2",
                "peer serves a backend: delete the backend first",
                "peer 2 serves back-ends: batonctl backend del 198.18.1.10:80 198.18.2.2:8080, \
                 batonctl backend del 198.18.1.10:80 198.18.2.3:8080 first",
            ),
            (
                "peer del 2",
                "peer is a member of the front-end group: cluster-del it first",
                "batonctl cluster del 2 first",
            ),
            (
                "backend del 198.18.1.10:80 198.18.2.2:8080",
                "backend is the target of a rule: delete the rule first",
                "rules of 198.18.1.10:80 send to 198.18.2.2:8080: batonctl rule del \
                 198.18.1.10:80 2, then batonctl rule del 198.18.1.10:80 0 first",
            ),
            (
                "service add 198.18.1.10:80",
                "service exists",
                "198.18.1.10:80 is a service already: batonctl service del 198.18.1.10:80 \
                 first, or use another address or port",
            ),
            (
                "backend add 198.18.1.11:80 198.18.2.1:80",
                "service not found",
                "no service 198.18.1.11:80 here: batonctl service list shows them, batonctl \
                 service add 198.18.1.11:80 adds it",
            ),
            (
                "backend add 198.18.1.10:80 198.18.2.1:8080 weight 3",
                "backend exists in this service",
                "198.18.2.1:8080 is a back-end of 198.18.1.10:80 already; to change its weight: \
                 batonctl backend set 198.18.1.10:80 198.18.2.1:8080 weight 3; its peer: \
                 batonctl backend del 198.18.1.10:80 198.18.2.1:8080, then add it again",
            ),
            (
                "backend add 198.18.1.10:80 198.18.2.1:8080 peer 2",
                "backend exists in this service",
                "198.18.2.1:8080 is a back-end of 198.18.1.10:80 already; to change its weight: \
                 batonctl backend set 198.18.1.10:80 198.18.2.1:8080 weight N; its peer: \
                 batonctl backend del 198.18.1.10:80 198.18.2.1:8080, then add it again",
            ),
            (
                "backend set 198.18.1.10:80 198.18.2.7:8080 weight 0",
                "backend not found in this service",
                "198.18.2.7:8080 is not a back-end of 198.18.1.10:80: batonctl service list \
                 shows its back-ends",
            ),
            (
                "backend set 198.18.1.11:80 198.18.2.1:8080 weight 0",
                "service not found",
                "no service 198.18.1.11:80 here: batonctl service list shows them, batonctl \
                 service add 198.18.1.11:80 adds it",
            ),
            (
                "backend drain 198.18.1.11:80 198.18.2.1:8080",
                "service not found",
                "no service 198.18.1.11:80 here: batonctl service list shows them, batonctl \
                 service add 198.18.1.11:80 adds it",
            ),
            (
                "backend drain 198.18.1.10:80 198.18.2.7:8080 timeout 5",
                "backend not found in this service",
                "198.18.2.7:8080 is not a back-end of 198.18.1.10:80: batonctl service list \
                 shows its back-ends",
            ),
            (
                "backend add 198.18.1.10:80 198.18.2.9:80 peer 7",
                "backend peer is not a configured peer",
                "no peer 7: batonctl peer add 7 ADDR[:PORT] first",
            ),
            (
                "rule del 198.18.1.10:80 5",
                "rule index out of range",
                "198.18.1.10:80 has 3 rules, indexes 0 to 2",
            ),
            (
                "rule add 198.18.1.10:80 path /x to 198.18.2.1:8080 index 9",
                "rule index out of range",
                "198.18.1.10:80 has 3 rules: an index from 0 to 3 inserts one",
            ),
            (
                "rule add 198.18.1.10:80 path /x to 198.18.2.7:8080",
                "rule backend is not a backend of this service",
                "198.18.2.7:8080 is not a back-end of 198.18.1.10:80: batonctl backend add \
                 198.18.1.10:80 198.18.2.7:8080 first",
            ),
            (
                "cluster add 5",
                "no peer with this node-id: add the peer first",
                "batonctl peer add 5 ADDR[:PORT] first",
            ),
            (
                "cluster add 5",
                "already a member of the front-end group",
                "5 is a member already: batonctl cluster show lists them",
            ),
            (
                "cluster add 3",
                "a front-end group member needs an IPv4 peer address: client packets are \
                 passed to members over IPv4",
                "peer 3 has an IPv6 address: to make it a member, batonctl peer del 3, then \
                 batonctl peer add 3 with its IPv4 address",
            ),
            (
                "peer add 1 198.18.0.1",
                "peer node-id is this node's own node-id",
                "this node is node 1: a peer has a node id of its own (batonctl config show)",
            ),
        ];
        for (line, message, want) in cases {
            assert_eq!(hint_of(line, message).as_deref(), Some(want), "{line}");
        }
    }

    #[test]
    fn ipv6_objects_are_named_in_brackets() {
        let services = [Service {
            addr: "2001:db8::10".parse().unwrap(),
            port: 80,
            scheduler: "rr",
            max_conns: 0,
            dispatch: Some("request"),
            backends: vec![Backend {
                addr: "2001:db8::2:1".parse().unwrap(),
                port: 8080,
                weight: 1,
                peer: 2,
                active: None,
                draining: None,
            }],
            rules: vec![
                Rule {
                    index: 0,
                    host: None,
                    domain: false,
                    path: Some("/a".into()),
                    backend: "[2001:db8::2:1]:8080".parse().unwrap(),
                },
                Rule {
                    index: 1,
                    host: None,
                    domain: false,
                    path: Some("/b".into()),
                    backend: "[2001:db8::2:1]:8080".parse().unwrap(),
                },
            ],
        }];
        let hint_of = |line: &str, message: &str| {
            let a = action(line);
            hint(
                &a,
                message,
                needs_services(&a, message).then_some(&services[..]),
            )
        };
        for (line, message, want) in [
            (
                "service add [2001:db8::10]:80",
                "service exists",
                "[2001:db8::10]:80 is a service already: batonctl service del \
                 [2001:db8::10]:80 first, or use another address or port",
            ),
            (
                "backend del [2001:db8::10]:80 [2001:db8::2:1]:8080",
                "backend is the target of a rule: delete the rule first",
                "rules of [2001:db8::10]:80 send to [2001:db8::2:1]:8080: batonctl rule del \
                 [2001:db8::10]:80 1, then batonctl rule del [2001:db8::10]:80 0 first",
            ),
            (
                "peer del 2",
                "peer serves a backend: delete the backend first",
                "peer 2 serves back-ends: batonctl backend del [2001:db8::10]:80 \
                 [2001:db8::2:1]:8080 first",
            ),
            (
                "rule del [2001:db8::10]:80 4",
                "rule index out of range",
                "[2001:db8::10]:80 has 2 rules, indexes 0 to 1",
            ),
        ] {
            assert_eq!(hint_of(line, message).as_deref(), Some(want), "{line}");
        }
    }

    #[test]
    fn address_family_refusals() {
        let family = "backend must be of the service's address family";
        // batonctl refuses a mismatch before sending: built by hand, as
        // another client could send it.
        let be = cli::BackendSpec {
            vip: "[2001:db8::10]:80".parse().unwrap(),
            addr: "198.18.2.1:80".parse().unwrap(),
            weight: None,
            peer: None,
            drain: None,
        };
        let want = "backend 198.18.2.1:80 is IPv4, service [2001:db8::10]:80 is IPv6: a \
                    service's back-ends, and its rules' targets, are of its own address family \
                    (batonctl service list shows the services)";
        for a in [
            Action::BackendAdd(be),
            Action::BackendDel(be),
            Action::BackendSet(be),
        ] {
            assert_eq!(hint(&a, family, None).as_deref(), Some(want), "{a:?}");
        }
        let Action::RuleAdd(mut rule) = action("rule add 198.18.1.10:80 path / to 198.18.2.1:8080")
        else {
            panic!("not a rule add");
        };
        rule.backend = "[2001:db8::2:1]:8080".parse().unwrap();
        assert_eq!(
            hint(&Action::RuleAdd(rule), family, None).as_deref(),
            Some(
                "backend [2001:db8::2:1]:8080 is IPv6, service 198.18.1.10:80 is IPv4: a \
                 service's back-ends, and its rules' targets, are of its own address family \
                 (batonctl service list shows the services)"
            )
        );
        // One family: nothing to say beyond the kernel's message.
        assert_eq!(
            hint_of("backend add 198.18.1.10:80 198.18.2.1:80", family),
            None
        );
        // One address is what batonctl sends: a module that reads the
        // service nest otherwise.
        assert_eq!(
            hint_of(
                "backend add [2001:db8::10]:80 [2001:db8::2:1]:80",
                "service needs one address: addr or addr6"
            )
            .as_deref(),
            Some(
                "batonctl sent [2001:db8::10]:80 as addr6 alone: the module and batonctl \
                 disagree on the service attributes (batonctl --version, batonctl status show \
                 their versions)"
            )
        );
        assert!(hint_of(
            "service del 198.18.1.10:80",
            "service and backend need one address: addr or addr6"
        )
        .is_some_and(|h| h.starts_with("batonctl sent 198.18.1.10:80 as addr alone")));
        // A peer's is another matter.
        assert_eq!(
            hint_of(
                "peer add 3 2001:db8::3",
                "peer needs one address: addr or addr6"
            ),
            None
        );
        // A module from before addr6.
        for (line, addr) in [
            ("service add [2001:db8::10]:80", "[2001:db8::10]:80"),
            (
                "rule add [2001:db8::10]:80 path / to [2001:db8::2:1]:80",
                "[2001:db8::10]:80",
            ),
            ("conn list client 2001:db8::1", "2001:db8::1"),
        ] {
            assert_eq!(
                hint_of(line, "Unknown attribute type"),
                Some(format!(
                    "{addr} is sent as an IPv6 address (addr6), which the loaded module may \
                     predate: batonctl status shows its version"
                )),
                "{line}"
            );
        }
        assert_eq!(
            hint_of("service add 198.18.1.10:80", "Unknown attribute type"),
            None
        );
        // A module from before drains.
        for line in [
            "backend drain 198.18.1.10:80 198.18.2.1:8080 timeout 10",
            "backend set 198.18.1.10:80 198.18.2.1:8080 drain off",
        ] {
            assert_eq!(
                hint_of(line, "Unknown attribute type").as_deref(),
                Some(
                    "a drain is sent as the backend's drain attribute, which the loaded module \
                     may predate: batonctl status shows its version; batonctl backend set \
                     198.18.1.10:80 198.18.2.1:8080 weight 0 stops new connections without \
                     moving the others"
                ),
                "{line}"
            );
        }
        assert!(hint_of(
            "backend drain [2001:db8::10]:80 [2001:db8::2:1]:8080",
            "Unknown attribute type"
        )
        .is_some_and(|h| h.starts_with(
            "a drain is sent as the backend's drain attribute, and [2001:db8::10]:80 as an \
             IPv6 address (addr6), which"
        )));
        // A module from before dispatch.
        assert_eq!(
            hint_of(
                "service add 198.18.1.10:80 dispatch connection",
                "Unknown attribute type"
            ),
            Some(
                "dispatch connection is sent as the dispatch attribute, which the loaded \
                 module may predate: batonctl status shows its version"
                    .into()
            )
        );
        assert_eq!(
            hint_of(
                "service add [2001:db8::10]:80 scheduler rr dispatch request",
                "Unknown attribute type"
            ),
            Some(
                "dispatch request is sent as the dispatch attribute, and [2001:db8::10]:80 as \
                 an IPv6 address (addr6), which the loaded module may predate: batonctl status \
                 shows its version"
                    .into()
            )
        );
    }

    #[test]
    fn no_hint_for_what_says_it_all() {
        assert_eq!(
            hint_of("config set copies 2", "copies must be between 1 and 63"),
            None
        );
        assert_eq!(hint_of("peer del 2", "something new"), None);
        // The services are needed and not there: no hint rather than a
        // wrong one.
        let a = action("peer del 2");
        assert_eq!(
            hint(&a, "peer serves a backend: delete the backend first", None),
            None
        );
    }
}

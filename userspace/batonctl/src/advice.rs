// SPDX-License-Identifier: GPL-2.0

//! What to do about a refusal: the kernel's message says what is wrong in
//! general ("peer serves a backend"); the hint that follows it names the
//! objects of this command and the command that clears the way.

use std::net::Ipv4Addr;

use crate::{cli::Action, output::Service};

/// `ADDR:PORT`.
fn ep((addr, port): (Ipv4Addr, u16)) -> String {
    format!("{addr}:{port}")
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
    let service = |vip: (Ipv4Addr, u16)| {
        services.and_then(|all| all.iter().find(|s| (s.addr, s.port) == vip))
    };
    let no_service = |vip| {
        format!(
            "no service {} here: batonctl service list shows them, batonctl service add {} adds it",
            ep(vip),
            ep(vip)
        )
    };
    Some(match (action, message) {
        (Action::ServiceAdd(s), "service exists") => {
            let vip = ep((s.vip, s.port));
            format!("{vip} is a service already: batonctl service del {vip} first, or use another address or port")
        }
        (Action::ServiceDel(vip), "service not found") => no_service(*vip),
        (Action::BackendAdd(b), "service not found") => no_service(b.vip),
        (Action::BackendDel(b), "service not found") => no_service(b.vip),
        (Action::BackendSet(b), "service not found") => no_service(b.vip),
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
        (Action::BackendDel(b) | Action::BackendSet(b), "backend not found in this service") => {
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
                .filter(|r| (*r.backend.ip(), r.backend.port()) == b.addr)
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
                        .map(move |b| (ep((s.addr, s.port)), ep((b.addr, b.port))))
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
        _ => return None,
    })
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
        };
        let rule = |index, path: &str, last| Rule {
            index,
            host: None,
            domain: false,
            path: Some(path.into()),
            backend: std::net::SocketAddrV4::new([198, 18, 2, last].into(), 8080),
        };
        vec![Service {
            addr: [198, 18, 1, 10].into(),
            port: 80,
            scheduler: "rr",
            max_conns: 0,
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

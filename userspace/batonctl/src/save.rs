// SPDX-License-Identifier: GPL-2.0

//! `batonctl save`: the configuration of a namespace as the `batonctl`
//! commands that rebuild it, one per line, in an order that `restore` can
//! replay into an empty namespace: settings, peers, the members of the
//! front-end group (which must be peers), services, their back-ends (a
//! draining one drained after its add), then their rules.

use std::{fmt::Write as _, net::SocketAddr};

use baton_proto::config::Config;

use crate::{
    cli::{
        Dispatch, COPIES, CTRL_PORT, HANDOFF_TIMEOUT, HEARTBEAT_TIMEOUT, IDLE_TIMEOUT, NODE_ID,
        REQUEST_TIMEOUT,
    },
    output::{Peer, Service},
};

/// The line `save` adds when a control-channel key is set: the key cannot be
/// read back, so it is not saved.
pub const KEY_NOT_SAVED: &str =
    "# a control-channel key is set; it is not saved: batonctl config set key-file FILE\n";

/// The commands, each ending with a newline. `members` are the node ids of
/// the front-end group's members other than this node.
pub fn commands(config: &Config, peers: &[Peer], members: &[u32], services: &[Service]) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "config set {CTRL_PORT} {} {NODE_ID} {} {REQUEST_TIMEOUT} {} {HANDOFF_TIMEOUT} {} \
         {IDLE_TIMEOUT} {} {HEARTBEAT_TIMEOUT} {} {COPIES} {}",
        config.ctrl_port,
        config.node_id,
        config.request_timeout_ms,
        config.handoff_timeout_ms,
        config.idle_timeout_ms,
        config.heartbeat_timeout_ms,
        config.copies
    );
    for p in peers {
        // An IPv6 address in brackets: `peer add` reads [2001:db8::2]:7300.
        let _ = writeln!(
            out,
            "peer add {} {}",
            p.node_id,
            SocketAddr::new(p.addr, p.port)
        );
    }
    for id in members {
        let _ = writeln!(out, "cluster add {id}");
    }
    for s in services {
        // IPv6 in brackets: `service add` reads [2001:db8::10]:80.
        let _ = write!(out, "service add {} scheduler {}", s.vip(), s.scheduler);
        if s.max_conns != 0 {
            let _ = write!(out, " max-conns {}", s.max_conns);
        }
        // Only when not the default, as max-conns: a module that predates
        // dispatch (which says none) restores what it saved.
        if let Some(d) = s.dispatch.filter(|&d| d != Dispatch::Request.name()) {
            let _ = write!(out, " dispatch {d}");
        }
        out.push('\n');
    }
    for s in services {
        for b in &s.backends {
            let _ = write!(
                out,
                "backend add {} {} weight {}",
                s.vip(),
                b.endpoint(),
                b.weight
            );
            if b.peer != 0 {
                let _ = write!(out, " peer {}", b.peer);
            }
            out.push('\n');
            // The kernel adds no draining back-end: added at its weight,
            // 0, then drained.
            if b.draining == Some(true) {
                let _ = writeln!(out, "backend drain {} {}", s.vip(), b.endpoint());
            }
        }
    }
    for s in services {
        for r in &s.rules {
            let _ = write!(out, "rule add {}", s.vip());
            if let Some(h) = &r.host {
                let _ = write!(out, " {} {h}", if r.domain { "domain" } else { "host" });
            }
            if let Some(p) = &r.path {
                let _ = write!(out, " path {p}");
            }
            let _ = writeln!(out, " to {}", r.backend);
        }
    }
    out
}

/// The words of a line of a saved configuration; `None` for a blank line
/// or a `#` comment.
pub fn words(line: &str) -> Option<Vec<&str>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    Some(line.split_whitespace().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        cli::{self, Action},
        output::{Backend, Rule},
    };

    #[test]
    fn saved_commands_parse_back_to_the_same_configuration() {
        let config = Config {
            node_id: 1,
            request_timeout_ms: 1500,
            ..Config::new(7300)
        };
        let peers = [Peer {
            node_id: 2,
            addr: [198, 18, 0, 2].into(),
            port: 7301,
            up: true,
            last_rx_ms: None,
            msgs_in: 0,
            msgs_out: 0,
            writes_out: 0,
            connects: 0,
        }];
        let services = [Service {
            addr: [198, 18, 1, 100].into(),
            port: 80,
            scheduler: "wrr",
            max_conns: 0,
            dispatch: Some("request"),
            backends: vec![
                Backend {
                    addr: [198, 18, 0, 2].into(),
                    port: 8080,
                    weight: 3,
                    peer: 2,
                    active: None,
                    draining: None,
                },
                Backend {
                    addr: [198, 18, 0, 1].into(),
                    port: 8080,
                    weight: 0,
                    peer: 0,
                    active: None,
                    draining: None,
                },
            ],
            rules: vec![Rule {
                index: 0,
                host: Some("img.example".into()),
                domain: true,
                path: Some("/static/".into()),
                backend: "198.18.0.2:8080".parse().unwrap(),
            }],
        }];
        let text = commands(&config, &peers, &[2], &services);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "config set ctrl-port 7300 node-id 1 request-timeout-ms 1500 \
                 handoff-timeout-ms 2500 idle-timeout-ms 300000 heartbeat-timeout-ms 3000 copies 1",
                "peer add 2 198.18.0.2:7301",
                "cluster add 2",
                "service add 198.18.1.100:80 scheduler wrr",
                "backend add 198.18.1.100:80 198.18.0.2:8080 weight 3 peer 2",
                "backend add 198.18.1.100:80 198.18.0.1:8080 weight 0",
                "rule add 198.18.1.100:80 domain img.example path /static/ to 198.18.0.2:8080",
            ]
        );
        // Every line is a valid batonctl command line, with the values saved.
        let mut actions = Vec::new();
        for line in &lines {
            let mut argv = vec!["batonctl"];
            argv.extend(words(line).unwrap());
            actions.push(cli::parse(argv).unwrap().action);
        }
        let Action::ConfigSet(settings) = &actions[0] else {
            panic!("first line is not config set");
        };
        let mut restored = Config::new(1);
        settings.update.apply(&mut restored).unwrap();
        assert_eq!(restored, config);
        assert_eq!(actions[2], Action::ClusterAdd(2));
        let Action::RuleAdd(rule) = &actions[6] else {
            panic!("last line is not rule add");
        };
        assert_eq!(
            rule.host.map(|(h, d)| (h.as_bytes().to_vec(), d)),
            Some((b"img.example".to_vec(), true))
        );
    }

    #[test]
    fn cluster_lines_come_after_the_peers_and_before_the_services() {
        let peer = |node_id| Peer {
            node_id,
            addr: [198, 18, 0, node_id as u8].into(),
            port: 7300,
            up: false,
            last_rx_ms: None,
            msgs_in: 0,
            msgs_out: 0,
            writes_out: 0,
            connects: 0,
        };
        let services = [Service {
            addr: [198, 18, 1, 100].into(),
            port: 80,
            scheduler: "lc",
            max_conns: 0,
            dispatch: Some("request"),
            backends: Vec::new(),
            rules: Vec::new(),
        }];
        let text = commands(&Config::new(7300), &[peer(2), peer(3)], &[2, 3], &services);
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "peer add 2 198.18.0.2:7300",
                "peer add 3 198.18.0.3:7300",
                "cluster add 2",
                "cluster add 3",
                "service add 198.18.1.100:80 scheduler lc",
            ]
        );
        // No group: no cluster line.
        let text = commands(&Config::new(7300), &[peer(2)], &[], &services);
        assert!(!text.contains("cluster"), "{text}");
    }

    #[test]
    fn ipv4_and_ipv6_peers_are_saved_and_read_back() {
        let peer = |node_id, addr: &str, port| Peer {
            node_id,
            addr: addr.parse().unwrap(),
            port,
            up: true,
            last_rx_ms: Some(5),
            msgs_in: 1,
            msgs_out: 1,
            writes_out: 1,
            connects: 1,
        };
        let peers = [
            peer(2, "198.18.0.2", 7300),
            peer(3, "2001:db8::3", 7000),
            peer(4, "2001:db8:0:1::4", 7300),
        ];
        let text = commands(&Config::new(7300), &peers, &[2], &[]);
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "peer add 2 198.18.0.2:7300",
                "peer add 3 [2001:db8::3]:7000",
                "peer add 4 [2001:db8:0:1::4]:7300",
                "cluster add 2",
            ]
        );
        // restore reads each line as the peer that was saved.
        let read = crate::restore::parse(&text).unwrap();
        let added: Vec<(u32, std::net::IpAddr, Option<u16>)> = read
            .iter()
            .filter_map(|(_, inv)| match &inv.action {
                Action::PeerAdd(p) => Some((p.node_id, p.addr, p.port)),
                _ => None,
            })
            .collect();
        let saved: Vec<_> = peers
            .iter()
            .map(|p| (p.node_id, p.addr, Some(p.port)))
            .collect();
        assert_eq!(added, saved);
    }

    #[test]
    fn ipv4_and_ipv6_services_are_saved_and_read_back() {
        let backend = |addr: &str, port, weight, peer| Backend {
            addr: addr.parse().unwrap(),
            port,
            weight,
            peer,
            active: Some(0),
            draining: None,
        };
        let rule = |index, path: &str, backend: &str| Rule {
            index,
            host: None,
            domain: false,
            path: Some(path.into()),
            backend: backend.parse().unwrap(),
        };
        let services = [
            Service {
                addr: [198, 18, 1, 10].into(),
                port: 80,
                scheduler: "lc",
                max_conns: 0,
                dispatch: Some("request"),
                backends: vec![backend("198.18.2.1", 8080, 1, 0)],
                rules: vec![rule(0, "/a/", "198.18.2.1:8080")],
            },
            Service {
                addr: "2001:db8::10".parse().unwrap(),
                port: 80,
                scheduler: "wrr",
                max_conns: 100,
                dispatch: Some("connection"),
                backends: vec![
                    backend("2001:db8::2:1", 8080, 2, 0),
                    backend("2001:db8::2:2", 8080, 0, 2),
                ],
                rules: vec![
                    rule(0, "/img/", "[2001:db8::2:2]:8080"),
                    rule(1, "/", "[2001:db8::2:1]:8080"),
                ],
            },
        ];
        let text = commands(&Config::new(7300), &[], &[], &services);
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "service add 198.18.1.10:80 scheduler lc",
                "service add [2001:db8::10]:80 scheduler wrr max-conns 100 dispatch connection",
                "backend add 198.18.1.10:80 198.18.2.1:8080 weight 1",
                "backend add [2001:db8::10]:80 [2001:db8::2:1]:8080 weight 2",
                "backend add [2001:db8::10]:80 [2001:db8::2:2]:8080 weight 0 peer 2",
                "rule add 198.18.1.10:80 path /a/ to 198.18.2.1:8080",
                "rule add [2001:db8::10]:80 path /img/ to [2001:db8::2:2]:8080",
                "rule add [2001:db8::10]:80 path / to [2001:db8::2:1]:8080",
            ]
        );
        // restore reads each line as the object that was saved.
        let read = crate::restore::parse(&text).unwrap();
        let vip6: std::net::SocketAddr = "[2001:db8::10]:80".parse().unwrap();
        let actions: Vec<&Action> = read.iter().map(|(_, inv)| &inv.action).collect();
        assert!(matches!(actions[2], Action::ServiceAdd(s)
            if s.vip == vip6 && s.max_conns == Some(100) && s.dispatch == Some(Dispatch::Connection)));
        // The default is not written: the kernel's default is read back.
        assert!(matches!(actions[1], Action::ServiceAdd(s) if s.dispatch.is_none()));
        let Action::BackendAdd(b) = actions[5] else {
            panic!("{:?}", actions[5]);
        };
        assert_eq!(
            (b.vip, b.addr, b.weight, b.peer),
            (vip6, services[1].backends[1].endpoint(), Some(0), Some(2))
        );
        let Action::RuleAdd(r) = actions[7] else {
            panic!("{:?}", actions[7]);
        };
        assert_eq!((r.vip, r.backend), (vip6, services[1].rules[0].backend));
    }

    #[test]
    fn a_draining_backend_is_added_then_drained() {
        let backend = |addr: &str, weight, draining| Backend {
            addr: addr.parse().unwrap(),
            port: 8080,
            weight,
            peer: 0,
            active: Some(3),
            draining,
        };
        let services = [Service {
            addr: "2001:db8::10".parse().unwrap(),
            port: 80,
            scheduler: "lc",
            max_conns: 0,
            dispatch: Some("request"),
            backends: vec![
                backend("2001:db8::2:1", 0, Some(true)),
                backend("2001:db8::2:2", 0, Some(false)),
                // A module that does not say.
                backend("2001:db8::2:3", 2, None),
            ],
            rules: Vec::new(),
        }];
        let text = commands(&Config::new(7300), &[], &[], &services);
        let lines: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            lines,
            [
                "backend add [2001:db8::10]:80 [2001:db8::2:1]:8080 weight 0",
                "backend drain [2001:db8::10]:80 [2001:db8::2:1]:8080",
                "backend add [2001:db8::10]:80 [2001:db8::2:2]:8080 weight 0",
                "backend add [2001:db8::10]:80 [2001:db8::2:3]:8080 weight 2",
            ]
        );
        // restore reads the drain as the backend set it sends, and never
        // waits for it.
        let read = crate::restore::parse(&text).unwrap();
        let Action::BackendSet(b) = &read[3].1.action else {
            panic!("{:?}", read[3]);
        };
        assert_eq!(
            (b.addr, b.weight, b.drain),
            (services[0].backends[0].endpoint(), None, Some(true))
        );
    }

    #[test]
    fn blank_lines_and_comments_are_skipped() {
        assert_eq!(words("  # a comment"), None);
        assert_eq!(words("   "), None);
        assert_eq!(
            words(" peer  add 2 198.18.0.2 "),
            Some(vec!["peer", "add", "2", "198.18.0.2"])
        );
    }

    mod round_trip {
        //! Any configuration: `save`, read back line by line by the parser
        //! of `restore` and applied to an empty namespace the way the kernel
        //! applies the commands, gives the same configuration and the same
        //! text.

        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

        use baton_proto::service::{set_backend, BackendConf, Endpoint, Ip, Scheduler};
        use proptest::prelude::*;

        use super::super::*;
        use crate::{
            cli::Action,
            output::{Backend, Rule},
            restore,
        };

        /// What a namespace holds, as `save` reads it: the configuration,
        /// the peers, the group's other members and the services.
        type State = (Config, Vec<Peer>, Vec<u32>, Vec<Service>);

        fn service(services: &mut [Service], vip: SocketAddr) -> &mut Service {
            services
                .iter_mut()
                .find(|s| s.vip() == vip)
                .expect("the service was added before")
        }

        fn text(b: &[u8]) -> String {
            String::from_utf8(b.to_vec()).unwrap()
        }

        /// Applies saved commands, as restore reads them, to an empty
        /// namespace.
        fn replay(saved: &str) -> Result<State, String> {
            let mut config = Config::new(7300);
            let mut peers: Vec<Peer> = Vec::new();
            let mut members: Vec<u32> = Vec::new();
            let mut services: Vec<Service> = Vec::new();
            let commands = restore::parse(saved).map_err(|(n, e)| format!("line {n}: {e}"))?;
            for (line, invocation) in commands {
                match invocation.action {
                    Action::ConfigSet(s) => {
                        s.update.apply(&mut config).map_err(|e| format!("{e:?}"))?
                    }
                    Action::PeerAdd(p) => peers.push(Peer {
                        node_id: p.node_id,
                        addr: p.addr,
                        port: p.port.unwrap_or(config.ctrl_port),
                        up: false,
                        last_rx_ms: None,
                        msgs_in: 0,
                        msgs_out: 0,
                        writes_out: 0,
                        connects: 0,
                    }),
                    // As the kernel checks it: a peer with an IPv4 address,
                    // not this node, once.
                    Action::ClusterAdd(id) => {
                        if !peers.iter().any(|p| p.node_id == id && p.addr.is_ipv4())
                            || id == config.node_id
                            || members.contains(&id)
                        {
                            return Err(format!("line {line}: refused"));
                        }
                        members.push(id);
                    }
                    Action::ServiceAdd(s) => services.push(Service {
                        addr: s.vip.ip(),
                        port: s.vip.port(),
                        scheduler: s.scheduler.unwrap_or(Scheduler::Lc).name(),
                        max_conns: s.max_conns.unwrap_or(0),
                        dispatch: Some(s.dispatch.unwrap_or(Dispatch::Request).name()),
                        backends: Vec::new(),
                        rules: Vec::new(),
                    }),
                    // As the kernel checks it: of the service's family.
                    Action::BackendAdd(b) if b.vip.is_ipv4() != b.addr.is_ipv4() => {
                        return Err(format!("line {line}: refused"));
                    }
                    Action::BackendAdd(b) => service(&mut services, b.vip).backends.push(Backend {
                        addr: b.addr.ip(),
                        port: b.addr.port(),
                        weight: b.weight.unwrap_or(1),
                        peer: b.peer.unwrap_or(0),
                        active: None,
                        draining: Some(false),
                    }),
                    // As the kernel applies it.
                    Action::BackendSet(b) => {
                        let be = service(&mut services, b.vip)
                            .backends
                            .iter_mut()
                            .find(|be| be.endpoint() == b.addr)
                            .ok_or(format!("line {line}: no such backend"))?;
                        let mut conf = BackendConf {
                            addr: Endpoint {
                                addr: Ip::V4([0; 4]),
                                port: 0,
                            },
                            weight: be.weight,
                            peer: 0,
                            draining: be.draining == Some(true),
                        };
                        set_backend(&mut conf, b.weight, b.drain)
                            .map_err(|e| format!("line {line}: {e:?}"))?;
                        (be.weight, be.draining) = (conf.weight, Some(conf.draining));
                    }
                    Action::RuleAdd(r) => {
                        let s = service(&mut services, r.vip);
                        let at = r.index.map_or(s.rules.len(), |i| i as usize);
                        s.rules.insert(
                            at,
                            Rule {
                                index: 0,
                                host: r.host.map(|(h, _)| text(h.as_bytes())),
                                domain: r.host.is_some_and(|(_, d)| d),
                                path: r.path.map(|p| text(p.as_bytes())),
                                backend: r.backend,
                            },
                        );
                        for (i, r) in s.rules.iter_mut().enumerate() {
                            r.index = i as u32;
                        }
                    }
                    other => return Err(format!("save printed {other:?}")),
                }
            }
            Ok((config, peers, members, services))
        }

        /// A rule: host (name, domain), path, which back-end.
        type RuleShape = (Option<(String, bool)>, Option<String>, prop::sample::Index);
        /// A service: scheduler, IPv6 or not, dispatch (per request or
        /// not), back-ends (weight, on a peer, draining), rules.
        type ServiceShape = (usize, bool, bool, Vec<(u32, bool, bool)>, Vec<RuleShape>);
        /// Settings: node id, ctrl-port, request, handoff, idle, heartbeat
        /// timeouts, copies.
        type Settings = (u32, u16, u32, u32, u32, u32, u32);

        /// Host names as the kernel takes them (`rules::host_name`): any of
        /// letters, digits, `-`, `.`, `_`.
        fn rule_shape() -> impl Strategy<Value = RuleShape> {
            (
                prop::option::of(("[a-zA-Z0-9._-]{1,12}", any::<bool>())),
                prop::option::of("/[!-~]{0,12}"),
                any::<prop::sample::Index>(),
            )
        }

        fn state() -> impl Strategy<Value = State> {
            let settings = (
                0..5u32,
                1..=u16::MAX,
                100..=60_000u32,
                100..=30_000u32,
                1000..=86_400_000u32,
                2000..=60_000u32,
                1..=63u32,
            );
            let peers = prop::collection::btree_set(1..50u32, 0..4);
            // Which peers are members: bit id % 64.
            let members = any::<u64>();
            let services = prop::collection::vec(
                (
                    0..4usize,
                    any::<bool>(),
                    any::<bool>(),
                    prop::collection::vec((0..=65_535u32, any::<bool>(), any::<bool>()), 0..4),
                    prop::collection::vec(rule_shape(), 0..4),
                ),
                0..4,
            );
            (settings, peers, members, services)
                .prop_map(|(c, ids, members, shapes)| build(c, ids, members, shapes))
        }

        fn build(
            (node_id, ctrl_port, request, handoff, idle, heartbeat, copies): Settings,
            peer_ids: std::collections::BTreeSet<u32>,
            member_bits: u64,
            shapes: Vec<ServiceShape>,
        ) -> State {
            let config = Config {
                ctrl_port,
                node_id,
                request_timeout_ms: request,
                handoff_timeout_ms: handoff,
                idle_timeout_ms: idle,
                heartbeat_timeout_ms: heartbeat,
                copies,
            };
            let peers: Vec<Peer> = peer_ids
                .into_iter()
                .filter(|&id| id != node_id)
                .map(|id| Peer {
                    node_id: id,
                    // Both families: odd ids IPv6.
                    addr: if id % 2 == 1 {
                        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, id as u16).into()
                    } else {
                        Ipv4Addr::new(198, 18, 0, id as u8).into()
                    },
                    port: 7300 + id as u16,
                    up: false,
                    last_rx_ms: None,
                    msgs_in: 0,
                    msgs_out: 0,
                    writes_out: 0,
                    connects: 0,
                })
                .collect();
            // The kernel makes members of IPv4 peers only.
            let members: Vec<u32> = peers
                .iter()
                .filter(|p| p.addr.is_ipv4())
                .map(|p| p.node_id)
                .filter(|id| member_bits & (1 << (id % 64)) != 0)
                .collect();
            let services = shapes
                .into_iter()
                .enumerate()
                .map(|(i, (sched, ipv6, per_request, backends, rules))| {
                    // Both families, the back-ends of their service's.
                    let addr = |v4: [u8; 4], v6: u16, last: u8| -> IpAddr {
                        if ipv6 {
                            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, v6, last.into()).into()
                        } else {
                            Ipv4Addr::new(v4[0], v4[1], v4[2], last).into()
                        }
                    };
                    let backends: Vec<Backend> = backends
                        .into_iter()
                        .enumerate()
                        .map(|(j, (weight, remote, draining))| Backend {
                            addr: addr([198, 18, 2, 0], 2, j as u8 + 1),
                            port: 8000 + i as u16,
                            // A draining back-end's weight is 0.
                            weight: if draining { 0 } else { weight },
                            peer: peers.first().filter(|_| remote).map_or(0, |p| p.node_id),
                            active: None,
                            draining: Some(draining),
                        })
                        .collect();
                    let rules = if backends.is_empty() {
                        Vec::new()
                    } else {
                        rules
                            .into_iter()
                            .enumerate()
                            .map(|(k, (host, path, which))| {
                                let b = which.get(&backends);
                                let path = match (&host, path) {
                                    (None, None) => Some("/".to_owned()),
                                    (_, path) => path,
                                };
                                Rule {
                                    index: k as u32,
                                    domain: host.as_ref().is_some_and(|h| h.1),
                                    host: host.map(|h| h.0),
                                    path,
                                    backend: b.endpoint(),
                                }
                            })
                            .collect()
                    };
                    Service {
                        addr: addr([198, 18, 1, 0], 0, 10),
                        port: 80 + i as u16,
                        scheduler: Scheduler::ALL[sched].name(),
                        max_conns: (i as u32 % 3) * 1000,
                        dispatch: Some(
                            if per_request {
                                Dispatch::Request
                            } else {
                                Dispatch::Connection
                            }
                            .name(),
                        ),
                        backends,
                        rules,
                    }
                })
                .collect();
            (config, peers, members, services)
        }

        proptest! {
            #[test]
            fn save_restore_save_is_identical(state in state()) {
                let (config, peers, members, services) = &state;
                let saved = commands(config, peers, members, services);
                let back = replay(&saved).map_err(TestCaseError::fail)?;
                prop_assert_eq!(&back, &state);
                prop_assert_eq!(commands(&back.0, &back.1, &back.2, &back.3), saved);
            }
        }
    }
}

// SPDX-License-Identifier: GPL-2.0

//! `batonctl stats --prometheus`: the counters, services, peers and the
//! front-end group in the Prometheus text exposition format (version
//! 0.0.4), the format node_exporter's textfile collector reads.
//!
//! Written here rather than with the `prometheus-client` crate: that crate
//! encodes OpenMetrics (counter families named without `_total`, a closing
//! `# EOF`), which the textfile collector does not read as such, and its
//! registry would hold values that one run prints once.

use std::{
    fmt::{Display, Write as _},
    net::SocketAddr,
};

use crate::output::{Backend, Cluster, Member, MemberState, Peer, Service, Stats};

/// A metric family's type (`# TYPE` line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

/// An exposition being written: each family's `# HELP` and `# TYPE` lines,
/// then its samples.
struct Exposition {
    out: String,
}

/// Labels of one sample: name and value.
type Labels<'a> = [(&'a str, String)];

impl Exposition {
    /// Starts family `name` (a counter's name ends with `_total`).
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        debug_assert_eq!(kind == Kind::Counter, name.ends_with("_total"), "{name}");
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        // Writing to a String cannot fail.
        let _ = writeln!(self.out, "# HELP {name} {}", escape(help, false));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// A sample of the family just started.
    fn sample(&mut self, name: &str, labels: &Labels<'_>, value: impl Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v, true));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// A family of one unlabelled sample.
    fn single(&mut self, name: &str, kind: Kind, help: &str, value: u64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// `s` escaped for a label value (`\`, `"` and newlines) or a HELP text
/// (`\` and newlines).
fn escape(s: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// Milliseconds as seconds, exactly (`1.234`).
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The exposition of a node's counters, services, peers and group.
pub fn prometheus(st: &Stats, services: &[Service], peers: &[Peer], cluster: &Cluster) -> String {
    let mut e = Exposition { out: String::new() };
    stats(&mut e, st);
    service_metrics(&mut e, services);
    peer_metrics(&mut e, peers);
    cluster_metrics(&mut e, cluster);
    e.out
}

fn stats(e: &mut Exposition, st: &Stats) {
    use Kind::{Counter, Gauge};
    const HANDOFFS: &str = "baton_handoffs_total";
    e.family(
        HANDOFFS,
        Counter,
        "Handoffs this front-end made, by result (ok: a back-end took the connection).",
    );
    for (result, n) in [
        ("ok", st.handoffs_ok),
        ("refused", st.handoffs_refused),
        ("failed", st.handoffs_failed),
    ] {
        e.sample(HANDOFFS, &[("result", result.into())], n);
    }
    const MOVES: &str = "baton_moves_total";
    e.family(
        MOVES,
        Counter,
        "Moves of a kept-alive connection to another back-end at a request boundary, by result \
         (ok: moved; refused: the connection not idle, served where it was; failed: the new \
         back-end refused or did not answer).",
    );
    for (result, n) in [
        ("ok", st.moved),
        ("refused", st.moves_refused),
        ("failed", st.moves_failed),
    ] {
        e.sample(MOVES, &[("result", result.into())], n);
    }
    let counters: [(&str, &str, u64); 22] = [
        (
            "baton_connections_taken_total",
            "Connections this back-end took from front-ends.",
            st.taken,
        ),
        (
            "baton_packets_forwarded_total",
            "Client packets rewritten toward back-ends.",
            st.forwarded,
        ),
        (
            "baton_packets_returned_total",
            "Server packets rewritten toward clients.",
            st.returned,
        ),
        (
            "baton_packets_dropped_total",
            "Packets that connections dropped.",
            st.dropped,
        ),
        (
            "baton_packets_malformed_total",
            "Malformed client packets dropped.",
            st.malformed,
        ),
        (
            "baton_packets_held_total",
            "Client packets held while their connection was handed off.",
            st.held,
        ),
        (
            "baton_packets_held_dropped_total",
            "Client packets to be held dropped, the holding area (or its share) full.",
            st.held_dropped,
        ),
        (
            "baton_icmp_errors_forwarded_total",
            "ICMP errors passed on to a connection's back-end.",
            st.icmp_forwarded,
        ),
        (
            "baton_icmp_errors_malformed_total",
            "Malformed ICMP errors passed untouched.",
            st.icmp_malformed,
        ),
        (
            "baton_requests_hurried_total",
            "Connections handed off early because a waiting list was full.",
            st.hurried,
        ),
        (
            "baton_copies_replicated_total",
            "Copies of this node's connections sent to their backups.",
            st.replicated,
        ),
        (
            "baton_copies_promoted_total",
            "Copies that became this node's connections, their owner gone.",
            st.promoted,
        ),
        (
            "baton_packets_forwarded_common_total",
            "Client packets forwarded with a copy's translation.",
            st.forwarded_common,
        ),
        (
            "baton_handoffs_unconfirmed_total",
            "Handoffs asked of a back-end before every backup confirmed its copy.",
            st.unconfirmed,
        ),
        (
            "baton_handoffs_resumed_total",
            "Handoffs under way taken over from a failed member's copy.",
            st.resumed,
        ),
        (
            "baton_request_acks_withheld_total",
            "Acknowledgements of requests not handed off yet that the hooks dropped.",
            st.acks_withheld,
        ),
        (
            "baton_request_acks_released_total",
            "Connections whose request acknowledgements were released before the copies.",
            st.acks_released,
        ),
        (
            "baton_packets_relayed_total",
            "Packets of connections this node has no state for, passed to the group member that holds them.",
            st.relayed,
        ),
        (
            "baton_packets_relay_failed_total",
            "Packets of other members' connections that could not be passed on, dropped.",
            st.relay_failed,
        ),
        (
            "baton_packets_relay_skipped_total",
            "Packets of other members' connections whose first member was silent: passed to the next, or dropped.",
            st.relay_skipped,
        ),
        (
            "baton_packets_relayed_again_total",
            "Packets passed to a member that then proved silent, passed again to the next.",
            st.relayed_again,
        ),
        (
            "baton_connections_released_total",
            "Connections this back-end's servers gave up, idle, for a move to another back-end.",
            st.released,
        ),
    ];
    for (name, help, n) in counters {
        e.single(name, Counter, help, n);
    }
    let gauges: [(&str, &str, u64); 8] = [
        (
            "baton_connections_active",
            "Connections in the table.",
            st.active.into(),
        ),
        (
            "baton_requests_waiting",
            "Connections whose request is still arriving.",
            st.waiting.into(),
        ),
        (
            "baton_memory_bytes",
            "Bytes of connection state and waiting requests.",
            st.memory,
        ),
        (
            "baton_common_copies",
            "Copies of other members' connections this node keeps (the common table).",
            st.common.into(),
        ),
        (
            "baton_common_pending",
            "Copies in the common table of handoffs still under way on their owner.",
            st.pending.into(),
        ),
        (
            "baton_common_memory_bytes",
            "Bytes the common table takes.",
            st.common_memory,
        ),
        (
            "baton_packets_holding",
            "Client packets in the holding areas now.",
            st.held_now.into(),
        ),
        (
            "baton_packets_holding_awaiting_copy",
            "Of them, packets of unknown connections awaiting a group's copy.",
            st.held_awaiting.into(),
        ),
    ];
    for (name, help, n) in gauges {
        e.single(name, Gauge, help, n);
    }
}

fn service_metrics(e: &mut Exposition, services: &[Service]) {
    // IPv6 in brackets, as in a URL: [2001:db8::10]:80.
    let vip = |s: &Service| s.vip().to_string();
    const BACKENDS: &str = "baton_service_backends";
    e.family(BACKENDS, Kind::Gauge, "Back-ends of a service.");
    for s in services {
        let labels = [("service", vip(s)), ("scheduler", s.scheduler.into())];
        e.sample(BACKENDS, &labels, s.backends.len());
    }
    const MAX: &str = "baton_service_max_conns";
    e.family(
        MAX,
        Kind::Gauge,
        "Most connections a service hands off at once (0: no limit).",
    );
    for s in services {
        e.sample(MAX, &[("service", vip(s))], s.max_conns);
    }
    let backends: [PerItem<Backend>; 3] = [
        (
            "baton_backend_weight",
            "Weight of a back-end of a service, and the peer that serves it (0: this node).",
            |b| Some(b.weight.into()),
        ),
        (
            "baton_backend_connections",
            "Connections this front-end forwards to a back-end of a service.",
            |b| b.active.map(u64::from),
        ),
        (
            "baton_backend_draining",
            "Whether a back-end of a service drains: weight 0, its kept-alive connections moving \
             to the others.",
            |b| b.draining.map(u64::from),
        ),
    ];
    for &(name, help, value) in &backends {
        e.family(name, Kind::Gauge, help);
        for s in services {
            for b in &s.backends {
                // Not said by the module: no sample.
                if let Some(v) = value(b) {
                    let labels = [
                        ("service", vip(s)),
                        ("backend", b.endpoint().to_string()),
                        ("peer", b.peer.to_string()),
                    ];
                    e.sample(name, &labels, v);
                }
            }
        }
    }
}

fn peer_metrics(e: &mut Exposition, peers: &[Peer]) {
    const UP: &str = "baton_peer_up";
    e.family(
        UP,
        Kind::Gauge,
        "Whether the control channel to a peer is up.",
    );
    for p in peers {
        let labels = [
            ("peer", p.node_id.to_string()),
            ("address", SocketAddr::new(p.addr, p.port).to_string()),
        ];
        e.sample(UP, &labels, u8::from(p.up));
    }
    let counters: [PerItem<Peer>; 4] = [
        (
            "baton_peer_messages_received_total",
            "Control frames received from a peer.",
            |p| Some(p.msgs_in),
        ),
        (
            "baton_peer_messages_sent_total",
            "Control frames sent to a peer.",
            |p| Some(p.msgs_out),
        ),
        (
            "baton_peer_writes_total",
            "Socket writes that carried the control frames sent to a peer \
             (fewer than the frames when several went together).",
            |p| Some(p.writes_out),
        ),
        (
            "baton_peer_connects_total",
            "Control channels to a peer established.",
            |p| Some(p.connects.into()),
        ),
    ];
    per_item(e, Kind::Counter, &counters, peers, ("peer", |p| p.node_id));
    const LAST: &str = "baton_peer_last_rx_seconds";
    e.family(
        LAST,
        Kind::Gauge,
        "Seconds since the last control frame from a peer.",
    );
    for p in peers {
        if let Some(ms) = p.last_rx_ms {
            e.sample(LAST, &[("peer", p.node_id.to_string())], seconds(ms));
        }
    }
}

fn cluster_metrics(e: &mut Exposition, c: &Cluster) {
    let Some(epoch) = c.epoch else {
        return;
    };
    e.single(
        "baton_cluster_epoch",
        Kind::Gauge,
        "Epoch of this node's view of its front-end group.",
        epoch,
    );
    const UP: &str = "baton_cluster_member_up";
    e.family(
        UP,
        Kind::Gauge,
        "Whether a member of the group is in this node's view.",
    );
    for m in &c.members {
        let labels = [
            ("member", m.node_id.to_string()),
            ("self", (m.state == MemberState::Me).to_string()),
        ];
        e.sample(UP, &labels, u8::from(m.state.is_live()));
    }
    let announced: [PerItem<Member>; 3] = [
        (
            "baton_cluster_member_connections",
            "Connections a member forwards, as it last announced.",
            |m| m.active.map(u64::from),
        ),
        (
            "baton_cluster_member_copies",
            "Copies a member keeps for the others, as it last announced.",
            |m| m.common.map(u64::from),
        ),
        (
            "baton_cluster_member_synced",
            "Whether a member sent this node every copy this node keeps for it.",
            |m| m.synced.map(u64::from),
        ),
    ];
    per_item(
        e,
        Kind::Gauge,
        &announced,
        &c.members,
        ("member", |m| m.node_id),
    );
}

/// A family with a sample per item (peer, member, back-end): its name,
/// help, and the value of an item, if it has one.
type PerItem<T> = (&'static str, &'static str, fn(&T) -> Option<u64>);

/// The `families` of `items`, each sample labelled with `label`: name and
/// the item's node id.
fn per_item<T>(
    e: &mut Exposition,
    kind: Kind,
    families: &[PerItem<T>],
    items: &[T],
    label: (&str, fn(&T) -> u32),
) {
    for &(name, help, value) in families {
        e.family(name, kind, help);
        for item in items {
            if let Some(v) = value(item) {
                e.sample(name, &[(label.0, label.1(item).to_string())], v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The samples of an exposition by `name{labels}`, after checking its
    /// shape: every sample's family announced before it by HELP then TYPE,
    /// no family twice, names that Prometheus accepts, counters `_total`.
    fn samples(text: &str) -> HashMap<String, String> {
        let valid = |n: &str| {
            !n.is_empty()
                && !n.starts_with(|c: char| c.is_ascii_digit())
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        };
        let mut families = HashMap::new();
        let mut current = String::new();
        let mut out = HashMap::new();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(valid(name), "{line}");
                let ty = lines.next().unwrap();
                let kind = ty.strip_prefix(&format!("# TYPE {name} ")).expect(ty);
                assert!(kind == "counter" || kind == "gauge", "{ty}");
                assert_eq!(kind == "counter", name.ends_with("_total"), "{ty}");
                assert!(
                    families.insert(name.to_string(), kind).is_none(),
                    "{name} twice"
                );
                current = name.to_string();
                continue;
            }
            let (key, value) = line.rsplit_once(' ').expect(line);
            let name = key.split('{').next().unwrap();
            assert_eq!(name, current, "{line} outside its family");
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(
                out.insert(key.to_string(), value.to_string()).is_none(),
                "{key} twice"
            );
        }
        assert!(text.ends_with('\n'));
        out
    }

    fn peer(node_id: u32, up: bool, last_rx_ms: Option<u64>) -> Peer {
        Peer {
            node_id,
            addr: [198, 18, 0, node_id as u8].into(),
            port: 7300,
            up,
            last_rx_ms,
            msgs_in: 10 + u64::from(node_id),
            msgs_out: 20 + u64::from(node_id),
            writes_out: 20 + u64::from(node_id),
            connects: node_id,
        }
    }

    #[test]
    fn every_counter_and_gauge_with_its_value() {
        let st = Stats {
            handoffs_ok: 1,
            handoffs_refused: 2,
            handoffs_failed: 3,
            taken: 4,
            active: 5,
            acks_released: u64::MAX,
            moved: 6,
            moves_refused: 7,
            moves_failed: 8,
            released: 9,
            ..Default::default()
        };
        let s = samples(&prometheus(&st, &[], &[], &Cluster::default()));
        assert_eq!(s["baton_moves_total{result=\"ok\"}"], "6");
        assert_eq!(s["baton_moves_total{result=\"refused\"}"], "7");
        assert_eq!(s["baton_moves_total{result=\"failed\"}"], "8");
        assert_eq!(s["baton_connections_released_total"], "9");
        assert_eq!(s["baton_handoffs_total{result=\"ok\"}"], "1");
        assert_eq!(s["baton_handoffs_total{result=\"refused\"}"], "2");
        assert_eq!(s["baton_handoffs_total{result=\"failed\"}"], "3");
        assert_eq!(s["baton_connections_taken_total"], "4");
        assert_eq!(s["baton_connections_active"], "5");
        assert_eq!(s["baton_request_acks_released_total"], u64::MAX.to_string());
        // Every field of Stats is one sample (the handoffs three), and no
        // group means no cluster family.
        let fields = serde_json::to_value(&st)
            .unwrap()
            .as_object()
            .unwrap()
            .len();
        assert_eq!(s.len(), fields);
        assert!(!s.keys().any(|k| k.starts_with("baton_cluster")));
    }

    #[test]
    fn services_peers_and_members_labelled() {
        let services = [Service {
            addr: [198, 18, 1, 100].into(),
            port: 80,
            scheduler: "rr",
            max_conns: 0,
            dispatch: Some("request"),
            backends: vec![
                Backend {
                    addr: [198, 18, 1, 4].into(),
                    port: 8080,
                    weight: 3,
                    peer: 3,
                    active: Some(6),
                    draining: Some(false),
                },
                Backend {
                    addr: [198, 18, 1, 2].into(),
                    port: 8080,
                    weight: 0,
                    peer: 0,
                    active: None,
                    draining: Some(true),
                },
            ],
            rules: Vec::new(),
        }];
        let v6 = Peer {
            addr: "2001:db8::5".parse().unwrap(),
            ..peer(5, true, None)
        };
        let peers = [peer(3, true, Some(1234)), peer(4, false, None), v6];
        let member = |node_id, state, active| Member {
            node_id,
            state,
            epoch: Some(7),
            agrees: Some(true),
            live: Some(2),
            active,
            common: active,
            synced: active.map(|_| true),
        };
        let cluster = Cluster {
            epoch: Some(7),
            members: vec![
                member(1, MemberState::Me, Some(5)),
                member(2, MemberState::Down, None),
            ],
        };
        let s = samples(&prometheus(&Stats::default(), &services, &peers, &cluster));
        let vip = "service=\"198.18.1.100:80\"";
        assert_eq!(
            s[&format!("baton_service_backends{{{vip},scheduler=\"rr\"}}")],
            "2"
        );
        assert_eq!(s[&format!("baton_service_max_conns{{{vip}}}")], "0");
        assert_eq!(
            s[&format!("baton_backend_weight{{{vip},backend=\"198.18.1.4:8080\",peer=\"3\"}}")],
            "3"
        );
        assert_eq!(
            s[&format!("baton_backend_weight{{{vip},backend=\"198.18.1.2:8080\",peer=\"0\"}}")],
            "0"
        );
        assert_eq!(
            s[&format!("baton_backend_draining{{{vip},backend=\"198.18.1.2:8080\",peer=\"0\"}}")],
            "1"
        );
        assert_eq!(
            s[&format!("baton_backend_draining{{{vip},backend=\"198.18.1.4:8080\",peer=\"3\"}}")],
            "0"
        );
        assert_eq!(
            s[&format!(
                "baton_backend_connections{{{vip},backend=\"198.18.1.4:8080\",peer=\"3\"}}"
            )],
            "6"
        );
        // Not said by the module: no sample.
        assert!(!s.contains_key(&format!(
            "baton_backend_connections{{{vip},backend=\"198.18.1.2:8080\",peer=\"0\"}}"
        )));
        assert_eq!(
            s["baton_peer_up{peer=\"3\",address=\"198.18.0.3:7300\"}"],
            "1"
        );
        assert_eq!(
            s["baton_peer_up{peer=\"4\",address=\"198.18.0.4:7300\"}"],
            "0"
        );
        assert_eq!(
            s["baton_peer_up{peer=\"5\",address=\"[2001:db8::5]:7300\"}"],
            "1"
        );
        assert_eq!(s["baton_peer_messages_received_total{peer=\"3\"}"], "13");
        assert_eq!(s["baton_peer_messages_sent_total{peer=\"4\"}"], "24");
        assert_eq!(s["baton_peer_connects_total{peer=\"4\"}"], "4");
        assert_eq!(s["baton_peer_last_rx_seconds{peer=\"3\"}"], "1.234");
        assert!(!s.contains_key("baton_peer_last_rx_seconds{peer=\"4\"}"));
        assert_eq!(s["baton_cluster_epoch"], "7");
        assert_eq!(
            s["baton_cluster_member_up{member=\"1\",self=\"true\"}"],
            "1"
        );
        assert_eq!(
            s["baton_cluster_member_up{member=\"2\",self=\"false\"}"],
            "0"
        );
        assert_eq!(s["baton_cluster_member_connections{member=\"1\"}"], "5");
        assert_eq!(s["baton_cluster_member_synced{member=\"1\"}"], "1");
        assert!(!s.contains_key("baton_cluster_member_copies{member=\"2\"}"));
    }

    #[test]
    fn ipv6_services_labelled_in_brackets() {
        let services = [Service {
            addr: "2001:db8::10".parse().unwrap(),
            port: 443,
            scheduler: "sh",
            max_conns: 50,
            dispatch: Some("connection"),
            backends: vec![Backend {
                addr: "2001:db8::2:4".parse().unwrap(),
                port: 8443,
                weight: 2,
                peer: 0,
                active: Some(1),
                draining: None,
            }],
            rules: Vec::new(),
        }];
        let s = samples(&prometheus(
            &Stats::default(),
            &services,
            &[],
            &Cluster::default(),
        ));
        let vip = "service=\"[2001:db8::10]:443\"";
        assert_eq!(
            s[&format!("baton_service_backends{{{vip},scheduler=\"sh\"}}")],
            "1"
        );
        assert_eq!(s[&format!("baton_service_max_conns{{{vip}}}")], "50");
        let be = "backend=\"[2001:db8::2:4]:8443\",peer=\"0\"";
        assert_eq!(s[&format!("baton_backend_weight{{{vip},{be}}}")], "2");
        assert_eq!(s[&format!("baton_backend_connections{{{vip},{be}}}")], "1");
        // A module that does not say whether it drains: no sample.
        assert!(!s.contains_key(&format!("baton_backend_draining{{{vip},{be}}}")));
        assert!(
            prometheus(&Stats::default(), &services, &[], &Cluster::default())
                .contains("# TYPE baton_backend_draining gauge\n")
        );
    }

    #[test]
    fn label_values_and_help_escaped() {
        assert_eq!(escape("a\\b\"c\nd", true), "a\\\\b\\\"c\\nd");
        assert_eq!(escape("a\\b\"c\nd", false), "a\\\\b\"c\\nd");
        let mut e = Exposition { out: String::new() };
        e.family("x", Kind::Gauge, "line\nbreak");
        e.sample("x", &[("l", "q\"".into())], 1);
        assert_eq!(
            e.out,
            "# HELP x line\\nbreak\n# TYPE x gauge\nx{l=\"q\\\"\"} 1\n"
        );
    }

    #[test]
    fn seconds_are_exact() {
        assert_eq!(seconds(0), "0.000");
        assert_eq!(seconds(1005), "1.005");
        assert_eq!(seconds(u64::MAX), "18446744073709551.615");
    }
}

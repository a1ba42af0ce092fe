// SPDX-License-Identifier: GPL-2.0

//! The numbers of `baton_proto::uapi` against each other and against the
//! generic netlink spec, `Documentation/netlink/specs/baton.yaml`.

use baton_proto::{
    service::Scheduler,
    uapi::{
        self, attr, backend_attr, cmd, conn_attr, conn_role, conn_state, dispatch, event_attr,
        handoff_result, hook_attr, member_attr, member_state, peer_attr, peer_state, rule_attr,
        service_attr, stats_attr, Hook,
    },
};
use yaml_rust2::{Yaml, YamlLoader};

const SPEC: &str = include_str!("../../../Documentation/netlink/specs/baton.yaml");

fn spec() -> Yaml {
    YamlLoader::load_from_str(SPEC)
        .expect("the spec is valid YAML")
        .remove(0)
}

/// The `name`s of a YAML list of mappings, in order.
fn names(list: &Yaml) -> Vec<&str> {
    list.as_vec()
        .expect("a list")
        .iter()
        .map(|item| item["name"].as_str().expect("an item with a name"))
        .collect()
}

/// The attribute names of the attribute set `set` of the spec.
fn attribute_set<'a>(spec: &'a Yaml, set: &str) -> Vec<&'a str> {
    let sets = spec["attribute-sets"].as_vec().expect("attribute-sets");
    let set = sets
        .iter()
        .find(|s| s["name"].as_str() == Some(set))
        .unwrap_or_else(|| panic!("attribute set {set} in the spec"));
    names(&set["attributes"])
}

/// Attribute `name` of the attribute set `set` of the spec.
fn attribute<'a>(spec: &'a Yaml, set: &str, name: &str) -> &'a Yaml {
    let sets = spec["attribute-sets"].as_vec().expect("attribute-sets");
    sets.iter()
        .find(|s| s["name"].as_str() == Some(set))
        .and_then(|s| {
            s["attributes"]
                .as_vec()?
                .iter()
                .find(|a| a["name"].as_str() == Some(name))
        })
        .unwrap_or_else(|| panic!("{set} {name} in the spec"))
}

fn definition(spec: &Yaml, name: &str) -> i64 {
    spec["definitions"]
        .as_vec()
        .expect("definitions")
        .iter()
        .find(|d| d["name"].as_str() == Some(name))
        .and_then(|d| d["value"].as_i64())
        .unwrap_or_else(|| panic!("definition {name} in the spec"))
}

/// Checks that `consts` numbers the spec's list `names` from 1, in order, and
/// that `max` is the last of them.
fn assert_numbered<T>(what: &str, names: &[&str], consts: &[(&str, T)], max: T)
where
    T: Copy + Into<u32> + std::fmt::Debug,
{
    let listed: Vec<&str> = consts.iter().map(|&(n, _)| n).collect();
    assert_eq!(
        names, listed,
        "{what}: the constants cover the spec in order"
    );
    for (i, &(name, value)) in consts.iter().enumerate() {
        assert_eq!(value.into(), i as u32 + 1, "{what}: number of {name}");
    }
    assert_eq!(max.into(), consts.len() as u32, "{what}: MAX");
}

#[test]
fn family_matches_spec() {
    let spec = spec();
    assert_eq!(spec["protocol"].as_str(), Some("genetlink"));
    assert_eq!(
        spec["name"].as_str(),
        Some(uapi::FAMILY_NAME.to_str().unwrap())
    );
    assert_eq!(
        definition(&spec, "family-version"),
        i64::from(uapi::FAMILY_VERSION)
    );
    assert_eq!(
        definition(&spec, "default-ctrl-port"),
        i64::from(uapi::DEFAULT_CTRL_PORT)
    );
}

#[test]
fn family_name_is_a_valid_genl_name() {
    let name = uapi::FAMILY_NAME.to_bytes();
    assert_eq!(name, b"baton");
    // GENL_NAMSIZ is 16, NUL included.
    assert!(uapi::FAMILY_NAME.to_bytes_with_nul().len() <= 16);
}

#[test]
fn commands_match_spec() {
    let spec = spec();
    let list = spec["operations"]["list"].as_vec().unwrap();
    // The requests 1 to MAX, the notifications after them, then the
    // requests added later: each has the next number (YNL numbers by
    // position), or the `value` it gives.
    let ops: [(&str, u8, bool); 23] = [
        ("status-get", cmd::STATUS_GET, false),
        ("config-get", cmd::CONFIG_GET, false),
        ("config-set", cmd::CONFIG_SET, false),
        ("peer-add", cmd::PEER_ADD, false),
        ("peer-del", cmd::PEER_DEL, false),
        ("peer-get", cmd::PEER_GET, false),
        ("service-add", cmd::SERVICE_ADD, false),
        ("service-del", cmd::SERVICE_DEL, false),
        ("service-get", cmd::SERVICE_GET, false),
        ("backend-add", cmd::BACKEND_ADD, false),
        ("backend-del", cmd::BACKEND_DEL, false),
        ("stats-get", cmd::STATS_GET, false),
        ("conn-get", cmd::CONN_GET, false),
        ("rule-add", cmd::RULE_ADD, false),
        ("rule-del", cmd::RULE_DEL, false),
        ("cluster-add", cmd::CLUSTER_ADD, false),
        ("cluster-del", cmd::CLUSTER_DEL, false),
        ("cluster-get", cmd::CLUSTER_GET, false),
        ("handoff-ntf", cmd::HANDOFF_NTF, true),
        ("conn-end-ntf", cmd::CONN_END_NTF, true),
        ("peer-ntf", cmd::PEER_NTF, true),
        ("config-ntf", cmd::CONFIG_NTF, true),
        ("backend-set", cmd::BACKEND_SET, false),
    ];
    assert_eq!(
        names(&spec["operations"]["list"]),
        ops.iter().map(|&(n, ..)| n).collect::<Vec<_>>(),
        "the constants cover the spec's operations in order"
    );
    // MAX ends the first run of requests: a notification follows it.
    let max = ops.iter().position(|&(_, v, _)| v == cmd::MAX).unwrap();
    assert!(ops[..=max].iter().all(|&(_, _, ntf)| !ntf));
    assert!(ops[max + 1].2, "a notification follows MAX");
    let mut next = 1;
    for (i, (op, &(name, value, ntf))) in list.iter().zip(&ops).enumerate() {
        let number = op["value"].as_i64().unwrap_or(next);
        assert_eq!(number, i64::from(value), "number of {name}");
        next = number + 1;
        // A request after the notifications names its number, so that a
        // notification added before it cannot move it.
        if i > max && !ntf {
            assert!(op["value"].as_i64().is_some(), "{name} needs a value");
        }
        // A notification has an `event` and the multicast group, and no
        // `do`.
        assert_eq!(op["do"].is_badvalue(), ntf, "{name}");
        assert_eq!(op["mcgrp"].as_str(), ntf.then_some("events"), "{name}");
    }
    let mut numbers: Vec<u8> = ops.iter().map(|&(_, v, _)| v).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), ops.len(), "every command has its own number");
    assert_eq!(
        names(&spec["mcast-groups"]["list"]),
        [uapi::MCGRP_EVENTS.to_str().unwrap()]
    );
}

#[test]
fn event_attributes_match_spec() {
    let spec = spec();
    assert_numbered(
        "event attributes",
        &attribute_set(&spec, "event"),
        &[
            ("id", event_attr::ID),
            ("client-addr", event_attr::CLIENT_ADDR),
            ("client-port", event_attr::CLIENT_PORT),
            ("vip-addr", event_attr::VIP_ADDR),
            ("vip-port", event_attr::VIP_PORT),
            ("backend-addr", event_attr::BACKEND_ADDR),
            ("backend-port", event_attr::BACKEND_PORT),
            ("peer", event_attr::PEER),
            ("result", event_attr::RESULT),
            ("reason", event_attr::REASON),
            ("role", event_attr::ROLE),
            ("state", event_attr::STATE),
            ("cmd", event_attr::CMD),
            ("pad", event_attr::PAD),
            ("client-addr6", event_attr::CLIENT_ADDR6),
            ("vip-addr6", event_attr::VIP_ADDR6),
            ("backend-addr6", event_attr::BACKEND_ADDR6),
        ],
        event_attr::MAX,
    );
    let defs = spec["definitions"].as_vec().unwrap();
    let results = defs
        .iter()
        .find(|d| d["name"].as_str() == Some("handoff-result"))
        .expect("handoff-result enum");
    assert_eq!(names(&results["entries"]), ["ok", "refused", "failed"]);
    assert_eq!(
        [
            handoff_result::OK,
            handoff_result::REFUSED,
            handoff_result::FAILED
        ],
        [0, 1, 2],
        "YNL enums count from 0"
    );
}

#[test]
fn baton_attributes_match_spec() {
    let spec = spec();
    assert_numbered(
        "baton attributes",
        &attribute_set(&spec, "baton"),
        &[
            ("version", attr::VERSION),
            ("ctrl-port", attr::CTRL_PORT),
            ("node-id", attr::NODE_ID),
            ("hooks", attr::HOOKS),
            ("pad", attr::PAD),
            ("peer", attr::PEER),
            ("service", attr::SERVICE),
            ("backend", attr::BACKEND),
            ("stats", attr::STATS),
            ("conn", attr::CONN),
            ("conn-total", attr::CONN_TOTAL),
            ("rule", attr::RULE),
            ("request-timeout-ms", attr::REQUEST_TIMEOUT_MS),
            ("handoff-timeout-ms", attr::HANDOFF_TIMEOUT_MS),
            ("idle-timeout-ms", attr::IDLE_TIMEOUT_MS),
            ("key", attr::KEY),
            ("auth", attr::AUTH),
            ("heartbeat-timeout-ms", attr::HEARTBEAT_TIMEOUT_MS),
            ("member", attr::MEMBER),
            ("epoch", attr::EPOCH),
            ("copies", attr::COPIES),
            ("event", attr::EVENT),
            ("hooks6", attr::HOOKS6),
        ],
        attr::MAX,
    );
}

#[test]
fn peer_attributes_match_spec() {
    let spec = spec();
    assert_numbered(
        "peer attributes",
        &attribute_set(&spec, "peer"),
        &[
            ("node-id", peer_attr::NODE_ID),
            ("addr", peer_attr::ADDR),
            ("port", peer_attr::PORT),
            ("state", peer_attr::STATE),
            ("last-rx-ms", peer_attr::LAST_RX_MS),
            ("msgs-in", peer_attr::MSGS_IN),
            ("msgs-out", peer_attr::MSGS_OUT),
            ("connects", peer_attr::CONNECTS),
            ("pad", peer_attr::PAD),
            ("addr6", peer_attr::ADDR6),
            ("writes-out", peer_attr::WRITES_OUT),
        ],
        peer_attr::MAX,
    );
}

#[test]
fn peer_states_match_spec() {
    let spec = spec();
    let defs = spec["definitions"].as_vec().expect("definitions");
    let states = defs
        .iter()
        .find(|d| d["name"].as_str() == Some("peer-state"))
        .expect("peer-state enum");
    // YNL enums count from 0.
    assert_eq!(names(&states["entries"]), ["down", "up"]);
    assert_eq!((peer_state::DOWN, peer_state::UP), (0, 1));
}

#[test]
fn member_attributes_match_spec() {
    let spec = spec();
    assert_numbered(
        "member attributes",
        &attribute_set(&spec, "member"),
        &[
            ("node-id", member_attr::NODE_ID),
            ("state", member_attr::STATE),
            ("epoch", member_attr::EPOCH),
            ("agrees", member_attr::AGREES),
            ("live", member_attr::LIVE),
            ("active", member_attr::ACTIVE),
            ("common", member_attr::COMMON),
            ("pad", member_attr::PAD),
            ("synced", member_attr::SYNCED),
        ],
        member_attr::MAX,
    );
}

#[test]
fn member_states_match_spec() {
    let spec = spec();
    let defs = spec["definitions"].as_vec().expect("definitions");
    let states = defs
        .iter()
        .find(|d| d["name"].as_str() == Some("member-state"))
        .expect("member-state enum");
    assert_eq!(names(&states["entries"]), ["down", "up", "self"]);
    assert_eq!(
        (member_state::DOWN, member_state::UP, member_state::SELF),
        (0, 1, 2)
    );
}

#[test]
fn rule_attributes_match_spec() {
    let spec = spec();
    assert_numbered(
        "rule attributes",
        &attribute_set(&spec, "rule"),
        &[
            ("index", rule_attr::INDEX),
            ("host", rule_attr::HOST),
            ("host-suffix", rule_attr::HOST_SUFFIX),
            ("path", rule_attr::PATH),
            ("backend-addr", rule_attr::BACKEND_ADDR),
            ("backend-port", rule_attr::BACKEND_PORT),
            ("backend-addr6", rule_attr::BACKEND_ADDR6),
        ],
        rule_attr::MAX,
    );
}

#[test]
fn stats_attributes_match_spec() {
    let spec = spec();
    assert_numbered(
        "stats attributes",
        &attribute_set(&spec, "stats"),
        &[
            ("handoffs-ok", stats_attr::HANDOFFS_OK),
            ("handoffs-refused", stats_attr::HANDOFFS_REFUSED),
            ("handoffs-failed", stats_attr::HANDOFFS_FAILED),
            ("taken", stats_attr::TAKEN),
            ("forwarded", stats_attr::FORWARDED),
            ("returned", stats_attr::RETURNED),
            ("dropped", stats_attr::DROPPED),
            ("active", stats_attr::ACTIVE),
            ("pad", stats_attr::PAD),
            ("waiting", stats_attr::WAITING),
            ("hurried", stats_attr::HURRIED),
            ("memory", stats_attr::MEMORY),
            ("malformed", stats_attr::MALFORMED),
            ("held", stats_attr::HELD),
            ("held-dropped", stats_attr::HELD_DROPPED),
            ("icmp-forwarded", stats_attr::ICMP_FORWARDED),
            ("icmp-malformed", stats_attr::ICMP_MALFORMED),
            ("common", stats_attr::COMMON),
            ("common-memory", stats_attr::COMMON_MEMORY),
            ("forwarded-common", stats_attr::FORWARDED_COMMON),
            ("promoted", stats_attr::PROMOTED),
            ("replicated", stats_attr::REPLICATED),
            ("pending", stats_attr::PENDING),
            ("unconfirmed", stats_attr::UNCONFIRMED),
            ("resumed", stats_attr::RESUMED),
            ("acks-withheld", stats_attr::ACKS_WITHHELD),
            ("acks-released", stats_attr::ACKS_RELEASED),
            ("relayed", stats_attr::RELAYED),
            ("relay-failed", stats_attr::RELAY_FAILED),
            ("moved", stats_attr::MOVED),
            ("moves-refused", stats_attr::MOVES_REFUSED),
            ("moves-failed", stats_attr::MOVES_FAILED),
            ("released", stats_attr::RELEASED),
            ("relay-skipped", stats_attr::RELAY_SKIPPED),
            ("held-now", stats_attr::HELD_NOW),
            ("held-awaiting", stats_attr::HELD_AWAITING),
            ("relayed-again", stats_attr::RELAYED_AGAIN),
        ],
        stats_attr::MAX,
    );
}

#[test]
fn conn_attributes_match_spec() {
    let spec = spec();
    assert_numbered(
        "conn attributes",
        &attribute_set(&spec, "conn"),
        &[
            ("id", conn_attr::ID),
            ("role", conn_attr::ROLE),
            ("state", conn_attr::STATE),
            ("client-addr", conn_attr::CLIENT_ADDR),
            ("client-port", conn_attr::CLIENT_PORT),
            ("vip-addr", conn_attr::VIP_ADDR),
            ("vip-port", conn_attr::VIP_PORT),
            ("backend-addr", conn_attr::BACKEND_ADDR),
            ("backend-port", conn_attr::BACKEND_PORT),
            ("peer", conn_attr::PEER),
            ("age-ms", conn_attr::AGE_MS),
            ("idle-ms", conn_attr::IDLE_MS),
            ("packets", conn_attr::PACKETS),
            ("bytes", conn_attr::BYTES),
            ("pad", conn_attr::PAD),
            ("client-addr6", conn_attr::CLIENT_ADDR6),
            ("vip-addr6", conn_attr::VIP_ADDR6),
            ("backend-addr6", conn_attr::BACKEND_ADDR6),
            ("draining", conn_attr::DRAINING),
        ],
        conn_attr::MAX,
    );
}

#[test]
fn conn_enums_match_spec() {
    let spec = spec();
    let defs = spec["definitions"].as_vec().expect("definitions");
    let entries = |name: &str| {
        let d = defs
            .iter()
            .find(|d| d["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("{name} enum"));
        names(&d["entries"])
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(entries("conn-role"), ["front", "back"]);
    assert_eq!((conn_role::FRONT, conn_role::BACK), (0, 1));
    assert_eq!(
        entries("conn-state"),
        ["handoff", "forwarding", "replaying", "established"]
    );
    assert_eq!(
        (
            conn_state::HANDOFF,
            conn_state::FORWARDING,
            conn_state::REPLAYING,
            conn_state::ESTABLISHED
        ),
        (0, 1, 2, 3)
    );
}

#[test]
fn hook_attributes_match_spec() {
    let spec = spec();
    let mut consts: Vec<(&str, u16)> = Hook::ALL.iter().map(|h| (h.name(), h.attr())).collect();
    consts.push(("pad", hook_attr::PAD));
    assert_numbered(
        "hook-stats attributes",
        &attribute_set(&spec, "hook-stats"),
        &consts,
        hook_attr::MAX,
    );
}

#[test]
fn hook_attrs_are_one_to_four_and_distinct() {
    let mut attrs: Vec<u16> = Hook::ALL.iter().map(|h| h.attr()).collect();
    attrs.sort_unstable();
    attrs.dedup();
    assert_eq!(attrs, [1, 2, 3, 4]);
    assert!(attrs.iter().all(|&a| a < hook_attr::PAD));
}

#[test]
fn hook_index_matches_position() {
    for (i, hook) in Hook::ALL.iter().enumerate() {
        assert_eq!(hook.index(), i, "{hook:?}");
        assert_eq!(Hook::ALL[hook.index()], *hook);
    }
}

#[test]
fn hook_names_are_distinct_and_match_attrs() {
    let expected = [
        (Hook::PreRouting, "pre-routing", hook_attr::PRE_ROUTING),
        (Hook::LocalIn, "local-in", hook_attr::LOCAL_IN),
        (Hook::LocalOut, "local-out", hook_attr::LOCAL_OUT),
        (Hook::PostRouting, "post-routing", hook_attr::POST_ROUTING),
    ];
    for (hook, name, attr) in expected {
        assert_eq!(hook.name(), name);
        assert_eq!(hook.attr(), attr);
    }
    let mut names: Vec<&str> = Hook::ALL.iter().map(|h| h.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Hook::ALL.len());
}

#[test]
fn service_and_backend_attributes_match_spec() {
    let spec = spec();
    assert_numbered(
        "service attributes",
        &attribute_set(&spec, "service"),
        &[
            ("addr", service_attr::ADDR),
            ("port", service_attr::PORT),
            ("scheduler", service_attr::SCHEDULER),
            ("backend", service_attr::BACKEND),
            ("rule", service_attr::RULE),
            ("max-conns", service_attr::MAX_CONNS),
            ("addr6", service_attr::ADDR6),
            ("dispatch", service_attr::DISPATCH),
        ],
        service_attr::MAX,
    );
    assert_numbered(
        "backend attributes",
        &attribute_set(&spec, "backend"),
        &[
            ("addr", backend_attr::ADDR),
            ("port", backend_attr::PORT),
            ("weight", backend_attr::WEIGHT),
            ("peer", backend_attr::PEER),
            ("active", backend_attr::ACTIVE),
            ("addr6", backend_attr::ADDR6),
            ("drain", backend_attr::DRAIN),
        ],
        backend_attr::MAX,
    );
}

/// Every IPv6 address attribute of the spec (`addr6`, `*-addr6`): 16
/// bytes of `binary` shown as an address, as YNL reads and writes them.
#[test]
fn ipv6_addresses_are_16_byte_binaries() {
    let spec = spec();
    let mut found = Vec::new();
    for set in spec["attribute-sets"].as_vec().expect("attribute-sets") {
        let set_name = set["name"].as_str().unwrap();
        for a in set["attributes"].as_vec().unwrap() {
            let name = a["name"].as_str().unwrap();
            if !name.ends_with("addr6") {
                continue;
            }
            assert_eq!(a["type"].as_str(), Some("binary"), "{set_name} {name}");
            assert_eq!(
                a["display-hint"].as_str(),
                Some("ipv6"),
                "{set_name} {name}"
            );
            assert_eq!(
                a["checks"]["exact-len"].as_i64(),
                Some(16),
                "{set_name} {name}"
            );
            assert!(a["doc"].as_str().is_some(), "{set_name} {name}");
            found.push(format!("{set_name} {name}"));
        }
    }
    assert_eq!(
        found,
        [
            "event client-addr6",
            "event vip-addr6",
            "event backend-addr6",
            "service addr6",
            "backend addr6",
            "peer addr6",
            "rule backend-addr6",
            "conn client-addr6",
            "conn vip-addr6",
            "conn backend-addr6",
        ]
    );
}

/// The `dispatch` enum, and the service attribute that carries it: a `u8`
/// of that enum whose policy takes its values and no other.
#[test]
fn dispatch_matches_spec() {
    let spec = spec();
    let defs = spec["definitions"].as_vec().expect("definitions");
    let d = defs
        .iter()
        .find(|d| d["name"].as_str() == Some("dispatch"))
        .expect("dispatch enum");
    assert_eq!(d["type"].as_str(), Some("enum"));
    assert_eq!(names(&d["entries"]), ["connection", "request"]);
    assert_eq!(
        (dispatch::CONNECTION, dispatch::REQUEST),
        (0, 1),
        "YNL enums count from 0"
    );
    let a = attribute(&spec, "service", "dispatch");
    assert_eq!(a["type"].as_str(), Some("u8"));
    assert_eq!(a["enum"].as_str(), Some("dispatch"));
    assert_eq!(
        a["checks"]["max"].as_i64(),
        Some(i64::from(dispatch::REQUEST))
    );
    assert!(a["doc"].as_str().is_some());
}

/// A back-end's `drain`, a `u8` whose policy takes 0 and 1, and a
/// connection's `draining`, a `u8` of replies.
#[test]
fn drain_attributes_match_spec() {
    let spec = spec();
    let drain = attribute(&spec, "backend", "drain");
    assert_eq!(drain["type"].as_str(), Some("u8"));
    assert_eq!(drain["checks"]["max"].as_i64(), Some(1));
    let draining = attribute(&spec, "conn", "draining");
    assert_eq!(draining["type"].as_str(), Some("u8"));
    for a in [drain, draining] {
        assert!(a["doc"].as_str().is_some(), "{a:?}");
    }
}

#[test]
fn schedulers_match_spec() {
    let spec = spec();
    let defs = spec["definitions"].as_vec().expect("definitions");
    let sched = defs
        .iter()
        .find(|d| d["name"].as_str() == Some("scheduler"))
        .expect("scheduler enum");
    let ours: Vec<&str> = Scheduler::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(names(&sched["entries"]), ours);
    for (i, s) in Scheduler::ALL.iter().enumerate() {
        assert_eq!(*s as usize, i, "YNL enums count from 0");
        assert_eq!(Scheduler::from_u8(i as u8), Some(*s));
    }
    assert_eq!(Scheduler::from_u8(4), None);
}

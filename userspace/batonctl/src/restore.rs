// SPDX-License-Identifier: GPL-2.0

//! `batonctl restore`: a saved configuration read whole and checked before
//! anything is applied, and what undoes each command applied, so that a
//! command the kernel refuses half-way leaves the namespace as it was.

use crate::{
    cli::{self, Action, BackendSpec, Invocation, KeySetting, Settings},
    msg::ConfigReply,
    save,
};
use baton_proto::config::ConfigUpdate;

/// The commands of a saved configuration with their line numbers (from
/// 1), or the first line that is not one with the reason. Blank lines and
/// `#` comments are skipped; only configuration commands are taken.
pub fn parse(text: &str) -> Result<Vec<(usize, Invocation)>, (usize, String)> {
    let mut commands = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(words) = save::words(line) else {
            continue;
        };
        let mut argv = vec!["batonctl"];
        argv.extend(words);
        let mut invocation = cli::parse(argv).map_err(|e| {
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or_default();
            (i + 1, first.trim_start_matches("error: ").to_string())
        })?;
        // A drain is the `backend set` it sends, undone as one; a restore
        // never waits for connections.
        if let Action::BackendDrain(b, timeout) = invocation.action {
            if timeout.is_some() {
                return Err((
                    i + 1,
                    "restore does not wait for a drain: leave out 'timeout'".into(),
                ));
            }
            invocation.action = Action::BackendSet(b);
        }
        if !matches!(
            invocation.action,
            Action::ConfigSet(_)
                | Action::PeerAdd(_)
                | Action::PeerDel(_)
                | Action::ClusterAdd(_)
                | Action::ClusterDel(_)
                | Action::ServiceAdd(_)
                | Action::ServiceDel(_)
                | Action::BackendAdd(_)
                | Action::BackendDel(_)
                | Action::BackendSet(_)
                | Action::RuleAdd(_)
                | Action::RuleDel(..)
        ) {
            return Err((
                i + 1,
                "only configuration commands can be restored (config set, backend set, \
                 backend drain, and add or del of peer, cluster, service, backend, rule)"
                    .into(),
            ));
        }
        commands.push((i + 1, invocation));
    }
    Ok(commands)
}

/// What undoes a command of [`parse`] once applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undo {
    /// The command that puts the state back; `None`: nothing to put back.
    pub action: Option<Action>,
    /// The command set a control-channel key over another, which cannot be
    /// read back to be set again.
    pub key_lost: bool,
    /// The command cannot be undone: a `del`, whose object is gone.
    pub lasting: bool,
}

impl Undo {
    /// Nothing to put back.
    pub const NONE: Undo = Undo {
        action: None,
        key_lost: false,
        lasting: false,
    };
}

/// A back-end's weight, and whether it drained (`None`: a module that
/// does not say), before a `backend set`.
pub type BackendBefore = (u32, Option<bool>);

/// What undoes `action` (from [`parse`]), given the configuration before
/// it (`config`, for `config set`), the number of content rules of its
/// service before it (`rules`, for `rule add` without an index) and the
/// back-end's state before it (`backend`, for `backend set`).
pub fn undo(
    action: &Action,
    config: Option<&ConfigReply>,
    rules: Option<u32>,
    backend: Option<BackendBefore>,
) -> Option<Undo> {
    let plain = |action| {
        Some(Undo {
            action: Some(action),
            ..Undo::NONE
        })
    };
    match action {
        Action::ConfigSet(s) => {
            let before = config?;
            let old = &before.config;
            let keep = |new: Option<u32>, old: u32| new.map(|_| old);
            let update = ConfigUpdate {
                ctrl_port: s.update.ctrl_port.map(|_| old.ctrl_port),
                node_id: keep(s.update.node_id, old.node_id),
                request_timeout_ms: keep(s.update.request_timeout_ms, old.request_timeout_ms),
                handoff_timeout_ms: keep(s.update.handoff_timeout_ms, old.handoff_timeout_ms),
                idle_timeout_ms: keep(s.update.idle_timeout_ms, old.idle_timeout_ms),
                heartbeat_timeout_ms: keep(s.update.heartbeat_timeout_ms, old.heartbeat_timeout_ms),
                copies: keep(s.update.copies, old.copies),
            };
            // Without a key before, removing it puts the state back;
            // another key cannot be read back.
            let key = s
                .key
                .as_ref()
                .filter(|_| !before.auth)
                .map(|_| KeySetting::Remove);
            let changed = update != ConfigUpdate::default() || key.is_some();
            Some(Undo {
                action: changed.then_some(Action::ConfigSet(Settings { update, key })),
                key_lost: s.key.is_some() && before.auth,
                lasting: false,
            })
        }
        Action::PeerAdd(p) => plain(Action::PeerDel(p.node_id)),
        Action::ClusterAdd(id) => plain(Action::ClusterDel(*id)),
        Action::ServiceAdd(s) => plain(Action::ServiceDel(s.vip)),
        Action::BackendAdd(b) => plain(Action::BackendDel(BackendSpec::new(b.vip, b.addr))),
        Action::BackendSet(b) => {
            let (weight, draining) = backend?;
            // A drain puts its weight, 0, back itself (the kernel refuses
            // a draining weight above 0); otherwise the weight, and the
            // drain ended when the module has drains.
            let (weight, drain) = match draining {
                Some(true) => (None, Some(true)),
                Some(false) => (Some(weight), Some(false)),
                None => (Some(weight), None),
            };
            plain(Action::BackendSet(BackendSpec {
                weight,
                drain,
                ..BackendSpec::new(b.vip, b.addr)
            }))
        }
        Action::RuleAdd(r) => plain(Action::RuleDel(r.vip, r.index.or(rules)?)),
        Action::PeerDel(_)
        | Action::ClusterDel(_)
        | Action::ServiceDel(_)
        | Action::BackendDel(_)
        | Action::RuleDel(..) => Some(Undo {
            lasting: true,
            ..Undo::NONE
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_proto::config::Config;

    /// A file of `first` and then `bad` fails at line 2, before anything
    /// runs, its message saying `why`.
    fn refused_after(first: &str, bad: &str, why: &str) {
        let text = format!("{first}\n{bad}\n");
        let (line, msg) = parse(&text).unwrap_err();
        assert_eq!(line, 2, "{bad}");
        assert!(msg.contains(why), "{bad}: {msg}");
    }

    fn action(line: &str) -> Action {
        let commands = parse(line).unwrap();
        assert_eq!(commands.len(), 1);
        commands.into_iter().next().unwrap().1.action
    }

    #[test]
    fn every_line_is_read_before_anything_is_applied() {
        let text = "# saved\n\nconfig set node-id 7\nservice add 198.18.1.20:80\n\
                    backend add 198.18.1.20:80 198.18.2.1:80 weight 70000\n";
        let (line, msg) = parse(text).unwrap_err();
        assert_eq!(line, 5);
        assert!(msg.contains("70000"), "{msg}");
        let ok = parse("config set node-id 7\n  # note\nservice add 198.18.1.20:80\n").unwrap();
        assert_eq!(
            ok.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            [1, 3],
            "line numbers count blank and comment lines"
        );
    }

    #[test]
    fn a_bad_peer_address_fails_the_restore_before_anything_runs() {
        let text = "peer add 2 198.18.0.2:7300\npeer add 3 [2001:db8::3:7000\n";
        let (line, msg) = parse(text).unwrap_err();
        assert_eq!(line, 2);
        assert!(msg.contains("unbalanced bracket"), "{msg}");
        let (line, msg) = parse("peer add 3 [fe80::3]:7000\n").unwrap_err();
        assert_eq!(line, 1);
        assert!(msg.contains("link-local"), "{msg}");
    }

    #[test]
    fn ipv6_lines_are_read_checked_and_undone() {
        let vip: std::net::SocketAddr = "[2001:db8::10]:80".parse().unwrap();
        assert_eq!(
            undo(&action("service add [2001:db8::10]:80"), None, None, None)
                .unwrap()
                .action
                .unwrap(),
            Action::ServiceDel(vip)
        );
        assert_eq!(
            undo(
                &action("backend add [2001:db8::10]:80 [2001:db8::2:1]:8080 weight 2"),
                None,
                None,
                None
            )
            .unwrap()
            .action
            .unwrap(),
            action("backend del [2001:db8::10]:80 [2001:db8::2:1]:8080")
        );
        let rule = action("rule add [2001:db8::10]:80 path /v6/ to [2001:db8::2:1]:8080");
        assert_eq!(
            undo(&rule, None, Some(2), None).unwrap().action.unwrap(),
            Action::RuleDel(vip, 2)
        );
        // A back-end of the other family, an address the kernel refuses,
        // an IPv6 one without its brackets: the restore fails before
        // anything runs, naming the line.
        for (bad, why) in [
            (
                "backend add [2001:db8::10]:80 198.18.2.1:8080",
                "backend 198.18.2.1:8080 is IPv4, service [2001:db8::10]:80 is IPv6",
            ),
            (
                "service add [fe80::10]:80",
                "a link-local service address needs an interface",
            ),
            (
                "service add 2001:db8::10:80",
                "'2001:db8::10:80' needs a port ([ADDR]:PORT)",
            ),
        ] {
            refused_after("service add [2001:db8::10]:80", bad, why);
        }
    }

    #[test]
    fn only_configuration_commands() {
        for line in ["save", "restore", "stats", "service list", "config show"] {
            let (n, msg) = parse(line).unwrap_err();
            assert_eq!(n, 1);
            assert!(
                msg.starts_with("only configuration commands"),
                "{line}: {msg}"
            );
        }
        // A del is taken, and cannot be undone.
        for line in [
            "service del 198.18.1.20:80",
            "peer del 2",
            "rule del 198.18.1.20:80 0",
        ] {
            let u = undo(&action(line), None, None, None).unwrap();
            assert!(u.lasting && u.action.is_none(), "{line}");
        }
    }

    #[test]
    fn adds_are_undone_by_their_deletes() {
        assert_eq!(
            undo(&action("peer add 2 198.18.0.2"), None, None, None)
                .unwrap()
                .action
                .unwrap(),
            Action::PeerDel(2)
        );
        assert_eq!(
            undo(&action("peer add 3 [2001:db8::3]:7000"), None, None, None)
                .unwrap()
                .action
                .unwrap(),
            Action::PeerDel(3)
        );
        assert_eq!(
            undo(&action("cluster add 3"), None, None, None)
                .unwrap()
                .action
                .unwrap(),
            Action::ClusterDel(3)
        );
        assert_eq!(
            undo(
                &action("service add 198.18.1.20:80 scheduler rr"),
                None,
                None,
                None
            )
            .unwrap()
            .action
            .unwrap(),
            Action::ServiceDel("198.18.1.20:80".parse().unwrap())
        );
        assert_eq!(
            undo(
                &action("backend add 198.18.1.20:80 198.18.2.1:8080 weight 3 peer 2"),
                None,
                None,
                None
            )
            .unwrap()
            .action
            .unwrap(),
            cli::parse([
                "batonctl",
                "backend",
                "del",
                "198.18.1.20:80",
                "198.18.2.1:8080"
            ])
            .unwrap()
            .action
        );
        let vip = "198.18.1.20:80".parse().unwrap();
        // Appended after the 4 rules the service had, or at its index.
        let rule = action("rule add 198.18.1.20:80 path /a to 198.18.2.1:8080");
        assert_eq!(
            undo(&rule, None, Some(4), None).unwrap().action.unwrap(),
            Action::RuleDel(vip, 4)
        );
        assert_eq!(undo(&rule, None, None, None), None);
        let at = action("rule add 198.18.1.20:80 path /a to 198.18.2.1:8080 index 1");
        assert_eq!(
            undo(&at, None, Some(4), None).unwrap().action.unwrap(),
            Action::RuleDel(vip, 1)
        );
    }

    #[test]
    fn backend_set_is_read_and_undone_by_the_weight_before_it() {
        let set = action("backend set 198.18.1.20:80 198.18.2.1:8080 weight 0");
        // A module that does not say whether a back-end drains.
        let u = undo(&set, None, None, Some((3, None))).unwrap();
        assert!(!u.lasting && !u.key_lost, "{u:?}");
        assert_eq!(
            u.action.unwrap(),
            action("backend set 198.18.1.20:80 198.18.2.1:8080 weight 3")
        );
        // One that does: the weight, and no drain.
        assert_eq!(
            undo(&set, None, None, Some((3, Some(false))))
                .unwrap()
                .action
                .unwrap(),
            action("backend set 198.18.1.20:80 198.18.2.1:8080 weight 3 drain off")
        );
        // No such back-end: the command fails, nothing to undo.
        assert_eq!(undo(&set, None, None, None), None);
        // What the kernel would refuse is refused before anything runs.
        for (bad, why) in [
            (
                "backend set 198.18.1.20:80 198.18.2.1:8080 weight 70000",
                "expected 0 to 65535",
            ),
            (
                "backend set 198.18.1.20:80 198.18.2.1:8080",
                "backend set needs 'weight N' (0 to 65535) or 'drain on|off'",
            ),
            (
                "backend set 198.18.1.20:80 198.18.2.1:8080 weight 1 drain on",
                "a draining backend's weight is 0",
            ),
            (
                "backend set 198.18.1.20:80 198.18.2.1:8080 weight 1 peer 2",
                "peer cannot change",
            ),
        ] {
            refused_after("service add 198.18.1.20:80", bad, why);
        }
    }

    #[test]
    fn backend_drain_is_read_as_the_backend_set_it_sends() {
        assert_eq!(
            action("backend drain 198.18.1.20:80 198.18.2.1:8080"),
            action("backend set 198.18.1.20:80 198.18.2.1:8080 drain on")
        );
        let drain6 = action("backend drain [2001:db8::10]:80 [2001:db8::2:1]:8080");
        assert!(matches!(drain6, Action::BackendSet(b) if b.drain == Some(true)));
        // A restore never waits.
        refused_after(
            "service add 198.18.1.20:80",
            "backend drain 198.18.1.20:80 198.18.2.1:8080 timeout 30",
            "restore does not wait for a drain: leave out 'timeout'",
        );
        // Undone by the weight before it, the drain ended; a drain over a
        // drain by the drain.
        let drain = action("backend drain 198.18.1.20:80 198.18.2.1:8080");
        assert_eq!(
            undo(&drain, None, None, Some((5, Some(false))))
                .unwrap()
                .action
                .unwrap(),
            action("backend set 198.18.1.20:80 198.18.2.1:8080 weight 5 drain off")
        );
        assert_eq!(
            undo(&drain, None, None, Some((0, Some(true))))
                .unwrap()
                .action
                .unwrap(),
            action("backend drain 198.18.1.20:80 198.18.2.1:8080")
        );
    }

    /// Applies the commands of `text` to a model of the back-ends' weights
    /// and drains, as the kernel applies them ([`set_backend`]) and as
    /// restore reads the state before each, the last one refused, then the
    /// undos last first: the model is as it was.
    #[test]
    fn weights_and_drains_set_in_a_restore_are_put_back_when_it_fails() {
        use baton_proto::service::{set_backend, BackendConf, Endpoint, Ip};
        use std::collections::BTreeMap;
        type Key = (std::net::SocketAddr, std::net::SocketAddr);
        let conf = |weight, draining| BackendConf {
            // The model's keys name it.
            addr: Endpoint {
                addr: Ip::V4([0; 4]),
                port: 0,
            },
            weight,
            peer: 0,
            draining,
        };
        let key = |b: &BackendSpec| (b.vip, b.addr);
        let mut model: BTreeMap<Key, BackendConf> = BTreeMap::new();
        let first = |line| match action(line) {
            Action::BackendAdd(b) => key(&b),
            other => panic!("{other:?}"),
        };
        model.insert(
            first("backend add 198.18.1.20:80 198.18.2.2:8080 weight 4"),
            conf(4, false),
        );
        model.insert(
            first("backend add 198.18.1.20:80 198.18.2.3:8080 weight 0"),
            conf(0, true),
        );
        let before = model.clone();
        let text = "backend drain 198.18.1.20:80 198.18.2.2:8080\n\
                    backend set 198.18.1.20:80 198.18.2.3:8080 weight 6\n\
                    backend add 198.18.1.20:80 198.18.2.1:8080 weight 2\n\
                    backend set 198.18.1.20:80 198.18.2.1:8080 weight 0\n\
                    backend drain 198.18.1.20:80 198.18.2.1:8080\n\
                    backend set 198.18.1.20:80 198.18.2.1:8080 weight 7\n\
                    backend set 198.18.1.20:80 198.18.2.2:8080 weight 0\n\
                    service add 198.18.1.20:80\n";
        let apply = |model: &mut BTreeMap<Key, BackendConf>, a: &Action| match a {
            Action::BackendAdd(b) => {
                model.insert(key(b), conf(b.weight.unwrap_or(1), false));
            }
            Action::BackendSet(b) => {
                let be = model.get_mut(&key(b)).unwrap();
                set_backend(be, b.weight, b.drain).unwrap();
            }
            Action::BackendDel(b) => {
                model.remove(&key(b));
            }
            other => panic!("{other:?}"),
        };
        let mut done = Vec::new();
        for (_, inv) in parse(text).unwrap() {
            if matches!(inv.action, Action::ServiceAdd(_)) {
                break; // "service exists"
            }
            let state = match &inv.action {
                Action::BackendSet(b) => model.get(&key(b)).map(|c| (c.weight, Some(c.draining))),
                _ => None,
            };
            done.push(undo(&inv.action, None, None, state).unwrap());
            apply(&mut model, &inv.action);
        }
        let now: Vec<(u32, bool)> = model.values().map(|c| (c.weight, c.draining)).collect();
        // .1: weight 7, drain ended; .2: weight 0 and still draining; .3:
        // weight 6, drain ended.
        assert_eq!(now, [(7, false), (0, true), (6, false)]);
        for u in done.iter().rev() {
            assert!(!u.lasting);
            apply(&mut model, u.action.as_ref().unwrap());
        }
        assert_eq!(model, before);
    }

    #[test]
    fn config_set_is_undone_by_the_old_values_of_what_it_set() {
        let before = ConfigReply {
            config: Config {
                ctrl_port: 7300,
                node_id: 0,
                request_timeout_ms: 5000,
                handoff_timeout_ms: 3000,
                idle_timeout_ms: 300_000,
                heartbeat_timeout_ms: 3000,
                copies: 1,
            },
            auth: false,
        };
        let set = action("config set node-id 4 copies all key 00112233445566778899aabbccddeeff");
        let u = undo(&set, Some(&before), None, None).unwrap();
        let Some(Action::ConfigSet(s)) = u.action else {
            panic!("{u:?}");
        };
        assert_eq!(
            s.update,
            ConfigUpdate {
                node_id: Some(0),
                copies: Some(1),
                ..Default::default()
            }
        );
        assert_eq!(s.key, Some(KeySetting::Remove));
        assert!(!u.key_lost);
        // Over a key, the old one is lost; without one in the command,
        // the key is left alone.
        let keyed = ConfigReply {
            auth: true,
            ..before
        };
        let u = undo(&set, Some(&keyed), None, None).unwrap();
        assert!(u.key_lost);
        let Some(Action::ConfigSet(s)) = u.action else {
            panic!();
        };
        assert_eq!(s.key, None);
        let u = undo(
            &action("config set ctrl-port 7400"),
            Some(&keyed),
            None,
            None,
        )
        .unwrap();
        assert!(!u.key_lost);
        assert_eq!(
            u.action.unwrap(),
            Action::ConfigSet(Settings {
                update: ConfigUpdate {
                    ctrl_port: Some(7300),
                    ..Default::default()
                },
                key: None
            })
        );
        assert_eq!(undo(&set, None, None, None), None);
        // A key over a key alone: nothing to put back but the lost key.
        let u = undo(
            &action("config set key 00112233445566778899aabbccddeeff"),
            Some(&keyed),
            None,
            None,
        )
        .unwrap();
        assert_eq!((u.action, u.key_lost, u.lasting), (None, true, false));
    }
}

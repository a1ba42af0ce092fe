// SPDX-License-Identifier: GPL-2.0

//! `batonctl save`: the configuration of a namespace as the `batonctl`
//! commands that rebuild it, one per line, in an order that `restore` can
//! replay into an empty namespace: settings, peers, services, their
//! back-ends, then their rules.

use std::fmt::Write as _;

use baton_proto::config::Config;

use crate::{
    cli::{CTRL_PORT, HANDOFF_TIMEOUT, IDLE_TIMEOUT, NODE_ID, REQUEST_TIMEOUT},
    output::{Peer, Service},
};

/// The commands, each ending with a newline.
pub fn commands(config: &Config, peers: &[Peer], services: &[Service]) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "config set {CTRL_PORT} {} {NODE_ID} {} {REQUEST_TIMEOUT} {} {HANDOFF_TIMEOUT} {} {IDLE_TIMEOUT} {}",
        config.ctrl_port,
        config.node_id,
        config.request_timeout_ms,
        config.handoff_timeout_ms,
        config.idle_timeout_ms
    );
    for p in peers {
        let _ = writeln!(out, "peer add {} {}:{}", p.node_id, p.addr, p.port);
    }
    for s in services {
        let _ = writeln!(
            out,
            "service add {}:{} scheduler {}",
            s.addr, s.port, s.scheduler
        );
    }
    for s in services {
        for b in &s.backends {
            let _ = write!(
                out,
                "backend add {}:{} {}:{} weight {}",
                s.addr, s.port, b.addr, b.port, b.weight
            );
            if b.peer != 0 {
                let _ = write!(out, " peer {}", b.peer);
            }
            out.push('\n');
        }
    }
    for s in services {
        for r in &s.rules {
            let _ = write!(out, "rule add {}:{}", s.addr, s.port);
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
            connects: 0,
        }];
        let services = [Service {
            addr: [198, 18, 1, 100].into(),
            port: 80,
            scheduler: "wrr",
            backends: vec![
                Backend {
                    addr: [198, 18, 0, 2].into(),
                    port: 8080,
                    weight: 3,
                    peer: 2,
                },
                Backend {
                    addr: [198, 18, 0, 1].into(),
                    port: 8080,
                    weight: 0,
                    peer: 0,
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
        let text = commands(&config, &peers, &services);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "config set ctrl-port 7300 node-id 1 request-timeout-ms 1500 \
                 handoff-timeout-ms 2500 idle-timeout-ms 300000",
                "peer add 2 198.18.0.2:7301",
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
        let Action::ConfigSet(update) = &actions[0] else {
            panic!("first line is not config set");
        };
        let mut restored = Config::new(1);
        update.apply(&mut restored).unwrap();
        assert_eq!(restored, config);
        let Action::RuleAdd(rule) = &actions[5] else {
            panic!("last line is not rule add");
        };
        assert_eq!(
            rule.host.map(|(h, d)| (h.as_bytes().to_vec(), d)),
            Some((b"img.example".to_vec(), true))
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
}

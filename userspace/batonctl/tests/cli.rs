// SPDX-License-Identifier: GPL-2.0

//! The `batonctl` binary from the outside: exit codes and where messages go.
//! Nothing here needs the baton module.

use std::{
    path::Path,
    process::{Command, Output},
};

fn batonctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_batonctl"))
        .args(args)
        .output()
        .expect("batonctl runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_goes_to_stdout_and_succeeds() {
    for args in [
        &["help"][..],
        &["--help"],
        &["-h"],
        &["help", "config", "set"],
    ] {
        let out = batonctl(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(stdout(&out).contains("Usage: batonctl"), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}");
    }
    let out = batonctl(&["help"]);
    for word in ["status", "config", "--json", "--pretty"] {
        assert!(stdout(&out).contains(word), "{word}");
    }
}

#[test]
fn version() {
    let out = batonctl(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!("batonctl {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["config", "set"],
        &["config", "set", "ctrl-port"],
        &["config", "set", "ctrl-port", "0"],
        &["config", "set", "ctrl-port", "65536"],
        &["config", "set", "node-id", "-1"],
        &["config", "set", "node-id", "4294967296"],
        &["config", "set", "colour", "blue"],
        &[
            "backend",
            "drain",
            "198.18.1.10:80",
            "198.18.2.2:80",
            "timeout",
            "0",
        ],
        &[
            "backend",
            "drain",
            "198.18.1.10:80",
            "198.18.2.2:80",
            "timeout",
            "86401",
        ],
        &["backend", "set", "198.18.1.10:80", "198.18.2.2:80"],
        &[
            "backend",
            "set",
            "198.18.1.10:80",
            "198.18.2.2:80",
            "drain",
            "on",
            "weight",
            "2",
        ],
    ] {
        let out = batonctl(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn cluster_node_id_0_is_a_usage_error() {
    for args in [
        &["cluster", "add", "0"][..],
        &["cluster", "del", "0"],
        &["cluster", "add"],
        &["cluster", "add", "two"],
        &["cluster", "bogus"],
    ] {
        let out = batonctl(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(
            stderr(&out).starts_with("error: "),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = batonctl(&["cluster", "add", "0"]);
    assert!(
        stderr(&out).contains("invalid value '0' for '<NODE-ID>'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn cluster_help_lists_its_commands() {
    let out = batonctl(&["help", "cluster"]);
    assert_eq!(out.status.code(), Some(0));
    for word in ["add", "del", "list", "show"] {
        assert!(stdout(&out).contains(word), "{word}: {}", stdout(&out));
    }
    assert!(stdout(&batonctl(&["help"])).contains("cluster"));
}

#[test]
fn bad_values_name_the_field() {
    let out = batonctl(&["config", "set", "node-id", "1", "ctrl-port", "99999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid value '99999' for 'ctrl-port'"),
        "{}",
        stderr(&out)
    );
    let out = batonctl(&["config", "set", "node-id", "x"]);
    assert!(
        stderr(&out).contains("invalid value 'x' for 'node-id'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn man_page() {
    let out = batonctl(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains(".TH batonctl 8"));
}

/// Without the module, every command that talks to it exits 3. Skipped where
/// the module is loaded or no generic netlink socket can be opened.
#[test]
fn module_not_loaded_exits_3() {
    if Path::new("/sys/module/baton").exists() {
        eprintln!("skipped: the baton module is loaded");
        return;
    }
    for args in [
        &["status"][..],
        &["-j", "status"],
        &["config", "show"],
        &["config", "set", "node-id", "1"],
        &["cluster", "show"],
        &["-j", "cluster", "list"],
        &["cluster", "add", "2"],
        &[
            "-j",
            "backend",
            "drain",
            "198.18.1.10:80",
            "198.18.2.2:80",
            "timeout",
            "5",
        ],
    ] {
        let out = batonctl(args);
        if stderr(&out).starts_with("batonctl: netlink:") {
            eprintln!("skipped: {}", stderr(&out));
            return;
        }
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            "batonctl: the baton module is not loaded \
             (generic netlink family 'baton' not found)\n"
        );
        assert!(out.stdout.is_empty());
    }
}

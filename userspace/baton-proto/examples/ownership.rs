// SPDX-License-Identifier: GPL-2.0

//! Simulation of front-end group ownership (`src/proto/cluster.rs`) at the
//! scale of issue 15: `N` members and `F` connections, how many change
//! owner when one member leaves or joins, how evenly they spread, the
//! entries a member keeps with a backup copy per connection against a copy
//! on every member, and the replication traffic of each at `R` new
//! connections a second (as many ending). Documentation/cluster.rst shows
//! its table.
//!
//!   cargo run --release -p baton-proto --example ownership [N] [F] [R]

use baton_proto::{
    cluster::{owners, FlowId},
    ctrl::{HEADER_LEN, MAC_LEN, REPLICA_END_LEN, REPLICA_LEN},
    mem::kmalloc_size,
    service::Endpoint,
};

fn flow(i: u32) -> FlowId {
    FlowId {
        client: Endpoint {
            addr: [
                198,
                18 + (i >> 24) as u8 % 2,
                (i >> 16) as u8,
                (i >> 8) as u8,
            ],
            port: 1024 + (i & 0xff) as u16 * 251,
        },
        vip: Endpoint {
            addr: [198, 18, 0, 100],
            port: 443,
        },
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let f: u32 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rate: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let members: Vec<u32> = (1..=n).collect();
    let hashes: Vec<u64> = (0..f).map(|i| flow(i).hash()).collect();
    let base: Vec<_> = hashes
        .iter()
        .map(|&k| owners(&members, k).unwrap())
        .collect();

    let mut owned = vec![0u64; n as usize + 2];
    for o in &base {
        owned[o.owner as usize] += 1;
    }
    let (lo, hi) = (
        owned[1..=n as usize].iter().min().unwrap(),
        owned[1..=n as usize].iter().max().unwrap(),
    );
    println!("members {n}, connections {f}");
    println!(
        "owned per member: min {lo} max {hi} (mean {:.0}, {:.2}% to {:.2}% of the mean)",
        f64::from(f) / f64::from(n),
        100.0 * *lo as f64 * f64::from(n) / f64::from(f),
        100.0 * *hi as f64 * f64::from(n) / f64::from(f)
    );

    // Connections whose owner differs among `set` from the base group.
    let moved_with = |set: &[u32]| {
        hashes
            .iter()
            .zip(&base)
            .filter(|(&k, o)| owners(set, k).unwrap().owner != o.owner)
            .count()
    };
    let ideal = 100.0 / f64::from(n);
    let mut worst_leave = 0.0f64;
    for gone in [1, n / 2, n] {
        let rest: Vec<u32> = members.iter().copied().filter(|&m| m != gone).collect();
        let moved = moved_with(&rest);
        let pct = 100.0 * moved as f64 / f64::from(f);
        worst_leave = worst_leave.max(pct);
        println!("member {gone} leaves: {moved} change owner ({pct:.3}%; 1/N = {ideal:.3}%)");
    }
    let mut joined = members.clone();
    joined.push(n + 1);
    let moved = moved_with(&joined);
    let pct = 100.0 * moved as f64 / f64::from(f);
    println!(
        "member {} joins: {moved} change owner ({pct:.3}%; 1/(N+1) = {:.3}%)",
        n + 1,
        100.0 / f64::from(n + 1)
    );

    // One flow entry as the module allocates it (kmalloc-128), in each
    // table that holds it.
    let entry = kmalloc_size(128) as f64;
    let per = f64::from(f) / f64::from(n);
    let backup = per * 2.0 * entry;
    let all = f64::from(f) * entry;
    println!(
        "entries per member: HRW backup {:.0} (active {per:.0} + common {per:.0}, {:.1} MB), copies to all {} ({:.1} MB)",
        per * 2.0,
        backup / 1e6,
        f,
        all / 1e6
    );
    println!(
        "worst leave: {worst_leave:.3}% (target <= 1/N + 1% = {:.3}%)",
        ideal + 1.0
    );

    // Replication as the module does it: REPLICA to each of `copies`
    // backups when a connection starts forwarding, REPLICA_END to the same
    // when it ends; authenticated frames (header, payload, tag), TCP/IP
    // overhead left out (the channel batches frames).
    let frame = |payload: usize| (HEADER_LEN + payload + MAC_LEN) as f64;
    for (name, copies) in [("HRW backup", 1.0), ("copies to all", f64::from(n - 1))] {
        let msgs = f64::from(rate) * 2.0 * copies;
        let bytes = f64::from(rate) * copies * (frame(REPLICA_LEN) + frame(REPLICA_END_LEN));
        println!(
            "replication at {rate} connections/s, {name}: {:.2} M frames/s, {:.1} MB/s in the cluster ({:.0} frames/s, {:.2} MB/s per member)",
            msgs / 1e6,
            bytes / 1e6,
            msgs / f64::from(n),
            bytes / 1e6 / f64::from(n)
        );
    }
}

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reads `batonctl stats --prometheus` with the Prometheus client's own
parser (Debian's python3-prometheus-client) and checks it against the JSON
that batonctl printed just before:

  promcheck.py EXPOSITION STATS PEERS SERVICES CLUSTER

Each argument a file. Checks: the text parses; every family is a counter
or a gauge, each counter's samples end in _total; the counters and gauges
that cannot move between the two reads (handoffs, active connections,
copies, back-end weights and connections, peers and members up, the
epoch) equal the JSON,
and those that grow (control frames) are at least the JSON's. Prints one
line (samples and families read) and exits 0, or names the first mismatch
and exits 1.
"""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = open(sys.argv[1]).read()
    stats, peers, services, cluster = (json.load(open(p)) for p in sys.argv[2:6])
    samples = {}
    families = 0
    for fam in text_string_to_metric_families(text):
        families += 1
        if fam.type not in ("counter", "gauge"):
            sys.exit(f"family {fam.name}: type {fam.type}")
        for s in fam.samples:
            if fam.type == "counter" and not s.name.endswith("_total"):
                sys.exit(f"counter sample {s.name} without _total")
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in samples:
                sys.exit(f"sample {key} twice")
            samples[key] = s.value

    def get(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        if key not in samples:
            sys.exit(f"no sample {name} {labels}")
        return samples[key]

    def equal(what, got, want):
        if got != want:
            sys.exit(f"{what}: {got} in the exposition, {want} in the JSON")

    for result in ("ok", "refused", "failed"):
        equal(f"handoffs {result}", get("baton_handoffs_total", result=result),
              stats[f"handoffs-{result}"])
    for name, key in (("baton_connections_active", "active"),
                      ("baton_connections_taken_total", "taken"),
                      ("baton_common_copies", "common"),
                      ("baton_common_pending", "pending"),
                      ("baton_copies_replicated_total", "replicated")):
        equal(name, get(name), stats[key])
    for s in services:
        vip = f"{s['addr']}:{s['port']}"
        equal(f"back-ends of {vip}",
              get("baton_service_backends", service=vip, scheduler=s["scheduler"]),
              len(s["backends"]))
        for b in s["backends"]:
            labels = {"service": vip, "backend": f"{b['addr']}:{b['port']}",
                      "peer": str(b["peer"])}
            equal(f"weight of {labels['backend']}", get("baton_backend_weight", **labels),
                  b["weight"])
            equal(f"connections to {labels['backend']}",
                  get("baton_backend_connections", **labels), b["active"])
    for p in peers:
        node = str(p["node-id"])
        equal(f"peer {node} up",
              get("baton_peer_up", peer=node, address=f"{p['addr']}:{p['port']}"),
              1 if p["state"] == "up" else 0)
        got = get("baton_peer_messages_received_total", peer=node)
        if got < p["msgs-in"]:
            sys.exit(f"peer {node}: {got} frames received, fewer than the JSON's {p['msgs-in']}")
    if cluster.get("epoch") is not None:
        equal("epoch", get("baton_cluster_epoch"), cluster["epoch"])
        for m in cluster["members"]:
            equal(f"member {m['node-id']} up",
                  get("baton_cluster_member_up", member=str(m["node-id"]),
                      self="true" if m["state"] == "self" else "false"),
                  0 if m["state"] == "down" else 1)
    print(f"{len(samples)} samples in {families} families read by prometheus_client, as the JSON")


if __name__ == "__main__":
    main()

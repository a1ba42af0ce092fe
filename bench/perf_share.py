#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where a profiled guest's busy CPU went, from `perf script` call chains.

`BENCH_PERF=1 bench/run.sh` leaves OUTDIR/guest/perf.<mode>.<guest>.script.gz
(`perf script -F comm,ip,sym` of `perf record -a -g`, guests 1 and 2). This
prints, for each file: the busy samples (those not in the idle loop's
halt), each thread's share of them, and within each of the threads that
take at least 5%, the kernel call each sample sat in, found walking up the
chain from the leaf (the first of CATEGORIES to match); then the share of
samples whose leaf is baton's own code (the module's Rust functions and
its C helpers) and the leaves that weigh most there.

    bench/perf_share.py FILE.script.gz [FILE...]

Documentation/benchmarks.rst ("Where a handoff's time goes") reads its
output.
"""

import collections
import gzip
import re
import sys

# (category, pattern of a frame), tried in order on each frame from the
# leaf up; the first frame that matches any decides.
CATEGORIES = [
    ("sendmsg", re.compile(r"sock_sendmsg|tcp_sendmsg|kernel_sendmsg")),
    ("recvmsg", re.compile(r"sock_recvmsg|tcp_recvmsg|kernel_recvmsg")),
    ("accept", re.compile(r"inet_accept|kernel_accept")),
    ("sleep", re.compile(r"__schedule|schedule_timeout")),
    ("hmac", re.compile(r"hmac|sha256", re.I)),
    ("inject", re.compile(r"inject")),
    ("sockopt", re.compile(r"setsockopt|getsockopt")),
    ("close", re.compile(r"sock_release|tcp_close|inet_release")),
    ("wake-up", re.compile(r"try_to_wake_up|wake_up")),
    ("disconnect", re.compile(r"tcp_disconnect")),
    ("alloc", re.compile(r"kmalloc|kfree|slab")),
]

# baton's own code: the module's Rust symbols (crate `baton`) and its C
# helpers (`baton_*`).
OWN = re.compile(r"5baton|^baton_")


def parse(lines):
    """The samples of `perf script -F comm,ip,sym` output: (comm, frames
    from the leaf up)."""
    samples, cur = [], None
    for line in lines:
        if not line.strip():
            if cur:
                samples.append(cur)
            cur = None
        elif line[0] not in " \t":
            cur = (line.strip(), [])
        elif cur is not None:
            parts = line.split(None, 1)
            cur[1].append(parts[1].strip() if len(parts) > 1 else "?")
    if cur:
        samples.append(cur)
    return samples


def busy(samples):
    """The samples that are not the idle loop halting."""
    return [s for s in samples if not (s[1] and "safe_halt" in s[1][0])]


def category(frames):
    for frame in frames:
        for name, pat in CATEGORIES:
            if pat.search(frame):
                return name
    return "other"


def report(samples, min_share=0.05):
    """The figures of one profile, as a dict."""
    b = busy(samples)
    n = len(b) or 1
    threads = collections.Counter(s[0] for s in b)
    out = {"samples": len(samples), "busy": len(b), "threads": {}, "own": 0.0, "own_leaves": []}
    for comm, count in threads.most_common():
        t = {"share": count / n}
        if count / n >= min_share:
            cats = collections.Counter(category(s[1]) for s in b if s[0] == comm)
            t["where"] = {k: v / count for k, v in cats.most_common()}
        out["threads"][comm] = t
    own = [s for s in b if s[1] and OWN.search(s[1][0])]
    out["own"] = len(own) / n
    out["own_leaves"] = collections.Counter(s[1][0] for s in own).most_common(8)
    return out


def demangle(sym):
    """The last three path segments of a Rust v0 symbol (`<len><ident>`
    runs, an `_` allowed between), enough to read it."""
    if not sym.startswith("_R"):
        return sym
    names, i = [], 0
    while i < len(sym):
        m = re.match(r"\d+", sym[i:])
        if not m:
            i += 1
            continue
        n, j = int(m.group()), i + len(m.group())
        if sym[j:j + 1] == "_":
            j += 1
        ident = sym[j:j + n]
        if len(ident) == n and re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", ident):
            names.append(ident)
            i = j + n
        else:
            i = j
    return "::".join(names[-3:]) or sym


def main(argv):
    if not argv:
        print(__doc__.strip().splitlines()[-5])
        return 2
    for path in argv:
        with gzip.open(path, "rt", errors="replace") as f:
            r = report(parse(f))
        print(f"{path}: {r['busy']} busy samples of {r['samples']}")
        for comm, t in r["threads"].items():
            where = ", ".join(f"{k} {v:.0%}" for k, v in t.get("where", {}).items())
            print(f"  {comm:<20} {t['share']:5.0%}  {where}")
        print(f"  baton's own code (leaf): {r['own']:.1%}")
        for sym, count in r["own_leaves"]:
            print(f"    {count:5d}  {demangle(sym)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

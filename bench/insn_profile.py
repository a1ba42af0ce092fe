#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Each guest's instructions by function over one workload
(BENCH_INSN_PROFILE), per request.

  bench/insn_profile.py OUTDIR/guest MODE.CONN.SIZE.cCONC [TOP]

bench/insn.c wrote, for each guest, every translation block run in the
workload's first round with its instructions and how often it ran
(insn.<guest>.tsv.prof.3), and likewise over the idle window before it
(.prof.1), whose rate is taken off each function as the report's other
figures are net of idle (the windows' lengths are the modification times
of the insn-snap.0 to .3 files); the guests saved their kernel's text symbols
(kallsyms.<guest>, baton.ko's among them while it was loaded). A block is
named by the symbol it starts in; a user-space address is "[user]". The
requests are wrk's for that workload (results.jsonl). Prints, per guest,
the total and the TOP (default 25) functions in thousands of instructions
a request, then the total of each module (functions the idle window ran
more of than the workload are left out).
"""

import bisect
import json
import os
import sys

ROLES = ("client", "front-end", "back-end 1", "back-end 2")
# Below this, an address is user space (x86-64's canonical split).
KERNEL_START = 0xFFFF800000000000


def load_symbols(path):
    """Sorted (addresses, names) of the text symbols in a /proc/kallsyms
    copy; a module's name is "function [module]"."""
    syms = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 3:
                continue
            try:
                addr = int(p[0], 16)
            except ValueError:
                continue
            name = p[2] + (f" {p[3]}" if len(p) > 3 else "")
            syms.append((addr, name))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


def load_blocks(path):
    """(address, instructions) of every block line: a block's instructions
    times its runs."""
    out = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) != 3:
                continue
            try:
                out.append((int(p[0], 16), int(p[1]) * int(p[2])))
            except ValueError:
                continue
    return out


def by_function(blocks, symbols):
    """Instructions per function name."""
    addrs, names = symbols
    out = {}
    for addr, n in blocks:
        if addr < KERNEL_START:
            name = "[user]"
        else:
            i = bisect.bisect_right(addrs, addr) - 1
            name = names[i] if i >= 0 else "[unknown kernel]"
        out[name] = out.get(name, 0) + n
    return out


def module_of(name):
    """The module in a function's name ("[baton]"), "[kernel]" for the
    kernel's own, or the name itself for "[user]"."""
    if name.startswith("["):
        return name
    return name.rsplit(" ", 1)[1] if name.endswith("]") and " [" in name else "[kernel]"


def idle_scale(guest_dir):
    """The workload's window over the idle window (insn-snap.0 to .3);
    None without them."""
    try:
        t = [os.stat(os.path.join(guest_dir, f"insn-snap.{k}")).st_mtime_ns for k in range(4)]
    except FileNotFoundError:
        return None
    return (t[3] - t[2]) / (t[1] - t[0]) if t[1] > t[0] else None


def requests_of(guest_dir, cell):
    """wrk's requests in round 1 of CELL (MODE.CONN.SIZE.cCONC)."""
    mode, conn, size, conc = cell.split(".")
    with open(os.path.join(guest_dir, "results.jsonl")) as f:
        for line in f:
            w = json.loads(line)
            if (w.get("kind") == "workload" and w.get("round", 1) == 1 and
                    (w["mode"], w["conn"], w["size"], f"c{w['conc']}") == (mode, conn, size, conc)):
                return (w.get("wrk") or {}).get("requests") or 0
    return 0


def report(guest_dir, cell, top=25):
    req = requests_of(guest_dir, cell)
    if not req:
        return f"insn_profile: no requests for {cell} in {guest_dir}/results.jsonl\n", False
    out = [f"Instructions by function over {cell} (round 1, {req} requests), thousands a request\n"]
    found = False
    scale = idle_scale(guest_dir)
    if scale is None:
        out.append("(not net of idle: no idle window)\n")
    for i, role in enumerate(ROLES):
        prof = os.path.join(guest_dir, f"insn.{i}.tsv.prof.3")
        syms = os.path.join(guest_dir, f"kallsyms.{i}")
        if not (os.path.exists(prof) and os.path.exists(syms)):
            continue
        found = True
        symbols = load_symbols(syms)
        fn = by_function(load_blocks(prof), symbols)
        idle = os.path.join(guest_dir, f"insn.{i}.tsv.prof.1")
        if scale is not None and os.path.exists(idle):
            for name, n in by_function(load_blocks(idle), symbols).items():
                fn[name] = fn.get(name, 0) - n * scale
        fn = {k: v for k, v in fn.items() if v > 0}
        total = sum(fn.values())
        if not total:
            continue
        out.append(f"\n{role} (guest {i}): {total / req / 1e3:.1f}\n")
        for name, n in sorted(fn.items(), key=lambda kv: -kv[1])[:top]:
            out.append(f"  {n / req / 1e3:9.2f}  {100 * n / total:5.1f}%  {name}\n")
        mods = {}
        for name, n in fn.items():
            mods[module_of(name)] = mods.get(module_of(name), 0) + n
        out.append("  by module: " + ", ".join(
            f"{m} {n / req / 1e3:.1f}" for m, n in sorted(mods.items(), key=lambda kv: -kv[1])) + "\n")
    if not found:
        out.append("no profile (insn.<guest>.tsv.prof.1 and kallsyms.<guest>)\n")
    return "".join(out), found


def main(argv):
    if len(argv) not in (3, 4):
        print("usage: bench/insn_profile.py OUTDIR/guest MODE.CONN.SIZE.cCONC [TOP]", file=sys.stderr)
        return 2
    text, ok = report(argv[1], argv[2], int(argv[3]) if len(argv) == 4 else 25)
    sys.stdout.write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

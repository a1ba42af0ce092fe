#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that the module's files use only the layers below their own.

The layers, lowest first (Documentation/architecture.rst, "Layers"). A
file may name (``crate::x`` or ``use crate::{x, ...}``) only modules of a
lower layer; ``src/proto/`` and ``src/sys/`` count as one module each.
Prints one line per violation and exits 1 if there is any.
"""

import pathlib
import re
import sys

LAYERS = [
    ["proto"],
    ["sys"],
    ["hold", "arrival", "common", "events", "relay"],
    ["conn"],
    ["ctrl"],
    ["group"],
    ["sched"],
    ["node"],
    ["replica"],
    ["teardown"],
    ["back", "gc"],
    ["front", "replay"],
    ["utcp", "migrate"],
    ["state"],
    ["netlink"],
    ["baton"],
]

LEVEL = {m: i for i, names in enumerate(LAYERS) for m in names}


def module_of(path: pathlib.Path, src: pathlib.Path) -> str:
    rel = path.relative_to(src)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def used_modules(text: str) -> set[str]:
    """Top-level modules a file names through `crate::`."""
    text = re.sub(r"//[^\n]*", "", text)
    used = set()
    for m in re.finditer(r"\bcrate::", text):
        rest = text[m.end():]
        if rest.startswith("{"):
            # A use group: the names at its first nesting level.
            depth, name, i = 0, "", 0
            for i, c in enumerate(rest):
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if depth == 0:
                        break
                if depth == 1 and (c.isalnum() or c == "_"):
                    name += c
                    continue
                if name and depth >= 1:
                    if not prev_path(rest, i, name):
                        used.add(name)
                name = ""
        else:
            w = re.match(r"[A-Za-z_][A-Za-z0-9_]*", rest)
            if w:
                used.add(w.group(0))
    return used


def prev_path(rest: str, i: int, name: str) -> bool:
    """Whether `name`, which ends before `rest[i]`, follows a `::` (it is
    then a path's later segment, not a module of the crate)."""
    start = i - len(name)
    return rest[max(0, start - 2):start] == "::"


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent
    src = root / "src"
    bad = 0
    files = sorted(p for p in src.rglob("*.rs") if p.name != "bindings_generated.rs")
    for path in files:
        me = module_of(path, src)
        if me not in LEVEL:
            print(f"{path.relative_to(root)}: module `{me}` has no layer in tests/layers.py")
            bad += 1
            continue
        for used in sorted(used_modules(path.read_text())):
            if used == me or used in ("self", "super"):
                continue
            if used not in LEVEL:
                continue
            if LEVEL[used] >= LEVEL[me]:
                print(f"{path.relative_to(root)}: `{me}` uses `{used}`, which is not below it")
                bad += 1
    print(f"layers: {len(files)} files, {bad} violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
